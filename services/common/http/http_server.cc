#include "services/common/http/http_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace cstopa::http {
namespace {

// libevent rejects request heads larger than this on its own (answering 400
// and closing); heads between max_header_bytes and this get our 431.
// Bodies up to this are read, and those over max_body_bytes get our 413
// (in the server's error format); libevent answers larger ones itself (its
// HTML 413), after reading and dropping them. A client that sends
// `Expect: 100-continue` with a length over this waits for a 100 that
// never comes until the idle timeout closes the connection: libevent 2.1
// gives no hook between the head and the body.
size_t HardBodyLimit(size_t max_body_bytes) {
  return std::max(max_body_bytes * 4, max_body_bytes + (8u << 20));
}

size_t HardHeaderLimit(size_t max_header_bytes) {
  return std::max(2 * max_header_bytes, max_header_bytes + (64 << 10));
}

void UseLibeventThreads() {
  static std::once_flag once;
  std::call_once(once, [] {
    evthread_use_pthreads();
    // libevent writes with writev(), so a client that closes while an
    // answer is written would raise SIGPIPE and end the process; the write
    // fails with EPIPE instead and the connection is closed. (gRPC's own
    // sockets use MSG_NOSIGNAL and do not care.)
    std::signal(SIGPIPE, SIG_IGN);
  });
}

timeval DurationToTimeval(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  return absl::ToTimeval(d);
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 499:
      return "Client Closed Request";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return nullptr;  // libevent's own phrase
  }
}

// Whether an answer with `status` has a body (RFC 9110 6.4.1).
bool StatusHasBody(int status) {
  return status >= 200 && status != 204 && status != 304;
}

const char* MethodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_TRACE:
      return "TRACE";
    case EVHTTP_REQ_CONNECT:
      return "CONNECT";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
  }
  return "";
}

// Counts the answers in progress across the loops, for Shutdown's grace.
class ActiveCount {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++active_;
  }
  void Done() {
    absl::MutexLock lock(&mu_);
    --active_;
  }
  // Waits until no answer is in progress, or `deadline`.
  void WaitIdle(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto idle = [this]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_ == 0; };
    mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
  }

 private:
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
};

class Loop;
class Exchange;

// What the loop knows of one client connection that has carried a request
// to the handler. Loop thread only; deleted when libevent closes it.
struct Connection {
  Loop* loop = nullptr;
  evhttp_connection* evcon = nullptr;
  // The exchange in progress on it (evhttp serves one request at a time).
  std::shared_ptr<Exchange> current;
};

// One event loop: an event_base, its evhttp and the thread running it.
class Loop : public std::enable_shared_from_this<Loop> {
 public:
  Loop(const HttpServerOptions& options,
       std::shared_ptr<const HttpHandler> handler,
       std::shared_ptr<ActiveCount> active)
      : options_(options),
        handler_(std::move(handler)),
        active_(std::move(active)) {}

  ~Loop() { FreeLibevent(); }

  // Sets up the base and evhttp, accepting on `listen_fd` (taken over).
  absl::Status Init(int listen_fd);
  void StartThread();

  // Runs `fn` on the loop thread: at once when called there, else queued.
  // False (and `fn` dropped) once the loop has finished.
  bool Run(std::function<void()> fn);
  bool InLoop() const {
    return thread_id_.load(std::memory_order_acquire) ==
           std::this_thread::get_id();
  }

  // Shutdown, on the loop thread: stop accepting, end streams, answer new
  // requests with 503.
  void BeginShutdown();
  // Shutdown, on the loop thread: close every connection, stop the loop.
  void Finish();
  // Shutdown, on the caller's thread: join the loop thread, free libevent's
  // objects.
  void JoinAndFree();

  const HttpServerOptions& options() const { return options_; }
  ActiveCount& active() { return *active_; }
  bool stopping() const { return stopping_; }

  // An exchange is done: the connection goes back to keep-alive idling.
  void RestoreIdle(evhttp_connection* evcon);

 private:
  static void OnRequestCb(evhttp_request* req, void* arg) {
    static_cast<Loop*>(arg)->OnRequest(req);
  }
  static void OnWakeCb(evutil_socket_t, short, void* arg) {
    static_cast<Loop*>(arg)->Drain();
  }
  static void OnCloseCb(evhttp_connection* evcon, void* arg);

