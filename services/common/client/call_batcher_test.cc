// CallBatcher against an in-process BatchService that answers each call
// with its own request bytes (or an error it is told to give) and can hold
// batches: when calls leave alone, when they wait and leave together, that
// an earlier-due call does not wait, and how a full answer is resent.
#include "services/common/client/call_batcher.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/batch/v1/batch.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace cstopa::common {
namespace {

namespace bv1 = ::cstopa::batch::v1;

// Answers each call with its request bytes; a request "full" is answered
// RESOURCE_EXHAUSTED unless it is alone in its batch. While held, batches
// are answered only when Hold(false) is called (no thread waits).
class FakeBatchService final : public bv1::BatchService::CallbackService {
 public:
  grpc::ServerUnaryReactor* CallBatch(
      grpc::CallbackServerContext* ctx, const bv1::CallBatchRequest* request,
      bv1::CallBatchResponse* response) override {
    for (const bv1::BatchedCall& c : request->calls()) {
      bv1::BatchedResult* r = response->add_results();
      if (c.request() == "full" && request->calls_size() > 1) {
        r->mutable_status()->set_code(grpc::StatusCode::RESOURCE_EXHAUSTED);
        r->mutable_status()->set_message("send it alone");
      } else {
        r->set_response(c.request());
      }
    }
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    absl::MutexLock lock(&mu_);
    sizes_.push_back(request->calls_size());
    if (hold_) {
      held_.push_back(reactor);
    } else {
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  void Hold(bool hold) {
    std::vector<grpc::ServerUnaryReactor*> release;
    {
      absl::MutexLock lock(&mu_);
      hold_ = hold;
      if (!hold) release.swap(held_);
    }
    for (grpc::ServerUnaryReactor* r : release) r->Finish(grpc::Status::OK);
  }
  // The sizes of the batches received so far.
  std::vector<int> Sizes() {
    absl::MutexLock lock(&mu_);
    return sizes_;
  }
  bool WaitForBatches(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return sizes_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }

 private:
  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mu_);
  std::vector<int> sizes_ ABSL_GUARDED_BY(mu_);
};

class CallBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    server_address_ = absl::StrCat("127.0.0.1:", port);
    channel_ = grpc::CreateChannel(server_address_,
                                   grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    service_.Hold(false);
    server_->Shutdown();
  }

  // Starts a call whose request is `request`; its answer goes to `answers`.
  void Start(CallBatcher& batcher, const std::string& request,
             absl::Time deadline) {
    batcher.Start(MakeCall(request, deadline));
  }
  CallBatcher::Call MakeCall(const std::string& request, absl::Time deadline) {
    CallBatcher::Call c;
    c.method = "/test.Service/GetThing";
    c.request = request;
    c.deadline = deadline;
    c.done = [this](grpc::Status status, std::string response) {
      absl::MutexLock lock(&mu_);
      answers_.push_back(
          status.ok() ? response : absl::StrCat("error ", status.error_code()));
    };
    return c;
  }
  std::vector<std::string> WaitForAnswers(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return answers_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return answers_;
  }

