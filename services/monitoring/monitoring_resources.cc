// The monitoring service's resources, declared (services/common/resources/
// resource.h): for each, its name pattern and table, the columns List
// filters and orders on, and its validation (ranges that end before they
// start, unknown enum values, negative or implausible troop numbers, ...);
// and the mission count behind SummarizeMissions.
#include "services/monitoring/monitoring_resources.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/base/dates.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"
#include "services/common/store/columns.h"
#include "services/common/text/search_text.h"
#include "services/monitoring/embedded_files.h"

namespace cstopa::monitoring {
namespace {

using common::CheckCount;
using common::CheckDate;
using common::CheckEnum;
using common::CheckName;
using common::CheckProvenance;
using common::CheckRange;
using common::CheckRegionCode;
using common::CheckTexts;
using common::ColumnSpec;
using common::EnumColumn;
using common::FilterFieldType;
using common::IntColumn;
using common::JoinTexts;
using common::Refs;
using common::ResourceDecl;
using common::SqlValue;
using common::StringColumn;
using common::Violations;
using cstopa::type::v1::DateRange;
using google::protobuf::Message;
using google::protobuf::RepeatedPtrField;

// ---------------------------------------------------------------------------
// Filter and order_by columns of each resource
// ---------------------------------------------------------------------------

// Values joined as "\nv1\nv2\n" (FilterFieldType::kTextList).
template <typename Range, typename F>
std::string JoinValues(const Range& items, F get) {
  std::string out = "\n";
  for (const auto& item : items) absl::StrAppend(&out, get(item), "\n");
  return out;
}

// A kTextList column; `get(const T&)` returns the joined values.
template <typename T, typename F>
ColumnSpec TextListColumn(const char* name, F get) {
  return {name, FilterFieldType::kTextList, nullptr,
          [get](const Message& m) -> SqlValue {
            return get(static_cast<const T&>(m));
          }};
}

// `start_date` and `end_date`: the earliest and the latest day the
// resource's `period` could have held on (common::EarliestPossibleDay and
// LatestPossibleDay): a partial start reads as its earliest day, a partial
// end as its latest; an unstated start as 0 unless `start_after` bounds it
// (then the day after it), an unstated end as 99991231 unless `ended_by`
// bounds it (then that day). These are the "could it overlap [A, B]"
// columns of the List filters (`start_date <= B AND end_date >= A`), so a
// record is left out only when the sources say it did not hold in [A, B]:
// an operation reported completed by January 2022 (`ended_by` 2022-01) is
// not among those of February 2022. No column answers "known to hold on a
// day" (common::FirstDayHeld / LastDayHeld): the API has no "as of" filter.
template <typename T>
ColumnSpec StartDateColumn() {
  return IntColumn<T>(
      "start_date", FilterFieldType::kDate,
      [](const T& r) { return common::EarliestPossibleDay(r.period()); }, true);
}
template <typename T>
ColumnSpec EndDateColumn() {
  return IntColumn<T>(
      "end_date", FilterFieldType::kDate,
      [](const T& r) { return common::LatestPossibleDay(r.period()); }, true);
}

std::vector<ColumnSpec> MissionColumns() {
  using M = v1::Mission;
  return {StringColumn<M>(
              "state", [](const M& r) { return r.state(); }, true),
          StringColumn<M>(
              "region_code", [](const M& r) { return r.region_code(); }, true),
          EnumColumn<M>("election_kind", v1::ElectionKind_descriptor(),
                        [](const M& r) { return r.election_kind(); }),
          IntColumn<M>("year", FilterFieldType::kInt, MissionYear, true),
          StartDateColumn<M>(), EndDateColumn<M>(),
          // Each observer's person name and display names.
          TextListColumn<M>("observer", [](const M& r) {
            std::string out = "\n";
            for (const v1::Participant& p : r.observers()) {
              if (!p.person().empty()) absl::StrAppend(&out, p.person(), "\n");
              for (const auto& t : p.display_name())
                absl::StrAppend(&out, t.text(), "\n");
            }
            return out;
          })};
}

std::vector<ColumnSpec> OperationColumns() {
  using O = v1::Operation;
  return {StringColumn<O>(
              "state", [](const O& r) { return r.state(); }, true),
          EnumColumn<O>("status", v1::OperationStatus_descriptor(),
                        [](const O& r) { return r.status(); }),
          TextListColumn<O>("contingent_state",
                            [](const O& r) {
                              return JoinValues(r.contingents(),
                                                [](const v1::Contingent& c) {
                                                  return c.state();
                                                });
                            }),
          TextListColumn<O>("title",
                            [](const O& r) { return JoinTexts(r.title()); }),
          StartDateColumn<O>(),
          EndDateColumn<O>()};
}

std::vector<ColumnSpec> RegionalOperationColumns() {
  using R = v1::RegionalOperation;
  return {TextListColumn<R>("title",
                            [](const R& r) { return JoinTexts(r.title()); }),
          StringColumn<R>(
              "coordinating_body",
              [](const R& r) { return r.coordinating_body(); }, true),
          TextListColumn<R>("participating_state", [](const R& r) {
            return JoinValues(r.participating_states(),
                              [](const std::string& s) { return s; });
          })};
}

std::vector<ColumnSpec> ComplianceRecordColumns() {
  using C = v1::ComplianceRecord;
  return {
      StringColumn<C>(
          "state", [](const C& r) { return r.state(); }, true),
      TextListColumn<C>("obligation",
                        [](const C& r) { return JoinTexts(r.obligation()); }),
      EnumColumn<C>("timeliness", v1::ComplianceLevel_descriptor(),
                    [](const C& r) { return r.timeliness(); }),
      EnumColumn<C>("completeness", v1::ComplianceLevel_descriptor(),
                    [](const C& r) { return r.completeness(); }),
      StringColumn<C>(
          "assessed_by", [](const C& r) { return r.assessed_by(); }, true),
      StartDateColumn<C>(),
      EndDateColumn<C>()};
}

std::vector<ColumnSpec> FieldVisitColumns() {
  using F = v1::FieldVisit;
  return {EnumColumn<F>("kind", v1::FieldVisitKind_descriptor(),
                        [](const F& r) { return r.kind(); }),
          StringColumn<F>(
              "state", [](const F& r) { return r.state(); }, true),
          TextListColumn<F>("title",
                            [](const F& r) { return JoinTexts(r.title()); }),
          StartDateColumn<F>(), EndDateColumn<F>()};
}

// A source gap's period is stated at both ends (no start_after/ended_by), so
// its columns are the days of its start and end.
std::vector<ColumnSpec> SourceGapColumns() {
  using G = v1::SourceGap;
  return {StringColumn<G>(
              "collection", [](const G& r) { return r.collection(); }, true),
          TextListColumn<G>("subject",
                            [](const G& r) { return JoinTexts(r.subject()); }),
          StartDateColumn<G>(), EndDateColumn<G>(),
          TextListColumn<G>("source", [](const G& r) {
            return JoinValues(r.provenance(),
                              [](const cstopa::type::v1::Provenance& p) {
                                return p.source();
                              });
          })};
}

// Troop numbers above this are typing errors, not deployments.
constexpr int32_t kMaxTroops = 10'000'000;
// A withdrawal longer than this many days is a typing error.
constexpr int32_t kMaxWithdrawalDays = 36'500;

// ---------------------------------------------------------------------------
// Validation of the writable content. `p` prefixes field paths (e.g.
// "mission."). Cross-service references are checked for shape only.
// ---------------------------------------------------------------------------

void CheckParticipants(Violations& v, const std::string& field,
                       const RepeatedPtrField<v1::Participant>& ps) {
  CheckCount(v, field, ps.size());
  for (int i = 0; i < ps.size(); ++i) {
    const std::string f = absl::StrCat(field, "[", i, "]");
    const v1::Participant& p = ps[i];
    CheckName(v, f + ".person", p.person(), {"persons"}, false);
    if (p.person().empty() && p.display_name().empty()) {
      v.Add(f + ".display_name",
            "is required when `person` is empty (a participant who is not a "
            "person of the membership service is given by name)");
    }
    CheckTexts(v, f + ".display_name", p.display_name(), false);
    CheckName(v, f + ".state", p.state(), {"states"}, false);
    CheckTexts(v, f + ".role", p.role(), false);
  }
}

void CheckPlaces(Violations& v, const std::string& field,
                 const RepeatedPtrField<cstopa::type::v1::Place>& places) {
  CheckCount(v, field, places.size());
  for (int i = 0; i < places.size(); ++i) {
    const std::string f = absl::StrCat(field, "[", i, "]");
    CheckTexts(v, f + ".locality", places[i].locality(), false);
    CheckName(v, f + ".state", places[i].state(), {"states"}, false);
    CheckRegionCode(v, f + ".region_code", places[i].region_code());
  }
}

// A troop number and its qualifier.
void CheckSize(Violations& v, const std::string& size_field,
               const std::string& qualifier_field, bool has_size, int32_t size,
               int qualifier) {
  if (has_size && size < 0) {
    v.Add(size_field, absl::StrCat("is ", size,
                                   "; a number of troops must not be "
                                   "negative (leave it unset when unknown)"));
  }
  if (has_size && size > kMaxTroops)
    v.Add(size_field,
          absl::StrCat("is implausibly large (at most ", kMaxTroops, ")"));
  CheckEnum(v, qualifier_field, v1::SizeQualifier_descriptor(), qualifier,
            false);
  if (!has_size && qualifier != v1::SIZE_QUALIFIER_UNSPECIFIED)
    v.Add(qualifier_field,
          "qualifies a number: set the size too, or leave "
          "the qualifier unspecified");
}

// Whether `d` (possibly partial) certainly lies before the range's start:
// before its start_date, or on or before its start_after.
bool EndsBeforeStart(const DateRange& range, const google::type::Date& d) {
  const int64_t first = common::EarliestPossibleDay(range);
  return first > 0 && common::LatestDay(d, true) < first;
}

void Validate(const v1::Mission& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "election", r.election(), false);
  CheckEnum(v, p + "election_kind", v1::ElectionKind_descriptor(),
            r.election_kind(), false);
  CheckCount(v, p + "election_dates", r.election_dates_size());
  for (int i = 0; i < r.election_dates_size(); ++i)
    CheckDate(v, absl::StrCat(p, "election_dates[", i, "]"),
              r.election_dates(i));
  CheckName(v, p + "state", r.state(), {"states"}, false);
  refs.push_back({p + "state", r.state()});
  CheckRegionCode(v, p + "region_code", r.region_code());
  if (r.state().empty() && r.region_code().empty())
    v.Add(p + "state",
          "is required (states/{state}), unless `region_code` names a state "
          "the suite does not know");
  const size_t before = v.size();
  CheckRange(v, p + "period", r.period());
  CheckParticipants(v, p + "observers", r.observers());
  CheckTexts(v, p + "conclusion", r.conclusion(), false);
  if (r.has_conclusion_submitted_date()) {
    CheckDate(v, p + "conclusion_submitted_date",
              r.conclusion_submitted_date());
    if (v.size() == before &&
        EndsBeforeStart(r.period(), r.conclusion_submitted_date()))
      v.Add(p + "conclusion_submitted_date",
            "is before the mission started (period.start_date, or on or "
            "before period.start_after)");
  }
  CheckName(v, p + "conclusion_recipient", r.conclusion_recipient(), {"bodies"},
            false);
  refs.push_back({p + "conclusion_recipient", r.conclusion_recipient()});
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Operation& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "title", r.title(), true);
  CheckName(v, p + "state", r.state(), {"states"}, true);
  refs.push_back({p + "state", r.state()});
  CheckPlaces(v, p + "places", r.places());
  CheckTexts(v, p + "requested_by", r.requested_by(), false);
  CheckTexts(v, p + "purpose", r.purpose(), false);
  const size_t before = v.size();
  CheckRange(v, p + "period", r.period());
  CheckRange(v, p + "withdrawal_period", r.withdrawal_period());
  if (v.size() == before && r.withdrawal_period().has_start_date() &&
      EndsBeforeStart(r.period(), r.withdrawal_period().start_date()))
    v.Add(p + "withdrawal_period.start_date",
          "is before the forces arrived (period.start_date, or on or "
          "before period.start_after)");
  if (r.withdrawal_days() < 0)
    v.Add(p + "withdrawal_days", "must not be negative (0 when not given)");
  if (r.withdrawal_days() > kMaxWithdrawalDays)
    v.Add(p + "withdrawal_days", "is implausibly large");
  CheckName(v, p + "commanding_state", r.commanding_state(), {"states"}, false);
  refs.push_back({p + "commanding_state", r.commanding_state()});
  CheckSize(v, p + "total_size", p + "total_size_qualifier", r.has_total_size(),
            r.total_size(), r.total_size_qualifier());
  CheckCount(v, p + "contingents", r.contingents_size());
  std::set<std::string> states;
  for (int i = 0; i < r.contingents_size(); ++i) {
    const std::string f = absl::StrCat(p, "contingents[", i, "]");
    const v1::Contingent& c = r.contingents(i);
    CheckName(v, f + ".state", c.state(), {"states"}, true);
    refs.push_back({f + ".state", c.state()});
    if (!c.state().empty() && !states.insert(c.state()).second)
      v.Add(f + ".state", absl::StrCat(c.state(),
                                       " has two contingents; give one per "
                                       "state"));
    CheckSize(v, f + ".size", f + ".size_qualifier", c.has_size(), c.size(),
              c.size_qualifier());
    CheckTexts(v, f + ".unit", c.unit(), false);
    CheckProvenance(v, f + ".provenance", c.provenance());
  }
  CheckEnum(v, p + "status", v1::OperationStatus_descriptor(), r.status(),
            false);
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::RegionalOperation& r, const std::string& p,
              Violations& v, Refs& refs) {
  CheckTexts(v, p + "title", r.title(), true);
  CheckTexts(v, p + "subject", r.subject(), false);
  CheckName(v, p + "coordinating_body", r.coordinating_body(), {"bodies"},
            false);
  refs.push_back({p + "coordinating_body", r.coordinating_body()});
  CheckCount(v, p + "participating_states", r.participating_states_size());
  for (int i = 0; i < r.participating_states_size(); ++i) {
    const std::string f = absl::StrCat(p, "participating_states[", i, "]");
    CheckName(v, f, r.participating_states(i), {"states"}, true);
    refs.push_back({f, r.participating_states(i)});
  }
  CheckCount(v, p + "stages", r.stages_size());
  std::set<int32_t> numbers;
  for (int i = 0; i < r.stages_size(); ++i) {
    const std::string f = absl::StrCat(p, "stages[", i, "]");
    const v1::OperationStage& s = r.stages(i);
    if (s.stage_number() < 1) {
      v.Add(f + ".stage_number", "is required: 1 for the first stage");
    } else if (!numbers.insert(s.stage_number()).second) {
      v.Add(f + ".stage_number",
            absl::StrCat("stage ", s.stage_number(), " is given twice"));
    }
    CheckRange(v, f + ".period", s.period());
    CheckTexts(v, f + ".results", s.results(), false);
    CheckName(v, f + ".reviewed_by", s.reviewed_by(), {"bodies"}, false);
    refs.push_back({f + ".reviewed_by", s.reviewed_by()});
    CheckProvenance(v, f + ".provenance", s.provenance());
  }
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::ComplianceRecord& r, const std::string& p,
              Violations& v, Refs& refs) {
  CheckTexts(v, p + "obligation", r.obligation(), true);
  CheckTexts(v, p + "legal_basis", r.legal_basis(), false);
  CheckName(v, p + "state", r.state(), {"states"}, false);
  refs.push_back({p + "state", r.state()});
  CheckRange(v, p + "period", r.period());
  CheckEnum(v, p + "timeliness", v1::ComplianceLevel_descriptor(),
            r.timeliness(), false);
  CheckEnum(v, p + "completeness", v1::ComplianceLevel_descriptor(),
            r.completeness(), false);
  CheckTexts(v, p + "assessment", r.assessment(), false);
  CheckName(v, p + "assessed_by", r.assessed_by(), {"bodies"}, false);
  refs.push_back({p + "assessed_by", r.assessed_by()});
  if (r.has_assessment_date())
    CheckDate(v, p + "assessment_date", r.assessment_date());
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::FieldVisit& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckEnum(v, p + "kind", v1::FieldVisitKind_descriptor(), r.kind(), true);
  CheckTexts(v, p + "title", r.title(), true);
  CheckName(v, p + "state", r.state(), {"states"}, false);
  refs.push_back({p + "state", r.state()});
  CheckPlaces(v, p + "places", r.places());
  CheckTexts(v, p + "exercise", r.exercise(), false);
  CheckRange(v, p + "period", r.period());
  CheckParticipants(v, p + "participants", r.participants());
  CheckTexts(v, p + "findings", r.findings(), false);
  CheckProvenance(v, p + "provenance", r.provenance());
}

