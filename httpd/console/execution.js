// One execution: its status timeline, why it waits (when queued), input,
// metrics, error and the live log, from a stream of its own events.

import { h, clear, notice, timeEl, duration, between, shortId, statusBadge, add } from "./dom.js";
import { get, all } from "./api.js";
import { Stream } from "./events.js";
import { LogView } from "./logview.js";
import { confirmDialog } from "./confirm.js";
import { rerun, stop, ACTIVE, userNames } from "./actions.js";
import { labelTags } from "./labels.js";

const RANK = { HIGH: 0, NORMAL: 1, LOW: 2 };

/** render shows the execution page and follows it live. */
export async function render(main, ctx) {
  const { id, navigate, stream: shared } = ctx;
  let e;
  try {
    e = (await get(`/api/executions/${encodeURIComponent(id)}`)).execution;
  } catch (err) {
    add(main, h("h1", { text: "Execution not found" }), h("p", { class: "notice error", role: "alert", text: err.message }),
      h("a", { href: "/executions", text: "Back to the list" }));
    return undefined;
  }
  const msg = notice();
  const facts = h("dl", { class: "facts" });
  const timeline = h("ol", { class: "timeline" });
  const waiting = h("section", { class: "card", "aria-labelledby": "why-h" });
  const input = h("pre", { class: "code", tabindex: "0", "aria-label": "Input" });
  const metrics = h("dl", { class: "facts" });
  const errorBox = h("section", { class: "card", "aria-labelledby": "err-h" });
  const stopBtn = h("button", { type: "button", class: "danger", text: "Stop execution" });
  const rerunBtn = h("button", { type: "button", text: "Re-run execution" });
  const log = new LogView(`execution-${id}`);
  log.set(e.logs || "");
  const runnerNames = new Map();
  let people = new Map();

  const describe = () => `${e.id} · ${e.workflow && e.workflow.name ? e.workflow.name : e.workflowId} · ${e.status}`;
  stopBtn.addEventListener("click", async () => {
    if (!(await confirmDialog({ title: "Stop this execution?", items: [describe()], confirm: "Stop execution" }))) return;
    const out = await stop([e.id]);
    if (out.failed.length) msg.show(out.failed[0].error, "error");
    else {
      msg.show(e.status === "RUNNING" ? "Stop requested: the runner stops it at its next check." : "Stopped.");
      update({ ...out.ok[0], logs: undefined });
    }
  });
  rerunBtn.addEventListener("click", async () => {
    if (!(await confirmDialog({ title: "Re-run this execution?", message: "A new execution of the same workflow with the same input and priority.", items: [describe()], confirm: "Re-run execution", danger: false }))) return;
    const out = await rerun([e.id]);
    if (out.failed.length) msg.show(out.failed[0].error, "error");
    else navigate(`/executions/${encodeURIComponent(out.ok[0].id)}`);
  });

  const paintFacts = () => {
    const runner = e.runnerId ? h("span", { text: runnerNames.get(e.runnerId) || shortId(e.runnerId), title: e.runnerId }) : "—";
    add(clear(facts), 
      h("dt", { text: "Status" }), h("dd", {}, statusBadge(e.status), e.stopRequested && e.status === "RUNNING" ? " stop requested" : ""),
      h("dt", { text: "Workflow" }), h("dd", {}, h("a", { href: `/executions?workflowId=${encodeURIComponent(e.workflowId)}`, text: e.workflow && e.workflow.name ? e.workflow.name : e.workflowId })),
      h("dt", { text: "Priority" }), h("dd", { text: e.priority }),
      h("dt", { text: "Runner labels" }), h("dd", {}, e.runnerLabels && e.runnerLabels.length ? labelTags(e.runnerLabels, (l) => `/runners?label=${encodeURIComponent(l)}`) : h("span", { class: "muted", text: "any runner" })),
      h("dt", { text: "Runner" }), h("dd", {}, runner),
      h("dt", { text: "Started by" }), h("dd", { title: e.triggerId || e.triggeredBy || "", text: e.triggerId ? `trigger ${shortId(e.triggerId)}` : e.triggeredBy ? people.get(e.triggeredBy) || `user ${shortId(e.triggeredBy)}` : "—" }),
      h("dt", { text: "Attempt" }), h("dd", { text: e.attempt || 1 }),
      h("dt", { text: "Id" }), h("dd", { class: "mono", text: e.id }));
    stopBtn.hidden = !ACTIVE.has(e.status);
  };
  const paintTimeline = () => {
    const steps = [["Created", e.createdAt], ["Assigned", e.assignedAt], ["Started", e.startedAt], ["Finished", e.completedAt]];
    clear(timeline);
    let prev = null;
    for (const [name, at] of steps) {
      const d = prev && at ? between(prev, at) : null;
      add(timeline, h("li", { class: at ? "done" : "todo" }, h("span", { class: "step", text: name }), " ", timeEl(at),
        d !== null ? h("span", { class: "muted small", text: ` +${duration(d)}` }) : null));
      if (at) prev = at;
    }
    const total = between(e.createdAt, e.completedAt);
    if (total !== null) add(timeline, h("li", { class: "total" }, h("span", { class: "step", text: "Total" }), ` ${duration(total)}`,
      e.startedAt ? h("span", { class: "muted small", text: ` (ran ${duration(between(e.startedAt, e.completedAt))})` }) : null));
  };
  const paintMetrics = () => {
    clear(metrics);
    const m = e.metrics || {};
    const rows = [["CPU average", m.cpuAvg, "%"], ["CPU peak", m.cpuPeak, "%"], ["Memory average", m.memAvgMB, " MB"], ["Memory peak", m.memPeakMB, " MB"]];
    for (const [k, v, u] of rows) add(metrics, h("dt", { text: k }), h("dd", { text: v === undefined || v === null ? "—" : `${Math.round(v * 10) / 10}${u}` }));
  };
  const paintError = () => {
    clear(errorBox);
    errorBox.hidden = !e.error;
    if (e.error) add(errorBox, h("h2", { id: "err-h", text: "Error" }), h("pre", { class: "code error-text", text: e.error }));
  };
  const paintWaiting = async () => {
    clear(waiting);
    waiting.hidden = e.status !== "QUEUED";
    if (e.status !== "QUEUED") return;
    add(waiting, h("h2", { id: "why-h", text: "Why is it waiting?" }));
    // The server's own account (docs/api.md, Why waiting); an older server
    // without it gets the position worked out from the public lists.
    let w = e.waiting;
    if (!w) w = await computeWaiting(e).catch(() => null);
    if (!w || e.status !== "QUEUED") return;
    const m = w.matchingRunners || {};
    add(waiting, h("p", { class: "lead", text: w.reason }), h("dl", { class: "facts" },
      h("dt", { text: "Position in the queue" }), h("dd", { text: w.position === null ? "unknown" : `${w.position}${w.ahead !== undefined ? ` (${w.ahead} ahead)` : ""}` }),
      h("dt", { text: "Matching runners online" }), h("dd", { text: m.online ?? "—" }),
      h("dt", { text: "Matching runners busy" }), h("dd", { text: m.busy ?? "—" }),
      h("dt", { text: "Matching runners offline" }), h("dd", { text: m.offline ?? "—" })));
  };
  const update = (next) => {
    const logs = next.logs;
    e = { ...e, ...next };
    if (logs === undefined) delete e.logs;
    paintFacts();
    paintTimeline();
    paintMetrics();
    paintError();
    paintWaiting();
  };

  add(main, h("h1", {}, "Execution ", h("span", { class: "mono", text: shortId(e.id) })),
    h("div", { class: "toolbar" }, stopBtn, rerunBtn, h("a", { href: "/executions", text: "Back to the list" })), msg,
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "sum-h" }, h("h2", { id: "sum-h", text: "Summary" }), facts),
      h("section", { class: "card", "aria-labelledby": "tl-h" }, h("h2", { id: "tl-h", text: "Timeline" }), timeline),
      waiting, errorBox,
      h("section", { class: "card", "aria-labelledby": "in-h" }, h("h2", { id: "in-h", text: "Input" }), input),
      h("section", { class: "card", "aria-labelledby": "met-h" }, h("h2", { id: "met-h", text: "Metrics" }), metrics)),
    h("section", { class: "card wide", "aria-labelledby": "log-h" }, h("h2", { id: "log-h", text: "Log" }), log.el));
  input.textContent = e.input === null || e.input === undefined ? "(no input)" : JSON.stringify(e.input, null, 2);
  update({});
  userNames(ctx).then((m) => {
    people = m;
    paintFacts();
  });
  get("/api/runners?limit=200").then((r) => {
    for (const x of r.runners) runnerNames.set(x.id, x.name);
    paintFacts();
  }, () => {});

  // Live: this execution's own stream, its log chunks included. The shared
  // stream pauses meanwhile (a browser opens at most six connections to a
  // server over HTTP/1.1) and resumes after its last event when we leave.
  shared.pause();
  const stream = new Stream({ executionId: e.id }).start();
  stream.onState((s) => {
    const live = document.querySelector(".live");
    if (live && s !== "closed") {
      live.dataset.state = s;
      live.textContent = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…" }[s] || s;
    }
  });
  let reloading = false;
  const reload = async () => {
    if (reloading) return;
    reloading = true;
    try {
      const fresh = (await get(`/api/executions/${encodeURIComponent(e.id)}`)).execution;
      log.set(fresh.logs || "");
      delete fresh.logs;
      update(fresh);
    } finally {
      reloading = false;
    }
  };
  stream.on("execution", (x) => {
    if (!x || x.id !== e.id) return;
    // Events carry no waiting object: a queued execution's is read afresh.
    if (x.status === "QUEUED") reload().catch(() => {});
    else update({ ...x, logs: undefined, waiting: undefined });
  });
  // While it waits, its place and the matching runners change with events
  // this page does not follow: read them again every 5 s.
  const waitTick = setInterval(() => {
    if (e.status === "QUEUED" && !document.hidden) reload().catch(() => {});
  }, 5000);
  stream.on("execution.log", (c) => {
    if (!c || c.id !== e.id) return;
    if (!log.appendAt(c.offset, c.chunk)) reload();
  });
  stream.on("reset", () => reload());
  return () => {
    clearInterval(waitTick);
    stream.close();
    shared.resume();
  };
}

