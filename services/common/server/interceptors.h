// Request ids, W3C trace context, metrics and access logs for every gRPC call.
//
// TelemetryInterceptorFactory installs a server interceptor that, for every
// call the server sees (application services, health, reflection and calls to
// unknown methods alike):
//
//  * takes the client's `x-request-id` (printable ASCII, at most 128 chars)
//    or generates one (32 random hex digits);
//  * continues the client's W3C trace (`traceparent`
//    "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>") with a new span
//    id of its own, or starts a new trace when the header is absent or
//    invalid;
//  * echoes `x-request-id` and the server's `traceparent` (same trace id, the
//    server's span id) in the initial AND trailing response metadata (error
//    responses may be trailers-only);
//  * when the status is sent, counts the call in Metrics and writes one JSON
//    line to the AccessLog:
//      {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"rpc",
//       "service":"membership","method":"/pkg.Svc/M","code":"NOT_FOUND",
//       "grpc_code":5,"duration_ms":1.234,"request_id":"...","trace_id":"...",
//       "span_id":"...","peer":"ipv4:127.0.0.1:5555","error":"..."}
//    ("error" only when the code is not OK).
//
// Every call is counted and logged exactly once, with the code the client
// saw where the server can tell: a call the client cancels before the status
// is sent is recorded as CANCELLED when it closes; one whose deadline passes
// first (or that is cancelled within 100 ms of its deadline, which is how a
// client's own deadline usually arrives) as DEADLINE_EXCEEDED, even if the
// handler later returns another status. Not detectable: a handler that
// ignores a cancellation and returns before gRPC has reported the close is
// recorded with the handler's status.
//
//   Metrics metrics("membership");
//   AccessLog access_log(stderr);
//   std::vector<std::unique_ptr<
//       grpc::experimental::ServerInterceptorFactoryInterface>> creators;
//   creators.push_back(std::make_unique<TelemetryInterceptorFactory>(
//       "membership", &metrics, &access_log));
//   builder.experimental().SetInterceptorCreators(std::move(creators));
//
// `metrics` and `access_log` must outlive the grpc::Server.
//
// In a handler, RequestIdOf(context) is the call's effective request id (the
// interceptor stores a generated or replacing id in the call's client
// metadata, so handlers see the same id the client gets back). Likewise the
// call's `traceparent` client metadata is replaced by the server's own span,
// the parent of the calls the handler makes (common::Caller carries both):
//
//   grpc::ServerUnaryReactor* GetMember(grpc::CallbackServerContext* context,
//                                       ...) {
//     std::string request_id = RequestIdOf(context);
#ifndef CSTOPA_SERVICES_COMMON_SERVER_INTERCEPTORS_H_
#define CSTOPA_SERVICES_COMMON_SERVER_INTERCEPTORS_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"
#include "services/common/api/trace_context.h"
#include "services/common/server/metrics.h"  // also declares GrpcCodeName

namespace grpc {
class ServerContextBase;
}  // namespace grpc

namespace cstopa::common {

// `s` escaped for use inside a JSON string (without the quotes): '"', '\\'
// and control characters escaped, valid UTF-8 passed through, each byte of
// invalid UTF-8 replaced by \ufffd so the output is always valid JSON.
std::string JsonEscape(absl::string_view s);

// The request id of the call `context` belongs to: its x-request-id client
// metadata, which the telemetry interceptor sets to the effective id (the
// client's when valid, else a generated one). "" when `context` is null, or
// without the interceptor when the client sent no valid id. Works with every
// server API (sync, callback, async).
std::string RequestIdOf(const grpc::ServerContextBase* context);

// Appends JSON lines to a FILE*. Thread-safe.
class AccessLog {
 public:
  // `out` is not owned; nullptr disables the log (lines are dropped).
  explicit AccessLog(FILE* out);

  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return out_ != nullptr; }

  // Writes `line` plus '\n' with one fwrite under a mutex, then flushes.
  void Write(absl::string_view line);

 private:
  FILE* const out_;
  absl::Mutex mu_;
};

class TelemetryInterceptor;  // interceptors.cc

// Creates one telemetry interceptor per call (see the file comment).
class TelemetryInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `service_name` goes into every access-log line. `metrics` and `log` are
  // not owned, may be null (nothing recorded), and must outlive the server.
  TelemetryInterceptorFactory(std::string service_name, Metrics* metrics,
                              AccessLog* log);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  // 32 random lowercase hex digits (128 bits). Thread-safe.
  std::string NewRequestId();
  // The server's span for a call: `parent`'s trace id and flags when
  // present, else a new trace id and flags 00; always a new span id.
  // Thread-safe.
  TraceContext NewServerSpan(const std::optional<TraceContext>& parent);

 private:
  friend class TelemetryInterceptor;


  const std::string service_name_;
  Metrics* const metrics_;
  AccessLog* const log_;
  TraceIds ids_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_INTERCEPTORS_H_
