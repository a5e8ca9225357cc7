#include "services/common/server/admin_http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace cstopa::common {
namespace {

// After the response is written the connection lingers this long at most,
// reading what the client still sends, so that closing it does not reset the
// connection before the client has read the response.
constexpr absl::Duration kLingerTimeout = absl::Seconds(1);

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string BuildResponse(const AdminHttpServer::Response& r, bool head_only,
                          absl::string_view extra_headers = "") {
  std::string out = absl::StrCat(
      "HTTP/1.1 ", r.status, " ", ReasonPhrase(r.status),
      "\r\nContent-Type: ", r.content_type,
      "\r\nContent-Length: ", r.body.size(),
      "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff"
      "\r\nConnection: close\r\n",
      extra_headers, "\r\n");
  if (!head_only) out += r.body;
  return out;
}

std::string PlainResponse(int status, absl::string_view text,
                          absl::string_view extra_headers = "") {
  AdminHttpServer::Response r;
  r.status = status;
  r.body = absl::StrCat(text, "\n");
  return BuildResponse(r, /*head_only=*/false, extra_headers);
}

// The end of the request head (just past the blank line), or npos.
size_t HeadEnd(const std::string& in) {
  size_t crlf = in.find("\r\n\r\n");
  size_t lf = in.find("\n\n");
  if (crlf == std::string::npos && lf == std::string::npos) {
    return std::string::npos;
  }
  if (lf == std::string::npos || (crlf != std::string::npos && crlf < lf)) {
    return crlf + 4;
  }
  return lf + 2;
}

std::string ErrnoText(int err) { return std::strerror(err); }

struct Connection {
  enum class State { kReading, kWriting, kLingering };
  int fd = -1;
  State state = State::kReading;
  std::string in;
  std::string out;
  size_t sent = 0;
  absl::Time deadline;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(
    const std::string& address, std::map<std::string, Handler> routes) {
  return Start(address, std::move(routes), Options());
}

absl::StatusOr<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(
    const std::string& address, std::map<std::string, Handler> routes,
    const Options& options) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin HTTP address \"", address, "\": ", why,
                     " (use host:port, e.g. 127.0.0.1:9090 or [::1]:0)"));
  };
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("no host:port");
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  if (host.front() == '[' || host.back() == ']') {
    if (host.size() < 3 || host.front() != '[' || host.back() != ']') {
      return bad("unbalanced brackets");
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return bad("IPv6 addresses need brackets");
  }
  int port_number = 0;
  if (!absl::SimpleAtoi(port_text, &port_number) || port_number < 0 ||
      port_number > 65535) {
    return bad("port must be 0-65535");
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int gai = getaddrinfo(host.c_str(), std::to_string(port_number).c_str(),
                        &hints, &found);
  if (gai != 0) {
    return bad(absl::StrCat("cannot resolve host: ", gai_strerror(gai)));
  }
  int listen_fd = -1;
  std::string error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = ErrnoText(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
      error = ErrnoText(errno);
      close(fd);
      continue;
    }
    listen_fd = fd;
    break;
  }
  freeaddrinfo(found);
  if (listen_fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on admin HTTP address \"", address, "\": ", error));
  }

  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  int port = 0;
  if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    if (bound.ss_family == AF_INET) {
      port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    } else if (bound.ss_family == AF_INET6) {
      port = ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    }
  }
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    std::string why = ErrnoText(errno);
    close(listen_fd);
    return absl::UnavailableError(
        absl::StrCat("admin HTTP server on \"", address, "\": eventfd: ", why));
  }
  std::unique_ptr<AdminHttpServer> server(new AdminHttpServer(
      listen_fd, wake_fd, port, std::move(routes), options));
  {
    absl::MutexLock lock(&server->mu_);
    server->thread_ = std::thread([s = server.get()] { s->Run(); });
  }
  return server;
}

AdminHttpServer::AdminHttpServer(int listen_fd, int wake_fd, int port,
                                 std::map<std::string, Handler> routes,
                                 const Options& options)
    : listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      port_(port),
      routes_(std::move(routes)),
      options_(options) {}

AdminHttpServer::~AdminHttpServer() { Shutdown(); }

void AdminHttpServer::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  uint64_t one = 1;
  // Cannot fail short of a counter overflow; the thread wakes either way.
  ssize_t written = write(wake_fd_, &one, sizeof(one));
  (void)written;
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_fd_);
  listen_fd_ = -1;
  wake_fd_ = -1;
}

