// membership_server: wiring only. See services/common/server/server.h for
// flags and behaviour, membership_service.h for the API.
#include "services/membership/membership_service.h"

int main(int argc, char** argv) {
  return cstopa::common::RunService(argc, argv,
                                    cstopa::membership::MembershipService());
}
