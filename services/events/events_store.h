// Data access of the events service: the events table (a ResourceStore) and
// its change log (a ChangeFeed), written in the same transaction by the
// store's write hook, so every committed create, update, delete and seed
// insert appears in the watch stream exactly once, in commit order.
//
//   auto db = OpenDatabase("sqlite::memory:", EventsSchema());
//   EventsStore store(db->get(), &page_tokens);
//   v1::Event e;
//   store.events().Get("events/x", false, &e);
//
// Time columns. `start_time` and `end_time` (filterable and orderable) hold
// an event's effective bounds in microseconds since the epoch:
//   start: Event.start_time when set; else 00:00 of the earliest possible day
//          of dates.start_date in the event's time zone (UTC when empty or
//          unknown); else kUnknownTime.
//   end:   Event.end_time when set; else the last microsecond of the latest
//          possible day of dates.end_date (or, without one, of the start day:
//          dates.start_date, or the local day of start_time); else
//          kUnknownTime.
#ifndef CSTOPA_SERVICES_EVENTS_EVENTS_STORE_H_
#define CSTOPA_SERVICES_EVENTS_EVENTS_STORE_H_

#include <cstdint>

#include "cstopa/events/v1/events.pb.h"
#include "services/common/store/change_feed.h"
#include "services/common/store/resource_store.h"

namespace cstopa::events {

// The schema (migrations) of the events store.
const common::SchemaSpec& EventsSchema();

// 0001-01-01T00:00:00Z: the bound of an event with no known date.
inline constexpr int64_t kUnknownTime = -62135596800LL * 1000000;

// The effective bounds described above.
int64_t EffectiveStart(const v1::Event& e);
int64_t EffectiveEnd(const v1::Event& e);

// The change feed settings of the events service: table event_changes,
// changes kept 7 days, watchers ended when 10,000 changes behind.
common::ChangeFeedOptions EventsFeedOptions();

class EventsStore {
 public:
  // `db` and `tokens` must outlive the store. Starts the feed's poller.
  EventsStore(common::Database* db, const common::PageTokenCodec* tokens,
              common::ChangeFeedOptions feed = EventsFeedOptions());

  common::ResourceStore& events() { return events_; }
  common::ChangeFeed& feed() { return feed_; }

 private:
  common::ResourceStore events_;
  common::ChangeFeed feed_;
};

}  // namespace cstopa::events

#endif  // CSTOPA_SERVICES_EVENTS_EVENTS_STORE_H_
