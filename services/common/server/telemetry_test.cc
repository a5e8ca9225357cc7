#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/rpc_service_method.h"
#include "grpcpp/support/method_handler.h"
#include "gtest/gtest.h"
#include "services/common/server/admin_http.h"
#include "services/common/server/interceptors.h"
#include "services/common/server/metrics.h"

namespace cstopa::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// (No std::regex: GCC 12 reports false maybe-uninitialized warnings in it
// under the sanitizer build.)

bool IsLowerHex(absl::string_view s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "2024-05-01T12:00:00.123Z"
bool IsRfc3339Millis(absl::string_view s) {
  const absl::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != shape.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

bool IsNameChar(char c, bool first, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (colon_ok && c == ':') || (!first && c >= '0' && c <= '9');
}

// Consumes a metric (or, without colons, label) name from the front of `s`.
bool ConsumeName(absl::string_view& s, bool colon_ok) {
  size_t n = 0;
  while (n < s.size() && IsNameChar(s[n], n == 0, colon_ok)) ++n;
  s.remove_prefix(n);
  return n > 0;
}

// A sample line of the text format: name{label="value",...} value
bool IsSampleLine(absl::string_view s) {
  if (!ConsumeName(s, /*colon_ok=*/true)) return false;
  if (!s.empty() && s[0] == '{') {
    s.remove_prefix(1);
    while (!s.empty() && s[0] != '}') {
      if (!ConsumeName(s, /*colon_ok=*/false)) return false;
      if (!absl::ConsumePrefix(&s, "=\"")) return false;
      for (;;) {
        if (s.empty() || s[0] == '\n') return false;
        if (s[0] == '"') break;
        if (s[0] == '\\') {
          if (s.size() < 2 || (s[1] != '\\' && s[1] != '"' && s[1] != 'n')) {
            return false;
          }
          s.remove_prefix(1);
        }
        s.remove_prefix(1);
      }
      s.remove_prefix(1);  // closing quote
      absl::ConsumePrefix(&s, ",");
    }
    if (!absl::ConsumePrefix(&s, "}")) return false;
  }
  if (!absl::ConsumePrefix(&s, " ") || s.empty()) return false;
  if (s == "NaN" || s == "+Inf" || s == "-Inf") return true;
  double value;
  return absl::SimpleAtod(s, &value);
}

// ---------------------------------------------------------------- Metrics

TEST(MetricsTest, CodeNames) {
  EXPECT_STREQ(GrpcCodeName(0), "OK");
  EXPECT_STREQ(GrpcCodeName(1), "CANCELLED");
  EXPECT_STREQ(GrpcCodeName(3), "INVALID_ARGUMENT");
  EXPECT_STREQ(GrpcCodeName(12), "UNIMPLEMENTED");
  EXPECT_STREQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_STREQ(GrpcCodeName(17), "UNKNOWN");
  EXPECT_STREQ(GrpcCodeName(-1), "UNKNOWN");
}

TEST(MetricsTest, RendersCountersAndCumulativeHistogram) {
  Metrics metrics("membership");
  const std::string m = "/cstopa.membership.v1.Membership/GetMember";
  metrics.RecordCall(m, 0, 0.0003);  // le 0.0005
  metrics.RecordCall(m, 0, 0.003);   // le 0.005
  metrics.RecordCall(m, 0, 0.3);     // le 0.5
  metrics.RecordCall(m, 5, 20);      // +Inf
  metrics.RecordCall(m, 0, 0.005);   // le is inclusive: 0.005
  std::string text = metrics.RenderPrometheus();
  const std::string labels =
      "grpc_service=\"cstopa.membership.v1.Membership\","
      "grpc_method=\"GetMember\"";

  EXPECT_THAT(text, HasSubstr("cstopa_build_info{service=\"membership\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE grpc_server_handled_total counter\n"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE grpc_server_handling_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("# HELP grpc_server_handled_total "));
  EXPECT_THAT(text, HasSubstr("# HELP grpc_server_handling_seconds "));
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{" + labels +
                              ",grpc_code=\"OK\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{" + labels +
                              ",grpc_code=\"NOT_FOUND\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("grpc_code=\"CANCELLED\"")));

  const std::vector<std::pair<std::string, int>> want = {
      {"0.0005", 1}, {"0.001", 1}, {"0.0025", 1}, {"0.005", 3}, {"0.01", 3},
      {"0.025", 3},  {"0.05", 3},  {"0.1", 3},    {"0.25", 3},  {"0.5", 4},
      {"1", 4},      {"2.5", 4},   {"5", 4},      {"10", 4},    {"+Inf", 5}};
  for (const auto& [le, n] : want) {
    EXPECT_THAT(text,
                HasSubstr(absl::StrCat("grpc_server_handling_seconds_bucket{",
                                       labels, ",le=\"", le, "\"} ", n, "\n")))
        << le;
  }
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_count{" + labels +
                              "} 5\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_sum{" + labels +
                              "} 20.3083\n"));
}

TEST(MetricsTest, OutputIsWellFormedExposition) {
  Metrics metrics("svc");
  metrics.RecordCall("/a.B/C", 0, 0.01);
  metrics.RecordCall("/a.B/D", 13, 0.2);
  metrics.RecordCall("weird\"name\\\n", 2, 0.2);
  metrics.SetGauge("cstopa_members", "Members in the store.", 42);
  std::string text = metrics.RenderPrometheus();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  // The checker itself.
  EXPECT_TRUE(IsSampleLine("a_b:c{x=\"y\\\"z\",w=\"\"} 1.5e-3"));
  EXPECT_FALSE(IsSampleLine("bad line"));
  EXPECT_FALSE(IsSampleLine("m{a=\"x} 1"));
  EXPECT_FALSE(IsSampleLine("m{a=\"x\\q\"} 1"));
  EXPECT_FALSE(IsSampleLine("m 1x"));
  std::map<std::string, int> types;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::string l(line);
    if (absl::StartsWith(l, "#")) {
      absl::string_view rest = l;
      EXPECT_TRUE(absl::ConsumePrefix(&rest, "# HELP ") ||
                  absl::ConsumePrefix(&rest, "# TYPE "))
          << l;
      EXPECT_TRUE(ConsumeName(rest, /*colon_ok=*/true) &&
                  absl::StartsWith(rest, " "))
          << l;
      if (absl::StartsWith(l, "# TYPE ")) {
        std::vector<std::string> parts = absl::StrSplit(l, ' ');
        ++types[parts[2]];
      }
    } else {
      EXPECT_TRUE(IsSampleLine(l)) << l;
    }
  }
  for (const auto& [name, n] : types) EXPECT_EQ(n, 1) << name;
  EXPECT_THAT(text, HasSubstr("grpc_service=\"unknown\",grpc_method="
                              "\"weird\\\"name\\\\\\n\""));
  EXPECT_THAT(text,
              HasSubstr("# TYPE cstopa_members gauge\ncstopa_members 42\n"));
}

