// Why a request's bytes are not a valid message, told as a client can act on
// it. gRPC alone answers an undecodable request with UNIMPLEMENTED and no
// message, which tells a client that the method does not exist.
//
//   if (!request.ParseFromString(bytes))
//     return UndecodableRequest(bytes, *request.GetDescriptor());
//   // INVALID_ARGUMENT, reason INVALID_REQUEST, field violation
//   // {"filter", "is not valid UTF-8 (byte 3)"}
#ifndef CSTOPA_SERVICES_COMMON_SERVER_REQUEST_DECODING_H_
#define CSTOPA_SERVICES_COMMON_SERVER_REQUEST_DECODING_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "services/common/base/errors.h"

namespace cstopa::common {

// The string fields of a message of type `type`, encoded in `bytes`, whose
// values are not UTF-8, as field paths ("state.display_name[0].text"); an
// empty list when there are none or `bytes` is not even wire format.
std::vector<FieldViolation> InvalidUtf8Fields(
    absl::string_view bytes, const google::protobuf::Descriptor& type);

// INVALID_ARGUMENT (reason INVALID_REQUEST) for `bytes` that did not parse as
// `type`: the fields that are not UTF-8, or else a violation on the request
// as a whole.
absl::Status UndecodableRequest(absl::string_view bytes,
                                const google::protobuf::Descriptor& type);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_REQUEST_DECODING_H_
