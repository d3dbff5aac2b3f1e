// The scorecard under a pane: one verdict in words (can this map be trusted?), "What does this
// mean?" with the tests' explainers, and the numbers and curves under Details. The verdict
// combines the deletion / insertion test against a random map (ROAD's imputation, 8 steps) and
// the model-randomisation sanity check (at once for fast one-pass methods, on a click for slow
// ones): the worse of the levels that say something; "this image can't tell" when neither does.

import { formatSeconds, runJob } from "./api.js";
import { axisTitle, draw } from "./charts.js";
import { element, percent } from "./dom.js";

const SANITY_STEPS = 8;
const FAITHFULNESS_STEPS = 8;  // ROAD imputes every removed pixel: 8 points per curve suffice
// Gradient methods that took less than this get their sanity check at once; perturbation
// methods (occlusion, KernelSHAP) and slower ones get a button: the check costs 8 runs.
const AUTO_SANITY_SECONDS = 1.5;
const SEVERITY = { trust: 0, caution: 1, distrust: 2 };
export const VERDICT_WORDS = {
  trust: "Trustworthy",
  caution: "Use with care",
  distrust: "Don't trust this map",
  inconclusive: "This image can't tell",
};

// The worse of the informative verdicts (inconclusive ones say nothing), or null while none is in.
export function combineVerdicts(verdicts) {
  const known = verdicts.filter(Boolean);
  if (!known.length) return null;
  const informative = known.filter((v) => v.level !== "inconclusive");
  if (!informative.length) return known[0];
  return informative.reduce((worst, v) => (SEVERITY[v.level] > SEVERITY[worst.level] ? v : worst));
}

export function attachScorecard(pane, view, method) {
  pane.checkIds = [];  // the finished checks of this map: the report puts their verdicts under it
  const card = element("div", { className: "scorecard" });
  card.dataset.method = pane.method;
  const verdict = element("p", { className: "verdict-line", text: "Checking whether to trust this map…" });
  verdict.setAttribute("aria-live", "polite");
  const sanityAction = element("p", { className: "sanity-action" });
  const explainer = element("details", { className: "explainer" });
  explainer.append(element("summary", { text: "What does this mean?" }));
  const details = element("details", { className: "score-details" });
  details.append(element("summary", { text: "Details" }));
  const faith = element("p", { className: "faith", text: "Deletion / insertion: measuring…" });
  const sanity = element("p", { className: "sanity", text: "Sanity check: not run yet." });
  const curves = element("div", { className: "chart curves" });
  const similarity = element("div", { className: "chart similarity" });
  const strip = element("div", { className: "strip" });
  details.append(faith, curves, sanity, similarity, strip);
  card.append(verdict, sanityAction, explainer, details);
  pane.extra.replaceChildren(card);
  const token = pane.token;
  const current = () => token === pane.token;
  const found = { faithfulness: null, sanity: null };
  const explainers = new Map();

  const update = () => {
    const combined = combineVerdicts([found.faithfulness, found.sanity]);
    if (!combined) return;
    pane.trust = { ...combined, words: VERDICT_WORDS[combined.level] };
    card.dataset.level = combined.level;
    verdict.dataset.level = combined.level;
    const others = [found.faithfulness, found.sanity].filter((v) => v && v !== combined && v.level !== "inconclusive");
    verdict.replaceChildren(
      element("strong", { text: `${VERDICT_WORDS[combined.level]}: ${combined.headline.toLowerCase()}` }),
      ` ${combined.sentence}`,
      ...others.map((v) => ` ${v.headline}: ${v.sentence}`),
    );
    for (const v of [found.faithfulness, found.sanity]) if (v) explainers.set(v.explainer, v.explainer);
    explainer.replaceChildren(explainer.querySelector("summary"), ...[...explainers.values()].map((text) => element("p", { text })));
  };

  runJob("/api/faithfulness", { ...pane.body, steps: FAITHFULNESS_STEPS }, (u) => pane.track(u))
    .then(({ id, result }) => {
      if (!current()) return;
      pane.checkIds.push(id);
      found.faithfulness = result.verdict;
      showFaithfulness(result, faith, curves);
      update();
    })
    .catch((error) => {
      if (!current()) return;
      faith.textContent = `Deletion / insertion: ${error.message}`;
      if (!found.sanity) verdict.textContent = `The checks did not run (${error.job?.status ?? error.message}).`;
    });

  const check = () => {
    sanityAction.replaceChildren("Scrambling the model's layers to check the map depends on them…");
    runJob("/api/sanity", { ...pane.body, steps: SANITY_STEPS }, (u) => {
      pane.track(u);
      if (current() && u.status === "running") {
        sanityAction.textContent = `Scrambling the model's layers to check the map depends on them… ${Math.round(u.progress * 100)} %`;
      }
    })
      .then(({ id, result }) => {
        if (!current()) return;
        pane.checkIds.push(id);
        sanityAction.replaceChildren();
        found.sanity = result.verdict;
        showSanity(result, sanity, similarity, strip);
        update();
      })
      .catch((error) => { if (current()) sanityAction.textContent = `Sanity check: ${error.message}`; });
  };
  if (!method.forward_only && view.result.seconds < AUTO_SANITY_SECONDS) {
    check();
  } else {
    const button = element("button", {
      className: "check", type: "button",
      text: `Also check it depends on the model (${SANITY_STEPS} runs of ${formatSeconds(view.result.seconds)} or more)`,
    });
    button.addEventListener("click", check);
    sanityAction.append(button);
  }
}

