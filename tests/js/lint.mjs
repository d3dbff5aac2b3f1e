// The front end's lint (`make lint`): every ES module in the given folders parses; every
// `import { a } from "./b.js"` names a file there and something that file exports, and uses it;
// no top-level function (or UPPER_CASE constant) is defined in two modules: shared helpers live
// in one module (dom.js, charts.js, form.js, ...) and are imported. Node only, no packages.
//   node tests/js/lint.mjs static/js

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

const ENTRY_POINTS = new Set(["main"]);  // each page module's own
const problems = [];
const definedIn = new Map();  // top-level function name -> modules

function checkSyntax(path, source) {
  const run = spawnSync(process.execPath, ["--input-type=module", "--check"], { input: source, encoding: "utf8" });
  if (run.status === 0) return;
  const lines = run.stderr.replaceAll("[stdin]", path).split("\n");
  problems.push(lines.filter((line) => line.trim() && !/^\s+at |^Node\.js /.test(line)).join("\n"));
}

function exportsOf(source) {
  const names = new Set();
  for (const [, name] of source.matchAll(/^export\s+(?:async\s+)?(?:function\*?|const|let|var|class)\s+([\w$]+)/gm)) names.add(name);
  for (const [, list] of source.matchAll(/^export\s*\{([^}]*)\}/gm)) {
    for (const item of list.split(",")) names.add(item.trim().split(/\s+as\s+/).pop());
  }
  return names;
}

function checkImports(path, source) {
  const body = source.replace(/^import[^;]*;/gm, "");
  for (const [, list, target] of source.matchAll(/^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";/gm)) {
    const file = join(dirname(path), target);
    if (!target.startsWith("./") || !existsSync(file)) {
      problems.push(`${path}: imports "${target}", which is not a module beside it`);
      continue;
    }
    const exported = exportsOf(readFileSync(file, "utf8"));
    for (const item of list.split(",").map((s) => s.trim()).filter(Boolean)) {
      const [name, local = name] = item.split(/\s+as\s+/);
      if (!exported.has(name)) problems.push(`${path}: imports ${name}, which ${target} does not export`);
      if (!new RegExp(`(?<![\\w$.])${local.replace("$", "\\$")}(?![\\w$])`).test(body)) problems.push(`${path}: imports ${local} and never uses it`);
    }
  }
}

function noteDefinitions(path, source) {
  const patterns = [
    /^(?:export\s+)?(?:async\s+)?function\*?\s+([\w$]+)/gm,
    /^(?:export\s+)?const\s+([\w$]+)\s*=\s*(?:async\s*)?(?:\([^)]*\)|[\w$]+)\s*=>/gm,
    /^(?:export\s+)?const\s+([A-Z][A-Z0-9_]*)\s*=/gm,
  ];
  for (const pattern of patterns) {
    for (const [, name] of source.matchAll(pattern)) {
      if (ENTRY_POINTS.has(name)) continue;
      if (!definedIn.has(name)) definedIn.set(name, new Set());
      definedIn.get(name).add(path);
    }
  }
}

const folders = process.argv.slice(2);
if (!folders.length) {
  console.error("usage: node tests/js/lint.mjs FOLDER...");
  process.exit(2);
}
let files = 0;
for (const folder of folders) {
  for (const name of readdirSync(folder).filter((n) => n.endsWith(".js")).sort()) {
    const path = join(folder, name);
    const source = readFileSync(path, "utf8");
    files++;
    checkSyntax(path, source);
    checkImports(path, source);
    noteDefinitions(path, source);
  }
}
for (const [name, paths] of definedIn) {
  if (paths.size > 1) problems.push(`${name} is defined in ${[...paths].map((p) => basename(p)).join(" and ")}: define it once and import it`);
}
for (const problem of problems) console.error(problem);
if (problems.length) process.exit(1);
console.log(`${files} modules checked: they parse, their imports resolve, no helper is defined twice`);
