// Request ids and W3C trace context, as they travel in gRPC metadata: what
// the server's telemetry interceptor reads and writes
// (server/interceptors.h) and what the client side forwards
// (client/call_context.h).
//
//   std::optional<TraceContext> parent = ParseTraceparent(header);
//   std::string header = FormatTraceparent(*parent);
#ifndef CSTOPA_SERVICES_COMMON_API_TRACE_CONTEXT_H_
#define CSTOPA_SERVICES_COMMON_API_TRACE_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace cstopa::common {

// Metadata keys (lowercase, as gRPC requires).
inline constexpr char kRequestIdKey[] = "x-request-id";
inline constexpr char kTraceparentKey[] = "traceparent";
// Longest client-supplied request id accepted.
inline constexpr size_t kMaxRequestIdLength = 128;

// One position in a W3C trace: the trace and the span within it.
struct TraceContext {
  std::string trace_id;  // 32 lowercase hex digits, not all zero
  std::string span_id;   // 16 lowercase hex digits, not all zero
  uint8_t flags = 0;     // trace-flags; bit 0 is "sampled"
};

// Parses a W3C traceparent header. Accepts version 00 exactly
// ("00-<trace id>-<parent id>-<flags>", 55 chars) and, as the spec asks,
// higher versions (not ff) whose first 55 chars have that shape followed by
// the end or '-'. Hex must be lowercase; all-zero ids are rejected. The
// parent id lands in `span_id`.
std::optional<TraceContext> ParseTraceparent(absl::string_view header);

// "00-<trace_id>-<span_id>-<flags as 2 hex digits>".
std::string FormatTraceparent(const TraceContext& context);

// Whether `id` is acceptable as a client-supplied x-request-id: 1 to
// kMaxRequestIdLength printable ASCII characters (0x20-0x7e).
bool IsValidRequestId(absl::string_view id);

// New request ids and spans: random, never all zero. Thread-safe.
class TraceIds {
 public:
  TraceIds();  // seeded from std::random_device

  // 32 random lowercase hex digits (128 bits).
  std::string NewRequestId();
  // A span of `parent`'s trace (its trace id and flags) when present, else
  // of a new trace with flags 00; always a new span id.
  TraceContext NewSpan(const std::optional<TraceContext>& parent);

 private:
  // `bytes` random bytes as lowercase hex, never all zeros.
  std::string RandomHex(size_t bytes);

  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_API_TRACE_CONTEXT_H_
