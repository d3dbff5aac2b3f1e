// The Models page: every model by group (GET /api/models) with what it is, its size, where it came
// from and what it runs on; the form that adds a model of yours (POST /api/models: a state dict for
// an architecture, optional class names) and the buttons that remove one; the report.

import { api, clearError, showError } from "./api.js";
import { element } from "./dom.js";
import { GROUPS, describeModel, fillGroupedModels, showEngine } from "./model_menu.js";
import { downloadPageReport, tableSection } from "./report.js";

const node = (id) => document.getElementById(id);
const menu = node("model");
let models = [];

const size = (model) => [
  model.parameters == null ? null : `${(model.parameters / 1e6).toFixed(2)} M parameters`,
  model.bytes == null ? null : `${(model.bytes / 1e6).toFixed(1)} MB`,
].filter(Boolean).join(", ") || "—";

function runsOn(model) {
  if (model.group === "compressed") return `${model.engine}; ${model.gradient_engine}`;
  return model.engine ?? "PyTorch";
}

function row(model) {
  const open = element("a", { text: model.name, href: `/?model=${encodeURIComponent(model.name)}`, title: describeModel(model) });
  const actions = element("td");
  if (model.group === "yours") {
    const remove = element("button", { type: "button", text: "Remove", className: "remove" });
    remove.setAttribute("aria-label", `Remove ${model.name}`);
    remove.addEventListener("click", () => removeModel(model.name, remove));
    actions.append(remove);
  }
  const cells = [model.group, model.group === "compressed" ? model.title : model.description,
    model.classes ?? "—", size(model), model.weights, runsOn(model)].map((text) => element("td", { text: String(text) }));
  const name = element("th", { scope: "row" });
  name.append(open);
  const tr = element("tr");
  tr.dataset.name = model.name;
  tr.dataset.group = model.group;
  tr.append(name, ...cells, actions);
  return tr;
}

async function refresh() {
  const chosen = menu.value || sessionStorage.getItem("lantern.model") || document.body.dataset.defaultModel;
  models = await fillGroupedModels(menu);
  menu.value = models.some((model) => model.name === chosen) ? chosen : document.body.dataset.defaultModel;
  showEngine(models, menu.value);
  const ordered = GROUPS.flatMap((group) => models.filter((model) => (model.group ?? "built-in") === group));
  node("model-table").tBodies[0].replaceChildren(...ordered.map(row));
  const empty = GROUPS.filter((group) => !ordered.some((model) => model.group === group));
  node("architectures-only").textContent = empty.length ? `No ${empty.join(", ")} models yet.` : "";
}

async function fillArchitectures() {
  const names = await api("/api/architectures");
  const listed = new Set(models.map((model) => model.name));
  node("model-architecture").replaceChildren(...names.map((name) =>
    new Option(listed.has(name) ? name : `${name} (architecture only)`, name)));
}

async function addModel(event) {
  event.preventDefault();
  clearError();
  const form = node("add-model");
  const body = new FormData(form);
  if (!node("model-labels").files.length) body.delete("labels");
  const button = node("add-submit");
  button.disabled = true;
  node("add-status").textContent = "Checking the weights…";
  try {
    const added = await api("/api/models", { method: "POST", body });
    await refresh();
    node("add-status").replaceChildren(`Added ${added.name} (${added.classes} classes). `,
      element("a", { text: `Explain with ${added.name}`, href: `/?model=${encodeURIComponent(added.name)}` }));
    form.reset();
  } catch (error) {
    node("add-status").textContent = "Not added.";
    showError(error.message);
  } finally {
    button.disabled = false;
  }
}

async function removeModel(name, button) {
  clearError();
  button.disabled = true;
  try {
    await api(`/api/models/${encodeURIComponent(name)}`, { method: "DELETE" });
    if (sessionStorage.getItem("lantern.model") === name) sessionStorage.removeItem("lantern.model");
    await refresh();
    node("add-status").textContent = `Removed ${name}.`;
  } catch (error) {
    button.disabled = false;
    showError(error.message);
  }
}

async function downloadModelsReport(button) {
  await downloadPageReport({
    page: "models",
    title: "Lantern models",
    subject: "catalog",
    model: menu.value,
    summary: [`${models.length} models: ${GROUPS.map((group) => `${models.filter((m) => m.group === group).length} ${group}`).join(", ")}.`],
    sections: [tableSection("Every model here", node("model-table"))],
  }, button);
}

menu.addEventListener("change", () => {
  sessionStorage.setItem("lantern.model", menu.value);
  showEngine(models, menu.value);
});
node("add-model").addEventListener("submit", addModel);
node("page-report").addEventListener("click", (event) => downloadModelsReport(event.currentTarget));
refresh().then(fillArchitectures).catch((error) => showError(error.message));