TEST(MetricsTest, NoBuildInfoWithoutServiceNameAndOddInputsClamped) {
  Metrics metrics;
  metrics.RecordCall("/a.B/C", 99, -1);
  std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, Not(HasSubstr("cstopa_build_info")));
  EXPECT_THAT(text, HasSubstr("grpc_code=\"UNKNOWN\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("grpc_server_handling_seconds_bucket{grpc_service=\"a.B\""
                      ",grpc_method=\"C\",le=\"0.0005\"} 1\n"));
}

TEST(MetricsTest, GaugesValidatedAndUpdated) {
  Metrics metrics;
  metrics.SetGauge("bad name", "x", 1);
  metrics.SetGauge("grpc_server_handled_total", "clash", 1);
  metrics.SetGauge("cstopa_up", "", 1);
  metrics.SetGauge("cstopa_up", "ignored", 0.5);
  std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, Not(HasSubstr("bad name")));
  EXPECT_THAT(text, Not(HasSubstr("clash")));
  EXPECT_THAT(text, HasSubstr("# TYPE cstopa_up gauge\ncstopa_up 0.5\n"));
}

TEST(MetricsTest, DistinctMethodsAreCapped) {
  Metrics metrics;
  for (size_t i = 0; i < Metrics::kMaxMethods + 50; ++i) {
    metrics.RecordCall(absl::StrCat("/probe.Svc/M", i), 12, 0.001);
  }
  std::string text = metrics.RenderPrometheus();
  size_t series = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "grpc_server_handled_total{")) ++series;
  }
  EXPECT_EQ(series, Metrics::kMaxMethods + 1);
  // (StrContains: a failure message with the whole text would be huge.)
  EXPECT_TRUE(absl::StrContains(
      text,
      "grpc_server_handled_total{grpc_service=\"other\",grpc_method=\"other\","
      "grpc_code=\"UNIMPLEMENTED\"} 50\n"));
}

TEST(MetricsTest, ConcurrentRecordingLosesNothing) {
  Metrics metrics;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < 2000; ++i) {
        metrics.RecordCall(absl::StrCat("/s.S/M", i % 3), t % 2, 0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string text = metrics.RenderPrometheus();
  for (int m = 0; m < 3; ++m) {
    int n = 2 * ((2000 + 2 - m) / 3);  // per code: 2 threads
    EXPECT_THAT(text, HasSubstr(absl::StrCat(
                          "grpc_server_handling_seconds_count{grpc_service="
                          "\"s.S\",grpc_method=\"M",
                          m, "\"} ", 2 * n, "\n")));
    EXPECT_THAT(
        text, HasSubstr(absl::StrCat("grpc_service=\"s.S\",grpc_method=\"M", m,
                                     "\",grpc_code=\"CANCELLED\"} ", n, "\n")));
  }
}

// ---------------------------------------------------------- Trace context

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kParentId[] = "00f067aa0ba902b7";

TEST(TraceparentTest, ParsesValidHeader) {
  auto tc =
      ParseTraceparent(absl::StrCat("00-", kTraceId, "-", kParentId, "-01"));
  ASSERT_TRUE(tc.has_value());
  EXPECT_EQ(tc->trace_id, kTraceId);
  EXPECT_EQ(tc->span_id, kParentId);
  EXPECT_EQ(tc->flags, 1);
  EXPECT_EQ(FormatTraceparent(*tc),
            absl::StrCat("00-", kTraceId, "-", kParentId, "-01"));

  auto other =
      ParseTraceparent(absl::StrCat("00-", kTraceId, "-", kParentId, "-fe"));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->flags, 0xfe);
  EXPECT_EQ(FormatTraceparent(*other),
            absl::StrCat("00-", kTraceId, "-", kParentId, "-fe"));
}

TEST(TraceparentTest, AcceptsFutureVersions) {
  EXPECT_TRUE(
      ParseTraceparent(absl::StrCat("01-", kTraceId, "-", kParentId, "-01"))
          .has_value());
  EXPECT_TRUE(ParseTraceparent(absl::StrCat("cc-", kTraceId, "-", kParentId,
                                            "-01-what-the-future-holds"))
                  .has_value());
  EXPECT_FALSE(
      ParseTraceparent(absl::StrCat("cc-", kTraceId, "-", kParentId, "-01x"))
          .has_value());
}

TEST(TraceparentTest, RejectsBadHeaders) {
  const std::string zeros32(32, '0'), zeros16(16, '0');
  const std::vector<std::string> bad = {
      "",
      "garbage",
      absl::StrCat("00-", kTraceId, "-", kParentId, "-01-extra"),  // v00 exact
      absl::StrCat("00-", kTraceId, "-", kParentId, "-1"),
      absl::StrCat("ff-", kTraceId, "-", kParentId, "-01"),
      absl::StrCat("0g-", kTraceId, "-", kParentId, "-01"),
      absl::StrCat("00-", zeros32, "-", kParentId, "-01"),
      absl::StrCat("00-", kTraceId, "-", zeros16, "-01"),
      absl::StrCat("00-", "4BF92F3577B34DA6A3CE929D0E0E4736", "-", kParentId,
                   "-01"),
      absl::StrCat("00-", kTraceId, "-", "00F067AA0BA902B7", "-01"),
      absl::StrCat("00-", kTraceId, "-", kParentId, "-0z"),
      absl::StrCat("00_", kTraceId, "-", kParentId, "-01"),
      absl::StrCat("00-", kTraceId, "_", kParentId, "-01"),
      absl::StrCat("00-", kTraceId, "-", kParentId, "_01"),
      absl::StrCat("00-", "4bf92f3577b34da6a3ce929d0e0e473", "-", kParentId,
                   "0-01"),
      absl::StrCat(" 00-", kTraceId, "-", kParentId, "-01"),
  };
  for (const std::string& h : bad) {
    EXPECT_FALSE(ParseTraceparent(h).has_value()) << "'" << h << "'";
  }
}

