// The license page: status, limits and usage, expiry; administrators
// upload a renewal (no restart) or re-validate it now.

import { h, clear, field, notice, timeEl, add } from "./dom.js";
import { get, post, api } from "./api.js";

/** render shows the license page. */
export async function render(main, { stream, isAdmin }) {
  const facts = h("dl", { class: "facts" });
  const usage = h("tbody");
  const msg = notice();
  const show = (st) => {
    add(clear(facts), 
      h("dt", { text: "Status" }), h("dd", {}, h("span", { class: `badge l-${String(st.status).toLowerCase()}`, text: st.status || "—" })),
      h("dt", { text: "Licensee" }), h("dd", { text: st.licensee || "—" }),
      h("dt", { text: "Organization" }), h("dd", { text: st.organization || "—" }),
      h("dt", { text: "License id" }), h("dd", { class: "mono", text: st.licenseId || "—" }),
      h("dt", { text: "Issued" }), h("dd", {}, timeEl(st.issuedAt)),
      h("dt", { text: "Expires" }), h("dd", {}, timeEl(st.expiresAt), ` · ${st.daysRemaining} day${st.daysRemaining === 1 ? "" : "s"} left`),
      h("dt", { text: "Grace period" }), h("dd", {}, st.graceDays ? [`${st.graceDays} days · ends `, timeEl(st.graceEndsAt)] : "none"),
      st.invalidReason ? [h("dt", { text: "Problem" }), h("dd", { class: "error-text", text: st.invalidReason })] : null,
      st.validatedAt ? [h("dt", { text: "Last validated" }), h("dd", {}, timeEl(st.validatedAt))] : null);
    clear(usage);
    for (const k of ["runners", "users", "workflows"]) {
      const lim = st.limits ? st.limits[k] : 0;
      const used = st.usage ? st.usage[k] : 0;
      add(usage, h("tr", {}, h("th", { scope: "row", text: k[0].toUpperCase() + k.slice(1) }), h("td", { class: "num", text: used ?? "—" }),
        h("td", { class: "num", text: lim ? lim : "unlimited" }), h("td", { class: "num", text: lim ? `${Math.round((100 * used) / lim)}%` : "—" })));
    }
  };
  let renew = null;
  if (isAdmin) {
    const text = h("textarea", { rows: 6, spellcheck: "false", class: "mono" });
    const file = h("input", { type: "file", accept: ".lic,.txt,text/plain" });
    file.addEventListener("change", async () => {
      const f = file.files && file.files[0];
      if (f && f.size < 1 << 20) text.value = (await f.text()).trim();
    });
    const btn = h("button", { type: "submit", text: "Upload renewal" });
    const validate = h("button", { type: "button", class: "secondary", text: "Validate now" });
    renew = h("form", { class: "card", "aria-labelledby": "renew-h" }, h("h2", { id: "renew-h", text: "Renew" }),
      h("p", { class: "muted", text: "A renewal for the same licensee replaces the license at once; no restart is needed." }),
      field("Renewal license", text), field("Renewal file", file), h("div", { class: "actions" }, btn, validate));
    renew.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!text.value.trim()) return msg.show("Paste the renewal or choose its file.", "error");
      btn.disabled = true;
      try {
        show(await api("PUT", "/api/license", { license: text.value.trim() }));
        text.value = "";
        msg.show("The license was renewed.");
      } catch (err) {
        msg.error(err);
      } finally {
        btn.disabled = false;
      }
    });
    validate.addEventListener("click", async () => {
      try {
        show(await post("/api/license/validate"));
        msg.show("The license was validated.");
      } catch (err) {
        msg.error(err);
      }
    });
  }
  add(main, h("h1", { text: "License" }), msg, h("div", { class: "grid" },
    h("section", { class: "card", "aria-labelledby": "ls-h" }, h("h2", { id: "ls-h", text: "Standing" }), facts),
    h("section", { class: "card", "aria-labelledby": "lu-h" }, h("h2", { id: "lu-h", text: "Limits and usage" }),
      h("table", { class: "data" }, h("thead", {}, h("tr", {}, ["Resource", "Used", "Limit", "Share"].map((t) => h("th", { scope: "col", text: t })))), usage))),
  renew);
  show(await get("/api/license/status"));
  return stream.on("license", (st) => st && show(st));
}
