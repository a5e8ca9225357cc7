// The store's threads: every task runs once, none is lost at Stop, and the
// calling thread never runs a task while the executor is alive.
#include "services/common/base/executor.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace cstopa::common {
namespace {

TEST(ExecutorTest, RunsEveryTaskOnceOnItsOwnThreads) {
  Executor executor("test", 3);
  std::atomic<int> ran{0}, on_caller{0};
  const std::thread::id caller = std::this_thread::get_id();
  absl::Notification all;
  for (int i = 0; i < 1000; ++i) {
    executor.Run([&] {
      if (std::this_thread::get_id() == caller) ++on_caller;
      if (++ran == 1000) all.Notify();
    });
  }
  all.WaitForNotification();
  EXPECT_EQ(ran, 1000);
  EXPECT_EQ(on_caller, 0);
}

TEST(ExecutorTest, StopRunsWhatIsQueuedThenRunsLateTasksInline) {
  std::atomic<int> ran{0};
  Executor executor("test", 1);
  absl::Notification started, release;
  executor.Run([&] {
    started.Notify();
    release.WaitForNotification();
  });
  started.WaitForNotification();
  for (int i = 0; i < 10; ++i) executor.Run([&] { ++ran; });
  EXPECT_EQ(executor.queued(), 10u);
  std::thread stopper([&] { executor.Stop(); });
  release.Notify();
  stopper.join();
  EXPECT_EQ(ran, 10);
  bool inline_ran = false;
  executor.Run([&] { inline_ran = true; });  // after Stop: on this thread
  EXPECT_TRUE(inline_ran);
}

TEST(ExecutorTest, KnowsItsOwnThreads) {
  Executor executor("test", 2);
  EXPECT_FALSE(executor.InThisExecutor());
  std::atomic<bool> inside{false};
  absl::Notification done;
  executor.Run([&] {
    inside = executor.InThisExecutor();
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_TRUE(inside);
}

}  // namespace
}  // namespace cstopa::common
