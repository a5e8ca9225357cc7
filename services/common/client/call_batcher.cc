#include "services/common/client/call_batcher.h"

#include <algorithm>
#include <utility>

#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"

namespace cstopa::common {

// One batch in flight: the call's reactor. OnDone runs once gRPC has let
// go of the call, so nothing of gRPC's outlives Ended on that thread.
struct CallBatcher::Batch final : public grpc::ClientUnaryReactor {
  explicit Batch(CallBatcher* b) : batcher(b) {}
  void OnDone(const grpc::Status& status) override {
    batcher->Ended(this, status);
  }

  CallBatcher* const batcher;
  // The call's reference, and the destructor's while it cancels (mu_).
  int refs = 1;
  grpc::ClientContext context;
  batch::v1::CallBatchRequest request;
  batch::v1::CallBatchResponse response;
  std::vector<absl::AnyInvocable<void(grpc::Status, std::string)>> done;
  std::vector<absl::Time> deadlines;  // each call's
  absl::Time deadline;
};

CallBatcher::CallBatcher(const std::shared_ptr<grpc::Channel>& channel,
                         Options options)
    : options_{std::max(1, options.max_in_flight),
               std::clamp(options.max_calls, 1, 256)},
      stub_(batch::v1::BatchService::NewStub(channel)) {}

CallBatcher::~CallBatcher() {
  // Batches in flight are cancelled (each is held while it is: its OnDone
  // may run inside TryCancel), calls still waiting end CANCELLED, and the
  // destructor returns once every batch has ended.
  std::vector<Batch*> live;
  std::vector<Call> waiting;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (Batch* b : live_) {
      ++b->refs;
      live.push_back(b);
    }
    waiting.swap(queue_);
  }
  for (Batch* b : live) b->context.TryCancel();
  for (Batch* b : live) Release(b);
  for (Call& c : waiting)
    c.done(grpc::Status(grpc::StatusCode::CANCELLED, "the batcher is stopping"),
           "");
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* outstanding) { return *outstanding == 0; }, &outstanding_));
}

void CallBatcher::Release(Batch* batch) {
  bool last = false;
  {
    absl::MutexLock lock(&mu_);
    last = --batch->refs == 0;
    if (last) live_.erase(batch);
  }
  if (!last) return;
  // The batch's context (and its hold on the call) goes before the
  // destructor may go on.
  delete batch;
  absl::MutexLock lock(&mu_);
  --outstanding_;
}

void CallBatcher::Start(Call call) {
  std::vector<Call> calls;
  calls.push_back(std::move(call));
  Start(std::move(calls));
}

void CallBatcher::Start(std::vector<Call> calls) {
  if (calls.empty()) return;
  Outgoing batch;
  {
    absl::MutexLock lock(&mu_);
    stats_.calls += static_cast<int64_t>(calls.size());
    const bool room =
        static_cast<int>(in_flight_.size()) < options_.max_in_flight;
    // A call due before the earliest in-flight batch is sure to end (it
    // may hang until its deadline) does not wait behind it.
    bool urgent = false;
    for (Call& call : calls) {
      urgent = urgent ||
               (!in_flight_.empty() && call.deadline < *in_flight_.begin());
      queue_.push_back(std::move(call));
    }
    if (!room && !urgent) return;
    batch = TakeLocked();
  }
  Send(std::move(batch));
}

CallBatcher::Outgoing CallBatcher::TakeLocked() {
  absl::Time first = absl::InfiniteFuture();
  for (const Call& c : queue_) first = std::min(first, c.deadline);
  Outgoing taken;
  std::vector<Call> left;
  for (Call& c : queue_) {
    if (static_cast<int>(taken.calls.size()) < options_.max_calls &&
        c.deadline <= first + kDeadlineSlack) {
      taken.deadline = std::min(taken.deadline, c.deadline);
      taken.calls.push_back(std::move(c));
    } else {
      left.push_back(std::move(c));
    }
  }
  queue_ = std::move(left);
  in_flight_.insert(taken.deadline);
  ++stats_.batches;
  return taken;
}

