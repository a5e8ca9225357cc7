#include "gateway/http/http_api.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <list>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "gateway/http/openapi.h"
#include "gateway/http/record_export.h"
#include "gateway/http/web_assets.h"
#include "gateway/http/wire.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/client_callback.h"
#include "services/common/api/trace_context.h"
#include "services/common/base/errors.h"
#include "services/common/base/gzip.h"
#include "services/common/server/interceptors.h"
#include "services/common/server/local_binding.h"
#include "services/common/server/metrics.h"

namespace cstopa::gateway::http {

using cstopa::http::HttpExchange;
using cstopa::http::HttpHeader;

namespace {

constexpr char kErrorDomain[] = "gateway.cstopa.org";
constexpr char kJsonType[] = "application/json; charset=utf-8";
// The web pages' HTML may run only the gateway's own scripts and styles,
// call only its API, and not be framed.
constexpr char kPageCsp[] =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

// The HTTP statuses counted apart; the last slot counts the others.
constexpr std::array<int, 18> kCountedStatuses = {200, 204, 304, 400, 401, 403,
                                                  404, 405, 409, 412, 413, 429,
                                                  431, 499, 500, 501, 503, 504};

// Per-route counters: requests by status, and a latency histogram.
struct RouteStats {
  std::array<std::atomic<uint64_t>, kCountedStatuses.size() + 1> by_status{};
  std::array<std::atomic<uint64_t>, common::Metrics::kBucketBounds.size() + 1>
      buckets{};
  std::atomic<uint64_t> sum_nanos{0};
};

// A strong validator of `body`: its CRC-32 and Adler-32 and length.
std::string EtagOf(absl::string_view body) {
  const auto* data = reinterpret_cast<const Bytef*>(body.data());
  const uLong crc = crc32(0L, data, static_cast<uInt>(body.size()));
  const uLong adler = adler32(1L, data, static_cast<uInt>(body.size()));
  return absl::StrFormat("\"%08x%08x-%x\"", crc, adler, body.size());
}

// Whether an If-None-Match header names `etag` (or is "*"); weak
// comparison, as RFC 9110 asks for If-None-Match.
bool NoneMatchHits(absl::string_view header, absl::string_view etag) {
  for (absl::string_view tag : absl::StrSplit(header, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    if (tag == "*") return true;
    absl::ConsumePrefix(&tag, "W/");
    if (tag == etag) return true;
  }
  return false;
}

bool AcceptsGzip(const std::optional<std::string>& accept_encoding) {
  if (!accept_encoding) return false;
  for (absl::string_view coding : absl::StrSplit(*accept_encoding, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(coding, ';');
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(parts[0]), "gzip"))
      continue;
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
      if (p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000")
        return false;
    }
    return true;
  }
  return false;
}

// How hard answers are gzip'd (zlib level): most of the gain, little CPU.
constexpr int kGzipLevel = 5;

std::string PercentEncode(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// Whether `query` sets the parameter `name` (either spelling is the
// caller's business; this checks the one given).
bool QueryHas(absl::string_view query, absl::string_view name) {
  for (absl::string_view kv : absl::StrSplit(query, '&')) {
    if (kv.substr(0, kv.find('=')) == name) return true;
  }
  return false;
}

// One text line per SSE field: a value with line breaks becomes several
// `data:` lines (JSON from the transcoder has none; error text might).
void AppendSseField(std::string* out, absl::string_view field,
                    absl::string_view value) {
  for (absl::string_view line : absl::StrSplit(value, '\n')) {
    absl::StrAppend(out, field, ": ", absl::StripSuffix(line, "\r"), "\n");
  }
}

// Answers already rendered: the JSON of a response's exact bytes, with its
// ETag and (once a client asked) its gzip, so that an answer asked again
// unchanged (a cached view, a stored resource) is not printed again.
// Bounded by bytes, least recently used out first. Thread-safe.
class RenderedAnswers {
 public:
  struct Answer {
    std::string bytes;  // the response message, as the service sent it
    std::string json;
    std::string etag;
    std::string gzip;  // "" until a client that accepts gzip asked
  };

  explicit RenderedAnswers(size_t max_bytes) : max_bytes_(max_bytes) {}

  std::shared_ptr<const Answer> Find(const google::protobuf::Descriptor* type,
                                     absl::string_view bytes) {
    const Key key{type, absl::Hash<absl::string_view>()(bytes)};
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.answer->bytes != bytes)
      return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second.position);
    return it->second.answer;
  }

  void Put(const google::protobuf::Descriptor* type,
           std::shared_ptr<const Answer> answer) {
    const size_t cost = Cost(*answer);
    if (cost > max_bytes_ / 8) return;  // one answer never crowds out many
    const Key key{type, absl::Hash<absl::string_view>()(answer->bytes)};
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      bytes_ -= Cost(*it->second.answer);
      lru_.erase(it->second.position);
      entries_.erase(it);
    }
    lru_.push_front(key);
    entries_[key] = Entry{std::move(answer), lru_.begin()};
    bytes_ += cost;
    while (bytes_ > max_bytes_ && !lru_.empty()) {
      auto last = entries_.find(lru_.back());
      bytes_ -= Cost(*last->second.answer);
      entries_.erase(last);
      lru_.pop_back();
    }
  }

 private:
  using Key = std::pair<const google::protobuf::Descriptor*, size_t>;
  struct Entry {
    std::shared_ptr<const Answer> answer;
    std::list<Key>::iterator position;
  };
  static size_t Cost(const Answer& a) {
    return a.bytes.size() + a.json.size() + a.gzip.size() + 128;
  }

