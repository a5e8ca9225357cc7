// The facts of the monitoring seed as a client reads them through the API,
// on SQLite and, where the test command started one, on PostgreSQL: an
// operation declared completed has an end (and is not among those of a
// later day), the date columns honour what a range says of its unstated
// start or end, and a year whose source is unreadable has no missions
// rather than a count of zero; with checks of those classes over the whole
// seed.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/base/dates.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/common/testing/test_postgres.h"
#include "services/monitoring/embedded_files.h"
#include "services/monitoring/monitoring_resources.h"
#include "services/monitoring/monitoring_service.h"

namespace cstopa::monitoring {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kKzOperation[] = "operations/kz-2022-01";

google::type::Date D(int y, int m = 0, int d = 0) {
  google::type::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

// YYYYMMDD as a filter's date literal, YYYY-MM-DD.
std::string DateText(int64_t day) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d",
                static_cast<int>(day / 10000),
                static_cast<int>(day / 100 % 100), static_cast<int>(day % 100));
  return buf;
}

void SetText(cstopa::type::v1::LocalizedText* t, const std::string& text) {
  t->set_language_code("en");
  t->set_text(text);
}

class MonitoringSeedFactsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL test server in this build";
    auto db = common::OpenTestDatabase(GetParam(), MonitoringSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ =
        std::make_unique<MonitoringResources>(db_.get(), &tokens_, &keys_);
    handler_ = std::make_unique<MonitoringHandler>(resources_.get());
    api_ = std::make_unique<v1::MonitoringServiceBlocking>(handler_.get());
    ASSERT_TRUE(handler_->LoadSeed(kMonitoringSeed).ok());
  }

  v1::Operation GetOperation(const std::string& name) {
    v1::GetOperationRequest req;
    req.set_name(name);
    v1::Operation op;
    absl::Status s = api_->GetOperation({}, req, &op);
    EXPECT_TRUE(s.ok()) << name << ": " << s;
    return op;
  }

  std::vector<v1::Operation> Operations(const std::string& filter = "") {
    v1::ListOperationsRequest req;
    req.set_page_size(1000);
    req.set_filter(filter);
    v1::ListOperationsResponse resp;
    absl::Status s = api_->ListOperations({}, req, &resp);
    EXPECT_TRUE(s.ok()) << filter << ": " << s;
    return {resp.operations().begin(), resp.operations().end()};
  }

  std::vector<std::string> OperationNames(const std::string& filter) {
    std::vector<std::string> out;
    for (const auto& op : Operations(filter)) out.push_back(op.name());
    return out;
  }

  // The operations that could have been under way on `day` (YYYY-MM-DD):
  // begun by it and not ended before it.
  std::vector<std::string> OperationsOn(const std::string& day) {
    return OperationNames("start_date <= " + day + " AND end_date >= " + day);
  }

  std::vector<v1::Mission> Missions(const std::string& filter = "") {
    v1::ListMissionsRequest req;
    req.set_page_size(1000);
    req.set_filter(filter);
    v1::ListMissionsResponse resp;
    absl::Status s = api_->ListMissions({}, req, &resp);
    EXPECT_TRUE(s.ok()) << filter << ": " << s;
    return {resp.missions().begin(), resp.missions().end()};
  }

  absl::Status CreateOperation(const std::string& id, const v1::Operation& op) {
    v1::CreateOperationRequest req;
    req.set_operation_id(id);
    *req.mutable_operation() = op;
    v1::Operation out;
    return api_->CreateOperation(common::testing::EditorCaller(), req, &out);
  }

  static v1::Operation NewOperation() {
    v1::Operation op;
    SetText(op.add_title(), "An operation");
    op.set_state("states/tj");
    return op;
  }

  common::PageTokenCodec tokens_{"monitoring-seed-facts-test"};
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  std::unique_ptr<common::Database> db_;
  std::unique_ptr<MonitoringResources> resources_;
  std::unique_ptr<MonitoringHandler> handler_;
  std::unique_ptr<v1::MonitoringServiceBlocking> api_;
};

