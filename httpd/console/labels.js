// Runner labels (docs/api.md, Runner labels and targeted executions): typed
// as a comma or space separated list, checked as the server checks them,
// shown as small tags.

import { h } from "./dom.js";

const LABEL = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** parseLabels reads "finance, windows" into ["finance", "windows"] (duplicates removed). */
export function parseLabels(text) {
  const out = [];
  for (const l of String(text || "").split(/[\s,]+/)) if (l && !out.includes(l)) out.push(l);
  return out;
}

/** labelProblem is why a label list would be refused, or "" when it is fine. */
export function labelProblem(list) {
  if (list.length > 20) return "At most 20 labels.";
  const bad = list.find((l) => !LABEL.test(l));
  return bad ? `"${bad}" is not a label: lower-case letters, digits, ".", "_" and "-", starting with a letter or digit.` : "";
}

/** labelTags shows labels as tags (each a link when href is given), or a dash. */
export function labelTags(list, href) {
  if (!list || !list.length) return h("span", { class: "muted", text: "—" });
  return h("span", { class: "tags" }, list.map((l) => (href ? h("a", { class: "tag", href: href(l), text: l }) : h("span", { class: "tag", text: l }))));
}
