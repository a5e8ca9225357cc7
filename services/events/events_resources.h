// The events service's resource, declared once (services/common/resources/
// resource.h) over the events table, and its change feed (the event_changes
// table, services/common/store/change_feed.h). Search finds an event by its
// titles, summaries, place and participants (search_index.h). Every
// committed create, update, delete and seed insert is logged in its own
// transaction, so it appears in WatchEvents exactly once, in commit order.
//
//   auto db = OpenDatabase("sqlite::memory:", EventsSchema());
//   EventsResources resources(db->get(), &page_tokens, &api_keys);
//   resources.events().store().Get("events/x", false, &event);
//
// Time columns. `start_time` and `end_time` (filterable and orderable) hold
// an event's effective bounds in microseconds since the epoch:
//   start: Event.start_time when set; else 00:00 of the earliest possible day
//          (dates.start_date's, or the day after dates.start_after) in the
//          event's time zone (UTC when empty or unknown); else kUnknownTime.
//   end:   Event.end_time when set; else the last microsecond of the latest
//          possible day (dates.end_date's, else dates.ended_by's), else of
//          the last day it is known to have taken place (known_until, the
//          start day, known_from); else kUnknownTime.
// (EffectiveStart and EffectiveEnd in the .cc say why, case by case.)
#ifndef CSTOPA_SERVICES_EVENTS_EVENTS_RESOURCES_H_
#define CSTOPA_SERVICES_EVENTS_EVENTS_RESOURCES_H_

#include <cstdint>
#include <string>

#include "cstopa/events/v1/events.pb.h"
#include "services/common/resources/resource.h"
#include "services/common/store/change_feed.h"

namespace cstopa::events {

// The schema (migrations) of the events store.
const common::SchemaSpec& EventsSchema();

// 0001-01-01T00:00:00Z: the bound of an event with no known date.
inline constexpr int64_t kUnknownTime = -62135596800LL * 1000000;

// The effective bounds described above.
int64_t EffectiveStart(const v1::Event& e);
int64_t EffectiveEnd(const v1::Event& e);

// Validates the writable content of an event; `prefix` prefixes field paths
// (e.g. "event."). Lists the events it refers to (parent_event) in `refs`.
void ValidateEvent(const v1::Event& e, const std::string& prefix,
                   common::Violations& v, common::Refs& refs);

// The declaration of events: pattern, filter and order columns, validation.
common::ResourceDecl<v1::Event> EventDecl();

// The change feed settings of the events service: table event_changes,
// changes kept 7 days, watchers ended when 10,000 changes behind.
common::ChangeFeedOptions EventsFeedOptions();

class EventsResources {
 public:
  // `db`, `tokens` and `keys` must outlive the resources. Starts the feed's
  // poller.
  EventsResources(common::Database* db, const common::PageTokenCodec* tokens,
                  const common::ApiKeyStore* keys,
                  common::ChangeFeedOptions feed = EventsFeedOptions());

  common::ResourceSet& set() { return set_; }
  common::Resource<v1::Event>& events() { return events_; }
  common::ChangeFeed& feed() { return feed_; }

 private:
  common::ResourceSet set_;
  common::ChangeFeed feed_;
  common::Resource<v1::Event> events_;
};

}  // namespace cstopa::events

#endif  // CSTOPA_SERVICES_EVENTS_EVENTS_RESOURCES_H_
