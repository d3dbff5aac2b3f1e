// The audit page: start an audit job (POST /api/audits) and follow it (images done, images/s, ETA,
// per worker), or open a finished one (GET /api/audits); then its report: the headline with its
// interval, a sortable per-class table whose rows open the class's images, the ranked confusions
// with thumbnails, the reliability diagram before and after temperature scaling and a confidence
// histogram, galleries of mistakes and label issues, each class's SpRAy strategies as
// representative maps, and the shortcut evidence per method. Every thumbnail opens its image on the
// Explain page with its class selected. Two audits of the same images side by side, with deltas.
// The report downloads as one self-contained HTML file (report.js).

import { api, clearError, runJobShowing, showError, uploadDatasetOnChange } from "./api.js";
import { axisTitle, chart } from "./charts.js";
import { element, number, percent } from "./dom.js";
import { downloadPageReport, figuresIn, tableSection } from "./report.js";

const $ = (id) => document.getElementById(id);
const results = $("results");
const GALLERY = 12;  // thumbnails per gallery on the page
let datasetId = null;
let current = null;  // the report shown
let compared = null;  // the comparison shown

// The page bar's model menu: the server's models, then the Shapes lab's trained ones (audited
// with shapes:COUNT).
async function loadModels() {
  const select = $("model");
  const names = (await api("/api/models")).map((model) => model.name);
  for (const name of [...new Set([...names, "shapes/teacher", "shapes/student"])]) {
    select.append(element("option", { text: name, value: name, selected: name === document.body.dataset.defaultModel }));
  }
}

async function loadAudits(selected = null) {
  const audits = await api("/api/audits");
  const option = (audit) => element("option", {
    value: audit.id,
    text: `${audit.model} on ${audit.data} (${audit.images} images${audit.accuracy == null ? "" : `, accuracy ${percent(audit.accuracy)}`})`,
  });
  for (const id of ["open-audit", "compare-first", "compare-second"]) $(id).replaceChildren(...audits.map(option));
  if (audits.length > 1) $("compare-second").value = audits[1].id;
  if (selected) $("open-audit").value = selected;
  $("open").disabled = !audits.length;
  $("compare").disabled = audits.length < 2;
}

loadModels().catch((error) => showError(error.message));
loadAudits().catch((error) => showError(error.message));

uploadDatasetOnChange($("dataset-file"), $("dataset-info"), (id) => { datasetId = id; });

$("audit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  const source = document.querySelector('input[name="source"]:checked').value;
  const body = {
    model: $("model").value || null,
    methods: $("methods").value.split(",").map((m) => m.trim()).filter(Boolean),
    engine: $("engine").value,
    workers: Number($("workers").value),
  };
  if (source === "zip") body.dataset = datasetId;
  else body.shapes = `${$("shapes-count").value}:${$("shapes-cue").value}`;
  $("run").disabled = true;
  let following = 0;
  const follow = (view) => {
    const id = view.request?.audit_id;
    if (!id || view.status !== "running" || Date.now() - following < 1000) return;
    following = Date.now();
    api(`/api/audits/${id}/progress`).then(showLive).catch(() => {});
  };
  try {
    const job = await runJobShowing("/api/audits", body, { progress: $("progress"), status: $("status"), onUpdate: follow });
    showLive(await api(`/api/audits/${job.result.audit_id}/progress`));
    await loadAudits(job.result.audit_id);
    show(job.result);
  } catch (error) {
    showError(error.message);
  } finally {
    $("run").disabled = false;
  }
});

// Images done of this run's, per worker (host:pid of each scoring actor), images/s and ETA.
function showLive(progress) {
  if (progress.total == null) { $("live").textContent = "Starting the workers…"; return; }
  const workers = Object.entries(progress.per_worker).map(([name, count]) => `${name}: ${count}`).join(", ");
  const rate = progress.images_per_second == null ? "" : `, ${number(progress.images_per_second, 1)} images/s`;
  const eta = progress.running && progress.eta_seconds != null ? `, about ${Math.ceil(progress.eta_seconds)} s left` : "";
  $("live").textContent = `${progress.done} of ${progress.total} images scored${rate}${eta}. Per worker: ${workers || "none yet"}.`;
}

