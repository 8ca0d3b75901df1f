// The read-only views of workflows, triggers, analytics, users, the audit
// log and the system: a table of the first page, paged through the URL.

import { h, clear, timeEl, shortId, duration, add } from "./dom.js";
import { get, query } from "./api.js";

const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 1000) / 10}%`);
const num = (v, u = "") => (v === null || v === undefined ? "—" : `${Math.round(v * 10) / 10}${u}`);

/** table builds a data table: columns are [title, cell(row)]. */
function table(caption, columns, items) {
  return h("table", { class: "data" }, h("caption", { class: "sr-only", text: caption }),
    h("thead", {}, h("tr", {}, columns.map(([t]) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, items.map((it) => h("tr", {}, columns.map(([, cell], i) => {
      const v = cell(it);
      const c = i === 0 ? h("th", { scope: "row" }) : h("td");
      if (v instanceof Node) add(c, v);
      else c.textContent = v === null || v === undefined || v === "" ? "—" : String(v);
      return c;
    })))));
}

/** listPage renders one page of a paginated list. */
async function listPage(main, { params }, { title, path, key, columns, intro, empty }) {
  const page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  add(main, h("h1", { text: title }), intro ? h("p", { class: "muted", text: intro }) : null);
  let res;
  try {
    res = await get(`${path}${query({ page, limit: 50 })}`);
  } catch (e) {
    add(main, h("p", { class: "notice error", role: "alert", text: e.message }));
    return;
  }
  const items = res[key];
  const pg = res.pagination;
  add(main, items.length ? table(title, columns, items) : h("p", { class: "muted", text: empty }));
  if (pg && pg.totalPages > 1) {
    const link = (n, text) => h("a", { class: "button secondary", href: `${location.pathname}${query({ page: n > 1 ? n : "" })}`, text });
    add(main, h("nav", { class: "pager", "aria-label": "Pages" }, page > 1 ? link(page - 1, "Previous page") : null,
      h("span", { text: `Page ${page} of ${pg.totalPages} · ${pg.total}` }), page < pg.totalPages ? link(page + 1, "Next page") : null));
  }
}

/** workflows lists the workflows. */
export function workflows(main, ctx) {
  return listPage(main, ctx, {
    title: "Workflows", path: "/api/workflows", key: "workflows", empty: "No workflows yet.",
    columns: [["Name", (w) => w.name], ["Description", (w) => w.description], ["Published", (w) => (w.publishedVersionId ? "yes" : "no")],
      ["Latest version", (w) => w.latestVersionNumber || "—"], ["Runs", (w) => h("a", { href: `/executions?workflowId=${encodeURIComponent(w.id)}`, text: "Executions", "aria-label": `Executions of ${w.name}` })],
      ["Updated", (w) => timeEl(w.updatedAt)]],
  });
}

/** triggers lists the triggers. */
export async function triggers(main, ctx) {
  const names = new Map();
  try {
    (await get("/api/workflows?limit=200")).workflows.forEach((w) => names.set(w.id, w.name));
  } catch {
    // names fall back to ids
  }
  return listPage(main, ctx, {
    title: "Triggers", path: "/api/triggers", key: "triggers", empty: "No triggers yet.",
    columns: [["Trigger", (t) => h("span", { class: "mono", title: t.id, text: shortId(t.id) })], ["Type", (t) => t.type],
      ["Workflow", (t) => names.get(t.workflowId) || shortId(t.workflowId)], ["Enabled", (t) => (t.enabled ? "yes" : "no")],
      ["Schedule", (t) => (t.type === "SCHEDULE" ? configOf(t).cron : t.webhookPath)], ["Next run", (t) => timeEl(t.nextRunAt)],
      ["Last fired", (t) => timeEl(t.lastFiredAt)], ["Result", (t) => t.lastResult],
      ["Runs", (t) => h("a", { href: `/executions?triggerId=${encodeURIComponent(t.id)}`, text: "Executions", "aria-label": `Executions of trigger ${t.id}` })]],
  });
}

function configOf(t) {
  try {
    return JSON.parse(t.config) || {};
  } catch {
    return {};
  }
}

/** analytics shows the per-workflow performance table. */
export async function analytics(main) {
  add(main, h("h1", { text: "Analytics" }));
  let res;
  try {
    res = await get("/api/analytics/process-performance");
  } catch (e) {
    add(main, h("p", { class: "notice error", role: "alert", text: e.message }));
    return;
  }
  add(main, res.workflows.length ? table("Process performance", [["Workflow", (w) => w.workflowName], ["Runs", (w) => w.total],
    ["Completed", (w) => w.completed], ["Failed", (w) => w.failed], ["Stopped", (w) => w.stopped], ["Success rate", (w) => pct(w.successRate)],
    ["Average duration", (w) => duration(w.avgDurationMs)], ["CPU avg / peak", (w) => `${num(w.cpuAvg, "%")} / ${num(w.cpuPeak, "%")}`],
    ["Memory avg / peak", (w) => `${num(w.memAvgMB, " MB")} / ${num(w.memPeakMB, " MB")}`]], res.workflows)
    : h("p", { class: "muted", text: "No finished executions yet." }));
}

/** users lists the users (administrators). */
export function users(main, ctx) {
  return listPage(main, ctx, {
    title: "Users", path: "/api/users", key: "users", empty: "No users.",
    columns: [["Name", (u) => u.name], ["Email", (u) => u.email], ["Role", (u) => u.role], ["State", (u) => (u.disabled ? "disabled" : "active")],
      ["Last login", (u) => timeEl(u.lastLoginAt)], ["Created", (u) => timeEl(u.createdAt)]],
  });
}

/** audit lists the audit log (administrators). */
export function audit(main, ctx) {
  return listPage(main, ctx, {
    title: "Audit", path: "/api/audit", key: "entries", empty: "The audit log is empty.",
    columns: [["Time", (e) => timeEl(e.createdAt)], ["Action", (e) => e.action], ["Actor", (e) => `${e.actorType}${e.actorId ? ` ${shortId(e.actorId)}` : ""}`],
      ["Target", (e) => (e.targetType ? `${e.targetType} ${shortId(e.targetId)}` : "")], ["Address", (e) => e.ip], ["Details", (e) => e.details]],
  });
}

/** system shows the server's health and state (administrators). */
export async function system(main) {
  add(main, h("h1", { text: "System" }));
  const facts = h("dl", { class: "facts card" });
  add(main, facts);
  const [health, status, stats] = await Promise.all([
    get("/api/health").catch((e) => ({ status: e.message })),
    get("/api/status").catch(() => ({})),
    get("/api/executions/stats").catch(() => ({})),
  ]);
  add(clear(facts), 
    h("dt", { text: "Health" }), h("dd", { text: health.status }),
    h("dt", { text: "Version" }), h("dd", { text: health.version || "—" }),
    h("dt", { text: "Checked at" }), h("dd", {}, timeEl(health.timestamp)),
    h("dt", { text: "State" }), h("dd", { text: status.state || "—" }),
    h("dt", { text: "Executions stored" }), h("dd", { text: stats.total ?? "—" }),
    h("dt", { text: "API reference" }), h("dd", {}, h("a", { href: "/api/openapi.json", text: "OpenAPI document", target: "_blank", rel: "noopener" })),
    h("dt", { text: "Metrics" }), h("dd", {}, h("a", { href: "/metrics", text: "Prometheus metrics", target: "_blank", rel: "noopener" })));
}
