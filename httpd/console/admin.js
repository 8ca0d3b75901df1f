// The audit log with filters and CSV export, the system page, and the
// triggers list with enable/disable and webhook addresses.

import { h, clear, field, notice, timeEl, timeText, duration, shortId, statusBadge, download, copyText, add } from "./dom.js";
import { get, post, api, all } from "./api.js";
import * as cron from "./cron.js";
import { confirmDialog } from "./confirm.js";

const AUDIT_MAX = 5000;

/** audit shows the audit log, filtered in the browser over its latest entries. */
export async function audit(main, { params }) {
  const actor = h("input", { type: "search", value: params.get("actor") || "", dataset: { search: "" }, autocomplete: "off" });
  const action = h("select", {}, h("option", { value: "", text: "Any action" }));
  const from = h("input", { type: "date", value: params.get("from") || "" });
  const to = h("input", { type: "date", value: params.get("to") || "" });
  const exportBtn = h("button", { type: "button", class: "secondary", text: "Export CSV" });
  const count = h("p", { class: "muted small", "aria-live": "polite" });
  const tbody = h("tbody");
  add(main, h("h1", { text: "Audit" }),
    h("form", { class: "filters", role: "search", "aria-label": "Filter the audit log" },
      field("Actor (id, type or address)", actor), field("Action", action), field("From date", from), field("To date", to),
      h("div", { class: "actions" }, exportBtn)),
    count,
    h("table", { class: "data" }, h("caption", { class: "sr-only", text: "Audit log" }),
      h("thead", {}, h("tr", {}, ["Time", "Action", "Actor", "Target", "Address", "Details"].map((t) => h("th", { scope: "col", text: t })))), tbody));
  const { items, total } = await all("/api/audit", "entries", AUDIT_MAX);
  for (const a of [...new Set(items.map((e) => e.action))].sort()) add(action, h("option", { value: a, text: a, selected: a === params.get("action") }));
  let shown = [];
  const show = () => {
    const q = actor.value.trim().toLowerCase();
    const lo = from.value ? new Date(`${from.value}T00:00:00`).getTime() : -Infinity;
    const hi = to.value ? new Date(`${to.value}T23:59:59.999`).getTime() : Infinity;
    shown = items.filter((e) => (!action.value || e.action === action.value) &&
      (!q || `${e.actorType} ${e.actorId} ${e.ip}`.toLowerCase().includes(q)) &&
      new Date(e.createdAt).getTime() >= lo && new Date(e.createdAt).getTime() <= hi);
    clear(tbody);
    for (const e of shown.slice(0, 500)) {
      add(tbody, h("tr", {}, h("th", { scope: "row" }, timeEl(e.createdAt)), h("td", { text: e.action }),
        h("td", { title: e.actorId || "", text: `${e.actorType}${e.actorId ? ` ${shortId(e.actorId)}` : ""}` }),
        h("td", { title: e.targetId || "", text: e.targetType ? `${e.targetType} ${shortId(e.targetId)}` : "—" }),
        h("td", { class: "mono small", text: e.ip || "—" }), h("td", { class: "clip", text: e.details || "—" })));
    }
    count.textContent = `${shown.length} matching entr${shown.length === 1 ? "y" : "ies"}${shown.length > 500 ? " (the first 500 shown; the export has all)" : ""}` +
      (total > items.length ? ` among the latest ${items.length} of ${total}` : "");
    const u = new URL(location.href);
    for (const [k, v] of [["actor", actor.value.trim()], ["action", action.value], ["from", from.value], ["to", to.value]]) {
      if (v) u.searchParams.set(k, v);
      else u.searchParams.delete(k);
    }
    history.replaceState(null, "", u.pathname + u.search);
  };
  for (const c of [actor, action, from, to]) c.addEventListener("input", show);
  exportBtn.addEventListener("click", () => {
    const cell = (v) => {
      let s = v === null || v === undefined ? "" : String(v);
      if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // no formulas in spreadsheets
      return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const cols = ["createdAt", "action", "actorType", "actorId", "targetType", "targetId", "ip", "details", "id"];
    const lines = [cols.join(","), ...shown.map((e) => cols.map((c) => cell(e[c])).join(","))];
    download(`exekra-audit-${new Date().toISOString().slice(0, 10)}.csv`, `${lines.join("\r\n")}\r\n`, "text/csv");
  });
  show();
}

/** parseMetrics reads Prometheus text into name{labels} → value. */
function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** bytes formats a size as "812 KB", "3.4 MB", "1.2 GB". */
function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < units.length - 1);
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

