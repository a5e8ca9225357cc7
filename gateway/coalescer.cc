#include "gateway/coalescer.h"

#include <utility>

namespace cstopa::gateway {

Coalescer::Role Coalescer::Join(const std::string& key, absl::Time now,
                                absl::Time answer_by, Waiter& waiter) {
  if (!enabled_) return Role::kAlone;
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = flights_.try_emplace(key);
  if (inserted) {
    it->second.answer_by = answer_by;
    return Role::kLeader;
  }
  const absl::Time flight_ends = it->second.answer_by;
  if (flight_ends > answer_by || flight_ends - now < (answer_by - now) / 2)
    return Role::kAlone;
  it->second.waiters.push_back(std::move(waiter));
  ++joined_;
  return Role::kJoined;
}

void Coalescer::Complete(const std::string& key, const Answer& answer) {
  std::vector<Waiter> waiters;
  {
    absl::MutexLock lock(&mu_);
    auto it = flights_.find(key);
    if (it == flights_.end()) return;
    waiters = std::move(it->second.waiters);
    flights_.erase(it);
  }
  for (Waiter& w : waiters) std::move(w)(answer);
}

int64_t Coalescer::joined() const {
  absl::MutexLock lock(&mu_);
  return joined_;
}

}  // namespace cstopa::gateway
