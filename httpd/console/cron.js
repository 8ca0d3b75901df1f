// Cron expressions as the server reads them (5 fields or a descriptor,
// robfig/cron): their next fire times in a time zone, and a plain reading.

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const FIELDS = [
  { name: "minute", lo: 0, hi: 59 },
  { name: "hour", lo: 0, hi: 23 },
  { name: "day of month", lo: 1, hi: 31 },
  { name: "month", lo: 1, hi: 12, names: MONTHS, base: 1 },
  { name: "day of week", lo: 0, hi: 6, names: DAYS, base: 0 },
];
const DESCRIPTORS = {
  "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
};

function value(s, f) {
  const up = s.toUpperCase();
  if (f.names && f.names.includes(up)) return f.names.indexOf(up) + f.base;
  if (!/^\d+$/.test(s)) throw new Error(`${f.name}: "${s}" is not a number`);
  return Number(s);
}

function parseField(text, f) {
  const set = new Set();
  for (const part of text.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${f.name}: bad step "${stepText}"`);
    let lo;
    let hi;
    if (range === "*" || range === "?") [lo, hi] = [f.lo, f.hi];
    else if (range.includes("-")) {
      const [a, b] = range.split("-");
      [lo, hi] = [value(a, f), value(b, f)];
    } else {
      lo = value(range, f);
      hi = stepText === undefined ? lo : f.hi;
    }
    if (f.name === "day of week" && hi === 7) hi = 6; // 7 is Sunday too
    if (lo < f.lo || hi > f.hi || lo > hi) throw new Error(`${f.name}: "${range}" is out of ${f.lo}-${f.hi}`);
    for (let v = lo; v <= hi; v += step) set.add(v);
  }
  return { set, any: text === "*" || text === "?" };
}

/** parse reads a spec; returns {every: ms} or {fields}, throwing on errors. */
export function parse(spec) {
  let s = spec.trim();
  if (s.startsWith("@every ")) {
    const ms = goDuration(s.slice(7).trim());
    if (!(ms >= 1000)) throw new Error("@every needs an interval of at least 1s (like 90s, 15m, 1h30m)");
    return { every: ms };
  }
  if (s.startsWith("@")) {
    if (!DESCRIPTORS[s]) throw new Error(`unknown descriptor ${s}`);
    s = DESCRIPTORS[s];
  }
  const parts = s.split(/\s+/);
  if (parts.length !== 5) throw new Error(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), not ${parts.length}`);
  return { fields: parts.map((p, i) => parseField(p, FIELDS[i])), parts };
}

function goDuration(s) {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let m;
  let seen = 0;
  const unit = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  while ((m = re.exec(s))) {
    ms += Number(m[1]) * unit[m[2]];
    seen = re.lastIndex;
  }
  return seen === s.length && s ? ms : NaN;
}

const fmts = new Map();
function partsIn(zone, t) {
  if (!fmts.has(zone)) {
    fmts.set(zone, new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", weekday: "short" }));
  }
  const p = Object.fromEntries(fmts.get(zone).formatToParts(new Date(t)).map((x) => [x.type, x.value]));
  return { month: Number(p.month), day: Number(p.day), hour: Number(p.hour) % 24, minute: Number(p.minute), dow: DAYS.indexOf(p.weekday.toUpperCase().slice(0, 3)) };
}

/** next returns the next n fire times (Date) of spec in zone after from. */
export function next(spec, zone, n = 5, from = new Date()) {
  const c = parse(spec);
  const out = [];
  if (c.every) {
    let t = from.getTime();
    for (let i = 0; i < n; i++) out.push(new Date((t += c.every)));
    return out;
  }
  const [min, hour, dom, mon, dow] = c.fields;
  const dayOK = (p) => {
    if (dom.any || dow.any) return dom.set.has(p.day) && dow.set.has(p.dow);
    return dom.set.has(p.day) || dow.set.has(p.dow); // both restricted: either matches
  };
  let t = Math.floor(from.getTime() / 60000) * 60000 + 60000;
  for (let guard = 0; out.length < n && guard < 300000; guard++) {
    const p = partsIn(zone, t);
    const minuteOfDay = p.hour * 60 + p.minute;
    if (!mon.set.has(p.month) || !dayOK(p)) t += (1440 - minuteOfDay) * 60000;
    else if (!hour.set.has(p.hour)) t += (60 - p.minute) * 60000;
    else if (!min.set.has(p.minute)) t += 60000;
    else {
      out.push(new Date(t));
      t += 60000;
    }
  }
  return out;
}

function list(set, f, names) {
  const v = [...set].sort((a, b) => a - b);
  if (v.length === f.hi - f.lo + 1) return null;
  return v.map((x) => (names ? names[x - f.base] : String(x).padStart(f.name === "minute" ? 2 : 1, "0"))).join(", ");
}

/** explain reads a spec in words. */
export function explain(spec) {
  const c = parse(spec);
  if (c.every) return `Every ${spec.trim().slice(7)} from when the schedule starts.`;
  const [min, hour, dom, mon, dow] = c.fields;
  const mins = list(min.set, FIELDS[0]);
  const hours = list(hour.set, FIELDS[1]);
  let when;
  if (mins && hours && min.set.size === 1 && hour.set.size <= 6) {
    when = `at ${[...hour.set].sort((a, b) => a - b).map((hh) => `${String(hh).padStart(2, "0")}:${String([...min.set][0]).padStart(2, "0")}`).join(", ")}`;
  } else {
    when = `${mins ? `at minute ${mins}` : "every minute"}${hours ? ` of hour ${hours}` : ""}`;
  }
  const parts = [when];
  const days = list(dom.set, FIELDS[2]);
  const weekdays = list(dow.set, FIELDS[4], ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]);
  if (days && weekdays && !dom.any && !dow.any) parts.push(`on day ${days} of the month or on ${weekdays}`);
  else {
    if (days) parts.push(`on day ${days} of the month`);
    if (weekdays) parts.push(`on ${weekdays}`);
  }
  const months = list(mon.set, FIELDS[3], ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]);
  if (months) parts.push(`in ${months}`);
  const text = parts.join(", ");
  return `${text[0].toUpperCase()}${text.slice(1)}.`;
}
