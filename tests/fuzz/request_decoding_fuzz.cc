// libFuzzer target for the decoding every gRPC request goes through
// (services/common/server/request_decoding.h), on a request type with
// nested and repeated strings: whatever the bytes, the diagnosis never
// crashes, is always INVALID_ARGUMENT, and blames no field of a request
// that parses (a parse checks UTF-8 itself).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cstopa/membership/v1/membership.pb.h"
#include "services/common/server/request_decoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const auto& type = *cstopa::membership::v1::CreateStateRequest::descriptor();
  const auto fields = cstopa::common::InvalidUtf8Fields(bytes, type);
  const absl::Status status = cstopa::common::UndecodableRequest(bytes, type);
  if (status.code() != absl::StatusCode::kInvalidArgument) std::abort();
  cstopa::membership::v1::CreateStateRequest request;
  if (request.ParseFromString(bytes) && !fields.empty()) std::abort();
  return 0;
}
