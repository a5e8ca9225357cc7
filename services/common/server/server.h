// The runner every binary uses: flags, stores, gRPC server, health,
// reflection, telemetry, auth keys, seed data and graceful shutdown.
//
// A service describes itself in a ServiceDefinition (in its library, so
// that tests and other binaries can host it too), and its main.cc runs it:
//
//   int main(int argc, char** argv) {
//     return cstopa::common::RunService(argc, argv, MembershipService());
//   }
//
// What RunService does, in order: parses and validates flags (see --help),
// opens the store and applies migrations, loads the seed (idempotent) and
// the service's records of an export file given with --import (idempotent),
// starts the gRPC server (callback API, standard health service, server
// reflection, request-id/traceparent/access-log/metrics interceptors,
// message-size and stream limits, optional TLS or mutual TLS) and the admin
// HTTP server (/metrics, /healthz), then waits for SIGTERM or SIGINT. Health
// reports NOT_SERVING while the store does not answer and while draining; on
// a signal the server stops taking calls, lets in-flight calls finish
// within --drain_seconds, and stops as soon as none is left (idle client
// connections do not hold it up).
//
// A service without a store (the gateway: an empty `schema.service`) has
// no --store or --seed flag. RunServices hosts several services on one port,
// each with its own store: their flags become --<name>_store and
// --<name>_seed (env CSTOPA_<NAME>_STORE, CSTOPA_<NAME>_SEED).
#ifndef CSTOPA_SERVICES_COMMON_SERVER_SERVER_H_
#define CSTOPA_SERVICES_COMMON_SERVER_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/service_type.h"
#include "services/common/api/auth.h"
#include "services/common/query/paging.h"
#include "services/common/server/local_binding.h"
#include "services/common/store/sql.h"

namespace cstopa::common {

class AccessLog;
class Metrics;

// What a service implementation gets from the runner.
struct ServiceContext {
  Database* db = nullptr;  // null for a service without a store
  const PageTokenCodec* page_tokens = nullptr;
  const ApiKeyStore* api_keys = nullptr;
  // The values of the service's own flags (ServiceDefinition::extra_flags),
  // validated, by flag name.
  std::map<std::string, std::string> flags;
};

// A flag of one service only, beside the common ones.
struct ServiceFlag {
  std::string name;  // without the leading --
  std::string env;   // environment fallback, may be empty
  std::string default_value;
  std::string help;
  // Checks a value; an error stops the start with exit code 2.
  std::function<absl::Status(const std::string&)> validate;
};

// A running service: the gRPC implementation plus whatever it owns.
class ServiceInstance {
 public:
  virtual ~ServiceInstance() = default;
  virtual grpc::Service* grpc_service() = 0;
  // The service's in-process face (local_binding.h), through which the
  // server's BatchService (batch_handler.h) runs batched reads; null for
  // none (the service's methods are then not batched).
  virtual LocalService* local_service() { return nullptr; }
  // Loads seed data from `text` (the service's seed file format). Must be
  // idempotent: records that exist, or were deleted, are left alone.
  virtual absl::Status LoadSeed(const std::string& text) = 0;
  // Called once before the seed is loaded and before serving: brings
  // derived data up to date (e.g. rebuilds a search index made by an older
  // version). Blocks; an error stops the start (exit 1).
  virtual absl::Status Prepare() { return absl::OkStatus(); }
  // Called once when the server starts draining (SIGTERM), before it stops
  // taking calls: end long-lived streams here (e.g. with UNAVAILABLE, so
  // that clients reconnect to another replica and resume). Must not block.
  virtual void BeginDrain() {}
  // A server's --import: loads the records of a cstopa export file (its
  // bytes, gzip'd or not) that belong to this service, as its Import
  // method, whose request is `request_type`, would
  // (ResourceSet::ImportExportText). Returns {created, skipped}.
  virtual absl::StatusOr<std::pair<int, int>> ImportExport(
      const google::protobuf::Descriptor& request_type,
      const std::string& text) {
    return absl::FailedPreconditionError(
        "this service has no records to import");
  }
  // More metrics for /metrics, in Prometheus text format (whole families,
  // with their HELP and TYPE lines); "" for none.
  virtual std::string MetricsText() const { return ""; }

