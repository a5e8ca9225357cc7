// Pieces shared by the pages.
import { h } from "../dom.js";
import { t, enumLabel } from "../i18n.js";
import { loc, eventDate, refName, link } from "../api.js";

// A list, or the "none" text when empty.
export function list(items, render, attrs = {}) {
  if (!items || items.length === 0) return h("p", { class: "none" }, t("none"));
  return h("ul", { class: "list", ...attrs }, items.map((x) => h("li", {}, render(x))));
}

// One event as a list entry: date, kind, title, place.
export function eventItem(e, refs) {
  const place = e.place ? [loc(e.place.locality), e.place.state ? refName(refs, e.place.state) : ""].filter(Boolean).join(", ") : "";
  return [
    h("span", { class: "date" }, eventDate(e)),
    " ",
    h("span", { class: "tag" }, enumLabel(e.kind)),
    " ",
    h("strong", {}, loc(e.title)),
    place ? h("span", { class: "muted" }, ` — ${place}`) : null,
  ];
}

// The page heading with an optional subtitle.
export function heading(title, sub) {
  return h("div", { class: "heading" }, h("h1", {}, title), sub ? h("p", { class: "sub" }, sub) : null);
}

export { link };
