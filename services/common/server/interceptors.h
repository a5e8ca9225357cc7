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
//    responses may be trailers-only; the binding's calls, below, carry them
//    in the initial metadata and, for an error, in the trailers too);
//  * when the status is sent, counts the call in Metrics and hands one JSON
//    line to the AccessLog (its fields: the log's own thread formats and
//    writes it, shortly after; see AccessLog):
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
//   metrics.SetAccessLogDroppedLines(
//       [&access_log] { return access_log.dropped_lines(); });
//   std::vector<std::unique_ptr<
//       grpc::experimental::ServerInterceptorFactoryInterface>> creators;
//   creators.push_back(std::make_unique<TelemetryInterceptorFactory>(
//       "membership", &metrics, &access_log));
//   builder.experimental().SetInterceptorCreators(std::move(creators));
//
// `metrics` and `access_log` must outlive the grpc::Server; close the log
// (AccessLog::Close) after the server has stopped to write its last lines.
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

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "services/common/api/trace_context.h"
#include "services/common/server/grpc_binding.h"  // CallObserver
#include "services/common/server/metrics.h"       // also declares GrpcCodeName

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

// Limits and timing of an AccessLog's buffer (see AccessLog).
struct AccessLogOptions {
  // Lines buffered or being written at most; further lines are dropped.
  size_t capacity_lines = 64 * 1024;
  // Bytes (about: the text of the lines) buffered or being written at most.
  size_t capacity_bytes = 16 << 20;
  // The writer writes when this many lines wait, or ...
  size_t batch_lines = 1024;
  // ... at the latest this long after the first of them arrived.
  absl::Duration max_delay = absl::Milliseconds(50);
};

// Appends JSON lines to a FILE* from a writer thread of its own, so that the
// threads that log (gRPC's, at the end of every call) never wait for the
// file. Thread-safe.
//
// Write and WriteRpc only append the line (WriteRpc: its fields, formatted
// by the writer) to an in-memory buffer under a short critical section, with
// no system call but, about once a batch, the one that wakes the writer.
// The writer takes every buffered line at once and writes them with one
// fwrite and one fflush as soon as `batch_lines` wait, a Flush or Close asks,
// or `max_delay` after the first of them arrived, so lines appear promptly
// on an idle server too. Lines keep the order of the Write/WriteRpc calls
// (calls racing on several threads are ordered as they take the lock).
//
// The buffer is bounded: while `capacity_lines` lines or `capacity_bytes`
// bytes are buffered or being written (the output is slower than the calls,
// or blocks), further lines are dropped and counted, never silently:
// dropped_lines(), which the server exports as the Prometheus counter
// cstopa_access_log_dropped_lines_total (Metrics::SetAccessLogDroppedLines).
//
// Close(), and the destructor, write every line accepted before it and stop
// the writer; they wait for the output as long as it takes. Lines written
// after Close() are dropped and counted. The server closes its log once the
// gRPC server has stopped, before closing the log's file.
//
//   AccessLog log(stderr);
//   log.Write(R"({"msg":"hello"})");
//   log.Flush();  // on stderr now
//   log.Close();  // or let the destructor do it
class AccessLog {
 public:
  // The fields of the telemetry interceptor's line for one call (see the
  // file comment for the line), formatted on the writer thread.
  struct RpcLine {
    absl::Time time;  // "ts": when the call was accounted
    std::string service;
    std::string method;
    int grpc_code = 0;  // "code" is its name
    double duration_ms = 0;
    std::string request_id;
    std::string trace_id;
    std::string span_id;
    std::string peer;
    std::string error;  // written only when `grpc_code` is not OK
  };

  // `out` is not owned and must stay open until Close() or destruction;
  // nullptr disables the log (every line is discarded, not counted, and no
  // thread is started).
  explicit AccessLog(FILE* out, AccessLogOptions options = AccessLogOptions());
  // Close().
  ~AccessLog();

  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return out_ != nullptr; }

  // Buffers `line` (a whole JSON object, without the newline) for the
  // writer, which adds '\n'; drops and counts it when the buffer is full.
  void Write(absl::string_view line);
  // Buffers the fields of one call's line; dropped and counted likewise.
  void WriteRpc(RpcLine line);

  // Returns once every line buffered before the call has been written and
  // flushed (at once when the log is disabled or closed).
  void Flush();
  // Writes every buffered line, then stops the writer thread. Idempotent;
  // a concurrent caller also returns only once the writer has stopped.
  void Close();

  // Lines dropped so far because the buffer was full or the log closed.
  uint64_t dropped_lines() const {
    return dropped_.load(std::memory_order_relaxed);
  }

 private:
  // One buffered line: preformatted (Write) or a call's fields (WriteRpc).
  using Entry = std::variant<std::string, RpcLine>;

  // About the bytes of `entry`'s line (counted against capacity_bytes).
  static size_t SizeOf(const Entry& entry);
  // Appends `entry` to the buffer, or counts it dropped.
  void Enqueue(Entry entry);
  // The writer thread: takes batches from `pending_` until closed.
  void Run();
  // Appends the JSON line of `entry`, with its '\n', to `out`.
  static void Format(const Entry& entry, std::string* out);

  // Await conditions.
  bool HasWorkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ShouldWriteLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  FILE* const out_;
  const AccessLogOptions options_;
  std::atomic<uint64_t> dropped_{0};

  absl::Mutex mu_;
  // Accepted lines not yet taken by the writer, oldest first.
  std::vector<Entry> pending_ ABSL_GUARDED_BY(mu_);
  // Lines (and their bytes) in `pending_` or in the batch being written.
  size_t buffered_lines_ ABSL_GUARDED_BY(mu_) = 0;
  size_t buffered_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Lines accepted and lines written since the start: Flush waits for
  // `written_` to reach the `accepted_` it saw.
  uint64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  int flush_waiters_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool writer_done_ ABSL_GUARDED_BY(mu_) = false;

  std::thread writer_;  // not started when disabled; joined by Close
};

class TelemetryInterceptor;  // interceptors.cc

// Creates one telemetry interceptor per call (see the file comment).
//
// The same telemetry for the methods of services built on the binding
// (grpc_binding.h) runs inside their reactors instead, as their
// CallObserver: a gRPC interceptor costs about a quarter of a small call's
// time. The runner hands the factory to each such service
// (GrpcServiceBase::set_observer) and names its methods (ServeInBinding),
// for which no interceptor is made.
class TelemetryInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface,
      public CallObserver {
 public:
  // `service_name` goes into every access-log line. `metrics` and `log` are
  // not owned, may be null (nothing recorded), and must outlive the server.
  TelemetryInterceptorFactory(std::string service_name, Metrics* metrics,
                              AccessLog* log);

  // Calls of `method` ("/pkg.Service/Method") are observed by the binding:
  // no interceptor for them. Before the server starts.
  void ServeInBinding(std::string method);
  // Whether calls of `method` (null: unknown) are observed by the binding.
  bool ServedInBinding(const char* method) const {
    return method != nullptr && bound_.contains(method);
  }

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

  // CallObserver: the call's ids from the client's metadata; then its
  // metrics and access-log line.
  CallIds Begin(const std::multimap<grpc::string_ref, grpc::string_ref>&
                    metadata) override;
  void End(const char* method, const CallIds& ids, std::string peer, int code,
           absl::string_view message, double seconds) override;

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
  absl::flat_hash_set<std::string> bound_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_INTERCEPTORS_H_
