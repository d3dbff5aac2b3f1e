// The compression lab: pick variants (recipe + parameters), run them as one job, then the
// measured table, Plotly charts and, for the current image, each variant's maps beside the
// original's. Saved runs can be reopened and their files downloaded, and a run's report is
// one self-contained HTML file (report.js).

import { api, cancelJob, clearError, loadMethodTitles, methodTitle, runJobShowing, showError } from "./api.js";
import { chart } from "./charts.js";
import { element, number, percent } from "./dom.js";
import { schemaFields } from "./form.js";
import { showEstimate as showEstimateIn } from "./estimate.js";
import { downloadPageReport, imageSection, tableSection } from "./report.js";
import { setUp, state } from "./workspace.js";

let recipes = [];  // the catalog's compression recipes
let runDefaults = null;
let dataset = null;
let currentJob = null;
let shownRun = null;

// Below this top-1 agreement with the original a variant has collapsed: it no longer predicts
// what the model predicts, whatever its size or speed.
const COLLAPSED = 0.5;

// Named settings of the run (the advanced fields stay folded): how many views are measured.
const RUN_PRESETS = {
  quick: { title: "Quick look", values: { drift_images: 1, augmentations: 1, calibration_augmentations: 2, latency_repeats: 3 } },
  standard: { title: "Standard (the measured defaults)", values: {} },
  thorough: { title: "Thorough", values: { drift_images: 8, augmentations: 15, calibration_augmentations: 16, latency_repeats: 20 } },
};

// Measured rates on the development machine (2 x86 cores, CPU, the default model), from the
// 12-variant run of docs/compression.md (287 s; build seconds per row in its table), checked
// 2026-11-30: the estimate shown before a run. Checked here that day: the quick preset with one
// int8 variant and two methods, estimated 20 s, took 24 s. A run prints its real time at the end.
const GALLERY_PHOTOS = 4;  // the compression gallery's photos (EVALUATION_SAMPLES in app/imaging/samples.py)
const RUN_RATES = {
  setupSeconds: 6,  // loading the evaluation photos and the original's reference maps
  buildSeconds: 8,  // one variant built (calibration included; 1-17 s in the table)
  recoverySecondsPerEpoch: 6.5,  // one recovery epoch by distillation (32 s for 5)
  measureSecondsPerView: 0.02,  // one evaluation view through a variant (agreement, KL)
  latencySecondsPerRepeat: 0.2,  // one timed repeat at batch 1 and 8, three rounds
  driftSecondsPerMap: 0.6,  // one drift map (image x method) on a variant
  sensitivitySecondsPerLayer: 1.5,  // one layer pruned alone and measured
};

// "90.6 % (76–97)": a share with its Wilson 95 % interval over the evaluation images, when the
// run has one (runs saved before the intervals have none).
function withInterval(value, interval) {
  if (value == null) return "—";
  if (!interval) return percent(value);
  return `${percent(value)} (${interval.map((end) => (100 * end).toFixed(0)).join("–")})`;
}

const firstSentence = (text) => (text.match(/^.*?[.!?](\s|$)/)?.[0] ?? text).trim();
const recipeOf = (name) => recipes.find((r) => r.name === name);

// A variant's name in words: its recipe's title and the settings that differ from the defaults.
function variantName(row) {
  const recipe = recipeOf(row.recipe);
  if (!recipe) return row.name;
  const properties = recipe.params_schema.properties ?? {};
  const differs = ([key, value]) => JSON.stringify(value) !== JSON.stringify(properties[key]?.default);
  const changed = Object.entries(row.params ?? {}).filter(differs).map(([key, value]) => {
    const title = (properties[key]?.title ?? key).toLowerCase();
    const text = typeof value === "boolean" ? (value ? "yes" : "no") : Array.isArray(value) ? value.join(", ") : String(value);
    return `${title}: ${text}`;
  });
  return changed.length ? `${recipe.title} (${changed.join(", ")})` : recipe.title;
}

// The estimated seconds of a run with these options and variants (RATES).
function estimateSeconds(options, variants) {
  const rows = variants.length + 1;  // the original is measured too
  const images = dataset && document.getElementById("use-dataset").checked ? dataset.images : GALLERY_PHOTOS;
  const views = images * (1 + (options.augmentations ?? 0));
  const recovery = variants.reduce((sum, v) => sum + (Number(v.params.recovery_epochs) || 0), 0);
  return RUN_RATES.setupSeconds
    + variants.length * RUN_RATES.buildSeconds
    + recovery * RUN_RATES.recoverySecondsPerEpoch
    + rows * (views * RUN_RATES.measureSecondsPerView + options.latency_repeats * RUN_RATES.latencySecondsPerRepeat)
    + rows * (options.drift_images ?? 0) * (options.methods?.length ?? 0) * RUN_RATES.driftSecondsPerMap
    + (options.sensitivity_sparsity != null ? 60 * RUN_RATES.sensitivitySecondsPerLayer : 0);
}

