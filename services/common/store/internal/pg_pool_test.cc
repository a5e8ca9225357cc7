// Tests of pg_pool.h with fake connections: no server.
#include "services/common/store/internal/pg_pool.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cstopa::common::pg {
namespace {

using ::testing::HasSubstr;

// What the fake server lets connections do, and what they did.
struct FakeServer {
  std::atomic<bool> refuse{false};  // Connect fails while set
  std::atomic<int> made{0};
  std::atomic<int> connects{0};
  std::atomic<int> closes{0};
};

class FakeConnection : public Connection {
 public:
  explicit FakeConnection(FakeServer* server) : server_(server) {}

  absl::Status Connect() override {
    ++server_->connects;
    connected_ = !server_->refuse;
    if (!connected_) return absl::UnavailableError("refused");
    return absl::OkStatus();
  }
  absl::Status EnsureConnected() override {
    return connected_ ? absl::OkStatus() : Connect();
  }
  bool Reusable() const override { return connected_ && !in_transaction; }
  void Close() override {
    ++server_->closes;
    connected_ = false;
  }
  absl::Status Send(const std::string&, const SqlValues&) override {
    return absl::UnimplementedError("not for the pool");
  }
  int socket() const override { return -1; }
  absl::StatusOr<bool> Receive() override {
    return absl::UnimplementedError("not for the pool");
  }
  absl::Status AnswerStatus() override {
    return absl::UnimplementedError("not for the pool");
  }
  absl::Status ForEachRow(
      absl::FunctionRef<absl::Status(const SqlRow&)>) override {
    return absl::UnimplementedError("not for the pool");
  }
  void Cancel() override {}

  // As the server would see it: the session dropped.
  void Drop() { connected_ = false; }
  bool connected() const { return connected_; }
  bool in_transaction = false;

 private:
  FakeServer* server_;
  bool connected_ = false;
};

class PoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<ConnectionPool> MakePool(int size, absl::Duration timeout) {
    return std::make_unique<ConnectionPool>(size, timeout, "u@db:5432/x", [&] {
      ++server_.made;
      return std::make_unique<FakeConnection>(&server_);
    });
  }
  static FakeConnection* Fake(Connection* c) {
    return static_cast<FakeConnection*>(c);
  }

  FakeServer server_;
};

TEST_F(PoolTest, OpensLazilyUpToItsSize) {
  auto pool = MakePool(2, absl::Seconds(5));
  EXPECT_EQ(server_.made, 0);  // nothing at start
  EXPECT_EQ(pool->counts().open, 0);
  auto a = pool->Acquire();
  auto b = pool->Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(Fake(*a)->connected());
  EXPECT_EQ(server_.made, 2);
  EXPECT_EQ(pool->counts().open, 2);
  EXPECT_EQ(pool->counts().idle, 0);
  pool->Release(*a);
  EXPECT_EQ(pool->counts().idle, 1);
  // Reused, not opened anew.
  auto c = pool->Acquire();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, *a);
  EXPECT_EQ(server_.made, 2);
  pool->Release(*b);
  pool->Release(*c);
}

TEST_F(PoolTest, ExhaustedAfterTheTimeoutWithAMessage) {
  auto pool = MakePool(1, absl::Milliseconds(200));
  auto held = pool->Acquire();
  ASSERT_TRUE(held.ok());
  const absl::Time start = absl::Now();
  auto more = pool->Acquire();
  const absl::Duration waited = absl::Now() - start;
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(more.status().message(),
              HasSubstr("connection pool exhausted: all 1 connections to "
                        "u@db:5432/x stayed busy for 200ms"));
  EXPECT_GE(waited, absl::Milliseconds(190));
  EXPECT_LT(waited, absl::Seconds(3));
  EXPECT_EQ(pool->Exhausted().message(), more.status().message());
  pool->Release(*held);
}

TEST_F(PoolTest, AWaitingCallerGetsTheConnectionReleased) {
  auto pool = MakePool(1, absl::Seconds(10));
  auto held = pool->Acquire();
  ASSERT_TRUE(held.ok());
  absl::StatusOr<Connection*> got;
  absl::Notification done;
  std::thread waiter([&] {
    got = pool->Acquire();
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  pool->Release(*held);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  waiter.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, *held);
  pool->Release(*got);
}

TEST_F(PoolTest, AConnectionThatCannotOpenFreesItsSlot) {
  auto pool = MakePool(1, absl::Seconds(5));
  server_.refuse = true;
  auto failed = pool->Acquire();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool->counts().open, 0);
  // The slot is free again: with it still taken, this Acquire would wait
  // for a release nobody makes and fail "exhausted" after the timeout.
  server_.refuse = false;
  auto c = pool->Acquire();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(pool->counts().open, 1);
  pool->Release(*c);
}

