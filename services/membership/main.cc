// membership_server: wiring only. See services/common/server.h for flags and
// behaviour, membership_service.h for the API.
#include <memory>

#include "services/common/server.h"
#include "services/membership/embedded_files.h"
#include "services/membership/membership_service.h"
#include "services/membership/membership_store.h"

namespace {

class MembershipInstance : public cstopa::common::ServiceInstance {
 public:
  explicit MembershipInstance(const cstopa::common::ServiceContext& ctx)
      : store_(ctx.db, ctx.page_tokens),
        handler_(&store_, ctx.api_keys),
        service_(&handler_) {}
  grpc::Service* grpc_service() override { return &service_; }
  absl::Status LoadSeed(const std::string& text) override {
    return handler_.LoadSeed(text);
  }

 private:
  cstopa::membership::MembershipStore store_;
  cstopa::membership::MembershipHandler handler_;
  cstopa::membership::MembershipGrpcService service_;
};

}  // namespace

int main(int argc, char** argv) {
  cstopa::common::ServiceDefinition def;
  def.name = "membership";
  def.grpc_service_name = "cstopa.membership.v1.MembershipService";
  def.default_port = 50051;
  def.default_admin_port = 9051;
  def.schema = cstopa::membership::MembershipSchema();
  def.builtin_seed = cstopa::membership::kMembershipSeed;
  def.create = [](const cstopa::common::ServiceContext& ctx)
      -> absl::StatusOr<std::unique_ptr<cstopa::common::ServiceInstance>> {
    return std::make_unique<MembershipInstance>(ctx);
  };
  return cstopa::common::RunService(argc, argv, def);
}