  void OnRequest(evhttp_request* req);
  void Drain();
  void FreeLibevent();

 public:
  // Answers every pending exchange 503 (Shutdown, once the grace is up).
  void RefusePending();

 private:
  // Answers `req` ourselves, without the handler.
  void ReplyDirect(evhttp_request* req, int status, absl::string_view text);

  const HttpServerOptions options_;
  const std::shared_ptr<const HttpHandler> handler_;
  const std::shared_ptr<ActiveCount> active_;

  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  evhttp_bound_socket* bound_ = nullptr;
  event* wake_ = nullptr;
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};

  // Loop thread only.
  std::unordered_map<evhttp_connection*, Connection*> connections_;
  bool stopping_ = false;
  bool draining_ = false;  // Drain() is running its batch

  absl::Mutex mu_;
  std::vector<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class Exchange : public HttpExchange,
                 public std::enable_shared_from_this<Exchange> {
 public:
  enum class State {
    kPending,    // no answer yet
    kStreaming,  // StartStream done
    kReplied,    // whole answer queued, being written
    kDone,       // written
    kGone,       // the client left (or the server shut down) first
  };

  Exchange(std::shared_ptr<Loop> loop, Connection* conn, evhttp_request* req)
      : loop_(std::move(loop)), conn_(conn), req_(req) {
    method_ = MethodName(evhttp_request_get_command(req));
    head_ = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
    http11_ = req->major > 1 || (req->major == 1 && req->minor >= 1);
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
    if (uri != nullptr) {
      const char* path = evhttp_uri_get_path(uri);
      const char* query = evhttp_uri_get_query(uri);
      if (path != nullptr) path_ = path;
      if (query != nullptr) query_ = query;
    }
    evkeyvalq* in = evhttp_request_get_input_headers(req);
    for (evkeyval* kv = in->tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
      headers_.emplace_back(kv->key, kv->value);
    }
    evbuffer* body = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(body);
    if (n > 0) {
      body_.resize(n);
      evbuffer_copyout(body, body_.data(), n);
    }
    evhttp_connection* evcon = evhttp_request_get_connection(req);
    char* address = nullptr;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evcon, &address, &port);
    std::string host = address != nullptr ? address : "";
    peer_ = host.find(':') != std::string::npos
                ? absl::StrCat("[", host, "]:", port)
                : absl::StrCat(host, ":", port);
    start_time_ = absl::Now();
  }

  const std::string& method() const override { return method_; }
  const std::string& path() const override { return path_; }
  const std::string& query() const override { return query_; }
  std::optional<std::string> header(absl::string_view name) const override {
    std::optional<std::string> out;
    for (const auto& [key, value] : headers_) {
      if (!absl::EqualsIgnoreCase(key, name)) continue;
      if (out.has_value()) {
        absl::StrAppend(&*out, ", ", value);
      } else {
        out = value;
      }
    }
    return out;
  }
  const std::string& body() const override { return body_; }
  const std::string& peer() const override { return peer_; }
  absl::Time start_time() const override { return start_time_; }

  void Reply(int status, std::vector<HttpHeader> headers,
             std::string body) override {
    loop_->Run([self = shared_from_this(), status, headers = std::move(headers),
                body = std::move(body)]() mutable {
      self->DoReply(status, std::move(headers), std::move(body));
    });
  }
  void StartStream(int status, std::vector<HttpHeader> headers) override {
    loop_->Run([self = shared_from_this(), status,
                headers = std::move(headers)]() mutable {
      self->DoStartStream(status, std::move(headers));
    });
  }
  void SendChunk(std::string data, std::function<void(bool ok)> sent) override {
    // `sent` is shared so that it can still be told `false` when the loop
    // has finished and drops the closure.
    auto shared_sent =
        std::make_shared<std::function<void(bool)>>(std::move(sent));
    bool queued = loop_->Run([self = shared_from_this(), data = std::move(data),
                              shared_sent]() mutable {
      self->DoSendChunk(std::move(data), std::move(*shared_sent));
      *shared_sent = nullptr;
    });
    if (!queued && *shared_sent) (*shared_sent)(false);
  }
  void EndStream() override {
    loop_->Run([self = shared_from_this()] { self->DoEndStream(); });
  }
  void OnClientGone(std::function<void()> gone) override {
    auto shared_gone = std::make_shared<std::function<void()>>(std::move(gone));
    bool queued = loop_->Run([self = shared_from_this(), shared_gone] {
      self->DoOnClientGone(std::move(*shared_gone));
      *shared_gone = nullptr;
    });
    if (!queued && *shared_gone && gone_flag_.load()) (*shared_gone)();
  }

  // libevent: the answer has been written.
  static void OnCompleteCb(evhttp_request* req, void* arg) {
    static_cast<Exchange*>(arg)->OnComplete(req);
  }
  // libevent: everything queued so far has been written.
  static void OnWrittenCb(evhttp_connection*, void* arg) {
    static_cast<Exchange*>(arg)->OnWritten();
  }

  // The connection closed before the answer was written.
  void Gone() {
    std::shared_ptr<Exchange> self = shared_from_this();
    conn_ = nullptr;
    if (req_ != nullptr) {
      // A request whose answer had not been ended is detached from its
      // connection by libevent and left to us; one still attached is freed
      // by libevent right after the close callback.
      if (evhttp_request_get_connection(req_) == nullptr) {
        evhttp_request_free(req_);
      }
      req_ = nullptr;
    }
    MarkGone();
  }

  // Shutdown answers a request still pending when the grace is up: 503,
  // connection closed. The handler's later answer is ignored.
  void RefuseForShutdown() {
    if (state_ != State::kPending) return;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body = "the server is shutting down\n";
    if (loop_->options().error_body) {
      std::tie(content_type, body) =
          loop_->options().error_body(503, "the server is shutting down");
    }
    DoReply(503, {{"Content-Type", content_type}, {"Connection", "close"}},
            std::move(body));
    // Whoever was going to answer learns that nobody waits any more.
    std::function<void()> gone = std::move(gone_);
    gone_ = nullptr;
    if (gone) gone();
  }

  // Shutdown ends an open stream: the client sees its end, the producer
  // sees a gone client.
  void EndForShutdown() {
    if (state_ != State::kStreaming) return;
    evhttp_request* req = req_;
    MarkGone();
    // The request stays ours until libevent has written the end (then
    // OnComplete releases the connection's hold on us).
    evhttp_send_reply_end(req);
  }

  State state() const { return state_; }

  // The handler's last reference is gone: an exchange still unanswered gets
  // 500, an open stream is ended.
  void Abandon() {
    loop_->Run([self = shared_from_this()] {
      if (self->state_ == State::kPending) {
        self->DoReply(500, {{"Content-Type", "text/plain; charset=utf-8"}},
                      "no answer\n");
      } else if (self->state_ == State::kStreaming) {
        self->DoEndStream();
      }
    });
  }

 private:
  // Drops what waits on the answer, telling it the client is gone.
  void MarkGone() {
    if (state_ == State::kDone || state_ == State::kGone) return;
    state_ = State::kGone;
    gone_flag_.store(true);
    loop_->active().Done();
    std::vector<std::function<void(bool)>> unsent = std::move(unsent_);
    unsent_.clear();
    std::function<void()> gone = std::move(gone_);
    gone_ = nullptr;
    for (auto& sent : unsent) {
      if (sent) sent(false);
    }
    if (gone) gone();
  }

  void OnComplete(evhttp_request* req) {
    std::shared_ptr<Exchange> self = shared_from_this();
    evhttp_connection* evcon = evhttp_request_get_connection(req);
    if (evcon != nullptr) loop_->RestoreIdle(evcon);
    if (conn_ != nullptr && conn_->current.get() == this) {
      conn_->current.reset();
    }
    conn_ = nullptr;
    req_ = nullptr;
    if (state_ == State::kDone || state_ == State::kGone) return;
    state_ = State::kDone;
    loop_->active().Done();
    std::vector<std::function<void(bool)>> unsent = std::move(unsent_);
    unsent_.clear();
    gone_ = nullptr;
    for (auto& sent : unsent) {
      if (sent) sent(true);
    }
  }

  void OnWritten() {
    std::shared_ptr<Exchange> self = shared_from_this();
    std::vector<std::function<void(bool)>> unsent = std::move(unsent_);
    unsent_.clear();
    for (auto& sent : unsent) {
      if (sent) sent(true);
    }
  }

  // Adds the answer's headers, leaving framing to us.
  void AddHeaders(const std::vector<HttpHeader>& headers) {
    evkeyvalq* out = evhttp_request_get_output_headers(req_);
    for (const HttpHeader& h : headers) {
      if (absl::EqualsIgnoreCase(h.name, "Content-Length") ||
          absl::EqualsIgnoreCase(h.name, "Transfer-Encoding")) {
        continue;
      }
      // libevent refuses names and values with CR or LF (header injection).
      evhttp_add_header(out, h.name.c_str(), h.value.c_str());
    }
    if (loop_->stopping()) {
      evhttp_remove_header(out, "Connection");
      evhttp_add_header(out, "Connection", "close");
    }
  }

  void DoReply(int status, std::vector<HttpHeader> headers, std::string body) {
    if (state_ != State::kPending) return;
    state_ = State::kReplied;
    AddHeaders(headers);
    if (StatusHasBody(status)) {
      evhttp_add_header(evhttp_request_get_output_headers(req_),
                        "Content-Length", std::to_string(body.size()).c_str());
      if (!head_ && !body.empty()) {
        evbuffer_add(evhttp_request_get_output_buffer(req_), body.data(),
                     body.size());
      }
    }
    evhttp_send_reply(req_, status, ReasonPhrase(status), nullptr);
  }

  void DoStartStream(int status, std::vector<HttpHeader> headers) {
    if (state_ != State::kPending) return;
    state_ = State::kStreaming;
    stream_has_body_ = StatusHasBody(status) && !head_;
    AddHeaders(headers);
    if (!http11_) {
      // No chunked encoding before HTTP/1.1: the end of the body is the end
      // of the connection.
      evkeyvalq* out = evhttp_request_get_output_headers(req_);
      evhttp_remove_header(out, "Connection");
      evhttp_add_header(out, "Connection", "close");
    }
    evhttp_send_reply_start(req_, status, ReasonPhrase(status));
  }

  void DoSendChunk(std::string data, std::function<void(bool)> sent) {
    if (state_ != State::kStreaming) {
      if (sent) sent(false);
      return;
    }
    if (data.empty() || !stream_has_body_) {
      // Nothing goes to the socket (libevent would not call back).
      if (sent) sent(true);
      return;
    }
    unsent_.push_back(std::move(sent));
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, data.data(), data.size());
    evhttp_send_reply_chunk_with_cb(req_, buf, &Exchange::OnWrittenCb, this);
    evbuffer_free(buf);
  }

  void DoEndStream() {
    if (state_ != State::kStreaming) return;
    state_ = State::kReplied;
    // May complete at once (OnComplete runs inside).
    evhttp_send_reply_end(req_);
  }

  void DoOnClientGone(std::function<void()> gone) {
    if (state_ == State::kGone) {
      if (gone) gone();
      return;
    }
    if (state_ == State::kDone) return;
    gone_ = std::move(gone);
  }

  const std::shared_ptr<Loop> loop_;
  std::string method_;
  std::string path_;
  std::string query_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
  std::string peer_;
  absl::Time start_time_;
  bool head_ = false;
  bool http11_ = true;

  // Loop thread only.
  Connection* conn_;
  evhttp_request* req_;
  State state_ = State::kPending;
  bool stream_has_body_ = false;
  std::function<void()> gone_;
  std::vector<std::function<void(bool)>> unsent_;
  // Set with state_ = kGone, for calls after the loop finished.
  std::atomic<bool> gone_flag_{false};

  friend class Loop;
};

