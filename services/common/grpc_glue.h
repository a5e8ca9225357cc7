// Small adapters between gRPC callback handlers and the absl::Status world
// of the handler classes.
//
//   grpc::ServerUnaryReactor* Service::GetThing(
//       grpc::CallbackServerContext* ctx, const GetThingRequest* req,
//       Thing* resp) {
//     return FinishUnary(ctx, handler_->GetThing(CallerOf(ctx), *req, resp));
//   }
#ifndef CSTOPA_SERVICES_COMMON_GRPC_GLUE_H_
#define CSTOPA_SERVICES_COMMON_GRPC_GLUE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "services/common/standard_methods.h"

namespace grpc {
class CallbackServerContext;
}  // namespace grpc

namespace cstopa::common {

// The caller's authorization metadata and deadline.
Caller CallerOf(grpc::CallbackServerContext* ctx);

// Decodes a raw request; false when it is not a valid `out`.
bool ParseRequest(const grpc::ByteBuffer& buffer,
                  google::protobuf::Message* out);

// Finishes a unary call with `status` (mapped with ToGrpcStatus).
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* ctx,
                                      const absl::Status& status);

// Finishes a raw unary call: the bytes as the response, or the error.
grpc::ServerUnaryReactor* FinishEncoded(
    grpc::CallbackServerContext* ctx,
    const absl::StatusOr<std::string>& encoded, grpc::ByteBuffer* response);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_GRPC_GLUE_H_
