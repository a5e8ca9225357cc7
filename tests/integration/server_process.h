// A service binary run as a child process, for integration tests.
//
// Each ServerProcess owns a fresh temporary directory holding the SQLite
// store, an API key file (one editor and one admin key), the port file and
// the child's stdout/stderr. Start() launches the binary on port 0 and waits,
// bounded, until the port file appears; Restart() runs it again on the same
// store. Every wait has a deadline and the destructor SIGKILLs a child that is
// still running, so a failing test never hangs or leaks a server.
//
//   ServerProcess::Options options;
//   options.binary = CSTOPA_MEMBERSHIP_SERVER;
//   ServerProcess server(options);
//   ASSERT_TRUE(server.Start().ok());
//   auto stub = v1::MembershipService::NewStub(server.channel());
//   ...
//   server.Signal(SIGTERM);
//   absl::StatusOr<ExitInfo> exit = server.WaitForExit(absl::Seconds(10));
#ifndef CSTOPA_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define CSTOPA_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "services/common/client/channel.h"

namespace cstopa::itest {

// The raw API keys the key file grants.
inline constexpr char kEditorKey[] = "itest-editor-key-0123456789";
inline constexpr char kAdminKey[] = "itest-admin-key-0123456789";

// How a child ended.
struct ExitInfo {
  bool exited = false;  // exited normally: `code` is valid
  int code = -1;
  int signal = 0;  // killed by this signal when !exited
  std::string ToString() const;
};

class ServerProcess {
 public:
  struct Options {
    std::string binary;  // path of the server executable
    std::string listen = "127.0.0.1:0";
    std::string admin_listen = "127.0.0.1:0";
    std::string seed = "builtin";  // "": no --seed flag
    // --access_log; "dir" means access.log in the temporary directory (see
    // access_log_path()).
    std::string access_log = "off";
    int drain_seconds = 5;
    std::string page_token_secret = "itest-page-token-secret";
    // Appended after the flags above.
    std::vector<std::string> extra_args;
    // When false, no --store flag is passed: the server falls back to
    // CSTOPA_STORE or its default (store_path() is then not the store).
    bool store_flag = true;
    // Environment variables set (or replaced) for the child, on top of the
    // test's own environment. "{dir}" in a value stands for dir().
    std::vector<std::pair<std::string, std::string>> env;
  };

  explicit ServerProcess(Options options);
  ~ServerProcess();  // SIGKILLs a running child and removes the directory

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Launches the binary and waits up to `timeout` for the port file. Fails
  // (with the tail of the child's stderr) if the child exits first or the
  // file does not appear in time; in the latter case the child is killed.
  absl::Status Start(absl::Duration timeout = absl::Seconds(20));

  // Launches the binary without waiting for anything (for start-up failure
  // tests); follow with WaitForExit(), or with WaitForPortFile() to start
  // several servers together (Start() is Launch() then WaitForPortFile()).
  absl::Status Launch();

  // Waits up to `timeout` for the port file of the child Launch() started,
  // as Start() does (same failures; the child is killed on timeout).
  absl::Status WaitForPortFile(absl::Duration timeout = absl::Seconds(20));

  // Start() again after the previous child has exited (or been killed), on
  // the same store and key file. Kills a child that still runs.
  absl::Status Restart(absl::Duration timeout = absl::Seconds(20));

  // Sends `sig` to the child. FAILED_PRECONDITION when none runs. For
  // SIGSTOP and SIGCONT it returns once every thread of the child has
  // stopped or resumed (kill() alone returns before that, and a call sent
  // in the gap may still be answered); DEADLINE_EXCEEDED after 5 s.
  absl::Status Signal(int sig);

  // Waits up to `timeout` for the child to end and reaps it.
  // DEADLINE_EXCEEDED if it still runs (it is left running).
  absl::StatusOr<ExitInfo> WaitForExit(absl::Duration timeout);

  // SIGKILL and reap (bounded); no-op when nothing runs.
  void Kill();

  bool running() const { return pid_ > 0; }
  int grpc_port() const { return grpc_port_; }
  int admin_port() const { return admin_port_; }
  std::string grpc_target() const;
  // A fresh channel to the gRPC port, made by the client platform
  // (common::NewChannel) with `options`: plaintext by default, every call
  // with a request id and a trace, and no retries (the tests see each
  // answer of the server as it is). An invalid target (a server that never
  // started) is reported on stderr; the channel then fails every call.
  std::shared_ptr<grpc::Channel> channel(
      const common::ChannelOptions& options = {}) const;

  const std::string& dir() const { return dir_; }
  std::string store_path() const { return dir_ + "/m.db"; }
  std::string stderr_path() const { return dir_ + "/server.stderr"; }
  std::string access_log_path() const { return dir_ + "/access.log"; }
  // The child's stderr so far (all runs), or its last `max_bytes`.
  std::string ReadStderr(size_t max_bytes = 1 << 20) const;
  // The access log when Options::access_log is "dir"; "" otherwise.
  std::string ReadAccessLog() const;

 private:
  std::vector<std::string> Args() const;
  // The child's environment: the test's, with Options::env applied.
  std::vector<std::string> Environment() const;

  Options options_;
  std::string dir_;
  pid_t pid_ = -1;
  int grpc_port_ = 0;
  int admin_port_ = 0;
};

// GET `path` from 127.0.0.1:`port` with a plain HTTP/1.0 request; returns the
// whole response (status line, headers and body). Bounded by `timeout`.
absl::StatusOr<std::string> HttpGet(int port, absl::string_view path,
                                    absl::Duration timeout = absl::Seconds(5));

}  // namespace cstopa::itest

#endif  // CSTOPA_TESTS_INTEGRATION_SERVER_PROCESS_H_