  const size_t max_bytes_;
  absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<Key> lru_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

struct HttpApi::Impl {
  Impl(ApiDescriptors* api, const RouteTable* routes, HttpApiOptions options,
       common::AccessLog* log)
      : api(api),
        routes(routes),
        transcoder(api),
        options(std::move(options)),
        log(log) {
    for (const std::string& o : this->options.cors_origins) {
      if (o == "*") cors_any = true;
      cors.insert(o);
    }
  }

  // One request on its way: what its answer needs.
  struct Request {
    std::shared_ptr<HttpExchange> exchange;
    absl::Time start;
    size_t stat = 0;                 // index into stats
    std::string rpc;                 // "/pkg.Service/Method" once known
    std::vector<HttpHeader> common;  // CORS headers every answer carries
    bool gzip_ok = false;
    std::optional<std::string> if_none_match;
  };

  // Answers and records `r`.
  void Finish(Request& r, int status, std::vector<HttpHeader> headers,
              std::string body, int grpc_code, absl::string_view request_id,
              absl::string_view error) {
    const size_t length = body.size();
    for (HttpHeader& h : r.common) headers.push_back(std::move(h));
    if (!request_id.empty())
      headers.push_back({"X-Request-Id", std::string(request_id)});
    r.exchange->Reply(status, std::move(headers), std::move(body));
    Record(r, status, length, grpc_code, request_id, error);
  }

  // The answer to a unary call that returned `bytes` of `type`: rendered
  // again only when these bytes were not rendered lately.
  void FinishResponse(Request& r, const google::protobuf::Descriptor* type,
                      std::string bytes, absl::string_view request_id) {
    std::shared_ptr<const RenderedAnswers::Answer> answer =
        rendered.Find(type, bytes);
    const bool want_gzip = r.gzip_ok;
    if (answer == nullptr || (want_gzip && answer->gzip.empty() &&
                              answer->json.size() >= options.gzip_min_bytes)) {
      auto made = std::make_shared<RenderedAnswers::Answer>();
      if (answer != nullptr) {
        *made = *answer;
      } else {
        absl::StatusOr<std::string> json =
            transcoder.ResponseJson(*type, bytes);
        if (!json.ok()) {
          FinishError(r, common::ToGrpcStatus(json.status(), kErrorDomain),
                      request_id);
          return;
        }
        made->bytes = std::move(bytes);
        made->json = *std::move(json);
        made->etag = EtagOf(made->json);
      }
      if (want_gzip && made->json.size() >= options.gzip_min_bytes) {
        if (std::optional<std::string> zipped =
                common::Gzip(made->json, kGzipLevel))
          made->gzip = std::move(*zipped);
      }
      rendered.Put(type, made);
      answer = std::move(made);
    }
    FinishAnswer(r, *answer, request_id);
  }

  // The OpenAPI document (gzip'd once, on the first request that accepts
  // it).
  void FinishOpenApi(Request& r) {
    std::shared_ptr<const RenderedAnswers::Answer> doc;
    {
      absl::MutexLock lock(&openapi_mu);
      doc = openapi;
    }
    if (r.gzip_ok && doc->gzip.empty()) {
      if (std::optional<std::string> zipped =
              common::Gzip(doc->json, kGzipLevel)) {
        auto made = std::make_shared<RenderedAnswers::Answer>(*doc);
        made->gzip = std::move(*zipped);
        doc = made;
        absl::MutexLock lock(&openapi_mu);
        openapi = doc;
      }
    }
    FinishAnswer(r, *doc, "");
  }

  void FinishAnswer(Request& r, const RenderedAnswers::Answer& answer,
                    absl::string_view request_id) {
    std::vector<HttpHeader> headers;
    headers.reserve(8);
    // The gzip'd answer is another representation: another strong ETag.
    const bool zip = r.gzip_ok && answer.json.size() >= options.gzip_min_bytes;
    const std::string etag =
        zip ? absl::StrCat(absl::StripSuffix(answer.etag, "\""), "-gzip\"")
            : answer.etag;
    headers.push_back({"Content-Type", kJsonType});
    headers.push_back({"ETag", etag});
    headers.push_back({"Cache-Control", "no-cache"});
    headers.push_back({"Vary", "Accept-Encoding"});
    if (r.if_none_match && NoneMatchHits(*r.if_none_match, etag)) {
      Finish(r, 304, std::move(headers), "", 0, request_id, "");
      return;
    }
    if (zip) {
      if (!answer.gzip.empty()) {
        headers.push_back({"Content-Encoding", "gzip"});
        Finish(r, 200, std::move(headers), answer.gzip, 0, request_id, "");
        return;
      }
      if (std::optional<std::string> zipped =
              common::Gzip(answer.json, kGzipLevel)) {
        headers.push_back({"Content-Encoding", "gzip"});
        Finish(r, 200, std::move(headers), std::move(*zipped), 0, request_id,
               "");
        return;
      }
    }
    Finish(r, 200, std::move(headers), answer.json, 0, request_id, "");
  }

  // 405, which no gRPC code maps to: the JSON says UNIMPLEMENTED.
  void FinishWrongMethod(Request& r, const std::string& allow) {
    const std::string message =
        absl::StrCat("method ", r.exchange->method(), " is not allowed on ",
                     r.exchange->path(), "; allowed: ", allow);
    Finish(r, 405, {{"Allow", allow}, {"Content-Type", kJsonType}},
           absl::StrCat("{\"error\":{\"code\":405,\"message\":\"",
                        common::JsonEscape(message),
                        "\",\"status\":\"UNIMPLEMENTED\"}}"),
           grpc::StatusCode::UNIMPLEMENTED, "", message);
  }

