// What every page shares: the model picker, the current image (kept across pages in
// sessionStorage, and in the page's URL with what the page adds to it: a prepared view is a
// bookmark), the uploader (drop, file picker, paste), the sample gallery, the top-5 rows, the class
// search, and Present (the page's story, or large panes where a page has none).

import { api, clearError, showError } from "./api.js";
import { element, percent } from "./dom.js";
import { fillGroupedModels, showEngine } from "./model_menu.js";
import { present } from "./story.js";

const STORE = "lantern.image";
const modelSelect = document.getElementById("model");
let onImage = () => {};
let onModel = () => {};
let story = null;

export const state = {
  model: sessionStorage.getItem("lantern.model") || document.body.dataset.defaultModel,
  image: null,  // ImageView from the API
  sample: null,  // the sample's name when the image is one
  labels: [],
};

// The page's query string: what restores this view (image, model, and what the page adds).
export const query = new URLSearchParams(location.search);

// Merge `entries` into the URL (null or "" removes a key), without a new history entry.
export function writeQuery(entries) {
  for (const [key, value] of Object.entries(entries)) {
    if (value === null || value === undefined || value === "") query.delete(key);
    else query.set(key, value);
  }
  const search = query.toString();
  history.replaceState(history.state, "", `${location.pathname}${search ? `?${search}` : ""}${location.hash}`);
}

// imageChanged(view, { restored }) runs for every new image (restored: from the URL or the
// session, so the page keeps the class and methods it read from the URL); storySlides() returns
// the page's slides for Present.
export async function setUp({ imageChanged, modelChanged, storySlides }) {
  onImage = imageChanged;
  onModel = modelChanged ?? (() => {});
  story = storySlides ?? null;
  if (query.get("model")) state.model = query.get("model");
  setUpPresentation();
  await fillModels();
  setUpUploader();
  await fillSamples();
  await loadLabels();
  const sample = query.get("sample");
  const saved = query.get("image") ?? (sample ? null : sessionStorage.getItem(STORE));
  const model = encodeURIComponent(state.model);
  try {
    if (sample) {
      await showImage(await api(`/api/images/samples/${encodeURIComponent(sample)}?model=${model}`, { method: "POST" }), sample, true);
    } else if (saved) {
      await showImage(await api(`/api/images/${encodeURIComponent(saved)}?model=${model}`), null, true);
    }
  } catch (error) {
    sessionStorage.removeItem(STORE);  // the server restarted: images are kept in memory
    if (query.get("image") || sample) showError(`The image of this link is not on the server any more (${error.message}): pick or drop one.`);
    writeQuery({ image: null, sample: null });
  }
}