// ---------------------------------------------------------------------------
// 5. An operation declared completed has an end.
// ---------------------------------------------------------------------------

TEST_P(MonitoringSeedFactsTest, KazakhstanOperationEndsByJanuary2022) {
  v1::Operation op = GetOperation(kKzOperation);
  EXPECT_EQ(op.status(), v1::OPERATION_STATUS_COMPLETED);
  EXPECT_EQ(common::EarliestDay(op.period().start_date(), true), 20220106);
  // "had been completed" in a report of January 2022, on a day not stated.
  EXPECT_FALSE(op.period().has_end_date());
  ASSERT_TRUE(op.period().has_ended_by());
  EXPECT_EQ(op.period().ended_by().year(), 2022);
  EXPECT_EQ(op.period().ended_by().month(), 1);
  EXPECT_EQ(op.period().ended_by().day(), 0);
  EXPECT_THAT(op.provenance(0).note(), HasSubstr("`period.ended_by` 2022-01"));
  EXPECT_THAT(op.provenance(0).quote(), HasSubstr("had been completed"));

  // What the sources say of it on a day: under way on its arrival, not
  // known on a later January day, over in February.
  EXPECT_EQ(common::RangeOn(op.period(), 20220106), common::DayFact::kHeld);
  EXPECT_EQ(common::RangeOn(op.period(), 20220120), common::DayFact::kNotKnown);
  EXPECT_EQ(common::RangeOn(op.period(), 20220201), common::DayFact::kNotHeld);
  EXPECT_EQ(common::RangeOn(op.period(), 20220105), common::DayFact::kNotHeld);
}

TEST_P(MonitoringSeedFactsTest, NoOperationIsUnderWayOnFebruary1st2022) {
  EXPECT_THAT(OperationsOn("2022-02-01"), IsEmpty());
  EXPECT_THAT(OperationsOn("2023-06-01"), IsEmpty());
  EXPECT_THAT(OperationNames("end_date >= 2022-02-01"), IsEmpty());
  // It was on its arrival, and may have been on the last day of January.
  EXPECT_THAT(OperationsOn("2022-01-06"), ElementsAre(kKzOperation));
  EXPECT_THAT(OperationsOn("2022-01-31"), ElementsAre(kKzOperation));
  EXPECT_THAT(OperationsOn("2022-01-05"), IsEmpty());
  EXPECT_THAT(OperationNames("end_date <= 2022-01-31"),
              ElementsAre(kKzOperation));
}

// Every operation declared completed (or withdrawn) has an end, and its
// sources bound it: the end is no later than the latest day of the latest
// source that reports it completed.
TEST_P(MonitoringSeedFactsTest, EveryCompletedOperationHasAnEnd) {
  std::vector<v1::Operation> all = Operations();
  ASSERT_FALSE(all.empty());
  int completed = 0;
  for (const v1::Operation& op : all) {
    if (op.status() != v1::OPERATION_STATUS_COMPLETED &&
        op.status() != v1::OPERATION_STATUS_WITHDRAWN)
      continue;
    ++completed;
    EXPECT_TRUE(op.period().has_end_date() || op.period().has_ended_by())
        << op.name() << " is " << v1::OperationStatus_Name(op.status())
        << " but has no end";
    int64_t latest_source = 0;
    for (const auto& p : op.provenance())
      latest_source =
          std::max(latest_source, common::LatestDay(p.source_date(), true));
    EXPECT_LE(common::LatestPossibleDay(op.period()), latest_source)
        << op.name() << " could still be under way after its sources";
    // So no "active" answer after them.
    EXPECT_THAT(OperationNames("end_date > " + DateText(latest_source)),
                Not(Contains(op.name())));
  }
  EXPECT_EQ(completed, 1);
}

// ---------------------------------------------------------------------------
// The date columns honour what a range says of an unstated start or end.
// ---------------------------------------------------------------------------

