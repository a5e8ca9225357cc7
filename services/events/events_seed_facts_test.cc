// The facts of the events seed as a client reads them through the API, on
// SQLite and, where the test command started one, on PostgreSQL: what a
// report says of the day of what it reports (a news item's date is not the
// meeting's day; a meeting "concluded" by a report ended by its date), the
// treaties events concern, the persons taking part, and checks of those
// classes over the whole seed.
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/base/dates.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/common/testing/test_postgres.h"
#include "services/events/embedded_files.h"
#include "services/events/events_resources.h"
#include "services/events/events_service.h"

namespace cstopa::events {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kConsultations[] =
    "events/consultations-international-military-flights-2022";
constexpr char kUnrcca[] = "events/working-meeting-unrcca-2024";
constexpr char kTraining[] = "events/annual-training-2024";
constexpr char kIcmec[] = "events/icmec-meeting-2024-04";
constexpr char kCouncil28[] =
    "events/migration-coordination-council-28th-meeting";
constexpr char kMazhilisBill[] =
    "events/kz-mazhilis-deployment-agreement-bill-2022";
constexpr char kWithdrawal[] =
    "events/csto-forces-withdraw-from-kazakhstan-2022";

google::type::Date D(int y, int m = 0, int d = 0) {
  google::type::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

int64_t Day(const google::type::Date& d) {
  return common::EarliestDay(d, true);
}

// Whether `quote` states the day `d` (a full date) in words, as the day of
// what it reports: "On 22 April 2024", "From 22 to 26 April", "On April
// 5-6". A date stamp ("18.04.2024", "2024-04-18", "date 2025-08-29 13:06")
// does not count: it dates the item, not what the item reports.
bool QuoteStatesDay(const std::string& quote, const google::type::Date& d) {
  static const char* const kMonths[] = {
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  if (d.month() < 1 || d.month() > 12 || d.day() < 1) return false;
  const std::string text = std::regex_replace(
      quote,
      std::regex(R"(\b\d{1,2}\.\d{1,2}\.\d{4}\b|\b\d{4}-\d{1,2}-\d{1,2}\b)"),
      " ");
  const std::string month = kMonths[d.month() - 1];
  const std::string day = std::to_string(d.day());
  const std::string nth = "(?:st|nd|rd|th)?";
  const std::string to = R"(\s*(?:-|–|to|and)\s*)";
  // "22 April", "22nd of April", "22 to 26 April", "5-6 April".
  const std::regex day_month(R"(\b)" + day + nth + "(?:" + to + R"(\d{1,2})" +
                             nth + R"()?\s+(?:of\s+)?)" + month + R"(\b)");
  // "April 22", "April 5-6" (either day).
  const std::regex month_day(R"(\b)" + month + R"(\s+(?:\d{1,2})" + nth + to +
                             ")?" + day + nth + R"(\b)");
  return std::regex_search(text, day_month) ||
         std::regex_search(text, month_day);
}

class EventsSeedFactsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL test server in this build";
    auto db = common::OpenTestDatabase(GetParam(), EventsSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<EventsResources>(db_.get(), &tokens_, &keys_);
    handler_ = std::make_unique<EventsHandler>(resources_.get());
    api_ = std::make_unique<v1::EventsServiceBlocking>(handler_.get());
    ASSERT_TRUE(handler_->LoadSeed(std::string(kEventsSeed)).ok());
  }

  v1::Event Get(const std::string& name) {
    v1::GetEventRequest req;
    req.set_name(name);
    v1::Event e;
    absl::Status s = api_->GetEvent({}, req, &e);
    EXPECT_TRUE(s.ok()) << name << ": " << s;
    return e;
  }

  std::vector<v1::Event> All() {
    v1::ListEventsRequest req;
    req.set_page_size(1000);
    v1::ListEventsResponse resp;
    absl::Status s = api_->ListEvents({}, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(resp.next_page_token().empty());
    return {resp.events().begin(), resp.events().end()};
  }

  std::vector<std::string> Names(const std::string& filter,
                                 const std::string& order_by = "") {
    v1::ListEventsRequest req;
    req.set_page_size(1000);
    req.set_filter(filter);
    req.set_order_by(order_by);
    v1::ListEventsResponse resp;
    absl::Status s = api_->ListEvents({}, req, &resp);
    EXPECT_TRUE(s.ok()) << filter << ": " << s;
    std::vector<std::string> out;
    for (const auto& e : resp.events()) out.push_back(e.name());
    return out;
  }

  // The events that could have taken place in [from, to] (RFC 3339).
  std::vector<std::string> Overlapping(const std::string& from,
                                       const std::string& to) {
    return Names("start_time <= " + to + " AND end_time >= " + from);
  }

  absl::Status Create(const v1::Event& e, const std::string& id) {
    v1::CreateEventRequest req;
    req.set_event_id(id);
    *req.mutable_event() = e;
    v1::Event out;
    return api_->CreateEvent(common::testing::EditorCaller(), req, &out);
  }

  static v1::Event Valid() {
    v1::Event e;
    e.set_kind(v1::EVENT_KIND_COMMISSION_MEETING);
    auto* t = e.add_title();
    t->set_language_code("en");
    t->set_text("A meeting");
    return e;
  }

  common::PageTokenCodec tokens_{"events-seed-facts-test"};
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  std::unique_ptr<common::Database> db_;
  std::unique_ptr<EventsResources> resources_;
  std::unique_ptr<EventsHandler> handler_;
  std::unique_ptr<v1::EventsServiceBlocking> api_;
};

// ---------------------------------------------------------------------------
// 1. A news item's date is not the date of the meeting it reports.
// ---------------------------------------------------------------------------

TEST_P(EventsSeedFactsTest, IcmecMeetingEndedByItsNewsItemWithNoDayOfItsOwn) {
  v1::Event e = Get(kIcmec);
  EXPECT_FALSE(e.dates().has_start_date());
  EXPECT_FALSE(e.dates().has_end_date());
  ASSERT_TRUE(e.dates().has_ended_by());
  EXPECT_EQ(Day(e.dates().ended_by()), 20240418);
  ASSERT_EQ(e.provenance_size(), 1);
  EXPECT_EQ(Day(e.provenance(0).source_date()), 20240418);
  EXPECT_THAT(e.provenance(0).note(), HasSubstr("not stated"));
  EXPECT_THAT(e.provenance(0).note(), HasSubstr("ended_by 2024-04-18"));

  // Not an event of 2024-04-19 or later, in Moscow time or UTC.
  EXPECT_THAT(Overlapping("2024-04-19T00:00:00Z", "2024-04-19T23:59:59Z"),
              Not(Contains(kIcmec)));
  EXPECT_THAT(Overlapping("2024-04-19T00:00:00Z", "2030-01-01T00:00:00Z"),
              Not(Contains(kIcmec)));
  EXPECT_THAT(Names("end_time > 2024-04-18T21:00:00Z"), Not(Contains(kIcmec)));
  // Not lost: it may have taken place on any day up to the item's date.
  EXPECT_THAT(Overlapping("2024-04-18T00:00:00Z", "2024-04-18T23:59:59Z"),
              Contains(kIcmec));
  EXPECT_THAT(Overlapping("2024-04-01T00:00:00Z", "2024-04-30T23:59:59Z"),
              Contains(kIcmec));
  EXPECT_THAT(Overlapping("2023-01-01T00:00:00Z", "2023-12-31T23:59:59Z"),
              ElementsAre(kIcmec));
  // Its start is not known to be on or after any day.
  EXPECT_THAT(Names("start_time >= 2024-01-01T00:00:00Z"),
              Not(Contains(kIcmec)));
  // Found among the commission meetings over by the item's date.
  EXPECT_THAT(Names("kind = EVENT_KIND_COMMISSION_MEETING AND end_time <= "
                    "2024-04-18T23:59:59Z"),
              ElementsAre(kIcmec));
}

TEST_P(EventsSeedFactsTest, AnEventWithAnUnknownStartIsOrderedAsUndated) {
  // By start, with the undated: last newest first, first oldest first.
  EXPECT_THAT(Names(""),
              ElementsAre(kCouncil28, kTraining, kUnrcca, kMazhilisBill,
                          kConsultations, kWithdrawal, kIcmec));
  std::vector<std::string> oldest_first = Names("", "start_time");
  ASSERT_FALSE(oldest_first.empty());
  EXPECT_EQ(oldest_first.front(), kIcmec);
  // By end, at the day it ended by.
  EXPECT_THAT(Names("", "end_time desc"),
              ElementsAre(kCouncil28, kTraining, kUnrcca, kIcmec, kMazhilisBill,
                          kConsultations, kWithdrawal));
}

TEST_P(EventsSeedFactsTest, EffectiveBoundsReadWhatTheRangeSaysOfUnstatedEnds) {
  v1::Event e = Get(kIcmec);
  EXPECT_EQ(EffectiveStart(e), kUnknownTime);
  // 2024-04-18T23:59:59.999999+03:00.
  EXPECT_EQ(EffectiveEnd(e), int64_t{1713473999} * 1000000 + 999999);

  v1::Event after = Valid();
  after.set_time_zone("UTC");
  *after.mutable_dates()->mutable_start_after() = D(2024, 4, 30);
  *after.mutable_dates()->mutable_ended_by() = D(2024, 5);
  EXPECT_EQ(EffectiveStart(after), int64_t{1714521600} * 1000000);  // May 1
  EXPECT_EQ(EffectiveEnd(after), int64_t{1717199999} * 1000000 + 999999);
  after.mutable_dates()->clear_ended_by();
  // Without an end, it ends when its earliest possible day does.
  EXPECT_EQ(EffectiveEnd(after), int64_t{1714607999} * 1000000 + 999999);

  v1::Event known = Valid();
  *known.mutable_dates()->mutable_known_from() = D(2024, 4, 10);
  EXPECT_EQ(EffectiveStart(known), kUnknownTime);
  EXPECT_EQ(EffectiveEnd(known), int64_t{1712793599} * 1000000 + 999999);
  *known.mutable_dates()->mutable_known_until() = D(2024, 4, 12);
  EXPECT_EQ(EffectiveEnd(known), int64_t{1712966399} * 1000000 + 999999);
}

TEST_P(EventsSeedFactsTest, ValidationAcceptsUnstatedBoundsAndChecksTimes) {
  v1::Event reported = Valid();
  reported.set_time_zone("Europe/Moscow");
  *reported.mutable_dates()->mutable_ended_by() = D(2024, 4, 18);
  ASSERT_TRUE(Create(reported, "reported").ok());
  EXPECT_THAT(Overlapping("2024-04-19T00:00:00Z", "2024-12-31T00:00:00Z"),
              Not(Contains("events/reported")));
  EXPECT_THAT(Overlapping("2024-04-18T00:00:00Z", "2024-04-18T12:00:00Z"),
              Contains("events/reported"));

  // A start bounded from below by start_after.
  v1::Event later = Valid();
  later.set_time_zone("UTC");
  *later.mutable_dates()->mutable_start_after() = D(2024, 4, 30);
  *later.mutable_dates()->mutable_ended_by() = D(2024, 5, 31);
  ASSERT_TRUE(Create(later, "later").ok());
  EXPECT_THAT(Overlapping("2024-04-01T00:00:00Z", "2024-04-30T23:59:59Z"),
              Not(Contains("events/later")));
  EXPECT_THAT(Overlapping("2024-05-01T00:00:00Z", "2024-05-01T00:00:01Z"),
              Contains("events/later"));

  // A stated end with ended_by (the common range check).
  v1::Event both = reported;
  *both.mutable_dates()->mutable_end_date() = D(2024, 4, 18);
  EXPECT_THAT(common::testing::FieldsOf(Create(both, "both")),
              ElementsAre("event.dates.ended_by"));

  // Exact times must fit the bounds: an end after ended_by, a start on or
  // before start_after, a start after the day it is known to have held.
  v1::Event late_end = reported;
  late_end.mutable_end_time()->set_seconds(1713474000);  // 19 Apr 00:00 MSK
  EXPECT_THAT(common::testing::FieldsOf(Create(late_end, "late-end")),
              ElementsAre("event.end_time"));
  late_end.mutable_end_time()->set_seconds(1713473999);  // 18 Apr 23:59:59
  EXPECT_TRUE(Create(late_end, "end-in-time").ok());

  v1::Event early_start = later;
  early_start.mutable_start_time()->set_seconds(1714435200);  // 30 Apr UTC
  EXPECT_THAT(common::testing::FieldsOf(Create(early_start, "early-start")),
              ElementsAre("event.start_time"));
  early_start.mutable_start_time()->set_seconds(1714521600);  // 1 May UTC
  EXPECT_TRUE(Create(early_start, "start-in-time").ok());

  v1::Event known = Valid();
  known.set_time_zone("UTC");
  *known.mutable_dates()->mutable_known_from() = D(2024, 4, 10);
  known.mutable_start_time()->set_seconds(1712793600);  // 11 Apr UTC
  EXPECT_THAT(common::testing::FieldsOf(Create(known, "known")),
              ElementsAre("event.start_time"));
  known.mutable_start_time()->set_seconds(1712707200);  // 10 Apr UTC
  EXPECT_TRUE(Create(known, "known").ok());
}

// ---------------------------------------------------------------------------
// 2. A meeting "concluded" by a report ends by that report's date.
// ---------------------------------------------------------------------------

TEST_P(EventsSeedFactsTest, CouncilMeetingConcludedByItsReportEndsByIt) {
  v1::Event e = Get(kCouncil28);
  EXPECT_EQ(e.dates().start_date().year(), 2025);
  EXPECT_EQ(e.dates().start_date().month(), 0);
  EXPECT_FALSE(e.dates().has_end_date());
  ASSERT_TRUE(e.dates().has_ended_by());
  EXPECT_EQ(Day(e.dates().ended_by()), 20250829);
  EXPECT_EQ(common::LatestPossibleDay(e.dates()), 20250829);
  EXPECT_THAT(e.provenance(0).note(), HasSubstr("ended_by 2025-08-29"));

  // Not among the events after the report, whatever the range.
  EXPECT_THAT(Overlapping("2025-08-30T00:00:00Z", "2025-12-31T23:59:59Z"),
              IsEmpty());
  EXPECT_THAT(Overlapping("2025-10-01T00:00:00Z", "2025-10-31T23:59:59Z"),
              IsEmpty());
  EXPECT_THAT(Names("end_time >= 2025-08-30T00:00:00Z"), IsEmpty());
  // Among those it may have taken place in.
  EXPECT_THAT(Overlapping("2025-08-01T00:00:00Z", "2025-08-29T12:00:00Z"),
              ElementsAre(kCouncil28));
  EXPECT_THAT(Overlapping("2025-01-01T00:00:00Z", "2025-01-01T12:00:00Z"),
              ElementsAre(kCouncil28));
  EXPECT_THAT(Overlapping("2024-12-01T00:00:00Z", "2024-12-31T12:00:00Z"),
              Not(Contains(kCouncil28)));
}

// ---------------------------------------------------------------------------
// 3. Events link the treaties they concern.
// ---------------------------------------------------------------------------

TEST_P(EventsSeedFactsTest, EventsListTheTreatiesTheyConcern) {
  EXPECT_THAT(Get(kConsultations).documents(),
              UnorderedElementsAre("treaties/status-of-formations-2010",
                                   "treaties/military-transportation-2015"));
  EXPECT_THAT(Get(kMazhilisBill).documents(),
              ElementsAre("treaties/jurisdiction-temporary-deployment-2021"));
  EXPECT_THAT(Names("document = \"treaties/status-of-formations-2010\""),
              ElementsAre(kConsultations));
  EXPECT_THAT(Names("document = \"treaties/military-transportation-2015\""),
              ElementsAre(kConsultations));
  EXPECT_THAT(
      Names("document = \"treaties/jurisdiction-temporary-deployment-2021\""),
      ElementsAre(kMazhilisBill));
  // Every event's documents are treaties or documents by name, and the
  // quote of an event that links a treaty names an agreement.
  for (const v1::Event& e : All()) {
    for (const std::string& d : e.documents()) {
      EXPECT_THAT(d, ::testing::MatchesRegex("(treaties|documents)/[a-z0-9-]+"))
          << e.name();
    }
    if (e.documents().empty()) continue;
    bool named = false;
    for (const auto& p : e.provenance())
      named = named || p.quote().find("Agreement on") != std::string::npos;
    EXPECT_TRUE(named) << e.name() << ": no quote names the agreement";
  }
}

// ---------------------------------------------------------------------------
// 4. People named with posts are persons of the membership service.
// ---------------------------------------------------------------------------

TEST_P(EventsSeedFactsTest, ParticipantsWithPostsReferenceTheirPersons) {
  struct Case {
    const char* event;
    const char* person;
    const char* capacity;
  };
  for (const Case& c : {
           Case{kConsultations, "persons/yakovlev-anatoly",
                "Military Planning Directorate"},
           Case{kUnrcca, "persons/ordabaev-samat", "Deputy Secretary General"},
           Case{kIcmec, "persons/zinoviev-viktor",
                "Secretary of the CSTO Interstate Commission"},
           Case{kCouncil28, "persons/kikot-andrey",
                "elected Chairman of the Coordination Council"},
       }) {
    const v1::Participant* found = nullptr;
    const v1::Event e = Get(c.event);
    for (const auto& p : e.participants())
      if (p.participant() == c.person) found = &p;
    ASSERT_NE(found, nullptr) << c.event << " " << c.person;
    EXPECT_EQ(found->kind(), v1::PARTICIPANT_KIND_PERSON);
    ASSERT_FALSE(found->capacity().empty());
    EXPECT_THAT(found->capacity(0).text(), HasSubstr(c.capacity));
    EXPECT_THAT(Names(std::string("participant = \"") + c.person + "\""),
                ElementsAre(c.event));
  }
  // The UN's Kakha Imnadze, no person of the membership service, keeps his
  // display name; every other person is referenced by name.
  std::set<std::string> by_display_name;
  std::set<std::string> referenced;
  for (const v1::Event& e : All()) {
    for (const auto& p : e.participants()) {
      if (p.kind() != v1::PARTICIPANT_KIND_PERSON) continue;
      if (p.participant().empty()) {
        ASSERT_FALSE(p.display_name().empty()) << e.name();
        by_display_name.insert(p.display_name(0).text());
      } else {
        EXPECT_THAT(p.participant(), ::testing::StartsWith("persons/"));
        referenced.insert(p.participant());
      }
    }
  }
  EXPECT_THAT(by_display_name, ElementsAre("Kakha Imnadze"));
  EXPECT_THAT(
      referenced,
      UnorderedElementsAre("persons/yakovlev-anatoly", "persons/ordabaev-samat",
                           "persons/zinoviev-viktor", "persons/kikot-andrey"));
}

// ---------------------------------------------------------------------------
// Checks of the classes over the whole seed.
// ---------------------------------------------------------------------------

// A report cannot precede what it reports: no source is dated before the
// earliest day the event could have begun.
TEST_P(EventsSeedFactsTest, NoSourceIsDatedBeforeTheEventItReports) {
  std::vector<v1::Event> all = All();
  ASSERT_EQ(all.size(), 7u);
  for (const v1::Event& e : all) {
    ASSERT_FALSE(e.provenance().empty()) << e.name();
    for (const auto& p : e.provenance()) {
      ASSERT_TRUE(p.has_source_date()) << e.name();
      EXPECT_GE(common::LatestDay(p.source_date(), true),
                common::EarliestPossibleDay(e.dates()))
          << e.name() << ": " << p.source() << " is dated before the start";
    }
  }
}

// A meeting (any kind but a news item) whose first or last day is the day
// of its news item must have a quote that states that day as the meeting's
// (not only as the item's date stamp): otherwise the item's date was taken
// for the meeting's.
TEST_P(EventsSeedFactsTest, NoMeetingIsDatedByItsNewsItemAlone) {
  int checked = 0;
  for (const v1::Event& e : All()) {
    if (e.kind() == v1::EVENT_KIND_NEWS) continue;
    for (const auto& p : e.provenance()) {
      const google::type::Date& item = p.source_date();
      if (item.day() == 0) continue;
      for (const google::type::Date* d :
           {&e.dates().start_date(), &e.dates().end_date()}) {
        if (d->day() == 0 || Day(*d) != Day(item)) continue;
        ++checked;
        EXPECT_TRUE(QuoteStatesDay(p.quote(), *d))
            << e.name() << " is dated " << Day(*d)
            << ", the day of its news item " << p.source()
            << ", but the quote does not state that day: " << p.quote();
      }
    }
  }
  // The UNRCCA meeting (start and end), the training (start) and the
  // consultations (end, "On April 5-6" in an item of 06.04.2022) are dated
  // by days their quotes state.
  EXPECT_EQ(checked, 4);
}

TEST(QuoteStatesDayTest, ADateStampIsNotTheDayOfWhatTheItemReports) {
  // The ICMEC item as it was stored before: only the item's date stamp.
  EXPECT_FALSE(QuoteStatesDay(
      "18.04.2024 The meeting was held in the city of Moscow under the "
      "chairmanship of Viktor Zinoviev",
      D(2024, 4, 18)));
  EXPECT_FALSE(
      QuoteStatesDay("date 2025-08-29 13:06 The 28th meeting ... has "
                     "concluded in Cholpon-Ata city.",
                     D(2025, 8, 29)));
  EXPECT_TRUE(QuoteStatesDay("On 22 April 2024, the CSTO Secretariat hosted",
                             D(2024, 4, 22)));
  EXPECT_TRUE(QuoteStatesDay("22.04.2024 From 22 to 26 April, this year,",
                             D(2024, 4, 22)));
  EXPECT_TRUE(QuoteStatesDay("22.04.2024 From 22 to 26 April, this year,",
                             D(2024, 4, 26)));
  EXPECT_FALSE(QuoteStatesDay("22.04.2024 From 22 to 26 April, this year,",
                              D(2024, 4, 23)));
  EXPECT_TRUE(
      QuoteStatesDay("06.04.2022 On April 5-6 in Moscow", D(2022, 4, 5)));
  EXPECT_TRUE(
      QuoteStatesDay("06.04.2022 On April 5-6 in Moscow", D(2022, 4, 6)));
  EXPECT_FALSE(
      QuoteStatesDay("06.04.2022 On April 5-6 in Moscow", D(2022, 5, 6)));
  EXPECT_FALSE(QuoteStatesDay("On 22 April 2024", D(2024, 4, 2)));
}

INSTANTIATE_TEST_SUITE_P(Backends, EventsSeedFactsTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::events
