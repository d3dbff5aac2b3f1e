// The Shapley page: the lecture's table is server-rendered; here, the SHAP map of the image.

import { api, showError } from "./api.js";
import { Pane } from "./panes.js";
import { setUp, state } from "./workspace.js";

let pane = null;

async function main() {
  const methods = await api("/api/methods");
  const shap = methods.find((m) => m.name === "kernel_shap");
  await setUp({
    imageChanged: () => {
      pane ??= new Pane(document.getElementById("panes"), { key: "kernel_shap", title: shap.title, method: "kernel_shap" });
      return pane.run({ image_id: state.image.id, model: state.model, method: "kernel_shap", params: {} }, state.image.view_url);
    },
  });
}

main().catch((error) => showError(error.message));