  // A path of the web pages: the embedded file, or index.html for a page.
  void FinishStatic(Request& r) {
    const std::string& method = r.exchange->method();
    if (method != "GET" && method != "HEAD") {
      FinishWrongMethod(r, "GET, HEAD");
      return;
    }
    const std::string& path = r.exchange->path();
    const WebAsset* asset = ResolveWebPath(path);
    if (asset == nullptr) {
      FinishError(r, absl::NotFoundError(absl::StrCat("no file at ", path,
                                                      " (the web pages)")));
      return;
    }
    // The gzip'd file, made at start for text worth it; another
    // representation, so another strong ETag.
    const std::string& gzip =
        web_gzip[static_cast<size_t>(asset - WebAssets().data())];
    const bool zip = r.gzip_ok && !gzip.empty();
    const std::string etag =
        zip ? absl::StrCat(absl::StripSuffix(asset->etag, "\""), "-gzip\"")
            : std::string(asset->etag);
    std::vector<HttpHeader> headers;
    headers.reserve(8);
    headers.push_back({"Content-Type", std::string(asset->content_type)});
    headers.push_back({"ETag", etag});
    headers.push_back({"Cache-Control", "no-cache"});
    if (!gzip.empty()) headers.push_back({"Vary", "Accept-Encoding"});
    headers.push_back({"X-Content-Type-Options", "nosniff"});
    headers.push_back({"Referrer-Policy", "no-referrer"});
    if (absl::StartsWith(asset->content_type, "text/html"))
      headers.push_back({"Content-Security-Policy", kPageCsp});
    if (r.if_none_match && NoneMatchHits(*r.if_none_match, etag)) {
      Finish(r, 304, std::move(headers), "", 0, "", "");
      return;
    }
    if (zip) headers.push_back({"Content-Encoding", "gzip"});
    Finish(r, 200, std::move(headers), zip ? gzip : std::string(asset->bytes),
           0, "", "");
  }

  // An error answer (AIP-193 JSON) for a gRPC status.
  void FinishError(Request& r, const grpc::Status& status,
                   absl::string_view request_id,
                   std::vector<HttpHeader> headers = {}) {
    auto [http_status, json] = transcoder.ErrorJson(
        status.error_code(), status.error_message(), status.error_details());
    headers.push_back({"Content-Type", kJsonType});
    Finish(r, http_status, std::move(headers), std::move(json),
           status.error_code(), request_id, status.error_message());
  }

  // An error the gateway itself finds (no route, bad request).
  void FinishError(Request& r, const absl::Status& status,
                   std::vector<HttpHeader> headers = {}) {
    FinishError(r, common::ToGrpcStatus(status, kErrorDomain), "",
                std::move(headers));
  }

  void Record(const Request& r, int status, size_t bytes, int grpc_code,
              absl::string_view request_id, absl::string_view error) {
    const absl::Duration took = absl::Now() - r.start;
    RouteStats& s = *stats[r.stat];
    size_t slot = kCountedStatuses.size();
    for (size_t i = 0; i < kCountedStatuses.size(); ++i) {
      if (kCountedStatuses[i] == status) slot = i;
    }
    s.by_status[slot].fetch_add(1, std::memory_order_relaxed);
    const double seconds = absl::ToDoubleSeconds(took);
    size_t bucket = common::Metrics::kBucketBounds.size();
    for (size_t i = 0; i < common::Metrics::kBucketBounds.size(); ++i) {
      if (seconds <= common::Metrics::kBucketBounds[i]) {
        bucket = i;
        break;
      }
    }
    s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
    s.sum_nanos.fetch_add(static_cast<uint64_t>(absl::ToInt64Nanoseconds(took)),
                          std::memory_order_relaxed);
    common::AccessLog* const out = log.load(std::memory_order_acquire);
    if (out == nullptr || !out->enabled()) return;
    std::string line = absl::StrCat(
        "{\"ts\":\"",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                         absl::UTCTimeZone()),
        "\",\"level\":\"info\",\"msg\":\"http\",\"service\":\"gateway\","
        "\"method\":\"",
        common::JsonEscape(r.exchange->method()), "\",\"path\":\"",
        common::JsonEscape(r.exchange->path()), "\",\"status\":", status,
        ",\"bytes\":", bytes,
        absl::StrFormat(",\"duration_ms\":%.3f", seconds * 1000));
    if (!r.rpc.empty()) {
      absl::StrAppend(&line, ",\"rpc\":\"", common::JsonEscape(r.rpc),
                      "\",\"code\":\"", common::GrpcCodeName(grpc_code), "\"");
    }
    if (!request_id.empty())
      absl::StrAppend(&line, ",\"request_id\":\"",
                      common::JsonEscape(request_id), "\"");
    absl::StrAppend(&line, ",\"peer\":\"",
                    common::JsonEscape(r.exchange->peer()), "\"");
    if (!error.empty())
      absl::StrAppend(&line, ",\"error\":\"", common::JsonEscape(error), "\"");
    line += "}";
    out->Write(line);
  }

  // The gRPC metadata a request passes on.
  void PassMetadata(const HttpExchange& ex, grpc::ClientContext* ctx) const {
    for (const char* name :
         {"authorization", "accept-language", "x-request-id", "traceparent"}) {
      if (std::optional<std::string> v = ex.header(name)) {
        // gRPC refuses metadata values with control characters; such a
        // header is dropped rather than failing the call.
        if (std::all_of(v->begin(), v->end(), [](char c) {
              return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
            }))
          ctx->AddMetadata(name, *v);
      }
    }
  }

