// The Shapes lab: each experiment's form runs it as a job; its report is drawn as tables and
// Plotly charts (the last saved reports are shown on load). Each says what it shows, offers named
// presets with the settings folded, and estimates its time before it runs. Below, few-shot from
// your images. The page's report holds every experiment shown, as drawn.

import { api, clearError, loadMethodTitles, methodTitle, runJobShowing, showError } from "./api.js";
import { chart } from "./charts.js";
import { element, percent } from "./dom.js";
import { showEstimate } from "./estimate.js";
import { paramsForm } from "./form.js";
import { downloadPageReport, imageSection, tableSection } from "./report.js";
import { setUp, state } from "./workspace.js";

// Measured on the development machine (2 x86 cores, CPU, default model) in the runs of
// docs/shapes.md, checked 2026-11-30: seconds per unit of work, for the estimate before a run
// (that day, few-shot with 1 shot and 10 test images: estimated 5 s, took 2.3 s).
const EXPERIMENT_RATES = {
  transfer: (p) => 5 + p.train_images * (p.modes ?? []).reduce((sum, mode) => sum + (mode === "head"
    ? 0.00013 * p.head_epochs  // 3.9 s for 1000 images x 30 epochs on cached features
    : { last_blocks: 0.0062, finetune: 0.0121, scratch: 0.0118 }[mode] * p.epochs), 0),  // s per image-epoch
  distill: (p) => 3 + 0.0016 * p.train_images * p.epochs,  // 63 s for 1000 images x 40 epochs, both students
  evaluate: (p) => 4 + 0.09 * p.images * (p.methods ?? []).length,  // 14 s for 40 images x 4 methods
  fewshot: (p) => 2 + 0.058 * (p.test_images + 10 * p.shots) * (p.size / 224) ** 2,  // 14.4 s at 224 px
  // s per image-epoch of a student; the transfer-set student (and the same-steps control) see more
  distill_transfer: (p) => 5 + 0.0016 * p.seeds * p.epochs * (2 * p.train_images + (p.same_steps_control === false ? 1 : 2) * ((1 + p.augmented_copies) * p.train_images + p.transfer_images)),
  // training both networks, then per ε FGSM (2 passes) and PGD (steps + 1) on the test images
  // two students per seed (the docs' student rate: 0.0008 s per image-epoch each, not re-measured)
  calibration: (p) => 3 + 0.0016 * p.seeds * p.epochs * p.train_images,
  // two students per seed, then two maps per method, image and comparison (0.1 s each, a guess)
  random_labels: (p) => 3 + 0.0016 * p.seeds * p.epochs * p.train_images + 0.2 * Math.min(2, p.seeds) * p.images * (p.methods ?? []).length,
  noise_robustness: (p) => 3 + p.seeds * 2 * 0.0016 * (p.epochs * p.train_images + (p.epsilons ?? []).length * (p.pgd_steps + 3) * p.test_images),
};

// Named presets: the measured defaults, or a quick try with a fifth of the images and epochs
// (and at most two of each list) to see the shape of the result first.
function quickValues(schema) {
  const values = {};
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (property.type === "integer" && /(images|epochs)$/.test(name)) {
      values[name] = Math.max(property.minimum ?? 1, Math.round(property.default / 5));
    } else if (property.type === "array" && Array.isArray(property.default)) {
      values[name] = property.default.slice(0, 2);
    }
  }
  return values;
}
const EXPERIMENT_PRESETS = { measured: { title: "As measured (the defaults)", values: () => ({}) }, quick: { title: "Quick try (a fifth of the work)", values: quickValues } };

function table(headers, rows) {
  const node = element("table");
  const head = node.createTHead().insertRow();
  for (const header of headers) head.append(element("th", { text: header }));
  const body = node.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    for (const cell of row) line.append(element("td", { text: String(cell) }));
  }
  return node;
}

function labChart(data, layout) {
  return chart(data, { margin: { t: 40, r: 10, b: 40, l: 50 }, height: 300, ...layout }, "lab-chart");
}

const epochs = (values) => values.map((_, index) => index + 1);

// A spread over seeds (app/shapes/seeds.py) as "57.0 ± 1.2 %".
const meanSd = (spread) => `${(100 * spread.mean).toFixed(1)} ± ${(100 * spread.sd).toFixed(1)} %`;