TEST_P(MonitoringSeedFactsTest, DateColumnsReadUnstatedBoundsAsPossibleDays) {
  // Begun after 1 March 2023 and over by the end of March, days unstated.
  v1::Operation bounded = NewOperation();
  *bounded.mutable_period()->mutable_start_after() = D(2023, 3, 1);
  *bounded.mutable_period()->mutable_ended_by() = D(2023, 3);
  ASSERT_TRUE(CreateOperation("bounded", bounded).ok());
  // Attested on some days, unknown beyond them.
  v1::Operation attested = NewOperation();
  *attested.mutable_period()->mutable_known_from() = D(2023, 3, 10);
  *attested.mutable_period()->mutable_known_until() = D(2023, 3, 20);
  ASSERT_TRUE(CreateOperation("attested", attested).ok());

  EXPECT_THAT(OperationNames("start_date <= 2023-03-01"),
              ElementsAre("operations/attested", kKzOperation));
  EXPECT_THAT(
      OperationNames("start_date <= 2023-03-02"),
      ElementsAre("operations/attested", "operations/bounded", kKzOperation));
  EXPECT_THAT(OperationNames("end_date >= 2023-04-01"),
              ElementsAre("operations/attested"));
  EXPECT_THAT(OperationNames("end_date >= 2023-03-31"),
              ElementsAre("operations/attested", "operations/bounded"));
  EXPECT_THAT(OperationsOn("2023-03-15"),
              ElementsAre("operations/attested", "operations/bounded"));
  EXPECT_THAT(OperationsOn("2023-02-15"), ElementsAre("operations/attested"));
}

TEST_P(MonitoringSeedFactsTest, AWithdrawalCannotStartBeforeTheStartAfter) {
  v1::Operation op = NewOperation();
  *op.mutable_period()->mutable_start_after() = D(2023, 3, 1);
  *op.mutable_withdrawal_period()->mutable_start_date() = D(2023, 3, 1);
  EXPECT_THAT(common::testing::FieldsOf(CreateOperation("early", op)),
              ElementsAre("operation.withdrawal_period.start_date"));
  *op.mutable_withdrawal_period()->mutable_start_date() = D(2023, 3, 2);
  EXPECT_TRUE(CreateOperation("in-time", op).ok());
}

// ---------------------------------------------------------------------------
// 6. A year whose source is unreadable has no missions, and their number is
//    not known, not zero.
// ---------------------------------------------------------------------------

TEST_P(MonitoringSeedFactsTest, NoMissionsAreStoredForTheUnreadable2023) {
  EXPECT_THAT(Missions("year = 2023"), IsEmpty());
  EXPECT_THAT(Missions("start_date <= 2023-12-31 AND end_date >= 2023-01-01"),
              IsEmpty());
  // Every mission stored counts under a known year.
  std::vector<v1::Mission> all = Missions();
  EXPECT_EQ(all.size(), 11u);
  for (const v1::Mission& m : all) {
    EXPECT_GT(MissionYear(m), 0) << m.name();
    ASSERT_FALSE(m.provenance().empty()) << m.name();
  }
  EXPECT_THAT(Missions("year = 0"), IsEmpty());

  v1::SummarizeMissionsResponse summary;
  ASSERT_TRUE(
      api_->SummarizeMissions({}, v1::SummarizeMissionsRequest(), &summary)
          .ok());
  // 2023 is listed, not known (sourceGaps/missions-2023); every other year
  // is known and has missions.
  std::vector<int> years;
  for (const auto& y : summary.years()) {
    years.push_back(y.year());
    if (y.year() == 2023) {
      EXPECT_EQ(y.mission_count(), 0);
      EXPECT_EQ(y.count_knowledge(),
                cstopa::type::v1::AS_OF_KNOWLEDGE_NOT_KNOWN);
    } else {
      EXPECT_GT(y.mission_count(), 0) << y.year();
      EXPECT_EQ(y.count_knowledge(), cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN)
          << y.year();
    }
  }
  EXPECT_THAT(years, ElementsAre(2021, 2022, 2023, 2024));
  for (const auto& c : summary.counts()) EXPECT_GT(c.mission_count(), 0);
  EXPECT_EQ(summary.total_mission_count(), 11);
}

INSTANTIATE_TEST_SUITE_P(Backends, MonitoringSeedFactsTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::monitoring
