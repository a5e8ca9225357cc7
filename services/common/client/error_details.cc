#include "services/common/client/error_details.h"

#include "google/rpc/status.pb.h"

namespace cstopa::common {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  google::rpc::Status details;
  if (status.error_details().empty() ||
      !details.ParseFromString(status.error_details())) {
    details.Clear();  // no details, or none that parse
  }
  // The call's own code and message; the details' payloads.
  details.set_code(status.error_code());
  details.set_message(status.error_message());
  return FromRpcStatus(details);
}

}  // namespace cstopa::common
