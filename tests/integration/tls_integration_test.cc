// TLS and mutual TLS of the real server: certificates made with the openssl
// command for this run (a CA, a server certificate for 127.0.0.1, a client
// certificate), then calls over each kind of channel the client platform
// makes (common::TlsOptions).
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/client/channel.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/server_process.h"

namespace cstopa::itest {
namespace {

namespace v1 = cstopa::membership::v1;

std::string ReadAll(const std::string& path) { return ReadFileOrEmpty(path); }

// Certificates shared by the tests, made once in a temporary directory.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/cstopa-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    absl::Status made = MakeTestCertificates(*dir_);
    ASSERT_TRUE(made.ok()) << made;
  }

  static void TearDownTestSuite() {
    if (dir_ != nullptr) {
      (void)std::system(("rm -rf " + *dir_).c_str());
      delete dir_;
      dir_ = nullptr;
    }
  }

  static std::string File(const std::string& name) {
    return *dir_ + "/" + name;
  }

  ServerProcess::Options ServerOptions(bool require_client_cert) {
    ServerProcess::Options o;
    o.binary = CSTOPA_MEMBERSHIP_SERVER;
    o.extra_args = {"--tls_cert_file=" + File("server.pem"),
                    "--tls_key_file=" + File("server.key")};
    if (require_client_cert)
      o.extra_args.push_back("--tls_client_ca_file=" + File("ca.pem"));
    return o;
  }

  // GetState over a channel with `options`; the status of the call.
  static grpc::Status Call(const ServerProcess& server,
                           const common::ChannelOptions& options) {
    auto stub = v1::MembershipService::NewStub(server.channel(options));
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::GetStateRequest req;
    req.set_name("states/kz");
    v1::State state;
    grpc::Status s = stub->GetState(&ctx, req, &state);
    if (s.ok()) {
      EXPECT_EQ(state.name(), "states/kz");
    }
    return s;
  }

  // TLS trusting the test CA, with the client certificate or without.
  static common::ChannelOptions Trusting(bool with_client_cert) {
    common::ChannelOptions o;
    o.tls.emplace();
    o.tls->root_certs = ReadAll(File("ca.pem"));
    if (with_client_cert) {
      o.tls->private_key = ReadAll(File("client.key"));
      o.tls->cert_chain = ReadAll(File("client.pem"));
    }
    return o;
  }

  static std::string* dir_;
};

std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, ServesClientsThatTrustItsCaAndRefusesPlaintext) {
  ServerProcess server(ServerOptions(false));
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr();
  EXPECT_TRUE(Call(server, Trusting(false)).ok());
  const common::ChannelOptions plaintext;
  EXPECT_EQ(Call(server, plaintext).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A client that does not trust the server's CA does not connect.
  common::ChannelOptions other;
  other.tls.emplace();
  other.tls->root_certs = ReadAll(File("client.pem"));  // not a CA
  EXPECT_EQ(Call(server, other).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsNeedsAClientCertificateFromTheClientCa) {
  ServerProcess server(ServerOptions(true));
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr();
  EXPECT_TRUE(Call(server, Trusting(true)).ok());
  EXPECT_EQ(Call(server, Trusting(false)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, UnreadableCertificateStopsTheStartWithItsName) {
  ServerProcess::Options o = ServerOptions(false);
  o.extra_args[0] = "--tls_cert_file=" + File("missing.pem");
  ServerProcess server(o);
  ASSERT_TRUE(server.Launch().ok());
  auto exit = server.WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_FALSE(exit->exited && exit->code == 0) << exit->ToString();
  EXPECT_NE(server.ReadStderr().find("missing.pem"), std::string::npos)
      << server.ReadStderr();
}

}  // namespace
}  // namespace cstopa::itest
