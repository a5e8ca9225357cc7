#include "services/common/client/error_details.h"

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Fields(const google::rpc::BadRequest& bad) {
  std::vector<std::string> fields;
  for (const auto& v : bad.field_violations()) fields.push_back(v.field());
  return fields;
}

TEST(FromGrpcStatusTest, InvalidArgumentRoundTrips) {
  absl::Status sent = InvalidArgument(
      "INVALID_FILTER", {{"filter", "unknown field colour"},
                         {"page_size", "must not be negative"}});
  absl::Status got = FromGrpcStatus(ToGrpcStatus(sent));
  EXPECT_EQ(got.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(got.message(), sent.message());
  // The gRPC edge gave the ErrorInfo its domain (the default here; a
  // service's own in a server).
  EnsureErrorInfo(sent, kDefaultErrorDomain);
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(got);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "INVALID_FILTER");
  EXPECT_EQ(info->domain(), "cstopa.org");
  std::optional<google::rpc::BadRequest> bad = GetBadRequest(got);
  ASSERT_TRUE(bad.has_value());
  EXPECT_THAT(Fields(*bad), ElementsAre("filter", "page_size"));
  // The very status that was sent (payloads compare in any order), and so
  // the same again when sent on (a gateway answering with a backend's
  // error).
  EXPECT_EQ(got, sent);
  EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(got)), sent);
}

TEST(FromGrpcStatusTest, EveryKindOfDetailComesBack) {
  absl::Status sent = ErrorWithInfo(absl::StatusCode::kFailedPrecondition,
                                    "INVALID_STAGE_TRANSITION", "no way",
                                    {{"stage", "ADOPTED"}});
  google::rpc::PreconditionFailure failure;
  auto* v = failure.add_violations();
  v->set_type("STAGE");
  v->set_subject("DOCUMENT_STAGE_UNDER_REVIEW");
  sent.SetPayload("type.googleapis.com/google.rpc.PreconditionFailure",
                  absl::Cord(failure.SerializeAsString()));
  google::rpc::ResourceInfo resource;
  resource.set_resource_type("cstopa.org/Document");
  resource.set_resource_name("documents/x");
  sent.SetPayload("type.googleapis.com/google.rpc.ResourceInfo",
                  absl::Cord(resource.SerializeAsString()));

  absl::Status got = FromGrpcStatus(ToGrpcStatus(sent));
  EXPECT_EQ(got.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got.message(), "no way");
  ASSERT_TRUE(GetErrorInfo(got).has_value());
  EXPECT_EQ(GetErrorInfo(got)->metadata().at("stage"), "ADOPTED");
  auto got_failure = GetDetail<google::rpc::PreconditionFailure>(got);
  ASSERT_TRUE(got_failure.has_value());
  ASSERT_EQ(got_failure->violations_size(), 1);
  EXPECT_EQ(got_failure->violations(0).subject(),
            "DOCUMENT_STAGE_UNDER_REVIEW");
  auto got_resource = GetDetail<google::rpc::ResourceInfo>(got);
  ASSERT_TRUE(got_resource.has_value());
  EXPECT_EQ(got_resource->resource_name(), "documents/x");
  EXPECT_FALSE(GetBadRequest(got).has_value());
  EXPECT_FALSE(GetDetail<google::rpc::QuotaFailure>(got).has_value());
}

TEST(FromGrpcStatusTest, OkIsOk) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(FromGrpcStatusTest, WithoutDetailsKeepsCodeAndMessage) {
  absl::Status got =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"));
  EXPECT_EQ(got, absl::UnavailableError("gone"));
  EXPECT_FALSE(GetErrorInfo(got).has_value());
}

TEST(FromGrpcStatusTest, UnparsableDetailsAreDropped) {
  absl::Status got = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::INTERNAL, "odd", "\xff\xff not proto"));
  EXPECT_EQ(got, absl::InternalError("odd"));
}

TEST(FromGrpcStatusTest, EveryCodeMapsToItself) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status got = FromGrpcStatus(
        grpc::Status(static_cast<grpc::StatusCode>(code), "m"));
    EXPECT_EQ(static_cast<int>(got.code()), code);
  }
}

}  // namespace
}  // namespace cstopa::common
