// Store tests of the monitoring resources on both back ends: the derived
// columns List filters on, keyset pages, soft delete, and the mission counts
// behind SummarizeMissions.
#include "services/monitoring/monitoring_resources.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::monitoring {
namespace {

google::type::Date D(int y, int m = 0, int d = 0) {
  google::type::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

v1::Mission NewMission(const std::string& id, const std::string& state,
                       int year) {
  v1::Mission m;
  m.set_name("missions/" + id);
  m.set_state(state);
  if (year != 0) {
    *m.mutable_period()->mutable_start_date() = D(year);
    *m.mutable_period()->mutable_end_date() = D(year);
  }
  return m;
}

TEST(MissionYearTest, StartYearElseEarliestElectionDateElseZero) {
  v1::Mission m;
  EXPECT_EQ(MissionYear(m), 0);
  *m.add_election_dates() = D(2024, 3, 17);
  *m.add_election_dates() = D(2023, 12);
  EXPECT_EQ(MissionYear(m), 2023);
  *m.mutable_period()->mutable_start_date() = D(2021, 9, 18);
  EXPECT_EQ(MissionYear(m), 2021);
}

// Runs on SQLite and, where the test command started one, on PostgreSQL (in
// a schema of its own per test).
class MonitoringStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL server for tests";
    auto db = common::OpenTestDatabase(GetParam(), MonitoringSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ =
        std::make_unique<MonitoringResources>(db_.get(), &tokens_, &keys_);
  }

  // CountMissions, waited for.
  absl::StatusOr<std::vector<MissionGroup>> CountMissions(
      const MissionCountQuery& q) {
    absl::StatusOr<std::vector<MissionGroup>> result;
    absl::Notification done;
    resources_->CountMissions(
        q, absl::Now() + absl::Seconds(30),
        [&](absl::StatusOr<std::vector<MissionGroup>> groups) {
          result = std::move(groups);
          done.Notify();
        });
    done.WaitForNotification();
    return result;
  }

  void Create(v1::Mission m) {
    ASSERT_TRUE(resources_->missions().store().Create(&m).ok()) << m.name();
  }

  std::vector<std::string> ListMissionNames(const std::string& filter,
                                            const std::string& order_by = "") {
    common::ListQuery q;
    q.filter = filter;
    q.order_by = order_by;
    q.page_size = 1000;
    v1::ListMissionsResponse resp;
    auto next = resources_->missions().store().List(
        q, [&]() { return resp.add_missions(); });
    EXPECT_TRUE(next.ok()) << next.status();
    std::vector<std::string> names;
    for (const auto& m : resp.missions()) names.push_back(m.name());
    return names;
  }

  std::unique_ptr<common::Database> db_;
  common::PageTokenCodec tokens_{"k"};
  common::ApiKeyStore keys_;
  std::unique_ptr<MonitoringResources> resources_;
};

TEST_P(MonitoringStoreTest, MissionsFilterOnYearStateKindAndObserver) {
  Create(NewMission("a", "states/kz", 2021));
  Create(NewMission("b", "states/kz", 2022));
  v1::Mission c = NewMission("c", "states/ru", 2022);
  c.set_election_kind(v1::ELECTION_KIND_REFERENDUM);
  c.add_observers()->set_person("persons/viktor-rogalev");
  Create(c);
  v1::Mission d = NewMission("d", "", 0);
  d.set_region_code("RS");
  *d.add_election_dates() = D(2022, 4, 3);
  Create(d);

  EXPECT_THAT(ListMissionNames("year = 2022"),
              ::testing::ElementsAre("missions/b", "missions/c", "missions/d"));
  EXPECT_THAT(ListMissionNames("state = \"states/kz\" AND year >= 2022"),
              ::testing::ElementsAre("missions/b"));
  EXPECT_THAT(ListMissionNames("election_kind = ELECTION_KIND_REFERENDUM"),
              ::testing::ElementsAre("missions/c"));
  EXPECT_THAT(ListMissionNames("observer = \"persons/viktor-rogalev\""),
              ::testing::ElementsAre("missions/c"));
  EXPECT_THAT(ListMissionNames("region_code = \"RS\""),
              ::testing::ElementsAre("missions/d"));
  // A partial start reads as its earliest day, a partial end as its latest.
  EXPECT_THAT(ListMissionNames("start_date <= 2021-01-01"),
              ::testing::ElementsAre("missions/a", "missions/d"));
  EXPECT_THAT(ListMissionNames("end_date >= 2022-12-31"),
              ::testing::ElementsAre("missions/b", "missions/c", "missions/d"));
  EXPECT_THAT(ListMissionNames("", "year desc, name"),
              ::testing::ElementsAre("missions/b", "missions/c", "missions/d",
                                     "missions/a"));
}

TEST_P(MonitoringStoreTest, CountMissionsGroupsLiveMissionsByYearAndState) {
  Create(NewMission("kg1", "states/kg", 2021));
  Create(NewMission("kg2", "states/kg", 2021));
  Create(NewMission("kg3", "states/kg", 2021));
  Create(NewMission("kz1", "states/kz", 2022));
  Create(NewMission("kz2", "states/kz", 2022));
  Create(NewMission("gone", "states/kz", 2022));
  v1::Mission rs = NewMission("rs", "", 2022);
  rs.set_region_code("RS");
  Create(rs);
  v1::Mission out;
  ASSERT_TRUE(
      resources_->missions().store().Delete("missions/gone", "", &out).ok());

  auto groups = CountMissions({});
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 3u);
  EXPECT_EQ((*groups)[0].year, 2021);
  EXPECT_EQ((*groups)[0].state, "states/kg");
  EXPECT_EQ((*groups)[0].count, 3);
  // Within a year, "" (region code only) sorts before "states/...".
  EXPECT_EQ((*groups)[1].year, 2022);
  EXPECT_EQ((*groups)[1].state, "");
  EXPECT_EQ((*groups)[1].region_code, "RS");
  EXPECT_EQ((*groups)[1].count, 1);
  EXPECT_EQ((*groups)[2].state, "states/kz");
  EXPECT_EQ((*groups)[2].count, 2);  // the deleted one is not counted