// Each experiment's report as tables and charts; an experiment without a drawing here shows its
// report's top-level numbers (drawReport).
const DRAW = {
  transfer(report) {
    const best = report.runs.reduce((top, run) => (run.test_accuracy > top.test_accuracy ? run : top), report.runs[0]);
    const rows = report.runs.map((run) => [`${run.mode}${run === best ? " ★ best" : ""}`, run.trainable_parameters.toLocaleString(), percent(run.validation_accuracy), percent(run.test_accuracy), `${run.seconds.toFixed(1)} s`]);
    return [
      table(["run", "trainable parameters", "validation", "test", "time"], rows),
      element("p", { text: `Kept as the teacher (shapes/teacher): ${report.teacher}. Total ${report.seconds.toFixed(0)} s.` }),
      labChart(report.runs.map((run) => ({ x: epochs(run.curves.validation_accuracy), y: run.curves.validation_accuracy, name: run.mode, mode: "lines+markers" })),
        { title: { text: "Validation accuracy per epoch" }, xaxis: { title: { text: "epoch" } }, yaxis: { range: [0, 1] } }),
      labChart(report.runs.map((run) => ({ x: epochs(run.curves.train_loss), y: run.curves.train_loss, name: run.mode, mode: "lines" })),
        { title: { text: "Training loss per epoch" }, xaxis: { title: { text: "epoch" } } }),
    ];
  },
  distill(report) {
    const rows = [report.teacher, report.distilled, report.from_labels].map((f) => [f.name, percent(f.test_accuracy), f.parameters.toLocaleString(), `${(f.size_bytes / 1e6).toFixed(2)} MB`, `${f.latency_ms.toFixed(2)} ms`]);
    return [
      table(["model", "test accuracy", "parameters", "file size", "latency (batch 1)"], rows),
      labChart([
        { x: epochs(report.distilled_curves.validation_accuracy), y: report.distilled_curves.validation_accuracy, name: "student, distilled", mode: "lines+markers" },
        { x: epochs(report.from_labels_curves.validation_accuracy), y: report.from_labels_curves.validation_accuracy, name: "student, labels only", mode: "lines+markers" },
      ], { title: { text: "Student validation accuracy per epoch" }, xaxis: { title: { text: "epoch" } }, yaxis: { range: [0, 1] } }),
    ];
  },
  distill_transfer(report) {
    const rows = report.arms.map((arm) => [arm.title, arm.images_per_epoch.toLocaleString(), arm.epochs, meanSd(arm.test_accuracy), arm.test_accuracy.values.map((v) => percent(v)).join(", "), `${arm.seconds.toFixed(0)} s`]);
    const verdict = (gain) => gain.mean - gain.sd > 0 ? "ahead by more than the seed spread" : gain.mean > 0 ? "ahead on average, within the seed spread" : "not ahead";
    const points = (gain) => `${(100 * gain.mean).toFixed(1)} ± ${(100 * gain.sd).toFixed(1)} points`;
    const same = report.gain_over_same_steps;
    const sameSteps = same ? ` Against labels only trained for as many steps, it is ${verdict(same)}: ${points(same)}.` : "";
    return [
      table(["student (equal size)", "images per epoch", "epochs", "test accuracy (mean ± sd)", "per seed", "training time"], rows),
      element("p", { text: `Teacher: ${percent(report.teacher_accuracy)} on the same test images. With the transfer set the student is ${verdict(report.gain)}: ${points(report.gain)} over labels only at equal epochs, paired by seed (seeds ${report.seeds.join(", ")}).${sameSteps}` }),
      labChart([
        { type: "bar", name: "mean ± sd", x: report.arms.map((a) => a.title), y: report.arms.map((a) => a.test_accuracy.mean), error_y: { type: "data", array: report.arms.map((a) => a.test_accuracy.sd), visible: true } },
        { type: "scatter", mode: "markers", name: "one seed", x: report.arms.flatMap((a) => a.test_accuracy.values.map(() => a.title)), y: report.arms.flatMap((a) => a.test_accuracy.values), marker: { color: "#222", size: 7 } },
      ], { title: { text: "Student test accuracy, by what it learned from" }, yaxis: { range: [0, 1], title: { text: "test accuracy" } }, showlegend: true }),
      element("p", { text: "Bars: mean test accuracy over the seeds, whiskers one standard deviation; dots: each seed; the first bar is the control (labels only)." }),
    ];
  },
  noise_robustness(report) {
    const eps = report.epsilons.map((e) => `${Math.round(255 * e)}/255`);
    const rows = report.runs.flatMap((run) => run.curves.map((curve) => [run.name, curve.attack.toUpperCase(), meanSd(run.clean_accuracy), ...curve.success_rate.map(meanSd)]));
    const traces = report.runs.flatMap((run, index) => run.curves.map((curve) => ({
      x: report.epsilons.map((e) => Math.round(255 * e)), y: curve.success_rate.map((r) => r.mean), name: `${run.name}, ${curve.attack.toUpperCase()}`, mode: "lines+markers",
      line: { dash: index === 0 ? "dash" : "solid", color: curve.attack === "pgd" ? "#c2410c" : "#1d4ed8" }, marker: { symbol: curve.attack === "pgd" ? "square" : "circle" },
      error_y: { type: "data", array: curve.success_rate.map((r) => r.sd), visible: true },
    })));
    return [
      table(["model", "attack", "clean accuracy", ...eps.map((e) => `ε = ${e}`)], rows),
      labChart(traces, { title: { text: "Attack success rate against ε" }, xaxis: { title: { text: "ε (in 1/255 of the pixel range)" }, type: "log", tickvals: report.epsilons.map((e) => Math.round(255 * e)) }, yaxis: { range: [0, 1], title: { text: "success rate" } } }),
      element("p", { text: "Share of test images whose predicted class the attack changes, mean over the seeds with one standard deviation; blue FGSM, orange PGD; dashed: the control trained without noise." }),
    ];
  },
  evaluate(report) {
    const nodes = [];
    for (const model of report.models) {
      const conflict = model.cue_conflict;
      nodes.push(element("h4", { text: model.model }));
      nodes.push(element("p", { text: `On ${conflict.images} cue-conflict images (each shape on another class's texture) it names the shape ${percent(conflict.follows_shape)}, the texture's class ${percent(conflict.follows_texture)}, neither ${percent(conflict.neither)}.` }));
      nodes.push(table(["method", "pointing game", "mass inside the mask", "a uniform map's", "time"],
        model.methods.map((m) => [methodTitle(m.method), percent(m.pointing_game), percent(m.mass_inside), percent(m.area_share), `${m.seconds.toFixed(1)} s`])));
    }
    nodes.push(labChart(report.models.map((model) => ({ type: "bar", name: model.model, x: model.methods.map((m) => methodTitle(m.method)), y: model.methods.map((m) => m.pointing_game) })),
      { title: { text: "Pointing game (share of maps whose maximum is on the shape)" }, yaxis: { range: [0, 1] }, barmode: "group" }));
    return nodes;
  },
  fewshot(report) {
    return [element("p", { text: `Examples per class: ${report.params.shots}, k = ${report.params.k}, on ${report.model}'s features: test accuracy ${percent(report.test_accuracy)} (${report.seconds.toFixed(1)} s).` })];
  },
  calibration(report) {
    const kinds = [["plain", "labels (control)"], ["smoothed", `label smoothing ε = ${report.params.label_smoothing}`]];
    const runsOf = (kind) => report.runs.filter((run) => (kind === "plain") === (run.label_smoothing === 0));
    const spreadOf = (values) => `${values.mean.toFixed(3)} ± ${values.sd.toFixed(3)}`;
    const rows = kinds.map(([kind, title]) => [title, meanSd(report.test_accuracy[kind]), meanSd(report.ece[kind]), spreadOf(report.nll[kind]), report.ece[kind].values.map((v) => percent(v)).join(", ")]);
    // Every seed's test images pooled per kind: counts add up, confidence and accuracy weighted by them.
    const pooled = (kind) => runsOf(kind)[0].bins.map((bin, b) => {
      const parts = runsOf(kind).map((run) => run.bins[b]).filter((part) => part.count);
      const count = parts.reduce((sum, part) => sum + part.count, 0);
      const weighted = (key) => (count ? parts.reduce((sum, part) => sum + part[key] * part.count, 0) / count : null);
      return { centre: (bin.lower + bin.upper) / 2, width: bin.upper - bin.lower, count, confidence: weighted("confidence"), accuracy: weighted("accuracy") };
    });
    const reliability = kinds.map(([kind, title]) => {
      const filled = pooled(kind).filter((bin) => bin.count);
      return { x: filled.map((bin) => bin.confidence), y: filled.map((bin) => bin.accuracy), name: title, mode: "lines+markers" };
    });
    reliability.push({ x: [0, 1], y: [0, 1], mode: "lines", name: "perfect calibration", line: { dash: "dot", color: "#5d667a" } });
    const histogram = kinds.map(([kind, title]) => {
      const bins = pooled(kind);
      return { type: "bar", name: title, x: bins.map((bin) => bin.centre), y: bins.map((bin) => bin.count), width: bins[0].width / 2.2 };
    });
    const entropy = kinds.map(([kind, title]) => ({
      x: report.temperatures, name: title, mode: "lines+markers",
      y: report.temperatures.map((_, t) => runsOf(kind).reduce((sum, run) => sum + run.entropy[t], 0) / runsOf(kind).length),
    }));
    entropy.push({ x: report.temperatures, y: report.temperatures.map(() => report.max_entropy), name: "all classes equal (log 10)", mode: "lines", line: { dash: "dot", color: "#5d667a" } });
    return [
      table(["student", "test accuracy (mean ± sd)", "ECE, 15 bins (mean ± sd)", "NLL", "ECE per seed"], rows),
      labChart(reliability, { title: { text: "Reliability diagram (test images of every seed)" }, xaxis: { title: { text: "confidence" }, range: [0, 1] }, yaxis: { title: { text: "accuracy" }, range: [0, 1] } }),
      element("p", { text: "Accuracy against confidence in 15 equal-width bins: on the diagonal the confidence can be taken at its word; below it the model is over-confident." }),
      labChart(histogram, { title: { text: "Confidence histogram" }, barmode: "group", xaxis: { title: { text: "confidence of the top class" }, range: [0, 1] }, yaxis: { title: { text: "images" } } }),
      element("p", { text: "How many test images each student scored at each confidence; label smoothing moves mass away from 100 %." }),
      labChart(entropy, { title: { text: "Entropy of softmax(z / T)" }, xaxis: { title: { text: "temperature T" }, type: "log" }, yaxis: { title: { text: "mean entropy (nats)" }, rangemode: "tozero" } }),
      element("p", { text: "Mean entropy of the softmax of the test logits divided by T, over the seeds: a higher temperature flattens the distribution towards all classes equal." }),
    ];
  },
  random_labels(report) {
    const similarity = (values, metric) => (values ? values[metric].toFixed(2) : "—");
    return [
      table(["student", "train accuracy (mean ± sd)", "test accuracy (mean ± sd)"], [
        ["random labels (train: the labels it learnt)", meanSd(report.train_accuracy), meanSd(report.test_accuracy)],
        ["true labels (control)", meanSd(report.control_train_accuracy), meanSd(report.control_test_accuracy)],
      ]),
      element("p", { text: `Chance is ${percent(report.chance, 0)}. The bogus model is saved as ${report.model}: the data-randomisation reference of the sanity check for the lab's student (Explain page, lantern sanity --random-labels-weights).` }),
      table(["method", "rank r of |map| to the bogus model's", "to another honest model's", "SSIM to the bogus model's", "to another honest model's"],
        report.methods.map((m) => [methodTitle(m.method), similarity(m.to_random_labels, "spearman_abs"), similarity(m.to_other_seed, "spearman_abs"), similarity(m.to_random_labels, "ssim"), similarity(m.to_other_seed, "ssim")])),
      labChart([
        { type: "bar", name: "to the bogus model's map", x: report.methods.map((m) => methodTitle(m.method)), y: report.methods.map((m) => m.to_random_labels.spearman_abs) },
        { type: "bar", name: "to another honest model's map (control)", x: report.methods.map((m) => methodTitle(m.method)), y: report.methods.map((m) => m.to_other_seed?.spearman_abs ?? null) },
      ], { title: { text: "How alike the honest model's maps are (rank r of |map|)" }, barmode: "group", yaxis: { range: [-0.2, 1], title: { text: "rank correlation" } } }),
      element("p", { text: "Mean over the test images: a method that explains what the model learnt gives maps unlike the bogus model's (a low first bar) while two honest models agree more (the second bar)." }),
    ];
  },
};

