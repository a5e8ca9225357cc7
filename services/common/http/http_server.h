// An HTTP/1.1 server on libevent's evhttp, for the gateway's HTTP/JSON API
// and every binary's admin endpoint (/metrics, /healthz).
//
// `threads` event loops share one listening socket; each connection lives on
// one loop. The handler is called on that loop for every complete request
// and must not block: it answers at once, or keeps the Exchange and answers
// later from any thread (a gRPC completion, say). Keep-alive is HTTP/1.1's
// default; a connection idle for `idle_timeout` is closed. Requests whose
// head is over `max_header_bytes` get 431, whose body is over
// `max_body_bytes` 413, malformed ones 400, all without calling the handler.
// (A head so large that libevent itself stops reading it, over twice
// max_header_bytes and over max_header_bytes + 64 KiB, gets libevent's 400;
// methods other than those listed at HttpExchange::method() get its 501;
// a body over four times max_body_bytes and over max_body_bytes + 8 MiB is
// read, dropped, and gets libevent's HTML 413, and a client that holds such
// a body back for `Expect: 100-continue` waits until the idle timeout.
// Error answers made by the server close the connection; their format is
// HttpServerOptions::error_body.)
//
// While a request waits for its answer the server watches the connection:
// a client that closes it (or half-closes it, as evhttp does not tell the
// two apart) is gone. A request waiting for its answer is not subject to
// `idle_timeout`; a client that does not read an answer for `idle_timeout`
// is dropped.
//
//   HttpServerOptions options;
//   auto server = HttpServer::Start("127.0.0.1:0", options,
//       [](std::shared_ptr<HttpExchange> ex) {
//         if (ex->path() != "/hello") return ex->Reply(404, {}, "");
//         ex->Reply(200, {{"Content-Type", "text/plain"}}, "hi\n");
//       });
//   if (!server.ok()) return server.status();
//   int port = (*server)->port();
//   ...
//   (*server)->Shutdown();  // or let the destructor do it
//
// Starting the first server sets SIGPIPE to be ignored in the process (a
// client that closes while its answer is written must not end the server),
// and makes libevent thread-safe.
//
// Streams (Server-Sent Events): StartStream, then SendChunk as data comes
// (its `sent` callback says when the chunk has gone to the socket, so a
// producer can wait for a slow reader), then EndStream. A client that goes
// away runs the exchange's OnClientGone callback; later calls on the
// exchange do nothing.
#ifndef CSTOPA_SERVICES_COMMON_HTTP_HTTP_SERVER_H_
#define CSTOPA_SERVICES_COMMON_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cstopa::http {

// A header of an answer; names are sent as given.
struct HttpHeader {
  std::string name;
  std::string value;
};

// One request and its answer. Thread-safe: the answer may be given from any
// thread, exactly once (Reply, or StartStream ... EndStream); a second
// answer, or an answer after the client left, is ignored. When the handler
// drops its last reference to an exchange it has not answered, the client
// gets 500 (an open stream is ended), so a forgotten answer does not hang
// the client.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;

  // "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS".
  virtual const std::string& method() const = 0;
  // The path as sent (still percent-encoded), without the query.
  virtual const std::string& path() const = 0;
  // The query as sent, without the '?'; "" when there is none.
  virtual const std::string& query() const = 0;
  // A request header's value, the name matched case-insensitively.
  virtual std::optional<std::string> header(absl::string_view name) const = 0;
  virtual const std::string& body() const = 0;
  // "ip:port" of the client.
  virtual const std::string& peer() const = 0;
  // When the request was complete.
  virtual absl::Time start_time() const = 0;

  // The whole answer. Content-Length is set by the server; for HEAD the body
  // is not sent.
  virtual void Reply(int status, std::vector<HttpHeader> headers,
                     std::string body) = 0;

  // A streamed answer (chunked transfer encoding).
  virtual void StartStream(int status, std::vector<HttpHeader> headers) = 0;
  // Queues `data`; `sent` (may be null) runs on the loop thread with true
  // once it has been written to the socket, or with false when the client
  // is gone or the server shuts down (or is not streaming). After Shutdown
  // has finished it runs at once, on the calling thread, with false.
  virtual void SendChunk(std::string data,
                         std::function<void(bool ok)> sent) = 0;
  virtual void EndStream() = 0;

  // Runs `gone` once, on the loop thread, if the connection closes before
  // the answer ends (at once if it already has; on the calling thread when
  // Shutdown has finished). One callback per exchange: a later one replaces
  // it. Dropped, unrun, once the answer has been written.
  virtual void OnClientGone(std::function<void()> gone) = 0;
};

using HttpHandler = std::function<void(std::shared_ptr<HttpExchange>)>;

struct HttpServerOptions {
  // Event loops (threads) sharing the listening socket.
  int threads = 1;
  // Largest request body; larger ones get 413.
  size_t max_body_bytes = 1 << 20;
  // Largest request head (request line and headers); larger ones get 431.
  size_t max_header_bytes = 16 << 10;
  // An idle keep-alive connection, or one that stalls sending its request,
  // is closed after this.
  absl::Duration idle_timeout = absl::Seconds(60);
  // The content type and body of the answers the server gives itself (413,
  // 431, 503 while shutting down, 500 for an exchange dropped unanswered)
  // from the status and a one-line message; empty: the message as text.
  std::function<std::pair<std::string, std::string>(int status,
                                                    absl::string_view message)>
      error_body;
};

class HttpServer {
 public:
  // Binds `address` ("127.0.0.1:0", "0.0.0.0:8080", "[::1]:0",
  // "localhost:8080"; port 0 picks a free port) and starts the loops.
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot be
  // bound; both name the address.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, const HttpServerOptions& options,
      HttpHandler handler);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  virtual ~HttpServer() = default;  // implementations call Shutdown()

  // The bound port.
  virtual int port() const = 0;

  // Stops accepting, ends open streams (their `sent` callbacks get false,
  // their OnClientGone runs), waits up to `grace` for answers in progress,
  // then closes every connection and joins the loops. Requests arriving on
  // open connections meanwhile get 503; answers given meanwhile carry
  // `Connection: close`. Idempotent. Must not be called from a loop thread.
  virtual void Shutdown(absl::Duration grace = absl::Seconds(1)) = 0;

 protected:
  HttpServer() = default;
};

}  // namespace cstopa::http

#endif  // CSTOPA_SERVICES_COMMON_HTTP_HTTP_SERVER_H_