  void Call(Request r, const Route& route, std::string request_bytes);

  // GET /v1/export (record_export.h).
  void Export(Request r) {
    const HttpExchange& ex = *r.exchange;
    absl::StatusOr<ExportQuery> query = ParseExportQuery(ex.query());
    if (!query.ok()) {
      FinishError(r, query.status());
      return;
    }
    std::unique_ptr<ExportFormat> format = NewExportFormat(*query, &transcoder);
    if (ex.method() == "HEAD") {
      Finish(r, 200, format->Headers(), "", 0, "", "");
      return;
    }
    BeginCall(nullptr);  // the download, until `done`
    auto request = std::make_shared<Request>(std::move(r));
    ExportHooks hooks;
    hooks.begin_call = [this, request](grpc::ClientContext* ctx) {
      PassMetadata(*request->exchange, ctx);
      BeginCall(ctx);
    };
    hooks.end_call = [this](grpc::ClientContext* ctx) { EndCall(ctx); };
    hooks.done = [this, request](int status, size_t bytes, int grpc_code,
                                 const std::string& error) {
      Record(*request, status, bytes, grpc_code, "", error);
      request->exchange.reset();
      EndCall(nullptr);  // last: Stop may free the HttpApi once it runs
    };
    std::vector<HttpHeader> extra = request->common;
    StartRecordExport(export_sources, *query, std::move(format), &transcoder,
                      request->exchange, std::move(extra), std::move(hooks));
  }

  // Every call made for a request is counted from its start to the end of
  // its answer, so that Stop can wait for them: a completion must not run
  // after the HttpApi is gone. Forwarded calls register their context to be
  // cancelled by Stop.
  void BeginCall(grpc::ClientContext* ctx) {
    absl::MutexLock lock(&calls_mu);
    ++in_flight;
    if (ctx == nullptr) return;
    open_calls.insert(ctx);
    if (stopping) ctx->TryCancel();
  }
  void EndCall(grpc::ClientContext* ctx) {
    absl::MutexLock lock(&calls_mu);
    --in_flight;
    if (ctx != nullptr) open_calls.erase(ctx);
  }
  // Cancels the forwarded calls and waits until no call is in flight, or
  // `deadline`; true when none is.
  bool Quiesce(absl::Time deadline) {
    absl::MutexLock lock(&calls_mu);
    stopping = true;
    for (grpc::ClientContext* ctx : open_calls) ctx->TryCancel();
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu) {
      return in_flight == 0;
    };
    return calls_mu.AwaitWithDeadline(absl::Condition(&idle), deadline);
  }
  // A unary call of a service in this process, without gRPC.
  void CallLocal(Request r, const Route& route, common::LocalService& service,
                 std::string request_bytes);

  // The id of a request no service sees with its own interceptor (a
  // local call, a cached answer): the client's x-request-id when the
  // services would take it, else a new one, as the interceptor does.
  std::string RequestIdFor(const HttpExchange& ex) {
    std::optional<std::string> id = ex.header("x-request-id");
    return id && common::IsValidRequestId(*id) ? *std::move(id)
                                               : ids.NewRequestId();
  }

  ApiDescriptors* api;
  const RouteTable* routes;
  Transcoder transcoder;
  const HttpApiOptions options;
  std::atomic<common::AccessLog*> log;
  bool cors_any = false;
  std::set<std::string, std::less<>> cors;
  // By full service name.
  std::map<std::string, std::unique_ptr<grpc::GenericStub>, std::less<>> stubs;
  std::map<std::string, common::LocalService*, std::less<>> local;
  // Methods whose route is a GET: reads, cacheable.
  std::set<const google::protobuf::MethodDescriptor*> read_methods;
  absl::Mutex calls_mu;
  std::set<grpc::ClientContext*> open_calls ABSL_GUARDED_BY(calls_mu);
  int in_flight ABSL_GUARDED_BY(calls_mu) = 0;
  bool stopping ABSL_GUARDED_BY(calls_mu) = false;
  common::TraceIds ids;
  // `POST /<service>/<method>`: a route per unary method, body "*".
  std::map<std::string, Route, std::less<>> generic_routes;
  // GET /v1/openapi.json, rendered once (its gzip made when first asked
  // for; the race of two first askers only makes it twice).
  absl::Mutex openapi_mu;
  std::shared_ptr<const RenderedAnswers::Answer> openapi
      ABSL_GUARDED_BY(openapi_mu);
  RenderedAnswers rendered{32 << 20};
  // One per route of the table, then the generic calls, the OpenAPI
  // document and requests that match nothing.
  std::vector<std::unique_ptr<RouteStats>> stats;
  std::vector<std::string> stat_names;
  size_t generic_stat = 0, openapi_stat = 0, static_stat = 0,
         unmatched_stat = 0, export_stat = 0;
  // GET /v1/export: the services' Export methods, in the order served.
  std::vector<ExportSource> export_sources;
  // The gzip of each of WebAssets() (same index), "" when not worth it.
  std::vector<std::string> web_gzip;
};

namespace {

// A server stream as Server-Sent Events; deletes itself when done.
class SseCall final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  SseCall(HttpApi::Impl* impl, HttpApi::Impl::Request request,
          const Route& route, std::string request_bytes)
      : impl_(impl),
        r_(std::move(request)),
        route_(route),
        request_(ToBuffer(request_bytes)),
        link_(std::make_shared<Link>()) {}

