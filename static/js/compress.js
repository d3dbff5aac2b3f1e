// The compression lab: pick variants (recipe + parameters), run them as one job, then the
// measured table, Plotly charts and, for the current image, each variant's maps beside the
// original's. Saved runs can be reopened and their files downloaded.

import { api, cancelJob, clearError, runJobShowing, showError } from "./api.js";
import { chart } from "./charts.js";
import { element, number, percent } from "./dom.js";
import { schemaFields } from "./form.js";
import { setUp, state } from "./workspace.js";

let recipes = [];  // the catalog's compression recipes
let runDefaults = null;
let dataset = null;
let currentJob = null;

function compressChart(data, layout) {
  return chart(data, { margin: { t: 40, r: 10, b: 50, l: 60 }, height: 320, ...layout }, "compress-chart");
}

const recipeOptions = () => recipes.map((r) => new Option(r.title, r.name));

// One variant: a recipe picker and its parameters, read when the run starts.
function variantEditor(preset) {
  const box = element("fieldset", { className: "variant" });
  const legend = element("legend");
  const select = element("select");
  select.setAttribute("aria-label", "Recipe");
  select.append(...recipeOptions());
  select.value = preset.recipe;
  const remove = element("button", { text: "×", type: "button", title: "Remove this variant" });
  remove.addEventListener("click", () => box.remove());
  legend.append(select, remove);
  const holder = element("div", { className: "variant-params" });
  let fields = null;
  const build = (values) => {
    fields = schemaFields(recipes.find((r) => r.name === select.value).params_schema, { values });
    holder.replaceChildren(...fields.labels);
  };
  select.addEventListener("change", () => build({}));
  build(preset.params ?? {});
  box.append(legend, holder);
  // Only what differs from the recipe's defaults is sent: the report's names stay short.
  box.read = () => ({ recipe: select.value, params: fields.changed() });
  return box;
}

// The run's options, from its schema: the methods are the catalog's, the layers the model's.
function optionFields(schema, defaults, methods, layers) {
  const holder = element("div", { className: "run-options" });
  const fields = schemaFields(schema, {
    values: defaults, skip: ["variants"], choices: { methods: methods.map((m) => m.name), histogram_layer: layers },
  });
  holder.append(...fields.labels);
  holder.read = fields.read;
  return holder;
}

async function uploadDataset(event) {
  const file = event.target.files[0];
  if (!file) return;
  const info = document.getElementById("dataset-info");
  info.textContent = "checking…";
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    dataset = await api("/api/compress/datasets", { method: "POST", body: form });
    const labels = dataset.labelled ? `, labelled (${dataset.classes.length} classes)` : ", no labels";
    info.textContent = `${dataset.images} images${labels}`;
    const radio = document.getElementById("use-dataset");
    radio.disabled = false;
    radio.checked = true;
    clearError();
  } catch (error) {
    info.textContent = "";
    showError(error.message);
  }
}

async function run() {
  const variants = [...document.querySelectorAll("#variants .variant")].map((box) => box.read());
  if (!variants.length) return showError("Add at least one variant.");
  const useDataset = document.getElementById("use-dataset").checked && dataset;
  const body = {
    model: state.model,
    dataset: useDataset ? dataset.id : null,
    image_id: state.image?.id ?? null,
    params: { ...document.getElementById("run-options").firstChild.read(), variants },
  };
  const cancel = document.getElementById("cancel-run");
  cancel.hidden = false;
  document.getElementById("run").disabled = true;
  try {
    const job = await runJobShowing("/api/compress/runs", body, {
      progress: document.getElementById("run-progress"),
      status: document.getElementById("run-status"),
      onUpdate: (view) => { currentJob = view.id; },
    });
    showRun(job.result);
    clearError();
    await listRuns();
  } catch (error) {
    showError(error.message);
  } finally {
    cancel.hidden = true;
    currentJob = null;
    document.getElementById("run").disabled = false;
  }
}

