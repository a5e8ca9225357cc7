// EventsHandler without a server: the seed, validation of bad input with
// field violations, filters and order, authorization, references.
#include "services/events/events_service.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/events/embedded_files.h"

namespace cstopa::events {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr char kEditorKey[] = "events-editor-key";
constexpr char kAdminKey[] = "events-admin-key";

class EventsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = common::OpenDatabase("sqlite::memory:", EventsSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    store_ = std::make_unique<EventsStore>(db_.get(), &tokens_);
    auto keys = common::ApiKeyStore::Parse(
        common::HashApiKey(kEditorKey) + " editor e\n" +
        common::HashApiKey(kAdminKey) + " admin a\n");
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(*keys);
    handler_ = std::make_unique<EventsHandler>(store_.get(), &keys_);
    ASSERT_TRUE(handler_->LoadSeed(std::string(kEventsSeed)).ok());
  }

  static common::Caller Editor() {
    return common::Caller{std::string("Bearer ") + kEditorKey};
  }
  static common::Caller Admin() {
    return common::Caller{std::string("Bearer ") + kAdminKey};
  }

  std::vector<std::string> ListNames(const std::string& filter,
                                     const std::string& order_by = "") {
    v1::ListEventsRequest req;
    req.set_filter(filter);
    req.set_order_by(order_by);
    v1::ListEventsResponse resp;
    absl::Status s = handler_->ListEvents({}, req, &resp);
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
    std::vector<std::string> out;
    auto br = common::GetBadRequest(s);
    if (br.has_value())
      for (const auto& v : br->field_violations()) out.push_back(v.field());
    return out;
  }

  absl::Status Create(const v1::Event& e, const std::string& id = "x") {
    v1::CreateEventRequest req;
    req.set_event_id(id);
    *req.mutable_event() = e;
    v1::Event out;
    return handler_->CreateEvent(Editor(), req, &out);
  }

  common::PageTokenCodec tokens_{"events-service-test"};
  std::unique_ptr<common::Database> db_;
  std::unique_ptr<EventsStore> store_;
  common::ApiKeyStore keys_;
  std::unique_ptr<EventsHandler> handler_;
};

TEST_F(EventsServiceTest, SeedHasTheDomainEventsWithProvenance) {
  std::vector<std::string> all = ListNames("");
  EXPECT_EQ(all.size(), 7u);
  v1::ListEventsRequest req;
  v1::ListEventsResponse resp;
  ASSERT_TRUE(handler_->ListEvents({}, req, &resp).ok());
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
  ASSERT_TRUE(handler_->GetEvent({}, get, &flights).ok());
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
  EXPECT_THAT(
      ListNames(""),
      ElementsAre("events/migration-coordination-council-28th-meeting",
                  "events/annual-training-2024",
                  "events/working-meeting-unrcca-2024",
                  "events/icmec-meeting-2024-04",
                  "events/kz-mazhilis-deployment-agreement-bill-2022",
                  "events/consultations-international-military-flights-2022",
                  "events/csto-forces-withdraw-from-kazakhstan-2022"));
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
  EXPECT_THAT(Fields(Create(own, "self")), ElementsAre("event.parent_event"));
}

TEST_F(EventsServiceTest, WritesNeedKeysAndEtagsGuardUpdates) {
  v1::CreateEventRequest req;
  req.set_event_id("anonymous");
  *req.mutable_event() = Valid();
  v1::Event out;
  EXPECT_EQ(handler_->CreateEvent({}, req, &out).code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(handler_->CreateEvent(Editor(), req, &out).ok());
  std::string etag = out.etag();

  v1::UpdateEventRequest upd;
  *upd.mutable_event()->add_summary() = out.title(0);
  upd.mutable_event()->set_name(out.name());
  upd.mutable_event()->set_etag(etag);
  v1::Event updated;
  ASSERT_TRUE(handler_->UpdateEvent(Editor(), upd, &updated).ok());
  EXPECT_EQ(updated.summary_size(), 1);
  EXPECT_EQ(updated.title_size(), 1);  // not in the mask: kept
  EXPECT_EQ(handler_->UpdateEvent(Editor(), upd, &updated).code(),
            absl::StatusCode::kFailedPrecondition);

  v1::DeleteEventRequest del;
  del.set_name(out.name());
  EXPECT_EQ(handler_->DeleteEvent(Editor(), del, &updated).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(handler_->DeleteEvent(Admin(), del, &updated).ok());
  EXPECT_TRUE(updated.has_delete_time());
  v1::GetEventRequest get;
  get.set_name(out.name());
  EXPECT_EQ(handler_->GetEvent({}, get, &updated).code(),
            absl::StatusCode::kNotFound);
  // Deleted IDs are never reused.
  EXPECT_EQ(handler_->CreateEvent(Editor(), req, &out).code(),
            absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace cstopa::events