$("open-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearError();
  try {
    show(await api(`/api/audits/${$("open-audit").value}`));
  } catch (error) {
    showError(error.message);
  }
});

$("compare").addEventListener("click", async () => {
  clearError();
  try {
    showComparison(await api(`/api/audits/compare?first=${$("compare-first").value}&second=${$("compare-second").value}`));
  } catch (error) {
    showError(error.message);
  }
});

$("page-report").addEventListener("click", (event) => exportAudit(event.currentTarget));

// ---- One audit ----

const imageUrl = (index) => `/api/audits/${current.audit_id}/images/${index}.png`;
const mapUrl = (method, index, legend = false) => `/api/audits/${current.audit_id}/maps/${method}/${index}.png${legend ? "?legend=true" : ""}`;
const explainUrl = (index, target) => `/api/audits/${current.audit_id}/images/${index}/explain${target == null ? "" : `?class=${target}`}`;

function show(report) {
  current = report;
  compared = null;
  const whole = element("p");
  whole.append(element("a", { href: `/api/audits/${report.audit_id}/report.html`, text: "The whole audit as one HTML file (made on the server: tables, galleries and strategy maps)" }));
  results.replaceChildren(headline(report), whole);
  if (report.labelled) {
    results.append(
      section("Per class (select a header to sort, a class to see its images)", classTable(report.per_class), "per-class"),
      element("section", { id: "drill" }),
      section("Most frequent confusions", confusions(report.confusions), "confusions"),
      section("Calibration", calibration(report.calibration), "calibration"),
      section("Most confident mistakes", gallery(report.confident_mistakes, "mistake"), "mistakes"),
      section("Label issue candidates (for review, not verdicts)", gallery(report.label_issues.images, "issue"), "label-issues"),
    );
  } else {
    results.append(section("Highest-entropy images", gallery(report.highest_entropy, "entropy"), "entropy"));
  }
  results.append(section("Shortcut evidence", shortcuts(report.shortcuts), "shortcuts"));
  for (const [method, result] of Object.entries(report.shortcuts)) {
    if (result.used && result.classes.some((row) => row.spray)) {
      results.append(section(`Strategies per class (SpRAy on ${method} maps)`, strategies(method, result), `spray-${method}`));
    }
  }
  if (report.skipped.length) {
    results.append(section("Skipped files", list(report.skipped.map((s) => `${s.name}: ${s.reason}`))));
  }
  $("page-report").disabled = false;
}

function section(title, content, id = null) {
  const node = element("section", id ? { id } : {});
  node.append(element("h2", { text: title }), content);
  return node;
}

function list(lines) {
  const node = element("ul");
  node.append(...lines.map((line) => element("li", { text: line })));
  return node;
}

/** "ray data, 2 workers" or "plain": workers mean nothing without Ray. */
function engineText(provenance) {
  if (provenance.engine === "plain") return "plain";
  return `${provenance.engine}, ${provenance.workers} worker${provenance.workers > 1 ? "s" : ""}`;
}

function headlineText(report) {
  const lines = [`${report.scored} of ${report.images} images scored by ${report.model} (data ${report.data}).`];
  if (report.labelled) {
    const { accuracy, accuracy_interval: [low, high], top5, top5_interval: [low5, high5] } = report.classification;
    lines.push(`Accuracy ${percent(accuracy)} (95 % interval ${percent(low)} to ${percent(high)}); top-5 ${percent(top5)} (${percent(low5)} to ${percent(high5)}).`);
    lines.push(`Expected calibration error ${number(report.calibration.all.ece, 3)}; ${report.label_issues.count} label issue candidates.`);
  }
  return lines.join(" ");
}

function headline(report) {
  return element("p", { text: headlineText(report), className: "headline" });
}

// A thumbnail that opens its image on the Explain page, with the class it is about selected.
function thumbnail(index, caption, target, source = imageUrl(index), alt = caption) {
  const figure = element("figure");
  const link = element("a", { href: explainUrl(index, target), title: `Open on the Explain page: ${alt}` });
  link.append(element("img", { src: source, alt, loading: "lazy", width: 96, height: 96 }));
  figure.append(link, element("figcaption", { text: caption }));
  return figure;
}

