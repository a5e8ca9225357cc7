// monitoring_server: wiring only. See services/common/server.h for flags and
// behaviour, monitoring_service.h for the API.
#include <memory>

#include "services/common/server.h"
#include "services/monitoring/embedded_files.h"
#include "services/monitoring/monitoring_service.h"
#include "services/monitoring/monitoring_store.h"

namespace {

class MonitoringInstance : public cstopa::common::ServiceInstance {
 public:
  explicit MonitoringInstance(const cstopa::common::ServiceContext& ctx)
      : store_(ctx.db, ctx.page_tokens),
        handler_(&store_, ctx.api_keys),
        service_(&handler_) {}
  grpc::Service* grpc_service() override { return &service_; }
  absl::Status LoadSeed(const std::string& text) override {
    return handler_.LoadSeed(text);
  }

 private:
  cstopa::monitoring::MonitoringStore store_;
  cstopa::monitoring::MonitoringHandler handler_;
  cstopa::monitoring::MonitoringGrpcService service_;
};

}  // namespace

int main(int argc, char** argv) {
  cstopa::common::ServiceDefinition def;
  def.name = "monitoring";
  def.grpc_service_name = "cstopa.monitoring.v1.MonitoringService";
  def.default_port = 50054;
  def.default_admin_port = 9054;
  def.schema = cstopa::monitoring::MonitoringSchema();
  def.builtin_seed = cstopa::monitoring::kMonitoringSeed;
  def.create = [](const cstopa::common::ServiceContext& ctx)
      -> absl::StatusOr<std::unique_ptr<cstopa::common::ServiceInstance>> {
    return std::make_unique<MonitoringInstance>(ctx);
  };
  return cstopa::common::RunService(argc, argv, def);
}
