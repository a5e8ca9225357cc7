// Search across the whole record (GET /v1/search), with facets by type and
// pages. URL: /search?q=words&type=cstopa.org/Person&page=<token>.
import { h, section } from "../dom.js";
import { t } from "../i18n.js";
import { api, fmtDate, pageOf, partialNotice } from "../api.js";
import { heading } from "./common.js";

const PAGE_SIZE = 10;
const TYPE_RE = /^cstopa\.org\/[A-Za-z]+$/;

const typeLabel = (type) => type.replace(/^cstopa\.org\//, "").replace(/([a-z])([A-Z])/g, "$1 $2");

function searchUrl(q, type, page) {
  const p = new URLSearchParams({ q });
  if (type) p.set("type", type);
  if (page) p.set("page", page);
  return `/search?${p}`;
}

// A snippet with <mark>…</mark> around matches, as text and <mark> nodes.
function snippet(text) {
  const out = [];
  const parts = (text ?? "").split(/(<mark>|<\/mark>)/);
  let marked = false;
  for (const part of parts) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) out.push(marked ? h("mark", {}, part) : part);
  }
  return out;
}

export async function render({ query, signal }) {
  const q = (query.get("q") ?? "").trim();
  const type = TYPE_RE.test(query.get("type") ?? "") ? query.get("type") : "";
  const page = query.get("page") ?? "";
  if (!q) {
    document.title = `${t("searchTitle")} · ${t("brand")}`;
    return h("div", { class: "page search" }, heading(t("searchTitle")), h("p", {}, t("enterQuery")));
  }
  document.title = `${t("searchFor", q)} · ${t("brand")}`;
  const [res, all] = await Promise.all([
    api("/v1/search", { query: q, filter: type ? `type = "${type}"` : "", pageSize: PAGE_SIZE, pageToken: page }, { signal }),
    // Facet counts over every type, whatever the chosen one.
    type ? api("/v1/search", { query: q, pageSize: 1 }, { signal }) : null,
  ]);
  const counts = (all ?? res).typeCounts ?? [];
  const total = Number((all ?? res).totalSize ?? 0);
  const facets = h("nav", { class: "facets", "aria-label": t("facets") },
    h("h2", {}, t("facets")),
    h("ul", {},
      h("li", {}, h("a", { href: searchUrl(q), "aria-current": type ? null : "true" }, t("allTypes"), " ", h("span", { class: "count" }, String(total)))),
      counts.map((c) => h("li", {}, h("a", { href: searchUrl(q, c.type), "aria-current": c.type === type ? "true" : null, "data-type": c.type },
        typeLabel(c.type), " ", h("span", { class: "count" }, String(c.count)))))));
  const hits = res.hits ?? [];
  const results = h("section", { class: "results", "aria-labelledby": "results-h" },
    h("h2", { id: "results-h" }, t("results", Number(res.totalSize ?? hits.length))),
    hits.length === 0 ? h("p", { class: "none" }, t("noResults")) :
      h("ol", { class: "hits", id: "hits" }, hits.map((x) => {
        const href = pageOf(x.name);
        return h("li", {},
          h("div", {}, href ? h("a", { href }, x.title || x.name) : h("strong", {}, x.title || x.name), " ",
            h("span", { class: "tag" }, typeLabel(x.type)), x.date ? h("span", { class: "date" }, ` ${fmtDate(x.date)}`) : null),
          x.snippet ? h("p", { class: "snippet" }, snippet(x.snippet)) : null);
      })),
    h("nav", { class: "pager", "aria-label": t("searchTitle") },
      page ? h("a", { href: searchUrl(q, type) }, t("firstPage")) : null,
      res.nextPageToken ? h("a", { href: searchUrl(q, type, res.nextPageToken), rel: "next" }, t("nextPage")) : null));
  return h("div", { class: "page search" }, heading(t("searchFor", q)), partialNotice(res.sections), h("div", { class: "search-layout" }, facets, results));
}