  // What a service that serves more than gRPC (the gateway's HTTP/JSON)
  // gets once the gRPC server is up: the process's access log. Not owned;
  // valid until StopServing returns.
  struct Serving {
    AccessLog* access_log = nullptr;
  };
  // Called once the gRPC server serves, before the port file is written.
  // Returns the ports it listens on by name (e.g. {"http_port", 8080}): they
  // go into the port file and the "serving" log line. An error stops the
  // start (exit 1).
  virtual absl::StatusOr<std::map<std::string, int>> StartServing(
      const Serving&) {
    return std::map<std::string, int>();
  }
  // Called on SIGTERM after BeginDrain and before the gRPC server stops:
  // stop taking requests and let those in flight finish, within `grace`.
  virtual void StopServing(absl::Duration /*grace*/) {}
};

namespace server_internal {
// Whether Handler has a `void BeginDrain()`.
template <typename Handler, typename = void>
struct HasBeginDrain : std::false_type {};
template <typename Handler>
struct HasBeginDrain<
    Handler, std::void_t<decltype(std::declval<Handler&>().BeginDrain())>>
    : std::true_type {};
// Whether Resources has a `set()` (a ResourceSet, resources/).
template <typename Resources, typename = void>
struct HasResourceSet : std::false_type {};
template <typename Resources>
struct HasResourceSet<Resources,
                      std::void_t<decltype(&std::declval<Resources&>().set())>>
    : std::true_type {};
// Whether Resources has a `set()` with a search index (resources/).
template <typename Resources, typename = void>
struct HasSearchIndex : std::false_type {};
template <typename Resources>
struct HasSearchIndex<Resources, std::void_t<decltype(std::declval<Resources&>()
                                                          .set()
                                                          .search_index()
                                                          .RebuildIfStale())>>
    : std::true_type {};
}  // namespace server_internal

// The shape of a service on platform v2: its resources over the store
// (constructed from the database, page tokens and API keys, and whatever a
// service's own flags make of them), a handler over them with LoadSeed, and
// the handler's generated gRPC face. A handler with a BeginDrain() (ending
// its Watch streams, say) has it called when the server starts draining
// (ServiceInstance::BeginDrain).
//
//   def.create = HandlerInstance<MembershipResources, MembershipHandler>::
//       Factory(&v1::NewMembershipServiceGrpc);
//   // With options from the service's flags:
//   return std::make_unique<HandlerInstance<R, H>>(ctx, &v1::NewXGrpc,
//                                                  OptionsOf(ctx.flags));
template <typename Resources, typename Handler>
class HandlerInstance : public ServiceInstance {
 public:
  template <typename Interface>
  using GrpcFace = std::unique_ptr<grpc::Service> (*)(Interface*);

  // `extra` follows the database, page tokens and API keys in the
  // resources' constructor.
  template <typename Interface, typename... Extra>
  HandlerInstance(const ServiceContext& ctx, GrpcFace<Interface> face,
                  Extra&&... extra)
      : resources_(ctx.db, ctx.page_tokens, ctx.api_keys,
                   std::forward<Extra>(extra)...),
        handler_(&resources_),
        service_(face(&handler_)),
        local_(NewLocalFace(static_cast<Interface*>(&handler_))) {}

  // The ServiceDefinition::create of such a service.
  template <typename Interface>
  static std::function<
      absl::StatusOr<std::unique_ptr<ServiceInstance>>(const ServiceContext&)>
  Factory(GrpcFace<Interface> face) {
    return [face](const ServiceContext& ctx)
               -> absl::StatusOr<std::unique_ptr<ServiceInstance>> {
      return std::make_unique<HandlerInstance>(ctx, face);
    };
  }

  grpc::Service* grpc_service() override { return service_.get(); }
  LocalService* local_service() override { return local_.get(); }
  absl::Status LoadSeed(const std::string& text) override {
    return handler_.LoadSeed(text);
  }
  absl::Status Prepare() override {
    if constexpr (server_internal::HasSearchIndex<Resources>::value)
      return resources_.set().search_index().RebuildIfStale();
    return absl::OkStatus();
  }
  void BeginDrain() override {
    if constexpr (server_internal::HasBeginDrain<Handler>::value)
      handler_.BeginDrain();
  }
  absl::StatusOr<std::pair<int, int>> ImportExport(
      const google::protobuf::Descriptor& request_type,
      const std::string& text) override {
    if constexpr (server_internal::HasResourceSet<Resources>::value)
      return resources_.set().ImportExportText(request_type, text);
    return ServiceInstance::ImportExport(request_type, text);
  }

 private:
  Resources resources_;
  Handler handler_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<LocalService> local_;
};

struct ServiceDefinition {
  std::string name;  // short name, e.g. "membership"
  std::string
      grpc_service_name;  // e.g. "cstopa.membership.v1.MembershipService"
  int default_port = 0;
  int default_admin_port = 0;
  // The store's schema; a service without a store leaves it empty (then
  // ServiceContext::db is null and there is no seed).
  SchemaSpec schema;
  std::string builtin_seed;  // the seed file compiled into the binary
  std::vector<ServiceFlag> extra_flags;
  std::function<absl::StatusOr<std::unique_ptr<ServiceInstance>>(
      const ServiceContext&)>
      create;
};

// The contents of the file at `path`; NOT_FOUND "cannot read <path>" when it
// cannot be read (for a service's own flags that name files).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Runs the service until SIGTERM/SIGINT; returns the process exit code
// (0 after a clean drain, 2 for bad flags, 1 for start-up failures).
int RunService(int argc, char** argv, const ServiceDefinition& def);

// Runs several services in one process (`program` names it in --help and
// logs), on the first one's default ports. Exit codes as RunService.
int RunServices(int argc, char** argv, const std::string& program,
                const std::vector<ServiceDefinition>& defs);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_SERVER_H_
