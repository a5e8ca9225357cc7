// Several unary calls made at once, and one continuation when all of them
// have finished: how a handler fans out to other services (the gateway's
// profile of a state asks membership, legislation, events and monitoring
// together) without blocking a thread.
//
// The calls use gRPC's callback API (no thread per call, none waiting); they
// share one deadline, and each ends with its own status (a failed call does
// not cancel the others). When the last one ends, the continuation runs once
// on the gRPC thread that delivered it (or in Start, when there are no
// calls): it must not block either.
//
//   void GatewayHandler::GetStateProfile(GetStateProfileCall call) {
//     ParallelCalls calls(call.caller());  // its deadline, request id, trace
//     v1::GetStateRequest get;
//     get.set_name(call.request().name());
//     CallResult<v1::State>* state = calls.Add<v1::State>(
//         std::move(get), [this](grpc::ClientContext* ctx,
//                                const v1::GetStateRequest* req,
//                                v1::State* resp, auto done) {
//           membership_->async()->GetState(ctx, req, resp, std::move(done));
//         });
//     CallResult<ListMissionsResponse>* missions = calls.Add<...>(...);
//     std::move(calls).Start([call = std::move(call), state,
//                             missions]() mutable {
//       if (!state->ok()) return call.Finish(state->status());
//       *call.response()->mutable_state() = std::move(state->response());
//       ...
//       call.Finish(absl::OkStatus());
//     });
//   }
//
// A status is the call's absl::Status with its error details
// (FromGrpcStatus, client/error_details.h), fit to finish a call with.
//
// Make the stubs on channels kept for the process's life (client/channel.h):
// gRPC 1.51 runs every callback-API call of the process from one shared
// queue that it tears down when the last channel that used it goes, and a
// channel made while that happens races the teardown.
#ifndef CSTOPA_SERVICES_COMMON_CLIENT_PARALLEL_CALLS_H_
#define CSTOPA_SERVICES_COMMON_CLIENT_PARALLEL_CALLS_H_

#include <functional>
#include <memory>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "services/common/api/call.h"

namespace cstopa::common {

// One call of a ParallelCalls: valid until the continuation returns, and
// set once it runs.
template <typename Response>
class CallResult {
 public:
  CallResult(const CallResult&) = delete;
  CallResult& operator=(const CallResult&) = delete;

  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  // The answer (when ok()); may be moved from.
  Response& response() { return response_; }
  const Response& response() const { return response_; }
  // The call's context: the server's metadata, the peer.
  const grpc::ClientContext& context() const { return context_; }

 protected:
  CallResult() = default;
  ~CallResult() = default;

  grpc::ClientContext context_;
  Response response_;
  absl::Status status_ = absl::UnknownError("the call has not finished");
};

namespace parallel_calls_internal {

class Group;

// The untyped face of a call, for Group.
class PendingCall {
 public:
  virtual ~PendingCall() = default;
  virtual grpc::ClientContext* context() = 0;
  virtual void Start(std::function<void(grpc::Status)> done) = 0;
  virtual void SetStatus(absl::Status status) = 0;
};

template <typename Request, typename Response, typename StartFn>
class TypedCall final : public PendingCall, public CallResult<Response> {
 public:
  TypedCall(Request request, StartFn start)
      : request_(std::move(request)), start_(std::move(start)) {}

  grpc::ClientContext* context() override { return &this->context_; }
  void Start(std::function<void(grpc::Status)> done) override {
    start_(&this->context_, &request_, &this->response_, std::move(done));
  }
  void SetStatus(absl::Status status) override {
    this->status_ = std::move(status);
  }

 private:
  Request request_;
  StartFn start_;
};

}  // namespace parallel_calls_internal

// Builds a set of calls, then hands them to gRPC with Start. Not
// thread-safe; destroying it unstarted drops the calls it holds.
class ParallelCalls {
 public:
  // Every call with deadline `deadline`.
  explicit ParallelCalls(absl::Time deadline);
  // Calls made for the incoming call `caller` (a handler's call.caller()):
  // its request id and trace (ContinueFrom, client/call_context.h), and the
  // earlier of its deadline and `deadline` (to keep time for the answer).
  explicit ParallelCalls(const Caller& caller,
                         absl::Time deadline = absl::InfiniteFuture());
  ~ParallelCalls();

  ParallelCalls(ParallelCalls&&) noexcept;
  ParallelCalls& operator=(ParallelCalls&&) = delete;
  ParallelCalls(const ParallelCalls&) = delete;
  ParallelCalls& operator=(const ParallelCalls&) = delete;

  // Adds a call of `request`, made by `start` when Start runs:
  //   start(grpc::ClientContext* ctx, const Request* request,
  //         Response* response, std::function<void(grpc::Status)> done)
  // must start one callback-API call with exactly these (a generated stub's
  // `stub->async()->Method(ctx, request, response, std::move(done))`); it
  // may add metadata to `ctx` first (SetApiKey). The context already has
  // the deadline and ids. The result lives until the continuation returns.
  template <typename Response, typename Request, typename StartFn>
  CallResult<Response>* Add(Request request, StartFn start) {
    auto call = std::make_unique<
        parallel_calls_internal::TypedCall<Request, Response, StartFn>>(
        std::move(request), std::move(start));
    CallResult<Response>* result = call.get();
    AddCall(std::move(call));
    return result;
  }

  // Starts every call; `done` runs once when all have finished (see the
  // file comment), after which the results are freed.
  void Start(absl::AnyInvocable<void() &&> done) &&;

 private:
  void AddCall(std::unique_ptr<parallel_calls_internal::PendingCall> call);

  std::unique_ptr<parallel_calls_internal::Group> group_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_CLIENT_PARALLEL_CALLS_H_
