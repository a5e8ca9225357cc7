// membership_server: wiring only. See services/common/server.h for flags and
// behaviour, membership_service.h for the API.
#include "services/common/server.h"
#include "services/membership/embedded_files.h"
#include "services/membership/membership_service.h"
#include "services/membership/membership_store.h"

int main(int argc, char** argv) {
  cstopa::common::ServiceDefinition def;
  def.name = "membership";
  def.grpc_service_name = "cstopa.membership.v1.MembershipService";
  def.default_port = 50051;
  def.default_admin_port = 9051;
  def.schema = cstopa::membership::MembershipSchema();
  def.builtin_seed = cstopa::membership::kMembershipSeed;
  def.create = cstopa::common::StandardInstance<
      cstopa::membership::MembershipStore,
      cstopa::membership::MembershipHandler,
      cstopa::membership::MembershipGrpcService>::Create;
  return cstopa::common::RunService(argc, argv, def);
}
