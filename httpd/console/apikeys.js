// Personal API keys on the Account page (docs/api.md, Using API keys): the
// caller's own keys, a new key shown once, revocation with a confirmation;
// an administrator also sees everyone's keys (?all=true) and may revoke any.

import { h, clear, field, notice, timeEl, age, copyText, add } from "./dom.js";
import { post, api, all } from "./api.js";
import { confirmDialog } from "./confirm.js";
import { userNames } from "./actions.js";

const ROLES = ["ADMIN", "DEVELOPER", "OPERATOR"];
const DAY = 24 * 3600 * 1000;

/** apiKeys builds the API keys section of the account page. */
export function apiKeys(ctx) {
  const { user, isAdmin } = ctx;
  const everyone = isAdmin && new URLSearchParams(location.search).get("all") === "true";
  const msg = notice();
  const shown = h("div");
  const tbody = h("tbody");
  const empty = h("p", { class: "muted", text: everyone ? "Nobody has an API key." : "You have no API keys." });
  let people = new Map();
  const cols = ["Name", everyone ? "Owner" : null, "Role", "Prefix", "Expires", "Last used", "Created", "Actions"].filter(Boolean);
  const table = h("table", { class: "data" }, h("caption", { class: "sr-only", text: everyone ? "Everyone's API keys" : "Your API keys" }),
    h("thead", {}, h("tr", {}, cols.map((t) => h("th", { scope: "col", text: t })))), tbody);

  const load = async () => {
    const res = await all(`/api/auth/api-keys${everyone ? "?all=true" : ""}`, "apiKeys", 1000);
    clear(tbody);
    for (const k of res.items) {
      const expired = k.expiresAt && new Date(k.expiresAt).getTime() < Date.now();
      const revoke = h("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke key ${k.name}`, onclick: () => remove(k) });
      add(tbody, h("tr", { dataset: { id: k.id } }, h("th", { scope: "row", text: k.name }),
        everyone ? h("td", { title: k.userId, text: people.get(k.userId) || k.userId }) : null,
        h("td", { text: k.role }), h("td", { class: "mono", text: k.prefix }),
        h("td", {}, timeEl(k.expiresAt), expired ? h("span", { class: "badge s-failed", text: "expired" }) : null),
        h("td", { title: k.lastUsedAt || "" , text: k.lastUsedAt ? age(k.lastUsedAt) : "never" }),
        h("td", {}, timeEl(k.createdAt)), h("td", { class: "acts" }, revoke)));
    }
    table.hidden = !res.items.length;
    empty.hidden = !!res.items.length;
  };
  const owner = (k) => (k.userId === user.id ? "" : ` of ${people.get(k.userId) || k.userId}`);
  const remove = async (k) => {
    if (!(await confirmDialog({ title: `Revoke the API key ${k.name}?`, message: "Scripts using it are refused at once (401). This cannot be undone.",
      items: [`${k.name}${owner(k)} · ${k.role} · ${k.prefix}…`], confirm: "Revoke key" }))) return;
    try {
      await api("DELETE", `/api/auth/api-keys/${encodeURIComponent(k.id)}`);
      msg.show(`The API key ${k.name} was revoked.`);
      await load();
    } catch (err) {
      msg.error(err);
    }
  };

  // ---- create --------------------------------------------------------------
  const name = h("input", { type: "text", required: true, maxlength: 200, autocomplete: "off" });
  const expiry = h("select", {}, [[30, "30 days"], [90, "90 days"], [180, "180 days"], [365, "365 days"]].map(([d, t]) => h("option", { value: d, text: t, selected: d === 90 })));
  const role = h("select", {}, ROLES.slice(ROLES.indexOf(user.role)).map((r) => h("option", { value: r, text: r === user.role ? `${r} (yours)` : r })));
  const btn = h("button", { type: "submit", text: "Create API key" });
  const form = h("form", { class: "card inline-form", "aria-labelledby": "nk-h" }, h("h3", { id: "nk-h", text: "New API key" }),
    field("Key name", name), field("Key expiry", expiry), field("Key role", role, "A key may act with a lower role than yours."), h("div", { class: "actions" }, btn));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!name.value.trim()) {
      msg.show("Give the key a name.", "error");
      name.focus();
      return;
    }
    btn.disabled = true;
    try {
      const body = { name: name.value.trim(), expiresAt: new Date(Date.now() + Number(expiry.value) * DAY - 60000).toISOString() };
      if (role.value !== user.role) body.role = role.value;
      const out = await post("/api/auth/api-keys", body);
      name.value = "";
      const copied = notice();
      add(clear(shown), h("section", { class: "card secret", "aria-labelledby": "key-h" },
        h("h3", { id: "key-h", tabindex: "-1", text: `API key ${out.apiKey.name} created` }),
        h("p", { class: "notice warn", text: "The key is shown this once. Copy it now: it cannot be read again (create another if it is lost). Anyone holding it acts as you." }),
        h("p", {}, h("code", { class: "mono", text: out.key }), " ",
          h("button", { type: "button", class: "secondary", text: "Copy key", onclick: async () => copied.show((await copyText(out.key)) ? "The key is on the clipboard." : "Select the key and copy it.") })),
        h("p", { class: "muted small", text: `Send it as: Authorization: Bearer ${out.apiKey.prefix}…` }), copied));
      shown.querySelector("h3").focus();
      msg.show(`The API key ${out.apiKey.name} was created.`);
      await load();
    } catch (err) {
      msg.error(err);
    } finally {
      btn.disabled = false;
    }
  });

  const toggle = isAdmin
    ? h("a", { href: everyone ? "/account" : "/account?all=true", text: everyone ? "Show only my keys" : "Show everyone's keys" })
    : null;
  const section = h("section", { class: "card wide", "aria-labelledby": "keys-h" },
    h("h2", { id: "keys-h", text: everyone ? "Everyone's API keys" : "API keys" }),
    h("p", { class: "muted", text: "Long-lived credentials for scripts and CI, sent as Authorization: Bearer <key>." }),
    toggle, form, shown, msg, table, empty);
  const ready = (everyone ? userNames(ctx).then((m) => { people = m; }) : Promise.resolve()).then(load);
  return { section, ready };
}
