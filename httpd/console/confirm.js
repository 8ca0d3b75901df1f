// A confirmation dialog that names what an action acts on. It is a modal
// <dialog>: focus stays inside, Escape cancels, focus returns afterwards.

import { h, uid, add } from "./dom.js";

/** confirmDialog resolves true when the user confirms. items are lines naming the targets. */
export function confirmDialog({ title, message, items = [], confirm, danger = true }) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const tid = uid("dlg");
    const cancelBtn = h("button", { type: "button", class: "secondary", text: "Cancel" });
    const okBtn = h("button", { type: "button", class: danger ? "danger" : "", text: confirm });
    const shown = items.slice(0, 20);
    const dlg = h("dialog", { "aria-labelledby": tid, class: "confirm" },
      h("h2", { id: tid, text: title }),
      message ? h("p", { text: message }) : null,
      shown.length ? h("ul", { class: "targets" }, shown.map((t) => h("li", { text: t }))) : null,
      items.length > shown.length ? h("p", { class: "muted", text: `and ${items.length - shown.length} more` }) : null,
      h("div", { class: "actions" }, cancelBtn, okBtn));
    let answered = false;
    const done = (v) => {
      if (answered) return;
      answered = true;
      dlg.close();
      dlg.remove();
      if (back && back.focus) back.focus();
      resolve(v);
    };
    cancelBtn.addEventListener("click", () => done(false));
    okBtn.addEventListener("click", () => done(true));
    dlg.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(false);
    });
    add(document.body, dlg);
    dlg.showModal();
    cancelBtn.focus();
  });
}
