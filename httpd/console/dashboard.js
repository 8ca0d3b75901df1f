// The dashboard: the queue by priority, what runs, what finished today by
// outcome, the runners by status, recent failures and the license standing,
// refreshed from the live events (never by polling).

import { h, clear, timeEl, dayStart, throttle, shortId, add } from "./dom.js";
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
  const loadStats = async () => setStats(await get("/api/executions/stats"));
  const loadQueue = async () => {
    const { items, total } = await all("/api/executions?status=QUEUED", "executions", 1000);
    const n = { HIGH: 0, NORMAL: 0, LOW: 0 };
    for (const e of items) n[e.priority] = (n[e.priority] || 0) + 1;
    for (const p of PRIORITIES) prio[p].v.textContent = n[p];
    prioNote.textContent = total > items.length ? `Counted over the first ${items.length} of ${total} queued executions.` : "";
  };
  const loadDone = async () => {
    const from = dayStart();
    await Promise.all(Object.entries(done).map(async ([s, f]) => {
      const res = await get(`/api/executions${query({ status: s, from, limit: 1 })}`);
      f.v.textContent = res.pagination.total;
    }));
  };
  const loadRunners = async () => {
    await Promise.all(Object.entries(runnerFig).map(async ([s, f]) => {
      const res = await get(`/api/runners${query({ status: s, limit: 1 })}`);
      f.v.textContent = res.pagination.total;
    }));
  };
  const loadFailures = async () => {
    const res = await get("/api/executions?status=FAILED&limit=5");
    clear(failures);
    if (!res.executions.length) return add(failures, h("p", { class: "muted", text: "No failed executions." }));
    add(failures, h("ul", { class: "failures" }, res.executions.map((e) => h("li", {},
      h("a", { href: `/executions/${encodeURIComponent(e.id)}`, text: `${e.workflow.name || e.workflowId} · ${shortId(e.id)}` }), " ",
      timeEl(e.completedAt || e.createdAt),
      h("p", { class: "error-text", text: e.error || "no error recorded" })))));
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

  const safe = (fn) => () => fn().catch(() => {});
  await Promise.all([loadStats(), loadQueue(), loadDone(), loadRunners(), loadFailures(), loadLicense()].map((p) => p.catch(() => {})));

  // Live: the events say what changed; each figure reloads at most once a second.
  const queueT = throttle(safe(loadQueue), 1000);
  const doneT = throttle(safe(loadDone), 1000);
  const failT = throttle(safe(loadFailures), 1000);
  const runT = throttle(safe(loadRunners), 1000);
  const offs = [
    stream.on("stats", (st) => st && setStats(st)),
    stream.on("execution", (e) => {
      if (!e) return;
      if (e.status === "QUEUED" || e.status === "ASSIGNED") queueT();
      if (e.status === "COMPLETED" || e.status === "FAILED" || e.status === "STOPPED") doneT();
      if (e.status === "FAILED") failT();
    }),
    stream.on("runner", () => runT()),
    stream.on("license", (st) => showLicense(st)),
    stream.on("reset", () => {}),
  ];
  const onZone = () => {
    doneT();
  };
  document.addEventListener("exekra:zone", onZone);
  return () => {
    offs.forEach((f) => f());
    [queueT, doneT, failT, runT].forEach((t) => t.cancel());
    document.removeEventListener("exekra:zone", onZone);
  };
}