function imageCaption(image) {
  const labelled = image.label_name == null ? "" : `labelled ${image.label_name}, `;
  return `${image.name}: ${labelled}predicted ${image.prediction_name} (${percent(image.confidence)})`;
}

function gallery(images, kind) {
  if (!images.length) return element("p", { text: "None." });
  const node = element("div", { className: `thumbs ${kind}` });
  node.append(...images.slice(0, GALLERY).map((image) => thumbnail(image.index, imageCaption(image), image.label ?? image.prediction)));
  return node;
}

function classTable(rows) {
  const columns = [
    ["label", "Class", (v) => v],
    ["support", "Images", (v) => v],
    ["precision", "Precision", (v) => percent(v)],
    ["recall", "Recall", (v) => percent(v)],
    ["f1", "F1", (v) => number(v)],
    ["mean_confidence", "Mean confidence", (v) => percent(v)],
  ];
  const table = element("table", { className: "audit-table" });
  const body = element("tbody");
  const render = (sorted) => body.replaceChildren(...sorted.map((row) => {
    const tr = element("tr");
    tr.append(...columns.map(([key, , format], position) => {
      const cell = element(position ? "td" : "th", position ? {} : { scope: "row" });
      if (position) { cell.textContent = String(format(row[key])); return cell; }
      const open = element("button", { text: row.label, type: "button", className: "link", title: `Show the images of ${row.label}` });
      open.addEventListener("click", () => drillDown(row));
      cell.append(open);
      return cell;
    }));
    return tr;
  }));
  const head = element("tr");
  let sortedBy = null;
  let descending = false;
  head.append(...columns.map(([key, title]) => {
    const th = element("th", { scope: "col" });
    const button = element("button", { text: title, type: "button" });
    button.addEventListener("click", () => {
      descending = sortedBy === key ? !descending : false;
      sortedBy = key;
      const sign = descending ? -1 : 1;
      for (const cell of head.children) cell.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      render([...rows].sort((a, b) => (a[key] > b[key] ? sign : a[key] < b[key] ? -sign : 0)));
    });
    th.append(button);
    return th;
  }));
  const thead = element("thead");
  thead.append(head);
  table.append(thead, body);
  render(rows);
  return table;
}

// A class's images: mistakes first, then by confidence.
async function drillDown(row) {
  const found = await api(`/api/audits/${current.audit_id}/classes/${row.class}?limit=${GALLERY * 2}`);
  const drill = $("drill");
  const heading = element("h2", { text: `Images labelled ${row.label} (${found.total}; mistakes first)`, tabIndex: -1 });
  const images = found.images;
  const node = element("div", { className: "thumbs drill" });
  node.append(...images.map((image) => thumbnail(image.index, imageCaption(image), row.class)));
  drill.replaceChildren(heading, node);
  heading.focus();
}

function confusions(pairs) {
  if (!pairs.length) return element("p", { text: "No confusions." });
  const node = element("ol", { className: "confusions" });
  for (const pair of pairs.slice(0, 8)) {
    const item = element("li");
    item.append(element("p", { text: `${pair.label_name} taken for ${pair.predicted_name}: ${pair.count} images (${percent(pair.rate)} of ${pair.label_name})` }));
    const strip = element("div", { className: "thumbs pair" });
    item.append(strip);
    api(`/api/audits/${current.audit_id}/classes/${pair.label}?predicted=${pair.predicted}&limit=4`).then((found) => {
      strip.append(...found.images.map((image) => thumbnail(image.index, `${image.name} (${percent(image.confidence)})`, pair.label)));
    }).catch((error) => showError(error.message));
    node.append(item);
  }
  return node;
}

