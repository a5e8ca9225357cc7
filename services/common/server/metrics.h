// Per-method gRPC server metrics in the Prometheus text exposition format.
//
// Metrics counts handled calls by method and status code and keeps a latency
// histogram per method, with the names and labels of go-grpc-prometheus so
// that the usual dashboards work:
//
//   grpc_server_handled_total{grpc_service,grpc_method,grpc_code}  counter
//   grpc_server_handling_seconds{grpc_service,grpc_method,le}      histogram
//   cstopa_build_info{service}                                    gauge (1)
//   cstopa_access_log_dropped_lines_total                         counter
//
// plus any gauges set with SetGauge. The access-log counter (lines the
// AccessLog of interceptors.h dropped because its buffer was full) is
// rendered once SetAccessLogDroppedLines has wired it. The telemetry
// interceptor (interceptors.h) calls RecordCall for every call; the
// admin HTTP server (admin_http.h) serves RenderPrometheus() at /metrics.
//
//   Metrics metrics("membership");
//   metrics.RecordCall("/cstopa.membership.v1.Membership/GetMember",
//                      /*grpc_code=*/0, /*seconds=*/0.0042);
//   std::string text = metrics.RenderPrometheus();
//
// Thread-safe. RecordCall takes a reader lock and bumps atomics once the
// method has been seen; only the first call of a method takes the writer lock.
// The number of distinct methods is capped (kMaxMethods): calls to further
// method names (a client probing random paths) are counted under
// grpc_service="other", grpc_method="other" so memory stays bounded.
#ifndef CSTOPA_SERVICES_COMMON_SERVER_METRICS_H_
#define CSTOPA_SERVICES_COMMON_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/common/base/errors.h"  // GrpcCodeName

namespace cstopa::common {

class Metrics {
 public:
  // Upper bounds (seconds) of the latency histogram buckets; +Inf is implied.
  static constexpr std::array<double, 14> kBucketBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  // Distinct method series kept before further methods fold into "other".
  static constexpr size_t kMaxMethods = 1000;

  // Without a service name no cstopa_build_info line is rendered.
  Metrics() = default;
  explicit Metrics(absl::string_view service_name);

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one finished call. `method` is the full gRPC path
  // "/pkg.Service/Method" (anything else is recorded with grpc_service
  // "unknown"); `grpc_code` is a grpc::StatusCode value (out of range counts
  // as UNKNOWN); negative `seconds` count as 0.
  void RecordCall(absl::string_view method, int grpc_code, double seconds);

  // Sets gauge `name` to `value`, creating it with `help` on first use.
  // Ignored unless `name` is a valid Prometheus metric name other than the
  // built-in ones (cstopa_build_info, cstopa_access_log_dropped_lines_total,
  // grpc_server_*).
  void SetGauge(absl::string_view name, absl::string_view help, double value);

  // Renders `read()` as the counter cstopa_access_log_dropped_lines_total
  // from now on (the server passes its AccessLog's dropped_lines). `read` is
  // called from RenderPrometheus, must be thread-safe and cheap, and must
  // stay callable as long as the metrics are rendered; an empty function
  // unwires it.
  void SetAccessLogDroppedLines(std::function<uint64_t()> read);

  // All metrics in Prometheus text exposition format 0.0.4 (serve it with
  // Content-Type "text/plain; version=0.0.4; charset=utf-8").
  std::string RenderPrometheus() const;

 private:
  static constexpr int kNumCodes = 17;  // OK .. UNAUTHENTICATED
  struct Series {
    std::array<std::atomic<uint64_t>, kNumCodes> by_code{};
    // Non-cumulative; the last slot is the +Inf bucket.
    std::array<std::atomic<uint64_t>, kBucketBounds.size() + 1> buckets{};
    std::atomic<uint64_t> sum_nanos{0};
  };
  struct Gauge {
    std::string help;
    double value = 0;
  };

  Series* FindOrAddSeries(absl::string_view method);

  const std::string service_name_;
  mutable absl::Mutex mu_;
  // Keyed by full method path; std::less<> allows lookup by string_view.
  std::map<std::string, std::unique_ptr<Series>, std::less<>> series_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, Gauge, std::less<>> gauges_ ABSL_GUARDED_BY(mu_);
  std::function<uint64_t()> access_log_dropped_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_METRICS_H_