// A gap is what a source leaves unknown: it needs the collection it
// concerns, a period stated at both ends, why, and the source.
void Validate(const v1::SourceGap& r, const std::string& p, Violations& v,
              Refs&) {
  CheckTexts(v, p + "subject", r.subject(), true);
  if (r.collection().empty()) {
    v.Add(p + "collection",
          "is required: the collection ID the gap concerns, e.g. "
          "\"missions\"");
  } else if (const auto& known = GapCollections();
             std::find(known.begin(), known.end(), r.collection()) ==
             known.end()) {
    v.Add(p + "collection", absl::StrCat("\"", r.collection(),
                                         "\" is no collection of this "
                                         "service; one of \"",
                                         absl::StrJoin(known, "\", \""), "\""));
  }
  const DateRange& period = r.period();
  if (!period.has_start_date())
    v.Add(p + "period.start_date",
          "is required: the first day, month or year not known");
  if (!period.has_end_date())
    v.Add(p + "period.end_date",
          "is required: the last day, month or year not known (the same as "
          "start_date for one year)");
  for (const auto& [field, set] :
       {std::pair<const char*, bool>{"known_from", period.has_known_from()},
        {"start_after", period.has_start_after()},
        {"known_until", period.has_known_until()},
        {"ended_by", period.has_ended_by()}}) {
    if (set)
      v.Add(absl::StrCat(p, "period.", field),
            "is not used by a source gap: state the period's start_date and "
            "end_date");
  }
  CheckRange(v, p + "period", period);
  CheckTexts(v, p + "reason", r.reason(), true);
  common::CheckSourcedProvenance(v, p + "provenance", r.provenance(),
                                 "the source that leaves it unknown");
}

