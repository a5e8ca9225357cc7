// Integration tests of monitoring_server: the real binary, started as a child
// process on port 0 with its own seeded SQLite store, driven over gRPC.
//
// Every test starts its own server (see server_process.h), so tests are
// independent and may run in any order. WatchMonitoring: the suite's watch
// conformance (watch_conformance.h) and its filters over gRPC. The
// *Postgres* tests (replicas on one database) are registered separately
// with the `postgres` fixture (monitoring.cmake).
#include <signal.h>

#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/monitoring/v1/monitoring.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/store/sql.h"
#include "services/common/testing/test_postgres.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/scratch_postgres.h"
#include "tests/integration/server_process.h"
#include "tests/integration/watch_conformance.h"

#ifndef CSTOPA_MONITORING_SERVER
#error "CSTOPA_MONITORING_SERVER must name the monitoring_server binary"
#endif

namespace cstopa::itest {
namespace {

namespace v1 = ::cstopa::monitoring::v1;

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr char kServiceName[] = "cstopa.monitoring.v1.MonitoringService";

class MonitoringServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options options;
    options.binary = CSTOPA_MONITORING_SERVER;
    options.drain_seconds = 1;
    server_ = std::make_unique<ServerProcess>(options);
    absl::Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s;
    stub_ = v1::MonitoringService::NewStub(server_->channel());
  }

  v1::SummarizeMissionsResponse Summarize(
      const v1::SummarizeMissionsRequest& req) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::SummarizeMissionsResponse resp;
    grpc::Status s = stub_->SummarizeMissions(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << Describe(s);
    return resp;
  }

  static std::map<std::string, int> Counts(
      const v1::SummarizeMissionsResponse& r) {
    std::map<std::string, int> out;
    for (const auto& c : r.counts())
      out[absl::StrCat(c.year(), " ",
                       c.state().empty() ? c.region_code() : c.state())] =
          c.mission_count();
    return out;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::MonitoringService::Stub> stub_;
};

TEST_F(MonitoringServerTest, ServesHealthForItsService) {
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  HealthStatus resp;
  grpc::Status s = CheckHealth(health.get(), kServiceName, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.status(), HealthStatus::SERVING);
}

TEST_F(MonitoringServerTest, SeededMissionsAndTheirSummary) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ListMissionsRequest list;
  list.set_filter("year = 2021");
  v1::ListMissionsResponse missions;
  grpc::Status s = stub_->ListMissions(&ctx, list, &missions);
  ASSERT_TRUE(s.ok()) << Describe(s);
  std::vector<std::string> names;
  for (const auto& m : missions.missions()) {
    names.push_back(m.name());
    ASSERT_FALSE(m.provenance().empty());
    EXPECT_EQ(m.provenance(0).source(), "001_2f9c2b9cd01aeccb.txt");
  }
  EXPECT_THAT(names, ElementsAre("missions/am-2021", "missions/kg-2021-1",
                                 "missions/kg-2021-2", "missions/kg-2021-3",
                                 "missions/kz-2021", "missions/ru-2021"));

  v1::SummarizeMissionsResponse all = Summarize({});
  EXPECT_EQ(Counts(all), (std::map<std::string, int>{
                             {"2021 states/am", 1},
                             {"2021 states/kg", 3},
                             {"2021 states/kz", 1},
                             {"2021 states/ru", 1},
                             {"2022 RS", 1},
                             {"2022 states/kz", 2},
                             {"2024 states/by", 1},
                             {"2024 states/ru", 1},
                         }));
  EXPECT_EQ(all.total_mission_count(), 11);
  // 2023 is a year the source leaves unreadable: a row that says its count
  // is not known, not a zero.
  std::map<int, int> years;
  std::map<int, bool> known;
  for (const auto& y : all.years()) {
    years[y.year()] = y.mission_count();
    known[y.year()] =
        y.count_knowledge() == cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN;
  }
  EXPECT_EQ(years,
            (std::map<int, int>{{2021, 6}, {2022, 3}, {2023, 0}, {2024, 2}}));
  EXPECT_EQ(known,
            (std::map<int, bool>{
                {2021, true}, {2022, true}, {2023, false}, {2024, true}}));

  v1::SummarizeMissionsRequest kz;
  kz.set_state("states/kz");
  kz.set_start_year(2022);
  EXPECT_EQ(Counts(Summarize(kz)),
            (std::map<std::string, int>{{"2022 states/kz", 2}}));
}

