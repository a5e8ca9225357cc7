// Small adapters between gRPC callback handlers and the absl::Status world
// of the handler classes.
//
//   grpc::ServerUnaryReactor* Service::GetThing(
//       grpc::CallbackServerContext* ctx, const GetThingRequest* req,
//       Thing* resp) {
//     return FinishUnary(ctx, handler_->GetThing(CallerOf(ctx), *req, resp));
//   }
#ifndef CSTOPA_SERVICES_COMMON_SERVER_GRPC_GLUE_H_
#define CSTOPA_SERVICES_COMMON_SERVER_GRPC_GLUE_H_

#include <string>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/resources/standard_methods.h"
#include "services/common/server/grpc_binding.h"

namespace grpc {
class CallbackServerContext;
}  // namespace grpc

namespace cstopa::common {


// Decodes a raw request; false when it is not a valid `out`.
bool ParseRequest(const grpc::ByteBuffer& buffer,
                  google::protobuf::Message* out);

// Finishes a unary call with `status` (mapped with ToGrpcStatus).
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* ctx,
                                      const absl::Status& status);

// Starts an asynchronous handler method: `start` gets the callback that
// finishes the call (from any thread, once). The thread that runs this is
// free again as soon as `start` returns.
//
//   return StartUnary(ctx, [&](StatusCallback done) {
//     handler_->GetThingAsync(CallerOf(ctx), *req, resp, std::move(done));
//   });
grpc::ServerUnaryReactor* StartUnary(
    grpc::CallbackServerContext* ctx,
    absl::FunctionRef<void(StatusCallback)> start);

// StartUnary of a handler's asynchronous method, for the gRPC faces:
//
//   return StartAsync(ctx, handler_, &Handler::GetThingAsync, request,
//                     response);
template <typename Handler, typename Request, typename Response>
grpc::ServerUnaryReactor* StartAsync(
    grpc::CallbackServerContext* ctx, Handler* handler,
    void (Handler::*method)(const Caller&, const Request&, Response*,
                            StatusCallback),
    const Request* request, Response* response) {
  return StartUnary(ctx, [&](StatusCallback done) {
    (handler->*method)(CallerOf(ctx), *request, response, std::move(done));
  });
}

// Finishes a raw unary call: the bytes as the response, or the error.
grpc::ServerUnaryReactor* FinishEncoded(
    grpc::CallbackServerContext* ctx,
    const absl::StatusOr<std::string>& encoded, grpc::ByteBuffer* response);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_GRPC_GLUE_H_