function calibration(result) {
  const node = element("div");
  const curves = [["all images", result.all]];
  if (result.before) curves.push(["held-out, before", result.before], [`held-out, after T = ${number(result.temperature)}`, result.after]);
  const data = curves.map(([name, values]) => {
    const filled = values.bins.filter((bin) => bin.count);
    return { x: filled.map((b) => b.confidence), y: filled.map((b) => b.accuracy), mode: "lines+markers", name };
  });
  data.push({ x: [0, 1], y: [0, 1], mode: "lines", name: "perfect calibration", line: { dash: "dot", color: "#5d667a" } });
  const bins = result.all.bins;
  const width = 1 / bins.length;
  const centres = bins.map((_, i) => (i + 0.5) * width);
  const right = bins.map((bin) => Math.round(bin.count * (bin.accuracy ?? 0)));
  const histogram = [
    { x: centres, y: right, type: "bar", name: "right", width, marker: { color: "#2b6cb0" } },
    { x: centres, y: bins.map((bin, i) => bin.count - right[i]), type: "bar", name: "wrong", width, marker: { color: "#c05621" } },
  ];
  const legend = { orientation: "h", y: -0.3 };
  node.append(
    captioned(
      chart(data, { xaxis: { title: axisTitle("confidence"), range: [0, 1] }, yaxis: { title: axisTitle("accuracy"), range: [0, 1] }, height: 340, legend }, "chart reliability"),
      "Reliability diagram: accuracy against confidence in 15 bins, on all images and on the held-out half before and after the fitted temperature; on the diagonal, confidence can be taken at its word.",
    ),
    captioned(
      chart(histogram, { barmode: "stack", xaxis: { title: axisTitle("confidence of the top class"), range: [0, 1] }, yaxis: { title: axisTitle("images") }, height: 300, legend }, "chart histogram"),
      "Confidence histogram: how many images the model scored at each confidence, split into right and wrong predictions.",
    ),
    list(curves.map(([name, v]) => `${name}: ECE ${number(v.ece, 3)}, adaptive ECE ${number(v.adaptive_ece, 3)}, Brier ${number(v.brier, 3)}, NLL ${number(v.nll, 3)}`)),
  );
  if (result.note) node.append(element("p", { text: result.note }));
  return node;
}

function captioned(content, caption) {
  const figure = element("figure", { className: "chart-figure" });
  figure.append(content, element("figcaption", { text: caption }));
  return figure;
}

function shortcuts(evidence) {
  const lines = [];
  for (const [method, result] of Object.entries(evidence)) {
    if (!result.used) { lines.push(`${method}: not used (${result.reason})`); continue; }
    const o = result.overall;
    let line = `${method}: border mass ${percent(o.border_mass)} (×${number(o.border_ratio)} a uniform map's)`;
    if (o.mass_inside != null) line += `, mass inside the object ${percent(o.mass_inside)} against its area ${percent(o.area_share)}, pointing game ${percent(o.pointing_game)}`;
    lines.push(line);
  }
  return list(lines.length ? lines : ["No methods were run: predictions only."]);
}

// Each class's strategies: SpRAy's clusters, each with its most typical images' maps.
function strategies(method, result) {
  const node = element("div");
  node.append(element("p", { text: `Each row is one class; each group one strategy SpRAy found among the class's ${method} maps (the eigengap's count), shown by its most typical images. Red marks where the map puts the evidence for the predicted class; the colour bar under each map gives the scale. A small group whose maps sit on the frame or a corner is a shortcut candidate.` }));
  for (const row of result.classes.filter((r) => r.spray)) {
    const block = element("div", { className: "strategy" });
    block.append(element("h3", { text: `${row.label}: ${row.spray.clusters} ${row.spray.clusters === 1 ? "strategy" : "strategies"} in ${row.images} images` }));
    const groups = element("div", { className: "thumbs spray" });
    row.spray.representatives.forEach((members, cluster) => {
      for (const index of members) {
        groups.append(thumbnail(index, `strategy ${cluster + 1} of ${row.spray.clusters} (${row.spray.sizes[cluster]} images): image ${index}`, row.class, mapUrl(method, index, true), `${method} map of image ${index}, ${row.label}, with its colour bar`));
      }
    });
    block.append(groups);
    node.append(block);
  }
  return node;
}

// ---- Two audits side by side ----