absl::Status Loop::Init(int listen_fd) {
  base_ = event_base_new();
  if (base_ == nullptr) {
    close(listen_fd);
    return absl::UnavailableError("event_base_new failed");
  }
  wake_ = event_new(base_, -1, 0, &Loop::OnWakeCb, this);
  http_ = evhttp_new(base_);
  if (wake_ == nullptr || http_ == nullptr) {
    close(listen_fd);
    return absl::UnavailableError("evhttp_new failed");
  }
  evhttp_set_gencb(http_, &Loop::OnRequestCb, this);
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                        EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_OPTIONS);
  evhttp_set_max_body_size(
      http_, static_cast<ev_ssize_t>(HardBodyLimit(options_.max_body_bytes)));
  evhttp_set_max_headers_size(
      http_,
      static_cast<ev_ssize_t>(HardHeaderLimit(options_.max_header_bytes)));
  timeval idle = DurationToTimeval(options_.idle_timeout);
  evhttp_set_timeout_tv(http_, &idle);
  // No Content-Type unless the handler gives one.
  evhttp_set_default_content_type(http_, nullptr);
  // Read (and drop) an oversized body before answering 413, so the client
  // is not reset before it reads the answer.
  evhttp_set_flags(http_, EVHTTP_SERVER_LINGERING_CLOSE);
  bound_ = evhttp_accept_socket_with_handle(http_, listen_fd);
  if (bound_ == nullptr) {
    close(listen_fd);
    return absl::UnavailableError("evhttp_accept_socket failed");
  }
  return absl::OkStatus();
}

