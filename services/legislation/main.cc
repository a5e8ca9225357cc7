// legislation_server: wiring only. See services/common/server/server.h for
// flags and behaviour, legislation_service.h for the API.
#include "services/legislation/legislation_service.h"

int main(int argc, char** argv) {
  return cstopa::common::RunService(argc, argv,
                                    cstopa::legislation::LegislationService());
}