std::string AdminHttpServer::Respond(absl::string_view head) const {
  size_t eol = head.find('\n');
  absl::string_view line = head.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() ||
      (parts[2] != "HTTP/1.0" && parts[2] != "HTTP/1.1")) {
    return PlainResponse(400, "bad request");
  }
  absl::string_view method = parts[0];
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    return PlainResponse(405, "method not allowed", "Allow: GET, HEAD\r\n");
  }
  absl::string_view path = parts[1];
  path = path.substr(0, path.find_first_of("?#"));
  auto it = routes_.find(std::string(path));
  if (it == routes_.end()) return PlainResponse(404, "not found");
  return BuildResponse(it->second(), head_only);
}

void AdminHttpServer::Run() {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  char buf[4096];
  // Set when accept() ran out of descriptors: the listening socket stays
  // readable, so it is left out of poll() for a moment instead of spinning.
  absl::Time accept_paused_until = absl::InfinitePast();
  for (;;) {
    absl::Time now = absl::Now();
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    bool accepting =
        conns.size() < options_.max_connections && now >= accept_paused_until;
    fds.push_back({listen_fd_, static_cast<short>(accepting ? POLLIN : 0), 0});
    absl::Time next_deadline = absl::InfiniteFuture();
    if (now < accept_paused_until) next_deadline = accept_paused_until;
    for (const Connection& c : conns) {
      short events = c.state == Connection::State::kWriting ? POLLOUT : POLLIN;
      fds.push_back({c.fd, events, 0});
      next_deadline = std::min(next_deadline, c.deadline);
    }
    int timeout_ms = -1;
    if (next_deadline != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(
                 absl::Ceil(next_deadline - now, absl::Milliseconds(1)))));
    }
    int ready = poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) break;  // cannot happen with valid fds
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) break;  // Shutdown

    now = absl::Now();
    // Service existing connections (their pollfds follow the first two).
    for (size_t i = 0; i < conns.size() && ready > 0; ++i) {
      Connection& c = conns[i];
      if (fds[i + 2].revents == 0) continue;
      bool done = false;
      if (c.state == Connection::State::kReading) {
        for (;;) {
          ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
          if (n > 0) {
            c.in.append(buf, static_cast<size_t>(n));
            if (c.in.size() > options_.max_request_bytes) break;
            continue;
          }
          if (n < 0 && errno == EINTR) continue;
          if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) done = true;
          break;
        }
        size_t end = HeadEnd(c.in);
        if (end != std::string::npos && end <= options_.max_request_bytes) {
          c.out = Respond(absl::string_view(c.in).substr(0, end));
          c.state = Connection::State::kWriting;
          done = false;  // answer even if the client half-closed
        } else if (c.in.size() > options_.max_request_bytes) {
          c.out = PlainResponse(431, "request too large");
          c.state = Connection::State::kWriting;
          done = false;
        }
      }
      if (c.state == Connection::State::kWriting && !done) {
        while (c.sent < c.out.size()) {
          ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent,
                           MSG_NOSIGNAL);
          if (n > 0) {
            c.sent += static_cast<size_t>(n);
            continue;
          }
          if (n < 0 && errno == EINTR) continue;
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          done = true;
          break;
        }
        if (!done && c.sent == c.out.size()) {
          shutdown(c.fd, SHUT_WR);
          c.state = Connection::State::kLingering;
          c.deadline = std::min(c.deadline, now + kLingerTimeout);
          c.in.clear();
          c.out.clear();
        }
      } else if (c.state == Connection::State::kLingering && !done) {
        for (;;) {
          ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
          if (n > 0) continue;
          if (n < 0 && errno == EINTR) continue;
          if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) done = true;
          break;
        }
      }
      if (done) {
        close(c.fd);
        c.fd = -1;
      }
    }
    // Drop finished and expired connections.
    for (Connection& c : conns) {
      if (c.fd >= 0 && now >= c.deadline) {
        close(c.fd);
        c.fd = -1;
      }
    }
    conns.erase(std::remove_if(conns.begin(), conns.end(),
                               [](const Connection& c) { return c.fd < 0; }),
                conns.end());

    // Accept new connections.
    if (accepting && (fds[1].revents & POLLIN) != 0) {
      while (conns.size() < options_.max_connections) {
        int fd =
            accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
              errno == ENOMEM) {
            accept_paused_until = now + absl::Milliseconds(100);
          }
          break;
        }
        Connection c;
        c.fd = fd;
        c.deadline = now + options_.io_timeout;
        conns.push_back(std::move(c));
      }
    }
  }
  for (Connection& c : conns) close(c.fd);
}

}  // namespace cstopa::common
