// The public API, as any client calls it: same-origin requests that carry
// the HttpOnly session cookie; every change is sent as JSON (the server
// refuses cookie-authenticated changes of any other type).

/** ApiError is an error answer: its message, HTTP status and code. */
export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let unauthorized = () => {};

/** onUnauthorized sets what happens when a session has expired (401). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/** api sends one request and returns the decoded JSON answer. */
export async function api(method, path, body, opts = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" };
  if (method !== "GET" && method !== "HEAD") {
    init.headers["Content-Type"] = "application/json";
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError("The server cannot be reached.", 0, "NETWORK");
  }
  const type = res.headers.get("Content-Type") || "";
  const data = type.startsWith("application/json") ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    const msg = (data && data.error) || `${res.status} ${res.statusText}`;
    const err = new ApiError(msg, res.status, data && data.code);
    if (res.status === 401 && !opts.anonymous) unauthorized(err);
    throw err;
  }
  return data;
}

/** get reads path. */
export const get = (path, opts) => api("GET", path, undefined, opts);
/** post sends body to path. */
export const post = (path, body, opts) => api("POST", path, body, opts);

/** query builds "?a=1&b=2" from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** all reads every page of a list (at most max items). */
export async function all(path, key, max = 1000) {
  const out = [];
  const sep = path.includes("?") ? "&" : "?";
  let total = 0;
  for (let page = 1; out.length < max; page++) {
    const res = await get(`${path}${sep}limit=200&page=${page}`);
    out.push(...res[key]);
    total = res.pagination.total;
    if (page >= res.pagination.totalPages) break;
  }
  return { items: out.slice(0, max), total };
}
