// Plotly charts (Plotly.js is loaded by base.html from the plotly package): one configuration for
// every chart of every page, and axis titles in one size.

import { element } from "./dom.js";

export const PLOT = { displayModeBar: false, responsive: true };

// A new <div> that draws the chart as soon as it is in the page.
export function chart(data, layout, className) {
  const node = element("div", { className });
  requestAnimationFrame(() => window.Plotly.newPlot(node, data, layout, PLOT));
  return node;
}

// Draw into (or redraw) an element already in the page.
export function draw(node, data, layout) {
  window.Plotly.react(node, data, layout, PLOT);
}

// An axis title in the small size the dashboard's charts use.
export const axisTitle = (text) => ({ text, font: { size: 11 } });