function resultTable(run) {
  const headers = ["variant", "engine", "file", "parameters", "non-zero", "batch 1", "batch 8", "top-1 agreement", "KL", "accuracy",
    ...run.params.methods.map((m) => `${m} drift ρ`), "recovery", ""];
  const table = element("table", { className: "compress-table" });
  const head = table.createTHead().insertRow();
  for (const header of headers) head.append(element("th", { text: header }));
  const body = table.createTBody();
  run.rows.forEach((row, index) => {
    const line = body.insertRow();
    const recovery = row.recovery ? `${percent(row.recovery.agreement_before)} → ${percent(row.recovery.agreement_after)} (${row.recovery.epochs} epochs)` : "—";
    const cells = [row.name, row.engine, `${(row.size_bytes / 1e6).toFixed(2)} MB`, row.parameters.toLocaleString(), row.nonzero_parameters.toLocaleString(),
      `${number(row.latency_ms.batch1, 1)} ms`, `${number(row.latency_ms.batch8, 1)} ms`, percent(row.top1_agreement), number(row.kl_divergence, 3), percent(row.accuracy),
      ...run.params.methods.map((m) => (m in row.explanation_drift ? number(row.explanation_drift[m], 3) : (row.drift_skipped[m] ? "skipped" : "—"))), recovery];
    for (const cell of cells) line.append(element("td", { text: cell }));
    const link = element("a", {
      text: "download", href: `/api/compress/runs/${run.id}/files/${encodeURIComponent(row.file)}`, title: `${row.artifact_format} file of this variant`,
    });
    const last = element("td");
    last.append(link);
    line.append(last);
    const notes = [row.gradient_note, ...row.warnings, ...Object.entries(row.drift_skipped).map(([m, why]) => `${m}: ${why}`)].filter(Boolean);
    if (notes.length) line.title = notes.join("\n");
    line.dataset.row = index;
  });
  return table;
}

// How a pruning recipe's variant is placed on the sparsity axis (the catalog's `sparsity`).
const SPARSITY = {
  zeros: { of: (row) => 1 - row.nonzero_parameters / row.parameters, says: "share of weights at zero" },
  removed: { of: (row, original) => 1 - row.parameters / original.parameters, says: "share of parameters removed" },
};

function charts(run) {
  const nodes = [];
  const rows = run.rows;
  nodes.push(compressChart([{
    type: "scatter", mode: "markers+text", x: rows.map((r) => r.latency_ms.batch8), y: rows.map((r) => r.size_bytes / 1e6),
    text: rows.map((_, i) => String(i)), textposition: "top center",
    hovertext: rows.map((r) => `${r.name}<br>agreement ${percent(r.top1_agreement)}`), hoverinfo: "text",
    marker: { size: 14, color: rows.map((r) => r.top1_agreement), cmin: 0, cmax: 1, colorscale: "Viridis", showscale: true, colorbar: { title: { text: "agreement" } } },
  }], { title: { text: "Size vs latency (colour: top-1 agreement; numbers: table rows from 0)" }, xaxis: { title: { text: "latency at batch 8 (ms)" } }, yaxis: { title: { text: "file size (MB)" } } }));
  const sparsityPoints = [];
  for (const row of rows) {
    for (const step of row.details?.steps ?? []) sparsityPoints.push({ x: step.sparsity, y: step.agreement, name: `${row.name} (steps, calibration images)` });
    const recipe = recipes.find((r) => r.name === row.recipe);
    const sparsity = SPARSITY[recipe?.sparsity];
    if (sparsity) sparsityPoints.push({ x: sparsity.of(row, rows[0]), y: row.top1_agreement, name: `${recipe.title} (${sparsity.says})` });
  }
  if (sparsityPoints.length) {
    const series = new Map();
    for (const point of sparsityPoints) {
      if (!series.has(point.name)) series.set(point.name, { x: [], y: [], name: point.name, mode: "lines+markers" });
      series.get(point.name).x.push(point.x);
      series.get(point.name).y.push(point.y);
    }
    nodes.push(compressChart([...series.values()], { title: { text: "Top-1 agreement vs sparsity" }, xaxis: { title: { text: "sparsity" }, range: [0, 1] }, yaxis: { range: [0, 1.05] } }));
  }
  if (run.sensitivity) {
    nodes.push(compressChart([{ type: "bar", x: run.sensitivity.map((s) => s.layer), y: run.sensitivity.map((s) => 1 - s.agreement) }],
      { title: { text: `Per-layer sensitivity: agreement lost when only that layer is pruned to ${percent(run.params.sensitivity_sparsity)}` }, xaxis: { showticklabels: false, title: { text: "layer (hover for its name)" } }, yaxis: { title: { text: "agreement lost" } } }));
  }
  if (run.histogram) {
    const h = run.histogram;
    const centres = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
    const top = Math.max(...h.counts);
    const colours = { minmax: "#d62728", percentile: "#2ca02c", mse: "#9467bd" };
    const lines = Object.entries(h.ranges).flatMap(([rule, [low, high]]) => [low, high].map((x, i) => ({
      x: [x, x], y: [0.5, top], mode: "lines", name: rule, legendgroup: rule, showlegend: i === 0, line: { color: colours[rule], dash: rule === "minmax" ? "solid" : "dash" },
    })));
    nodes.push(compressChart([{ type: "bar", x: centres, y: h.counts, name: "values", marker: { color: "#888" } }, ...lines],
      { title: { text: `Activations entering ${h.layer}, with each calibration rule's range` }, yaxis: { type: "log", title: { text: "count" } }, xaxis: { title: { text: "value" } } }));
  }
  return nodes;
}

