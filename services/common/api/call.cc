#include "services/common/api/call.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "google/protobuf/descriptor.h"

namespace cstopa::common {

bool IsReadMethod(absl::string_view method) {
  // A service's own search across its collections (AIP-136 custom method).
  if (method == "Search") return true;
  for (absl::string_view verb :
       {"Get", "BatchGet", "List", "Search", "Summarize", "Watch"}) {
    if (method.size() > verb.size() && absl::StartsWith(method, verb) &&
        absl::ascii_isupper(static_cast<unsigned char>(method[verb.size()]))) {
      return true;
    }
  }
  return false;
}

bool IsUnaryReadMethod(const google::protobuf::MethodDescriptor& method) {
  return !method.client_streaming() && !method.server_streaming() &&
         IsReadMethod(method.name());
}

}  // namespace cstopa::common
