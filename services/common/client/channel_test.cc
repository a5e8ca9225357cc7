#include "services/common/client/channel.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/support/validate_service_config.h"
#include "gtest/gtest.h"
#include "services/common/client/call_context.h"
#include "services/common/client/echo_test_server.h"

namespace cstopa::common {
namespace {

using ::testing::AllOf;
using testing::EchoBackend;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestServer;

constexpr char kEchoService[] = "cstopa.clienttest.EchoService";

TEST(IsReadMethodTest, FollowsTheNamingRule) {
  for (const char* read :
       {"GetPerson", "BatchGetStates", "ListPersons", "SearchDocuments",
        "Search", "SummarizeMissions", "WatchEvents"}) {
    EXPECT_TRUE(IsReadMethod(read)) << read;
  }
  for (const char* write :
       {"CreatePerson", "UpdatePerson", "DeletePerson", "TransitionDocument",
        "Get", "Getaway", "Listen", "ListenForever", "getPerson", "Searcher",
        "search", ""}) {
    EXPECT_FALSE(IsReadMethod(write)) << write;
  }
}

TEST(ValidateTargetTest, AcceptsWhatGrpcDials) {
  for (const char* target :
       {"localhost:50051", "membership:8080", "10.0.0.7:443", "[::1]:50051",
        "dns:///membership.cstopa.svc.cluster.local:8080",
        "dns://8.8.8.8/membership:8080", "dns:membership:8080",
        "ipv4:127.0.0.1:80", "ipv4:127.0.0.1:80,127.0.0.2:81", "ipv6:[::1]:80",
        "ipv6:[::1]:80,[fe80::1]:81", "unix:relative.sock",
        "unix:///tmp/cstopa.sock", "unix-abstract:cstopa"}) {
    EXPECT_TRUE(ValidateTarget(target).ok())
        << target << ": " << ValidateTarget(target);
  }
}

TEST(ValidateTargetTest, RejectsWithAClearMessage) {
  struct Case {
    const char* target;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"", "empty"},
           {"localhost", "no port"},
           {"localhost:", "no port"},
           {"localhost:http", "not a number"},
           {"localhost:0", "between 1 and 65535"},
           {"localhost:70000", "between 1 and 65535"},
           {":8080", "no host"},
           {"::1:8080", "brackets"},
           {"[::1:8080", "']'"},
           {"[not-v6]:8080", "not an IPv6 address"},
           {"dns:///membership", "no port"},
           {"dns://membership:8080", "dns:///host:port"},
           {"ipv4:localhost:80", "not an IPv4 address"},
           {"ipv4:127.0.0.1", "no port"},
           {"ipv6:::1:80", "[address]:port"},
           {"unix:", "no socket path"},
           {"unix://host/path", "unix:///absolute/path"},
           {"xds:///membership", "unknown scheme \"xds\""},
           {"http://membership:8080", "unknown scheme"},
           {"membership 8080", "no port"},
           {"member ship:8080", "character ' '"},
       }) {
    absl::Status s = ValidateTarget(c.target);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.target;
    EXPECT_THAT(
        s.message(),
        AllOf(HasSubstr(absl::StrCat("\"", c.target, "\"")), HasSubstr(c.says)))
        << c.target;
  }
}

TEST(NewChannelTest, BadTargetIsAnErrorNotAChannel) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewChannel("membership");
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(channel.status().message(), HasSubstr("no port"));
}

