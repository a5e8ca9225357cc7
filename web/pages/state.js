// A state: its profile on a date (GET /v1/states/{s}/profile?asOf=), with an
// "as of" picker that re-asks the API.
import { h, section } from "../dom.js";
import { t, enumLabel } from "../i18n.js";
import { api, loc, fmtDate, fmtPeriod, periodYears, refName, link, partialNotice, sectionOk } from "../api.js";
import { timeline } from "../charts.js";
import { list, eventItem, heading } from "./common.js";

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const NOT_KNOWN = "AS_OF_KNOWLEDGE_NOT_KNOWN";

// A (possibly partial) date as a number that sorts: 2022 < 2022-05 < 2022-05-19.
const dateKey = (d) => (d?.year ? d.year * 10000 + (d.month ?? 0) * 100 + (d.day ?? 0) : Infinity);
// A period's start for ordering: stated, else known from, else started after;
// then its end the same way (open last).
const startKey = (p) => dateKey(p?.startDate ?? p?.knownFrom ?? p?.startAfter);
const endKey = (p) => dateKey(p?.endDate ?? p?.endedBy ?? p?.knownUntil);
const byPeriod = (a, b) => startKey(a.period) - startKey(b.period) || endKey(a.period) - endKey(b.period);

export async function render({ params: [id], query, signal }) {
  const asOf = DATE_RE.test(query.get("asOf") ?? "") ? query.get("asOf") : "";
  const p = await api(`/v1/states/${id}/profile`, { asOf }, { signal });
  const refs = p.references;
  const secs = p.sections;
  const name = p.state ? loc(p.state.displayName) : refName(refs, `states/${id}`);
  document.title = `${t("stateTitle", name)} · ${t("brand")}`;
  const date = fmtDate(p.asOfDate);

  const picker = h("form", { class: "asof", method: "get", action: `/states/${id}` },
    h("label", { for: "asof" }, t("asOfLabel")),
    h("input", { id: "asof", name: "asOf", type: "date", value: date, required: true }),
    h("button", { type: "submit" }, t("asOfSubmit")));

  // The status on the date; when no period holds and the sources do not
  // say, that it is not known (not "none").
  const status = !p.state ? ""
    : p.state.currentStatusKnowledge === NOT_KNOWN ? t("statusNotKnown") : enumLabel(p.state.currentStatus);
  const out = [heading(name, status), picker, partialNotice(secs)];

  if (sectionOk(secs, "membership")) {
    const total = (p.delegations ?? []).reduce((n, d) => n + (d.totalSeats ?? 0), 0);
    // Some delegation's seats on the date are not known: the total counts
    // only those known, so it is not shown as the number of seats.
    const seatsUnknown = (p.delegations ?? []).some((d) => d.seatsKnowledge === NOT_KNOWN);
    const totalText = !seatsUnknown ? String(total) : total ? t("seatsAtLeast", total) : t("notKnown");
    out.push(section("seats", t("seats"),
      h("p", { class: "big-number" }, h("span", { id: "seats-on" }, t("seatsOn", date)), ": ",
        h("strong", { id: "seats-total", "data-known": String(!seatsUnknown) }, totalText)),
      (p.delegations ?? []).map((d) => {
        const allocs = [...(d.seatAllocations ?? [])].sort(byPeriod);
        const items = allocs.map((a) => {
          const chamber = a.chamberId ? ` (${a.chamberId})` : "";
          const text = `${t("seatFigure", a.seats)}${chamber}: ${fmtPeriod(a.period)}`;
          return { ...periodYears(a.period), label: `${a.seats}${chamber}`, text, a };
        });
        const nowYear = p.asOfDate?.year ?? new Date().getFullYear();
        return h("div", { class: "delegation" },
          h("h3", {}, loc(d.displayName)),
          items.length ? timeline(items, `${t("seatTimeline")}: ${loc(d.displayName)}`, { to: nowYear }) : null,
          h("ol", { class: "seat-timeline", "aria-label": t("seatTimeline") }, items.map((it) =>
            h("li", {}, h("strong", {}, t("seatFigure", it.a.seats)), it.a.chamberId ? ` · ${t("chamber")} ${it.a.chamberId}` : "",
              " · ", h("span", { class: "date" }, fmtPeriod(it.a.period)),
              (it.a.provenance ?? [])[0]?.sourceDate ? h("span", { class: "muted small" }, ` (${fmtDate(it.a.provenance[0].sourceDate)})`) : null))));
      })));
    out.push(section("parliaments", t("parliaments"), list(p.parliaments, (x) => loc(x.displayName))));
    const post = (r) => [
      link(r.role.person, loc(r.personDisplayName) || refName(refs, r.role.person)),
      ` — ${loc(r.role.title) || enumLabel(r.role.roleType)}`,
      h("span", { class: "muted" }, ` (${fmtPeriod(r.role.period)})`),
    ];
    out.push(section("people", t("people"), list(p.posts, post)));
    // Posts the sources neither show held nor not held on the date.
    if (p.postsNotKnown?.length) {
      out.push(section("people-not-known", t("postsNotKnown"), list(p.postsNotKnown, post)));
    }
    if (p.state?.statusHistory?.length) {
      out.push(section("history", t("statusHistory"), list(p.state.statusHistory, (s) => [enumLabel(s.status), h("span", { class: "muted" }, ` ${fmtPeriod(s.period)}`)])));
    }
  }
  if (sectionOk(secs, "legislation")) {
    out.push(section("treaties", t("treaties"), list(p.treaties, (x) => [
      link(x.treaty, loc(x.title) || x.treaty), " — ", enumLabel(x.party?.status),
      x.party?.statusDate ? h("span", { class: "muted" }, ` (${fmtDate(x.party.statusDate)})`) : null,
    ])));
    out.push(section("implementations", t("implementations"), list(p.implementations, (x) => [
      link(x.implementation?.document, loc(x.documentTitle) || (x.implementation?.document ?? "")),
    ])));
  }
  if (sectionOk(secs, "missions")) {
    out.push(section("missions", t("missions"), list(p.missions, (m) => [loc(m.election) || m.name.split("/").pop(), h("span", { class: "muted" }, ` ${fmtPeriod(m.period)}`)])));
  }
  if (sectionOk(secs, "operations")) {
    out.push(section("operations", t("operations"), list(p.operations, (o) => [loc(o.title), h("span", { class: "muted" }, ` ${fmtPeriod(o.period)}`)])));
  }
  if (sectionOk(secs, "events")) {
    out.push(section("events", t("events"), list(p.recentEvents, (e) => eventItem(e, refs))));
  }
  return h("div", { class: "page state grid" }, out);
}
