// ExportMonitoring: every seeded record once, in the service's collection
// order, then the token a mirror watches from. (The export's snapshot,
// limits and errors are tested once for all services, on membership:
// services/membership/membership_export_test.cc.)
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "monitoring/seed/monitoring_seed.pb.h"
#include "services/common/testing/export_test_kit.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/monitoring/embedded_files.h"
#include "services/monitoring/monitoring_resources.h"
#include "services/monitoring/monitoring_service.h"

namespace cstopa::monitoring {
namespace {

using common::testing::ExportedRecords;

class MonitoringExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = common::OpenDatabase("sqlite::memory:", MonitoringSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ =
        std::make_unique<MonitoringResources>(db_.get(), &tokens_, &keys_);
    handler_ = std::make_unique<MonitoringHandler>(resources_.get());
    api_ = std::make_unique<v1::MonitoringServiceBlocking>(handler_.get());
    ASSERT_TRUE(handler_->LoadSeed(std::string(kMonitoringSeed)).ok());
  }

  ExportedRecords<v1::ExportMonitoringResponse> Export() {
    return common::testing::ExportAll<v1::ExportMonitoringResponse>(
        [&](const auto& on_message) {
          return api_->ExportMonitoring({}, v1::ExportMonitoringRequest(),
                                        on_message);
        });
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<MonitoringResources> resources_;
  std::unique_ptr<MonitoringHandler> handler_;
  std::unique_ptr<v1::MonitoringServiceBlocking> api_;
};

TEST_F(MonitoringExportTest, EverySeededRecordOnceThenTheTokenToWatchFrom) {
  auto e = Export();
  seed::MonitoringSeed seed;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      std::string(kMonitoringSeed), &seed));
  common::testing::ExpectEveryRecordOnceInOrder(
      e,
      {"missions", "operations", "regionalOperations", "complianceRecords",
       "fieldVisits", "sourceGaps"},
      seed.missions_size() + seed.operations_size() +
          seed.regional_operations_size() + seed.compliance_records_size() +
          seed.field_visits_size() + seed.source_gaps_size());

  // A write after the export is the first change after its token.
  std::string victim;
  for (const auto& m : e.records) {
    if (common::CollectionOf(m.name()) == "missions") {
      victim = m.name();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  v1::DeleteMissionRequest del;
  del.set_name(victim);
  v1::Mission deleted;
  ASSERT_TRUE(
      api_->DeleteMission(common::testing::AdminCaller(), del, &deleted).ok());
  auto changes = common::testing::ChangesAfter<v1::WatchMonitoringResponse>(
      [&](const auto& on_message) {
        v1::WatchMonitoringRequest watch;
        watch.set_resume_token(e.last.resume_token());
        return api_->WatchMonitoring({}, watch, on_message);
      },
      1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].name(), victim);
  EXPECT_EQ(changes[0].change_type(), v1::CHANGE_TYPE_DELETED);
}

}  // namespace
}  // namespace cstopa::monitoring
