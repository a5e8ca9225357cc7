#include "services/common/server/interceptors.h"

#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/interceptor.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/string_ref.h"

namespace cstopa::common {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

absl::string_view ToStringView(grpc::string_ref s) {
  return absl::string_view(s.data(), s.size());
}

// The first value of `key` in `md`, if any.
std::optional<absl::string_view> FindFirst(
    const std::multimap<grpc::string_ref, grpc::string_ref>& md,
    absl::string_view key) {
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return std::nullopt;
  return ToStringView(it->second);
}

// Adds `key`: `value` to outgoing metadata unless the handler set `key`.
void AddIfAbsent(std::multimap<std::string, std::string>* md,
                 const std::string& key, const std::string& value) {
  if (md == nullptr || md->find(key) != md->end()) return;
  md->emplace(key, value);
}

}  // namespace

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += kHexDigits[c >> 4];
            out += kHexDigits[c & 0xf];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence: its length and the allowed range of the
    // second byte (which excludes overlong forms and surrogates).
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c == 0xe0) {
      len = 3;
      lo = 0xa0;
    } else if (c >= 0xe1 && c <= 0xec) {
      len = 3;
    } else if (c == 0xed) {
      len = 3;
      hi = 0x9f;
    } else if (c >= 0xee && c <= 0xef) {
      len = 3;
    } else if (c == 0xf0) {
      len = 4;
      lo = 0x90;
    } else if (c >= 0xf1 && c <= 0xf3) {
      len = 4;
    } else if (c == 0xf4) {
      len = 4;
      hi = 0x8f;
    }
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      unsigned char b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf)) valid = false;
    }
    if (valid) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  return out;
}

std::string RequestIdOf(const grpc::ServerContextBase* context) {
  if (context == nullptr) return "";
  std::optional<absl::string_view> id =
      FindFirst(context->client_metadata(), kRequestIdKey);
  if (!id.has_value() || !IsValidRequestId(*id)) return "";
  return std::string(*id);
}

AccessLog::AccessLog(FILE* out, AccessLogOptions options)
    : out_(out), options_(options) {
  if (out_ != nullptr) writer_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() { Close(); }

void AccessLog::Write(absl::string_view line) {
  if (out_ == nullptr) return;
  Enqueue(std::string(line));
}

void AccessLog::WriteRpc(RpcLine line) {
  if (out_ == nullptr) return;
  Enqueue(std::move(line));
}

size_t AccessLog::SizeOf(const Entry& entry) {
  if (const std::string* line = std::get_if<std::string>(&entry)) {
    return line->size() + 1;
  }
  const RpcLine& r = std::get<RpcLine>(entry);
  // The fixed part of the line is about 200 bytes.
  return 200 + r.service.size() + r.method.size() + r.request_id.size() +
         r.trace_id.size() + r.span_id.size() + r.peer.size() + r.error.size();
}

void AccessLog::Enqueue(Entry entry) {
  const size_t bytes = SizeOf(entry);
  absl::MutexLock lock(&mu_);
  if (closing_ || buffered_lines_ >= options_.capacity_lines ||
      buffered_bytes_ + bytes > options_.capacity_bytes) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_.push_back(std::move(entry));
  ++buffered_lines_;
  buffered_bytes_ += bytes;
  ++accepted_;
}

void AccessLog::Flush() {
  if (out_ == nullptr) return;
  absl::MutexLock lock(&mu_);
  const uint64_t target = accepted_;
  ++flush_waiters_;
  auto done = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return written_ >= target || writer_done_;
  };
  mu_.Await(absl::Condition(&done));
  --flush_waiters_;
}

void AccessLog::Close() {
  if (out_ == nullptr) return;
  {
    absl::MutexLock lock(&mu_);
    if (closing_) {
      // Another Close stops the writer (or has stopped it).
      mu_.Await(absl::Condition(&writer_done_));
      return;
    }
    closing_ = true;
  }
  writer_.join();
}

bool AccessLog::HasWorkLocked() const { return closing_ || !pending_.empty(); }

bool AccessLog::ShouldWriteLocked() const {
  return closing_ || flush_waiters_ > 0 ||
         pending_.size() >= options_.batch_lines;
}

