#include "services/membership/membership_service.h"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/api/field_behavior.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/field_mask_util.h"
#include "membership/seed/membership_seed.pb.h"
#include "services/common/dates.h"
#include "services/common/errors.h"
#include "services/common/grpc_glue.h"
#include "services/common/standard_methods.h"
#include "services/common/validation.h"

namespace cstopa::membership {
namespace {

using common::CheckCount;
using common::CheckDate;
using common::CheckEnum;
using common::CheckName;
using common::CheckProvenance;
using common::CheckRange;
using common::CheckRegionCode;
using common::CheckTexts;
using common::CheckUri;
using common::kIdRule;
using common::Refs;
using common::ResourceStore;
using common::ValidId;
using common::ValidName;
using common::Violations;
using cstopa::type::v1::DateRange;
using cstopa::type::v1::LocalizedText;
using cstopa::type::v1::Provenance;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::RepeatedPtrField;

void CheckChamberId(Violations& v, const std::string& field,
                    const std::string& id) {
  if (!id.empty() && !ValidId(id))
    v.Add(field, absl::StrCat("`", id, "` ", kIdRule));
}

// References to other membership resources (Refs) are checked for existence
// after the shape checks pass.

// Per-resource validation of the writable content. `p` prefixes field paths
// (e.g. "state.").
void Validate(const v1::State& s, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", s.display_name(), true);
  CheckRegionCode(v, p + "region_code", s.region_code());
  CheckCount(v, p + "status_history", s.status_history_size());
  CheckCount(v, p + "chairmanships", s.chairmanships_size());
  for (int i = 0; i < s.status_history_size(); ++i) {
    std::string f = absl::StrCat(p, "status_history[", i, "]");
    CheckEnum(v, f + ".status", v1::MembershipStatus_descriptor(),
              s.status_history(i).status(), true);
    CheckRange(v, f + ".period", s.status_history(i).period());
    CheckProvenance(v, f + ".provenance", s.status_history(i).provenance());
  }
  for (int i = 0; i < s.chairmanships_size(); ++i) {
    std::string f = absl::StrCat(p, "chairmanships[", i, "]");
    CheckName(v, f + ".body", s.chairmanships(i).body(), {"bodies"}, true);
    refs.push_back({f + ".body", s.chairmanships(i).body()});
    CheckRange(v, f + ".period", s.chairmanships(i).period());
    CheckProvenance(v, f + ".provenance", s.chairmanships(i).provenance());
  }
  CheckProvenance(v, p + "provenance", s.provenance());
}

void Validate(const v1::Parliament& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckName(v, p + "state", r.state(), {"states"}, true);
  refs.push_back({p + "state", r.state()});
  CheckCount(v, p + "chambers", r.chambers_size());
  std::map<std::string, int> seen;
  for (int i = 0; i < r.chambers_size(); ++i) {
    std::string f = absl::StrCat(p, "chambers[", i, "]");
    if (r.chambers(i).chamber_id().empty())
      v.Add(f + ".chamber_id", "is required");
    CheckChamberId(v, f + ".chamber_id", r.chambers(i).chamber_id());
    if (++seen[r.chambers(i).chamber_id()] == 2)
      v.Add(f + ".chamber_id", "is used by two chambers");
    CheckTexts(v, f + ".display_name", r.chambers(i).display_name(), true);
    CheckUri(v, f + ".website_uri", r.chambers(i).website_uri());
  }
  CheckUri(v, p + "website_uri", r.website_uri());
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Delegation& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckName(v, p + "assembly", r.assembly(), {"bodies"}, true);
  refs.push_back({p + "assembly", r.assembly()});
  CheckCount(v, p + "seat_allocations", r.seat_allocations_size());
  for (int i = 0; i < r.seat_allocations_size(); ++i) {
    std::string f = absl::StrCat(p, "seat_allocations[", i, "]");
    const auto& a = r.seat_allocations(i);
    CheckChamberId(v, f + ".chamber_id", a.chamber_id());
    if (a.seats() < 0) v.Add(f + ".seats", "must not be negative");
    if (a.seats() > 100000) v.Add(f + ".seats", "is implausibly large");
    CheckRange(v, f + ".period", a.period());
    CheckProvenance(v, f + ".provenance", a.provenance());
  }
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Person& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckName(v, p + "state", r.state(), {"states"}, false);
  refs.push_back({p + "state", r.state()});
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Role& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckName(v, p + "person", r.person(), {"persons"}, false);
  refs.push_back({p + "person", r.person()});
  if (r.organization().empty()) {
    v.Add(p + "organization",
          "is required: bodies/{body}, parliaments/{parliament} or "
          "parliaments/{parliament}/delegations/{delegation}");
  } else if (!ValidName(r.organization(), {"bodies"}) &&
             !ValidName(r.organization(), {"parliaments"}) &&
             !ValidName(r.organization(), {"parliaments", "delegations"})) {
    v.Add(p + "organization",
          absl::StrCat("`", r.organization(),
                       "` is not bodies/{body}, parliaments/{parliament} or "
                       "parliaments/{parliament}/delegations/{delegation}"));
  }
  refs.push_back({p + "organization", r.organization()});
  CheckChamberId(v, p + "chamber_id", r.chamber_id());
  CheckEnum(v, p + "role_type", v1::RoleType_descriptor(), r.role_type(), true);
  CheckTexts(v, p + "title", r.title(), false);
  CheckRange(v, p + "period", r.period());
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Body& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckTexts(v, p + "abbreviation", r.abbreviation(), false);
  CheckEnum(v, p + "kind", v1::BodyKind_descriptor(), r.kind(), true);
  CheckName(v, p + "parent_body", r.parent_body(), {"bodies"}, false);
  refs.push_back({p + "parent_body", r.parent_body()});
  CheckCount(v, p + "mandate", r.mandate_size());
  for (int i = 0; i < r.mandate_size(); ++i)
    CheckTexts(v, absl::StrCat(p, "mandate[", i, "].text"), r.mandate(i).text(),
               true);
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Partner& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckEnum(v, p + "kind", v1::PartnerKind_descriptor(), r.kind(), false);
  CheckEnum(v, p + "organization_type", v1::OrganizationType_descriptor(),
            r.organization_type(), false);
  CheckRegionCode(v, p + "region_code", r.region_code());
  CheckRange(v, p + "period", r.period());
  CheckProvenance(v, p + "provenance", r.provenance());
}

// ---------------------------------------------------------------------------
// Computed ("as of") output fields
// ---------------------------------------------------------------------------

// Binds page tokens to the `as_of` a list was asked for (unset is "today",
// which a token keeps meaning).
std::string AsOfFingerprint(const google::type::Date& d, bool present) {
  return present ? absl::StrCat("as_of=", EarliestDay(d, true)) : "as_of=";
}

void Compute(v1::State* s, int64_t day) {
  int64_t best_start = -1;
  v1::MembershipStatus status = v1::MEMBERSHIP_STATUS_UNSPECIFIED;
  for (const auto& p : s->status_history()) {
    if (!RangeHolds(p.period(), day)) continue;
    int64_t start =
        EarliestDay(p.period().start_date(), p.period().has_start_date());
    if (start > best_start) {
      best_start = start;
      status = p.status();
    }
  }
  s->set_current_status(status);
}

void Compute(v1::Delegation* d, int64_t day) {
  std::map<std::string, std::pair<int64_t, const v1::SeatAllocation*>> best;
  for (const auto& a : d->seat_allocations()) {
    if (!RangeHolds(a.period(), day)) continue;
    int64_t start =
        EarliestDay(a.period().start_date(), a.period().has_start_date());
    auto it = best.find(a.chamber_id());
    if (it == best.end() || start > it->second.first)
      best[a.chamber_id()] = {start, &a};
  }
  d->clear_effective_seats();
  int64_t total = 0;
  for (const auto& [chamber, entry] : best) {
    *d->add_effective_seats() = *entry.second;
    total += entry.second->seats();
  }
  d->set_total_seats(static_cast<int32_t>(
      std::min<int64_t>(total, std::numeric_limits<int32_t>::max())));
  *d->mutable_as_of_date() = common::DayToDate(day);
}

template <typename T>
void Compute(T*, int64_t) {}

// ---------------------------------------------------------------------------
// Standard methods with the computed fields filled in
// ---------------------------------------------------------------------------

// Every resource type's validator, for the common templates.
constexpr auto kValidate = [](const auto& resource, const std::string& prefix,
                              Violations& v, Refs& refs) {
  Validate(resource, prefix, v, refs);
};

template <typename T>
void GetOneAsync(absl::Time deadline, ResourceStore& store,
                 const std::string& name,
                 std::initializer_list<absl::string_view> shape, T* out,
                 int64_t day, common::StatusCallback done) {
  common::GetResourceAsync(
      deadline, store, name, shape, out,
      [out, day, done = std::move(done)](absl::Status s) mutable {
        if (s.ok()) Compute(out, day);
        done(std::move(s));
      });
}

template <typename Req, typename T>
absl::Status ListMany(absl::Time deadline, ResourceStore& store, const Req& req,
                      const std::string& parent, RepeatedPtrField<T>* out,
                      std::string* next, int64_t day,
                      common::ListQuery q = {}) {
  if (auto s = common::ListResources(deadline, store, req, parent, out, next,
                                     std::move(q));
      !s.ok())
    return s;
  for (T& t : *out) Compute(&t, day);
  return absl::OkStatus();
}

template <typename T>
absl::Status BatchGetMany(absl::Time deadline, ResourceStore& store,
                          const RepeatedPtrField<std::string>& names,
                          std::initializer_list<absl::string_view> shape,
                          RepeatedPtrField<T>* out, int64_t day) {
  if (auto s = common::BatchGetResources(deadline, store, names, shape, out);
      !s.ok())
    return s;
  for (T& t : *out) Compute(&t, day);
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// MembershipHandler
// ---------------------------------------------------------------------------

MembershipHandler::MembershipHandler(MembershipStore* store,
                                     const common::ApiKeyStore* keys,
                                     std::function<int64_t()> today)
    : store_(store), keys_(keys), today_(std::move(today)) {
  if (!today_) today_ = common::TodayUtc;
}

absl::Status MembershipHandler::RequireRole(const Caller& caller,
                                            common::Role role) const {
  return common::RequireRole(*keys_, caller, role);
}

absl::StatusOr<int64_t> MembershipHandler::AsOfDay(
    const google::type::Date& as_of, bool present, const char* field) const {
  return common::AsOfDay(as_of, present, field, present ? 0 : today_());
}

absl::Status MembershipHandler::CheckReferences(const Refs& refs) {
  Violations v;
  for (const auto& [field, name] : refs) {
    if (name.empty()) continue;
    auto exists = store_->Exists(name);
    if (!exists.ok()) return exists.status();
    if (!*exists)
      v.Add(field, absl::StrCat("refers to ", name, ", which does not exist"));
  }
  return v.ToStatus("UNKNOWN_REFERENCE");
}

#define CSTOPA_REFS_CHECK [this](const Refs& r) { return CheckReferences(r); }

// States ---------------------------------------------------------------------

void MembershipHandler::GetStateAsync(const Caller& c,
                                      const v1::GetStateRequest& req,
                                      v1::State* resp,
                                      common::StatusCallback done) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return done(day.status());
  GetOneAsync(c.deadline, store_->states(), req.name(), {"states"}, resp, *day,
              std::move(done));
}

absl::Status MembershipHandler::BatchGetStates(
    const Caller& c, const v1::BatchGetStatesRequest& req,
    v1::BatchGetStatesResponse* resp) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return day.status();
  return BatchGetMany(c.deadline, store_->states(), req.names(), {"states"},
                      resp->mutable_states(), *day);
}

absl::Status MembershipHandler::ListStates(const Caller& c,
                                           const v1::ListStatesRequest& req,
                                           v1::ListStatesResponse* resp) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return day.status();
  common::ListQuery q;
  q.extra_fingerprint = AsOfFingerprint(req.as_of(), req.has_as_of());
  return ListMany(c.deadline, store_->states(), req, "", resp->mutable_states(),
                  resp->mutable_next_page_token(), *day, std::move(q));
}

