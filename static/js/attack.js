// The attack page: perturb the image, show predictions before and after, and explain both. The ε
// slider is live (FGSM takes tens of milliseconds), "Make it a …" sets up a targeted attack, and
// the view (image, attack, ε, target, methods) is kept in the URL.

import { api, clearError, runJob, showError } from "./api.js";
import { element, percent } from "./dom.js";
import { paramsForm } from "./form.js";
import {
  bindActivity, bindDisplay, displayQuery, fillColormaps, legendOf, methodCheckboxes, overlayQuery, Pane,
  refreshPanes, restoreDisplay, tickedMethods,
} from "./panes.js";
import { downloadPageReport, figuresIn, paneSection, panesSettled, parametersOf } from "./report.js";
import { picture } from "./story.js";
import { bindClassSearch, findClasses, query, setUp, showPredictions, state, writeQuery } from "./workspace.js";

const methodSelect = document.getElementById("attack-method");
const epsilon = document.getElementById("epsilon");
const runButton = document.getElementById("run-attack");
const status = document.getElementById("attack-status");
const targetInput = document.getElementById("attack-target");
const makeIt = document.getElementById("make-it");
const methodsElement = document.getElementById("methods");
const LIVE_DELAY_MS = 120;  // the slider waits this long for the next move before attacking
const EXPLAIN_DELAY_MS = 800;  // and the explanations wait until it has settled
let attacks = [];
let methods = [];
let attackParams = {};
let attackTarget = null;  // class index, or null: untargeted
let panes = [];
let lastResult = null;
let runToken = 0;
let liveTimer = null;
let explainTimer = null;

async function main() {
  [attacks, methods] = await Promise.all([api("/api/attacks"), api("/api/methods")]);
  for (const attack of attacks) methodSelect.append(new Option(attack.title, attack.name));
  if (attacks.some((a) => a.name === query.get("attack"))) methodSelect.value = query.get("attack");
  methodSelect.addEventListener("change", () => { showAttackParams(); runAttack(); });
  showAttackParams();
  const fromUrl = query.get("methods")?.split(",").filter((name) => methods.some((m) => m.name === name));
  methodCheckboxes(methodsElement, methods, (m) => (fromUrl?.length ? fromUrl.includes(m.name) : m.in_attack_panel), () => {
    writeQuery({ methods: tickedMethods(methodsElement).join(",") });
    if (lastResult) explainBoth(lastResult);
  });
  if (/^\d+(\.\d+)?$/.test(query.get("eps") ?? "")) epsilon.value = query.get("eps");
  epsilon.addEventListener("input", () => {
    showEpsilon();
    clearTimeout(liveTimer);
    liveTimer = setTimeout(() => runAttack({ live: true }), LIVE_DELAY_MS);
  });
  showEpsilon();
  bindClassSearch(targetInput, (index) => { attackTarget = index; runAttack(); });
  targetInput.addEventListener("input", () => { if (!targetInput.value.trim()) attackTarget = null; });
  makeIt.addEventListener("change", makeItA);
  runButton.addEventListener("click", () => runAttack());
  const reportButton = document.getElementById("page-report");
  reportButton.addEventListener("click", () => downloadAttackReport(reportButton));
  await fillColormaps();
  restoreDisplay(query);
  bindDisplay(() => { writeQuery(displayQuery()); refreshPanes(panes); });
  bindActivity();
  await setUp({
    imageChanged: (view, { restored } = {}) => {
      runButton.disabled = false;
      fillMakeIt();
      if (restored && query.get("target") && /^\d+$/.test(query.get("target"))) {
        attackTarget = Number(query.get("target"));
        targetInput.value = state.labels[attackTarget] ?? "";
      }
      if (restored && query.get("attack")) return runAttack();
      status.textContent = "Ready: move the ε slider, or press Attack.";
      document.getElementById("attack-result").hidden = true;
      lastResult = null;
      return undefined;
    },
    storySlides: attackStory,
  });
}

function showEpsilon() {
  status.dataset.epsilon = epsilon.value;
  document.getElementById("epsilon-text").textContent =
    `ε = ${epsilon.value}/255: no pixel changes by more than ${(epsilon.value / 2.55).toFixed(1)} % of its range.`;
}