TEST(TraceparentTest, FactoryMakesFreshSpans) {
  TelemetryInterceptorFactory factory("svc", nullptr, nullptr);
  std::string id = factory.NewRequestId();
  EXPECT_TRUE(IsLowerHex(id, 32)) << id;
  EXPECT_NE(id, factory.NewRequestId());

  TraceContext fresh = factory.NewServerSpan(std::nullopt);
  EXPECT_TRUE(ParseTraceparent(FormatTraceparent(fresh)).has_value());
  EXPECT_EQ(fresh.flags, 0);

  auto parent =
      ParseTraceparent(absl::StrCat("00-", kTraceId, "-", kParentId, "-01"));
  TraceContext child = factory.NewServerSpan(parent);
  EXPECT_EQ(child.trace_id, kTraceId);
  EXPECT_NE(child.span_id, kParentId);
  EXPECT_EQ(child.flags, 1);
  EXPECT_TRUE(ParseTraceparent(FormatTraceparent(child)).has_value());
}

// ------------------------------------------------------------- JSON, ids

TEST(JsonEscapeTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonEscape("plain"), "plain");
  EXPECT_EQ(JsonEscape("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(JsonEscape("a\\b"), "a\\\\b");
  EXPECT_EQ(JsonEscape("l1\nl2\r\t\b\f"), "l1\\nl2\\r\\t\\b\\f");
  EXPECT_EQ(JsonEscape(std::string("\x01\x1f", 2)), "\\u0001\\u001f");
  EXPECT_EQ(JsonEscape(std::string("nul\0x", 5)), "nul\\u0000x");
  EXPECT_EQ(JsonEscape("</script>"), "</script>");
}

TEST(JsonEscapeTest, PassesValidUtf8AndReplacesInvalid) {
  const std::string utf8 =
      "Z\xc3\xbcrich \xe2\x80\x94 \xe6\x9d\xb1\xe4\xba\xac "
      "\xf0\x9f\x98\x80";  // Zürich — 東京 😀
  EXPECT_EQ(JsonEscape(utf8), utf8);
  EXPECT_EQ(JsonEscape("a\xff"
                       "b"),
            "a\\ufffdb");
  EXPECT_EQ(JsonEscape("\xc3"), "\\ufffd");                        // truncated
  EXPECT_EQ(JsonEscape("\xc0\xaf"), "\\ufffd\\ufffd");             // overlong
  EXPECT_EQ(JsonEscape("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");  // surrogate
  EXPECT_EQ(JsonEscape("\xf4\x90\x80\x80"),                        // > U+10FFFF
            "\\ufffd\\ufffd\\ufffd\\ufffd");
}

TEST(JsonEscapeTest, OutputParsesAsJson) {
  std::string nasty = std::string("q\"b\\n\n\x01\x7f\xff", 9) + "\xc3\xa9";
  google::protobuf::Struct parsed;
  auto status = google::protobuf::util::JsonStringToMessage(
      absl::StrCat("{\"k\":\"", JsonEscape(nasty), "\"}"), &parsed);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(parsed.fields().at("k").string_value(),
            std::string("q\"b\\n\n\x01\x7f\xef\xbf\xbd", 11) + "\xc3\xa9");
}

TEST(RequestIdTest, Validation) {
  EXPECT_TRUE(IsValidRequestId("abc-123"));
  EXPECT_TRUE(IsValidRequestId(std::string(128, 'a')));
  EXPECT_FALSE(IsValidRequestId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId("tab\there"));
  EXPECT_FALSE(IsValidRequestId("caf\xc3\xa9"));
  EXPECT_EQ(RequestIdOf(nullptr), "");
}

TEST(AccessLogTest, WritesLinesAndToleratesNull) {
  AccessLog off(nullptr);
  EXPECT_FALSE(off.enabled());
  off.Write("dropped");

  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    AccessLog log(f);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 50; ++i) log.Write(absl::StrCat("{\"t\":", t, "}"));
      });
    }
    for (auto& t : threads) t.join();
  }
  std::rewind(f);
  std::string all;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) all.append(buf, n);
  std::fclose(f);
  std::vector<std::string> lines = absl::StrSplit(all, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 200u);
  for (const auto& l : lines) {
    EXPECT_TRUE(l.size() == 7 && absl::StartsWith(l, "{\"t\":") &&
                l[5] >= '0' && l[5] <= '3' && l[6] == '}')
        << l;
  }
}

// All of `f` from its start.
std::string ReadFileBack(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string all;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) all.append(buf, n);
  return all;
}

TEST(AccessLogTest, DisabledLogDoesNothing) {
  AccessLog off(nullptr);
  EXPECT_FALSE(off.enabled());
  off.Write("dropped");
  off.WriteRpc(AccessLog::RpcLine());
  off.Flush();
  off.Close();
  EXPECT_EQ(off.dropped_lines(), 0u);
}

