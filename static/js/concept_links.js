// The concept explorer's addresses, in one place: a channel's stable page (a model name may hold
// "/", as shapes/teacher does: each part is encoded on its own), its index data, its crops, its
// map on an image and its feature visualisation. Used by concepts.js, concept_channel.js and the
// Concepts pane of the Explain page.

const q = (values) => new URLSearchParams(Object.entries(values).filter(([, v]) => v !== null && v !== undefined)).toString();

// /concepts/MODEL/LAYER/CHANNEL: the channel's page, linkable and stable.
export const channelPage = (model, layer, channel) =>
  `/concepts/${model.split("/").map(encodeURIComponent).join("/")}/${encodeURIComponent(layer)}/${channel}`;

export const explorerPage = (model, layer = null) => `/concepts?${q({ model, layer })}`;

export const conceptApi = {
  index: (model) => `/api/concepts/index?${q({ model })}`,
  channel: (model, layer, channel) => `/api/concepts/channel?${q({ model, layer, channel })}`,
  crop: (model, layer, channel, rank) => `/api/concepts/crop.png?${q({ model, layer, channel, rank })}`,
  build: "/api/concepts/index",  // POST: the engine's index job
  map: (model, layer, channel, imageId, legend = true) => `/api/concepts/channel-map.png?${q({ model, layer, channel, image_id: imageId, legend })}`,
  visualise: "/api/concepts/visualisations",
  breakdown: "/api/concepts/breakdown",
};

export const byId = (id) => document.getElementById(id);

// The page bar's model menu: every model, `selected` chosen; onChange(name) when another is.
export async function fillModelMenu(selected, onChange) {
  const response = await fetch("/api/models", { credentials: "same-origin" });
  if (!response.ok) throw new Error(`the models could not be listed (${response.status})`);
  const names = (await response.json()).map((m) => m.name);
  const select = byId("model");
  for (const name of new Set([...names, selected])) select.append(new Option(name, name, false, name === selected));
  select.addEventListener("change", () => onChange(select.value));
  return names;
}

// The workspace's current image (the Explain page keeps its id in sessionStorage), or null.
export const currentImageId = () => sessionStorage.getItem("lantern.image");
