#include "gateway/name_directory.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
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

// Called on every string of every view (texts too), so it looks at the
// first letter before comparing prefixes.
bool IsMembershipName(absl::string_view s) {
  if (s.size() < 8) return false;  // "bodies/" and an ID
  switch (s[0]) {
    case 's':
      return absl::StartsWith(s, "states/");
    case 'b':
      return absl::StartsWith(s, "bodies/");
    case 'p':
      return absl::StartsWith(s, "parliaments/") ||
             absl::StartsWith(s, "persons/") ||
             absl::StartsWith(s, "partners/");
    default:
      return false;
  }
}

}  // namespace

// Walks `m` by its plan: only the fields that can hold names are read.
template <typename Plan>
void CollectNames(const Message& m, const Plan& plan,
                  absl::flat_hash_set<std::string>* out) {
  const Reflection* r = m.GetReflection();
  for (const auto& [f, sub] : plan.fields) {
    if (sub == nullptr) {  // a string
      if (f->is_repeated()) {
        const int n = r->FieldSize(m, f);
        for (int i = 0; i < n; ++i) {
          std::string scratch;
          const std::string& v =
              r->GetRepeatedStringReference(m, f, i, &scratch);
          if (IsMembershipName(v)) out->insert(v);
        }
      } else {
        std::string scratch;
        const std::string& v = r->GetStringReference(m, f, &scratch);
        if (IsMembershipName(v)) out->insert(v);
      }
    } else if (f->is_repeated()) {
      const int n = r->FieldSize(m, f);
      for (int i = 0; i < n; ++i)
        CollectNames(r->GetRepeatedMessage(m, f, i), *sub, out);
    } else if (r->HasField(m, f)) {
      CollectNames(r->GetMessage(m, f), *sub, out);
    }
  }
}

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
      (*names)[item.name()] = item.display_name();
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
  std::optional<Texts> texts;
  if (resource != nullptr) {
    texts.emplace();
    const FieldDescriptor* f =
        resource->GetDescriptor()->FindFieldByName("display_name");
    if (f != nullptr && f->is_repeated() &&
        f->message_type() == type::v1::LocalizedText::descriptor()) {
      const Reflection* r = resource->GetReflection();
      for (int i = 0; i < r->FieldSize(*resource, f); ++i)
        texts->Add()->CopyFrom(r->GetRepeatedMessage(*resource, f, i));
    }
  }
  absl::MutexLock lock(&mu_);
  auto next = std::make_shared<Names>(*names_);
  if (texts.has_value()) {
    (*next)[name] = *texts;
  } else {
    next->erase(name);
  }
  names_ = std::move(next);
  if (loading_) pending_[name] = std::move(texts);
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
    for (auto& [name, texts] : pending_) {
      if (texts.has_value()) {
        (*names)[name] = std::move(*texts);
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

void NameDirectory::Resolve(
    const Message& view,
    google::protobuf::RepeatedPtrField<v1::NamedResource>* out) const {
  std::shared_ptr<const Names> names = Get();
  if (names->empty()) return;
  absl::flat_hash_set<std::string> found;
  CollectNames(view, *PlanFor(view.GetDescriptor()), &found);
  std::vector<std::string> sorted(found.begin(), found.end());
  std::sort(sorted.begin(), sorted.end());
  for (const std::string& name : sorted) {
    auto it = names->find(name);
    if (it == names->end()) continue;
    v1::NamedResource* r = out->Add();
    r->set_name(name);
    *r->mutable_display_name() = it->second;
  }
}

const NameDirectory::Plan* NameDirectory::PlanFor(
    const google::protobuf::Descriptor* type) const {
  absl::MutexLock lock(&plans_mu_);
  return PlanLocked(type);
}

const NameDirectory::Plan* NameDirectory::PlanLocked(
    const google::protobuf::Descriptor* type) const {
  if (auto it = plans_.find(type); it != plans_.end()) return it->second.get();
  // Entered before its fields, so that a recursive type ends.
  Plan* plan = (plans_[type] = std::make_unique<Plan>()).get();
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      plan->fields.emplace_back(f, nullptr);
    } else if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
      const Plan* sub = PlanLocked(f->message_type());
      // A type with no strings anywhere is skipped (a recursive type whose
      // plan is still being made is kept).
      if (!sub->fields.empty() || !sub->done) plan->fields.emplace_back(f, sub);
    }
  }
  plan->done = true;
  return plan;
}

}  // namespace cstopa::gateway
