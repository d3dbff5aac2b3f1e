// The Explain page's Concepts pane: the concept breakdown of the current prediction at a chosen
// layer (POST /api/concepts/breakdown): the channels that contribute most to the explained class,
// each with its conditional heatmap over the photo (legend and caption), its exemplars from the
// channel index when the layer is indexed, and a link to its channel page. The pane names the
// attribution the server used (gradient × activation per channel, or CRP). It runs when opened.

import { api, runJob, runJobShowing, showError } from "./api.js";
import { byId, channelPage, conceptApi } from "./concept_links.js";
import { element, number, percent } from "./dom.js";
import { legend } from "./panes.js";
import { downloadPageReport } from "./report.js";

const pane = byId("concepts-pane");
let subject = null;  // { image, model, target }: what the Explain page shows
let shownFor = "";  // the subject and settings of the breakdown drawn
let index = null;  // the model's channel index, or null
let shown = null;  // the breakdown drawn

// Blue (against) – white – red (for), with alpha growing with |value|: the server maps' colours.
const BLUE = [59, 76, 192];
const RED = [180, 4, 38];

function heatCanvas(heatmap, peak) {
  const height = heatmap.length;
  const width = heatmap[0]?.length ?? 0;
  const canvas = element("canvas", { width, height, className: "heat" });
  const context = canvas.getContext("2d");
  const picture = context.createImageData(width, height);
  heatmap.flat().forEach((value, i) => {
    const colour = value >= 0 ? RED : BLUE;
    const strength = Math.min(1, Math.abs(value) / (peak || 1));
    picture.data.set([...colour, Math.round(255 * strength)], 4 * i);
  });
  context.putImageData(picture, 0, 0);
  canvas.setAttribute("aria-hidden", "true");
  return canvas;
}

async function channelFigure(result, entry) {
  // Full colour at the 99th percentile of |value|, as the Explain page's maps (a few extreme
  // positions would otherwise leave the rest uncoloured).
  const magnitudes = entry.heatmap.flat().map(Math.abs).sort((a, b) => a - b);
  const peak = Math.max(1e-12, magnitudes[Math.min(magnitudes.length - 1, Math.floor(0.99 * magnitudes.length))] ?? 0);
  const figure = element("figure", { className: "concept-channel" });
  const stage = element("div", { className: "stage" });
  stage.append(element("img", { className: "base", src: subject.image.view_url, alt: "" }), heatCanvas(entry.heatmap, peak));
  stage.setAttribute("role", "img");
  stage.setAttribute("aria-label", `Where channel ${entry.channel} carries ${result.label} on the photo`);
  const link = element("a", { href: channelPage(result.model, result.layer, entry.channel), text: `Channel ${entry.channel}` });
  const heading = element("h3");
  heading.append(link, ` · ${number(entry.contribution, 3)} (${percent(entry.share, 0)} of all channels' |contribution|)`);
  const caption = element("figcaption", {
    text: `Red: where channel ${entry.channel}'s activation raises the “${result.label}” logit (activation × gradient at ${result.layer}); blue: where it lowers it. The map sums to the channel's contribution.`,
  });
  figure.append(heading, stage, await legend({ diverging: true, colormap: "coolwarm", peak }), caption);
  const exemplars = index?.layers?.[result.layer]?.exemplars?.[String(entry.channel)] ?? [];
  if (exemplars.length) {
    const strip = element("p", { className: "concept-exemplars" });
    strip.append("Its exemplars: ");
    exemplars.slice(0, 4).forEach((exemplar, rank) => strip.append(element("img", {
      src: conceptApi.crop(result.model, result.layer, entry.channel, rank), width: 48, height: 48, alt: exemplar.image, title: exemplar.image,
    })));
    figure.append(strip);
  }
  return figure;
}

async function fillLayers() {
  const select = byId("concept-layer");
  const model = subject.model;
  try {
    index = await api(conceptApi.index(model));
  } catch {
    index = null;
  }
  if (model !== subject.model) return;
  const indexed = Object.keys(index?.layers ?? {});
  const listed = await api(`/api/models/${model.split("/").map(encodeURIComponent).join("/")}/layers`);
  const options = [...indexed.map((name) => new Option(`${name} (indexed)`, name)), ...listed.filter((name) => !indexed.includes(name)).map((name) => new Option(name, name))];
  const previous = select.value;
  select.replaceChildren(...options);
  if ([...select.options].some((option) => option.value === previous)) select.value = previous;
  select.dataset.model = model;
}