function updateEstimate() {
  const holder = document.getElementById("run-options").firstChild;
  if (!holder?.read) return;
  const variants = [...document.querySelectorAll("#variants .variant")].map((box) => box.read());
  const seconds = estimateSeconds(holder.read(), variants);
  const line = document.getElementById("run-estimate");
  if (variants.length) showEstimateIn(line, seconds);
  else line.textContent = "Add a variant to run.";
}

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
  remove.setAttribute("aria-label", "Remove this variant");
  remove.addEventListener("click", () => { box.remove(); updateEstimate(); });
  legend.append(select, remove);
  const about = element("p", { className: "muted recipe-about" });
  const settings = element("details", { className: "variant-settings" });
  const summary = element("summary");
  const holder = element("div", { className: "variant-params" });
  settings.append(summary, holder);
  let fields = null;
  const build = (values) => {
    const recipe = recipeOf(select.value);
    fields = schemaFields(recipe.params_schema, { values });
    holder.replaceChildren(...fields.labels);
    about.textContent = firstSentence(recipe.description);
    // A recipe with a choice of quantization grid shows the grids' formulas, not only a tooltip.
    const grids = recipe.params_schema.properties?.scheme?.description;
    if (grids) holder.append(element("p", { className: "muted formula", text: grids }));
    const changed = variantName({ recipe: recipe.name, params: fields.changed(), name: recipe.title });
    summary.textContent = changed === recipe.title ? "Settings (the recipe's defaults)" : `Settings: ${changed.slice(recipe.title.length + 2, -1)}`;
  };
  select.addEventListener("change", () => { build({}); updateEstimate(); });
  holder.addEventListener("change", updateEstimate);
  build(preset.params ?? {});
  box.append(legend, about, settings);
  // Only what differs from the recipe's defaults is sent: the report's names stay short.
  box.read = () => ({ recipe: select.value, params: fields.changed() });
  return box;
}

