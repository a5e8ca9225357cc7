// The handler of cstopa.gateway.v1.GatewayService: each view fans out to
// the backends in one round (fan_out.h), fills its sections from whatever
// answered, and says which sections are incomplete and why (see the proto's
// file comment). Identical views in flight together share one fan-out
// (coalescer.h). The handler owns no data; tests build it on Backends
// connected to servers of their own:
//
//   auto backends = Backends::Connect({membership, legislation, events,
//                                      monitoring});
//   GatewayHandler handler(backends->get(), GatewayOptions());
//   v1::GatewayServiceBlocking gateway(&handler);
//   absl::Status s = gateway.GetStateProfile(caller, request, &profile);
#ifndef CSTOPA_GATEWAY_GATEWAY_SERVICE_H_
#define CSTOPA_GATEWAY_GATEWAY_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cstopa/events/v1/events.grpc.pb.h"
#include "cstopa/gateway/v1/gateway.cstopa.h"
#include "cstopa/legislation/v1/legislation.grpc.pb.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "cstopa/monitoring/v1/monitoring.grpc.pb.h"
#include "gateway/backends.h"
#include "gateway/coalescer.h"
#include "gateway/name_directory.h"
#include "gateway/view_cache.h"
#include "services/common/query/paging.h"
#include "services/common/server/server.h"

namespace cstopa::gateway {

struct GatewayOptions {
  // The deadline of a view whose caller set none.
  absl::Duration default_deadline = absl::Seconds(2);
  // Time kept between the backends' deadline and the caller's, to answer
  // with what arrived. At most a fifth of the time left is kept.
  absl::Duration backend_margin = absl::Milliseconds(50);
  // Identical views in flight together share one fan-out.
  bool coalesce = true;
  // Signs Search's page tokens; null: the handler signs with a random
  // secret of its own (tokens then hold for this process only).
  const common::PageTokenCodec* page_tokens = nullptr;
};

class GatewayHandler final : public v1::GatewayServiceHandler {
 public:
  // `backends`, `names` and `cache` must outlive the handler; `names` (the
  // display names for the views' `references`) may be null: no references;
  // `cache` may be null: every view is built from the backends.
  GatewayHandler(Backends* backends, GatewayOptions options,
                 const NameDirectory* names = nullptr,
                 ViewCache* cache = nullptr);

  void GetStateProfile(GetStateProfileCall call) override;
  void GetPersonProfile(GetPersonProfileCall call) override;
  void GetAssemblyDashboard(GetAssemblyDashboardCall call) override;
  void ListBackends(ListBackendsCall call) override;
  // One search across the four services' `Search`, fused by rank
  // (search_fusion.h); cached and coalesced like the views.
  void Search(SearchCall call) override;

  // The handler's own /metrics families (views that joined a fan-out).
  std::string MetricsText() const;

  // No seed: the gateway owns no data.
  absl::Status LoadSeed(const std::string&) { return absl::OkStatus(); }

 private:
  // The caller's deadline, or the default one.
  absl::Time ViewDeadline(absl::Time caller_deadline) const;
  // When the backends must have answered for a view due at `deadline`.
  absl::Time BackendDeadline(absl::Time deadline) const;

  Backends* backends_;
  const GatewayOptions options_;
  const NameDirectory* names_;
  ViewCache* cache_;
  std::unique_ptr<membership::v1::MembershipService::Stub> membership_;
  std::unique_ptr<legislation::v1::LegislationService::Stub> legislation_;
  std::unique_ptr<events::v1::EventsService::Stub> events_;
  std::unique_ptr<monitoring::v1::MonitoringService::Stub> monitoring_;
  Coalescer coalescer_;
  std::unique_ptr<common::PageTokenCodec> own_tokens_;
  const common::PageTokenCodec* tokens_;
};

// The gateway as the runner starts it (server/server.h): no store; flags
// --membership_target, --legislation_target, --events_target,
// --monitoring_target (gRPC target URIs), --default_deadline_ms,
// --backend_margin_ms, --breaker_open_ms, --names_refresh_ms, --coalesce,
// --view_cache, --view_cache_mb, and the HTTP/JSON front door
// (http/http_api.h): --http_listen (off when empty, the default),
// --http_threads, --http_max_body_bytes, --http_cors_origins,
// --http_deadline_ms.
common::ServiceDefinition GatewayService();

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_GATEWAY_SERVICE_H_
