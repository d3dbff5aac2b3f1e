// The concept explorer (/concepts): a rail of the model's layers, stem to head (the indexed ones
// marked), and for an indexed layer a grid of its channels, each shown by its top crops and linked
// to its own page. A model without an index (or a layer outside it) gets the form that builds one:
// the reference images (the sample photos with augmented views, Shapes images, or a zip), the
// layers and the top-k, as a job with progress.

import { api, cancelJob, clearError, runJobShowing, showError, uploadDatasetOnChange } from "./api.js";
import { byId as $, channelPage, conceptApi, fillModelMenu } from "./concept_links.js";
import { element, number } from "./dom.js";
import { downloadPageReport } from "./report.js";

const PAGE = 48;  // channels drawn at a time
const CROPS = 3;  // crops per channel in the grid
const params = new URLSearchParams(location.search);
let model = params.get("model") || sessionStorage.getItem("lantern.model") || document.body.dataset.defaultModel;
let layers = [];  // the model's layers, stem to head
let index = null;  // the model's index.json, or null
let layer = null;  // the layer shown
let shown = 0;
let datasetId = null;
let jobId = null;

function rememberView() {
  const query = new URLSearchParams({ model, ...(layer ? { layer } : {}) });
  history.replaceState(history.state, "", `/concepts?${query}`);
}

async function openModel() {
  clearError();
  for (const node of document.querySelectorAll(".model-name")) node.textContent = model;
  const listed = await api(`/api/models/${model.split("/").map(encodeURIComponent).join("/")}/layers`);
  try {
    index = await api(conceptApi.index(model));
  } catch {
    index = null;  // not indexed yet: the form builds one
  }
  const indexed = Object.keys(index?.layers ?? {});
  // The layer list gives the default layer, then the rest from the output back: the rail runs
  // stem to head. An indexed layer the list lacks (a block's output) goes before its own parts.
  const [first, ...rest] = listed;
  layers = [...rest.reverse(), ...(first ? [first] : [])];
  for (const name of indexed.filter((n) => !layers.includes(n))) {
    const inside = layers.findIndex((n) => n.startsWith(`${name}.`));
    layers.splice(inside >= 0 ? inside : layers.length, 0, name);
  }
  const wanted = params.get("layer");
  layer = indexed.includes(wanted) ? wanted : indexed[0] ?? null;
  params.delete("layer");
  drawRail(indexed);
  showLayer();
}

function drawRail(indexed) {
  const items = layers.map((name) => {
    const button = element("button", { type: "button", text: name, className: indexed.includes(name) ? "indexed" : "" });
    button.setAttribute("aria-pressed", String(name === layer));
    button.title = indexed.includes(name) ? "Indexed: show its channels" : "Not indexed yet: build an index with it";
    button.addEventListener("click", () => { layer = name; drawRail(indexed); showLayer(); });
    const item = element("li");
    item.append(button);
    return item;
  });
  $("layers").replaceChildren(...items);
}

function showLayer() {
  rememberView();
  shown = 0;
  $("channels").replaceChildren();
  const entry = layer ? index?.layers?.[layer] : null;
  document.querySelector(".grid-controls").hidden = !entry;
  $("build-form").hidden = Boolean(entry);
  $("page-report").disabled = !entry;
  if (!entry) {
    showBuildForm();
    $("grid-info").textContent = index ? `${layer ?? "This layer"} is not in ${model}'s index (${Object.keys(index.layers).join(", ")}).` : `${model} has no channel index yet.`;
    $("more").hidden = true;
    return;
  }
  $("grid-info").textContent = `${entry.channels} channels of ${layer} on ${index.images ?? "the"} reference images (${index.data}); each shown by the crops of the ${Math.min(CROPS, topOf(entry))} images that excite it most.`;
  showMore();
}

const topOf = (entry) => Math.max(0, ...Object.values(entry.exemplars).map((list) => list.length));

function channelOrder(entry) {
  const channels = [...Array(entry.channels).keys()];
  if ($("sort").value === "value") {
    const best = (c) => entry.exemplars[String(c)]?.[0]?.value ?? -Infinity;
    channels.sort((a, b) => best(b) - best(a));
  }
  return channels;
}

