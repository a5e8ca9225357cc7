#include "gateway/http/record_export.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/http/popolo.h"
#include "gateway/http/wire.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/client_callback.h"
#include "services/common/base/errors.h"
#include "services/common/base/gzip.h"
#include "services/common/server/interceptors.h"

namespace cstopa::gateway::http {
namespace {

using cstopa::http::HttpExchange;
using cstopa::http::HttpHeader;
using google::protobuf::internal::WireFormatLite;

// Compressed output is handed to the socket once this much has gathered.
constexpr size_t kChunkBytes = 64 << 10;
// The download's zlib level: a file to keep, worth a little more CPU than
// an answer.
constexpr int kGzipLevel = 6;

// One Export... response, read from its wire bytes.
struct ExportMessage {
  std::string resume_token;
  int64_t record_count = 0;
  const google::protobuf::Descriptor* type = nullptr;  // null: the last one
  absl::string_view record;                            // its bytes
};

bool ReadExportMessage(const google::protobuf::Descriptor& response,
                       absl::string_view bytes, ExportMessage* out) {
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()),
      static_cast<int>(bytes.size()));
  while (uint32_t tag = in.ReadTag()) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    const auto wire = WireFormatLite::GetTagWireType(tag);
    const google::protobuf::FieldDescriptor* field =
        response.FindFieldByNumber(number);
    if (field != nullptr && field->name() == "record_count" &&
        wire == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t v = 0;
      if (!in.ReadVarint64(&v)) return false;
      out->record_count = static_cast<int64_t>(v);
      continue;
    }
    if (field != nullptr && wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length)) return false;
      const int at = in.CurrentPosition();
      if (!in.Skip(static_cast<int>(length))) return false;
      const absl::string_view value = bytes.substr(at, length);
      if (field->name() == "resume_token") {
        out->resume_token = std::string(value);
      } else if (field->message_type() != nullptr) {
        out->type = field->message_type();
        out->record = value;
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) return false;
  }
  return true;
}

std::string TrueOrFalse(bool b) { return b ? "true" : "false"; }

// The Export... request `method` takes for `query`, encoded.
std::string ExportRequest(const google::protobuf::MethodDescriptor& method,
                          const ExportQuery& query) {
  std::string out;
  const google::protobuf::FieldDescriptor* show_deleted =
      method.input_type()->FindFieldByName("show_deleted");
  if (query.show_deleted && show_deleted != nullptr) {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    WireFormatLite::WriteBool(show_deleted->number(), true, &coded);
  }
  return out;
}

// The whole download: its state across the services' calls.
class Download : public std::enable_shared_from_this<Download> {
 public:
  Download(std::vector<ExportSource> sources, ExportQuery query,
           std::unique_ptr<ExportFormat> format, const Transcoder* transcoder,
           std::shared_ptr<HttpExchange> exchange,
           std::vector<HttpHeader> extra, ExportHooks hooks)
      : sources_(std::move(sources)),
        query_(query),
        format_(std::move(format)),
        transcoder_(transcoder),
        exchange_(std::move(exchange)),
        extra_(std::move(extra)),
        hooks_(std::move(hooks)) {}

  void Start();
  // What the current source's call does after a message.
  enum class Next {
    kRead,  // read the next message now
    kWait,  // `resume` runs once the output is sent: true to read on
    kStop,  // the download failed: cancel the call (`resume` never runs)
  };
  Next OnMessage(const std::string& bytes, std::function<void(bool)> resume);
  void OnSourceDone(const grpc::Status& status, grpc::ClientContext* ctx);
  // A source's call starts: the gateway's hook, then it is the current one
  // (cancelled at once if the client is gone).
  void BeginCall(grpc::ClientContext* ctx) {
    if (hooks_.begin_call) hooks_.begin_call(ctx);
    SetCurrent(ctx);
  }
  void SetCurrent(grpc::ClientContext* ctx) {
    absl::MutexLock lock(&mu_);
    current_ = ctx;
    if (gone_ && ctx != nullptr) ctx->TryCancel();
  }
  const ExportSource& source() const { return sources_[index_]; }
  const ExportQuery& query() const { return query_; }

