// What an outgoing call carries besides its request: deadline, API key,
// request id and trace context; and the client interceptor that completes
// the ids on every call of a channel made by NewChannel (client/channel.h).
//
// Every outgoing call gets
//  * `x-request-id`: the one the caller put on the context when it is valid
//    (printable ASCII, at most 128 characters), else a new one (32 random
//    hex digits);
//  * `traceparent` ("00-<trace id>-<span id>-<flags>"): the trace id and
//    flags of the one the caller put on the context, with a new span id for
//    this call; a new trace when there is none or it is not valid.
// Servers of the suite (server/interceptors.h) log both and echo them back.
//
// A handler that calls other services passes its incoming call on, so that
// one request keeps one id and one trace across the services, and the
// downstream calls give up when the caller has:
//
//   void GatewayHandler::GetStateProfile(GetStateProfileCall call) {
//     auto ctx = std::make_unique<grpc::ClientContext>();
//     ContinueFrom(call.caller(), ctx.get());  // deadline, request id, trace
//     ... membership_->async()->GetState(ctx.get(), ...);
//
// (client/parallel_calls.h does this for each call it makes.) Elsewhere:
//
//   grpc::ClientContext ctx;
//   SetTimeout(&ctx, absl::Seconds(5));
//   SetApiKey(&ctx, editor_key);
#ifndef CSTOPA_SERVICES_COMMON_CLIENT_CALL_CONTEXT_H_
#define CSTOPA_SERVICES_COMMON_CLIENT_CALL_CONTEXT_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_interceptor.h"
#include "services/common/api/call.h"
#include "services/common/api/trace_context.h"

namespace cstopa::common {

// Puts the incoming call's deadline (when it has one), request id and
// trace on `context` (see the file comment). Call before the call starts.
void ContinueFrom(const Caller& caller, grpc::ClientContext* context);

// `authorization: Bearer <key>`; nothing when `key` is empty.
void SetApiKey(grpc::ClientContext* context, absl::string_view key);

// The request id the call is to carry (the interceptor replaces an invalid
// one).
void SetRequestId(grpc::ClientContext* context, absl::string_view id);

// Deadline `timeout` from now.
void SetTimeout(grpc::ClientContext* context, absl::Duration timeout);

// Installs the per-call interceptor that completes `x-request-id` and
// `traceparent` (see the file comment). NewChannel installs it; for a
// channel made otherwise:
//
//   std::vector<std::unique_ptr<
//       grpc::experimental::ClientInterceptorFactoryInterface>> creators;
//   creators.push_back(std::make_unique<CallIdsInterceptorFactory>());
//   auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
//       target, credentials, args, std::move(creators));
class CallIdsInterceptorFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  CallIdsInterceptorFactory();

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override;

 private:
  // Makes the ids the way the servers do (it records nothing: no metrics,
  // no log). Thread-safe.
  TraceIds ids_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_CLIENT_CALL_CONTEXT_H_
