#include "services/common/server/grpc_binding.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/slice.h"
#include "services/common/api/language.h"
#include "services/common/base/errors.h"
#include "services/common/server/request_decoding.h"

namespace cstopa::common {
namespace {

// Copies `message` into one slice (one allocation, one pass).
grpc::ByteBuffer Serialize(const google::protobuf::Message& message) {
  const size_t size = message.ByteSizeLong();
  grpc::Slice slice(size);
  message.SerializeWithCachedSizesToArray(const_cast<uint8_t*>(slice.begin()));
  return grpc::ByteBuffer(&slice, 1);
}

// How close to its deadline a CANCELLED counts as the deadline.
constexpr std::chrono::milliseconds kDeadlineSlack(100);

bool DeadlinePassed(std::chrono::system_clock::time_point deadline,
                    std::chrono::milliseconds slack) {
  const std::chrono::system_clock::time_point now =
      std::chrono::system_clock::now();
  return deadline <= now || deadline - now <= slack;
}

}  // namespace

CallOutcome OutcomeOfStatus(int code, absl::string_view message,
                            std::chrono::system_clock::time_point deadline) {
  if (code != grpc::StatusCode::DEADLINE_EXCEEDED &&
      (DeadlinePassed(deadline, std::chrono::milliseconds(0)) ||
       (code == grpc::StatusCode::CANCELLED &&
        DeadlinePassed(deadline, kDeadlineSlack)))) {
    return {grpc::StatusCode::DEADLINE_EXCEEDED,
            absl::StrCat("deadline exceeded before the server responded (the "
                         "handler returned ",
                         GrpcCodeName(code), message.empty() ? "" : ": ",
                         message, ")")};
  }
  return {code, std::string(message)};
}

CallOutcome OutcomeOfClose(std::chrono::system_clock::time_point deadline) {
  if (DeadlinePassed(deadline, kDeadlineSlack))
    return {grpc::StatusCode::DEADLINE_EXCEEDED,
            "deadline exceeded before the server responded"};
  return {grpc::StatusCode::CANCELLED, "cancelled before the server responded"};
}

Caller CallerOf(grpc::CallbackServerContext* ctx) {
  Caller c;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it != md.end())
    c.authorization.emplace(it->second.data(), it->second.size());
  c.deadline = absl::FromChrono(ctx->deadline());
  // Set by the telemetry interceptor (server/interceptors.h).
  if (auto id = md.find("x-request-id"); id != md.end())
    c.request_id.assign(id->second.data(), id->second.size());
  if (auto tp = md.find("traceparent"); tp != md.end())
    c.traceparent.assign(tp->second.data(), tp->second.size());
  if (auto lang = md.find(kAcceptLanguageKey); lang != md.end())
    c.accept_language.assign(lang->second.data(), lang->second.size());
  return c;
}

absl::Status DecodeRequest(const grpc::ByteBuffer& buffer,
                           google::protobuf::Message* out) {
  {
    grpc::ByteBuffer copy(buffer);  // shares the slices; the reader consumes
    grpc::ProtoBufferReader reader(&copy);
    if (reader.status().ok() && out->ParseFromZeroCopyStream(&reader))
      return absl::OkStatus();
  }
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (buffer.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices)
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return UndecodableRequest(bytes, *out->GetDescriptor());
}

namespace grpc_binding_internal {

google::protobuf::ArenaOptions UnaryReactor::ArenaOptionsFor(char* block,
                                                             size_t size) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = size;
  options.start_block_size = 4096;
  options.max_block_size = 64 * 1024;
  return options;
}

void CallTelemetry::Begin(CallObserver* observer, const char* method,
                          grpc::CallbackServerContext* ctx, Caller* caller) {
  if (observer == nullptr) return;
  observer_ = observer;
  method_ = method;
  ctx_ = ctx;
  start_ = std::chrono::steady_clock::now();
  ids_ = observer->Begin(ctx->client_metadata());
  peer_ = ctx->peer();
  // The handler's calls carry the effective id and join the server's span.
  caller->request_id = ids_.request_id;
  caller->traceparent = ids_.traceparent;
  ctx->AddInitialMetadata("x-request-id", ids_.request_id);
  ctx->AddInitialMetadata("traceparent", ids_.traceparent);
}

void CallTelemetry::Sent(int code, absl::string_view message) {
  if (observer_ == nullptr) return;
  // An error may be sent trailers-only: its trailers carry the ids too.
  if (code != grpc::StatusCode::OK) {
    ctx_->AddTrailingMetadata("x-request-id", ids_.request_id);
    ctx_->AddTrailingMetadata("traceparent", ids_.traceparent);
  }
  if (ended_.load(std::memory_order_acquire)) return;
  const CallOutcome seen = OutcomeOfStatus(code, message, ctx_->deadline());
  End(seen.code, seen.message);
}

