// ExportLegislation: every seeded record once, in the service's collection
// order, then the token a mirror watches from. (The export's snapshot,
// limits and errors are tested once for all services, on membership:
// services/membership/membership_export_test.cc.)
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "legislation/seed/legislation_seed.pb.h"
#include "services/common/testing/export_test_kit.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/legislation/embedded_files.h"
#include "services/legislation/legislation_resources.h"
#include "services/legislation/legislation_service.h"

namespace cstopa::legislation {
namespace {

using common::testing::ExportedRecords;

class LegislationExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = common::OpenDatabase("sqlite::memory:", LegislationSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ =
        std::make_unique<LegislationResources>(db_.get(), &tokens_, &keys_);
    handler_ = std::make_unique<LegislationHandler>(resources_.get());
    api_ = std::make_unique<v1::LegislationServiceBlocking>(handler_.get());
    ASSERT_TRUE(handler_->LoadSeed(std::string(kLegislationSeed)).ok());
  }

  ExportedRecords<v1::ExportLegislationResponse> Export() {
    return common::testing::ExportAll<v1::ExportLegislationResponse>(
        [&](const auto& on_message) {
          return api_->ExportLegislation({}, v1::ExportLegislationRequest(),
                                         on_message);
        });
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<LegislationResources> resources_;
  std::unique_ptr<LegislationHandler> handler_;
  std::unique_ptr<v1::LegislationServiceBlocking> api_;
};

TEST_F(LegislationExportTest, EverySeededRecordOnceThenTheTokenToWatchFrom) {
  auto e = Export();
  seed::LegislationSeed seed;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      std::string(kLegislationSeed), &seed));
  common::testing::ExpectEveryRecordOnceInOrder(
      e,
      {"documents", "topics", "actionPlans", "items", "treaties",
       "ratifications", "implementations", "statedFigures"},
      seed.documents_size() + seed.topics_size() + seed.action_plans_size() +
          seed.action_plan_items_size() + seed.treaties_size() +
          seed.ratifications_size() + seed.implementations_size() +
          seed.stated_figures_size());

  // A write after the export is the first change after its token.
  std::string victim;
  for (const auto& m : e.records) {
    if (common::CollectionOf(m.name()) == "statedFigures") {
      victim = m.name();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  v1::DeleteStatedFigureRequest del;
  del.set_name(victim);
  v1::StatedFigure deleted;
  ASSERT_TRUE(
      api_->DeleteStatedFigure(common::testing::AdminCaller(), del, &deleted)
          .ok());
  auto changes = common::testing::ChangesAfter<v1::WatchLegislationResponse>(
      [&](const auto& on_message) {
        v1::WatchLegislationRequest watch;
        watch.set_resume_token(e.last.resume_token());
        return api_->WatchLegislation({}, watch, on_message);
      },
      1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].name(), victim);
  EXPECT_EQ(changes[0].change_type(), v1::CHANGE_TYPE_DELETED);
}

// Ratifications carry their computed `state` (the ratifying state, from
// the name), as Get answers them.
TEST_F(LegislationExportTest, RatificationsCarryTheirState) {
  auto e = Export();
  ASSERT_TRUE(e.status.ok()) << e.status;
  int ratifications = 0;
  for (const auto& m : e.records) {
    if (!m.has_ratification()) continue;
    ++ratifications;
    const std::string& name = m.ratification().name();
    EXPECT_EQ(m.ratification().state(),
              absl::StrCat("states/", name.substr(name.rfind('/') + 1)));
  }
  EXPECT_GT(ratifications, 0);
}

}  // namespace
}  // namespace cstopa::legislation
