// Workflows: the list with search and creation, and one workflow's page:
// versions, a draft editor checked as you type with a drawing of the
// graph, the diff against the published version, publishing and "run now".

import { h, clear, field, notice, timeEl, shortId, add } from "./dom.js";
import { get, post, api, all } from "./api.js";
import { parseLabels, labelProblem, labelTags } from "./labels.js";
import { confirmDialog } from "./confirm.js";
import { validate, draw, pretty, diff } from "./graph.js";
import { userNames } from "./actions.js";

const TEMPLATE = `{
  "nodes": [
    {"id": "start", "type": "start"},
    {"id": "hello", "type": "log", "params": {"message": "hello"}},
    {"id": "end", "type": "end"}
  ],
  "edges": [
    {"source": "start", "target": "hello"},
    {"source": "hello", "target": "end"}
  ]
}`;

/** list renders the workflows page. */
export async function list(main, { params, canDevelop, navigate }) {
  const search = h("input", { type: "search", value: params.get("q") || "", dataset: { search: "" }, autocomplete: "off" });
  const tbody = h("tbody");
  const count = h("p", { class: "muted small", "aria-live": "polite" });
  const msg = notice();
  let create = null;
  if (canDevelop) {
    const name = h("input", { type: "text", required: true, maxlength: 200, autocomplete: "off" });
    const desc = h("input", { type: "text", maxlength: 2000, autocomplete: "off" });
    const btn = h("button", { type: "submit", text: "Create workflow" });
    create = h("form", { class: "card inline-form", "aria-labelledby": "nw-h" }, h("h2", { id: "nw-h", text: "New workflow" }),
      field("Workflow name", name), field("Description", desc), h("div", { class: "actions" }, btn));
    create.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        const res = await post("/api/workflows", { name: name.value.trim(), description: desc.value.trim() });
        navigate(`/workflows/${encodeURIComponent(res.workflow.id)}`);
      } catch (err) {
        msg.error(err);
      }
    });
  }
  add(main, h("h1", { text: "Workflows" }), create, msg,
    h("div", { class: "toolbar", role: "search" }, h("label", { for: (search.id = "wf-search"), text: "Search workflows" }), search,
      h("a", { href: "/assets", text: "Assets used by workflows" })), count,
    h("table", { class: "data" }, h("caption", { class: "sr-only", text: "Workflows" }),
      h("thead", {}, h("tr", {}, ["Name", "Description", "Published version", "Latest version", "Updated"].map((t) => h("th", { scope: "col", text: t })))), tbody));
  const { items, total } = await all("/api/workflows", "workflows", 1000);
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const hits = items.filter((w) => !q || w.name.toLowerCase().includes(q) || (w.description || "").toLowerCase().includes(q));
    clear(tbody);
    for (const w of hits) {
      add(tbody, h("tr", {}, h("th", { scope: "row" }, h("a", { href: `/workflows/${encodeURIComponent(w.id)}`, text: w.name })),
        h("td", { class: "clip", text: w.description || "—" }), h("td", { text: w.publishedVersionId ? "yes" : "none" }),
        h("td", { text: w.latestVersionNumber || "—" }), h("td", {}, timeEl(w.updatedAt))));
    }
    count.textContent = `${hits.length} of ${total} workflow${total === 1 ? "" : "s"}`;
    const u = new URL(location.href);
    if (q) u.searchParams.set("q", search.value.trim());
    else u.searchParams.delete("q");
    history.replaceState(null, "", u.pathname + u.search);
  };
  search.addEventListener("input", show);
  show();
}