void CallTelemetry::Cancelled() {
  if (observer_ == nullptr || ended_.load(std::memory_order_acquire)) return;
  const CallOutcome seen = OutcomeOfClose(ctx_->deadline());
  End(seen.code, seen.message);
}

void CallTelemetry::Done() {
  if (observer_ == nullptr) return;
  End(grpc::StatusCode::CANCELLED, "call ended without a status");
  observer_->Closed();
}

void CallTelemetry::End(int code, absl::string_view message) {
  if (ended_.exchange(true, std::memory_order_acq_rel)) return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  observer_->End(method_, ids_, std::move(peer_), code, message, seconds);
}

UnaryReactor::UnaryReactor(grpc::CallbackServerContext* ctx,
                           grpc::ByteBuffer* response,
                           const std::string* error_domain,
                           CallObserver* observer, const char* method)
    : arena_(ArenaOptionsFor(initial_block_, sizeof(initial_block_))),
      response_buffer_(response),
      caller_(CallerOf(ctx)),
      error_domain_(error_domain) {
  telemetry_.Begin(observer, method, ctx, &caller_);
}

void UnaryReactor::Finish(absl::Status status) {
  if (status.ok() && response_ != nullptr && !caller_.accept_language.empty())
    PreferLanguages(ParseAcceptLanguage(caller_.accept_language), response_);
  if (status.ok() && response_ != nullptr)
    *response_buffer_ = Serialize(*response_);
  grpc::Status sent = ToGrpcStatus(status, *error_domain_);
  telemetry_.Sent(sent.error_code(), sent.error_message());
  grpc::ServerUnaryReactor::Finish(std::move(sent));
}

void UnaryReactor::FinishSerialized(std::string bytes) {
  // With a preferred language the page is decoded to reorder its texts.
  if (response_ != nullptr && !caller_.accept_language.empty())
    PreferLanguagesSerialized(ParseAcceptLanguage(caller_.accept_language),
                              response_, &bytes);
  // The slice takes the string as it is (a list page is tens of kilobytes:
  // no copy).
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(
      owned->data(), owned->size(),
      [](void* p) { delete static_cast<std::string*>(p); }, owned);
  *response_buffer_ = grpc::ByteBuffer(&slice, 1);
  telemetry_.Sent(grpc::StatusCode::OK, "");
  grpc::ServerUnaryReactor::Finish(grpc::Status::OK);
}

StreamReactor::StreamReactor(grpc::CallbackServerContext* ctx,
                             const std::string* error_domain,
                             CallObserver* observer, const char* method)
    : caller_(CallerOf(ctx)), error_domain_(error_domain) {
  telemetry_.Begin(observer, method, ctx, &caller_);
}

void StreamReactor::Write(const google::protobuf::Message& message,
                          absl::AnyInvocable<void(bool)> written) {
  std::unique_ptr<google::protobuf::Message> ordered =
      InLanguages(caller_.accept_language, message);
  buffer_ = Serialize(ordered ? *ordered : message);
  written_ = std::move(written);
  StartWrite(&buffer_);
}

void StreamReactor::OnWriteDone(bool ok) {
  auto written = std::move(written_);
  written_ = nullptr;
  if (written) written(ok);
}

void StreamReactor::Finish(absl::Status status) {
  if (finished_.exchange(true)) return;
  grpc::Status sent = ToGrpcStatus(status, *error_domain_);
  telemetry_.Sent(sent.error_code(), sent.error_message());
  grpc::ServerWriteReactor<grpc::ByteBuffer>::Finish(std::move(sent));
}

void StreamReactor::SetOnCancel(absl::AnyInvocable<void()> on_cancel) {
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      on_cancel_ = std::move(on_cancel);
      return;
    }
  }
  on_cancel();  // cancelled already
}

void StreamReactor::OnCancel() {
  telemetry_.Cancelled();
  absl::AnyInvocable<void()> on_cancel;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    on_cancel = std::move(on_cancel_);
    on_cancel_ = nullptr;
  }
  if (on_cancel) on_cancel();
}

}  // namespace grpc_binding_internal

const std::string* GrpcServiceBase::ErrorDomainFor(const char* path) {
  if (error_domain_.empty()) {
    absl::string_view service(path);
    if (absl::ConsumePrefix(&service, "/"))
      service = service.substr(0, service.find('/'));
    error_domain_ = ErrorDomainOf(service);
  }
  return &error_domain_;
}

}  // namespace cstopa::common
