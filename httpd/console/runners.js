// The runners page: live status, heartbeat age, metrics, current execution
// type and labels (filtered by ?label=a,b); for administrators, label edits, registration (the secret shown once, with
// the command that starts the runner), secret regeneration and deletion.

import { h, clear, field, notice, timeEl, age, shortId, statusBadge, onFrame, copyText, add } from "./dom.js";
import { get, post, api, all } from "./api.js";
import { confirmDialog } from "./confirm.js";
import { parseLabels, labelProblem, labelTags } from "./labels.js";

/** metricsText summarises a runner's reported metrics (the reference runner's
 * cpu, mem* and disk* figures by name, anything else as key and value). */
function metricsText(m) {
  if (!m || typeof m !== "object") return "—";
  const gb = (mb) => `${(mb / 1024).toFixed(1)}`;
  const parts = [];
  const rest = { ...m };
  if (typeof m.cpu === "number") {
    parts.push(`CPU ${Math.round(m.cpu)}%`);
    delete rest.cpu;
  }
  for (const [k, label] of [["mem", "memory"], ["disk", "disk"]]) {
    const used = m[`${k}UsedMB`];
    const total = m[`${k}TotalMB`];
    if (typeof used === "number" && typeof total === "number") {
      parts.push(`${label} ${gb(used)} / ${gb(total)} GB`);
      delete rest[`${k}UsedMB`];
      delete rest[`${k}TotalMB`];
      delete rest[`${k}Usage`];
    }
  }
  for (const [k, v] of Object.entries(rest)) {
    if (typeof v === "number") parts.push(`${k} ${Math.round(v * 10) / 10}`);
    else if (typeof v === "string" || typeof v === "boolean") parts.push(`${k} ${v}`);
  }
  return parts.length ? parts.join(" · ") : "—";
}

/** credentials shows a new secret once, with copy buttons and the start command. */
function credentials(out, runner, heading) {
  const cmd = `exekra runner --url ${location.origin} --machine-key ${runner.machineKey} --machine-secret ${runner.machineSecret}`;
  const copied = notice();
  const copy = (text, what) => h("button", { type: "button", class: "secondary", text: `Copy ${what}`,
    onclick: async () => copied.show((await copyText(text)) ? `The ${what} is on the clipboard.` : `Select the ${what} and copy it.`) });
  add(clear(out), h("section", { class: "card secret", "aria-labelledby": "cred-h" },
    h("h2", { id: "cred-h", text: heading }),
    h("p", { class: "notice warn", text: "The secret is shown this once. Copy it now: it cannot be read again (regenerate it if it is lost)." }),
    h("dl", { class: "facts" },
      h("dt", { text: "Name" }), h("dd", { text: runner.name }),
      h("dt", { text: "Machine key" }), h("dd", { class: "mono", text: runner.machineKey }),
      h("dt", { text: "Machine secret" }), h("dd", {}, h("code", { class: "mono", text: runner.machineSecret }), " ", copy(runner.machineSecret, "secret"))),
    h("p", { text: "Start the runner on its machine with:" }),
    h("pre", { class: "code", tabindex: "0", "aria-label": "Runner command" }, h("code", { text: cmd })),
    h("div", { class: "actions" }, copy(cmd, "command")), copied));
  out.querySelector("h2").focus?.();
}

