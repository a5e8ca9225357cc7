// The backend calls of one view: each call fills one section; all start at
// once (client/parallel_calls.h: callback API, no thread waits), each with
// the view's backend deadline and the caller's request id and trace; when
// the last has ended, the continuation gets every section's status. A
// backend whose circuit breaker is open is not called: its section ends
// UNAVAILABLE at once. Every call's outcome is recorded in its backend's
// breaker, but a DEADLINE_EXCEEDED only when the calls had a fair budget
// (kFairBudget): a caller in a hurry does not make a backend look slow.
//
//   FanOut fan(call.caller(), backend_deadline);
//   const auto* summary = fan.Add<v1::StateSummary>(
//       "membership", &backends.membership(), std::move(request),
//       [stub](auto* ctx, auto* req, auto* resp, auto done) {
//         stub->async()->SummarizeState(ctx, req, resp, std::move(done));
//       });
//   std::move(fan).Start([summary](std::vector<gw::SectionStatus> sections) {
//     if (sections[0].complete()) ... summary->response() ...
//   });
//
// A result pointer is null when the breaker refused the call; otherwise it
// lives until the continuation returns.
#ifndef CSTOPA_GATEWAY_FAN_OUT_H_
#define CSTOPA_GATEWAY_FAN_OUT_H_

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cstopa/gateway/v1/gateway.pb.h"
#include "gateway/backends.h"
#include "services/common/api/call.h"
#include "services/common/client/parallel_calls.h"

namespace cstopa::gateway {

class FanOut {
 public:
  // Backend calls with less time than this that run out of it say nothing
  // about the backend.
  static constexpr absl::Duration kFairBudget = absl::Milliseconds(100);

  FanOut(const common::Caller& caller, absl::Time backend_deadline)
      : calls_(caller, backend_deadline),
        fair_budget_(backend_deadline - absl::Now() >= kFairBudget),
        ids_{caller.request_id, caller.traceparent, caller.accept_language} {}

  template <typename Response, typename Request, typename StartFn>
  common::CallResult<Response>* Add(absl::string_view section, Backend* backend,
                                    Request request, StartFn start) {
    Part part{std::string(section), backend, nullptr, absl::InfinitePast()};
    common::CallResult<Response>* result = nullptr;
    if (backend->breaker().Admit(absl::Now())) {
      const std::string* method =
          backend->batcher() == nullptr
              ? nullptr
              : backend->BatchedMethod(Request::descriptor());
      if (method != nullptr) {
        result = calls_.Add<Response>(
            std::move(request), Batched<Request, Response>(backend, method));
      } else {
        result = calls_.Add<Response>(std::move(request), std::move(start));
      }
      part.status = &result->status();
    } else {
      part.retry_time = backend->breaker().RetryTime();
    }
    parts_.push_back(std::move(part));
    return result;
  }

  // Starts the calls; `done` gets one SectionStatus per Add, in order.
  void Start(
      absl::AnyInvocable<void(std::vector<v1::SectionStatus> sections) &&>
          done) &&;

 private:
  struct Part {
    std::string section;
    Backend* backend;
    const absl::Status* status;  // null: refused by the breaker
    absl::Time retry_time;       // when refused: the breaker's retry time
  };
  // A start function (ParallelCalls::Add) that sends the call through the
  // backend's batcher, with the caller's ids and the context's deadline.
  template <typename Request, typename Response>
  auto Batched(Backend* backend, const std::string* method) const {
    // Started once: the ids are moved into the call.
    return [batcher = backend->batcher(), method, ids = ids_](
               grpc::ClientContext* ctx, const Request* request,
               Response* response,
               std::function<void(grpc::Status)> done) mutable {
      common::CallBatcher::Call call;
      call.method = *method;
      call.request = request->SerializeAsString();
      call.request_id = std::move(ids.request_id);
      call.traceparent = std::move(ids.traceparent);
      call.accept_language = std::move(ids.accept_language);
      if (ctx->deadline() != std::chrono::system_clock::time_point::max())
        call.deadline = absl::FromChrono(ctx->deadline());
      call.done = [response, done = std::move(done)](grpc::Status status,
                                                     std::string bytes) {
        if (status.ok() && !response->ParseFromString(bytes)) {
          status = grpc::Status(grpc::StatusCode::INTERNAL,
                                "the backend's answer does not decode");
        }
        done(std::move(status));
      };
      batcher->Start(std::move(call));
    };
  }

  common::ParallelCalls calls_;
  const bool fair_budget_;
  // What batched calls carry on of the incoming call.
  struct Ids {
    std::string request_id;
    std::string traceparent;
    std::string accept_language;
  };
  Ids ids_;
  std::vector<Part> parts_;
};

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_FAN_OUT_H_