function card(entry, channel) {
  const exemplars = entry.exemplars[String(channel)] ?? [];
  const link = element("a", { href: channelPage(model, layer, channel) });
  const crops = element("span", { className: "crops" });
  for (const [rank, exemplar] of exemplars.slice(0, CROPS).entries()) {
    crops.append(element("img", { src: conceptApi.crop(model, layer, channel, rank), alt: "", width: 48, height: 48, loading: "lazy", title: exemplar.image }));
  }
  link.append(crops, element("span", { className: "label", text: `channel ${channel} · max ${number(exemplars[0]?.value)}` }));
  link.setAttribute("aria-label", `Channel ${channel}: strongest on ${exemplars.slice(0, CROPS).map((e) => e.image).join(", ") || "no image"}`);
  const item = element("li", { className: "channel-card" });
  item.append(link);
  return item;
}

function showMore() {
  const entry = index.layers[layer];
  const channels = channelOrder(entry);
  const next = channels.slice(shown, shown + PAGE);
  $("channels").append(...next.map((channel) => card(entry, channel)));
  shown += next.length;
  $("more").hidden = shown >= channels.length;
  $("more").textContent = `Show more channels (${shown} of ${channels.length} shown)`;
}

function showBuildForm() {
  const choices = layers.map((name) => {
    const label = element("label");
    const kept = Boolean(index?.layers?.[name]);  // a new index replaces the old one: keep its layers
    const box = element("input", { type: "checkbox", value: name, checked: kept || name === layer || (!layer && name === layers[layers.length - 1]) });
    label.append(box, ` ${name}`);
    return label;
  });
  $("build-layers").replaceChildren(...choices);
  $("build-why").textContent = "One forward pass per reference image records, for every channel of the chosen layers (at most 8), its top images and where in them it fires most. A new index replaces the model's old one, so its layers are ticked too.";
}

$("sort").addEventListener("change", () => showLayer());
$("more").addEventListener("click", () => showMore());
$("find").addEventListener("change", () => {
  const channel = Number($("find").value);
  if (index?.layers?.[layer] && channel >= 0 && channel < index.layers[layer].channels) location.assign(channelPage(model, layer, channel));
});

uploadDatasetOnChange($("dataset-file"), $("dataset-info"), (id) => { datasetId = id; });

$("build-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const source = document.querySelector('input[name="source"]:checked').value;
  const chosen = [...$("build-layers").querySelectorAll("input:checked")].map((box) => box.value);
  if (!chosen.length) { showError("Tick at least one layer to index."); return; }
  const body = { model, layers: chosen, top: Number($("top").value) };
  if (source === "zip" && !datasetId) { showError("Choose a zip of images first."); return; }
  body.data = { zip: `dataset:${datasetId}`, shapes: `shapes:${$("shapes-count").value}`, samples: "samples" }[source];
  $("build").disabled = true;
  $("cancel-build").hidden = false;
  try {
    await runJobShowing(conceptApi.build, body, { progress: $("build-progress"), status: $("build-status"), onUpdate: (view) => { jobId = view.id; } });
    params.set("layer", chosen.includes(layer) ? layer : chosen[0]);  // the layer asked for
    await openModel();
  } catch (error) {
    if (error.job?.status !== "cancelled") showError(error.message);
  } finally {
    $("build").disabled = false;
    $("cancel-build").hidden = true;
    jobId = null;
  }
});

$("cancel-build").addEventListener("click", () => { if (jobId) cancelJob(jobId).catch((error) => showError(error.message)); });

$("page-report").addEventListener("click", () => {
  const entry = index.layers[layer];
  downloadPageReport({
    page: "concepts", title: `${model} · ${layer}: what its channels respond to`, subject: layer, model,
    summary: [$("grid-info").textContent],
    sections: [...$("channels").querySelectorAll("a")].slice(0, 24).map((link, i) => ({
      heading: link.querySelector(".label").textContent,
      figures: [...link.querySelectorAll("img")].map((img) => ({ source: img, caption: img.title, alt: img.title })),
      lines: i === 0 ? [`${entry.channels} channels; the first 24 shown are in this report.`] : [],
    })),
  }, $("page-report"));
});

async function openExplorer() {
  const names = await fillModelMenu(model, (name) => { model = name; layer = null; openModel().catch((error) => showError(error.message)); });
  if (!names.includes(model)) {
    model = document.body.dataset.defaultModel;
    $("model").value = model;
  }
  await openModel();
}

openExplorer().catch((error) => showError(error.message));
