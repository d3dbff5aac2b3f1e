// A channel's page (/concepts/MODEL/LAYER/CHANNEL): its exemplars (the crops of the images that
// excite it most, each with its box), its activation histogram over the reference images, the
// classes that draw most on it, its map on the workspace's current image, and on demand its
// feature visualisation (a job: steps, size and seconds shown). The report holds all of it.

import { api, cancelJob, clearError, runJobShowing, showError } from "./api.js";
import { axisTitle, draw } from "./charts.js";
import { byId as $, channelPage, conceptApi, currentImageId, fillModelMenu } from "./concept_links.js";
import { element, number } from "./dom.js";
import { downloadPageReport, figuresIn, tableSection } from "./report.js";

const root = $("channel-page");
const model = root.dataset.model;
const layer = root.dataset.layer;
const channel = Number(root.dataset.channel);
let details = null;
let jobId = null;

function showExemplars() {
  const items = details.exemplars.map((exemplar, rank) => {
    const [top, left, bottom, right] = exemplar.box;
    const image = element("img", {
      src: conceptApi.crop(model, layer, channel, rank), width: 96, height: 96, loading: "lazy",
      alt: `Exemplar ${rank + 1}: ${exemplar.image}, rows ${top}–${bottom}, columns ${left}–${right}`,
    });
    const caption = element("figcaption", { text: `${rank + 1}. ${exemplar.image} · ${number(exemplar.value)} · box [${exemplar.box.join(", ")}]` });
    const figure = element("figure");
    figure.append(image, caption);
    const item = element("li");
    item.append(figure);
    return item;
  });
  $("exemplars").replaceChildren(...items);
}

function showHistogram() {
  const { edges, counts } = details.histogram;
  const centres = counts.map((_, i) => (edges[i] + edges[i + 1]) / 2);
  const widths = counts.map((_, i) => edges[i + 1] - edges[i]);
  const threshold = details.exemplars.length ? Math.min(...details.exemplars.map((e) => e.value)) : Infinity;
  const data = [{
    type: "bar", x: centres, y: counts, width: widths, name: "reference images",
    marker: { color: centres.map((c, i) => (edges[i + 1] >= threshold ? "#b3261e" : "#6b7a90")) },
    hovertemplate: "activation %{x:.3g}: %{y} images<extra></extra>",
  }];
  const layout = {
    height: 260, margin: { t: 10, r: 10, b: 45, l: 50 }, bargap: 0.05, showlegend: false,
    xaxis: { title: axisTitle("activation (maximum over positions)") }, yaxis: { title: axisTitle("images") },
  };
  draw($("histogram"), data, layout);
  $("histogram-caption").textContent = `How many of the ${counts.reduce((a, b) => a + b, 0)} reference images reach each activation of channel ${channel} (its maximum over positions); red bars hold the exemplars, grey bars the rest.`;
}

function showClasses() {
  const rows = details.classes.map((entry) => {
    const row = element("tr");
    row.append(element("td", { text: `${entry.label} · ${entry.class}` }), element("td", { text: number(entry.mean, 3) }), element("td", { text: String(entry.images) }));
    return row;
  });
  $("classes").tBodies[0].replaceChildren(...rows);
}

function showMap() {
  const imageId = currentImageId();
  if (!imageId) return;
  const img = $("map");
  img.onerror = () => { $("map-figure").hidden = true; $("map-none").hidden = false; };
  img.onload = () => { $("map-figure").hidden = false; $("map-none").hidden = true; };
  img.alt = `Where channel ${channel} of ${layer} fires on the current image, with its colour scale`;
  img.src = conceptApi.map(model, layer, channel, imageId);
  $("map-caption").textContent = `Channel ${channel}'s activation on the image open in the workspace, upsampled from the layer's grid: the more colour, the stronger it fires (the bar under the map gives the scale in the channel's own units).`;
}

function showVisualisation(result) {
  const img = $("visualisation");
  img.src = result.image_url;
  img.alt = `Feature visualisation of channel ${channel} of ${layer}`;
  $("visualisation-caption").textContent = `An image that excites channel ${channel}: ${result.steps} steps at ${result.size} × ${result.size} px in ${number(result.seconds, 1)} s${result.cached ? " (computed earlier)" : ""}; the channel's mean activation went from ${number(result.start, 3)} to ${number(result.objective, 3)}.`;
  $("visualisation-figure").hidden = false;
}

$("visualise-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const body = { model, layer, channel, steps: Number($("steps").value), size: Number($("size").value), seed: Number($("seed").value) };
  $("visualise").disabled = true;
  $("cancel-visualise").hidden = false;
  try {
    const job = await runJobShowing(conceptApi.visualise, body, {
      progress: $("visualise-progress"), status: $("visualise-status"), onUpdate: (view) => { jobId = view.id; },
    });
    showVisualisation(job.result);
  } catch (error) {
    if (error.job?.status !== "cancelled") showError(error.message);
  } finally {
    $("visualise").disabled = false;
    $("cancel-visualise").hidden = true;
    jobId = null;
  }
});

$("cancel-visualise").addEventListener("click", () => { if (jobId) cancelJob(jobId).catch((error) => showError(error.message)); });

$("page-report").addEventListener("click", () => {
  const sections = [
    { heading: "Exemplars", lines: [root.querySelector("#exemplars-heading + .caption").textContent.trim()], figures: figuresIn($("exemplars")) },
    { heading: "Activation over the reference images", figures: [{ source: $("histogram"), caption: $("histogram-caption").textContent, alt: "Histogram of the channel's activation" }] },
    tableSection("Classes that draw most on it", $("classes")),
  ];
  if (!$("map-figure").hidden) sections.push({ heading: "On the current image", figures: figuresIn($("map-figure").parentElement) });
  if (!$("visualisation-figure").hidden) sections.push({ heading: "Feature visualisation", figures: figuresIn($("visualisation-figure").parentElement) });
  downloadPageReport({
    page: "concepts", title: `${model} · ${layer} · channel ${channel}`, subject: `channel ${channel} of ${layer}`, model,
    summary: [$("summary").textContent], sections,
  }, $("page-report"));
});

async function load() {
  const started = performance.now();
  details = await api(conceptApi.channel(model, layer, channel));
  $("previous").href = channelPage(model, layer, (channel - 1 + details.channels) % details.channels);
  $("next").href = channelPage(model, layer, (channel + 1) % details.channels);
  $("summary").textContent = `Channel ${channel} of ${details.channels} at ${layer} (read ${details.tapped_as === "activation" ? "after its activation" : details.tapped_as === "norm" ? "after its BatchNorm (no activation follows)" : "at the layer's output"}); its strongest exemplar reaches ${number(details.exemplars[0]?.value, 3)}.`;
  showExemplars();
  showHistogram();
  showClasses();
  showMap();
  $("page-report").disabled = false;
  root.dataset.loadedMs = String(Math.round(performance.now() - started));
  root.dataset.ready = "true";
}

fillModelMenu(model, (name) => location.assign(`/concepts?model=${encodeURIComponent(name)}`)).catch((error) => showError(error.message));
load().catch((error) => showError(error.message));