TEST(AccessLogTest, ManyThreadsLinesArriveWholeAndInOrder) {
  constexpr int kThreads = 8;
  constexpr int kLines = 2000;
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  uint64_t dropped = 0;
  {
    AccessLog log(f);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < kLines; ++i) {
          // Long enough that a torn line would show.
          log.Write(absl::StrCat("{\"t\":", t, ",\"i\":", i, ",\"pad\":\"",
                                 std::string(40, static_cast<char>('a' + t)),
                                 "\"}"));
        }
      });
    }
    for (auto& t : threads) t.join();
    dropped = log.dropped_lines();
  }  // the destructor writes every buffered line
  EXPECT_EQ(dropped, 0u);
  std::string all = ReadFileBack(f);
  std::fclose(f);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back(), '\n');
  std::vector<absl::string_view> lines = absl::StrSplit(all, '\n');
  lines.pop_back();  // after the last '\n'
  ASSERT_EQ(lines.size(), size_t{kThreads * kLines});
  std::vector<int> next(kThreads, 0);
  for (absl::string_view l : lines) {
    int t = -1, i = -1;
    std::vector<absl::string_view> parts =
        absl::StrSplit(l, absl::ByAnyChar(":,"));
    ASSERT_EQ(parts.size(), 6u) << l;
    ASSERT_TRUE(absl::SimpleAtoi(parts[1], &t)) << l;
    ASSERT_TRUE(absl::SimpleAtoi(parts[3], &i)) << l;
    ASSERT_TRUE(t >= 0 && t < kThreads) << l;
    EXPECT_EQ(l,
              absl::StrCat("{\"t\":", t, ",\"i\":", i, ",\"pad\":\"",
                           std::string(40, static_cast<char>('a' + t)), "\"}"));
    EXPECT_EQ(i, next[t]) << "thread " << t << " out of order";
    next[t] = i + 1;
  }
}

TEST(AccessLogTest, FlushAndCloseWriteEverything) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  // A delay no test waits out: only Flush and Close can write the lines.
  AccessLogOptions options;
  options.max_delay = absl::Hours(1);
  AccessLog log(f, options);
  log.Write("{\"n\":1}");
  log.Write("{\"n\":2}");
  log.Flush();
  EXPECT_EQ(ReadFileBack(f), "{\"n\":1}\n{\"n\":2}\n");
  log.Write("{\"n\":3}");
  log.Close();
  EXPECT_EQ(ReadFileBack(f), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
  log.Close();             // idempotent
  log.Write("{\"n\":4}");  // after Close: dropped and counted
  log.Flush();
  EXPECT_EQ(log.dropped_lines(), 1u);
  EXPECT_EQ(ReadFileBack(f), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
  std::fclose(f);
}

TEST(AccessLogTest, IdleLogWritesWithinMaxDelay) {
  std::string path = ::testing::TempDir() + "access_log_idle_XXXXXX";
  int fd = mkstemp(path.data());
  ASSERT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  ASSERT_NE(f, nullptr);
  AccessLog log(f);  // max_delay 50 ms
  log.Write("{\"idle\":true}");
  // No Flush: the writer's timer writes it. Polled through another handle
  // (the writer owns `f`), with a generous bound.
  auto read = [&path] {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::string all;
  while ((all = read()).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(all, "{\"idle\":true}\n");
  log.Close();
  std::fclose(f);
  std::remove(path.c_str());
}

TEST(AccessLogTest, FormatsRpcLines) {
  FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    AccessLog log(f);
    AccessLog::RpcLine line;
    line.time =
        absl::FromUnixMillis(1714564800123);  // 2024-05-01T12:00:00.123Z
    line.service = "membership";
    line.method = "/pkg.Svc/M";
    line.grpc_code = 5;
    line.duration_ms = 1.2344;
    line.request_id = "req-\"1\"";
    line.trace_id = std::string(32, 'a');
    line.span_id = std::string(16, 'b');
    line.peer = "ipv4:127.0.0.1:5555";
    line.error = "no such member";
    log.WriteRpc(line);
    line.grpc_code = 0;  // OK: no "error"
    log.WriteRpc(line);
  }
  const std::string common =
      "{\"ts\":\"2024-05-01T12:00:00.123Z\",\"level\":\"info\",\"msg\":\"rpc\","
      "\"service\":\"membership\",\"method\":\"/pkg.Svc/M\",";
  const std::string ids = absl::StrCat(
      "\"duration_ms\":1.234,\"request_id\":\"req-\\\"1\\\"\",\"trace_id\":\"",
      std::string(32, 'a'), "\",\"span_id\":\"", std::string(16, 'b'),
      "\",\"peer\":\"ipv4:127.0.0.1:5555\"");
  EXPECT_EQ(ReadFileBack(f),
            absl::StrCat(common, "\"code\":\"NOT_FOUND\",\"grpc_code\":5,", ids,
                         ",\"error\":\"no such member\"}\n", common,
                         "\"code\":\"OK\",\"grpc_code\":0,", ids, "}\n"));
  std::fclose(f);
}

// A pipe whose buffer the test has filled, so that the log's writer blocks
// in its first write until the test reads.
class FullPipe {
 public:
  FullPipe() {
    int fds[2];
    if (pipe(fds) != 0) return;
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    int flags = fcntl(write_fd_, F_GETFL);
    fcntl(write_fd_, F_SETFL, flags | O_NONBLOCK);
    std::string chunk(4096, 'x');
    for (size_t size : {chunk.size(), size_t{1}}) {
      for (;;) {
        ssize_t n = ::write(write_fd_, chunk.data(), size);
        if (n <= 0) break;
        filler_ += static_cast<size_t>(n);
      }
    }
    fcntl(write_fd_, F_SETFL, flags);
    out_ = fdopen(write_fd_, "w");
  }
  ~FullPipe() {
    if (out_ != nullptr) std::fclose(out_);
    if (read_fd_ >= 0) close(read_fd_);
  }

  FILE* out() const { return out_; }
  size_t filler() const { return filler_; }

  // Reads until the write end is closed (CloseWriteEnd).
  std::string ReadToEnd() {
    std::string all;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(read_fd_, buf, sizeof(buf))) > 0) {
      all.append(buf, static_cast<size_t>(n));
    }
    return all;
  }
  void CloseWriteEnd() {
    std::fclose(out_);
    out_ = nullptr;
  }

 private:
  int read_fd_ = -1, write_fd_ = -1;
  size_t filler_ = 0;
  FILE* out_ = nullptr;
};

