// Events resources on both back ends: effective time bounds, the change log
// written in the same transaction as each write, and List as a change feed.
#include "services/events/events_resources.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::events {
namespace {

using google::protobuf::util::TimeUtil;

int64_t Micros(absl::CivilSecond t, const char* zone) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(zone, &tz));
  return absl::ToUnixMicros(absl::FromCivil(t, tz));
}

v1::Event DateOnly(int y1, int m1, int d1, int y2, int m2, int d2,
                   const std::string& zone) {
  v1::Event e;
  auto* s = e.mutable_dates()->mutable_start_date();
  s->set_year(y1);
  s->set_month(m1);
  s->set_day(d1);
  auto* t = e.mutable_dates()->mutable_end_date();
  t->set_year(y2);
  t->set_month(m2);
  t->set_day(d2);
  e.set_time_zone(zone);
  return e;
}

TEST(EffectiveTimesTest, DateOnlyEventsSpanTheirLocalDays) {
  v1::Event e = DateOnly(2022, 4, 5, 2022, 4, 6, "Europe/Moscow");
  EXPECT_EQ(EffectiveStart(e),
            Micros(absl::CivilSecond(2022, 4, 5, 0, 0, 0), "Europe/Moscow"));
  EXPECT_EQ(
      EffectiveEnd(e),
      Micros(absl::CivilSecond(2022, 4, 7, 0, 0, 0), "Europe/Moscow") - 1);
  // Moscow midnight is 21:00 UTC the day before.
  EXPECT_EQ(EffectiveStart(e),
            Micros(absl::CivilSecond(2022, 4, 4, 21, 0, 0), "UTC"));
}

TEST(EffectiveTimesTest, PartialDatesWidenAndNoZoneMeansUtc) {
  v1::Event year = DateOnly(2025, 0, 0, 2025, 0, 0, "");
  EXPECT_EQ(EffectiveStart(year),
            Micros(absl::CivilSecond(2025, 1, 1, 0, 0, 0), "UTC"));
  EXPECT_EQ(EffectiveEnd(year),
            Micros(absl::CivilSecond(2026, 1, 1, 0, 0, 0), "UTC") - 1);
  v1::Event month = DateOnly(2024, 2, 0, 2024, 2, 0, "");
  EXPECT_EQ(EffectiveEnd(month),
            Micros(absl::CivilSecond(2024, 3, 1, 0, 0, 0), "UTC") - 1);
}

TEST(EffectiveTimesTest, ExactTimesWinAndUnknownIsTheMinimum) {
  v1::Event e = DateOnly(2024, 4, 18, 2024, 4, 18, "Europe/Moscow");
  *e.mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(
      Micros(absl::CivilSecond(2024, 4, 18, 10, 0, 0), "Europe/Moscow"));
  EXPECT_EQ(EffectiveStart(e),
            Micros(absl::CivilSecond(2024, 4, 18, 10, 0, 0), "Europe/Moscow"));
  // No end time: the end of the last day.
  EXPECT_EQ(
      EffectiveEnd(e),
      Micros(absl::CivilSecond(2024, 4, 19, 0, 0, 0), "Europe/Moscow") - 1);
  v1::Event only_time;
  *only_time.mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(
      Micros(absl::CivilSecond(2024, 4, 18, 23, 30, 0), "UTC"));
  EXPECT_EQ(EffectiveEnd(only_time),
            Micros(absl::CivilSecond(2024, 4, 19, 0, 0, 0), "UTC") - 1);
  v1::Event none;
  EXPECT_EQ(EffectiveStart(none), kUnknownTime);
  EXPECT_EQ(EffectiveEnd(none), kUnknownTime);
}

class EventsResourcesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL server for tests";
    auto db = common::OpenTestDatabase(GetParam(), EventsSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<EventsResources>(db_.get(), &tokens_, &keys_);
  }

  static v1::Event Make(const std::string& id, int day) {
    v1::Event e = DateOnly(2024, 4, day, 2024, 4, day, "Europe/Moscow");
    e.set_name("events/" + id);
    e.set_kind(v1::EVENT_KIND_WORKING_MEETING);
    auto* t = e.add_title();
    t->set_language_code("en");
    t->set_text("Meeting " + id);
    return e;
  }

  common::ResourceStore& events() { return resources_->events().store(); }

  struct Row {
    int64_t seq, kind;
    std::string name;
    v1::Event event;
    int64_t commit_time;
  };
  std::vector<Row> Changes() {
    std::vector<Row> rows;
    absl::Status s = db_->QueryOnce(
        "SELECT seq, kind, name, data, commit_time FROM event_changes "
        "ORDER BY seq",
        {}, [&](const common::SqlRow& r) {
          Row row{r.Int(0), r.Int(1), std::string(r.Bytes(2)), {}, r.Int(4)};
          absl::string_view data = r.Bytes(3);
          EXPECT_TRUE(row.event.ParseFromArray(data.data(),
                                               static_cast<int>(data.size())));
          rows.push_back(std::move(row));
          return absl::OkStatus();
        });
    EXPECT_TRUE(s.ok()) << s;
    return rows;
  }

  common::PageTokenCodec tokens_{"events-store-test"};
  common::ApiKeyStore keys_;
  std::unique_ptr<common::Database> db_;
  std::unique_ptr<EventsResources> resources_;
};