// A declaration with its validator; `table` is the migrations' table (the
// collection IDs are camelCase, the tables snake_case).
template <typename T>
ResourceDecl<T> Declare(const char* pattern, const char* table,
                        std::vector<ColumnSpec> columns) {
  ResourceDecl<T> d;
  d.pattern = pattern;
  d.table = table;
  d.columns = std::move(columns);
  d.validate = [](const T& r, const std::string& prefix, Violations& v,
                  Refs& refs) { Validate(r, prefix, v, refs); };
  return d;
}

}  // namespace

const common::SchemaSpec& MonitoringSchema() {
  static const common::SchemaSpec* schema =
      new common::SchemaSpec{"monitoring", EmbeddedMigrations()};
  return *schema;
}

int32_t MissionYear(const v1::Mission& m) {
  if (m.period().has_start_date() && m.period().start_date().year() > 0)
    return m.period().start_date().year();
  int32_t year = 0;
  for (const auto& d : m.election_dates()) {
    if (d.year() > 0 && (year == 0 || d.year() < year)) year = d.year();
  }
  return year;
}

const std::vector<std::string>& WatchedCollections() {
  static const std::vector<std::string>* const collections =
      new std::vector<std::string>{"missions",           "operations",
                                   "regionalOperations", "complianceRecords",
                                   "fieldVisits",        "sourceGaps"};
  return *collections;
}

