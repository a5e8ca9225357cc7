// The legislation service's resources: documents, topics, action plans and
// their items, treaties and their ratifications, implementations, stated
// figures, each
// declared once (legislation_resources.cc) and served by the platform's
// standard methods (services/common/resources/resource.h) over the service's
// own tables (migrations/); plus what the standard methods do not cover:
// plan progress, document revisions, the summaries' reads (adoptions counted
// per year and kind, every plan or treaty at once, a state's records) and
// full-text search (document_search.h). Documents, topics, plans, described
// items, treaties and stated figures are also found by the service's Search
// (services/common/resources/search_index.h), which their declarations feed.
//
// Revisions and the SQLite full-text index are kept by triggers on the
// documents table, so they are written in the same transaction as every
// document write, whichever path makes it (API, seed, bulk load). On
// PostgreSQL the index is a generated tsvector column.
//
// The change feed (the legislation_changes table, services/common/store/
// change_feed.h) behind WatchLegislation: every committed create, update,
// delete and seed insert of every collection is logged in its own
// transaction (the resource set's write hook; every write of the service
// goes through a resource's store, TransitionDocument included), and so is
// each revision a document write makes, right after that write's change. So
// each appears in the stream exactly once, in commit order.
//
//   auto db = OpenDatabase("sqlite::memory:", LegislationSchema());
//   LegislationResources resources(db->get(), &page_tokens, &api_keys);
//   resources.documents().store().Get("documents/x", false, &document);
#ifndef CSTOPA_SERVICES_LEGISLATION_LEGISLATION_RESOURCES_H_
#define CSTOPA_SERVICES_LEGISLATION_LEGISLATION_RESOURCES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cstopa/legislation/v1/legislation.pb.h"
#include "services/common/resources/resource.h"
#include "services/common/store/change_feed.h"
#include "services/legislation/document_search.h"

namespace cstopa::legislation {

// The schema (migrations) of the legislation store.
const common::SchemaSpec& LegislationSchema();

// Counts of live items of a plan per (status, commission).
struct ItemCount {
  int status = 0;
  std::string commission;
  int64_t count = 0;
};

// Progress of a plan from its live item counts.
v1::PlanProgress ComputeProgress(const std::vector<ItemCount>& counts);

// The columns ListDocuments (and SearchDocuments) filter on.
std::vector<common::ColumnSpec> DocumentColumns();

// The declarations, one per resource type.
common::ResourceDecl<v1::Document> DocumentDecl();
common::ResourceDecl<v1::Topic> TopicDecl();
common::ResourceDecl<v1::ActionPlan> ActionPlanDecl();
common::ResourceDecl<v1::ActionPlanItem> ActionPlanItemDecl();
common::ResourceDecl<v1::Treaty> TreatyDecl();
common::ResourceDecl<v1::Ratification> RatificationDecl();
common::ResourceDecl<v1::Implementation> ImplementationDecl();
common::ResourceDecl<v1::StatedFigure> StatedFigureDecl();

// The collection IDs WatchLegislation streams (and filters on), as they
// appear in names.
const std::vector<std::string>& WatchedCollections();

// The change feed settings of the legislation service: table
// legislation_changes, changes kept 7 days, watchers ended when 10,000
// changes behind.
common::ChangeFeedOptions LegislationFeedOptions();

class LegislationResources {
 public:
  // `cache` tunes the search's ranking cache (the server's
  // --search_cache_ms flag). `db`, `tokens` and `keys` must outlive the
  // resources. Starts the feed's poller.
  LegislationResources(
      common::Database* db, const common::PageTokenCodec* tokens,
      const common::ApiKeyStore* keys, SearchCacheOptions cache = {},
      common::ChangeFeedOptions feed = LegislationFeedOptions());

  common::Database* db() const { return set_.db(); }
  common::ResourceSet& set() { return set_; }
  common::Resource<v1::Document>& documents() { return documents_; }
  common::Resource<v1::Topic>& topics() { return topics_; }
  common::Resource<v1::ActionPlan>& action_plans() { return action_plans_; }
  common::Resource<v1::ActionPlanItem>& items() { return items_; }
  common::Resource<v1::Treaty>& treaties() { return treaties_; }
  common::Resource<v1::Ratification>& ratifications() { return ratifications_; }
  common::Resource<v1::Implementation>& implementations() {
    return implementations_;
  }
  common::Resource<v1::StatedFigure>& stated_figures() {
    return stated_figures_;
  }
  const DocumentSearch& search() const { return search_; }
  common::ChangeFeed& feed() { return feed_; }