function showFaithfulness(result, line, chart) {
  line.dataset.deletionAuc = result.deletion_auc;
  line.dataset.insertionAuc = result.insertion_auc;
  line.dataset.level = result.verdict.level;
  line.textContent =
    `Hiding the top-ranked pixels (${result.deletion_baseline}): the class keeps ${percent(result.deletion_auc)} on average `
    + `(random pixels: ${percent(result.random_deletion_auc)}; lower is better). Showing only them `
    + `(${result.insertion_baseline}): ${percent(result.insertion_auc)} (random: ${percent(result.random_insertion_auc)}; higher is better).`;
  const curve = (y, name, dash, color) => ({
    x: result.fractions, y, name, type: "scatter", mode: "lines", line: { dash, color },
  });
  draw(chart, [
    curve(result.deletion, "hiding", "solid", "#b83d0c"),
    curve(result.random_deletion, "hiding, random pixels", "dot", "#b83d0c"),
    curve(result.insertion, "showing", "solid", "#3b5bdb"),
    curve(result.random_insertion, "showing, random pixels", "dot", "#3b5bdb"),
  ], {
    height: 250, margin: { l: 40, r: 10, t: 10, b: 40 },
    xaxis: { title: axisTitle("share of pixels") },
    yaxis: { title: axisTitle("probability of the class"), rangemode: "tozero" },
    legend: { font: { size: 10 }, orientation: "h", y: -0.45 },
  });
}

function showSanity(result, line, chart, strip) {
  line.dataset.passes = result.passes;
  line.dataset.level = result.verdict.level;
  line.textContent = `Sanity check (${result.mode}): mean rank correlation with the original map `
    + `${result.mean_rank_correlation.toFixed(2)}, passing below ${result.threshold}.`;
  const data = result.data_randomization;
  if (data) {  // the data randomisation test: the same method on the model trained on random labels
    line.dataset.randomLabelsSimilarity = data.similarity.spearman_abs;
    line.append(` Against ${data.random_labels_model}, the same network trained on randomly permuted labels: `
      + `rank correlation of |map| ${data.similarity.spearman_abs.toFixed(2)}, SSIM ${data.similarity.ssim.toFixed(2)} `
      + "(a map that explains what the model learnt should differ from this bogus model's: low is good).");
  }
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
