// Story mode: Present shows the page as a sequence of full-screen slides written for someone who
// has not read the papers (the photo and the prediction, large maps with their legends, the
// verdict in words, the attack's flip). Each page builds its own slides from what it shows; this
// module only shows them. Arrow keys or Page Up / Page Down step, Home / End jump, Esc leaves.

import { element } from "./dom.js";

let open = null;  // the story on screen: { root, leave }

// A slide: { heading, body: [nodes or text] }. `opener` gets the focus back on leaving.
export function present(slides, opener = null) {
  open?.leave();
  if (!slides.length) return;
  let index = 0;
  const root = element("div", { className: "story" });
  root.setAttribute("role", "dialog");
  root.setAttribute("aria-modal", "true");
  root.setAttribute("aria-label", "Story mode");
  const stage = element("section", { className: "slide" });
  stage.setAttribute("aria-live", "polite");
  const previous = element("button", { type: "button", className: "previous", text: "← Previous" });
  const next = element("button", { type: "button", className: "next", text: "Next →" });
  const counter = element("span", { className: "counter" });
  const leaveButton = element("button", { type: "button", className: "leave", text: "Leave (Esc)" });
  const controls = element("nav", { className: "story-controls" });
  controls.setAttribute("aria-label", "Slides");
  controls.append(previous, counter, next, leaveButton);
  root.append(stage, controls);

  const show = (to) => {
    index = Math.max(0, Math.min(slides.length - 1, to));
    const slide = slides[index];
    stage.replaceChildren(element("h2", { text: slide.heading }), ...slide.body);
    stage.dataset.slide = String(index + 1);
    counter.textContent = `${index + 1} / ${slides.length}`;
    root.dataset.slide = String(index + 1);
    previous.disabled = index === 0;
    next.disabled = index === slides.length - 1;
    window.dispatchEvent(new Event("resize"));  // charts inside a slide follow its size
  };
  const keys = (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const step = { ArrowRight: 1, ArrowDown: 1, PageDown: 1, ArrowLeft: -1, ArrowUp: -1, PageUp: -1 }[event.key];
    if (step) show(index + step);
    else if (event.key === "Home") show(0);
    else if (event.key === "End") show(slides.length - 1);
    else if (event.key === "Escape") leave();
    else return;
    event.preventDefault();
  };
  const leave = () => {
    document.removeEventListener("keydown", keys);
    root.remove();
    document.body.classList.remove("story-open");
    open = null;
    opener?.focus();
  };
  previous.addEventListener("click", () => show(index - 1));
  next.addEventListener("click", () => show(index + 1));
  leaveButton.addEventListener("click", leave);
  document.addEventListener("keydown", keys);
  document.body.append(root);
  document.body.classList.add("story-open");
  open = { root, leave };
  show(0);
  next.focus();
}

// A large picture for a slide: the photo, with a map's colour layer over it when `layerUrl`.
export function picture(photoUrl, { layerUrl = null, opacity = 0.8, alt = "" } = {}) {
  const frame = element("div", { className: "story-picture" });
  const photo = element("img", { className: "base", src: photoUrl, alt });
  frame.append(photo);
  if (layerUrl) {
    frame.classList.add("with-map");
    const layer = element("img", { className: "heat", src: layerUrl, alt: "" });
    layer.style.opacity = opacity;
    frame.append(layer);
  }
  return frame;
}
