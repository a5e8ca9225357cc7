// The membership service's resources, declared (services/common/resources/
// resource.h): for each, its name pattern, the columns List filters and
// orders on, its validation and references, and its "as of" fields; and
// the change feed every write logs to.
#include "services/membership/membership_resources.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/base/dates.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"
#include "services/common/store/columns.h"
#include "services/membership/embedded_files.h"

namespace cstopa::membership {
namespace {

using common::CheckCount;
using common::CheckEnum;
using common::CheckName;
using common::CheckProvenance;
using common::CheckRange;
using common::CheckRegionCode;
using common::CheckTexts;
using common::CheckUri;
using common::ColumnSpec;
using common::EnumColumn;
using common::FilterFieldType;
using common::kIdRule;
using common::Refs;
using common::ResourceDecl;
using common::SqlValue;
using common::StringColumn;
using common::ValidId;
using common::ValidName;
using common::Violations;
using google::protobuf::Message;

// Filter and order_by columns of each resource.
template <typename T>
ColumnSpec DisplayName() {
  return common::DisplayNameColumn<T>();
}

const common::ResourceSpec kStates{
    "states",
    {DisplayName<v1::State>(),
     StringColumn<v1::State>(
         "region_code", [](const v1::State& s) { return s.region_code(); },
         true)}};

const common::ResourceSpec kParliaments{
    "parliaments",
    {DisplayName<v1::Parliament>(),
     StringColumn<v1::Parliament>(
         "state", [](const v1::Parliament& p) { return p.state(); }, true)}};

const common::ResourceSpec kDelegations{
    "delegations",
    {DisplayName<v1::Delegation>(),
     StringColumn<v1::Delegation>(
         "assembly", [](const v1::Delegation& d) { return d.assembly(); },
         true)}};

const common::ResourceSpec kPersons{
    "persons",
    {DisplayName<v1::Person>(),
     StringColumn<v1::Person>(
         "state", [](const v1::Person& p) { return p.state(); }, true)}};

const common::ResourceSpec kRoles{
    "roles",
    {StringColumn<v1::Role>(
         "person", [](const v1::Role& r) { return r.person(); }, true),
     StringColumn<v1::Role>(
         "organization", [](const v1::Role& r) { return r.organization(); },
         true),
     StringColumn<v1::Role>(
         "chamber_id", [](const v1::Role& r) { return r.chamber_id(); }, false),
     EnumColumn<v1::Role>("role_type", v1::RoleType_descriptor(),
                          [](const v1::Role& r) { return r.role_type(); }),
     // The first and last day the role is known to be held (the days
     // `as_of` finds it on; see common::FirstDayHeld).
     {"start_date", FilterFieldType::kDate, nullptr,
      [](const Message& m) -> SqlValue {
        return common::FirstDayHeld(static_cast<const v1::Role&>(m).period());
      },
      true},
     {"end_date", FilterFieldType::kDate, nullptr,
      [](const Message& m) -> SqlValue {
        return common::LastDayHeld(static_cast<const v1::Role&>(m).period());
      },
      true}}};

const common::ResourceSpec kBodies{
    "bodies",
    {DisplayName<v1::Body>(),
     EnumColumn<v1::Body>("kind", v1::BodyKind_descriptor(),
                          [](const v1::Body& b) { return b.kind(); }),
     StringColumn<v1::Body>(
         "parent_body", [](const v1::Body& b) { return b.parent_body(); },
         true)}};

const common::ResourceSpec kPartners{
    "partners",
    {DisplayName<v1::Partner>(),
     EnumColumn<v1::Partner>("kind", v1::PartnerKind_descriptor(),
                             [](const v1::Partner& p) { return p.kind(); }),
     EnumColumn<v1::Partner>(
         "organization_type", v1::OrganizationType_descriptor(),
         [](const v1::Partner& p) { return p.organization_type(); }),
     StringColumn<v1::Partner>(
         "region_code", [](const v1::Partner& p) { return p.region_code(); },
         true)}};

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

// Of the periods known to hold on `day`, the one known to hold from the
// latest day wins; a period whose day is not known makes the answer NOT_KNOWN
// only when none holds (DateRange in types.proto).
void Compute(v1::State* s, int64_t day) {
  int64_t best_start = -1;
  bool not_known = false;
  v1::MembershipStatus status = v1::MEMBERSHIP_STATUS_UNSPECIFIED;
  for (const auto& p : s->status_history()) {
    const common::DayFact fact = common::RangeOn(p.period(), day);
    if (fact == common::DayFact::kNotKnown) not_known = true;
    if (fact != common::DayFact::kHeld) continue;
    const int64_t start = common::FirstDayHeld(p.period());
    if (start > best_start) {
      best_start = start;
      status = p.status();
    }
  }
  s->set_current_status(status);
  s->set_current_status_knowledge(common::KnowledgeOf(
      status != v1::MEMBERSHIP_STATUS_UNSPECIFIED, not_known));
}

void Compute(v1::Delegation* d, int64_t day) {
  std::map<std::string, std::pair<int64_t, const v1::SeatAllocation*>> best;
  std::set<std::string> not_known;  // chambers with an allocation not known
  for (const auto& a : d->seat_allocations()) {
    const common::DayFact fact = common::RangeOn(a.period(), day);
    if (fact == common::DayFact::kNotKnown) not_known.insert(a.chamber_id());
    if (fact != common::DayFact::kHeld) continue;
    const int64_t start = common::FirstDayHeld(a.period());
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
  bool unknown = false;
  for (const std::string& chamber : not_known)
    unknown = unknown || best.find(chamber) == best.end();
  d->set_total_seats(static_cast<int32_t>(
      std::min<int64_t>(total, std::numeric_limits<int32_t>::max())));
  d->set_seats_knowledge(common::KnowledgeOf(!unknown, unknown));
  *d->mutable_as_of_date() = common::DayToDate(day);
}

// What Search finds of a named record: its names in every language, the
// English one (else the first) as its title, and `more` texts after them.
template <typename T>
common::SearchEntry NameEntry(const T& r, int64_t date = 0) {
  common::SearchEntry e;
  e.title = common::PreferredText(r.display_name());
  common::AppendTexts(r.display_name(), &e.text);
  e.date = date;
  return e;
}

// Each validator as a declaration's `validate`.
template <typename T>
ResourceDecl<T> Declare(const char* pattern, std::vector<ColumnSpec> columns) {
  ResourceDecl<T> d;
  d.pattern = pattern;
  d.columns = std::move(columns);
  d.validate = [](const T& r, const std::string& prefix, Violations& v,
                  Refs& refs) { Validate(r, prefix, v, refs); };
  return d;
}

}  // namespace

const common::SchemaSpec& MembershipSchema() {
  static const common::SchemaSpec* schema =
      new common::SchemaSpec{"membership", EmbeddedMigrations()};
  return *schema;
}

ResourceDecl<v1::State> StateDecl() {
  auto d = Declare<v1::State>("states/{state}", kStates.columns);
  d.compute = [](v1::State* s, int64_t day) { Compute(s, day); };
  d.search = [](const v1::State& s) -> std::optional<common::SearchEntry> {
    return NameEntry(s);
  };
  return d;
}

ResourceDecl<v1::Parliament> ParliamentDecl() {
  auto d =
      Declare<v1::Parliament>("parliaments/{parliament}", kParliaments.columns);
  // Chambers are parts of their parliament: their names find it.
  d.search = [](const v1::Parliament& p) -> std::optional<common::SearchEntry> {
    common::SearchEntry e = NameEntry(p);
    for (const v1::Chamber& c : p.chambers())
      common::AppendTexts(c.display_name(), &e.text);
    return e;
  };
  return d;
}

ResourceDecl<v1::Delegation> DelegationDecl() {
  auto d = Declare<v1::Delegation>(
      "parliaments/{parliament}/delegations/{delegation}",
      kDelegations.columns);
  d.compute = [](v1::Delegation* r, int64_t day) { Compute(r, day); };
  d.search = [](const v1::Delegation& r) -> std::optional<common::SearchEntry> {
    return NameEntry(r);
  };
  return d;
}

ResourceDecl<v1::Person> PersonDecl() {
  auto d = Declare<v1::Person>("persons/{person}", kPersons.columns);
  d.search = [](const v1::Person& p) -> std::optional<common::SearchEntry> {
    return NameEntry(p);
  };
  return d;
}

ResourceDecl<v1::Role> RoleDecl() {
  auto d = Declare<v1::Role>("roles/{role}", kRoles.columns);
  d.as_of_start_column = "start_date";
  d.as_of_end_column = "end_date";
  return d;
}

ResourceDecl<v1::Body> BodyDecl() {
  auto d = Declare<v1::Body>("bodies/{body}", kBodies.columns);
  d.search = [](const v1::Body& b) -> std::optional<common::SearchEntry> {
    common::SearchEntry e = NameEntry(b);
    common::AppendTexts(b.abbreviation(), &e.text);
    for (const v1::MandateClause& m : b.mandate())
      common::AppendTexts(m.text(), &e.text);
    return e;
  };
  return d;
}

ResourceDecl<v1::Partner> PartnerDecl() {
  auto d = Declare<v1::Partner>("partners/{partner}", kPartners.columns);
  d.search = [](const v1::Partner& p) -> std::optional<common::SearchEntry> {
    return NameEntry(p, common::SearchDate(p.period()));
  };
  return d;
}

const std::vector<std::string>& MembershipCollections() {
  static const std::vector<std::string>* collections =
      new std::vector<std::string>{"states",  "parliaments", "delegations",
                                   "persons", "roles",       "bodies",
                                   "partners"};
  return *collections;
}

common::ChangeFeedOptions MembershipFeedOptions() {
  common::ChangeFeedOptions o;
  o.table = "membership_changes";
  o.lock_key = 0x63737470'6d656d62LL;  // "cstpmemb"
  o.token_scope = "cstopa.membership.v1.MembershipService/WatchMembership";
  return o;
}

MembershipResources::MembershipResources(common::Database* db,
                                         const common::PageTokenCodec* tokens,
                                         const common::ApiKeyStore* keys,
                                         std::function<int64_t()> today,
                                         common::ChangeFeedOptions feed)
    : set_(db, tokens, keys, std::move(today)),
      feed_(db, tokens, std::move(feed)),
      states_(&set_, StateDecl()),
      parliaments_(&set_, ParliamentDecl()),
      delegations_(&set_, DelegationDecl()),
      persons_(&set_, PersonDecl()),
      roles_(&set_, RoleDecl()),
      bodies_(&set_, BodyDecl()),
      partners_(&set_, PartnerDecl()) {
  // Each write of any collection logs its change in its own transaction,
  // then wakes the feed.
  set_.set_write_hook(common::FeedWriteHook(&feed_));
  set_.set_after_commit([this] { feed_.Notify(); });
}

// ---------------------------------------------------------------------------
// Reads for the summaries
// ---------------------------------------------------------------------------

ReadJoin::ReadJoin() : state_(std::make_shared<State>()) {}

common::StatusCallback ReadJoin::Add() {
  state_->pending.fetch_add(1, std::memory_order_relaxed);
  return [state = state_, index = added_++](absl::Status s) {
    state->End(index, std::move(s));
  };
}

void ReadJoin::Start(common::StatusCallback then) && {
  std::shared_ptr<State> state = std::move(state_);
  state->then = std::move(then);
  state->End(std::numeric_limits<int>::max(), absl::OkStatus());
}

void ReadJoin::State::End(int index, absl::Status s) {
  if (!s.ok()) {
    absl::MutexLock lock(&mu);
    if (first_error_index < 0 || index < first_error_index) {
      first_error_index = index;
      first_error = std::move(s);
    }
  }
  if (pending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  absl::Status result;
  {
    absl::MutexLock lock(&mu);
    result = std::move(first_error);
  }
  common::StatusCallback done = std::move(then);
  done(std::move(result));
}

namespace {

bool IsParliament(absl::string_view name) {
  return ValidName(name, {"parliaments"});
}
bool IsDelegation(absl::string_view name) {
  return ValidName(name, {"parliaments", "delegations"});
}

template <typename T>
const T* Find(const std::map<std::string, T>& records,
              const std::string& name) {
  auto it = records.find(name);
  return it == records.end() ? nullptr : &it->second;
}

// Parses the stored bytes of one row's column `column` into a new element
// of `out`.
template <typename T>
absl::Status AddParsed(const common::SqlRow& row, int column,
                       std::vector<T>* out) {
  absl::string_view data = row.Bytes(column);
  if (!out->emplace_back().ParseFromArray(data.data(),
                                          static_cast<int>(data.size())))
    return absl::DataLossError("a stored resource is corrupt");
  return absl::OkStatus();
}

// The live parliaments of the state bound to `?`.
constexpr char kParliamentsOfState[] =
    "SELECT name FROM parliaments WHERE delete_time IS NULL AND state = ?";

}  // namespace

std::string ParliamentOf(const std::string& organization) {
  if (IsParliament(organization)) return organization;
  if (IsDelegation(organization))
    return common::ResourceStore::ParentOf(organization);
  return "";
}

bool Directory::Has(const std::string& name) const {
  return states.count(name) > 0 || parliaments.count(name) > 0 ||
         delegations.count(name) > 0 || persons.count(name) > 0 ||
         bodies.count(name) > 0;
}

const google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>*
Directory::DisplayNameOf(const std::string& name) const {
  if (const auto* r = Find(bodies, name)) return &r->display_name();
  if (const auto* r = Find(parliaments, name)) return &r->display_name();
  if (const auto* r = Find(delegations, name)) return &r->display_name();
  if (const auto* r = Find(persons, name)) return &r->display_name();
  if (const auto* r = Find(states, name)) return &r->display_name();
  return nullptr;
}

const google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>*
Directory::ChamberNameOf(const std::string& organization,
                         const std::string& chamber_id) const {
  if (chamber_id.empty()) return nullptr;
  const v1::Parliament* p = Find(parliaments, ParliamentOf(organization));
  if (p == nullptr) return nullptr;
  for (const v1::Chamber& c : p->chambers())
    if (c.chamber_id() == chamber_id) return &c.display_name();
  return nullptr;
}

template <typename T>
void MembershipResources::ReadLive(common::Resource<T>& resource,
                                   const std::string& where,
                                   common::SqlValues params,
                                   absl::Time deadline, std::vector<T>* out,
                                   common::StatusCallback done) {
  std::string sql =
      absl::StrCat("SELECT data FROM ", resource.store().spec().table,
                   " WHERE delete_time IS NULL");
  if (!where.empty()) absl::StrAppend(&sql, " AND (", where, ")");
  absl::StrAppend(&sql, " ORDER BY name");
  set_.db()->QueryOnceAsync(
      std::move(sql), std::move(params), deadline,
      [out](const common::SqlRow& row) { return AddParsed(row, 0, out); },
      std::move(done));
}

void MembershipResources::ReadParliamentsOfState(
    std::string state, absl::Time deadline, std::vector<v1::Parliament>* out,
    common::StatusCallback done) {
  ReadLive(parliaments_, "state = ?", {std::move(state)}, deadline, out,
           std::move(done));
}

void MembershipResources::ReadDelegationsOfState(
    std::string state, absl::Time deadline, std::vector<v1::Delegation>* out,
    common::StatusCallback done) {
  ReadLive(delegations_, absl::StrCat("parent IN (", kParliamentsOfState, ")"),
           {std::move(state)}, deadline, out, std::move(done));
}

void MembershipResources::ReadRolesOfState(std::string state,
                                           absl::Time deadline,
                                           std::vector<v1::Role>* out,
                                           common::StatusCallback done) {
  const std::string where = absl::StrCat(
      "person IN (SELECT name FROM persons WHERE delete_time IS NULL AND "
      "state = ?) OR organization IN (",
      kParliamentsOfState,
      ") OR organization IN (SELECT name FROM delegations WHERE "
      "delete_time IS NULL AND parent IN (",
      kParliamentsOfState, "))");
  ReadLive(roles_, where, {state, state, state}, deadline, out,
           std::move(done));
}

void MembershipResources::ReadRolesOfPerson(std::string person,
                                            absl::Time deadline,
                                            std::vector<v1::Role>* out,
                                            common::StatusCallback done) {
  ReadLive(roles_, "person = ?", {std::move(person)}, deadline, out,
           std::move(done));
}

void MembershipResources::ReadStates(absl::Time deadline,
                                     std::vector<v1::State>* out,
                                     common::StatusCallback done) {
  ReadLive(states_, "", {}, deadline, out, std::move(done));
}

void MembershipResources::ReadDelegationsWithState(
    absl::Time deadline, std::vector<StateDelegation>* out,
    common::StatusCallback done) {
  set_.db()->QueryOnceAsync(
      "SELECT p.state, d.data FROM delegations d JOIN parliaments p ON "
      "p.name = d.parent WHERE d.delete_time IS NULL AND p.delete_time IS "
      "NULL ORDER BY d.name",
      {}, deadline,
      [out](const common::SqlRow& row) -> absl::Status {
        StateDelegation& d = out->emplace_back();
        d.state = std::string(row.Bytes(0));
        absl::string_view data = row.Bytes(1);
        if (!d.delegation.ParseFromArray(data.data(),
                                         static_cast<int>(data.size())))
          return absl::DataLossError("a stored resource is corrupt");
        return absl::OkStatus();
      },
      std::move(done));
}

void MembershipResources::ReadPartners(absl::Time deadline,
                                       std::vector<v1::Partner>* out,
                                       common::StatusCallback done) {
  ReadLive(partners_, "", {}, deadline, out, std::move(done));
}

void MembershipResources::ResolveNames(const std::set<std::string>& names,
                                       absl::Time deadline, Directory* dir,
                                       common::StatusCallback done) {
  // What each statement read, merged into `dir` once all have ended (the
  // statements end on any thread, in any order).
  struct Reads {
    std::deque<std::vector<v1::State>> states;
    std::deque<std::vector<v1::Parliament>> parliaments;
    std::deque<std::vector<v1::Delegation>> delegations;
    std::deque<std::vector<v1::Person>> persons;
    std::deque<std::vector<v1::Body>> bodies;
  };
  auto reads = std::make_unique<Reads>();
  Reads* rd = reads.get();
  ReadJoin join;
  // Reads `wanted` from `resource` in statements of at most
  // kMaxNamesPerRead names each.
  auto read = [&](auto& resource, const std::vector<std::string>& wanted,
                  auto& outs) {
    for (size_t i = 0; i < wanted.size(); i += kMaxNamesPerRead) {
      const size_t n = std::min<size_t>(kMaxNamesPerRead, wanted.size() - i);
      common::SqlValues params(wanted.begin() + i, wanted.begin() + i + n);
      std::vector<std::string> marks(n, "?");
      ReadLive(resource,
               absl::StrCat("name IN (", absl::StrJoin(marks, ", "), ")"),
               std::move(params), deadline, &outs.emplace_back(), join.Add());
    }
  };
  std::vector<std::string> states, parliaments, delegations, persons, bodies;
  for (const std::string& name : names) {
    if (dir->Has(name)) continue;
    if (ValidName(name, {"states"})) {
      states.push_back(name);
    } else if (IsParliament(name)) {
      parliaments.push_back(name);
    } else if (IsDelegation(name)) {
      delegations.push_back(name);
    } else if (ValidName(name, {"persons"})) {
      persons.push_back(name);
    } else if (ValidName(name, {"bodies"})) {
      bodies.push_back(name);
    }
  }
  read(states_, states, rd->states);
  read(parliaments_, parliaments, rd->parliaments);
  read(delegations_, delegations, rd->delegations);
  read(persons_, persons, rd->persons);
  read(bodies_, bodies, rd->bodies);
  std::move(join).Start([dir, reads = std::move(reads),
                         done = std::move(done)](absl::Status s) mutable {
    if (s.ok()) {
      auto merge = [](auto& outs, auto& into) {
        for (auto& out : outs)
          for (auto& r : out) {
            std::string name = r.name();
            into.emplace(std::move(name), std::move(r));
          }
      };
      merge(reads->states, dir->states);
      merge(reads->parliaments, dir->parliaments);
      merge(reads->delegations, dir->delegations);
      merge(reads->persons, dir->persons);
      merge(reads->bodies, dir->bodies);
    }
    done(std::move(s));
  });
}

}  // namespace cstopa::membership