void Loop::StartThread() {
  thread_ = std::thread([this] {
    thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
    event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  });
}

bool Loop::Run(std::function<void()> fn) {
  if (InLoop()) {
    // What other threads queued came first: run it before `fn`, so that an
    // answer queued by a gRPC thread is not overtaken by the handler's
    // release of the exchange on this thread (which would answer 500).
    // Not when already draining (a queued closure calling Run): the rest
    // of that batch runs after it, in order, and libevent is not
    // re-entered from inside its own callbacks by a queued Finish.
    if (!draining_) Drain();
    fn();
    return true;
  }
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  queue_.push_back(std::move(fn));
  if (!wake_pending_) {
    wake_pending_ = true;
    // Under mu_: Finish sets closed_ under mu_ before wake_ is freed.
    event_active(wake_, EV_READ, 0);
  }
  return true;
}

void Loop::Drain() {
  std::vector<std::function<void()>> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(queue_);
    wake_pending_ = false;
  }
  draining_ = true;
  for (auto& fn : batch) fn();
  draining_ = false;
}

void Loop::OnCloseCb(evhttp_connection* evcon, void* arg) {
  auto* conn = static_cast<Connection*>(arg);
  evhttp_connection_set_closecb(evcon, nullptr, nullptr);
  conn->loop->connections_.erase(evcon);
  std::shared_ptr<Exchange> current = std::move(conn->current);
  delete conn;
  if (current != nullptr) current->Gone();
}

