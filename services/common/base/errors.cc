#include "services/common/base/errors.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"

namespace cstopa::common {
namespace {

constexpr char kTypePrefix[] = "type.googleapis.com/";

template <typename Message>
std::string TypeUrl() {
  return absl::StrCat(kTypePrefix, Message::descriptor()->full_name());
}

template <typename Message>
void Attach(absl::Status& status, const Message& detail) {
  status.SetPayload(TypeUrl<Message>(), absl::Cord(detail.SerializeAsString()));
}

template <typename Message>
std::optional<Message> Detail(const absl::Status& status) {
  auto payload = status.GetPayload(TypeUrl<Message>());
  if (!payload.has_value()) return std::nullopt;
  Message m;
  if (!m.ParseFromString(std::string(*payload))) return std::nullopt;
  return m;
}

absl::string_view DefaultReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case absl::StatusCode::kNotFound:
      return "RESOURCE_NOT_FOUND";
    case absl::StatusCode::kAlreadyExists:
      return "RESOURCE_ALREADY_EXISTS";
    case absl::StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case absl::StatusCode::kAborted:
      return "ABORTED";
    case absl::StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case absl::StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
    case absl::StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case absl::StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case absl::StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case absl::StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case absl::StatusCode::kCancelled:
      return "CANCELLED";
    default:
      return "INTERNAL";
  }
}

}  // namespace

absl::Status InvalidArgument(absl::string_view reason,
                             std::vector<FieldViolation> violations) {
  google::rpc::BadRequest bad;
  std::vector<std::string> parts;
  for (auto& v : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
    parts.push_back(v.field.empty()
                        ? v.description
                        : absl::StrCat(v.field, ": ", v.description));
  }
  absl::Status status(absl::StatusCode::kInvalidArgument,
                      absl::StrJoin(parts, "; "));
  Attach(status, bad);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  Attach(status, info);
  return status;
}

absl::Status InvalidArgument(absl::string_view field,
                             absl::string_view description) {
  return InvalidArgument(
      "INVALID_ARGUMENT",
      {FieldViolation{std::string(field), std::string(description)}});
}

absl::Status ErrorWithInfo(absl::StatusCode code, absl::string_view reason,
                           absl::string_view message,
                           const std::map<std::string, std::string>& metadata) {
  absl::Status status(code, message);
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  for (const auto& [k, v] : metadata) (*info.mutable_metadata())[k] = v;
  Attach(status, info);
  return status;
}

namespace {

void AttachResourceInfo(absl::Status& status, absl::string_view name,
                        absl::string_view type, absl::string_view what) {
  google::rpc::ResourceInfo info;
  info.set_resource_type(std::string(type));
  info.set_resource_name(std::string(name));
  info.set_description(std::string(what));
  Attach(status, info);
}

}  // namespace

absl::Status NotFound(absl::string_view resource_name,
                      absl::string_view resource_type) {
  absl::Status status =
      ErrorWithInfo(absl::StatusCode::kNotFound, "RESOURCE_NOT_FOUND",
                    absl::StrCat(resource_name, " does not exist"),
                    {{"resource", std::string(resource_name)}});
  AttachResourceInfo(status, resource_name, resource_type,
                     "does not exist (or was deleted)");
  return status;
}

absl::Status AlreadyExists(absl::string_view resource_name,
                           absl::string_view resource_type) {
  absl::Status status = ErrorWithInfo(
      absl::StatusCode::kAlreadyExists, "RESOURCE_ALREADY_EXISTS",
      absl::StrCat(resource_name,
                   " already exists (IDs are never reused, even after a "
                   "delete); choose another ID"),
      {{"resource", std::string(resource_name)}});
  AttachResourceInfo(status, resource_name, resource_type,
                     "exists, or existed and was deleted");
  return status;
}

absl::Status EtagMismatch(absl::string_view resource_name) {
  return ErrorWithInfo(
      absl::StatusCode::kAborted, "ETAG_MISMATCH",
      absl::StrCat(resource_name,
                   " changed since it was read (etag mismatch); read it again "
                   "and retry with the new etag"),
      {{"resource", std::string(resource_name)}});
}

std::string ErrorDomainOf(absl::string_view grpc_service) {
  std::vector<absl::string_view> parts = absl::StrSplit(grpc_service, '.');
  if (parts.size() < 4 || parts[0] != "cstopa" || parts[1].empty())
    return std::string(kDefaultErrorDomain);
  return absl::StrCat(parts[1], ".", kDefaultErrorDomain);
}

void EnsureErrorInfo(absl::Status& status, absl::string_view domain) {
  if (status.ok()) return;
  google::rpc::ErrorInfo info;
  if (std::optional<google::rpc::ErrorInfo> has =
          Detail<google::rpc::ErrorInfo>(status)) {
    if (!has->domain().empty()) return;
    info = *std::move(has);
  } else {
    info.set_reason(std::string(DefaultReason(status.code())));
  }
  info.set_domain(std::string(domain));
  Attach(status, info);
}

std::optional<google::rpc::BadRequest> GetBadRequest(
    const absl::Status& status) {
  return Detail<google::rpc::BadRequest>(status);
}

std::optional<google::rpc::ErrorInfo> GetErrorInfo(const absl::Status& status) {
  return Detail<google::rpc::ErrorInfo>(status);
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status rpc_status;
  rpc_status.set_code(static_cast<int>(status.code()));
  rpc_status.set_message(std::string(status.message()));
  status.ForEachPayload(
      [&](absl::string_view type_url, const absl::Cord& payload) {
        auto* any = rpc_status.add_details();
        any->set_type_url(std::string(type_url));
        any->set_value(std::string(payload));
      });
  return rpc_status;
}

absl::Status FromRpcStatus(const google::rpc::Status& status) {
  if (status.code() == 0) return absl::OkStatus();
  // google.rpc.Code values are absl's.
  absl::Status out(static_cast<absl::StatusCode>(status.code()),
                   status.message());
  for (const google::protobuf::Any& any : status.details())
    out.SetPayload(any.type_url(), absl::Cord(any.value()));
  return out;
}

grpc::Status ToGrpcStatus(const absl::Status& status,
                          absl::string_view domain) {
  if (status.ok()) return grpc::Status::OK;
  absl::Status with_info = status;
  EnsureErrorInfo(with_info, domain);
  return grpc::Status(static_cast<grpc::StatusCode>(with_info.code()),
                      std::string(with_info.message()),
                      ToRpcStatus(with_info).SerializeAsString());
}

namespace {
constexpr const char* kCodeNames[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
}  // namespace

const char* GrpcCodeName(int code) {
  if (code < 0 ||
      code >= static_cast<int>(sizeof(kCodeNames) / sizeof(kCodeNames[0]))) {
    return "UNKNOWN";
  }
  return kCodeNames[code];
}

}  // namespace cstopa::common
