// cstopa.batch.v1.BatchService on a real membership_server (port 0,
// seeded SQLite): batched reads answer as calls of their own would, each
// with its own status, request id and deadline; what is not a read of the
// server is refused; and the client's CallBatcher (client/call_batcher.h)
// sends calls that wait as one batch.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/batch/v1/batch.grpc.pb.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/client/call_batcher.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/server_process.h"

namespace cstopa::itest {
namespace {

namespace bv1 = ::cstopa::batch::v1;
namespace mv1 = ::cstopa::membership::v1;

using ::testing::HasSubstr;

constexpr char kGetState[] = "/cstopa.membership.v1.MembershipService/GetState";
constexpr char kSummarizeState[] =
    "/cstopa.membership.v1.MembershipService/SummarizeState";

// A batched GetState of `name`.
bv1::BatchedCall GetState(const std::string& name,
                          const std::string& request_id = "") {
  mv1::GetStateRequest req;
  req.set_name(name);
  bv1::BatchedCall c;
  c.set_method(kGetState);
  c.set_request(req.SerializeAsString());
  c.set_request_id(request_id);
  return c;
}

grpc::Status CallBatch(ServerProcess& server, const bv1::CallBatchRequest& req,
                       bv1::CallBatchResponse* resp) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  return bv1::BatchService::NewStub(server.channel())
      ->CallBatch(&ctx, req, resp);
}

class BatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerProcess::Options o;
    o.binary = CSTOPA_MEMBERSHIP_SERVER;
    o.access_log = "dir";
    server_ = new ServerProcess(o);
    absl::Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static grpc::Status Call(const bv1::CallBatchRequest& req,
                           bv1::CallBatchResponse* resp) {
    return CallBatch(*server_, req, resp);
  }

  static ServerProcess* server_;
};
ServerProcess* BatchTest::server_ = nullptr;

TEST_F(BatchTest, EachCallAnswersAsItWouldAlone) {
  bv1::CallBatchRequest req;
  *req.add_calls() = GetState("states/kz", "batch-itest-kz");
  *req.add_calls() = GetState("states/nowhere", "batch-itest-nowhere");
  *req.add_calls() = GetState("states/kg", "batch-itest-kg");
  mv1::SummarizeStateRequest summary;
  summary.set_name("states/kg");
  bv1::BatchedCall* c = req.add_calls();
  c->set_method(kSummarizeState);
  c->set_request(summary.SerializeAsString());
  bv1::CallBatchResponse resp;
  grpc::Status s = Call(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), 4);

  // In order, each its own answer: the same bytes a GetState of its own
  // gets.
  mv1::State kz, kg;
  ASSERT_EQ(resp.results(0).status().code(), 0);
  ASSERT_TRUE(kz.ParseFromString(resp.results(0).response()));
  EXPECT_EQ(kz.name(), "states/kz");
  ASSERT_EQ(resp.results(2).status().code(), 0);
  ASSERT_TRUE(kg.ParseFromString(resp.results(2).response()));
  EXPECT_EQ(kg.name(), "states/kg");
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    mv1::GetStateRequest get;
    get.set_name("states/kz");
    mv1::State alone;
    ASSERT_TRUE(mv1::MembershipService::NewStub(server_->channel())
                    ->GetState(&ctx, get, &alone)
                    .ok());
    EXPECT_EQ(alone.SerializeAsString(), kz.SerializeAsString());
  }
  mv1::StateSummary kg_summary;
  ASSERT_EQ(resp.results(3).status().code(), 0);
  ASSERT_TRUE(kg_summary.ParseFromString(resp.results(3).response()));
  EXPECT_EQ(kg_summary.state().name(), "states/kg");

  // One call's error does not fail the others, and carries the details a
  // call of its own would (the service's ErrorInfo domain).
  const google::rpc::Status& missing = resp.results(1).status();
  EXPECT_EQ(missing.code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.message(), HasSubstr("states/nowhere"));
  EXPECT_TRUE(resp.results(1).response().empty());
  bool domain = false;
  for (const auto& any : missing.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) domain = info.domain() == "membership.cstopa.org";
  }
  EXPECT_TRUE(domain) << missing.DebugString();

  // Each call is logged as a call of its own, under its own request id.
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string log = server_->ReadAccessLog();
        return absl::StrContains(log, "batch-itest-kz") &&
               absl::StrContains(log, "batch-itest-nowhere") &&
               absl::StrContains(log, "batch-itest-kg");
      },
      absl::Seconds(10)));
}