void Loop::ReplyDirect(evhttp_request* req, int status,
                       absl::string_view text) {
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  std::string content_type = "text/plain; charset=utf-8";
  std::string body = absl::StrCat(text, "\n");
  if (options_.error_body) {
    std::tie(content_type, body) = options_.error_body(status, text);
  }
  evhttp_add_header(out, "Content-Type", content_type.c_str());
  evhttp_add_header(out, "Connection", "close");
  evhttp_add_header(out, "Content-Length", std::to_string(body.size()).c_str());
  if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
    evbuffer_add(evhttp_request_get_output_buffer(req), body.data(),
                 body.size());
  }
  evhttp_send_reply(req, status, ReasonPhrase(status), nullptr);
}

void Loop::OnRequest(evhttp_request* req) {
  if (stopping_) {
    ReplyDirect(req, 503, "shutting down");
    return;
  }
  // The head's size as libevent counts it: its lines without line ends.
  const char* uri = evhttp_request_get_uri(req);
  size_t head_bytes = std::strlen(MethodName(evhttp_request_get_command(req))) +
                      1 + (uri != nullptr ? std::strlen(uri) : 0) + 9;
  evkeyvalq* in = evhttp_request_get_input_headers(req);
  for (evkeyval* kv = in->tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
    head_bytes += std::strlen(kv->key) + 2 + std::strlen(kv->value);
  }
  if (head_bytes > options_.max_header_bytes) {
    ReplyDirect(req, 431, "request header fields too large");
    return;
  }
  if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) >
      options_.max_body_bytes) {
    ReplyDirect(req, 413,
                absl::StrCat("request body larger than ",
                             options_.max_body_bytes, " bytes"));
    return;
  }

  evhttp_connection* evcon = evhttp_request_get_connection(req);
  Connection*& conn = connections_[evcon];
  if (conn == nullptr) {
    conn = new Connection;
    conn->loop = this;
    conn->evcon = evcon;
    evhttp_connection_set_closecb(evcon, &Loop::OnCloseCb, conn);
  }
  auto exchange = std::make_shared<Exchange>(shared_from_this(), conn, req);
  conn->current = exchange;
  active_->Add();
  evhttp_request_set_on_complete_cb(req, &Exchange::OnCompleteCb,
                                    exchange.get());

  // While the handler works, watch the socket for the client closing (as
  // libevent itself does while it writes an answer): no read callback, so
  // what a client pipelines waits in the buffer (up to a bound). No idle
  // timeout meanwhile; a client that does not read the answer is still
  // dropped after idle_timeout.
  bufferevent* bev = evhttp_connection_get_bufferevent(evcon);
  bufferevent_data_cb read_cb = nullptr;
  bufferevent_data_cb write_cb = nullptr;
  bufferevent_event_cb event_cb = nullptr;
  void* cb_arg = nullptr;
  bufferevent_getcb(bev, &read_cb, &write_cb, &event_cb, &cb_arg);
  bufferevent_setcb(bev, nullptr, write_cb, event_cb, cb_arg);
  bufferevent_setwatermark(bev, EV_READ, 0,
                           HardHeaderLimit(options_.max_header_bytes));
  timeval idle = DurationToTimeval(options_.idle_timeout);
  bufferevent_set_timeouts(bev, nullptr, &idle);
  bufferevent_enable(bev, EV_READ);

  // What the handler holds; when it lets go of every copy, Abandon().
  std::shared_ptr<HttpExchange> handle(
      exchange.get(), [exchange](HttpExchange*) { exchange->Abandon(); });
  (*handler_)(std::move(handle));
}

