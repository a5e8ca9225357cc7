// A live feed of news and events: the latest from GET /v1/events, then
// every change as it happens from the Server-Sent Events stream
// GET /v1/events:watch (EventSource reconnects and resumes by itself).
import { h } from "../dom.js";
import { t, enumLabel } from "../i18n.js";
import { api, loc, eventDate } from "../api.js";
import { heading } from "./common.js";

const MAX_ITEMS = 50;

function item(e, badge) {
  return h("li", { "data-name": e.name },
    badge ? [h("span", { class: `badge ${badge[0]}` }, badge[1]), " "] : null,
    h("span", { class: "date" }, eventDate(e)), " ",
    h("span", { class: "tag" }, enumLabel(e.kind)), " ",
    h("strong", {}, loc(e.title) || e.name),
    e.summary?.length ? h("p", { class: "muted small" }, loc(e.summary).slice(0, 240)) : null);
}

export async function render({ signal, onCleanup }) {
  document.title = `${t("liveTitle")} · ${t("brand")}`;
  const recent = await api("/v1/events", { pageSize: 20 }, { signal });
  const status = h("p", { class: "notice live-status", role: "status", id: "live-status", "data-state": "connecting" }, t("liveConnecting"));
  const feed = h("ol", { class: "feed", id: "feed", "aria-live": "polite", "aria-label": t("liveTitle") });
  const recentList = h("ol", { class: "feed", id: "recent" }, (recent.events ?? []).map((e) => item(e)));

  const es = new EventSource("/v1/events:watch");
  const setState = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
  };
  // Connected once the stream's first message (its checkpoint) arrived:
  // from then on every change is delivered.
  es.onerror = () => setState("lost", t("liveLost"));
  es.onmessage = (m) => {
    let c;
    try {
      c = JSON.parse(m.data);
    } catch {
      return;
    }
    setState("open", t("liveConnected"));
    if (!c.event || c.changeType === "CHANGE_TYPE_CHECKPOINT") return;
    const badge = {
      CHANGE_TYPE_CREATED: ["new", t("liveNew")],
      CHANGE_TYPE_UPDATED: ["changed", t("liveChanged")],
      CHANGE_TYPE_DELETED: ["removed", t("liveRemoved")],
    }[c.changeType] ?? ["changed", t("liveChanged")];
    feed.prepend(item(c.event, badge));
    while (feed.children.length > MAX_ITEMS) feed.lastChild.remove();
  };
  onCleanup(() => es.close());

  return h("div", { class: "page live" },
    heading(t("liveTitle")), status, feed,
    h("section", { class: "card", "aria-labelledby": "recent-h" }, h("h2", { id: "recent-h" }, t("recent")), recentList));
}
