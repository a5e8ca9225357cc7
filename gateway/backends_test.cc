// The circuit breaker and the coalescer on their own: what a backend that
// fails sees from the gateway, and how identical views share answers.
#include "gateway/backends.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/coalescer.h"
#include "gtest/gtest.h"

namespace cstopa::gateway {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

BreakerOptions Options() {
  BreakerOptions o;
  o.failures_to_open = 3;
  o.open_for = absl::Seconds(1);
  o.max_open_for = absl::Seconds(4);
  return o;
}

TEST(BreakerTest, RequestErrorsDoNotCountAgainstTheBackend) {
  Breaker b(Options());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(b.Admit(kT0));
    b.Record(absl::NotFoundError("states/xx"), kT0);
    b.Record(absl::InvalidArgumentError("bad filter"), kT0);
  }
  EXPECT_EQ(b.Get().state, Breaker::State::kClosed);
  EXPECT_EQ(b.Get().failures, 0);
  EXPECT_EQ(b.Get().calls, 20);
}

TEST(BreakerTest, OpensAfterConsecutiveFailuresAndRefusesUntilRetryTime) {
  Breaker b(Options());
  b.Record(absl::UnavailableError("down"), kT0);
  b.Record(absl::OkStatus(), kT0);  // resets the run
  b.Record(absl::UnavailableError("down"), kT0);
  b.Record(absl::DeadlineExceededError("slow"), kT0);
  EXPECT_TRUE(b.Admit(kT0));
  b.Record(absl::UnavailableError("down"), kT0);
  Breaker::Snapshot s = b.Get();
  EXPECT_EQ(s.state, Breaker::State::kOpen);
  EXPECT_EQ(s.retry_time, kT0 + absl::Seconds(1));
  EXPECT_EQ(s.last_error.message(), "down");
  EXPECT_EQ(s.opened, 1);

  EXPECT_FALSE(b.Admit(kT0 + absl::Milliseconds(999)));
  EXPECT_EQ(b.Get().refused, 1);
  // The probe goes through, and only it.
  EXPECT_TRUE(b.Admit(kT0 + absl::Seconds(1)));
  EXPECT_FALSE(b.Admit(kT0 + absl::Seconds(1)));
  // A failed probe opens it again for twice as long.
  b.Record(absl::UnavailableError("still down"), kT0 + absl::Seconds(1));
  EXPECT_EQ(b.Get().retry_time, kT0 + absl::Seconds(3));
  EXPECT_FALSE(b.Admit(kT0 + absl::Seconds(2)));
  EXPECT_TRUE(b.Admit(kT0 + absl::Seconds(3)));
  b.Record(absl::UnavailableError("still down"), kT0 + absl::Seconds(3));
  EXPECT_EQ(b.Get().retry_time, kT0 + absl::Seconds(7));  // capped at 4 s
  EXPECT_TRUE(b.Admit(kT0 + absl::Seconds(7)));
  b.Record(absl::UnavailableError("still down"), kT0 + absl::Seconds(7));
  EXPECT_EQ(b.Get().retry_time, kT0 + absl::Seconds(11));

  // A probe that ran out of its caller's time says nothing: the next call
  // probes instead.
  EXPECT_TRUE(b.Admit(kT0 + absl::Seconds(11)));
  b.Forget();
  EXPECT_EQ(b.Get().state, Breaker::State::kHalfOpen);
  // A successful probe closes it, and the next opening starts short again.
  EXPECT_TRUE(b.Admit(kT0 + absl::Seconds(11)));
  b.Record(absl::OkStatus(), kT0 + absl::Seconds(11));
  EXPECT_EQ(b.Get().state, Breaker::State::kClosed);
  EXPECT_TRUE(b.Admit(kT0 + absl::Seconds(11)));
  for (int i = 0; i < 3; ++i)
    b.Record(absl::UnavailableError("down"), kT0 + absl::Seconds(20));
  EXPECT_EQ(b.Get().retry_time, kT0 + absl::Seconds(21));
}