function drawReport(name, report) {
  if (DRAW[name]) return DRAW[name](report);
  const numbers = Object.entries(report).filter(([, value]) => value === null || typeof value !== "object");
  return [table(["", "value"], numbers)];
}

function experimentSection(experiment, saved) {
  const section = element("section", { className: "experiment" });
  section.dataset.experiment = experiment.name;
  const sentence = experiment.description.charAt(0).toUpperCase() + experiment.description.slice(1).replace(/\.?$/, ".");
  section.append(element("h2", { text: experiment.title }), element("p", { text: sentence, className: "about" }));
  const progress = element("progress", { max: 1, value: 0, hidden: true, ariaLabel: `${experiment.title}: progress` });
  const status = element("p", { text: "", className: "muted status" });
  const estimate = element("p", { className: "muted estimate" });
  const results = element("div", { className: "results" });
  const show = (report) => {
    section.report = report;
    results.replaceChildren(...drawReport(experiment.name, report));
  };
  const runWith = async (params) => {
    try {
      show((await runJobShowing(`/api/lab/experiments/${experiment.name}`, params, { progress, status })).result);
      clearError();
    } catch (error) {
      showError(error.message);
    }
  };
  const presetLabel = element("label", { text: "Preset " });
  const preset = element("select", { name: "preset" });
  preset.append(...Object.entries(EXPERIMENT_PRESETS).map(([name, p]) => new Option(p.title, name)));
  presetLabel.append(preset);
  const run = element("button", { text: `Run ${experiment.title.toLowerCase()}`, type: "button", className: "primary" });
  const controls = element("p", { className: "run-line" });
  controls.append(presetLabel, " ", run);
  let form = null;
  const currentValues = () => form?.read() ?? Object.fromEntries(Object.entries(experiment.params_schema.properties ?? {}).map(([n, p]) => [n, p.default]));
  const updateEstimate = () => { if (EXPERIMENT_RATES[experiment.name]) showEstimate(estimate, EXPERIMENT_RATES[experiment.name](currentValues())); };
  const buildForm = () => {
    const next = paramsForm(experiment.params_schema, runWith, { values: EXPERIMENT_PRESETS[preset.value].values(experiment.params_schema) });
    if (next) {
      next.querySelector("summary").textContent = "Settings";
      next.addEventListener("input", updateEstimate);
      next.addEventListener("change", updateEstimate);
    }
    if (form && next) form.replaceWith(next);
    form = next;
    updateEstimate();
  };
  buildForm();
  preset.addEventListener("change", buildForm);
  run.addEventListener("click", () => (form ? form.querySelector("form").requestSubmit() : runWith({})));
  section.append(...[controls, estimate, form, progress, status, results].filter(Boolean));
  if (saved) show(saved);
  return section;
}

