// Handlers of cstopa.legislation.v1.LegislationService, and their gRPC
// wiring.
//
// LegislationHandler holds the logic: validation, authorization, lifecycle
// rules, revisions, computed progress and ratification views, search. It
// takes plain constructor arguments and returns absl::Status, so tests call
// it without a server. LegislationGrpcService adapts it to the gRPC
// callback API.
//
//   LegislationStore store(db, &tokens);
//   LegislationHandler handler(&store, &api_keys);
//   v1::Document doc;
//   absl::Status s = handler.GetDocument({}, request, &doc);
#ifndef CSTOPA_SERVICES_LEGISLATION_LEGISLATION_SERVICE_H_
#define CSTOPA_SERVICES_LEGISLATION_LEGISLATION_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cstopa/legislation/v1/legislation.grpc.pb.h"
#include "services/common/base/arena_allocator.h"
#include "services/common/api/auth.h"
#include "services/common/resources/standard_methods.h"
#include "services/legislation/legislation_store.h"

namespace cstopa::legislation {

// The stages that may follow `from` (see DocumentStage in the proto).
std::vector<v1::DocumentStage> AllowedNextStages(v1::DocumentStage from);

// Progress of a plan from its live item counts.
v1::PlanProgress ComputeProgress(const std::vector<ItemCount>& counts);

class LegislationHandler {
 public:
  LegislationHandler(LegislationStore* store, const common::ApiKeyStore* keys);

#define CSTOPA_LEGISLATION_METHOD(Method, Request, Response) \
  absl::Status Method(const common::Caller& caller,          \
                      const v1::Request& request, v1::Response* response);
// Methods that read one resource: their gRPC face runs the ...Async form,
// which frees the gRPC thread while the store answers.
#define CSTOPA_LEGISLATION_ASYNC_GETS(X)                         \
  X(GetDocument, GetDocumentRequest, Document)                   \
  X(GetTopic, GetTopicRequest, Topic)                            \
  X(GetActionPlanItem, GetActionPlanItemRequest, ActionPlanItem) \
  X(GetTreaty, GetTreatyRequest, Treaty)                         \
  X(GetImplementation, GetImplementationRequest, Implementation)
#define CSTOPA_LEGISLATION_TYPED_METHODS(X)                                 \
  X(BatchGetDocuments, BatchGetDocumentsRequest, BatchGetDocumentsResponse) \
  X(ListDocuments, ListDocumentsRequest, ListDocumentsResponse)             \
  X(CreateDocument, CreateDocumentRequest, Document)                        \
  X(UpdateDocument, UpdateDocumentRequest, Document)                        \
  X(DeleteDocument, DeleteDocumentRequest, Document)                        \
  X(TransitionDocument, TransitionDocumentRequest, Document)                \
  X(GetDocumentRevision, GetDocumentRevisionRequest, DocumentRevision)      \
  X(ListTopics, ListTopicsRequest, ListTopicsResponse)                      \
  X(CreateTopic, CreateTopicRequest, Topic)                                 \
  X(UpdateTopic, UpdateTopicRequest, Topic)                                 \
  X(DeleteTopic, DeleteTopicRequest, Topic)                                 \
  X(GetActionPlan, GetActionPlanRequest, ActionPlan)                        \
  X(ListActionPlans, ListActionPlansRequest, ListActionPlansResponse)       \
  X(CreateActionPlan, CreateActionPlanRequest, ActionPlan)                  \
  X(UpdateActionPlan, UpdateActionPlanRequest, ActionPlan)                  \
  X(DeleteActionPlan, DeleteActionPlanRequest, ActionPlan)                  \
  X(ListActionPlanItems, ListActionPlanItemsRequest,                        \
    ListActionPlanItemsResponse)                                            \
  X(CreateActionPlanItem, CreateActionPlanItemRequest, ActionPlanItem)      \
  X(UpdateActionPlanItem, UpdateActionPlanItemRequest, ActionPlanItem)      \
  X(DeleteActionPlanItem, DeleteActionPlanItemRequest, ActionPlanItem)      \
  X(ListTreaties, ListTreatiesRequest, ListTreatiesResponse)                \
  X(CreateTreaty, CreateTreatyRequest, Treaty)                              \
  X(UpdateTreaty, UpdateTreatyRequest, Treaty)                              \
  X(DeleteTreaty, DeleteTreatyRequest, Treaty)                              \
  X(GetTreatyRatificationProgress, GetTreatyRatificationProgressRequest,    \
    TreatyRatificationProgress)                                             \
  X(GetRatification, GetRatificationRequest, Ratification)                  \
  X(ListRatifications, ListRatificationsRequest, ListRatificationsResponse) \
  X(CreateRatification, CreateRatificationRequest, Ratification)            \
  X(UpdateRatification, UpdateRatificationRequest, Ratification)            \
  X(DeleteRatification, DeleteRatificationRequest, Ratification)            \
  X(ListImplementations, ListImplementationsRequest,                        \
    ListImplementationsResponse)                                            \
  X(CreateImplementation, CreateImplementationRequest, Implementation)      \
  X(UpdateImplementation, UpdateImplementationRequest, Implementation)      \
  X(DeleteImplementation, DeleteImplementationRequest, Implementation)

// Every method whose gRPC face uses generated messages.
#define CSTOPA_LEGISLATION_DECODED_METHODS(X) \
  CSTOPA_LEGISLATION_ASYNC_GETS(X) CSTOPA_LEGISLATION_TYPED_METHODS(X)
#define CSTOPA_LEGISLATION_METHODS(X)   \
  CSTOPA_LEGISLATION_DECODED_METHODS(X) \
  X(SearchDocuments, SearchDocumentsRequest, SearchDocumentsResponse)
  CSTOPA_LEGISLATION_METHODS(CSTOPA_LEGISLATION_METHOD)
#undef CSTOPA_LEGISLATION_METHOD

