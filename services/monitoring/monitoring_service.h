// Handlers of cstopa.monitoring.v1.MonitoringService, and their gRPC wiring.
//
// MonitoringHandler holds the logic: validation, authorization, the
// standard-method semantics (services/common/resources/standard_methods.h) and the
// mission summary. It takes plain constructor arguments and returns
// absl::Status, so tests call it without a server. MonitoringGrpcService
// adapts it to the gRPC callback API.
//
// References to other services (`states/...`, `persons/...`, `bodies/...`)
// are checked for shape only: each service owns its data, and the gateway
// resolves names.
//
//   MonitoringStore store(db, &tokens);
//   MonitoringHandler handler(&store, &api_keys);
//   v1::Mission mission;
//   absl::Status s = handler.GetMission({}, request, &mission);
#ifndef CSTOPA_SERVICES_MONITORING_MONITORING_SERVICE_H_
#define CSTOPA_SERVICES_MONITORING_MONITORING_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "cstopa/monitoring/v1/monitoring.grpc.pb.h"
#include "services/common/base/arena_allocator.h"
#include "services/common/api/auth.h"
#include "services/common/resources/standard_methods.h"
#include "services/monitoring/monitoring_store.h"

namespace cstopa::monitoring {

using common::Caller;

// The RPCs that read one resource: (method, request, response). Their gRPC
// face runs the ...Async form, which frees the gRPC thread while the store
// answers.
#define CSTOPA_MONITORING_ASYNC_GETS(X)                                   \
  X(GetMission, GetMissionRequest, Mission)                               \
  X(GetOperation, GetOperationRequest, Operation)                         \
  X(GetRegionalOperation, GetRegionalOperationRequest, RegionalOperation) \
  X(GetComplianceRecord, GetComplianceRecordRequest, ComplianceRecord)    \
  X(GetFieldVisit, GetFieldVisitRequest, FieldVisit)
// Every RPC.
#define CSTOPA_MONITORING_METHODS(X) \
  CSTOPA_MONITORING_ASYNC_GETS(X) CSTOPA_MONITORING_OTHER_METHODS(X)
// The other RPCs.
#define CSTOPA_MONITORING_OTHER_METHODS(X)                                   \
  X(ListMissions, ListMissionsRequest, ListMissionsResponse)                 \
  X(CreateMission, CreateMissionRequest, Mission)                            \
  X(UpdateMission, UpdateMissionRequest, Mission)                            \
  X(DeleteMission, DeleteMissionRequest, Mission)                            \
  X(SummarizeMissions, SummarizeMissionsRequest, SummarizeMissionsResponse)  \
  X(ListOperations, ListOperationsRequest, ListOperationsResponse)           \
  X(CreateOperation, CreateOperationRequest, Operation)                      \
  X(UpdateOperation, UpdateOperationRequest, Operation)                      \
  X(DeleteOperation, DeleteOperationRequest, Operation)                      \
  X(ListRegionalOperations, ListRegionalOperationsRequest,                   \
    ListRegionalOperationsResponse)                                          \
  X(CreateRegionalOperation, CreateRegionalOperationRequest,                 \
    RegionalOperation)                                                       \
  X(UpdateRegionalOperation, UpdateRegionalOperationRequest,                 \
    RegionalOperation)                                                       \
  X(DeleteRegionalOperation, DeleteRegionalOperationRequest,                 \
    RegionalOperation)                                                       \
  X(ListComplianceRecords, ListComplianceRecordsRequest,                     \
    ListComplianceRecordsResponse)                                           \
  X(CreateComplianceRecord, CreateComplianceRecordRequest, ComplianceRecord) \
  X(UpdateComplianceRecord, UpdateComplianceRecordRequest, ComplianceRecord) \
  X(DeleteComplianceRecord, DeleteComplianceRecordRequest, ComplianceRecord) \
  X(ListFieldVisits, ListFieldVisitsRequest, ListFieldVisitsResponse)        \
  X(CreateFieldVisit, CreateFieldVisitRequest, FieldVisit)                   \
  X(UpdateFieldVisit, UpdateFieldVisitRequest, FieldVisit)                   \
  X(DeleteFieldVisit, DeleteFieldVisitRequest, FieldVisit)

class MonitoringHandler {
 public:
  // `store` and `keys` must outlive the handler.
  MonitoringHandler(MonitoringStore* store, const common::ApiKeyStore* keys);

#define CSTOPA_MONITORING_METHOD(Method, Request, Response)             \
  absl::Status Method(const Caller& caller, const v1::Request& request, \
                      v1::Response* response);
  CSTOPA_MONITORING_METHODS(CSTOPA_MONITORING_METHOD)
#undef CSTOPA_MONITORING_METHOD

  // `done` runs once `response` is filled or with the error, perhaps on the
  // store's I/O thread; `request` and `response` must live until then.
#define CSTOPA_MONITORING_ASYNC(Method, Request, Response)             \
  void Method##Async(const Caller& caller, const v1::Request& request, \
                     v1::Response* response, common::StatusCallback done);
  CSTOPA_MONITORING_ASYNC_GETS(CSTOPA_MONITORING_ASYNC)
#undef CSTOPA_MONITORING_ASYNC

  // Loads the seed file text (MonitoringSeed in text format): validates
  // every record, then inserts those whose names were never used, so it is
  // idempotent and leaves edited or deleted records alone.
  absl::Status LoadSeed(const std::string& text);

 private:
  absl::Status RequireRole(const Caller& caller, common::Role role) const;

  MonitoringStore* store_;
  const common::ApiKeyStore* keys_;
};

// The gRPC face of MonitoringHandler (callback API).
class MonitoringGrpcService final
    : public v1::MonitoringService::CallbackService {
 public:
  explicit MonitoringGrpcService(MonitoringHandler* handler);

#define CSTOPA_MONITORING_RPC(Method, Request, Response)             \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx, \
                                   const v1::Request* request,       \
                                   v1::Response* response) override;
  CSTOPA_MONITORING_METHODS(CSTOPA_MONITORING_RPC)
#undef CSTOPA_MONITORING_RPC

 private:
  MonitoringHandler* handler_;
  // Every call's messages live on a per-call arena.
#define CSTOPA_MONITORING_ALLOCATOR(Method, Request, Response) \
  common::ArenaMessageAllocator<v1::Request, v1::Response> Method##_allocator_;
  CSTOPA_MONITORING_METHODS(CSTOPA_MONITORING_ALLOCATOR)
#undef CSTOPA_MONITORING_ALLOCATOR
};

}  // namespace cstopa::monitoring

#endif  // CSTOPA_SERVICES_MONITORING_MONITORING_SERVICE_H_