TEST(AccessLogTest, FullBufferDropsAndCounts) {
  FullPipe pipe;
  ASSERT_NE(pipe.out(), nullptr);
  ASSERT_GT(pipe.filler(), 0u);
  AccessLogOptions options;
  options.capacity_lines = 10;
  options.batch_lines = 4;
  auto log = std::make_unique<AccessLog>(pipe.out(), options);
  Metrics metrics("telemetry-test");
  metrics.SetAccessLogDroppedLines([&log] { return log->dropped_lines(); });
  EXPECT_THAT(metrics.RenderPrometheus(),
              HasSubstr("# TYPE cstopa_access_log_dropped_lines_total counter\n"
                        "cstopa_access_log_dropped_lines_total 0\n"));

  // The writer blocks on the full pipe with whatever it took; the lines it
  // holds count against the capacity, so exactly 10 lines are accepted.
  for (int i = 0; i < 25; ++i) log->Write(absl::StrCat("{\"i\":", i, "}"));
  EXPECT_EQ(log->dropped_lines(), 15u);
  std::string text = metrics.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# HELP cstopa_access_log_dropped_lines_total "));
  EXPECT_THAT(text, HasSubstr("\ncstopa_access_log_dropped_lines_total 15\n"));

  // Unblocked, the accepted lines all arrive, in order.
  std::string all;
  std::thread reader([&] { all = pipe.ReadToEnd(); });
  log->Close();
  pipe.CloseWriteEnd();
  reader.join();
  EXPECT_EQ(log->dropped_lines(), 15u);
  ASSERT_GE(all.size(), pipe.filler());
  EXPECT_EQ(all.substr(0, pipe.filler()), std::string(pipe.filler(), 'x'));
  std::string expected;
  for (int i = 0; i < 10; ++i) absl::StrAppend(&expected, "{\"i\":", i, "}\n");
  EXPECT_EQ(all.substr(pipe.filler()), expected);
  metrics.SetAccessLogDroppedLines(nullptr);
  log.reset();
  EXPECT_THAT(metrics.RenderPrometheus(),
              Not(HasSubstr("cstopa_access_log_dropped_lines_total")));
}

// --------------------------------------------------------- Admin HTTP

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until EOF or `timeout`; returns what arrived.
std::string ReadAll(int fd, absl::Duration timeout, bool* eof = nullptr) {
  std::string out;
  absl::Time deadline = absl::Now() + timeout;
  if (eof != nullptr) *eof = false;
  for (;;) {
    int left =
        static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) break;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      if (eof != nullptr) *eof = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Whether the peer has closed `fd` already (does not wait).
bool PeerClosed(int fd) {
  char c;
  return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

// Whether `response` holds a whole response: its head and as much body as
// its Content-Length says (none for the answer to HEAD).
bool CompleteResponse(const std::string& response, bool head_request) {
  size_t end = response.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  if (head_request) return true;
  std::string head = absl::AsciiStrToLower(response.substr(0, end + 2));
  size_t at = head.find("\r\ncontent-length:");
  if (at == std::string::npos) return false;  // body up to EOF
  size_t length = 0;
  size_t value = at + std::strlen("\r\ncontent-length:");
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(head.substr(
                            value, head.find("\r\n", value) - value)),
                        &length)) {
    return false;
  }
  return response.size() >= end + 4 + length;
}