/** render shows the runners page. */
export async function render(main, { stream, isAdmin, navigate }) {
  const filter = parseLabels(new URLSearchParams(location.search).getAll("label").join(","));
  const msg = notice();
  const creds = h("div");
  const tbody = h("tbody");
  const rows = new Map();
  const empty = h("p", { class: "muted", text: "No runners are registered yet." });
  const total = h("p", { class: "muted small" });

  const paint = (row, r) => {
    row.data = r;
    add(clear(row.status), statusBadge(r.status));
    row.hb.dataset.at = r.lastHeartbeatAt || "";
    add(clear(row.hb), h("span", { text: age(r.lastHeartbeatAt) }), r.lastHeartbeatAt ? h("span", { class: "muted small block" }, timeEl(r.lastHeartbeatAt)) : null);
    row.metrics.textContent = metricsText(r.metrics);
    add(clear(row.cur), r.currentExecutionId ? h("a", { href: `/executions/${encodeURIComponent(r.currentExecutionId)}`, "aria-label": `Execution ${r.currentExecutionId}`, text: shortId(r.currentExecutionId) }) : "—");
    row.ip.textContent = r.ipAddress || "—";
    if (!row.editing) add(clear(row.labels), labelTags(r.labels, (l) => `/runners?label=${encodeURIComponent(l)}`));
  };
  const editLabels = (row) => {
    const r = row.data;
    row.editing = true;
    const input = h("input", { type: "text", value: (r.labels || []).join(", "), autocomplete: "off", spellcheck: "false", class: "mono", "aria-label": `Labels of ${r.name}` });
    const save = h("button", { type: "submit", text: "Save", "aria-label": `Save labels of ${r.name}` });
    const cancel = h("button", { type: "button", class: "secondary", text: "Cancel", "aria-label": `Cancel label edit of ${r.name}` });
    const form = h("form", { class: "label-edit" }, input, save, cancel);
    const done = () => {
      row.editing = false;
      paint(row, row.data);
    };
    cancel.addEventListener("click", done);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const labels = parseLabels(input.value);
      const problem = labelProblem(labels);
      if (problem) {
        msg.show(problem, "error");
        input.focus();
        return;
      }
      save.disabled = true;
      try {
        const out = await api("PATCH", `/api/runners/${encodeURIComponent(r.id)}`, { labels });
        row.data = out.runner;
        msg.show(labels.length ? `${r.name} now has the labels ${labels.join(", ")}.` : `${r.name} has no labels now.`);
        done();
      } catch (err) {
        save.disabled = false;
        msg.error(err);
      }
    });
    add(clear(row.labels), form);
    input.focus();
  };
  const makeRow = (r) => {
    const row = { labels: h("td"), status: h("td"), hb: h("td"), metrics: h("td", { class: "clip small" }), cur: h("td", { class: "mono" }), ip: h("td", { class: "mono small" }) };
    const acts = h("td", { class: "acts" });
    if (isAdmin) {
      add(acts, 
        h("button", { type: "button", class: "secondary", text: "Edit labels", "aria-label": `Edit labels of ${r.name}`, onclick: () => editLabels(row) }),
        h("button", { type: "button", class: "secondary", text: "Regenerate secret", "aria-label": `Regenerate secret of ${r.name}`, onclick: () => regenerate(row.data) }),
        h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${r.name}`, onclick: () => remove(row.data) }));
    }
    row.tr = h("tr", { dataset: { id: r.id } }, h("th", { scope: "row", text: r.name }), row.status, h("td", { text: r.type }), row.labels, row.hb, row.metrics, row.cur, row.ip, isAdmin ? acts : null);
    paint(row, r);
    rows.set(r.id, row);
    return row.tr;
  };
  const table = h("table", { class: "data" }, h("caption", { class: "sr-only", text: "Runners" }),
    h("thead", {}, h("tr", {}, ["Name", "Status", "Type", "Labels", "Last heartbeat", "Metrics", "Current execution", "Address", isAdmin ? "Actions" : null].filter(Boolean).map((t) => h("th", { scope: "col", text: t })))),
    tbody);
  const load = async () => {
    const res = await all(`/api/runners${filter.length ? `?label=${encodeURIComponent(filter.join(","))}` : ""}`, "runners", 1000);
    clear(tbody);
    rows.clear();
    res.items.sort((a, b) => a.name.localeCompare(b.name)).forEach((r) => add(tbody, makeRow(r)));
    table.hidden = !res.items.length;
    empty.hidden = !!res.items.length;
    total.textContent = `${res.total} runner${res.total === 1 ? "" : "s"}${filter.length ? ` with the label${filter.length === 1 ? "" : "s"} ${filter.join(", ")}` : ""}`;
  };

  const regenerate = async (r) => {
    if (!(await confirmDialog({ title: `Regenerate the secret of ${r.name}?`, message: "The current secret and every token issued with it stop working at once; the runner must be restarted with the new one.", items: [`${r.name} (${r.machineKey})`], confirm: "Regenerate secret" }))) return;
    try {
      const out = await post(`/api/runners/${encodeURIComponent(r.id)}/regenerate-secret`);
      credentials(creds, out, `New secret of ${out.name}`);
      msg.show(`The secret of ${r.name} was regenerated.`);
    } catch (e) {
      msg.error(e);
    }
  };
  const remove = async (r) => {
    if (!(await confirmDialog({ title: `Delete runner ${r.name}?`, message: "Its credentials stop working at once; an execution assigned to it is queued again, a running one fails.", items: [`${r.name} (${r.machineKey}) · ${r.status}`], confirm: "Delete runner" }))) return;
    try {
      await api("DELETE", `/api/runners/${encodeURIComponent(r.id)}`);
      msg.show(`Runner ${r.name} was deleted.`);
      await load();
    } catch (e) {
      msg.error(e);
    }
  };

  let register = null;
  if (isAdmin) {
    const name = h("input", { type: "text", required: true, maxlength: 200, autocomplete: "off" });
    const labels = h("input", { type: "text", autocomplete: "off", spellcheck: "false", class: "mono" });
    const type = h("select", {}, h("option", { value: "UNATTENDED", text: "Unattended (takes queued work)" }), h("option", { value: "ATTENDED", text: "Attended (starts its own work)" }));
    const btn = h("button", { type: "submit", text: "Register runner" });
    register = h("form", { class: "card inline-form", "aria-labelledby": "reg-h" }, h("h2", { id: "reg-h", text: "Register a runner" }),
      field("Runner name", name), field("Runner type", type),
      field("Runner labels", labels, "Optional, comma separated (e.g. finance, windows)."), h("div", { class: "actions" }, btn));
    register.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!name.value.trim()) {
        msg.show("Give the runner a name.", "error");
        name.focus();
        return;
      }
      const list = parseLabels(labels.value);
      const problem = labelProblem(list);
      if (problem) {
        msg.show(problem, "error");
        labels.focus();
        return;
      }
      btn.disabled = true;
      try {
        const out = await post("/api/runners/register", { name: name.value.trim(), type: type.value, labels: list });
        name.value = "";
        labels.value = "";
        credentials(creds, out, `Runner ${out.name} registered`);
        msg.show(`Runner ${out.name} was registered.`);
        await load();
      } catch (err) {
        msg.error(err);
      } finally {
        btn.disabled = false;
      }
    });
  }

  const labelFilter = h("input", { type: "text", value: filter.join(", "), autocomplete: "off", spellcheck: "false", class: "mono" });
  const filterForm = h("form", { class: "filters", role: "search", "aria-label": "Filter runners" },
    field("Label filter", labelFilter, "Runners having all these labels."),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Filter" }), filter.length ? h("a", { href: "/runners", class: "button secondary", text: "Clear filter" }) : null));
  filterForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const list = parseLabels(labelFilter.value);
    navigate(list.length ? `/runners?label=${encodeURIComponent(list.join(","))}` : "/runners");
  });
  add(main, h("h1", { text: "Runners" }), register, creds, msg, filterForm, total, table, empty);
  await load();

  // Live: runner events repaint their row on the next frame.
  const pending = new Map();
  const flush = onFrame(() => {
    let missing = false;
    for (const [id, r] of pending) {
      const row = rows.get(id);
      const fits = !filter.length || (Array.isArray(r.labels) ? filter.every((l) => r.labels.includes(l)) : true);
      if (row && fits) paint(row, { ...row.data, ...r });
      else if (row || fits) missing = true;
    }
    pending.clear();
    if (missing) load().catch(() => {});
  });
  const off = stream.on("runner", (r) => {
    if (!r || !r.id) return;
    pending.set(r.id, r);
    flush();
  });
  const offReset = stream.on("reset", () => load().catch(() => {}));
  // Heartbeat ages tick locally (no request).
  const tick = setInterval(() => {
    for (const row of rows.values()) {
      const span = row.hb.firstChild;
      if (span) span.textContent = age(row.data.lastHeartbeatAt);
    }
  }, 1000);
  return () => {
    off();
    offReset();
    clearInterval(tick);
  };
}