void AccessLog::Run() {
  pthread_setname_np(pthread_self(), "access_log");  // for top and profiles
  std::vector<Entry> batch;
  std::string text;
  for (;;) {
    size_t bytes = 0;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &AccessLog::HasWorkLocked));
      // A first line has arrived: give others `max_delay` to join it.
      mu_.AwaitWithTimeout(absl::Condition(this, &AccessLog::ShouldWriteLocked),
                           options_.max_delay);
      if (pending_.empty()) {  // only when closing
        writer_done_ = true;
        return;
      }
      batch.swap(pending_);  // `pending_` keeps the old batch's capacity
    }
    text.clear();
    for (const Entry& entry : batch) Format(entry, &text);
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
    for (const Entry& entry : batch) bytes += SizeOf(entry);
    {
      absl::MutexLock lock(&mu_);
      written_ += batch.size();
      buffered_lines_ -= batch.size();
      buffered_bytes_ -= bytes;
    }
    batch.clear();
    // A large batch's text is not kept for the rest of the process.
    if (text.capacity() > (1u << 20)) std::string().swap(text);
  }
}

void AccessLog::Format(const Entry& entry, std::string* out) {
  if (const std::string* line = std::get_if<std::string>(&entry)) {
    absl::StrAppend(out, *line, "\n");
    return;
  }
  const RpcLine& r = std::get<RpcLine>(entry);
  char duration[32];
  std::snprintf(duration, sizeof(duration), "%.3f", r.duration_ms);
  absl::StrAppend(
      out, "{\"ts\":\"",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", r.time, absl::UTCTimeZone()),
      "\",\"level\":\"info\",\"msg\":\"rpc\",\"service\":\"",
      JsonEscape(r.service), "\",\"method\":\"", JsonEscape(r.method),
      "\",\"code\":\"", GrpcCodeName(r.grpc_code),
      "\",\"grpc_code\":", r.grpc_code, ",\"duration_ms\":", duration);
  absl::StrAppend(out, ",\"request_id\":\"", JsonEscape(r.request_id),
                  "\",\"trace_id\":\"", r.trace_id, "\",\"span_id\":\"",
                  r.span_id, "\",\"peer\":\"", JsonEscape(r.peer), "\"");
  if (r.grpc_code != grpc::StatusCode::OK) {
    absl::StrAppend(out, ",\"error\":\"", JsonEscape(r.error), "\"");
  }
  out->append("}\n");
}

// The per-call interceptor. gRPC runs its hooks one batch at a time, but the
// close of a cancelled call (POST_RECV_CLOSE) may race with the handler's
// batches, so the call state is guarded by a mutex and the call is accounted
// exactly once (`finished_`).
class TelemetryInterceptor : public grpc::experimental::Interceptor {
 public:
  TelemetryInterceptor(TelemetryInterceptorFactory* factory,
                       grpc::experimental::ServerRpcInfo* info)
      : factory_(factory),
        context_(info->server_context()),
        method_(info->method() != nullptr ? info->method() : ""),
        start_(std::chrono::steady_clock::now()) {}

  ~TelemetryInterceptor() override {
    // Only if the call closed without either hook having run (e.g. the
    // server shut down under it).
    Finish(grpc::StatusCode::CANCELLED, "call ended without a status");
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      ReceiveMetadata(methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      AddResponseMetadata(methods->GetSendInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      AddResponseMetadata(methods->GetSendTrailingMetadata());
      const grpc::Status status = methods->GetSendStatus();
      const CallOutcome seen = OutcomeOfStatus(
          status.error_code(), status.error_message(), Deadline());
      Finish(seen.code, seen.message);
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_CLOSE)) {
      // Normally the status was sent (and the call accounted) before the
      // call closes; if not, the client cancelled or the deadline passed.
      const CallOutcome seen = OutcomeOfClose(Deadline());
      Finish(seen.code, seen.message);
    }
    methods->Proceed();
  }

 private:
  void ReceiveMetadata(std::multimap<grpc::string_ref, grpc::string_ref>* md) {
    absl::MutexLock lock(&mu_);
    if (have_ids_) return;
    const std::optional<absl::string_view> id =
        md == nullptr ? std::nullopt : FindFirst(*md, kRequestIdKey);
    ids_ = factory_->Begin(
        md != nullptr ? *md
                      : std::multimap<grpc::string_ref, grpc::string_ref>());
    have_ids_ = true;
    if (md != nullptr && (!id.has_value() || *id != ids_.request_id)) {
      // Make the effective id visible to the handler (RequestIdOf). The
      // map holds views: the key is a literal and ids_ lives as long as
      // this interceptor, which the call's context owns.
      SetView(md, kRequestIdKey, ids_.request_id);
    }
    // The handler sees the server's own span as the call's traceparent, so
    // that the calls it makes (client/call_context.h) join this trace even
    // when the client sent none.
    if (md != nullptr) SetView(md, kTraceparentKey, ids_.traceparent);
    if (context_ != nullptr) peer_ = context_->peer();
  }

