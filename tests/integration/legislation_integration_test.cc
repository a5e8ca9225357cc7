// Integration tests of legislation_server: the real binary on port 0 with a
// seeded SQLite store, called through generated stubs; and WatchLegislation:
// the suite's watch conformance (watch_conformance.h) and its filters over
// gRPC, and on PostgreSQL (tests named *Postgres*, registered separately
// with the `postgres` fixture: legislation.cmake) across two replicas.
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/legislation/v1/legislation.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/testing/test_postgres.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/scratch_postgres.h"
#include "tests/integration/server_process.h"
#include "tests/integration/watch_conformance.h"

#ifndef CSTOPA_LEGISLATION_SERVER
#error "CSTOPA_LEGISLATION_SERVER must name the legislation_server binary"
#endif

namespace cstopa::legislation {
namespace {

using itest::Describe;
using itest::Details;
using itest::DetailsOf;
using itest::ExpectError;
using itest::kAdminKey;
using itest::kEditorKey;
using itest::kWatchWriteBlock;
using itest::Prepare;
using itest::RunTag;
using itest::ScratchDatabases;
using itest::ServerProcess;
using itest::WatchClient;
using itest::WatchReader;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class LegislationServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerProcess::Options options;
    options.binary = CSTOPA_LEGISLATION_SERVER;
    server_ = new ServerProcess(options);
    absl::Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    stub_ = v1::LegislationService::NewStub(server_->channel());
  }

