// One pane per explanation: its job's progress, then the map as a colour layer over the
// desaturated image (drawn with the shared display settings), its colour bar and the sentence of
// what the colours mean. Used by the explain, attack and Shapley pages; also the display
// controls, the page's activity line ("3 of 5 maps ready, 4 checks running", Cancel all) and the
// legends the story mode shows.

import { api, cancelJob, formatSeconds, loadNpy, runJob } from "./api.js";
import { element, percent } from "./dom.js";
import { paramsForm } from "./form.js";

const controls = ["opacity", "colormap", "mode", "normalise", "values"];
const DEFAULTS = { opacity: 0.8, colormap: "auto", mode: "overlay", normalise: "map", values: "signed" };
const panesOnPage = new Set();  // every live Pane, for the activity line
// Each colormap's anchor colours, for the legends ("#rrggbb", evenly spaced).
const colormaps = api("/api/colormaps").catch(() => ({}));

// One checkbox per method (the API's /methods, in menu order) in `container`.
export function methodCheckboxes(container, methods, isTicked, onChange = () => {}) {
  for (const method of methods) {
    const label = element("label", { title: `${method.description}\n${method.reference}` });
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
  return { ...DEFAULTS, ...display };
}

// The colormap menu from /api/colormaps ("auto" first: the server's choice per map).
export async function fillColormaps() {
  const select = document.getElementById("colormap");
  if (!select) return;
  const chosen = select.value;
  const names = Object.keys(await colormaps);
  select.replaceChildren(element("option", { value: "auto", text: "auto (blue–red when signed)", defaultSelected: true }),
    ...names.map((name) => element("option", { value: name, text: name })));
  select.value = names.includes(chosen) ? chosen : "auto";
}

// The display settings for the page's URL: those at their defaults as null (left out).
export function displayQuery(display = readDisplay()) {
  return Object.fromEntries(controls.map((id) => [id, String(display[id]) === String(DEFAULTS[id]) ? null : String(display[id])]));
}

// Set the controls from the page's URL (unknown values are left as they were).
export function restoreDisplay(query) {
  for (const id of controls) {
    const control = document.getElementById(id);
    const value = query.get(id);
    if (!control || value === null) continue;
    if (control.tagName === "SELECT" && ![...control.options].some((o) => o.value === value)) continue;
    control.value = value;
  }
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
export function overlayQuery(display, limit, mode = display.mode, legend = false) {
  const query = new URLSearchParams({
    opacity: display.opacity, colormap: display.colormap, mode, values: display.values,
  });
  if (limit) query.set("limit", limit);
  if (legend) query.set("legend", "true");
  return query.toString();
}

const scale = (value) => Number(value.toPrecision(3)).toString();

// A colour bar for a map: the colormap's colours left to right and what its ends mean.
// `diverging`: the map's sign is shown (blue against, red for); `peak`: the value at full colour.
export async function legend({ diverging, colormap, peak }) {
  const bar = element("div", { className: "legend", role: "img" });
  const name = colormap === "auto" ? (diverging ? "coolwarm" : "reds") : colormap;
  const colours = (await colormaps)[name] ?? ["#f2f2f2", "#b40426"];
  // The bar's shape is set here, so a page without explain.css still shows it.
  const ramp = element("div", { className: "ramp" });
  Object.assign(ramp.style, { height: "10px", background: `linear-gradient(to right, ${colours.join(", ")})` });
  const labels = element("div", { className: "scale" });
  Object.assign(labels.style, { display: "flex", justifyContent: "space-between", gap: "0.3rem" });
  const ends = diverging ? [`against −${scale(peak)}`, "0", `+${scale(peak)} for`] : ["0", "", `${scale(peak)} most important`];
  labels.append(...ends.map((text) => element("span", { text })));
  bar.setAttribute("aria-label", diverging
    ? `Colour scale: blue is evidence against the class (down to −${scale(peak)}), red evidence for it (up to +${scale(peak)}), no colour is zero`
    : `Colour scale: from no colour (0) to the strongest colour (${scale(peak)}, most important)`);
  bar.append(ramp, labels);
  return bar;
}

// The legend of a pane's result as it is drawn now.
export function legendOf(result, display, limit = null) {
  return legend({
    diverging: result.signed && display.values === "signed", colormap: display.colormap, peak: limit ?? result.peak,
  });
}

// "3 of 5 maps ready, 4 checks running" with a Cancel all button, in the page's #activity.
function showActivity() {
  const line = document.getElementById("activity");
  if (!line) return;
  const panes = [...panesOnPage];
  const ready = panes.filter((p) => p.element.dataset.status === "done").length;
  const running = panes.filter((p) => p.element.dataset.status === "running").length;
  const checks = panes.reduce((sum, p) => sum + p.background.size, 0);
  const text = line.querySelector(".text");
  if (!panes.length) { line.hidden = true; return; }
  line.hidden = false;
  const parts = [`${ready} of ${panes.length} map${panes.length === 1 ? "" : "s"} ready`];
  if (checks) parts.push(`${checks} check${checks === 1 ? "" : "s"} running`);
  text.textContent = parts.join(", ") + (running || checks ? "…" : ".");
  line.dataset.busy = running || checks ? "true" : "false";
  line.querySelector(".cancel-all").hidden = !(running || checks);
}

export function bindActivity() {
  const line = document.getElementById("activity");
  line?.querySelector(".cancel-all").addEventListener("click", () => {
    for (const pane of panesOnPage) { pane.cancel(); pane.stopBackground(); }
  });
}

export class Pane {
  constructor(container, { key, title, method, group = "all", schema = null, onParams = null, onDone = null, suggest = null, rerun = null }) {
    this.key = key;
    this.title = title;
    this.method = method;
    this.group = group;
    this.result = null;
    this.jobId = null;
    this.map = null;
    this.token = 0;
    this.display = readDisplay();
    this.limit = null;
    this.body = null;
    this.baseUrl = null;
    this.subtitleText = "";
    this.onDone = onDone;
    this.rerun = rerun ?? (() => this.run(this.body, this.baseUrl, this.subtitleText));
    this.background = new Set();  // ids of jobs started for this pane's map (e.g. its scorecard)
    this.trust = null;  // the scorecard's verdict, once there

    this.element = element("article", { className: "pane" });
    this.element.dataset.method = method;
    this.element.dataset.key = key;
    const header = element("header");
    header.append(element("h3", { text: title }), (this.subtitle = element("span", { className: "subtitle" })));
    this.stage = element("div", { className: "stage" });
    this.base = element("img", { className: "base", alt: "" });
    this.heat = element("img", { className: "heat", alt: `${title} map` });
    this.busy = element("div", { className: "busy" });
    this.progress = element("progress", { max: 1, value: 0 });
    this.progress.setAttribute("aria-label", `${title}: progress`);
    this.eta = element("span", { className: "eta", text: "waiting…" });
    this.cancelButton = element("button", { className: "cancel", text: "Cancel", type: "button" });
    this.cancelButton.setAttribute("aria-label", `Cancel ${title}`);
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.busy.append(this.progress, this.eta, this.cancelButton);
    this.stage.append(this.base, this.heat, this.busy);
    this.legendSlot = element("div", { className: "legend-slot" });
    this.caption = element("p", { className: "map-caption" });
    this.readout = element("p", { className: "readout", text: "\u00a0" });
    this.meta = element("p", { className: "meta" });
    this.againButton = element("button", { className: "again", type: "button", text: "Run again", hidden: true });
    this.againButton.setAttribute("aria-label", `Run ${title} again`);
    this.againButton.addEventListener("click", () => this.rerun(this));
    this.warnings = element("ul", { className: "warnings" });
    this.downloadLink = element("a", { className: "download", text: `Download ${title} (PNG with its colour scale)` });
    this.extra = element("div", { className: "extra" });  // e.g. the scorecard
    this.element.append(header, this.stage, this.legendSlot, this.caption, this.readout, this.meta, this.againButton, this.warnings, this.extra);
    this.paramsForm = schema && onParams ? paramsForm(schema, (values) => onParams(this, values), { suggest }) : null;
    if (this.paramsForm) this.element.append(this.paramsForm);
    this.element.append(this.downloadLink);
    this.stage.addEventListener("mousemove", (event) => this.showValue(event));
    this.stage.addEventListener("mouseleave", () => { this.readout.textContent = "\u00a0"; });
    container.append(this.element);
    panesOnPage.add(this);
    showActivity();
  }

  setStatus(status) {
    this.element.dataset.status = status;
    this.againButton.hidden = !["cancelled", "failed"].includes(status);
    showActivity();
  }

  // Note a background job's state (queued/running ones count as running checks).
  track(update) {
    if (["queued", "running"].includes(update.status)) this.background.add(update.id);
    else this.background.delete(update.id);
    showActivity();
  }

  // Start (or restart) the job; resolves with the result, or null when it failed or was cancelled.
  async run(body, baseUrl, subtitle = "") {
    const token = ++this.token;
    this.body = body;
    this.baseUrl = baseUrl;
    this.subtitleText = subtitle;
    this.extra.replaceChildren();
    this.stopBackground();
    if (this.jobId && this.element.dataset.status === "running") cancelJob(this.jobId).catch(() => {});
    this.result = null;
    this.trust = null;
    this.map = null;
    this.jobId = null;
    this.subtitle.textContent = subtitle;
    this.base.src = baseUrl;
    this.heat.removeAttribute("src");
    this.legendSlot.replaceChildren();
    this.caption.textContent = "";
    this.warnings.replaceChildren();
    this.meta.textContent = "";
    this.downloadLink.removeAttribute("href");
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
      this.meta.textContent = cancelled ? "Cancelled." : `Failed: ${error.message}`;
      this.setStatus(cancelled ? "cancelled" : "failed");
      return null;
    }
  }

  show(view) {
    this.jobId = view.id;
    this.result = view.result;
    const result = view.result;
    this.element.dataset.jobId = view.id;
    this.caption.textContent = result.caption;
    const engine = result.engine === "PyTorch" ? "" : `, ${result.engine}`;
    this.meta.textContent = `${result.target_label} · ${percent(result.probability, 0)} · `
      + `${formatSeconds(result.seconds)} on ${result.device}${engine}${view.reused ? " (cached)" : ""}`;
    this.warnings.replaceChildren(...result.warnings.map((w) => element("li", { text: w })));
    this.setStatus("done");
    this.applyDisplay(this.display, this.limit);
    loadNpy(result.map_url).then((map) => { this.map = map; }).catch(() => {});
  }

  applyDisplay(display, limit) {
    this.display = display;
    this.limit = limit;
    this.stage.dataset.mode = display.mode;
    this.heat.style.opacity = display.mode === "overlay" ? display.opacity : 1;
    // The server's overlay keeps 25 % of the photo's colour (imaging.desaturate): the same here.
    this.base.style.filter = display.mode === "overlay" ? "grayscale(0.75)" : "";
    if (!this.result) return;
    // overlay: the colour layer (alpha = |value|) over the desaturated photo, at the opacity.
    const drawn = display.mode === "heatmap" ? "heatmap" : "layer";
    const heatUrl = `${this.result.overlay_url}?${overlayQuery(display, limit, drawn)}`;
    if (this.heat.getAttribute("src") !== heatUrl) this.heat.src = heatUrl;
    const png = `${this.result.overlay_url}?${overlayQuery(display, limit, display.mode, true)}`;
    this.downloadLink.href = png;
    this.downloadLink.download = `${this.result.method}-${this.result.target_label.replace(/\W+/g, "-")}.png`;
    const token = this.token;
    legendOf(this.result, display, limit).then((bar) => {
      if (token === this.token && this.display === display) this.legendSlot.replaceChildren(bar);
    });
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
    if (this.jobId && this.element.dataset.status === "running") cancelJob(this.jobId).catch(() => {});
  }

  stopBackground() {
    for (const id of this.background) cancelJob(id).catch(() => {});
    this.background.clear();
    showActivity();
  }

  remove() {
    this.token++;
    this.cancel();
    this.stopBackground();
    this.element.remove();
    panesOnPage.delete(this);
    showActivity();
  }
}
