#include "tests/integration/server_process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "services/common/api/auth.h"

namespace cstopa::itest {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool WriteWholeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return static_cast<bool>(out);
}

// The number after `"key":` in a flat JSON object, or -1.
int JsonInt(absl::string_view json, absl::string_view key) {
  std::string needle = absl::StrCat("\"", key, "\":");
  size_t at = json.find(needle);
  if (at == absl::string_view::npos) return -1;
  size_t begin = at + needle.size();
  while (begin < json.size() && json[begin] == ' ') ++begin;
  size_t end = begin;
  while (end < json.size() && json[end] >= '0' && json[end] <= '9') ++end;
  int value = 0;
  if (end == begin ||
      !absl::SimpleAtoi(json.substr(begin, end - begin), &value))
    return -1;
  return value;
}

ExitInfo FromWaitStatus(int wstatus) {
  ExitInfo info;
  if (WIFEXITED(wstatus)) {
    info.exited = true;
    info.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    info.signal = WTERMSIG(wstatus);
  }
  return info;
}

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(
      base != nullptr && *base != '\0' ? base : "/tmp", "/cstopa-itest-XXXXXX");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) return "";
  return std::string(buf.data());
}

}  // namespace

std::string ExitInfo::ToString() const {
  if (exited) return absl::StrCat("exited with code ", code);
  if (signal != 0)
    return absl::StrCat("killed by signal ", signal, " (", strsignal(signal),
                        ")");
  return "ended in an unknown way";
}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)) {
  dir_ = MakeTempDir();
  if (dir_.empty()) return;
  WriteWholeFile(
      dir_ + "/keys.txt",
      absl::StrCat("# integration test keys\n", common::HashApiKey(kEditorKey),
                   " editor itest editor\n", common::HashApiKey(kAdminKey),
                   " admin itest admin\n"));
}

ServerProcess::~ServerProcess() {
  Kill();
  const char* keep = std::getenv("CSTOPA_ITEST_KEEP_DIR");
  if (!dir_.empty() && (keep == nullptr || *keep == '\0')) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::vector<std::string> ServerProcess::Args() const {
  std::vector<std::string> args = {
      options_.binary,
      absl::StrCat("--listen=", options_.listen),
      absl::StrCat("--admin_listen=", options_.admin_listen),
      absl::StrCat("--port_file=", dir_, "/ports.json"),
      absl::StrCat("--api_keys_file=", dir_, "/keys.txt"),
      absl::StrCat("--page_token_secret=", options_.page_token_secret),
      absl::StrCat("--access_log=", options_.access_log == "dir"
                                        ? access_log_path()
                                        : options_.access_log),
      absl::StrCat("--drain_seconds=", options_.drain_seconds),
  };
  if (!options_.seed.empty())
    args.push_back(absl::StrCat("--seed=", options_.seed));
  if (options_.store_flag)
    args.push_back(absl::StrCat("--store=sqlite://", store_path()));
  args.insert(args.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  return args;
}

std::vector<std::string> ServerProcess::Environment() const {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view entry(*e);
    bool replaced = false;
    for (const auto& [name, value] : options_.env) {
      replaced |= absl::StartsWith(entry, absl::StrCat(name, "="));
    }
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [name, value] : options_.env) {
    env.push_back(
        absl::StrCat(name, "=", absl::StrReplaceAll(value, {{"{dir}", dir_}})));
  }
  return env;
}

absl::Status ServerProcess::Launch() {
  if (dir_.empty())
    return absl::InternalError("could not create a temporary directory");
  if (running())
    return absl::FailedPreconditionError("the server is already running");
  grpc_port_ = 0;
  admin_port_ = 0;
  std::remove((dir_ + "/ports.json").c_str());

  // Everything the child needs is prepared before fork(): after it, only
  // async-signal-safe calls.
  std::vector<std::string> args = Args();
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = Environment();
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int out = open((dir_ + "/server.stdout").c_str(),
                 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = open(stderr_path().c_str(),
                 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || in < 0) {
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    if (in >= 0) close(in);
    return absl::InternalError(
        absl::StrCat("cannot open the child's files: ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // The child dies with the test process, even if it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD})
      sigaction(s, &dfl, nullptr);
    close_range(3, ~0U, 0);
    execve(argv[0], argv.data(), envp.data());
    static const char kMsg[] = "server_process: execve failed\n";
    ssize_t ignored = write(2, kMsg, sizeof(kMsg) - 1);
    (void)ignored;
    _exit(127);
  }
  int fork_errno = errno;
  close(out);
  close(err);
  close(in);
  if (pid < 0)
    return absl::InternalError(
        absl::StrCat("fork failed: ", std::strerror(fork_errno)));
  pid_ = pid;
  return absl::OkStatus();
}

absl::Status ServerProcess::Start(absl::Duration timeout) {
  if (auto s = Launch(); !s.ok()) return s;
  return WaitForPortFile(timeout);
}

absl::Status ServerProcess::Restart(absl::Duration timeout) {
  Kill();
  return Start(timeout);
}

absl::Status ServerProcess::WaitForPortFile(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string path = dir_ + "/ports.json";
  while (true) {
    int wstatus = 0;
    pid_t r = waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return absl::UnavailableError(absl::StrCat(
          "the server ", FromWaitStatus(wstatus).ToString(),
          " before writing its port file; stderr:\n", ReadStderr(4000)));
    }
    std::string json;
    if (ReadWholeFile(path, &json)) {
      int grpc = JsonInt(json, "grpc_port");
      int admin = JsonInt(json, "admin_port");
      if (grpc > 0 && admin >= 0) {
        grpc_port_ = grpc;
        admin_port_ = admin;
        return absl::OkStatus();
      }
    }
    if (absl::Now() > deadline) break;
    absl::SleepFor(kPollInterval);
  }
  std::string tail = ReadStderr(4000);
  Kill();
  return absl::DeadlineExceededError(absl::StrCat("no port file after ",
                                                  absl::FormatDuration(timeout),
                                                  "; stderr:\n", tail));
}

absl::Status ServerProcess::Signal(int sig) {
  if (!running()) return absl::FailedPreconditionError("no server is running");
  if (kill(pid_, sig) != 0)
    return absl::InternalError(
        absl::StrCat("kill(", pid_, ", ", sig, "): ", std::strerror(errno)));
  if (sig != SIGSTOP && sig != SIGCONT) return absl::OkStatus();
  // The parent hears of a stop once the whole thread group has stopped.
  // Only stop or continue reports are asked for, so an exit is not reaped.
  const int which = sig == SIGSTOP ? WSTOPPED : WCONTINUED;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (true) {
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid_), &info, which | WNOHANG) != 0)
      return absl::InternalError(
          absl::StrCat("waitid(", pid_, "): ", std::strerror(errno)));
    if (info.si_pid == pid_) return absl::OkStatus();
    if (absl::Now() > deadline)
      return absl::DeadlineExceededError(
          absl::StrCat("pid ", pid_, " did not ",
                       sig == SIGSTOP ? "stop" : "resume", " within 5 s"));
    absl::SleepFor(absl::Milliseconds(1));
  }
}

