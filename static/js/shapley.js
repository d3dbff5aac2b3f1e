// The Shapley page: the lecture's table is server-rendered; here, the map of the method the page
// names (its panes' data-method: KernelSHAP, Shapley values of superpixels) on the image, and
// the page's report (the lecture's tables and the map with its legend and verdict).

import { api, showError } from "./api.js";
import { element } from "./dom.js";
import { legendOf, overlayQuery, Pane } from "./panes.js";
import { downloadPageReport, imageSection, paneSection, panesSettled, tableSection } from "./report.js";
import { picture } from "./story.js";
import { setUp, state } from "./workspace.js";

const panes = document.getElementById("panes");
let pane = null;

async function downloadShapleyReport(button) {
  await panesSettled(panes);
  const top = state.image?.predictions[0];
  const sections = [
    tableSection("The lecture's example: what each coalition earns", document.getElementById("coalitions")),
    tableSection("Each order of joining, and the average: the Shapley values", document.getElementById("orderings"), {
      lines: [document.querySelector(".shapley .formula").textContent],
    }),
  ];
  if (state.image) sections.push(imageSection(state.image), ...[...panes.querySelectorAll(".pane")].map(paneSection));
  else sections.push({ heading: "Your image", lines: ["No image was picked when this report was made."] });
  await downloadPageReport({
    page: "shapley",
    title: top ? `Shapley values: what in ${state.image.name} makes it ${top.label}` : "Shapley values",
    subject: state.image ? `${state.image.name} ${top.label}` : "lecture",
    model: state.model,
    summary: [document.getElementById("shapley-intro").textContent.replace(/\s+/g, " ").trim()],
    sections,
  }, button);
}

// Present: the lecture's game, each player's fair share, then the same credit on the photo.
async function shapleyStory() {
  const copy = (id) => document.getElementById(id).cloneNode(true);
  const slides = [
    { heading: "Three people who earn more together", body: [copy("coalitions")] },
    {
      heading: "Each one's fair share: the average of what they add, over every order of joining",
      body: [copy("orderings"), element("p", { className: "story-note", text: document.querySelector(".shapley .formula").nextElementSibling.textContent.replace(/\s+/g, " ").trim() })],
    },
  ];
  if (pane?.result) {
    const figure = element("figure");
    const layer = `${pane.result.overlay_url}?${overlayQuery(pane.display, pane.limit, "layer")}`;
    figure.append(
      picture(state.image.view_url, { layerUrl: layer, opacity: pane.display.opacity, alt: `${pane.title}: each region's share` }),
      await legendOf(pane.result, pane.display, pane.limit),
      element("figcaption", { text: pane.result.caption }),
    );
    slides.push({ heading: `The same credit on the photo: what makes it "${pane.result.target_label}"`, body: [figure] });
  }
  return slides;
}

async function main() {
  const method = (await api("/api/methods")).find((m) => m.name === panes.dataset.method);
  const report = document.getElementById("page-report");
  report.addEventListener("click", () => downloadShapleyReport(report));
  await setUp({
    storySlides: shapleyStory,
    imageChanged: () => {
      pane ??= new Pane(panes, { key: method.name, title: method.title, method: method.name });
      return pane.run({ image_id: state.image.id, model: state.model, method: method.name, params: {} }, state.image.view_url);
    },
  });
}

main().catch((error) => showError(error.message));