function showComparison(result) {
  compared = result;
  current = null;
  const { first, second } = result;
  const h = result.headline;
  const summary = [
    `${first.model} (first) against ${second.model} (second) on ${first.data}: ${result.images} images, predicted differently on ${result.predictions_differ}.`,
    `Accuracy ${percent(h.accuracy[0])} → ${percent(h.accuracy[1])} (${signed(h.accuracy[2], true)}); top-5 ${percent(h.top5[0])} → ${percent(h.top5[1])}; ECE ${number(h.ece[0], 3)} → ${number(h.ece[1], 3)}; label issue candidates ${h.label_issues[0]} → ${h.label_issues[1]}.`,
  ];
  results.replaceChildren(element("p", { text: summary.join(" "), className: "headline comparison" }));
  const table = element("table", { className: "audit-table compare-table" });
  const head = element("tr");
  const titles = ["Class", "Images", "Recall, first", "Recall, second", "Δ recall", "F1, first", "F1, second", "Δ F1", "Δ mean confidence"];
  head.append(...titles.map((title) => element("th", { text: title, scope: "col" })));
  const body = element("tbody");
  const rows = [...result.per_class].sort((a, b) => (a.recall[2] ?? 0) - (b.recall[2] ?? 0));
  body.append(...rows.map((row) => {
    const tr = element("tr");
    tr.append(element("th", { text: row.label, scope: "row" }));
    for (const text of [String(row.support), percent(row.recall[0]), percent(row.recall[1]), signed(row.recall[2], true), number(row.f1[0]), number(row.f1[1]), signed(row.f1[2]), signed(row.mean_confidence[2], true)]) {
      tr.append(element("td", { text }));
    }
    return tr;
  }));
  const thead = element("thead");
  thead.append(head);
  table.append(thead, body);
  results.append(section("Per class, second minus first (largest drops in recall first)", table, "comparison"));
  const lines = Object.entries(result.shortcuts).map(([method, scores]) => `${method}: ${Object.entries(scores).map(([key, [a, b]]) => `${key.replace(/_/g, " ")} ${number(a, 3)} → ${number(b, 3)}`).join(", ")}`);
  if (lines.length) results.append(section("Shortcut evidence, first → second", list(lines)));
  $("page-report").disabled = false;
}

function signed(value, asPercent = false) {
  if (value == null) return "—";
  const text = asPercent ? `${(100 * value).toFixed(1)} points` : value.toFixed(2);
  return value > 0 ? `+${text}` : text;
}

// ---- The report ----

async function exportAudit(button) {
  const sections = [];
  if (compared) {
    sections.push(tableSection("Per class, second minus first", results.querySelector(".compare-table")));
    for (const node of results.querySelectorAll("section")) {
      if (node.id !== "comparison") sections.push({ heading: node.querySelector("h2").textContent, lines: [...node.querySelectorAll("li")].map((li) => li.textContent) });
    }
    await downloadPageReport({
      page: "audit", title: `Audits compared: ${compared.first.model} and ${compared.second.model}`,
      subject: `${compared.first.model} vs ${compared.second.model}`, summary: [results.querySelector(".headline").textContent], sections,
    }, button);
    return;
  }
  const report = current;
  for (const node of results.querySelectorAll("section[id]")) {
    const heading = node.querySelector("h2")?.textContent;
    if (!heading) continue;
    const table = node.querySelector("table");
    const lines = [...node.querySelectorAll(":scope > ul li, :scope ol li > p, :scope > div > ul li, :scope > div > p")].map((li) => li.textContent).slice(0, 40);
    const charts = [...node.querySelectorAll(".js-plotly-plot")].map((plot) => ({ source: plot, caption: plot.closest("figure")?.querySelector("figcaption")?.textContent ?? "", alt: heading }));
    const pictures = figuresIn(node);
    const figures = [...charts, ...pictures].slice(0, 40);
    sections.push(table ? tableSection(heading, table, { figures, lines }) : { heading, lines, figures });
  }
  await downloadPageReport({
    page: "audit", title: `Dataset audit: ${report.model} on ${report.data}`, subject: `${report.model} ${report.data}`,
    model: report.model,
    summary: [headlineText(report), `Audit ${report.audit_id}; engine ${engineText(report.provenance)}; data hash ${report.provenance.data_hash.slice(0, 12)}.`],
    sections,
  }, button);
}