function showAttackParams() {
  const attack = attacks.find((a) => a.name === methodSelect.value);
  attackParams = {};
  const form = paramsForm(attack.params_schema, (values) => { attackParams = values; runAttack(); }, { skip: ["epsilon"] });  // the slider sets ε
  document.getElementById("attack-params").replaceChildren(...(form ? [form] : []));
  targetInput.placeholder = attack.needs_target ? "required: a class name" : "none: any other class";
}

// "Make it a …": the image's other likely classes, each a targeted attack (the catalog says
// which attack needs a target).
function fillMakeIt() {
  const others = state.image.predictions.slice(1);
  makeIt.replaceChildren(new Option("Make it a …", ""), ...others.map((p) => new Option(`Make it a ${p.label}`, String(p.index))));
  makeIt.disabled = !attacks.some((a) => a.needs_target);
}

function makeItA() {
  if (!makeIt.value) return;
  const targeted = attacks.find((a) => a.needs_target);
  if (methodSelect.value !== targeted.name) { methodSelect.value = targeted.name; showAttackParams(); }
  attackTarget = Number(makeIt.value);
  targetInput.value = state.labels[attackTarget];
  makeIt.value = "";
  runAttack();
}

async function runAttack({ live = false } = {}) {
  if (!state.image) return;
  clearError();
  if (attackTarget === null && targetInput.value.trim()) {  // typed, not yet confirmed with Enter
    const { exact, matches } = findClasses(targetInput.value);
    if ((exact || matches.length === 1) && matches.length) attackTarget = matches[0];
  }
  const attack = attacks.find((a) => a.name === methodSelect.value);
  if (attack.needs_target && attackTarget === null) {
    status.textContent = `${attack.title} needs a target class: type one, or use “Make it a …”.`;
    return;
  }
  const token = ++runToken;
  writeQuery({ attack: methodSelect.value, eps: epsilon.value, target: attackTarget });
  status.textContent = "Attacking…";
  try {
    const view = await runJob("/api/attacks", {
      image_id: state.image.id, model: state.model, method: methodSelect.value, target: attackTarget,
      params: { ...attackParams, epsilon: epsilon.value / 255 },
    }, (update) => { if (token === runToken) status.textContent = `Attacking… ${Math.round(update.progress * 100)} %`; });
    if (token !== runToken) return;
    showResult(view.result, live);
  } catch (error) {
    if (token !== runToken) return;
    status.textContent = "The attack did not run.";
    showError(error.message);
  }
}

function showResult(result, live) {
  lastResult = result;
  const before = result.label_before;
  const after = result.label_after;
  document.getElementById("attack-result").hidden = false;
  status.textContent = `${attacks.find((a) => a.name === result.method)?.title ?? result.method} · ε = ${(result.params.epsilon * 255).toFixed(0)}/255 · `
    + `${(result.seconds * 1000).toFixed(0)} ms on ${result.device}`;
  status.dataset.shownEpsilon = String(Math.round(result.params.epsilon * 255));
  document.getElementById("original").src = state.image.view_url;
  document.getElementById("adversarial").src = result.adversarial_url;
  document.getElementById("perturbation").src = result.perturbation_url;
  document.getElementById("original-caption").textContent = `original: ${before.label} (${percent(before.probability, 0)})`;
  document.getElementById("adversarial-caption").textContent = `attacked: ${after.label} (${percent(after.probability, 0)})`;
  document.getElementById("perturbation-caption").textContent =
    `the change, magnified × ${result.amplification.toFixed(1)} (largest ${(result.linf * 255).toFixed(1)}/255)`;
  const verdict = document.getElementById("verdict");
  verdict.classList.toggle("flipped", flipped(result));
  verdict.textContent = flipped(result)
    ? `The prediction flipped: ${before.label} → ${after.label}`
    : `The prediction held: still ${after.label}`;
  if (result.target !== null) verdict.textContent += result.success ? " (target reached)" : " (target not reached)";
  showPredictions(document.getElementById("before-chart"), result.before, { title: "before", highlight: before.index });
  showPredictions(document.getElementById("after-chart"), result.after, { title: "after", highlight: after.index });
  clearTimeout(explainTimer);
  if (live) explainTimer = setTimeout(() => explainBoth(result), EXPLAIN_DELAY_MS);
  else explainBoth(result);
}

