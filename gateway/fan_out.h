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
// AddBytes leaves an answer serialized, as the backend sent it (through a
// batch it never is decoded): the views splice answers into their own
// bytes (view_bytes.h) rather than decode and encode them again.
//
// A result pointer is null when the breaker refused the call; otherwise it
// lives until the continuation returns.
#ifndef CSTOPA_GATEWAY_FAN_OUT_H_
#define CSTOPA_GATEWAY_FAN_OUT_H_

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
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

  // Not movable: the start functions of batched calls hold its address
  // until Start.
  FanOut(const FanOut&) = delete;
  FanOut& operator=(const FanOut&) = delete;

  template <typename Response, typename Request, typename StartFn>
  common::CallResult<Response>* Add(absl::string_view section, Backend* backend,
                                    Request request, StartFn start) {
    return AddCall<Response, Response>(section, backend, std::move(request),
                                       std::move(start));
  }

  // As Add, but the answer is left serialized, as the backend sent it (a
  // Response; see view_bytes.h for what a view makes of it).
  template <typename Response, typename Request, typename StartFn>
  common::CallResult<std::string>* AddBytes(absl::string_view section,
                                            Backend* backend, Request request,
                                            StartFn start) {
    return AddCall<Response, std::string>(section, backend, std::move(request),
                                          std::move(start));
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
  // A call of `request` answered with a Response, kept in a Held: the
  // Response itself, or its bytes (std::string).
  template <typename Response, typename Held, typename Request,
            typename StartFn>
  common::CallResult<Held>* AddCall(absl::string_view section, Backend* backend,
                                    Request request, StartFn start) {
    Part part{std::string(section), backend, nullptr, absl::InfinitePast()};
    common::CallResult<Held>* result = nullptr;
    if (backend->breaker().Admit(absl::Now())) {
      const std::string* method =
          backend->batcher() == nullptr
              ? nullptr
              : backend->BatchedMethod(Request::descriptor());
      if (method != nullptr) {
        result = calls_.Add<Held>(std::move(request),
                                  Batched<Request, Held>(backend, method));
      } else if constexpr (std::is_same_v<Held, Response>) {
        result = calls_.Add<Held>(std::move(request), std::move(start));
      } else {
        result =
            calls_.Add<Held>(std::move(request),
                             Serializing<Request, Response>(std::move(start)));
      }
      part.status = &result->status();
    } else {
      part.retry_time = backend->breaker().RetryTime();
    }
    parts_.push_back(std::move(part));
    return result;
  }

  // A start function (ParallelCalls::Add) that sends the call through the
  // backend's batcher, with the caller's ids and the context's deadline,
  // and parses the answer into a Held message or keeps its bytes.
  template <typename Request, typename Held>
  auto Batched(Backend* backend, const std::string* method) {
    // Started once: the ids are moved into the call.
    return [batcher = backend->batcher(), method, ids = ids_,
            waiting = &waiting_](
               grpc::ClientContext* ctx, const Request* request, Held* held,
               std::function<void(grpc::Status)> done) mutable {
      common::CallBatcher::Call call;
      call.method = *method;
      call.request = request->SerializeAsString();
      call.request_id = std::move(ids.request_id);
      call.traceparent = std::move(ids.traceparent);
      call.accept_language = std::move(ids.accept_language);
      if (ctx->deadline() != std::chrono::system_clock::time_point::max())
        call.deadline = absl::FromChrono(ctx->deadline());
      call.done = [held, done = std::move(done)](grpc::Status status,
                                                 std::string bytes) {
        if constexpr (std::is_same_v<Held, std::string>) {
          *held = std::move(bytes);
        } else if (status.ok() && !held->ParseFromString(bytes)) {
          status = grpc::Status(grpc::StatusCode::INTERNAL,
                                "the backend's answer does not decode");
        }
        done(std::move(status));
      };
      // Sent by Start once every call is started, with the view's other
      // reads of the same backend.
      auto group =
          std::find_if(waiting->begin(), waiting->end(),
                       [batcher](const auto& g) { return g.first == batcher; });
      if (group == waiting->end())
        group = waiting->emplace(waiting->end(), batcher,
                                 std::vector<common::CallBatcher::Call>());
      group->second.push_back(std::move(call));
    };
  }

  // A start function for a call not batched whose answer is kept as bytes:
  // `start`'s Response, serialized.
  template <typename Request, typename Response, typename StartFn>
  static auto Serializing(StartFn start) {
    return [start = std::move(start)](
               grpc::ClientContext* ctx, const Request* request,
               std::string* bytes,
               std::function<void(grpc::Status)> done) mutable {
      auto response = std::make_shared<Response>();
      Response* r = response.get();
      start(ctx, request, r,
            [response = std::move(response), bytes,
             done = std::move(done)](grpc::Status status) {
              if (status.ok()) response->SerializeToString(bytes);
              done(std::move(status));
            });
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
  // The batched calls the start functions made, by backend, sent by Start.
  std::vector<
      std::pair<common::CallBatcher*, std::vector<common::CallBatcher::Call>>>
      waiting_;
};

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_FAN_OUT_H_
