#include "services/common/store/internal/pg_pool.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace cstopa::common::pg {

ConnectionPool::ConnectionPool(int size, absl::Duration timeout,
                               std::string display, Factory make)
    : size_(size),
      timeout_(timeout),
      display_(std::move(display)),
      make_(std::move(make)) {}

bool ConnectionPool::CanClaim() const {
  return !idle_.empty() || static_cast<int>(all_.size()) + opening_ < size_;
}

ConnectionPool::Claim ConnectionPool::ClaimLocked() {
  Claim claim;
  if (!idle_.empty()) {
    claim.idle = idle_.back();
    idle_.pop_back();
  } else if (static_cast<int>(all_.size()) + opening_ < size_) {
    ++opening_;
    claim.open = true;
  }
  return claim;
}

absl::StatusOr<Connection*> ConnectionPool::Acquire() {
  Claim claim;
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(this, &ConnectionPool::CanClaim),
                              timeout_)) {
      return Exhausted();
    }
    claim = ClaimLocked();
  }
  if (claim.open) return Open();
  if (absl::Status s = claim.idle->EnsureConnected(); !s.ok()) {
    Release(claim.idle);
    return s;
  }
  return claim.idle;
}

ConnectionPool::Claim ConnectionPool::TryClaim() {
  absl::MutexLock lock(&mu_);
  return ClaimLocked();
}

absl::StatusOr<Connection*> ConnectionPool::Open() {
  // Connecting takes a round trip or more: not under the lock.
  std::unique_ptr<Connection> fresh = make_();
  absl::Status s = fresh->Connect();
  absl::MutexLock lock(&mu_);
  --opening_;
  if (!s.ok()) return s;
  Connection* c = fresh.get();
  all_.push_back(std::move(fresh));
  return c;
}

void ConnectionPool::Release(Connection* c) {
  // Never hand out a connection in the middle of a transaction.
  if (!c->Reusable()) c->Close();
  {
    absl::MutexLock lock(&mu_);
    idle_.push_back(c);
  }
  if (release_hook_) release_hook_();
}

absl::Status ConnectionPool::Exhausted() const {
  return absl::UnavailableError(absl::StrCat(
      "postgresql: connection pool exhausted: all ", size_, " connections to ",
      display_, " stayed busy for ", absl::FormatDuration(timeout_),
      " (raise pool_size in the store URL?)"));
}

ConnectionPool::Counts ConnectionPool::counts() const {
  absl::MutexLock lock(&mu_);
  return {static_cast<int>(all_.size()), static_cast<int>(idle_.size())};
}

}  // namespace cstopa::common::pg
