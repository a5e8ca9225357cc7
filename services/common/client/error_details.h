// A failed call's status as the suite's code handles errors: an absl::Status
// with its google.rpc detail messages as payloads, the inverse of
// ToGrpcStatus (base/errors.h). Servers of the suite send every error with
// binary details (`grpc-status-details-bin`, a google.rpc.Status holding
// ErrorInfo, BadRequest, PreconditionFailure, ResourceInfo...); a client
// decodes them once and then reads them like its own errors:
//
//   grpc::Status s = stub->GetPerson(&ctx, request, &person);
//   absl::Status status = FromGrpcStatus(s);
//   if (std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
//       info && info->reason() == "RESOURCE_NOT_FOUND") { ... }
//   auto failure = GetDetail<google::rpc::PreconditionFailure>(status);
//
// A handler can return such a status as it is: ToGrpcStatus sends the same
// details on (a gateway passes a backend's BadRequest to its client).
#ifndef CSTOPA_SERVICES_COMMON_CLIENT_ERROR_DETAILS_H_
#define CSTOPA_SERVICES_COMMON_CLIENT_ERROR_DETAILS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"  // the detail messages
#include "grpcpp/support/status.h"
#include "services/common/base/errors.h"

namespace cstopa::common {

// The absl::Status for `status`: same code and message and, when its binary
// details are a google.rpc.Status, each of its details as a payload keyed by
// the detail's type URL (as ToGrpcStatus attached them). Details that are
// missing or do not parse leave a status without payloads. OK maps to OK.
absl::Status FromGrpcStatus(const grpc::Status& status);

// The detail of type `Detail` (a google.rpc message such as
// PreconditionFailure or ResourceInfo) attached to `status`, if any.
// GetErrorInfo and GetBadRequest (base/errors.h) are the common cases.
template <typename Detail>
std::optional<Detail> GetDetail(const absl::Status& status) {
  auto payload = status.GetPayload(absl::StrCat(
      "type.googleapis.com/", Detail::descriptor()->full_name()));
  if (!payload.has_value()) return std::nullopt;
  Detail detail;
  if (!detail.ParseFromString(std::string(*payload))) return std::nullopt;
  return detail;
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_CLIENT_ERROR_DETAILS_H_