absl::Status MembershipHandler::CreateState(const Caller& c,
                                            const v1::CreateStateRequest& req,
                                            v1::State* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s = common::CreateResource(c.deadline, store_->states(),
                                      "states/" + req.state_id(), "state_id",
                                      req.state_id(), "state", req.state(),
                                      kValidate, CSTOPA_REFS_CHECK, resp);
      !s.ok())
    return s;
  Compute(resp, today_());
  return absl::OkStatus();
}

absl::Status MembershipHandler::UpdateState(const Caller& c,
                                            const v1::UpdateStateRequest& req,
                                            v1::State* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s = common::UpdateResource(c.deadline, store_->states(), req.state(),
                                      req.update_mask(), "state", {"states"},
                                      kValidate, CSTOPA_REFS_CHECK, resp);
      !s.ok())
    return s;
  Compute(resp, today_());
  return absl::OkStatus();
}

absl::Status MembershipHandler::DeleteState(const Caller& c,
                                            const v1::DeleteStateRequest& req,
                                            v1::State* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->states(), req.name(),
                                req.etag(), {"states"}, resp);
}

// Parliaments ----------------------------------------------------------------

void MembershipHandler::GetParliamentAsync(const Caller& c,
                                           const v1::GetParliamentRequest& req,
                                           v1::Parliament* resp,
                                           common::StatusCallback done) {
  GetOneAsync(c.deadline, store_->parliaments(), req.name(), {"parliaments"},
              resp, 0, std::move(done));
}

