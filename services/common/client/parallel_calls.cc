#include "services/common/client/parallel_calls.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <vector>

#include "services/common/client/call_context.h"
#include "services/common/client/error_details.h"

namespace cstopa::common {
namespace parallel_calls_internal {

// The calls and the continuation; owns itself from Start until the last call
// has finished and the continuation has run.
class Group {
 public:
  Group(absl::Time deadline, std::optional<Caller> caller)
      : deadline_(deadline), caller_(std::move(caller)) {}

  void Add(std::unique_ptr<PendingCall> call) {
    calls_.push_back(std::move(call));
  }

  // `self` is this group.
  static void Start(std::unique_ptr<Group> self,
                    absl::AnyInvocable<void() &&> done) {
    Group* group = self.release();
    group->done_ = std::move(done);
    // One more than the calls, released below, so that calls finishing
    // while others are being started cannot end the group early.
    group->pending_.store(group->calls_.size() + 1, std::memory_order_relaxed);
    for (const std::unique_ptr<PendingCall>& call : group->calls_) {
      grpc::ClientContext* context = call->context();
      if (group->caller_.has_value()) ContinueFrom(*group->caller_, context);
      if (group->deadline_ != absl::InfiniteFuture()) {
        context->set_deadline(absl::ToChronoTime(group->deadline_));
      }
      PendingCall* pending = call.get();
      pending->Start([group, pending](grpc::Status status) {
        pending->SetStatus(FromGrpcStatus(status));
        group->Release();
      });
    }
    group->Release();
  }

 private:
  // The last release runs the continuation and frees the group. acq_rel:
  // whoever runs the continuation sees every call's result.
  void Release() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::move(done_)();
    delete this;
  }

  const absl::Time deadline_;
  const std::optional<Caller> caller_;
  std::vector<std::unique_ptr<PendingCall>> calls_;
  std::atomic<size_t> pending_{0};
  absl::AnyInvocable<void() &&> done_;
};

}  // namespace parallel_calls_internal

using parallel_calls_internal::Group;

ParallelCalls::ParallelCalls(absl::Time deadline)
    : group_(std::make_unique<Group>(deadline, std::nullopt)) {}

ParallelCalls::ParallelCalls(const Caller& caller, absl::Time deadline)
    : group_(std::make_unique<Group>(std::min(caller.deadline, deadline),
                                     caller)) {}

ParallelCalls::~ParallelCalls() = default;
ParallelCalls::ParallelCalls(ParallelCalls&&) noexcept = default;

void ParallelCalls::AddCall(
    std::unique_ptr<parallel_calls_internal::PendingCall> call) {
  group_->Add(std::move(call));
}

void ParallelCalls::Start(absl::AnyInvocable<void() &&> done) && {
  Group::Start(std::move(group_), std::move(done));
}

}  // namespace cstopa::common
