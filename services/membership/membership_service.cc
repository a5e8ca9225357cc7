#include "services/membership/membership_service.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "membership/seed/membership_seed.pb.h"
#include "services/common/base/dates.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"
#include "services/common/store/read_cache.h"
#include "services/membership/embedded_files.h"

namespace cstopa::membership {
namespace {

// The feed's change kinds are numbered as the API's change types.
static_assert(static_cast<int>(common::ChangeKind::kCheckpoint) ==
              v1::CHANGE_TYPE_CHECKPOINT);
static_assert(static_cast<int>(common::ChangeKind::kCreated) ==
              v1::CHANGE_TYPE_CREATED);
static_assert(static_cast<int>(common::ChangeKind::kUpdated) ==
              v1::CHANGE_TYPE_UPDATED);
static_assert(static_cast<int>(common::ChangeKind::kDeleted) ==
              v1::CHANGE_TYPE_DELETED);

int32_t ClampSeats(int64_t seats) {
  return static_cast<int32_t>(
      std::min<int64_t>(seats, std::numeric_limits<int32_t>::max()));
}

// The names a NamedRole of each role shows: its holder, its organization,
// and the parliament whose chamber it names.
void AddRoleNames(const std::vector<v1::Role>& roles,
                  std::set<std::string>* names) {
  for (const v1::Role& r : roles) {
    if (!r.person().empty()) names->insert(r.person());
    names->insert(r.organization());
    if (!r.chamber_id().empty()) {
      std::string parliament = ParliamentOf(r.organization());
      if (!parliament.empty()) names->insert(std::move(parliament));
    }
  }
}

// `role` with the names it refers to resolved from `dir`.
void NameRole(const Directory& dir, v1::Role role, v1::NamedRole* out) {
  if (!role.person().empty()) {
    if (const auto* names = dir.DisplayNameOf(role.person()))
      *out->mutable_person_display_name() = *names;
  }
  if (const auto* names = dir.DisplayNameOf(role.organization()))
    *out->mutable_organization_display_name() = *names;
  if (const auto* names =
          dir.ChamberNameOf(role.organization(), role.chamber_id()))
    *out->mutable_chamber_display_name() = *names;
  *out->mutable_role() = std::move(role);
}

// A partner whose kind is not given is one the source does not say is
// a partner or an observer.
void SettleKind(v1::Partner* p) {
  if (p->kind() == v1::PARTNER_KIND_UNSPECIFIED)
    p->set_kind(v1::PARTNER_KIND_UNDETERMINED);
}

common::WriteHooks<v1::Partner> PartnerKindHooks() {
  common::WriteHooks<v1::Partner> hooks;
  hooks.prepare = [](const v1::Partner*, v1::Partner* p) { SettleKind(p); };
  return hooks;
}

// What the sources say of `role` on `day`: KNOWN when it is known to be
// held, NOT_KNOWN when they do not say; nullopt when it is known not to be
// held.
std::optional<cstopa::type::v1::AsOfKnowledge> HeldOn(const v1::Role& role,
                                                      int64_t day) {
  switch (common::RangeOn(role.period(), day)) {
    case common::DayFact::kHeld:
      return cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN;
    case common::DayFact::kNotKnown:
      return cstopa::type::v1::AS_OF_KNOWLEDGE_NOT_KNOWN;
    case common::DayFact::kNotHeld:
      break;
  }
  return std::nullopt;
}

}  // namespace

MembershipHandler::MembershipHandler(MembershipResources* resources,
                                     common::ExportOptions exports)
    : r_(resources), exports_(exports) {}

// States ---------------------------------------------------------------------

void MembershipHandler::GetState(GetStateCall call) {
  r_->states().Get(std::move(call));
}
void MembershipHandler::BatchGetStates(BatchGetStatesCall call) {
  r_->states().BatchGet(std::move(call));
}
void MembershipHandler::ListStates(ListStatesCall call) {
  r_->states().List(std::move(call));
}
void MembershipHandler::CreateState(CreateStateCall call) {
  r_->states().Create(std::move(call));
}
void MembershipHandler::UpdateState(UpdateStateCall call) {
  r_->states().Update(std::move(call));
}
void MembershipHandler::DeleteState(DeleteStateCall call) {
  r_->states().Delete(std::move(call));
}

void MembershipHandler::UndeleteState(UndeleteStateCall call) {
  r_->states().Undelete(std::move(call));
}

// Parliaments ----------------------------------------------------------------

void MembershipHandler::GetParliament(GetParliamentCall call) {
  r_->parliaments().Get(std::move(call));
}
void MembershipHandler::ListParliaments(ListParliamentsCall call) {
  r_->parliaments().List(std::move(call));
}
void MembershipHandler::CreateParliament(CreateParliamentCall call) {
  r_->parliaments().Create(std::move(call));
}
void MembershipHandler::UpdateParliament(UpdateParliamentCall call) {
  r_->parliaments().Update(std::move(call));
}
void MembershipHandler::DeleteParliament(DeleteParliamentCall call) {
  r_->parliaments().Delete(std::move(call));
}

void MembershipHandler::UndeleteParliament(UndeleteParliamentCall call) {
  r_->parliaments().Undelete(std::move(call));
}

// Delegations ----------------------------------------------------------------

void MembershipHandler::GetDelegation(GetDelegationCall call) {
  r_->delegations().Get(std::move(call));
}
void MembershipHandler::ListDelegations(ListDelegationsCall call) {
  r_->delegations().List(std::move(call));
}
void MembershipHandler::CreateDelegation(CreateDelegationCall call) {
  r_->delegations().Create(std::move(call));
}
void MembershipHandler::UpdateDelegation(UpdateDelegationCall call) {
  r_->delegations().Update(std::move(call));
}
void MembershipHandler::DeleteDelegation(DeleteDelegationCall call) {
  r_->delegations().Delete(std::move(call));
}

void MembershipHandler::UndeleteDelegation(UndeleteDelegationCall call) {
  r_->delegations().Undelete(std::move(call));
}

// Persons --------------------------------------------------------------------

void MembershipHandler::GetPerson(GetPersonCall call) {
  r_->persons().Get(std::move(call));
}
void MembershipHandler::BatchGetPersons(BatchGetPersonsCall call) {
  r_->persons().BatchGet(std::move(call));
}
void MembershipHandler::ListPersons(ListPersonsCall call) {
  r_->persons().List(std::move(call));
}
void MembershipHandler::CreatePerson(CreatePersonCall call) {
  r_->persons().Create(std::move(call));
}
void MembershipHandler::UpdatePerson(UpdatePersonCall call) {
  r_->persons().Update(std::move(call));
}
void MembershipHandler::DeletePerson(DeletePersonCall call) {
  r_->persons().Delete(std::move(call));
}

void MembershipHandler::UndeletePerson(UndeletePersonCall call) {
  r_->persons().Undelete(std::move(call));
}

// Roles ----------------------------------------------------------------------

void MembershipHandler::GetRole(GetRoleCall call) {
  r_->roles().Get(std::move(call));
}
void MembershipHandler::ListRoles(ListRolesCall call) {
  const v1::ListRolesRequest& req = call.request();
  if (!req.include_not_known()) return r_->roles().List(std::move(call));
  if (!req.has_as_of()) {
    return call.Finish(
        common::InvalidArgument("include_not_known",
                                "needs `as_of`: the date the roles are known, "
                                "or not, to be held on"));
  }
  // Every role the query finds, whatever its period, less those known not
  // to be held on the day; the rest say whether they are known to be held.
  common::ListCondition extra;
  extra.fingerprint = "include_not_known";
  extra.keep = [](google::protobuf::Message* m, int64_t day) {
    auto* role = static_cast<v1::Role*>(m);
    std::optional<cstopa::type::v1::AsOfKnowledge> held = HeldOn(*role, day);
    if (held) role->set_as_of_knowledge(*held);
    return held.has_value();
  };
  r_->roles().List(std::move(call), std::move(extra));
}
void MembershipHandler::CreateRole(CreateRoleCall call) {
  r_->roles().Create(std::move(call));
}
void MembershipHandler::UpdateRole(UpdateRoleCall call) {
  r_->roles().Update(std::move(call));
}
void MembershipHandler::DeleteRole(DeleteRoleCall call) {
  r_->roles().Delete(std::move(call));
}

void MembershipHandler::UndeleteRole(UndeleteRoleCall call) {
  r_->roles().Undelete(std::move(call));
}

// Bodies ---------------------------------------------------------------------

void MembershipHandler::GetBody(GetBodyCall call) {
  r_->bodies().Get(std::move(call));
}
void MembershipHandler::ListBodies(ListBodiesCall call) {
  r_->bodies().List(std::move(call));
}
void MembershipHandler::CreateBody(CreateBodyCall call) {
  r_->bodies().Create(std::move(call));
}
void MembershipHandler::UpdateBody(UpdateBodyCall call) {
  r_->bodies().Update(std::move(call));
}
void MembershipHandler::DeleteBody(DeleteBodyCall call) {
  r_->bodies().Delete(std::move(call));
}

void MembershipHandler::UndeleteBody(UndeleteBodyCall call) {
  r_->bodies().Undelete(std::move(call));
}

// Partners -------------------------------------------------------------------

void MembershipHandler::GetPartner(GetPartnerCall call) {
  r_->partners().Get(std::move(call));
}
void MembershipHandler::ListPartners(ListPartnersCall call) {
  r_->partners().List(std::move(call));
}
void MembershipHandler::CreatePartner(CreatePartnerCall call) {
  r_->partners().Create(std::move(call), PartnerKindHooks());
}
void MembershipHandler::UpdatePartner(UpdatePartnerCall call) {
  r_->partners().Update(std::move(call), PartnerKindHooks());
}
void MembershipHandler::DeletePartner(DeletePartnerCall call) {
  r_->partners().Delete(std::move(call));
}

void MembershipHandler::UndeletePartner(UndeletePartnerCall call) {
  r_->partners().Undelete(std::move(call));
}

// Summaries ------------------------------------------------------------------
// Each reads what it needs together (ReadJoin), without a thread waiting;
// the state's or person's record among them, so that an unknown one is
// NOT_FOUND as from Get. Seats and statuses come from the declarations'
// `compute`, as Get and List fill them.

// Round one: the state, its parliaments, their delegations and the posts
// held on the day; round two: the names those posts refer to.
void MembershipHandler::SummarizeState(SummarizeStateCall call) {
  const v1::SummarizeStateRequest& req = call.request();
  if (auto s = common::CheckRequestName("name", req.name(), {"states"});
      !s.ok())
    return call.Finish(std::move(s));
  const absl::StatusOr<int64_t> day =
      common::AsOfDay(req.as_of(), req.has_as_of(), "as_of", r_->set().Today());
  if (!day.ok()) return call.Finish(day.status());
  // Answered from the read cache while nothing was written since it was
  // built (store/read_cache.h), as Gets and Lists are.
  common::ReadCache::Slot slot;
  if (common::FinishFromCache(Cache(), common::RequestKey(req, *day), call,
                              &slot))
    return;
  struct Work {
    explicit Work(SummarizeStateCall c) : call(std::move(c)) {}
    SummarizeStateCall call;
    common::ReadCache::Slot slot;
    std::vector<v1::Parliament> parliaments;
    std::vector<v1::Delegation> delegations;
    std::vector<v1::Role> roles;
    Directory dir;
  };
  const absl::Time deadline = call.deadline();
  const std::string name = req.name();
  v1::StateSummary* out = call.response();
  auto work = std::make_unique<Work>(std::move(call));
  work->slot = std::move(slot);
  Work* w = work.get();
  ReadJoin join;
  r_->states().store().GetAsync(name, /*allow_deleted=*/false,
                                out->mutable_state(), deadline, join.Add());
  r_->ReadParliamentsOfState(name, deadline, &w->parliaments, join.Add());
  r_->ReadDelegationsOfState(name, deadline, &w->delegations, join.Add());
  r_->ReadRolesOfState(name, deadline, &w->roles, join.Add());
  std::move(join).Start([this, out, day = *day, deadline,
                         work = std::move(work)](absl::Status s) mutable {
    if (!s.ok()) return work->call.Finish(std::move(s));
    Work* w = work.get();
    for (const v1::Parliament& p : w->parliaments)
      w->dir.parliaments.emplace(p.name(), p);
    for (const v1::Delegation& d : w->delegations)
      w->dir.delegations.emplace(d.name(), d);
    std::set<std::string> names;
    AddRoleNames(w->roles, &names);
    r_->ResolveNames(
        names, deadline, &w->dir,
        [this, out, day, work = std::move(work)](absl::Status s) mutable {
          if (!s.ok()) return work->call.Finish(std::move(s));
          r_->states().Compute(out->mutable_state(), day);
          for (v1::Parliament& p : work->parliaments)
            *out->add_parliaments() = std::move(p);
          for (v1::Delegation& d : work->delegations) {
            r_->delegations().Compute(&d, day);
            *out->add_delegations() = std::move(d);
          }
          std::vector<v1::Role>& roles = work->roles;
          std::sort(roles.begin(), roles.end(),
                    [](const v1::Role& a, const v1::Role& b) {
                      if (a.organization() != b.organization())
                        return a.organization() < b.organization();
                      if (a.role_type() != b.role_type())
                        return a.role_type() < b.role_type();
                      return a.name() < b.name();
                    });
          // Held on the day, or not known to be: the rest did not hold.
          for (v1::Role& r : roles) {
            std::optional<cstopa::type::v1::AsOfKnowledge> held =
                HeldOn(r, day);
            if (!held) continue;
            NameRole(work->dir, std::move(r),
                     *held == cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN
                         ? out->add_roles()
                         : out->add_not_known_roles());
          }
          *out->mutable_as_of_date() = common::DayToDate(day);
          common::FinishKept(Cache(), work->slot, work->call, absl::OkStatus());
        });
  });
}

// Round one: the person and every role; round two: the person's state and
// what the roles refer to.
void MembershipHandler::SummarizePerson(SummarizePersonCall call) {
  const v1::SummarizePersonRequest& req = call.request();
  if (auto s = common::CheckRequestName("name", req.name(), {"persons"});
      !s.ok())
    return call.Finish(std::move(s));
  common::ReadCache::Slot slot;
  if (common::FinishFromCache(Cache(), common::RequestKey(req), call, &slot))
    return;
  struct Work {
    explicit Work(SummarizePersonCall c) : call(std::move(c)) {}
    SummarizePersonCall call;
    common::ReadCache::Slot slot;
    std::vector<v1::Role> roles;
    Directory dir;
  };
  const absl::Time deadline = call.deadline();
  const std::string name = req.name();
  v1::PersonSummary* out = call.response();
  auto work = std::make_unique<Work>(std::move(call));
  work->slot = std::move(slot);
  Work* w = work.get();
  ReadJoin join;
  r_->persons().store().GetAsync(name, /*allow_deleted=*/false,
                                 out->mutable_person(), deadline, join.Add());
  r_->ReadRolesOfPerson(name, deadline, &w->roles, join.Add());
  std::move(join).Start([this, out, deadline,
                         work = std::move(work)](absl::Status s) mutable {
    if (!s.ok()) return work->call.Finish(std::move(s));
    Work* w = work.get();
    w->dir.persons.emplace(out->person().name(), out->person());
    std::set<std::string> names;
    AddRoleNames(w->roles, &names);
    if (!out->person().state().empty()) names.insert(out->person().state());
    r_->ResolveNames(
        names, deadline, &w->dir,
        [this, out, work = std::move(work)](absl::Status s) mutable {
          if (!s.ok()) return work->call.Finish(std::move(s));
          const std::string& state = out->person().state();
          if (!state.empty()) {
            auto it = work->dir.states.find(state);
            if (it != work->dir.states.end())
              *out->mutable_state_display_name() = it->second.display_name();
          }
          // Newest first: by the first day the role is known to be held,
          // descending (an open start is day 0, so last), then by name.
          std::vector<std::pair<int64_t, v1::Role*>> order;
          for (v1::Role& r : work->roles)
            order.emplace_back(common::FirstDayHeld(r.period()), &r);
          std::sort(order.begin(), order.end(),
                    [](const auto& a, const auto& b) {
                      if (a.first != b.first) return a.first > b.first;
                      return a.second->name() < b.second->name();
                    });
          for (auto& [start, r] : order)
            NameRole(work->dir, std::move(*r), out->add_roles());
          common::FinishKept(Cache(), work->slot, work->call, absl::OkStatus());
        });
  });
}

// Every state, every delegation with its parliament's state, and every
// partner, read together; statuses, seats and periods taken on the day.
void MembershipHandler::SummarizeMembership(SummarizeMembershipCall call) {
  const v1::SummarizeMembershipRequest& req = call.request();
  const absl::StatusOr<int64_t> day =
      common::AsOfDay(req.as_of(), req.has_as_of(), "as_of", r_->set().Today());
  if (!day.ok()) return call.Finish(day.status());
  common::ReadCache::Slot slot;
  if (common::FinishFromCache(Cache(), common::RequestKey(req, *day), call,
                              &slot))
    return;
  struct Work {
    explicit Work(SummarizeMembershipCall c) : call(std::move(c)) {}
    SummarizeMembershipCall call;
    common::ReadCache::Slot slot;
    std::vector<v1::State> states;
    std::vector<StateDelegation> delegations;
    std::vector<v1::Partner> partners;
  };
  const absl::Time deadline = call.deadline();
  auto work = std::make_unique<Work>(std::move(call));
  work->slot = std::move(slot);
  Work* w = work.get();
  ReadJoin join;
  r_->ReadStates(deadline, &w->states, join.Add());
  r_->ReadDelegationsWithState(deadline, &w->delegations, join.Add());
  r_->ReadPartners(deadline, &w->partners, join.Add());
  std::move(join).Start([this, day = *day,
                         work = std::move(work)](absl::Status s) mutable {
    if (!s.ok()) return work->call.Finish(std::move(s));
    v1::MembershipSummary* out = work->call.response();
    std::map<std::string, std::pair<v1::StateStanding*, int64_t>> standings;
    for (v1::State& state : work->states) {
      r_->states().Compute(&state, day);
      v1::StateStanding* standing = out->add_states();
      standing->set_state(state.name());
      *standing->mutable_display_name() =
          std::move(*state.mutable_display_name());
      standing->set_status(state.current_status());
      standing->set_status_knowledge(state.current_status_knowledge());
      standing->set_seats_knowledge(cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN);
      standings[state.name()] = {standing, 0};
    }
    int64_t total = 0;
    for (StateDelegation& d : work->delegations) {
      auto it = standings.find(d.state);
      if (it == standings.end()) continue;  // its state is gone
      r_->delegations().Compute(&d.delegation, day);
      if (d.delegation.seats_knowledge() ==
          cstopa::type::v1::AS_OF_KNOWLEDGE_NOT_KNOWN)
        it->second.first->set_seats_knowledge(d.delegation.seats_knowledge());
      it->second.second += d.delegation.total_seats();
      total += d.delegation.total_seats();
      for (v1::SeatAllocation& a : *d.delegation.mutable_effective_seats())
        *it->second.first->add_effective_seats() = std::move(a);
    }
    for (auto& [name, standing] : standings)
      standing.first->set_seats(ClampSeats(standing.second));
    out->set_total_seats(ClampSeats(total));
    for (v1::Partner& p : work->partners) {
      if (common::RangeHolds(p.period(), day))
        *out->add_partners() = std::move(p);
    }
    *out->mutable_as_of_date() = common::DayToDate(day);
    common::FinishKept(Cache(), work->slot, work->call, absl::OkStatus());
  });
}

// Change stream --------------------------------------------------------------

void MembershipHandler::WatchMembership(WatchMembershipCall call) {
  const v1::WatchMembershipRequest& req = call.request();
  auto filter = common::MakeChangeFilter(req.collections(), req.name(),
                                         MembershipCollections());
  common::ServeWatch(
      &r_->feed(), r_->set().db(), std::move(call),
      [this](const common::Change& change, const std::string& token,
             v1::WatchMembershipResponse* out) {
        FillWatchMembershipResponse(*r_, change, token, out);
      },
      std::move(filter));
}

void MembershipHandler::ExportMembership(ExportMembershipCall call) {
  common::ServeExport(&r_->set(), &r_->feed(), &exports_, std::move(call));
}

void MembershipHandler::ImportMembership(ImportMembershipCall call) {
  common::ServeImport(&r_->set(), std::move(call));
}

void MembershipHandler::Search(SearchCall call) {
  r_->set().search_index().Serve(std::move(call));
}

void MembershipHandler::BeginDrain() {
  common::DrainWatches(&r_->feed());
  exports_.StopAll();
}

void FillWatchMembershipResponse(MembershipResources& resources,
                                 const common::Change& change,
                                 const std::string& token,
                                 v1::WatchMembershipResponse* out) {
  // The record goes in the oneof member of its collection; the computed
  // fields are Get's.
  common::FillWatchResponse(change, token, out);
  if (out->has_state()) {
    resources.states().Compute(out->mutable_state(), resources.set().Today());
  } else if (out->has_delegation()) {
    resources.delegations().Compute(out->mutable_delegation(),
                                    resources.set().Today());
  }
}

// Seed -----------------------------------------------------------------------

absl::Status MembershipHandler::LoadSeed(const std::string& text) {
  seed::MembershipSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid MembershipSeed in text format");
  // Computed "as of" fields in the file are not data.
  for (auto& r : *seed.mutable_states()) common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_delegations()) common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_partners()) SettleKind(&r);
  // Referenced before referring: states and bodies first.
  absl::Status s = r_->states().Seed(seed.states(), "states");
  if (s.ok()) s = r_->bodies().Seed(seed.bodies(), "bodies");
  if (s.ok()) s = r_->parliaments().Seed(seed.parliaments(), "parliaments");
  if (s.ok()) s = r_->delegations().Seed(seed.delegations(), "delegations");
  if (s.ok()) s = r_->persons().Seed(seed.persons(), "persons");
  if (s.ok()) s = r_->roles().Seed(seed.roles(), "roles");
  if (s.ok()) s = r_->partners().Seed(seed.partners(), "partners");
  r_->feed().Notify();  // the inserts were logged: watchers see them now
  return s;
}

common::ServiceDefinition MembershipService() {
  common::ServiceDefinition def;
  def.name = "membership";
  def.grpc_service_name = "cstopa.membership.v1.MembershipService";
  def.default_port = 50051;
  def.default_admin_port = 9051;
  def.schema = MembershipSchema();
  def.builtin_seed = kMembershipSeed;
  def.create =
      common::HandlerInstance<MembershipResources, MembershipHandler>::Factory(
          &v1::NewMembershipServiceGrpc);
  return def;
}

}  // namespace cstopa::membership
