// Bytes as the gateway's HTTP front door moves them: gRPC byte buffers to
// and from strings (gzip: services/common/base/gzip.h).
//
//   grpc::ByteBuffer request = ToBuffer(bytes);
//   std::string answer = ToString(response);
#ifndef CSTOPA_GATEWAY_HTTP_WIRE_H_
#define CSTOPA_GATEWAY_HTTP_WIRE_H_

#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/support/byte_buffer.h"

namespace cstopa::gateway::http {

// The bytes of `buffer` ("" if they cannot be read).
std::string ToString(const grpc::ByteBuffer& buffer);
// A buffer holding `bytes`.
grpc::ByteBuffer ToBuffer(const std::string& bytes);

}  // namespace cstopa::gateway::http

#endif  // CSTOPA_GATEWAY_HTTP_WIRE_H_
