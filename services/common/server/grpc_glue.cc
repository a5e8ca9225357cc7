#include "services/common/server/grpc_glue.h"

#include <vector>

#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/slice.h"
#include "services/common/base/errors.h"

namespace cstopa::common {

bool ParseRequest(const grpc::ByteBuffer& buffer,
                  google::protobuf::Message* out) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out->ParseFromString(bytes);
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* ctx,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* StartUnary(
    grpc::CallbackServerContext* ctx,
    absl::FunctionRef<void(StatusCallback)> start) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  start([reactor](absl::Status status) {
    reactor->Finish(ToGrpcStatus(status));
  });
  return reactor;
}

grpc::ServerUnaryReactor* FinishEncoded(
    grpc::CallbackServerContext* ctx,
    const absl::StatusOr<std::string>& encoded, grpc::ByteBuffer* response) {
  if (encoded.ok()) {
    grpc::Slice slice(*encoded);
    *response = grpc::ByteBuffer(&slice, 1);
  }
  return FinishUnary(ctx, encoded.status());
}

}  // namespace cstopa::common
