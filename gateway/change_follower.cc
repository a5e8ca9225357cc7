#include "gateway/change_follower.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace cstopa::gateway {

ChangeFollower::ChangeFollower(std::string service, Stream stream,
                               Listener* listener, Options options)
    : service_(std::move(service)),
      stream_(std::move(stream)),
      listener_(listener),
      options_(options) {}

ChangeFollower::~ChangeFollower() {
  {
    absl::MutexLock lock(&mu_);
    stop_.Notify();
    if (current_ != nullptr) current_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void ChangeFollower::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ChangeFollower::Run() {
  absl::Duration backoff = options_.min_backoff;
  while (!stop_.HasBeenNotified()) {
    grpc::ClientContext ctx;
    {
      absl::MutexLock lock(&mu_);
      if (stop_.HasBeenNotified()) return;
      current_ = &ctx;
    }
    bool followed = false;
    absl::Status end = stream_(&ctx, [&](const StreamMessage& m) {
      if (!followed) {
        // The first message is the checkpoint at the head of the log.
        followed = true;
        backoff = options_.min_backoff;
        listener_->Following(service_, m.sequence);
        if (m.checkpoint) return;
      }
      if (!m.checkpoint) listener_->Changed(service_, m);
    });
    {
      absl::MutexLock lock(&mu_);
      current_ = nullptr;
    }
    if (stop_.HasBeenNotified()) return;
    if (end.ok())
      end = absl::UnavailableError("the service ended its change stream");
    listener_->Lost(
        service_,
        absl::Status(end.code(), absl::StrCat(service_, " change stream: ",
                                              end.message())));
    if (stop_.WaitForNotificationWithTimeout(backoff)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace cstopa::gateway