TEST_F(MonitoringServerTest, SeededOperationHasItsContingents) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::GetOperationRequest get;
  get.set_name("operations/kz-2022-01");
  v1::Operation op;
  grpc::Status s = stub_->GetOperation(&ctx, get, &op);
  ASSERT_TRUE(s.ok()) << Describe(s);
  std::map<std::string, std::string> sizes;
  for (const auto& c : op.contingents()) {
    sizes[c.state()] =
        c.has_size()
            ? absl::StrCat(c.size_qualifier() == v1::SIZE_QUALIFIER_APPROXIMATE
                               ? "~"
                               : "",
                           c.size())
            : (c.unit().empty() ? "" : c.unit(0).text());
  }
  EXPECT_EQ(
      sizes,
      (std::map<std::string, std::string>{
          {"states/am", "100"},
          {"states/by", "a company of peacekeepers from the airborne brigade"},
          {"states/kg", "~150"},
          {"states/ru", "airborne forces"},
          {"states/tj", "~200"},
      }));
  EXPECT_EQ(op.withdrawal_days(), 10);
  EXPECT_EQ(op.provenance(0).source(), "003_29fe70bcc92e977c.txt");
}

TEST_F(MonitoringServerTest, CreateUpdateDeleteWithEtagsAndSummary) {
  v1::CreateMissionRequest create;
  create.set_mission_id("kg-2021-extra");
  v1::Mission* m = create.mutable_mission();
  m->set_state("states/kg");
  m->set_region_code("KG");
  m->set_election_kind(v1::ELECTION_KIND_PRESIDENTIAL);
  m->mutable_period()->mutable_start_date()->set_year(2021);
  v1::Participant* o = m->add_observers();
  auto* name = o->add_display_name();
  name->set_language_code("en");
  name->set_text("An observer");
  v1::Mission created;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    ExpectError(stub_->CreateMission(&ctx, create, &created),
                grpc::StatusCode::UNAUTHENTICATED, "MISSING_CREDENTIALS");
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    grpc::Status s = stub_->CreateMission(&ctx, create, &created);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  EXPECT_EQ(created.name(), "missions/kg-2021-extra");
  EXPECT_FALSE(created.etag().empty());
  EXPECT_EQ(Counts(Summarize({}))["2021 states/kg"], 4);

  v1::UpdateMissionRequest update;
  update.mutable_mission()->set_name(created.name());
  update.mutable_mission()->set_etag(created.etag());
  auto* c = update.mutable_mission()->add_conclusion();
  c->set_language_code("en");
  c->set_text("Free and fair");
  update.mutable_mission()->mutable_conclusion_submitted_date()->set_year(2021);
  v1::Mission updated;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    grpc::Status s = stub_->UpdateMission(&ctx, update, &updated);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  EXPECT_EQ(updated.conclusion(0).text(), "Free and fair");
  EXPECT_EQ(updated.election_kind(), v1::ELECTION_KIND_PRESIDENTIAL);
  EXPECT_NE(updated.etag(), created.etag());
  {
    grpc::ClientContext ctx;  // the old etag again
    Prepare(&ctx, kEditorKey);
    Details d = ExpectError(stub_->UpdateMission(&ctx, update, &updated),
                            grpc::StatusCode::ABORTED, "ETAG_MISMATCH");
    EXPECT_EQ(d.info->domain(), "monitoring.cstopa.org");
  }

  v1::DeleteMissionRequest del;
  del.set_name(created.name());
  v1::Mission deleted;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    ExpectError(stub_->DeleteMission(&ctx, del, &deleted),
                grpc::StatusCode::PERMISSION_DENIED, "INSUFFICIENT_ROLE");
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kAdminKey);
    grpc::Status s = stub_->DeleteMission(&ctx, del, &deleted);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  EXPECT_TRUE(deleted.has_delete_time());
  EXPECT_EQ(Counts(Summarize({}))["2021 states/kg"], 3);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::GetMissionRequest get;
    get.set_name(created.name());
    v1::Mission out;
    ExpectError(stub_->GetMission(&ctx, get, &out), grpc::StatusCode::NOT_FOUND,
                "RESOURCE_NOT_FOUND");
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListMissionsRequest list;
    list.set_show_deleted(true);
    list.set_filter("state = \"states/kg\"");
    v1::ListMissionsResponse resp;
    grpc::Status s = stub_->ListMissions(&ctx, list, &resp);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(resp.missions_size(), 4);
  }
}

