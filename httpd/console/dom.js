// DOM helpers: elements are built with textContent only (stored strings are
// never parsed as HTML), and times are shown with their zone.

const PROPS = new Set(["value", "checked", "disabled", "hidden", "selected", "indeterminate", "open"]);

/** h builds an element: h("a", {href: "/x", text: "X"}, child, ...). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = String(v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (PROPS.has(k)) el[k] = v;
      else if (v === false) continue;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

/** append adds children (nodes, strings, arrays; null skipped). */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** clear empties an element. */
export function clear(el) {
  el.replaceChildren();
  return el;
}

/** field wraps a control with its label (the control's accessible name). */
export function field(label, control, hint) {
  const id = control.id || (control.id = uid("f"));
  const parts = [h("label", { for: id, text: label }), control];
  if (hint) {
    const hid = uid("h");
    control.setAttribute("aria-describedby", hid);
    parts.push(h("p", { class: "hint", id: hid, text: hint }));
  }
  return h("div", { class: "field" }, parts);
}

let seq = 0;
/** uid returns a unique element id. */
export function uid(prefix) {
  seq += 1;
  return `${prefix}-${seq}`;
}

// ---- times -----------------------------------------------------------------

let zone = localStorage.getItem("exekra.zone") === "utc" ? "utc" : "local";
const localFmt = new Intl.DateTimeFormat("en-GB", {
  year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  second: "2-digit", hourCycle: "h23", timeZoneName: "short",
});

/** zoneName is the chosen zone: "utc" or "local". */
export function zoneName() {
  return zone;
}

/** timeText formats an RFC 3339 time in the chosen zone, zone included. */
export function timeText(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  if (zone === "utc") return d.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  const p = Object.fromEntries(localFmt.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}

/** timeEl is a <time> element showing iso in the chosen zone. */
export function timeEl(iso) {
  if (!iso) return h("span", { class: "muted", text: "—" });
  return h("time", { datetime: iso, text: timeText(iso) });
}

/** setZone switches every shown time between UTC and local time. */
export function setZone(z) {
  zone = z === "utc" ? "utc" : "local";
  localStorage.setItem("exekra.zone", zone);
  for (const t of document.querySelectorAll("time[datetime]")) t.textContent = timeText(t.dateTime);
  document.dispatchEvent(new CustomEvent("exekra:zone"));
}

/** dayStart is the start of today in the chosen zone, as an ISO string. */
export function dayStart() {
  const d = new Date();
  if (zone === "utc") d.setUTCHours(0, 0, 0, 0);
  else d.setHours(0, 0, 0, 0);
  return d.toISOString();
}

/** duration formats milliseconds as "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr} h ${m % 60} min`;
  return `${Math.floor(hr / 24)} d ${hr % 24} h`;
}

/** between is the duration from iso a to iso b (null when either is missing). */
export function between(a, b) {
  if (!a || !b) return null;
  return new Date(b).getTime() - new Date(a).getTime();
}

/** age is how long ago iso was, as text. */
export function age(iso) {
  if (!iso) return "never";
  return `${duration(Date.now() - new Date(iso).getTime())} ago`;
}

/** shortId is the first characters of an id, for dense tables. */
export function shortId(id) {
  return id ? String(id).slice(0, 10) : "—";
}

/** statusBadge shows an execution or runner status. */
export function statusBadge(status) {
  return h("span", { class: `badge s-${String(status || "").toLowerCase()}`, text: status || "—" });
}

/** onFrame runs fn once on the next animation frame, however often it is asked. */
export function onFrame(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      fn();
    });
  };
}

/** throttle runs fn at most once per ms, trailing calls folded into one. */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const t = () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(run, wait);
  };
  t.cancel = () => clearTimeout(timer);
  return t;
}

/** copyText copies text to the clipboard, falling back to a selection copy. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h("textarea", { class: "offscreen", "aria-hidden": "true" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  }
}

/** download offers text as a file. */
export function download(name, text, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, class: "offscreen" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** notice is a status line that screen readers announce. */
export function notice() {
  const el = h("p", { class: "notice", role: "status", "aria-live": "polite" });
  el.show = (text, kind = "ok") => {
    el.className = `notice ${kind}`;
    el.textContent = text;
  };
  el.error = (err) => el.show(err && err.message ? err.message : String(err), "error");
  return el;
}

/** add appends children to el, skipping null, undefined and false (DOM append would write "null"). */
export function add(el, ...children) {
  return append(el, children);
}
