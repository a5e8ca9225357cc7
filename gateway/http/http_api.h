// The gateway's HTTP/JSON front door: every RPC of the five APIs at its
// `google.api.http` route, forwarded to the service that owns it as raw
// bytes over a generic stub, with no code per method.
//
// What a request goes through (Handle, on the HTTP server's loop thread):
//  * CORS: an `Origin` among the configured origins (or any, with "*") gets
//    Access-Control-Allow-Origin; an OPTIONS preflight is answered 204.
//  * `GET /v1/openapi.json`: the OpenAPI 3 document of every route.
//  * `GET /v1/export`: the whole record as one gzip'd JSON Lines download,
//    from every service's Export stream (record_export.h).
//  * `POST /<package.Service>/<Method>` with a JSON body: the unary method
//    called with the whole request (what `cstopa call` uses).
//  * The public web pages (web_assets.h), when `web_pages`: a GET or HEAD
//    of a path outside the API (not under `/v<N>`, not
//    `/<package.Service>/<Method>`) is answered from the files embedded
//    from web/ (a page URL without a file extension gets `/index.html`, a
//    missing file 404), with a strong ETag and 304, gzip for text,
//    `Cache-Control: no-cache`, `X-Content-Type-Options: nosniff`,
//    `Referrer-Policy: no-referrer` and, on HTML, a Content-Security-Policy
//    that allows only the gateway's own scripts, styles and API. Other
//    methods there are 405 with `Allow: GET, HEAD`. Counted under the
//    route "static".
//  * Otherwise the route table (transcoder.h): 404 for no route, 405 with
//    `Allow` for a wrong method. The path's bindings, query and JSON body
//    become the request (a bad one is 400 with a google.rpc.BadRequest);
//    `authorization`, `accept-language`, `x-request-id` and `traceparent`
//    pass through as gRPC metadata; the call gets `deadline`.
//  * The answer: protobuf JSON with a strong `ETag` (a digest of the JSON),
//    304 when `If-None-Match` names it, gzip when the client accepts it
//    and the body is at least `gzip_min_bytes`. An error is the AIP-193 JSON
//    (`{"error": {"code", "message", "status", "details"}}`) with the HTTP
//    status its gRPC code maps to.
//  * Server streams (the Watch methods) are Server-Sent Events: one event
//    per message, `id:` its resume token and `data:` its JSON; a client
//    that reconnects with `Last-Event-ID` resumes after that change. A
//    stream that fails ends with an `event: error` carrying the error JSON
//    (or, before anything was sent, as a plain error answer). A slow reader
//    slows the stream (the next message is read once the last is written).
//  * One access-log line per request (`"msg":"http"`) and the metrics
//    families cstopa_http_requests_total{route,code} and
//    cstopa_http_request_seconds{route} (MetricsText).
//
//   auto api = HttpApi::Create(channels, HttpApiOptions(), &access_log);
//   auto server = http::HttpServer::Start(
//       "127.0.0.1:8080", {}, [a = api->get()](auto ex) { a->Handle(ex); });
#ifndef CSTOPA_GATEWAY_HTTP_HTTP_API_H_
#define CSTOPA_GATEWAY_HTTP_HTTP_API_H_

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/http/transcoder.h"
#include "grpcpp/channel.h"
#include "services/common/http/http_server.h"

namespace cstopa::common {
class AccessLog;
class LocalService;
}  // namespace cstopa::common

namespace cstopa::gateway::http {

// Answers to GETs kept true by the services' change streams (the
// gateway's ViewCache, view_cache.h): an HTTP GET of a service's method
// without an `authorization` header is answered from it when cached, and
// cached when answered; a write through the front door drops the service's
// answers at once.
class ReadCache {
 public:
  // What Insert needs to know of the moment a read began.
  using Stamp = std::shared_ptr<const void>;

  virtual ~ReadCache() = default;
  virtual Stamp Begin() = 0;
  virtual std::shared_ptr<const std::string> Lookup(const std::string& key) = 0;
  // Keeps `bytes`, the answer of `service` (its full name) to `key`,
  // unless the service changed or its stream was lost since `stamp`.
  virtual void Insert(absl::string_view service, const std::string& key,
                      std::string bytes, const Stamp& stamp) = 0;
  // A write to `service` was answered.
  virtual void Wrote(absl::string_view service) = 0;
};

struct HttpApiOptions {
  // Origins allowed to call from a browser ("https://example.org"), or "*".
  std::vector<std::string> cors_origins;
  // The deadline of a forwarded unary call.
  absl::Duration deadline = absl::Seconds(10);
  // Answers at least this large are gzip'd for clients that accept it.
  size_t gzip_min_bytes = 1024;
  // The server URL the OpenAPI document names; "" for none.
  std::string public_url;
  // Null: every GET is forwarded. Not owned; must outlive the HttpApi.
  ReadCache* read_cache = nullptr;
  // Serve the web pages embedded from web/ at the paths outside the API;
  // false: those paths are 404 like any unknown path.
  bool web_pages = true;
};

class HttpApi {
 public:
  // `channels` maps each gRPC service's full name
  // ("cstopa.membership.v1.MembershipService") to the channel that serves
  // it; a route of a service without one answers 501. `local` maps the full
  // names of services in this process to their in-process faces
  // (server/local_binding.h): their unary methods are called without gRPC
  // (their streams still go through `channels`). `access_log` and the local
  // services may be null / must outlive the HttpApi.
  static absl::StatusOr<std::unique_ptr<HttpApi>> Create(
      std::map<std::string, std::shared_ptr<grpc::Channel>> channels,
      HttpApiOptions options, common::AccessLog* access_log,
      std::map<std::string, common::LocalService*> local = {});
  ~HttpApi();

  // Cancels the calls in flight for HTTP requests and waits until every
  // one has ended (their answers given or dropped), or `deadline`; true
  // when none is left. After Stop nothing is written to the access log.
  // Call it once the HTTP server no longer takes requests; the destructor
  // does (waiting up to 30 s).
  bool Stop(absl::Time deadline);

  // The HTTP server's handler (see the file comment). Never blocks.
  void Handle(std::shared_ptr<cstopa::http::HttpExchange> exchange);

  // The AIP-193 JSON of an answer the HTTP server gives itself (413, 431,
  // 503, 500): HttpServerOptions::error_body.
  static std::pair<std::string, std::string> ServerErrorBody(
      int status, absl::string_view message);

  // Prometheus text of the HTTP requests served.
  std::string MetricsText() const;

  const RouteTable& routes() const { return *routes_; }

  // What one request needs of the front door; public for the .cc's helpers.
  struct Impl;

 private:
  HttpApi() = default;
  std::unique_ptr<ApiDescriptors> api_;
  std::optional<RouteTable> routes_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_HTTP_API_H_