// The page's report: each experiment with what it shows, its settings and its results as drawn.
async function downloadLabReport(button) {
  const sections = [];
  for (const section of document.querySelectorAll("#experiments section.experiment")) {
    const heading = section.querySelector("h2").textContent;
    const running = !section.querySelector("progress").hidden;
    const report = section.report;
    if (!report && !running) continue;
    const lines = [section.querySelector(".about").textContent, ...[...section.querySelectorAll(".results > p")].map((p) => p.textContent)];
    const parameters = Object.entries(report?.params ?? {}).map(([key, value]) => [key.replace(/_/g, " "), value == null ? "default" : Array.isArray(value) ? value.map(methodTitle).join(", ") : String(value)]);
    if (running) lines.push(`Still running when this report was made (${section.querySelector(".status").textContent}); the results below are the last saved ones.`);
    const tables = [...section.querySelectorAll(".results table")];
    sections.push(tables.length ? tableSection(heading, tables[0], { lines, parameters, status: running ? "running" : "done" }) : { heading, lines, parameters, status: running ? "running" : "done" });
    for (const extra of tables.slice(1)) sections.push(tableSection(`${heading}: ${extra.previousElementSibling?.textContent ?? "more"}`, extra));
    for (const plot of section.querySelectorAll(".js-plotly-plot")) {
      const title = plot.layout?.title?.text ?? "chart";
      sections.push({ heading: `${heading}: ${title}`, figures: [{ source: plot, alt: title }] });
    }
  }
  const fewshot = document.querySelector("#fewshot-result .prediction");
  if (state.image && fewshot) {
    sections.push(imageSection(state.image), {
      heading: "Few-shot from your images", lines: [fewshot.textContent, "Because it is closest to the examples below."],
      figures: [...document.querySelectorAll("#fewshot-result img")].map((image) => ({ source: image, caption: image.nextSibling?.textContent ?? image.alt, alt: image.alt })),
    });
  }
  if (!sections.length) return showError("Run an experiment first: the report shows the experiments' results.");
  await downloadPageReport({ page: "lab", title: "Shapes lab: what the experiments show", subject: "shapes", model: state.model, sections }, button);
}

