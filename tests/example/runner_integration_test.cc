// The runner (services/common/server/server.h) as operators meet it, through
// real binaries on port 0: several services in one process, each on its own
// store; a service without a store; a drain that does not wait for idle
// clients.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "cstopa/notes/v1/notes.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"

namespace cstopa {
namespace {

using itest::ServerProcess;
using ::testing::HasSubstr;

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

grpc::Status CreateNote(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& id) {
  auto stub = notes::v1::NotesService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", absl::StrCat("Bearer ", itest::kEditorKey));
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  notes::v1::CreateNoteRequest req;
  req.set_note_id(id);
  req.mutable_note()->set_title(id);
  notes::v1::Note out;
  return stub->CreateNote(&ctx, req, &out);
}

TEST(RunnerTest, SeveralServicesShareOnePortEachOnItsOwnStore) {
  ServerProcess::Options options;
  options.binary = CSTOPA_EXAMPLE_SUITE_SERVER;
  options.store_flag = false;
  options.seed = "";
  options.env = {{"CSTOPA_NOTES_STORE", "sqlite://{dir}/notes.db"},
                 {"CSTOPA_MEMBERSHIP_STORE", "sqlite://{dir}/m.db"}};
  options.extra_args = {"--membership_seed=builtin", "--notes_seed=none"};
  ServerProcess suite(options);
  ASSERT_TRUE(suite.Start().ok()) << suite.ReadStderr();

  EXPECT_TRUE(CreateNote(suite.channel(), "hello").ok());
  auto membership = membership::v1::MembershipService::NewStub(suite.channel());
  grpc::ClientContext ctx;
  membership::v1::GetStateRequest get;
  get.set_name("states/kz");  // from membership's built-in seed
  membership::v1::State state;
  EXPECT_TRUE(membership->GetState(&ctx, get, &state).ok());
  EXPECT_TRUE(FileExists(suite.dir() + "/notes.db"));
  EXPECT_TRUE(FileExists(suite.dir() + "/m.db"));
}

TEST(RunnerTest, SeveralServicesRefuseTheSingleServiceStoreFlag) {
  ServerProcess::Options options;
  options.binary = CSTOPA_EXAMPLE_SUITE_SERVER;
  options.seed = "";  // --store is still passed: refused
  ServerProcess suite(options);
  ASSERT_TRUE(suite.Launch().ok());
  auto exit = suite.WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 2);
  EXPECT_THAT(suite.ReadStderr(), HasSubstr("store"));
}

TEST(RunnerTest, AServiceWithoutAStoreHasNoStoreFlagsAndServes) {
  ServerProcess::Options options;
  options.binary = CSTOPA_EXAMPLE_STORELESS_SERVER;
  options.store_flag = false;
  options.seed = "";
  ServerProcess server(options);
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr();
  EXPECT_TRUE(CreateNote(server.channel(), "kept-in-memory").ok());

  options.extra_args = {"--store=sqlite::memory:"};
  ServerProcess with_store(options);
  ASSERT_TRUE(with_store.Launch().ok());
  auto exit = with_store.WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 2) << with_store.ReadStderr();
}

// An HTTP/2 connection that says hello and then nothing: a client that keeps
// its connection open, with no call in flight, and never answers the
// server's goodbye.
class SilentConnection {
 public:
  explicit SilentConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr),
                         sizeof(addr)) == 0;
    // The client preface, then an empty SETTINGS frame.
    static constexpr char kHello[] =
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
    connected_ = connected_ &&
                 write(fd_, kHello, sizeof(kHello) - 1) ==
                     static_cast<ssize_t>(sizeof(kHello) - 1);
  }
  ~SilentConnection() { close(fd_); }
  bool connected() const { return connected_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// A client that keeps its connection open without a call in flight must not
// hold up a drain: the server stops as soon as no call is open, not when
// the client hangs up or --drain_seconds (here 60) runs out.
TEST(RunnerTest, SigtermWithOnlyIdleClientsStopsAtOnce) {
  ServerProcess::Options options;
  options.binary = CSTOPA_NOTES_SERVER;
  options.seed = "";
  options.drain_seconds = 60;
  ServerProcess server(options);
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr();
  ASSERT_TRUE(CreateNote(server.channel(), "before-drain").ok());
  SilentConnection silent(server.grpc_port());
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(server.Signal(SIGTERM).ok());
  // Without closing idle connections the server would wait for the silent
  // client's goodbye: gRPC gives up on it after 20 s (the drain allows 60).
  auto exit = server.WaitForExit(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << "still running: the drain waits for the idle "
                            "client";
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 0);
}

}  // namespace
}  // namespace cstopa
