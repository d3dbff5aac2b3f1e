// What every page module builds its DOM with: one way to make an element, and the number formats.

// element("button", { text: "Cancel", className: "cancel", type: "button" }): a new element with
// its text (as text, never HTML) and any other properties set.
export function element(tag, { text, ...properties } = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  return Object.assign(node, properties);
}

// 0.1234 -> "12.3 %" (percent(0.1234, 0) -> "12 %"); a missing value -> "—".
export const percent = (value, digits = 1) => (value == null ? "—" : `${(100 * value).toFixed(digits)} %`);

// 0.1234 -> "0.12"; a missing value -> "—".
export const number = (value, digits = 2) => (value == null ? "—" : value.toFixed(digits));
