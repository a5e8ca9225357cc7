// events_server: wiring only. See services/common/server/server.h for flags and
// behaviour, events_service.h for the API.
#include <memory>

#include "absl/time/time.h"
#include "services/common/server/server.h"
#include "services/events/embedded_files.h"
#include "services/events/events_service.h"
#include "services/events/events_store.h"

namespace {

class EventsInstance : public cstopa::common::ServiceInstance {
 public:
  explicit EventsInstance(const cstopa::common::ServiceContext& ctx)
      : store_(ctx.db, ctx.page_tokens),
        handler_(&store_, ctx.api_keys),
        service_(&handler_) {}
  grpc::Service* grpc_service() override { return &service_; }
  absl::Status LoadSeed(const std::string& text) override {
    return handler_.LoadSeed(text);
  }
  // Ends the watch streams when draining starts (see
  // EventsGrpcService::BeginShutdown).
  void BeginDrain() override { service_.BeginShutdown(); }

 private:
  cstopa::events::EventsStore store_;
  cstopa::events::EventsHandler handler_;
  cstopa::events::EventsGrpcService service_;
};

}  // namespace

int main(int argc, char** argv) {
  cstopa::common::ServiceDefinition def;
  def.name = "events";
  def.grpc_service_name = "cstopa.events.v1.EventsService";
  def.default_port = 50053;
  def.default_admin_port = 9053;
  def.schema = cstopa::events::EventsSchema();
  def.builtin_seed = cstopa::events::kEventsSeed;
  def.create = [](const cstopa::common::ServiceContext& ctx)
      -> absl::StatusOr<std::unique_ptr<cstopa::common::ServiceInstance>> {
    // Events carry IANA time zones (validated, and used to turn days into
    // instants): without the zone database nothing would validate.
    absl::TimeZone probe;
    if (!absl::LoadTimeZone("Europe/Moscow", &probe))
      return absl::FailedPreconditionError(
          "the IANA time zone database is missing: install tzdata "
          "(/usr/share/zoneinfo) or point TZDIR at a copy");
    return std::make_unique<EventsInstance>(ctx);
  };
  return cstopa::common::RunService(argc, argv, def);
}
