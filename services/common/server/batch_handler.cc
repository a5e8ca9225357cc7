#include "services/common/server/batch_handler.h"

#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/status.pb.h"
#include "services/common/api/trace_context.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

// One batch in flight: the call, and how many of its calls are still
// running. Deletes itself when the last has answered.
class RunningBatch {
 public:
  RunningBatch(batch::v1::BatchServiceHandler::CallBatchCall call, int calls,
               int64_t max_bytes)
      : call_(std::move(call)),
        pending_(calls),
        room_(max_bytes > 0 ? max_bytes : std::numeric_limits<int64_t>::max()) {
    call_.response()->mutable_results()->Reserve(calls);
    for (int i = 0; i < calls; ++i) call_.response()->add_results();
  }

  batch::v1::BatchedResult* result(int i) {
    return call_.response()->mutable_results(i);
  }

  // Takes room for `bytes` of answer; false when the batch is full (the
  // first answer always fits).
  bool Take(int64_t bytes) {
    if (first_.exchange(false, std::memory_order_acq_rel)) {
      room_.fetch_sub(bytes, std::memory_order_acq_rel);
      return true;
    }
    if (room_.fetch_sub(bytes, std::memory_order_acq_rel) >= bytes) return true;
    room_.fetch_add(bytes, std::memory_order_acq_rel);
    return false;
  }

  // One call has answered (its result is written).
  void Done() {
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      call_.Finish(absl::OkStatus());
      delete this;
    }
  }

 private:
  batch::v1::BatchServiceHandler::CallBatchCall call_;
  std::atomic<int> pending_;
  std::atomic<int64_t> room_;
  std::atomic<bool> first_{true};
};

absl::Time Deadline(const batch::v1::BatchedCall& c, absl::Time batch,
                    absl::Time now) {
  if (!c.has_timeout()) return batch;
  const absl::Duration left = absl::Nanoseconds(
      google::protobuf::util::TimeUtil::DurationToNanoseconds(c.timeout()));
  return std::min(batch, now + std::max(left, absl::ZeroDuration()));
}

}  // namespace

void BatchHandler::AddService(LocalService* service,
                              const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    // "/pkg.Service/Method" names the method "pkg.Service.Method".
    absl::string_view rest = path;
    if (!absl::ConsumePrefix(&rest, "/")) continue;
    const size_t slash = rest.find('/');
    if (slash == absl::string_view::npos) continue;
    const google::protobuf::MethodDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
            absl::StrCat(rest.substr(0, slash), ".", rest.substr(slash + 1)));
    if (descriptor == nullptr || !IsUnaryReadMethod(*descriptor)) continue;
    paths_.push_back(path);
    methods_[path] = Method{service, &paths_.back(),
                            ErrorDomainOf(descriptor->service()->full_name())};
  }
}

void BatchHandler::CallBatch(CallBatchCall call) {
  const auto& calls = call.request().calls();
  if (calls.empty())
    return call.Finish(InvalidArgument("calls", "must name at least one call"));
  if (calls.size() > kMaxCalls) {
    return call.Finish(
        InvalidArgument("calls", absl::StrCat("must be at most ", kMaxCalls,
                                              " calls, not ", calls.size())));
  }
  std::vector<const Method*> methods;
  methods.reserve(calls.size());
  for (int i = 0; i < calls.size(); ++i) {
    auto it = methods_.find(calls[i].method());
    if (it == methods_.end()) {
      return call.Finish(InvalidArgument(
          absl::StrCat("calls[", i, "].method"),
          absl::StrCat("\"", calls[i].method(),
                       "\" is not a unary read method of this server "
                       "(\"/package.Service/Method\")")));
    }
    methods.push_back(&it->second);
  }

  const Caller batch_caller = call.caller();
  const absl::Time now = absl::Now();
  const batch::v1::CallBatchRequest* request = &call.request();
  const int n = request->calls_size();
  auto* running = new RunningBatch(std::move(call), n, max_answer_bytes_);
  // The request and the results live until the batch is finished, which is
  // after the last call's Done: nothing of them is touched after that.
  for (int i = 0; i < n; ++i) {
    const batch::v1::BatchedCall& c = request->calls(i);
    const Method& method = *methods[i];
    Caller caller = batch_caller;
    caller.deadline = Deadline(c, batch_caller.deadline, now);
    if (!c.accept_language().empty())
      caller.accept_language = c.accept_language();
    CallIds ids;
    if (observer_ != nullptr) {
      std::multimap<grpc::string_ref, grpc::string_ref> metadata;
      const std::string& id =
          c.request_id().empty() ? batch_caller.request_id : c.request_id();
      const std::string& trace =
          c.traceparent().empty() ? batch_caller.traceparent : c.traceparent();
      if (!id.empty()) metadata.emplace(kRequestIdKey, id);
      if (!trace.empty()) metadata.emplace(kTraceparentKey, trace);
      ids = observer_->Begin(metadata);
      caller.request_id = ids.request_id;
      caller.traceparent = ids.traceparent;
    } else {
      if (!c.request_id().empty()) caller.request_id = c.request_id();
      if (!c.traceparent().empty()) caller.traceparent = c.traceparent();
    }
    batch::v1::BatchedResult* result = running->result(i);
    const auto start = std::chrono::steady_clock::now();
    const absl::Time deadline = caller.deadline;
    LocalService::Done done = [this, running, result, &method, ids, start,
                               deadline](absl::Status status,
                                         std::string response) mutable {
      // A result's framing beside its bytes: tags, lengths, a status.
      constexpr int64_t kFraming = 32;
      if (status.ok() &&
          !running->Take(static_cast<int64_t>(response.size()) + kFraming)) {
        status = absl::ResourceExhaustedError(
            "the batch's answer is full: send this call again alone");
      }
      if (status.ok()) {
        *result->mutable_response() = std::move(response);
      } else {
        // As the call's own gRPC face would send it (ToGrpcStatus): with
        // the service's ErrorInfo domain.
        EnsureErrorInfo(status, method.domain);
        *result->mutable_status() = ToRpcStatus(status);
      }
      if (observer_ != nullptr) {
        const CallOutcome outcome =
            OutcomeOfStatus(static_cast<int>(status.code()), status.message(),
                            deadline == absl::InfiniteFuture()
                                ? std::chrono::system_clock::time_point::max()
                                : absl::ToChronoTime(deadline));
        observer_->End(method.path->c_str(), ids, "batch", outcome.code,
                       outcome.message,
                       std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count());
        observer_->Closed();
      }
      running->Done();
    };
    if (now >= caller.deadline) {
      done(absl::DeadlineExceededError(
               "the call's time ran out before it started"),
           "");
      continue;
    }
    if (!method.service->CallUnary(*method.path, caller, c.request(), done))
      done(absl::UnimplementedError("not a unary method"), "");
  }
}

}  // namespace cstopa::common
