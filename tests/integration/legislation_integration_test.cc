// Integration tests of legislation_server: the real binary on port 0 with a
// seeded SQLite store, called through generated stubs.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/legislation/v1/legislation.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/server_process.h"

#ifndef CSTOPA_LEGISLATION_SERVER
#error "CSTOPA_LEGISLATION_SERVER must name the legislation_server binary"
#endif

namespace cstopa::legislation {
namespace {

using itest::Details;
using itest::DetailsOf;
using itest::kAdminKey;
using itest::kEditorKey;
using itest::Prepare;
using itest::ServerProcess;
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
  preq.set_treaty("treaties/jurisdiction-temporary-deployment-2021");
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
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    Details det = DetailsOf(s);
    ASSERT_TRUE(det.info.has_value());
    EXPECT_EQ(det.info->reason(), "ETAG_MISMATCH");
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

}  // namespace
}  // namespace cstopa::legislation
