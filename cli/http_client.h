// The cstopa client's HTTP transport: libcurl calls to the gateway's
// HTTP/JSON front door, and a reader of its Server-Sent Event streams.
//
// A transport failure (no connection, no answer in time) is an error whose
// message is the one line to show the user, marked so that the caller can
// tell it from an API error (IsTransportError: exit code 3). Any HTTP
// answer, error statuses included, is a response.
//
//   ClientOptions options;
//   options.gateway = "127.0.0.1:8080";
//   HttpClient client(options);
//   absl::StatusOr<HttpResponse> r = client.Call("GET", "/v1/states", "");
//   if (!r.ok()) ...                  // "cannot reach the gateway at ..."
//   if (r->status != 200) ...         // the body is the JSON error
//
//   SseParser parser([](const SseEvent& e) { Print(e.data); return true; });
//   client.Stream("/v1/events:watch", /*last_event_id=*/"",
//                 [&](absl::string_view line) { return parser.Line(line); });
#ifndef CSTOPA_CLI_HTTP_CLIENT_H_
#define CSTOPA_CLI_HTTP_CLIENT_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cstopa::cli {

// Where the gateway's HTTP/JSON API listens unless --gateway or
// $CSTOPA_GATEWAY says otherwise.
inline constexpr char kDefaultGateway[] = "127.0.0.1:8080";

struct ClientOptions {
  // "host:port", or a URL prefix such as "http://host:port".
  std::string gateway = kDefaultGateway;
  // Sent as "authorization: Bearer <key>" on calls made with_key; empty:
  // none.
  std::string api_key;
  long connect_timeout_ms = 3000;
  // For Call only; streams have no total timeout.
  long total_timeout_ms = 30000;
};

struct HttpResponse {
  long status = 0;
  std::string content_type;
  std::string body;
  // Stream only: it was ended by SIGINT or SIGTERM (see
  // EndStreamsOnSignals), not by the gateway.
  bool interrupted = false;
};

// From now on SIGINT and SIGTERM end the current (or next) Stream instead
// of the process: Stream returns within about a second with `interrupted`
// set, so that the caller can still say where to resume from.
void EndStreamsOnSignals();

// True for the errors HttpClient returns when the gateway cannot be reached
// or does not answer (their message is the whole line to print).
bool IsTransportError(const absl::Status& status);
// The same mark for usage errors found after parsing (a bad date, bad
// JSON): exit code 2.
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options);

  const ClientOptions& options() const { return options_; }

  // One request: `method` "GET", "POST", "PATCH" or "DELETE", `path` with
  // its query (already encoded), `body` JSON (sent when not empty, or
  // always for POST and PATCH). The key is sent when `with_key`.
  absl::StatusOr<HttpResponse> Call(absl::string_view method,
                                    absl::string_view path,
                                    absl::string_view body,
                                    bool with_key = false) const;

  // A GET of a text/event-stream answer: `on_line` gets each line of the
  // stream (without its line ending) as it arrives, and may return false to
  // stop. When the answer is not a 200 event stream, its body is collected
  // into the response instead. Returns when the stream ends.
  absl::StatusOr<HttpResponse> Stream(
      absl::string_view path, absl::string_view last_event_id,
      std::function<bool(absl::string_view line)> on_line) const;

  // A GET of a file: the body of a 200 answer goes to `on_data` piece by
  // piece as it arrives (it may return false to stop); any other answer's
  // body is collected into the response. No total timeout; SIGINT or
  // SIGTERM (after EndStreamsOnSignals) end it with `interrupted` set.
  absl::StatusOr<HttpResponse> Download(
      absl::string_view path,
      std::function<bool(absl::string_view data)> on_data) const;

  // Percent-encodes a query parameter's value (RFC 3986 unreserved kept).
  static std::string Escape(absl::string_view value);

 private:
  ClientOptions options_;
};

// One Server-Sent Event.
struct SseEvent {
  std::string id;     // the last "id:" field seen (kept across events)
  std::string event;  // "event:" field; "" means "message"
  std::string data;   // "data:" lines joined with '\n'
};

// Assembles events from a stream's lines (the SSE format of the WHATWG HTML
// standard): fields "id", "event", "data"; comments (":") ignored; an empty
// line dispatches the event when it has data.
class SseParser {
 public:
  explicit SseParser(std::function<bool(const SseEvent&)> on_event)
      : on_event_(std::move(on_event)) {}

  // Feeds one line; returns false when on_event asked to stop.
  bool Line(absl::string_view line);
  // The id of the last event dispatched.
  const std::string& last_id() const { return last_id_; }

 private:
  std::function<bool(const SseEvent&)> on_event_;
  SseEvent pending_;
  bool has_data_ = false;
  std::string last_id_;
};

}  // namespace cstopa::cli

#endif  // CSTOPA_CLI_HTTP_CLIENT_H_
