// The Shapley page: the lecture's table is server-rendered; here, the map of the method the page
// names (its panes' data-method: KernelSHAP, Shapley values of superpixels) on the image.

import { api, showError } from "./api.js";
import { Pane } from "./panes.js";
import { setUp, state } from "./workspace.js";

const panes = document.getElementById("panes");
let pane = null;

async function main() {
  const method = (await api("/api/methods")).find((m) => m.name === panes.dataset.method);
  await setUp({
    imageChanged: () => {
      pane ??= new Pane(panes, { key: method.name, title: method.title, method: method.name });
      return pane.run({ image_id: state.image.id, model: state.model, method: method.name, params: {} }, state.image.view_url);
    },
  });
}

main().catch((error) => showError(error.message));
