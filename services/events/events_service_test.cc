// EventsHandler without a server, through its blocking face: the seed,
// validation of bad input with field violations, filters and order,
// authorization, references, and the watch stream.
#include "services/events/events_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/common/testing/search_test_kit.h"
#include "services/common/testing/test_postgres.h"
#include "services/events/embedded_files.h"

namespace cstopa::events {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class EventsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = common::OpenDatabase("sqlite::memory:", EventsSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<EventsResources>(db_.get(), &tokens_, &keys_);
    handler_ = std::make_unique<EventsHandler>(resources_.get());
    api_ = std::make_unique<v1::EventsServiceBlocking>(handler_.get());
    ASSERT_TRUE(handler_->LoadSeed(std::string(kEventsSeed)).ok());
  }

  static common::Caller Editor() { return common::testing::EditorCaller(); }
  static common::Caller Admin() { return common::testing::AdminCaller(); }

  std::vector<std::string> ListNames(const std::string& filter,
                                     const std::string& order_by = "") {
    v1::ListEventsRequest req;
    req.set_filter(filter);
    req.set_order_by(order_by);
    v1::ListEventsResponse resp;
    absl::Status s = api_->ListEvents({}, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    std::vector<std::string> names;
    for (const auto& e : resp.events()) names.push_back(e.name());
    return names;
  }

  static v1::Event Valid() {
    v1::Event e;
    e.set_kind(v1::EVENT_KIND_CONFERENCE);
    auto* t = e.add_title();
    t->set_language_code("en");
    t->set_text("A conference");
    return e;
  }

  // The field paths of the BadRequest in `s`.
  static std::vector<std::string> Fields(const absl::Status& s) {
    return common::testing::FieldsOf(s);
  }

  absl::Status Create(const v1::Event& e, const std::string& id = "x") {
    v1::CreateEventRequest req;
    req.set_event_id(id);
    *req.mutable_event() = e;
    v1::Event out;
    return api_->CreateEvent(Editor(), req, &out);
  }

  common::PageTokenCodec tokens_{"events-service-test"};
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  std::unique_ptr<common::Database> db_;
  std::unique_ptr<EventsResources> resources_;
  std::unique_ptr<EventsHandler> handler_;
  std::unique_ptr<v1::EventsServiceBlocking> api_;
};

TEST_F(EventsServiceTest, SeedHasTheDomainEventsWithProvenance) {
  std::vector<std::string> all = ListNames("");
  EXPECT_EQ(all.size(), 7u);
  v1::ListEventsRequest req;
  v1::ListEventsResponse resp;
  ASSERT_TRUE(api_->ListEvents({}, req, &resp).ok());
  for (const auto& e : resp.events()) {
    ASSERT_FALSE(e.provenance().empty()) << e.name();
    EXPECT_THAT(e.provenance(0).source(),
                ::testing::MatchesRegex("00[0234]_[0-9a-f]+\\.txt"))
        << e.name();
    EXPECT_FALSE(e.has_start_time()) << e.name() << ": sources give no times";
  }
  v1::Event flights;
  v1::GetEventRequest get;
  get.set_name("events/consultations-international-military-flights-2022");
  ASSERT_TRUE(api_->GetEvent({}, get, &flights).ok());
  EXPECT_EQ(flights.kind(), v1::EVENT_KIND_CONSULTATION);
  EXPECT_EQ(flights.organizer(), "bodies/csto-joint-staff");
  EXPECT_EQ(flights.dates().start_date().day(), 5);
  EXPECT_EQ(flights.dates().end_date().day(), 6);
  int video = 0;
  for (const auto& p : flights.participants()) {
    if (p.attendance_mode() == v1::ATTENDANCE_MODE_VIDEO) {
      EXPECT_EQ(p.participant(), "states/kg");
      ++video;
    }
  }
  EXPECT_EQ(video, 1);
  // Loading again adds nothing.
  ASSERT_TRUE(handler_->LoadSeed(std::string(kEventsSeed)).ok());
  EXPECT_EQ(ListNames("").size(), 7u);
}

TEST_F(EventsServiceTest, DefaultOrderIsNewestFirstAndUndatedLast) {
  // The ICMEC meeting's start is not known (only that it ended by its news
  // item of 2024-04-18): it sorts with the undated, last.
  EXPECT_THAT(
      ListNames(""),
      ElementsAre("events/migration-coordination-council-28th-meeting",
                  "events/annual-training-2024",
                  "events/working-meeting-unrcca-2024",
                  "events/kz-mazhilis-deployment-agreement-bill-2022",
                  "events/consultations-international-military-flights-2022",
                  "events/csto-forces-withdraw-from-kazakhstan-2022",
                  "events/icmec-meeting-2024-04"));
}

TEST_F(EventsServiceTest, DefaultOrderPagesAndAnOrderByOverridesIt) {
  std::vector<std::string> all = ListNames("");
  std::vector<std::string> paged;
  v1::ListEventsRequest req;
  req.set_page_size(3);
  for (int page = 0; page < 5; ++page) {
    v1::ListEventsResponse resp;
    ASSERT_TRUE(api_->ListEvents({}, req, &resp).ok());
    for (const auto& e : resp.events()) paged.push_back(e.name());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(paged, all);
  // The default's token is not one for another order.
  req.set_order_by("name");
  v1::ListEventsResponse resp;
  EXPECT_EQ(api_->ListEvents({}, req, &resp).code(),
            absl::StatusCode::kInvalidArgument);

  std::vector<std::string> oldest_first = ListNames("", "start_time");
  ASSERT_EQ(oldest_first.size(), all.size());
  EXPECT_EQ(oldest_first.back(), all.front());
}

TEST_F(EventsServiceTest, FiltersOnKindTimeStateBodyParticipantAndParent) {
  EXPECT_THAT(
      ListNames("kind = EVENT_KIND_NEWS"),
      UnorderedElementsAre("events/kz-mazhilis-deployment-agreement-bill-2022",
                           "events/csto-forces-withdraw-from-kazakhstan-2022"));
  // April 2024, overlapping: the training (22-26) and the two meetings.
  EXPECT_THAT(ListNames("start_time <= 2024-04-30T23:59:59Z AND end_time >= "
                        "2024-04-20T00:00:00Z"),
              UnorderedElementsAre("events/annual-training-2024",
                                   "events/working-meeting-unrcca-2024"));
  EXPECT_THAT(ListNames("state = \"states/kg\" AND start_time < "
                        "2023-01-01T00:00:00Z"),
              UnorderedElementsAre(
                  "events/consultations-international-military-flights-2022",
                  "events/csto-forces-withdraw-from-kazakhstan-2022"));
  EXPECT_THAT(ListNames("organizer = \"bodies/csto-secretariat\""),
              UnorderedElementsAre("events/working-meeting-unrcca-2024",
                                   "events/annual-training-2024"));
  EXPECT_THAT(ListNames("participant : \"UNRCCA\""),
              ElementsAre("events/working-meeting-unrcca-2024"));
  EXPECT_THAT(ListNames("participant = \"bodies/csto-secretariat\""),
              UnorderedElementsAre(
                  "events/consultations-international-military-flights-2022",
                  "events/migration-coordination-council-28th-meeting"));

  v1::Event child = Valid();
  child.set_parent_event("events/annual-training-2024");
  ASSERT_TRUE(Create(child, "training-session").ok());
  EXPECT_THAT(ListNames("parent_event = \"events/annual-training-2024\""),
              ElementsAre("events/training-session"));
}

TEST_F(EventsServiceTest, BadTimesAreRefusedWithFieldViolations) {
  v1::Event e = Valid();
  e.mutable_start_time()->set_seconds(1700000000);
  e.mutable_end_time()->set_seconds(1690000000);
  absl::Status s = Create(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), ElementsAre("event.end_time"));

  v1::Event d = Valid();
  d.mutable_dates()->mutable_start_date()->set_year(2024);
  d.mutable_dates()->mutable_start_date()->set_month(5);
  d.mutable_dates()->mutable_end_date()->set_year(2024);
  d.mutable_dates()->mutable_end_date()->set_month(4);
  EXPECT_THAT(Fields(Create(d)), ElementsAre("event.dates.end_date"));

  v1::Event z = Valid();
  z.set_time_zone("Mars/Olympus_Mons");
  EXPECT_THAT(Fields(Create(z)), ElementsAre("event.time_zone"));

  // An exact start on another day than the dates say, in the zone.
  v1::Event mismatch = Valid();
  mismatch.set_time_zone("Europe/Moscow");
  mismatch.mutable_dates()->mutable_start_date()->set_year(2024);
  mismatch.mutable_dates()->mutable_start_date()->set_month(4);
  mismatch.mutable_dates()->mutable_start_date()->set_day(18);
  mismatch.mutable_start_time()->set_seconds(1713387600 - 3600);  // 17 Apr
  EXPECT_THAT(Fields(Create(mismatch)), ElementsAre("event.start_time"));
  mismatch.mutable_start_time()->set_seconds(1713387600);  // 00:00 18 Apr MSK
  EXPECT_TRUE(Create(mismatch, "ok-times").ok());
}

TEST_F(EventsServiceTest, UnknownEnumsAndBadReferencesAreRefused) {
  v1::Event e = Valid();
  e.set_kind(static_cast<v1::EventKind>(42));
  auto* p = e.add_participants();
  p->set_kind(v1::PARTICIPANT_KIND_STATE);
  p->set_participant("persons/viktor-kogut");  // a person as a state
  p->set_attendance_mode(static_cast<v1::AttendanceMode>(9));
  auto* q = e.add_participants();
  q->set_kind(v1::PARTICIPANT_KIND_ORGANIZATION);  // neither name nor text
  e.add_documents("laws/x");
  e.set_organizer("states/kz");
  absl::Status s = Create(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), UnorderedElementsAre(
                             "event.kind", "event.participants[0].participant",
                             "event.participants[0].attendance_mode",
                             "event.participants[1].display_name",
                             "event.documents[0]", "event.organizer"));
  auto info = common::GetErrorInfo(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "INVALID_ARGUMENT");

