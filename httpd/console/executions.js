// The executions page: filters kept in the URL, paging, rows updated live
// (batched per animation frame, in place, so nothing shifts), and
// multi-select stop and re-run behind a confirmation naming the targets.

import { h, clear, field, notice, timeEl, duration, between, shortId, statusBadge, onFrame, zoneName, add } from "./dom.js";
import { get, all, query } from "./api.js";
import { confirmDialog } from "./confirm.js";
import { rerun, stop, ACTIVE } from "./actions.js";

const STATUSES = ["QUEUED", "ASSIGNED", "RUNNING", "COMPLETED", "FAILED", "STOPPED"];
const FILTERS = ["status", "workflowId", "runnerId", "triggerId", "from", "to"];
const LIMIT = 50;

/** toLocalInput turns an ISO time into a datetime-local value in the chosen zone. */
function toInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  if (zoneName() === "utc") return d.toISOString().slice(0, 16);
  const off = d.getTimezoneOffset() * 60000;
  return new Date(d.getTime() - off).toISOString().slice(0, 16);
}

/** fromInput turns a datetime-local value (in the chosen zone) into ISO. */
function fromInput(v) {
  if (!v) return "";
  const d = zoneName() === "utc" ? new Date(`${v}:00Z`) : new Date(v);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** render shows the executions page. */
export async function render(main, { params, stream, navigate }) {
  const f = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || ""]));
  const page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);

  const [wfs, runners, triggers] = await Promise.all([
    all("/api/workflows", "workflows", 1000).catch(() => ({ items: [] })),
    all("/api/runners", "runners", 1000).catch(() => ({ items: [] })),
    all("/api/triggers", "triggers", 1000).catch(() => ({ items: [] })),
  ]);
  const runnerName = new Map(runners.items.map((r) => [r.id, r.name]));
  const wfName = new Map(wfs.items.map((w) => [w.id, w.name]));

  // ---- filters -------------------------------------------------------------
  const opt = (value, text, sel) => h("option", { value, text, selected: value === sel });
  const status = h("select", { name: "status", dataset: { search: "" } }, opt("", "Any status", f.status), STATUSES.map((s) => opt(s, s, f.status)));
  const workflow = h("select", { name: "workflowId" }, opt("", "Any workflow", f.workflowId), wfs.items.map((w) => opt(w.id, w.name, f.workflowId)));
  const runner = h("select", { name: "runnerId" }, opt("", "Any runner", f.runnerId), runners.items.map((r) => opt(r.id, r.name, f.runnerId)));
  const trigger = h("select", { name: "triggerId" }, opt("", "Any trigger", f.triggerId),
    triggers.items.map((t) => opt(t.id, `${t.type.toLowerCase()} · ${wfName.get(t.workflowId) || shortId(t.workflowId)} · ${shortId(t.id)}`, f.triggerId)));
  const from = h("input", { type: "datetime-local", name: "from", value: toInput(f.from) });
  const to = h("input", { type: "datetime-local", name: "to", value: toInput(f.to) });
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": "Filter executions" },
    field("Status", status), field("Workflow", workflow), field("Runner", runner), field("Trigger", trigger),
    field(`From (${zoneName() === "utc" ? "UTC" : "local time"})`, from), field(`To (${zoneName() === "utc" ? "UTC" : "local time"})`, to),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Apply filters" }), h("a", { href: "/executions", class: "button secondary", text: "Clear filters" })));
  filterForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = { status: status.value, workflowId: workflow.value, runnerId: runner.value, triggerId: trigger.value, from: fromInput(from.value), to: fromInput(to.value) };
    navigate(`/executions${query(q)}`);
  });

  // ---- data ----------------------------------------------------------------
  const msg = notice();
  let res;
  try {
    res = await get(`/api/executions${query({ ...f, page, limit: LIMIT })}`);
  } catch (e) {
    add(main, h("h1", { text: "Executions" }), filterForm, h("p", { class: "notice error", role: "alert", text: e.message }));
    return undefined;
  }
  const list = res.executions;
  const pg = res.pagination;

  // ---- table ---------------------------------------------------------------
  const selected = new Set();
  const rows = new Map();
  const selCount = h("span", { class: "muted", "aria-live": "polite", text: "None selected" });
  const stopBtn = h("button", { type: "button", class: "danger", text: "Stop selected", disabled: true });
  const rerunBtn = h("button", { type: "button", text: "Re-run selected", disabled: true });
  const selectAll = h("input", { type: "checkbox", "aria-label": "Select all executions on this page" });
  const refreshSelection = () => {
    selCount.textContent = selected.size ? `${selected.size} selected` : "None selected";
    const anyActive = [...selected].some((id) => ACTIVE.has(rows.get(id).data.status));
    stopBtn.disabled = !anyActive;
    rerunBtn.disabled = selected.size === 0;
    selectAll.checked = selected.size > 0 && selected.size === rows.size;
    selectAll.indeterminate = selected.size > 0 && selected.size < rows.size;
  };
  selectAll.addEventListener("change", () => {
    for (const [id, r] of rows) {
      r.box.checked = selectAll.checked;
      if (selectAll.checked) selected.add(id);
      else selected.delete(id);
    }
    refreshSelection();
  });

  const tbody = h("tbody");
  const makeRow = (e) => {
    const box = h("input", { type: "checkbox", "aria-label": `Select execution ${e.id}` });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(e.id);
      else selected.delete(e.id);
      refreshSelection();
    });
    const cells = {
      status: h("td"), runner: h("td"), created: h("td"), dur: h("td", { class: "num" }),
    };
    const tr = h("tr", { dataset: { id: e.id } },
      h("td", { class: "sel" }, box),
      h("th", { scope: "row", class: "mono" }, h("a", { href: `/executions/${encodeURIComponent(e.id)}`, "aria-label": `Execution ${e.id}`, title: e.id, text: shortId(e.id) })),
      h("td", { class: "clip", text: e.workflow && e.workflow.name ? e.workflow.name : shortId(e.workflowId) }),
      cells.status, h("td", { text: e.priority }), cells.runner, cells.created, cells.dur);
    const row = { tr, box, cells, data: null };
    paint(row, e);
    rows.set(e.id, row);
    return tr;
  };
  const paint = (row, e) => {
    const old = row.data;
    row.data = e;
    if (!old || old.status !== e.status) add(clear(row.cells.status), statusBadge(e.status), e.stopRequested && e.status === "RUNNING" ? h("span", { class: "muted small", text: " stopping" }) : null);
    const rn = e.runnerId ? runnerName.get(e.runnerId) || shortId(e.runnerId) : "—";
    if (row.cells.runner.textContent !== rn) row.cells.runner.textContent = rn;
    if (!old) add(row.cells.created, timeEl(e.createdAt));
    const d = e.startedAt && !e.completedAt ? "running" : duration(between(e.startedAt, e.completedAt));
    if (row.cells.dur.textContent !== d) row.cells.dur.textContent = d;
  };
  list.forEach((e) => add(tbody, makeRow(e)));

  const table = h("table", { class: "data fixed" },
    h("caption", { class: "sr-only", text: "Executions, newest first" }),
    h("colgroup", {}, h("col", { class: "w-sel" }), h("col", { class: "w-id" }), h("col"), h("col", { class: "w-status" }), h("col", { class: "w-prio" }), h("col", { class: "w-runner" }), h("col", { class: "w-time" }), h("col", { class: "w-dur" })),
    h("thead", {}, h("tr", {}, h("td", { class: "sel" }, selectAll), ["Execution", "Workflow", "Status", "Priority", "Runner", "Created", "Duration"].map((t) => h("th", { scope: "col", text: t })))),
    tbody);

  // ---- paging --------------------------------------------------------------
  const pageLink = (n, text) => {
    const q = { ...f, page: n > 1 ? n : "" };
    return h("a", { href: `/executions${query(q)}`, class: "button secondary", text });
  };
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    page > 1 ? pageLink(page - 1, "Previous page") : null,
    h("span", { text: `Page ${Math.min(page, Math.max(pg.totalPages, 1))} of ${Math.max(pg.totalPages, 1)} · ${pg.total} execution${pg.total === 1 ? "" : "s"}` }),
    page < pg.totalPages ? pageLink(page + 1, "Next page") : null);

  // ---- actions -------------------------------------------------------------
  const targets = () => [...selected].map((id) => rows.get(id).data);
  const label = (e) => `${e.id} · ${e.workflow && e.workflow.name ? e.workflow.name : e.workflowId} · ${e.status}`;
  stopBtn.addEventListener("click", async () => {
    const t = targets().filter((e) => ACTIVE.has(e.status));
    if (!t.length) return;
    const n = `${t.length} execution${t.length === 1 ? "" : "s"}`;
    if (!(await confirmDialog({ title: `Stop ${n}?`, message: "Queued and assigned ones stop at once; running ones are asked to stop.", items: t.map(label), confirm: `Stop ${n}` }))) return;
    msg.show(`Stopping ${n}…`);
    const out = await stop(t.map((e) => e.id));
    msg.show(out.failed.length ? `Stopped ${out.ok.length}; ${out.failed.length} could not be stopped: ${out.failed[0].error}` : `Stopped ${out.ok.length}.`, out.failed.length ? "error" : "ok");
    for (const e of out.ok) if (rows.has(e.id)) queue(e);
  });
  rerunBtn.addEventListener("click", async () => {
    const t = targets();
    if (!t.length) return;
    const n = `${t.length} execution${t.length === 1 ? "" : "s"}`;
    if (!(await confirmDialog({ title: `Re-run ${n}?`, message: "Each gets a new execution of the same workflow with the same input and priority.", items: t.map(label), confirm: `Re-run ${n}`, danger: false }))) return;
    msg.show(`Queuing ${n}…`);
    const out = await rerun(t.map((e) => e.id));
    clear(msg);
    msg.className = `notice ${out.failed.length ? "error" : "ok"}`;
    add(msg, `Queued ${out.ok.length} new execution${out.ok.length === 1 ? "" : "s"}`, out.ok.length ? ": " : ".",
      out.ok.slice(0, 10).map((e, i) => [i ? ", " : "", h("a", { href: `/executions/${encodeURIComponent(e.id)}`, text: shortId(e.id) })]),
      out.failed.length ? ` ${out.failed.length} failed: ${out.failed[0].error}` : "");
  });

  // ---- live ----------------------------------------------------------------
  const fresh = h("button", { type: "button", class: "secondary", hidden: true });
  let newCount = 0;
  fresh.addEventListener("click", () => navigate(location.pathname + location.search, { replace: true }));
  const matches = (e) => (!f.status || e.status === f.status) && (!f.workflowId || e.workflowId === f.workflowId) &&
    (!f.runnerId || e.runnerId === f.runnerId) && (!f.triggerId || e.triggerId === f.triggerId) && !f.to;
  const pending = new Map();
  const flush = onFrame(() => {
    for (const [id, e] of pending) {
      const r = rows.get(id);
      if (r) {
        paint(r, e);
        r.tr.classList.toggle("stale", !matches(e));
      }
    }
    pending.clear();
    if (newCount) {
      fresh.hidden = false;
      fresh.textContent = `${newCount} new execution${newCount === 1 ? "" : "s"}: show`;
    }
    refreshSelection();
  });
  const seen = new Set(list.map((e) => e.id));
  const queue = (e) => {
    pending.set(e.id, e);
    flush();
  };
  const offs = [
    stream.on("execution", (e) => {
      if (!e || !e.id) return;
      if (rows.has(e.id)) return queue(e);
      if (page === 1 && !seen.has(e.id) && e.status === "QUEUED" && matches(e)) {
        seen.add(e.id);
        newCount++;
        flush();
      }
    }),
    stream.on("runner", (r) => r && r.id && runnerName.set(r.id, r.name)),
  ];

  add(main, h("h1", { text: "Executions" }), filterForm,
    h("div", { class: "toolbar", role: "toolbar", "aria-label": "Selected executions" }, selCount, stopBtn, rerunBtn, fresh),
    msg, list.length ? table : h("p", { class: "muted", text: "No executions match these filters." }), pager);
  return () => offs.forEach((o) => o());
}
