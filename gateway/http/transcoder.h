// HTTP/JSON <-> gRPC, driven by the `google.api.http` annotations of the
// APIs' descriptors: no route or method is listed by hand.
//
// ApiDescriptors holds the five APIs' descriptors with their comments (the
// descriptor set the build embeds, plus google/rpc/error_details.proto).
// RouteTable compiles every annotated method's path templates (AIP-127:
// `GET /v1/{name=states/*}`, `GET /v1/{parent=parliaments/*}/delegations`,
// `POST /v1/{name=documents/*}:undelete`, additional_bindings too) and
// matches a request's method and path to one of them. Transcoder turns the
// path's bindings, the query string and the JSON body into the request
// message's wire bytes, and the answer's wire bytes into JSON, with
// protobuf's JSON mapping (lowerCamelCase names out, either name in).
//
//   auto api = ApiDescriptors::Load();                 // embedded set
//   RouteTable routes = RouteTable::Build(**api);
//   RouteMatch m = routes.Find("GET", "/v1/states/kz");
//   if (m.miss == RouteMatch::kNoRoute) -> 404
//   if (m.miss == RouteMatch::kWrongMethod) -> 405 with Allow: m.allow
//   Transcoder transcoder(api->get());
//   absl::StatusOr<std::string> request =
//       transcoder.RequestBytes(m, "as_of=2022-05-01", "");
//   ... call m.route->method (full name
//   "/cstopa.membership.v1.MembershipService/GetState")
//   absl::StatusOr<std::string> json =
//       transcoder.ResponseJson(*m.route->method, answer_bytes);
#ifndef CSTOPA_GATEWAY_HTTP_TRANSCODER_H_
#define CSTOPA_GATEWAY_HTTP_TRANSCODER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/type_resolver.h"

namespace cstopa::gateway::http {

// The APIs' descriptors with comments, and what reads messages by them.
class ApiDescriptors {
 public:
  // From the set compiled into the binary (cstopa_descriptor_set_data).
  static absl::StatusOr<std::unique_ptr<ApiDescriptors>> Load();
  // From a serialized google.protobuf.FileDescriptorSet (tests).
  static absl::StatusOr<std::unique_ptr<ApiDescriptors>> FromSet(
      absl::string_view serialized_set);

  const google::protobuf::DescriptorPool& pool() const { return pool_; }
  // Resolves "type.googleapis.com/<full name>" in pool().
  google::protobuf::util::TypeResolver* type_resolver() const {
    return resolver_.get();
  }
  // Messages of pool()'s types. Thread-safe.
  google::protobuf::MessageFactory* factory() { return &factory_; }
  // Every service of a cstopa.* package, in the set's order, but
  // cstopa.batch.v1.BatchService (a gRPC transport, not an API of the
  // record).
  const std::vector<const google::protobuf::ServiceDescriptor*>& services()
      const {
    return services_;
  }

 private:
  ApiDescriptors();
  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_;
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
  std::vector<const google::protobuf::ServiceDescriptor*> services_;
};

// One HTTP binding of one RPC.
struct Route {
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string http_method;    // "GET", "POST", "PATCH", "DELETE", "PUT"
  std::string path_template;  // as annotated, e.g. "/v1/{name=states/*}"
  // "" (no body), "*" (the whole request), or a top-level field's name.
  std::string body;
  // The fields the template binds, as dotted paths ("name", "parent").
  std::vector<std::string> path_fields;
  bool server_streaming = false;
};

struct RouteMatch {
  enum Miss { kMatched, kNoRoute, kWrongMethod };
  Miss miss = kNoRoute;
  const Route* route = nullptr;
  // Field path -> value (percent-decoded) bound from the path.
  std::vector<std::pair<std::string, std::string>> bindings;
  // For kWrongMethod: the methods the path does take, e.g. "GET, DELETE".
  std::string allow;
};

class RouteTable {
 public:
  // Every annotated method of api.services(). INVALID_ARGUMENT naming the
  // method for a template it cannot parse.
  static absl::StatusOr<RouteTable> Build(const ApiDescriptors& api);

  // The route for an HTTP method and path (percent-encoded, no query). A
  // literal segment wins over a variable; `HEAD` matches `GET` routes.
  RouteMatch Find(absl::string_view http_method, absl::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  // (whatever the matcher needs)
  struct Compiled;
  std::shared_ptr<const std::vector<Compiled>> compiled_;
};

class Transcoder {
 public:
  // `api` must outlive the transcoder.
  explicit Transcoder(ApiDescriptors* api);

  // The request message's wire bytes: the JSON body (per route.body),
  // then query parameters (`a.b=v`, repeated fields by repeating the key,
  // enums by name or number, bools true/false, google.type.Date and
  // Timestamp in their JSON forms), then the path's bindings. A field bound
  // by the path may not be set otherwise. INVALID_ARGUMENT with a
  // google.rpc.BadRequest field violation (the field or parameter named)
  // for bad JSON, an unknown field or parameter, a value of the wrong type,
  // a body where the route takes none.
  absl::StatusOr<std::string> RequestBytes(const RouteMatch& match,
                                           absl::string_view query,
                                           absl::string_view body) const;

  // An answer message's wire bytes as JSON (lowerCamelCase names, enums by
  // name, no default-valued fields). INTERNAL when the bytes do not parse.
  absl::StatusOr<std::string> ResponseJson(
      const google::protobuf::Descriptor& type, absl::string_view bytes) const;

  // A gRPC error as HTTP: the status AIP-193 maps from the code, and a body
  // `{"error": {"code": <http>, "message": ..., "status": "NOT_FOUND",
  // "details": [ {"@type": ..., ...}, ... ]}}` with the details of the
  // serialized google.rpc.Status (`grpc-status-details-bin`; may be empty)
  // printed by their types.
  std::pair<int, std::string> ErrorJson(int grpc_code,
                                        absl::string_view message,
                                        absl::string_view status_details) const;

  // The HTTP status for a gRPC code (AIP-193).
  static int HttpStatusOf(int grpc_code);

 private:
  ApiDescriptors* api_;
};

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_TRANSCODER_H_
