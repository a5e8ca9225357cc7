// A minimal HTTP/1.1 server for operators: /metrics, /healthz and the like.
//
// It serves a fixed set of exact paths to GET and HEAD requests from ONE
// background thread that multiplexes every connection with poll(), so a
// client that connects and stalls delays nobody else; it is closed once
// Options::io_timeout has passed. Each connection carries one request and is
// answered with `Connection: close`; request heads above
// Options::max_request_bytes get 431. Handlers run on the server thread, one
// at a time: keep them quick and make them thread-safe with respect to the
// rest of the program.
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
// Unknown paths get 404, methods other than GET and HEAD get 405, malformed
// requests 400. The query string is ignored when matching paths.
#ifndef CSTOPA_SERVICES_COMMON_SERVER_ADMIN_HTTP_H_
#define CSTOPA_SERVICES_COMMON_SERVER_ADMIN_HTTP_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

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
    // How long a connection may take to send its request and read the
    // answer before it is closed.
    absl::Duration io_timeout = absl::Seconds(5);
    // Largest request head (request line and headers) accepted.
    size_t max_request_bytes = 8192;
    // Connections served at once; further ones wait in the listen backlog.
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

  // Stops the server thread promptly, dropping open connections, and closes
  // the listening socket. Idempotent and thread-safe; must not be called
  // from a handler.
  void Shutdown();

 private:
  AdminHttpServer(int listen_fd, int wake_fd, int port,
                  std::map<std::string, Handler> routes,
                  const Options& options);
  void Run();
  // The complete HTTP response to the request head `head` (request line and
  // headers).
  std::string Respond(absl::string_view head) const;

  // Set at construction, read by the server thread, closed by Shutdown once
  // the thread has been joined.
  int listen_fd_;
  int wake_fd_;  // eventfd written by Shutdown to wake poll()
  const int port_;
  const std::map<std::string, Handler> routes_;
  const Options options_;
  absl::Mutex mu_;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_ADMIN_HTTP_H_