void Loop::RestoreIdle(evhttp_connection* evcon) {
  bufferevent* bev = evhttp_connection_get_bufferevent(evcon);
  bufferevent_setwatermark(bev, EV_READ, 0, 0);
  timeval idle = DurationToTimeval(options_.idle_timeout);
  evhttp_connection_set_timeout_tv(evcon, &idle);
}

void Loop::BeginShutdown() {
  stopping_ = true;
  if (bound_ != nullptr) {
    evhttp_del_accept_socket(http_, bound_);  // closes our listening fd
    bound_ = nullptr;
  }
  std::vector<std::shared_ptr<Exchange>> streams;
  for (auto& [evcon, conn] : connections_) {
    if (conn->current != nullptr &&
        conn->current->state() == Exchange::State::kStreaming) {
      streams.push_back(conn->current);
    }
  }
  for (auto& exchange : streams) exchange->EndForShutdown();
}

void Loop::RefusePending() {
  std::vector<std::shared_ptr<Exchange>> pending;
  for (auto& [evcon, conn] : connections_) {
    if (conn->current != nullptr &&
        conn->current->state() == Exchange::State::kPending) {
      pending.push_back(conn->current);
    }
  }
  for (auto& exchange : pending) exchange->RefuseForShutdown();
}

void Loop::Finish() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  stopping_ = true;
  if (http_ != nullptr) {
    // Closes every connection; their close callbacks end the exchanges.
    evhttp_free(http_);
    http_ = nullptr;
    bound_ = nullptr;
  }
  // Connections libevent freed without its close callback (none expected):
  // their requests are gone with them.
  for (auto& [evcon, conn] : connections_) {
    std::shared_ptr<Exchange> current = std::move(conn->current);
    delete conn;
    if (current != nullptr) {
      current->req_ = nullptr;
      current->Gone();
    }
  }
  connections_.clear();
  event_base_loopbreak(base_);
}