TEST_F(BatchTest, WhatIsNotAReadOfThisServerIsRefused) {
  bv1::CallBatchResponse resp;
  // No calls.
  grpc::Status s = Call(bv1::CallBatchRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("calls"));

  // A write, a method of another service, a stream, and nonsense: the
  // batch is refused naming the call.
  for (const char* method :
       {"/cstopa.membership.v1.MembershipService/CreateState",
        "/cstopa.events.v1.EventsService/ListEvents",
        "/cstopa.membership.v1.MembershipService/WatchMembership", "GetState",
        ""}) {
    bv1::CallBatchRequest req;
    *req.add_calls() = GetState("states/kz");
    bv1::BatchedCall* c = req.add_calls();
    *c = GetState("states/kz");
    c->set_method(method);
    s = Call(req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method;
    EXPECT_THAT(s.error_message(), HasSubstr("calls[1].method")) << method;
  }

  // Too many calls.
  bv1::CallBatchRequest many;
  for (int i = 0; i < 257; ++i) *many.add_calls() = GetState("states/kz");
  s = Call(many, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("256"));

  // A request that does not decode is that call's INVALID_ARGUMENT only.
  bv1::CallBatchRequest bad;
  *bad.add_calls() = GetState("states/kz");
  bad.add_calls()->set_method(kGetState);
  bad.mutable_calls(1)->set_request("\xff\xff\xff");
  s = Call(bad, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.results(0).status().code(), 0);
  EXPECT_EQ(resp.results(1).status().code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(BatchTest, ACallWhoseTimeIsUpIsDeadlineExceededAlone) {
  bv1::CallBatchRequest req;
  *req.add_calls() = GetState("states/kz");
  bv1::BatchedCall* late = req.add_calls();
  *late = GetState("states/kg");
  late->mutable_timeout()->set_seconds(0);  // no time at all
  bv1::CallBatchResponse resp;
  grpc::Status s = Call(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.results(0).status().code(), 0);
  EXPECT_EQ(resp.results(1).status().code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
}

// The client's batcher: with one batch in flight allowed, calls started
// while it is out leave together in the next batch, and every call gets its
// own answer.
TEST_F(BatchTest, TheBatcherSendsWaitingCallsTogether) {
  common::CallBatcher batcher(server_->channel(), {/*max_in_flight=*/1, 64});
  constexpr int kCalls = 40;
  absl::Mutex mu;
  int answered = 0, ok = 0, not_found = 0;
  absl::Notification all;
  for (int i = 0; i < kCalls; ++i) {
    mv1::GetStateRequest req;
    req.set_name(i % 4 == 3 ? "states/nowhere" : "states/kz");
    common::CallBatcher::Call c;
    c.method = kGetState;
    c.request = req.SerializeAsString();
    c.request_id = absl::StrCat("batcher-itest-", i);
    c.deadline = absl::Now() + absl::Seconds(20);
    c.done = [&, i](grpc::Status status, std::string bytes) {
      absl::MutexLock lock(&mu);
      if (status.ok()) {
        mv1::State state;
        if (state.ParseFromString(bytes) && state.name() == "states/kz") ++ok;
      } else if (status.error_code() == grpc::StatusCode::NOT_FOUND &&
                 i % 4 == 3) {
        ++not_found;
      }
      if (++answered == kCalls) all.Notify();
    };
    batcher.Start(std::move(c));
  }
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(ok, kCalls * 3 / 4);
  EXPECT_EQ(not_found, kCalls / 4);
  const common::CallBatcher::Stats stats = batcher.stats();
  EXPECT_EQ(stats.calls, kCalls);
  // The first call left alone; the others waited for it and left in far
  // fewer batches than calls.
  EXPECT_GE(stats.batches, 2);
  EXPECT_LT(stats.batches, kCalls / 2);
}

// A server whose messages are small fills a batch's answer only up to its
// limit: the calls past it are RESOURCE_EXHAUSTED, and the batcher sends
// each of those again alone, so every call still gets its answer.
TEST(BatchLimitTest, AFullAnswerSendsTheRestAgainAlone) {
  ServerProcess::Options o;
  o.binary = CSTOPA_MEMBERSHIP_SERVER;
  o.extra_args = {"--max_message_bytes=16384"};
  ServerProcess server(o);
  ASSERT_TRUE(server.Start().ok());

  constexpr int kCalls = 40;
  bv1::CallBatchRequest req;
  for (int i = 0; i < kCalls; ++i) *req.add_calls() = GetState("states/kz");
  bv1::CallBatchResponse resp;
  grpc::Status s = CallBatch(server, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), kCalls);
  EXPECT_LE(resp.ByteSizeLong(), 16384u);
  int ok = 0, full = 0;
  for (const auto& r : resp.results()) {
    if (r.status().code() == 0) {
      mv1::State state;
      EXPECT_TRUE(state.ParseFromString(r.response()));
      ++ok;
    } else {
      EXPECT_EQ(r.status().code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_THAT(r.status().message(), HasSubstr("alone"));
      ++full;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(full, 0);

  common::CallBatcher batcher(server.channel(), {/*max_in_flight=*/1, 64});
  absl::Mutex mu;
  int answered = 0, good = 0;
  absl::Notification all;
  for (int i = 0; i < kCalls; ++i) {
    common::CallBatcher::Call c;
    c.method = kGetState;
    c.request = req.calls(i).request();
    c.deadline = absl::Now() + absl::Seconds(20);
    c.done = [&](grpc::Status status, std::string bytes) {
      absl::MutexLock lock(&mu);
      mv1::State state;
      if (status.ok() && state.ParseFromString(bytes) &&
          state.name() == "states/kz")
        ++good;
      if (++answered == kCalls) all.Notify();
    };
    batcher.Start(std::move(c));
  }
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(good, kCalls);
  EXPECT_GT(batcher.stats().resent, 0);
}

// A batch that fails as a whole (nothing listens) ends each call with its
// status, and a call due before the batch in flight is sure to end does not
// wait behind it.
TEST(BatcherFaultsTest, ABatchThatFailsEndsEveryCall) {
  auto channel =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  common::CallBatcher batcher(channel, {1, 64});
  absl::Mutex mu;
  std::vector<grpc::StatusCode> codes;
  absl::Notification all;
  for (int i = 0; i < 3; ++i) {
    common::CallBatcher::Call c;
    c.method = kGetState;
    c.deadline = absl::Now() + absl::Seconds(5 - i);
    c.done = [&](grpc::Status status, std::string) {
      absl::MutexLock lock(&mu);
      codes.push_back(status.error_code());
      if (codes.size() == 3) all.Notify();
    };
    batcher.Start(std::move(c));
  }
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(absl::Seconds(10)));
  for (grpc::StatusCode code : codes) EXPECT_NE(code, grpc::StatusCode::OK);
  // The later calls were due before the first batch's deadline: they went
  // at once rather than behind it.
  EXPECT_EQ(batcher.stats().batches, 3);
}

}  // namespace
}  // namespace cstopa::itest