  FakeBatchService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string server_address_;
  std::shared_ptr<grpc::Channel> channel_;
  absl::Mutex mu_;
  std::vector<std::string> answers_ ABSL_GUARDED_BY(mu_);
};

TEST_F(CallBatcherTest, CallsWaitingForABatchLeaveTogether) {
  CallBatcher batcher(channel_, {/*max_in_flight=*/1, 64});
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  service_.Hold(true);
  Start(batcher, "first", deadline);  // leaves alone, held by the server
  ASSERT_TRUE(service_.WaitForBatches(1));
  for (int i = 0; i < 5; ++i) Start(batcher, absl::StrCat("next", i), deadline);
  service_.Hold(false);
  std::vector<std::string> answers = WaitForAnswers(6);
  ASSERT_EQ(answers.size(), 6u);
  EXPECT_EQ(answers[0], "first");
  EXPECT_EQ(answers[5], "next4");  // in order, each its own answer
  EXPECT_EQ(service_.Sizes(), (std::vector<int>{1, 5}));
  EXPECT_EQ(batcher.stats().calls, 6);
  EXPECT_EQ(batcher.stats().batches, 2);
}

// A fan-out's reads of one backend, started together, leave as one batch
// though nothing else is in flight.
TEST_F(CallBatcherTest, CallsStartedTogetherLeaveAsOneBatch) {
  CallBatcher batcher(channel_, {/*max_in_flight=*/2, 64});
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::vector<CallBatcher::Call> calls;
  for (const char* r : {"a", "b", "c"}) calls.push_back(MakeCall(r, deadline));
  batcher.Start(std::move(calls));
  EXPECT_EQ(WaitForAnswers(3), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(service_.Sizes(), (std::vector<int>{3}));
  EXPECT_EQ(batcher.stats().calls, 3);
  EXPECT_EQ(batcher.stats().batches, 1);
}

TEST_F(CallBatcherTest, ACallDueEarlierDoesNotWaitBehindABatch) {
  CallBatcher batcher(channel_, {/*max_in_flight=*/1, 64});
  service_.Hold(true);
  Start(batcher, "late", absl::Now() + absl::Seconds(20));
  ASSERT_TRUE(service_.WaitForBatches(1));
  // Due before the held batch: sent at once, beside it.
  Start(batcher, "early", absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(service_.WaitForBatches(2));
  service_.Hold(false);
  EXPECT_EQ(WaitForAnswers(2).size(), 2u);
  EXPECT_EQ(service_.Sizes(), (std::vector<int>{1, 1}));
}

TEST_F(CallBatcherTest, AFullAnswerIsSentAgainAlone) {
  CallBatcher batcher(channel_, {/*max_in_flight=*/1, 64});
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  service_.Hold(true);
  Start(batcher, "first", deadline);
  ASSERT_TRUE(service_.WaitForBatches(1));
  Start(batcher, "a", deadline);
  Start(batcher, "full", deadline);
  Start(batcher, "b", deadline);
  service_.Hold(false);
  std::vector<std::string> answers = WaitForAnswers(4);
  ASSERT_EQ(answers.size(), 4u);
  EXPECT_EQ(std::count(answers.begin(), answers.end(), "full"), 1);
  EXPECT_EQ(batcher.stats().resent, 1);
  EXPECT_EQ(service_.Sizes(), (std::vector<int>{1, 3, 1}));
}

// A batch whose answer is over this side's receive limit fails as a whole
// (RESOURCE_EXHAUSTED); each of its calls, small enough alone, goes again.
TEST_F(CallBatcherTest, AnAnswerOverTheReceiveLimitIsSentAgainCallByCall) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(400);
  CallBatcher batcher(
      grpc::CreateCustomChannel(server_address_,
                                grpc::InsecureChannelCredentials(), args),
      {/*max_in_flight=*/2, 64});
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::vector<CallBatcher::Call> calls;
  for (char c : std::string("abc"))
    calls.push_back(MakeCall(std::string(200, c), deadline));
  batcher.Start(std::move(calls));
  std::vector<std::string> answers = WaitForAnswers(3);
  ASSERT_EQ(answers.size(), 3u);
  std::sort(answers.begin(), answers.end());
  EXPECT_EQ(answers[0], std::string(200, 'a'));
  EXPECT_EQ(answers[2], std::string(200, 'c'));
  EXPECT_EQ(batcher.stats().resent, 3);
  EXPECT_EQ(service_.Sizes(), (std::vector<int>{3, 1, 1, 1}));
}

// Destroyed with a batch held by the server and a call waiting behind it,
// neither with a deadline: the batch is cancelled, the waiting call ends
// CANCELLED, and the destructor returns.
TEST_F(CallBatcherTest, DestroyingTheBatcherEndsWhatIsInFlight) {
  service_.Hold(true);
  {
    CallBatcher batcher(channel_, {/*max_in_flight=*/1, 64});
    Start(batcher, "held", absl::InfiniteFuture());
    ASSERT_TRUE(service_.WaitForBatches(1));
    Start(batcher, "waiting", absl::InfiniteFuture());
  }
  std::vector<std::string> answers = WaitForAnswers(2);
  EXPECT_EQ(answers, (std::vector<std::string>{
                         absl::StrCat("error ", grpc::StatusCode::CANCELLED),
                         absl::StrCat("error ", grpc::StatusCode::CANCELLED)}));
  EXPECT_EQ(service_.Sizes(), (std::vector<int>{1}));
}

TEST_F(CallBatcherTest, ABatchThatFailsEndsEachCallWithItsStatus) {
  CallBatcher batcher(channel_, {/*max_in_flight=*/1, 64});
  service_.Hold(true);
  // The first batch's deadline passes while the server holds it.
  Start(batcher, "first", absl::Now() + absl::Milliseconds(200));
  ASSERT_TRUE(service_.WaitForBatches(1));
  std::vector<std::string> answers = WaitForAnswers(1);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0],
            absl::StrCat("error ", grpc::StatusCode::DEADLINE_EXCEEDED));
}

}  // namespace
}  // namespace cstopa::common