  v1::Document Create(const std::string& id, const std::string& en,
                      const std::string& ru, const std::string& text) {
    v1::CreateDocumentRequest req;
    req.set_document_id(id);
    req.mutable_document()->set_kind(v1::DOCUMENT_KIND_MODEL_LAW);
    auto* t = req.mutable_document()->add_title();
    t->set_language_code("en");
    t->set_text(en);
    if (!ru.empty()) {
      t = req.mutable_document()->add_title();
      t->set_language_code("ru");
      t->set_text(ru);
    }
    auto* x = req.mutable_document()->add_text();
    x->set_language_code("en");
    x->set_text(text);
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::Document out;
    grpc::Status s = stub_->CreateDocument(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  static ServerProcess* server_;
  std::unique_ptr<v1::LegislationService::Stub> stub_;
};

ServerProcess* LegislationServerTest::server_ = nullptr;

TEST_F(LegislationServerTest, SeedIsVisible) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::GetActionPlanRequest req;
  req.set_name("actionPlans/approximation-2011-2015");
  v1::ActionPlan plan;
  ASSERT_TRUE(stub_->GetActionPlan(&ctx, req, &plan).ok());
  EXPECT_EQ(plan.progress().done(), 24);
  EXPECT_EQ(plan.progress().total(), 24);
  EXPECT_EQ(plan.provenance(0).source(), "001_2f9c2b9cd01aeccb.txt");

  grpc::ClientContext ctx2;
  Prepare(&ctx2);
  v1::GetTreatyRatificationProgressRequest preq;
  preq.set_name(
      "treaties/jurisdiction-temporary-deployment-2021/ratificationProgress");
  v1::TreatyRatificationProgress progress;
  ASSERT_TRUE(
      stub_->GetTreatyRatificationProgress(&ctx2, preq, &progress).ok());
  ASSERT_EQ(progress.parties_size(), 1);
  EXPECT_EQ(progress.parties(0).state(), "states/kz");
  EXPECT_EQ(progress.parties(0).status(),
            v1::RATIFICATION_STATUS_BILL_INTRODUCED);
  EXPECT_EQ(progress.parties(0).status_date().day(), 19);
}

TEST_F(LegislationServerTest, CrudWithEtagsAndRevisions) {
  v1::Document d =
      Create("itest-crud", "Model law on testing", "", "First wording.");
  EXPECT_EQ(d.stage(), v1::DOCUMENT_STAGE_DRAFTED);
  EXPECT_FALSE(d.etag().empty());

  v1::UpdateDocumentRequest up;
  up.mutable_document()->set_name(d.name());
  up.mutable_document()->set_etag("0000000000000000");
  auto* t = up.mutable_document()->add_text();
  t->set_language_code("en");
  t->set_text("Second wording.");
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::Document out;
    grpc::Status s = stub_->UpdateDocument(&ctx, up, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
    Details det = DetailsOf(s);
    ASSERT_TRUE(det.info.has_value());
    EXPECT_EQ(det.info->reason(), "ETAG_MISMATCH");
    EXPECT_EQ(det.info->domain(), "legislation.cstopa.org");
  }
  up.mutable_document()->set_etag(d.etag());
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    ASSERT_TRUE(stub_->UpdateDocument(&ctx, up, &d).ok());
    EXPECT_EQ(d.revision_id(), "r2");
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::GetDocumentRevisionRequest rr;
    rr.set_name(d.name() + "/revisions/r1");
    v1::DocumentRevision rev;
    ASSERT_TRUE(stub_->GetDocumentRevision(&ctx, rr, &rev).ok());
    EXPECT_EQ(rev.text(0).text(), "First wording.");
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);  // Delete needs the admin role
    v1::DeleteDocumentRequest del;
    del.set_name(d.name());
    v1::Document out;
    EXPECT_EQ(stub_->DeleteDocument(&ctx, del, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kAdminKey);
    v1::DeleteDocumentRequest del;
    del.set_name(d.name());
    del.set_etag(d.etag());
    v1::Document out;
    ASSERT_TRUE(stub_->DeleteDocument(&ctx, del, &out).ok());
    EXPECT_TRUE(out.has_delete_time());
  }
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::GetDocumentRequest g;
  g.set_name(d.name());
  v1::Document out;
  grpc::Status s = stub_->GetDocument(&ctx, g, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(DetailsOf(s).info->reason(), "RESOURCE_NOT_FOUND");
}

TEST_F(LegislationServerTest, SearchOverGrpc) {
  Create("itest-terror", "Model law on countering terrorism",
         "Модельный закон о противодействии терроризму",
         "Cooperation of the competent authorities.");
  for (int i = 0; i < 7; ++i)
    Create(absl::StrCat("itest-page-", i), absl::StrCat("Paging act ", i), "",
           "zeitgeist");
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::SearchDocumentsRequest req;
    req.set_query("Терроризму");
    v1::SearchDocumentsResponse resp;
    ASSERT_TRUE(stub_->SearchDocuments(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.results_size(), 1);
    EXPECT_EQ(resp.results(0).document().name(), "documents/itest-terror");
    EXPECT_THAT(resp.results(0).snippets(0),
                HasSubstr("<mark>терроризму</mark>"));
    EXPECT_GT(resp.results(0).score(), 0);
  }
  // Pages of 3 over 7 hits.
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::SearchDocumentsRequest req;
    req.set_query("zeitgeist");
    req.set_page_size(3);
    req.set_page_token(token);
    v1::SearchDocumentsResponse resp;
    grpc::Status s = stub_->SearchDocuments(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& r : resp.results())
      EXPECT_TRUE(seen.insert(r.document().name()).second);
    token = resp.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 7u);
  // Hostile input: searched as words, or rejected with a field violation.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::SearchDocumentsRequest req;
    req.set_query("\") OR 1=1 --");
    v1::SearchDocumentsResponse resp;
    ASSERT_TRUE(stub_->SearchDocuments(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.results_size(), 0);
  }
  for (const char* q : {"*", "", "NEAR( ) \""}) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::SearchDocumentsRequest req;
    req.set_query(q);
    v1::SearchDocumentsResponse resp;
    grpc::Status s = stub_->SearchDocuments(&ctx, req, &resp);
    if (std::string(q) == "NEAR( ) \"") {
      EXPECT_TRUE(s.ok()) << s.error_message();  // the word "NEAR"
      continue;
    }
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << q;
    Details det = DetailsOf(s);
    EXPECT_THAT(det.bad_fields, ElementsAre("query")) << q;
    ASSERT_TRUE(det.info.has_value());
    EXPECT_EQ(det.info->reason(), "INVALID_SEARCH_QUERY");
  }
}