TEST_F(MonitoringServerTest, BadInputCarriesFieldViolations) {
  v1::CreateOperationRequest create;
  create.set_operation_id("bad");
  v1::Operation* op = create.mutable_operation();
  auto* t = op->add_title();
  t->set_language_code("en");
  t->set_text("Bad");
  op->set_state("states/kz");
  op->mutable_period()->mutable_start_date()->set_year(2022);
  op->mutable_period()->mutable_end_date()->set_year(2021);
  v1::Contingent* c = op->add_contingents();
  c->set_state("states/am");
  c->set_size(-100);
  op->set_status(static_cast<v1::OperationStatus>(99));
  v1::Operation out;
  grpc::ClientContext ctx;
  Prepare(&ctx, kEditorKey);
  Details d =
      ExpectError(stub_->CreateOperation(&ctx, create, &out),
                  grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT");
  EXPECT_THAT(d.bad_fields,
              UnorderedElementsAre("operation.period.end_date",
                                   "operation.contingents[0].size",
                                   "operation.status"));

  grpc::ClientContext ctx2;
  Prepare(&ctx2);
  v1::SummarizeMissionsRequest req;
  req.set_start_year(2024);
  req.set_end_year(2021);
  v1::SummarizeMissionsResponse resp;
  d = ExpectError(stub_->SummarizeMissions(&ctx2, req, &resp),
                  grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT");
  EXPECT_THAT(d.bad_fields, ElementsAre("end_year"));

  grpc::ClientContext ctx3;
  Prepare(&ctx3);
  v1::ListComplianceRecordsRequest list;
  list.set_filter("timeliness = NOT_A_LEVEL");
  v1::ListComplianceRecordsResponse records;
  d = ExpectError(stub_->ListComplianceRecords(&ctx3, list, &records),
                  grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FILTER");
  EXPECT_THAT(d.bad_fields, Contains("filter"));
}

TEST_F(MonitoringServerTest, WritesSurviveARestart) {
  v1::CreateFieldVisitRequest create;
  create.set_field_visit_id("exercise-1");
  create.mutable_field_visit()->set_kind(v1::FIELD_VISIT_KIND_EXERCISE);
  auto* t = create.mutable_field_visit()->add_title();
  t->set_language_code("en");
  t->set_text("An exercise");
  v1::FieldVisit out;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    grpc::Status s = stub_->CreateFieldVisit(&ctx, create, &out);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  ASSERT_TRUE(server_->Signal(SIGTERM).ok());
  auto exit = server_->WaitForExit(absl::Seconds(20));
  ASSERT_TRUE(exit.ok()) << exit.status();
  absl::Status restarted = server_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  stub_ = v1::MonitoringService::NewStub(server_->channel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ListFieldVisitsRequest list;
  list.set_filter("kind = FIELD_VISIT_KIND_EXERCISE");
  v1::ListFieldVisitsResponse resp;
  grpc::Status s = stub_->ListFieldVisits(&ctx, list, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(resp.field_visits_size(), 1);
  EXPECT_EQ(resp.field_visits(0).etag(), out.etag());
  // The seed loaded again on restart added nothing twice.
  EXPECT_EQ(Summarize({}).total_mission_count(), 11);
}

// Two replicas on one PostgreSQL (the throwaway server of the `postgres`
// CTest fixture): both start and seed the same schema without conflict, and
// a write through one is counted by the other's summary.
TEST(MonitoringPostgresTest, TwoReplicasShareMissionsAndSummary) {
  std::string url;
  CSTOPA_TEST_POSTGRES_URL_OR_SKIP(url);
  auto drop_schema = [&] {
    auto db = common::OpenDatabase(url, {"monitoring_itest_admin", {}});
    ASSERT_TRUE(db.ok()) << db.status();
    absl::Status s = (*db)->Write([](common::SqlTransaction& tx) {
      for (const char* sql :
           {"DROP SCHEMA IF EXISTS monitoring CASCADE",
            "DROP SCHEMA IF EXISTS monitoring_itest_admin CASCADE"}) {
        if (auto r = tx.Execute(sql, {}); !r.ok()) return r.status();
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(s.ok()) << s;
  };
  drop_schema();
  {
    std::vector<std::unique_ptr<ServerProcess>> replicas;
    for (int i = 0; i < 2; ++i) {
      ServerProcess::Options options;
      options.binary = CSTOPA_MONITORING_SERVER;
      options.drain_seconds = 2;
      // The harness passes --store=sqlite://... first; the last one wins.
      options.extra_args = {absl::StrCat("--store=", url)};
      replicas.push_back(std::make_unique<ServerProcess>(options));
      ASSERT_TRUE(replicas.back()->Launch().ok());
    }
    for (auto& r : replicas) {
      absl::Status s = r->WaitForPortFile();
      ASSERT_TRUE(s.ok()) << s << r->ReadStderr(4000);
    }
    auto a = v1::MonitoringService::NewStub(replicas[0]->channel());
    auto b = v1::MonitoringService::NewStub(replicas[1]->channel());

    v1::CreateMissionRequest create;
    create.set_mission_id("ru-2021-extra");
    create.mutable_mission()->set_state("states/ru");
    create.mutable_mission()->mutable_period()->mutable_start_date()->set_year(
        2021);
    v1::Mission created;
    {
      grpc::ClientContext ctx;
      Prepare(&ctx, kEditorKey);
      grpc::Status s = a->CreateMission(&ctx, create, &created);
      ASSERT_TRUE(s.ok()) << Describe(s);
    }
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::SummarizeMissionsResponse summary;
    grpc::Status s = b->SummarizeMissions(&ctx, {}, &summary);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(summary.total_mission_count(), 12);  // 11 seeded, once
    std::map<std::string, int> counts;
    for (const auto& c : summary.counts())
      counts[absl::StrCat(c.year(), " ", c.state())] = c.mission_count();
    EXPECT_EQ(counts["2021 states/ru"], 2);
    EXPECT_EQ(counts["2021 states/kg"], 3);
  }
  drop_schema();
}

// ---------------------------------------------------------------------------
// WatchMonitoring
// ---------------------------------------------------------------------------

std::unique_ptr<grpc::ClientReaderInterface<v1::WatchMonitoringResponse>>
OpenWatch(const std::shared_ptr<grpc::Channel>& channel,
          grpc::ClientContext* ctx, const v1::WatchMonitoringRequest& req) {
  return v1::MonitoringService::NewStub(channel)->WatchMonitoring(ctx, req);
}

cstopa::type::v1::LocalizedText En(const std::string& text) {
  cstopa::type::v1::LocalizedText t;
  t.set_language_code("en");
  t.set_text(text);
  return t;
}

// The ID of conformance write `i`'s resource; with the run's tag, for
// databases shared between runs.
std::string WatchId(int i) { return absl::StrCat("w", RunTag(), "-", i); }

// Write i of the conformance cases, one change each, through every
// collection: in each block of ten, a mission, an operation, a regional
// operation, a compliance record and a field visit are created, then each
// is updated (the regional operation deleted), five writes later.
std::string WatchWrite(int i, const std::shared_ptr<grpc::Channel>& channel) {
  static_assert(kWatchWriteBlock % 10 == 0);
  auto stub = v1::MonitoringService::NewStub(channel);
  grpc::ClientContext ctx;
  Prepare(&ctx, i % 10 == 7 ? kAdminKey : kEditorKey);
  const std::string id = WatchId(i);
  const std::string earlier = WatchId(i - 5);  // for i % 10 >= 5
  grpc::Status s;
  std::string name;
  switch (i % 10) {
    case 0: {
      v1::CreateMissionRequest req;
      req.set_mission_id(id);
      req.mutable_mission()->set_state("states/kz");
      req.mutable_mission()->mutable_period()->mutable_start_date()->set_year(
          2026);
      v1::Mission out;
      s = stub->CreateMission(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 1: {
      v1::CreateOperationRequest req;
      req.set_operation_id(id);
      *req.mutable_operation()->add_title() = En("Operation " + id);
      req.mutable_operation()->set_state("states/kz");
      v1::Operation out;
      s = stub->CreateOperation(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 2: {
      v1::CreateRegionalOperationRequest req;
      req.set_regional_operation_id(id);
      *req.mutable_regional_operation()->add_title() = En("Channel " + id);
      v1::RegionalOperation out;
      s = stub->CreateRegionalOperation(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 3: {
      v1::CreateComplianceRecordRequest req;
      req.set_compliance_record_id(id);
      *req.mutable_compliance_record()->add_obligation() = En("Report " + id);
      v1::ComplianceRecord out;
      s = stub->CreateComplianceRecord(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 4: {
      v1::CreateFieldVisitRequest req;
      req.set_field_visit_id(id);
      req.mutable_field_visit()->set_kind(v1::FIELD_VISIT_KIND_EXERCISE);
      *req.mutable_field_visit()->add_title() = En("Exercise " + id);
      v1::FieldVisit out;
      s = stub->CreateFieldVisit(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 5: {
      v1::UpdateMissionRequest req;
      req.mutable_mission()->set_name("missions/" + earlier);
      req.mutable_mission()->set_state("states/ru");
      v1::Mission out;
      s = stub->UpdateMission(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 6: {
      v1::UpdateOperationRequest req;
      req.mutable_operation()->set_name("operations/" + earlier);
      req.mutable_operation()->set_commanding_state("states/ru");
      v1::Operation out;
      s = stub->UpdateOperation(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 7: {
      v1::DeleteRegionalOperationRequest req;
      req.set_name("regionalOperations/" + earlier);
      v1::RegionalOperation out;
      s = stub->DeleteRegionalOperation(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 8: {
      v1::UpdateComplianceRecordRequest req;
      req.mutable_compliance_record()->set_name("complianceRecords/" + earlier);
      *req.mutable_compliance_record()->add_assessment() = En("Met " + id);
      v1::ComplianceRecord out;
      s = stub->UpdateComplianceRecord(&ctx, req, &out);
      name = out.name();
      break;
    }
    default: {
      v1::UpdateFieldVisitRequest req;
      req.mutable_field_visit()->set_name("fieldVisits/" + earlier);
      *req.mutable_field_visit()->add_findings() = En("Seen " + id);
      v1::FieldVisit out;
      s = stub->UpdateFieldVisit(&ctx, req, &out);
      name = out.name();
      break;
    }
  }
  EXPECT_TRUE(s.ok()) << "write " << i << ": " << Describe(s);
  return s.ok() ? name : "";
}

WatchClient<v1::WatchMonitoringResponse> MonitoringWatchClient() {
  WatchClient<v1::WatchMonitoringResponse> client;
  client.open = [](const std::shared_ptr<grpc::Channel>& channel,
                   grpc::ClientContext* ctx, const std::string& token) {
    v1::WatchMonitoringRequest req;
    req.set_resume_token(token);
    return OpenWatch(channel, ctx, req);
  };
  client.write = WatchWrite;
  return client;
}

TEST_F(MonitoringServerTest, ThreeWatchersSeeEachWriteOnceInOrder) {
  ExpectConcurrentWatchersSeeEachWriteOnceInOrder(server_.get(),
                                                  MonitoringWatchClient());
}

TEST_F(MonitoringServerTest, WatchResumesAfterARestartWithoutLoss) {
  ExpectResumeAfterRestartSeesMissedWrites(server_.get(),
                                           MonitoringWatchClient());
}

TEST_F(MonitoringServerTest, WatchRefusesADamagedToken) {
  ExpectDamagedResumeTokenIsInvalidArgument(server_.get(),
                                            MonitoringWatchClient());
}

// The filters over gRPC: a stream of operations and field visits carries
// only their changes, with the right member; one of a single mission only
// its; a bad filter ends the call with INVALID_ARGUMENT and its fields.
TEST_F(MonitoringServerTest, FilteredWatchCarriesOnlyWhatItAsksFor) {
  auto open = [](v1::WatchMonitoringRequest req) {
    return [req](const std::shared_ptr<grpc::Channel>& channel,
                 grpc::ClientContext* ctx,
                 const std::string&) { return OpenWatch(channel, ctx, req); };
  };
  v1::WatchMonitoringRequest some;
  some.add_collections("operations");
  some.add_collections("fieldVisits");
  v1::WatchMonitoringRequest one;
  one.set_name("missions/" + WatchId(0));
  auto channel = server_->channel();
  WatchReader<v1::WatchMonitoringResponse> w_some(open(some), channel, "");
  WatchReader<v1::WatchMonitoringResponse> w_one(open(one), channel, "");
  ASSERT_TRUE(w_some.WaitStarted()) << Describe(w_some.status());
  ASSERT_TRUE(w_one.WaitStarted()) << Describe(w_one.status());
  // Writes 0..9: mission 0 (updated at 5), operation 1 (6), regional
  // operation 2 (deleted at 7), compliance record 3 (8), field visit 4 (9).
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back(WatchWrite(i, channel));
  std::vector<std::string> want;
  for (int i : {1, 4, 6, 9}) want.push_back(names[i]);
  ASSERT_TRUE(w_some.WaitForChanges(want.size())) << Describe(w_some.status());
  ASSERT_TRUE(w_one.WaitForChanges(2)) << Describe(w_one.status());
  // A last change of each filter's: nothing more came between.
  want.push_back(WatchWrite(11, channel));  // an operation
  ASSERT_TRUE(w_some.WaitForChanges(want.size())) << Describe(w_some.status());
  {
    v1::DeleteMissionRequest req;
    req.set_name(one.name());
    grpc::ClientContext ctx;
    Prepare(&ctx, kAdminKey);
    v1::Mission out;
    grpc::Status s = stub_->DeleteMission(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }
  ASSERT_TRUE(w_one.WaitForChanges(3)) << Describe(w_one.status());
  std::vector<std::string> got;
  for (const auto& m : w_some.changes()) {
    got.push_back(m.name());
    EXPECT_TRUE(m.has_operation() || m.has_field_visit())
        << m.ShortDebugString();
  }
  EXPECT_EQ(got, want);
  std::vector<std::string> types;
  for (const auto& m : w_one.changes()) {
    types.push_back(v1::ChangeType_Name(m.change_type()));
    EXPECT_EQ(m.name(), one.name());
    EXPECT_EQ(m.mission().name(), one.name());
  }
  EXPECT_THAT(types, ElementsAre("CHANGE_TYPE_CREATED", "CHANGE_TYPE_UPDATED",
                                 "CHANGE_TYPE_DELETED"));
  EXPECT_EQ(w_one.changes()[1].mission().state(), "states/ru");

  v1::WatchMonitoringRequest bad;
  bad.add_collections("regional_operations");
  bad.set_name("states/kz");
  WatchReader<v1::WatchMonitoringResponse> w_bad(open(bad), channel, "");
  ASSERT_TRUE(w_bad.WaitDone());
  EXPECT_EQ(w_bad.messages(), 0);
  Details d = ExpectError(w_bad.status(), grpc::StatusCode::INVALID_ARGUMENT,
                          "INVALID_WATCH_FILTER");
  EXPECT_THAT(d.bad_fields, ElementsAre("collections[0]", "name"));
}

// Two replicas on one PostgreSQL database (of the test's own), started
// together (migrations and seed race on one empty schema): a watcher on one
// sees the writes made through both, and its token resumes on the other.
TEST(MonitoringWatchPostgresTest, AWatcherOnOneReplicaSeesWritesThroughBoth) {
  std::string base;
  CSTOPA_TEST_POSTGRES_URL_OR_SKIP(base);
  ScratchDatabases databases(base);
  // The shared database when none can be made: the case watches from now
  // and its IDs carry the run's tag.
  const std::string url = databases.New("cstopa_monitoring_itest");
  std::vector<std::unique_ptr<ServerProcess>> replicas;
  for (int i = 0; i < 2; ++i) {
    ServerProcess::Options options;
    options.binary = CSTOPA_MONITORING_SERVER;
    options.extra_args = {absl::StrCat("--store=", url)};
    replicas.push_back(std::make_unique<ServerProcess>(options));
    ASSERT_TRUE(replicas.back()->Launch().ok());
  }
  for (auto& r : replicas) {
    absl::Status s = r->WaitForPortFile();
    ASSERT_TRUE(s.ok()) << s << r->ReadStderr(4000);
  }
  ExpectReplicaWatcherSeesWritesThroughOther(
      replicas[0].get(), replicas[1].get(), MonitoringWatchClient());
  if (::testing::Test::HasFailure()) {
    for (auto& r : replicas)
      std::cerr << "---- replica stderr (tail) ----\n"
                << r->ReadStderr(4000) << "---- end ----\n";
  }
  replicas.clear();  // before the database is dropped
}

}  // namespace
}  // namespace cstopa::itest
