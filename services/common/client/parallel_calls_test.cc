#include "services/common/client/parallel_calls.h"

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/client/call_context.h"
#include "services/common/client/channel.h"
#include "services/common/client/echo_test_server.h"
#include "services/common/client/error_details.h"

namespace cstopa::common {
namespace {

using ::testing::ElementsAre;
using testing::EchoBackend;
using testing::FanOutFront;
using testing::TestServer;

// Bounds every wait: reached only when something hangs.
constexpr absl::Duration kHang = absl::Seconds(60);

clienttest::EchoRequest Echo(const std::string& message, int delay_ms = 0) {
  clienttest::EchoRequest request;
  request.set_key(message);
  request.set_message(message);
  request.set_delay_ms(delay_ms);
  return request;
}

clienttest::EchoRequest NotFoundEcho(const std::string& key) {
  clienttest::EchoRequest request = Echo(key);
  request.set_fail_attempts(1000);
  request.set_fail_code(grpc::StatusCode::NOT_FOUND);
  return request;
}

class ParallelCallsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<TestServer>(std::vector<grpc::Service*>{&backend_});
    ASSERT_GT(server_->port(), 0);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        NewChannel(server_->target());
    ASSERT_TRUE(channel.ok()) << channel.status();
    channel_ = *channel;
    stub_ = clienttest::EchoService::NewStub(channel_);
  }

  CallResult<clienttest::EchoResponse>* AddEcho(ParallelCalls& calls,
                                                clienttest::EchoRequest request) {
    return calls.Add<clienttest::EchoResponse>(
        std::move(request),
        [this](grpc::ClientContext* ctx, const clienttest::EchoRequest* req,
               clienttest::EchoResponse* resp,
               std::function<void(grpc::Status)> done) {
          stub_->async()->GetEcho(ctx, req, resp, std::move(done));
        });
  }

  EchoBackend backend_;
  std::unique_ptr<TestServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<clienttest::EchoService::Stub> stub_;
};

TEST_F(ParallelCallsTest, OneContinuationSeesEveryStatus) {
  ParallelCalls calls(absl::Now() + absl::Seconds(30));
  auto* a = AddEcho(calls, Echo("a", 50));
  auto* missing = AddEcho(calls, NotFoundEcho("missing"));
  auto* c = AddEcho(calls, Echo("c"));

  std::atomic<int> runs{0};
  absl::Notification done;
  std::string seen;
  std::move(calls).Start([&] {
    ++runs;
    // Every call has finished by now.
    seen = absl::StrCat(a->ok() ? a->response().message() : "a failed", " ",
                        absl::StatusCodeToString(missing->status().code()),
                        " ", c->ok() ? c->response().message() : "c failed");
    std::optional<google::rpc::ErrorInfo> info =
        GetErrorInfo(missing->status());
    if (info) absl::StrAppend(&seen, " ", info->reason());
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kHang));
  EXPECT_EQ(seen, "a NOT_FOUND c RESOURCE_NOT_FOUND");
  // The continuation ran once (and the results are gone with it).
  EXPECT_EQ(runs.load(), 1);
}

TEST_F(ParallelCallsTest, TheSlowCallMissesTheDeadline) {
  ParallelCalls calls(absl::Now() + absl::Seconds(5));
  auto* fast = AddEcho(calls, Echo("fast"));
  auto* slow = AddEcho(calls, Echo("slow", 30'000));
  auto* also_fast = AddEcho(calls, Echo("also fast"));
  absl::Notification done;
  std::vector<absl::StatusCode> codes;
  std::move(calls).Start([&] {
    codes = {fast->status().code(), slow->status().code(),
             also_fast->status().code()};
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kHang));
  EXPECT_THAT(codes, ElementsAre(absl::StatusCode::kOk,
                                 absl::StatusCode::kDeadlineExceeded,
                                 absl::StatusCode::kOk));
}

TEST_F(ParallelCallsTest, NoCallsRunsTheContinuationAtOnce) {
  ParallelCalls calls(absl::Now() + absl::Seconds(1));
  bool ran = false;
  std::move(calls).Start([&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST_F(ParallelCallsTest, UnstartedCallsAreDropped) {
  {
    ParallelCalls calls(absl::Now() + absl::Seconds(1));
    AddEcho(calls, Echo("never"));
  }
  EXPECT_EQ(backend_.Attempts("GetEcho", "never"), 0);
}

TEST_F(ParallelCallsTest, ManyCallsFromManyThreads) {
  // Continuations of many groups started at once each run once, with every
  // result in place.
  constexpr int kGroups = 8, kCalls = 10;
  std::atomic<int> runs{0}, ok{0};
  absl::Notification all_done;
  std::vector<std::thread> threads;
  for (int g = 0; g < kGroups; ++g) {
    threads.emplace_back([&, g] {
      ParallelCalls calls(absl::Now() + absl::Seconds(30));
      std::vector<CallResult<clienttest::EchoResponse>*> results;
      for (int i = 0; i < kCalls; ++i) {
        results.push_back(AddEcho(calls, Echo(absl::StrCat(g, "-", i))));
      }
      std::move(calls).Start([&, results] {
        for (auto* r : results) ok += r->ok() ? 1 : 0;
        if (++runs == kGroups) all_done.Notify();
      });
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(kHang));
  EXPECT_EQ(runs.load(), kGroups);
  EXPECT_EQ(ok.load(), kGroups * kCalls);
}

// From inside a handler of the platform's gRPC face: the handler returns
// at once and finishes its call in the continuation; failures and the
// incoming call's deadline reach each backend call.
TEST_F(ParallelCallsTest, UsableFromInsideAHandler) {
  FanOutFront front_handler(channel_);
  std::unique_ptr<grpc::Service> front_service =
      clienttest::NewFanOutServiceGrpc(&front_handler);
  TestServer front({front_service.get()}, /*telemetry=*/true);
  ASSERT_GT(front.port(), 0);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewChannel(front.target());
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = clienttest::FanOutService::NewStub(*channel);
  {
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(30));
    clienttest::FanOutRequest request;
    *request.add_calls() = Echo("one", 20);
    *request.add_calls() = NotFoundEcho("two");
    *request.add_calls() = Echo("three");
    clienttest::FanOutResponse response;
    grpc::Status s = stub->GetFanOut(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_THAT(response.results(),
                ElementsAre("OK one", "NOT_FOUND RESOURCE_NOT_FOUND",
                            "OK three"));
  }
  {
    // The front keeps all but 3 s of its caller's 20 s for itself: the slow
    // backend call ends with DEADLINE_EXCEEDED after 3 s, not 30 s, and the
    // front answers.
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(20));
    clienttest::FanOutRequest request;
    *request.add_calls() = Echo("quick");
    *request.add_calls() = Echo("sluggish", 30'000);
    request.set_reserve_ms(17'000);
    clienttest::FanOutResponse response;
    grpc::Status s = stub->GetFanOut(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    // The client's own deadline error carries no ErrorInfo.
    EXPECT_THAT(response.results(),
                ElementsAre("OK quick", "DEADLINE_EXCEEDED (no ErrorInfo)"));
    EXPECT_EQ(backend_.Attempts("GetEcho", "sluggish"), 1);
  }
}

}  // namespace
}  // namespace cstopa::common
