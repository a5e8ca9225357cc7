#include "services/common/base/errors.h"

#include <optional>
#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

namespace cstopa::common {
namespace {

TEST(ErrorsTest, InvalidArgumentCarriesFieldViolationsAndReason) {
  absl::Status s = InvalidArgument("INVALID_FILTER",
                                   {{"filter", "unknown field `colour`"},
                                    {"page_size", "must not be negative"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("page_size: must not be negative"),
            absl::string_view::npos);
  auto bad = GetBadRequest(s);
  ASSERT_TRUE(bad.has_value());
  ASSERT_EQ(bad->field_violations_size(), 2);
  EXPECT_EQ(bad->field_violations(0).field(), "filter");
  auto info = GetErrorInfo(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "INVALID_FILTER");
  // The service's domain is set at the gRPC edge (ToGrpcStatus).
  EXPECT_EQ(info->domain(), "");
}

TEST(ErrorsTest, ToGrpcStatusPacksDetailsIntoRpcStatus) {
  grpc::Status g = ToGrpcStatus(InvalidArgument("page_size", "negative"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  EXPECT_EQ(rpc.code(), 3);
  bool saw_bad_request = false, saw_info = false;
  for (const auto& any : rpc.details()) {
    saw_bad_request |= any.Is<google::rpc::BadRequest>();
    saw_info |= any.Is<google::rpc::ErrorInfo>();
  }
  EXPECT_TRUE(saw_bad_request);
  EXPECT_TRUE(saw_info);
}

TEST(ErrorsTest, PlainStatusGetsDefaultErrorInfo) {
  grpc::Status g = ToGrpcStatus(absl::UnavailableError("store down"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::UNAVAILABLE);
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  ASSERT_EQ(rpc.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "UNAVAILABLE");
}

TEST(ErrorsTest, OkMapsToOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

// The ResourceInfo detail of `s`, if any.
std::optional<google::rpc::ResourceInfo> ResourceInfoOf(const absl::Status& s) {
  auto payload = s.GetPayload("type.googleapis.com/google.rpc.ResourceInfo");
  if (!payload.has_value()) return std::nullopt;
  google::rpc::ResourceInfo info;
  if (!info.ParseFromString(std::string(*payload))) return std::nullopt;
  return info;
}

TEST(ErrorsTest, NotFoundAndAlreadyExistsNameTheResourceAndItsType) {
  absl::Status s = NotFound("states/xx", "cstopa.org/State");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetErrorInfo(s)->reason(), "RESOURCE_NOT_FOUND");
  auto info = ResourceInfoOf(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->resource_name(), "states/xx");
  EXPECT_EQ(info->resource_type(), "cstopa.org/State");

  s = AlreadyExists("persons/p", "cstopa.org/Person");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  info = ResourceInfoOf(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->resource_type(), "cstopa.org/Person");

  // On the wire both details travel.
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(
      ToGrpcStatus(NotFound("states/xx", "cstopa.org/State")).error_details()));
  EXPECT_EQ(rpc.details_size(), 2);
}

// AIP-154: a stale etag is ABORTED (read again and retry).
TEST(ErrorsTest, EtagMismatchIsAborted) {
  absl::Status s = EtagMismatch("states/kz");
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(GetErrorInfo(s)->reason(), "ETAG_MISMATCH");
  EXPECT_EQ(GetErrorInfo(s)->metadata().at("resource"), "states/kz");
}

TEST(ErrorsTest, EachServiceHasItsOwnErrorDomain) {
  EXPECT_EQ(ErrorDomainOf("cstopa.membership.v1.MembershipService"),
            "membership.cstopa.org");
  EXPECT_EQ(ErrorDomainOf("cstopa.legislation.v1.LegislationService"),
            "legislation.cstopa.org");
  EXPECT_EQ(ErrorDomainOf("cstopa.gateway.v1.GatewayService"),
            "gateway.cstopa.org");
  EXPECT_EQ(ErrorDomainOf("cstopa.echo.EchoService"), "cstopa.org");
  EXPECT_EQ(ErrorDomainOf("grpc.health.v1.Health"), "cstopa.org");
}

// The gRPC edge gives an error the serving service's domain, whether it
// had an ErrorInfo or not, and leaves the domain of one that has one (an
// error passed on from another service).
TEST(ErrorsTest, ToGrpcStatusSetsTheServiceDomainUnlessOneIsSet) {
  auto domain_on_wire = [](const absl::Status& s, absl::string_view domain) {
    google::rpc::Status rpc;
    EXPECT_TRUE(rpc.ParseFromString(ToGrpcStatus(s, domain).error_details()));
    for (const auto& any : rpc.details()) {
      google::rpc::ErrorInfo info;
      if (any.UnpackTo(&info)) return info.reason() + "@" + info.domain();
    }
    return std::string("none");
  };
  EXPECT_EQ(domain_on_wire(NotFound("states/xx"), "membership.cstopa.org"),
            "RESOURCE_NOT_FOUND@membership.cstopa.org");
  EXPECT_EQ(domain_on_wire(absl::UnavailableError("down"), "events.cstopa.org"),
            "UNAVAILABLE@events.cstopa.org");
  absl::Status forwarded = EtagMismatch("states/kz");
  EnsureErrorInfo(forwarded, "membership.cstopa.org");
  EXPECT_EQ(domain_on_wire(forwarded, "gateway.cstopa.org"),
            "ETAG_MISMATCH@membership.cstopa.org");
  // The other details stay.
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(
      ToGrpcStatus(NotFound("states/xx", "cstopa.org/State"), "x.cstopa.org")
          .error_details()));
  EXPECT_EQ(rpc.details_size(), 2);
}

}  // namespace
}  // namespace cstopa::common
