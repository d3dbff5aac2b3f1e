// One pane per explanation: its job's progress, then the map over the image, drawn with the
// shared display settings. Used by the explain, attack and Shapley pages.

import { cancelJob, formatSeconds, loadNpy, runJob } from "./api.js";
import { element } from "./dom.js";
import { paramsForm } from "./form.js";

const controls = ["opacity", "colormap", "mode", "normalise", "values"];

// One checkbox per method (the API's /methods, in menu order) in `container`.
export function methodCheckboxes(container, methods, isTicked, onChange = () => {}) {
  for (const method of methods) {
    const label = element("label", { title: `${method.reference}${method.signed ? " · signed map" : ""}` });
    const box = element("input", { type: "checkbox", name: "method", value: method.name, checked: isTicked(method) });
    box.addEventListener("change", onChange);
    label.append(box, ` ${method.title}`);
    container.append(label);
  }
}

export function tickedMethods(container) {
  return [...container.querySelectorAll("input[name=method]:checked")].map((box) => box.value);
}

export function readDisplay() {
  const display = {};
  for (const id of controls) {
    const control = document.getElementById(id);
    if (control) display[id] = id === "opacity" ? Number(control.value) : control.value;
  }
  return { opacity: 0.55, colormap: "auto", mode: "overlay", normalise: "map", values: "signed", ...display };
}

export function bindDisplay(onChange) {
  for (const id of controls) {
    document.getElementById(id)?.addEventListener("input", () => onChange(readDisplay()));
  }
}

// Apply the display to every pane; with shared normalisation, panes of one group share a scale.
export function refreshPanes(panes, display = readDisplay()) {
  const limits = new Map();
  if (display.normalise === "shared") {
    for (const pane of panes) {
      if (!pane.result) continue;
      limits.set(pane.group, Math.max(limits.get(pane.group) ?? 0, pane.result.peak));
    }
  }
  for (const pane of panes) pane.applyDisplay(display, limits.get(pane.group) || null);
}

// Query string for /api/jobs/{id}/overlay.png (the server draws the same way for PNG and report).
export function overlayQuery(display, limit, mode = display.mode) {
  const query = new URLSearchParams({
    opacity: display.opacity, colormap: display.colormap, mode, values: display.values,
  });
  if (limit) query.set("limit", limit);
  return query.toString();
}

export class Pane {
  constructor(container, { key, title, method, group = "all", schema = null, onParams = null, onDone = null, suggest = null }) {
    this.key = key;
    this.method = method;
    this.group = group;
    this.result = null;
    this.jobId = null;
    this.map = null;
    this.token = 0;
    this.display = readDisplay();
    this.limit = null;
    this.body = null;
    this.onDone = onDone;
    this.background = new Set();  // ids of jobs started for this pane's map (e.g. its scorecard)

    this.element = element("article", { className: "pane" });
    this.element.dataset.method = method;
    this.element.dataset.key = key;
    const header = element("header");
    header.append(element("h3", { text: title }), (this.caption = element("span", { className: "caption" })));
    this.stage = element("div", { className: "stage" });
    this.base = element("img", { className: "base", alt: "" });
    this.heat = element("img", { className: "heat", alt: `${title} map` });
    this.busy = element("div", { className: "busy" });
    this.progress = element("progress", { max: 1, value: 0 });
    this.eta = element("span", { className: "eta", text: "waiting…" });
    this.cancelButton = element("button", { className: "cancel", text: "Cancel", type: "button" });
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.busy.append(this.progress, this.eta, this.cancelButton);
    this.stage.append(this.base, this.heat, this.busy);
    this.readout = element("p", { className: "readout", text: "\u00a0" });
    this.meta = element("p", { className: "meta" });
    this.warnings = element("ul", { className: "warnings" });
    this.downloadLink = element("a", { className: "download", text: "PNG", title: "Download this pane as drawn" });
    this.extra = element("div", { className: "extra" });  // e.g. the scorecard
    this.element.append(header, this.stage, this.readout, this.meta, this.warnings, this.extra);
    this.paramsForm = schema && onParams ? paramsForm(schema, (values) => onParams(this, values), { suggest }) : null;
    if (this.paramsForm) this.element.append(this.paramsForm);
    this.element.append(this.downloadLink);
    this.stage.addEventListener("mousemove", (event) => this.showValue(event));
    this.stage.addEventListener("mouseleave", () => { this.readout.textContent = "\u00a0"; });
    container.append(this.element);
  }

