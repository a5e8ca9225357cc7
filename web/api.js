// The public HTTP/JSON API, same origin: fetch with a timeout, errors as
// readable messages, and helpers for its value types.
import { getLang, t, serviceName } from "./i18n.js";
import { h } from "./dom.js";

const TIMEOUT_MS = 8000;

export class ApiError extends Error {
  constructor(message, { status = 0, code = "", kind = "api" } = {}) {
    super(message);
    this.status = status; // HTTP status, 0 when none came
    this.code = code; // gRPC status name, e.g. NOT_FOUND
    this.kind = kind; // "api", "network" or "timeout"
  }
}

// GET /v1/... → parsed JSON. Rejects with an ApiError whose message is the
// AIP-193 error's, or says that the API did not answer. `signal` cancels.
export async function api(path, params, { signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort("timeout"), TIMEOUT_MS);
  const onAbort = () => ctl.abort("cancelled");
  signal?.addEventListener("abort", onAbort);
  let res;
  try {
    res = await fetch(url, {
      headers: { accept: "application/json", "accept-language": getLang() },
      signal: ctl.signal,
    });
  } catch (e) {
    if (ctl.signal.reason === "timeout") throw new ApiError(t("timeout"), { kind: "timeout" });
    if (ctl.signal.reason === "cancelled") throw new ApiError("cancelled", { kind: "cancelled" });
    throw new ApiError(t("apiDown"), { kind: "network" });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = body?.error;
    if (err) throw new ApiError(`${err.status ?? res.status}: ${err.message}`, { status: res.status, code: err.status });
    throw new ApiError(res.status >= 500 ? t("apiDown") : `HTTP ${res.status}`, { status: res.status });
  }
  return body ?? {};
}

// The text of a LocalizedText list in the interface's language, else
// English, else the first.
export function loc(texts) {
  if (!Array.isArray(texts) || texts.length === 0) return "";
  const lang = getLang();
  return (texts.find((x) => x.languageCode === lang) ?? texts.find((x) => x.languageCode === "en") ?? texts[0]).text ?? "";
}

// A google.type.Date (year, year-month or full) as text: 2024, 2022-05,
// 2022-05-19. Empty for none.
export function fmtDate(d) {
  if (!d || !d.year) return "";
  const p = (n) => String(n).padStart(2, "0");
  if (!d.month) return String(d.year);
  if (!d.day) return `${d.year}-${p(d.month)}`;
  return `${d.year}-${p(d.month)}-${p(d.day)}`;
}

// A period (cstopa.type.v1.DateRange) as text. Stated bounds as before:
// "2022 – 2024", "since 2024", "until 2025". Bounds no source states are
// said as what they are: "known from 2022" (the first source attesting it),
// "after 2025-08-29" (it had not begun then), "known until 2023" (still held
// then), "ended by 2024" (ended on or before), e.g. "known from 2022 – ended
// by 2024". A knownUntil equal to the start is dropped when an endedBy is
// given; one equal to knownFrom with no end is said as "known on 2025-08-29".
export function fmtPeriod(p) {
  const a = fmtDate(p?.startDate);
  const b = fmtDate(p?.endDate);
  const from = fmtDate(p?.knownFrom);
  const after = fmtDate(p?.startAfter);
  const until = fmtDate(p?.knownUntil);
  const by = fmtDate(p?.endedBy);
  // Only stated bounds (or none): the plain forms.
  if (!from && !after && !until && !by) {
    if (a && b) return a === b ? a : `${a} – ${b}`;
    if (a) return t("since", a);
    if (b) return t("until", b);
    return "";
  }
  // Attested on one day only, no end known.
  if (!a && !after && !b && !by && from && from === until) return t("knownOn", from);
  let start = "";
  if (a) start = a;
  else start = [after && t("startAfter", after), from && t("knownFrom", from)].filter(Boolean).join(", ");
  const ends = [];
  if (b) ends.push(b);
  else {
    // A knownUntil on the day it is known from (or started) says nothing
    // more once an endedBy is given.
    if (until && !(by && (until === from || until === a))) ends.push(t("knownUntil", until));
    if (by) ends.push(t("endedBy", by));
  }
  const end = ends.join(", ");
  if (start && end) return `${start} – ${end}`;
  if (start) return a ? t("since", a) : start;
  return b ? t("until", b) : end;
}

// The first and last year a period may cover, for drawing it on a time
// axis: its stated start, else the day it is known from, else the day after
// which it began; its stated end, else the day it ended by, else the last
// day it is known to have held (undefined: open).
export function periodYears(p) {
  const year = (...ds) => ds.find((d) => d?.year)?.year;
  return {
    start: year(p?.startDate, p?.knownFrom, p?.startAfter),
    end: year(p?.endDate, p?.endedBy, p?.knownUntil),
  };
}

// An event's date: its dates (a single stated day or span as the day or
// span, any unstated bound as fmtPeriod says it), else its start time's day.
export function eventDate(e) {
  const d = e.dates;
  if (d) {
    const onlyStart = !d.endDate && !d.knownFrom && !d.startAfter && !d.knownUntil && !d.endedBy;
    return onlyStart ? fmtDate(d.startDate) : fmtPeriod(d);
  }
  if (e.startTime) return e.startTime.slice(0, 10);
  return "";
}

// The display name of a resource named in a view's `references`, else the
// last segment of the name.
export function refName(refs, name) {
  const r = (refs ?? []).find((x) => x.name === name);
  return r ? loc(r.displayName) : name.split("/").pop();
}

// The web page of a resource name, when there is one.
export function pageOf(name) {
  const m = /^(states|persons|documents|treaties)\/([a-z0-9-]+)$/.exec(name ?? "");
  return m ? `/${m[1]}/${m[2]}` : null;
}

// A link to a resource's page (plain text when it has none).
export function link(name, text) {
  const href = pageOf(name);
  return href ? h("a", { href }, text) : h("span", {}, text);
}

// The notice of a partial view: null when every section is complete, else
// an element (role=status) naming the missing sections and their services.
export function partialNotice(sections) {
  const missing = (sections ?? []).filter((s) => !s.complete);
  if (missing.length === 0) return null;
  const byService = new Map();
  for (const s of missing) {
    if (!byService.has(s.service)) byService.set(s.service, []);
    byService.get(s.service).push(s.section);
  }
  const parts = [...byService.entries()].map(
    ([svc, secs]) => `${t("serviceUnavailable", serviceName(svc))} (${secs.join(", ")})`,
  );
  return h("div", { class: "notice partial", role: "status", "data-partial": "" }, t("partial", parts.join("; ")));
}

// Whether a view's section is complete (unknown sections count as complete).
export function sectionOk(sections, name) {
  const s = (sections ?? []).find((x) => x.section === name);
  return !s || s.complete;
}

// The page shown when a call failed.
export function errorBox(err, retry) {
  return h("div", { class: "notice error", role: "alert" },
    h("h1", {}, err?.status === 404 ? t("notFound") : t("errorTitle")),
    h("p", {}, err?.message ?? String(err)),
    retry ? h("button", { type: "button", onclick: retry }, t("retry")) : null);
}
