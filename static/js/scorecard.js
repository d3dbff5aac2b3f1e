// The scorecard under a pane: deletion / insertion AUC against a random map (run as soon as the
// map is there; the server reuses the map) and the model-randomisation sanity check (run at once
// for one-pass methods, on a click for slow ones), with the curves and randomised maps in Details.

import { formatSeconds, runJob } from "./api.js";
import { axisTitle, draw } from "./charts.js";
import { element } from "./dom.js";

const SANITY_STEPS = 8;
// Gradient methods that took less than this get their sanity check at once; perturbation
// methods (occlusion, KernelSHAP) and slower ones get a button: the check costs 8 runs.
const AUTO_SANITY_SECONDS = 1.5;

export function attachScorecard(pane, view, method) {
  const card = element("div", { className: "scorecard" });
  card.dataset.method = pane.method;
  const faith = element("p", { className: "faith", text: "Deletion / insertion: measuring…" });
  const sanity = element("p", { className: "sanity" });
  const details = element("details", { className: "score-details" });
  details.append(element("summary", { text: "Details" }));
  const curves = element("div", { className: "chart curves" });
  const similarity = element("div", { className: "chart similarity" });
  const strip = element("div", { className: "strip" });
  details.append(curves, similarity, strip);
  card.append(faith, sanity, details);
  pane.extra.replaceChildren(card);
  const token = pane.token;
  const current = () => token === pane.token;
  const track = (update) => {  // so that a new map for this pane cancels the old scorecard
    if (["queued", "running"].includes(update.status)) pane.background.add(update.id);
    else pane.background.delete(update.id);
  };

  runJob("/api/faithfulness", { ...pane.body, steps: 32 }, track)
    .then(({ result }) => { if (current()) showFaithfulness(result, faith, curves); })
    .catch((error) => { if (current()) faith.textContent = `Deletion / insertion: ${error.message}`; });

  const check = () => {
    sanity.textContent = "Sanity check: randomising the model's layers…";
    runJob("/api/sanity", { ...pane.body, steps: SANITY_STEPS }, (update) => {
      track(update);
      if (current() && update.status === "running") {
        sanity.textContent = `Sanity check: randomising the model's layers… ${Math.round(update.progress * 100)} %`;
      }
    })
      .then(({ result }) => { if (current()) showSanity(result, sanity, similarity, strip); })
      .catch((error) => { if (current()) sanity.textContent = `Sanity check: ${error.message}`; });
  };
  if (!method.forward_only && view.result.seconds < AUTO_SANITY_SECONDS) {
    check();
  } else {
    const button = element("button", {
      className: "check", type: "button", text: `Run the sanity check (${SANITY_STEPS} runs of ${formatSeconds(view.result.seconds)} or more)`,
    });
    button.addEventListener("click", check);
    sanity.append("Sanity check: ", button);
  }
}

function showFaithfulness(result, line, chart) {
  const deletion = result.deletion_auc < result.random_deletion_auc;
  const insertion = result.insertion_auc > result.random_insertion_auc;
  line.dataset.deletionAuc = result.deletion_auc;
  line.dataset.insertionAuc = result.insertion_auc;
  line.textContent =
    `Deletion AUC ${result.deletion_auc.toFixed(3)} (random ${result.random_deletion_auc.toFixed(3)}) ${deletion ? "✓" : "✗"} · `
    + `insertion AUC ${result.insertion_auc.toFixed(3)} (random ${result.random_insertion_auc.toFixed(3)}) ${insertion ? "✓" : "✗"}`;
  line.title = "Deletion: remove the pixels the map ranks highest (to black); lower area = more faithful. "
    + "Insertion: reveal them on a blurred copy; higher area = more faithful. ✓ = better than a random map.";
  const curve = (y, name, dash, color) => ({
    x: result.fractions, y, name, type: "scatter", mode: "lines", line: { dash, color },
  });
  draw(chart, [
    curve(result.deletion, "deletion", "solid", "#d4480f"),
    curve(result.random_deletion, "deletion, random map", "dot", "#d4480f"),
    curve(result.insertion, "insertion", "solid", "#3b5bdb"),
    curve(result.random_insertion, "insertion, random map", "dot", "#3b5bdb"),
  ], {
    height: 250, margin: { l: 40, r: 10, t: 10, b: 40 },
    xaxis: { title: axisTitle("share of pixels") },
    yaxis: { title: axisTitle("p(class)"), rangemode: "tozero" },
    legend: { font: { size: 10 }, orientation: "h", y: -0.45 },
  });
}

function showSanity(result, line, chart, strip) {
  line.dataset.passes = result.passes;
  line.textContent = result.passes
    ? `Sanity check: passes: the map changes when the model is randomised (mean rank r = ${result.mean_rank_correlation.toFixed(2)} < ${result.threshold})`
    : `Sanity check: fails: the map stays alike when the model is randomised (mean rank r = ${result.mean_rank_correlation.toFixed(2)} ≥ ${result.threshold})`;
  line.classList.toggle("fails", !result.passes);
  const names = { spearman_abs: "rank r of |map|", spearman: "rank r", ssim: "SSIM", hog: "HOG r" };
  draw(chart, Object.entries(result.similarity).map(([metric, values]) => ({
    x: result.steps, y: values, name: names[metric] ?? metric, type: "scatter", mode: "lines+markers",
  })), {
    height: 220, margin: { l: 40, r: 10, t: 10, b: 60 },
    xaxis: { title: axisTitle(`randomised down to (${result.mode})`), tickfont: { size: 9 } },
    yaxis: { range: [-0.3, 1.05], title: axisTitle("similarity") },
    legend: { font: { size: 10 } },
  });
  strip.replaceChildren(...result.map_urls.map((url, index) => {
    const figure = element("figure");
    const image = element("img", { src: url, alt: `map with the model randomised down to ${result.steps[index]}` });
    figure.append(image, element("figcaption", { text: `${result.steps[index]} · r ${result.similarity.spearman_abs[index].toFixed(2)}` }));
    return figure;
  }));
}