  // Inside `tx`: sets the progress of each plan from its live items (one
  // statement for all).
  absl::Status FillProgress(common::SqlTransaction& tx,
                            const std::vector<v1::ActionPlan*>& plans) const;

  // The reads of the summaries (SummarizeLegislation,
  // SummarizeStateLegislation), each one statement inside `tx`, so that a
  // summary reads one snapshot. Only live records; lists by name.

  // Documents adopted per (year, kind), by year then kind: those with a
  // dated adoption (adopt_date) under its year; those at a stage that only
  // follows adoption (ADOPTED, AMENDED, REPEALED) without one under year 0.
  // Counted by the database (GROUP BY), not read.
  absl::Status CountAdoptions(
      common::SqlTransaction& tx,
      google::protobuf::RepeatedPtrField<v1::AdoptionCount>* out) const;

  // Every live action plan, each with its progress (as FillProgress).
  absl::Status ReadActionPlans(
      common::SqlTransaction& tx,
      google::protobuf::RepeatedPtrField<v1::ActionPlan>* out) const;

  // Every live stated figure, by name.
  absl::Status ReadStatedFigures(
      common::SqlTransaction& tx,
      google::protobuf::RepeatedPtrField<v1::StatedFigure>* out) const;

  // Every live treaty; only those that list `party` among their parties
  // when it is not empty.
  absl::Status ReadTreaties(
      common::SqlTransaction& tx, const std::string& party,
      google::protobuf::RepeatedPtrField<v1::Treaty>* out) const;

  // Live ratifications, their state computed: of every treaty when `names`
  // is null, else those among `names` (missing ones skipped).
  absl::Status ReadRatifications(
      common::SqlTransaction& tx, const std::vector<std::string>* names,
      google::protobuf::RepeatedPtrField<v1::Ratification>* out) const;

  // Every live implementation by `state`, each with the title and kind of
  // its document when that is live (empty otherwise).
  absl::Status ReadImplementations(
      common::SqlTransaction& tx, const std::string& state,
      google::protobuf::RepeatedPtrField<v1::ImplementedDocument>* out) const;

  // The document `document` as it was at revision `revision_id` (texts,
  // title, stage, and when the revision was made) into `out` (its name
  // left to the caller), with one statement that does not hold the calling
  // thread. NOT_FOUND when the document is missing or deleted, or has no
  // such revision. `out` must live until `done` runs.
  void GetRevision(std::string document, std::string revision_id,
                   absl::Time deadline, v1::DocumentRevision* out,
                   common::StatusCallback done) const;

  // One page of `document`'s revisions into `out`, newest first (page size
  // and token as a List request gives them), with one statement that does
  // not hold the calling thread. NOT_FOUND when the document is missing or
  // deleted. `out` must live until `done` runs.
  void ListRevisions(std::string document, int32_t page_size,
                     const std::string& page_token, absl::Time deadline,
                     v1::ListDocumentRevisionsResponse* out,
                     common::StatusCallback done) const;

 private:
  // Inside the write of `document` (stored as it is): logs the revision the
  // write made, if it made one.
  absl::Status LogRevision(common::SqlTransaction& tx,
                           const v1::Document& document);

  common::ResourceSet set_;
  common::ChangeFeed feed_;
  common::Resource<v1::Document> documents_;
  common::Resource<v1::Topic> topics_;
  common::Resource<v1::ActionPlan> action_plans_;
  common::Resource<v1::ActionPlanItem> items_;
  common::Resource<v1::Treaty> treaties_;
  common::Resource<v1::Ratification> ratifications_;
  common::Resource<v1::Implementation> implementations_;
  common::Resource<v1::StatedFigure> stated_figures_;
  DocumentSearch search_;
};

}  // namespace cstopa::legislation

#endif  // CSTOPA_SERVICES_LEGISLATION_LEGISLATION_RESOURCES_H_
