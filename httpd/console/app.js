// The console's entry: reads the system state, then shows the first-run
// pages (activation, bootstrap), the login page or the signed-in shell
// with its navigation, and routes with the history API.

import { h, clear, setZone, zoneName, timeText, uid, add } from "./dom.js";
import { get, post, onUnauthorized } from "./api.js";
import { Stream } from "./events.js";
import * as firstRun from "./firstrun.js";
import * as login from "./login.js";
import * as dashboard from "./dashboard.js";
import * as executions from "./executions.js";
import * as execution from "./execution.js";
import * as runners from "./runners.js";
import * as license from "./license.js";
import * as lists from "./lists.js";
import * as account from "./account.js";
import * as users from "./users.js";
import * as workflows from "./workflows.js";
import * as admin from "./admin.js";
import * as assets from "./assets.js";
import * as subscriptions from "./subscriptions.js";

const ADMIN = ["ADMIN"];

// The navigation (docs/console.md): name, path, page, roles (all when absent).
const NAV = [
  ["Dashboard", "/", dashboard.render],
  ["Executions", "/executions", executions.render],
  ["Runners", "/runners", runners.render],
  ["Workflows", "/workflows", workflows.list],
  ["Triggers", "/triggers", admin.triggers],
  ["Analytics", "/analytics", lists.analytics],
  ["Users", "/users", users.render, ADMIN],
  ["Audit", "/audit", admin.audit, ADMIN],
  ["License", "/license", license.render],
  ["System", "/system", admin.system, ADMIN],
];

const session = { user: null, state: null, stream: null, license: null };
let cleanup = null;
let shell = null;

/** navigate moves to path (a same-origin path) and shows its page. */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  route();
}

/** safeNext is a same-origin path to return to, or "/". */
function safeNext(p) {
  return typeof p === "string" && p.startsWith("/") && !p.startsWith("//") && !p.startsWith("/\\") ? p : "/";
}

function here() {
  return location.pathname + location.search;
}

function goLogin() {
  const next = location.pathname === "/login" ? new URLSearchParams(location.search).get("next") : here();
  signedOut();
  navigate(`/login${next && next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`, { replace: true });
}

function signedOut() {
  session.user = null;
  if (session.stream) session.stream.close();
  session.stream = null;
  shell = null;
}

onUnauthorized(() => {
  if (session.user) goLogin();
});

/** signedIn is called by the login and bootstrap pages with the new user. */
export function signedIn(user, next) {
  session.user = user;
  session.state = session.state === "OPERATIONAL" ? "OPERATIONAL" : "BOOTSTRAPPED";
  navigate(safeNext(next), { replace: true });
}

/** activated is called by the activation page. */
export function activated() {
  session.state = "ACTIVATED";
  navigate("/bootstrap", { replace: true });
}

async function route() {
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.error(e);
    }
    cleanup = null;
  }
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  if (!session.state || session.state === "UNACTIVATED" || session.state === "ACTIVATED") {
    try {
      session.state = (await get("/api/status", { anonymous: true })).state;
    } catch (e) {
      return fatal(e);
    }
  }
  const app = document.getElementById("app");
  if (session.state === "UNACTIVATED") {
    if (path !== "/activate") history.replaceState(null, "", "/activate");
    return bare(app, (main) => firstRun.activate(main, { activated }));
  }
  if (session.state === "ACTIVATED") {
    if (path !== "/bootstrap") history.replaceState(null, "", "/bootstrap");
    return bare(app, (main) => firstRun.bootstrap(main, { signedIn }));
  }
  if (path === "/activate" || path === "/bootstrap") return navigate("/", { replace: true });
  if (!session.user) {
    try {
      session.user = (await get("/api/auth/me", { anonymous: true })).user;
    } catch (e) {
      if (e.status !== 401) return fatal(e);
    }
  }
  if (path === "/login") {
    if (session.user) return navigate(safeNext(params.get("next")), { replace: true });
    return bare(app, (main) => login.render(main, { next: safeNext(params.get("next")), signedIn }));
  }
  if (!session.user) return goLogin();
  if (!shell) buildShell(app);
  const main = shell.main;
  clear(main);
  for (const [, href, , roles] of NAV) {
    const link = shell.links.get(href);
    if (link) {
      const active = href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
      if (active) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    void roles;
  }
  const ctx = {
    user: session.user,
    params,
    stream: session.stream,
    navigate,
    isAdmin: session.user.role === "ADMIN",
    canDevelop: session.user.role === "ADMIN" || session.user.role === "DEVELOPER",
  };
  let page = null;
  const m = path.match(/^\/executions\/([^/]+)$/);
  const w = path.match(/^\/workflows\/([^/]+)$/);
  if (m) page = (el, c) => execution.render(el, { ...c, id: decodeURIComponent(m[1]) });
  else if (w) page = (el, c) => workflows.detail(el, { ...c, id: decodeURIComponent(w[1]) });
  else if (path === "/account") page = account.render;
  else if (path === "/assets") page = assets.render;
  else if (path === "/subscriptions") page = session.user.role === "ADMIN" ? subscriptions.render : (el) => forbidden(el, "Event subscriptions");
  else {
    const entry = NAV.find(([, href]) => href === path);
    if (entry && (!entry[3] || entry[3].includes(session.user.role))) page = entry[2];
    else if (entry) page = (el) => forbidden(el, entry[0]);
  }
  if (!page) page = notFound;
  try {
    const done = await page(main, ctx);
    if (typeof done === "function") cleanup = done;
  } catch (e) {
    if (e.status === 401) return;
    add(clear(main), h("h1", { text: "Something went wrong" }), h("p", { class: "notice error", role: "alert", text: e.message }));
  }
  document.title = `${(main.querySelector("h1") || {}).textContent || "Exekra"} · Exekra`;
  if (route.moved) main.focus({ preventScroll: true });
  route.moved = true;
}