 private:
  void StartSource();
  // Starts the answer (status 200) with the file's first bytes.
  void StartAnswer();
  // Appends text to the gzip stream.
  bool Append(const std::string& text) { return gzip_.Write(text, false); }
  // Ends the answer: `tail` (an error line or the end line), then the gzip
  // trailer, then the end of the stream.
  void EndAnswer(const std::string& tail, int grpc_code,
                 const std::string& error);
  // The download ended (its answer given): hooks_.done, last.
  void Done(int status, int grpc_code, const std::string& error);

  std::vector<ExportSource> sources_;
  const ExportQuery query_;
  const std::unique_ptr<ExportFormat> format_;
  const Transcoder* const transcoder_;
  std::shared_ptr<HttpExchange> exchange_;
  std::vector<HttpHeader> extra_;
  ExportHooks hooks_;

  size_t index_ = 0;  // the source being read (calls run one at a time)
  bool started_ = false;
  bool failed_ = false;
  size_t bytes_out_ = 0;  // compressed bytes handed to the socket
  common::GzipStream gzip_{kGzipLevel};

  absl::Mutex mu_;
  grpc::ClientContext* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
};

// One service's Export call; deletes itself when done.
class SourceCall final
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit SourceCall(std::shared_ptr<Download> download)
      : download_(std::move(download)) {}

  void Start() {
    const ExportSource& s = download_->source();
    request_ = ToBuffer(ExportRequest(*s.method, download_->query()));
    download_->BeginCall(&ctx_);
    s.stub->PrepareBidiStreamingCall(
        &ctx_, absl::StrCat("/", s.service, "/", s.method->name()),
        grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  void OnWriteDone(bool) override {}

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the status follows in OnDone
    AddHold();
    switch (download_->OnMessage(ToString(response_), [this](bool go_on) {
      if (go_on) {
        StartRead(&response_);
      } else {
        ctx_.TryCancel();
      }
      RemoveHold();
    })) {
      case Download::Next::kRead:
        StartRead(&response_);
        RemoveHold();
        break;
      case Download::Next::kWait:
        break;
      case Download::Next::kStop:
        ctx_.TryCancel();
        RemoveHold();
        break;
    }
  }

  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<Download> download = std::move(download_);
    grpc::ClientContext* ctx = &ctx_;
    download->SetCurrent(nullptr);
    // The download may start the next call; this one's context is ended
    // first.
    download->OnSourceDone(status, ctx);
    delete this;
  }

 private:
  std::shared_ptr<Download> download_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

void Download::Start() {
  exchange_->OnClientGone([weak = std::weak_ptr<Download>(shared_from_this())] {
    if (auto self = weak.lock()) {
      absl::MutexLock lock(&self->mu_);
      self->gone_ = true;
      if (self->current_ != nullptr) self->current_->TryCancel();
    }
  });
  if (sources_.empty()) {
    StartAnswer();
    EndAnswer(format_->End(), 0, "");
    return;
  }
  StartSource();
}

void Download::StartSource() { (new SourceCall(shared_from_this()))->Start(); }

void Download::StartAnswer() {
  started_ = true;
  std::vector<HttpHeader> headers = format_->Headers();
  for (HttpHeader& h : extra_) headers.push_back(std::move(h));
  exchange_->StartStream(200, std::move(headers));
  Append(format_->Begin());
}

Download::Next Download::OnMessage(const std::string& bytes,
                                   std::function<void(bool)> resume) {
  if (failed_) return Next::kStop;
  const ExportSource& s = sources_[index_];
  ExportMessage m;
  absl::StatusOr<std::string> text;
  if (!ReadExportMessage(*s.method->output_type(), bytes, &m)) {
    failed_ = true;
  } else {
    text = m.type != nullptr
               ? format_->Record(*m.type, m.record)
               : format_->Snapshot(s.service, m.resume_token, m.record_count);
    failed_ = !text.ok();
  }
  // A failure ends the download in OnSourceDone, with the error, once the
  // cancelled call is done.
  if (failed_) return Next::kStop;
  if (!started_) StartAnswer();
  if (!Append(*text)) {
    failed_ = true;
    return Next::kStop;
  }
  if (gzip_.output().size() < kChunkBytes) return Next::kRead;
  std::string chunk = std::move(gzip_.output());
  gzip_.output().clear();
  bytes_out_ += chunk.size();
  exchange_->SendChunk(std::move(chunk), std::move(resume));
  return Next::kWait;
}

