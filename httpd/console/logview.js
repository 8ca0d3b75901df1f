// The log viewer: follows a live log (pause/follow), searches it, jumps to
// the first error and downloads it. Only the lines in view are in the DOM,
// so a 1 MiB log scrolls as smoothly as a short one.

import { h, uid, download, add } from "./dom.js";

const LINE = 18; // px, the fixed line height of .log-lines (app.css)
const OVERSCAN = 20;
const ERROR_RE = /\b(error|errors|fail|failed|failure|fatal|exception|panic)\b/i;

/** LogView is the log widget of one execution. */
export class LogView {
  constructor(name) {
    this.name = name;
    this.lines = [""];
    this.length = 0; // characters received, to place appended chunks
    this.following = true;
    this.matches = [];
    this.current = -1;
    this.term = "";

    const sid = uid("logsearch");
    this.search = h("input", { type: "search", id: sid, placeholder: "Search the log", dataset: { search: "" } });
    this.followBtn = h("button", { type: "button", class: "secondary", text: "Pause", "aria-pressed": "false" });
    this.prevBtn = h("button", { type: "button", class: "secondary", text: "Previous match" });
    this.nextBtn = h("button", { type: "button", class: "secondary", text: "Next match" });
    this.errBtn = h("button", { type: "button", class: "secondary", text: "Jump to first error" });
    this.dlBtn = h("button", { type: "button", class: "secondary", text: "Download log" });
    this.count = h("span", { class: "muted small", "aria-live": "polite" });
    this.spacer = h("div", { class: "log-spacer" });
    this.win = h("div", { class: "log-lines" });
    this.view = h("div", { class: "log-view", tabindex: "0", role: "log", "aria-label": "Log", "aria-live": "off" }, this.spacer, this.win);
    this.el = h("div", { class: "log" },
      h("div", { class: "toolbar", role: "toolbar", "aria-label": "Log tools" },
        h("label", { for: sid, text: "Search log" }), this.search, this.prevBtn, this.nextBtn, this.count,
        this.errBtn, this.followBtn, this.dlBtn),
      this.view);

    this.scheduled = false;
    this.view.addEventListener("scroll", () => {
      const atEnd = this.view.scrollTop + this.view.clientHeight >= this.view.scrollHeight - LINE;
      if (!atEnd && this.following && !this.autoScrolling) this.setFollow(false);
      this.autoScrolling = false;
      this.draw();
    });
    this.followBtn.addEventListener("click", () => this.setFollow(!this.following));
    this.search.addEventListener("input", () => this.find(this.search.value));
    this.search.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.step(e.shiftKey ? -1 : 1);
      }
    });
    this.nextBtn.addEventListener("click", () => this.step(1));
    this.prevBtn.addEventListener("click", () => this.step(-1));
    this.errBtn.addEventListener("click", () => this.firstError());
    this.dlBtn.addEventListener("click", () => download(`${this.name}.log`, this.text()));
    this.view.addEventListener("keydown", (e) => {
      const page = Math.max(1, Math.floor(this.view.clientHeight / LINE) - 1) * LINE;
      const keys = { ArrowDown: LINE, ArrowUp: -LINE, PageDown: page, PageUp: -page };
      if (e.key in keys) {
        e.preventDefault();
        this.view.scrollTop += keys[e.key];
      } else if (e.key === "Home") {
        e.preventDefault();
        this.view.scrollTop = 0;
      } else if (e.key === "End") {
        e.preventDefault();
        this.setFollow(true);
      }
    });
    this.setFollow(true);
  }

  /** text is the whole log. */
  text() {
    return this.lines.join("\n");
  }

  /** set replaces the log. */
  set(text) {
    this.lines = [""];
    this.length = 0;
    this.spacer.style.height = "0px";
    this.append(text || "");
    this.draw();
  }

  /** appendAt adds a chunk that starts at offset; returns false when a gap means the log must be reloaded. */
  appendAt(offset, chunk) {
    if (offset > this.length) return false;
    if (offset + chunk.length <= this.length) return true;
    this.append(chunk.slice(this.length - offset));
    return true;
  }

  /** append adds text to the end. */
  append(text) {
    if (!text) return;
    this.length += text.length;
    const parts = text.split("\n");
    this.lines[this.lines.length - 1] += parts[0];
    for (let i = 1; i < parts.length; i++) this.lines.push(parts[i]);
    if (this.term) this.find(this.term, true);
    this.spacer.style.height = `${this.shown() * LINE}px`;
    if (this.following) this.toEnd();
    this.draw();
  }

  /** shown is how many lines are drawn (a log ending in a newline has no empty last line). */
  shown() {
    const n = this.lines.length;
    return n > 1 && this.lines[n - 1] === "" ? n - 1 : n;
  }

  setFollow(on) {
    this.following = on;
    this.followBtn.textContent = on ? "Pause" : "Follow";
    this.followBtn.setAttribute("aria-pressed", on ? "false" : "true");
    if (on) this.toEnd();
  }

  toEnd() {
    this.autoScrolling = true;
    this.view.scrollTop = this.view.scrollHeight;
  }

  find(term, keep) {
    this.term = term;
    this.matches = [];
    if (term) {
      const t = term.toLowerCase();
      this.lines.forEach((l, i) => {
        if (l.toLowerCase().includes(t)) this.matches.push(i);
      });
    }
    if (!keep) this.current = this.matches.length ? 0 : -1;
    this.count.textContent = term ? `${this.matches.length ? this.current + 1 : 0} of ${this.matches.length} matches` : "";
    if (!keep && this.current >= 0) this.show(this.matches[0]);
    this.draw();
  }

  step(dir) {
    if (!this.matches.length) return;
    this.current = (this.current + dir + this.matches.length) % this.matches.length;
    this.count.textContent = `${this.current + 1} of ${this.matches.length} matches`;
    this.show(this.matches[this.current]);
  }

  firstError() {
    const i = this.lines.findIndex((l) => ERROR_RE.test(l));
    if (i < 0) {
      this.count.textContent = "No error in the log";
      return;
    }
    this.count.textContent = `First error on line ${i + 1}`;
    this.show(i, true);
  }

  show(line, mark) {
    this.setFollow(false);
    this.marked = mark ? line : -1;
    this.view.scrollTop = Math.max(0, line * LINE - this.view.clientHeight / 3);
    this.draw();
  }

  /** draw renders the visible lines on the next frame. */
  draw() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      // Following: stay at the end (also when the log was filled before
      // the viewer was on the page, when it could not scroll yet).
      if (this.following && this.view.scrollTop + this.view.clientHeight < this.view.scrollHeight - 1) this.toEnd();
      const top = this.view.scrollTop;
      const first = Math.max(0, Math.floor(top / LINE) - OVERSCAN);
      const last = Math.min(this.shown(), Math.ceil((top + (this.view.clientHeight || 400)) / LINE) + OVERSCAN);
      const hit = new Set(this.matches);
      const cur = this.current >= 0 ? this.matches[this.current] : -1;
      const frag = document.createDocumentFragment();
      if (this.length === 0) add(frag, h("div", { class: "ln empty", text: "No log yet: lines appear here as the runner reports them." }));
      for (let i = first; i < last && this.length > 0; i++) {
        const l = this.lines[i];
        let cls = "ln";
        if (ERROR_RE.test(l)) cls += " err";
        if (hit.has(i)) cls += " hit";
        if (i === cur || i === this.marked) cls += " cur";
        add(frag, h("div", { class: cls }, h("span", { class: "no", "aria-hidden": "true", text: i + 1 }), h("span", { class: "tx", text: l })));
      }
      this.win.style.transform = `translateY(${first * LINE}px)`;
      this.win.replaceChildren(frag);
    });
  }
}
