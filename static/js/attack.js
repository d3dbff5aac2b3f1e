// The attack page: perturb the image, show predictions before and after, and explain both.

import { api, clearError, runJob, showError } from "./api.js";
import { element } from "./dom.js";
import { paramsForm } from "./form.js";
import { bindDisplay, methodCheckboxes, Pane, refreshPanes, tickedMethods } from "./panes.js";
import { drawPredictions, parseClass, setUp, state } from "./workspace.js";

const methodSelect = document.getElementById("attack-method");
const epsilon = document.getElementById("epsilon");
const runButton = document.getElementById("run-attack");
const status = document.getElementById("attack-status");
let attacks = [];
let methods = [];
let attackParams = {};
let panes = [];

async function main() {
  [attacks, methods] = await Promise.all([api("/api/attacks"), api("/api/methods")]);
  for (const attack of attacks) methodSelect.append(new Option(attack.title, attack.name));
  methodSelect.addEventListener("change", showAttackParams);
  showAttackParams();
  methodCheckboxes(document.getElementById("methods"), methods, (m) => m.in_attack_panel);
  epsilon.addEventListener("input", showEpsilon);
  showEpsilon();
  runButton.addEventListener("click", runAttack);
  bindDisplay(() => refreshPanes(panes));
  await setUp({
    imageChanged: () => { runButton.disabled = false; status.textContent = "Ready: choose an attack and ε."; },
  });
}

function showEpsilon() {
  status.dataset.epsilon = epsilon.value;
  document.getElementById("epsilon-text").textContent =
    `ε = ${epsilon.value}/255 = ${(epsilon.value / 255).toFixed(4)}: no pixel changes by more than this.`;
}

function showAttackParams() {
  const attack = attacks.find((a) => a.name === methodSelect.value);
  attackParams = {};
  const form = paramsForm(attack.params_schema, (values) => { attackParams = values; runAttack(); }, { skip: ["epsilon"] });  // the slider sets ε
  document.getElementById("attack-params").replaceChildren(...(form ? [form] : []));
  document.getElementById("attack-target").placeholder = attack.needs_target ? "required" : "none: untargeted";
}

async function runAttack() {
  if (!state.image) return;
  clearError();
  const targetText = document.getElementById("attack-target").value;
  const target = targetText.trim() ? parseClass(targetText) : null;
  if (targetText.trim() && target === null) { showError(`No class "${targetText}".`); return; }
  runButton.disabled = true;
  status.textContent = "Attacking…";
  try {
    const view = await runJob("/api/attacks", {
      image_id: state.image.id, model: state.model, method: methodSelect.value, target,
      params: { ...attackParams, epsilon: epsilon.value / 255 },
    }, (update) => { status.textContent = `Attacking… ${Math.round(update.progress * 100)} %`; });
    showResult(view.result);
  } catch (error) {
    status.textContent = "The attack did not run.";
    showError(error.message);
  } finally {
    runButton.disabled = false;
  }
}

function showResult(result) {
  document.getElementById("attack-result").hidden = false;
  status.textContent = `${result.method} · ε = ${(result.params.epsilon * 255).toFixed(1)}/255 · `
    + `${(result.seconds * 1000).toFixed(0)} ms on ${result.device}`;
  document.getElementById("original").src = state.image.view_url;
  document.getElementById("adversarial").src = result.adversarial_url;
  document.getElementById("perturbation").src = result.perturbation_url;
  document.getElementById("original-caption").textContent =
    `original: ${result.label_before.label} (${result.label_before.probability.toFixed(3)})`;
  document.getElementById("adversarial-caption").textContent =
    `adversarial: ${result.label_after.label} (${result.label_after.probability.toFixed(3)})`;
  document.getElementById("perturbation-caption").textContent =
    `perturbation × ${result.amplification.toFixed(1)} (largest change ${(result.linf * 255).toFixed(1)}/255)`;
  const verdict = document.getElementById("verdict");
  const flipped = result.label_before.index !== result.label_after.index;
  verdict.classList.toggle("flipped", flipped);
  verdict.textContent = flipped
    ? `The prediction flipped: ${result.label_before.label} → ${result.label_after.label}`
    : `The prediction held: still ${result.label_after.label}`;
  if (result.target !== null) verdict.textContent += result.success ? " (target reached)" : " (target not reached)";
  drawPredictions(document.getElementById("before-chart"), result.before, { title: "before", highlight: result.label_before.index });
  drawPredictions(document.getElementById("after-chart"), result.after, { title: "after", highlight: result.label_after.index });
  explainBoth(result);
}

// Each ticked method on both images, each explaining its own image's prediction.
function explainBoth(result) {
  for (const pane of panes) pane.remove();
  panes = [];
  const pairs = document.getElementById("pairs");
  pairs.replaceChildren();
  const chosen = tickedMethods(document.getElementById("methods"));
  for (const name of chosen) {
    const method = methods.find((m) => m.name === name);
    const row = element("div", { className: "pair-row" });
    pairs.append(row);
    const sides = [
      ["original", state.image.id, state.image.view_url, result.label_before],
      ["adversarial", result.adversarial_image_id, result.adversarial_url, result.label_after],
    ];
    for (const [side, imageId, url, label] of sides) {
      const pane = new Pane(row, { key: `${name}-${side}`, title: `${method.title} · ${side}`, method: name, group: name });
      pane.element.dataset.side = side;
      panes.push(pane);
      pane.run({ image_id: imageId, model: state.model, method: name, target: label.index, params: {} }, url, label.label)
        .then(() => refreshPanes(panes));
    }
  }
}

main().catch((error) => showError(error.message));