const std::vector<std::string>& GapCollections() {
  // Every watched collection but the gaps' own.
  static const std::vector<std::string>* const collections = [] {
    auto* out = new std::vector<std::string>(WatchedCollections());
    out->erase(std::remove(out->begin(), out->end(), "sourceGaps"), out->end());
    return out;
  }();
  return *collections;
}

common::ChangeFeedOptions MonitoringFeedOptions() {
  common::ChangeFeedOptions o;
  o.table = "monitoring_changes";
  o.lock_key = 0x63737470'6d6e7472LL;  // "cstpmntr"
  o.token_scope = "cstopa.monitoring.v1.MonitoringService/WatchMonitoring";
  return o;
}

namespace {

// The earlier of two SearchEntry dates, 0 meaning unknown.
int64_t EarlierDate(int64_t a, int64_t b) {
  if (a == 0) return b;
  return b == 0 ? a : std::min(a, b);
}

// Appends the English and Russian names (common::CountryNames) of each of
// `states` (`states/{state}` names or region codes), a state named twice
// once, each name on a line of its own: "Kazakhstan" and "Казахстан" find a
// record that names the state only by `states/kz` or KZ.
void AppendCountryNames(const std::vector<std::string>& states,
                        std::string* out) {
  std::set<std::string> seen;
  for (const std::string& state : states) {
    std::string names = common::CountryNames(state);
    if (names.empty() || !seen.insert(names).second) continue;
    if (!out->empty()) out->push_back('\n');
    out->append(names);
  }
}

// What Search finds of a mission: the election as the source names it, its
// conclusion and observers, and the state's names in English and Russian. A
// mission whose election is not named (as the seed's) is titled by its state
// and year, e.g. "Election observation mission, Kazakhstan, 2021" (by the
// code, "Election observation mission (KZ, 2021)", for a code ICU does not
// name); the code is then in its text, so that a search for it still finds
// the mission. Dated by its start, else its first voting day.
common::SearchEntry MissionEntry(const v1::Mission& m) {
  common::SearchEntry e;
  e.title = common::PreferredText(m.election());
  const int32_t year = MissionYear(m);
  std::string code = m.region_code();
  if (code.empty()) code = m.state().substr(m.state().rfind('/') + 1);
  if (e.title.empty()) {
    const std::string names = common::CountryNames(
        m.region_code().empty() ? m.state() : m.region_code());
    const std::string english = names.substr(0, names.find('\n'));
    if (!english.empty()) {
      e.title = absl::StrCat("Election observation mission, ", english,
                             year > 0 ? absl::StrCat(", ", year) : "");
      e.text = absl::AsciiStrToUpper(code);
    } else {
      e.title = absl::StrCat("Election observation mission (", code,
                             year > 0 ? absl::StrCat(", ", year) : "", ")");
    }
  }
  common::AppendTexts(m.election(), &e.text);
  common::AppendTexts(m.conclusion(), &e.text);
  for (const v1::Participant& p : m.observers()) {
    common::AppendTexts(p.display_name(), &e.text);
    common::AppendTexts(p.role(), &e.text);
  }
  AppendCountryNames({m.state(), m.region_code()}, &e.text);
  e.date =
      common::SearchDate(m.period().start_date(), m.period().has_start_date());
  if (e.date == 0) {
    for (const google::type::Date& d : m.election_dates())
      e.date = EarlierDate(e.date, common::SearchDate(d));
  }
  return e;
}

// What Search finds of an operation: its titles, purpose, who requested it,
// its places and the units sent, and the names in English and Russian of the
// states it names (host, places, command, contingents); dated by its start.
common::SearchEntry OperationEntry(const v1::Operation& o) {
  common::SearchEntry e;
  e.title = common::PreferredText(o.title());
  common::AppendTexts(o.title(), &e.text);
  common::AppendTexts(o.purpose(), &e.text);
  common::AppendTexts(o.requested_by(), &e.text);
  std::vector<std::string> states = {o.state()};
  for (const auto& place : o.places()) {
    common::AppendTexts(place.locality(), &e.text);
    states.push_back(place.state());
    states.push_back(place.region_code());
  }
  for (const v1::Contingent& c : o.contingents()) {
    common::AppendTexts(c.unit(), &e.text);
    states.push_back(c.state());
  }
  states.push_back(o.commanding_state());
  AppendCountryNames(states, &e.text);
  e.date =
      common::SearchDate(o.period().start_date(), o.period().has_start_date());
  return e;
}

// What Search finds of a regional operation: its titles, subject, the
// results of its stages and the names of the states taking part; dated by
// the earliest start of a stage.
common::SearchEntry RegionalOperationEntry(const v1::RegionalOperation& o) {
  common::SearchEntry e;
  e.title = common::PreferredText(o.title());
  common::AppendTexts(o.title(), &e.text);
  common::AppendTexts(o.subject(), &e.text);
  for (const v1::OperationStage& stage : o.stages()) {
    common::AppendTexts(stage.results(), &e.text);
    e.date = EarlierDate(e.date,
                         common::SearchDate(stage.period().start_date(),
                                            stage.period().has_start_date()));
  }
  AppendCountryNames(
      {o.participating_states().begin(), o.participating_states().end()},
      &e.text);
  return e;
}

}  // namespace

