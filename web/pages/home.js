// Home: the assembly at a glance (GET /v1/dashboard).
import { h, section } from "../dom.js";
import { t, enumLabel } from "../i18n.js";
import { api, loc, fmtDate, fmtPeriod, refName, link, partialNotice, sectionOk } from "../api.js";
import { barChart, progressBar } from "../charts.js";
import { list, eventItem, heading } from "./common.js";

const NOT_KNOWN = "AS_OF_KNOWLEDGE_NOT_KNOWN";

export async function render({ signal }) {
  const d = await api("/v1/dashboard", {}, { signal });
  document.title = `${t("homeTitle")} · ${t("brand")}`;
  const refs = d.references;
  const secs = d.sections;
  const out = [heading(t("homeTitle"), t("asOf", fmtDate(d.asOfDate))), partialNotice(secs)];

  if (sectionOk(secs, "membership")) {
    // A status or seat count the sources do not give for the date is said to
    // be not known, not shown as none or 0.
    const seatsText = (s) => s.seatsKnowledge !== NOT_KNOWN ? String(s.seats ?? 0)
      : s.seats ? t("seatsAtLeast", s.seats) : t("notKnown");
    const anySeatsUnknown = (d.states ?? []).some((s) => s.seatsKnowledge === NOT_KNOWN);
    const total = d.totalSeats ?? 0;
    out.push(section("states", t("states"),
      h("table", { class: "table", id: "states-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("state")), h("th", { scope: "col" }, t("status")), h("th", { scope: "col", class: "num" }, t("seats")))),
        h("tbody", {}, (d.states ?? []).map((s) => h("tr", { "data-state": s.state },
          h("th", { scope: "row" }, link(s.state, loc(s.displayName))),
          h("td", { class: "status" }, s.statusKnowledge === NOT_KNOWN ? t("notKnown") : enumLabel(s.status)),
          h("td", { class: "num seats" }, seatsText(s)))))),
      h("p", { class: "muted", id: "total-seats" },
        !anySeatsUnknown ? t("totalSeats", total) : total ? t("totalSeatsAtLeast", total) : t("totalSeatsNotKnown")),
      h("h3", {}, t("partners")),
      list(d.partners, (p) => [loc(p.displayName), p.period ? h("span", { class: "muted" }, ` (${fmtPeriod(p.period)})`) : null])));
  }

  if (sectionOk(secs, "legislation")) {
    out.push(section("plans", t("actionPlans"),
      list(d.actionPlans, (p) => {
        const pr = p.progress ?? {};
        const total = pr.total ?? 0, done = pr.done ?? 0;
        const pct = total ? Math.round((100 * done) / total) : 0;
        const label = t("planProgress", done, total, pct);
        return h("div", { class: "plan" },
          h("div", {}, h("strong", {}, loc(p.title)), " ", h("span", { class: "muted" }, fmtPeriod(p.period))),
          progressBar(total ? done / total : 0, label),
          h("div", { class: "muted small" }, label));
      }, { id: "plans" })));
    const years = new Map();
    for (const a of d.adoptions ?? []) years.set(a.year ?? 0, (years.get(a.year ?? 0) ?? 0) + (a.documentCount ?? 0));
    const adoptData = [...years.entries()].sort((a, b) => (a[0] || 1e9) - (b[0] || 1e9))
      .map(([y, v]) => ({ label: y ? String(y) : t("undated"), value: v }));
    out.push(section("adoptions", t("adoptions"),
      adoptData.length ? barChart(adoptData, t("adoptions")) : h("p", { class: "none" }, t("none"))));
    out.push(section("treaties", t("treatiesProgress"),
      list(d.treaties, (tr) => {
        const pr = tr.progress ?? {};
        const n = pr.partyCount ?? (pr.parties ?? []).length;
        const ratified = (pr.parties ?? []).filter((p) => ["RATIFICATION_STATUS_RATIFIED", "RATIFICATION_STATUS_IN_FORCE"].includes(p.status)).length;
        const label = t("partiesRatified", ratified, n);
        return h("div", { class: "plan" },
          h("div", {}, link(pr.treaty, loc(tr.title)), " ", h("span", { class: "muted" }, fmtDate(tr.signingDate))),
          progressBar(n ? ratified / n : 0, label),
          h("div", { class: "muted small" }, label,
            (pr.behindStates ?? []).length ? ` · ${t("behind")}: ${pr.behindStates.map((s) => refName(refs, s)).join(", ")}` : ""));
      })));
  }

  if (sectionOk(secs, "missions")) {
    // A year whose number of missions the sources leave not known (a source
    // gap covers it) is said to be not known, not drawn as 0: its bar reads
    // "not known" (or "N+" for the missions on record), and so do its
    // tooltip and the chart's description.
    const perYear = d.missionsPerYear ?? [];
    const data = perYear.map((y) => ({ label: y.year ? String(y.year) : t("undated"), value: y.missionCount ?? 0 }));
    const shown = (y) => y.countKnowledge !== NOT_KNOWN ? String(y.missionCount ?? 0)
      : y.missionCount ? t("missionsAtLeast", y.missionCount) : t("notKnown");
    const unknownYears = perYear.filter((y) => y.countKnowledge === NOT_KNOWN);
    let chart = h("p", { class: "none" }, t("none"));
    if (data.length) {
      chart = barChart(data, t("missionsPerYear"));
      const bars = chart.querySelectorAll(".bar");
      perYear.forEach((y, i) => {
        if (y.countKnowledge !== NOT_KNOWN || !bars[i]) return;
        bars[i].classList.add("not-known");
        bars[i].setAttribute("data-knowledge", "not-known");
        bars[i].querySelector("text.val").textContent = shown(y);
        bars[i].querySelector("title").textContent = `${data[i].label}: ${shown(y)}`;
      });
      chart.querySelector("desc").textContent = data.map((x, i) => `${x.label}: ${shown(perYear[i])}`).join(", ");
    }
    out.push(section("missions", t("missionsPerYear"), chart,
      h("p", { class: "muted" }, unknownYears.length
        ? t("totalMissionsOnRecord", d.totalMissions ?? 0, unknownYears.map((y) => y.year).join(", "))
        : t("totalMissions", d.totalMissions ?? 0))));
  }
  if (sectionOk(secs, "latest_events")) {
    out.push(section("latest", t("latestEvents"), list(d.latestEvents, (e) => eventItem(e, refs))));
  }
  if (sectionOk(secs, "next_events")) {
    out.push(section("next", t("nextEvents"), list(d.nextEvents, (e) => eventItem(e, refs))));
  }
  out.push(h("form", { class: "search big", action: "/search", method: "get" },
    h("label", { for: "home-q" }, t("searchLabel")),
    h("input", { id: "home-q", name: "q", type: "search", placeholder: t("searchPlaceholder") }),
    h("button", { type: "submit" }, t("searchButton"))));
  return h("div", { class: "page home grid" }, out);
}
