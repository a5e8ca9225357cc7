#include "services/monitoring/monitoring_service.h"

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "monitoring/seed/monitoring_seed.pb.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"
#include "services/common/store/read_cache.h"
#include "services/monitoring/embedded_files.h"

namespace cstopa::monitoring {
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

// The violations of a summary's bounds (the filter is checked when compiled).
absl::Status CheckSummaryBounds(const v1::SummarizeMissionsRequest& req) {
  common::Violations v;
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
  common::CheckName(v, "state", req.state(), {"states"}, false);
  return v.ToStatus();
}

// The summary of `groups` (ordered by year, state, region code): each group,
// then the totals per year and per state. A year in `unknown_years` (which
// source gaps cover) has a row even without a group, and its count is
// NOT_KNOWN; the other years' are KNOWN.
void Summarize(const std::vector<MissionGroup>& groups,
               const std::set<int32_t>& unknown_years,
               v1::SummarizeMissionsResponse* resp) {
  std::map<int32_t, int64_t> years;
  std::map<std::pair<std::string, std::string>, int64_t> states;
  int64_t total = 0;
  for (const MissionGroup& g : groups) {
    v1::MissionCount* count = resp->add_counts();
    count->set_year(g.year);
    count->set_state(g.state);
    count->set_region_code(g.region_code);
    count->set_mission_count(static_cast<int32_t>(g.count));
    years[g.year] += g.count;
    states[{g.state, g.region_code}] += g.count;
    total += g.count;
  }
  for (int32_t year : unknown_years) years.try_emplace(year, 0);
  for (const auto& [year, n] : years) {
    v1::YearCount* y = resp->add_years();
    y->set_year(year);
    y->set_mission_count(static_cast<int32_t>(n));
    y->set_count_knowledge(unknown_years.count(year) > 0
                               ? cstopa::type::v1::AS_OF_KNOWLEDGE_NOT_KNOWN
                               : cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN);
  }
  for (const auto& [key, n] : states) {
    v1::StateCount* s = resp->add_states();
    s->set_state(key.first);
    s->set_region_code(key.second);
    s->set_mission_count(static_cast<int32_t>(n));
  }
  resp->set_total_mission_count(static_cast<int32_t>(total));
}

// A number of troops given without a qualifier is exact.
void QualifySizes(v1::Operation* op) {
  for (v1::Contingent& c : *op->mutable_contingents()) {
    if (c.has_size() && c.size_qualifier() == v1::SIZE_QUALIFIER_UNSPECIFIED)
      c.set_size_qualifier(v1::SIZE_QUALIFIER_EXACT);
  }
  if (op->has_total_size() &&
      op->total_size_qualifier() == v1::SIZE_QUALIFIER_UNSPECIFIED)
    op->set_total_size_qualifier(v1::SIZE_QUALIFIER_EXACT);
}

common::WriteHooks<v1::Operation> SizeHooks() {
  common::WriteHooks<v1::Operation> hooks;
  hooks.prepare = [](const v1::Operation*, v1::Operation* op) {
    QualifySizes(op);
  };
  return hooks;
}

}  // namespace

MonitoringHandler::MonitoringHandler(MonitoringResources* resources)
    : r_(resources) {}

// Missions -------------------------------------------------------------------

void MonitoringHandler::GetMission(GetMissionCall call) {
  r_->missions().Get(std::move(call));
}
void MonitoringHandler::ListMissions(ListMissionsCall call) {
  r_->missions().List(std::move(call));
}
void MonitoringHandler::CreateMission(CreateMissionCall call) {
  r_->missions().Create(std::move(call));
}
void MonitoringHandler::UpdateMission(UpdateMissionCall call) {
  r_->missions().Update(std::move(call));
}
void MonitoringHandler::DeleteMission(DeleteMissionCall call) {
  r_->missions().Delete(std::move(call));
}

void MonitoringHandler::UndeleteMission(UndeleteMissionCall call) {
  r_->missions().Undelete(std::move(call));
}

