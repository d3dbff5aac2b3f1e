// The explain page: one image, a class, and a pane per ticked method, side by side; the line of
// where the methods agree above them, a verdict under each, and the story for Present. The view
// (image, class, methods, display) is kept in the URL, so reloading or a bookmark restores it.

import { api, clearError, download, showError } from "./api.js";
import { element, percent } from "./dom.js";
import {
  bindActivity, bindDisplay, displayQuery, fillColormaps, legendOf, methodCheckboxes, overlayQuery, Pane,
  readDisplay, refreshPanes, restoreDisplay, tickedMethods,
} from "./panes.js";
import { showConcepts } from "./concept_pane.js";
import { clearGroundTruth, fillShapesGallery, shapesSampleOf, showGroundTruth } from "./ground_truth.js";
import { attachScorecard, VERDICT_WORDS } from "./scorecard.js";
import { entropyOf, logProbabilities, softmaxAt } from "./softmax.js";
import { picture } from "./story.js";
import { bindClassSearch, pickSample, query, setUp, showPredictions, state, writeQuery } from "./workspace.js";

const panesElement = document.getElementById("panes");
const methodsElement = document.getElementById("methods");
const targetInfo = document.getElementById("target-info");
const predictionsElement = document.getElementById("predictions");
const consensusLine = document.getElementById("consensus");
const temperatureInput = document.getElementById("temperature");
const temperatureLine = document.getElementById("temperature-entropy");
const panes = new Map();  // method -> Pane
const params = new Map();  // method -> parameters the user set
const waiting = new Map();  // pane -> [view, method]: scorecards start once every map is done
let methods = [];
let target = null;  // null = the top-1 class
let consensusToken = 0;
let allLogs = null;  // every class's log-probability for the current image: the temperature's input

async function main() {
  methods = await api("/api/methods");
  const fromUrl = query.get("methods")?.split(",").filter((name) => methods.some((m) => m.name === name));
  methodCheckboxes(methodsElement, methods, (method) => (fromUrl?.length ? fromUrl.includes(method.name) : method.in_default_panel), () => syncPanes());
  const urlClass = query.get("class");
  if (urlClass !== null && /^\d+$/.test(urlClass)) target = Number(urlClass);
  await fillColormaps();
  restoreDisplay(query);
  bindDisplay(() => { writeQuery(displayQuery()); refreshPanes(panes.values()); });
  bindActivity();
  bindClassSearch(document.getElementById("class-search"), retarget);
  temperatureInput.addEventListener("input", () => { if (state.image) drawTopFive(); });
  document.getElementById("report").addEventListener("click", downloadReport);
  await setUp({
    // A restored image keeps the class the URL named; a new one (or a model change) starts at top-1.
    imageChanged: (view, { restored } = {}) => {
      if (!restored) target = null;
      if (target !== null && target >= state.labels.length) target = null;
      return explainImage();
    },
    storySlides: explanationStory,
    // A Shapes model: the gallery offers the lab's test images (with their masks).
    modelChanged: () => fillShapesGallery(state.model, pickSample).catch((error) => showError(error.message)),
  });
  await fillShapesGallery(state.model, pickSample);
}

async function explainImage() {
  allLogs = null;
  drawTopFive();
  loadAllProbabilities().catch((error) => showError(error.message));
  syncPanes({ rerun: true });
  showConcepts(state.image, state.model, target);
}

// Every class's probability (the top-5 chart's temperature needs the whole softmax).
async function loadAllProbabilities() {
  const image = state.image;
  const count = Math.min(1000, state.labels.length);
  const view = await api(`/api/images/${image.id}?model=${encodeURIComponent(state.model)}&top=${count}`);
  if (image !== state.image) return;
  allLogs = logProbabilities(view.predictions, state.labels.length);
  drawTopFive();
}

