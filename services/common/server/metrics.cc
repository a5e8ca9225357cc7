#include "services/common/server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cstopa::common {
namespace {

// The `le` label of each bucket, in the form Prometheus clients print.
constexpr const char* kBucketLabels[] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf"};
static_assert(sizeof(kBucketLabels) / sizeof(kBucketLabels[0]) ==
              Metrics::kBucketBounds.size() + 1);

// The counter of SetAccessLogDroppedLines.
constexpr absl::string_view kAccessLogDropped =
    "cstopa_access_log_dropped_lines_total";

// Where calls to methods beyond kMaxMethods are counted.
constexpr absl::string_view kOverflowMethod = "/other/other";

// A label value: backslash, double quote and newline escaped.
std::string EscapeLabel(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// HELP text: backslash and newline escaped.
std::string EscapeHelp(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// The shortest of %.15g / %.17g that reads back exactly; NaN and infinities
// as Prometheus spells them.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.15g", v);
  if (std::strtod(buf, nullptr) != v)
    std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

bool IsMetricName(absl::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// "/pkg.Service/Method" -> {"pkg.Service", "Method"}; anything else ->
// {"unknown", method} (the sync server names unmatched calls "unknown").
std::pair<absl::string_view, absl::string_view> SplitMethod(
    absl::string_view method) {
  if (method.size() > 1 && method[0] == '/') {
    size_t slash = method.find('/', 1);
    if (slash != absl::string_view::npos && slash > 1 &&
        slash + 1 < method.size()) {
      return {method.substr(1, slash - 1), method.substr(slash + 1)};
    }
  }
  return {"unknown", method};
}

}  // namespace

Metrics::Metrics(absl::string_view service_name)
    : service_name_(service_name) {}

Metrics::Series* Metrics::FindOrAddSeries(absl::string_view method) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(method);
    if (it != series_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  auto it = series_.find(method);
  if (it != series_.end()) return it->second.get();
  if (series_.size() >= kMaxMethods) {
    it = series_.find(kOverflowMethod);
    if (it != series_.end()) return it->second.get();
    method = kOverflowMethod;
  }
  auto [inserted, ok] =
      series_.emplace(std::string(method), std::make_unique<Series>());
  (void)ok;
  return inserted->second.get();
}

void Metrics::RecordCall(absl::string_view method, int grpc_code,
                         double seconds) {
  if (grpc_code < 0 || grpc_code >= kNumCodes) grpc_code = 2;  // UNKNOWN
  if (!(seconds > 0)) seconds = 0;                             // also NaN
  Series* s = FindOrAddSeries(method);
  s->by_code[grpc_code].fetch_add(1, std::memory_order_relaxed);
  size_t bucket = 0;
  while (bucket < kBucketBounds.size() && seconds > kBucketBounds[bucket]) {
    ++bucket;
  }
  s->buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  // Capped at ~31 years per call so the conversion cannot overflow.
  double nanos = std::min(seconds, 1e9) * 1e9;
  s->sum_nanos.fetch_add(static_cast<uint64_t>(std::llround(nanos)),
                         std::memory_order_relaxed);
}

void Metrics::SetGauge(absl::string_view name, absl::string_view help,
                       double value) {
  // Names of the built-in families are refused so none is rendered twice.
  if (!IsMetricName(name) || name == "cstopa_build_info" ||
      name == kAccessLogDropped || absl::StartsWith(name, "grpc_server_")) {
    return;
  }
  absl::MutexLock lock(&mu_);
  auto it = gauges_.find(name);
  if (it == gauges_.end()) {
    it = gauges_.emplace(std::string(name), Gauge{std::string(help), 0}).first;
  }
  it->second.value = value;
}

void Metrics::SetAccessLogDroppedLines(std::function<uint64_t()> read) {
  absl::MutexLock lock(&mu_);
  access_log_dropped_ = std::move(read);
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  absl::ReaderMutexLock lock(&mu_);

  if (!service_name_.empty()) {
    absl::StrAppend(&out,
                    "# HELP cstopa_build_info Always 1; labels identify the "
                    "running service.\n"
                    "# TYPE cstopa_build_info gauge\n"
                    "cstopa_build_info{service=\"",
                    EscapeLabel(service_name_), "\"} 1\n");
  }

  absl::StrAppend(&out,
                  "# HELP grpc_server_handled_total Total number of RPCs "
                  "completed on the server, regardless of success or "
                  "failure.\n"
                  "# TYPE grpc_server_handled_total counter\n");
  for (const auto& [method, series] : series_) {
    auto [svc, m] = SplitMethod(method);
    std::string labels =
        absl::StrCat("grpc_service=\"", EscapeLabel(svc), "\",grpc_method=\"",
                     EscapeLabel(m), "\"");
    for (int code = 0; code < kNumCodes; ++code) {
      uint64_t n = series->by_code[code].load(std::memory_order_relaxed);
      if (n == 0) continue;
      absl::StrAppend(&out, "grpc_server_handled_total{", labels,
                      ",grpc_code=\"", GrpcCodeName(code), "\"} ", n, "\n");
    }
  }

  absl::StrAppend(&out,
                  "# HELP grpc_server_handling_seconds Histogram of response "
                  "latency (seconds) of gRPC calls handled by the server.\n"
                  "# TYPE grpc_server_handling_seconds histogram\n");
  for (const auto& [method, series] : series_) {
    auto [svc, m] = SplitMethod(method);
    std::string labels =
        absl::StrCat("grpc_service=\"", EscapeLabel(svc), "\",grpc_method=\"",
                     EscapeLabel(m), "\"");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < series->buckets.size(); ++b) {
      cumulative += series->buckets[b].load(std::memory_order_relaxed);
      absl::StrAppend(&out, "grpc_server_handling_seconds_bucket{", labels,
                      ",le=\"", kBucketLabels[b], "\"} ", cumulative, "\n");
    }
    double sum =
        static_cast<double>(series->sum_nanos.load(std::memory_order_relaxed)) /
        1e9;
    absl::StrAppend(&out, "grpc_server_handling_seconds_sum{", labels, "} ",
                    FormatValue(sum), "\n",
                    "grpc_server_handling_seconds_count{", labels, "} ",
                    cumulative, "\n");
  }

  if (access_log_dropped_) {
    absl::StrAppend(&out, "# HELP ", kAccessLogDropped,
                    " Access-log lines dropped because the log's buffer was "
                    "full (the output could not keep up).\n",
                    "# TYPE ", kAccessLogDropped, " counter\n",
                    kAccessLogDropped, " ", access_log_dropped_(), "\n");
  }

  for (const auto& [name, gauge] : gauges_) {
    if (!gauge.help.empty()) {
      absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(gauge.help), "\n");
    }
    absl::StrAppend(&out, "# TYPE ", name, " gauge\n", name, " ",
                    FormatValue(gauge.value), "\n");
  }
  return out;
}

}  // namespace cstopa::common