absl::Status MembershipHandler::ListParliaments(
    const Caller& c, const v1::ListParliamentsRequest& req,
    v1::ListParliamentsResponse* resp) {
  return common::DecodeList(ListParliamentsEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListParliamentsEncoded(
    const Caller& c, const v1::ListParliamentsRequest& req) {
  return common::ListResourcesEncoded(c.deadline, store_->parliaments(), req,
                                      "");
}

absl::Status MembershipHandler::CreateParliament(
    const Caller& c, const v1::CreateParliamentRequest& req,
    v1::Parliament* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::CreateResource(
      c.deadline, store_->parliaments(), "parliaments/" + req.parliament_id(),
      "parliament_id", req.parliament_id(), "parliament", req.parliament(),
      kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdateParliament(
    const Caller& c, const v1::UpdateParliamentRequest& req,
    v1::Parliament* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(
      c.deadline, store_->parliaments(), req.parliament(), req.update_mask(),
      "parliament", {"parliaments"}, kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeleteParliament(
    const Caller& c, const v1::DeleteParliamentRequest& req,
    v1::Parliament* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->parliaments(), req.name(),
                                req.etag(), {"parliaments"}, resp);
}

// Delegations ----------------------------------------------------------------

void MembershipHandler::GetDelegationAsync(const Caller& c,
                                           const v1::GetDelegationRequest& req,
                                           v1::Delegation* resp,
                                           common::StatusCallback done) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return done(day.status());
  GetOneAsync(c.deadline, store_->delegations(), req.name(),
              {"parliaments", "delegations"}, resp, *day, std::move(done));
}

absl::Status MembershipHandler::ListDelegations(
    const Caller& c, const v1::ListDelegationsRequest& req,
    v1::ListDelegationsResponse* resp) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return day.status();
  if (req.parent() != "parliaments/-") {
    Violations v;
    CheckName(v, "parent", req.parent(), {"parliaments"}, true);
    if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  }
  common::ListQuery q;
  q.extra_fingerprint = AsOfFingerprint(req.as_of(), req.has_as_of());
  return ListMany(c.deadline, store_->delegations(), req, req.parent(),
                  resp->mutable_delegations(), resp->mutable_next_page_token(),
                  *day, std::move(q));
}

absl::Status MembershipHandler::CreateDelegation(
    const Caller& c, const v1::CreateDelegationRequest& req,
    v1::Delegation* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  Violations v;
  CheckName(v, "parent", req.parent(), {"parliaments"}, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  auto parent = store_->Exists(req.parent());
  if (!parent.ok()) return parent.status();
  if (!*parent) return common::NotFound(req.parent());
  if (auto s = common::CreateResource(
          c.deadline, store_->delegations(),
          req.parent() + "/delegations/" + req.delegation_id(), "delegation_id",
          req.delegation_id(), "delegation", req.delegation(), kValidate,
          CSTOPA_REFS_CHECK, resp);
      !s.ok())
    return s;
  Compute(resp, today_());
  return absl::OkStatus();
}

absl::Status MembershipHandler::UpdateDelegation(
    const Caller& c, const v1::UpdateDelegationRequest& req,
    v1::Delegation* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s = common::UpdateResource(
          c.deadline, store_->delegations(), req.delegation(),
          req.update_mask(), "delegation", {"parliaments", "delegations"},
          kValidate, CSTOPA_REFS_CHECK, resp);
      !s.ok())
    return s;
  Compute(resp, today_());
  return absl::OkStatus();
}

absl::Status MembershipHandler::DeleteDelegation(
    const Caller& c, const v1::DeleteDelegationRequest& req,
    v1::Delegation* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->delegations(), req.name(),
                                req.etag(), {"parliaments", "delegations"},
                                resp);
}

// Persons --------------------------------------------------------------------

void MembershipHandler::GetPersonAsync(const Caller& c,
                                       const v1::GetPersonRequest& req,
                                       v1::Person* resp,
                                       common::StatusCallback done) {
  GetOneAsync(c.deadline, store_->persons(), req.name(), {"persons"}, resp, 0,
              std::move(done));
}

absl::Status MembershipHandler::BatchGetPersons(
    const Caller& c, const v1::BatchGetPersonsRequest& req,
    v1::BatchGetPersonsResponse* resp) {
  return BatchGetMany(c.deadline, store_->persons(), req.names(), {"persons"},
                      resp->mutable_persons(), 0);
}

absl::Status MembershipHandler::ListPersons(const Caller& c,
                                            const v1::ListPersonsRequest& req,
                                            v1::ListPersonsResponse* resp) {
  return common::DecodeList(ListPersonsEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListPersonsEncoded(
    const Caller& c, const v1::ListPersonsRequest& req) {
  return common::ListResourcesEncoded(c.deadline, store_->persons(), req, "");
}

absl::Status MembershipHandler::CreatePerson(const Caller& c,
                                             const v1::CreatePersonRequest& req,
                                             v1::Person* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::CreateResource(c.deadline, store_->persons(),
                                "persons/" + req.person_id(), "person_id",
                                req.person_id(), "person", req.person(),
                                kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdatePerson(const Caller& c,
                                             const v1::UpdatePersonRequest& req,
                                             v1::Person* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(c.deadline, store_->persons(), req.person(),
                                req.update_mask(), "person", {"persons"},
                                kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeletePerson(const Caller& c,
                                             const v1::DeletePersonRequest& req,
                                             v1::Person* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->persons(), req.name(),
                                req.etag(), {"persons"}, resp);
}

// Roles ----------------------------------------------------------------------

void MembershipHandler::GetRoleAsync(const Caller& c,
                                     const v1::GetRoleRequest& req,
                                     v1::Role* resp,
                                     common::StatusCallback done) {
  GetOneAsync(c.deadline, store_->roles(), req.name(), {"roles"}, resp, 0,
              std::move(done));
}

absl::Status MembershipHandler::ListRoles(const Caller& c,
                                          const v1::ListRolesRequest& req,
                                          v1::ListRolesResponse* resp) {
  return common::DecodeList(ListRolesEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListRolesEncoded(
    const Caller& c, const v1::ListRolesRequest& req) {
  common::ListQuery q;
  if (req.has_as_of()) {
    auto day = AsOfDay(req.as_of(), true, "as_of");
    if (!day.ok()) return day.status();
    q.extra_sql = "start_date <= ? AND end_date >= ?";
    q.extra_params = {*day, *day};
    q.extra_fingerprint = absl::StrCat("as_of=", *day);
  }
  return common::ListResourcesEncoded(c.deadline, store_->roles(), req, "",
                                      std::move(q));
}

absl::Status MembershipHandler::CreateRole(const Caller& c,
                                           const v1::CreateRoleRequest& req,
                                           v1::Role* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::CreateResource(
      c.deadline, store_->roles(), "roles/" + req.role_id(), "role_id",
      req.role_id(), "role", req.role(), kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdateRole(const Caller& c,
                                           const v1::UpdateRoleRequest& req,
                                           v1::Role* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(c.deadline, store_->roles(), req.role(),
                                req.update_mask(), "role", {"roles"}, kValidate,
                                CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeleteRole(const Caller& c,
                                           const v1::DeleteRoleRequest& req,
                                           v1::Role* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->roles(), req.name(),
                                req.etag(), {"roles"}, resp);
}

// Bodies ---------------------------------------------------------------------

void MembershipHandler::GetBodyAsync(const Caller& c,
                                     const v1::GetBodyRequest& req,
                                     v1::Body* resp,
                                     common::StatusCallback done) {
  GetOneAsync(c.deadline, store_->bodies(), req.name(), {"bodies"}, resp, 0,
              std::move(done));
}

absl::Status MembershipHandler::ListBodies(const Caller& c,
                                           const v1::ListBodiesRequest& req,
                                           v1::ListBodiesResponse* resp) {
  return common::DecodeList(ListBodiesEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListBodiesEncoded(
    const Caller& c, const v1::ListBodiesRequest& req) {
  return common::ListResourcesEncoded(c.deadline, store_->bodies(), req, "");
}

absl::Status MembershipHandler::CreateBody(const Caller& c,
                                           const v1::CreateBodyRequest& req,
                                           v1::Body* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::CreateResource(
      c.deadline, store_->bodies(), "bodies/" + req.body_id(), "body_id",
      req.body_id(), "body", req.body(), kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdateBody(const Caller& c,
                                           const v1::UpdateBodyRequest& req,
                                           v1::Body* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(c.deadline, store_->bodies(), req.body(),
                                req.update_mask(), "body", {"bodies"},
                                kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeleteBody(const Caller& c,
                                           const v1::DeleteBodyRequest& req,
                                           v1::Body* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->bodies(), req.name(),
                                req.etag(), {"bodies"}, resp);
}

// Partners -------------------------------------------------------------------

void MembershipHandler::GetPartnerAsync(const Caller& c,
                                        const v1::GetPartnerRequest& req,
                                        v1::Partner* resp,
                                        common::StatusCallback done) {
  GetOneAsync(c.deadline, store_->partners(), req.name(), {"partners"}, resp, 0,
              std::move(done));
}

absl::Status MembershipHandler::ListPartners(const Caller& c,
                                             const v1::ListPartnersRequest& req,
                                             v1::ListPartnersResponse* resp) {
  return common::DecodeList(ListPartnersEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListPartnersEncoded(
    const Caller& c, const v1::ListPartnersRequest& req) {
  return common::ListResourcesEncoded(c.deadline, store_->partners(), req, "");
}

absl::Status MembershipHandler::CreatePartner(
    const Caller& c, const v1::CreatePartnerRequest& req, v1::Partner* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::CreateResource(c.deadline, store_->partners(),
                                "partners/" + req.partner_id(), "partner_id",
                                req.partner_id(), "partner", req.partner(),
                                kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdatePartner(
    const Caller& c, const v1::UpdatePartnerRequest& req, v1::Partner* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(c.deadline, store_->partners(), req.partner(),
                                req.update_mask(), "partner", {"partners"},
                                kValidate, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeletePartner(
    const Caller& c, const v1::DeletePartnerRequest& req, v1::Partner* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->partners(), req.name(),
                                req.etag(), {"partners"}, resp);
}

#undef CSTOPA_REFS_CHECK

// Seed -----------------------------------------------------------------------

absl::Status MembershipHandler::LoadSeed(const std::string& text) {
  seed::MembershipSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid "
        "MembershipSeed in text format");
  for (auto& r : *seed.mutable_states()) common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_delegations()) common::ClearOutputOnly(&r);
  if (auto s = common::SeedResources(store_->states(), seed.states(), "states",
                                     {"states"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->bodies(), seed.bodies(), "bodies",
                                     {"bodies"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->parliaments(), seed.parliaments(),
                                     "parliaments", {"parliaments"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->delegations(), seed.delegations(),
                                     "delegations",
                                     {"parliaments", "delegations"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->persons(), seed.persons(),
                                     "persons", {"persons"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->roles(), seed.roles(), "roles",
                                     {"roles"}, kValidate);
      !s.ok())
    return s;
  return common::SeedResources(store_->partners(), seed.partners(), "partners",
                               {"partners"}, kValidate);
}

// ---------------------------------------------------------------------------
// gRPC wiring
// ---------------------------------------------------------------------------

// The synchronous face of the asynchronous reads.
#define CSTOPA_MEMBERSHIP_AWAIT(Method, Request, Response)                 \
  absl::Status MembershipHandler::Method(                                  \
      const Caller& c, const v1::Request& req, v1::Response* resp) {       \
    return common::AwaitMethod(this, &MembershipHandler::Method##Async, c, \
                               req, resp);                                 \
  }
CSTOPA_MEMBERSHIP_ASYNC_GETS(CSTOPA_MEMBERSHIP_AWAIT)
#undef CSTOPA_MEMBERSHIP_AWAIT

MembershipGrpcService::MembershipGrpcService(MembershipHandler* handler)
    : handler_(handler) {
#define CSTOPA_MEMBERSHIP_SET_ALLOCATOR(Method, Request, Response) \
  SetMessageAllocatorFor_##Method(&Method##_allocator_);
  CSTOPA_MEMBERSHIP_DECODED_METHODS(CSTOPA_MEMBERSHIP_SET_ALLOCATOR)
#undef CSTOPA_MEMBERSHIP_SET_ALLOCATOR
}

#define CSTOPA_MEMBERSHIP_RPC(Method, Request, Response)                   \
  grpc::ServerUnaryReactor* MembershipGrpcService::Method(                 \
      grpc::CallbackServerContext* ctx, const v1::Request* request,        \
      v1::Response* response) {                                            \
    return common::FinishUnary(                                            \
        ctx, handler_->Method(common::CallerOf(ctx), *request, response)); \
  }
CSTOPA_MEMBERSHIP_TYPED_METHODS(CSTOPA_MEMBERSHIP_RPC)
#undef CSTOPA_MEMBERSHIP_RPC

#define CSTOPA_MEMBERSHIP_ASYNC_RPC(Method, Request, Response)                \
  grpc::ServerUnaryReactor* MembershipGrpcService::Method(                    \
      grpc::CallbackServerContext* ctx, const v1::Request* request,           \
      v1::Response* response) {                                               \
    return common::StartAsync(                                                \
        ctx, handler_, &MembershipHandler::Method##Async, request, response); \
  }
CSTOPA_MEMBERSHIP_ASYNC_GETS(CSTOPA_MEMBERSHIP_ASYNC_RPC)
#undef CSTOPA_MEMBERSHIP_ASYNC_RPC

#define CSTOPA_MEMBERSHIP_RAW_RPC(Method, Request, Response)                   \
  grpc::ServerUnaryReactor* MembershipGrpcService::Method(                     \
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,       \
      grpc::ByteBuffer* response) {                                            \
    v1::Request decoded;                                                       \
    if (!common::ParseRequest(*request, &decoded)) {                           \
      return common::FinishUnary(                                              \
          ctx,                                                                 \
          absl::InvalidArgumentError("the request is not a valid " #Request)); \
    }                                                                          \
    return common::FinishEncoded(                                              \
        ctx, handler_->Method##Encoded(common::CallerOf(ctx), decoded),        \
        response);                                                             \
  }
CSTOPA_MEMBERSHIP_RAW_LISTS(CSTOPA_MEMBERSHIP_RAW_RPC)
#undef CSTOPA_MEMBERSHIP_RAW_RPC

}  // namespace cstopa::membership