TEST_F(LegislationServerTest, ErrorsCarryTheirDetails) {
  v1::Document d = Create("itest-stages", "Stage test", "", "Text.");
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::TransitionDocumentRequest req;
    req.set_name(d.name());
    req.set_stage(v1::DOCUMENT_STAGE_ADOPTED);
    req.mutable_date()->set_year(2024);
    v1::Document out;
    grpc::Status s = stub_->TransitionDocument(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    Details det = DetailsOf(s);
    ASSERT_TRUE(det.info.has_value());
    EXPECT_EQ(det.info->reason(), "INVALID_STAGE_TRANSITION");
    ASSERT_TRUE(det.precondition.has_value());
    std::vector<std::string> allowed;
    for (const auto& v : det.precondition->violations())
      allowed.push_back(v.subject());
    EXPECT_THAT(allowed, ElementsAre("DOCUMENT_STAGE_UNDER_REVIEW",
                                     "DOCUMENT_STAGE_AT_COMMISSION"));
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);  // no key
    v1::CreateTopicRequest req;
    req.set_topic_id("itest-topic");
    v1::Topic out;
    EXPECT_EQ(stub_->CreateTopic(&ctx, req, &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::CreateRatificationRequest req;
    req.set_parent("treaties/jurisdiction-temporary-deployment-2021");
    req.set_ratification_id("am");
    req.mutable_ratification()->set_status(v1::RATIFICATION_STATUS_RATIFIED);
    v1::Ratification out;
    grpc::Status s = stub_->CreateRatification(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    Details det = DetailsOf(s);
    EXPECT_THAT(det.bad_fields, ElementsAre("ratification_id"));
    EXPECT_EQ(det.info->reason(), "NOT_A_PARTY");
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::CreateDocumentRequest req;
    req.set_document_id("itest-bad");
    req.mutable_document()->set_kind(static_cast<v1::DocumentKind>(77));
    v1::Document out;
    grpc::Status s = stub_->CreateDocument(&ctx, req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(DetailsOf(s).bad_fields,
                ElementsAre("document.kind", "document.title"));
  }
}

TEST_F(LegislationServerTest, RestartKeepsDataAndSeedsOnce) {
  Create("itest-restart", "Survives restarts", "", "Text.");
  ASSERT_TRUE(server_->Restart().ok());
  stub_ = v1::LegislationService::NewStub(server_->channel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ListActionPlanItemsRequest req;
  req.set_parent("actionPlans/-");
  req.set_page_size(1000);
  v1::ListActionPlanItemsResponse resp;
  ASSERT_TRUE(stub_->ListActionPlanItems(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.action_plan_items_size(), 24 + 35);
  grpc::ClientContext ctx2;
  Prepare(&ctx2);
  v1::GetDocumentRequest g;
  g.set_name("documents/itest-restart");
  v1::Document d;
  EXPECT_TRUE(stub_->GetDocument(&ctx2, g, &d).ok());
}

// ---------------------------------------------------------------------------
// WatchLegislation
// ---------------------------------------------------------------------------

std::unique_ptr<grpc::ClientReaderInterface<v1::WatchLegislationResponse>>
OpenWatch(const std::shared_ptr<grpc::Channel>& channel,
          grpc::ClientContext* ctx, const v1::WatchLegislationRequest& req) {
  return v1::LegislationService::NewStub(channel)->WatchLegislation(ctx, req);
}

// A seeded live document the conformance writes' implementations refer to.
constexpr char kSeededDocument[] =
    "documents/statement-artificial-intelligence";

type::v1::LocalizedText En(const std::string& text) {
  type::v1::LocalizedText t;
  t.set_language_code("en");
  t.set_text(text);
  return t;
}

// The ID of conformance write `i`'s resource; with the run's tag, for
// databases shared between runs.
std::string WatchId(int i) { return absl::StrCat("w", RunTag(), "-", i); }

// Write i of the conformance cases: exactly one change each, through every
// collection but documents and revisions (a document write that makes a
// revision is two changes; the unit tests and the filtered check below
// cover them). In each block of ten: a topic, a treaty, its ratification, a
// plan, its item, an implementation; then an update of the topic and of
// the ratification, the item's deletion, an update of the treaty.
std::string WatchWrite(int i, const std::shared_ptr<grpc::Channel>& channel) {
  static_assert(kWatchWriteBlock % 10 == 0);
  auto stub = v1::LegislationService::NewStub(channel);
  grpc::ClientContext ctx;
  Prepare(&ctx, i % 10 == 8 ? kAdminKey : kEditorKey);
  const std::string id = WatchId(i);
  grpc::Status s;
  std::string name;
  switch (i % 10) {
    case 0: {
      v1::CreateTopicRequest req;
      req.set_topic_id(id);
      *req.mutable_topic()->add_display_name() = En("Topic " + id);
      v1::Topic out;
      s = stub->CreateTopic(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 1: {
      v1::CreateTreatyRequest req;
      req.set_treaty_id(id);
      *req.mutable_treaty()->add_title() = En("Treaty " + id);
      req.mutable_treaty()->add_parties("states/kz");
      v1::Treaty out;
      s = stub->CreateTreaty(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 2: {
      v1::CreateRatificationRequest req;
      req.set_parent("treaties/" + WatchId(i - 1));
      req.set_ratification_id("kz");
      req.mutable_ratification()->set_status(
          v1::RATIFICATION_STATUS_BILL_INTRODUCED);
      v1::Ratification out;
      s = stub->CreateRatification(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 3: {
      v1::CreateActionPlanRequest req;
      req.set_action_plan_id(id);
      *req.mutable_action_plan()->add_title() = En("Plan " + id);
      v1::ActionPlan out;
      s = stub->CreateActionPlan(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 4: {
      v1::CreateActionPlanItemRequest req;
      req.set_parent("actionPlans/" + WatchId(i - 1));
      req.set_item_id("one");
      req.mutable_action_plan_item()->set_status(v1::ITEM_STATUS_PLANNED);
      v1::ActionPlanItem out;
      s = stub->CreateActionPlanItem(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 5: {
      v1::CreateImplementationRequest req;
      req.set_implementation_id(id);
      req.mutable_implementation()->set_document(kSeededDocument);
      req.mutable_implementation()->set_state("states/kz");
      req.mutable_implementation()->set_level(v1::IMPLEMENTATION_LEVEL_PARTIAL);
      v1::Implementation out;
      s = stub->CreateImplementation(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 6: {
      v1::UpdateTopicRequest req;
      req.mutable_topic()->set_name("topics/" + WatchId(i - 6));
      *req.mutable_topic()->add_display_name() = En("Renamed " + id);
      v1::Topic out;
      s = stub->UpdateTopic(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 7: {
      v1::UpdateRatificationRequest req;
      req.mutable_ratification()->set_name(
          absl::StrCat("treaties/", WatchId(i - 6), "/ratifications/kz"));
      req.mutable_ratification()->set_status(v1::RATIFICATION_STATUS_RATIFIED);
      v1::Ratification out;
      s = stub->UpdateRatification(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 8: {
      v1::DeleteActionPlanItemRequest req;
      req.set_name(absl::StrCat("actionPlans/", WatchId(i - 5), "/items/one"));
      v1::ActionPlanItem out;
      s = stub->DeleteActionPlanItem(&ctx, req, &out);
      name = out.name();
      break;
    }
    default: {
      v1::UpdateTreatyRequest req;
      req.mutable_treaty()->set_name("treaties/" + WatchId(i - 8));
      *req.mutable_treaty()->add_title() = En("Renamed " + id);
      v1::Treaty out;
      s = stub->UpdateTreaty(&ctx, req, &out);
      name = out.name();
      break;
    }
  }
  EXPECT_TRUE(s.ok()) << "write " << i << ": " << Describe(s);
  return s.ok() ? name : "";
}

WatchClient<v1::WatchLegislationResponse> LegislationWatchClient() {
  WatchClient<v1::WatchLegislationResponse> client;
  client.open = [](const std::shared_ptr<grpc::Channel>& channel,
                   grpc::ClientContext* ctx, const std::string& token) {
    v1::WatchLegislationRequest req;
    req.set_resume_token(token);
    return OpenWatch(channel, ctx, req);
  };
  client.write = WatchWrite;
  return client;
}

// Each watch test has a server of its own (one restarts it).
class LegislationWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    options.binary = CSTOPA_LEGISLATION_SERVER;
    server_ = std::make_unique<ServerProcess>(options);
    absl::Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override {
    if (HasFailure() && server_ != nullptr)
      std::cerr << "---- server stderr (tail) ----\n"
                << server_->ReadStderr(4000) << "---- end ----\n";
  }

  std::unique_ptr<ServerProcess> server_;
};

TEST_F(LegislationWatchTest, ThreeWatchersSeeEachWriteOnceInOrder) {
  itest::ExpectConcurrentWatchersSeeEachWriteOnceInOrder(
      server_.get(), LegislationWatchClient());
}

TEST_F(LegislationWatchTest, WatchResumesAfterARestartWithoutLoss) {
  itest::ExpectResumeAfterRestartSeesMissedWrites(server_.get(),
                                                  LegislationWatchClient());
}

TEST_F(LegislationWatchTest, WatchRefusesADamagedToken) {
  itest::ExpectDamagedResumeTokenIsInvalidArgument(server_.get(),
                                                   LegislationWatchClient());
}

// The filters over gRPC: a stream of documents and revisions carries each
// document change and each revision it made, with the right member, and
// nothing else; one of a single ratification only its changes; a bad filter
// ends the call with INVALID_ARGUMENT and its field.
TEST_F(LegislationWatchTest, FilteredWatchCarriesOnlyWhatItAsksFor) {
  auto open = [](v1::WatchLegislationRequest req) {
    return [req](const std::shared_ptr<grpc::Channel>& channel,
                 grpc::ClientContext* ctx,
                 const std::string&) { return OpenWatch(channel, ctx, req); };
  };
  v1::WatchLegislationRequest documents;
  documents.add_collections("documents");
  documents.add_collections("revisions");
  v1::WatchLegislationRequest one;
  one.set_name("treaties/" + WatchId(1) + "/ratifications/kz");
  auto channel = server_->channel();
  WatchReader<v1::WatchLegislationResponse> w_documents(open(documents),
                                                        channel, "");
  WatchReader<v1::WatchLegislationResponse> w_one(open(one), channel, "");
  ASSERT_TRUE(w_documents.WaitStarted()) << Describe(w_documents.status());
  ASSERT_TRUE(w_one.WaitStarted()) << Describe(w_one.status());

  auto stub = v1::LegislationService::NewStub(channel);
  auto update_document = [&](const std::string& title,
                             const std::string& text) {
    v1::UpdateDocumentRequest req;
    req.mutable_document()->set_name("documents/filtered");
    if (!title.empty()) *req.mutable_document()->add_title() = En(title);
    if (!text.empty()) *req.mutable_document()->add_text() = En(text);
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::Document out;
    grpc::Status s = stub->UpdateDocument(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << Describe(s);
  };
  {
    v1::CreateDocumentRequest req;
    req.set_document_id("filtered");
    req.mutable_document()->set_kind(v1::DOCUMENT_KIND_MODEL_LAW);
    *req.mutable_document()->add_title() = En("Filtered law");
    *req.mutable_document()->add_text() = En("First text");
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::Document out;
    grpc::Status s = stub->CreateDocument(&ctx, req, &out);  // and r1
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(WatchWrite(i, channel).empty());
  update_document("Filtered law, renamed", "");  // the same revision
  ASSERT_FALSE(WatchWrite(7, channel).empty());  // ratification of 1, again
  update_document("", "Second text");            // and revision r2

  ASSERT_TRUE(w_documents.WaitForChanges(5)) << Describe(w_documents.status());
  ASSERT_TRUE(w_one.WaitForChanges(2)) << Describe(w_one.status());
  // A last change of each filter's: nothing more came between.
  update_document("Filtered law, last", "");
  {
    v1::UpdateRatificationRequest req;
    req.mutable_ratification()->set_name(one.name());
    req.mutable_ratification()->set_status(v1::RATIFICATION_STATUS_IN_FORCE);
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::Ratification out;
    grpc::Status s = stub->UpdateRatification(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  ASSERT_TRUE(w_documents.WaitForChanges(6)) << Describe(w_documents.status());
  ASSERT_TRUE(w_one.WaitForChanges(3)) << Describe(w_one.status());
  std::vector<std::string> got;
  for (const auto& m : w_documents.changes()) {
    got.push_back(
        absl::StrCat(v1::ChangeType_Name(m.change_type()), " ", m.name()));
    EXPECT_EQ(m.has_revision(), absl::StrContains(m.name(), "/revisions/"))
        << m.ShortDebugString();
    EXPECT_TRUE(m.has_document() || m.has_revision()) << m.ShortDebugString();
  }
  EXPECT_THAT(got,
              ElementsAre("CHANGE_TYPE_CREATED documents/filtered",
                          "CHANGE_TYPE_CREATED documents/filtered/revisions/r1",
                          "CHANGE_TYPE_UPDATED documents/filtered",
                          "CHANGE_TYPE_UPDATED documents/filtered",
                          "CHANGE_TYPE_CREATED documents/filtered/revisions/r2",
                          "CHANGE_TYPE_UPDATED documents/filtered"));
  auto changes = w_documents.changes();
  EXPECT_EQ(changes[4].revision().text(0).text(), "Second text");
  auto only = w_one.changes();
  ASSERT_EQ(only.size(), 3u);
  EXPECT_EQ(only[0].change_type(), v1::CHANGE_TYPE_CREATED);
  EXPECT_EQ(only[1].change_type(), v1::CHANGE_TYPE_UPDATED);
  EXPECT_EQ(only[1].ratification().status(), v1::RATIFICATION_STATUS_RATIFIED);
  EXPECT_EQ(only[2].ratification().status(), v1::RATIFICATION_STATUS_IN_FORCE);
  for (const auto& m : only) {
    EXPECT_EQ(m.name(), one.name());
    EXPECT_EQ(m.ratification().name(), one.name());
    EXPECT_EQ(m.ratification().state(), "states/kz");
  }

  v1::WatchLegislationRequest bad;
  bad.add_collections("actionPlanItems");
  WatchReader<v1::WatchLegislationResponse> w_bad(open(bad), channel, "");
  ASSERT_TRUE(w_bad.WaitDone());
  EXPECT_EQ(w_bad.messages(), 0);
  Details d = ExpectError(w_bad.status(), grpc::StatusCode::INVALID_ARGUMENT,
                          "INVALID_WATCH_FILTER");
  EXPECT_THAT(d.bad_fields, ElementsAre("collections[0]"));
}

// Two replicas on one PostgreSQL database, started together (migrations and
// seed race on one empty schema): a watcher on one sees the writes made
// through both, and its token resumes on the other.
TEST(LegislationWatchPostgresTest, AWatcherOnOneReplicaSeesWritesThroughBoth) {
  std::string base;
  CSTOPA_TEST_POSTGRES_URL_OR_SKIP(base);
  ScratchDatabases databases(base);
  // The shared database when none can be made: the case watches from now
  // and its IDs carry the run's tag.
  const std::string url = databases.New("cstopa_legislation_itest");
  std::vector<std::unique_ptr<ServerProcess>> replicas;
  for (int i = 0; i < 2; ++i) {
    ServerProcess::Options options;
    options.binary = CSTOPA_LEGISLATION_SERVER;
    options.extra_args = {absl::StrCat("--store=", url)};
    replicas.push_back(std::make_unique<ServerProcess>(options));
    ASSERT_TRUE(replicas.back()->Launch().ok());
  }
  for (auto& r : replicas) {
    absl::Status s = r->WaitForPortFile();
    ASSERT_TRUE(s.ok()) << s << r->ReadStderr(4000);
  }
  itest::ExpectReplicaWatcherSeesWritesThroughOther(
      replicas[0].get(), replicas[1].get(), LegislationWatchClient());
  if (::testing::Test::HasFailure()) {
    for (auto& r : replicas)
      std::cerr << "---- replica stderr (tail) ----\n"
                << r->ReadStderr(4000) << "---- end ----\n";
  }
  replicas.clear();  // before the database is dropped
}

}  // namespace
}  // namespace cstopa::legislation
