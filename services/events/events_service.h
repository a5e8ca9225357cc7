// The handler of cstopa.events.v1.EventsService: one method per RPC (the
// interface is generated from the proto; see tools/protoc-gen-cstopa), the
// standard methods of the declared events resource (events_resources.h),
// and WatchEvents served from the events change feed (services/common/
// store/watch.h). Tests call it through its blocking face, without a
// server:
//
//   EventsResources resources(db, &tokens, &keys);
//   EventsHandler handler(&resources);
//   v1::EventsServiceBlocking events(&handler);
//   absl::Status s = events.GetEvent(caller, request, &event);
#ifndef CSTOPA_SERVICES_EVENTS_EVENTS_SERVICE_H_
#define CSTOPA_SERVICES_EVENTS_EVENTS_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "cstopa/events/v1/events.cstopa.h"
#include "services/common/resources/export.h"
#include "services/common/resources/import.h"
#include "services/common/server/server.h"
#include "services/events/events_resources.h"

namespace cstopa::events {

class EventsHandler final : public v1::EventsServiceHandler {
 public:
  // `resources` must outlive the handler.
  explicit EventsHandler(EventsResources* resources);

  void GetEvent(GetEventCall call) override;
  void BatchGetEvents(BatchGetEventsCall call) override;
  void ListEvents(ListEventsCall call) override;
  void CreateEvent(CreateEventCall call) override;
  void UpdateEvent(UpdateEventCall call) override;
  void DeleteEvent(DeleteEventCall call) override;
  void UndeleteEvent(UndeleteEventCall call) override;
  void WatchEvents(WatchEventsCall call) override;
  void ExportEvents(ExportEventsCall call) override;
  void ImportEvents(ImportEventsCall call) override;

  // Full-text search over every searchable record of the service (the
  // declarations' `search`), served by the resource set's index.
  void Search(SearchCall call) override;

  // Loads the seed file text (EventsSeed in text format); idempotent.
  absl::Status LoadSeed(const std::string& text);

  // Ends every watch stream and export with UNAVAILABLE (reason
  // SERVER_SHUTTING_DOWN: reconnect with your last token, export again
  // elsewhere) and refuses new ones. The server calls it when draining
  // starts, before it stops taking calls, so that streams end at once
  // instead of at the drain deadline, and no export's read is still
  // running when the server stops.
  void BeginDrain();

 private:
  EventsResources* r_;
  // The exports running (common::ServeExport).
  common::Exports exports_;
};

// Fills a WatchEventsResponse from a change of the events feed (a
// common::WatchFill).
void FillWatchEventsResponse(const common::Change& change,
                             const std::string& token,
                             v1::WatchEventsResponse* out);

// The events service as the runner starts it (server/server.h).
common::ServiceDefinition EventsService();

}  // namespace cstopa::events

#endif  // CSTOPA_SERVICES_EVENTS_EVENTS_SERVICE_H_
