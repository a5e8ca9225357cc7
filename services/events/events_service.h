// Handlers of cstopa.events.v1.EventsService, and their gRPC wiring.
//
// EventsHandler holds the logic of the unary methods (validation,
// authorization, standard-method semantics) with plain arguments and
// absl::Status results, so tests call it without a server. EventsGrpcService
// adapts it to the gRPC callback API and serves WatchEvents: each stream is a
// ServerWriteReactor registered with the store's ChangeFeed (one poller
// thread per process, one message in flight per stream; see
// services/common/store/change_feed.h).
//
//   EventsStore store(db, &tokens);
//   EventsHandler handler(&store, &api_keys);
//   EventsGrpcService service(&handler);
#ifndef CSTOPA_SERVICES_EVENTS_EVENTS_SERVICE_H_
#define CSTOPA_SERVICES_EVENTS_EVENTS_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "cstopa/events/v1/events.grpc.pb.h"
#include "services/common/api/auth.h"
#include "services/common/resources/standard_methods.h"
#include "services/events/events_store.h"

namespace cstopa::events {

// Validates the writable content of an event; `prefix` prefixes field paths
// (e.g. "event."). Lists the events it refers to (parent_event) in `refs`.
void ValidateEvent(const v1::Event& e, const std::string& prefix,
                   common::Violations& v, common::Refs& refs);

class EventsHandler {
 public:
  EventsHandler(EventsStore* store, const common::ApiKeyStore* keys);

  absl::Status GetEvent(const common::Caller& caller,
                        const v1::GetEventRequest& request, v1::Event* out);
  // GetEvent without holding the calling thread while the store answers:
  // `done` runs once `out` is filled or with the error, perhaps on the
  // store's I/O thread; `request` and `out` must live until then.
  void GetEventAsync(const common::Caller& caller,
                     const v1::GetEventRequest& request, v1::Event* out,
                     common::StatusCallback done);
  absl::Status BatchGetEvents(const common::Caller& caller,
                              const v1::BatchGetEventsRequest& request,
                              v1::BatchGetEventsResponse* out);
  absl::Status ListEvents(const common::Caller& caller,
                          const v1::ListEventsRequest& request,
                          v1::ListEventsResponse* out);
  // The serialized ListEventsResponse, built from the stored bytes without
  // decoding them (the gRPC face's fast path).
  absl::StatusOr<std::string> ListEventsEncoded(
      const common::Caller& caller, const v1::ListEventsRequest& request);
  absl::Status CreateEvent(const common::Caller& caller,
                           const v1::CreateEventRequest& request,
                           v1::Event* out);
  absl::Status UpdateEvent(const common::Caller& caller,
                           const v1::UpdateEventRequest& request,
                           v1::Event* out);
  absl::Status DeleteEvent(const common::Caller& caller,
                           const v1::DeleteEventRequest& request,
                           v1::Event* out);

  // Loads the seed file text (EventsSeed in text format); idempotent.
  absl::Status LoadSeed(const std::string& text);

  EventsStore* store() { return store_; }

 private:
  // Parent events must exist (checked inside the write transaction).
  absl::Status CheckReferences(const common::Refs& refs);

  EventsStore* store_;
  const common::ApiKeyStore* keys_;
};

// The generated callback service, ListEvents in its raw (ByteBuffer) form.
using EventsGrpcBase = v1::EventsService::WithRawCallbackMethod_ListEvents<
    v1::EventsService::CallbackService>;

// The gRPC face of EventsHandler (callback API).
class EventsGrpcService final : public EventsGrpcBase {
 public:
  explicit EventsGrpcService(EventsHandler* handler);

  grpc::ServerUnaryReactor* GetEvent(grpc::CallbackServerContext* ctx,
                                     const v1::GetEventRequest* request,
                                     v1::Event* response) override;
  grpc::ServerUnaryReactor* BatchGetEvents(
      grpc::CallbackServerContext* ctx,
      const v1::BatchGetEventsRequest* request,
      v1::BatchGetEventsResponse* response) override;
  grpc::ServerUnaryReactor* ListEvents(grpc::CallbackServerContext* ctx,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CreateEvent(grpc::CallbackServerContext* ctx,
                                        const v1::CreateEventRequest* request,
                                        v1::Event* response) override;
  grpc::ServerUnaryReactor* UpdateEvent(grpc::CallbackServerContext* ctx,
                                        const v1::UpdateEventRequest* request,
                                        v1::Event* response) override;
  grpc::ServerUnaryReactor* DeleteEvent(grpc::CallbackServerContext* ctx,
                                        const v1::DeleteEventRequest* request,
                                        v1::Event* response) override;
  grpc::ServerWriteReactor<v1::WatchEventsResponse>* WatchEvents(
      grpc::CallbackServerContext* ctx,
      const v1::WatchEventsRequest* request) override;

  // Ends every watch stream with UNAVAILABLE (reason SERVER_SHUTTING_DOWN,
  // "reconnect with your last token") and refuses new ones. Call when the
  // server starts draining, before grpc::Server::Shutdown, so streams end at
  // once instead of at the drain deadline.
  void BeginShutdown();

 private:
  EventsHandler* handler_;
};

}  // namespace cstopa::events

#endif  // CSTOPA_SERVICES_EVENTS_EVENTS_SERVICE_H_