async function fillModels() {
  const models = await fillGroupedModels(modelSelect);
  if (!models.some((m) => m.name === state.model)) state.model = document.body.dataset.defaultModel;
  showEngine(models, state.model);
  modelSelect.value = state.model;
  modelSelect.addEventListener("change", async () => {
    const previous = state.model;
    state.model = modelSelect.value;
    try {
      await loadLabels();
      if (state.image) await showImage(await api(`/api/images/${state.image.id}?model=${encodeURIComponent(state.model)}`), state.sample);
      sessionStorage.setItem("lantern.model", state.model);
      showEngine(models, state.model);
      writeQuery({ model: state.model === document.body.dataset.defaultModel ? null : state.model });
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

// Edit distance between `needle` and `haystack` (Levenshtein), or with `within`, between `needle`
// and the closest substring of `haystack` (Sellers, 1980): 0 when the needle is in it, 1 for one
// typo, and so on.
function editDistance(needle, haystack, within = false) {
  let previous = Array.from({ length: haystack.length + 1 }, (_, j) => (within ? 0 : j));
  for (let i = 1; i <= needle.length; i++) {
    const row = [i];
    for (let j = 1; j <= haystack.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (needle[i - 1] === haystack[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return within ? Math.min(...previous) : previous[haystack.length];
}

// Class indices that match `text`, best first, and whether the first is the one meant (exact): a
// number or "tabby · 281" (from the list), a name (or, when no name contains the text, the one
// name within a typo per four letters), else names that contain it, then names close to it.
export function findClasses(text, limit = 8) {
  const trimmed = text.trim();
  const tail = trimmed.match(/·\s*(\d+)$/) ?? trimmed.match(/^(\d+)$/);
  if (tail) {
    const index = Number(tail[1]);
    return { exact: true, matches: index < state.labels.length ? [index] : [] };
  }
  const wanted = trimmed.toLowerCase();
  if (!wanted) return { exact: false, matches: [] };
  const names = state.labels.map((label) => label.toLowerCase());
  const allowed = Math.floor(wanted.length / 4);
  const whole = names.map((name) => editDistance(wanted, name));
  const best = Math.min(...whole);
  const containing = names.filter((name) => name.includes(wanted)).length;
  if (best === 0 || (!containing && best <= allowed && whole.filter((d) => d === best).length === 1)) {
    return { exact: true, matches: [whole.indexOf(best)] };
  }
  const scored = [];
  names.forEach((name, index) => {
    const distance = name.includes(wanted) ? (name.startsWith(wanted) ? -1 : 0) : editDistance(wanted, name, true);
    if (distance <= allowed) scored.push([distance, whole[index], index]);
  });
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { exact: false, matches: scored.slice(0, limit).map(([, , index]) => index) };
}

// The class search beside the top-5: Enter picks the class it names; several close names become
// buttons to choose from; no match says so under the field. onPick(classIndex).
export function bindClassSearch(input, onPick) {
  const hint = element("p", { className: "field-hint", id: `${input.id}-hint` });
  hint.setAttribute("aria-live", "polite");
  input.setAttribute("aria-describedby", hint.id);
  input.after(hint);
  const pick = (index) => {
    hint.replaceChildren();
    input.removeAttribute("aria-invalid");
    input.value = state.labels[index];
    onPick(index);
  };
  input.addEventListener("change", () => {
    const text = input.value;
    if (!text.trim()) { hint.replaceChildren(); return; }
    const { exact, matches } = findClasses(text);
    if (exact && matches.length) { pick(matches[0]); return; }
    if (matches.length === 1) { pick(matches[0]); return; }
    if (!matches.length) {
      input.setAttribute("aria-invalid", "true");
      hint.className = "field-hint error";
      hint.textContent = `No class matches “${text.trim()}”. Try another word or a class number (0–${state.labels.length - 1}).`;
      return;
    }
    input.removeAttribute("aria-invalid");
    hint.className = "field-hint";
    hint.replaceChildren(`${matches.length} classes match “${text.trim()}”: `, ...matches.map((index) => {
      const button = element("button", { type: "button", className: "suggestion", text: state.labels[index] });
      button.addEventListener("click", () => pick(index));
      return button;
    }));
  });
}

async function fillSamples() {
  const gallery = document.getElementById("samples");
  if (!gallery) return;
  for (const sample of await api("/api/samples")) {
    const button = element("button", { type: "button", className: "sample", title: `Sample photo: ${sample.name}. ${sample.caption}` });
    button.dataset.name = sample.name;
    button.append(element("img", { src: sample.thumbnail_url, alt: `Sample photo: ${sample.name}` }), element("span", { className: "sample-caption", text: sample.caption }));
    button.addEventListener("click", () => pickSample(sample.name));
    gallery.append(button);
  }
}

// Open a sample by name (a gallery photo, or a Shapes test image "shapes-N") as the current image.
export function pickSample(name) {
  return upload(() => api(`/api/images/samples/${encodeURIComponent(name)}?model=${encodeURIComponent(state.model)}`, { method: "POST" }), name);
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

async function upload(request, sample = null) {
  const drop = document.getElementById("drop");
  drop?.classList.add("busy");
  try {
    await showImage(await request(), sample);
    clearError();
  } catch (error) {
    showError(error.message);  // the previous image and its panes stay as they were
  } finally {
    drop?.classList.remove("busy");
  }
}

async function showImage(view, sample = null, restored = false) {
  state.image = view;
  state.sample = sample;
  sessionStorage.setItem(STORE, view.id);
  writeQuery({ sample, image: sample ? null : view.id });
  const figure = document.getElementById("view-figure");
  if (figure) {
    document.getElementById("view").src = view.view_url;
    document.getElementById("image-name").textContent = view.name;  // escaped: text, not HTML
    figure.hidden = false;
  }
  await onImage(view, { restored });
}

// Present: the page's story (story.js) where it has one; elsewhere large panes, controls hidden.
function setUpPresentation() {
  const button = document.getElementById("present");
  if (!button) return;
  const toggle = (on) => {
    document.body.classList.toggle("presenting", on);
    button.textContent = on ? "Leave presentation" : "Present";
    window.dispatchEvent(new Event("resize"));  // Plotly charts follow their new size
  };
  button.addEventListener("click", async () => {
    if (story) {
      present(await story(), button);
    } else {
      toggle(!document.body.classList.contains("presenting"));
    }
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !story) toggle(false); });
}

// Top-k predictions as rows: name, a bar scaled to the top probability, "36 %". With onPick each
// row is a button (Tab to it, Enter or Space explains that class); `highlight` marks the chosen.
export function showPredictions(container, predictions, { onPick, highlight, title } = {}) {
  const top = Math.max(...predictions.map((p) => p.probability), 1e-9);
  const list = element("ol", { className: "top-k" });
  for (const prediction of predictions) {
    const chosen = prediction.index === highlight;
    const row = element(onPick ? "button" : "div", { className: "row" });
    row.dataset.index = prediction.index;
    if (onPick) {
      row.type = "button";
      row.setAttribute("aria-pressed", String(chosen));
      row.title = `Explain “${prediction.label}”`;
      row.addEventListener("click", () => onPick(prediction.index));
    }
    if (chosen) row.classList.add("chosen");
    const bar = element("span", { className: "bar" });
    const fill = element("span", { className: "fill" });
    fill.style.width = `${(100 * prediction.probability) / top}%`;
    bar.append(fill);
    row.append(element("span", { className: "name", text: prediction.label }), bar,
      element("span", { className: "value", text: percent(prediction.probability, 0) }));
    const item = element("li");
    item.append(row);
    list.append(item);
  }
  container.replaceChildren(...(title ? [element("h3", { text: title })] : []), list);
}