// Sends `request` on a new connection and reads one response (connections
// are kept alive, so up to its end rather than to EOF).
std::string HttpExchange(int port, const std::string& request,
                         absl::Duration timeout = absl::Seconds(5)) {
  int fd = Connect(port);
  if (fd < 0) return "connect failed";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  const bool head_request = absl::StartsWith(request, "HEAD ");
  std::string response;
  absl::Time deadline = absl::Now() + timeout;
  while (!CompleteResponse(response, head_request)) {
    int left =
        static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) break;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::map<std::string, AdminHttpServer::Handler> TestRoutes() {
  std::map<std::string, AdminHttpServer::Handler> routes;
  routes["/metrics"] = [] {
    AdminHttpServer::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = "up 1\n";
    return r;
  };
  routes["/healthz"] = [] {
    AdminHttpServer::Response r;
    r.status = 503;
    r.body = "NOT_SERVING\n";
    return r;
  };
  return routes;
}

TEST(AdminHttpTest, ServesRoutes) {
  auto server = AdminHttpServer::Start("127.0.0.1:0", TestRoutes());
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  ASSERT_GT(port, 0);

  std::string r = HttpExchange(
      port, "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(
      r, HasSubstr(
             "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\nContent-Length: 5\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\nCache-Control: no-store\r\n"));
  EXPECT_EQ(BodyOf(r), "up 1\n");

  // Query strings are ignored; bare-LF requests are accepted (an HTTP/1.0
  // request is answered in HTTP/1.0).
  r = HttpExchange(port, "GET /metrics?x=1 HTTP/1.0\n\n");
  EXPECT_THAT(r, StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_EQ(BodyOf(r), "up 1\n");

  r = HttpExchange(port, "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_EQ(BodyOf(r), "NOT_SERVING\n");

  r = HttpExchange(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\nContent-Length: 5\r\n"));
  EXPECT_EQ(BodyOf(r), "");
}

TEST(AdminHttpTest, KeepsConnectionsAlive) {
  auto server = AdminHttpServer::Start("127.0.0.1:0", TestRoutes());
  ASSERT_TRUE(server.ok()) << server.status();
  int fd = Connect((*server)->port());
  ASSERT_GE(fd, 0);
  // Two requests on one connection (as Prometheus scrapes), both answered.
  for (int i = 0; i < 2; ++i) {
    std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string response;
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (!CompleteResponse(response, false) && absl::Now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      response.append(buf, static_cast<size_t>(n));
    }
    EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n")) << i;
    EXPECT_EQ(BodyOf(response), "up 1\n") << i;
  }
  // `Connection: close` from the client closes it after the answer.
  std::string request =
      "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  bool eof = false;
  std::string response = ReadAll(fd, absl::Seconds(5), &eof);
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(eof);
  close(fd);
}

TEST(AdminHttpTest, ErrorsFor404And405AndBadRequests) {
  AdminHttpServer::Options options;
  options.max_request_bytes = 1024;
  auto server = AdminHttpServer::Start("127.0.0.1:0", TestRoutes(), options);
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();

  EXPECT_THAT(HttpExchange(port, "GET /nope HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 404 Not Found\r\n"));
  std::string r = HttpExchange(
      port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\nAllow: GET, HEAD\r\n"));
  EXPECT_THAT(HttpExchange(port, "DELETE /nope HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(HttpExchange(port, "hello\r\n\r\n"),
              StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(HttpExchange(port, "GET /metrics SPDY/3\r\n\r\n"),
              StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(HttpExchange(port, "GET /metrics HTTP/1.1\r\nX-Big: " +
                                     std::string(4096, 'a') + "\r\n\r\n"),
              StartsWith("HTTP/1.1 431 "));
}

TEST(AdminHttpTest, SilentClientDoesNotBlockOthersAndIsDropped) {
  AdminHttpServer::Options options;
  options.io_timeout = absl::Seconds(2);
  auto server = AdminHttpServer::Start("127.0.0.1:0", TestRoutes(), options);
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();

  const absl::Time before_connect = absl::Now();
  int idle = Connect(port);
  ASSERT_GE(idle, 0);
  int partial = Connect(port);
  ASSERT_GE(partial, 0);
  ASSERT_EQ(send(partial, "GET /metr", 9, MSG_NOSIGNAL), 9);

  std::string r = HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK\r\n"));
  // Served while the silent connections are still open: a server that
  // waited on them would have dropped them (io_timeout) before answering.
  EXPECT_FALSE(PeerClosed(idle)) << "the silent connection was dropped "
                                    "before the other client was served";

  // The silent connections are closed after the timeout, not before. (The
  // bound of the wait only catches a connection that is never closed.)
  // libevent's timers run on its cached loop clock, which can be a
  // millisecond or so ahead of the moment the test took `before_connect`, so
  // "not before" allows that much; a server that dropped silent connections
  // early would close them well within the first second.
  bool eof = false;
  ReadAll(idle, absl::Seconds(60), &eof);
  EXPECT_TRUE(eof);
  EXPECT_GE(absl::Now() - before_connect,
            options.io_timeout - absl::Milliseconds(100));
  ReadAll(partial, absl::Seconds(60), &eof);
  EXPECT_TRUE(eof);
  close(idle);
  close(partial);

  // Still serving.
  EXPECT_THAT(HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST(AdminHttpTest, ShutdownIsPromptAndIdempotent) {
  AdminHttpServer::Options options;
  options.io_timeout = absl::Seconds(60);
  auto server = AdminHttpServer::Start("127.0.0.1:0", TestRoutes(), options);
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  int idle = Connect(port);  // open, silent connection
  ASSERT_GE(idle, 0);
  // Connections are accepted in order: once a later one is answered, the
  // server holds `idle`.
  ASSERT_THAT(HttpExchange(port, "GET /metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK\r\n"));

  absl::Time start = absl::Now();
  (*server)->Shutdown();
  // Prompt: it does not wait out the silent connection's io_timeout.
  EXPECT_LT(absl::Now() - start, options.io_timeout);
  (*server)->Shutdown();
  bool eof = false;
  ReadAll(idle, absl::Seconds(60), &eof);
  EXPECT_TRUE(eof);
  close(idle);
  EXPECT_EQ(Connect(port), -1);  // the listening socket is closed
  server->reset();               // destructor after Shutdown is fine
}

TEST(AdminHttpTest, BadAddresses) {
  for (std::string a : {"127.0.0.1", ":80", "127.0.0.1:99999", "127.0.0.1:x",
                        "[::1:0", "::1:0", "no.such.host.invalid:0"}) {
    auto server = AdminHttpServer::Start(a, TestRoutes());
    ASSERT_FALSE(server.ok()) << a;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << a;
    EXPECT_THAT(std::string(server.status().message()), HasSubstr(a));
  }
  auto first = AdminHttpServer::Start("127.0.0.1:0", TestRoutes());
  ASSERT_TRUE(first.ok());
  std::string taken = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = AdminHttpServer::Start(taken, TestRoutes());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(taken));
}

TEST(AdminHttpTest, Ipv6Loopback) {
  auto server = AdminHttpServer::Start("[::1]:0", TestRoutes());
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback: " << server.status();
  EXPECT_GT((*server)->port(), 0);
}

// ------------------------------------------------- Interceptor end to end

std::string Get(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? ""
                        : std::string(it->second.data(), it->second.size());
}

// Test service for unmatched methods: records RequestIdOf() for every call;
// "/test.Slow/Wait" waits until cancelled, anything else returns OK.
class RecordingGenericService : public grpc::CallbackGenericService {
 public:
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    {
      absl::MutexLock lock(&mu_);
      seen_request_ids_.push_back(RequestIdOf(context));
    }
    return new Reactor(context->method() == "/test.Slow/Wait");
  }

  std::vector<std::string> seen_request_ids() {
    absl::MutexLock lock(&mu_);
    return seen_request_ids_;
  }

  // Waits (at most 30 s) until `n` calls have reached the service.
  bool WaitForCalls(size_t n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return seen_request_ids_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(30));
  }

 private:
  class Reactor
      : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit Reactor(bool wait_for_cancel) : wait_for_cancel_(wait_for_cancel) {
      if (!wait_for_cancel_) Finish(grpc::Status::OK);
    }
    void OnCancel() override {
      if (wait_for_cancel_) Finish(grpc::Status::CANCELLED);
    }
    void OnDone() override { delete this; }

   private:
    const bool wait_for_cancel_;
  };

  absl::Mutex mu_;
  std::vector<std::string> seen_request_ids_ ABSL_GUARDED_BY(mu_);
};

// A sync service with one method, "/cstopa.test.Ping/Ping", that records
// RequestIdOf() and returns OK. Like the production server, the test server
// then has sync methods (a server with only the default health service cannot
// be built).
class PingService : public grpc::Service {
 public:
  PingService() {
    AddMethod(new grpc::internal::RpcServiceMethod(
        "/cstopa.test.Ping/Ping", grpc::internal::RpcMethod::NORMAL_RPC,
        new grpc::internal::RpcMethodHandler<PingService, grpc::ByteBuffer,
                                             grpc::ByteBuffer>(
            [](PingService* self, grpc::ServerContext* context,
               const grpc::ByteBuffer*, grpc::ByteBuffer* reply) {
              grpc::Slice empty;
              *reply = grpc::ByteBuffer(&empty, 1);
              absl::MutexLock lock(&self->mu_);
              self->seen_request_ids_.push_back(RequestIdOf(context));
              return grpc::Status::OK;
            },
            this)));
    // Returns OK after 300 ms, ignoring cancellation.
    AddMethod(new grpc::internal::RpcServiceMethod(
        "/cstopa.test.Ping/Slow", grpc::internal::RpcMethod::NORMAL_RPC,
        new grpc::internal::RpcMethodHandler<PingService, grpc::ByteBuffer,
                                             grpc::ByteBuffer>(
            [](PingService*, grpc::ServerContext*, const grpc::ByteBuffer*,
               grpc::ByteBuffer* reply) {
              absl::SleepFor(absl::Milliseconds(300));
              grpc::Slice empty;
              *reply = grpc::ByteBuffer(&empty, 1);
              return grpc::Status::OK;
            },
            this)));
  }

  std::vector<std::string> seen_request_ids() {
    absl::MutexLock lock(&mu_);
    return seen_request_ids_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> seen_request_ids_ ABSL_GUARDED_BY(mu_);
};

class InterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_file_ = std::tmpfile();
    ASSERT_NE(log_file_, nullptr);
    access_log_ = std::make_unique<AccessLog>(log_file_);
  }

  void TearDown() override {
    StopServer();
    access_log_.reset();  // writes its last lines while the file is open
    if (log_file_ != nullptr) std::fclose(log_file_);
  }

  void StartServer(bool with_generic) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&ping_);
    if (with_generic) builder.RegisterCallbackGenericService(&generic_);
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        creators;
    creators.push_back(std::make_unique<TelemetryInterceptorFactory>(
        "telemetry-test", &metrics_, access_log_.get()));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
  }

  // Waits for in-flight calls to end so every call's line has been handed to
  // the access log (LogLines flushes it).
  void StopServer() {
    if (server_ == nullptr) return;
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }

  grpc::Status Call(grpc::ClientContext* context, const std::string& method,
                    std::string* response = nullptr) {
    grpc::GenericStub stub(channel_);
    grpc::Slice empty;
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer reply;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(context, method, grpc::StubOptions(), &request, &reply,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    if (!done.WaitForNotificationWithTimeout(absl::Seconds(10))) {
      context->TryCancel();
      done.WaitForNotification();
    }
    if (response != nullptr && status.ok()) {
      std::vector<grpc::Slice> slices;
      if (reply.Dump(&slices).ok()) {
        response->clear();
        for (const auto& s : slices) {
          response->append(reinterpret_cast<const char*>(s.begin()), s.size());
        }
      }
    }
    return status;
  }

  // Every access-log line, parsed.
  std::vector<google::protobuf::Struct> LogLines() {
    access_log_->Flush();  // the lines of the calls that have ended
    std::vector<google::protobuf::Struct> out;
    std::string all = ReadFileBack(log_file_);
    EXPECT_TRUE(all.empty() || all.back() == '\n');
    for (absl::string_view line :
         absl::StrSplit(all, '\n', absl::SkipEmpty())) {
      google::protobuf::Struct parsed;
      auto status = google::protobuf::util::JsonStringToMessage(
          std::string(line), &parsed);
      EXPECT_TRUE(status.ok()) << line;
      out.push_back(parsed);
    }
    return out;
  }

  static std::string Str(const google::protobuf::Struct& s,
                         const std::string& key) {
    auto it = s.fields().find(key);
    return it == s.fields().end() ? "<missing>" : it->second.string_value();
  }

  Metrics metrics_{"telemetry-test"};
  FILE* log_file_ = nullptr;
  std::unique_ptr<AccessLog> access_log_;
  PingService ping_;
  RecordingGenericService generic_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

constexpr char kHealthCheck[] = "/grpc.health.v1.Health/Check";

TEST_F(InterceptorTest, HealthCheckEchoesIdsCountsAndLogsOnce) {
  StartServer(/*with_generic=*/false);
  const std::string sent_tp =
      absl::StrCat("00-", kTraceId, "-", kParentId, "-01");
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", "req-123");
  context.AddMetadata("traceparent", sent_tp);
  std::string response;
  grpc::Status status = Call(&context, kHealthCheck, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response, std::string("\x08\x01", 2));  // status: SERVING

  for (const auto* md : {&context.GetServerInitialMetadata(),
                         &context.GetServerTrailingMetadata()}) {
    EXPECT_EQ(Get(*md, "x-request-id"), "req-123");
    auto tp = ParseTraceparent(Get(*md, "traceparent"));
    ASSERT_TRUE(tp.has_value()) << Get(*md, "traceparent");
    EXPECT_EQ(tp->trace_id, kTraceId);
    EXPECT_NE(tp->span_id, kParentId);
    EXPECT_EQ(tp->flags, 1);
  }
  std::string server_span =
      ParseTraceparent(Get(context.GetServerInitialMetadata(), "traceparent"))
          ->span_id;

  std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_service="
                              "\"grpc.health.v1.Health\",grpc_method=\"Check\","
                              "grpc_code=\"OK\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_count{grpc_service="
                              "\"grpc.health.v1.Health\",grpc_method=\"Check\"}"
                              " 1\n"));

  StopServer();
  std::vector<google::protobuf::Struct> lines = LogLines();
  ASSERT_EQ(lines.size(), 1u);
  const auto& line = lines[0];
  EXPECT_TRUE(IsRfc3339Millis(Str(line, "ts"))) << Str(line, "ts");
  EXPECT_EQ(Str(line, "level"), "info");
  EXPECT_EQ(Str(line, "msg"), "rpc");
  EXPECT_EQ(Str(line, "service"), "telemetry-test");
  EXPECT_EQ(Str(line, "method"), kHealthCheck);
  EXPECT_EQ(Str(line, "code"), "OK");
  EXPECT_EQ(line.fields().at("grpc_code").number_value(), 0);
  EXPECT_GE(line.fields().at("duration_ms").number_value(), 0);
  EXPECT_LT(line.fields().at("duration_ms").number_value(), 10000);
  EXPECT_EQ(Str(line, "request_id"), "req-123");
  EXPECT_EQ(Str(line, "trace_id"), kTraceId);
  EXPECT_EQ(Str(line, "span_id"), server_span);
  EXPECT_THAT(Str(line, "peer"), StartsWith("ipv4:127.0.0.1:"));
  EXPECT_EQ(line.fields().count("error"), 0u);
}

TEST_F(InterceptorTest, UnknownMethodCountedAndLoggedOnceWithFreshIds) {
  StartServer(/*with_generic=*/false);
  grpc::ClientContext context;
  context.AddMetadata("x-request-id", std::string(200, 'x'));  // too long
  context.AddMetadata("traceparent", "00-bogus");
  grpc::Status status = Call(&context, "/cstopa.test.Nope/Missing");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);

  // Trailers-only response: the ids are in the trailing metadata.
  const auto& trailers = context.GetServerTrailingMetadata();
  std::string id = Get(trailers, "x-request-id");
  EXPECT_TRUE(IsLowerHex(id, 32)) << id;
  auto tp = ParseTraceparent(Get(trailers, "traceparent"));
  ASSERT_TRUE(tp.has_value());
  EXPECT_EQ(tp->flags, 0);

  std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("grpc_service=\"cstopa.test.Nope\","
                              "grpc_method=\"Missing\","
                              "grpc_code=\"UNIMPLEMENTED\"} 1\n"));

  StopServer();
  std::vector<google::protobuf::Struct> lines = LogLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(Str(lines[0], "method"), "/cstopa.test.Nope/Missing");
  EXPECT_EQ(Str(lines[0], "code"), "UNIMPLEMENTED");
  EXPECT_EQ(lines[0].fields().at("grpc_code").number_value(), 12);
  EXPECT_EQ(Str(lines[0], "request_id"), id);
  EXPECT_EQ(Str(lines[0], "trace_id"), tp->trace_id);
  EXPECT_NE(Str(lines[0], "error"), "<missing>");
}

TEST_F(InterceptorTest, HandlerSeesEffectiveRequestId) {
  StartServer(/*with_generic=*/true);
  {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "from-client");
    ASSERT_TRUE(Call(&context, "/test.Echo/Id").ok());
    EXPECT_EQ(Get(context.GetServerInitialMetadata(), "x-request-id"),
              "from-client");
  }
  std::string generated;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(Call(&context, "/test.Echo/Id").ok());
    generated = Get(context.GetServerInitialMetadata(), "x-request-id");
    EXPECT_EQ(generated.size(), 32u);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", std::string(129, 'y'));
    ASSERT_TRUE(Call(&context, "/test.Echo/Id").ok());
  }
  std::vector<std::string> seen = generic_.seen_request_ids();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "from-client");
  EXPECT_EQ(seen[1], generated);
  EXPECT_EQ(seen[2].size(), 32u);  // the over-long id was replaced

  StopServer();
  std::vector<google::protobuf::Struct> lines = LogLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Str(lines[1], "request_id"), generated);
  EXPECT_EQ(Str(lines[2], "request_id"), seen[2]);
}