// The run's options, from its schema: the methods are the catalog's, the layers the model's.
function optionFields(schema, values, methods, layers) {
  const holder = element("div", { className: "run-options" });
  const fields = schemaFields(schema, {
    values, skip: ["variants"], choices: { methods: methods.map((m) => [m.name, m.title]), histogram_layer: layers },
  });
  const advanced = element("details", { className: "advanced" });
  advanced.append(element("summary", { text: "Advanced run options" }), ...fields.labels.slice(1));
  holder.append(fields.labels[0], advanced);  // the methods stay in sight
  holder.read = fields.read;
  holder.addEventListener("change", updateEstimate);
  holder.addEventListener("input", updateEstimate);
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

// The variant to recommend: the smallest file among those that still agree with the original on
// at least 90 % of the images (else the one that agrees most); null with no variant.
function bestRow(rows) {
  const variants = rows.slice(1);
  if (!variants.length) return null;
  const faithful = variants.filter((r) => r.top1_agreement >= 0.9);
  if (faithful.length) return faithful.reduce((best, r) => (r.size_bytes < best.size_bytes ? r : best));
  return variants.reduce((best, r) => (r.top1_agreement > best.top1_agreement ? r : best));
}

function verdictOf(run) {
  const best = bestRow(run.rows);
  const collapsed = run.rows.slice(1).filter((r) => r.top1_agreement < COLLAPSED);
  const lines = [];
  if (best) {
    const ratio = run.rows[0].size_bytes / best.size_bytes;
    lines.push(`Best: ${variantName(best)}: ${ratio.toFixed(1)}× smaller, agrees with the original on ${withInterval(best.top1_agreement, best.top1_agreement_interval)} of the images`
      + `${best.top1_agreement >= 0.9 ? "" : " (no variant reached 90 %)"}.`);
  }
  for (const row of collapsed) lines.push(`Collapsed: ${variantName(row)} agrees on only ${percent(row.top1_agreement)}: it no longer predicts what the model predicts.`);
  return lines;
}

function resultTable(run) {
  const headers = ["variant", "engine", "file", "parameters", "non-zero", "batch 1", "batch 8", "top-1 agreement (95 % interval)", "KL", "accuracy (95 % interval)",
    ...run.params.methods.map((m) => `${methodTitle(m)} drift ρ`), "recovery", ""];
  const best = bestRow(run.rows);
  const table = element("table", { className: "compress-table" });
  const head = table.createTHead().insertRow();
  for (const header of headers) head.append(element("th", { text: header }));
  const body = table.createTBody();
  run.rows.forEach((row, index) => {
    const line = body.insertRow();
    const recovery = row.recovery ? `${percent(row.recovery.agreement_before)} → ${percent(row.recovery.agreement_after)} (${row.recovery.epochs} epochs)` : "—";
    const flag = row === best ? " ★ best" : index > 0 && row.top1_agreement < COLLAPSED ? " ⚠ collapsed" : "";
    const cells = [`${variantName(row)}${flag}`, row.engine, `${(row.size_bytes / 1e6).toFixed(2)} MB`, row.parameters.toLocaleString(), row.nonzero_parameters.toLocaleString(),
      `${number(row.latency_ms.batch1, 1)} ms`, `${number(row.latency_ms.batch8, 1)} ms`, withInterval(row.top1_agreement, row.top1_agreement_interval), number(row.kl_divergence, 3), withInterval(row.accuracy, row.accuracy_interval),
      ...run.params.methods.map((m) => (m in row.explanation_drift ? number(row.explanation_drift[m], 3) : (row.drift_skipped[m] ? "skipped" : "—"))), recovery];
    for (const cell of cells) line.append(element("td", { text: cell }));
    if (row === best) line.classList.add("best");
    if (index > 0 && row.top1_agreement < COLLAPSED) line.classList.add("collapsed");
    const link = element("a", {
      text: "download", ariaLabel: `Download ${variantName(row)} (${row.artifact_format})`, href: `/api/compress/runs/${run.id}/files/${encodeURIComponent(row.file)}`, title: `${row.artifact_format} file of this variant`,
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
    text: rows.map((r) => variantName(r)), textposition: "top center", textfont: { size: 10 },
    hovertext: rows.map((r) => `${variantName(r)}<br>agreement ${percent(r.top1_agreement)}`), hoverinfo: "text",
    marker: { size: 14, color: rows.map((r) => r.top1_agreement), cmin: 0, cmax: 1, colorscale: "Viridis", showscale: true, colorbar: { title: { text: "agreement" } } },
  }], { title: { text: "Size vs latency (colour: top-1 agreement)" }, xaxis: { title: { text: "latency at batch 8 (ms)" } }, yaxis: { title: { text: "file size (MB)" } } }));
  const sparsityPoints = [];
  for (const row of rows) {
    for (const step of row.details?.steps ?? []) sparsityPoints.push({ x: step.sparsity, y: step.agreement, name: `${variantName(row)} (steps, calibration images)` });
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
    const colours = { minmax: "#d62728", percentile: "#2ca02c", mse: "#9467bd", entropy: "#ff7f0e" };
    const dashes = ["solid", "dash", "dot", "dashdot"];
    const lines = Object.entries(h.ranges).flatMap(([rule, [low, high]], r) => [low, high].map((x, i) => ({
      x: [x, x], y: [0.5, top], mode: "lines", name: rule, legendgroup: rule, showlegend: i === 0, line: { color: colours[rule], dash: dashes[r % dashes.length] },
    })));
    const figure = element("figure", { className: "compress-histogram" });
    const ranges = Object.entries(h.ranges).map(([rule, [low, high]]) => `${rule} ${number(low)} … ${number(high)}`).join(", ");
    figure.append(
      compressChart([{ type: "bar", x: centres, y: h.counts, name: "values", marker: { color: "#888" } }, ...lines],
        { title: { text: `Activations entering ${h.layer}, with each calibration rule's range` }, yaxis: { type: "log", title: { text: "count" } }, xaxis: { title: { text: "value" } } }),
      element("figcaption", { className: "caption", text: `Grey bars count the values entering ${h.layer} over the calibration images (log scale); each pair of lines is the range a calibration rule keeps before rounding to 256 levels, and values outside it saturate (${ranges}).` }),
    );
    nodes.push(figure);
  }
  return nodes;
}

function mapsGrid(run) {
  if (!run.image_id) return [element("p", { text: "Pick or drop an image before running to see each variant's maps of it.", className: "muted" })];
  const methods = run.params.methods;
  const grid = element("table", { className: "compress-maps" });
  const head = grid.createTHead().insertRow();
  head.append(element("th", { text: "variant" }), ...methods.map((m) => element("th", { text: methodTitle(m) })));
  const body = grid.createTBody();
  run.rows.forEach((row, index) => {
    const line = body.insertRow();
    line.append(element("th", { text: variantName(row) }));
    for (const method of methods) {
      const cell = element("td");
      if (method in row.image_drift) {
        const image = element("img", {
          src: `/api/compress/runs/${run.id}/maps/${index}/${method}.png`, alt: `${methodTitle(method)} map of ${variantName(row)}`, width: 160, height: 160,
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
  shownRun = run;
  document.getElementById("page-report").disabled = false;
  const results = document.getElementById("results");
  const facts = element("p", { className: "muted", text: `Run ${run.id}, ${run.created}, ${run.model} on ${run.machine}. Measured on ${run.evaluation.images} images (${run.evaluation.source}${run.evaluation.labelled ? ", labelled" : ""}); calibration and recovery on ${run.evaluation.calibration_images} other images; drift over ${run.evaluation.drift_images.length} images. In brackets: the Wilson 95 % interval of each agreement and accuracy over the ${run.evaluation.images} images. ${run.seconds.toFixed(0)} s in all.` });
  const report = element("a", { text: "Download the measurements (JSON)", href: `/api/compress/runs/${run.id}`, download: `lantern-compress-${run.id}.json` });
  const verdicts = verdictOf(run).map((text) => element("p", { text, className: text.startsWith("Best") ? "verdict best" : "verdict collapsed" }));
  results.replaceChildren(element("h2", { text: "Results" }), ...verdicts, facts, report, resultTable(run), ...mapsGrid(run), element("h3", { text: "Charts" }), ...charts(run));
}

// The run's report: the verdicts, the table, each variant's maps and the charts, as shown.
async function downloadRunReport(button) {
  const run = shownRun;
  if (!run) return showError("Run the comparison (or open a saved run) first.");
  const results = document.getElementById("results");
  const sections = [
    tableSection("Every variant, measured against the original", results.querySelector(".compress-table"), {
      lines: [results.querySelector("p.muted").textContent],
      parameters: Object.entries(run.params).filter(([key]) => key !== "variants")
        .map(([key, value]) => [key.replace(/_/g, " "), value == null ? "default" : Array.isArray(value) ? value.map(methodTitle).join(", ") : String(value)]),
    }),
  ];
  const maps = results.querySelector(".compress-maps");
  if (maps) {
    for (const line of maps.tBodies[0].rows) {
      sections.push({
        heading: `Maps of the current image: ${line.cells[0].textContent}`,
        figures: [...line.querySelectorAll("img")].map((image) => ({ source: image, caption: `${image.alt}, ${image.nextSibling?.textContent ?? ""}`, alt: image.alt })),
      });
    }
  }
  sections.push(...[...results.querySelectorAll(".js-plotly-plot")].map((plot) => ({
    heading: plot.layout?.title?.text ?? "Chart", figures: [{ source: plot, alt: plot.layout?.title?.text ?? "chart", caption: plot.closest("figure")?.querySelector("figcaption")?.textContent ?? "" }],
  })));
  if (state.image && run.image_id === state.image.id) sections.unshift(imageSection(state.image));
  await downloadPageReport({
    page: "compress", title: `Compression of ${run.model}: ${run.rows.length - 1} variants`, subject: `${run.model} ${run.id}`, model: run.model,
    summary: verdictOf(run), sections,
  }, button);
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

let layerNames = [];
let methodTitles = new Map();
async function fillOptions() {
  const [titles, layers] = await Promise.all([loadMethodTitles(), api(`/api/compress/layers?model=${encodeURIComponent(state.model)}`)]);
  methodTitles = titles;
  layerNames = layers;
  applyPreset();
}

function applyPreset() {
  const preset = RUN_PRESETS[document.getElementById("preset").value] ?? RUN_PRESETS.standard;
  const methods = [...methodTitles].map(([name, title]) => ({ name, title }));
  document.getElementById("run-options").replaceChildren(optionFields(runDefaults.schema, { ...runDefaults.defaults, ...preset.values }, methods, layerNames));
  updateEstimate();
}

async function main() {
  [recipes, runDefaults] = await Promise.all([api("/api/compress/recipes"), api("/api/compress/run-params")]);
  const presetChoice = document.getElementById("preset");
  presetChoice.append(...Object.entries(RUN_PRESETS).map(([name, preset]) => new Option(preset.title, name)));
  presetChoice.value = "standard";
  presetChoice.addEventListener("change", applyPreset);
  const reportButton = document.getElementById("page-report");
  reportButton.addEventListener("click", () => downloadRunReport(reportButton));
  const choice = document.getElementById("recipe-choice");
  choice.append(...recipeOptions());
  document.getElementById("variants").replaceChildren(...runDefaults.defaults.variants.map(variantEditor));
  document.getElementById("add-variant").addEventListener("click", () => { document.getElementById("variants").append(variantEditor({ recipe: choice.value })); updateEstimate(); });
  document.getElementById("dataset-file").addEventListener("change", uploadDataset);
  document.getElementById("run").addEventListener("click", run);
  document.getElementById("cancel-run").addEventListener("click", () => currentJob && cancelJob(currentJob));
  await setUp({ imageChanged: () => {}, modelChanged: () => fillOptions().catch((error) => showError(error.message)) });
  await fillOptions();
  await listRuns();
}

main().catch((error) => showError(error.message));
