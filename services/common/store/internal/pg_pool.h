// A bounded, lazily filled pool of connections to PostgreSQL.
//
// At most `size` connections are open at once; they are opened on first
// need, not at start. A caller that may wait (a transaction on a store
// thread) uses Acquire, which waits up to `timeout` while all are in use and
// then fails with UNAVAILABLE ("connection pool exhausted"). The I/O loop,
// which must never wait, uses TryClaim and, when TryClaim reserved a slot
// for a connection not yet open, Open. Every connection taken goes back with
// Release, which closes one left inside a transaction and then calls the
// release hook (the I/O loop's cue to send a waiting query).
//
// Thread-safe. Connections are made by the factory given (tests give
// fakes); the pool owns them until it is destroyed.
//
//   ConnectionPool pool(8, absl::Seconds(5), "u@db:5432/x", [&] {
//     return std::make_unique<LibpqConnection>(&opts);
//   });
//   absl::StatusOr<Connection*> c = pool.Acquire();
//   ...
//   pool.Release(*c);
#ifndef CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_POOL_H_
#define CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/store/internal/pg_connection.h"

namespace cstopa::common::pg {

class ConnectionPool {
 public:
  using Factory = absl::AnyInvocable<std::unique_ptr<Connection>()>;

  // `display` names the server in messages (user@host:port/db).
  ConnectionPool(int size, absl::Duration timeout, std::string display,
                 Factory make);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection, connected: an idle one (reopened if the server dropped
  // it), else a new one while fewer than `size` are open; waits up to
  // `timeout` while all are in use, then fails with Exhausted(). UNAVAILABLE
  // too when a connection cannot be (re)opened.
  absl::StatusOr<Connection*> Acquire();

  // What TryClaim found: an idle connection (as it is: the caller checks it),
  // a slot reserved for a new connection (the caller must call Open), or
  // nothing (all `size` in use).
  struct Claim {
    Connection* idle = nullptr;
    bool open = false;
    bool found() const { return idle != nullptr || open; }
  };
  // Without waiting.
  Claim TryClaim();
  // Opens a new connection in the slot a TryClaim reserved; on failure the
  // slot is free again.
  absl::StatusOr<Connection*> Open();

  // Gives back a connection taken by Acquire, TryClaim or Open (closing it
  // first unless it is Reusable), then calls the release hook.
  void Release(Connection* c);

  // Called after each Release, on the releasing thread, with no lock of the
  // pool held. Set once, before the pool is shared.
  void set_release_hook(absl::AnyInvocable<void()> hook) {
    release_hook_ = std::move(hook);
  }

  // UNAVAILABLE: every connection stayed busy for `timeout`.
  absl::Status Exhausted() const;

  int size() const { return size_; }
  absl::Duration timeout() const { return timeout_; }

  // Connections open, and idle among them, for operators.
  struct Counts {
    int open = 0;
    int idle = 0;
  };
  Counts counts() const;

 private:
  bool CanClaim() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Claim ClaimLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int size_;
  const absl::Duration timeout_;
  const std::string display_;
  Factory make_;
  absl::AnyInvocable<void()> release_hook_;

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> all_ ABSL_GUARDED_BY(mu_);
  std::vector<Connection*> idle_ ABSL_GUARDED_BY(mu_);
  // Slots reserved for connections being opened (counted against size_).
  int opening_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cstopa::common::pg

#endif  // CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_POOL_H_
