#include "services/common/api/blocking.h"

#include <memory>

#include "services/common/api/language.h"

namespace cstopa::common::blocking_internal {

void UnaryWaiter::Finish(absl::Status status) {
  if (status.ok() && response_ != nullptr && !caller_.accept_language.empty())
    PreferLanguages(ParseAcceptLanguage(caller_.accept_language), response_);
  absl::MutexLock lock(&mu_);
  status_ = std::move(status);
  done_ = true;
}

void UnaryWaiter::FinishSerialized(std::string bytes) {
  absl::Status status;
  if (!response_->ParseFromString(bytes))
    status = absl::InternalError("the handler's serialized answer is corrupt");
  Finish(std::move(status));
}

absl::Status UnaryWaiter::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&done_));
  return status_;
}

void StreamWaiter::Write(const google::protobuf::Message& message,
                         absl::AnyInvocable<void(bool)> written) {
  std::unique_ptr<google::protobuf::Message> ordered =
      InLanguages(caller_.accept_language, message);
  std::string bytes = (ordered ? *ordered : message).SerializeAsString();
  absl::MutexLock lock(&mu_);
  queue_.emplace_back(std::move(bytes), std::move(written));
}

void StreamWaiter::Finish(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (finished_) return;
  finished_ = true;
  status_ = std::move(status);
}

void StreamWaiter::SetOnCancel(absl::AnyInvocable<void()> on_cancel) {
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      on_cancel_ = std::move(on_cancel);
      return;
    }
  }
  on_cancel();
}

absl::Status StreamWaiter::Run(
    absl::FunctionRef<bool(const google::protobuf::Message&)> on_message) {
  std::unique_ptr<google::protobuf::Message> message(prototype_.New());
  while (true) {
    std::string bytes;
    absl::AnyInvocable<void(bool)> written;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](StreamWaiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return !w->queue_.empty() || w->finished_;
          },
          this));
      if (queue_.empty()) return status_;  // finished
      bytes = std::move(queue_.front().first);
      written = std::move(queue_.front().second);
      queue_.pop_front();
    }
    bool keep = false;
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
    }
    if (!cancelled) {
      message->Clear();
      keep = message->ParseFromString(bytes) && on_message(*message);
    }
    if (!keep && !cancelled) {
      absl::AnyInvocable<void()> on_cancel;
      {
        absl::MutexLock lock(&mu_);
        cancelled_ = true;
        on_cancel = std::move(on_cancel_);
        on_cancel_ = nullptr;
      }
      if (on_cancel) on_cancel();
    }
    written(keep);
  }
}

}  // namespace cstopa::common::blocking_internal
