// Every page's report, one way: the page lists its sections (headings, pictures, captions,
// verdicts, parameters in words, tables), this module turns each picture into a data URL (an
// <img> is fetched, a Plotly chart drawn to PNG), POSTs them to /api/reports/page, where one
// template adds the date, the machine and the versions, and downloads the file under the
// descriptive name the server gives. A pane still running is never dropped: it is waited for a
// while, then reported as still running.

import { api, download, showError } from "./api.js";
import { percent } from "./dom.js";

const WAIT_FOR_PANES_MS = 30_000;

const asDataUrl = (blob) => new Promise((resolve, reject) => {
  const reader = new FileReader();
  reader.onload = () => resolve(reader.result);
  reader.onerror = () => reject(reader.error);
  reader.readAsDataURL(blob);
});

// A picture as a data URL: a URL or <img> of this server, or a drawn Plotly chart.
async function pictureUrl(source) {
  if (source?.classList?.contains("js-plotly-plot")) {
    const width = Math.max(480, Math.min(source.clientWidth || 800, 1000));
    return window.Plotly.toImage(source, { format: "png", width, height: source.clientHeight || 360 });
  }
  const url = typeof source === "string" ? source : source.currentSrc || source.src;
  if (url.startsWith("data:")) return url;
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`could not read a picture for the report (${response.status})`);
  return asDataUrl(await response.blob());
}

const textOf = (node) => node?.textContent.replace(/\s+/g, " ").trim() ?? "";

// A form's fields as ["name", "value"] pairs, read from their labels: what the reader needs,
// in words (a blank field is the method's default).
export function parametersOf(container) {
  const pairs = [];
  for (const field of container?.querySelectorAll("input, select") ?? []) {
    if (field.type === "file" || field.type === "hidden" || field.type === "radio" || field.disabled) continue;
    const label = field.closest("label");
    const name = textOf(label?.firstChild?.nodeType === Node.TEXT_NODE ? label.firstChild : label) || field.name;
    let value = field.value;
    if (field.type === "checkbox") { if (!field.checked) continue; value = "yes"; }
    if (field.tagName === "SELECT") value = field.selectedOptions[0]?.textContent ?? value;
    pairs.push([name, value === "" ? field.placeholder || "default" : value]);
  }
  return pairs;
}

// A pane (.pane: a map with its legend, caption, scorecard verdict), as drawn on the page.
export function paneSection(pane) {
  const status = pane.dataset.status ?? "waiting";
  const heading = textOf(pane.querySelector("h3"));
  const section = { heading, status, lines: [], figures: [], verdicts: [], parameters: parametersOf(pane.querySelector(".params")) };
  const link = pane.querySelector("a.download[href]");
  if (status === "done" && link) {
    const url = new URL(link.href, location.href);
    url.searchParams.set("legend", "true");
    section.figures.push({ source: url.href, caption: textOf(pane.querySelector(".map-caption, .caption")), alt: `${heading} map with its colour scale` });
  }
  const verdict = pane.querySelector(".scorecard .verdict-line");
  if (verdict && textOf(verdict)) {
    section.verdicts.push({
      level: pane.querySelector(".scorecard")?.dataset.level ?? "", headline: textOf(verdict),
      explainer: [...pane.querySelectorAll(".scorecard .explainer p")].map(textOf).join(" "),
    });
  }
  section.lines.push(...[pane.querySelector(".subtitle"), pane.querySelector(".meta"), ...pane.querySelectorAll(".warnings li")].map(textOf).filter(Boolean));
  if (status !== "done") section.lines.push(`${heading} was ${status === "running" ? "still running" : status} when this report was made.`);
  return section;
}

// Wait until no pane in `container` is running (at most WAIT_FOR_PANES_MS).
export async function panesSettled(container) {
  const deadline = Date.now() + WAIT_FOR_PANES_MS;
  while (container.querySelector('.pane[data-status="running"]') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

// The caption of a figure, or of a picture inside one.
export const figureOf = (image) => ({ source: image, caption: textOf(image.closest("figure")?.querySelector("figcaption")), alt: image.alt });

// report: { page, title, subject, model, summary: [lines], sections: [{ heading, status, lines,
// figures: [{ source, caption, alt }], verdicts, parameters, columns, rows }] }
export async function downloadPageReport(report, button = null) {
  if (button) button.disabled = true;
  try {
    const sections = await Promise.all(report.sections.map(async (section) => ({
      ...section,
      figures: await Promise.all((section.figures ?? []).map(async ({ source, caption = "", alt = "" }) => ({ src: await pictureUrl(source), caption, alt }))),
    })));
    const response = await api("/api/reports/page", { json: { ...report, sections } });
    const named = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "");
    await download(response, named ? named[1] : `lantern-${report.page}.html`);
  } catch (error) {
    showError(error.message);
  } finally {
    if (button) button.disabled = false;
  }
}

// The image as the model sees it, with its top predictions (an ImageView from the API).
export function imageSection(image) {
  return {
    heading: `${image.name}, as the model sees it`,
    figures: [{ source: image.view_url, alt: image.name }],
    columns: ["class", "probability"],
    rows: image.predictions.slice(0, 5).map((p) => [p.label, percent(p.probability)]),
  };
}

// A <table> on the page as a section's columns and rows (text only).
export function tableSection(heading, table, extra = {}) {
  const columns = [...(table.tHead?.rows[0]?.cells ?? [])].map(textOf);
  const rows = [...table.tBodies].flatMap((body) => [...body.rows]).concat([...(table.tFoot?.rows ?? [])])
    .map((row) => [...row.cells].map(textOf));
  return { heading, columns, rows, ...extra };
}

// Every <figure> picture in `container`, with its caption.
export const figuresIn = (container) => [...(container?.querySelectorAll("figure img[src]") ?? [])].map(figureOf);
