// Users (administrators): register, change role, disable and enable.
// Disabling or changing a role takes effect on the user's next request.

import { h, clear, field, notice, timeEl, add } from "./dom.js";
import { get, post, api, query } from "./api.js";
import { confirmDialog } from "./confirm.js";

const ROLES = ["ADMIN", "DEVELOPER", "OPERATOR"];

/** render shows the users page. */
export async function render(main, { params, user: me, navigate }) {
  const page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  const msg = notice();
  const email = h("input", { type: "email", required: true, autocomplete: "off" });
  const name = h("input", { type: "text", required: true, maxlength: 200, autocomplete: "off" });
  const password = h("input", { type: "password", required: true, minlength: 8, autocomplete: "new-password" });
  const role = h("select", {}, ROLES.map((r) => h("option", { value: r, text: r, selected: r === "OPERATOR" })));
  const btn = h("button", { type: "submit", text: "Register user" });
  const form = h("form", { class: "card inline-form", "aria-labelledby": "nu-h" }, h("h2", { id: "nu-h", text: "Register a user" }),
    field("User email", email), field("User name", name), field("Initial password", password), field("Role", role), h("div", { class: "actions" }, btn));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    btn.disabled = true;
    try {
      const res = await post("/api/auth/register", { email: email.value.trim(), name: name.value.trim(), password: password.value, role: role.value });
      email.value = name.value = password.value = "";
      msg.show(`${res.user.email} was registered as ${res.user.role}.`);
      await load();
    } catch (err) {
      msg.error(err);
    } finally {
      btn.disabled = false;
    }
  });

  const tbody = h("tbody");
  const pager = h("div");
  const row = (u) => {
    const self = u.id === me.id;
    const sel = h("select", { "aria-label": `Role of ${u.email}`, disabled: self }, ROLES.map((r) => h("option", { value: r, text: r, selected: r === u.role })));
    sel.addEventListener("change", async () => {
      const to = sel.value;
      if (!(await confirmDialog({ title: `Make ${u.email} ${to}?`, message: "It takes effect on their next request.", items: [`${u.name} <${u.email}>: ${u.role} → ${to}`], confirm: `Make ${to}`, danger: false }))) {
        sel.value = u.role;
        return;
      }
      try {
        await api("PATCH", `/api/users/${encodeURIComponent(u.id)}`, { role: to });
        msg.show(`${u.email} is now ${to}.`);
        await load();
      } catch (err) {
        msg.error(err);
        sel.value = u.role;
      }
    });
    const toggle = h("button", { type: "button", class: u.disabled ? "secondary" : "danger", text: u.disabled ? "Enable" : "Disable", "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.email}`, hidden: self });
    toggle.addEventListener("click", async () => {
      const verb = u.disabled ? "Enable" : "Disable";
      if (!(await confirmDialog({ title: `${verb} ${u.email}?`, message: u.disabled ? "They can sign in again; their old sessions stay ended." : "Every session they have ends now.", items: [`${u.name} <${u.email}> · ${u.role}`], confirm: `${verb} user`, danger: !u.disabled }))) return;
      try {
        await api("PATCH", `/api/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled });
        msg.show(`${u.email} was ${u.disabled ? "enabled" : "disabled"}.`);
        await load();
      } catch (err) {
        msg.error(err);
      }
    });
    return h("tr", { class: u.disabled ? "stale" : "" }, h("th", { scope: "row", text: u.name }), h("td", { text: u.email }), h("td", {}, sel),
      h("td", { text: u.disabled ? "disabled" : "active" }), h("td", {}, timeEl(u.lastLoginAt)), h("td", {}, timeEl(u.createdAt)), h("td", { class: "acts" }, toggle));
  };
  const load = async () => {
    const res = await get(`/api/users${query({ page, limit: 50 })}`);
    clear(tbody);
    res.users.forEach((u) => add(tbody, row(u)));
    const pg = res.pagination;
    clear(pager);
    if (pg.totalPages > 1) {
      const link = (n, text) => h("a", { class: "button secondary", href: `/users${query({ page: n > 1 ? n : "" })}`, text });
      add(pager, h("nav", { class: "pager", "aria-label": "Pages" }, page > 1 ? link(page - 1, "Previous page") : null,
        h("span", { text: `Page ${page} of ${pg.totalPages} · ${pg.total} users` }), page < pg.totalPages ? link(page + 1, "Next page") : null));
    }
  };
  void navigate;
  add(main, h("h1", { text: "Users" }), form, msg,
    h("table", { class: "data" }, h("caption", { class: "sr-only", text: "Users" }),
      h("thead", {}, h("tr", {}, ["Name", "Email", "Role", "State", "Last login", "Created", "Actions"].map((t) => h("th", { scope: "col", text: t })))), tbody),
    pager);
  await load();
}