void Loop::JoinAndFree() {
  if (thread_.joinable()) thread_.join();
  // What was queued after the loop's last batch: every exchange is gone by
  // now, so these only tell their producers so (sent(false)) and let go of
  // what they hold.
  Drain();
  FreeLibevent();
}

void Loop::FreeLibevent() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  if (http_ != nullptr) {
    evhttp_free(http_);
    http_ = nullptr;
  }
  if (wake_ != nullptr) {
    event_free(wake_);
    wake_ = nullptr;
  }
  if (base_ != nullptr) {
    event_base_free(base_);
    base_ = nullptr;
  }
}

absl::StatusOr<int> BindListener(const std::string& address) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address \"", address, "\": ", why,
                     " (use host:port, e.g. 127.0.0.1:8080 or [::1]:0)"));
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
      error = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    // Accepted connections inherit it (Linux): answers go out as written,
    // not held back by Nagle's algorithm until the client's delayed ACK
    // (40 ms per keep-alive request otherwise).
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
      error = std::strerror(errno);
      close(fd);
      continue;
    }
    listen_fd = fd;
    break;
  }
  freeaddrinfo(found);
  if (listen_fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on HTTP address \"", address, "\": ", error));
  }
  return listen_fd;
}

int BoundPort(int fd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return 0;
  }
  if (bound.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  if (bound.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  }
  return 0;
}

class HttpServerImpl : public HttpServer {
 public:
  HttpServerImpl(int port, std::vector<std::shared_ptr<Loop>> loops,
                 std::shared_ptr<ActiveCount> active)
      : port_(port), loops_(std::move(loops)), active_(std::move(active)) {}
  ~HttpServerImpl() override { Shutdown(absl::Seconds(1)); }

  int port() const override { return port_; }

  void Shutdown(absl::Duration grace) override {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    absl::Time deadline = absl::Now() + grace;
    for (auto& loop : loops_) {
      loop->Run([loop = loop.get()] { loop->BeginShutdown(); });
    }
    active_->WaitIdle(deadline);
    // Answers still pending when the grace is up get 503 (and the
    // connection closes), rather than a connection closed on them.
    for (auto& loop : loops_) {
      loop->Run([loop = loop.get()] { loop->RefusePending(); });
    }
    active_->WaitIdle(absl::Now() + absl::Milliseconds(200));
    for (auto& loop : loops_) {
      loop->Run([loop = loop.get()] { loop->Finish(); });
    }
    for (auto& loop : loops_) loop->JoinAndFree();
  }

 private:
  const int port_;
  const std::vector<std::shared_ptr<Loop>> loops_;
  const std::shared_ptr<ActiveCount> active_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, const HttpServerOptions& options,
    HttpHandler handler) {
  if (options.threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HTTP server on \"", address, "\": threads must be at least 1"));
  }
  if (!handler) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP server on \"", address, "\": no handler"));
  }
  UseLibeventThreads();
  absl::StatusOr<int> listen_fd = BindListener(address);
  if (!listen_fd.ok()) return listen_fd.status();
  int port = BoundPort(*listen_fd);

  auto shared_handler = std::make_shared<const HttpHandler>(std::move(handler));
  auto active = std::make_shared<ActiveCount>();
  std::vector<std::shared_ptr<Loop>> loops;
  for (int i = 0; i < options.threads; ++i) {
    // Each loop owns a descriptor of the one listening socket, so that
    // closing one (evhttp does on free) leaves the others accepting.
    int fd = fcntl(*listen_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      close(*listen_fd);
      return absl::UnavailableError(absl::StrCat(
          "HTTP server on \"", address, "\": dup: ", std::strerror(errno)));
    }
    auto loop = std::make_shared<Loop>(options, shared_handler, active);
    absl::Status status = loop->Init(fd);
    if (!status.ok()) {
      close(*listen_fd);
      return absl::UnavailableError(
          absl::StrCat("HTTP server on \"", address, "\": ", status.message()));
    }
    loops.push_back(std::move(loop));
  }
  close(*listen_fd);
  for (auto& loop : loops) loop->StartThread();
  return std::unique_ptr<HttpServer>(
      new HttpServerImpl(port, std::move(loops), std::move(active)));
}

}  // namespace cstopa::http
