// ExportEvents: every seeded record once, in the service's collection
// order, then the token a mirror watches from. (The export's snapshot,
// limits and errors are tested once for all services, on membership:
// services/membership/membership_export_test.cc.)
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "events/seed/events_seed.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "services/common/testing/export_test_kit.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/events/embedded_files.h"
#include "services/events/events_resources.h"
#include "services/events/events_service.h"

namespace cstopa::events {
namespace {

using common::testing::ExportedRecords;

class EventsExportTest : public ::testing::Test {
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

  ExportedRecords<v1::ExportEventsResponse> Export() {
    return common::testing::ExportAll<v1::ExportEventsResponse>(
        [&](const auto& on_message) {
          return api_->ExportEvents({}, v1::ExportEventsRequest(), on_message);
        });
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<EventsResources> resources_;
  std::unique_ptr<EventsHandler> handler_;
  std::unique_ptr<v1::EventsServiceBlocking> api_;
};

TEST_F(EventsExportTest, EverySeededRecordOnceThenTheTokenToWatchFrom) {
  auto e = Export();
  seed::EventsSeed seed;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      std::string(kEventsSeed), &seed));
  common::testing::ExpectEveryRecordOnceInOrder(e, {"events"},
                                                seed.events_size());

  // A write after the export is the first change after its token.
  std::string victim;
  for (const auto& m : e.records) {
    if (common::CollectionOf(m.name()) == "events") {
      victim = m.name();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  v1::DeleteEventRequest del;
  del.set_name(victim);
  v1::Event deleted;
  ASSERT_TRUE(
      api_->DeleteEvent(common::testing::AdminCaller(), del, &deleted).ok());
  auto changes = common::testing::ChangesAfter<v1::WatchEventsResponse>(
      [&](const auto& on_message) {
        v1::WatchEventsRequest watch;
        watch.set_resume_token(e.last.resume_token());
        return api_->WatchEvents({}, watch, on_message);
      },
      1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].name(), victim);
  EXPECT_EQ(changes[0].change_type(), v1::CHANGE_TYPE_DELETED);
}

}  // namespace
}  // namespace cstopa::events