function mapsGrid(run) {
  if (!run.image_id) return [element("p", { text: "Pick or drop an image before running to see each variant's maps of it.", className: "muted" })];
  const methods = run.params.methods;
  const grid = element("table", { className: "compress-maps" });
  const head = grid.createTHead().insertRow();
  head.append(element("th", { text: "variant" }), ...methods.map((m) => element("th", { text: m })));
  const body = grid.createTBody();
  run.rows.forEach((row, index) => {
    const line = body.insertRow();
    line.append(element("th", { text: row.name }));
    for (const method of methods) {
      const cell = element("td");
      if (method in row.image_drift) {
        const image = element("img", {
          src: `/api/compress/runs/${run.id}/maps/${index}/${method}.png`, alt: `${method} map of ${row.name}`, width: 160, height: 160,
        });
        cell.append(image, element("div", { text: `ρ ${number(row.image_drift[method], 3)}`, className: "muted" }));
      } else {
        cell.append(element("span", { text: row.drift_skipped[method] ?? "—", className: "muted" }));
      }
      line.append(cell);
    }
  });
  return [element("h3", { text: "Maps of the current image (ρ: rank correlation with the original's)" }), grid];
}

function showRun(run) {
  const results = document.getElementById("results");
  const facts = element("p", { className: "muted", text: `Run ${run.id}, ${run.created}, ${run.model} on ${run.machine}. Measured on ${run.evaluation.images} images (${run.evaluation.source}${run.evaluation.labelled ? ", labelled" : ""}); calibration and recovery on ${run.evaluation.calibration_images} other views; drift over ${run.evaluation.drift_images.length} images. ${run.seconds.toFixed(0)} s in all.` });
  const report = element("a", { text: "Download the report (JSON)", href: `/api/compress/runs/${run.id}`, download: `report-${run.id}.json` });
  results.replaceChildren(element("h2", { text: "Results" }), facts, report, resultTable(run), ...mapsGrid(run), element("h3", { text: "Charts" }), ...charts(run));
}

async function listRuns() {
  const runs = await api("/api/compress/runs");
  const list = document.getElementById("run-list");
  list.replaceChildren(...runs.map((run) => {
    const item = element("li");
    const open = element("button", { text: `${run.created} · ${run.model} · ${run.variants.length - 1} variants`, type: "button" });
    open.addEventListener("click", async () => {
      try { showRun(await api(`/api/compress/runs/${run.id}`)); clearError(); } catch (error) { showError(error.message); }
    });
    item.append(open);
    return item;
  }));
  if (!runs.length) list.replaceChildren(element("li", { text: "none yet", className: "muted" }));
}

async function fillOptions() {
  const [methods, layers] = await Promise.all([api("/api/methods"), api(`/api/compress/layers?model=${encodeURIComponent(state.model)}`)]);
  document.getElementById("run-options").replaceChildren(optionFields(runDefaults.schema, runDefaults.defaults, methods, layers));
}

async function main() {
  [recipes, runDefaults] = await Promise.all([api("/api/compress/recipes"), api("/api/compress/run-params")]);
  const choice = document.getElementById("recipe-choice");
  choice.append(...recipeOptions());
  document.getElementById("variants").replaceChildren(...runDefaults.defaults.variants.map(variantEditor));
  document.getElementById("add-variant").addEventListener("click", () => document.getElementById("variants").append(variantEditor({ recipe: choice.value })));
  document.getElementById("dataset-file").addEventListener("change", uploadDataset);
  document.getElementById("run").addEventListener("click", run);
  document.getElementById("cancel-run").addEventListener("click", () => currentJob && cancelJob(currentJob));
  await setUp({ imageChanged: () => {}, modelChanged: () => fillOptions().catch((error) => showError(error.message)) });
  await fillOptions();
  await listRuns();
}

main().catch((error) => showError(error.message));