void Download::OnSourceDone(const grpc::Status& status,
                            grpc::ClientContext* ctx) {
  if (hooks_.end_call) hooks_.end_call(ctx);
  bool gone;
  {
    absl::MutexLock lock(&mu_);
    gone = gone_;
  }
  if (gone) {
    if (started_) exchange_->EndStream();
    Done(499, grpc::StatusCode::CANCELLED, "the client went away");
    return;
  }
  if (failed_ || !status.ok()) {
    const int code = failed_ ? grpc::StatusCode::INTERNAL : status.error_code();
    const std::string message =
        failed_ ? absl::StrCat("a message of ", sources_[index_].service,
                               " could not be read or printed")
                : status.error_message();
    auto [http_status, json] = transcoder_->ErrorJson(
        code, message, failed_ ? "" : status.error_details());
    if (!started_) {
      std::vector<HttpHeader> headers = {
          {"Content-Type", "application/json; charset=utf-8"}};
      for (HttpHeader& h : extra_) headers.push_back(std::move(h));
      bytes_out_ = json.size();
      exchange_->Reply(http_status, std::move(headers), std::move(json));
      Done(http_status, code, message);
      return;
    }
    EndAnswer(format_->Failure(json), code, message);
    return;
  }
  if (++index_ < sources_.size()) {
    // The output so far stays in the gzip stream until the next chunk.
    StartSource();
    return;
  }
  if (!started_) StartAnswer();
  EndAnswer(format_->End(), 0, "");
}

void Download::EndAnswer(const std::string& tail, int grpc_code,
                         const std::string& error) {
  if (!gzip_.Write(tail, /*finish=*/true)) {
    grpc_code = grpc::StatusCode::INTERNAL;
  }
  std::string chunk = std::move(gzip_.output());
  bytes_out_ += chunk.size();
  exchange_->SendChunk(std::move(chunk), nullptr);
  exchange_->EndStream();
  Done(200, grpc_code, error);
}

void Download::Done(int status, int grpc_code, const std::string& error) {
  // The exchange is let go first: `done` may let the gateway stop.
  exchange_.reset();
  if (hooks_.done) hooks_.done(status, bytes_out_, grpc_code, error);
}

// The JSON Lines file of the header comment.
class JsonLinesFormat final : public ExportFormat {
 public:
  JsonLinesFormat(const ExportQuery& query, const Transcoder* transcoder)
      : query_(query), transcoder_(transcoder) {}

  std::vector<HttpHeader> Headers() const override {
    return DownloadHeaders("cstopa-export.jsonl.gz");
  }
  int Order(const std::string&) const override { return 0; }
  std::string Begin() override {
    return absl::StrCat(
        "{\"format\":\"cstopa-export\",\"version\":1,\"exportTime\":\"",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                         absl::UTCTimeZone()),
        "\",\"showDeleted\":", TrueOrFalse(query_.show_deleted), "}\n");
  }
  absl::StatusOr<std::string> Record(const google::protobuf::Descriptor& type,
                                     absl::string_view bytes) override {
    absl::StatusOr<std::string> json = transcoder_->ResponseJson(type, bytes);
    if (!json.ok()) return json.status();
    ++records_;
    return absl::StrCat("{\"type\":\"", type.full_name(),
                        "\",\"resource\":", *json, "}\n");
  }
  absl::StatusOr<std::string> Snapshot(const std::string& service,
                                       const std::string& resume_token,
                                       int64_t record_count) override {
    return absl::StrCat("{\"snapshot\":{\"service\":\"", service,
                        "\",\"resumeToken\":\"",
                        common::JsonEscape(resume_token),
                        "\",\"recordCount\":", record_count, "}}\n");
  }
  std::string End() override {
    return absl::StrCat("{\"end\":{\"recordCount\":", records_, "}}\n");
  }
  // `error_json` is {"error": {...}}: one line.
  std::string Failure(const std::string& error_json) override {
    return absl::StrCat(error_json, "\n");
  }

 private:
  const ExportQuery query_;
  const Transcoder* const transcoder_;
  int64_t records_ = 0;
};

}  // namespace