ResourceDecl<v1::Mission> MissionDecl() {
  auto d =
      Declare<v1::Mission>("missions/{mission}", "missions", MissionColumns());
  d.search = [](const v1::Mission& m) -> std::optional<common::SearchEntry> {
    return MissionEntry(m);
  };
  return d;
}

ResourceDecl<v1::Operation> OperationDecl() {
  auto d = Declare<v1::Operation>("operations/{operation}", "operations",
                                  OperationColumns());
  d.search = [](const v1::Operation& o) -> std::optional<common::SearchEntry> {
    return OperationEntry(o);
  };
  return d;
}

ResourceDecl<v1::RegionalOperation> RegionalOperationDecl() {
  auto d = Declare<v1::RegionalOperation>(
      "regionalOperations/{regional_operation}", "regional_operations",
      RegionalOperationColumns());
  d.search =
      [](const v1::RegionalOperation& o) -> std::optional<common::SearchEntry> {
    return RegionalOperationEntry(o);
  };
  return d;
}

ResourceDecl<v1::ComplianceRecord> ComplianceRecordDecl() {
  return Declare<v1::ComplianceRecord>("complianceRecords/{compliance_record}",
                                       "compliance_records",
                                       ComplianceRecordColumns());
}

ResourceDecl<v1::FieldVisit> FieldVisitDecl() {
  return Declare<v1::FieldVisit>("fieldVisits/{field_visit}", "field_visits",
                                 FieldVisitColumns());
}