  MissionCountQuery q;
  q.start_year = 2022;
  q.state = "states/kz";
  groups = CountMissions(q);
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].count, 2);

  q = {};
  q.end_year = 2021;
  q.filter = "state = \"states/kg\"";
  groups = CountMissions(q);
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].count, 3);

  // One state is one group, whether or not each mission gives its code.
  v1::Mission coded = NewMission("kz3", "states/kz", 2022);
  coded.set_region_code("KZ");
  Create(coded);
  groups = CountMissions({});
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 3u);
  EXPECT_EQ((*groups)[2].state, "states/kz");
  EXPECT_EQ((*groups)[2].region_code, "KZ");
  EXPECT_EQ((*groups)[2].count, 3);

  q = {};
  q.filter = "nonsense = 1";
  groups = CountMissions(q);
  ASSERT_EQ(groups.status().code(), absl::StatusCode::kInvalidArgument);
  auto info = common::GetErrorInfo(groups.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "INVALID_FILTER");
}

TEST_P(MonitoringStoreTest, OperationsFilterOnContingentStateAndStatus) {
  v1::Operation op;
  op.set_name("operations/kz-2022-01");
  op.set_state("states/kz");
  op.set_status(v1::OPERATION_STATUS_COMPLETED);
  auto* t = op.add_title();
  t->set_language_code("en");
  t->set_text("Peace mission of the CSTO forces in Kazakhstan");
  op.add_contingents()->set_state("states/am");
  op.add_contingents()->set_state("states/by");
  *op.mutable_period()->mutable_start_date() = D(2022, 1, 6);
  ASSERT_TRUE(resources_->operations().store().Create(&op).ok());
  v1::Operation other;
  other.set_name("operations/other");
  other.set_state("states/tj");
  ASSERT_TRUE(resources_->operations().store().Create(&other).ok());

  auto names = [&](const std::string& filter) {
    common::ListQuery q;
    q.filter = filter;
    v1::ListOperationsResponse resp;
    auto next = resources_->operations().store().List(
        q, [&]() { return resp.add_operations(); });
    EXPECT_TRUE(next.ok()) << next.status();
    std::vector<std::string> out;
    for (const auto& o : resp.operations()) out.push_back(o.name());
    return out;
  };
  EXPECT_THAT(names("contingent_state = \"states/by\""),
              ::testing::ElementsAre("operations/kz-2022-01"));
  EXPECT_THAT(names("status = OPERATION_STATUS_COMPLETED"),
              ::testing::ElementsAre("operations/kz-2022-01"));
  EXPECT_THAT(names("title:\"kazakhstan\""),
              ::testing::ElementsAre("operations/kz-2022-01"));
  EXPECT_THAT(names("start_date = 2022-01-06"),
              ::testing::ElementsAre("operations/kz-2022-01"));
  EXPECT_THAT(names("contingent_state != \"states/by\""),
              ::testing::ElementsAre("operations/other"));
}