TEST(NewChannelTest, UnknownServiceIsAnError) {
  ChannelOptions options;
  options.services = {"cstopa.nope.v1.NopeService"};
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewChannel("localhost:8080", options);
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(channel.status().message(),
              HasSubstr("cstopa.nope.v1.NopeService"));
  options.services.clear();
  options.read_methods = {"NoSlash"};
  EXPECT_EQ(NewChannel("localhost:8080", options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NewChannelTest, ClientCertificateNeedsItsKey) {
  ChannelOptions options;
  options.tls = TlsOptions{};
  options.tls->cert_chain = "-----BEGIN CERTIFICATE-----";
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewChannel("localhost:8080", options);
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(channel.status().message(), HasSubstr("private key"));
}

TEST(ServiceConfigJsonTest, RetriesTheReadsOnly) {
  ChannelOptions options;
  options.services = {kEchoService};
  options.read_methods = {"/grpc.health.v1.Health/Check"};
  absl::StatusOr<std::string> config = ServiceConfigJson(options);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(grpc::experimental::ValidateServiceConfigJSON(*config), "")
      << *config;
  EXPECT_THAT(*config, HasSubstr(R"("round_robin")"));
  EXPECT_THAT(*config, HasSubstr(R"("method":"GetEcho")"));
  EXPECT_THAT(*config, HasSubstr(R"("method":"ListEchoes")"));
  EXPECT_THAT(
      *config,
      HasSubstr(R"({"service":"grpc.health.v1.Health","method":"Check"})"));
  EXPECT_THAT(*config, Not(HasSubstr("CreateEcho")));
  EXPECT_THAT(*config, Not(HasSubstr("UpdateEcho")));
  EXPECT_THAT(
      *config,
      HasSubstr(R"("retryableStatusCodes":["UNAVAILABLE","CANCELLED"])"));
  EXPECT_THAT(*config, HasSubstr(R"("maxAttempts":3)"));

  options.retry.max_attempts = 1;  // off
  config = ServiceConfigJson(options);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(*config, Not(HasSubstr("retryPolicy")));

  options.retry.max_attempts = 6;
  EXPECT_EQ(ServiceConfigJson(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = absl::ZeroDuration();
  EXPECT_EQ(ServiceConfigJson(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Calls against a real server on port 0.
class ChannelRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<TestServer>(std::vector<grpc::Service*>{&backend_});
    ASSERT_GT(server_->port(), 0);
  }

  // A stub over a channel with `options` (Echo's reads retried by default).
  std::unique_ptr<clienttest::EchoService::Stub> Stub(
      ChannelOptions options = Options()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        NewChannel(server_->target(), options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return clienttest::EchoService::NewStub(*channel);
  }

  static ChannelOptions Options() {
    ChannelOptions options;
    options.services = {kEchoService};
    options.retry.initial_backoff = absl::Milliseconds(10);
    options.retry.max_backoff = absl::Milliseconds(50);
    return options;
  }

  static clienttest::EchoRequest Failing(const std::string& key, int attempts,
                                         grpc::StatusCode code) {
    clienttest::EchoRequest request;
    request.set_key(key);
    request.set_message("hello");
    request.set_fail_attempts(attempts);
    request.set_fail_code(code);
    return request;
  }

  EchoBackend backend_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ChannelRetryTest, ReadThatFirstGetsUnavailableIsRetried) {
  auto stub = Stub();
  {
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(20));
    clienttest::EchoResponse response;
    grpc::Status s = stub->GetEcho(
        &ctx, Failing("get", 1, grpc::StatusCode::UNAVAILABLE), &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.message(), "hello");
    EXPECT_EQ(response.attempt(), 2);
    EXPECT_EQ(backend_.Attempts("GetEcho", "get"), 2);
  }
  {
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(20));
    clienttest::EchoResponse response;
    grpc::Status s = stub->ListEchoes(
        &ctx, Failing("list", 2, grpc::StatusCode::UNAVAILABLE), &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.attempt(), 3);
  }
}

TEST_F(ChannelRetryTest, AttemptsAreBounded) {
  auto stub = Stub();
  grpc::ClientContext ctx;
  SetTimeout(&ctx, absl::Seconds(20));
  clienttest::EchoResponse response;
  grpc::Status s = stub->GetEcho(
      &ctx, Failing("always", 100, grpc::StatusCode::UNAVAILABLE), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(backend_.Attempts("GetEcho", "always"), 3);
}

TEST_F(ChannelRetryTest, WriteIsNotRetried) {
  auto stub = Stub();
  for (bool create : {true, false}) {
    SCOPED_TRACE(create ? "CreateEcho" : "UpdateEcho");
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(20));
    clienttest::EchoResponse response;
    clienttest::EchoRequest request =
        Failing("write", 1, grpc::StatusCode::UNAVAILABLE);
    grpc::Status s = create ? stub->CreateEcho(&ctx, request, &response)
                            : stub->UpdateEcho(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(backend_.Attempts(create ? "CreateEcho" : "UpdateEcho", "write"),
              1);
  }
}

TEST_F(ChannelRetryTest, OtherErrorsAreNotRetried) {
  auto stub = Stub();
  grpc::ClientContext ctx;
  SetTimeout(&ctx, absl::Seconds(20));
  clienttest::EchoResponse response;
  grpc::Status s = stub->GetEcho(
      &ctx, Failing("internal", 1, grpc::StatusCode::INTERNAL), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(backend_.Attempts("GetEcho", "internal"), 1);
}

TEST_F(ChannelRetryTest, ListedMethodIsRetriedAndRetriesCanBeOff) {
  ChannelOptions options = Options();
  options.read_methods = {"cstopa.clienttest.EchoService/UpdateEcho"};
  {
    auto stub = Stub(options);
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(20));
    clienttest::EchoResponse response;
    grpc::Status s = stub->UpdateEcho(
        &ctx, Failing("listed", 1, grpc::StatusCode::UNAVAILABLE), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(backend_.Attempts("UpdateEcho", "listed"), 2);
  }
  options.retry.max_attempts = 1;
  {
    auto stub = Stub(options);
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(20));
    clienttest::EchoResponse response;
    grpc::Status s = stub->GetEcho(
        &ctx, Failing("off", 1, grpc::StatusCode::UNAVAILABLE), &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(backend_.Attempts("GetEcho", "off"), 1);
  }
}

// The same server through each kind of target.
TEST(NewChannelTest, DialsEveryKindOfTarget) {
  EchoBackend backend;
  const std::string socket =
      absl::StrCat(::testing::TempDir(), "/client_test_", getpid(), ".sock");
  TestServer server({&backend}, /*telemetry=*/false, socket);
  ASSERT_GT(server.port(), 0);
  const std::string port = absl::StrCat(server.port());
  for (const std::string& target :
       {absl::StrCat("127.0.0.1:", port), absl::StrCat("localhost:", port),
        absl::StrCat("dns:///localhost:", port),
        absl::StrCat("ipv4:127.0.0.1:", port), absl::StrCat("unix:", socket),
        absl::StrCat("unix://", socket)}) {
    SCOPED_TRACE(target);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(target);
    ASSERT_TRUE(channel.ok()) << channel.status();
    auto stub = clienttest::EchoService::NewStub(*channel);
    grpc::ClientContext ctx;
    SetTimeout(&ctx, absl::Seconds(20));
    clienttest::EchoRequest request;
    request.set_message(target);
    clienttest::EchoResponse response;
    grpc::Status s = stub->GetEcho(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.message(), target);
  }
  unlink(socket.c_str());
}

TEST(NewChannelTest, KeepaliveChannelCalls) {
  EchoBackend backend;
  TestServer server({&backend});
  ASSERT_GT(server.port(), 0);
  ChannelOptions options;
  options.keepalive = KeepaliveOptions{};
  options.keepalive->time = absl::Seconds(10);
  options.keepalive->timeout = absl::Seconds(5);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewChannel(server.target(), options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = clienttest::EchoService::NewStub(*channel);
  grpc::ClientContext ctx;
  SetTimeout(&ctx, absl::Seconds(20));
  clienttest::EchoRequest request;
  request.set_message("kept alive");
  clienttest::EchoResponse response;
  grpc::Status s = stub->GetEcho(&ctx, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.message(), "kept alive");
}

TEST(ChannelPoolTest, OneChannelPerTarget) {
  ChannelPool pool({});
  absl::StatusOr<std::shared_ptr<grpc::Channel>> a = pool.Get("localhost:1");
  absl::StatusOr<std::shared_ptr<grpc::Channel>> b = pool.Get("localhost:1");
  absl::StatusOr<std::shared_ptr<grpc::Channel>> c = pool.Get("localhost:2");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_NE(a->get(), c->get());
  EXPECT_EQ(pool.Get("localhost").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cstopa::common
