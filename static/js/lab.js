// The Shapes lab: each experiment's form runs it as a job; its report is drawn as tables and
// Plotly charts (the last saved reports are shown on load). Below, few-shot from your images.

import { api, clearError, runJobShowing, showError } from "./api.js";
import { chart } from "./charts.js";
import { element, percent } from "./dom.js";
import { paramsForm } from "./form.js";
import { setUp, state } from "./workspace.js";

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

// Each experiment's report as tables and charts; an experiment without a drawing here shows its
// report's top-level numbers (drawReport).
const DRAW = {
  transfer(report) {
    const rows = report.runs.map((run) => [run.mode, run.trainable_parameters.toLocaleString(), percent(run.validation_accuracy), percent(run.test_accuracy), `${run.seconds.toFixed(1)} s`]);
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
  evaluate(report) {
    const nodes = [];
    for (const model of report.models) {
      const conflict = model.cue_conflict;
      nodes.push(element("h4", { text: model.model }));
      nodes.push(element("p", { text: `On ${conflict.images} cue-conflict images (each shape on another class's texture) it names the shape ${percent(conflict.follows_shape)}, the texture's class ${percent(conflict.follows_texture)}, neither ${percent(conflict.neither)}.` }));
      nodes.push(table(["method", "pointing game", "mass inside the mask", "a uniform map's", "time"],
        model.methods.map((m) => [m.method, percent(m.pointing_game), percent(m.mass_inside), percent(m.area_share), `${m.seconds.toFixed(1)} s`])));
    }
    nodes.push(labChart(report.models.map((model) => ({ type: "bar", name: model.model, x: model.methods.map((m) => m.method), y: model.methods.map((m) => m.pointing_game) })),
      { title: { text: "Pointing game (share of maps whose maximum is on the shape)" }, yaxis: { range: [0, 1] }, barmode: "group" }));
    return nodes;
  },
  fewshot(report) {
    return [element("p", { text: `Examples per class: ${report.params.shots}, k = ${report.params.k}, on ${report.model}'s features: test accuracy ${percent(report.test_accuracy)} (${report.seconds.toFixed(1)} s).` })];
  },
};

function drawReport(name, report) {
  if (DRAW[name]) return DRAW[name](report);
  const numbers = Object.entries(report).filter(([, value]) => value === null || typeof value !== "object");
  return [table(["", "value"], numbers)];
}

function experimentSection(experiment, saved) {
  const section = element("section");
  section.dataset.experiment = experiment.name;
  section.append(element("h3", { text: experiment.title }));
  const progress = element("progress", { max: 1, value: 0, hidden: true, ariaLabel: `${experiment.title}: progress` });
  const status = element("p", { text: "", className: "muted status" });
  const results = element("div", { className: "results" });
  const show = (report) => results.replaceChildren(...drawReport(experiment.name, report));
  const form = paramsForm(experiment.params_schema, async (params) => {
    try {
      show((await runJobShowing(`/api/lab/experiments/${experiment.name}`, params, { progress, status })).result);
      clearError();
    } catch (error) {
      showError(error.message);
    }
  });
  if (form) form.open = true;
  section.append(...[form, progress, status, results].filter(Boolean));
  if (saved) show(saved);
  return section;
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
  const [experiments, saved] = await Promise.all([api("/api/lab/experiments"), api("/api/lab/reports")]);
  document.getElementById("experiments").replaceChildren(...experiments.map((e) => experimentSection(e, saved[e.name])));
  document.getElementById("example-form").addEventListener("submit", addExamples);
  document.getElementById("fewshot-k").addEventListener("change", classify);
  await setUp({ imageChanged: classify, modelChanged: classify });
}

main().catch((error) => showError(error.message));
