// ChangeFollower over a fake stream: the first message is when it follows,
// changes are handed on in order, an ended stream is lost and opened again,
// and destruction cancels a stream that blocks.
#include "gateway/change_follower.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cstopa::gateway {
namespace {

class Recorder : public ChangeFollower::Listener {
 public:
  void Following(const std::string& service, int64_t sequence) override {
    Add(absl::StrCat(service, " following ", sequence));
  }
  void Changed(const std::string& service, const StreamMessage& m) override {
    Add(absl::StrCat(service, " change ", m.sequence, " ", m.name));
  }
  void Lost(const std::string& service, const absl::Status& why) override {
    Add(absl::StrCat(service, " lost ", absl::StatusCodeToString(why.code())));
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return log_.size() >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }
  std::vector<std::string> log() {
    absl::MutexLock lock(&mu_);
    return log_;
  }

 private:
  void Add(std::string line) {
    absl::MutexLock lock(&mu_);
    log_.push_back(std::move(line));
  }
  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
};

StreamMessage Message(bool checkpoint, int64_t seq, std::string name) {
  StreamMessage m;
  m.checkpoint = checkpoint;
  m.sequence = seq;
  m.name = std::move(name);
  return m;
}

TEST(ChangeFollowerTest, FollowsHandsChangesOnAndReopensAfterALoss) {
  Recorder recorder;
  int opened = 0;  // only the follower's thread touches it
  std::atomic<bool> done{false};
  ChangeFollower::Options fast;
  fast.min_backoff = absl::Milliseconds(1);
  ChangeFollower follower(
      "events",
      [&](grpc::ClientContext*,
          absl::FunctionRef<void(const StreamMessage&)> on_message) {
        if (++opened == 1) {
          on_message(Message(true, 7, ""));
          on_message(Message(false, 8, "events/a"));
          on_message(Message(true, 8, ""));  // a quiet-stream checkpoint
          on_message(Message(false, 9, "events/b"));
          return absl::UnavailableError("restarting");
        }
        if (opened == 2) return absl::UnavailableError("refused");
        on_message(Message(true, 9, ""));
        while (!done) absl::SleepFor(absl::Milliseconds(1));
        return absl::CancelledError("cancelled");
      },
      &recorder, fast);
  follower.Start();
  ASSERT_TRUE(recorder.WaitFor(6));
  EXPECT_EQ(recorder.log(),
            (std::vector<std::string>{
                "events following 7", "events change 8 events/a",
                "events change 9 events/b", "events lost UNAVAILABLE",
                "events lost UNAVAILABLE", "events following 9"}));
  done = true;  // the stream ends; the follower stops without opening again
}

TEST(ChangeFollowerTest, AStreamThatEndsOkIsLostToo) {
  Recorder recorder;
  ChangeFollower::Options slow;
  slow.min_backoff = absl::Seconds(60);  // destruction does not wait for it
  ChangeFollower follower(
      "membership",
      [&](grpc::ClientContext*,
          absl::FunctionRef<void(const StreamMessage&)> on_message) {
        on_message(Message(false, 3, "persons/x"));  // no checkpoint first
        return absl::OkStatus();
      },
      &recorder, slow);
  follower.Start();
  ASSERT_TRUE(recorder.WaitFor(3));
  EXPECT_EQ(recorder.log(),
            (std::vector<std::string>{"membership following 3",
                                      "membership change 3 persons/x",
                                      "membership lost UNAVAILABLE"}));
}

}  // namespace
}  // namespace cstopa::gateway
