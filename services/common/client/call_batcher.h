// Read calls to one backend sent as batches (cstopa.batch.v1.BatchService,
// proto/cstopa/batch/v1/batch.proto): what keeps a fan-out's cost down when
// many views are built at once.
//
// A call starts at once, as a batch of one, while fewer than
// `max_in_flight` batches to the backend are in flight; otherwise it waits,
// and when a batch ends, the calls waiting leave together as the next one
// (up to `max_calls`). So a lone call waits for nothing, and under load the
// backend and this process pay gRPC's cost per call once per batch.
//
// Each call keeps its own request id, trace context, language and deadline
// (the batch's deadline is the earliest of its calls', and a batch only
// takes calls due within kDeadlineSlack of its earliest). A call is never
// held past its deadline behind a batch that may hang: one due before the
// in-flight batches' earliest deadline starts at once whatever their
// number; any other waits at most until that deadline.
//
//   CallBatcher batcher(channel, {.max_in_flight = 2});
//   CallBatcher::Call c;
//   c.method = "/cstopa.events.v1.EventsService/ListEvents";
//   c.request = request.SerializeAsString();
//   c.deadline = absl::Now() + absl::Seconds(1);
//   c.done = [](grpc::Status status, std::string response) { ... };
//   batcher.Start(std::move(c));
//
// A call of a batch of several answered RESOURCE_EXHAUSTED (the server
// fills a batch's answer only up to its largest message, and answers the
// calls past it so) is sent again at once as a batch of its own; so is
// every call of a batch of several that failed as a whole RESOURCE_EXHAUSTED
// (its answer larger than this channel's receive limit).
//
// `done` runs once, on a gRPC thread (or inside Start when the batch cannot
// be sent), with the call's own status (its error details as the
// `grpc-status-details-bin` of a call of its own) and, when OK, the
// serialized response. A batch that fails as a whole (the backend is down,
// its deadline passed) ends each of its calls with the batch's status.
// Thread-safe. The destructor cancels the batches in flight, ends the
// calls still waiting CANCELLED, and waits until every batch has ended and
// its `done`s have returned (so it must not run inside a `done`): no gRPC
// callback touches a batcher, or holds the call of one of its batches,
// after it is gone.
#ifndef CSTOPA_SERVICES_COMMON_CLIENT_CALL_BATCHER_H_
#define CSTOPA_SERVICES_COMMON_CLIENT_CALL_BATCHER_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cstopa/batch/v1/batch.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"

namespace cstopa::common {

class CallBatcher {
 public:
  struct Options {
    // Batches in flight at once before calls wait (at least 1).
    int max_in_flight = 2;
    // The most calls in one batch (at most the server's 256).
    int max_calls = 64;
  };
  // How much later than a batch's first call another call of it may be due.
  static constexpr absl::Duration kDeadlineSlack = absl::Milliseconds(20);

  struct Call {
    std::string method;   // "/package.Service/Method"
    std::string request;  // serialized
    std::string request_id;
    std::string traceparent;
    std::string accept_language;
    absl::Time deadline = absl::InfiniteFuture();
    absl::AnyInvocable<void(grpc::Status, std::string)> done;
  };

  struct Stats {
    int64_t calls = 0;    // calls started
    int64_t batches = 0;  // batches sent
    int64_t resent = 0;   // calls sent again alone (see Start)
  };

  CallBatcher(const std::shared_ptr<grpc::Channel>& channel, Options options);
  CallBatcher(const CallBatcher&) = delete;
  CallBatcher& operator=(const CallBatcher&) = delete;
  ~CallBatcher();

  // Sends `call` now or with the next batch (see the file comment).
  void Start(Call call);
  // Sends `calls` as Start would each, but in one batch when one leaves
  // now: a fan-out's reads of one backend go together even when nothing
  // else is in flight.
  void Start(std::vector<Call> calls);

  Stats stats() const;

 private:
  struct Batch;
  // The calls of a batch about to be sent, and its deadline (the earliest
  // of theirs, recorded in in_flight_).
  struct Outgoing {
    std::vector<Call> calls;
    absl::Time deadline = absl::InfiniteFuture();
  };
  // Takes the next batch's calls from the queue and records it in flight.
  Outgoing TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Send(Outgoing outgoing);
  void Ended(Batch* batch, const grpc::Status& status);
  // Drops one reference to `batch`; the last deletes it.
  void Release(Batch* batch);
  // Sends call `i` of `batch` again as a batch of its own.
  void Resend(Batch* batch, size_t i);

  const Options options_;
  std::unique_ptr<batch::v1::BatchService::Stub> stub_;
  mutable absl::Mutex mu_;
  std::vector<Call> queue_ ABSL_GUARDED_BY(mu_);
  // The deadlines of the batches in flight.
  std::multiset<absl::Time> in_flight_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // The batches sent and not yet released (a batch leaves `live_` before it
  // is deleted, and counts in `outstanding_` until it has been). A batch
  // sent while the destructor runs comes from the Ended of one still
  // counted, so the destructor never misses one.
  absl::flat_hash_set<Batch*> live_ ABSL_GUARDED_BY(mu_);
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_CLIENT_CALL_BATCHER_H_