TEST_F(InterceptorTest, SyncHandlerSeesEffectiveRequestId) {
  StartServer(/*with_generic=*/false);
  std::vector<std::string> echoed;
  for (const char* sent : {"sync-client-id", ""}) {
    grpc::ClientContext context;
    if (*sent != '\0') context.AddMetadata("x-request-id", sent);
    grpc::Status status = Call(&context, "/cstopa.test.Ping/Ping");
    ASSERT_TRUE(status.ok()) << status.error_message();
    echoed.push_back(Get(context.GetServerInitialMetadata(), "x-request-id"));
    EXPECT_EQ(Get(context.GetServerTrailingMetadata(), "x-request-id"),
              echoed.back());
  }
  EXPECT_EQ(echoed[0], "sync-client-id");
  EXPECT_EQ(echoed[1].size(), 32u);
  EXPECT_EQ(ping_.seen_request_ids(), echoed);
  EXPECT_THAT(metrics_.RenderPrometheus(),
              HasSubstr("grpc_service=\"cstopa.test.Ping\",grpc_method="
                        "\"Ping\",grpc_code=\"OK\"} 2\n"));
  StopServer();
  EXPECT_EQ(LogLines().size(), 2u);
}

TEST_F(InterceptorTest, CancelledAndExpiredCallsAccountedOnce) {
  StartServer(/*with_generic=*/true);
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(200));
    grpc::Status status = Call(&context, "/test.Slow/Wait");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {
    grpc::ClientContext context;
    // Cancels once the call has reached the service (the first call was
    // the one above).
    std::thread canceller([this, &context] {
      EXPECT_TRUE(generic_.WaitForCalls(2));
      context.TryCancel();
    });
    grpc::Status status = Call(&context, "/test.Slow/Wait");
    canceller.join();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  }
  {
    // A sync handler that overruns the deadline and then returns OK.
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(100));
    grpc::Status status = Call(&context, "/cstopa.test.Ping/Slow");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  StopServer();
  std::vector<google::protobuf::Struct> lines = LogLines();
  ASSERT_EQ(lines.size(), 3u);
  // The two Wait calls may end on the server in either order: the expired
  // one is noticed when its handler next looks, possibly after the other
  // was cancelled.
  EXPECT_THAT(
      (std::vector<std::string>{Str(lines[0], "code"), Str(lines[1], "code")}),
      ::testing::UnorderedElementsAre("DEADLINE_EXCEEDED", "CANCELLED"))
      << Str(lines[0], "error");
  EXPECT_EQ(Str(lines[2], "method"), "/cstopa.test.Ping/Slow");
  EXPECT_EQ(Str(lines[2], "code"), "DEADLINE_EXCEEDED");
  EXPECT_GE(lines[2].fields().at("duration_ms").number_value(), 100);
  std::string text = metrics_.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("grpc_service=\"test.Slow\",grpc_method=\"Wait\","
                              "grpc_code=\"DEADLINE_EXCEEDED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("grpc_service=\"test.Slow\",grpc_method=\"Wait\","
                              "grpc_code=\"CANCELLED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_count{grpc_service="
                              "\"test.Slow\",grpc_method=\"Wait\"} 2\n"));
}

}  // namespace
}  // namespace cstopa::common