TEST_P(MonitoringStoreTest, ListPagesWithoutGapsOrRepeatsAndHidesDeleted) {
  for (int i = 0; i < 23; ++i) {
    Create(NewMission(absl::StrCat("m", 100 + i),
                      i % 2 ? "states/kz" : "states/ru", 2000 + i % 5));
  }
  v1::Mission out;
  ASSERT_TRUE(
      resources_->missions().store().Delete("missions/m105", "", &out).ok());
  common::ListQuery q;
  q.order_by = "year desc";
  q.page_size = 4;
  std::vector<std::pair<int, std::string>> seen;
  for (int pages = 0; pages < 20; ++pages) {
    v1::ListMissionsResponse resp;
    auto next = resources_->missions().store().List(
        q, [&]() { return resp.add_missions(); });
    ASSERT_TRUE(next.ok()) << next.status();
    for (const auto& m : resp.missions())
      seen.push_back({MissionYear(m), m.name()});
    if (next->empty()) break;
    q.page_token = *next;
  }
  ASSERT_EQ(seen.size(), 22u);
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_TRUE(seen[i - 1].first > seen[i].first ||
                (seen[i - 1].first == seen[i].first &&
                 seen[i - 1].second < seen[i].second))
        << i;
    EXPECT_NE(seen[i].second, "missions/m105");
  }
}

TEST_P(MonitoringStoreTest, ComplianceAndRegionalOperationColumns) {
  v1::ComplianceRecord r;
  r.set_name("complianceRecords/iib");
  auto* o = r.add_obligation();
  o->set_language_code("en");
  o->set_text("Data submission to the Interstate Information Bank");
  r.set_timeliness(v1::COMPLIANCE_LEVEL_DEFICIENT);
  ASSERT_TRUE(resources_->compliance_records().store().Create(&r).ok());
  common::ListQuery q;
  q.filter =
      "obligation:\"information bank\" AND timeliness != "
      "COMPLIANCE_LEVEL_MET AND completeness = "
      "COMPLIANCE_LEVEL_UNSPECIFIED";
  v1::ListComplianceRecordsResponse resp;
  auto next = resources_->compliance_records().store().List(
      q, [&]() { return resp.add_compliance_records(); });
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(resp.compliance_records_size(), 1);

  v1::RegionalOperation ro;
  ro.set_name("regionalOperations/illegal-migrant");
  ro.add_participating_states("states/kg");
  ASSERT_TRUE(resources_->regional_operations().store().Create(&ro).ok());
  q = {};
  q.filter = "participating_state = \"states/kg\"";
  v1::ListRegionalOperationsResponse ros;
  next = resources_->regional_operations().store().List(
      q, [&]() { return ros.add_regional_operations(); });
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(ros.regional_operations_size(), 1);

  v1::FieldVisit fv;
  fv.set_name("fieldVisits/v");
  fv.set_kind(v1::FIELD_VISIT_KIND_EXERCISE);
  ASSERT_TRUE(resources_->field_visits().store().Create(&fv).ok());
  q = {};
  q.filter = "kind = FIELD_VISIT_KIND_BORDER_REGION";
  v1::ListFieldVisitsResponse fvs;
  next = resources_->field_visits().store().List(
      q, [&]() { return fvs.add_field_visits(); });
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(fvs.field_visits_size(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, MonitoringStoreTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::monitoring
