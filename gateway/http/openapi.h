// The OpenAPI 3.0.3 document of the gateway's HTTP/JSON API, made at run time
// from the descriptors and routes the transcoder serves (transcoder.h), so
// that the document and the API cannot drift apart.
//
//   auto api = ApiDescriptors::Load();
//   absl::StatusOr<RouteTable> routes = RouteTable::Build(**api);
//   OpenApiInfo info;
//   info.server_url = "https://api.cstopa.org";
//   std::string json = OpenApiDocument(**api, *routes, info);
//
// What the document says:
// - One operation per route: operationId `<Service>_<Method>` (`_2`, `_3`...
//   for a method's additional bindings), tagged with the service's name,
//   summary and description from the method's comment.
// - Paths. OpenAPI cannot express a variable that spans segments,
//   `/v1/{name=states/*}`, and a client generated from `/v1/{name}` would
//   percent-encode the slash in `states/kz`, which the route would not
//   match. So each variable is expanded into its segments, with one path
//   parameter per wildcard, named as in the resources' name patterns
//   (`google.api.resource`, `states/{state}`), or else after the singular of
//   the collection before it (`treaties` -> `treaty`), or after the field
//   when no collection precedes it: `/v1/{name=states/*}` becomes
//   `/v1/states/{state}`, `/v1/{parent=actionPlans/*}/items` becomes
//   `/v1/actionPlans/{action_plan}/items`, `/v1/{name=dashboard}` becomes
//   `/v1/dashboard`. Custom verbs stay literal:
//   `/v1/documents/{document}:undelete`. Each parameter's description
//   names the field it builds.
// - Query parameters: the request's fields that neither the path nor the
//   body bind, by their JSON (lowerCamelCase) names; nested messages are
//   flattened with dots (`filter.state`), google.type.Date is one
//   `format: date` string (`asOf=2022-05-01`), Timestamp, Duration,
//   FieldMask and the wrappers their JSON strings or scalars. Repeated
//   messages and maps cannot be sent in a query and are left out.
// - Request body: body "*" is the request's fields less those the path
//   binds; a named body field is that field's schema.
// - Responses: "200" with the response message (`text/event-stream` for a
//   server-streaming method: each event's `data` is one JSON response
//   message), "default" with the AIP-193 error,
//   `{"error": {"code", "message", "status", "details"}}`.
// - components.schemas: every message and enum reachable from the routes,
//   named by full name (`cstopa.membership.v1.State`), with protobuf's JSON
//   mapping of types (64-bit integers as strings, enums by name, well-known
//   types by their JSON forms), comments as descriptions, and
//   `google.api.field_behavior` as `required` (REQUIRED) and `readOnly`
//   (OUTPUT_ONLY) / `writeOnly` (INPUT_ONLY).
// The output is deterministic: the routes' order, then schemas by name.
#ifndef CSTOPA_GATEWAY_HTTP_OPENAPI_H_
#define CSTOPA_GATEWAY_HTTP_OPENAPI_H_

#include <string>

#include "gateway/http/transcoder.h"

namespace cstopa::gateway::http {

struct OpenApiInfo {
  std::string title = "cstopa API";
  std::string version = "v1";
  // Markdown; left out when empty.
  std::string description;
  // The API's base URL (`servers`); left out when empty.
  std::string server_url;
};

// The OpenAPI 3.0.3 document (JSON text, indented) of every route.
std::string OpenApiDocument(const ApiDescriptors& api, const RouteTable& routes,
                            const OpenApiInfo& info);

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_OPENAPI_H_
