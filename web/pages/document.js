// A document: its stages as a timeline, its revisions and implementations
// (GET /v1/documents/{d}, :listRevisions, /v1/implementations).
import { h, section } from "../dom.js";
import { t, enumLabel } from "../i18n.js";
import { api, loc, fmtDate, link } from "../api.js";
import { list, heading } from "./common.js";
import { stateNames, settle } from "./names.js";

export async function render({ params: [id], signal }) {
  const name = `documents/${id}`;
  const doc = await api(`/v1/${name}`, {}, { signal });
  const title = loc(doc.title);
  document.title = `${t("documentTitle", title)} · ${t("brand")}`;
  const { values: [revs, impls, stateName], failed } = settle(await Promise.allSettled([
    api(`/v1/${name}:listRevisions`, {}, { signal }),
    api("/v1/implementations", { filter: `document = "${name}"`, pageSize: 1000 }, { signal }),
    stateNames(signal),
  ]), [t("revisions"), t("implementations"), t("state")]);

  const out = [
    heading(title, `${enumLabel(doc.kind)} · ${enumLabel(doc.stage)}${doc.adoptDate ? ` · ${fmtDate(doc.adoptDate)}` : ""}`),
    failed.length ? h("div", { class: "notice partial", role: "status", "data-partial": "" }, t("partial", failed.join("; "))) : null,
  ];
  if (doc.summary?.length) out.push(h("p", { class: "lead" }, loc(doc.summary)));
  out.push(section("stages", t("stages"),
    h("ol", { class: "stages" }, (doc.stageHistory ?? []).map((s) =>
      h("li", { class: s.stage === doc.stage ? "current" : "" },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("strong", {}, enumLabel(s.stage)), " ",
        h("span", { class: "date" }, fmtDate(s.date) || fmtDate(s.provenance?.[0]?.sourceDate)))))));
  if (revs) {
    out.push(section("revisions", t("revisions"), list(revs.revisions, (r) => [
      h("strong", {}, `${t("revision")} ${r.name.split("/").pop()}`), " — ", loc(r.title),
      r.stage ? h("span", { class: "muted" }, ` (${enumLabel(r.stage)})`) : null,
    ])));
  }
  if (impls) {
    const sn = stateName ?? ((n) => n);
    out.push(section("implementations", t("implementations"), list(impls.implementations, (x) => [
      link(x.state, sn(x.state)), " — ", enumLabel(x.level),
      x.nationalAct ? ` · ${x.nationalAct}` : "",
      x.nationalActDate ? h("span", { class: "muted" }, ` (${fmtDate(x.nationalActDate)})`) : null,
    ])));
  }
  if (doc.text?.length) out.push(section("text", doc.kind ? enumLabel(doc.kind) : "", h("p", { class: "doc-text" }, loc(doc.text))));
  return h("div", { class: "page document grid" }, out);
}
