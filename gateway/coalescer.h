// Identical view requests in flight at the same time share one answer: the
// first (the leader) makes the backend calls, the others wait for its
// answer instead of asking the backends again. Under load, when many
// clients ask for the same profile at once, the backends see one request
// per distinct view per round trip.
//
// A request joins a flight only if the flight will answer before the
// request's own backends would have, and has at least half the request's
// time left (so a flight that a hurried caller started, or one already
// waiting long on a hung backend, does not cut a patient request's answer
// short); otherwise it makes its own calls (alone, without starting a
// flight others could join).
//
//   switch (coalescer.Join(key, absl::Now(), backend_deadline,
//                          [call](const Coalescer::Answer& a) mutable {...})) {
//     case Coalescer::Role::kJoined: return;  // the waiter runs later
//     case Coalescer::Role::kLeader: ... Complete(key, answer) when done
//     case Coalescer::Role::kAlone:  ... answer, no Complete
//   }
#ifndef CSTOPA_GATEWAY_COALESCER_H_
#define CSTOPA_GATEWAY_COALESCER_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cstopa::gateway {

class Coalescer {
 public:
  // A view's serialized response, or the error it ended with.
  using Answer = absl::StatusOr<std::string>;
  using Waiter = absl::AnyInvocable<void(const Answer&) &&>;

  enum class Role { kJoined, kLeader, kAlone };

  // With `enabled` false every request is kAlone.
  explicit Coalescer(bool enabled = true) : enabled_(enabled) {}

  // `answer_by`: when the request's own backend calls would end (the
  // flight's end when it leads). kJoined: `waiter` was taken and runs with
  // the leader's answer. Otherwise `waiter` is left alone: the caller
  // answers itself and, as kLeader, must call Complete(key, ...) exactly
  // once.
  Role Join(const std::string& key, absl::Time now, absl::Time answer_by,
            Waiter& waiter);

  // Ends the flight of `key`: runs every joined waiter with `answer` (on
  // this thread) and forgets the flight.
  void Complete(const std::string& key, const Answer& answer);

  // Requests that joined a flight since the start.
  int64_t joined() const;

 private:
  struct Flight {
    absl::Time answer_by;
    std::vector<Waiter> waiters;
  };
  const bool enabled_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Flight> flights_ ABSL_GUARDED_BY(mu_);
  int64_t joined_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_COALESCER_H_