  void Start(grpc::GenericStub* stub) {
    impl_->PassMetadata(*r_.exchange, &ctx_);
    impl_->BeginCall(&ctx_);
    {
      absl::MutexLock lock(&link_->mu);
      link_->ctx = &ctx_;
    }
    r_.exchange->OnClientGone([link = link_] {
      absl::MutexLock lock(&link->mu);
      link->gone = true;
      if (link->ctx != nullptr) link->ctx->TryCancel();
    });
    stub->PrepareBidiStreamingCall(&ctx_, r_.rpc, grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  void OnWriteDone(bool) override {}

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the status follows in OnDone
    const std::string bytes = ToString(response_);
    std::string json;
    auto printed =
        impl_->transcoder.ResponseJson(*route_.method->output_type(), bytes);
    std::string frame;
    if (printed.ok()) {
      json = *std::move(printed);
      const std::string token = ResumeToken(bytes);
      if (!token.empty()) AppendSseField(&frame, "id", token);
      AppendSseField(&frame, "data", json);
    } else {
      // A message that cannot be printed ends the stream with the error,
      // rather than an empty event the client would take for a change.
      failed_ = true;
      auto [http_status, error] = impl_->transcoder.ErrorJson(
          grpc::StatusCode::INTERNAL, std::string(printed.status().message()),
          "");
      AppendSseField(&frame, "event", "error");
      AppendSseField(&frame, "data", error);
    }
    frame += "\n";
    if (!started_) {
      started_ = true;
      std::vector<HttpHeader> headers = {
          {"Content-Type", "text/event-stream; charset=utf-8"},
          {"Cache-Control", "no-cache"},
          {"X-Accel-Buffering", "no"}};
      for (const HttpHeader& h : r_.common) headers.push_back(h);
      r_.exchange->StartStream(200, std::move(headers));
    }
    bytes_ += frame.size();
    // The next message is read once this one is written: a slow reader
    // slows the stream instead of filling the gateway's memory. The hold
    // keeps the reactor alive until the write's callback has run.
    AddHold();
    r_.exchange->SendChunk(std::move(frame), [this](bool written) {
      if (written && !failed_) {
        StartRead(&response_);
      } else {
        ctx_.TryCancel();
      }
      RemoveHold();
    });
  }

  void OnDone(const grpc::Status& status) override {
    bool gone;
    {
      absl::MutexLock lock(&link_->mu);
      link_->ctx = nullptr;
      gone = link_->gone;
    }
    std::string request_id;
    const auto& trailers = ctx_.GetServerTrailingMetadata();
    if (auto it = trailers.find("x-request-id"); it != trailers.end())
      request_id.assign(it->second.data(), it->second.size());
    if (!started_) {
      if (status.ok()) {
        r_.exchange->StartStream(
            200, {{"Content-Type", "text/event-stream; charset=utf-8"}});
        r_.exchange->EndStream();
        impl_->Record(r_, 200, 0, 0, request_id, "");
      } else {
        impl_->FinishError(r_, status, request_id);
      }
    } else {
      if (!status.ok() && !gone && !failed_) {
        auto [http_status, json] = impl_->transcoder.ErrorJson(
            status.error_code(), status.error_message(),
            status.error_details());
        std::string frame;
        AppendSseField(&frame, "event", "error");
        AppendSseField(&frame, "data", json);
        frame += "\n";
        r_.exchange->SendChunk(std::move(frame), nullptr);
      }
      r_.exchange->EndStream();
      impl_->Record(r_, gone ? 499 : 200, bytes_,
                    gone ? grpc::StatusCode::CANCELLED : status.error_code(),
                    request_id, status.error_message());
    }
    HttpApi::Impl* impl = impl_;
    grpc::ClientContext* ctx = &ctx_;
    delete this;
    impl->EndCall(ctx);  // last: Stop may free the HttpApi once it runs
  }

 private:
  // What the client's gone callback needs, which may outlive the call.
  struct Link {
    absl::Mutex mu;
    grpc::ClientContext* ctx ABSL_GUARDED_BY(mu) = nullptr;
    bool gone ABSL_GUARDED_BY(mu) = false;
  };

  // The message's `resume_token` field, "" when it has none.
  std::string ResumeToken(const std::string& bytes) {
    const google::protobuf::Descriptor* type = route_.method->output_type();
    const google::protobuf::FieldDescriptor* field =
        type->FindFieldByName("resume_token");
    if (field == nullptr ||
        field->type() != google::protobuf::FieldDescriptor::TYPE_STRING)
      return "";
    std::unique_ptr<google::protobuf::Message> message(
        impl_->api->factory()->GetPrototype(type)->New());
    if (!message->ParseFromString(bytes)) return "";
    return message->GetReflection()->GetString(*message, field);
  }

  HttpApi::Impl* const impl_;
  HttpApi::Impl::Request r_;
  const Route& route_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::shared_ptr<Link> link_;
  bool failed_ = false;   // a message could not be printed
  bool started_ = false;  // only touched by the reactor's callbacks, in turn
  size_t bytes_ = 0;
};

}  // namespace

