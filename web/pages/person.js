// A person (GET /v1/persons/{p}/profile).
import { h, section } from "../dom.js";
import { t, enumLabel } from "../i18n.js";
import { api, loc, fmtPeriod, refName, link, partialNotice, sectionOk } from "../api.js";
import { list, eventItem, heading } from "./common.js";

export async function render({ params: [id], signal }) {
  const p = await api(`/v1/persons/${id}/profile`, {}, { signal });
  const refs = p.references;
  const secs = p.sections;
  const name = p.person ? loc(p.person.displayName) : refName(refs, `persons/${id}`);
  document.title = `${t("personTitle", name)} · ${t("brand")}`;
  const out = [
    h("div", { class: "heading" }, h("h1", {}, name),
      p.person?.state ? h("p", { class: "sub" }, link(p.person.state, loc(p.stateDisplayName) || refName(refs, p.person.state))) : null),
    partialNotice(secs),
  ];
  if (sectionOk(secs, "membership")) {
    out.push(section("roles", t("roles"), list(p.roles, (r) => [
      h("strong", {}, loc(r.role.title) || enumLabel(r.role.roleType)),
      r.role.organization ? [" — ", link(r.role.organization, loc(r.organizationDisplayName) || refName(refs, r.role.organization))] : null,
      h("span", { class: "muted" }, ` (${fmtPeriod(r.role.period)})`),
    ])));
  }
  if (sectionOk(secs, "events")) out.push(section("events", t("events"), list(p.events, (e) => eventItem(e, refs))));
  if (sectionOk(secs, "missions")) {
    out.push(section("missions", t("missions"), list(p.missions, (m) => [loc(m.election) || m.name.split("/").pop(), h("span", { class: "muted" }, ` ${fmtPeriod(m.period)}`)])));
  }
  return h("div", { class: "page person grid" }, out);
}