TEST_F(PoolTest, ADroppedIdleConnectionIsReopenedOnAcquire) {
  auto pool = MakePool(1, absl::Seconds(5));
  auto c = pool->Acquire();
  ASSERT_TRUE(c.ok());
  pool->Release(*c);
  Fake(*c)->Drop();  // a server restart while it was idle
  auto again = pool->Acquire();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *c);
  EXPECT_TRUE(Fake(*again)->connected());
  EXPECT_EQ(server_.connects, 2);
  pool->Release(*again);
  // When it cannot be reopened, the caller is told and the connection goes
  // back to the pool for a later try.
  Fake(*c)->Drop();
  server_.refuse = true;
  auto down = pool->Acquire();
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool->counts().idle, 1);
  server_.refuse = false;
  auto up = pool->Acquire();
  ASSERT_TRUE(up.ok()) << up.status();
  pool->Release(*up);
}

TEST_F(PoolTest, AConnectionLeftInATransactionIsClosedOnRelease) {
  auto pool = MakePool(1, absl::Seconds(5));
  auto c = pool->Acquire();
  ASSERT_TRUE(c.ok());
  Fake(*c)->in_transaction = true;
  pool->Release(*c);
  EXPECT_EQ(server_.closes, 1);
  EXPECT_FALSE(Fake(*c)->connected());
  Fake(*c)->in_transaction = false;
  // Its next user gets a fresh session.
  auto again = pool->Acquire();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(Fake(*again)->connected());
  pool->Release(*again);
  EXPECT_EQ(server_.closes, 1);  // a reusable one is kept open
}

TEST_F(PoolTest, TryClaimNeverWaits) {
  const absl::Duration pool_timeout = absl::Seconds(60);
  auto pool = MakePool(2, pool_timeout);
  // Nothing open: a slot is reserved for the caller to open.
  ConnectionPool::Claim first = pool->TryClaim();
  EXPECT_TRUE(first.open);
  EXPECT_EQ(first.idle, nullptr);
  auto opened = pool->Open();
  ASSERT_TRUE(opened.ok());
  // A reserved slot counts against the size while it opens.
  ConnectionPool::Claim second = pool->TryClaim();
  EXPECT_TRUE(second.open);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(pool->TryClaim().found());
  // A waiting claim would take the pool timeout; any scheduling delay is far
  // below half of it.
  EXPECT_LT(absl::Now() - start, pool_timeout / 2);
  // A failed Open gives the slot back.
  server_.refuse = true;
  EXPECT_FALSE(pool->Open().ok());
  server_.refuse = false;
  EXPECT_TRUE(pool->TryClaim().open);
  ASSERT_TRUE(pool->Open().ok());
  // Idle connections come before new slots, as they are (unchecked).
  pool->Release(*opened);
  Fake(*opened)->Drop();
  ConnectionPool::Claim idle = pool->TryClaim();
  EXPECT_EQ(idle.idle, *opened);
  EXPECT_FALSE(idle.open);
}

TEST_F(PoolTest, TheReleaseHookRunsAfterEachReleaseWithoutTheLock) {
  auto pool = MakePool(1, absl::Seconds(5));
  int calls = 0;
  int idle_seen = -1;
  pool->set_release_hook([&] {
    ++calls;
    idle_seen = pool->counts().idle;  // would deadlock under the lock
  });
  auto c = pool->Acquire();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(calls, 0);
  pool->Release(*c);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(idle_seen, 1);  // the connection is back before the hook runs
}

TEST_F(PoolTest, ManyThreadsNeverExceedTheSize) {
  auto pool = MakePool(3, absl::Seconds(10));
  std::atomic<int> in_use{0}, most{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto c = pool->Acquire();
        if (!c.ok()) {
          ++failures;
          continue;
        }
        int now = ++in_use;
        int seen = most;
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        --in_use;
        pool->Release(*c);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_LE(most, 3);
  EXPECT_LE(server_.made, 3);
}

}  // namespace
}  // namespace cstopa::common::pg
