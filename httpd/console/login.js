// The login page; after signing in the user returns to where they were.

import { h, field, notice, add } from "./dom.js";
import { post } from "./api.js";

/** render shows the login form. */
export function render(main, { next, signedIn }) {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "username" });
  const password = h("input", { type: "password", name: "password", required: true, autocomplete: "current-password" });
  const msg = notice();
  const button = h("button", { type: "submit", text: "Sign in" });
  const form = h("form", { class: "card narrow", novalidate: true }, field("Email", email), field("Password", password),
    h("div", { class: "actions" }, button), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      const res = await post("/api/auth/login", { email: email.value.trim(), password: password.value }, { anonymous: true });
      signedIn(res.user, next);
    } catch (err) {
      msg.error(err);
      button.disabled = false;
      password.select();
    }
  });
  add(main, h("h1", { text: "Sign in" }), next !== "/" ? h("p", { class: "lead", text: "Your session has ended. Sign in to go back to where you were." }) : null, form);
  email.focus();
}