// Few-shot from the user's own images: examples with labels, then the current image as query.
const examples = [];

function drawExamples() {
  const list = document.getElementById("examples");
  list.replaceChildren(...examples.map((example, index) => {
    const figure = element("figure", { className: "example" });
    const image = element("img", { src: example.view_url, alt: example.label });
    const remove = element("button", { text: "×", type: "button", title: "Remove this example" });
    remove.addEventListener("click", () => { examples.splice(index, 1); drawExamples(); classify(); });
    figure.append(image, element("figcaption", { text: example.label }), remove);
    return figure;
  }));
}

async function addExamples(event) {
  event.preventDefault();
  const label = document.getElementById("example-label").value.trim();
  const files = [...document.getElementById("example-files").files];
  if (!label || !files.length) return showError("Give a label and at least one image.");
  try {
    for (const file of files) {
      const form = new FormData();
      form.append("file", file, file.name);
      const view = await api(`/api/images?model=${encodeURIComponent(state.model)}`, { method: "POST", body: form });
      examples.push({ image_id: view.id, label, view_url: view.view_url });
    }
    document.getElementById("example-files").value = "";
    drawExamples();
    clearError();
    await classify();
  } catch (error) {
    showError(error.message);
  }
}

async function classify() {
  const output = document.getElementById("fewshot-result");
  if (!state.image) return;
  if (new Set(examples.map((e) => e.label)).size < 2) {
    output.replaceChildren(element("p", { text: "Add examples of at least two labels to classify this image.", className: "muted" }));
    return;
  }
  try {
    const k = Number(document.getElementById("fewshot-k").value) || 1;
    const [prediction] = await api("/api/lab/fewshot", { json: {
      model: state.model, k, queries: [state.image.id],
      examples: examples.map(({ image_id, label }) => ({ image_id, label })),
    } });
    const views = new Map(examples.map((e) => [e.image_id, e.view_url]));
    const neighbours = element("div", { className: "examples" });
    for (const neighbour of prediction.neighbours) {
      const figure = element("figure", { className: "example" });
      const image = element("img", { src: views.get(neighbour.image_id), alt: neighbour.label });
      figure.append(image, element("figcaption", { text: `${neighbour.label} · cosine ${neighbour.similarity.toFixed(3)}` }));
      neighbours.append(figure);
    }
    output.replaceChildren(
      element("p", { text: `Predicted: ${prediction.label}`, className: "prediction" }), element("p", { text: "Because it is closest to:" }), neighbours,
    );
    clearError();
  } catch (error) {
    showError(error.message);
  }
}

async function main() {
  const [experiments, saved] = await Promise.all([api("/api/lab/experiments"), api("/api/lab/reports"), loadMethodTitles()]);
  const reportButton = document.getElementById("page-report");
  reportButton.addEventListener("click", () => downloadLabReport(reportButton));
  document.getElementById("experiments").replaceChildren(...experiments.map((e) => experimentSection(e, saved[e.name])));
  document.getElementById("example-form").addEventListener("submit", addExamples);
  document.getElementById("fewshot-k").addEventListener("change", classify);
  await setUp({ imageChanged: classify, modelChanged: classify });
}

main().catch((error) => showError(error.message));
