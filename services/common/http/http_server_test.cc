#include "services/common/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cstopa::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kTimeout = absl::Seconds(10);

// A plain-socket HTTP/1.1 client, enough to see the bytes the server sends.
class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n =
          send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until `buffer_` holds `n` bytes; false on EOF or timeout.
  bool Fill(size_t n, absl::Duration timeout = kTimeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (buffer_.size() < n) {
      if (!ReadSome(deadline)) return false;
    }
    return true;
  }

  // Reads until `buffer_` contains `token`; its end offset, or npos.
  size_t FillUntil(const std::string& token,
                   absl::Duration timeout = kTimeout) {
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      size_t at = buffer_.find(token);
      if (at != std::string::npos) return at + token.size();
      if (!ReadSome(deadline)) return std::string::npos;
    }
  }

  // True when the server closes the connection within `timeout` (whatever
  // it still sends is kept).
  bool WaitEof(absl::Duration timeout = kTimeout) {
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      if (!ReadSome(deadline)) return eof_;
    }
  }

  struct Response {
    int status = 0;
    std::string head;                            // status line and headers
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::vector<std::string> chunks;
  };

  // Reads one response. `head_request`: the answer to HEAD has no body.
  std::optional<Response> Read(bool head_request = false,
                               absl::Duration timeout = kTimeout) {
    std::optional<Response> head = ReadHead(timeout);
    if (!head.has_value()) return std::nullopt;
    Response r = std::move(*head);
    if (head_request || r.status == 204 || r.status == 304) return r;
    auto te = r.headers.find("transfer-encoding");
    if (te != r.headers.end() && te->second == "chunked") {
      for (;;) {
        std::optional<std::string> chunk = ReadChunk(timeout);
        if (!chunk.has_value()) return std::nullopt;
        if (chunk->empty()) break;
        r.body += *chunk;
        r.chunks.push_back(*chunk);
      }
      return r;
    }
    auto cl = r.headers.find("content-length");
    if (cl != r.headers.end()) {
      size_t n = 0;
      if (!absl::SimpleAtoi(cl->second, &n) || !Fill(n, timeout)) {
        return std::nullopt;
      }
      r.body = buffer_.substr(0, n);
      buffer_.erase(0, n);
      return r;
    }
    WaitEof(timeout);  // body up to the end of the connection
    r.body = std::move(buffer_);
    buffer_.clear();
    return r;
  }

  std::optional<Response> ReadHead(absl::Duration timeout = kTimeout) {
    size_t end = FillUntil("\r\n\r\n", timeout);
    if (end == std::string::npos) return std::nullopt;
    Response r;
    r.head = buffer_.substr(0, end);
    buffer_.erase(0, end);
    std::vector<std::string> lines =
        absl::StrSplit(r.head, "\r\n", absl::SkipEmpty());
    if (lines.empty()) return std::nullopt;
    std::vector<std::string> status = absl::StrSplit(lines[0], ' ');
    if (status.size() < 2 || !absl::SimpleAtoi(status[1], &r.status)) {
      return std::nullopt;
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) return std::nullopt;
      r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    return r;
  }

  // One chunk of a chunked body; "" for the last one.
  std::optional<std::string> ReadChunk(absl::Duration timeout = kTimeout) {
    size_t end = FillUntil("\r\n", timeout);
    if (end == std::string::npos) return std::nullopt;
    size_t size = 0;
    if (!absl::SimpleHexAtoi(buffer_.substr(0, end - 2), &size)) {
      return std::nullopt;
    }
    buffer_.erase(0, end);
    if (!Fill(size + 2, timeout)) return std::nullopt;
    std::string chunk = buffer_.substr(0, size);
    buffer_.erase(0, size + 2);
    return chunk;
  }

  const std::string& buffer() const { return buffer_; }

 private:
  bool ReadSome(absl::Time deadline) {
    int left =
        static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return false;
    char buf[8192];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

std::unique_ptr<HttpServer> StartServer(HttpHandler handler,
                                        HttpServerOptions options = {}) {
  auto server = HttpServer::Start("127.0.0.1:0", options, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  EXPECT_GT((*server)->port(), 0);
  return std::move(*server);
}

// Hands exchanges from the loop to the test thread.
class ExchangeBox {
 public:
  void Put(std::shared_ptr<HttpExchange> ex) {
    absl::MutexLock lock(&mu_);
    exchanges_.push_back(std::move(ex));
  }
  std::shared_ptr<HttpExchange> Take(absl::Duration timeout = kTimeout) {
    absl::MutexLock lock(&mu_);
    auto has = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !exchanges_.empty();
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&has), timeout)) return nullptr;
    std::shared_ptr<HttpExchange> ex = std::move(exchanges_.front());
    exchanges_.erase(exchanges_.begin());
    return ex;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::shared_ptr<HttpExchange>> exchanges_ ABSL_GUARDED_BY(mu_);
};