  // `done` runs once `response` is filled or with the error, perhaps on the
  // store's I/O thread; `request` and `response` must live until then.
#define CSTOPA_LEGISLATION_ASYNC(Method, Request, Response)                    \
  void Method##Async(const common::Caller& caller, const v1::Request& request, \
                     v1::Response* response, common::StatusCallback done);
  CSTOPA_LEGISLATION_ASYNC_GETS(CSTOPA_LEGISLATION_ASYNC)
#undef CSTOPA_LEGISLATION_ASYNC

  // The serialized SearchDocumentsResponse, built from the stored document
  // bytes without decoding them (the gRPC fast path).
  absl::StatusOr<std::string> SearchDocumentsEncoded(
      const common::Caller& caller, const v1::SearchDocumentsRequest& request);

  // Loads the seed file text (LegislationSeed in text format); idempotent.
  absl::Status LoadSeed(const std::string& text);

 private:
  absl::Status Require(const common::Caller& caller, common::Role role) const;
  // Existence of the legislation resources among `refs` (documents, topics);
  // references to other services' resources are not checked.
  absl::Status CheckReferences(const common::Refs& refs, absl::Time deadline);
  absl::Status FillProgress(v1::ActionPlan* plan, absl::Time deadline);

  LegislationStore* store_;
  const common::ApiKeyStore* keys_;
};

// The gRPC face of LegislationHandler (callback API). SearchDocuments uses
// the raw (ByteBuffer) variant, sending stored documents without decoding.
class LegislationGrpcService final
    : public v1::LegislationService::WithRawCallbackMethod_SearchDocuments<
          v1::LegislationService::CallbackService> {
 public:
  explicit LegislationGrpcService(LegislationHandler* handler);

#define CSTOPA_LEGISLATION_RPC(Method, Request, Response)            \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* ctx, \
                                   const v1::Request* request,       \
                                   v1::Response* response) override;
  CSTOPA_LEGISLATION_DECODED_METHODS(CSTOPA_LEGISLATION_RPC)
#undef CSTOPA_LEGISLATION_RPC
  grpc::ServerUnaryReactor* SearchDocuments(
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

 private:
  LegislationHandler* handler_;
  // Every call's messages live on a per-call arena.
#define CSTOPA_LEGISLATION_ALLOCATOR(Method, Request, Response) \
  common::ArenaMessageAllocator<v1::Request, v1::Response> Method##_allocator_;
  CSTOPA_LEGISLATION_DECODED_METHODS(CSTOPA_LEGISLATION_ALLOCATOR)
#undef CSTOPA_LEGISLATION_ALLOCATOR
};

}  // namespace cstopa::legislation

#endif  // CSTOPA_SERVICES_LEGISLATION_LEGISLATION_SERVICE_H_
