// The Shapes lab: each experiment's form runs it as a job; its report is drawn as tables and
// Plotly charts (the last saved reports are shown on load). Below, few-shot from your images.

import { api, clearError, runJob, showError } from "./api.js";
import { paramsForm } from "./panes.js";
import { setUp, state } from "./workspace.js";

const percent = (value) => `${(100 * value).toFixed(1)} %`;
const PLOT = { displayModeBar: false, responsive: true };

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;  // text, never HTML
  if (className) node.className = className;
  return node;
}

function table(headers, rows) {
  const node = element("table");
  const head = node.createTHead().insertRow();
  for (const header of headers) head.append(element("th", header));
  const body = node.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    for (const cell of row) line.append(element("td", String(cell)));
  }
  return node;
}

function chart(data, layout) {
  const node = element("div", undefined, "lab-chart");
  requestAnimationFrame(() => window.Plotly.newPlot(node, data, { margin: { t: 40, r: 10, b: 40, l: 50 }, height: 300, ...layout }, PLOT));
  return node;
}

const epochs = (values) => values.map((_, index) => index + 1);

const DRAW = {
  transfer(report) {
    const rows = report.runs.map((run) => [run.mode, run.trainable_parameters.toLocaleString(), percent(run.validation_accuracy), percent(run.test_accuracy), `${run.seconds.toFixed(1)} s`]);
    return [
      table(["run", "trainable parameters", "validation", "test", "time"], rows),
      element("p", `Kept as the teacher (shapes/teacher): ${report.teacher}. Total ${report.seconds.toFixed(0)} s.`),
      chart(report.runs.map((run) => ({ x: epochs(run.curves.validation_accuracy), y: run.curves.validation_accuracy, name: run.mode, mode: "lines+markers" })),
        { title: { text: "Validation accuracy per epoch" }, xaxis: { title: { text: "epoch" } }, yaxis: { range: [0, 1] } }),
      chart(report.runs.map((run) => ({ x: epochs(run.curves.train_loss), y: run.curves.train_loss, name: run.mode, mode: "lines" })),
        { title: { text: "Training loss per epoch" }, xaxis: { title: { text: "epoch" } } }),
    ];
  },
  distill(report) {
    const rows = [report.teacher, report.distilled, report.from_labels].map((f) => [f.name, percent(f.test_accuracy), f.parameters.toLocaleString(), `${(f.size_bytes / 1e6).toFixed(2)} MB`, `${f.latency_ms.toFixed(2)} ms`]);
    return [
      table(["model", "test accuracy", "parameters", "file size", "latency (batch 1)"], rows),
      chart([
        { x: epochs(report.distilled_curves.validation_accuracy), y: report.distilled_curves.validation_accuracy, name: "student, distilled", mode: "lines+markers" },
        { x: epochs(report.from_labels_curves.validation_accuracy), y: report.from_labels_curves.validation_accuracy, name: "student, labels only", mode: "lines+markers" },
      ], { title: { text: "Student validation accuracy per epoch" }, xaxis: { title: { text: "epoch" } }, yaxis: { range: [0, 1] } }),
    ];
  },
  evaluate(report) {
    const nodes = [];
    for (const model of report.models) {
      const conflict = model.cue_conflict;
      nodes.push(element("h4", model.model));
      nodes.push(element("p", `On ${conflict.images} cue-conflict images (each shape on another class's texture) it names the shape ${percent(conflict.follows_shape)}, the texture's class ${percent(conflict.follows_texture)}, neither ${percent(conflict.neither)}.`));
      nodes.push(table(["method", "pointing game", "mass inside the mask", "a uniform map's", "time"],
        model.methods.map((m) => [m.method, percent(m.pointing_game), percent(m.mass_inside), percent(m.area_share), `${m.seconds.toFixed(1)} s`])));
    }
    nodes.push(chart(report.models.map((model) => ({ type: "bar", name: model.model, x: model.methods.map((m) => m.method), y: model.methods.map((m) => m.pointing_game) })),
      { title: { text: "Pointing game (share of maps whose maximum is on the shape)" }, yaxis: { range: [0, 1] }, barmode: "group" }));
    return nodes;
  },
  fewshot(report) {
    return [element("p", `Examples per class: ${report.params.shots}, k = ${report.params.k}, on ${report.model}'s features: test accuracy ${percent(report.test_accuracy)} (${report.seconds.toFixed(1)} s).`)];
  },
};

function experimentSection(experiment, saved) {
  const section = element("section");
  section.dataset.experiment = experiment.name;
  section.append(element("h3", experiment.title));
  const progress = element("progress");
  progress.max = 1;
  progress.value = 0;
  progress.hidden = true;
  const status = element("p", "", "muted status");
  const results = element("div", undefined, "results");
  const show = (report) => results.replaceChildren(...DRAW[experiment.name](report));
  const form = paramsForm(experiment.params_schema, async (params) => {
    progress.hidden = false;
    status.textContent = "starting…";
    try {
      const job = await runJob(`/api/lab/experiments/${experiment.name}`, params, (view) => {
        progress.value = view.progress;
        const eta = view.eta_seconds == null ? "" : `, about ${Math.ceil(view.eta_seconds)} s left`;
        status.textContent = `${view.status}${eta}`;
      });
      status.textContent = `done in ${job.elapsed_seconds?.toFixed(0) ?? "?"} s${job.reused ? " (an identical earlier run)" : ""}`;
      show(job.result);
      clearError();
    } catch (error) {
      status.textContent = "failed";
      showError(error.message);
    } finally {
      progress.hidden = true;
    }
  });
  form.open = true;
  section.append(form, progress, status, results);
  if (saved) show(saved);
  return section;
}

// Few-shot from the user's own images: examples with labels, then the current image as query.
const examples = [];

function drawExamples() {
  const list = document.getElementById("examples");
  list.replaceChildren(...examples.map((example, index) => {
    const figure = element("figure", undefined, "example");
    const image = element("img");
    image.src = example.view_url;
    image.alt = example.label;
    const remove = element("button", "×");
    remove.type = "button";
    remove.title = "Remove this example";
    remove.addEventListener("click", () => { examples.splice(index, 1); drawExamples(); classify(); });
    figure.append(image, element("figcaption", example.label), remove);
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
    output.replaceChildren(element("p", "Add examples of at least two labels to classify this image.", "muted"));
    return;
  }
  try {
    const k = Number(document.getElementById("fewshot-k").value) || 1;
    const [prediction] = await api("/api/lab/fewshot", { json: {
      model: state.model, k, queries: [state.image.id],
      examples: examples.map(({ image_id, label }) => ({ image_id, label })),
    } });
    const views = new Map(examples.map((e) => [e.image_id, e.view_url]));
    const neighbours = element("div", undefined, "examples");
    for (const neighbour of prediction.neighbours) {
      const figure = element("figure", undefined, "example");
      const image = element("img");
      image.src = views.get(neighbour.image_id);
      image.alt = neighbour.label;
      figure.append(image, element("figcaption", `${neighbour.label} · cosine ${neighbour.similarity.toFixed(3)}`));
      neighbours.append(figure);
    }
    output.replaceChildren(element("p", `Predicted: ${prediction.label}`, "prediction"), element("p", "Because it is closest to:"), neighbours);
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