/** system shows the server's health, state and live figures (administrators). */
export async function system(main) {
  const facts = h("dl", { class: "facts" });
  const figures = h("dl", { class: "facts" });
  const refresh = h("button", { type: "button", class: "secondary", text: "Refresh figures" });
  add(main, h("h1", { text: "System" }), h("div", { class: "grid" },
    h("section", { class: "card", "aria-labelledby": "sys-h" }, h("h2", { id: "sys-h", text: "Server" }), facts),
    h("section", { class: "card", "aria-labelledby": "fig-h" }, h("h2", { id: "fig-h", text: "Figures" }), figures, refresh),
    h("section", { class: "card", "aria-labelledby": "bk-h" }, h("h2", { id: "bk-h", text: "Backup" }),
      h("p", { class: "muted", text: "A consistent copy of the database, taken without stopping the server; exekra restore installs it." }),
      h("a", { class: "button", href: "/api/system/backup", download: "exekra-backup.db", text: "Download backup" })),
    h("section", { class: "card", "aria-labelledby": "sub-h" }, h("h2", { id: "sub-h", text: "Event subscriptions" }),
      h("p", { class: "muted", text: "Outbound webhooks that receive chosen events." }), h("a", { href: "/subscriptions", text: "Manage event subscriptions" }))));
  const load = async () => {
    const [health, status, metrics] = await Promise.all([
      get("/api/health").catch((e) => ({ status: e.message })),
      get("/api/status").catch(() => ({})),
      fetch("/metrics", { credentials: "same-origin", cache: "no-store" }).then((r) => r.text()).catch(() => ""),
    ]);
    const m = parseMetrics(metrics);
    const v = (k) => (m.has(k) ? m.get(k) : null);
    const sum = (prefix) => [...m].filter(([k]) => k.startsWith(prefix)).reduce((a, [, x]) => a + x, 0);
    const cs = v("exekra_storage_commit_duration_seconds_sum");
    const cc = v("exekra_storage_commit_duration_seconds_count");
    const start = v("process_start_time_seconds");
    const size = v("exekra_storage_file_bytes");
    clear(facts);
    add(facts, h("dt", { text: "Health" }), h("dd", { text: health.status }),
      h("dt", { text: "Version" }), h("dd", { text: health.version || "—" }),
      h("dt", { text: "State" }), h("dd", { text: status.state || "—" }),
      h("dt", { text: "Uptime" }), h("dd", { text: start ? duration(Date.now() - start * 1000) : "—", title: start ? new Date(start * 1000).toISOString() : null }),
      h("dt", { text: "Database size" }), h("dd", { text: size === null ? "—" : bytes(size) }),
      h("dt", { text: "Checked at" }), h("dd", {}, timeEl(health.timestamp)),
      h("dt", { text: "API reference" }), h("dd", {}, h("a", { href: "/api/openapi.json", text: "OpenAPI document" })),
      h("dt", { text: "Metrics" }), h("dd", {}, h("a", { href: "/metrics", text: "Prometheus metrics" })));
    clear(figures);
    const row = (k, val) => add(figures, h("dt", { text: k }), h("dd", { text: val === null || Number.isNaN(val) ? "—" : val }));
    row("Queue depth", sum("exekra_queue_depth"));
    for (const p of ["high", "normal", "low"]) row(`Queued at ${p} priority`, v(`exekra_queue_depth{priority="${p}"}`) ?? v(`exekra_queue_depth{priority="${p.toUpperCase()}"}`));
    row("Runners online / busy / offline", ["online", "busy", "offline"].map((s) => v(`exekra_runners{status="${s}"}`) ?? v(`exekra_runners{status="${s.toUpperCase()}"}`) ?? "—").join(" / "));
    row("Runners waiting in long polls", v("exekra_long_polls_waiting"));
    row("Live execution actors", v("exekra_execution_actors"));
    row("Storage commits", cc);
    row("Mean commit latency", cs !== null && cc ? `${((1000 * cs) / cc).toFixed(2)} ms` : null);
    row("Commit failures", v("exekra_storage_commit_failures_total"));
    row("Figures read at", timeText(new Date().toISOString()));
  };
  refresh.addEventListener("click", load);
  await load();
}

