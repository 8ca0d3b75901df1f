// Event subscriptions (administrators): outbound webhooks that receive
// chosen events, signed with a secret shown once (at creation and rotation);
// each one's delivery log, a test ping and the retry of a failed delivery.

import { h, clear, field, notice, timeEl, copyText, statusBadge, add } from "./dom.js";
import { get, post, api, all } from "./api.js";
import { confirmDialog } from "./confirm.js";

const TYPES = ["execution.completed", "execution.failed", "execution.stopped", "execution.stale", "runner.online", "runner.offline",
  "trigger.skipped", "license.expiring", "license.grace_period", "license.expired", "ping"];

/** secretBox shows a subscription's secret once, with copy. */
function secretBox(out, msg, title, secret) {
  clear(out);
  add(out, h("section", { class: "card secret", "aria-labelledby": "ss-h" }, h("h2", { id: "ss-h", text: title }),
    h("p", { class: "notice warn", text: "The signing secret is shown this once: receivers verify the webhook-signature header with it." }),
    h("p", {}, h("code", { class: "mono", text: secret }), " ",
      h("button", { type: "button", class: "secondary", text: "Copy secret", onclick: async () => msg.show((await copyText(secret)) ? "The secret is on the clipboard." : "Select the secret and copy it.") }))));
}

