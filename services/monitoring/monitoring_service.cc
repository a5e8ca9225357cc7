#include "services/monitoring/monitoring_service.h"

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "monitoring/seed/monitoring_seed.pb.h"
#include "services/common/base/dates.h"
#include "services/common/base/errors.h"
#include "services/common/server/grpc_glue.h"
#include "services/common/query/validation.h"

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
using common::Refs;
using common::Violations;
using cstopa::type::v1::DateRange;
using google::protobuf::RepeatedPtrField;

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

// Whether `d` (possibly partial) certainly lies before the range's start.
bool EndsBeforeStart(const DateRange& range, const google::type::Date& d) {
  return range.has_start_date() &&
         common::LatestDay(d, true) <
             common::EarliestDay(range.start_date(), true);
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
            "is before the mission started (period.start_date)");
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
          "is before the forces arrived (period.start_date)");
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

// Every resource type's validator, for the common templates.
constexpr auto kValidate = [](const auto& resource, const std::string& prefix,
                              Violations& v, Refs& refs) {
  Validate(resource, prefix, v, refs);
};

}  // namespace

// ---------------------------------------------------------------------------
// MonitoringHandler
// ---------------------------------------------------------------------------

MonitoringHandler::MonitoringHandler(MonitoringStore* store,
                                     const common::ApiKeyStore* keys)
    : store_(store), keys_(keys) {}

absl::Status MonitoringHandler::RequireRole(const Caller& caller,
                                            common::Role role) const {
  return common::RequireRole(*keys_, caller, role);
}

// The standard methods of one resource type. `Type` is the message,
// `Plural` the plural in method names, `collection` the name's collection,
// `field` the singular snake_case (request fields `<field>_id`, `<field>`),
// `plural_field` the store accessor and List response field.
#define CSTOPA_MONITORING_STANDARD_METHODS(Type, Plural, collection, field,    \
                                           plural_field)                       \
  void MonitoringHandler::Get##Type##Async(                                    \
      const Caller& c, const v1::Get##Type##Request& req, v1::Type* resp,      \
      common::StatusCallback done) {                                           \
    common::GetResourceAsync(c.deadline, store_->plural_field(), req.name(),   \
                             {collection}, resp, std::move(done));             \
  }                                                                            \
  absl::Status MonitoringHandler::Get##Type(                                   \
      const Caller& c, const v1::Get##Type##Request& req, v1::Type* resp) {    \
    return common::AwaitMethod(this, &MonitoringHandler::Get##Type##Async, c,  \
                               req, resp);                                     \
  }                                                                            \
  absl::Status MonitoringHandler::List##Plural(                                \
      const Caller& c, const v1::List##Plural##Request& req,                   \
      v1::List##Plural##Response* resp) {                                      \
    return common::ListResources(c.deadline, store_->plural_field(), req, "",  \
                                 resp->mutable_##plural_field(),               \
                                 resp->mutable_next_page_token());             \
  }                                                                            \
  absl::Status MonitoringHandler::Create##Type(                                \
      const Caller& c, const v1::Create##Type##Request& req, v1::Type* resp) { \
    if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;     \
    return common::CreateResource(                                             \
        c.deadline, store_->plural_field(),                                    \
        absl::StrCat(collection, "/", req.field##_id()), #field "_id",         \
        req.field##_id(), #field, req.field(), kValidate, common::NoRefCheck,  \
        resp);                                                                 \
  }                                                                            \
  absl::Status MonitoringHandler::Update##Type(                                \
      const Caller& c, const v1::Update##Type##Request& req, v1::Type* resp) { \
    if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;     \
    return common::UpdateResource(                                             \
        c.deadline, store_->plural_field(), req.field(), req.update_mask(),    \
        #field, {collection}, kValidate, common::NoRefCheck, resp);            \
  }                                                                            \
  absl::Status MonitoringHandler::Delete##Type(                                \
      const Caller& c, const v1::Delete##Type##Request& req, v1::Type* resp) { \
    if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;      \
    return common::DeleteResource(c.deadline, store_->plural_field(),          \
                                  req.name(), req.etag(), {collection}, resp); \
  }

CSTOPA_MONITORING_STANDARD_METHODS(Mission, Missions, "missions", mission,
                                   missions)
CSTOPA_MONITORING_STANDARD_METHODS(Operation, Operations, "operations",
                                   operation, operations)
CSTOPA_MONITORING_STANDARD_METHODS(RegionalOperation, RegionalOperations,
                                   "regionalOperations", regional_operation,
                                   regional_operations)
CSTOPA_MONITORING_STANDARD_METHODS(ComplianceRecord, ComplianceRecords,
                                   "complianceRecords", compliance_record,
                                   compliance_records)
CSTOPA_MONITORING_STANDARD_METHODS(FieldVisit, FieldVisits, "fieldVisits",
                                   field_visit, field_visits)
#undef CSTOPA_MONITORING_STANDARD_METHODS