TEST(CoalescerTest, JoinersGetTheLeadersAnswer) {
  Coalescer c;
  std::vector<std::string> got;
  Coalescer::Waiter lead = [&](const Coalescer::Answer& a) {
    got.push_back("lead");
  };
  const absl::Time ends = kT0 + absl::Seconds(2);
  ASSERT_EQ(c.Join("k", kT0, ends, lead), Coalescer::Role::kLeader);
  for (int i = 0; i < 3; ++i) {
    Coalescer::Waiter w = [&got, i](const Coalescer::Answer& a) {
      got.push_back(absl::StrCat(i, ":", a.ok() ? *a : "error"));
    };
    // Arriving a little later, with the same budget.
    const absl::Time now = kT0 + absl::Milliseconds(10 * i);
    EXPECT_EQ(c.Join("k", now, now + absl::Seconds(2), w),
              Coalescer::Role::kJoined);
  }
  // Another key leads its own flight.
  Coalescer::Waiter other = [](const Coalescer::Answer&) {};
  EXPECT_EQ(c.Join("k2", kT0, ends, other), Coalescer::Role::kLeader);
  c.Complete("k", std::string("bytes"));
  EXPECT_EQ(got, (std::vector<std::string>{"0:bytes", "1:bytes", "2:bytes"}));
  EXPECT_EQ(c.joined(), 3);
  // The flight is over: the next request leads again.
  Coalescer::Waiter again = [](const Coalescer::Answer&) {};
  EXPECT_EQ(c.Join("k", kT0, ends, again), Coalescer::Role::kLeader);
}

TEST(CoalescerTest, ARequestDueBeforeTheFlightAnswersGoesAlone) {
  Coalescer c;
  Coalescer::Waiter lead = [](const Coalescer::Answer&) {};
  ASSERT_EQ(c.Join("k", kT0, kT0 + absl::Seconds(4), lead),
            Coalescer::Role::kLeader);
  bool ran = false;
  Coalescer::Waiter hurried = [&](const Coalescer::Answer&) { ran = true; };
  EXPECT_EQ(c.Join("k", kT0, kT0 + absl::Seconds(1), hurried),
            Coalescer::Role::kAlone);
  c.Complete("k", absl::UnavailableError("x"));
  EXPECT_FALSE(ran);  // it answers itself
}

TEST(CoalescerTest, AShortFlightDoesNotCutAPatientRequestShort) {
  Coalescer c;
  // A caller in a hurry leads: its backends get 30 ms.
  Coalescer::Waiter lead = [](const Coalescer::Answer&) {};
  ASSERT_EQ(c.Join("k", kT0, kT0 + absl::Milliseconds(30), lead),
            Coalescer::Role::kLeader);
  Coalescer::Waiter patient = [](const Coalescer::Answer&) {};
  EXPECT_EQ(c.Join("k", kT0, kT0 + absl::Seconds(2), patient),
            Coalescer::Role::kAlone);
  // Nor does a flight that has already waited most of its time (a hung
  // backend): 0.5 s left of the flight against 2 s of the request's.
  Coalescer::Waiter lead2 = [](const Coalescer::Answer&) {};
  ASSERT_EQ(c.Join("k2", kT0, kT0 + absl::Seconds(2), lead2),
            Coalescer::Role::kLeader);
  Coalescer::Waiter late = [](const Coalescer::Answer&) {};
  const absl::Time now = kT0 + absl::Milliseconds(1500);
  EXPECT_EQ(c.Join("k2", now, now + absl::Seconds(2), late),
            Coalescer::Role::kAlone);
}

TEST(CoalescerTest, DisabledMeansEveryoneAlone) {
  Coalescer c(/*enabled=*/false);
  Coalescer::Waiter w = [](const Coalescer::Answer&) {};
  EXPECT_EQ(c.Join("k", kT0, kT0, w), Coalescer::Role::kAlone);
  EXPECT_EQ(c.Join("k", kT0, kT0, w), Coalescer::Role::kAlone);
}

}  // namespace
}  // namespace cstopa::gateway