std::vector<HttpHeader> DownloadHeaders(absl::string_view filename) {
  return {{"Content-Type", "application/gzip"},
          {"Content-Disposition",
           absl::StrCat("attachment; filename=\"", filename, "\"")},
          {"Cache-Control", "no-store"},
          {"X-Content-Type-Options", "nosniff"}};
}

std::unique_ptr<ExportFormat> NewExportFormat(const ExportQuery& query,
                                              const Transcoder* transcoder) {
  if (query.format == ExportQuery::Format::kPopolo) return NewPopoloFormat();
  return std::make_unique<JsonLinesFormat>(query, transcoder);
}

std::vector<ExportSource> FindExportSources(
    const ApiDescriptors& api,
    const std::function<grpc::GenericStub*(const std::string& service)>&
        stubs) {
  std::vector<ExportSource> out;
  for (const google::protobuf::ServiceDescriptor* s : api.services()) {
    grpc::GenericStub* stub = stubs(s->full_name());
    if (stub == nullptr) continue;
    for (int i = 0; i < s->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = s->method(i);
      if (!m->server_streaming() || m->client_streaming() ||
          !absl::StartsWith(m->name(), "Export"))
        continue;
      out.push_back({s->full_name(), m, stub});
    }
  }
  return out;
}

absl::StatusOr<ExportQuery> ParseExportQuery(absl::string_view query) {
  ExportQuery out;
  if (query.empty()) return out;
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    if (pair.empty()) continue;
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.first == "format") {
      if (kv.second == "jsonl") {
        out.format = ExportQuery::Format::kJsonLines;
      } else if (kv.second == "popolo") {
        out.format = ExportQuery::Format::kPopolo;
      } else {
        return common::InvalidArgument(
            "format", absl::StrCat("must be jsonl (the default) or popolo, "
                                   "not \"",
                                   kv.second, "\""));
      }
    } else if (kv.first == "show_deleted" || kv.first == "showDeleted") {
      if (kv.second == "true" || kv.second == "1") {
        out.show_deleted = true;
      } else if (kv.second == "false" || kv.second == "0") {
        out.show_deleted = false;
      } else {
        return common::InvalidArgument(
            "show_deleted",
            absl::StrCat("must be true or false, not \"", kv.second, "\""));
      }
    } else {
      return common::InvalidArgument(
          std::string(kv.first),
          "unknown parameter; GET /v1/export takes format and show_deleted");
    }
  }
  if (out.format == ExportQuery::Format::kPopolo && out.show_deleted) {
    return common::InvalidArgument(
        "show_deleted",
        "the Popolo document holds live records only; ask format=jsonl for "
        "deleted ones");
  }
  return out;
}

void StartRecordExport(std::vector<ExportSource> sources, ExportQuery query,
                       std::unique_ptr<ExportFormat> format,
                       const Transcoder* transcoder,
                       std::shared_ptr<HttpExchange> exchange,
                       std::vector<HttpHeader> extra, ExportHooks hooks) {
  std::vector<ExportSource> read;
  for (ExportSource& s : sources) {
    if (format->Order(s.service) >= 0) read.push_back(std::move(s));
  }
  std::stable_sort(read.begin(), read.end(),
                   [&format](const ExportSource& a, const ExportSource& b) {
                     return format->Order(a.service) < format->Order(b.service);
                   });
  std::make_shared<Download>(std::move(read), query, std::move(format),
                             transcoder, std::move(exchange), std::move(extra),
                             std::move(hooks))
      ->Start();
}

}  // namespace cstopa::gateway::http