absl::Status MonitoringHandler::SummarizeMissions(
    const Caller& c, const v1::SummarizeMissionsRequest& req,
    v1::SummarizeMissionsResponse* resp) {
  Violations v;
  for (const auto& [field, year] :
       {std::pair<const char*, int32_t>{"start_year", req.start_year()},
        {"end_year", req.end_year()}}) {
    if (year < 0 || year > 9999)
      v.Add(field, absl::StrCat("is ", year,
                                "; must be 1-9999, or 0 for no "
                                "bound"));
  }
  if (v.empty() && req.start_year() != 0 && req.end_year() != 0 &&
      req.end_year() < req.start_year())
    v.Add("end_year", absl::StrCat("is ", req.end_year(),
                                   ", before start_year ", req.start_year()));
  CheckName(v, "state", req.state(), {"states"}, false);
  if (auto s = v.ToStatus(); !s.ok()) return s;

  MissionCountQuery q;
  q.filter = req.filter();
  q.start_year = req.start_year();
  q.end_year = req.end_year();
  q.state = req.state();
  auto groups = store_->CountMissions(q, c.deadline);
  if (!groups.ok()) return groups.status();

  std::map<int32_t, int64_t> years;
  std::map<std::pair<std::string, std::string>, int64_t> states;
  int64_t total = 0;
  for (const MissionGroup& g : *groups) {
    v1::MissionCount* count = resp->add_counts();
    count->set_year(g.year);
    count->set_state(g.state);
    count->set_region_code(g.region_code);
    count->set_mission_count(static_cast<int32_t>(g.count));
    years[g.year] += g.count;
    states[{g.state, g.region_code}] += g.count;
    total += g.count;
  }
  for (const auto& [year, n] : years) {
    v1::YearCount* y = resp->add_years();
    y->set_year(year);
    y->set_mission_count(static_cast<int32_t>(n));
  }
  for (const auto& [key, n] : states) {
    v1::StateCount* s = resp->add_states();
    s->set_state(key.first);
    s->set_region_code(key.second);
    s->set_mission_count(static_cast<int32_t>(n));
  }
  resp->set_total_mission_count(static_cast<int32_t>(total));
  return absl::OkStatus();
}

// Seed -----------------------------------------------------------------------

absl::Status MonitoringHandler::LoadSeed(const std::string& text) {
  seed::MonitoringSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid MonitoringSeed in text format");
  for (auto& r : *seed.mutable_missions()) common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_operations()) common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_regional_operations())
    common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_compliance_records())
    common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_field_visits()) common::ClearOutputOnly(&r);
  if (auto s = common::SeedResources(store_->missions(), seed.missions(),
                                     "missions", {"missions"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->operations(), seed.operations(),
                                     "operations", {"operations"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(
          store_->regional_operations(), seed.regional_operations(),
          "regional_operations", {"regionalOperations"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(
          store_->compliance_records(), seed.compliance_records(),
          "compliance_records", {"complianceRecords"}, kValidate);
      !s.ok())
    return s;
  return common::SeedResources(store_->field_visits(), seed.field_visits(),
                               "field_visits", {"fieldVisits"}, kValidate);
}

// ---------------------------------------------------------------------------
// gRPC wiring
// ---------------------------------------------------------------------------

MonitoringGrpcService::MonitoringGrpcService(MonitoringHandler* handler)
    : handler_(handler) {
#define CSTOPA_MONITORING_SET_ALLOCATOR(Method, Request, Response) \
  SetMessageAllocatorFor_##Method(&Method##_allocator_);
  CSTOPA_MONITORING_METHODS(CSTOPA_MONITORING_SET_ALLOCATOR)
#undef CSTOPA_MONITORING_SET_ALLOCATOR
}

#define CSTOPA_MONITORING_RPC(Method, Request, Response)                   \
  grpc::ServerUnaryReactor* MonitoringGrpcService::Method(                 \
      grpc::CallbackServerContext* ctx, const v1::Request* request,        \
      v1::Response* response) {                                            \
    return common::FinishUnary(                                            \
        ctx, handler_->Method(common::CallerOf(ctx), *request, response)); \
  }
CSTOPA_MONITORING_OTHER_METHODS(CSTOPA_MONITORING_RPC)
#undef CSTOPA_MONITORING_RPC

#define CSTOPA_MONITORING_ASYNC_RPC(Method, Request, Response)                \
  grpc::ServerUnaryReactor* MonitoringGrpcService::Method(                    \
      grpc::CallbackServerContext* ctx, const v1::Request* request,           \
      v1::Response* response) {                                               \
    return common::StartAsync(                                                \
        ctx, handler_, &MonitoringHandler::Method##Async, request, response); \
  }
CSTOPA_MONITORING_ASYNC_GETS(CSTOPA_MONITORING_ASYNC_RPC)
#undef CSTOPA_MONITORING_ASYNC_RPC

}  // namespace cstopa::monitoring
