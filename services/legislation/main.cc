// legislation_server: wiring only. See services/common/server/server.h for flags and
// behaviour, legislation_service.h for the API.
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "services/common/server/server.h"
#include "services/legislation/embedded_files.h"
#include "services/legislation/legislation_service.h"
#include "services/legislation/legislation_store.h"

namespace {

constexpr char kSearchCacheFlag[] = "search_cache_ms";

cstopa::legislation::SearchCacheOptions CacheOptions(
    const cstopa::common::ServiceContext& ctx) {
  cstopa::legislation::SearchCacheOptions options;
  int64_t ms = 0;
  (void)absl::SimpleAtoi(ctx.flags.at(kSearchCacheFlag), &ms);  // validated
  options.ttl = absl::Milliseconds(ms);
  if (ms == 0) options.max_entries = 0;
  return options;
}

class LegislationInstance : public cstopa::common::ServiceInstance {
 public:
  explicit LegislationInstance(const cstopa::common::ServiceContext& ctx)
      : store_(ctx.db, ctx.page_tokens, CacheOptions(ctx)),
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
  def.extra_flags.push_back(
      {kSearchCacheFlag, "CSTOPA_SEARCH_CACHE_MS", "2000",
       "how long a search ranking may be reused, in milliseconds: writes "
       "through this replica drop it at once, writes through another show in "
       "search after at most this long; 0 turns the cache off",
       [](const std::string& v) -> absl::Status {
         int64_t ms = 0;
         if (!absl::SimpleAtoi(v, &ms) || ms < 0 || ms > 600000)
           return absl::InvalidArgumentError(
               "must be a whole number of milliseconds from 0 to 600000");
         return absl::OkStatus();
       }});
  def.create = [](const cstopa::common::ServiceContext& ctx)
      -> absl::StatusOr<std::unique_ptr<cstopa::common::ServiceInstance>> {
    return std::make_unique<LegislationInstance>(ctx);
  };
  return cstopa::common::RunService(argc, argv, def);
}
