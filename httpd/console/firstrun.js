// First run: the activation page (paste or upload the .lic) and the
// bootstrap page (the first administrator, whose email is the licensee's).

import { h, field, notice, add } from "./dom.js";
import { post } from "./api.js";

/** activate renders the activation page. */
export function activate(main, { activated }) {
  const text = h("textarea", { name: "license", rows: 8, required: true, spellcheck: "false", autocomplete: "off", class: "mono" });
  const file = h("input", { type: "file", accept: ".lic,.txt,text/plain" });
  const msg = notice();
  file.addEventListener("change", async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > 1 << 20) return msg.show("That file is too large to be a license.", "error");
    text.value = (await f.text()).trim();
    msg.show(`Read ${f.name}.`);
  });
  const button = h("button", { type: "submit", text: "Activate" });
  const form = h("form", { class: "card narrow", novalidate: true }, field("License", text, "The text of the .lic file your vendor sent, pasted, or read from a file below."),
    field("Or read it from a file (.lic)", file), h("div", { class: "actions" }, button), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!text.value.trim()) {
      msg.show("Paste the license or choose its file.", "error");
      text.focus();
      return;
    }
    button.disabled = true;
    try {
      const st = await post("/api/license/activate", { license: text.value.trim() }, { anonymous: true });
      if (st && st.licensee) sessionStorage.setItem("exekra.licensee", st.licensee);
      activated();
    } catch (err) {
      msg.error(err);
      button.disabled = false;
    }
  });
  add(main, h("h1", { text: "Activate Exekra" }),
    h("p", { class: "lead", text: "This server has no license yet. Activate it with the license issued to your organisation; no restart is needed." }), form);
  text.focus();
}

/** bootstrap renders the page that creates the first administrator. */
export function bootstrap(main, { signedIn }) {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "username", value: sessionStorage.getItem("exekra.licensee") || "" });
  const name = h("input", { type: "text", name: "name", required: true, autocomplete: "name", maxlength: 200 });
  const password = h("input", { type: "password", name: "password", required: true, minlength: 8, autocomplete: "new-password" });
  const msg = notice();
  const button = h("button", { type: "submit", text: "Create administrator" });
  const form = h("form", { class: "card narrow", novalidate: true },
    field("Email", email, "The licensee's email address."), field("Name", name),
    field("Password", password, "At least 8 characters."), h("div", { class: "actions" }, button), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      const res = await post("/api/auth/bootstrap", { email: email.value.trim(), password: password.value, name: name.value.trim() || email.value.trim() }, { anonymous: true });
      sessionStorage.removeItem("exekra.licensee");
      signedIn(res.user, "/");
    } catch (err) {
      msg.error(err);
      button.disabled = false;
    }
  });
  add(main, h("h1", { text: "Create the administrator" }),
    h("p", { class: "lead", text: "The license is active. Create the first administrator: their email must be the licensee's." }), form);
  (email.value ? name : email).focus();
}
