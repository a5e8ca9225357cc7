// What the integration tests share on the client side, beyond the client
// platform (services/common/client) they call the servers with: contexts
// with a deadline and a key, checks of error details as they come over the
// wire, bounded waits, and health checks.
//
//   grpc::ClientContext ctx;
//   Prepare(&ctx, kEditorKey);
//   grpc::Status s = stub->UpdatePerson(&ctx, request, &out);
//   Details d = ExpectError(s, grpc::StatusCode::INVALID_ARGUMENT,
//                           "INVALID_ARGUMENT");
//   EXPECT_THAT(d.bad_fields, Contains("person.display_name"));
//
//   ASSERT_TRUE(WaitFor([&] { return MetricsShowTheCall(); }))
//       << "the call was never counted";
#ifndef CSTOPA_TESTS_INTEGRATION_CLIENT_HELPERS_H_
#define CSTOPA_TESTS_INTEGRATION_CLIENT_HELPERS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace cstopa::itest {

// The deadline of a test's call unless it says otherwise: long enough for a
// loaded machine; reached only when the server hangs.
inline constexpr absl::Duration kCallDeadline = absl::Seconds(20);

// How long a test waits for something that must happen (a server noticing
// a signal, a database coming back): reached only when it never does.
inline constexpr absl::Duration kHangTimeout = absl::Seconds(60);

// "NOT_FOUND" for NOT_FOUND.
const char* CodeName(grpc::StatusCode code);
// "NOT_FOUND: persons/x does not exist".
std::string Describe(const grpc::Status& s);

// A deadline `deadline` from now and, when `key` is not empty, the API key
// (`authorization: Bearer <key>`).
void Prepare(grpc::ClientContext* ctx, absl::string_view key = "",
             absl::Duration deadline = kCallDeadline);

// The google.rpc details of a failed call, decoded by the client platform
// (common::FromGrpcStatus).
struct Details {
  absl::Status status;  // the call's status with its details as payloads
  std::optional<google::rpc::ErrorInfo> info;
  std::optional<google::rpc::BadRequest> bad_request;
  std::vector<std::string> bad_fields;  // BadRequest's field paths, in order
  std::optional<google::rpc::PreconditionFailure> precondition;
};

// The details of `s`, checking (EXPECT) the wire format every server of the
// suite sends: binary details that are a google.rpc.Status with the call's
// code and message.
Details DetailsOf(const grpc::Status& s);

// Checks (EXPECT) that `s` failed with `code`, with details as DetailsOf
// checks them, holding an ErrorInfo of the cstopa.org domain whose reason
// is `reason` (any non-empty reason when `reason` is empty). Returns the
// details for further checks.
Details ExpectError(const grpc::Status& s, grpc::StatusCode code,
                    absl::string_view reason);

// Polls `done` every `poll` until it returns true (true) or `timeout` has
// passed (false, after one last try).
bool WaitFor(absl::FunctionRef<bool()> done,
             absl::Duration timeout = kHangTimeout,
             absl::Duration poll = absl::Milliseconds(10));

using HealthStatus = ::grpc::health::v1::HealthCheckResponse;

// grpc.health.v1 Check of `service` ("" for the whole server).
grpc::Status CheckHealth(grpc::health::v1::Health::Stub* health,
                         const std::string& service, HealthStatus* out,
                         absl::Duration deadline = absl::Seconds(5));

// Polls the whole server's health until it is `want`: the time it first
// was, or nullopt when it still was not by `deadline`. `*last` describes
// the last answer.
std::optional<absl::Time> WaitForHealth(grpc::health::v1::Health::Stub* health,
                                        HealthStatus::ServingStatus want,
                                        absl::Time deadline, std::string* last);

// Makes, with the openssl command, a CA (ca.pem, ca.key), a server
// certificate for 127.0.0.1 and localhost signed by it (server.pem,
// server.key) and a client certificate (client.pem, client.key) in `dir`.
// On failure the error holds openssl's output.
absl::Status MakeTestCertificates(const std::string& dir);

// The contents of the file at `path` ("" when it cannot be read).
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace cstopa::itest

#endif  // CSTOPA_TESTS_INTEGRATION_CLIENT_HELPERS_H_
