// Forms built from a JSON schema: the `params_schema` of a method, attack, recipe or experiment
// in the catalog API, or the options of a compression run. One labelled input per property.

import { element } from "./dom.js";

// The labelled inputs of `schema`'s properties, in its order, with
//   values:  initial values (else the schema's defaults);
//   skip:    properties the page sets itself;
//   choices: { property: [value, ...] or [[value, label], ...] } offered as a menu (as check
//            boxes for a list), for what the schema leaves open (e.g. the catalog's methods);
//   suggest: kind -> a promise of suggestions, for a property marked "x-suggest": kind.
// read() gives every value; changed() only those that differ from the schema's defaults.
export function schemaFields(schema, { values = {}, skip = [], choices = {}, suggest = null } = {}) {
  const labels = [];
  const readers = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (skip.includes(name)) continue;
    const label = element("label", { text: `${property.title ?? name} `, title: property.description ?? "" });
    const { input, read } = inputFor(name, property, { value: values[name], choices: choices[name] });
    label.append(input);
    if (property["x-suggest"] && suggest) addSuggestions(input, property["x-suggest"], suggest);
    labels.push(label);
    readers.push({ name, read, fallback: property.default });
  }
  const read = () => Object.fromEntries(readers.map(({ name, read: value }) => [name, value()]));
  const changed = () => Object.fromEntries(readers
    .map(({ name, read: value, fallback }) => [name, value(), fallback])
    .filter(([, value, fallback]) => JSON.stringify(value) !== JSON.stringify(fallback))
    .map(([name, value]) => [name, value]));
  return { labels, read, changed };
}

// A folded "Parameters" form of `schema` whose button calls onApply(values); null when the schema
// leaves nothing to set. Options as for schemaFields.
export function paramsForm(schema, onApply, options = {}) {
  const fields = schemaFields(schema, options);
  if (!fields.labels.length) return null;
  const details = element("details", { className: "params" });
  details.append(element("summary", { text: "Parameters" }));
  const form = element("form");
  form.append(...fields.labels, element("button", { text: "Run with these", type: "submit" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onApply(fields.read());
  });
  details.append(form);
  details.read = fields.read;  // the values as they stand, e.g. for an estimate before the run
  return details;
}

let suggestionLists = 0;

function addSuggestions(input, kind, suggest) {
  const list = element("datalist", { id: `suggest-${kind}-${++suggestionLists}` });
  input.setAttribute("list", list.id);
  input.after(list);
  suggest(kind).then((offered) => list.replaceChildren(...offered.map((c) => new Option(c)))).catch(() => {});
}

const pairs = (offered) => offered.map((item) => (Array.isArray(item) ? item : [item, String(item)]));

// The input of one property and how to read it back (null for an empty optional field).
function inputFor(name, property, { value = property.default, choices = undefined } = {}) {
  const nullable = (property.anyOf ?? []).some((option) => option.type === "null");
  const spec = property.anyOf ? property.anyOf.find((option) => option.type !== "null") : property;
  if (spec.type === "array" && (choices ?? spec.items?.enum)) {
    const group = element("span", { className: "choices" });
    const boxes = pairs(choices ?? spec.items.enum).map(([item, text]) => {
      const box = element("input", { type: "checkbox", value: item, checked: (value ?? []).includes(item) });
      const wrap = element("label", { text: ` ${text}` });
      wrap.prepend(box);
      group.append(wrap);
      return box;
    });
    return { input: group, read: () => boxes.filter((b) => b.checked).map((b) => b.value) };
  }
  if (choices ?? spec.enum) {
    const select = element("select", { name });
    if (nullable) select.append(new Option("(default)", ""));
    select.append(...pairs(choices ?? spec.enum).map(([item, text]) => new Option(text, item)));
    select.value = value ?? "";
    return { input: select, read: () => (select.value === "" && nullable ? null : select.value) };
  }
  if (spec.type === "boolean") {
    const input = element("input", { name, type: "checkbox", checked: Boolean(value) });
    return { input, read: () => input.checked };
  }
  const placeholder = nullable ? "default" : "";
  if (spec.type === "integer" || spec.type === "number") {
    const input = element("input", { name, type: "number", step: spec.type === "integer" ? "1" : "any", placeholder });
    if (spec.minimum !== undefined) input.min = spec.minimum;
    if (spec.maximum !== undefined) input.max = spec.maximum;
    input.value = value ?? "";
    return { input, read: () => (input.value === "" && nullable ? null : Number(input.value)) };
  }
  const input = element("input", { name, type: "text", value: value ?? "", placeholder });
  return { input, read: () => (input.value === "" && nullable ? null : input.value) };
}