void CallBatcher::Send(Outgoing outgoing) {
  std::vector<Call>& calls = outgoing.calls;
  auto* batch = new Batch(this);
  const absl::Time now = absl::Now();
  batch->deadline = outgoing.deadline;
  batch->done.reserve(calls.size());
  batch->request.mutable_calls()->Reserve(static_cast<int>(calls.size()));
  for (Call& c : calls) {
    batch::v1::BatchedCall* out = batch->request.add_calls();
    out->set_method(std::move(c.method));
    out->set_request(std::move(c.request));
    out->set_request_id(std::move(c.request_id));
    out->set_traceparent(std::move(c.traceparent));
    out->set_accept_language(std::move(c.accept_language));
    if (c.deadline != absl::InfiniteFuture()) {
      *out->mutable_timeout() =
          google::protobuf::util::TimeUtil::NanosecondsToDuration(
              absl::ToInt64Nanoseconds(
                  std::max(c.deadline - now, absl::ZeroDuration())));
    }
    batch->deadlines.push_back(c.deadline);
    batch->done.push_back(std::move(c.done));
  }
  if (batch->deadline != absl::InfiniteFuture())
    batch->context.set_deadline(absl::ToChronoTime(batch->deadline));
  bool stopping = false;
  {
    absl::MutexLock lock(&mu_);
    live_.insert(batch);
    ++outstanding_;
    stopping = stopping_;
  }
  // Sent while the destructor runs (a resend): cancelled as it starts.
  if (stopping) batch->context.TryCancel();
  stub_->async()->CallBatch(&batch->context, &batch->request, &batch->response,
                            batch);
  batch->StartCall();
}

void CallBatcher::Ended(Batch* batch, const grpc::Status& status) {
  Outgoing next;
  {
    absl::MutexLock lock(&mu_);
    // The deadline recorded when this batch was taken.
    auto it = in_flight_.find(batch->deadline);
    if (it != in_flight_.end()) in_flight_.erase(it);
    if (!queue_.empty() && !stopping_) next = TakeLocked();
  }
  if (!next.calls.empty()) Send(std::move(next));
  const int results = batch->response.results_size();
  // An answer too large for this side's receive limit fails the whole
  // batch RESOURCE_EXHAUSTED; each of its calls goes again alone.
  const bool too_large =
      status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
      batch->done.size() > 1;
  for (size_t i = 0; i < batch->done.size(); ++i) {
    auto& done = batch->done[i];
    if (too_large) {
      Resend(batch, i);
    } else if (!status.ok()) {
      done(status, "");
    } else if (static_cast<int>(i) >= results) {
      done(grpc::Status(grpc::StatusCode::INTERNAL,
                        "the batch's answer has fewer results than calls"),
           "");
    } else {
      batch::v1::BatchedResult* r =
          batch->response.mutable_results(static_cast<int>(i));
      if (r->status().code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
          batch->done.size() > 1) {
        // The batch's answer was full (or the service is short of
        // something): this call goes again, alone, now.
        Resend(batch, i);
      } else if (r->status().code() == 0) {
        done(grpc::Status::OK, std::move(*r->mutable_response()));
      } else {
        done(grpc::Status(static_cast<grpc::StatusCode>(r->status().code()),
                          r->status().message(),
                          r->status().SerializeAsString()),
             "");
      }
    }
  }
  Release(batch);
}

void CallBatcher::Resend(Batch* batch, size_t i) {
  batch::v1::BatchedCall* c = batch->request.mutable_calls(static_cast<int>(i));
  Call again;
  again.method = std::move(*c->mutable_method());
  again.request = std::move(*c->mutable_request());
  again.request_id = std::move(*c->mutable_request_id());
  again.traceparent = std::move(*c->mutable_traceparent());
  again.accept_language = std::move(*c->mutable_accept_language());
  again.deadline = batch->deadlines[i];
  again.done = std::move(batch->done[i]);
  Outgoing alone;
  alone.deadline = again.deadline;
  alone.calls.push_back(std::move(again));
  {
    absl::MutexLock lock(&mu_);
    in_flight_.insert(alone.deadline);
    ++stats_.batches;
    ++stats_.resent;
  }
  Send(std::move(alone));
}

CallBatcher::Stats CallBatcher::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace cstopa::common