ResourceDecl<v1::SourceGap> SourceGapDecl() {
  return Declare<v1::SourceGap>("sourceGaps/{source_gap}", "source_gaps",
                                SourceGapColumns());
}

MonitoringResources::MonitoringResources(common::Database* db,
                                         const common::PageTokenCodec* tokens,
                                         const common::ApiKeyStore* keys,
                                         common::ChangeFeedOptions feed)
    : set_(db, tokens, keys),
      feed_(db, tokens, std::move(feed)),
      missions_(&set_, MissionDecl()),
      operations_(&set_, OperationDecl()),
      regional_operations_(&set_, RegionalOperationDecl()),
      compliance_records_(&set_, ComplianceRecordDecl()),
      field_visits_(&set_, FieldVisitDecl()),
      source_gaps_(&set_, SourceGapDecl()) {
  // Each write logs its change in its own transaction, then wakes the feed.
  set_.set_write_hook(common::FeedWriteHook(&feed_));
  set_.set_after_commit([this] { feed_.Notify(); });
}

void MonitoringResources::CountMissions(const MissionCountQuery& query,
                                        absl::Time deadline,
                                        MissionCountCallback done) {
  // The same fields ListMissions filters on.
  auto cond =
      common::CompileFilter(query.filter, missions_.store().filter_fields());
  if (!cond.ok()) return done(cond.status());
  std::vector<std::string> where = {"delete_time IS NULL"};
  common::SqlValues params;
  if (!cond->sql.empty()) {
    where.push_back(cond->sql);
    for (auto& p : cond->params) params.push_back(std::move(p));
  }
  if (query.start_year != 0) {
    where.push_back("year >= ?");
    params.push_back(int64_t{query.start_year});
  }
  if (query.end_year != 0) {
    where.push_back("year <= ?");
    params.push_back(int64_t{query.end_year});
  }
  if (!query.state.empty()) {
    where.push_back("state = ?");
    params.push_back(query.state);
  }
  // Grouped by the plain columns, so that the index missions_summary
  // delivers the rows in group order (no sort); groups of one state that
  // differ only in region code are merged below.
  std::string sql = absl::StrCat(
      "SELECT year, state, region_code, COUNT(*) FROM missions WHERE ",
      absl::StrJoin(where, " AND "),
      " GROUP BY year, state, region_code ORDER BY year, state, region_code");
  auto groups = std::make_unique<std::vector<MissionGroup>>();
  std::vector<MissionGroup>* out = groups.get();
  set_.db()->QueryOnceAsync(
      std::move(sql), std::move(params), deadline,
      [out](const common::SqlRow& row) -> absl::Status {
        MissionGroup g;
        g.year = static_cast<int32_t>(row.Int(0));
        g.state = std::string(row.Bytes(1));
        g.region_code = std::string(row.Bytes(2));
        g.count = row.Int(3);
        // Missions with a state count under it, whatever region code each
        // gives (the group keeps a non-empty one); those without, under
        // their region code.
        if (!out->empty() && !g.state.empty() && out->back().year == g.year &&
            out->back().state == g.state) {
          out->back().count += g.count;
          if (out->back().region_code.empty())
            out->back().region_code = std::move(g.region_code);
        } else {
          out->push_back(std::move(g));
        }
        return absl::OkStatus();
      },
      [groups = std::move(groups),
       done = std::move(done)](absl::Status s) mutable {
        if (!s.ok()) return done(std::move(s));
        done(std::move(*groups));
      });
}

