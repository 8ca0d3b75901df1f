// Workflow graphs in the console: the server's validation rules (docs/graph.md)
// checked as the user types, a left-to-right drawing of the graph, and a
// line diff of two versions.

const SVG = "http://www.w3.org/2000/svg";
const KNOWN = new Set(["start", "end", "log", "delay", "http", "fail", "shell"]);

/** validate checks graph text as the server does; returns {graph, errors: [{node, message}], warnings}. */
export function validate(text) {
  const errors = [];
  const warnings = [];
  if (!text.trim()) return { graph: null, errors: [{ message: "graphJson must not be empty" }], warnings };
  let g;
  try {
    g = JSON.parse(text);
  } catch (e) {
    return { graph: null, errors: [{ message: `not valid JSON: ${e.message}` }], warnings };
  }
  if (!g || typeof g !== "object" || Array.isArray(g)) return { graph: null, errors: [{ message: "graphJson must be an object with nodes and edges" }], warnings };
  if (depth(g) > 128) errors.push({ message: "graphJson is nested deeper than 128 levels" });
  if (!("nodes" in g)) errors.push({ message: "nodes is required (an array)" });
  else if (!Array.isArray(g.nodes)) errors.push({ message: "nodes must be an array" });
  if (!("edges" in g)) errors.push({ message: "edges is required (an array)" });
  else if (!Array.isArray(g.edges)) errors.push({ message: "edges must be an array" });
  const nodes = Array.isArray(g.nodes) ? g.nodes : [];
  const edges = Array.isArray(g.edges) ? g.edges : [];
  const ids = new Set();
  nodes.forEach((n, i) => {
    if (!n || typeof n !== "object" || Array.isArray(n)) return errors.push({ message: `nodes[${i}] must be an object with string id, type and name` });
    const id = typeof n.id === "string" && n.id.trim() ? n.id : null;
    if (!id) return errors.push({ message: `nodes[${i}].id must be a non-empty string` });
    if (ids.has(id)) errors.push({ node: id, message: `node id "${id}" is used more than once` });
    ids.add(id);
    if (typeof n.type !== "string" || !n.type.trim()) errors.push({ node: id, message: `node "${id}": type must be a non-empty string` });
    else if (!KNOWN.has(n.type)) warnings.push({ node: id, message: `node "${id}": the reference runner has no "${n.type}" node` });
    if ("name" in n && n.name !== null && typeof n.name !== "string") errors.push({ node: id, message: `node "${id}": name must be a string` });
    if ("params" in n && n.params !== null && (typeof n.params !== "object" || Array.isArray(n.params))) errors.push({ node: id, message: `node "${id}": params must be an object` });
  });
  edges.forEach((e, i) => {
    if (!e || typeof e !== "object" || Array.isArray(e)) return errors.push({ message: `edges[${i}] must be an object with string source and target` });
    if (typeof e.source !== "string" || !e.source) errors.push({ message: `edges[${i}].source is required` });
    else if (!ids.has(e.source)) errors.push({ message: `edges[${i}].source "${e.source}" names no node` });
    if (typeof e.target !== "string" || !e.target) errors.push({ message: `edges[${i}].target is required` });
    else if (!ids.has(e.target)) errors.push({ message: `edges[${i}].target "${e.target}" names no node` });
  });
  return { graph: { nodes, edges }, errors, warnings };
}

function depth(v) {
  let max = 0;
  const stack = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop();
    if (d > max) max = d;
    if (d > 129) return d;
    if (x && typeof x === "object") for (const c of Object.values(x)) if (c && typeof c === "object") stack.push([c, d + 1]);
  }
  return max;
}

