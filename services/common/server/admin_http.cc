#include "services/common/server/admin_http.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cstopa::common {
namespace {

// How long Shutdown lets answers being written finish.
constexpr absl::Duration kShutdownGrace = absl::Milliseconds(250);

// Admin requests carry no body worth reading.
constexpr size_t kMaxBodyBytes = 64 << 10;

std::vector<http::HttpHeader> Headers(const std::string& content_type) {
  return {{"Content-Type", content_type},
          {"Cache-Control", "no-store"},
          {"X-Content-Type-Options", "nosniff"}};
}

void ReplyText(http::HttpExchange& ex, int status, const std::string& text,
               std::vector<http::HttpHeader> extra = {}) {
  std::vector<http::HttpHeader> headers = Headers("text/plain; charset=utf-8");
  for (http::HttpHeader& h : extra) headers.push_back(std::move(h));
  ex.Reply(status, std::move(headers), absl::StrCat(text, "\n"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(
    const std::string& address, std::map<std::string, Handler> routes) {
  return Start(address, std::move(routes), Options());
}

absl::StatusOr<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(
    const std::string& address, std::map<std::string, Handler> routes,
    const Options& options) {
  http::HttpServerOptions http_options;
  http_options.threads = 1;
  http_options.idle_timeout = options.io_timeout;
  http_options.max_header_bytes = options.max_request_bytes;
  http_options.max_body_bytes = kMaxBodyBytes;
  auto shared_routes =
      std::make_shared<const std::map<std::string, Handler>>(std::move(routes));
  auto server = http::HttpServer::Start(
      address, http_options,
      [routes = shared_routes](std::shared_ptr<http::HttpExchange> ex) {
        if (ex->method() != "GET" && ex->method() != "HEAD") {
          return ReplyText(*ex, 405, "method not allowed",
                           {{"Allow", "GET, HEAD"}});
        }
        auto it = routes->find(ex->path());
        if (it == routes->end()) return ReplyText(*ex, 404, "not found");
        Response r = it->second();
        ex->Reply(r.status, Headers(r.content_type), std::move(r.body));
      });
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat("admin ", server.status().message()));
  }
  int port = (*server)->port();
  return std::unique_ptr<AdminHttpServer>(
      new AdminHttpServer(std::move(*server), port));
}

AdminHttpServer::AdminHttpServer(std::unique_ptr<http::HttpServer> server,
                                 int port)
    : server_(std::move(server)), port_(port) {}

AdminHttpServer::~AdminHttpServer() { Shutdown(); }

void AdminHttpServer::Shutdown() { server_->Shutdown(kShutdownGrace); }

}  // namespace cstopa::common
