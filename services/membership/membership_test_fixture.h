// The fixture of the membership handler tests: the handler without a
// server, on an in-memory SQLite store loaded with the real seed file, its
// API called through the blocking wrapper, "today" fixed at 2026-11-22.
//
//   class MyTest : public SeededMembershipTest {};
//   TEST_F(MyTest, Something) {
//     v1::State s;
//     ASSERT_TRUE(api_->GetState({}, request, &s).ok());
//   }
#ifndef CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_TEST_FIXTURE_H_
#define CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_TEST_FIXTURE_H_

#include <cstdint>
#include <memory>

#include "google/type/date.pb.h"
#include "gtest/gtest.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/membership/embedded_files.h"
#include "services/membership/membership_resources.h"
#include "services/membership/membership_service.h"

namespace cstopa::membership {

// A full date.
inline google::type::Date Day(int y, int m, int d) {
  google::type::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

class SeededMembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = common::OpenDatabase("sqlite::memory:", MembershipSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<MembershipResources>(
        db_.get(), &tokens_, &keys_, [] { return int64_t{20261122}; });
    handler_ = std::make_unique<MembershipHandler>(resources_.get());
    api_ = std::make_unique<v1::MembershipServiceBlocking>(handler_.get());
    absl::Status s = handler_->LoadSeed(kMembershipSeed);
    ASSERT_TRUE(s.ok()) << s;
  }

  common::Caller Editor() { return common::testing::EditorCaller(); }
  common::Caller Admin() { return common::testing::AdminCaller(); }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<MembershipResources> resources_;
  std::unique_ptr<MembershipHandler> handler_;
  std::unique_ptr<v1::MembershipServiceBlocking> api_;
};

}  // namespace cstopa::membership

#endif  // CSTOPA_SERVICES_MEMBERSHIP_MEMBERSHIP_TEST_FIXTURE_H_