function bare(app, render) {
  shell = null;
  const main = h("main", { id: "main", tabindex: "-1", class: "bare" });
  add(clear(app), h("div", { class: "brand-bare", "aria-hidden": "true", text: "Exekra" }), main);
  Promise.resolve(render(main)).then((done) => {
    if (typeof done === "function") cleanup = done;
    document.title = `${(main.querySelector("h1") || {}).textContent || "Exekra"} · Exekra`;
  });
}

function fatal(e) {
  const app = document.getElementById("app");
  add(clear(app), h("main", { id: "main" }, h("h1", { text: "The server cannot be reached" }),
    h("p", { role: "alert", class: "notice error", text: e.message }),
    h("button", { type: "button", text: "Try again", onclick: () => route() })));
}

function notFound(main) {
  add(main, h("h1", { text: "Page not found" }), h("p", {}, "There is no page at this address. ", h("a", { href: "/", text: "Home" })));
}

function forbidden(main, name) {
  add(main, h("h1", { text: name }), h("p", { class: "notice error", text: "Your role may not use this page." }));
}

function buildShell(app) {
  const user = session.user;
  const links = new Map();
  const nav = h("nav", { "aria-label": "Main" }, h("ul", {},
    NAV.filter(([, , , roles]) => !roles || roles.includes(user.role)).map(([name, href]) => {
      const a = h("a", { href, text: name });
      links.set(href, a);
      return h("li", {}, a);
    })));
  const zoneId = uid("zone");
  const zoneSel = h("select", { id: zoneId, onchange: (e) => setZone(e.target.value) },
    h("option", { value: "local", text: "Local time", selected: zoneName() === "local" }),
    h("option", { value: "utc", text: "UTC", selected: zoneName() === "utc" }));
  const live = h("span", { class: "live", role: "status", "aria-live": "polite", text: "Connecting…" });
  const banner = h("div", { class: "banner", hidden: true });
  const main = h("main", { id: "main", tabindex: "-1" });
  const header = h("header", { class: "top" },
    h("a", { class: "brand", href: "/", "aria-label": "Exekra home" }, h("span", { class: "logo", "aria-hidden": "true" }), "Exekra"),
    nav,
    h("div", { class: "who" }, live,
      h("span", { class: "zone" }, h("label", { for: zoneId, text: "Time zone" }), zoneSel),
      h("a", { href: "/account", text: "Account", title: `${user.name} <${user.email}> · ${user.role}` }),
      h("span", { class: "role", text: user.role }),
      h("button", { type: "button", class: "secondary", text: "Sign out", onclick: signOut })));
  add(clear(app), header, banner, main);
  shell = { main, links, banner };
  if (session.stream) session.stream.close();
  session.stream = new Stream({ types: "execution,runner,trigger,license,stats" }, goLogin).start();
  session.stream.onState((s) => {
    live.textContent = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…", closed: "Offline" }[s] || s;
    live.dataset.state = s;
  });
  session.stream.on("license", (st) => showLicense(st));
  session.stream.on("reset", () => route());
  get("/api/license/status").then(showLicense, () => {});
}

/** showLicense shows the license banner from 30 days before expiry on. */
function showLicense(st) {
  session.license = st;
  if (!shell || !st) return;
  const b = shell.banner;
  let text = "";
  let kind = "warn";
  if (st.status === "EXPIRED" || st.status === "INVALID") {
    text = `The license is ${st.status.toLowerCase()}: new executions, runners, users and publishing are refused until it is renewed.`;
    kind = "error";
  } else if (st.status === "GRACE_PERIOD") {
    text = `The license expired on ${timeText(st.expiresAt)}; the grace period ends on ${timeText(st.graceEndsAt)}. Renew it now.`;
    kind = "error";
  } else if (st.status === "ACTIVE" && st.daysRemaining <= 30) {
    text = `The license expires in ${st.daysRemaining} day${st.daysRemaining === 1 ? "" : "s"}, on ${timeText(st.expiresAt)}.`;
  }
  clear(b);
  b.hidden = !text;
  if (text) {
    b.className = `banner ${kind}`;
    b.setAttribute("role", kind === "error" ? "alert" : "status");
    add(b, h("span", { text }), " ", h("a", { href: "/license", text: "Renewal and details" }));
  }
  document.dispatchEvent(new CustomEvent("exekra:license", { detail: st }));
}

/** currentLicense is the last license status read. */
export function currentLicense() {
  return session.license;
}

async function signOut() {
  try {
    await post("/api/auth/logout");
  } catch {
    // the session may be gone already
  }
  signedOut();
  navigate("/login", { replace: true });
}

// Same-origin links route in place; modified clicks keep their browser meaning.
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/assets/")) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

// "/" focuses the page's search field.
document.addEventListener("keydown", (e) => {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
  if (document.querySelector("dialog[open]")) return;
  const s = document.querySelector("main [data-search]");
  if (s) {
    e.preventDefault();
    s.focus();
    if (s.select) s.select();
  }
});

window.addEventListener("popstate", () => route());
// Streams hold connections (a browser allows six per server): they close
// when the page is left, even into the back/forward cache, which then
// brings the page back fresh.
window.addEventListener("pagehide", () => {
  if (cleanup) cleanup();
  cleanup = null;
  if (session.stream) session.stream.close();
});
window.addEventListener("pageshow", (e) => {
  if (e.persisted) location.reload();
});
route();
