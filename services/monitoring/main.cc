// monitoring_server: wiring only. See services/common/server/server.h for
// flags and behaviour, monitoring_service.h for the API.
#include "services/monitoring/monitoring_service.h"

int main(int argc, char** argv) {
  return cstopa::common::RunService(argc, argv,
                                    cstopa::monitoring::MonitoringService());
}
