// Shapes models show their ground truth on the Explain page: when the model is a Shapes classifier
// the gallery offers the lab's test images, and each map of such an image can draw the shape's
// exact outline over it (a toggle; the legend says what the line is), with the map's
// pointing-game hit and its mass inside the shape, both measured by the server with the lab's
// own metrics (GET /api/shapes/samples/{name}/scores).

import { api } from "./api.js";
import { element, percent } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const SHAPES_SAMPLE = /^shapes-\d+$/;
const truths = new Map();  // sample name -> its ground truth (a promise)
let outlineShown = true;  // the last choice of any pane's toggle: new panes follow it

// The sample name of a Shapes test image (from the gallery, a bookmark or the stored image's
// name), else null.
export function shapesSampleOf(sample, image) {
  for (const name of [sample, image?.name]) if (name && SHAPES_SAMPLE.test(name)) return name;
  return null;
}

// Fill the page's #shapes-samples with the lab's test images when `model` is a Shapes
// classifier (hidden otherwise); pick(name) opens one like a sample photo.
export async function fillShapesGallery(model, pick) {
  const section = document.getElementById("shapes-samples");
  if (!section) return;
  document.getElementById("samples")?.after(section);  // right under the sample photos
  const found = await api(`/api/shapes/samples?model=${encodeURIComponent(model)}`);
  const list = section.querySelector(".samples");
  list.replaceChildren(...found.samples.map((sample) => {
    const button = element("button", { type: "button", className: "sample", title: `Shapes test image ${sample.name}: a ${sample.class_name}` });
    button.dataset.name = sample.name;
    button.append(element("img", { src: sample.thumbnail_url, alt: `Shapes test image: a ${sample.class_name}` }),
      element("span", { className: "sample-caption", text: sample.class_name }));
    button.addEventListener("click", () => pick(sample.name));
    return button;
  }));
  section.hidden = !found.samples.length;
}

function groundTruth(name) {
  if (!truths.has(name)) truths.set(name, api(`/api/shapes/samples/${encodeURIComponent(name)}/ground-truth`).catch((error) => { truths.delete(name); throw error; }));
  return truths.get(name);
}

// Remove a pane's outline and scores (its map is being recomputed, or the image is no Shapes one).
export function clearGroundTruth(pane) {
  pane.stage.querySelector("svg.outline")?.remove();
  pane.element.querySelector(".ground-truth")?.remove();
}

function outlineOf(truth) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "outline");
  svg.setAttribute("viewBox", `0 0 ${truth.width} ${truth.height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");  // the legend under the map says what the line is
  // A dark line under a light one: visible on any colour of the map.
  for (const [stroke, width] of [["#000000", 0.9], ["#ffe600", 0.45]]) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", truth.outline);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", stroke);
    path.setAttribute("stroke-width", width);
    path.setAttribute("stroke-linecap", "square");
    svg.append(path);
  }
  Object.assign(svg.style, { position: "absolute", inset: "0", width: "100%", height: "100%", pointerEvents: "none" });
  return svg;
}

// Under a finished pane of a Shapes test image: the outline toggle, its legend and the map's two
// ground-truth scores.
export async function showGroundTruth(pane, name) {
  clearGroundTruth(pane);
  if (!name || !pane.result || !pane.jobId) return;
  const jobId = pane.jobId;
  const [truth, scores] = await Promise.all([
    groundTruth(name),
    api(`/api/shapes/samples/${encodeURIComponent(name)}/scores?job_id=${encodeURIComponent(jobId)}`),
  ]);
  if (pane.jobId !== jobId || !pane.result) return;  // rerun meanwhile
  clearGroundTruth(pane);
  const svg = outlineOf(truth);
  svg.style.display = outlineShown ? "" : "none";
  pane.stage.append(svg);

  const box = element("div", { className: "ground-truth" });
  const toggle = element("input", { type: "checkbox", checked: outlineShown });
  toggle.addEventListener("change", () => {
    outlineShown = toggle.checked;
    svg.style.display = toggle.checked ? "" : "none";
  });
  const label = element("label", { className: "outline-toggle" });
  label.append(toggle, ` Show the ${truth.class_name}'s outline`);
  const swatch = element("span", { className: "outline-swatch" });
  swatch.setAttribute("aria-hidden", "true");
  Object.assign(swatch.style, {
    display: "inline-block", width: "1.4em", height: "0", borderTop: "3px solid #ffe600", outline: "1px solid #000000", verticalAlign: "middle", marginRight: "0.4em",
  });
  const legend = element("p", { className: "outline-legend" });
  legend.append(swatch, `Yellow line: the exact outline of the ${truth.class_name} (the image's ground-truth mask, ${percent(truth.area_share, 0)} of the image).`);
  const hit = element("p", { className: "pointing" });
  hit.dataset.hit = String(scores.pointing_hit);
  hit.append(element("strong", { text: `Pointing game: ${scores.pointing_hit ? "hit" : "miss"}` }),
    scores.pointing_hit ? " — the map's peak lies on the shape." : " — the map's peak lies off the shape.");
  const mass = element("p", { className: "mass" });
  mass.dataset.mass = String(scores.mass_inside);
  mass.append(element("strong", { text: `Mass inside the shape: ${percent(scores.mass_inside, 0)}` }),
    ` of the map's positive mass (a map that knows nothing: ${percent(scores.area_share, 0)}).`);
  box.append(label, legend, hit, mass);
  if (pane.result.target !== truth.label) {
    // The lab scores the map of the true class; this one explains another (the model's guess).
    box.append(element("p", {
      className: "other-class muted",
      text: `This map explains “${pane.result.target_label}”; the image shows a ${truth.class_name}: choose “${truth.class_name}” in the top 5 (or the class search) to score the map of its true class.`,
    }));
  }
  pane.legendSlot.after(box);
}