void HttpApi::Impl::Call(Request r, const Route& route,
                         std::string request_bytes) {
  const std::string& service = route.method->service()->full_name();
  if (!route.server_streaming) {
    if (auto local_it = local.find(service); local_it != local.end()) {
      CallLocal(std::move(r), route, *local_it->second,
                std::move(request_bytes));
      return;
    }
  }
  auto it = stubs.find(service);
  if (it == stubs.end()) {
    FinishError(r, absl::UnimplementedError(
                       absl::StrCat(route.method->service()->full_name(),
                                    " is not served through this gateway")));
    return;
  }
  r.rpc = absl::StrCat("/", route.method->service()->full_name(), "/",
                       route.method->name());
  if (route.server_streaming) {
    auto* call =
        new SseCall(this, std::move(r), route, std::move(request_bytes));
    call->Start(it->second.get());
    return;
  }
  // A read without a key may be answered from the read cache; a write drops
  // the service's cached answers once it is answered.
  const bool read = read_methods.count(route.method) > 0;
  ReadCache* const cache = options.read_cache;
  std::string cache_key;
  ReadCache::Stamp stamp;
  if (cache != nullptr && read && !r.exchange->header("authorization")) {
    cache_key = absl::StrCat(r.rpc, "\n",
                             r.exchange->header("accept-language").value_or(""),
                             "\n", request_bytes);
    stamp = cache->Begin();
    if (std::shared_ptr<const std::string> hit = cache->Lookup(cache_key)) {
      FinishResponse(r, route.method->output_type(), *hit,
                     RequestIdFor(*r.exchange));
      return;
    }
  }
  struct Unary {
    Request r;
    grpc::ClientContext ctx;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
  };
  auto call = std::make_shared<Unary>();
  call->r = std::move(r);
  call->request = ToBuffer(request_bytes);
  call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  PassMetadata(*call->r.exchange, &call->ctx);
  BeginCall(&call->ctx);
  // A client that leaves cancels its call (logged as 499).
  call->r.exchange->OnClientGone([weak = std::weak_ptr<Unary>(call)] {
    if (std::shared_ptr<Unary> c = weak.lock()) c->ctx.TryCancel();
  });
  const google::protobuf::Descriptor* output = route.method->output_type();
  const std::string rpc = call->r.rpc;
  it->second->UnaryCall(
      &call->ctx, rpc, grpc::StubOptions(), &call->request, &call->response,
      [this, call, output, read, cache, service,
       cache_key = std::move(cache_key),
       stamp = std::move(stamp)](grpc::Status status) {
        std::string request_id;
        const auto& trailers = call->ctx.GetServerTrailingMetadata();
        if (auto t = trailers.find("x-request-id"); t != trailers.end())
          request_id.assign(t->second.data(), t->second.size());
        if (cache != nullptr && !read) cache->Wrote(service);
        if (!status.ok()) {
          FinishError(call->r, status, request_id);
        } else {
          std::string bytes = ToString(call->response);
          if (!cache_key.empty())
            cache->Insert(service, cache_key, bytes, stamp);
          FinishResponse(call->r, output, std::move(bytes), request_id);
        }
        EndCall(&call->ctx);
      });
}

void HttpApi::Impl::CallLocal(Request r, const Route& route,
                              common::LocalService& service,
                              std::string request_bytes) {
  const std::string& name = route.method->service()->full_name();
  r.rpc = absl::StrCat("/", name, "/", route.method->name());
  const std::string path = r.rpc;
  const HttpExchange& ex = *r.exchange;
  common::Caller caller;
  caller.authorization = ex.header("authorization");
  caller.deadline = absl::Now() + options.deadline;
  caller.request_id = RequestIdFor(ex);
  caller.traceparent = ex.header("traceparent").value_or("");
  caller.accept_language = ex.header("accept-language").value_or("");
  const google::protobuf::Descriptor* output = route.method->output_type();
  std::string domain = common::ErrorDomainOf(name);
  std::string request_id = caller.request_id;
  BeginCall(nullptr);
  common::LocalService::Done done =
      [this, r = std::move(r), output, domain = std::move(domain), request_id](
          absl::Status status, std::string bytes) mutable {
        if (!status.ok()) {
          FinishError(r, common::ToGrpcStatus(status, domain), request_id);
        } else {
          FinishResponse(r, output, std::move(bytes), request_id);
        }
        EndCall(nullptr);
      };
  if (!service.CallUnary(path, caller, request_bytes, done)) {
    done(absl::UnimplementedError(
             absl::StrCat(path.substr(1), " is not served in this process")),
         "");
  }
}

