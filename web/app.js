// The router: every page has its own URL (History API). Same-origin links
// are followed without reloading; Back and Forward re-render; the language
// switch re-renders the page in place.
import { applyStatic, setLang, t } from "./i18n.js";
import { errorBox } from "./api.js";
import { h } from "./dom.js";

const ROUTES = [
  [/^\/$/, () => import("./pages/home.js")],
  [/^\/states\/([a-z0-9-]+)$/, () => import("./pages/state.js")],
  [/^\/persons\/([a-z0-9-]+)$/, () => import("./pages/person.js")],
  [/^\/documents\/([a-z0-9-]+)$/, () => import("./pages/document.js")],
  [/^\/treaties\/([a-z0-9-]+)$/, () => import("./pages/treaty.js")],
  [/^\/search$/, () => import("./pages/search.js")],
  [/^\/live$/, () => import("./pages/live.js")],
];

const app = document.getElementById("app");
let current = null; // {abort: AbortController, cleanup}

// Renders the page of the current URL. A later render cancels an earlier
// one still loading (its API calls are aborted, its result dropped).
async function render({ focus = false } = {}) {
  if (current) {
    current.abort.abort();
    try { current.cleanup?.(); } catch { /* ignore */ }
  }
  const ctx = { abort: new AbortController(), cleanup: null };
  current = ctx;
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const query = new URLSearchParams(location.search);
  const q = document.getElementById("q");
  if (q) q.value = path === "/search" ? query.get("q") ?? "" : "";
  app.setAttribute("aria-busy", "true");
  let view;
  try {
    const route = ROUTES.find(([re]) => re.test(path));
    if (!route) {
      document.title = `${t("notFound")} · ${t("brand")}`;
      view = h("div", { class: "notice error", role: "alert" }, h("h1", {}, t("notFound")), h("p", {}, t("notFoundText")));
    } else {
      const params = route[0].exec(path).slice(1);
      const mod = await route[1]();
      view = await mod.render({ params, query, signal: ctx.abort.signal, onCleanup: (f) => { if (ctx.abort.signal.aborted) f(); else ctx.cleanup = f; }, navigate });
    }
  } catch (err) {
    if (ctx.abort.signal.aborted) return;
    document.title = `${t("errorTitle")} · ${t("brand")}`;
    view = errorBox(err, () => render());
  }
  if (ctx !== current) return;
  app.replaceChildren(view);
  app.removeAttribute("aria-busy");
  app.dataset.page = path === "/" ? "home" : path.split("/")[1];
  performance.mark("content");
  if (focus) app.focus({ preventScroll: false });
}

export function navigate(url, { replace = false } = {}) {
  const u = new URL(url, location.href);
  if (replace) history.replaceState(null, "", u);
  else history.pushState(null, "", u);
  window.scrollTo(0, 0);
  render({ focus: true });
}

document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || u.pathname.startsWith("/v1/")) return;
  if (u.pathname === location.pathname && u.search === location.search && u.hash) return;
  e.preventDefault();
  navigate(u);
});

// Forms with method GET inside the app (the header search, the as-of
// picker) navigate to their URL.
document.addEventListener("submit", (e) => {
  const f = e.target;
  if (!(f instanceof HTMLFormElement) || (f.method || "get").toLowerCase() !== "get") return;
  const u = new URL(f.getAttribute("action") || location.pathname, location.href);
  if (u.origin !== location.origin) return;
  e.preventDefault();
  const data = new FormData(f);
  const params = new URLSearchParams();
  for (const [k, v] of data) if (v !== "") params.set(k, String(v));
  u.search = params.toString();
  navigate(u);
});

window.addEventListener("popstate", () => render());

for (const b of document.querySelectorAll("button[data-lang]")) {
  b.addEventListener("click", () => {
    setLang(b.dataset.lang);
    applyStatic();
    render();
  });
}

applyStatic();
render();
