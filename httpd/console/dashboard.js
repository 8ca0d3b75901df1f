// The dashboard: the queue by priority, what runs, what finished today by
// outcome, the runners by status, recent failures and the license standing,
// refreshed from the live events (never by polling).

import { h, clear, timeEl, dayStart, shortId, throttle, add } from "./dom.js";
import { get, all, query } from "./api.js";

const PRIORITIES = ["HIGH", "NORMAL", "LOW"];

/** render shows the dashboard and keeps it live. */
export async function render(main, { stream }) {
  const figure = (label, value, href) => {
    const v = h("span", { class: "num", text: value });
    const body = h("div", { class: "figure" }, v, h("span", { class: "label", text: label }));
    return { el: href ? h("a", { href, class: "figure-link" }, body) : body, v };
  };
  const queued = figure("Queued", "…", "/executions?status=QUEUED");
  const assigned = figure("Assigned", "…", "/executions?status=ASSIGNED");
  const running = figure("Running", "…", "/executions?status=RUNNING");
  const prio = Object.fromEntries(PRIORITIES.map((p) => [p, figure(p.toLowerCase(), "…")]));
  const prioNote = h("p", { class: "muted small" });
  const done = { COMPLETED: figure("Completed", "…"), FAILED: figure("Failed", "…"), STOPPED: figure("Stopped", "…") };
  const runnerFig = { ONLINE: figure("Online", "…", "/runners"), BUSY: figure("Busy", "…", "/runners"), OFFLINE: figure("Offline", "…", "/runners") };
  const failures = h("div");
  const lic = h("div");
  const section = (title, ...body) => h("section", { class: "card", "aria-labelledby": (title.id = `d-${title.textContent.replace(/\W+/g, "-").toLowerCase()}`) }, title, ...body);

  add(main, h("h1", { text: "Dashboard" }), h("div", { class: "grid" },
    section(h("h2", { text: "Work in flight" }), h("div", { class: "figures" }, queued.el, assigned.el, running.el)),
    section(h("h2", { text: "Queued by priority" }), h("div", { class: "figures" }, PRIORITIES.map((p) => prio[p].el)), prioNote),
    section(h("h2", { text: "Finished today" }), h("div", { class: "figures" }, Object.values(done).map((f) => f.el))),
    section(h("h2", { text: "Runners" }), h("div", { class: "figures" }, Object.values(runnerFig).map((f) => f.el))),
    section(h("h2", { text: "Recent failures" }), failures),
    section(h("h2", { text: "License" }), lic)));

  const setStats = (st) => {
    queued.v.textContent = st.queued;
    assigned.v.textContent = st.assigned;
    running.v.textContent = st.running;
  };
  // The figures are read once, then kept from the events alone: no request
  // per change (a busy server sends many, and requests count against the
  // user's rate limit).
  const queuedPrio = new Map(); // id → priority of the QUEUED executions counted
  let queueExact = true;
  const showQueue = () => {
    const n = { HIGH: 0, NORMAL: 0, LOW: 0 };
    for (const p of queuedPrio.values()) n[p] = (n[p] || 0) + 1;
    for (const p of PRIORITIES) prio[p].v.textContent = n[p];
  };
  const finished = { COMPLETED: 0, FAILED: 0, STOPPED: 0 };
  const finishedIds = new Set();
  let since = dayStart();
  const showDone = () => {
    for (const [s, f] of Object.entries(done)) f.v.textContent = finished[s];
  };
  const runnerStatus = new Map();
  const showRunners = () => {
    const n = { ONLINE: 0, BUSY: 0, OFFLINE: 0 };
    for (const st of runnerStatus.values()) n[st] = (n[st] || 0) + 1;
    for (const [s, f] of Object.entries(runnerFig)) f.v.textContent = n[s];
  };
  let recent = [];
  const showFailures = () => {
    clear(failures);
    if (!recent.length) return add(failures, h("p", { class: "muted", text: "No failed executions." }));
    add(failures, h("ul", { class: "failures" }, recent.map((e) => h("li", {},
      h("a", { href: `/executions/${encodeURIComponent(e.id)}`, text: `${e.workflow && e.workflow.name ? e.workflow.name : e.workflowId} · ${shortId(e.id)}` }), " ",
      timeEl(e.completedAt || e.createdAt),
      h("p", { class: "error-text", text: e.error || "no error recorded" })))));
  };
  const loadStats = async () => setStats(await get("/api/executions/stats"));
  const loadQueue = async () => {
    const { items, total } = await all("/api/executions?status=QUEUED", "executions", 1000);
    queuedPrio.clear();
    for (const e of items) queuedPrio.set(e.id, e.priority);
    queueExact = total <= items.length;
    prioNote.textContent = queueExact ? "" : `Counted over the first ${items.length} of ${total} queued executions.`;
    showQueue();
  };
  const loadDone = async () => {
    since = dayStart();
    finishedIds.clear();
    await Promise.all(Object.keys(done).map(async (s) => {
      const res = await get(`/api/executions${query({ status: s, from: since, limit: 1 })}`);
      finished[s] = res.pagination.total;
    }));
    showDone();
  };
  // Up to 1,000 runners are followed one by one from their events; a larger
  // fleet is counted by status at most every 10 s while events arrive.
  let runnersExact = true;
  const countRunners = async () => {
    await Promise.all(Object.entries(runnerFig).map(async ([s, f]) => {
      f.v.textContent = (await get(`/api/runners${query({ status: s, limit: 1 })}`)).pagination.total;
    }));
  };
  const loadRunners = async () => {
    const { items, total } = await all("/api/runners", "runners", 1000);
    runnersExact = total <= items.length;
    runnerStatus.clear();
    for (const r of items) runnerStatus.set(r.id, r.status);
    if (runnersExact) showRunners();
    else await countRunners();
  };
  const recount = throttle(() => countRunners().catch(() => {}), 10000);
  const loadFailures = async () => {
    recent = (await get("/api/executions?status=FAILED&limit=5")).executions;
    showFailures();
  };
  const showLicense = (st) => {
    clear(lic);
    if (!st) return;
    add(lic, h("dl", { class: "facts" },
      h("dt", { text: "Status" }), h("dd", {}, h("span", { class: `badge l-${String(st.status).toLowerCase()}`, text: st.status })),
      h("dt", { text: "Licensee" }), h("dd", { text: `${st.organization || ""} (${st.licensee || ""})` }),
      h("dt", { text: "Expires" }), h("dd", {}, timeEl(st.expiresAt), ` · ${st.daysRemaining} days left`)),
    h("a", { href: "/license", text: "Limits, usage and renewal" }));
  };
  const loadLicense = async () => showLicense(await get("/api/license/status"));

  await Promise.all([loadStats(), loadQueue(), loadDone(), loadRunners(), loadFailures(), loadLicense()].map((p) => p.catch(() => {})));

  const offs = [
    stream.on("stats", (st) => st && setStats(st)),
    stream.on("execution", (e) => {
      if (!e || !e.id) return;
      if (e.status === "QUEUED") {
        if (queueExact || queuedPrio.has(e.id)) queuedPrio.set(e.id, e.priority);
      } else queuedPrio.delete(e.id);
      showQueue();
      if ((e.status === "COMPLETED" || e.status === "FAILED" || e.status === "STOPPED") && !finishedIds.has(e.id) &&
        e.completedAt && e.completedAt >= since && (Date.now() - new Date(e.completedAt).getTime()) < 60000) {
        finishedIds.add(e.id);
        finished[e.status]++;
        showDone();
      }
      if (e.status === "FAILED" && !recent.some((x) => x.id === e.id)) {
        recent = [e, ...recent].slice(0, 5);
        showFailures();
      }
    }),
    stream.on("runner", (r) => {
      if (!r || !r.id) return;
      if (!runnersExact) return recount();
      runnerStatus.set(r.id, r.status);
      showRunners();
    }),
    stream.on("license", (st) => showLicense(st)),
    stream.on("reset", () => {
      Promise.all([loadStats(), loadQueue(), loadDone(), loadRunners(), loadFailures()].map((p) => p.catch(() => {})));
    }),
  ];
  // A new day (or another zone) starts the day's counts again.
  const dayTimer = setInterval(() => {
    if (dayStart() !== since) loadDone().catch(() => {});
  }, 30000);
  const onZone = () => loadDone().catch(() => {});
  document.addEventListener("exekra:zone", onZone);
  return () => {
    offs.forEach((f) => f());
    clearInterval(dayTimer);
    recount.cancel();
    document.removeEventListener("exekra:zone", onZone);
  };
}