void MonitoringHandler::SummarizeMissions(SummarizeMissionsCall call) {
  const v1::SummarizeMissionsRequest& req = call.request();
  if (auto s = CheckSummaryBounds(req); !s.ok())
    return call.Finish(std::move(s));
  // Kept in the read cache as Gets and Lists are (store/read_cache.h).
  common::ReadCache::Slot slot;
  if (common::FinishFromCache(r_->set().db()->read_cache(),
                              common::RequestKey(req), call, &slot))
    return;
  MissionCountQuery q;
  q.filter = req.filter();
  q.start_year = req.start_year();
  q.end_year = req.end_year();
  q.state = req.state();
  const absl::Time deadline = call.deadline();
  // The years source gaps leave not known (a small table), then the count.
  // The filter is checked when the count compiles it.
  const int32_t start_year = q.start_year, end_year = q.end_year;
  r_->GapYears(
      "missions", start_year, end_year, deadline,
      [this, q = std::move(q), deadline, slot = std::move(slot),
       call = std::move(call)](absl::StatusOr<std::set<int32_t>> gaps) mutable {
        if (!gaps.ok()) return call.Finish(gaps.status());
        r_->CountMissions(
            q, deadline,
            [this, gaps = std::move(*gaps), slot = std::move(slot),
             call = std::move(call)](
                absl::StatusOr<std::vector<MissionGroup>> groups) mutable {
              if (!groups.ok()) return call.Finish(groups.status());
              Summarize(*groups, gaps, call.response());
              common::FinishKept(r_->set().db()->read_cache(), slot, call,
                                 absl::OkStatus());
            });
      });
}

// Operations -----------------------------------------------------------------

void MonitoringHandler::GetOperation(GetOperationCall call) {
  r_->operations().Get(std::move(call));
}
void MonitoringHandler::ListOperations(ListOperationsCall call) {
  r_->operations().List(std::move(call));
}
void MonitoringHandler::CreateOperation(CreateOperationCall call) {
  r_->operations().Create(std::move(call), SizeHooks());
}
void MonitoringHandler::UpdateOperation(UpdateOperationCall call) {
  r_->operations().Update(std::move(call), SizeHooks());
}
void MonitoringHandler::DeleteOperation(DeleteOperationCall call) {
  r_->operations().Delete(std::move(call));
}

void MonitoringHandler::UndeleteOperation(UndeleteOperationCall call) {
  r_->operations().Undelete(std::move(call));
}

// Regional operations --------------------------------------------------------

void MonitoringHandler::GetRegionalOperation(GetRegionalOperationCall call) {
  r_->regional_operations().Get(std::move(call));
}
void MonitoringHandler::ListRegionalOperations(
    ListRegionalOperationsCall call) {
  r_->regional_operations().List(std::move(call));
}
void MonitoringHandler::CreateRegionalOperation(
    CreateRegionalOperationCall call) {
  r_->regional_operations().Create(std::move(call));
}
void MonitoringHandler::UpdateRegionalOperation(
    UpdateRegionalOperationCall call) {
  r_->regional_operations().Update(std::move(call));
}
void MonitoringHandler::DeleteRegionalOperation(
    DeleteRegionalOperationCall call) {
  r_->regional_operations().Delete(std::move(call));
}

void MonitoringHandler::UndeleteRegionalOperation(
    UndeleteRegionalOperationCall call) {
  r_->regional_operations().Undelete(std::move(call));
}

// Compliance records ---------------------------------------------------------

void MonitoringHandler::GetComplianceRecord(GetComplianceRecordCall call) {
  r_->compliance_records().Get(std::move(call));
}
void MonitoringHandler::ListComplianceRecords(ListComplianceRecordsCall call) {
  r_->compliance_records().List(std::move(call));
}
void MonitoringHandler::CreateComplianceRecord(
    CreateComplianceRecordCall call) {
  r_->compliance_records().Create(std::move(call));
}
void MonitoringHandler::UpdateComplianceRecord(
    UpdateComplianceRecordCall call) {
  r_->compliance_records().Update(std::move(call));
}
void MonitoringHandler::DeleteComplianceRecord(
    DeleteComplianceRecordCall call) {
  r_->compliance_records().Delete(std::move(call));
}

void MonitoringHandler::UndeleteComplianceRecord(
    UndeleteComplianceRecordCall call) {
  r_->compliance_records().Undelete(std::move(call));
}

// Field visits ---------------------------------------------------------------

void MonitoringHandler::GetFieldVisit(GetFieldVisitCall call) {
  r_->field_visits().Get(std::move(call));
}
void MonitoringHandler::ListFieldVisits(ListFieldVisitsCall call) {
  r_->field_visits().List(std::move(call));
}
void MonitoringHandler::CreateFieldVisit(CreateFieldVisitCall call) {
  r_->field_visits().Create(std::move(call));
}
void MonitoringHandler::UpdateFieldVisit(UpdateFieldVisitCall call) {
  r_->field_visits().Update(std::move(call));
}
void MonitoringHandler::DeleteFieldVisit(DeleteFieldVisitCall call) {
  r_->field_visits().Delete(std::move(call));
}