absl::StatusOr<std::unique_ptr<HttpApi>> HttpApi::Create(
    std::map<std::string, std::shared_ptr<grpc::Channel>> channels,
    HttpApiOptions options, common::AccessLog* access_log,
    std::map<std::string, common::LocalService*> local) {
  auto api = ApiDescriptors::Load();
  if (!api.ok()) return api.status();
  auto routes = RouteTable::Build(**api);
  if (!routes.ok()) return routes.status();
  std::unique_ptr<HttpApi> self(new HttpApi());
  self->api_ = *std::move(api);
  self->routes_ = *std::move(routes);
  OpenApiInfo info;
  info.server_url = options.public_url;
  info.description =
      "The public record of the Parliamentary Assembly of the CSTO, as "
      "HTTP/JSON: every RPC of the cstopa APIs at its google.api.http "
      "route, in protobuf's JSON mapping.";
  self->impl_ = std::make_unique<Impl>(self->api_.get(), &*self->routes_,
                                       std::move(options), access_log);
  Impl& impl = *self->impl_;
  for (auto& [service, face] : local) {
    if (face != nullptr) impl.local[service] = face;
  }
  {
    auto openapi = std::make_shared<RenderedAnswers::Answer>();
    openapi->json = OpenApiDocument(*self->api_, *self->routes_, info);
    openapi->etag = EtagOf(openapi->json);
    absl::MutexLock lock(&impl.openapi_mu);
    impl.openapi = std::move(openapi);
  }
  // `POST /<service>/<method>` for every service served, by a channel or
  // in this process.
  std::set<std::string> served;
  for (auto& [service, channel] : channels) {
    impl.stubs[service] = std::make_unique<grpc::GenericStub>(channel);
    served.insert(service);
  }
  for (const auto& [service, face] : impl.local) served.insert(service);
  for (const std::string& service : served) {
    const google::protobuf::ServiceDescriptor* desc =
        self->api_->pool().FindServiceByName(service);
    if (desc == nullptr)
      return absl::InvalidArgumentError(
          absl::StrCat("no descriptor for service ", service));
    for (int i = 0; i < desc->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = desc->method(i);
      if (m->client_streaming()) continue;
      Route route;
      route.method = m;
      route.http_method = "POST";
      route.path_template = absl::StrCat("/", service, "/", m->name());
      route.body = "*";
      route.server_streaming = m->server_streaming();
      impl.generic_routes[route.path_template] = route;
    }
  }
  for (const Route& route : self->routes_->routes()) {
    if (route.http_method == "GET") impl.read_methods.insert(route.method);
    impl.stat_names.push_back(
        absl::StrCat(route.http_method, " ", route.path_template));
  }
  impl.generic_stat = impl.stat_names.size();
  impl.stat_names.push_back("POST /{service}/{method}");
  impl.openapi_stat = impl.stat_names.size();
  impl.stat_names.push_back("GET /v1/openapi.json");
  impl.static_stat = impl.stat_names.size();
  impl.stat_names.push_back("static");
  impl.export_stat = impl.stat_names.size();
  impl.stat_names.push_back("GET /v1/export");
  impl.export_sources = FindExportSources(
      *self->api_, [&impl](const std::string& service) -> grpc::GenericStub* {
        auto it = impl.stubs.find(service);
        return it == impl.stubs.end() ? nullptr : it->second.get();
      });
  impl.unmatched_stat = impl.stat_names.size();
  impl.stat_names.push_back("unmatched");
  for (size_t i = 0; i < impl.stat_names.size(); ++i)
    impl.stats.push_back(std::make_unique<RouteStats>());
  // The web pages' text, gzip'd once here rather than per request.
  impl.web_gzip.resize(WebAssets().size());
  if (impl.options.web_pages) {
    for (size_t i = 0; i < WebAssets().size(); ++i) {
      const WebAsset& asset = WebAssets()[i];
      if (!IsTextType(asset.content_type)) continue;
      std::optional<std::string> zipped = common::Gzip(asset.bytes, kGzipLevel);
      if (zipped && zipped->size() < asset.bytes.size())
        impl.web_gzip[i] = *std::move(zipped);
    }
  }
  return self;
}

HttpApi::~HttpApi() {
  if (impl_ != nullptr) Stop(absl::Now() + absl::Seconds(30));
}

bool HttpApi::Stop(absl::Time deadline) {
  const bool idle = impl_->Quiesce(deadline);
  // A call that outlives the wait must not write to a log that is gone.
  impl_->log.store(nullptr, std::memory_order_release);
  return idle;
}

void HttpApi::Handle(std::shared_ptr<HttpExchange> exchange) {
  Impl& impl = *impl_;
  Impl::Request r;
  r.exchange = std::move(exchange);
  r.start = absl::Now();
  r.stat = impl.unmatched_stat;
  const HttpExchange& ex = *r.exchange;
  const std::string& method = ex.method();

  // CORS.
  const std::optional<std::string> origin = ex.header("origin");
  const bool origin_allowed =
      origin && (impl.cors_any || impl.cors.count(*origin) > 0);
  // With CORS on, every answer depends on the Origin it was asked from.
  if (!impl.cors.empty()) r.common.push_back({"Vary", "Origin"});
  if (origin_allowed) {
    r.common.push_back({"Access-Control-Allow-Origin", *origin});
    r.common.push_back({"Access-Control-Expose-Headers", "ETag, X-Request-Id"});
  }
  if (method == "OPTIONS") {
    if (origin && ex.header("access-control-request-method")) {
      if (!origin_allowed) {
        impl.FinishError(r, absl::PermissionDeniedError(absl::StrCat(
                                "origin ", *origin, " may not call this API")));
        return;
      }
      impl.Finish(r, 204,
                  {{"Access-Control-Allow-Methods",
                    "GET, POST, PATCH, PUT, DELETE, OPTIONS"},
                   {"Access-Control-Allow-Headers",
                    "authorization, content-type, if-none-match, if-match, "
                    "last-event-id, accept-language, x-request-id, "
                    "traceparent"},
                   {"Access-Control-Max-Age", "600"},
                   {"Vary", "Origin"}},
                  "", 0, "", "");
      return;
    }
  }

  r.gzip_ok = AcceptsGzip(ex.header("accept-encoding"));
  // A conditional GET; on a write the condition would come after the act.
  if (method == "GET" || method == "HEAD")
    r.if_none_match = ex.header("if-none-match");
  const std::string& path = ex.path();

  if (path == "/v1/openapi.json" && (method == "GET" || method == "HEAD")) {
    r.stat = impl.openapi_stat;
    impl.FinishOpenApi(r);
    return;
  }

  if (path == "/v1/export" && (method == "GET" || method == "HEAD")) {
    r.stat = impl.export_stat;
    impl.Export(std::move(r));
    return;
  }

  // `POST /<package.Service>/<Method>`: the whole request as JSON.
  if (method == "POST" && absl::StartsWith(path, "/cstopa.")) {
    auto it = impl.generic_routes.find(path);
    if (it == impl.generic_routes.end()) {
      impl.FinishError(r, absl::NotFoundError(absl::StrCat(
                              "no method ", path.substr(1),
                              " (POST /<package.Service>/<Method>)")));
      return;
    }
    r.stat = impl.generic_stat;
    RouteMatch match;
    match.miss = RouteMatch::kMatched;
    match.route = &it->second;
    absl::StatusOr<std::string> bytes =
        impl.transcoder.RequestBytes(match, "", ex.body());
    if (!bytes.ok()) {
      impl.FinishError(r, bytes.status());
      return;
    }
    impl.Call(std::move(r), it->second, *std::move(bytes));
    return;
  }

  // The web pages, at every path the API does not take.
  if (impl.options.web_pages && !IsApiPath(path)) {
    r.stat = impl.static_stat;
    impl.FinishStatic(r);
    return;
  }

  RouteMatch match = routes_->Find(method, path);
  if (match.miss == RouteMatch::kNoRoute) {
    impl.FinishError(
        r, absl::NotFoundError(absl::StrCat("no route for ", method, " ", path,
                                            " (see GET /v1/openapi.json)")));
    return;
  }
  if (match.miss == RouteMatch::kWrongMethod) {
    if (method == "OPTIONS") {
      impl.Finish(r, 204, {{"Allow", match.allow + ", OPTIONS"}}, "", 0, "",
                  "");
      return;
    }
    impl.FinishWrongMethod(r, match.allow);
    return;
  }
  r.stat = static_cast<size_t>(match.route - routes_->routes().data());
  if (method == "HEAD" && match.route->server_streaming) {
    // The stream's headers, without opening the stream.
    impl.Finish(r, 200,
                {{"Content-Type", "text/event-stream; charset=utf-8"},
                 {"Cache-Control", "no-cache"}},
                "", 0, "", "");
    return;
  }
  std::string query = ex.query();
  // Last-Event-ID resumes a stream after the change it names.
  if (match.route->server_streaming) {
    if (std::optional<std::string> last = ex.header("last-event-id");
        last && !last->empty() &&
        match.route->method->input_type()->FindFieldByName("resume_token") &&
        !QueryHas(query, "resume_token") && !QueryHas(query, "resumeToken")) {
      absl::StrAppend(&query, query.empty() ? "" : "&",
                      "resume_token=", PercentEncode(*last));
    }
  }
  absl::StatusOr<std::string> bytes =
      impl.transcoder.RequestBytes(match, query, ex.body());
  if (!bytes.ok()) {
    impl.FinishError(r, bytes.status());
    return;
  }
  impl.Call(std::move(r), *match.route, *std::move(bytes));
}

