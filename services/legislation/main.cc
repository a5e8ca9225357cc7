// legislation_server: wiring only. See services/common/server.h for flags and
// behaviour, legislation_service.h for the API.
#include <memory>

#include "services/common/server.h"
#include "services/legislation/embedded_files.h"
#include "services/legislation/legislation_service.h"
#include "services/legislation/legislation_store.h"

namespace {

class LegislationInstance : public cstopa::common::ServiceInstance {
 public:
  explicit LegislationInstance(const cstopa::common::ServiceContext& ctx)
      : store_(ctx.db, ctx.page_tokens),
        handler_(&store_, ctx.api_keys),
        service_(&handler_) {}
  grpc::Service* grpc_service() override { return &service_; }
  absl::Status LoadSeed(const std::string& text) override {
    return handler_.LoadSeed(text);
  }

 private:
  cstopa::legislation::LegislationStore store_;
  cstopa::legislation::LegislationHandler handler_;
  cstopa::legislation::LegislationGrpcService service_;
};

}  // namespace

int main(int argc, char** argv) {
  cstopa::common::ServiceDefinition def;
  def.name = "legislation";
  def.grpc_service_name = "cstopa.legislation.v1.LegislationService";
  def.default_port = 50052;
  def.default_admin_port = 9052;
  def.schema = cstopa::legislation::LegislationSchema();
  def.builtin_seed = cstopa::legislation::kLegislationSeed;
  def.create = [](const cstopa::common::ServiceContext& ctx)
      -> absl::StatusOr<std::unique_ptr<cstopa::common::ServiceInstance>> {
    return std::make_unique<LegislationInstance>(ctx);
  };
  return cstopa::common::RunService(argc, argv, def);
}
