// A fixed set of threads that run queued tasks in order of arrival: where
// blocking work goes (SQLite statements, PostgreSQL transactions) so that a
// gRPC thread never waits for it.
//
//   Executor store("sqlite_rd", 4);
//   store.Run([] { ... runs on one of the four threads ... });
//   store.Stop();  // runs what is queued, then joins (the destructor too)
#ifndef CSTOPA_SERVICES_COMMON_BASE_EXECUTOR_H_
#define CSTOPA_SERVICES_COMMON_BASE_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace cstopa::common {

class Executor {
 public:
  // Starts `threads` threads (at least one), named `name` (at most 15
  // characters show in profiles and thread listings).
  Executor(std::string name, int threads);
  // Stop().
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`. After Stop() the task runs on the calling thread.
  void Run(absl::AnyInvocable<void()> task);

  // Runs every queued task, then joins the threads. Idempotent. Must not be
  // called from one of the executor's threads.
  void Stop();

  // Tasks waiting for a thread (a gauge for operators).
  size_t queued() const;
  // Whether the calling thread is one of this executor's.
  bool InThisExecutor() const;
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Loop();

  const std::string name_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
  std::vector<std::thread::id> ids_;  // fixed once the constructor returns
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_BASE_EXECUTOR_H_