/** zoneTime formats a Date in an IANA zone, with the zone's short name. */
function zoneTime(d, zone) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", weekday: "short", timeZoneName: "short" })
    .formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.weekday} ${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${p.timeZoneName}`;
}

/** curlExample is a shell command that calls a webhook; with a secret it
 * signs the body in the timestamped form (docs/api.md, Signing webhooks),
 * reading the secret from $EXEKRA_WEBHOOK_SECRET. */
function curlExample(url, signed) {
  const body = `BODY='{"example": true}'`;
  return signed
    ? `${body}; T=$(date +%s)\nSIG=$(printf '%s.%s' "$T" "$BODY" | openssl dgst -sha256 -hmac "$EXEKRA_WEBHOOK_SECRET" -r | cut -d' ' -f1)\ncurl -sS -X POST -H 'Content-Type: application/json' \\\n  -H "X-Exekra-Signature: t=$T,v1=$SIG" --data-binary "$BODY" ${url}`
    : `${body}\ncurl -sS -X POST -H 'Content-Type: application/json' --data-binary "$BODY" ${url}`;
}

/** newTrigger is the form that creates a schedule or webhook trigger. */
function newTrigger(workflows, msg, reload) {
  const wf = h("select", {}, workflows.map((w) => h("option", { value: w.id, text: w.name })));
  const type = h("select", {}, h("option", { value: "SCHEDULE", text: "Schedule" }), h("option", { value: "WEBHOOK", text: "Webhook" }));
  const prio = h("select", {}, ["NORMAL", "HIGH", "LOW"].map((p) => h("option", { value: p, text: p })));
  const spec = h("input", { type: "text", value: "0 7 * * 1-5", autocomplete: "off", spellcheck: "false", class: "mono" });
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zoneList = h("datalist", { id: "tz-list" }, ["UTC", ...zones].map((z) => h("option", { value: z })));
  const zone = h("input", { type: "text", value: "UTC", list: "tz-list", autocomplete: "off", spellcheck: "false" });
  const secret = h("input", { type: "password", autocomplete: "new-password" });
  const explain = h("p", { class: "lead", "aria-live": "polite" });
  const fires = h("ol", { class: "fires", "aria-label": "Next five fire times" });
  const schedule = h("div", { class: "inline-form" }, field("Cron expression", spec, "5 fields (minute hour day-of-month month day-of-week), @daily, @hourly or @every 15m."), field("Schedule time zone", zone), zoneList);
  const hook = h("div", { class: "inline-form", hidden: true }, field("Webhook secret (optional)", secret, "With a secret, calls must be signed (HMAC-SHA256 of the body)."));
  const out = h("div");
  const btn = h("button", { type: "submit", text: "Create trigger" });
  const form = h("form", { class: "card", "aria-labelledby": "nt-h" }, h("h2", { id: "nt-h", text: "New trigger" }),
    h("div", { class: "inline-form" }, field("Workflow", wf), field("Trigger type", type), field("Run priority", prio)),
    schedule, h("div", { hidden: false, class: "sched-preview" }, explain, fires), hook, h("div", { class: "actions" }, btn), out);
  const preview = () => {
    const isSched = type.value === "SCHEDULE";
    schedule.hidden = !isSched;
    fires.parentNode.hidden = !isSched;
    hook.hidden = isSched;
    if (!isSched) return;
    clear(fires);
    try {
      const z = zone.value.trim() || "UTC";
      new Intl.DateTimeFormat("en", { timeZone: z }); // throws on an unknown zone
      explain.textContent = `${cron.explain(spec.value)} (${z})`;
      explain.className = "lead";
      for (const d of cron.next(spec.value, z, 5)) add(fires, h("li", {}, h("span", { text: zoneTime(d, z) }), " ", h("span", { class: "muted small" }, "· ", timeEl(d.toISOString()))));
      spec.setAttribute("aria-invalid", "false");
    } catch (err) {
      explain.textContent = err instanceof RangeError ? `Unknown time zone "${zone.value}".` : err.message;
      explain.className = "lead error-text";
      spec.setAttribute("aria-invalid", "true");
    }
  };
  for (const c of [spec, zone, type]) c.addEventListener("input", preview);
  type.addEventListener("change", preview);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const cfg = { priority: prio.value };
    if (type.value === "SCHEDULE") {
      cfg.cron = spec.value.trim();
      cfg.timezone = zone.value.trim() || "UTC";
    } else if (secret.value) cfg.secret = secret.value;
    btn.disabled = true;
    try {
      const res = await post("/api/triggers", { workflowId: wf.value, type: type.value, config: JSON.stringify(cfg), enabled: true });
      const t = res.trigger;
      secret.value = "";
      clear(out);
      if (t.type === "WEBHOOK") {
        const url = `${location.origin}${t.webhookPath}`;
        const curl = curlExample(url, t.hasSecret);
        add(out, h("section", { class: "card secret", "aria-labelledby": "wh-h" }, h("h3", { id: "wh-h", text: "Webhook created" }),
          h("p", { text: "Its address is its credential: share it like a password." }),
          h("pre", { class: "code", tabindex: "0", "aria-label": "Webhook example" }, h("code", { text: curl })),
          h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", text: "Copy webhook URL", onclick: async () => msg.show((await copyText(url)) ? "The webhook URL is on the clipboard." : "Select the URL and copy it.") }),
            h("button", { type: "button", class: "secondary", text: "Copy example", onclick: async () => msg.show((await copyText(curl)) ? "The example is on the clipboard." : "Select the example and copy it.") }))));
      }
      msg.show(`Trigger ${shortId(t.id)} created.`);
      await reload();
    } catch (err) {
      msg.error(err);
    } finally {
      btn.disabled = false;
    }
  });
  preview();
  return form;
}

/** triggers lists the triggers; developers create them, enable and disable them, set or clear a webhook's
 * secret and copy webhook addresses. Fires and changes repaint their row live. */
export async function triggers(main, { canDevelop, stream }) {
  const msg = notice();
  const tbody = h("tbody");
  const rows = new Map();
  const wfs = (await all("/api/workflows", "workflows", 1000).catch(() => ({ items: [] }))).items;
  const names = new Map(wfs.map((w) => [w.id, w.name]));
  let load = async () => {};
  const form = canDevelop && wfs.length ? newTrigger(wfs, msg, () => load()) : null;
  add(main, h("h1", { text: "Triggers" }), form, msg,
    h("table", { class: "data" }, h("caption", { class: "sr-only", text: "Triggers" }),
      h("thead", {}, h("tr", {}, ["Trigger", "Type", "Workflow", "Schedule or address", "Next run", "Last fired", "Result", "Enabled"].map((t) => h("th", { scope: "col", text: t })))), tbody));
  const configOf = (t) => {
    try {
      return JSON.parse(t.config) || {};
    } catch {
      return {};
    }
  };
  // A webhook's secret is write-only: a config with "secret" sets it, with
  // "secret": "" clears it, without it keeps it (docs/api.md, Triggers).
  const putSecret = async (t, secret) => {
    const res = await api("PATCH", `/api/triggers/${encodeURIComponent(t.id)}`, { config: JSON.stringify({ ...configOf(t), secret }) });
    paint(res.trigger);
    msg.show(secret ? `The secret of trigger ${shortId(t.id)} was set: calls must be signed now.` : `The secret of trigger ${shortId(t.id)} was cleared: calls need no signature now.`);
  };
  const secretForm = (t, cell) => {
    const input = h("input", { type: "password", autocomplete: "new-password", "aria-label": `New secret of trigger ${t.id}` });
    const f = h("form", { class: "label-edit" }, input, h("button", { type: "submit", text: "Save secret" }),
      h("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => paint(t) }));
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!input.value) {
        input.focus();
        return;
      }
      try {
        await putSecret(t, input.value);
      } catch (err) {
        msg.error(err);
      }
    });
    add(cell, f);
    input.focus();
  };
  const makeRow = (t) => {
    const cfg = configOf(t);
    const whereCell = h("td");
    const where = t.type === "SCHEDULE" ? h("span", { class: "mono", text: `${cfg.cron || "?"} (${cfg.timezone || "UTC"})` })
      : h("span", {}, h("code", { class: "mono small", text: `${location.origin}${t.webhookPath || ""}` }), " ",
        h("button", { type: "button", class: "secondary", text: "Copy URL", "aria-label": `Copy the webhook URL of trigger ${t.id}`, onclick: async () => msg.show((await copyText(`${location.origin}${t.webhookPath}`)) ? "The webhook URL is on the clipboard." : "Select the URL and copy it.") }),
        h("button", { type: "button", class: "secondary", text: "Copy curl", "aria-label": `Copy the curl example of trigger ${t.id}`, onclick: async () => msg.show((await copyText(curlExample(`${location.origin}${t.webhookPath}`, t.hasSecret))) ? "The curl example is on the clipboard." : "Select the example and copy it.") }),
        h("span", { class: "muted small", text: t.hasSecret ? " signed" : " unsigned" }),
        canDevelop ? h("span", { class: "block" },
          h("button", { type: "button", class: "secondary", text: t.hasSecret ? "Change secret" : "Set secret", "aria-label": `Set secret of trigger ${t.id}`, onclick: () => secretForm(t, whereCell) }),
          t.hasSecret ? h("button", { type: "button", class: "secondary", text: "Clear secret", "aria-label": `Clear secret of trigger ${t.id}`, onclick: async () => {
            if (!(await confirmDialog({ title: `Clear the secret of trigger ${shortId(t.id)}?`, message: "Anyone who knows its address can call it then, without a signature.", items: [`${t.id} · ${names.get(t.workflowId) || t.workflowId}`], confirm: "Clear secret" }))) return;
            try {
              await putSecret(t, "");
            } catch (err) {
              msg.error(err);
            }
          } }) : null) : null);
    add(whereCell, where);
    const enabled = h("input", { type: "checkbox", checked: t.enabled, disabled: !canDevelop, "aria-label": `Trigger ${t.id} enabled` });
    enabled.addEventListener("change", async () => {
      try {
        await api("PATCH", `/api/triggers/${encodeURIComponent(t.id)}`, { enabled: enabled.checked });
        msg.show(`Trigger ${shortId(t.id)} ${enabled.checked ? "enabled" : "disabled"}.`);
      } catch (err) {
        enabled.checked = !enabled.checked;
        msg.error(err);
      }
    });
    return h("tr", { dataset: { id: t.id } }, h("th", { scope: "row" }, h("a", { href: `/executions?triggerId=${encodeURIComponent(t.id)}`, title: t.id, "aria-label": `Runs of trigger ${t.id}`, text: shortId(t.id) })),
      h("td", { text: t.type }), h("td", {}, h("a", { href: `/workflows/${encodeURIComponent(t.workflowId)}`, text: names.get(t.workflowId) || shortId(t.workflowId) })),
      whereCell, h("td", {}, timeEl(t.nextRunAt)), lastCells(t), h("td", {}, enabled));
  };
  // A schedule's last fire and result are on the trigger; a webhook's are its
  // newest execution, whose status is followed from execution events (the
  // trigger names it, "queued <id>", from the moment it is durable).
  const lastRuns = new Map();
  const lastCells = (t) => {
    let x = t.type === "WEBHOOK" ? lastRuns.get(t.id) : null;
    if (t.type === "WEBHOOK" && t.lastFiredAt && (t.lastResult || "").startsWith("queued ") && (!x || x.createdAt < t.lastFiredAt)) {
      x = { id: t.lastResult.slice("queued ".length), createdAt: t.lastFiredAt, status: "QUEUED" };
    }
    if (!x) return [h("td", { class: "last-fired" }, timeEl(t.lastFiredAt)), h("td", { class: "last-result", text: t.lastResult || "—" })];
    return [h("td", { class: "last-fired" }, timeEl(x.createdAt)),
      h("td", { class: "last-result" }, h("a", { href: `/executions/${encodeURIComponent(x.id)}`, "aria-label": `Last run of trigger ${t.id}: ${x.status}` }, statusBadge(x.status)))];
  };
  const triggersById = new Map();
  /** paint replaces a trigger's row (false when it is not shown). */
  const paint = (t) => {
    const old = rows.get(t.id);
    if (!old) return false;
    triggersById.set(t.id, t);
    const tr = makeRow(t);
    old.replaceWith(tr);
    rows.set(t.id, tr);
    return true;
  };
  load = async () => {
    const { items } = await all("/api/triggers", "triggers", 1000);
    await Promise.all(items.filter((t) => t.type === "WEBHOOK" && !lastRuns.has(t.id)).slice(0, 50).map((t) =>
      get(`/api/executions?triggerId=${encodeURIComponent(t.id)}&limit=1`).then((r) => {
        if (r.executions.length) lastRuns.set(t.id, r.executions[0]);
      }, () => {})));
    // A secret form opened while the list was being read stays: the list
    // is painted once it is closed.
    if (tbody.querySelector("form")) {
      reloadSoon();
      return;
    }
    clear(tbody);
    triggersById.clear();
    for (const t of items) triggersById.set(t.id, t);
    rows.clear();
    if (!items.length) add(tbody, h("tr", {}, h("td", { colspan: 8, class: "muted", text: "No triggers yet." })));
    for (const t of items) {
      const tr = makeRow(t);
      rows.set(t.id, tr);
      add(tbody, tr);
    }
  };
  await load();
  // Live: a trigger event carries the trigger as GET shows it; its row is
  // repainted (unless a secret is being typed there); a new or deleted one
  // reloads the list.
  let timer = null;
  // One reload for a burst of new or deleted triggers, put off while a
  // secret is being typed in a row (a reload would drop what was typed).
  const reloadSoon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => (tbody.querySelector("form") ? reloadSoon() : load().catch(() => {})), 500);
  };
  const offExec = stream.on("execution", (x) => {
    const t = x && x.triggerId ? triggersById.get(x.triggerId) : null;
    if (!t || t.type !== "WEBHOOK") return;
    const prev = lastRuns.get(t.id);
    if (prev && prev.id !== x.id && prev.createdAt > x.createdAt) return;
    lastRuns.set(t.id, x);
    const row = rows.get(t.id);
    if (row && !row.querySelector("form")) paint(t);
  });
  const offTrig = stream.on("trigger", (t) => {
    const row = t && t.id ? rows.get(t.id) : null;
    if (row && !t.deleted) {
      if (!row.querySelector("form")) paint(t);
      return;
    }
    reloadSoon();
  });
  return () => {
    offExec();
    offTrig();
    clearTimeout(timer);
  };
}
