// A small HTTP/1.1 server for operators: /metrics, /healthz and the like.
//
// It serves a fixed set of exact paths to GET and HEAD requests, on one
// event loop of cstopa::http::HttpServer (libevent's evhttp), which
// multiplexes every connection, so a client that connects and stalls delays
// nobody else; a connection idle (or stalled mid-request) for
// Options::io_timeout is closed. Connections are kept alive between requests
// (HTTP/1.1's default; a client may send `Connection: close`). Request heads
// above Options::max_request_bytes get 431. Handlers run on the server
// thread, one at a time: keep them quick and make them thread-safe with
// respect to the rest of the program.
//
//   std::map<std::string, AdminHttpServer::Handler> routes;
//   routes["/metrics"] = [&metrics] {
//     AdminHttpServer::Response r;
//     r.content_type = "text/plain; version=0.0.4; charset=utf-8";
//     r.body = metrics.RenderPrometheus();
//     return r;
//   };
//   absl::StatusOr<std::unique_ptr<AdminHttpServer>> admin =
//       AdminHttpServer::Start("127.0.0.1:0", std::move(routes));
//   if (!admin.ok()) return admin.status();
//   int port = (*admin)->port();
//   ...
//   (*admin)->Shutdown();  // or let the destructor do it
//
// Unknown paths get 404, methods other than GET and HEAD get 405 (with
// `Allow: GET, HEAD`), malformed requests 400. The query string is ignored
// when matching paths. Answers carry `Cache-Control: no-store` and
// `X-Content-Type-Options: nosniff`.
#ifndef CSTOPA_SERVICES_COMMON_SERVER_ADMIN_HTTP_H_
#define CSTOPA_SERVICES_COMMON_SERVER_ADMIN_HTTP_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/common/http/http_server.h"

namespace cstopa::common {

class AdminHttpServer {
 public:
  struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };
  using Handler = std::function<Response()>;

  struct Options {
    // How long a connection may stay idle, or take to send its request or
    // read the answer, before it is closed.
    absl::Duration io_timeout = absl::Seconds(5);
    // Largest request head (request line and headers) accepted.
    size_t max_request_bytes = 8192;
    // Not enforced any more (evhttp in libevent 2.1 has no such limit);
    // kept so that callers setting it still compile.
    size_t max_connections = 64;
  };

  // Binds `address` ("host:port"; "127.0.0.1:0", "0.0.0.0:9090",
  // "[::1]:0", "localhost:9090"; port 0 picks a free port) and starts the
  // server thread. INVALID_ARGUMENT for a malformed address, UNAVAILABLE when
  // it cannot be bound; both name the address.
  static absl::StatusOr<std::unique_ptr<AdminHttpServer>> Start(
      const std::string& address, std::map<std::string, Handler> routes);
  static absl::StatusOr<std::unique_ptr<AdminHttpServer>> Start(
      const std::string& address, std::map<std::string, Handler> routes,
      const Options& options);

  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;
  ~AdminHttpServer();  // Calls Shutdown().

  // The bound port.
  int port() const { return port_; }

  // Stops the server thread promptly (answers being written get a moment to
  // finish), closes open connections and the listening socket. Idempotent
  // and thread-safe; must not be called from a handler.
  void Shutdown();

 private:
  AdminHttpServer(std::unique_ptr<http::HttpServer> server, int port);

  const std::unique_ptr<http::HttpServer> server_;
  const int port_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_ADMIN_HTTP_H_
