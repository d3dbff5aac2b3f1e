// What every page shares: the model picker, the current image (kept across pages in
// sessionStorage), the uploader (drop, file picker, paste), the sample gallery, presentation mode.

import { api, clearError, showError } from "./api.js";
import { axisTitle, draw } from "./charts.js";
import { element } from "./dom.js";

const STORE = "lantern.image";
const modelSelect = document.getElementById("model");
let onImage = () => {};
let onModel = () => {};

export const state = {
  model: sessionStorage.getItem("lantern.model") || document.body.dataset.defaultModel,
  image: null,  // ImageView from the API
  labels: [],
};

export async function setUp({ imageChanged, modelChanged }) {
  onImage = imageChanged;
  onModel = modelChanged ?? (() => {});
  setUpPresentation();
  await fillModels();
  setUpUploader();
  await fillSamples();
  await loadLabels();
  const saved = sessionStorage.getItem(STORE);
  if (saved) {
    try {
      await showImage(await api(`/api/images/${saved}?model=${encodeURIComponent(state.model)}`));
    } catch {
      sessionStorage.removeItem(STORE);  // the server restarted: images are kept in memory
    }
  }
}

async function fillModels() {
  const models = await api("/api/models");
  const groups = new Map();
  for (const model of models) {
    const family = model.name.includes("/") ? model.name.split("/")[0] : "built in";
    if (!groups.has(family)) groups.set(family, element("optgroup", { label: family }));
    const option = new Option(model.name, model.name);
    if (model.weights.startsWith("no weights")) option.textContent += " (no weights here)";
    option.title = `${model.description} · ${model.weights}`;
    groups.get(family).append(option);
  }
  modelSelect.replaceChildren(...groups.values());
  if (!models.some((m) => m.name === state.model)) state.model = document.body.dataset.defaultModel;
  modelSelect.value = state.model;
  modelSelect.addEventListener("change", async () => {
    const previous = state.model;
    state.model = modelSelect.value;
    try {
      await loadLabels();
      if (state.image) await showImage(await api(`/api/images/${state.image.id}?model=${encodeURIComponent(state.model)}`));
      sessionStorage.setItem("lantern.model", state.model);
      clearError();
      onModel();
    } catch (error) {
      showError(error.message);
      state.model = previous;
      modelSelect.value = previous;
      await loadLabels();
    }
  });
}

async function loadLabels() {
  state.labels = await api(`/api/models/${state.model}/classes`);
  const list = document.getElementById("class-list");
  if (!list) return;
  const options = state.labels.map((label, index) => new Option(`${label} · ${index}`));
  list.replaceChildren(...options);
}

// "tabby · 281" (from the list), "281" or an exact name -> class index, or null.
export function parseClass(text) {
  const trimmed = text.trim();
  const tail = trimmed.match(/·\s*(\d+)$/) ?? trimmed.match(/^(\d+)$/);
  if (tail) {
    const index = Number(tail[1]);
    return index < state.labels.length ? index : null;
  }
  const index = state.labels.findIndex((label) => label.toLowerCase() === trimmed.toLowerCase());
  return index >= 0 ? index : null;
}

async function fillSamples() {
  const gallery = document.getElementById("samples");
  if (!gallery) return;
  for (const sample of await api("/api/samples")) {
    const button = element("button", { type: "button", className: "sample", title: `Sample photo: ${sample.name}` });
    button.dataset.name = sample.name;
    button.append(element("img", { src: sample.thumbnail_url, alt: sample.name }));
    button.addEventListener("click", () => upload(() =>
      api(`/api/images/samples/${sample.name}?model=${encodeURIComponent(state.model)}`, { method: "POST" })));
    gallery.append(button);
  }
}

function setUpUploader() {
  const drop = document.getElementById("drop");
  const input = document.getElementById("file");
  if (!drop) return;
  const send = (file) => upload(() => {
    const form = new FormData();
    form.append("file", file, file.name || "pasted image");
    return api(`/api/images?model=${encodeURIComponent(state.model)}`, { method: "POST", body: form });
  });
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") input.click(); });
  input.addEventListener("change", () => { if (input.files[0]) send(input.files[0]); input.value = ""; });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) send(file); else showError("Drop an image file (PNG, JPEG, WebP, BMP, GIF or TIFF).");
  });
  document.addEventListener("paste", (event) => {
    const item = [...(event.clipboardData?.items ?? [])].find((i) => i.kind === "file");
    if (item) send(item.getAsFile());
  });
}

async function upload(request) {
  const drop = document.getElementById("drop");
  drop?.classList.add("busy");
  try {
    await showImage(await request());
    clearError();
  } catch (error) {
    showError(error.message);  // the previous image and its panes stay as they were
  } finally {
    drop?.classList.remove("busy");
  }
}

async function showImage(view) {
  state.image = view;
  sessionStorage.setItem(STORE, view.id);
  const figure = document.getElementById("view-figure");
  if (figure) {
    document.getElementById("view").src = view.view_url;
    document.getElementById("image-name").textContent = view.name;  // escaped: text, not HTML
    figure.hidden = false;
  }
  await onImage(view);
}

function setUpPresentation() {
  const button = document.getElementById("present");
  const toggle = (on) => {
    document.body.classList.toggle("presenting", on);
    button.textContent = on ? "Leave presentation" : "Present";
    window.dispatchEvent(new Event("resize"));  // Plotly charts follow their new size
  };
  button.addEventListener("click", () => toggle(!document.body.classList.contains("presenting")));
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") toggle(false); });
}

// Top-k predictions as a horizontal Plotly bar chart; click a bar -> onPick(classIndex).
export function drawPredictions(chart, predictions, { onPick, highlight, title } = {}) {
  const ordered = [...predictions].reverse();
  const trace = {
    type: "bar",
    orientation: "h",
    x: ordered.map((p) => p.probability),
    y: ordered.map((p) => `${p.label} (${p.index})`),
    customdata: ordered.map((p) => p.index),
    marker: { color: ordered.map((p) => (p.index === highlight ? "#d4480f" : "#5a6f9a")) },
    hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
  };
  const layout = {
    margin: { l: 170, r: 10, t: title ? 24 : 4, b: 30 },
    height: 190,
    title: title ? { text: title, font: { size: 13 } } : undefined,
    xaxis: { range: [0, 1], title: axisTitle("probability") },
    yaxis: { automargin: true },
  };
  draw(chart, [trace], layout);
  if (onPick && !chart.dataset.bound) {
    chart.dataset.bound = "1";
    chart.on("plotly_click", (event) => chart._onPick?.(event.points[0].customdata));
  }
  chart._onPick = onPick;
}