/** detail renders one workflow's page. */
export async function detail(main, ctx) {
  const { id, canDevelop, isAdmin, navigate } = ctx;
  const msg = notice();
  let wf;
  try {
    wf = (await get(`/api/workflows/${encodeURIComponent(id)}`)).workflow;
  } catch (err) {
    add(main, h("h1", { text: "Workflow not found" }), h("p", { class: "notice error", role: "alert", text: err.message }));
    return;
  }
  const versions = wf.versions || [];
  const people = await userNames(ctx);
  const published = versions.find((v) => v.status === "PUBLISHED");
  const latest = versions[0];

  // ---- run now -------------------------------------------------------------
  const input = h("textarea", { rows: 3, spellcheck: "false", class: "mono", placeholder: "{}" });
  const prio = h("select", {}, ["NORMAL", "HIGH", "LOW"].map((p) => h("option", { value: p, text: p })));
  const runBtn = h("button", { type: "submit", text: "Run now", disabled: !published });
  const run = h("form", { class: "card", "aria-labelledby": "run-h" }, h("h2", { id: "run-h", text: "Run" }),
    published ? null : h("p", { class: "muted", text: "Publish a version first." }),
    field("Input (JSON)", input), field("Priority", prio), h("div", { class: "actions" }, runBtn));
  run.addEventListener("submit", async (e) => {
    e.preventDefault();
    let body = { workflowId: wf.id, priority: prio.value };
    if (input.value.trim()) {
      try {
        body.input = JSON.parse(input.value);
      } catch (err) {
        msg.show(`The input is not valid JSON: ${err.message}`, "error");
        input.focus();
        return;
      }
    }
    try {
      const res = await post("/api/executions", body);
      navigate(`/executions/${encodeURIComponent(res.execution.id)}`);
    } catch (err) {
      msg.error(err);
    }
  });

  // ---- runner labels -------------------------------------------------------
  const labelsShown = h("p");
  const paintLabels = () => add(clear(labelsShown), wf.runnerLabels && wf.runnerLabels.length
    ? labelTags(wf.runnerLabels, (l) => `/runners?label=${encodeURIComponent(l)}`)
    : h("span", { class: "muted", text: "None: any unattended runner takes its executions." }));
  paintLabels();
  let labelForm = null;
  if (canDevelop) {
    const labelsIn = h("input", { type: "text", value: (wf.runnerLabels || []).join(", "), autocomplete: "off", spellcheck: "false", class: "mono" });
    labelForm = h("form", { class: "inline-form" }, field("Workflow runner labels", labelsIn, "Comma separated; empty for any runner. Applies to executions created from now on."),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary", text: "Save runner labels" })));
    labelForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const list = parseLabels(labelsIn.value);
      const problem = labelProblem(list);
      if (problem) {
        msg.show(problem, "error");
        labelsIn.focus();
        return;
      }
      try {
        const res = await api("PATCH", `/api/workflows/${encodeURIComponent(wf.id)}`, { runnerLabels: list });
        wf.runnerLabels = (res.workflow && res.workflow.runnerLabels) || list;
        labelsIn.value = wf.runnerLabels.join(", ");
        paintLabels();
        msg.show(list.length ? `Its executions now need a runner with ${list.join(", ")}.` : "Any unattended runner takes its executions now.");
      } catch (err) {
        msg.error(err);
      }
    });
  }
  const labelsCard = h("section", { class: "card", "aria-labelledby": "rl-h" }, h("h2", { id: "rl-h", text: "Runner labels" }),
    h("p", { class: "muted small", text: "Its executions go only to runners having all of these labels." }), labelsShown, labelForm);

  // ---- versions ------------------------------------------------------------
  const vt = h("table", { class: "data" }, h("caption", { class: "sr-only", text: "Versions" }),
    h("thead", {}, h("tr", {}, ["Version", "Status", "By", "Saved", "Published"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, versions.map((v) => h("tr", {}, h("th", { scope: "row", text: `v${v.number}` }),
      h("td", {}, h("span", { class: `badge v-${String(v.status).toLowerCase()}`, text: v.status })),
      h("td", { title: v.createdBy, text: people.get(v.createdBy) || shortId(v.createdBy) }), h("td", {}, timeEl(v.createdAt)), h("td", {}, timeEl(v.publishedAt))))));

  // ---- editor --------------------------------------------------------------
  let editor = null;
  if (canDevelop) {
    const text = h("textarea", { rows: 18, spellcheck: "false", class: "mono code-edit", "aria-describedby": "g-problems" });
    text.value = latest ? pretty(latest.graphJson) : TEMPLATE;
    const problems = h("ul", { id: "g-problems", class: "problems", "aria-live": "polite" });
    const preview = h("div", { class: "graph-box", tabindex: "0", "aria-label": "Graph preview" });
    const diffBox = h("pre", { class: "code diff", tabindex: "0", "aria-label": "Differences from the published version" });
    const saveBtn = h("button", { type: "button", text: "Save draft" });
    const pubBtn = h("button", { type: "button", class: "secondary", text: "Publish", disabled: !(latest && latest.status === "DRAFT") });
    let timer = null;
    const check = () => {
      const r = validate(text.value);
      clear(problems);
      for (const e of r.errors) add(problems, h("li", { class: "error-text", text: e.message }));
      for (const w of r.warnings) add(problems, h("li", { class: "warn-text", text: w.message }));
      if (!r.errors.length) add(problems, h("li", { class: "ok-text", text: r.warnings.length ? "Valid (with warnings)." : "Valid." }));
      text.setAttribute("aria-invalid", r.errors.length ? "true" : "false");
      saveBtn.disabled = r.errors.length > 0;
      if (r.graph) clear(preview).append(draw(r.graph, new Set(r.errors.filter((e) => e.node).map((e) => e.node))));
      const base = published ? pretty(published.graphJson) : "";
      clear(diffBox);
      if (!published) diffBox.textContent = "Nothing is published yet.";
      else {
        const d = diff(base, pretty(text.value));
        if (d.every(([op]) => op === " ")) diffBox.textContent = "Same as the published version.";
        else for (const [op, line] of d) add(diffBox, h("span", { class: op === "+" ? "add" : op === "-" ? "del" : "same", text: `${op} ${line}` }));
      }
    };
    text.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(check, 120);
    });
    saveBtn.addEventListener("click", async () => {
      try {
        const res = await post(`/api/workflows/${encodeURIComponent(wf.id)}/draft`, { graphJson: text.value });
        msg.show(`Saved draft v${res.version.number}.`);
        navigate(location.pathname, { replace: true });
      } catch (err) {
        msg.error(err);
      }
    });
    pubBtn.addEventListener("click", async () => {
      if (!(await confirmDialog({ title: `Publish v${latest.number} of ${wf.name}?`, message: "New executions run it from now on; the published version before it is superseded.", items: [`${wf.name} v${latest.number}`], confirm: "Publish", danger: false }))) return;
      try {
        await post(`/api/workflows/${encodeURIComponent(wf.id)}/publish`);
        msg.show(`Published v${latest.number}.`);
        navigate(location.pathname, { replace: true });
      } catch (err) {
        msg.error(err);
      }
    });
    editor = h("section", { class: "card wide", "aria-labelledby": "ed-h" }, h("h2", { id: "ed-h", text: "Graph" }),
      h("div", { class: "editor" },
        h("div", {}, h("label", { for: (text.id = "graph-json"), text: "Graph JSON" }), text, problems,
          h("div", { class: "actions" }, saveBtn, pubBtn, latest && latest.status === "DRAFT" ? h("span", { class: "muted small", text: `Draft v${latest.number} is not published yet.` }) : null)),
        h("div", {}, h("h3", { text: "Preview" }), preview, h("h3", { text: "Changes against the published version" }), diffBox)));
    check();
  } else if (latest) {
    const r = validate(latest.graphJson);
    editor = h("section", { class: "card wide", "aria-labelledby": "ed-h" }, h("h2", { id: "ed-h", text: "Graph" }),
      h("div", { class: "graph-box", tabindex: "0", "aria-label": "Graph preview" }, draw(r.graph)));
  }
  void isAdmin;
  add(main, h("h1", {}, "Workflow ", h("span", { text: wf.name })),
    h("p", { class: "lead", text: wf.description || "" }),
    h("div", { class: "toolbar" }, h("a", { href: `/executions?workflowId=${encodeURIComponent(wf.id)}`, text: `Runs (${wf.executionCount ?? 0})` }),
      h("a", { href: "/workflows", text: "Back to the list" })),
    msg, h("div", { class: "grid" }, run, h("section", { class: "card", "aria-labelledby": "ver-h" }, h("h2", { id: "ver-h", text: "Versions" }),
      versions.length ? vt : h("p", { class: "muted", text: "No versions yet." }))), labelsCard, editor);
}
