// "As of" answers distinguish what did not hold from what the sources do not
// say (DateRange's known_from, start_after, known_until, ended_by), on the
// real seed: no date a source does not state is invented, so a fact first
// attested by a source is not known before it, and the chairmanship has
// never two holders.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "membership/seed/membership_seed.pb.h"
#include "services/common/base/dates.h"
#include "services/membership/membership_test_fixture.h"

namespace cstopa::membership {
namespace {

using cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN;
using cstopa::type::v1::AS_OF_KNOWLEDGE_NOT_KNOWN;

class MembershipAsOfTest : public SeededMembershipTest {
 protected:
  v1::State State(const std::string& name, google::type::Date as_of) {
    v1::GetStateRequest req;
    req.set_name(name);
    *req.mutable_as_of() = as_of;
    v1::State out;
    absl::Status s = api_->GetState({}, req, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  v1::Delegation Delegation(const std::string& name, google::type::Date as_of) {
    v1::GetDelegationRequest req;
    req.set_name(name);
    *req.mutable_as_of() = as_of;
    v1::Delegation out;
    absl::Status s = api_->GetDelegation({}, req, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
};

// Seed 003 (January 2022) names the members without saying since when:
// before it their status is not known, not "none".
TEST_F(MembershipAsOfTest, AStatusIsNotKnownBeforeTheSourceThatAttestsIt) {
  const v1::State before = State("states/kz", Day(2021, 6, 1));
  EXPECT_EQ(before.current_status(), v1::MEMBERSHIP_STATUS_UNSPECIFIED);
  EXPECT_EQ(before.current_status_knowledge(), AS_OF_KNOWLEDGE_NOT_KNOWN);
  const v1::State after = State("states/kz", Day(2022, 2, 1));
  EXPECT_EQ(after.current_status(), v1::MEMBERSHIP_STATUS_MEMBER);
  EXPECT_EQ(after.current_status_knowledge(), AS_OF_KNOWLEDGE_KNOWN);
}

// A status whose dates a writer states is known not to hold outside them.
TEST_F(MembershipAsOfTest, AStatedEndIsKnownNotToHoldAfterIt) {
  v1::CreateStateRequest create;
  create.set_state_id("xx");
  auto* name = create.mutable_state()->add_display_name();
  name->set_language_code("en");
  name->set_text("Formerly observing");
  auto* period = create.mutable_state()->add_status_history();
  period->set_status(v1::MEMBERSHIP_STATUS_OBSERVER);
  *period->mutable_period()->mutable_start_date() = Day(2019, 1, 1);
  *period->mutable_period()->mutable_end_date() = Day(2020, 12, 31);
  v1::State created;
  ASSERT_TRUE(api_->CreateState(Editor(), create, &created).ok());
  const v1::State during = State("states/xx", Day(2020, 6, 1));
  EXPECT_EQ(during.current_status(), v1::MEMBERSHIP_STATUS_OBSERVER);
  const v1::State after = State("states/xx", Day(2021, 6, 1));
  EXPECT_EQ(after.current_status(), v1::MEMBERSHIP_STATUS_UNSPECIFIED);
  EXPECT_EQ(after.current_status_knowledge(), AS_OF_KNOWLEDGE_KNOWN);
}

// Seed 000 (2022) gives the Kyrgyz delegation 6 seats, the 2024 brochure 7;
// no source says when the figure changed, so in between it is not known.
TEST_F(MembershipAsOfTest, SeatsBetweenTwoSourcesAreNotKnown) {
  const std::string kg = "parliaments/kg-jogorku-kenesh/delegations/csto-pa";
  const v1::Delegation y2022 = Delegation(kg, Day(2022, 6, 1));
  EXPECT_EQ(y2022.total_seats(), 6);
  EXPECT_EQ(y2022.seats_knowledge(), AS_OF_KNOWLEDGE_KNOWN);
  const v1::Delegation y2023 = Delegation(kg, Day(2023, 6, 1));
  EXPECT_EQ(y2023.effective_seats_size(), 0);
  EXPECT_EQ(y2023.seats_knowledge(), AS_OF_KNOWLEDGE_NOT_KNOWN);
  const v1::Delegation y2024 = Delegation(kg, Day(2024, 6, 1));
  EXPECT_EQ(y2024.total_seats(), 7);
  EXPECT_EQ(y2024.seats_knowledge(), AS_OF_KNOWLEDGE_KNOWN);
  // Before the first source: not known either.
  EXPECT_EQ(Delegation(kg, Day(2021, 6, 1)).seats_knowledge(),
            AS_OF_KNOWLEDGE_NOT_KNOWN);
}

// The whole seed, day by day: at most one state chairs the organization,
// and none is known to before the first source that says so.
TEST_F(MembershipAsOfTest, NeverTwoChairsNorAChairBeforeItsSource) {
  cstopa::membership::seed::MembershipSeed seed;
  ASSERT_TRUE(
      google::protobuf::TextFormat::ParseFromString(kMembershipSeed, &seed));
  struct Chair {
    std::string state;
    cstopa::type::v1::DateRange period;
    int64_t first_source = 99991231;
  };
  std::vector<Chair> chairs;
  for (const v1::State& s : seed.states()) {
    for (const v1::Chairmanship& c : s.chairmanships()) {
      if (c.body() != "bodies/csto") continue;
      Chair chair{s.name(), c.period()};
      for (const auto& p : c.provenance()) {
        chair.first_source =
            std::min(chair.first_source,
                     common::EarliestDay(p.source_date(), p.has_source_date()));
      }
      chairs.push_back(chair);
    }
  }
  ASSERT_GE(chairs.size(), 2u);
  int days = 0;
  for (absl::CivilDay d(2000, 1, 1); d <= absl::CivilDay(2035, 12, 31); ++d) {
    const int64_t day = d.year() * 10000 + d.month() * 100 + d.day();
    std::vector<std::string> holders;
    for (const Chair& c : chairs) {
      if (!common::RangeHolds(c.period, day)) continue;
      holders.push_back(c.state);
      EXPECT_GE(day, c.first_source)
          << c.state << " chairs on " << day << ", before its source";
    }
    EXPECT_LE(holders.size(), 1u) << "two chairs on " << day;
    if (holders.size() == 1) ++days;
  }
  // The one day a source attests: Kyrgyzstan on 29 August 2025.
  EXPECT_EQ(days, 1);
  for (const Chair& c : chairs) {
    if (c.state == "states/kg") {
      EXPECT_TRUE(common::RangeHolds(c.period, 20250829));
    }
    if (c.state == "states/ru") {
      EXPECT_EQ(common::RangeOn(c.period, 20250829), common::DayFact::kNotHeld);
      EXPECT_EQ(common::RangeOn(c.period, 20260101),
                common::DayFact::kNotKnown);
    }
  }
}

// Posts first attested by the 2024 brochure are not listed as held in 2023.
TEST_F(MembershipAsOfTest, RolesAreNotListedBeforeTheirFirstSource) {
  v1::ListRolesRequest req;
  req.set_filter("organization = \"bodies/csto-pa-council\"");
  req.set_page_size(100);
  *req.mutable_as_of() = Day(2023, 6, 1);
  v1::ListRolesResponse before;
  ASSERT_TRUE(api_->ListRoles({}, req, &before).ok());
  EXPECT_EQ(before.roles_size(), 0);
  *req.mutable_as_of() = Day(2024, 6, 1);
  v1::ListRolesResponse after;
  ASSERT_TRUE(api_->ListRoles({}, req, &after).ok());
  EXPECT_GT(after.roles_size(), 5);
}

// With include_not_known, the roles whose holding the sources do not state
// on the day are listed too, each saying which it is; the roles known not to
// be held stay out.
TEST_F(MembershipAsOfTest, RolesNotKnownOnADateAreListedWhenAsked) {
  v1::ListRolesRequest req;
  req.set_filter("organization = \"bodies/csto-pa-council\"");
  req.set_page_size(100);
  req.set_include_not_known(true);
  *req.mutable_as_of() = Day(2023, 6, 1);
  v1::ListRolesResponse before;
  ASSERT_TRUE(api_->ListRoles({}, req, &before).ok());
  // Known from 2024 (the brochure), no start stated: not known in 2023.
  ASSERT_GT(before.roles_size(), 5);
  for (const v1::Role& r : before.roles())
    EXPECT_EQ(r.as_of_knowledge(), AS_OF_KNOWLEDGE_NOT_KNOWN) << r.name();
  *req.mutable_as_of() = Day(2024, 6, 1);
  v1::ListRolesResponse after;
  ASSERT_TRUE(api_->ListRoles({}, req, &after).ok());
  EXPECT_EQ(after.roles_size(), before.roles_size());
  for (const v1::Role& r : after.roles())
    EXPECT_EQ(r.as_of_knowledge(), AS_OF_KNOWLEDGE_KNOWN) << r.name();

  // A role that ended is known not to be held after its end: not listed.
  v1::CreateRoleRequest create;
  create.set_role_id("ended-council-member");
  v1::Role* role = create.mutable_role();
  role->set_person("persons/viktor-rogalev");
  role->set_organization("bodies/csto-pa-council");
  role->set_role_type(v1::ROLE_TYPE_MEMBER);
  *role->mutable_period()->mutable_start_date() = Day(2020, 1, 1);
  *role->mutable_period()->mutable_end_date() = Day(2020, 12, 31);
  role->set_as_of_knowledge(AS_OF_KNOWLEDGE_KNOWN);  // output only: dropped
  v1::Role created;
  ASSERT_TRUE(
      api_->CreateRole(common::testing::AdminCaller(), create, &created).ok());
  EXPECT_EQ(created.as_of_knowledge(),
            cstopa::type::v1::AS_OF_KNOWLEDGE_UNSPECIFIED);
  *req.mutable_as_of() = Day(2021, 6, 1);
  v1::ListRolesResponse later;
  ASSERT_TRUE(api_->ListRoles({}, req, &later).ok());
  std::vector<std::string> names;
  for (const v1::Role& r : later.roles()) names.push_back(r.name());
  EXPECT_THAT(
      names, ::testing::Not(::testing::Contains("roles/ended-council-member")));
  *req.mutable_as_of() = Day(2020, 6, 1);
  v1::ListRolesResponse during;
  ASSERT_TRUE(api_->ListRoles({}, req, &during).ok());
  bool found = false;
  for (const v1::Role& r : during.roles()) {
    if (r.name() != "roles/ended-council-member") continue;
    found = true;
    EXPECT_EQ(r.as_of_knowledge(), AS_OF_KNOWLEDGE_KNOWN);
  }
  EXPECT_TRUE(found);

  // Pages of one role each reach every role once.
  req.set_page_size(1);
  *req.mutable_as_of() = Day(2023, 6, 1);
  std::vector<std::string> paged;
  for (int i = 0; i < 100; ++i) {
    v1::ListRolesResponse page;
    ASSERT_TRUE(api_->ListRoles({}, req, &page).ok());
    for (const v1::Role& r : page.roles()) paged.push_back(r.name());
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  std::vector<std::string> whole;
  for (const v1::Role& r : before.roles()) whole.push_back(r.name());
  EXPECT_EQ(paged, whole);

  // Without as_of it is refused, naming the field.
  v1::ListRolesRequest bad;
  bad.set_include_not_known(true);
  v1::ListRolesResponse none;
  absl::Status refused = api_->ListRoles({}, bad, &none);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("include_not_known"), std::string::npos);
  // Without include_not_known the list is as before: the known ones only.
  req.clear_include_not_known();
  req.clear_page_token();
  req.set_page_size(100);
  v1::ListRolesResponse plain;
  ASSERT_TRUE(api_->ListRoles({}, req, &plain).ok());
  EXPECT_EQ(plain.roles_size(), 0);
}

// The summary of every state says which figures are not known on the day.
TEST_F(MembershipAsOfTest, TheMembershipSummarySaysWhatIsNotKnown) {
  v1::SummarizeMembershipRequest req;
  *req.mutable_as_of() = Day(2021, 6, 1);
  v1::MembershipSummary before;
  ASSERT_TRUE(api_->SummarizeMembership({}, req, &before).ok());
  ASSERT_GT(before.states_size(), 0);
  for (const v1::StateStanding& s : before.states()) {
    EXPECT_EQ(s.status_knowledge(), AS_OF_KNOWLEDGE_NOT_KNOWN) << s.state();
    EXPECT_EQ(s.seats_knowledge(), AS_OF_KNOWLEDGE_NOT_KNOWN) << s.state();
  }
  *req.mutable_as_of() = Day(2024, 6, 1);
  v1::MembershipSummary now;
  ASSERT_TRUE(api_->SummarizeMembership({}, req, &now).ok());
  for (const v1::StateStanding& s : now.states()) {
    if (s.state() != "states/kz") continue;
    EXPECT_EQ(s.status(), v1::MEMBERSHIP_STATUS_MEMBER);
    EXPECT_EQ(s.status_knowledge(), AS_OF_KNOWLEDGE_KNOWN);
    EXPECT_EQ(s.seats_knowledge(), AS_OF_KNOWLEDGE_KNOWN);
    EXPECT_EQ(s.seats(), 16);
  }
}

// What is known of an unstated end is refused where the end is stated, and
// bounds that leave no day are refused.
TEST_F(MembershipAsOfTest, BoundsOfUnstatedEndsAreChecked) {
  auto create = [&](auto fill) {
    v1::CreateStateRequest req;
    req.set_state_id("yy");
    auto* name = req.mutable_state()->add_display_name();
    name->set_language_code("en");
    name->set_text("Bounds");
    auto* period = req.mutable_state()->add_status_history();
    period->set_status(v1::MEMBERSHIP_STATUS_PARTNER);
    fill(period->mutable_period());
    v1::State out;
    return api_->CreateState(Editor(), req, &out);
  };
  absl::Status both = create([](cstopa::type::v1::DateRange* r) {
    *r->mutable_start_date() = Day(2020, 1, 1);
    *r->mutable_known_from() = Day(2021, 1, 1);
  });
  EXPECT_EQ(both.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(both.message()), ::testing::HasSubstr("known_from"));
  absl::Status empty = create([](cstopa::type::v1::DateRange* r) {
    *r->mutable_start_after() = Day(2022, 1, 1);
    *r->mutable_ended_by() = Day(2021, 1, 1);
  });
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  absl::Status backwards = create([](cstopa::type::v1::DateRange* r) {
    *r->mutable_known_from() = Day(2022, 1, 1);
    *r->mutable_known_until() = Day(2021, 1, 1);
  });
  EXPECT_EQ(backwards.code(), absl::StatusCode::kInvalidArgument);
  absl::Status fine = create([](cstopa::type::v1::DateRange* r) {
    *r->mutable_known_from() = Day(2021, 1, 1);
    *r->mutable_ended_by() = Day(2023, 1, 1);
  });
  EXPECT_TRUE(fine.ok()) << fine;
}

}  // namespace
}  // namespace cstopa::membership