// Threads started by handlers, joined when the test ends (also when an
// assertion returns early).
class Threads {
 public:
  ~Threads() { JoinAll(); }
  template <typename F>
  void Start(F f) {
    absl::MutexLock lock(&mu_);
    threads_.emplace_back(std::move(f));
  }
  void JoinAll() {
    std::vector<std::thread> threads;
    {
      absl::MutexLock lock(&mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

TEST(HttpServerTest, GetAnsweredInline) {
  std::atomic<int> calls{0};
  std::string seen;
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    ++calls;
    seen = absl::StrCat(ex->method(), " ", ex->path(), " q=", ex->query(),
                        " h=", ex->header("x-TEST").value_or("-"),
                        " none=", ex->header("X-None").has_value());
    EXPECT_THAT(ex->peer(), StartsWith("127.0.0.1:"));
    EXPECT_LE(ex->start_time(), absl::Now());
    ex->Reply(200, {{"Content-Type", "text/plain"}, {"X-Answer", "42"}},
              "hi\n");
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send(
      "GET /hello%20x?a=1&b=2 HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(r->headers["content-type"], "text/plain");
  EXPECT_EQ(r->headers["x-answer"], "42");
  EXPECT_EQ(r->headers["content-length"], "3");
  EXPECT_EQ(r->body, "hi\n");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(seen, "GET /hello%20x q=a=1&b=2 h=yes none=0");
}

TEST(HttpServerTest, AnsweredLaterFromAnotherThread) {
  Threads workers;
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    workers.Start([ex] {
      absl::SleepFor(absl::Milliseconds(100));
      ex->Reply(201, {}, "later");
      ex->Reply(500, {}, "second answer is ignored");
    });
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "later");
  // The connection stays usable: no stray bytes of the ignored answer.
  ASSERT_TRUE(c.Send("GET /y HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201);
  workers.JoinAll();
}

TEST(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    int n = ++calls;
    ex->Reply(200, {}, absl::StrCat(ex->path(), " ", n, " ", ex->peer()));
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = c.Read();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->headers.count("connection"), 0u);
  ASSERT_TRUE(c.Send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto second = c.Read();
  ASSERT_TRUE(second.has_value());
  std::vector<std::string> a = absl::StrSplit(first->body, ' ');
  std::vector<std::string> b = absl::StrSplit(second->body, ' ');
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(a[0], "/a");
  EXPECT_EQ(b[0], "/b");
  EXPECT_EQ(a[2], b[2]);  // same client port: the same connection

  // Two requests sent at once (pipelined) are both answered, in order.
  ASSERT_TRUE(c.Send(
      "GET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto third = c.Read();
  auto fourth = c.Read();
  ASSERT_TRUE(third.has_value() && fourth.has_value());
  EXPECT_THAT(third->body, StartsWith("/c "));
  EXPECT_THAT(fourth->body, StartsWith("/d "));
}

TEST(HttpServerTest, BodiesAndMethodsAreDelivered) {
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    ex->Reply(200, {}, absl::StrCat(ex->method(), ":", ex->body()));
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  for (std::string method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    std::string body = absl::StrCat("{\"m\":\"", method, "\"}");
    ASSERT_TRUE(c.Send(absl::StrCat(method,
                                    " /r HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Type: application/json\r\n"
                                    "Content-Length: ",
                                    body.size(), "\r\n\r\n", body)));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << method;
    EXPECT_EQ(r->body, absl::StrCat(method, ":", body));
  }
  // A chunked request body.
  ASSERT_TRUE(
      c.Send("POST /r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "POST:abcde");
}

TEST(HttpServerTest, BodyOverLimitGets413WithoutHandler) {
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.max_body_bytes = 100;
  auto server = StartServer(
      [&](std::shared_ptr<HttpExchange> ex) {
        ++calls;
        ex->Reply(200, {}, "");
      },
      options);
  ASSERT_NE(server, nullptr);
  {
    Client c(server->port());
    ASSERT_TRUE(
        c.Send("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 1000"
               "\r\n\r\n" +
               std::string(1000, 'x')));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 413);
  }
  {
    // Exactly at the limit is fine.
    Client c(server->port());
    ASSERT_TRUE(
        c.Send("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 100"
               "\r\n\r\n" +
               std::string(100, 'x')));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, HeadOverLimitGets431AndFarOverLimit400) {
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  auto server = StartServer(
      [&](std::shared_ptr<HttpExchange> ex) {
        ++calls;
        ex->Reply(200, {}, "");
      },
      options);
  ASSERT_NE(server, nullptr);
  {
    Client c(server->port());
    ASSERT_TRUE(c.Send("GET /r HTTP/1.1\r\nHost: x\r\nX-Big: " +
                       std::string(4000, 'a') + "\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 431);
    EXPECT_THAT(r->head, StartsWith("HTTP/1.1 431 Request Header Fields Too "
                                    "Large\r\n"));
  }
  {
    // Beyond libevent's own cap (2x, at least +64 KiB) libevent answers 400.
    Client c(server->port());
    ASSERT_TRUE(c.Send("GET /r HTTP/1.1\r\nHost: x\r\nX-Big: " +
                       std::string(100 << 10, 'a') + "\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 400);
  }
  {
    Client c(server->port());
    ASSERT_TRUE(c.Send("GET /r HTTP/1.1\r\nHost: x\r\nX-Small: " +
                       std::string(500, 'a') + "\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, MalformedRequestGets400WithoutHandler) {
  std::atomic<int> calls{0};
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    ++calls;
    ex->Reply(200, {}, "");
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.Send("hello\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerTest, HeadHasNoBody) {
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    ex->Reply(200, {{"Content-Type", "text/plain"}}, "twelve bytes");
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.Send("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read(/*head_request=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-length"], "12");
  // No body bytes follow: the next response starts right away.
  ASSERT_TRUE(c.Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "twelve bytes");
}

TEST(HttpServerTest, StreamArrivesInOrderAndEnds) {
  std::atomic<int> sent_ok{0};
  std::atomic<int> sent_failed{0};
  Threads producers;
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    ex->StartStream(200, {{"Content-Type", "text/event-stream"}});
    producers.Start([&, ex] {
      for (int i = 0; i < 20; ++i) {
        ex->SendChunk(absl::StrCat("data: ", i, "\n\n"),
                      [&](bool ok) { ++(ok ? sent_ok : sent_failed); });
        if (i % 5 == 0) absl::SleepFor(absl::Milliseconds(10));
      }
      ex->EndStream();
    });
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "text/event-stream");
  EXPECT_EQ(r->headers["transfer-encoding"], "chunked");
  std::string want;
  for (int i = 0; i < 20; ++i) absl::StrAppend(&want, "data: ", i, "\n\n");
  EXPECT_EQ(r->body, want);
  producers.JoinAll();
  // Every `sent` has run (with true) once the stream has ended.
  absl::Time deadline = absl::Now() + kTimeout;
  while (sent_ok.load() < 20 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(sent_ok.load(), 20);
  EXPECT_EQ(sent_failed.load(), 0);
  // The connection is kept alive after the stream.
  ASSERT_TRUE(c.Send("HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = c.Read(/*head_request=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerTest, ClientLeavingMidStreamRunsOnClientGone) {
  ExchangeBox box;
  absl::Notification gone;
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    ex->StartStream(200, {});
    ex->SendChunk("first", nullptr);
    if (ex->path() != "/s") return;
    ex->OnClientGone([&] { gone.Notify(); });
    box.Put(ex);
  });
  ASSERT_NE(server, nullptr);
  auto c = std::make_unique<Client>(server->port());
  ASSERT_TRUE(c->Send("GET /s HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(c->ReadHead().has_value());
  EXPECT_EQ(c->ReadChunk().value_or("?"), "first");
  std::shared_ptr<HttpExchange> ex = box.Take();
  ASSERT_NE(ex, nullptr);
  c.reset();  // the client leaves
  ASSERT_TRUE(gone.WaitForNotificationWithTimeout(kTimeout));

  absl::Notification sent;
  std::atomic<bool> sent_ok{true};
  ex->SendChunk("after", [&](bool ok) {
    sent_ok = ok;
    sent.Notify();
  });
  ASSERT_TRUE(sent.WaitForNotificationWithTimeout(kTimeout));
  EXPECT_FALSE(sent_ok.load());
  // A late OnClientGone runs at once; the rest is ignored.
  absl::Notification late_gone;
  ex->OnClientGone([&] { late_gone.Notify(); });
  EXPECT_TRUE(late_gone.WaitForNotificationWithTimeout(kTimeout));
  ex->EndStream();
  ex->Reply(200, {}, "ignored");

  // Still serving.
  Client other(server->port());
  ASSERT_TRUE(other.Send("GET /other HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(other.ReadHead().has_value());
  EXPECT_EQ(other.ReadChunk().value_or("?"), "first");
}

TEST(HttpServerTest, ClientLeavingBeforeDelayedReply) {
  ExchangeBox box;
  absl::Notification gone;
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    if (ex->path() == "/now") return ex->Reply(200, {}, "now");
    ex->OnClientGone([&] { gone.Notify(); });
    box.Put(ex);
  });
  ASSERT_NE(server, nullptr);
  auto c = std::make_unique<Client>(server->port());
  ASSERT_TRUE(c->Send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::shared_ptr<HttpExchange> ex = box.Take();
  ASSERT_NE(ex, nullptr);
  c.reset();
  ASSERT_TRUE(gone.WaitForNotificationWithTimeout(kTimeout));
  ex->Reply(200, {}, "too late");   // ignored, no crash
  EXPECT_EQ(ex->path(), "/later");  // the exchange outlives its request

  Client other(server->port());
  ASSERT_TRUE(other.Send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = other.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "now");
}

TEST(HttpServerTest, DroppedExchangeGets500AndDroppedStreamEnds) {
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    if (ex->path() == "/stream") {
      ex->StartStream(200, {});
      ex->SendChunk("partial", nullptr);
    }
    // The handler forgets to answer (or to end the stream).
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET /forgotten HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value()) << c.buffer();
  EXPECT_EQ(r->status, 500);
  ASSERT_TRUE(c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "partial");
}

TEST(HttpServerTest, PendingAnswerIsNotCutByIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(300);
  Threads workers;
  auto server = StartServer(
      [&](std::shared_ptr<HttpExchange> ex) {
        workers.Start([ex] {
          absl::SleepFor(absl::Milliseconds(800));
          ex->Reply(200, {}, "slow");
        });
      },
      options);
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "slow");
  // Then the idle connection is closed after the timeout.
  absl::Time idle_since = absl::Now();
  EXPECT_TRUE(c.WaitEof());
  EXPECT_GE(absl::Now() - idle_since, absl::Milliseconds(250));
  workers.JoinAll();
}

TEST(HttpServerTest, ShutdownEndsStreamsAndIgnoresLaterAnswers) {
  ExchangeBox box;
  std::atomic<int> gone{0};
  std::atomic<int> sent_failed{0};
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    if (ex->path() == "/stream") {
      ex->StartStream(200, {});
      ex->SendChunk("one", nullptr);
    }
    ex->OnClientGone([&] { ++gone; });
    box.Put(ex);
  });
  ASSERT_NE(server, nullptr);
  Client streaming(server->port());
  ASSERT_TRUE(streaming.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(streaming.ReadHead().has_value());
  EXPECT_EQ(streaming.ReadChunk().value_or("?"), "one");
  Client pending(server->port());
  ASSERT_TRUE(pending.Send("GET /pending HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::shared_ptr<HttpExchange> a = box.Take();
  std::shared_ptr<HttpExchange> b = box.Take();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);

  absl::Time start = absl::Now();
  server->Shutdown(absl::Milliseconds(300));
  absl::Duration took = absl::Now() - start;
  // Waited for the pending answer, up to the grace.
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_EQ(gone.load(), 2);  // the stream and the unanswered request
  // The stream was ended; the unanswered request got 503 and its
  // connection closed.
  EXPECT_EQ(streaming.ReadChunk().value_or("?"), "");
  EXPECT_TRUE(streaming.WaitEof());
  EXPECT_TRUE(pending.WaitEof());
  EXPECT_THAT(pending.buffer(), StartsWith("HTTP/1.1 503 "));
  EXPECT_THAT(pending.buffer(), HasSubstr("Connection: close"));

  // Calls after Shutdown do nothing; `sent` is told false.
  for (auto& ex : {a, b}) {
    ex->Reply(200, {}, "late");
    ex->SendChunk("late", [&](bool ok) {
      if (!ok) ++sent_failed;
    });
    ex->EndStream();
  }
  EXPECT_EQ(sent_failed.load(), 2);
  EXPECT_FALSE(Client(server->port()).ok());  // not listening any more
  server->Shutdown();                         // idempotent
  server.reset();
  a->Reply(200, {}, "after the server is gone");
}

TEST(HttpServerTest, ShutdownWaitsForAnswersInProgress) {
  Threads workers;
  auto server = StartServer([&](std::shared_ptr<HttpExchange> ex) {
    workers.Start([ex] {
      absl::SleepFor(absl::Milliseconds(200));
      ex->Reply(200, {}, "finished");
    });
  });
  ASSERT_NE(server, nullptr);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"));
  absl::SleepFor(absl::Milliseconds(50));  // let the request arrive
  server->Shutdown(absl::Seconds(5));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "finished");
  EXPECT_EQ(r->headers["connection"], "close");
  workers.JoinAll();
}

TEST(HttpServerTest, SeveralThreadsServeConcurrently) {
  HttpServerOptions options;
  options.threads = 2;
  absl::Notification released;
  std::atomic<int> served{0};
  auto server = StartServer(
      [&](std::shared_ptr<HttpExchange> ex) {
        if (ex->path() == "/block") {
          // Blocks its loop (handlers must not; this test does on purpose):
          // only the other loop can accept and serve /release.
          bool ok = released.WaitForNotificationWithTimeout(kTimeout);
          ex->Reply(200, {}, ok ? "released" : "timed out");
          return;
        }
        if (ex->path() == "/release") released.Notify();
        ++served;
        ex->Reply(200, {}, "ok");
      },
      options);
  ASSERT_NE(server, nullptr);
  Client blocker(server->port());
  ASSERT_TRUE(blocker.Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  absl::SleepFor(absl::Milliseconds(100));  // its loop is now blocked
  Client releaser(server->port());
  ASSERT_TRUE(releaser.Send("GET /release HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = releaser.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "ok");
  r = blocker.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "released");

  // Many concurrent connections, answered from worker threads.
  constexpr int kClients = 16;
  std::vector<std::thread> clients;
  std::atomic<int> good{0};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      Client c(server->port());
      for (int j = 0; j < 5; ++j) {
        if (!c.Send(absl::StrCat("GET /c", i, "-", j,
                                 " HTTP/1.1\r\nHost: x\r\n\r\n"))) {
          return;
        }
        auto resp = c.Read();
        if (resp.has_value() && resp->body == "ok") ++good;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients * 5);
}

TEST(HttpServerTest, BadAddresses) {
  auto handler = [](std::shared_ptr<HttpExchange> ex) {
    ex->Reply(200, {}, "");
  };
  for (std::string a : {"127.0.0.1", ":80", "127.0.0.1:99999", "127.0.0.1:x",
                        "[::1:0", "::1:0", "no.such.host.invalid:0"}) {
    auto server = HttpServer::Start(a, {}, handler);
    ASSERT_FALSE(server.ok()) << a;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << a;
    EXPECT_THAT(std::string(server.status().message()), HasSubstr(a));
  }
  auto first = HttpServer::Start("127.0.0.1:0", {}, handler);
  ASSERT_TRUE(first.ok());
  std::string taken = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = HttpServer::Start(taken, {}, handler);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(taken));

  auto localhost = HttpServer::Start("localhost:0", {}, handler);
  EXPECT_TRUE(localhost.ok()) << localhost.status();
  auto v6 = HttpServer::Start("[::1]:0", {}, handler);
  if (v6.ok()) {
    EXPECT_GT((*v6)->port(), 0);
  }
}

}  // namespace
}  // namespace cstopa::http