absl::StatusOr<ExitInfo> ServerProcess::WaitForExit(absl::Duration timeout) {
  if (!running()) return absl::FailedPreconditionError("no server is running");
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int wstatus = 0;
    pid_t r = waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return FromWaitStatus(wstatus);
    }
    if (r < 0 && errno != EINTR) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("waitpid: ", std::strerror(errno)));
    }
    if (absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "the server still runs after ", absl::FormatDuration(timeout)));
}

void ServerProcess::Kill() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  // SIGKILL cannot be ignored; the bound only guards against a stuck kernel.
  if (!WaitForExit(absl::Seconds(10)).ok()) pid_ = -1;
}

std::string ServerProcess::grpc_target() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}

std::shared_ptr<grpc::Channel> ServerProcess::channel(
    const common::ChannelOptions& options) const {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      common::NewChannel(grpc_target(), options);
  if (channel.ok()) return *std::move(channel);
  std::fprintf(stderr, "ServerProcess::channel: %s\n",
               channel.status().ToString().c_str());
  // gRPC's own channel to the same target: every call fails (UNAVAILABLE).
  return grpc::CreateChannel(grpc_target(), grpc::InsecureChannelCredentials());
}

std::string ServerProcess::ReadStderr(size_t max_bytes) const {
  std::string all;
  if (!ReadWholeFile(stderr_path(), &all)) return "";
  if (all.size() > max_bytes) all = all.substr(all.size() - max_bytes);
  return all;
}

std::string ServerProcess::ReadAccessLog() const {
  std::string all;
  if (options_.access_log != "dir" || !ReadWholeFile(access_log_path(), &all))
    return "";
  return all;
}

absl::StatusOr<std::string> HttpGet(int port, absl::string_view path,
                                    absl::Duration timeout) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  struct timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("connect to port ", port, ": ", std::strerror(e)));
  }
  std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      int e = errno;
      close(fd);
      return absl::UnavailableError(absl::StrCat("send: ", std::strerror(e)));
    }
    sent += static_cast<size_t>(n);
  }
  const absl::Time deadline = absl::Now() + timeout;
  std::string response;
  char buf[8192];
  while (absl::Now() < deadline) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) {
      close(fd);
      return response;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return absl::DeadlineExceededError(absl::StrCat(
          "recv after ", response.size(), " bytes: ", std::strerror(e)));
    }
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return absl::DeadlineExceededError(
      absl::StrCat("no end of response within ", absl::FormatDuration(timeout),
                   " (", response.size(), " bytes read)"));
}

}  // namespace cstopa::itest
