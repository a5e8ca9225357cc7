#include "tests/integration/client_helpers.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/client/call_context.h"
#include "services/common/client/error_details.h"
#include "services/common/server/metrics.h"

namespace cstopa::itest {

const char* CodeName(grpc::StatusCode code) {
  return common::GrpcCodeName(static_cast<int>(code));
}

std::string Describe(const grpc::Status& s) {
  return absl::StrCat(CodeName(s.error_code()), ": ", s.error_message());
}

void Prepare(grpc::ClientContext* ctx, absl::string_view key,
             absl::Duration deadline) {
  common::SetTimeout(ctx, deadline);
  common::SetApiKey(ctx, key);
}

Details DetailsOf(const grpc::Status& s) {
  // The wire format first: the platform's decoding forgives what a server
  // of the suite must never send.
  google::rpc::Status wire;
  EXPECT_FALSE(s.error_details().empty())
      << "no binary error details on " << Describe(s);
  if (!s.error_details().empty()) {
    EXPECT_TRUE(wire.ParseFromString(s.error_details()))
        << "binary error details are not a google.rpc.Status on "
        << Describe(s);
    EXPECT_EQ(wire.code(), static_cast<int>(s.error_code())) << Describe(s);
    EXPECT_EQ(wire.message(), s.error_message());
  }

  Details d;
  d.status = common::FromGrpcStatus(s);
  d.info = common::GetErrorInfo(d.status);
  d.bad_request = common::GetBadRequest(d.status);
  if (d.bad_request.has_value()) {
    for (const auto& v : d.bad_request->field_violations())
      d.bad_fields.push_back(v.field());
  }
  d.precondition =
      common::GetDetail<google::rpc::PreconditionFailure>(d.status);
  return d;
}

Details ExpectError(const grpc::Status& s, grpc::StatusCode code,
                    absl::string_view reason) {
  EXPECT_EQ(s.error_code(), code) << Describe(s);
  Details d = DetailsOf(s);
  EXPECT_TRUE(d.info.has_value()) << "no ErrorInfo on " << Describe(s);
  if (d.info.has_value()) {
    // The refusing service's own domain (AIP-193); tests that know which
    // one refused check it exactly.
    EXPECT_THAT(d.info->domain(),
                testing::AnyOf("membership.cstopa.org",
                               "legislation.cstopa.org", "events.cstopa.org",
                               "monitoring.cstopa.org", "gateway.cstopa.org"))
        << Describe(s);
    EXPECT_FALSE(d.info->reason().empty()) << Describe(s);
    if (!reason.empty()) {
      EXPECT_EQ(d.info->reason(), reason) << Describe(s);
    }
  }
  return d;
}

bool WaitFor(absl::FunctionRef<bool()> done, absl::Duration timeout,
             absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return done();
    absl::SleepFor(poll);
  }
  return true;
}

grpc::Status CheckHealth(grpc::health::v1::Health::Stub* health,
                         const std::string& service, HealthStatus* out,
                         absl::Duration deadline) {
  grpc::ClientContext ctx;
  Prepare(&ctx, "", deadline);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  return health->Check(&ctx, req, out);
}

std::optional<absl::Time> WaitForHealth(grpc::health::v1::Health::Stub* health,
                                        HealthStatus::ServingStatus want,
                                        absl::Time deadline,
                                        std::string* last) {
  std::optional<absl::Time> at;
  WaitFor(
      [&] {
        HealthStatus resp;
        grpc::Status s = CheckHealth(health, "", &resp, absl::Seconds(1));
        if (s.ok() && resp.status() == want) {
          at = absl::Now();
          return true;
        }
        *last = s.ok() ? HealthStatus::ServingStatus_Name(resp.status())
                       : Describe(s);
        return false;
      },
      deadline - absl::Now(), absl::Milliseconds(50));
  return at;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::Status MakeTestCertificates(const std::string& dir) {
  const std::string script = absl::StrCat(
      "set -e; cd ", dir,
      "; exec >openssl.log 2>&1"
      "; openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
      "/CN=cstopa-test-ca -keyout ca.key -out ca.pem"
      "; printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext"
      "; openssl req -newkey rsa:2048 -nodes -subj /CN=localhost "
      "-keyout server.key -out server.csr"
      "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -days 2 -extfile san.ext -out server.pem"
      "; openssl req -newkey rsa:2048 -nodes -subj /CN=cstopa-client "
      "-keyout client.key -out client.csr"
      "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -days 2 -out client.pem");
  const int rc = std::system(("/bin/sh -c '" + script + "'").c_str());
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(
        "openssl failed: ", ReadFileOrEmpty(dir + "/openssl.log")));
  }
  return absl::OkStatus();
}

}  // namespace cstopa::itest