/** computeWaiting works out a queued execution's place from the public lists. */
async function computeWaiting(e) {
  const [queued, runners] = await Promise.all([
    all("/api/executions?status=QUEUED", "executions", 2000),
    all("/api/runners?type=UNATTENDED", "runners", 1000),
  ]);
  const mine = RANK[e.priority];
  const key = (x) => x.enqueuedAt || x.createdAt;
  let ahead = 0;
  for (const x of queued.items) {
    if (x.id === e.id) continue;
    const r = RANK[x.priority];
    if (r < mine || (r === mine && (key(x) < key(e) || (key(x) === key(e) && x.id < e.id)))) ahead++;
  }
  const partial = queued.total > queued.items.length;
  const m = { online: 0, busy: 0, offline: 0 };
  for (const r of runners.items) m[String(r.status).toLowerCase()] = (m[String(r.status).toLowerCase()] || 0) + 1;
  let reason;
  if (m.online + m.busy === 0) reason = "No unattended runner is online to take it.";
  else if (m.online === 0) reason = `All ${m.busy} online runner${m.busy === 1 ? " is" : "s are"} busy.`;
  else if (ahead > 0) reason = `${ahead} execution${ahead === 1 ? " is" : "s are"} ahead of it in the queue.`;
  else reason = "It is next in the queue: an idle runner takes it on its next poll.";
  return { position: partial ? null : ahead + 1, ahead: partial ? undefined : ahead, matchingRunners: m, reason };
}