void MonitoringHandler::UndeleteFieldVisit(UndeleteFieldVisitCall call) {
  r_->field_visits().Undelete(std::move(call));
}

// Source gaps ----------------------------------------------------------------

void MonitoringHandler::GetSourceGap(GetSourceGapCall call) {
  r_->source_gaps().Get(std::move(call));
}
void MonitoringHandler::ListSourceGaps(ListSourceGapsCall call) {
  r_->source_gaps().List(std::move(call));
}
void MonitoringHandler::CreateSourceGap(CreateSourceGapCall call) {
  r_->source_gaps().Create(std::move(call));
}
void MonitoringHandler::UpdateSourceGap(UpdateSourceGapCall call) {
  r_->source_gaps().Update(std::move(call));
}
void MonitoringHandler::DeleteSourceGap(DeleteSourceGapCall call) {
  r_->source_gaps().Delete(std::move(call));
}
void MonitoringHandler::UndeleteSourceGap(UndeleteSourceGapCall call) {
  r_->source_gaps().Undelete(std::move(call));
}

// Seed -----------------------------------------------------------------------

absl::Status MonitoringHandler::LoadSeed(const std::string& text) {
  seed::MonitoringSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid MonitoringSeed in text format");
  // Output-only fields in the file (times, etags) are not data.
  for (auto& r : *seed.mutable_missions()) common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_operations()) {
    common::ClearOutputOnly(&r);
    QualifySizes(&r);
  }
  for (auto& r : *seed.mutable_regional_operations())
    common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_compliance_records())
    common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_field_visits()) common::ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_source_gaps()) common::ClearOutputOnly(&r);
  absl::Status s = r_->missions().Seed(seed.missions(), "missions");
  if (s.ok()) s = r_->operations().Seed(seed.operations(), "operations");
  if (s.ok())
    s = r_->regional_operations().Seed(seed.regional_operations(),
                                       "regional_operations");
  if (s.ok())
    s = r_->compliance_records().Seed(seed.compliance_records(),
                                      "compliance_records");
  if (s.ok()) s = r_->field_visits().Seed(seed.field_visits(), "field_visits");
  if (s.ok()) s = r_->source_gaps().Seed(seed.source_gaps(), "source_gaps");
  r_->feed().Notify();  // the inserts were logged: watchers see them now
  return s;
}

// Watch ----------------------------------------------------------------------

void MonitoringHandler::WatchMonitoring(WatchMonitoringCall call) {
  const v1::WatchMonitoringRequest& req = call.request();
  auto filter = common::MakeChangeFilter(req.collections(), req.name(),
                                         WatchedCollections());
  common::ServeWatch(&r_->feed(), r_->set().db(), std::move(call),
                     FillWatchMonitoringResponse, std::move(filter));
}

void MonitoringHandler::ExportMonitoring(ExportMonitoringCall call) {
  common::ServeExport(&r_->set(), &r_->feed(), &exports_, std::move(call));
}

void MonitoringHandler::ImportMonitoring(ImportMonitoringCall call) {
  common::ServeImport(&r_->set(), std::move(call));
}

void MonitoringHandler::Search(SearchCall call) {
  r_->set().search_index().Serve(std::move(call));
}

void MonitoringHandler::BeginDrain() {
  common::DrainWatches(&r_->feed());
  exports_.StopAll();
}

void FillWatchMonitoringResponse(const common::Change& change,
                                 const std::string& token,
                                 v1::WatchMonitoringResponse* out) {
  // The record goes in the oneof member of its collection.
  common::FillWatchResponse(change, token, out);
}

common::ServiceDefinition MonitoringService() {
  common::ServiceDefinition def;
  def.name = "monitoring";
  def.grpc_service_name = "cstopa.monitoring.v1.MonitoringService";
  def.default_port = 50054;
  def.default_admin_port = 9054;
  def.schema = MonitoringSchema();
  def.builtin_seed = kMonitoringSeed;
  def.create =
      common::HandlerInstance<MonitoringResources, MonitoringHandler>::Factory(
          &v1::NewMonitoringServiceGrpc);
  return def;
}

}  // namespace cstopa::monitoring