std::pair<std::string, std::string> HttpApi::ServerErrorBody(
    int status, absl::string_view message) {
  const char* code = status == 503   ? "UNAVAILABLE"
                     : status >= 500 ? "INTERNAL"
                                     : "INVALID_ARGUMENT";
  return {kJsonType,
          absl::StrCat("{\"error\":{\"code\":", status, ",\"message\":\"",
                       common::JsonEscape(message), "\",\"status\":\"", code,
                       "\"}}")};
}

std::string HttpApi::MetricsText() const {
  const Impl& impl = *impl_;
  std::string out =
      "# HELP cstopa_http_requests_total HTTP/JSON requests the gateway "
      "answered, by route and HTTP status.\n"
      "# TYPE cstopa_http_requests_total counter\n";
  auto label = [](absl::string_view route) {
    return common::JsonEscape(route);  // escapes '"' and '\\' as needed
  };
  for (size_t i = 0; i < impl.stats.size(); ++i) {
    const RouteStats& s = *impl.stats[i];
    for (size_t k = 0; k < s.by_status.size(); ++k) {
      const uint64_t n = s.by_status[k].load(std::memory_order_relaxed);
      if (n == 0) continue;
      absl::StrAppend(&out, "cstopa_http_requests_total{route=\"",
                      label(impl.stat_names[i]), "\",code=\"",
                      k < kCountedStatuses.size()
                          ? std::to_string(kCountedStatuses[k])
                          : std::string("other"),
                      "\"} ", n, "\n");
    }
  }
  absl::StrAppend(&out,
                  "# HELP cstopa_http_request_seconds Time from a complete "
                  "HTTP/JSON request to its answer, by route.\n"
                  "# TYPE cstopa_http_request_seconds histogram\n");
  for (size_t i = 0; i < impl.stats.size(); ++i) {
    const RouteStats& s = *impl.stats[i];
    uint64_t total = 0;
    for (const auto& b : s.buckets) total += b.load(std::memory_order_relaxed);
    if (total == 0) continue;
    const std::string route = label(impl.stat_names[i]);
    uint64_t cumulative = 0;
    for (size_t k = 0; k < s.buckets.size(); ++k) {
      cumulative += s.buckets[k].load(std::memory_order_relaxed);
      absl::StrAppend(&out, "cstopa_http_request_seconds_bucket{route=\"",
                      route, "\",le=\"",
                      k < common::Metrics::kBucketBounds.size()
                          ? absl::StrCat(common::Metrics::kBucketBounds[k])
                          : std::string("+Inf"),
                      "\"} ", cumulative, "\n");
    }
    absl::StrAppend(
        &out, "cstopa_http_request_seconds_sum{route=\"", route, "\"} ",
        absl::StrFormat("%.9f", static_cast<double>(s.sum_nanos.load(
                                    std::memory_order_relaxed)) /
                                    1e9),
        "\n", "cstopa_http_request_seconds_count{route=\"", route, "\"} ",
        total, "\n");
  }
  return out;
}

}  // namespace cstopa::gateway::http