/** deliveries shows a subscription's delivery log (newest first) with retry. */
async function deliveries(box, msg, s) {
  const res = await get(`/api/subscriptions/${encodeURIComponent(s.id)}/deliveries?limit=50`);
  const retry = async (d) => {
    try {
      const out = await post(`/api/subscriptions/${encodeURIComponent(s.id)}/deliveries/${encodeURIComponent(d.id)}/retry`);
      msg.show(`Delivery of ${d.type}: ${out.delivery.status}${out.delivery.lastError ? ` (${out.delivery.lastError})` : ""}.`, out.delivery.status === "DELIVERED" ? "ok" : "error");
    } catch (err) {
      msg.error(err);
    }
    await deliveries(box, msg, s);
  };
  const rows = res.deliveries.map((d) => h("tr", { dataset: { id: d.id } }, h("th", { scope: "row", class: "mono", text: d.type }),
    h("td", {}, statusBadge(d.status)), h("td", { text: d.attempts }),
    h("td", { class: "clip small", title: d.lastError || "", text: [d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : "", d.lastError || ""].filter(Boolean).join(" · ") || "—" }),
    h("td", {}, timeEl(d.createdAt)), h("td", {}, d.status === "DELIVERED" ? timeEl(d.deliveredAt) : timeEl(d.nextAttemptAt)),
    h("td", { class: "acts" }, d.status === "DELIVERED" ? null
      : h("button", { type: "button", class: "secondary", text: "Retry", "aria-label": `Retry delivery ${d.id}`, onclick: () => retry(d) }))));
  add(clear(box), h("section", { class: "card wide", "aria-labelledby": "dl-h" },
    h("h2", { id: "dl-h", tabindex: "-1", text: `Deliveries to ${s.url}` }),
    h("p", { class: "muted small", text: `${res.pagination.total} deliver${res.pagination.total === 1 ? "y" : "ies"} kept (the last 1000); the newest 50 shown.` }),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", text: "Refresh deliveries", onclick: () => deliveries(box, msg, s).catch((e) => msg.error(e)) })),
    rows.length ? h("table", { class: "data" }, h("caption", { class: "sr-only", text: `Deliveries to ${s.url}` }),
      h("thead", {}, h("tr", {}, ["Event", "Status", "Attempts", "Last answer", "Created", "Delivered or next attempt", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, rows)) : h("p", { class: "muted", text: "Nothing delivered yet." })));
}

/** render shows the subscriptions page. */
export async function render(main) {
  const msg = notice();
  const out = h("div");
  const tbody = h("tbody");
  const log = h("div", { class: "deliveries" });
  const url = h("input", { type: "url", required: true, autocomplete: "off", spellcheck: "false", placeholder: "https://receiver.example/hooks/exekra" });
  const desc = h("input", { type: "text", maxlength: 500, autocomplete: "off" });
  const all_ = h("input", { type: "checkbox", checked: true });
  const boxes = TYPES.map((t) => h("input", { type: "checkbox", value: t, disabled: true }));
  all_.addEventListener("change", () => boxes.forEach((b) => (b.disabled = all_.checked)));
  const btn = h("button", { type: "submit", text: "Create subscription" });
  const form = h("form", { class: "card", "aria-labelledby": "nsub-h" }, h("h2", { id: "nsub-h", text: "New subscription" }),
    h("div", { class: "inline-form" }, field("Receiver URL", url), field("Description", desc)),
    h("fieldset", { class: "types" }, h("legend", { text: "Events" }),
      h("label", {}, all_, " every event (*)"), boxes.map((b) => h("label", {}, b, ` ${b.value}`))),
    h("div", { class: "actions" }, btn));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const events = all_.checked ? ["*"] : boxes.filter((b) => b.checked).map((b) => b.value);
    btn.disabled = true;
    try {
      const res = await post("/api/subscriptions", { url: url.value.trim(), events, description: desc.value.trim(), enabled: true });
      url.value = desc.value = "";
      secretBox(out, msg, `Subscription to ${res.subscription.url} created`, res.subscription.secret);
      msg.show("The subscription was created.");
      await load();
    } catch (err) {
      msg.error(err);
    } finally {
      btn.disabled = false;
    }
  });
  const load = async () => {
    const { items } = await all("/api/subscriptions", "subscriptions", 1000);
    clear(tbody);
    if (!items.length) add(tbody, h("tr", {}, h("td", { colspan: 6, class: "muted", text: "No subscriptions yet." })));
    for (const s of items) {
      const on = h("input", { type: "checkbox", checked: s.enabled, "aria-label": `Subscription to ${s.url} enabled` });
      on.addEventListener("change", async () => {
        try {
          await api("PATCH", `/api/subscriptions/${encodeURIComponent(s.id)}`, { enabled: on.checked });
          msg.show(`Deliveries to ${s.url} ${on.checked ? "resume" : "pause"}.`);
        } catch (err) {
          on.checked = !on.checked;
          msg.error(err);
        }
      });
      const rotate = h("button", { type: "button", class: "secondary", text: "Rotate secret", "aria-label": `Rotate the secret of the subscription to ${s.url}`, onclick: async () => {
        if (!(await confirmDialog({ title: "Rotate the signing secret?", message: "New deliveries are signed with the new secret (the old one keeps verifying for a while).", items: [s.url], confirm: "Rotate secret" }))) return;
        try {
          const res = await post(`/api/subscriptions/${encodeURIComponent(s.id)}/rotate-secret`);
          secretBox(out, msg, `New secret of the subscription to ${s.url}`, (res.subscription || res).secret);
        } catch (err) {
          msg.error(err);
        }
      } });
      const del = h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete the subscription to ${s.url}`, onclick: async () => {
        if (!(await confirmDialog({ title: "Delete this subscription?", message: "No more events are sent to it.", items: [s.url], confirm: "Delete subscription" }))) return;
        try {
          await api("DELETE", `/api/subscriptions/${encodeURIComponent(s.id)}`);
          msg.show(`The subscription to ${s.url} was deleted.`);
          await load();
        } catch (err) {
          msg.error(err);
        }
      } });
      const show = async () => {
        try {
          await deliveries(log, msg, s);
          log.querySelector("h2").focus();
        } catch (err) {
          msg.error(err);
        }
      };
      const logBtn = h("button", { type: "button", class: "secondary", text: "Deliveries", "aria-label": `Deliveries to ${s.url}`, onclick: show });
      const ping = h("button", { type: "button", class: "secondary", text: "Test", "aria-label": `Send a test ping to ${s.url}`, onclick: async () => {
        ping.disabled = true;
        try {
          const res = await post(`/api/subscriptions/${encodeURIComponent(s.id)}/test`);
          const d = res.delivery;
          msg.show(`Test ping to ${s.url}: ${d.status}${d.lastStatusCode ? ` (HTTP ${d.lastStatusCode})` : ""}${d.lastError ? ` ${d.lastError}` : ""}.`, d.status === "DELIVERED" ? "ok" : "error");
          await deliveries(log, msg, s);
        } catch (err) {
          msg.error(err);
        } finally {
          ping.disabled = false;
        }
      } });
      add(tbody, h("tr", {}, h("th", { scope: "row", class: "mono clip", text: s.url }), h("td", { class: "small", text: (s.events || []).join(", ") }),
        h("td", { class: "clip", text: s.description || "—" }), h("td", {}, timeEl(s.createdAt)), h("td", {}, on), h("td", { class: "acts" }, logBtn, ping, rotate, del)));
    }
  };
  add(main, h("h1", { text: "Event subscriptions" }),
    h("p", { class: "muted", text: "Exekra posts the chosen events to each receiver, signed as Standard Webhooks, and retries failed deliveries." }),
    form, out, msg,
    h("table", { class: "data" }, h("caption", { class: "sr-only", text: "Subscriptions" }),
      h("thead", {}, h("tr", {}, ["Receiver", "Events", "Description", "Created", "Enabled", "Actions"].map((t) => h("th", { scope: "col", text: t })))), tbody), log);
  await load();
}
