// Errors with machine-readable details, following AIP-193.
//
// Inside the services every failure is an absl::Status. The helpers here
// attach google.rpc detail messages (BadRequest, ErrorInfo, ...) as Status
// payloads keyed by their type URL; ToGrpcStatus turns the whole thing into a
// grpc::Status whose binary details are a google.rpc.Status, so that every
// generated client can read them.
//
//   return InvalidArgument("page_size", "must not be negative");
//   ...
//   return ToGrpcStatus(status);  // at the gRPC edge
#ifndef CSTOPA_SERVICES_COMMON_BASE_ERRORS_H_
#define CSTOPA_SERVICES_COMMON_BASE_ERRORS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace google::rpc {
class BadRequest;
class ErrorInfo;
class Status;
}  // namespace google::rpc
namespace grpc {
class Status;
}  // namespace grpc

namespace cstopa::common {

// ErrorInfo.domain (AIP-193) says which service refused: each service has
// its own, "<service>.cstopa.org" (ErrorDomainOf). The helpers below leave
// it empty; the gRPC edge fills it in with the serving service's domain
// (ToGrpcStatus), so that the code that makes an error need not know which
// service hosts it (RunServices hosts several in one process). An ErrorInfo
// that has a domain keeps it: an error a service passes on from another
// (the gateway's from a backend) still names the one that refused.
//
// The domain of an error no service claims (e.g. a test server's).
inline constexpr absl::string_view kDefaultErrorDomain = "cstopa.org";

// The error domain of the gRPC service `grpc_service` (its full name, e.g.
// "cstopa.membership.v1.MembershipService" -> "membership.cstopa.org"):
// the package's second component. kDefaultErrorDomain for a name outside
// the `cstopa.<service>.<version>` packages.
std::string ErrorDomainOf(absl::string_view grpc_service);

// One bad field in a request, as in google.rpc.BadRequest.FieldViolation.
// `field` is a path such as "state.display_name[0].text".
struct FieldViolation {
  std::string field;
  std::string description;
};

// INVALID_ARGUMENT with a BadRequest listing `violations` and an ErrorInfo
// whose reason is `reason` (UPPER_SNAKE, e.g. "INVALID_FILTER"). The message
// joins the violations so a person can act on it without reading details.
absl::Status InvalidArgument(absl::string_view reason,
                             std::vector<FieldViolation> violations);

// INVALID_ARGUMENT for one field, reason "INVALID_ARGUMENT".
absl::Status InvalidArgument(absl::string_view field,
                             absl::string_view description);

// Any code with an ErrorInfo {reason, domain, metadata}.
absl::Status ErrorWithInfo(
    absl::StatusCode code, absl::string_view reason, absl::string_view message,
    const std::map<std::string, std::string>& metadata = {});

// NOT_FOUND for a resource name, reason "RESOURCE_NOT_FOUND", and
// ALREADY_EXISTS, reason "RESOURCE_ALREADY_EXISTS". Both also carry a
// google.rpc.ResourceInfo: the resource's name and, when known, its type
// (e.g. "cstopa.org/State", the message's google.api.resource type).
absl::Status NotFound(absl::string_view resource_name,
                      absl::string_view resource_type = "");
absl::Status AlreadyExists(absl::string_view resource_name,
                           absl::string_view resource_type = "");
// ABORTED for a stale etag (AIP-154), reason "ETAG_MISMATCH": the resource
// changed since the caller read it; read it again and retry.
absl::Status EtagMismatch(absl::string_view resource_name);

// Gives `status` an ErrorInfo in `domain`: adds one (reason from the code)
// unless it has one (errors that come from libraries without details), and
// sets the domain of one that has none.
void EnsureErrorInfo(absl::Status& status, absl::string_view domain);

// The BadRequest / ErrorInfo attached to `status`, if any (tests and logs).
std::optional<google::rpc::BadRequest> GetBadRequest(
    const absl::Status& status);
std::optional<google::rpc::ErrorInfo> GetErrorInfo(const absl::Status& status);

// The canonical name of a grpc::StatusCode value ("OK", "CANCELLED", ...,
// "UNAUTHENTICATED"); "UNKNOWN" for values outside 0..16.
const char* GrpcCodeName(int code);

// The gRPC status for `status`: same code and message, and binary details
// (google.rpc.Status) carrying every detail payload, the ErrorInfo in
// `domain` (EnsureErrorInfo). OK maps to OK.
grpc::Status ToGrpcStatus(const absl::Status& status,
                          absl::string_view domain = kDefaultErrorDomain);

// `status` as a google.rpc.Status: code, message, and each detail payload
// as an Any (no ErrorInfo is added). FromRpcStatus is its inverse.
google::rpc::Status ToRpcStatus(const absl::Status& status);
absl::Status FromRpcStatus(const google::rpc::Status& status);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_BASE_ERRORS_H_
