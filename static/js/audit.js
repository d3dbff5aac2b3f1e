// The audit page: start an audit job (POST /api/audits), then show its report: the headline with
// its interval, a sortable per-class table, the ranked confusions, the reliability diagram before
// and after temperature scaling, label issue candidates and the shortcut evidence per method.

import { api, runJobShowing, showError, clearError } from "./api.js";
import { axisTitle, chart } from "./charts.js";
import { element, number, percent } from "./dom.js";

const $ = (id) => document.getElementById(id);
const results = $("results");
let datasetId = null;

// The page bar's model menu: the server's models, then the Shapes lab's trained ones (audited
// with shapes:COUNT).
async function loadModels() {
  const select = $("model");
  const names = (await api("/api/models")).map((model) => model.name);
  for (const name of [...names, "shapes/teacher", "shapes/student"]) {
    select.append(element("option", { text: name, value: name, selected: name === document.body.dataset.defaultModel }));
  }
}
loadModels().catch((error) => showError(error.message));

$("dataset-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  clearError();
  const body = new FormData();
  body.append("file", file);
  try {
    const dataset = await api("/api/compress/datasets", { method: "POST", body });
    datasetId = dataset.id;
    $("dataset-info").textContent = `${dataset.images ?? "?"} images uploaded`;
    document.querySelector('input[name="source"][value="zip"]').checked = true;
  } catch (error) {
    showError(error.message);
  }
});

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
  try {
    const job = await runJobShowing("/api/audits", body, { progress: $("progress"), status: $("status") });
    show(job.result);
  } catch (error) {
    showError(error.message);
  } finally {
    $("run").disabled = false;
  }
});

function show(report) {
  results.replaceChildren(headline(report));
  if (report.labelled) {
    results.append(
      section("Per class (select a header to sort)", classTable(report.per_class)),
      section("Most frequent confusions", confusions(report.confusions)),
      section("Calibration", calibration(report.calibration)),
      section("Label issue candidates (for review, not verdicts)", imageList(report.label_issues.images)),
      section("Most confident mistakes", imageList(report.confident_mistakes)),
    );
  }
  results.append(section("Shortcut evidence", shortcuts(report.shortcuts)));
  if (report.skipped.length) {
    results.append(section("Skipped files", list(report.skipped.map((s) => `${s.name}: ${s.reason}`))));
  }
}

function section(title, content) {
  const node = element("section");
  node.append(element("h2", { text: title }), content);
  return node;
}

function list(lines) {
  const node = element("ul");
  node.append(...lines.map((line) => element("li", { text: line })));
  return node;
}

function headline(report) {
  const lines = [`${report.scored} of ${report.images} images scored by ${report.model}.`];
  if (report.labelled) {
    const { accuracy, accuracy_interval: [low, high], top5 } = report.classification;
    lines.push(`Accuracy ${percent(accuracy)} (95 % interval ${percent(low)} to ${percent(high)}); top-5 ${percent(top5)}.`);
    lines.push(`Expected calibration error ${number(report.calibration.all.ece, 3)}; ${report.label_issues.count} label issue candidates.`);
  }
  return element("p", { text: lines.join(" "), className: "headline" });
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
  const table = element("table");
  const body = element("tbody");
  const render = (sorted) => body.replaceChildren(...sorted.map((row) => {
    const tr = element("tr");
    tr.append(...columns.map(([key, , format]) => element("td", { text: String(format(row[key])) })));
    return tr;
  }));
  const head = element("tr");
  let descending = false;
  head.append(...columns.map(([key, title]) => {
    const button = element("button", { text: title, type: "button" });
    button.addEventListener("click", () => {
      descending = !descending;
      const sign = descending ? -1 : 1;
      render([...rows].sort((a, b) => (a[key] > b[key] ? sign : a[key] < b[key] ? -sign : 0)));
    });
    const th = element("th", { scope: "col" });
    th.append(button);
    return th;
  }));
  const thead = element("thead");
  thead.append(head);
  table.append(thead, body);
  render(rows);
  return table;
}

function confusions(pairs) {
  if (!pairs.length) return element("p", { text: "No confusions." });
  return list(pairs.slice(0, 15).map((p) => `${p.label_name} taken for ${p.predicted_name}: ${p.count} images (${percent(p.rate)} of ${p.label_name})`));
}

function calibration(result) {
  const node = element("div");
  const curves = [["all", result.all]];
  if (result.before) curves.push(["held-out, before", result.before], [`held-out, after T = ${number(result.temperature)}`, result.after]);
  const data = curves.map(([name, values]) => {
    const filled = values.bins.filter((bin) => bin.count);
    return { x: filled.map((b) => b.confidence), y: filled.map((b) => b.accuracy), mode: "lines+markers", name };
  });
  data.push({ x: [0, 1], y: [0, 1], mode: "lines", name: "perfect", line: { dash: "dot" } });
  node.append(
    element("p", { text: "Reliability: accuracy against confidence in 15 bins; on the diagonal, confidence can be taken at its word." }),
    chart(data, { xaxis: { title: axisTitle("confidence") }, yaxis: { title: axisTitle("accuracy") }, height: 320 }, "chart"),
    list(curves.map(([name, v]) => `${name}: ECE ${number(v.ece, 3)}, adaptive ECE ${number(v.adaptive_ece, 3)}, Brier ${number(v.brier, 3)}, NLL ${number(v.nll, 3)}`)),
  );
  return node;
}

function imageList(images) {
  if (!images.length) return element("p", { text: "None." });
  return list(images.map((i) => `${i.name}: labelled ${i.label_name ?? "—"}, predicted ${i.prediction_name} (${percent(i.confidence)})`));
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
  return list(lines);
}
