#include "services/common/client/call_context.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/client/channel.h"
#include "services/common/client/echo_test_server.h"

namespace cstopa::common {
namespace {

using ::testing::SizeIs;
using testing::EchoBackend;
using testing::FanOutFront;
using testing::TestServer;

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kSpanId[] = "00f067aa0ba902b7";

bool IsLowerHex(const std::string& s, size_t size) {
  return s.size() == size &&
         s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The first value of `key` in metadata the server sent.
std::string Value(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                  const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

class CallIdsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_server_ =
        std::make_unique<TestServer>(std::vector<grpc::Service*>{&backend_});
    ASSERT_GT(backend_server_->port(), 0);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        NewChannel(backend_server_->target());
    ASSERT_TRUE(channel.ok()) << channel.status();
    channel_ = *channel;
    stub_ = clienttest::EchoService::NewStub(channel_);
  }

  // GetEcho through the platform's channel; what the server saw.
  clienttest::EchoResponse Echo(grpc::ClientContext* ctx) {
    if (ctx->deadline() == std::chrono::system_clock::time_point::max()) {
      SetTimeout(ctx, absl::Seconds(20));
    }
    clienttest::EchoRequest request;
    clienttest::EchoResponse response;
    grpc::Status s = stub_->GetEcho(ctx, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  EchoBackend backend_;
  std::unique_ptr<TestServer> backend_server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<clienttest::EchoService::Stub> stub_;
};

TEST_F(CallIdsTest, EveryCallCarriesNewIdsWhenGivenNone) {
  std::set<std::string> ids, traces;
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    clienttest::EchoResponse seen = Echo(&ctx);
    EXPECT_TRUE(IsLowerHex(seen.request_id(), 32)) << seen.request_id();
    std::optional<TraceContext> tp = ParseTraceparent(seen.traceparent());
    ASSERT_TRUE(tp.has_value()) << seen.traceparent();
    EXPECT_EQ(tp->flags, 0);
    ids.insert(seen.request_id());
    traces.insert(tp->trace_id);
  }
  EXPECT_THAT(ids, SizeIs(2));
  EXPECT_THAT(traces, SizeIs(2));
}

TEST_F(CallIdsTest, GivenIdsAreForwardedWithANewSpan) {
  grpc::ClientContext ctx;
  SetRequestId(&ctx, "gateway-req-42");
  ctx.AddMetadata("traceparent", absl::StrCat("00-", kTraceId, "-", kSpanId,
                                              "-01"));
  clienttest::EchoResponse seen = Echo(&ctx);
  EXPECT_EQ(seen.request_id(), "gateway-req-42");
  std::optional<TraceContext> tp = ParseTraceparent(seen.traceparent());
  ASSERT_TRUE(tp.has_value()) << seen.traceparent();
  EXPECT_EQ(tp->trace_id, kTraceId);
  EXPECT_NE(tp->span_id, kSpanId);
  EXPECT_EQ(tp->flags, 1);
}

TEST_F(CallIdsTest, InvalidGivenIdsAreReplaced) {
  grpc::ClientContext ctx;
  SetRequestId(&ctx, std::string(200, 'x'));  // too long
  ctx.AddMetadata("traceparent", "00-bogus");
  clienttest::EchoResponse seen = Echo(&ctx);
  EXPECT_TRUE(IsLowerHex(seen.request_id(), 32)) << seen.request_id();
  EXPECT_TRUE(ParseTraceparent(seen.traceparent()).has_value())
      << seen.traceparent();
}

TEST_F(CallIdsTest, ContinueFromCarriesDeadlineAndIds) {
  Caller caller;
  caller.deadline = absl::Now() + absl::Seconds(30);
  caller.request_id = "incoming-7";
  caller.traceparent = absl::StrCat("00-", kTraceId, "-", kSpanId, "-01");
  grpc::ClientContext ctx;
  ContinueFrom(caller, &ctx);
  EXPECT_EQ(absl::FromChrono(ctx.deadline()), caller.deadline);
  clienttest::EchoResponse seen = Echo(&ctx);
  EXPECT_EQ(seen.request_id(), "incoming-7");
  std::optional<TraceContext> tp = ParseTraceparent(seen.traceparent());
  ASSERT_TRUE(tp.has_value()) << seen.traceparent();
  EXPECT_EQ(tp->trace_id, kTraceId);
  EXPECT_NE(tp->span_id, kSpanId);

  // A caller without ids or deadline (a test's blocking face) adds none.
  grpc::ClientContext bare;
  ContinueFrom(Caller{}, &bare);
  EXPECT_EQ(bare.deadline(), std::chrono::system_clock::time_point::max());
}

TEST_F(CallIdsTest, SetApiKeySendsABearerToken) {
  grpc::ClientContext ctx;
  SetApiKey(&ctx, "k-123");
  SetApiKey(&ctx, "");  // nothing
  EXPECT_EQ(Echo(&ctx).authorization(), "Bearer k-123");
}

// A handler of the platform's gRPC face (FanOutFront) calls the backend from
// inside its handler: the backend sees the incoming request id and trace
// (with a span of its own), and the incoming deadline.
TEST_F(CallIdsTest, HandlerPassesItsCallOn) {
  FanOutFront front_handler(channel_);
  std::unique_ptr<grpc::Service> front_service =
      clienttest::NewFanOutServiceGrpc(&front_handler);
  TestServer front({front_service.get()}, /*telemetry=*/true);
  ASSERT_GT(front.port(), 0);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewChannel(front.target());
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = clienttest::FanOutService::NewStub(*channel);

  for (bool client_sends_ids : {true, false}) {
    SCOPED_TRACE(client_sends_ids ? "client sends ids" : "client sends none");
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(20));
    if (client_sends_ids) {
      SetRequestId(&ctx, "end-user-request-1");
      ctx.AddMetadata("accept-language", "ru, en;q=0.5");
      ctx.AddMetadata("traceparent",
                      absl::StrCat("00-", kTraceId, "-", kSpanId, "-01"));
    }
    clienttest::FanOutRequest request;
    request.add_calls()->set_message("a");
    request.add_calls()->set_message("b");
    clienttest::FanOutResponse response;
    grpc::Status s = stub->GetFanOut(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_THAT(response.responses(), SizeIs(2));

    // What the front server answered with: its request id and its span.
    const std::string front_id =
        Value(ctx.GetServerInitialMetadata(), "x-request-id");
    std::optional<TraceContext> front_span =
        ParseTraceparent(Value(ctx.GetServerInitialMetadata(), "traceparent"));
    ASSERT_TRUE(front_span.has_value());
    if (client_sends_ids) {
      EXPECT_EQ(front_id, "end-user-request-1");
      EXPECT_EQ(front_span->trace_id, kTraceId);
    }
    std::set<std::string> spans = {front_span->span_id};
    for (const clienttest::EchoResponse& seen : response.responses()) {
      EXPECT_EQ(seen.request_id(), front_id);
      // The preferred languages go on to the backends too.
      EXPECT_EQ(seen.accept_language(), client_sends_ids ? "ru, en;q=0.5" : "");
      std::optional<TraceContext> tp = ParseTraceparent(seen.traceparent());
      ASSERT_TRUE(tp.has_value()) << seen.traceparent();
      EXPECT_EQ(tp->trace_id, front_span->trace_id);
      EXPECT_NE(tp->span_id, kSpanId);
      spans.insert(tp->span_id);
    }
    EXPECT_THAT(spans, SizeIs(3)) << "every call has a span of its own";
  }
}

}  // namespace
}  // namespace cstopa::common