// The top 5 at the chosen temperature T (display only: the maps keep their class) and the
// entropy of softmax(z / T): T > 1 flattens the distribution, T < 1 sharpens it.
function tempered(top) {
  const t = 2 ** Number(temperatureInput.value);
  temperatureInput.setAttribute("aria-valuetext", `T = ${t.toFixed(2)}`);
  if (!allLogs) {
    temperatureLine.textContent = `T = ${t.toFixed(2)}`;
    return top;
  }
  const probabilities = softmaxAt(allLogs, t);
  const entropy = entropyOf(probabilities);
  temperatureLine.dataset.temperature = t;
  temperatureLine.dataset.entropy = entropy;
  temperatureLine.textContent = `T = ${t.toFixed(2)}: entropy of the softmax ${entropy.toFixed(3)} nats `
    + `(at T = 1: ${entropyOf(softmaxAt(allLogs, 1)).toFixed(3)}; all classes equal: ${Math.log(allLogs.length).toFixed(3)}). `
    + "Display only: the maps keep their class.";
  return top.map((p) => ({ ...p, probability: probabilities[p.index] }));
}

function drawTopFive() {
  const top = state.image.predictions;
  const chosen = target ?? top[0].index;
  showPredictions(predictionsElement, tempered(top), { onPick: retarget, highlight: chosen });
  const label = state.labels[chosen];
  const known = top.find((p) => p.index === chosen);
  targetInfo.textContent = `Explaining “${label}”` + (known ? ` (${percent(known.probability, 0)})` : "")
    + (target === null ? ": the model's top prediction." : ".");
  writeQuery({ class: target });
}

function retarget(index) {
  target = index;
  clearError();
  if (!state.image) { writeQuery({ class: target }); return; }
  drawTopFive();
  predictionsElement.querySelector(`.row[data-index="${index}"]`)?.focus();
  syncPanes({ rerun: true });
  showConcepts(state.image, state.model, target);
}

// Add panes for newly ticked methods, remove unticked ones; with rerun, restart every pane.
function syncPanes({ rerun = false } = {}) {
  const wanted = tickedMethods(methodsElement);
  const defaults = methods.filter((m) => m.in_default_panel).map((m) => m.name);
  writeQuery({ methods: wanted.join(",") === defaults.join(",") ? null : wanted.join(",") });
  if (!state.image) return;
  for (const [method, pane] of panes) {
    if (!wanted.includes(method)) { pane.remove(); panes.delete(method); waiting.delete(pane); }
  }
  for (const name of wanted) {
    let pane = panes.get(name);
    const fresh = !pane;
    if (fresh) {
      const method = methods.find((m) => m.name === name);
      pane = new Pane(panesElement, {
        key: name, title: method.title, method: name, schema: method.params_schema,
        onParams: (p, values) => { params.set(name, values); start(p); },
        onDone: (p, view) => { waiting.set(p, [view, method]); },
        suggest: (kind) => api(`/api/models/${state.model}/${kind}`),
        rerun: (p) => start(p),
      });
      panes.set(name, pane);
    }
    if (fresh || rerun) start(pane);
  }
  // Keep the panes in menu order.
  for (const name of wanted) panesElement.append(panes.get(name).element);
  document.getElementById("report").disabled = wanted.length === 0;
  updateConsensus();
}

async function start(pane) {
  waiting.delete(pane);
  const body = {
    image_id: state.image.id, model: state.model, method: pane.method,
    target, params: params.get(pane.method) ?? {},
  };
  updateConsensus();
  clearGroundTruth(pane);
  const result = await pane.run(body, state.image.view_url);
  if (result) {
    refreshPanes(panes.values());
    updateConsensus();
    // A Shapes test image: the shape's outline over the map, its pointing-game hit and mass inside.
    const sample = shapesSampleOf(state.sample, state.image);
    if (sample) showGroundTruth(pane, sample).catch((error) => showError(error.message));
  }
  startScorecards();
}

// The scorecards cost many runs each: they start when no map is still being computed, so the
// maps of a new image or class never queue behind them.
function startScorecards() {
  if ([...panes.values()].some((pane) => pane.element.dataset.status === "running")) return;
  for (const [pane, [view, method]] of waiting) {
    if (pane.result && pane.jobId === view.id) attachScorecard(pane, view, method);
  }
  waiting.clear();
}

