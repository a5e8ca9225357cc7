#include "gateway/name_directory.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "gateway/view_bytes.h"
#include "grpcpp/client_context.h"
#include "services/common/client/call_context.h"
#include "services/common/client/error_details.h"

namespace cstopa::gateway {
namespace {

namespace mem = ::cstopa::membership::v1;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr absl::Duration kLoadDeadline = absl::Seconds(5);
constexpr absl::Duration kRetryAfterFailure = absl::Seconds(1);

// `name`'s NamedResource, serialized.
std::string NamedBytes(const std::string& name,
                       const NameDirectory::Texts& texts) {
  v1::NamedResource r;
  r.set_name(name);
  *r.mutable_display_name() = texts;
  return r.SerializeAsString();
}

}  // namespace

NameDirectory::NameDirectory(std::shared_ptr<grpc::Channel> membership,
                             absl::Duration period)
    : membership_(std::move(membership)),
      period_(period),
      names_(std::make_shared<const Names>()) {}

template <typename Request, typename Response, typename Call, typename Items>
absl::Status NameDirectory::LoadAll(Request request, Call call, Items items,
                                    Names* names) {
  request.set_page_size(1000);
  for (int page = 0; page < 10000; ++page) {
    grpc::ClientContext ctx;
    common::SetTimeout(&ctx, kLoadDeadline);
    {
      absl::MutexLock lock(&call_mu_);
      if (stop_.HasBeenNotified())
        return absl::CancelledError("the gateway is stopping");
      current_ = &ctx;
    }
    Response response;
    grpc::Status s = call(&ctx, request, &response);
    {
      absl::MutexLock lock(&call_mu_);
      current_ = nullptr;
    }
    if (!s.ok()) return common::FromGrpcStatus(s);
    for (const auto& item : items(response))
      (*names)[item.name()] = NamedBytes(item.name(), item.display_name());
    if (response.next_page_token().empty()) return absl::OkStatus();
    request.set_page_token(response.next_page_token());
  }
  return absl::InternalError("too many pages");
}

NameDirectory::~NameDirectory() {
  {
    absl::MutexLock lock(&wake_mu_);
    stopping_ = true;
  }
  {
    absl::MutexLock lock(&call_mu_);
    stop_.Notify();
    if (current_ != nullptr) current_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void NameDirectory::Start() {
  thread_ = std::thread([this] {
    do {
      const absl::Status s = Refresh();
      absl::MutexLock lock(&wake_mu_);
      wake_mu_.AwaitWithTimeout(
          absl::Condition(
              +[](NameDirectory* d) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return d->wake_ || d->stopping_;
              },
              this),
          s.ok() ? period_ : std::min(period_, kRetryAfterFailure));
      if (stopping_) return;
      wake_ = false;
    } while (true);
  });
}

void NameDirectory::RefreshSoon() {
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

void NameDirectory::Apply(const std::string& name, const Message* resource) {
  if (!IsMembershipName(name)) return;
  std::optional<std::string> named;
  if (resource != nullptr) {
    Texts texts;
    const FieldDescriptor* f =
        resource->GetDescriptor()->FindFieldByName("display_name");
    if (f != nullptr && f->is_repeated() &&
        f->message_type() == type::v1::LocalizedText::descriptor()) {
      const Reflection* r = resource->GetReflection();
      for (int i = 0; i < r->FieldSize(*resource, f); ++i)
        texts.Add()->CopyFrom(r->GetRepeatedMessage(*resource, f, i));
    }
    named = NamedBytes(name, texts);
  }
  absl::MutexLock lock(&mu_);
  auto next = std::make_shared<Names>(*names_);
  if (named.has_value()) {
    (*next)[name] = *named;
  } else {
    next->erase(name);
  }
  names_ = std::move(next);
  if (loading_) pending_[name] = std::move(named);
}

absl::Status NameDirectory::Refresh() {
  {
    absl::MutexLock lock(&mu_);
    loading_ = true;
    pending_.clear();
  }
  auto stub = mem::MembershipService::NewStub(membership_);
  auto names = std::make_shared<Names>();
  auto* st = stub.get();
  absl::Status s =
      this->LoadAll<mem::ListStatesRequest, mem::ListStatesResponse>(
          {},
          [st](auto* c, const auto& q, auto* p) {
            return st->ListStates(c, q, p);
          },
          [](const auto& p) -> const auto& { return p.states(); }, names.get());
  if (s.ok()) {
    s = this->LoadAll<mem::ListBodiesRequest, mem::ListBodiesResponse>(
        {},
        [st](auto* c, const auto& q, auto* p) {
          return st->ListBodies(c, q, p);
        },
        [](const auto& p) -> const auto& { return p.bodies(); }, names.get());
  }
  if (s.ok()) {
    s = this->LoadAll<mem::ListParliamentsRequest,
                      mem::ListParliamentsResponse>(
        {},
        [st](auto* c, const auto& q, auto* p) {
          return st->ListParliaments(c, q, p);
        },
        [](const auto& p) -> const auto& { return p.parliaments(); },
        names.get());
  }
  if (s.ok()) {
    mem::ListDelegationsRequest all;
    all.set_parent("parliaments/-");
    s = this->LoadAll<mem::ListDelegationsRequest,
                      mem::ListDelegationsResponse>(
        std::move(all),
        [st](auto* c, const auto& q, auto* p) {
          return st->ListDelegations(c, q, p);
        },
        [](const auto& p) -> const auto& { return p.delegations(); },
        names.get());
  }
  if (s.ok()) {
    s = this->LoadAll<mem::ListPersonsRequest, mem::ListPersonsResponse>(
        {},
        [st](auto* c, const auto& q, auto* p) {
          return st->ListPersons(c, q, p);
        },
        [](const auto& p) -> const auto& { return p.persons(); }, names.get());
  }
  if (s.ok()) {
    s = this->LoadAll<mem::ListPartnersRequest, mem::ListPartnersResponse>(
        {},
        [st](auto* c, const auto& q, auto* p) {
          return st->ListPartners(c, q, p);
        },
        [](const auto& p) -> const auto& { return p.partners(); }, names.get());
  }
  absl::MutexLock lock(&mu_);
  loading_ = false;
  if (s.ok()) {
    // Changes heard of during the load may be missing from it.
    for (auto& [name, named] : pending_) {
      if (named.has_value()) {
        (*names)[name] = std::move(*named);
      } else {
        names->erase(name);
      }
    }
    names_ = std::move(names);
  }
  pending_.clear();
  return s;
}

std::shared_ptr<const NameDirectory::Names> NameDirectory::Get() const {
  absl::MutexLock lock(&mu_);
  return names_;
}

void NameDirectory::AppendReferences(std::vector<absl::string_view>* names,
                                     int field_number,
                                     std::string* view) const {
  std::shared_ptr<const Names> known = Get();
  if (known->empty()) return;
  std::sort(names->begin(), names->end());
  names->erase(std::unique(names->begin(), names->end()), names->end());
  for (absl::string_view name : *names) {
    auto it = known->find(name);
    if (it != known->end())
      AppendLengthDelimited(static_cast<uint32_t>(field_number), it->second,
                            view);
  }
}

}  // namespace cstopa::gateway
