// Calls to /api, the error banner, jobs with progress, and .npy maps. Shared by every page.

import { element } from "./dom.js";

export class ApiError extends Error {}

const banner = document.getElementById("banner");
banner.querySelector(".close").addEventListener("click", () => { banner.hidden = true; });

export function showError(message) {
  banner.querySelector(".message").textContent = message;  // text, never HTML
  banner.hidden = false;
}

export function clearError() { banner.hidden = true; }

async function messageOf(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    return JSON.stringify(body.detail ?? body);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

// On a server with an API token, the page carries the CSRF token its requests must send.
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content;

// fetch + JSON; a 4xx/5xx becomes an ApiError carrying the server's message.
export async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers ?? {}) } };
  if (csrfToken) init.headers["X-CSRF-Token"] = csrfToken;
  if (options.json !== undefined) {
    init.method = init.method ?? "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
    delete init.json;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(`The server cannot be reached (${error.message}).`);
  }
  if (response.status === 401) {  // the session ended: sign in again, then come back here
    window.location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!response.ok) throw new ApiError(await messageOf(response));
  const type = response.headers.get("content-type") ?? "";
  return type.includes("application/json") ? response.json() : response;
}

// Start a job (POST url with body), follow it by server-sent events, resolve with the final view.
// onUpdate(view) is called on every progress event; rejects with ApiError when the job fails.
// A zip of images chosen in `input` is uploaded (POST /api/compress/datasets) as soon as it is
// picked; `info` says how many images it held, the form's "zip" source is ticked, and
// `onUploaded` gets the dataset's id (what the audit and the concept index take as data).
export function uploadDatasetOnChange(input, info, onUploaded) {
  input.addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    clearError();
    const body = new FormData();
    body.append("file", file);
    try {
      const dataset = await api("/api/compress/datasets", { method: "POST", body });
      onUploaded(dataset.id);
      info.textContent = `${dataset.images ?? "?"} images uploaded`;
      document.querySelector('input[name="source"][value="zip"]').checked = true;
    } catch (error) {
      showError(error.message);
    }
  });
}

export async function runJob(url, body, onUpdate = () => {}) {
  const started = await api(url, { json: body });
  onUpdate(started);
  const final = started.status === "done" ? started : await follow(started, onUpdate);
  if (final.status === "done") return final;
  const error = new ApiError(final.error ?? final.status);
  error.job = final;
  throw error;
}

// runJob with a <progress> bar, shown while the job runs, and a status line: "running, about
// 12 s left", then "done in 40 s" (or how it ended, when it rejects).
export async function runJobShowing(url, body, { progress, status, onUpdate = () => {} }) {
  progress.value = 0;
  progress.hidden = false;
  status.textContent = "starting…";
  try {
    const job = await runJob(url, body, (view) => {
      onUpdate(view);
      progress.value = view.progress;
      const eta = view.eta_seconds == null ? "" : `, about ${Math.ceil(view.eta_seconds)} s left`;
      status.textContent = `${view.status}${eta}`;
    });
    status.textContent = `done in ${job.elapsed_seconds?.toFixed(0) ?? "?"} s${job.reused ? " (an identical earlier run)" : ""}`;
    return job;
  } catch (error) {
    status.textContent = error.job?.status ?? "failed";
    throw error;
  } finally {
    progress.hidden = true;
  }
}

function follow(job, onUpdate) {
  return new Promise((resolve) => {
    const source = new EventSource(job.events_url);
    const handle = (event) => {
      const view = JSON.parse(event.data);
      onUpdate(view);
      if (event.type === "end") { source.close(); resolve(view); }
    };
    source.addEventListener("progress", handle);
    source.addEventListener("end", handle);
    source.onerror = () => {  // the stream broke: poll instead
      source.close();
      poll(job.id, onUpdate).then(resolve);
    };
  });
}

async function poll(jobId, onUpdate) {
  for (;;) {
    const view = await api(`/api/jobs/${jobId}`);
    onUpdate(view);
    if (["done", "failed", "cancelled", "timeout"].includes(view.status)) return view;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

export function cancelJob(jobId) {
  return api(`/api/jobs/${jobId}/cancel`, { method: "POST" });
}

// A little-endian float32 .npy as { shape, data }.
export async function loadNpy(url) {
  const response = await api(url);
  const buffer = await response.arrayBuffer();
  const view = new DataView(buffer);
  const major = view.getUint8(6);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + headerLength;
  const header = new TextDecoder().decode(new Uint8Array(buffer, major === 1 ? 10 : 12, headerLength));
  if (!header.includes("'<f4'")) throw new ApiError("the map is not float32");
  const shape = header.match(/\(([^)]*)\)/)[1].split(",").filter((s) => s.trim()).map(Number);
  return { shape, data: new Float32Array(buffer.slice(start)) };
}

export function formatSeconds(seconds) {
  if (seconds == null) return "";
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
}

// The catalog's names for explanation methods (what every page calls them): load once, then
// methodTitle("grad_cam") -> "Grad-CAM"; an unknown name is shown as it is.
let titles = new Map();
export async function loadMethodTitles() {
  titles = new Map((await api("/api/methods")).map((m) => [m.name, m.title]));
  return titles;
}
export const methodTitle = (name) => titles.get(name) ?? name;

// Download a Response (or Blob) under a file name.
export async function download(responseOrBlob, filename) {
  const blob = responseOrBlob instanceof Blob ? responseOrBlob : await responseOrBlob.blob();
  const link = element("a", { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
