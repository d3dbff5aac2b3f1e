// The explain page: one image, a class, and a pane per ticked method, side by side.

import { api, clearError, download, showError } from "./api.js";
import { bindDisplay, methodCheckboxes, Pane, readDisplay, refreshPanes, tickedMethods } from "./panes.js";
import { attachScorecard } from "./scorecard.js";
import { drawPredictions, parseClass, setUp, state } from "./workspace.js";

const panesElement = document.getElementById("panes");
const methodsElement = document.getElementById("methods");
const targetInfo = document.getElementById("target-info");
const predictionsElement = document.getElementById("predictions");
const panes = new Map();  // method -> Pane
const params = new Map();  // method -> parameters the user set
let methods = [];
let target = null;  // null = the top-1 class

async function main() {
  methods = await api("/api/methods");
  methodCheckboxes(methodsElement, methods, (method) => method.in_default_panel, () => syncPanes());
  bindDisplay(() => refreshPanes(panes.values()));
  document.getElementById("class-search").addEventListener("change", (event) => {
    const index = parseClass(event.target.value);
    if (index === null) showError(`No class "${event.target.value}": pick one from the list, or type its number.`);
    else retarget(index);
  });
  document.getElementById("report").addEventListener("click", downloadReport);
  await setUp({
    imageChanged: () => { target = null; return explainImage(); },  // also after a model change
  });
}

async function explainImage() {
  drawChart();
  syncPanes({ rerun: true });
}

function drawChart() {
  const top = state.image.predictions;
  const chosen = target ?? top[0].index;
  drawPredictions(predictionsElement, top, { onPick: retarget, highlight: chosen });
  const label = state.labels[chosen];
  const known = top.find((p) => p.index === chosen);
  targetInfo.textContent = `Explaining “${label}” (class ${chosen})`
    + (known ? `, p = ${known.probability.toFixed(3)}` : "")
    + (target === null ? ": the model's top prediction." : ".");
}

function retarget(index) {
  target = index;
  clearError();
  if (!state.image) return;
  drawChart();
  syncPanes({ rerun: true });
}

// Add panes for newly ticked methods, remove unticked ones; with rerun, restart every pane.
function syncPanes({ rerun = false } = {}) {
  if (!state.image) return;
  const wanted = tickedMethods(methodsElement);
  for (const [method, pane] of panes) {
    if (!wanted.includes(method)) { pane.remove(); panes.delete(method); }
  }
  for (const name of wanted) {
    let pane = panes.get(name);
    const fresh = !pane;
    if (fresh) {
      const method = methods.find((m) => m.name === name);
      pane = new Pane(panesElement, {
        key: name, title: method.title, method: name, schema: method.params_schema,
        onParams: (p, values) => { params.set(name, values); start(p); },
        onDone: (p, view) => attachScorecard(p, view, method),
        suggest: (kind) => api(`/api/models/${state.model}/${kind}`),
      });
      panes.set(name, pane);
    }
    if (fresh || rerun) start(pane);
  }
  // Keep the panes in menu order.
  for (const name of wanted) panesElement.append(panes.get(name).element);
  document.getElementById("report").disabled = wanted.length === 0;
}

async function start(pane) {
  const body = {
    image_id: state.image.id, model: state.model, method: pane.method,
    target, params: params.get(pane.method) ?? {},
  };
  const result = await pane.run(body, state.image.view_url);
  if (result) refreshPanes(panes.values());
}

async function downloadReport() {
  const done = [...panes.values()].filter((pane) => pane.result);
  if (!done.length) { showError("No finished pane to put in the report yet."); return; }
  const display = readDisplay();
  const limit = display.normalise === "shared" ? Math.max(...done.map((p) => p.result.peak)) : null;
  try {
    const response = await api("/api/reports", {
      json: {
        image_id: state.image.id, model: state.model, job_ids: done.map((pane) => pane.jobId),
        display: { opacity: display.opacity, colormap: display.colormap, mode: display.mode, values: display.values, limit },
      },
    });
    await download(response, "lantern-report.html");
  } catch (error) {
    showError(error.message);
  }
}

main().catch((error) => showError(error.message));