async function breakDown() {
  if (!subject?.image || !pane.open) return;
  const status = byId("concept-status");
  if (byId("concept-layer").dataset.model !== subject.model) await fillLayers();
  const body = { image_id: subject.image.id, model: subject.model, layer: byId("concept-layer").value, target: subject.target, top: Number(byId("concept-top").value) };
  const key = JSON.stringify(body);
  if (key === shownFor) return;
  shownFor = key;
  status.textContent = "breaking the prediction down…";
  pane.dataset.status = "running";
  try {
    const answer = await api(conceptApi.breakdown, { json: body });
    // The answer itself, or a job that computes it (the same request again follows that job).
    const result = answer.events_url ? (await runJob(conceptApi.breakdown, body)).result : answer;
    if (key !== shownFor) return;
    byId("concept-method").textContent = `Attribution: ${result.method}. Channels of ${result.layer} ranked by how much they raise the “${result.label}” logit (${number(result.logit, 2)}; all channels together ${number(result.total, 2)}).`;
    const figures = await Promise.all(result.channels.map((entry) => channelFigure(result, entry)));
    if (key !== shownFor) return;
    byId("concept-results").replaceChildren(...figures);
    shown = result;
    byId("class-visualise").disabled = false;
    byId("concept-report").disabled = false;
    status.textContent = "";
    pane.dataset.status = "done";
  } catch (error) {
    shownFor = "";
    status.textContent = "";
    pane.dataset.status = "failed";
    showError(error.message);
  }
}

// A channel's figure as one picture: the photo with its heatmap drawn over it, as on the page.
function composite(figure) {
  const base = figure.querySelector("img.base");
  const heat = figure.querySelector("canvas.heat");
  const size = base.naturalWidth || 224;
  const canvas = element("canvas", { width: size, height: size });
  const context = canvas.getContext("2d");
  context.filter = "saturate(0.25)";  // as on the page: the photo greyed, the map in colour
  context.drawImage(base, 0, 0, size, size);
  context.filter = "none";
  context.globalAlpha = 0.85;
  context.imageSmoothingEnabled = true;
  context.drawImage(heat, 0, 0, size, size);
  return canvas.toDataURL("image/png");
}

function downloadBreakdown() {
  const figures = [...byId("concept-results").querySelectorAll(".concept-channel")];
  downloadPageReport({
    page: "explain", title: `Concept breakdown of “${shown.label}” at ${shown.layer}`.slice(0, 200),
    subject: subject.image.name, model: subject.model, summary: [byId("concept-method").textContent],
    sections: figures.map((figure) => ({
      heading: figure.querySelector("h3").textContent,
      figures: [{ source: composite(figure), caption: figure.querySelector("figcaption").textContent, alt: figure.querySelector(".stage").getAttribute("aria-label") }],
      lines: [figure.querySelector(".legend")?.getAttribute("aria-label") ?? ""].filter(Boolean),
    })),
  }, byId("concept-report"));
}

// An image optimised to raise the class's logit (app/concepts/feature_visualisation.py), as a
// job with progress: its steps, size and seconds under it.
async function visualiseClass() {
  const button = byId("class-visualise");
  button.disabled = true;
  const body = { model: shown.model, target: shown.class };
  try {
    const job = await runJobShowing(conceptApi.visualise, body, { progress: byId("class-visualise-progress"), status: byId("class-visualise-status") });
    const result = job.result;
    const img = byId("class-visualisation");
    img.src = result.image_url;
    img.alt = `Feature visualisation of the class ${result.target_label}`;
    byId("class-visualisation-caption").textContent = `An image that raises the “${result.target_label}” logit: ${result.steps} steps at ${result.size} × ${result.size} px in ${number(result.seconds, 1)} s${result.cached ? " (computed earlier)" : ""}; the logit went from ${number(result.start, 2)} to ${number(result.objective, 2)}.`;
    byId("class-visualisation-figure").hidden = false;
  } catch (error) {
    showError(error.message);
  } finally {
    button.disabled = false;
  }
}

// The Explain page calls this for every new image, class or model.
export function showConcepts(image, model, target) {
  subject = { image, model, target };
  byId("concept-results").replaceChildren();
  byId("concept-method").textContent = "";
  byId("concept-report").disabled = true;
  byId("class-visualise").disabled = true;
  byId("class-visualisation-figure").hidden = true;
  shownFor = "";
  breakDown().catch((error) => showError(error.message));
}

pane.addEventListener("toggle", () => { if (pane.open) breakDown().catch((error) => showError(error.message)); });
byId("concept-form").addEventListener("submit", (event) => { event.preventDefault(); shownFor = ""; breakDown().catch((error) => showError(error.message)); });
byId("concept-report").addEventListener("click", downloadBreakdown);
byId("class-visualise").addEventListener("click", () => { visualiseClass().catch((error) => showError(error.message)); });
