// gateway_server: wiring only. See services/common/server/server.h for the
// common flags and behaviour, gateway_service.h for the gateway's own.
#include "gateway/gateway_service.h"

int main(int argc, char** argv) {
  return cstopa::common::RunService(argc, argv,
                                    cstopa::gateway::GatewayService());
}