  // Sets the first `key` of `md` to `value` (or adds it): views, so `value`
  // must outlive the call's metadata.
  static void SetView(std::multimap<grpc::string_ref, grpc::string_ref>* md,
                      const char* key, const std::string& value) {
    grpc::string_ref view(value.data(), value.size());
    auto it = md->find(grpc::string_ref(key));
    if (it != md->end()) {
      it->second = view;
    } else {
      md->emplace(grpc::string_ref(key), view);
    }
  }

  // The call's deadline; time_point::max() without one.
  std::chrono::system_clock::time_point Deadline() const {
    return context_ != nullptr ? context_->deadline()
                               : std::chrono::system_clock::time_point::max();
  }

  void EnsureIds() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (have_ids_) return;
    ids_ = factory_->Begin({});
    have_ids_ = true;
  }

  void AddResponseMetadata(std::multimap<std::string, std::string>* md) {
    absl::MutexLock lock(&mu_);
    EnsureIds();
    AddIfAbsent(md, kRequestIdKey, ids_.request_id);
    AddIfAbsent(md, kTraceparentKey, ids_.traceparent);
  }

  void Finish(int code, absl::string_view message) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
    EnsureIds();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
            .count();
    // peer_ is not read again once finished.
    factory_->End(method_.c_str(), ids_, std::move(peer_), code, message,
                  seconds);
  }

  TelemetryInterceptorFactory* const factory_;
  grpc::ServerContextBase* const context_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;

  absl::Mutex mu_;
  bool have_ids_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  CallIds ids_ ABSL_GUARDED_BY(mu_);
  std::string peer_ ABSL_GUARDED_BY(mu_);
};

TelemetryInterceptorFactory::TelemetryInterceptorFactory(
    std::string service_name, Metrics* metrics, AccessLog* log)
    : service_name_(std::move(service_name)), metrics_(metrics), log_(log) {}

void TelemetryInterceptorFactory::ServeInBinding(std::string method) {
  bound_.insert(std::move(method));
}

grpc::experimental::Interceptor*
TelemetryInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  if (ServedInBinding(info->method())) return nullptr;  // the binding does
  return new TelemetryInterceptor(this, info);
}

CallIds TelemetryInterceptorFactory::Begin(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  const std::optional<absl::string_view> id =
      FindFirst(metadata, kRequestIdKey);
  std::optional<TraceContext> parent;
  if (std::optional<absl::string_view> tp =
          FindFirst(metadata, kTraceparentKey))
    parent = ParseTraceparent(*tp);
  CallIds ids;
  ids.request_id = id.has_value() && IsValidRequestId(*id) ? std::string(*id)
                                                           : NewRequestId();
  TraceContext span = NewServerSpan(parent);
  ids.traceparent = FormatTraceparent(span);
  ids.trace_id = std::move(span.trace_id);
  ids.span_id = std::move(span.span_id);
  return ids;
}

void TelemetryInterceptorFactory::End(const char* method, const CallIds& ids,
                                      std::string peer, int code,
                                      absl::string_view message,
                                      double seconds) {
  if (metrics_ != nullptr) metrics_->RecordCall(method, code, seconds);
  if (log_ == nullptr || !log_->enabled()) return;
  // Only the fields: the log's writer thread formats the line.
  AccessLog::RpcLine line;
  line.time = absl::Now();
  line.service = service_name_;
  line.method = method;
  line.grpc_code = code;
  line.duration_ms = seconds * 1e3;
  line.request_id = ids.request_id;
  line.trace_id = ids.trace_id;
  line.span_id = ids.span_id;
  line.peer = std::move(peer);
  if (code != grpc::StatusCode::OK) line.error = std::string(message);
  log_->WriteRpc(std::move(line));
}

std::string TelemetryInterceptorFactory::NewRequestId() {
  return ids_.NewRequestId();
}

TraceContext TelemetryInterceptorFactory::NewServerSpan(
    const std::optional<TraceContext>& parent) {
  return ids_.NewSpan(parent);
}

}  // namespace cstopa::common
