// monitoring_server: wiring only. See services/common/server/server.h for flags and
// behaviour, monitoring_service.h for the API.
#include "services/common/server/server.h"
#include "services/monitoring/embedded_files.h"
#include "services/monitoring/monitoring_service.h"
#include "services/monitoring/monitoring_store.h"

int main(int argc, char** argv) {
  cstopa::common::ServiceDefinition def;
  def.name = "monitoring";
  def.grpc_service_name = "cstopa.monitoring.v1.MonitoringService";
  def.default_port = 50054;
  def.default_admin_port = 9054;
  def.schema = cstopa::monitoring::MonitoringSchema();
  def.builtin_seed = cstopa::monitoring::kMonitoringSeed;
  def.create = cstopa::common::StandardInstance<
      cstopa::monitoring::MonitoringStore,
      cstopa::monitoring::MonitoringHandler,
      cstopa::monitoring::MonitoringGrpcService>::Create;
  return cstopa::common::RunService(argc, argv, def);
}