void MonitoringResources::GapYears(const std::string& collection,
                                   int32_t start_year, int32_t end_year,
                                   absl::Time deadline, GapYearsCallback done) {
  // start_date and end_date are YYYYMMDD of the period's first and last day.
  std::string sql =
      "SELECT start_date, end_date FROM source_gaps WHERE delete_time IS NULL "
      "AND collection = ?";
  common::SqlValues params = {collection};
  if (start_year != 0) {
    sql += " AND end_date >= ?";
    params.push_back(int64_t{start_year} * 10000);
  }
  if (end_year != 0) {
    sql += " AND start_date <= ?";
    params.push_back(int64_t{end_year} * 10000 + 1231);
  }
  auto years = std::make_unique<std::set<int32_t>>();
  std::set<int32_t>* out = years.get();
  set_.db()->QueryOnceAsync(
      std::move(sql), std::move(params), deadline,
      [out, start_year, end_year](const common::SqlRow& row) -> absl::Status {
        int32_t first = static_cast<int32_t>(row.Int(0) / 10000);
        int32_t last = static_cast<int32_t>(row.Int(1) / 10000);
        first = std::max({first, start_year, int32_t{1}});
        last = std::min(last, int32_t{9999});
        if (end_year != 0) last = std::min(last, end_year);
        for (int32_t y = first; y <= last; ++y) out->insert(y);
        return absl::OkStatus();
      },
      [years = std::move(years),
       done = std::move(done)](absl::Status s) mutable {
        if (!s.ok()) return done(std::move(s));
        done(std::move(*years));
      });
}

}  // namespace cstopa::monitoring
