#include "services/common/base/executor.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace cstopa::common {

Executor::Executor(std::string name, int threads) : name_(std::move(name)) {
  const int n = std::max(1, threads);
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] { Loop(); });
    pthread_setname_np(threads_.back().native_handle(),
                       name_.substr(0, 15).c_str());
    ids_.push_back(threads_.back().get_id());
  }
}

Executor::~Executor() { Stop(); }

void Executor::Run(absl::AnyInvocable<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_) {
      queue_.push_back(std::move(task));
      return;
    }
  }
  task();
}

void Executor::Loop() {
  while (true) {
    absl::AnyInvocable<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Executor* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
            return !e->queue_.empty() || e->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, and nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void Executor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  // Tasks queued while the threads wound down run now, on this thread.
  while (!queue_.empty()) {
    auto task = std::move(queue_.front());
    queue_.pop_front();
    mu_.Unlock();
    task();
    mu_.Lock();
  }
}

size_t Executor::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool Executor::InThisExecutor() const {
  const std::thread::id self = std::this_thread::get_id();
  return std::find(ids_.begin(), ids_.end(), self) != ids_.end();
}

}  // namespace cstopa::common