  v1::Event orphan = Valid();
  orphan.set_parent_event("events/no-such-event");
  absl::Status missing = Create(orphan, "orphan");
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(missing), ElementsAre("event.parent_event"));
  EXPECT_EQ(common::GetErrorInfo(missing)->reason(), "UNKNOWN_REFERENCE");

  v1::Event own = Valid();
  own.set_parent_event("events/self");
  absl::Status self = Create(own, "self");
  EXPECT_THAT(Fields(self), ElementsAre("event.parent_event"));
  // Refused as its own parent, not as a reference to nothing.
  EXPECT_EQ(common::testing::ReasonOf(self), "INVALID_ARGUMENT");
  EXPECT_THAT(std::string(self.message()),
              ::testing::HasSubstr("cannot be its own parent"));
}

TEST_F(EventsServiceTest, WritesNeedKeysAndEtagsGuardUpdates) {
  v1::CreateEventRequest req;
  req.set_event_id("anonymous");
  *req.mutable_event() = Valid();
  v1::Event out;
  EXPECT_EQ(api_->CreateEvent({}, req, &out).code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(api_->CreateEvent(Editor(), req, &out).ok());
  std::string etag = out.etag();

  v1::UpdateEventRequest upd;
  *upd.mutable_event()->add_summary() = out.title(0);
  upd.mutable_event()->set_name(out.name());
  upd.mutable_event()->set_etag(etag);
  v1::Event updated;
  ASSERT_TRUE(api_->UpdateEvent(Editor(), upd, &updated).ok());
  EXPECT_EQ(updated.summary_size(), 1);
  EXPECT_EQ(updated.title_size(), 1);  // not in the mask: kept
  EXPECT_EQ(api_->UpdateEvent(Editor(), upd, &updated).code(),
            absl::StatusCode::kAborted);

  v1::DeleteEventRequest del;
  del.set_name(out.name());
  EXPECT_EQ(api_->DeleteEvent(Editor(), del, &updated).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(api_->DeleteEvent(Admin(), del, &updated).ok());
  EXPECT_TRUE(updated.has_delete_time());
  v1::GetEventRequest get;
  get.set_name(out.name());
  EXPECT_EQ(api_->GetEvent({}, get, &updated).code(),
            absl::StatusCode::kNotFound);
  // Deleted IDs are never reused.
  EXPECT_EQ(api_->CreateEvent(Editor(), req, &out).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(EventsServiceTest, WatchEventsStreamsEachWriteOnceAndResumes) {
  std::vector<v1::WatchEventsResponse> got;
  absl::Status s = api_->WatchEvents(
      {}, v1::WatchEventsRequest(), [&](const v1::WatchEventsResponse& m) {
        got.push_back(m);
        if (got.size() == 1) {  // live: write while the stream waits
          v1::CreateEventRequest create;
          create.set_event_id("watched");
          *create.mutable_event() = Valid();
          v1::Event out;
          EXPECT_TRUE(api_->CreateEvent(Editor(), create, &out).ok());
          v1::UpdateEventRequest update;
          update.mutable_event()->set_name("events/watched");
          update.mutable_event()->set_kind(v1::EVENT_KIND_TRAINING);
          EXPECT_TRUE(api_->UpdateEvent(Editor(), update, &out).ok());
          v1::DeleteEventRequest del;
          del.set_name("events/watched");
          EXPECT_TRUE(api_->DeleteEvent(Admin(), del, &out).ok());
        }
        return got.size() < 4;
      });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  ASSERT_EQ(got.size(), 4u);
  // A checkpoint after the seed's changes, then each write.
  EXPECT_EQ(got[0].change_type(), v1::CHANGE_TYPE_CHECKPOINT);
  EXPECT_FALSE(got[0].has_event());
  EXPECT_EQ(got[0].sequence(), 7);
  EXPECT_FALSE(got[0].resume_token().empty());
  EXPECT_EQ(got[1].change_type(), v1::CHANGE_TYPE_CREATED);
  EXPECT_EQ(got[2].change_type(), v1::CHANGE_TYPE_UPDATED);
  EXPECT_EQ(got[3].change_type(), v1::CHANGE_TYPE_DELETED);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(got[i].event().name(), "events/watched");
    EXPECT_EQ(got[i].name(), "events/watched");
    EXPECT_EQ(got[i].sequence(), 7 + i);
    EXPECT_EQ(got[i].commit_time().seconds(),
              got[i].event().update_time().seconds());
  }
  EXPECT_EQ(got[2].event().kind(), v1::EVENT_KIND_TRAINING);
  EXPECT_TRUE(got[3].event().has_delete_time());

  // Resuming after the create sees the update and the delete.
  std::vector<v1::WatchEventsResponse> resumed;
  v1::WatchEventsRequest from;
  from.set_resume_token(got[1].resume_token());
  s = api_->WatchEvents({}, from, [&](const v1::WatchEventsResponse& m) {
    resumed.push_back(m);
    return resumed.size() < 3;
  });
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed[0].sequence(), 8);
  EXPECT_EQ(resumed[1].sequence(), 9);
  EXPECT_EQ(resumed[2].sequence(), 10);
  EXPECT_EQ(resumed[2].change_type(), v1::CHANGE_TYPE_DELETED);

  v1::WatchEventsRequest bad;
  bad.set_resume_token("bm90LWEtdG9rZW4");
  s = api_->WatchEvents({}, bad,
                        [](const v1::WatchEventsResponse&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(common::testing::ReasonOf(s), "INVALID_RESUME_TOKEN");

  // Following one event from the start of the log: only its changes.
  v1::WatchEventsRequest one;
  one.set_resume_token(got[0].resume_token());
  one.set_name("events/watched");
  std::vector<v1::WatchEventsResponse> only;
  s = api_->WatchEvents({}, one, [&](const v1::WatchEventsResponse& m) {
    only.push_back(m);
    return only.size() < 3;
  });
  ASSERT_EQ(only.size(), 3u);
  EXPECT_EQ(only[1].name(), "events/watched");
  EXPECT_EQ(only[2].sequence(), 9);
  // The seed's events are passed over by a filter that wants another one.
  v1::WatchEventsRequest other;
  other.set_resume_token(resources_->feed().TokenFor(0));
  other.set_name("events/watched");
  std::vector<v1::WatchEventsResponse> skipped;
  s = api_->WatchEvents({}, other, [&](const v1::WatchEventsResponse& m) {
    skipped.push_back(m);
    return skipped.size() < 2;
  });
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[1].sequence(), 8);  // the create, not seed change 1

  v1::WatchEventsRequest wrong;
  wrong.add_collections("persons");
  wrong.set_name("states/kz");
  s = api_->WatchEvents({}, wrong,
                        [](const v1::WatchEventsResponse&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(common::testing::ReasonOf(s), "INVALID_WATCH_FILTER");
}

TEST_F(EventsServiceTest, DrainEndsWatchStreamsWithUnavailable) {
  int messages = 0;
  absl::Status s = api_->WatchEvents({}, v1::WatchEventsRequest(),
                                     [&](const v1::WatchEventsResponse&) {
                                       if (++messages == 1)
                                         handler_->BeginDrain();
                                       return true;
                                     });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(common::testing::ReasonOf(s), "SERVER_SHUTTING_DOWN");
  EXPECT_EQ(messages, 1);
  // New streams are refused.
  s = api_->WatchEvents({}, v1::WatchEventsRequest(),
                        [](const v1::WatchEventsResponse&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(resources_->feed().watcher_count(), 0u);
}

// ---------------------------------------------------------------------------
// Search, on SQLite and, where the test command started one, on PostgreSQL:
// the seeded events by their titles, summaries, places and participants.
// ---------------------------------------------------------------------------

class EventsSearchTest : public ::testing::TestWithParam<std::string> {
 protected:
  using Probe =
      common::testing::SearchProbe<v1::EventsServiceBlocking, v1::SearchRequest,
                                   v1::SearchResponse>;

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
    search_ = std::make_unique<Probe>(api_.get());
  }

  common::PageTokenCodec tokens_{"events-service-test"};
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  std::unique_ptr<common::Database> db_;
  std::unique_ptr<EventsResources> resources_;
  std::unique_ptr<EventsHandler> handler_;
  std::unique_ptr<v1::EventsServiceBlocking> api_;
  std::unique_ptr<Probe> search_;
};

constexpr char kConsultations[] =
    "events/consultations-international-military-flights-2022";
constexpr char kIcmec[] = "events/icmec-meeting-2024-04";
constexpr char kMigrationCouncil[] =
    "events/migration-coordination-council-28th-meeting";
constexpr char kWithdrawal[] =
    "events/csto-forces-withdraw-from-kazakhstan-2022";
constexpr char kMazhilisBill[] =
    "events/kz-mazhilis-deployment-agreement-bill-2022";

TEST_P(EventsSearchTest, PlacesAreFoundInEveryLanguageAndForm) {
  // The two events in Moscow, by its English name, its Russian name in
  // another case, and its Russian name in Latin letters.
  for (const char* query : {"Moscow", "Москва", "Москве ", "Moskva"}) {
    EXPECT_THAT(search_->Names(query),
                UnorderedElementsAre(kConsultations, kIcmec))
        << query;
  }
  EXPECT_THAT(search_->Names("Cholpon-Ata"), ElementsAre(kMigrationCouncil));
}

// Events name states only as `states/kz` or KZ (the place's state, the
// states taking part): they are found by the state's names in English and
// Russian (common::CountryNames), in any form.
TEST_P(EventsSearchTest, StatesAreFoundByTheirNamesInEnglishAndRussian) {
  // The two events held in Kazakhstan, and the consultations in Moscow it
  // took part in.
  for (const char* query :
       {"Kazakhstan", "Казахстан", "Казахстане ", "Kazakhstan Казахстан"}) {
    EXPECT_THAT(
        search_->Names(query),
        UnorderedElementsAre(kMazhilisBill, kWithdrawal, kConsultations))
        << query;
  }
  // Hits are marked where the text names the state, in whichever script.
  auto r = search_->Search("Казахстан", "date >= 2022-05-01", 100);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->hits_size(), 1);
  EXPECT_EQ(r->hits(0).name(), kMazhilisBill);
  EXPECT_THAT(r->hits(0).snippet(), HasSubstr("<mark>Kazakhstan</mark>"));
  // The consultations in Moscow name Kazakhstan only as a participant,
  // `states/kz`: its names are a line of the text.
  r = search_->Search("Казахстан", "date < 2022-04-06 AND date > 2022-04-01");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->hits_size(), 1);
  EXPECT_EQ(r->hits(0).name(), kConsultations);
  EXPECT_THAT(r->hits(0).snippet(),
              HasSubstr("<mark>Kazakhstan</mark>\n<mark>Казахстан</mark>"));
  // Kyrgyzstan: the meeting held there (Cholpon-Ata), and the events it took
  // part in.
  EXPECT_THAT(
      search_->Names("Киргизия"),
      UnorderedElementsAre(kMigrationCouncil, kWithdrawal, kConsultations));
}

TEST_P(EventsSearchTest, TitlesSummariesAndParticipantsFindTheEvent) {
  // A participant's name and capacity.
  EXPECT_THAT(search_->Names("Yakovlev"), ElementsAre(kConsultations));
  EXPECT_THAT(search_->Names("Lieutenant General"),
              ElementsAre(kConsultations));
  // Names in a summary, also typed in Cyrillic or in part.
  EXPECT_THAT(search_->Names("Kikot"), ElementsAre(kMigrationCouncil));
  EXPECT_THAT(search_->Names("Кикот"), ElementsAre(kMigrationCouncil));
  // ("Kyrgyz" in part: Kyrgyzstan, also a participant of the consultations.)
  EXPECT_THAT(
      search_->Names("Kyrgyz"),
      UnorderedElementsAre(kMigrationCouncil, kWithdrawal, kConsultations));
  // English word forms: "withdrawing" in a summary, "withdraw" in a title.
  EXPECT_THAT(search_->Names("withdrawal "), ElementsAre(kWithdrawal));

  auto r = search_->Search("Illegal Migrant");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->hits_size(), 1);
  const auto& hit = r->hits(0);
  EXPECT_EQ(hit.name(), kMigrationCouncil);
  EXPECT_EQ(hit.type(), "cstopa.org/Event");
  EXPECT_EQ(hit.title(),
            "28th meeting of the Coordination Council of Heads of Competent "
            "Authorities of the CSTO member states on combating illegal "
            "migration");
  EXPECT_THAT(hit.snippet(),
              HasSubstr("combating <mark>illegal</mark> migration"));
  // Dated by its first day: only the year is known.
  EXPECT_EQ(hit.date().year(), 2025);
  EXPECT_EQ(hit.date().month(), 0);
}

TEST_P(EventsSearchTest, CountsFiltersAndPagesAgree) {
  const std::vector<std::string> all = search_->Names("CSTO");
  ASSERT_GT(all.size(), 4u);
  EXPECT_EQ(search_->Names("CSTO", "type = \"cstopa.org/Event\""), all);
  EXPECT_THAT(search_->Names("CSTO", "type = \"cstopa.org/Person\""),
              ::testing::IsEmpty());
  auto r = search_->Search("CSTO", "", 100);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type_counts_size(), 1);
  EXPECT_EQ(r->type_counts(0).type(), "cstopa.org/Event");
  EXPECT_EQ(r->type_counts(0).count(), static_cast<int64_t>(all.size()));

  // Moscow: 2022-04-05, and the ICMEC meeting, whose own day is not stated
  // (its news item is of 2024-04-18): a hit without a date.
  EXPECT_THAT(search_->Names("Moscow", "date >= 2024-01-01"),
              ::testing::IsEmpty());
  EXPECT_THAT(search_->Names("Moscow", "date != 2022-04-05"),
              ElementsAre(kIcmec));
  EXPECT_THAT(search_->Names("Moscow", "date < 2022-04-06"),
              ElementsAre(kConsultations));
  EXPECT_THAT(search_->Names("Moscow", "date > 2024-04-18"),
              ::testing::IsEmpty());
  // January 2022, stored without its day.
  EXPECT_THAT(search_->Names("Kazakhstan",
                             "date > 2021-12-31 AND "
                             "date < 2022-02-01"),
              ::testing::Contains(kWithdrawal));

  EXPECT_EQ(search_->AllPages("CSTO", "", 2), all);
  EXPECT_EQ(search_->AllPages("CSTO", "date >= 2024-01-01", 2),
            search_->Names("CSTO", "date >= 2024-01-01"));
  search_->ExpectTokenBoundToQuery("CSTO", "Moscow");
}

TEST_P(EventsSearchTest, HostileInputIsRefusedOrAnswered) {
  search_->ExpectHostileInputsRefusedOrAnswered("Moscow");
}

TEST_P(EventsSearchTest, DeletedEventsAreNotFoundUntilUndeleted) {
  const common::Caller admin = common::testing::AdminCaller();
  v1::DeleteEventRequest del;
  del.set_name(kIcmec);
  v1::Event gone;
  ASSERT_TRUE(api_->DeleteEvent(admin, del, &gone).ok());
  EXPECT_THAT(search_->Names("Москве "), ElementsAre(kConsultations));
  EXPECT_THAT(search_->Names("Zinoviev"), ::testing::IsEmpty());
  v1::UndeleteEventRequest undel;
  undel.set_name(kIcmec);
  v1::Event back;
  ASSERT_TRUE(api_->UndeleteEvent(admin, undel, &back).ok());
  EXPECT_THAT(search_->Names("Zinoviev"), ElementsAre(kIcmec));
}

INSTANTIATE_TEST_SUITE_P(Backends, EventsSearchTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::events
