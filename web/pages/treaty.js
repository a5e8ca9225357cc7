// A treaty with a matrix of parties × ratification steps
// (GET /v1/treaties/{t}, its ratifications and ratificationProgress).
import { h, section } from "../dom.js";
import { t, enumLabel } from "../i18n.js";
import { api, loc, fmtDate, link } from "../api.js";
import { list, heading } from "./common.js";
import { stateNames, settle } from "./names.js";

const STEPS = [
  "RATIFICATION_STATUS_BILL_INTRODUCED",
  "RATIFICATION_STATUS_APPROVED_BY_CHAMBER",
  "RATIFICATION_STATUS_RATIFIED",
  "RATIFICATION_STATUS_IN_FORCE",
];

export async function render({ params: [id], signal }) {
  const name = `treaties/${id}`;
  const tr = await api(`/v1/${name}`, {}, { signal });
  const title = loc(tr.title);
  document.title = `${t("treatyTitle", title)} · ${t("brand")}`;
  const { values: [rats, prog, stateName], failed } = settle(await Promise.allSettled([
    api(`/v1/${name}/ratifications`, { pageSize: 1000 }, { signal }),
    api(`/v1/${name}/ratificationProgress`, {}, { signal }),
    stateNames(signal),
  ]), [t("matrix"), t("treatiesProgress"), t("state")]);
  const sn = stateName ?? ((n) => n);
  const byState = new Map();
  for (const r of rats?.ratifications ?? []) byState.set(r.state, r);
  const progress = new Map((prog?.parties ?? []).map((p) => [p.state, p]));
  const parties = [...new Set([...(tr.parties ?? []), ...byState.keys(), ...progress.keys()])];

  const place = tr.signingPlace ? [loc(tr.signingPlace.locality), tr.signingPlace.state ? sn(tr.signingPlace.state) : ""].filter(Boolean).join(", ") : "";
  const out = [
    heading(title, [t("signed"), fmtDate(tr.signingDate), place].filter(Boolean).join(" · ")),
    failed.length ? h("div", { class: "notice partial", role: "status", "data-partial": "" }, t("partial", failed.join("; "))) : null,
  ];
  if (rats) {
    out.push(section("matrix", t("matrix"),
      h("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": t("matrixCaption") },
        h("table", { class: "table matrix", id: "ratification-matrix" },
          h("caption", {}, t("matrixCaption")),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("party")), STEPS.map((s) => h("th", { scope: "col" }, enumLabel(s))))),
          h("tbody", {}, parties.map((st) => {
            const r = byState.get(st) ?? progress.get(st);
            const reached = r ? STEPS.indexOf(r.status) : -1;
            return h("tr", {},
              h("th", { scope: "row" }, link(st, sn(st))),
              STEPS.map((s, i) => {
                const on = i <= reached;
                const at = i === reached ? fmtDate(r.statusDate) : "";
                return h("td", { class: on ? "on" : "off" },
                  h("span", { "aria-hidden": "true" }, on ? "●" : "○"), " ",
                  h("span", { class: "sr" }, on ? t("reached") : t("notReached")),
                  at ? h("span", { class: "date" }, ` ${at}`) : null);
              }));
          }))))));
    const acts = (rats.ratifications ?? []).filter((r) => r.nationalAct?.length);
    if (acts.length) out.push(section("acts", t("nationalAct"), list(acts, (r) => [h("strong", {}, sn(r.state)), ": ", loc(r.nationalAct)])));
  }
  if (tr.provenance?.length) out.push(h("p", { class: "muted small" }, tr.provenance[0].note ?? ""));
  return h("div", { class: "page treaty grid" }, out);
}
