// Assets: values that workflows use by name ({{asset:NAME}}). SECRET values
// and CREDENTIAL passwords are write-only: the console sends them and never
// sees them again.

import { h, clear, field, notice, timeEl, add } from "./dom.js";
import { get, post, api, all } from "./api.js";
import { confirmDialog } from "./confirm.js";

/** render shows the assets page. */
export async function render(main, { canDevelop, isAdmin }) {
  const msg = notice();
  const tbody = h("tbody");
  let form = null;
  if (canDevelop) {
    const name = h("input", { type: "text", required: true, maxlength: 200, autocomplete: "off", spellcheck: "false" });
    const type = h("select", {}, ["TEXT", "SECRET", "CREDENTIAL"].map((t) => h("option", { value: t, text: t })));
    const value = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
    const username = h("input", { type: "text", autocomplete: "off", spellcheck: "false" });
    const password = h("input", { type: "password", autocomplete: "new-password" });
    const desc = h("input", { type: "text", maxlength: 2000, autocomplete: "off" });
    const valueField = field("Asset value", value);
    const userField = field("Credential username", username);
    const passField = field("Credential password", password);
    const shape = () => {
      const t = type.value;
      valueField.hidden = t === "CREDENTIAL";
      userField.hidden = passField.hidden = t !== "CREDENTIAL";
      value.type = t === "SECRET" ? "password" : "text";
    };
    type.addEventListener("change", shape);
    const btn = h("button", { type: "submit", text: "Create asset" });
    form = h("form", { class: "card inline-form", "aria-labelledby": "na-h" }, h("h2", { id: "na-h", text: "New asset" }),
      field("Asset name", name), field("Asset type", type), valueField, userField, passField, field("Description", desc), h("div", { class: "actions" }, btn));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { name: name.value.trim(), type: type.value, description: desc.value.trim() };
      if (type.value === "CREDENTIAL") Object.assign(body, { username: username.value, password: password.value });
      else body.value = value.value;
      btn.disabled = true;
      try {
        const res = await post("/api/assets", body);
        name.value = value.value = username.value = password.value = desc.value = "";
        msg.show(`Asset ${res.asset.name} was created.`);
        await load();
      } catch (err) {
        msg.error(err);
      } finally {
        btn.disabled = false;
      }
    });
    shape();
  }
  const load = async () => {
    const { items } = await all("/api/assets", "assets", 1000);
    clear(tbody);
    if (!items.length) add(tbody, h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No assets yet." })));
    for (const a of items) {
      const shown = a.type === "TEXT" ? a.value ?? "" : a.type === "CREDENTIAL" ? `${a.username ?? ""} / ${a.hasValue ? "password set" : "no password"}` : a.hasValue ? "set (write-only)" : "not set";
      const del = isAdmin ? h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete asset ${a.name}`, onclick: async () => {
        if (!(await confirmDialog({ title: `Delete asset ${a.name}?`, message: "Versions that use it fail to run until it exists again.", items: [`${a.name} (${a.type})`], confirm: "Delete asset" }))) return;
        try {
          await api("DELETE", `/api/assets/${encodeURIComponent(a.id)}`);
          msg.show(`Asset ${a.name} was deleted.`);
          await load();
        } catch (err) {
          msg.error(err);
        }
      } }) : null;
      add(tbody, h("tr", {}, h("th", { scope: "row", class: "mono", text: a.name }), h("td", { text: a.type }), h("td", { class: "clip", text: shown }),
        h("td", { class: "clip", text: a.description || "—" }), h("td", {}, timeEl(a.updatedAt)), h("td", { class: "acts" }, del)));
    }
  };
  add(main, h("h1", { text: "Assets" }),
    h("p", { class: "muted", text: "Workflows use them by name in node params: {{asset:NAME}}, {{asset:NAME.username}}, {{asset:NAME.password}}." }),
    form, msg,
    h("table", { class: "data" }, h("caption", { class: "sr-only", text: "Assets" }),
      h("thead", {}, h("tr", {}, ["Name", "Type", "Value", "Description", "Updated", ""].map((t) => h("th", { scope: "col", text: t })))), tbody));
  await load();
  void get;
}