// "4 of 5 methods point at the same region (centre)": measured by the server from the finished
// maps, once two or more are in. Hidden when it cannot be measured.
async function updateConsensus() {
  const token = ++consensusToken;
  const done = [...panes.values()].filter((pane) => pane.result);
  if (done.length < 2) { consensusLine.hidden = true; return; }
  try {
    const found = await api("/api/consensus", { json: { job_ids: done.map((pane) => pane.jobId) } });
    if (token !== consensusToken) return;
    consensusLine.textContent = found.sentence;
    consensusLine.dataset.agreeing = found.agreeing;
    consensusLine.dataset.total = found.total;
    consensusLine.hidden = false;
  } catch {
    if (token === consensusToken) consensusLine.hidden = true;  // not measurable (or not served here)
  }
}

const STORY_ORDER = { trust: 0, undefined: 1, inconclusive: 2, caution: 3, distrust: 4 };

// Present: the photo and the prediction, the best one or two maps large with their legends, and
// whether to trust them, in words.
async function explanationStory() {
  if (!state.image) {
    return [{ heading: "Lantern shows where an image model looks", body: [element("p", { text: "Pick a sample photo or drop one first." })] }];
  }
  const top = state.image.predictions[0];
  const chosen = target ?? top.index;
  const known = state.image.predictions.find((p) => p.index === chosen);
  const slides = [{
    heading: `The model says: ${top.label} (${percent(top.probability, 0)})`,
    body: [
      picture(state.image.view_url, { alt: state.image.name }),
      ...(chosen === top.index ? [] : [element("p", {
        className: "story-note", text: `We ask why it could also be “${state.labels[chosen]}”${known ? ` (${percent(known.probability, 0)})` : ""}.`,
      })]),
    ],
  }];
  const done = [...panes.values()].filter((pane) => pane.result)
    .sort((a, b) => STORY_ORDER[a.trust?.level] - STORY_ORDER[b.trust?.level]);
  if (!done.length) {
    slides.push({ heading: "Where the model looks", body: [element("p", { text: "The maps are still being drawn: come back in a moment." })] });
    return slides;
  }
  const maps = element("div", { className: "story-maps" });
  for (const pane of done.slice(0, 2)) {
    const figure = element("figure");
    const layer = `${pane.result.overlay_url}?${overlayQuery(pane.display, pane.limit, "layer")}`;
    figure.append(
      element("h3", { text: pane.title }),
      picture(state.image.view_url, { layerUrl: layer, opacity: pane.display.opacity, alt: `${pane.title}: where the model looks` }),
      await legendOf(pane.result, pane.display, pane.limit),
      element("figcaption", { text: pane.result.caption }),
    );
    maps.append(figure);
  }
  const agreement = consensusLine.hidden ? [] : [element("p", { className: "story-note", text: consensusLine.textContent })];
  slides.push({ heading: `Why “${state.labels[chosen]}”? Where the model looks`, body: [maps, ...agreement] });
  const judged = done.filter((pane) => pane.trust);
  const verdicts = element("ul", { className: "story-verdicts" });
  for (const pane of judged) {
    const item = element("li");
    item.dataset.level = pane.trust.level;
    item.append(element("strong", { text: `${pane.title}: ${VERDICT_WORDS[pane.trust.level]}.` }), ` ${pane.trust.sentence}`);
    verdicts.append(item);
  }
  slides.push({
    heading: "Can we trust these maps?",
    body: judged.length ? [verdicts] : [element("p", { text: "The checks are still running: come back in a moment." })],
  });
  return slides;
}

async function downloadReport() {
  const done = [...panes.values()].filter((pane) => pane.result);
  if (!done.length) { showError("No finished pane to put in the report yet."); return; }
  // Running panes too: the server waits for them a while, then says they were still running.
  const shown = [...panes.values()].filter((pane) => pane.jobId && (pane.result || pane.element.dataset.status === "running"));
  const display = readDisplay();
  const limit = display.normalise === "shared" ? Math.max(...done.map((p) => p.result.peak)) : null;
  try {
    const response = await api("/api/reports", {
      json: {
        image_id: state.image.id, model: state.model, job_ids: shown.map((pane) => pane.jobId),
        check_ids: shown.flatMap((pane) => pane.checkIds ?? []),
        display: { opacity: display.opacity, colormap: display.colormap, mode: display.mode, values: display.values, limit },
      },
    });
    await download(response, /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "")?.[1] ?? "lantern-report.html");
  } catch (error) {
    showError(error.message);
  }
}

main().catch((error) => showError(error.message));
