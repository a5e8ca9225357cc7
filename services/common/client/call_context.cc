#include "services/common/client/call_context.h"

#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/support/interceptor.h"
#include "services/common/api/language.h"

namespace cstopa::common {
namespace {

using Metadata = std::multimap<std::string, std::string>;

// Replaces every value of `key` by `value`.
void SetOnly(Metadata* md, const std::string& key, std::string value) {
  md->erase(key);
  md->emplace(key, std::move(value));
}

class CallIdsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit CallIdsInterceptor(TraceIds* ids) : ids_(ids) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                PRE_SEND_INITIAL_METADATA)) {
      Metadata* md = methods->GetSendInitialMetadata();
      if (md != nullptr) Complete(md);
    }
    methods->Proceed();
  }

 private:
  void Complete(Metadata* md) {
    // The first valid request id the caller set, else a new one.
    std::optional<std::string> id;
    auto ids = md->equal_range(kRequestIdKey);
    for (auto it = ids.first; it != ids.second && !id; ++it) {
      if (IsValidRequestId(it->second)) id = it->second;
    }
    SetOnly(md, kRequestIdKey, id ? *id : ids_->NewRequestId());

    // This call's own span in the caller's trace, or a new trace.
    std::optional<TraceContext> parent;
    if (auto it = md->find(kTraceparentKey); it != md->end()) {
      parent = ParseTraceparent(it->second);
    }
    SetOnly(md, kTraceparentKey,
            FormatTraceparent(ids_->NewSpan(parent)));
  }

  TraceIds* const ids_;
};

}  // namespace

void ContinueFrom(const Caller& caller, grpc::ClientContext* context) {
  if (caller.deadline != absl::InfiniteFuture()) {
    context->set_deadline(absl::ToChronoTime(caller.deadline));
  }
  if (IsValidRequestId(caller.request_id)) {
    context->AddMetadata(kRequestIdKey, caller.request_id);
  }
  if (ParseTraceparent(caller.traceparent).has_value()) {
    context->AddMetadata(kTraceparentKey, caller.traceparent);
  }
  if (!caller.accept_language.empty()) {  // the order of texts: passed on
    context->AddMetadata(kAcceptLanguageKey, caller.accept_language);
  }
}

void SetApiKey(grpc::ClientContext* context, absl::string_view key) {
  if (key.empty()) return;
  context->AddMetadata("authorization", absl::StrCat("Bearer ", key));
}

void SetRequestId(grpc::ClientContext* context, absl::string_view id) {
  context->AddMetadata(kRequestIdKey, std::string(id));
}

void SetTimeout(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

CallIdsInterceptorFactory::CallIdsInterceptorFactory() = default;

grpc::experimental::Interceptor*
CallIdsInterceptorFactory::CreateClientInterceptor(
    grpc::experimental::ClientRpcInfo* info) {
  return new CallIdsInterceptor(&ids_);
}

}  // namespace cstopa::common
