// The handler of cstopa.monitoring.v1.MonitoringService: one method per RPC
// (the interface is generated from the proto; see tools/protoc-gen-cstopa),
// all but SummarizeMissions a standard method of a declared resource
// (monitoring_resources.h), and WatchMonitoring served from the service's
// change feed (services/common/resources/watch.h). Tests call it through
// its blocking face, without a server:
//
//   MonitoringResources resources(db, &tokens, &keys);
//   MonitoringHandler handler(&resources);
//   v1::MonitoringServiceBlocking monitoring(&handler);
//   absl::Status s = monitoring.GetMission(caller, request, &mission);
#ifndef CSTOPA_SERVICES_MONITORING_MONITORING_SERVICE_H_
#define CSTOPA_SERVICES_MONITORING_MONITORING_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "cstopa/monitoring/v1/monitoring.cstopa.h"
#include "services/common/resources/export.h"
#include "services/common/resources/import.h"
#include "services/common/server/server.h"
#include "services/monitoring/monitoring_resources.h"

namespace cstopa::monitoring {

class MonitoringHandler final : public v1::MonitoringServiceHandler {
 public:
  // `resources` must outlive the handler.
  explicit MonitoringHandler(MonitoringResources* resources);

  void GetMission(GetMissionCall call) override;
  void ListMissions(ListMissionsCall call) override;
  void CreateMission(CreateMissionCall call) override;
  void UpdateMission(UpdateMissionCall call) override;
  void DeleteMission(DeleteMissionCall call) override;
  void UndeleteMission(UndeleteMissionCall call) override;
  void SummarizeMissions(SummarizeMissionsCall call) override;

  void GetOperation(GetOperationCall call) override;
  void ListOperations(ListOperationsCall call) override;
  void CreateOperation(CreateOperationCall call) override;
  void UpdateOperation(UpdateOperationCall call) override;
  void DeleteOperation(DeleteOperationCall call) override;
  void UndeleteOperation(UndeleteOperationCall call) override;

  void GetRegionalOperation(GetRegionalOperationCall call) override;
  void ListRegionalOperations(ListRegionalOperationsCall call) override;
  void CreateRegionalOperation(CreateRegionalOperationCall call) override;
  void UpdateRegionalOperation(UpdateRegionalOperationCall call) override;
  void DeleteRegionalOperation(DeleteRegionalOperationCall call) override;
  void UndeleteRegionalOperation(UndeleteRegionalOperationCall call) override;

  void GetComplianceRecord(GetComplianceRecordCall call) override;
  void ListComplianceRecords(ListComplianceRecordsCall call) override;
  void CreateComplianceRecord(CreateComplianceRecordCall call) override;
  void UpdateComplianceRecord(UpdateComplianceRecordCall call) override;
  void DeleteComplianceRecord(DeleteComplianceRecordCall call) override;
  void UndeleteComplianceRecord(UndeleteComplianceRecordCall call) override;

  void GetFieldVisit(GetFieldVisitCall call) override;
  void ListFieldVisits(ListFieldVisitsCall call) override;
  void CreateFieldVisit(CreateFieldVisitCall call) override;
  void UpdateFieldVisit(UpdateFieldVisitCall call) override;
  void DeleteFieldVisit(DeleteFieldVisitCall call) override;
  void UndeleteFieldVisit(UndeleteFieldVisitCall call) override;

  void GetSourceGap(GetSourceGapCall call) override;
  void ListSourceGaps(ListSourceGapsCall call) override;
  void CreateSourceGap(CreateSourceGapCall call) override;
  void UpdateSourceGap(UpdateSourceGapCall call) override;
  void DeleteSourceGap(DeleteSourceGapCall call) override;
  void UndeleteSourceGap(UndeleteSourceGapCall call) override;

  void WatchMonitoring(WatchMonitoringCall call) override;
  void ExportMonitoring(ExportMonitoringCall call) override;
  void ImportMonitoring(ImportMonitoringCall call) override;

  // Full-text search over every searchable record of the service (the
  // declarations' `search`), served by the resource set's index.
  void Search(SearchCall call) override;

  // Loads the seed file text (MonitoringSeed in text format): validates
  // every record, then inserts those whose names were never used, so it is
  // idempotent and leaves edited or deleted records alone. The records it
  // inserts are logged to the feed like any write.
  absl::Status LoadSeed(const std::string& text);

  // Ends every watch stream and export with UNAVAILABLE (reason
  // SERVER_SHUTTING_DOWN: reconnect with your last token, export again
  // elsewhere) and refuses new ones. The server calls it when draining
  // starts, before it stops taking calls, so that streams end at once
  // instead of at the drain deadline, and no export's read is still
  // running when the server stops.
  void BeginDrain();

 private:
  MonitoringResources* r_;
  // The exports running (common::ServeExport).
  common::Exports exports_;
};

// Fills a WatchMonitoringResponse from a change of the monitoring feed (a
// common::WatchFill): the oneof member by the collection of the change's
// name.
void FillWatchMonitoringResponse(const common::Change& change,
                                 const std::string& token,
                                 v1::WatchMonitoringResponse* out);

// The monitoring service as the runner starts it (server/server.h).
common::ServiceDefinition MonitoringService();

}  // namespace cstopa::monitoring

#endif  // CSTOPA_SERVICES_MONITORING_MONITORING_SERVICE_H_