  setStatus(status) { this.element.dataset.status = status; }

  // Start (or restart) the job; resolves with the result, or null when it failed or was cancelled.
  async run(body, baseUrl, caption = "") {
    const token = ++this.token;
    this.body = body;
    this.extra.replaceChildren();
    this.stopBackground();
    if (this.jobId && this.element.dataset.status === "running") cancelJob(this.jobId).catch(() => {});
    this.result = null;
    this.map = null;
    this.jobId = null;
    this.caption.textContent = caption;
    this.base.src = baseUrl;
    this.heat.removeAttribute("src");
    this.warnings.replaceChildren();
    this.meta.textContent = "";
    this.progress.value = 0;
    this.eta.textContent = "waiting…";
    this.setStatus("running");
    try {
      const view = await runJob("/api/explanations", body, (update) => {
        if (token !== this.token) return;
        this.jobId = update.id;
        this.progress.value = update.progress;
        this.eta.textContent = update.status === "queued" ? "waiting for a worker…"
          : update.eta_seconds != null ? `${Math.round(update.progress * 100)} % · about ${formatSeconds(update.eta_seconds)} left`
            : `${Math.round(update.progress * 100)} %`;
      });
      if (token !== this.token) return null;
      this.show(view);
      this.onDone?.(this, view);
      return view.result;
    } catch (error) {
      if (token !== this.token) return null;
      const cancelled = error.job?.status === "cancelled";
      this.setStatus(cancelled ? "cancelled" : "failed");
      this.meta.textContent = cancelled ? "Cancelled." : `Failed: ${error.message}`;
      return null;
    }
  }

  show(view) {
    this.jobId = view.id;
    this.result = view.result;
    const result = view.result;
    this.setStatus("done");
    this.element.dataset.jobId = view.id;
    const params = Object.entries(result.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
    const engine = result.engine === "PyTorch" ? "" : `, ${result.engine}`;
    this.meta.textContent = `${formatSeconds(result.seconds)} on ${result.device}${engine}${view.reused ? " (cached)" : ""} · `
      + `class ${result.target_label} (${result.target}), p = ${result.probability.toFixed(3)}`
      + (params ? ` · ${params}` : "");
    this.warnings.replaceChildren(...result.warnings.map((w) => element("li", { text: w })));
    this.applyDisplay(this.display, this.limit);
    loadNpy(result.map_url).then((map) => { this.map = map; }).catch(() => {});
  }

  applyDisplay(display, limit) {
    this.display = display;
    this.limit = limit;
    this.stage.dataset.mode = display.mode;
    this.heat.style.opacity = display.mode === "overlay" ? display.opacity : 1;
    if (!this.result) return;
    const heatUrl = `${this.result.overlay_url}?${overlayQuery(display, limit, "heatmap")}`;
    if (this.heat.getAttribute("src") !== heatUrl) this.heat.src = heatUrl;
    this.downloadLink.href = `${this.result.overlay_url}?${overlayQuery(display, limit)}`;
    this.downloadLink.download = `${this.result.method}-${this.result.target}.png`;
  }

  showValue(event) {
    if (!this.map) return;
    const [height, width] = this.map.shape;
    const box = this.stage.getBoundingClientRect();
    const x = Math.min(width - 1, Math.max(0, Math.floor(((event.clientX - box.left) / box.width) * width)));
    const y = Math.min(height - 1, Math.max(0, Math.floor(((event.clientY - box.top) / box.height) * height)));
    const value = this.map.data[y * width + x];
    this.readout.textContent = `value at (${x}, ${y}): ${value.toPrecision(3)}`;
  }

  cancel() {
    if (this.jobId) cancelJob(this.jobId).catch(() => {});
  }

  stopBackground() {
    for (const id of this.background) cancelJob(id).catch(() => {});
    this.background.clear();
  }

  remove() {
    this.token++;
    this.cancel();
    this.stopBackground();
    this.element.remove();
  }
}
