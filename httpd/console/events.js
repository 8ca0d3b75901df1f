// The live event stream (GET /api/events, docs/api.md): one EventSource,
// resumed after the last event seen when the connection drops (the browser
// sends Last-Event-ID on its own reconnects; ours pass ?lastEventId=), and a
// "reset" event when the server no longer holds what was missed.

const TYPES = ["execution", "execution.log", "runner", "trigger", "license", "stats", "reset"];

/** Stream is one subscription to /api/events with listeners per event type. */
export class Stream {
  /** params: {types: "execution,runner"} or {executionId: ID}. */
  constructor(params, onExpired) {
    this.params = params;
    this.onExpired = onExpired;
    this.listeners = new Map();
    this.stateListeners = new Set();
    this.lastId = null;
    this.es = null;
    this.state = "connecting";
    this.retry = 1000;
    this.timer = null;
    this.closed = false;
  }

  /** on calls fn(data, id) for every event of type; returns the unsubscribe. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  /** onState calls fn(state) when the connection state changes. */
  onState(fn) {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  url() {
    const q = new URLSearchParams(this.params);
    if (this.lastId !== null) q.set("lastEventId", this.lastId);
    const s = q.toString();
    return `/api/events${s ? `?${s}` : ""}`;
  }

  start() {
    if (this.closed || this.paused) return this;
    const es = new EventSource(this.url());
    this.es = es;
    es.onopen = () => {
      this.retry = 1000;
      this.setState("live");
    };
    es.onerror = () => {
      if (es !== this.es) return;
      if (es.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself, sending Last-Event-ID.
        this.setState("reconnecting");
        return;
      }
      // Closed: the server refused the stream (expired session, say) or
      // the browser gave up. Ask whether the session still holds, then
      // resume after the last event we saw.
      es.close();
      this.setState("reconnecting");
      this.recover();
    };
    for (const type of TYPES) {
      es.addEventListener(type, (ev) => this.dispatch(type, ev));
    }
    return this;
  }

  async recover() {
    try {
      const res = await fetch("/api/auth/me", { credentials: "same-origin", cache: "no-store" });
      if (res.status === 401) {
        this.close();
        if (this.onExpired) this.onExpired();
        return;
      }
    } catch {
      // the server is unreachable: retry later
    }
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), this.retry);
    this.retry = Math.min(this.retry * 2, 30000);
  }

  dispatch(type, ev) {
    if (ev.lastEventId) {
      const id = Number(ev.lastEventId);
      if (this.lastId !== null && Number.isFinite(id) && id <= Number(this.lastId) && type !== "reset") return;
      this.lastId = ev.lastEventId;
    }
    let data = null;
    try {
      data = ev.data ? JSON.parse(ev.data) : null;
    } catch {
      return;
    }
    const set = this.listeners.get(type);
    if (set) for (const fn of [...set]) fn(data, ev.lastEventId);
  }

  /** pause closes the connection but keeps the place: resume continues after the last event seen. */
  pause() {
    this.paused = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.es = null;
  }

  /** resume reconnects after a pause, asking for what was missed. */
  resume() {
    if (!this.paused || this.closed) return;
    this.paused = false;
    this.state = null;
    this.setState("connecting");
    this.start();
  }

  /** close ends the stream for good. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.es) this.es.close();
    this.setState("closed");
  }
}
