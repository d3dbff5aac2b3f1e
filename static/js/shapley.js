// The Shapley page: the lecture's table is server-rendered; here, the map of the method the page
// names (its panes' data-method: KernelSHAP, Shapley values of superpixels) on the image, and
// the page's report (the lecture's tables and the map with its legend and verdict).

import { api, showError } from "./api.js";
import { Pane } from "./panes.js";
import { downloadPageReport, imageSection, paneSection, panesSettled, tableSection } from "./report.js";
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

async function main() {
  const method = (await api("/api/methods")).find((m) => m.name === panes.dataset.method);
  const report = document.getElementById("page-report");
  report.addEventListener("click", () => downloadShapleyReport(report));
  await setUp({
    imageChanged: () => {
      pane ??= new Pane(panes, { key: method.name, title: method.title, method: method.name });
      return pane.run({ image_id: state.image.id, model: state.model, method: method.name, params: {} }, state.image.view_url);
    },
  });
}

main().catch((error) => showError(error.message));
