// Analytics: per-workflow run counts, success rate and durations over a
// chosen range, drawn as bars, with the same figures in a table beneath
// for keyboard and screen-reader users.

import { h, field, duration, add } from "./dom.js";
import { get, query } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 1000) / 10}%`);
const num = (v, u = "") => (v === null || v === undefined ? "—" : `${Math.round(v * 10) / 10}${u}`);

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** chart draws one bar per workflow: completed, failed and stopped runs stacked. */
function chart(rows) {
  const bar = 22;
  const gap = 10;
  const left = 190;
  const width = 760;
  const max = Math.max(1, ...rows.map((w) => w.total));
  const height = rows.length * (bar + gap) + 30;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", class: "chart", "aria-label": "Runs per workflow by outcome" });
  rows.forEach((w, i) => {
    const y = 10 + i * (bar + gap);
    const name = w.workflowName || w.workflowId;
    svg.append(svgEl("text", { x: left - 8, y: y + 15, "text-anchor": "end", class: "c-label" }, name.length > 26 ? `${name.slice(0, 25)}…` : name));
    let x = left;
    for (const [k, cls] of [["completed", "c-ok"], ["failed", "c-fail"], ["stopped", "c-stop"]]) {
      const wpx = ((width - left - 120) * (w[k] || 0)) / max;
      if (wpx > 0) {
        const r = svgEl("rect", { x, y, width: wpx, height: bar, class: cls });
        r.append(svgEl("title", {}, `${name}: ${w[k]} ${k}`));
        svg.append(r);
      }
      x += wpx;
    }
    svg.append(svgEl("text", { x: x + 6, y: y + 15, class: "c-value" }, `${w.total} · ${pct(w.successRate)}`));
  });
  const ly = height - 8;
  [["c-ok", "completed"], ["c-fail", "failed"], ["c-stop", "stopped"]].forEach(([cls, t], i) => {
    svg.append(svgEl("rect", { x: left + i * 110, y: ly - 10, width: 12, height: 12, class: cls }));
    svg.append(svgEl("text", { x: left + i * 110 + 18, y: ly, class: "c-legend" }, t));
  });
  return svg;
}

/** analytics shows the per-workflow performance over a range. */
export async function analytics(main, { params, navigate }) {
  const from = h("input", { type: "date", value: (params.get("from") || "").slice(0, 10) });
  const to = h("input", { type: "date", value: (params.get("to") || "").slice(0, 10) });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Range" }, field("From date", from), field("To date", to),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Show range" }), h("a", { class: "button secondary", href: "/analytics", text: "All time" })));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    navigate(`/analytics${query({ from: from.value, to: to.value })}`);
  });
  add(main, h("h1", { text: "Analytics" }), form);
  let res;
  try {
    res = await get(`/api/analytics/process-performance${query({ from: params.get("from"), to: params.get("to") })}`);
  } catch (e) {
    add(main, h("p", { class: "notice error", role: "alert", text: e.message }));
    return;
  }
  const rows = res.workflows;
  if (!rows.length) {
    add(main, h("p", { class: "muted", text: "No finished executions in this range." }));
    return;
  }
  add(main, h("section", { class: "card", "aria-labelledby": "ch-h" }, h("h2", { id: "ch-h", text: "Runs by outcome" }), chart(rows)),
    h("table", { class: "data" }, h("caption", { text: "Per workflow" }),
      h("thead", {}, h("tr", {}, ["Workflow", "Runs", "Completed", "Failed", "Stopped", "Success rate", "Average duration", "CPU avg / peak", "Memory avg / peak"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, rows.map((w) => h("tr", {}, h("th", { scope: "row", text: w.workflowName || w.workflowId }), h("td", { text: w.total }),
        h("td", { text: w.completed }), h("td", { text: w.failed }), h("td", { text: w.stopped }), h("td", { text: pct(w.successRate) }),
        h("td", { text: duration(w.avgDurationMs) }), h("td", { text: `${num(w.cpuAvg, "%")} / ${num(w.cpuPeak, "%")}` }),
        h("td", { text: `${num(w.memAvgMB, " MB")} / ${num(w.memPeakMB, " MB")}` }))))));
}