const flipped = (result) => result.label_before.index !== result.label_after.index;

// The report (report.js): the three pictures, the verdict, the settings, every map pair.
async function downloadAttackReport(button) {
  if (!lastResult) return showError("Attack an image first: the report shows the attack and its maps.");
  const pairs = document.getElementById("pairs");
  await panesSettled(pairs);
  const verdict = document.getElementById("verdict").textContent;
  await downloadPageReport({
    page: "attack", title: `Attack on ${state.image.name}: ${verdict}`, subject: `${state.image.name} ${lastResult.label_before.label}`,
    model: state.model, summary: [status.textContent],
    sections: [
      { heading: verdict, figures: figuresIn(document.querySelector(".triptych")), parameters: parametersOf(document.getElementById("attack-form")) },
      ...[...pairs.querySelectorAll(".pane")].map(paneSection),
    ],
  }, button);
}

// Each ticked method on both images, each explaining its own image's prediction.
function explainBoth(result) {
  if (result !== lastResult) return;
  for (const pane of panes) pane.remove();
  panes = [];
  const pairs = document.getElementById("pairs");
  pairs.replaceChildren();
  for (const name of tickedMethods(methodsElement)) {
    const method = methods.find((m) => m.name === name);
    const row = element("div", { className: "pair-row" });
    pairs.append(row);
    const sides = [
      ["original", state.image.id, state.image.view_url, result.label_before],
      ["attacked", result.adversarial_image_id, result.adversarial_url, result.label_after],
    ];
    for (const [side, imageId, url, label] of sides) {
      const pane = new Pane(row, { key: `${name}-${side}`, title: `${method.title} · ${side}`, method: name, group: name });
      pane.element.dataset.side = side;
      pane.sideUrl = url;
      panes.push(pane);
      pane.run({ image_id: imageId, model: state.model, method: name, target: label.index, params: {} }, url, label.label)
        .then(() => refreshPanes(panes));
    }
  }
}

// Present: the photo and the prediction, the flip, and where the model looks before and after.
async function attackStory() {
  if (!state.image) {
    return [{ heading: "Can a change you cannot see fool the model?", body: [element("p", { text: "Pick a sample photo or drop one first." })] }];
  }
  const top = state.image.predictions[0];
  const slides = [{
    heading: `The model says: ${top.label} (${percent(top.probability, 0)})`,
    body: [picture(state.image.view_url, { alt: state.image.name })],
  }];
  const result = lastResult;
  if (!result) return slides;
  const after = result.label_after;
  const pair = element("div", { className: "story-maps" });
  for (const [url, text] of [[state.image.view_url, `before: ${result.label_before.label} (${percent(result.label_before.probability, 0)})`],
    [result.adversarial_url, `after: ${after.label} (${percent(after.probability, 0)})`]]) {
    const figure = element("figure");
    figure.append(picture(url, { alt: text }), element("figcaption", { text }));
    pair.append(figure);
  }
  const size = `${(result.linf * 255).toFixed(0)}/255`;
  slides.push({
    heading: flipped(result) ? `A change you cannot see: now it says ${after.label} (${percent(after.probability, 0)})`
      : `The model holds: still ${after.label}`,
    body: [pair, element("p", {
      className: "story-note",
      text: flipped(result)
        ? `No pixel moved by more than ${size} of its range, yet the model changed its answer.`
        : `Changes of up to ${size} per pixel did not fool it: try a larger ε.`,
    })],
  });
  const shown = panes.filter((pane) => pane.result).slice(0, 2);
  if (shown.length) {
    const maps = element("div", { className: "story-maps" });
    for (const pane of shown) {
      const figure = element("figure");
      const layer = `${pane.result.overlay_url}?${overlayQuery(pane.display, pane.limit, "layer")}`;
      figure.append(
        element("h3", { text: pane.title }),
        picture(pane.sideUrl, { layerUrl: layer, opacity: pane.display.opacity, alt: `${pane.title}: where the model looks` }),
        await legendOf(pane.result, pane.display, pane.limit),
        element("figcaption", { text: pane.result.caption }),
      );
      maps.append(figure);
    }
    slides.push({ heading: "Where the model looks, before and after", body: [maps] });
  }
  return slides;
}

main().catch((error) => showError(error.message));
