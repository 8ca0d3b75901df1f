// The signed-in user's own account: who they are, a password change and
// their API keys.

import { h, field, notice, timeEl, add } from "./dom.js";
import { post } from "./api.js";
import { apiKeys } from "./apikeys.js";

/** render shows the account page. */
export async function render(main, ctx) {
  const { user } = ctx;
  const current = h("input", { type: "password", required: true, autocomplete: "current-password" });
  const next = h("input", { type: "password", required: true, minlength: 8, autocomplete: "new-password" });
  const msg = notice();
  const button = h("button", { type: "submit", text: "Change password" });
  const form = h("form", { class: "card narrow", novalidate: true }, h("h2", { text: "Change your password" }),
    field("Current password", current), field("New password", next, "At least 8 characters. Your other sessions are signed out."),
    h("div", { class: "actions" }, button), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      await post("/api/auth/password", { currentPassword: current.value, newPassword: next.value });
      current.value = "";
      next.value = "";
      msg.show("Your password was changed.");
    } catch (err) {
      msg.error(err);
    } finally {
      button.disabled = false;
    }
  });
  const keys = apiKeys(ctx);
  add(main, h("h1", { text: "Account" }),
    h("dl", { class: "facts card" },
      h("dt", { text: "Name" }), h("dd", { text: user.name }),
      h("dt", { text: "Email" }), h("dd", { text: user.email }),
      h("dt", { text: "Role" }), h("dd", { text: user.role }),
      h("dt", { text: "Member since" }), h("dd", {}, timeEl(user.createdAt))),
    form, keys.section);
  await keys.ready;
}