function el(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** draw lays the graph out left to right (columns by longest path from a source) as an SVG. */
export function draw(graph, bad = new Set()) {
  const W = 150;
  const H = 46;
  const GX = 60;
  const GY = 22;
  const nodes = (graph && graph.nodes ? graph.nodes : []).filter((n) => n && typeof n.id === "string");
  const ids = new Map(nodes.map((n, i) => [n.id, i]));
  const edges = (graph && graph.edges ? graph.edges : []).filter((e) => e && ids.has(e.source) && ids.has(e.target));
  const level = new Map(nodes.map((n) => [n.id, 0]));
  // Longest path from a source; at most |nodes| rounds, so cycles end too.
  for (let r = 0; r < nodes.length; r++) {
    let moved = false;
    for (const e of edges) {
      if (level.get(e.target) < level.get(e.source) + 1 && level.get(e.source) + 1 < nodes.length) {
        level.set(e.target, level.get(e.source) + 1);
        moved = true;
      }
    }
    if (!moved) break;
  }
  const cols = new Map();
  for (const n of nodes) {
    const l = level.get(n.id);
    if (!cols.has(l)) cols.set(l, []);
    cols.get(l).push(n);
  }
  const pos = new Map();
  let maxRows = 1;
  for (const [l, list] of cols) {
    maxRows = Math.max(maxRows, list.length);
    list.forEach((n, i) => pos.set(n.id, { x: 10 + l * (W + GX), y: 10 + i * (H + GY) }));
  }
  const ncols = cols.size ? Math.max(...cols.keys()) + 1 : 1;
  const width = 20 + ncols * W + (ncols - 1) * GX;
  const height = 20 + maxRows * H + (maxRows - 1) * GY;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "graph" });
  svg.append(el("title", {}, `Graph: ${nodes.length} nodes, ${edges.length} edges`));
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "g-arrow" }));
  defs.append(marker);
  svg.append(defs);
  for (const e of edges) {
    const a = pos.get(e.source);
    const b = pos.get(e.target);
    const x1 = a.x + W;
    const y1 = a.y + H / 2;
    const x2 = b.x;
    const y2 = b.y + H / 2;
    const mx = (x1 + x2) / 2;
    const d = x2 > x1 ? `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}` : `M ${x1} ${y1} C ${x1 + 40} ${y1 - 60}, ${x2 - 40} ${y2 - 60}, ${x2} ${y2}`;
    svg.append(el("path", { d, class: "g-edge", "marker-end": "url(#arrow)" }));
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const type = typeof n.type === "string" ? n.type : "?";
    const g = el("g", { class: `g-node t-${KNOWN.has(type) ? type : "other"}${bad.has(n.id) ? " g-bad" : ""}`, transform: `translate(${p.x} ${p.y})` });
    const round = type === "start" || type === "end" ? H / 2 : 6;
    g.append(el("rect", { width: W, height: H, rx: round, ry: round }));
    g.append(el("text", { x: 10, y: 18, class: "g-type" }, type));
    const label = typeof n.name === "string" && n.name ? n.name : n.id;
    g.append(el("text", { x: 10, y: 36, class: "g-label" }, label.length > 20 ? `${label.slice(0, 19)}…` : label));
    g.append(el("title", {}, `${n.id} (${type})${bad.has(n.id) ? ": has an error" : ""}`));
    svg.append(g);
  }
  return svg;
}

/** pretty re-indents graph JSON text (unchanged when it does not parse). */
export function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** diff returns the lines of a against b as [op, line], op being " ", "-" or "+". */
export function diff(a, b) {
  const x = a.split("\n");
  const y = b.split("\n");
  if (x.length * y.length > 4e6) return [...x.map((l) => ["-", l]), ...y.map((l) => ["+", l])];
  const m = x.length;
  const n = y.length;
  const t = Array.from({ length: m + 1 }, () => new Uint32Array(n + 1));
  for (let i = m - 1; i >= 0; i--) for (let j = n - 1; j >= 0; j--) t[i][j] = x[i] === y[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
  const out = [];
  let i = 0;
  let j = 0;
  while (i < m && j < n) {
    if (x[i] === y[j]) {
      out.push([" ", x[i]]);
      i++;
      j++;
    } else if (t[i + 1][j] >= t[i][j + 1]) out.push(["-", x[i++]]);
    else out.push(["+", y[j++]]);
  }
  while (i < m) out.push(["-", x[i++]]);
  while (j < n) out.push(["+", y[j++]]);
  return out;
}
