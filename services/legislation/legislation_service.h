// The handler of cstopa.legislation.v1.LegislationService: one method per
// RPC (the interface is generated from the proto; see
// tools/protoc-gen-cstopa). Most are a standard method of a declared
// resource (legislation_resources.h); what is special is written here once:
// the documents' lifecycle (stages, revisions), plan progress, ratification
// rules and progress, search, the summaries, and WatchLegislation served
// from the service's change feed (services/common/resources/watch.h). Tests
// call it through its blocking face, without a server:
//
//   LegislationResources resources(db, &tokens, &keys);
//   LegislationHandler handler(&resources);
//   v1::LegislationServiceBlocking legislation(&handler);
//   absl::Status s = legislation.GetDocument(caller, request, &document);
#ifndef CSTOPA_SERVICES_LEGISLATION_LEGISLATION_SERVICE_H_
#define CSTOPA_SERVICES_LEGISLATION_LEGISLATION_SERVICE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cstopa/legislation/v1/legislation.cstopa.h"
#include "services/common/resources/export.h"
#include "services/common/resources/import.h"
#include "services/common/server/server.h"
#include "services/legislation/legislation_resources.h"

namespace cstopa::legislation {

// The stages that may follow `from` (see DocumentStage in the proto).
std::vector<v1::DocumentStage> AllowedNextStages(v1::DocumentStage from);

class LegislationHandler final : public v1::LegislationServiceHandler {
 public:
  // `resources` must outlive the handler.
  explicit LegislationHandler(LegislationResources* resources);

  void GetDocument(GetDocumentCall call) override;
  void BatchGetDocuments(BatchGetDocumentsCall call) override;
  void ListDocuments(ListDocumentsCall call) override;
  void CreateDocument(CreateDocumentCall call) override;
  void UpdateDocument(UpdateDocumentCall call) override;
  void DeleteDocument(DeleteDocumentCall call) override;
  void UndeleteDocument(UndeleteDocumentCall call) override;
  void TransitionDocument(TransitionDocumentCall call) override;
  void GetDocumentRevision(GetDocumentRevisionCall call) override;
  void ListDocumentRevisions(ListDocumentRevisionsCall call) override;
  void SearchDocuments(SearchDocumentsCall call) override;

  void GetTopic(GetTopicCall call) override;
  void ListTopics(ListTopicsCall call) override;
  void CreateTopic(CreateTopicCall call) override;
  void UpdateTopic(UpdateTopicCall call) override;
  void DeleteTopic(DeleteTopicCall call) override;
  void UndeleteTopic(UndeleteTopicCall call) override;

  void GetActionPlan(GetActionPlanCall call) override;
  void ListActionPlans(ListActionPlansCall call) override;
  void CreateActionPlan(CreateActionPlanCall call) override;
  void UpdateActionPlan(UpdateActionPlanCall call) override;
  void DeleteActionPlan(DeleteActionPlanCall call) override;
  void UndeleteActionPlan(UndeleteActionPlanCall call) override;

  void GetActionPlanItem(GetActionPlanItemCall call) override;
  void ListActionPlanItems(ListActionPlanItemsCall call) override;
  void CreateActionPlanItem(CreateActionPlanItemCall call) override;
  void UpdateActionPlanItem(UpdateActionPlanItemCall call) override;
  void DeleteActionPlanItem(DeleteActionPlanItemCall call) override;
  void UndeleteActionPlanItem(UndeleteActionPlanItemCall call) override;

  void GetTreaty(GetTreatyCall call) override;
  void ListTreaties(ListTreatiesCall call) override;
  void CreateTreaty(CreateTreatyCall call) override;
  void UpdateTreaty(UpdateTreatyCall call) override;
  void DeleteTreaty(DeleteTreatyCall call) override;
  void UndeleteTreaty(UndeleteTreatyCall call) override;
  void GetTreatyRatificationProgress(
      GetTreatyRatificationProgressCall call) override;

  void GetRatification(GetRatificationCall call) override;
  void ListRatifications(ListRatificationsCall call) override;
  void CreateRatification(CreateRatificationCall call) override;
  void UpdateRatification(UpdateRatificationCall call) override;
  void DeleteRatification(DeleteRatificationCall call) override;
  void UndeleteRatification(UndeleteRatificationCall call) override;

  void GetImplementation(GetImplementationCall call) override;
  void ListImplementations(ListImplementationsCall call) override;
  void CreateImplementation(CreateImplementationCall call) override;
  void UpdateImplementation(UpdateImplementationCall call) override;
  void DeleteImplementation(DeleteImplementationCall call) override;
  void UndeleteImplementation(UndeleteImplementationCall call) override;

  void GetStatedFigure(GetStatedFigureCall call) override;
  void ListStatedFigures(ListStatedFiguresCall call) override;
  void CreateStatedFigure(CreateStatedFigureCall call) override;
  void UpdateStatedFigure(UpdateStatedFigureCall call) override;
  void DeleteStatedFigure(DeleteStatedFigureCall call) override;
  void UndeleteStatedFigure(UndeleteStatedFigureCall call) override;

  void SummarizeStateLegislation(SummarizeStateLegislationCall call) override;
  void SummarizeLegislation(SummarizeLegislationCall call) override;

  void WatchLegislation(WatchLegislationCall call) override;
  void ExportLegislation(ExportLegislationCall call) override;
  void ImportLegislation(ImportLegislationCall call) override;

  // Full-text search over every searchable record of the service (the
  // declarations' `search`), served by the resource set's index.
  void Search(SearchCall call) override;

  // Loads the seed file text (LegislationSeed in text format); idempotent.
  // The records it inserts are logged to the feed like any write.
  absl::Status LoadSeed(const std::string& text);

  // Ends every watch stream and export with UNAVAILABLE (reason
  // SERVER_SHUTTING_DOWN: reconnect with your last token, export again
  // elsewhere) and refuses new ones. The server calls it when draining
  // starts, before it stops taking calls, so that streams end at once
  // instead of at the drain deadline, and no export's read is still
  // running when the server stops.
  void BeginDrain();

 private:
  // The progress of a written plan, read in the write's transaction.
  common::WriteHooks<v1::ActionPlan> WithProgress();

  LegislationResources* r_;
  // The exports running (common::ServeExport).
  common::Exports exports_;
};

// Fills a WatchLegislationResponse from a change of the legislation feed (a
// common::WatchFill): the oneof member by the collection of the change's
// name, a ratification's `state` computed.
void FillWatchLegislationResponse(const common::Change& change,
                                  const std::string& token,
                                  v1::WatchLegislationResponse* out);

// The name of the legislation server's own flag: how long a search ranking
// may be reused, in milliseconds.
inline constexpr char kSearchCacheFlag[] = "search_cache_ms";

// The legislation service as the runner starts it (server/server.h), with
// its --search_cache_ms flag.
common::ServiceDefinition LegislationService();

}  // namespace cstopa::legislation

#endif  // CSTOPA_SERVICES_LEGISLATION_LEGISLATION_SERVICE_H_