TEST_P(EventsResourcesTest,
       EveryCommittedWriteLogsOneChangeWithTheStoredEvent) {
  v1::Event e = Make("a", 1);
  ASSERT_TRUE(events().Create(&e).ok());
  v1::Event updated;
  ASSERT_TRUE(events()
                  .Update(
                      "events/a", e.etag(),
                      [](google::protobuf::Message* m) {
                        static_cast<v1::Event*>(m)->set_kind(
                            v1::EVENT_KIND_CONFERENCE);
                        return absl::OkStatus();
                      },
                      &updated)
                  .ok());
  // A stale etag changes nothing and logs nothing.
  v1::Event ignored;
  absl::Status stale = events().Update(
      "events/a", e.etag(),
      [](google::protobuf::Message*) { return absl::OkStatus(); }, &ignored);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  v1::Event deleted;
  ASSERT_TRUE(events().Delete("events/a", "", &deleted).ok());

  std::vector<Row> rows = Changes();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].seq, 1);
  EXPECT_EQ(rows[1].seq, 2);
  EXPECT_EQ(rows[2].seq, 3);
  EXPECT_EQ(rows[0].kind, static_cast<int64_t>(common::ChangeKind::kCreated));
  EXPECT_EQ(rows[1].kind, static_cast<int64_t>(common::ChangeKind::kUpdated));
  EXPECT_EQ(rows[2].kind, static_cast<int64_t>(common::ChangeKind::kDeleted));
  EXPECT_EQ(rows[0].event.etag(), e.etag());
  EXPECT_EQ(rows[1].event.kind(), v1::EVENT_KIND_CONFERENCE);
  EXPECT_EQ(rows[1].event.etag(), updated.etag());
  EXPECT_TRUE(rows[2].event.has_delete_time());
  EXPECT_EQ(rows[2].event.etag(), deleted.etag());
  // Committed when the write stamped it.
  EXPECT_EQ(rows[0].commit_time,
            TimeUtil::TimestampToMicroseconds(e.update_time()));
  EXPECT_EQ(rows[2].commit_time,
            TimeUtil::TimestampToMicroseconds(deleted.update_time()));
}

TEST_P(EventsResourcesTest, SeedInsertsLogOnlyWhatIsNew) {
  v1::Event a = Make("a", 1), b = Make("b", 2);
  auto n = events().InsertMissing({&a, &b});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  v1::Event c = Make("c", 3);
  n = events().InsertMissing({&a, &b, &c});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  std::vector<Row> rows = Changes();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].name, "events/c");
}

TEST_P(EventsResourcesTest, TimeRangeFilterAndNewestFirstOrderWithKeysetPages) {
  for (int day = 1; day <= 20; ++day) {
    v1::Event e = Make(absl::StrCat("e", day), day);
    ASSERT_TRUE(events().Create(&e).ok());
  }
  common::ListQuery q;
  // Overlapping 5..9 April in Moscow (UTC bounds given with an offset).
  q.filter =
      "start_time <= 2024-04-09T23:59:59+03:00 AND end_time >= "
      "2024-04-05T00:00:00+03:00";
  q.order_by = "start_time desc";
  q.page_size = 2;
  std::vector<std::string> names;
  for (int page = 0; page < 10; ++page) {
    std::vector<v1::Event> got;
    auto next = events().List(q, [&]() {
      got.emplace_back();
      return &got.back();
    });
    ASSERT_TRUE(next.ok()) << next.status();
    // std::vector may move; read names after the call.
    for (const auto& e : got) names.push_back(e.name());
    if (next->empty()) break;
    q.page_token = *next;
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"events/e9", "events/e8", "events/e7",
                                      "events/e6", "events/e5"}));
}

TEST_P(EventsResourcesTest,
       ListByUpdateTimeWithDeletedIsTheSameChangeSequence) {
  for (int i = 0; i < 5; ++i) {
    v1::Event e = Make(absl::StrCat("x", i), i + 1);
    ASSERT_TRUE(events().Create(&e).ok());
  }
  v1::Event out;
  ASSERT_TRUE(
      events()
          .Update(
              "events/x1", "",
              [](google::protobuf::Message*) { return absl::OkStatus(); }, &out)
          .ok());
  ASSERT_TRUE(events().Delete("events/x3", "", &out).ok());
  common::ListQuery q;
  q.order_by = "update_time";
  q.show_deleted = true;
  std::vector<v1::Event> listed;
  listed.reserve(10);
  ASSERT_TRUE(events()
                  .List(q,
                        [&]() {
                          listed.emplace_back();
                          return &listed.back();
                        })
                  .ok());
  // The last change of each event, in change order.
  std::vector<Row> rows = Changes();
  std::vector<std::string> last_changes;
  for (size_t i = 0; i < rows.size(); ++i) {
    bool later = false;
    for (size_t j = i + 1; j < rows.size(); ++j)
      later |= rows[j].name == rows[i].name;
    if (!later) last_changes.push_back(rows[i].name);
  }
  std::vector<std::string> listed_names;
  for (const auto& e : listed) listed_names.push_back(e.name());
  EXPECT_EQ(listed_names, last_changes);
  EXPECT_EQ(listed_names.back(), "events/x3");
}

INSTANTIATE_TEST_SUITE_P(Backends, EventsResourcesTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::events
