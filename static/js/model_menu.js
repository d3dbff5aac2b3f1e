// The model menu in the page bar: GET /api/models in <optgroup>s (built-in, yours, lab,
// compressed), each option titled with what the model is (architecture, classes, size, where it
// came from, methods it cannot run), and the line that says what the chosen model runs on: a
// compressed variant's forward passes run on its own engine (int8 ONNX Runtime) and its gradient
// methods on its float twin.

import { api } from "./api.js";
import { element } from "./dom.js";

export const GROUPS = ["built-in", "yours", "lab", "compressed"];

const megabytes = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

// One line: what the model is, how big, where it came from, what it cannot run.
export function describeModel(model) {
  const parts = [model.description];
  if (model.architecture && model.group !== "built-in") parts.push(`architecture ${model.architecture}`);
  if (model.classes != null) parts.push(`${model.classes} classes`);
  if (model.parameters != null) parts.push(`${(model.parameters / 1e6).toFixed(2)} M parameters`);
  if (model.bytes != null) parts.push(megabytes(model.bytes));
  parts.push(`from ${model.weights}`);
  const unsupported = Object.keys(model.unsupported ?? {});
  if (unsupported.length) parts.push(`cannot run ${unsupported.join(", ")}`);
  return parts.join(" · ");
}

// What the model runs on, said on the page when it is not the usual PyTorch network.
export function engineNote(model) {
  if (!model || model.group !== "compressed") return "";
  return `${model.name.split("/").slice(1).join("/")} runs on ${model.engine}; ${model.gradient_engine}.`;
}

// The option's visible text: the name, or for a compressed variant what it is and its run.
function optionText(model) {
  if (model.group !== "compressed") return model.name;
  return `${model.title} · run ${model.name.split("/")[1]}`;
}

// Fill `select` with the models in their groups; returns the models (GET /api/models).
export async function fillGroupedModels(select) {
  const models = await api("/api/models");
  const groups = new Map(GROUPS.map((group) => [group, element("optgroup", { label: group })]));
  for (const model of models) {
    const group = groups.get(model.group) ?? groups.get("built-in");
    const option = new Option(optionText(model), model.name);
    option.title = describeModel(model);
    group.append(option);
  }
  select.replaceChildren(...[...groups.values()].filter((group) => group.children.length));
  return models;
}

// Say under the menu what the chosen model runs on (empty for the usual case).
export function showEngine(models, name) {
  const note = document.getElementById("model-note");
  if (note) note.textContent = engineNote(models.find((model) => model.name === name));
}
