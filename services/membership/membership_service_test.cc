// Handler tests: the membership API's behaviour without a server, on an
// in-memory store loaded with the real seed file; the summaries and the
// watch stream also on PostgreSQL.
#include "services/membership/membership_service.h"

#include <unistd.h>

#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "membership/seed/membership_seed.pb.h"
#include "services/common/base/errors.h"
#include "services/common/store/change_feed.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/common/testing/search_test_kit.h"
#include "services/common/testing/test_postgres.h"
#include "services/membership/embedded_files.h"
#include "services/membership/membership_resources.h"
#include "services/membership/membership_test_fixture.h"

namespace cstopa::membership {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

using common::Caller;
using common::testing::FieldsOf;

using MembershipHandlerTest = SeededMembershipTest;

TEST_F(MembershipHandlerTest, SeedHasTheSixMemberStatesWithProvenance) {
  v1::ListStatesRequest req;
  v1::ListStatesResponse resp;
  ASSERT_TRUE(api_->ListStates({}, req, &resp).ok());
  std::set<std::string> names;
  for (const auto& s : resp.states()) {
    names.insert(s.name());
    EXPECT_EQ(s.current_status(), v1::MEMBERSHIP_STATUS_MEMBER) << s.name();
    EXPECT_FALSE(s.provenance().empty()) << s.name();
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"states/am", "states/by", "states/kg",
                                   "states/kz", "states/ru", "states/tj"}));
  EXPECT_TRUE(resp.next_page_token().empty());
}

TEST_F(MembershipHandlerTest, KyrgyzDelegationHasSixSeatsIn2022AndSevenNow) {
  v1::GetDelegationRequest req;
  req.set_name("parliaments/kg-jogorku-kenesh/delegations/csto-pa");
  *req.mutable_as_of() = Day(2022, 5, 1);
  v1::Delegation then;
  ASSERT_TRUE(api_->GetDelegation({}, req, &then).ok());
  EXPECT_EQ(then.total_seats(), 6);
  EXPECT_EQ(then.seat_allocations_size(), 2);  // both facts kept

  req.clear_as_of();
  v1::Delegation now;
  ASSERT_TRUE(api_->GetDelegation({}, req, &now).ok());
  EXPECT_EQ(now.total_seats(), 7);
  EXPECT_EQ(now.as_of_date().year(), 2026);
}

TEST_F(MembershipHandlerTest, BicameralDelegationSumsChambers) {
  v1::GetDelegationRequest req;
  req.set_name("parliaments/ru-federal-assembly/delegations/csto-pa");
  v1::Delegation d;
  ASSERT_TRUE(api_->GetDelegation({}, req, &d).ok());
  EXPECT_EQ(d.total_seats(), 22);
  EXPECT_EQ(d.effective_seats_size(), 2);
}

TEST_F(MembershipHandlerTest, RolesAsOfADateOnlyListThoseHeldThen) {
  v1::ListRolesRequest req;
  req.set_filter("role_type = ROLE_TYPE_PLENIPOTENTIARY_REPRESENTATIVE");
  *req.mutable_as_of() = Day(2022, 5, 1);
  v1::ListRolesResponse resp;
  ASSERT_TRUE(api_->ListRoles({}, req, &resp).ok());
  std::set<std::string> people;
  for (const auto& r : resp.roles()) people.insert(r.person());
  EXPECT_EQ(people,
            (std::set<std::string>{
                "persons/viktor-kogut", "persons/viktor-rogalev",
                "persons/shabdanbek-alishev", "persons/mikhail-krotov"}));

  // Council membership is attested from 2024 only.
  v1::ListRolesRequest council;
  council.set_filter("organization = \"bodies/csto-pa-council\"");
  *council.mutable_as_of() = Day(2022, 5, 1);
  v1::ListRolesResponse none;
  ASSERT_TRUE(api_->ListRoles({}, council, &none).ok());
  EXPECT_EQ(none.roles_size(), 0);
  *council.mutable_as_of() = Day(2024, 6, 1);
  v1::ListRolesResponse some;
  ASSERT_TRUE(api_->ListRoles({}, council, &some).ok());
  EXPECT_GE(some.roles_size(), 8);
}

TEST_F(MembershipHandlerTest, PostWithUnknownHolderIsStored) {
  v1::ListRolesRequest req;
  req.set_filter("person = \"\" AND organization = \"bodies/csto-pa-council\"");
  v1::ListRolesResponse resp;
  ASSERT_TRUE(api_->ListRoles({}, req, &resp).ok());
  ASSERT_EQ(resp.roles_size(), 1);
  EXPECT_FALSE(resp.roles(0).provenance().empty());
}

// A partner whose source does not say partner or observer is
// UNDETERMINED, in the seed and when a writer leaves the kind out: the
// enum's zero value never stands for a meaning.
TEST_F(MembershipHandlerTest, PartnersOfUnknownKindAreUndetermined) {
  v1::ListPartnersRequest list;
  list.set_filter("kind = PARTNER_KIND_UNDETERMINED");
  v1::ListPartnersResponse seeded;
  ASSERT_TRUE(api_->ListPartners({}, list, &seeded).ok());
  EXPECT_EQ(seeded.partners_size(), 2);
  v1::CreatePartnerRequest req;
  req.set_partner_id("kindless");
  auto* name = req.mutable_partner()->add_display_name();
  name->set_language_code("en");
  name->set_text("A partner of no stated kind");
  v1::Partner out;
  ASSERT_TRUE(api_->CreatePartner(Editor(), req, &out).ok());
  EXPECT_EQ(out.kind(), v1::PARTNER_KIND_UNDETERMINED);
  req.set_partner_id("observer");
  req.mutable_partner()->set_kind(v1::PARTNER_KIND_OBSERVER);
  ASSERT_TRUE(api_->CreatePartner(Editor(), req, &out).ok());
  EXPECT_EQ(out.kind(), v1::PARTNER_KIND_OBSERVER);
}

// Seed 004 (29 August 2025) dates neither end of either chairmanship:
// Kyrgyzstan holds it on that day, and it will pass to Russia after it.
TEST_F(MembershipHandlerTest, ChairmanshipPassesFromKyrgyzstanToRussia) {
  v1::GetStateRequest req;
  req.set_name("states/ru");
  v1::State ru;
  ASSERT_TRUE(api_->GetState({}, req, &ru).ok());
  ASSERT_EQ(ru.chairmanships_size(), 1);
  EXPECT_FALSE(ru.chairmanships(0).period().has_start_date());
  EXPECT_EQ(ru.chairmanships(0).period().start_after().year(), 2025);
  EXPECT_EQ(ru.chairmanships(0).period().start_after().month(), 8);
  EXPECT_EQ(ru.chairmanships(0).period().start_after().day(), 29);
  req.set_name("states/kg");
  v1::State kg;
  ASSERT_TRUE(api_->GetState({}, req, &kg).ok());
  ASSERT_EQ(kg.chairmanships_size(), 1);
  EXPECT_FALSE(kg.chairmanships(0).period().has_end_date());
  EXPECT_EQ(kg.chairmanships(0).period().known_until().day(), 29);
  EXPECT_EQ(kg.chairmanships(0).period().known_from().day(), 29);
}

TEST_F(MembershipHandlerTest, CreateGetUpdateDeleteWithEtags) {
  v1::CreatePersonRequest create;
  create.set_person_id("test-person");
  auto* name = create.mutable_person()->add_display_name();
  name->set_language_code("en");
  name->set_text("Test Person");
  create.mutable_person()->set_state("states/kz");
  v1::Person created;
  ASSERT_TRUE(api_->CreatePerson(Editor(), create, &created).ok());
  EXPECT_EQ(created.name(), "persons/test-person");
  EXPECT_FALSE(created.etag().empty());
  EXPECT_TRUE(created.has_create_time());

  // Update with a stale etag fails; with the current one it succeeds.
  v1::UpdatePersonRequest update;
  *update.mutable_person() = created;
  update.mutable_person()->mutable_display_name(0)->set_text("Renamed");
  update.mutable_update_mask()->add_paths("display_name");
  update.mutable_person()->set_etag("stale");
  v1::Person updated;
  absl::Status stale = api_->UpdatePerson(Editor(), update, &updated);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(common::GetErrorInfo(stale)->reason(), "ETAG_MISMATCH");
  update.mutable_person()->set_etag(created.etag());
  ASSERT_TRUE(api_->UpdatePerson(Editor(), update, &updated).ok());
  EXPECT_EQ(updated.display_name(0).text(), "Renamed");
  EXPECT_EQ(updated.state(), "states/kz");
  EXPECT_NE(updated.etag(), created.etag());

  // Delete is soft and the ID is never reused.
  v1::DeletePersonRequest del;
  del.set_name("persons/test-person");
  v1::Person deleted;
  ASSERT_TRUE(api_->DeletePerson(Admin(), del, &deleted).ok());
  EXPECT_TRUE(deleted.has_delete_time());
  v1::GetPersonRequest get;
  get.set_name("persons/test-person");
  v1::Person gone;
  absl::Status not_found = api_->GetPerson({}, get, &gone);
  EXPECT_EQ(not_found.code(), absl::StatusCode::kNotFound);
  // The error names the resource and its type (google.rpc.ResourceInfo).
  auto payload =
      not_found.GetPayload("type.googleapis.com/google.rpc.ResourceInfo");
  ASSERT_TRUE(payload.has_value());
  google::rpc::ResourceInfo info;
  ASSERT_TRUE(info.ParseFromString(std::string(*payload)));
  EXPECT_EQ(info.resource_name(), "persons/test-person");
  EXPECT_EQ(info.resource_type(), "cstopa.org/Person");
  v1::ListPersonsRequest list;
  list.set_filter("name = \"persons/test-person\"");
  list.set_show_deleted(true);
  v1::ListPersonsResponse listed;
  ASSERT_TRUE(api_->ListPersons({}, list, &listed).ok());
  EXPECT_EQ(listed.persons_size(), 1);
  v1::Person again;
  EXPECT_EQ(api_->CreatePerson(Editor(), create, &again).code(),
            absl::StatusCode::kAlreadyExists);
}

// AIP-154: etags are quoted as in HTTP. A record without computed fields
// has a strong one, "<16 hex>"; an etag kept from before etags were quoted
// (the same tag unquoted) is still accepted on a write.
TEST_F(MembershipHandlerTest,
       EtagsAreQuotedStrongAndTheUnquotedFormStillWorks) {
  v1::GetPersonRequest get;
  get.set_name("persons/viktor-kogut");
  v1::Person p;
  ASSERT_TRUE(api_->GetPerson({}, get, &p).ok());
  EXPECT_THAT(p.etag(), ::testing::MatchesRegex("\"[0-9a-f]{16}\""));

  v1::UpdatePersonRequest update;
  *update.mutable_person() = p;
  update.mutable_person()->set_etag(p.etag().substr(1, 16));  // unquoted
  update.mutable_update_mask()->add_paths("display_name");
  v1::Person updated;
  ASSERT_TRUE(api_->UpdatePerson(Editor(), update, &updated).ok());
  EXPECT_THAT(updated.etag(), ::testing::MatchesRegex("\"[0-9a-f]{16}\""));
  EXPECT_NE(updated.etag(), p.etag());
  // Now stale, in every form: ABORTED.
  for (std::string stale :
       {p.etag(), p.etag().substr(1, 16), absl::StrCat("W/", p.etag())}) {
    update.mutable_person()->set_etag(stale);
    absl::Status s = api_->UpdatePerson(Editor(), update, &updated);
    EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << stale;
    EXPECT_EQ(common::GetErrorInfo(s)->reason(), "ETAG_MISMATCH") << stale;
  }
}

// A state's `current_status` (and a delegation's seats) depend on `as_of`:
// its etag is a weak one for the day, so two answers for different days
// never share one. A write accepts it, checked against the stored version.
TEST_F(MembershipHandlerTest, AsOfAnswersCarryAWeakEtagForTheirDay) {
  v1::GetStateRequest get;
  get.set_name("states/kz");
  v1::State today, then, again;
  ASSERT_TRUE(api_->GetState({}, get, &today).ok());
  *get.mutable_as_of() = Day(2022, 5, 1);
  ASSERT_TRUE(api_->GetState({}, get, &then).ok());
  ASSERT_TRUE(api_->GetState({}, get, &again).ok());
  EXPECT_THAT(today.etag(),
              ::testing::MatchesRegex("W/\"[0-9a-f]{16}-20261122\""));
  EXPECT_THAT(then.etag(),
              ::testing::MatchesRegex("W/\"[0-9a-f]{16}-20220501\""));
  EXPECT_EQ(then.etag(), again.etag());  // same record, same day
  EXPECT_NE(today.etag(), then.etag());
  // Lists and batch reads say the same.
  v1::ListStatesRequest list;
  *list.mutable_as_of() = Day(2022, 5, 1);
  list.set_filter("name = \"states/kz\"");
  v1::ListStatesResponse listed;
  ASSERT_TRUE(api_->ListStates({}, list, &listed).ok());
  ASSERT_EQ(listed.states_size(), 1);
  EXPECT_EQ(listed.states(0).etag(), then.etag());

  v1::GetDelegationRequest dget;
  dget.set_name("parliaments/kg-jogorku-kenesh/delegations/csto-pa");
  v1::Delegation d_now, d_then;
  ASSERT_TRUE(api_->GetDelegation({}, dget, &d_now).ok());
  *dget.mutable_as_of() = Day(2022, 5, 1);
  ASSERT_TRUE(api_->GetDelegation({}, dget, &d_then).ok());
  EXPECT_NE(d_now.etag(), d_then.etag());
  EXPECT_EQ(d_now.etag().substr(0, 3), "W/\"");

  // The weak etag of any day names the stored version: the write goes
  // through, and the answer carries today's weak etag of the new version.
  v1::UpdateStateRequest update;
  *update.mutable_state() = then;
  update.mutable_state()->mutable_display_name(0)->set_text("Kazakhstan!");
  update.mutable_update_mask()->add_paths("display_name");
  v1::State updated;
  ASSERT_TRUE(api_->UpdateState(Editor(), update, &updated).ok());
  EXPECT_THAT(updated.etag(),
              ::testing::MatchesRegex("W/\"[0-9a-f]{16}-20261122\""));
  EXPECT_NE(updated.etag(), today.etag());
  // Once the record changed, the old weak etags are stale: ABORTED.
  update.mutable_state()->set_etag(today.etag());
  absl::Status s = api_->UpdateState(Editor(), update, &updated);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(common::GetErrorInfo(s)->reason(), "ETAG_MISMATCH");
}

TEST_F(MembershipHandlerTest, UpdateMaskRejectsOutputOnlyAndUnknownFields) {
  v1::UpdateStateRequest req;
  req.mutable_state()->set_name("states/kz");
  req.mutable_update_mask()->add_paths("create_time");
  req.mutable_update_mask()->add_paths("colour");
  v1::State out;
  absl::Status s = api_->UpdateState(Editor(), req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(s), ElementsAre("update_mask", "update_mask"));
}

TEST_F(MembershipHandlerTest, WritesNeedAKeyAndDeletesNeedAdmin) {
  v1::DeleteStateRequest del;
  del.set_name("states/kz");
  v1::State out;
  absl::Status anonymous = api_->DeleteState({}, del, &out);
  EXPECT_EQ(anonymous.code(), absl::StatusCode::kUnauthenticated);
  absl::Status wrong =
      api_->DeleteState(common::testing::CallerWithKey("nope"), del, &out);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated);
  absl::Status editor = api_->DeleteState(Editor(), del, &out);
  EXPECT_EQ(editor.code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(MembershipHandlerTest, InvalidCreateListsEveryViolation) {
  v1::CreateRoleRequest req;
  req.set_role_id("Bad_ID");
  req.mutable_role()->set_person("people/x");
  req.mutable_role()->set_role_type(static_cast<v1::RoleType>(99));
  *req.mutable_role()->mutable_period()->mutable_start_date() = Day(2024, 1, 1);
  *req.mutable_role()->mutable_period()->mutable_end_date() = Day(2023, 1, 1);
  v1::Role out;
  absl::Status s = api_->CreateRole(Editor(), req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(s), UnorderedElementsAre(
                               "role_id", "role.person", "role.organization",
                               "role.role_type", "role.period.end_date"));
}

TEST_F(MembershipHandlerTest, ReferencesToMissingResourcesAreRejected) {
  v1::CreateRoleRequest req;
  req.set_role_id("ghost-role");
  req.mutable_role()->set_person("persons/nobody");
  req.mutable_role()->set_organization("bodies/csto-pa");
  req.mutable_role()->set_role_type(v1::ROLE_TYPE_MEMBER);
  v1::Role out;
  absl::Status s = api_->CreateRole(Editor(), req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(common::GetErrorInfo(s)->reason(), "UNKNOWN_REFERENCE");
  EXPECT_THAT(FieldsOf(s), ElementsAre("role.person"));
}

TEST_F(MembershipHandlerTest, BadNamesAndDatesAreInvalidArgument) {
  v1::GetStateRequest get;
  get.set_name("countries/kz");
  v1::State out;
  EXPECT_EQ(api_->GetState({}, get, &out).code(),
            absl::StatusCode::kInvalidArgument);
  get.set_name("states/kz");
  get.mutable_as_of()->set_year(2022);  // partial dates are not "as of" days
  EXPECT_EQ(api_->GetState({}, get, &out).code(),
            absl::StatusCode::kInvalidArgument);
  v1::ListDelegationsRequest list;
  list.set_parent("nowhere");
  v1::ListDelegationsResponse resp;
  EXPECT_EQ(api_->ListDelegations({}, list, &resp).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MembershipHandlerTest, BatchGetKeepsOrderAndFailsOnUnknown) {
  v1::BatchGetStatesRequest req;
  req.add_names("states/tj");
  req.add_names("states/am");
  v1::BatchGetStatesResponse resp;
  ASSERT_TRUE(api_->BatchGetStates({}, req, &resp).ok());
  ASSERT_EQ(resp.states_size(), 2);
  EXPECT_EQ(resp.states(0).name(), "states/tj");
  EXPECT_EQ(resp.states(1).name(), "states/am");
  req.add_names("states/zz");
  v1::BatchGetStatesResponse fail;
  EXPECT_EQ(api_->BatchGetStates({}, req, &fail).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(MembershipHandlerTest, PagesWalkEverythingOnceWhileRowsAreInserted) {
  v1::ListPersonsRequest req;
  req.set_page_size(3);
  std::set<std::string> seen, initial;
  v1::ListPersonsRequest all;
  all.set_page_size(1000);
  v1::ListPersonsResponse everything;
  ASSERT_TRUE(api_->ListPersons({}, all, &everything).ok());
  for (const auto& p : everything.persons()) initial.insert(p.name());
  ASSERT_GT(initial.size(), 2u * req.page_size()) << "a walk of one page";
  int inserted = 0;
  while (true) {
    v1::ListPersonsResponse page;
    ASSERT_TRUE(api_->ListPersons({}, req, &page).ok());
    for (const auto& p : page.persons())
      EXPECT_TRUE(seen.insert(p.name()).second) << "duplicate " << p.name();
    // Insert rows that sort before, between and after the cursor.
    for (const char* id : {"aaa-new", "mmm-new", "zzz-new"}) {
      v1::CreatePersonRequest c;
      c.set_person_id(absl::StrCat(id, inserted));
      auto* n = c.mutable_person()->add_display_name();
      n->set_language_code("en");
      n->set_text("Inserted");
      v1::Person out;
      ASSERT_TRUE(api_->CreatePerson(Editor(), c, &out).ok());
    }
    ++inserted;
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  for (const auto& name : initial) EXPECT_TRUE(seen.count(name)) << name;
}

TEST_F(MembershipHandlerTest, PageTokenIsBoundToTheQuery) {
  v1::ListPersonsRequest req;
  req.set_page_size(2);
  v1::ListPersonsResponse first;
  ASSERT_TRUE(api_->ListPersons({}, req, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  req.set_page_token(first.next_page_token());
  req.set_filter("state = \"states/ru\"");
  v1::ListPersonsResponse other;
  absl::Status s = api_->ListPersons({}, req, &other);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(s), ElementsAre("page_token"));
}

TEST_F(MembershipHandlerTest, PageSizeRules) {
  v1::ListPersonsRequest req;
  req.set_page_size(-1);
  v1::ListPersonsResponse resp;
  EXPECT_EQ(api_->ListPersons({}, req, &resp).code(),
            absl::StatusCode::kInvalidArgument);
  req.set_page_size(5000);  // lowered to the maximum, not an error
  EXPECT_TRUE(api_->ListPersons({}, req, &resp).ok());
}

TEST_F(MembershipHandlerTest, OrderByDescAndInvalidOrder) {
  v1::ListStatesRequest req;
  req.set_order_by("region_code desc");
  v1::ListStatesResponse resp;
  ASSERT_TRUE(api_->ListStates({}, req, &resp).ok());
  ASSERT_EQ(resp.states_size(), 6);
  EXPECT_EQ(resp.states(0).region_code(), "TJ");
  req.set_order_by("colour");
  v1::ListStatesResponse bad;
  absl::Status s = api_->ListStates({}, req, &bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(common::GetErrorInfo(s)->reason(), "INVALID_ORDER_BY");
}

TEST_F(MembershipHandlerTest, ReloadingTheSeedNeitherDuplicatesNorUndoesEdits) {
  v1::UpdatePersonRequest update;
  update.mutable_person()->set_name("persons/vyacheslav-volodin");
  auto* n = update.mutable_person()->add_display_name();
  n->set_language_code("en");
  n->set_text("Edited Name");
  update.mutable_update_mask()->add_paths("display_name");
  v1::Person out;
  ASSERT_TRUE(api_->UpdatePerson(Editor(), update, &out).ok());
  v1::DeleteBodyRequest del;
  del.set_name("bodies/csto-icmec");
  v1::Body deleted;
  ASSERT_TRUE(api_->DeleteBody(Admin(), del, &deleted).ok());

  ASSERT_TRUE(handler_->LoadSeed(kMembershipSeed).ok());

  v1::GetPersonRequest get;
  get.set_name("persons/vyacheslav-volodin");
  v1::Person volodin;
  ASSERT_TRUE(api_->GetPerson({}, get, &volodin).ok());
  EXPECT_EQ(volodin.display_name(0).text(), "Edited Name");
  v1::GetBodyRequest body;
  body.set_name("bodies/csto-icmec");
  v1::Body b;
  EXPECT_EQ(api_->GetBody({}, body, &b).code(), absl::StatusCode::kNotFound);
  v1::ListStatesResponse states;
  ASSERT_TRUE(api_->ListStates({}, {}, &states).ok());
  EXPECT_EQ(states.states_size(), 6);
}

TEST_F(MembershipHandlerTest, FilterOnDisplayNameFindsCyrillicAndLatin) {
  v1::ListStatesRequest req;
  req.set_filter("display_name:\"Kazakh\"");
  v1::ListStatesResponse resp;
  ASSERT_TRUE(api_->ListStates({}, req, &resp).ok());
  ASSERT_EQ(resp.states_size(), 1);
  EXPECT_EQ(resp.states(0).name(), "states/kz");
  req.set_filter("display_name = \"Казахстан\"");
  v1::ListStatesResponse ru;
  ASSERT_TRUE(api_->ListStates({}, req, &ru).ok());
  EXPECT_EQ(ru.states_size(), 1);
}

// Keyset pagination on an order_by key that many rows share: the walk below
// lists roles a few at a time, inserting roles between pages, and checks
// that no role is returned twice, that every role present at the start is
// returned, that every role inserted after the cursor is returned, and that
// the walk is in the requested order (ties broken by name).
class RolePaginationTest : public MembershipHandlerTest {
 protected:
  using Key = std::function<int64_t(const v1::Role&)>;

  // The `start_date` a role is ordered by: the first day it is known to
  // be held (common::FirstDayHeld).
  static int64_t StartDay(const v1::Role& r) {
    return common::FirstDayHeld(r.period());
  }
  // A date whose roles tie with `r` on StartDay; none for an open start.
  static std::optional<google::type::Date> SameStart(const v1::Role& r) {
    if (r.period().has_start_date()) return r.period().start_date();
    if (r.period().has_known_from()) return r.period().known_from();
    return std::nullopt;
  }
  static int64_t UpdateMicros(const v1::Role& r) {
    return r.update_time().seconds() * 1000000 + r.update_time().nanos() / 1000;
  }

  // Creates roles/`id` held at bodies/csto-pa by nobody in particular,
  // starting on `start` (no period when unset).
  v1::Role CreateRole(const std::string& id,
                      const std::optional<google::type::Date>& start) {
    v1::CreateRoleRequest req;
    req.set_role_id(id);
    req.mutable_role()->set_organization("bodies/csto-pa");
    req.mutable_role()->set_role_type(v1::ROLE_TYPE_MEMBER);
    if (start.has_value())
      *req.mutable_role()->mutable_period()->mutable_start_date() = *start;
    v1::Role out;
    absl::Status s = api_->CreateRole(Editor(), req, &out);
    EXPECT_TRUE(s.ok()) << id << ": " << s;
    return out;
  }

  // ~30 roles over three start dates, plus a few without one.
  void CreateTiedRoles() {
    const google::type::Date dates[] = {Day(2021, 6, 15), Day(2019, 3, 1),
                                        Day(2024, 1, 10)};
    for (int i = 0; i < 30; ++i) {
      std::optional<google::type::Date> start;
      if (i % 10 != 9) start = dates[i % 3];
      CreateRole(absl::StrCat("tie-role-", i), start);
    }
  }

  std::vector<std::string> AllRoleNames() {
    v1::ListRolesRequest req;
    req.set_page_size(1000);
    v1::ListRolesResponse resp;
    absl::Status s = api_->ListRoles({}, req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(resp.next_page_token().empty());
    std::vector<std::string> names;
    for (const auto& r : resp.roles()) names.push_back(r.name());
    return names;
  }

  // Whether (key, name) comes after the cursor (cursor_key, cursor_name) in
  // the order `key [desc], name`.
  static bool After(int64_t key, const std::string& name, int64_t cursor_key,
                    const std::string& cursor_name, bool desc) {
    if (key != cursor_key) return desc ? key < cursor_key : key > cursor_key;
    return name > cursor_name;
  }

  // Walks ListRoles ordered by `order_by` (whose first key is `key`, `desc`)
  // with page size 4; after each of the first pages, `insert` creates roles
  // given the last role of the page. Checks the walk as described above.
  // With `ties_at_page_breaks`, also checks that the walk exercised a page
  // break between two rows with the same key. Unless every insert sorts
  // before the cursor (update_time desc), some must sort after it.
  void WalkWhileInserting(const std::string& order_by, bool desc,
                          const Key& key,
                          const std::function<std::vector<v1::Role>(
                              const v1::Role& cursor, int page)>& insert,
                          bool ties_at_page_breaks) {
    const std::vector<std::string> initial = AllRoleNames();
    ASSERT_GE(initial.size(), 30u);

    std::vector<v1::Role> seen;
    std::set<std::string> inserted_after_cursor, inserted;
    std::vector<size_t> page_starts;
    v1::ListRolesRequest req;
    req.set_order_by(order_by);
    req.set_page_size(4);
    int page = 0;
    for (; page < 300; ++page) {
      v1::ListRolesResponse resp;
      absl::Status s = api_->ListRoles({}, req, &resp);
      ASSERT_TRUE(s.ok()) << s << " on page " << page;
      ASSERT_LE(resp.roles_size(), 4);
      page_starts.push_back(seen.size());
      for (const auto& r : resp.roles()) seen.push_back(r);
      if (resp.next_page_token().empty()) break;
      ASSERT_GT(resp.roles_size(), 0) << "empty page with a next_page_token";
      const v1::Role& cursor = resp.roles(resp.roles_size() - 1);
      if (page < 12) {
        for (const v1::Role& r : insert(cursor, page)) {
          ASSERT_FALSE(r.name().empty());
          inserted.insert(r.name());
          if (After(key(r), r.name(), key(cursor), cursor.name(), desc))
            inserted_after_cursor.insert(r.name());
        }
      }
      req.set_page_token(resp.next_page_token());
    }
    ASSERT_LT(page, 300) << "the walk did not end";
    EXPECT_FALSE(inserted.empty());
    if (order_by != "update_time desc") {
      EXPECT_FALSE(inserted_after_cursor.empty());
    }
    if (ties_at_page_breaks) {
      int ties = 0;
      for (size_t start : page_starts) {
        if (start > 0 && start < seen.size() &&
            key(seen[start - 1]) == key(seen[start]))
          ++ties;
      }
      EXPECT_GT(ties, 0) << "no page break fell inside a run of equal keys";
    }

    std::set<std::string> unique;
    std::vector<std::string> walk;
    for (const v1::Role& r : seen) {
      walk.push_back(absl::StrCat(r.name(), "@", key(r)));
      EXPECT_TRUE(unique.insert(r.name()).second)
          << r.name() << " returned twice";
    }
    for (const std::string& name : initial)
      EXPECT_TRUE(unique.count(name)) << name << " was never returned";
    for (const std::string& name : inserted_after_cursor)
      EXPECT_TRUE(unique.count(name))
          << name << " (inserted after the cursor) was never returned";
    for (size_t i = 1; i < seen.size(); ++i) {
      const int64_t prev = key(seen[i - 1]), cur = key(seen[i]);
      if (desc) {
        EXPECT_GE(prev, cur) << "out of order at " << i;
      } else {
        EXPECT_LE(prev, cur) << "out of order at " << i;
      }
      if (prev == cur) {
        EXPECT_LT(seen[i - 1].name(), seen[i].name())
            << "ties not broken by name at " << i;
      }
    }
    if (HasFailure()) ADD_FAILURE() << "walk: " << absl::StrJoin(walk, ", ");
  }
};

TEST_F(RolePaginationTest, StartDateDescWithTiesWhileInserting) {
  ASSERT_NO_FATAL_FAILURE(CreateTiedRoles());
  // Between pages: one role later than the cursor's start date, two on the
  // same date (named to sort before and after most names) and one earlier.
  auto insert = [&](const v1::Role& cursor, int page) {
    std::optional<google::type::Date> same = SameStart(cursor);
    return std::vector<v1::Role>{
        CreateRole(absl::StrCat("later-", page), Day(2030, 1, 1)),
        CreateRole(absl::StrCat("a-same-", page), same),
        CreateRole(absl::StrCat("z-same-", page), same),
        CreateRole(absl::StrCat("earlier-", page), Day(1995, 2, 2)),
    };
  };
  WalkWhileInserting("start_date desc", /*desc=*/true, StartDay, insert,
                     /*ties_at_page_breaks=*/true);
}

TEST_F(RolePaginationTest, StartDateAscWithTiesWhileInserting) {
  ASSERT_NO_FATAL_FAILURE(CreateTiedRoles());
  auto insert = [&](const v1::Role& cursor, int page) {
    std::optional<google::type::Date> same = SameStart(cursor);
    return std::vector<v1::Role>{
        CreateRole(absl::StrCat("later-", page), Day(2030, 1, 1)),
        CreateRole(absl::StrCat("a-same-", page), same),
        CreateRole(absl::StrCat("z-same-", page), same),
        CreateRole(absl::StrCat("earlier-", page), Day(1995, 2, 2)),
    };
  };
  WalkWhileInserting("start_date", /*desc=*/false, StartDay, insert,
                     /*ties_at_page_breaks=*/true);
}

TEST_F(RolePaginationTest, UpdateTimeWhileInserting) {
  ASSERT_NO_FATAL_FAILURE(CreateTiedRoles());
  // Every new role is updated last, so it sorts after the cursor and must be
  // returned.
  auto insert = [&](const v1::Role&, int page) {
    return std::vector<v1::Role>{
        CreateRole(absl::StrCat("a-new-", page), Day(2021, 6, 15)),
        CreateRole(absl::StrCat("z-new-", page), std::nullopt),
    };
  };
  WalkWhileInserting("update_time", /*desc=*/false, UpdateMicros, insert,
                     /*ties_at_page_breaks=*/false);
}

TEST_F(RolePaginationTest, UpdateTimeDescWhileInserting) {
  ASSERT_NO_FATAL_FAILURE(CreateTiedRoles());
  auto insert = [&](const v1::Role&, int page) {
    return std::vector<v1::Role>{
        CreateRole(absl::StrCat("a-new-", page), Day(2021, 6, 15)),
        CreateRole(absl::StrCat("z-new-", page), std::nullopt),
    };
  };
  WalkWhileInserting("update_time desc", /*desc=*/true, UpdateMicros, insert,
                     /*ties_at_page_breaks=*/false);
}

TEST_F(MembershipHandlerTest, EmptyUpdateMaskUpdatesOnlyTheFieldsSet) {
  v1::GetStateRequest get;
  get.set_name("states/kz");
  v1::State before;
  ASSERT_TRUE(api_->GetState({}, get, &before).ok());
  ASSERT_GT(before.status_history_size(), 0);
  v1::UpdateStateRequest req;  // no mask: only region_code is set
  req.mutable_state()->set_name("states/kz");
  req.mutable_state()->set_region_code("KZ");
  auto* n = req.mutable_state()->add_display_name();
  n->set_language_code("en");
  n->set_text("Republic of Kazakhstan");
  v1::State after;
  ASSERT_TRUE(api_->UpdateState(Editor(), req, &after).ok());
  EXPECT_EQ(after.display_name(0).text(), "Republic of Kazakhstan");
  EXPECT_EQ(after.status_history_size(), before.status_history_size());
  EXPECT_EQ(after.provenance_size(), before.provenance_size());
  // `*` replaces everything: what the request leaves out is cleared.
  req.mutable_update_mask()->add_paths("*");
  v1::State replaced;
  ASSERT_TRUE(api_->UpdateState(Editor(), req, &replaced).ok());
  EXPECT_EQ(replaced.status_history_size(), 0);
  EXPECT_EQ(replaced.provenance_size(), 0);
}

TEST_F(MembershipHandlerTest, ARoleOfADeletedPersonCanStillBeEdited) {
  v1::DeletePersonRequest del;
  del.set_name("persons/viktor-kogut");
  v1::Person deleted;
  ASSERT_TRUE(api_->DeletePerson(Admin(), del, &deleted).ok());
  v1::UpdateRoleRequest req;
  req.mutable_role()->set_name("roles/kogut-by-plenipotentiary");
  auto* t = req.mutable_role()->add_title();
  t->set_language_code("en");
  t->set_text("Plenipotentiary representative");
  req.mutable_update_mask()->add_paths("title");
  v1::Role out;
  ASSERT_TRUE(api_->UpdateRole(Editor(), req, &out).ok());
  EXPECT_EQ(out.person(), "persons/viktor-kogut");
  // Pointing a role at a missing person is still refused.
  req.mutable_role()->set_person("persons/nobody");
  req.mutable_update_mask()->add_paths("person");
  absl::Status s = api_->UpdateRole(Editor(), req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(common::GetErrorInfo(s)->reason(), "UNKNOWN_REFERENCE");
}

TEST_F(MembershipHandlerTest, PageTokensAreBoundToAsOf) {
  v1::ListStatesRequest req;
  req.set_page_size(2);
  *req.mutable_as_of() = Day(2022, 5, 1);
  v1::ListStatesResponse first;
  ASSERT_TRUE(api_->ListStates({}, req, &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  req.set_page_token(first.next_page_token());
  v1::ListStatesResponse second;
  EXPECT_TRUE(api_->ListStates({}, req, &second).ok());
  *req.mutable_as_of() = Day(2024, 5, 1);
  v1::ListStatesResponse other;
  EXPECT_EQ(api_->ListStates({}, req, &other).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MembershipHandlerTest, UnknownFieldsAreNotStored) {
  v1::CreatePersonRequest create;
  create.set_person_id("with-unknown");
  auto* n = create.mutable_person()->add_display_name();
  n->set_language_code("en");
  n->set_text("Unknown Fields");
  // Field 999 does not exist in Person.
  create.mutable_person()
      ->GetReflection()
      ->MutableUnknownFields(create.mutable_person())
      ->AddVarint(999, 42);
  v1::Person out;
  ASSERT_TRUE(api_->CreatePerson(Editor(), create, &out).ok());
  v1::GetPersonRequest get;
  get.set_name("persons/with-unknown");
  v1::Person stored;
  ASSERT_TRUE(api_->GetPerson({}, get, &stored).ok());
  EXPECT_EQ(stored.GetReflection()->GetUnknownFields(stored).field_count(), 0);
}

TEST_F(MembershipHandlerTest, ACallPastItsDeadlineFailsWithDeadlineExceeded) {
  Caller late;
  late.deadline = absl::Now() - absl::Seconds(1);
  v1::GetStateRequest get;
  get.set_name("states/kz");
  v1::State out;
  EXPECT_EQ(api_->GetState(late, get, &out).code(),
            absl::StatusCode::kDeadlineExceeded);
  v1::ListPersonsRequest list;
  v1::ListPersonsResponse resp;
  EXPECT_EQ(api_->ListPersons(late, list, &resp).code(),
            absl::StatusCode::kDeadlineExceeded);
}

// On PostgreSQL identical list statements asked together are answered
// once and their rows decoded once; computed fields (a delegation's seats on
// the day asked for) are filled for each request afterwards. Lists of the
// Kyrgyz delegation as of 2022 and as of today, asked together, must each
// get their own day's seats.
TEST(MembershipOnPostgresTest, ComputedListsAskedTogetherEachGetTheirOwnDay) {
  if (common::BackendMissing("postgresql"))
    GTEST_SKIP() << "no PostgreSQL test server in this build";
  auto db = common::OpenTestDatabase("postgresql", MembershipSchema());
  ASSERT_TRUE(db.ok()) << db.status();
  common::ApiKeyStore keys = common::testing::TestApiKeys();
  common::PageTokenCodec tokens{"test-secret"};
  // The store's sharing is what is tested: no answer from the read cache.
  (*db)->read_cache().set_options({.max_bytes = 0});
  MembershipResources resources(db->get(), &tokens, &keys,
                                [] { return int64_t{20261122}; });
  MembershipHandler handler(&resources);
  v1::MembershipServiceBlocking api(&handler);
  ASSERT_TRUE(handler.LoadSeed(kMembershipSeed).ok());

  std::vector<v1::ListDelegationsRequest> requests(2);
  for (auto& r : requests) r.set_parent("parliaments/kg-jogorku-kenesh");
  *requests[0].mutable_as_of() = Day(2022, 5, 1);  // 6 seats then, 7 now
  std::vector<v1::ListDelegationsResponse> expected(2);
  for (int k = 0; k < 2; ++k)
    ASSERT_TRUE(api.ListDelegations({}, requests[k], &expected[k]).ok());
  ASSERT_FALSE(google::protobuf::util::MessageDifferencer::Equals(expected[0],
                                                                  expected[1]));

  // Whether the reads overlap depends on the scheduler (on a loaded
  // machine the threads may run one after another), so bursts are asked
  // until one was shared; every answer of every burst must be right.
  constexpr int kClients = 40;
  constexpr int kMaxBursts = 50;
  double per_statement = 0;
  for (int burst = 0; burst < kMaxBursts && per_statement <= 1.0; ++burst) {
    std::vector<v1::ListDelegationsResponse> got(kClients);
    std::vector<absl::Status> results(kClients);
    absl::Notification go;
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&, i] {
        go.WaitForNotification();
        results[i] = api.ListDelegations({}, requests[i % 2], &got[i]);
      });
    }
    go.Notify();
    for (auto& t : clients) t.join();
    for (int i = 0; i < kClients; ++i) {
      ASSERT_TRUE(results[i].ok()) << results[i];
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
          got[i], expected[i % 2]))
          << "burst " << burst << " client " << i << " got "
          << got[i].ShortDebugString();
    }
    for (const auto& g : (*db)->Gauges()) {
      if (g.name == "cstopa_store_reads_per_statement") per_statement = g.value;
    }
  }
  EXPECT_GT(per_statement, 1.0);  // some reads did wait together
}

// ---------------------------------------------------------------------------
// Summaries, on SQLite and, where the test command started one, on
// PostgreSQL: their statements are the service's own SQL.
// ---------------------------------------------------------------------------

class SummaryTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL test server in this build";
    auto db = common::OpenTestDatabase(GetParam(), MembershipSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<MembershipResources>(
        db_.get(), &tokens_, &keys_, [] { return int64_t{20261122}; });
    handler_ = std::make_unique<MembershipHandler>(resources_.get());
    api_ = std::make_unique<v1::MembershipServiceBlocking>(handler_.get());
    ASSERT_TRUE(handler_->LoadSeed(kMembershipSeed).ok());
  }

  v1::StateSummary State(const std::string& name,
                         std::optional<google::type::Date> as_of) {
    v1::SummarizeStateRequest req;
    req.set_name(name);
    if (as_of) *req.mutable_as_of() = *as_of;
    v1::StateSummary out;
    absl::Status s = api_->SummarizeState({}, req, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  v1::MembershipSummary Membership(std::optional<google::type::Date> as_of) {
    v1::SummarizeMembershipRequest req;
    if (as_of) *req.mutable_as_of() = *as_of;
    v1::MembershipSummary out;
    absl::Status s = api_->SummarizeMembership({}, req, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  v1::PersonSummary Person(const std::string& name) {
    v1::SummarizePersonRequest req;
    req.set_name(name);
    v1::PersonSummary out;
    absl::Status s = api_->SummarizePerson({}, req, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Creates roles/{id} for `person` in `organization` over [start, end]
  // (unset when year 0).
  void AddRole(const std::string& id, const std::string& person,
               const std::string& organization, google::type::Date start,
               google::type::Date end) {
    v1::CreateRoleRequest req;
    req.set_role_id(id);
    v1::Role* r = req.mutable_role();
    r->set_person(person);
    r->set_organization(organization);
    r->set_role_type(v1::ROLE_TYPE_MEMBER);
    if (start.year() != 0) *r->mutable_period()->mutable_start_date() = start;
    if (end.year() != 0) *r->mutable_period()->mutable_end_date() = end;
    v1::Role created;
    absl::Status s =
        api_->CreateRole(common::testing::EditorCaller(), req, &created);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<MembershipResources> resources_;
  std::unique_ptr<MembershipHandler> handler_;
  std::unique_ptr<v1::MembershipServiceBlocking> api_;
};

google::type::Date Year(int y) {
  google::type::Date d;
  d.set_year(y);
  return d;
}

google::type::Date YearMonth(int y, int m) {
  google::type::Date d = Year(y);
  d.set_month(m);
  return d;
}

std::vector<std::string> RoleNames(
    const google::protobuf::RepeatedPtrField<v1::NamedRole>& roles) {
  std::vector<std::string> names;
  for (const auto& r : roles) names.push_back(r.role().name());
  return names;
}

std::string En(
    const google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>&
        texts) {
  for (const auto& t : texts)
    if (t.language_code() == "en") return t.text();
  return "";
}

// Seed 000 (2022): 6 Kyrgyz deputies; seed 001 (2024): 7. Both facts stay,
// and the summary on each date shows that date's figure, as GetDelegation.
TEST_P(SummaryTest, KyrgyzStateOnTwoDatesShowsSixThenSevenSeats) {
  v1::StateSummary then = State("states/kg", Day(2022, 6, 1));
  EXPECT_EQ(then.state().name(), "states/kg");
  EXPECT_EQ(En(then.state().display_name()), "Kyrgyzstan");
  EXPECT_EQ(then.state().current_status(), v1::MEMBERSHIP_STATUS_MEMBER);
  EXPECT_EQ(then.as_of_date().year(), 2022);
  EXPECT_EQ(then.as_of_date().month(), 6);
  EXPECT_EQ(then.as_of_date().day(), 1);
  ASSERT_EQ(then.parliaments_size(), 1);
  EXPECT_EQ(then.parliaments(0).name(), "parliaments/kg-jogorku-kenesh");
  ASSERT_EQ(then.delegations_size(), 1);
  EXPECT_EQ(then.delegations(0).name(),
            "parliaments/kg-jogorku-kenesh/delegations/csto-pa");
  EXPECT_EQ(then.delegations(0).total_seats(), 6);
  ASSERT_EQ(then.delegations(0).effective_seats_size(), 1);
  EXPECT_EQ(then.delegations(0).effective_seats(0).seats(), 6);
  EXPECT_EQ(then.delegations(0).effective_seats(0).provenance(0).source(),
            "000_4365105acde5eea1.txt");
  EXPECT_EQ(then.delegations(0).seat_allocations_size(), 2);
  EXPECT_EQ(then.delegations(0).as_of_date().year(), 2022);

  v1::StateSummary later = State("states/kg", Day(2024, 6, 1));
  ASSERT_EQ(later.delegations_size(), 1);
  EXPECT_EQ(later.delegations(0).total_seats(), 7);
  EXPECT_EQ(later.delegations(0).effective_seats(0).provenance(0).source(),
            "001_2f9c2b9cd01aeccb.txt");
  ASSERT_EQ(later.delegations(0).seat_allocations_size(), 2);
  std::set<int> seats;
  for (const auto& a : later.delegations(0).seat_allocations())
    seats.insert(a.seats());
  EXPECT_EQ(seats, (std::set<int>{6, 7}));

  // The same figures as GetState and GetDelegation on those dates.
  for (const auto& [date, summary] :
       {std::pair{Day(2022, 6, 1), then}, std::pair{Day(2024, 6, 1), later}}) {
    v1::GetDelegationRequest get;
    get.set_name("parliaments/kg-jogorku-kenesh/delegations/csto-pa");
    *get.mutable_as_of() = date;
    v1::Delegation d;
    ASSERT_TRUE(api_->GetDelegation({}, get, &d).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        d, summary.delegations(0)))
        << d.ShortDebugString();
    v1::GetStateRequest state;
    state.set_name("states/kg");
    *state.mutable_as_of() = date;
    v1::State st;
    ASSERT_TRUE(api_->GetState({}, state, &st).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        st, summary.state()));
  }
}

// The plenipotentiary (2022 on) sits in the delegation; the Speaker's posts
// (2024 on) are in the parliament and, as a Kyrgyz person's, in the
// assembly's Council.
TEST_P(SummaryTest, KyrgyzPostsOnEachDateWithNamesResolved) {
  v1::StateSummary then = State("states/kg", Day(2022, 6, 1));
  ASSERT_THAT(RoleNames(then.roles()),
              ElementsAre("roles/alishev-kg-plenipotentiary"));
  const v1::NamedRole& alishev = then.roles(0);
  EXPECT_EQ(alishev.role().role_type(),
            v1::ROLE_TYPE_PLENIPOTENTIARY_REPRESENTATIVE);
  EXPECT_EQ(En(alishev.person_display_name()), "Shabdanbek Alishev");
  EXPECT_EQ(En(alishev.organization_display_name()),
            "Delegation of the Jogorku Kenesh (Supreme Council) of the Kyrgyz "
            "Republic to the CSTO PA");
  EXPECT_TRUE(alishev.chamber_display_name().empty());

  // By organization, then role type, then name.
  v1::StateSummary later = State("states/kg", Day(2024, 6, 1));
  ASSERT_THAT(RoleNames(later.roles()),
              ElementsAre("roles/shakiev-csto-pa-council-member",
                          "roles/shakiev-jogorku-kenesh-speaker",
                          "roles/alishev-kg-plenipotentiary"));
  EXPECT_EQ(En(later.roles(0).organization_display_name()),
            "Council of the CSTO Parliamentary Assembly");
  EXPECT_EQ(En(later.roles(0).person_display_name()), "Nurlanbek Shakiev");
  EXPECT_EQ(later.roles(0).person_display_name_size(), 2);  // en and ru
  EXPECT_EQ(En(later.roles(1).organization_display_name()),
            "Jogorku Kenesh (Supreme Council) of the Kyrgyz Republic");
  EXPECT_EQ(later.roles(1).role().role_type(), v1::ROLE_TYPE_PRESIDING_OFFICER);
}

TEST_P(SummaryTest, PostsNotKnownOnADateAreListedApart) {
  // Alishev's post is known from 2022 (seed 000), its start not stated:
  // before 2022 it is neither held nor not held, so it is listed apart,
  // named as the held ones are.
  v1::StateSummary before = State("states/kg", Day(2021, 6, 1));
  EXPECT_TRUE(before.roles().empty());
  ASSERT_THAT(RoleNames(before.not_known_roles()),
              ::testing::Contains("roles/alishev-kg-plenipotentiary"));
  for (const v1::NamedRole& r : before.not_known_roles()) {
    if (r.role().name() == "roles/alishev-kg-plenipotentiary") {
      EXPECT_EQ(En(r.person_display_name()), "Shabdanbek Alishev");
      EXPECT_FALSE(r.organization_display_name().empty());
    }
  }
  // Once a source attests it: held, and no longer among the not known.
  v1::StateSummary then = State("states/kg", Day(2022, 6, 1));
  EXPECT_THAT(RoleNames(then.roles()),
              ::testing::Contains("roles/alishev-kg-plenipotentiary"));
  EXPECT_THAT(
      RoleNames(then.not_known_roles()),
      ::testing::Not(::testing::Contains("roles/alishev-kg-plenipotentiary")));
  // A post that ended is in neither list after its end; one that began
  // later is in neither list before its start.
  AddRole("alishev-ended", "persons/shabdanbek-alishev", "bodies/csto-pa",
          YearMonth(2020, 1), YearMonth(2021, 12));
  v1::StateSummary after = State("states/kg", Day(2023, 1, 1));
  EXPECT_THAT(RoleNames(after.roles()),
              ::testing::Not(::testing::Contains("roles/alishev-ended")));
  EXPECT_THAT(RoleNames(after.not_known_roles()),
              ::testing::Not(::testing::Contains("roles/alishev-ended")));
  v1::StateSummary earlier = State("states/kg", Day(2019, 1, 1));
  EXPECT_THAT(RoleNames(earlier.not_known_roles()),
              ::testing::Not(::testing::Contains("roles/alishev-ended")));
  EXPECT_THAT(RoleNames(State("states/kg", Day(2021, 1, 1)).roles()),
              ::testing::Contains("roles/alishev-ended"));
}

TEST_P(SummaryTest, ChambersAreNamedAndVacantPostsKept) {
  v1::StateSummary ru = State("states/ru", Day(2024, 6, 1));
  ASSERT_THAT(RoleNames(ru.roles()),
              ElementsAre("roles/volodin-csto-pa-chair",
                          "roles/krotov-csto-pa-deputy-executive-secretary",
                          "roles/vorobyev-csto-pa-council-member",
                          "roles/volodin-state-duma-chair",
                          "roles/vorobyev-federation-council-deputy-speaker",
                          "roles/krotov-ru-plenipotentiary"));
  EXPECT_EQ(En(ru.roles(0).organization_display_name()),
            "Parliamentary Assembly of the CSTO");
  EXPECT_EQ(En(ru.roles(3).chamber_display_name()), "State Duma");
  EXPECT_EQ(En(ru.roles(4).chamber_display_name()), "Federation Council");
  EXPECT_EQ(En(ru.roles(4).person_display_name()), "Yury Vorobyev");
  ASSERT_EQ(ru.delegations_size(), 1);
  EXPECT_EQ(ru.delegations(0).total_seats(), 22);
  EXPECT_EQ(ru.delegations(0).effective_seats_size(), 2);
  ASSERT_EQ(ru.parliaments_size(), 1);
  EXPECT_EQ(ru.parliaments(0).chambers_size(), 2);

  // The Chairman of the Majlisi Milli is not named in the source: the post
  // is listed without a holder. (Its Council seat is not linked to
  // Tajikistan: no person, and the Council is no Tajik organization.)
  v1::StateSummary tj = State("states/tj", Day(2024, 6, 1));
  ASSERT_THAT(RoleNames(tj.roles()),
              ElementsAre("roles/zokirzoda-csto-pa-council-member",
                          "roles/majlisi-milli-chair",
                          "roles/zokirzoda-majlisi-namoyandagon-chair"));
  EXPECT_TRUE(tj.roles(1).role().person().empty());
  EXPECT_TRUE(tj.roles(1).person_display_name().empty());
  EXPECT_EQ(En(tj.roles(1).chamber_display_name()),
            "Majlisi Milli (National Assembly)");
  EXPECT_EQ(En(tj.roles(1).organization_display_name()),
            "Majlisi Oli (Supreme Assembly) of the Republic of Tajikistan");
  EXPECT_EQ(En(tj.roles(2).chamber_display_name()),
            "Majlisi Namoyandagon (Assembly of Representatives)");
}

// A post counts for a state by its holder's state or by where it is held;
// its period decides the date (partial ends read widely, open ends as
// ongoing and since always); deleted records drop out.
TEST_P(SummaryTest, PostsCountByHolderOrPlaceAndPeriod) {
  const std::string kg_delegation =
      "parliaments/kg-jogorku-kenesh/delegations/csto-pa";
  // A Kazakh person in the Kyrgyz delegation, with no dates at all.
  AddRole("rogalev-kg-guest", "persons/viktor-rogalev", kg_delegation, {}, {});
  // A Kyrgyz person in a body until December 2021 (ends on its last day).
  AddRole("alishev-old-post", "persons/shabdanbek-alishev", "bodies/csto-pa",
          {}, YearMonth(2021, 12));
  v1::StateSummary y2021 = State("states/kg", Day(2021, 12, 31));
  EXPECT_THAT(RoleNames(y2021.roles()),
              ElementsAre("roles/alishev-old-post", "roles/rogalev-kg-guest"));
  EXPECT_EQ(En(y2021.roles(0).organization_display_name()),
            "Parliamentary Assembly of the CSTO");
  EXPECT_EQ(En(y2021.roles(1).person_display_name()), "Viktor Rogalev");
  EXPECT_EQ(y2021.state().current_status(),
            v1::MEMBERSHIP_STATUS_UNSPECIFIED);  // member from 2022-01
  EXPECT_EQ(y2021.delegations(0).total_seats(), 0);
  v1::StateSummary y2022 = State("states/kg", Day(2022, 1, 1));
  EXPECT_THAT(RoleNames(y2022.roles()),
              ElementsAre("roles/rogalev-kg-guest",  // MEMBER before
                          "roles/alishev-kg-plenipotentiary"));
  EXPECT_EQ(y2022.state().current_status(), v1::MEMBERSHIP_STATUS_MEMBER);
  // Kazakhstan's summary has it too: its holder is Kazakh.
  v1::StateSummary kz = State("states/kz", Day(2022, 1, 1));
  EXPECT_THAT(RoleNames(kz.roles()),
              ::testing::Contains("roles/rogalev-kg-guest"));

  v1::DeleteRoleRequest del;
  del.set_name("roles/alishev-kg-plenipotentiary");
  v1::Role deleted;
  ASSERT_TRUE(
      api_->DeleteRole(common::testing::AdminCaller(), del, &deleted).ok());
  EXPECT_THAT(RoleNames(State("states/kg", Day(2022, 1, 1)).roles()),
              ElementsAre("roles/rogalev-kg-guest"));

  // Without its delegation, the guest post is no longer Kyrgyz.
  v1::DeleteDelegationRequest del_d;
  del_d.set_name(kg_delegation);
  v1::Delegation gone;
  ASSERT_TRUE(
      api_->DeleteDelegation(common::testing::AdminCaller(), del_d, &gone)
          .ok());
  v1::StateSummary without = State("states/kg", Day(2022, 1, 1));
  EXPECT_TRUE(without.roles().empty());
  EXPECT_TRUE(without.delegations().empty());
  EXPECT_EQ(without.parliaments_size(), 1);
}

TEST_P(SummaryTest, StateErrorsAreThoseOfGetState) {
  v1::SummarizeStateRequest req;
  v1::StateSummary out;
  v1::GetStateRequest get;
  v1::State state;

  req.set_name("states/zz");
  get.set_name("states/zz");
  absl::Status unknown = api_->SummarizeState({}, req, &out);
  absl::Status get_unknown = api_->GetState({}, get, &state);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.message(), get_unknown.message());
  EXPECT_EQ(common::testing::ReasonOf(unknown),
            common::testing::ReasonOf(get_unknown));

  v1::DeleteStateRequest del;
  del.set_name("states/tj");
  ASSERT_TRUE(
      api_->DeleteState(common::testing::AdminCaller(), del, &state).ok());
  req.set_name("states/tj");
  EXPECT_EQ(api_->SummarizeState({}, req, &out).code(),
            absl::StatusCode::kNotFound);

  for (const char* bad : {"", "countries/kz", "states/KZ", "states/kz/x"}) {
    req.set_name(bad);
    get.set_name(bad);
    absl::Status s = api_->SummarizeState({}, req, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(FieldsOf(s), ElementsAre("name")) << bad;
    EXPECT_EQ(common::testing::ReasonOf(s),
              common::testing::ReasonOf(api_->GetState({}, get, &state)));
  }

  req.set_name("states/kz");
  *req.mutable_as_of() = Year(2022);  // partial: not a day
  absl::Status partial = api_->SummarizeState({}, req, &out);
  EXPECT_EQ(partial.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(partial), ElementsAre("as_of"));
  *req.mutable_as_of() = Day(2023, 2, 29);
  absl::Status no_such_day = api_->SummarizeState({}, req, &out);
  EXPECT_EQ(no_such_day.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(no_such_day), ElementsAre("as_of.day"));
  // As GetState says it.
  get.set_name("states/kz");
  for (const google::type::Date& as_of : {Year(2022), Day(2023, 2, 29)}) {
    *req.mutable_as_of() = as_of;
    *get.mutable_as_of() = as_of;
    absl::Status summary = api_->SummarizeState({}, req, &out);
    absl::Status standard = api_->GetState({}, get, &state);
    EXPECT_EQ(summary.message(), standard.message());
    EXPECT_EQ(FieldsOf(summary), FieldsOf(standard));
  }
}

// Summaries are answered from the read cache while nothing is written,
// and a write is seen by the next summary.
TEST_P(SummaryTest, SummariesAreKeptOnlyUntilAWrite) {
  const google::type::Date day = Day(2024, 6, 1);
  const v1::StateSummary before = State("states/kg", day);
  ASSERT_FALSE(before.roles().empty());
  const std::string person = before.roles(0).role().person();
  // Asked twice with no write between, the second answer is the first's,
  // from the cache. (The change feed drops every answer kept when it first
  // sees the seed's rows, so this is tried until it holds, within 2 s.)
  auto kept = [this](auto ask) {
    for (int i = 0; i < 200; ++i) {
      const auto first = ask();
      const int64_t hits = db_->read_cache().hits();
      const auto second = ask();
      if (db_->read_cache().hits() > hits) {
        EXPECT_TRUE(
            google::protobuf::util::MessageDifferencer::Equals(first, second));
        return true;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  };
  EXPECT_TRUE(kept([&] { return State("states/kg", day); }));
  EXPECT_TRUE(kept([&] { return Membership(day); }));
  EXPECT_TRUE(kept([&] { return Person(person); }));

  v1::UpdateStateRequest rename;
  *rename.mutable_state() = before.state();
  for (auto& t : *rename.mutable_state()->mutable_display_name())
    if (t.language_code() == "en") t.set_text("Kyrgyz Republic (renamed)");
  rename.mutable_update_mask()->add_paths("display_name");
  v1::State renamed;
  ASSERT_TRUE(
      api_->UpdateState(common::testing::EditorCaller(), rename, &renamed)
          .ok());
  EXPECT_EQ(En(State("states/kg", day).state().display_name()),
            "Kyrgyz Republic (renamed)");
  bool seen = false;
  const v1::MembershipSummary membership_after = Membership(day);
  for (const v1::StateStanding& s : membership_after.states()) {
    if (s.state() != "states/kg") continue;
    seen = true;
    EXPECT_EQ(En(s.display_name()), "Kyrgyz Republic (renamed)");
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(En(Person(person).state_display_name()),
            "Kyrgyz Republic (renamed)");
}

TEST_P(SummaryTest, WithoutAsOfTheSummaryIsForToday) {
  v1::StateSummary kg = State("states/kg", std::nullopt);
  EXPECT_EQ(kg.as_of_date().year(), 2026);
  EXPECT_EQ(kg.as_of_date().month(), 11);
  EXPECT_EQ(kg.as_of_date().day(), 22);
  ASSERT_EQ(kg.delegations_size(), 1);
  EXPECT_EQ(kg.delegations(0).total_seats(), 7);
  v1::MembershipSummary m = Membership(std::nullopt);
  EXPECT_EQ(m.as_of_date().year(), 2026);
  EXPECT_EQ(m.total_seats(), 82);
}

TEST_P(SummaryTest, PersonWithStateAndRolesNewestFirst) {
  v1::PersonSummary volodin = Person("persons/vyacheslav-volodin");
  EXPECT_EQ(volodin.person().name(), "persons/vyacheslav-volodin");
  EXPECT_EQ(En(volodin.state_display_name()), "Russia");
  EXPECT_EQ(volodin.state_display_name_size(), 2);
  ASSERT_THAT(RoleNames(volodin.roles()),
              ElementsAre("roles/volodin-csto-pa-chair",
                          "roles/volodin-state-duma-chair"));
  EXPECT_EQ(En(volodin.roles(0).organization_display_name()),
            "Parliamentary Assembly of the CSTO");
  EXPECT_EQ(En(volodin.roles(1).organization_display_name()),
            "Federal Assembly of the Russian Federation");
  EXPECT_EQ(En(volodin.roles(1).chamber_display_name()), "State Duma");
  EXPECT_EQ(En(volodin.roles(1).person_display_name()), "Vyacheslav Volodin");

  // Every period, newest start first; no start last; deleted roles left out.
  const std::string person = "persons/shabdanbek-alishev";
  AddRole("alishev-a-undated", person, "bodies/csto-pa", {}, Year(2021));
  AddRole("alishev-b-2019", person, "bodies/csto-pa-council", Year(2019),
          Year(2020));
  AddRole("alishev-c-2025-03", person, "parliaments/kg-jogorku-kenesh",
          YearMonth(2025, 3), {});
  AddRole("alishev-d-2022-06", person, "bodies/csto-pa", YearMonth(2022, 6),
          {});
  AddRole("alishev-e-deleted", person, "bodies/csto-pa", Year(2023), {});
  v1::DeleteRoleRequest del;
  del.set_name("roles/alishev-e-deleted");
  v1::Role deleted;
  ASSERT_TRUE(
      api_->DeleteRole(common::testing::AdminCaller(), del, &deleted).ok());
  v1::PersonSummary alishev = Person(person);
  EXPECT_EQ(En(alishev.state_display_name()), "Kyrgyzstan");
  ASSERT_THAT(RoleNames(alishev.roles()),
              ElementsAre("roles/alishev-c-2025-03", "roles/alishev-d-2022-06",
                          "roles/alishev-kg-plenipotentiary",
                          "roles/alishev-b-2019", "roles/alishev-a-undated"));
  EXPECT_EQ(En(alishev.roles(0).organization_display_name()),
            "Jogorku Kenesh (Supreme Council) of the Kyrgyz Republic");
  EXPECT_EQ(En(alishev.roles(2).organization_display_name()),
            "Delegation of the Jogorku Kenesh (Supreme Council) of the Kyrgyz "
            "Republic to the CSTO PA");
  EXPECT_EQ(En(alishev.roles(3).organization_display_name()),
            "Council of the CSTO Parliamentary Assembly");
  for (const auto& r : alishev.roles())
    EXPECT_EQ(En(r.person_display_name()), "Shabdanbek Alishev");
}

TEST_P(SummaryTest, PersonErrorsAreThoseOfGetPerson) {
  v1::SummarizePersonRequest req;
  v1::PersonSummary out;
  v1::GetPersonRequest get;
  v1::Person person;
  req.set_name("persons/nobody");
  get.set_name("persons/nobody");
  absl::Status unknown = api_->SummarizePerson({}, req, &out);
  absl::Status get_unknown = api_->GetPerson({}, get, &person);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.message(), get_unknown.message());
  EXPECT_EQ(common::testing::ReasonOf(unknown),
            common::testing::ReasonOf(get_unknown));

  v1::DeletePersonRequest del;
  del.set_name("persons/viktor-kogut");
  ASSERT_TRUE(
      api_->DeletePerson(common::testing::AdminCaller(), del, &person).ok());
  req.set_name("persons/viktor-kogut");
  EXPECT_EQ(api_->SummarizePerson({}, req, &out).code(),
            absl::StatusCode::kNotFound);

  req.set_name("states/kz");
  absl::Status bad = api_->SummarizePerson({}, req, &out);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(bad), ElementsAre("name"));
}

// Seed totals: Armenia 14 (2024 on), Belarus 7 + 4, Kazakhstan 8 + 8,
// Kyrgyzstan 6 (2022) then 7 (2024), Russia 10 + 12, Tajikistan 6 + 6; two
// partners listed from 2024.
TEST_P(SummaryTest, MembershipTotalsStatusesAndPartnersOnADate) {
  v1::MembershipSummary y2022 = Membership(Day(2022, 6, 1));
  std::vector<std::string> states;
  std::map<std::string, int> seats;
  for (const auto& s : y2022.states()) {
    states.push_back(s.state());
    seats[s.state()] = s.seats();
    EXPECT_EQ(s.status(), v1::MEMBERSHIP_STATUS_MEMBER) << s.state();
  }
  EXPECT_THAT(states, ElementsAre("states/am", "states/by", "states/kg",
                                  "states/kz", "states/ru", "states/tj"));
  EXPECT_EQ(seats, (std::map<std::string, int>{{"states/am", 0},
                                               {"states/by", 11},
                                               {"states/kg", 6},
                                               {"states/kz", 16},
                                               {"states/ru", 22},
                                               {"states/tj", 12}}));
  EXPECT_EQ(y2022.total_seats(), 67);
  EXPECT_TRUE(y2022.partners().empty());
  EXPECT_EQ(y2022.as_of_date().year(), 2022);
  EXPECT_EQ(En(y2022.states(2).display_name()), "Kyrgyzstan");
  EXPECT_EQ(y2022.states(4).effective_seats_size(), 2);  // Duma, Council

  v1::MembershipSummary y2024 = Membership(Day(2024, 6, 1));
  EXPECT_EQ(y2024.total_seats(), 82);
  EXPECT_EQ(y2024.states(0).seats(), 14);
  EXPECT_EQ(y2024.states(2).seats(), 7);
  ASSERT_EQ(y2024.states(2).effective_seats_size(), 1);
  EXPECT_EQ(y2024.states(2).effective_seats(0).seats(), 7);
  std::vector<std::string> partners;
  for (const auto& p : y2024.partners()) partners.push_back(p.name());
  EXPECT_THAT(partners,
              ElementsAre("partners/serbia", "partners/union-state-pa"));

  // The total is what ListDelegations gives for the date.
  v1::ListDelegationsRequest list;
  list.set_parent("parliaments/-");
  *list.mutable_as_of() = Day(2024, 6, 1);
  v1::ListDelegationsResponse delegations;
  ASSERT_TRUE(api_->ListDelegations({}, list, &delegations).ok());
  int sum = 0;
  for (const auto& d : delegations.delegations()) sum += d.total_seats();
  EXPECT_EQ(sum, y2024.total_seats());

  // Before any status period: listed, without a status or seats.
  v1::MembershipSummary y2021 = Membership(Day(2021, 6, 1));
  ASSERT_EQ(y2021.states_size(), 6);
  EXPECT_EQ(y2021.states(0).status(), v1::MEMBERSHIP_STATUS_UNSPECIFIED);
  EXPECT_EQ(y2021.total_seats(), 0);

  // A deleted state, and a deleted parliament's delegation, drop out.
  v1::DeleteStateRequest del_state;
  del_state.set_name("states/am");
  v1::State gone_state;
  ASSERT_TRUE(
      api_->DeleteState(common::testing::AdminCaller(), del_state, &gone_state)
          .ok());
  v1::DeleteParliamentRequest del_parliament;
  del_parliament.set_name("parliaments/ru-federal-assembly");
  v1::Parliament gone_parliament;
  ASSERT_TRUE(api_->DeleteParliament(common::testing::AdminCaller(),
                                     del_parliament, &gone_parliament)
                  .ok());
  v1::MembershipSummary after = Membership(Day(2024, 6, 1));
  EXPECT_EQ(after.states_size(), 5);
  EXPECT_EQ(after.total_seats(), 82 - 14 - 22);
  EXPECT_EQ(after.states(3).state(), "states/ru");
  EXPECT_EQ(after.states(3).seats(), 0);

  v1::SummarizeMembershipRequest bad;
  *bad.mutable_as_of() = YearMonth(2024, 6);
  v1::MembershipSummary out;
  absl::Status s = api_->SummarizeMembership({}, bad, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(s), ElementsAre("as_of"));
}

TEST_P(SummaryTest, SummariesPastTheirDeadlineFailWithDeadlineExceeded) {
  Caller late;
  late.deadline = absl::Now() - absl::Seconds(1);
  v1::SummarizeStateRequest state;
  state.set_name("states/kz");
  v1::StateSummary state_out;
  EXPECT_EQ(api_->SummarizeState(late, state, &state_out).code(),
            absl::StatusCode::kDeadlineExceeded);
  v1::SummarizePersonRequest person;
  person.set_name("persons/viktor-rogalev");
  v1::PersonSummary person_out;
  EXPECT_EQ(api_->SummarizePerson(late, person, &person_out).code(),
            absl::StatusCode::kDeadlineExceeded);
  v1::SummarizeMembershipRequest membership;
  v1::MembershipSummary membership_out;
  EXPECT_EQ(api_->SummarizeMembership(late, membership, &membership_out).code(),
            absl::StatusCode::kDeadlineExceeded);
}

// Many summaries at once (on PostgreSQL their reads end on the store's
// threads, in any order) each get the whole answer.
TEST_P(SummaryTest, SummariesAskedTogetherEachGetTheWholeAnswer) {
  const v1::StateSummary kg = State("states/kg", Day(2024, 6, 1));
  const v1::PersonSummary volodin = Person("persons/vyacheslav-volodin");
  const v1::MembershipSummary all = Membership(Day(2024, 6, 1));
  constexpr int kClients = 24;
  std::vector<absl::Status> results(kClients);
  std::vector<bool> same(kClients, false);
  absl::Notification go;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      go.WaitForNotification();
      using google::protobuf::util::MessageDifferencer;
      if (i % 3 == 0) {
        v1::SummarizeStateRequest req;
        req.set_name("states/kg");
        *req.mutable_as_of() = Day(2024, 6, 1);
        v1::StateSummary out;
        results[i] = api_->SummarizeState({}, req, &out);
        same[i] = MessageDifferencer::Equals(out, kg);
      } else if (i % 3 == 1) {
        v1::SummarizePersonRequest req;
        req.set_name("persons/vyacheslav-volodin");
        v1::PersonSummary out;
        results[i] = api_->SummarizePerson({}, req, &out);
        same[i] = MessageDifferencer::Equals(out, volodin);
      } else {
        v1::SummarizeMembershipRequest req;
        *req.mutable_as_of() = Day(2024, 6, 1);
        v1::MembershipSummary out;
        results[i] = api_->SummarizeMembership({}, req, &out);
        same[i] = MessageDifferencer::Equals(out, all);
      }
    });
  }
  go.Notify();
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
    EXPECT_TRUE(same[i]) << "client " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SummaryTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------
// WatchMembership, on SQLite and, where the test command started one, on
// PostgreSQL: every collection's writes in one stream.
// ---------------------------------------------------------------------------

class WatchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL test server in this build";
    auto db = common::OpenTestDatabase(GetParam(), MembershipSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<MembershipResources>(
        db_.get(), &tokens_, &keys_, [] { return int64_t{20261122}; });
    handler_ = std::make_unique<MembershipHandler>(resources_.get());
    api_ = std::make_unique<v1::MembershipServiceBlocking>(handler_.get());
    ASSERT_TRUE(handler_->LoadSeed(kMembershipSeed).ok());
  }

  static google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText> En(
      const std::string& text) {
    google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText> out;
    auto* t = out.Add();
    t->set_language_code("en");
    t->set_text(text);
    return out;
  }

  // One write of each collection, then an update and a delete; returns
  // the names in write order (each write EXPECTed to succeed).
  std::vector<std::string> WriteEveryCollection() {
    const Caller editor = common::testing::EditorCaller();
    std::vector<std::string> names;
    {
      v1::CreateStateRequest req;
      req.set_state_id("xw");
      *req.mutable_state()->mutable_display_name() = En("Watchland");
      auto* period = req.mutable_state()->add_status_history();
      period->set_status(v1::MEMBERSHIP_STATUS_OBSERVER);
      *period->mutable_period()->mutable_start_date() = Day(2020, 1, 1);
      v1::State out;
      EXPECT_TRUE(api_->CreateState(editor, req, &out).ok());
      names.push_back(out.name());
    }
    {
      v1::CreateBodyRequest req;
      req.set_body_id("watch-body");
      *req.mutable_body()->mutable_display_name() = En("Watch body");
      req.mutable_body()->set_kind(v1::BODY_KIND_ASSEMBLY);
      v1::Body out;
      EXPECT_TRUE(api_->CreateBody(editor, req, &out).ok());
      names.push_back(out.name());
    }
    {
      v1::CreateParliamentRequest req;
      req.set_parliament_id("xw-parliament");
      *req.mutable_parliament()->mutable_display_name() = En("Watch Diet");
      req.mutable_parliament()->set_state("states/xw");
      v1::Parliament out;
      EXPECT_TRUE(api_->CreateParliament(editor, req, &out).ok());
      names.push_back(out.name());
    }
    {
      v1::CreateDelegationRequest req;
      req.set_parent("parliaments/xw-parliament");
      req.set_delegation_id("to-watch-body");
      *req.mutable_delegation()->mutable_display_name() = En("Delegation");
      req.mutable_delegation()->set_assembly("bodies/watch-body");
      auto* seats = req.mutable_delegation()->add_seat_allocations();
      seats->set_seats(4);
      *seats->mutable_period()->mutable_start_date() = Day(2021, 1, 1);
      v1::Delegation out;
      EXPECT_TRUE(api_->CreateDelegation(editor, req, &out).ok());
      names.push_back(out.name());
    }
    {
      v1::CreatePersonRequest req;
      req.set_person_id("watcher");
      *req.mutable_person()->mutable_display_name() = En("A Watcher");
      req.mutable_person()->set_state("states/xw");
      v1::Person out;
      EXPECT_TRUE(api_->CreatePerson(editor, req, &out).ok());
      names.push_back(out.name());
    }
    {
      v1::CreateRoleRequest req;
      req.set_role_id("watcher-member");
      req.mutable_role()->set_person("persons/watcher");
      req.mutable_role()->set_organization(
          "parliaments/xw-parliament/delegations/to-watch-body");
      req.mutable_role()->set_role_type(v1::ROLE_TYPE_MEMBER);
      v1::Role out;
      EXPECT_TRUE(api_->CreateRole(editor, req, &out).ok());
      names.push_back(out.name());
    }
    {
      v1::CreatePartnerRequest req;
      req.set_partner_id("watch-partner");
      *req.mutable_partner()->mutable_display_name() = En("Watch partner");
      v1::Partner out;
      EXPECT_TRUE(api_->CreatePartner(editor, req, &out).ok());
      names.push_back(out.name());
    }
    {
      v1::UpdatePersonRequest req;
      req.mutable_person()->set_name("persons/watcher");
      *req.mutable_person()->mutable_display_name() = En("The Watcher");
      v1::Person out;
      EXPECT_TRUE(api_->UpdatePerson(editor, req, &out).ok());
      names.push_back(out.name());
    }
    {
      v1::DeleteRoleRequest req;
      req.set_name("roles/watcher-member");
      v1::Role out;
      EXPECT_TRUE(
          api_->DeleteRole(common::testing::AdminCaller(), req, &out).ok());
      names.push_back(out.name());
    }
    return names;
  }

  // The messages of a stream of `req` until `n` arrived (the stream is then
  // cancelled); `live` runs after the first. Returns the status it ended
  // with in `status`.
  std::vector<v1::WatchMembershipResponse> Watch(
      const v1::WatchMembershipRequest& req, size_t n,
      std::function<void()> live = nullptr, absl::Status* status = nullptr) {
    std::vector<v1::WatchMembershipResponse> got;
    absl::Status s = api_->WatchMembership(
        {}, req, [&](const v1::WatchMembershipResponse& m) {
          got.push_back(m);
          if (got.size() == 1 && live) live();
          return got.size() < n;
        });
    if (status != nullptr) *status = s;
    EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
    return got;
  }

  // A token at the end of the log: the first checkpoint of a new stream.
  std::string Now() {
    auto got = Watch(v1::WatchMembershipRequest(), 1);
    return got.empty() ? "" : got[0].resume_token();
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<MembershipResources> resources_;
  std::unique_ptr<MembershipHandler> handler_;
  std::unique_ptr<v1::MembershipServiceBlocking> api_;
};

// The oneof member a change of `name` must fill.
v1::WatchMembershipResponse::ResourceCase CaseOf(const std::string& name) {
  using R = v1::WatchMembershipResponse;
  const std::string collection(common::CollectionOf(name));
  if (collection == "states") return R::kState;
  if (collection == "parliaments") return R::kParliament;
  if (collection == "delegations") return R::kDelegation;
  if (collection == "persons") return R::kPerson;
  if (collection == "roles") return R::kRole;
  if (collection == "bodies") return R::kBody;
  if (collection == "partners") return R::kPartner;
  return R::RESOURCE_NOT_SET;
}

// The name inside the oneof member that is set.
std::string ResourceName(const v1::WatchMembershipResponse& m) {
  switch (m.resource_case()) {
    case v1::WatchMembershipResponse::kState:
      return m.state().name();
    case v1::WatchMembershipResponse::kParliament:
      return m.parliament().name();
    case v1::WatchMembershipResponse::kDelegation:
      return m.delegation().name();
    case v1::WatchMembershipResponse::kPerson:
      return m.person().name();
    case v1::WatchMembershipResponse::kRole:
      return m.role().name();
    case v1::WatchMembershipResponse::kBody:
      return m.body().name();
    case v1::WatchMembershipResponse::kPartner:
      return m.partner().name();
    case v1::WatchMembershipResponse::RESOURCE_NOT_SET:
      break;
  }
  return "";
}

TEST_P(WatchTest, WritesOfEveryCollectionArriveOnceInOrder) {
  std::vector<std::string> written;
  auto got = Watch(v1::WatchMembershipRequest(), 10,
                   [&] { written = WriteEveryCollection(); });
  ASSERT_EQ(written.size(), 9u);
  ASSERT_EQ(got.size(), 10u);
  // A checkpoint after the seed's changes (one per seeded record), then
  // each write.
  EXPECT_EQ(got[0].change_type(), v1::CHANGE_TYPE_CHECKPOINT);
  EXPECT_EQ(got[0].resource_case(),
            v1::WatchMembershipResponse::RESOURCE_NOT_SET);
  EXPECT_TRUE(got[0].name().empty());
  EXPECT_FALSE(got[0].has_commit_time());
  EXPECT_FALSE(got[0].resume_token().empty());
  seed::MembershipSeed seed;
  ASSERT_TRUE(
      google::protobuf::TextFormat::ParseFromString(kMembershipSeed, &seed));
  const int seeded = seed.states_size() + seed.bodies_size() +
                     seed.parliaments_size() + seed.delegations_size() +
                     seed.persons_size() + seed.roles_size() +
                     seed.partners_size();
  EXPECT_EQ(got[0].sequence(), seeded);
  for (size_t i = 1; i < got.size(); ++i) {
    const auto& m = got[i];
    EXPECT_EQ(m.name(), written[i - 1]) << i;
    EXPECT_EQ(m.sequence(), seeded + static_cast<int64_t>(i));
    EXPECT_EQ(m.resource_case(), CaseOf(m.name())) << m.name();
    EXPECT_EQ(ResourceName(m), m.name());
    EXPECT_TRUE(m.has_commit_time()) << m.name();
    EXPECT_FALSE(m.resume_token().empty());
    EXPECT_EQ(m.change_type(), i <= 7   ? v1::CHANGE_TYPE_CREATED
                               : i == 8 ? v1::CHANGE_TYPE_UPDATED
                                        : v1::CHANGE_TYPE_DELETED)
        << m.name();
  }
  // Each record as the change left it, with Get's computed fields.
  EXPECT_EQ(got[1].state().current_status(), v1::MEMBERSHIP_STATUS_OBSERVER);
  EXPECT_EQ(got[4].delegation().total_seats(), 4);
  EXPECT_EQ(got[4].delegation().as_of_date().year(), 2026);
  EXPECT_EQ(got[8].person().display_name(0).text(), "The Watcher");
  EXPECT_TRUE(got[9].role().has_delete_time());
  EXPECT_EQ(got[9].commit_time().seconds(),
            got[9].role().update_time().seconds());

  // Resuming after the person's create: the rest, from any position.
  v1::WatchMembershipRequest from;
  from.set_resume_token(got[5].resume_token());
  auto resumed = Watch(from, 5);
  ASSERT_EQ(resumed.size(), 5u);
  EXPECT_EQ(resumed[0].change_type(), v1::CHANGE_TYPE_CHECKPOINT);
  EXPECT_EQ(resumed[0].sequence(), got[5].sequence());
  for (size_t i = 1; i < resumed.size(); ++i) {
    EXPECT_EQ(resumed[i].name(), got[5 + i].name());
    EXPECT_EQ(resumed[i].sequence(), got[5 + i].sequence());
  }

  // The seed again changes nothing, so logs nothing: the next change is a
  // new write.
  ASSERT_TRUE(handler_->LoadSeed(kMembershipSeed).ok());
  v1::WatchMembershipRequest after;
  after.set_resume_token(got[9].resume_token());
  auto next = Watch(after, 2, [&] {
    v1::CreatePartnerRequest req;
    req.set_partner_id("after-seed");
    *req.mutable_partner()->mutable_display_name() = En("After");
    v1::Partner out;
    EXPECT_TRUE(
        api_->CreatePartner(common::testing::EditorCaller(), req, &out).ok());
  });
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[1].name(), "partners/after-seed");
  EXPECT_EQ(next[1].sequence(), got[9].sequence() + 1);
}

TEST_P(WatchTest, CollectionAndNameFiltersPassOverOtherChanges) {
  const std::string start = Now();
  ASSERT_FALSE(start.empty());
  const std::vector<std::string> written = WriteEveryCollection();
  ASSERT_EQ(written.size(), 9u);

  // persons and roles: the person's create and update, the role's create
  // and delete, in commit order.
  v1::WatchMembershipRequest some;
  some.set_resume_token(start);
  some.add_collections("persons");
  some.add_collections("roles");
  auto got = Watch(some, 5);
  ASSERT_EQ(got.size(), 5u);
  std::vector<std::string> names;
  for (size_t i = 1; i < got.size(); ++i) {
    names.push_back(got[i].name());
    EXPECT_EQ(got[i].resource_case(), CaseOf(got[i].name()));
    EXPECT_GT(got[i].sequence(), got[i - 1].sequence());
  }
  EXPECT_THAT(names, ElementsAre("persons/watcher", "roles/watcher-member",
                                 "persons/watcher", "roles/watcher-member"));
  EXPECT_EQ(got[3].change_type(), v1::CHANGE_TYPE_UPDATED);
  EXPECT_EQ(got[4].change_type(), v1::CHANGE_TYPE_DELETED);

  // One delegation, by its nested name; then a later write of it is the
  // next change, the writes of other records between passed over.
  const std::string delegation =
      "parliaments/xw-parliament/delegations/to-watch-body";
  v1::WatchMembershipRequest one;
  one.set_resume_token(start);
  one.set_name(delegation);
  auto only = Watch(one, 3, [&] {
    v1::UpdateDelegationRequest req;
    req.mutable_delegation()->set_name(delegation);
    *req.mutable_delegation()->mutable_display_name() = En("Renamed");
    v1::Delegation out;
    EXPECT_TRUE(
        api_->UpdateDelegation(common::testing::EditorCaller(), req, &out)
            .ok());
  });
  ASSERT_EQ(only.size(), 3u);
  EXPECT_EQ(only[1].name(), delegation);
  EXPECT_EQ(only[1].change_type(), v1::CHANGE_TYPE_CREATED);
  EXPECT_EQ(only[2].name(), delegation);
  EXPECT_EQ(only[2].change_type(), v1::CHANGE_TYPE_UPDATED);
  EXPECT_EQ(only[2].delegation().display_name(0).text(), "Renamed");
  EXPECT_EQ(only[2].sequence(), only[1].sequence() + 6);  // 5 passed over

  // Both: a change must be of the collection and the record.
  v1::WatchMembershipRequest both;
  both.set_resume_token(start);
  both.add_collections("states");
  both.set_name("states/xw");
  auto state = Watch(both, 2);
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[1].name(), "states/xw");
  EXPECT_EQ(state[1].resource_case(), v1::WatchMembershipResponse::kState);
}

TEST_P(WatchTest, BadFiltersAndTokensAreInvalidArgument) {
  struct Case {
    std::vector<std::string> collections;
    std::string name;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{"events"}, "", "collections[0]"},
      {{"persons", "persons"}, "", "collections[1]"},
      {{"Persons"}, "", "collections[0]"},
      {{}, "events/x", "name"},
      {{}, "persons", "name"},
      {{}, "persons/Not_An_Id", "name"},
      {{}, "parliaments/p/delegations", "name"},
  };
  for (const Case& c : cases) {
    v1::WatchMembershipRequest req;
    for (const auto& col : c.collections) req.add_collections(col);
    req.set_name(c.name);
    int messages = 0;
    absl::Status s =
        api_->WatchMembership({}, req, [&](const v1::WatchMembershipResponse&) {
          ++messages;
          return false;
        });
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(common::testing::ReasonOf(s), "INVALID_WATCH_FILTER") << c.field;
    EXPECT_THAT(FieldsOf(s), ElementsAre(c.field)) << s;
    EXPECT_EQ(messages, 0);
  }
  v1::WatchMembershipRequest bad;
  bad.set_resume_token("bm90LWEtdG9rZW4");
  absl::Status s = api_->WatchMembership(
      {}, bad, [](const v1::WatchMembershipResponse&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(common::testing::ReasonOf(s), "INVALID_RESUME_TOKEN");
  // A token of another feed (the same secret, another scope).
  common::ChangeFeedOptions other = MembershipFeedOptions();
  other.token_scope = "cstopa.events.v1.EventsService/WatchEvents";
  common::ChangeFeed events_feed(db_.get(), &tokens_, other);
  bad.set_resume_token(events_feed.TokenFor(1));
  s = api_->WatchMembership(
      {}, bad, [](const v1::WatchMembershipResponse&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(common::testing::ReasonOf(s), "INVALID_RESUME_TOKEN");
}

TEST_P(WatchTest, DrainEndsWatchStreamsWithUnavailable) {
  int messages = 0;
  absl::Status s =
      api_->WatchMembership({}, v1::WatchMembershipRequest(),
                            [&](const v1::WatchMembershipResponse&) {
                              if (++messages == 1) handler_->BeginDrain();
                              return true;
                            });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(common::testing::ReasonOf(s), "SERVER_SHUTTING_DOWN");
  EXPECT_EQ(messages, 1);
  s = api_->WatchMembership(
      {}, v1::WatchMembershipRequest(),
      [](const v1::WatchMembershipResponse&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(resources_->feed().watcher_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, WatchTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// Undelete (AIP-164) and request IDs on creates (AIP-155): the platform's
// Resource serves them for every collection; partners, parliaments and
// their delegations stand for all.
using LifecycleTest = WatchTest;

TEST_P(LifecycleTest, UndeleteMakesADeletedRecordLiveAndStreamsAnUpdate) {
  ASSERT_EQ(WriteEveryCollection().size(), 9u);
  const Caller admin = common::testing::AdminCaller();
  v1::DeletePartnerRequest del;
  del.set_name("partners/watch-partner");
  v1::Partner deleted;
  ASSERT_TRUE(api_->DeletePartner(admin, del, &deleted).ok());
  ASSERT_TRUE(deleted.has_delete_time());
  const std::string start = Now();

  v1::UndeletePartnerRequest req;
  req.set_name("partners/watch-partner");
  v1::Partner out;
  // The role of Delete: an editor is refused, no key is unauthenticated.
  EXPECT_EQ(
      api_->UndeletePartner(common::testing::EditorCaller(), req, &out).code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(api_->UndeletePartner({}, req, &out).code(),
            absl::StatusCode::kUnauthenticated);
  // A stale etag is refused; the deleted record's etag is the current one.
  req.set_etag("\"0123456789abcdef\"");
  absl::Status s = api_->UndeletePartner(admin, req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
  EXPECT_EQ(common::testing::ReasonOf(s), "ETAG_MISMATCH");
  req.set_etag(deleted.etag());
  ASSERT_TRUE(api_->UndeletePartner(admin, req, &out).ok());
  EXPECT_FALSE(out.has_delete_time());
  EXPECT_EQ(out.display_name(0).text(), "Watch partner");
  EXPECT_EQ(out.create_time().seconds(), deleted.create_time().seconds());
  EXPECT_EQ(out.create_time().nanos(), deleted.create_time().nanos());
  EXPECT_NE(out.etag(), deleted.etag());

  // Live again: Get and List see it.
  v1::GetPartnerRequest get;
  get.set_name("partners/watch-partner");
  v1::Partner got;
  ASSERT_TRUE(api_->GetPartner({}, get, &got).ok());
  EXPECT_EQ(got.etag(), out.etag());
  v1::ListPartnersRequest list;
  list.set_filter("name = \"partners/watch-partner\"");
  v1::ListPartnersResponse listed;
  ASSERT_TRUE(api_->ListPartners({}, list, &listed).ok());
  EXPECT_EQ(listed.partners_size(), 1);

  // A live record is not undeleted again; a name never used is NOT_FOUND;
  // a malformed one INVALID_ARGUMENT.
  req.clear_etag();
  s = api_->UndeletePartner(admin, req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_EQ(common::testing::ReasonOf(s), "NOT_DELETED");
  req.set_name("partners/never-was");
  EXPECT_EQ(api_->UndeletePartner(admin, req, &out).code(),
            absl::StatusCode::kNotFound);
  req.set_name("states/kz");
  EXPECT_EQ(api_->UndeletePartner(admin, req, &out).code(),
            absl::StatusCode::kInvalidArgument);

  // Watchers see the undelete as an update that clears delete_time.
  v1::WatchMembershipRequest from;
  from.set_resume_token(start);
  auto changes = Watch(from, 2);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].change_type(), v1::CHANGE_TYPE_UPDATED);
  EXPECT_EQ(changes[1].name(), "partners/watch-partner");
  EXPECT_FALSE(changes[1].partner().has_delete_time());
}

TEST_P(LifecycleTest, AChildIsUndeletedOnlyUnderALiveParent) {
  ASSERT_EQ(WriteEveryCollection().size(), 9u);
  const Caller admin = common::testing::AdminCaller();
  const std::string parliament = "parliaments/xw-parliament";
  const std::string delegation = parliament + "/delegations/to-watch-body";
  v1::DeleteDelegationRequest dd;
  dd.set_name(delegation);
  v1::Delegation d;
  ASSERT_TRUE(api_->DeleteDelegation(admin, dd, &d).ok());
  v1::DeleteParliamentRequest dp;
  dp.set_name(parliament);
  v1::Parliament p;
  ASSERT_TRUE(api_->DeleteParliament(admin, dp, &p).ok());

  v1::UndeleteDelegationRequest ud;
  ud.set_name(delegation);
  absl::Status s = api_->UndeleteDelegation(admin, ud, &d);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(common::testing::ReasonOf(s), "PARENT_DELETED");
  // A name never used under the deleted parent is still NOT_FOUND.
  ud.set_name(parliament + "/delegations/never-was");
  EXPECT_EQ(api_->UndeleteDelegation(admin, ud, &d).code(),
            absl::StatusCode::kNotFound);

  v1::UndeleteParliamentRequest up;
  up.set_name(parliament);
  ASSERT_TRUE(api_->UndeleteParliament(admin, up, &p).ok());
  ud.set_name(delegation);
  ASSERT_TRUE(api_->UndeleteDelegation(admin, ud, &d).ok());
  // The computed fields are filled as on Get.
  EXPECT_EQ(d.total_seats(), 4);
  v1::GetDelegationRequest get;
  get.set_name(delegation);
  EXPECT_TRUE(api_->GetDelegation({}, get, &d).ok());
}

TEST_P(LifecycleTest, ACreateRetriedWithItsRequestIdAnswersTheFirstResult) {
  const Caller editor = common::testing::EditorCaller();
  const std::string id = "7c0f2c9e-3b5d-4a8e-9f1a-2b6c4d8e0a13";
  v1::CreatePartnerRequest req;
  req.set_partner_id("retried");
  *req.mutable_partner()->mutable_display_name() = En("Retried");
  req.set_request_id(id);
  v1::Partner first;
  ASSERT_TRUE(api_->CreatePartner(editor, req, &first).ok());
  auto last_sequence = [&] {
    auto got = Watch(v1::WatchMembershipRequest(), 1);
    return got.empty() ? int64_t{-1} : got[0].sequence();
  };
  const int64_t after_first = last_sequence();

  // The retry (the answer to the first was lost) gets the same record, and
  // writes nothing: no new etag, no change on the stream. The request ID is
  // compared without regard to case.
  req.set_request_id(absl::AsciiStrToUpper(id));
  v1::Partner again;
  ASSERT_TRUE(api_->CreatePartner(editor, req, &again).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(first, again))
      << again.DebugString();
  EXPECT_EQ(last_sequence(), after_first);

  // Without a request ID, or with another, the name is taken.
  req.clear_request_id();
  absl::Status s = api_->CreatePartner(editor, req, &again);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  req.set_request_id("0b8e7c36-4f11-4d7a-a0a4-5e8f0f1b2c3d");
  EXPECT_EQ(api_->CreatePartner(editor, req, &again).code(),
            absl::StatusCode::kAlreadyExists);
  // That failed create recorded nothing: its ID is free for a new request.
  v1::CreatePartnerRequest other;
  other.set_partner_id("another");
  *other.mutable_partner()->mutable_display_name() = En("Another");
  other.set_request_id("0b8e7c36-4f11-4d7a-a0a4-5e8f0f1b2c3d");
  v1::Partner another;
  ASSERT_TRUE(api_->CreatePartner(editor, other, &another).ok());

  // The same request ID with another request: ALREADY_EXISTS for the same
  // name, REQUEST_ID_REUSED for another.
  req.set_request_id(id);
  *req.mutable_partner()->mutable_display_name() = En("Changed");
  s = api_->CreatePartner(editor, req, &again);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  other.set_partner_id("third");
  other.set_request_id(id);
  s = api_->CreatePartner(editor, other, &again);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(common::testing::ReasonOf(s), "REQUEST_ID_REUSED");
  EXPECT_THAT(FieldsOf(s), ElementsAre("request_id"));

  // Not a UUID: INVALID_ARGUMENT, before anything is written.
  other.set_request_id("retry-1");
  s = api_->CreatePartner(editor, other, &again);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(FieldsOf(s), ElementsAre("request_id"));

  // The request ID is stored with the record: a replica (or a restart)
  // answers the retry too, with the record as it is now.
  v1::UpdatePartnerRequest update;
  update.mutable_partner()->set_name("partners/retried");
  *update.mutable_partner()->mutable_display_name() = En("Renamed");
  v1::Partner updated;
  ASSERT_TRUE(api_->UpdatePartner(editor, update, &updated).ok());
  MembershipResources replica(db_.get(), &tokens_, &keys_,
                              [] { return int64_t{20261122}; });
  MembershipHandler replica_handler(&replica);
  v1::MembershipServiceBlocking replica_api(&replica_handler);
  *req.mutable_partner()->mutable_display_name() = En("Retried");
  ASSERT_TRUE(replica_api.CreatePartner(editor, req, &again).ok());
  EXPECT_EQ(again.display_name(0).text(), "Renamed");
  EXPECT_EQ(again.etag(), updated.etag());
}

INSTANTIATE_TEST_SUITE_P(Backends, LifecycleTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

// A List with computed fields (states: decoded, then computed) is cut
// short by bytes as the stored-bytes path is: every state comes once.
TEST_F(MembershipHandlerTest, ComputedListPagesAreCutShortByBytes) {
  v1::ListStatesRequest req;
  req.set_page_size(100);
  v1::ListStatesResponse whole;
  ASSERT_TRUE(api_->ListStates({}, req, &whole).ok());
  ASSERT_GT(whole.states_size(), 3);
  std::vector<std::string> expected;
  for (const v1::State& s : whole.states()) expected.push_back(s.name());
  resources_->set().set_max_response_bytes(4096);  // 2 KiB of states a page
  std::vector<std::string> names;
  int pages = 0;
  do {
    v1::ListStatesResponse page;
    absl::Status s = api_->ListStates({}, req, &page);
    ASSERT_TRUE(s.ok()) << s;
    ++pages;
    EXPECT_GE(page.states_size(), 1);
    EXPECT_LE(page.ByteSizeLong(), 4096u);
    for (const v1::State& st : page.states()) names.push_back(st.name());
    req.set_page_token(page.next_page_token());
  } while (!req.page_token().empty() && pages < 100);
  EXPECT_EQ(names, expected);
  EXPECT_GT(pages, 1);
}

// `accept-language` puts the preferred language's texts first in every
// LocalizedText list (legislation's tests hold the same for its reads).
TEST_F(MembershipHandlerTest, AcceptLanguageOrdersTexts) {
  Caller ru;
  ru.accept_language = "ru";
  v1::GetStateRequest get;
  get.set_name("states/kz");
  v1::State state;
  ASSERT_TRUE(api_->GetState({}, get, &state).ok());
  ASSERT_EQ(state.display_name_size(), 2);
  EXPECT_EQ(state.display_name(0).language_code(), "en");
  ASSERT_TRUE(api_->GetState(ru, get, &state).ok());
  ASSERT_EQ(state.display_name_size(), 2);
  EXPECT_EQ(state.display_name(0).text(), "Казахстан");
  EXPECT_EQ(state.display_name(1).text(), "Kazakhstan");
  v1::ListStatesRequest list;
  v1::ListStatesResponse states;
  ASSERT_TRUE(api_->ListStates(ru, list, &states).ok());
  ASSERT_GT(states.states_size(), 1);
  int with_russian = 0;
  for (const v1::State& s : states.states()) {
    for (int i = 1; i < s.display_name_size(); ++i) {
      EXPECT_NE(s.display_name(i).language_code(), "ru") << s.name();
      with_russian += s.display_name(0).language_code() == "ru";
    }
  }
  EXPECT_GT(with_russian, 1);
}

// ---------------------------------------------------------------------------
// Search, on SQLite and, where the test command started one, on PostgreSQL:
// the seeded records by the words a reader would type.
// ---------------------------------------------------------------------------

class SearchTest : public ::testing::TestWithParam<std::string> {
 protected:
  using Probe =
      common::testing::SearchProbe<v1::MembershipServiceBlocking,
                                   v1::SearchRequest, v1::SearchResponse>;

  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL test server in this build";
    auto db = common::OpenTestDatabase(GetParam(), MembershipSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<MembershipResources>(
        db_.get(), &tokens_, &keys_, [] { return int64_t{20261122}; });
    handler_ = std::make_unique<MembershipHandler>(resources_.get());
    api_ = std::make_unique<v1::MembershipServiceBlocking>(handler_.get());
    ASSERT_TRUE(handler_->LoadSeed(kMembershipSeed).ok());
    search_ = std::make_unique<Probe>(api_.get());
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<MembershipResources> resources_;
  std::unique_ptr<MembershipHandler> handler_;
  std::unique_ptr<v1::MembershipServiceBlocking> api_;
  std::unique_ptr<Probe> search_;
};

// The seed spells him only in Latin letters; the Cyrillic spelling and a
// prefix typed so far find him too, and nothing else (his roles are links,
// not searched).
TEST_P(SearchTest, APersonIsFoundByNameInEitherScriptAndByPrefix) {
  for (const char* query : {"Rogalev", "rogalev ", "Рогалев", "РОГАЛЕВ", "Roga",
                            "Рогал", "Viktor Rogalev"}) {
    EXPECT_THAT(search_->Names(query), ElementsAre("persons/viktor-rogalev"))
        << query;
  }
  auto r = search_->Search("Рогалев");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->hits_size(), 1);
  const auto& hit = r->hits(0);
  EXPECT_EQ(hit.type(), "cstopa.org/Person");
  EXPECT_EQ(hit.title(), "Viktor Rogalev");
  EXPECT_THAT(hit.snippet(), HasSubstr("<mark>Rogalev</mark>"));
  EXPECT_FALSE(hit.has_date());
  EXPECT_GT(hit.score(), 0);
  // A whole word is not a prefix of a longer one once a space ends it.
  EXPECT_THAT(search_->Names("Roga "), ::testing::IsEmpty());
}

// Russian words are found in other grammatical forms, and Latin spellings
// of the same word match the Russian names.
TEST_P(SearchTest, RussianWordsInOtherFormsFindTheRecord) {
  // "Казахстана" (genitive) -> "Казахстан": the records with a Russian
  // name (the delegation's is English only). Typed to its end (a space
  // after it): a last word still being typed is only a prefix.
  EXPECT_THAT(search_->Names("Казахстана "),
              UnorderedElementsAre("states/kz", "parliaments/kz-parliament"));
  // "Кротова" (genitive) -> "Кротов".
  EXPECT_THAT(search_->Names("Кротова "),
              ElementsAre("persons/mikhail-krotov"));
  // "Парламентская Ассамблея ОДКБ" and "Совет Парламентской Ассамблеи
  // ОДКБ": only the Russian names have the word.
  EXPECT_THAT(search_->Names("Парламентской "),
              UnorderedElementsAre("bodies/csto-pa", "bodies/csto-pa-council"));
  EXPECT_THAT(search_->Names("парламентская ассамблея"),
              ElementsAre("bodies/csto-pa"));
  // A chamber's name finds its parliament, in either language.
  EXPECT_THAT(search_->Names("Мажилис"),
              ElementsAre("parliaments/kz-parliament"));
  EXPECT_THAT(search_->Names("State Duma"),
              ElementsAre("parliaments/ru-federal-assembly"));
  // Abbreviations of bodies: "ОДКБ" only in Russian names.
  EXPECT_THAT(search_->Names("Секретариат ОДКБ"),
              ElementsAre("bodies/csto-secretariat"));
}

TEST_P(SearchTest, LatinLettersFindNamesWrittenInCyrillic) {
  EXPECT_THAT(search_->Names("Kyrgyz"),
              UnorderedElementsAre(
                  "states/kg", "parliaments/kg-jogorku-kenesh",
                  "parliaments/kg-jogorku-kenesh/delegations/csto-pa"));
  // "Кыргызской" is in the parliament's Russian name only: its English
  // name says "Kyrgyz Republic".
  EXPECT_THAT(search_->Names("Kyrgyzsk"),
              ElementsAre("parliaments/kg-jogorku-kenesh"));
  // "Кочанова" is the Russian spelling of the English "Kochanova".
  EXPECT_THAT(search_->Names("Kochanov"),
              ElementsAre("persons/natalia-kochanova"));
}

TEST_P(SearchTest, CountsAgreeAndFiltersRestrictByTypeAndDate) {
  const std::vector<std::string> all = search_->Names("Assembly");
  EXPECT_THAT(all, ::testing::IsSupersetOf(
                       {"bodies/csto-pa", "parliaments/am-national-assembly",
                        "parliaments/tj-majlisi-oli/delegations/csto-pa"}));
  auto r = search_->Search("Assembly", "", 100);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, int64_t> counts;
  for (const auto& c : r->type_counts()) counts[c.type()] = c.count();
  // The Union State's assembly (Serbia is a partner state, not named an
  // assembly).
  EXPECT_EQ(counts["cstopa.org/Partner"], 1);
  EXPECT_EQ(counts["cstopa.org/Delegation"], 4);

  EXPECT_THAT(search_->Names("Assembly", "type = \"cstopa.org/Delegation\""),
              UnorderedElementsAre(
                  "parliaments/am-national-assembly/delegations/csto-pa",
                  "parliaments/by-national-assembly/delegations/csto-pa",
                  "parliaments/ru-federal-assembly/delegations/csto-pa",
                  "parliaments/tj-majlisi-oli/delegations/csto-pa"));
  EXPECT_THAT(search_->Names("Viktor", "type = \"cstopa.org/Person\""),
              ::testing::Contains("persons/viktor-rogalev"));
  EXPECT_THAT(search_->Names("Rogalev", "type = \"cstopa.org/State\""),
              ::testing::IsEmpty());

  // Partners are dated by the first source attesting their partnership
  // (known_from, the year 2024);
  // the other records have no date and never satisfy a comparison on it.
  // (The bounds leave out the days of 2024 itself: a year-only date is
  // stored as 2024-00-00.)
  auto dated = search_->Search("Assembly", "date > 2023-12-31", 100);
  ASSERT_TRUE(dated.ok()) << dated.status();
  EXPECT_THAT(Probe::NamesOf(*dated),
              UnorderedElementsAre("partners/union-state-pa"));
  for (const auto& h : dated->hits()) {
    EXPECT_EQ(h.date().year(), 2024) << h.name();
    EXPECT_EQ(h.type(), "cstopa.org/Partner");
  }
  EXPECT_EQ(dated->total_size(), 1);
  EXPECT_THAT(search_->Names("Assembly", "date < 2023-12-31"),
              ::testing::IsEmpty());
  EXPECT_THAT(search_->Names("Assembly", "date > 2025-01-01"),
              ::testing::IsEmpty());
  EXPECT_THAT(search_->Names("Assembly",
                             "date > 2023-12-31 AND type = "
                             "\"cstopa.org/Parliament\""),
              ::testing::IsEmpty());
}

TEST_P(SearchTest, PagesWalkEveryHitOnce) {
  for (const char* query : {"Assembly", "CSTO", "Republic"}) {
    const std::vector<std::string> one_page = search_->Names(query);
    ASSERT_GT(one_page.size(), 4u) << query;
    EXPECT_EQ(search_->AllPages(query, "", 2), one_page) << query;
    EXPECT_EQ(search_->AllPages(query, "type = \"cstopa.org/Delegation\"", 2),
              search_->Names(query, "type = \"cstopa.org/Delegation\""))
        << query;
  }
  search_->ExpectTokenBoundToQuery("Assembly", "Republic");
}

TEST_P(SearchTest, HostileInputIsRefusedOrAnswered) {
  search_->ExpectHostileInputsRefusedOrAnswered("Rogalev");
}

TEST_P(SearchTest, DeletedRecordsAreNotFoundAndUpdatesAreFoundByTheirNewText) {
  const Caller admin = common::testing::AdminCaller();
  v1::DeletePersonRequest del;
  del.set_name("persons/viktor-rogalev");
  v1::Person deleted;
  ASSERT_TRUE(api_->DeletePerson(admin, del, &deleted).ok());
  EXPECT_THAT(search_->Names("Rogalev"), ::testing::IsEmpty());
  EXPECT_THAT(search_->Names("Viktor", "type = \"cstopa.org/Person\""),
              ::testing::Not(::testing::Contains("persons/viktor-rogalev")));

  v1::UndeletePersonRequest undel;
  undel.set_name("persons/viktor-rogalev");
  v1::Person live;
  ASSERT_TRUE(api_->UndeletePerson(admin, undel, &live).ok());
  EXPECT_THAT(search_->Names("Рогалев"), ElementsAre("persons/viktor-rogalev"));

  // An update re-indexes the record: its new name finds it, the old no more.
  v1::UpdatePersonRequest update;
  *update.mutable_person() = live;
  update.mutable_person()->clear_display_name();
  auto* ru = update.mutable_person()->add_display_name();
  ru->set_language_code("ru");
  ru->set_text("Тестовый Персонаж");
  update.mutable_update_mask()->add_paths("display_name");
  v1::Person updated;
  ASSERT_TRUE(api_->UpdatePerson(admin, update, &updated).ok());
  EXPECT_THAT(search_->Names("Тестового персонажа "),
              ElementsAre("persons/viktor-rogalev"));
  EXPECT_THAT(search_->Names("Testov"), ElementsAre("persons/viktor-rogalev"));
  EXPECT_THAT(search_->Names("Rogalev"), ::testing::IsEmpty());

  // A created record is found at once.
  v1::CreatePartnerRequest create;
  create.set_partner_id("search-partner");
  auto* en = create.mutable_partner()->add_display_name();
  en->set_language_code("en");
  en->set_text("Zanzibar Search Partner");
  v1::Partner created;
  ASSERT_TRUE(api_->CreatePartner(admin, create, &created).ok());
  EXPECT_THAT(search_->Names("Zanzibar"),
              ElementsAre("partners/search-partner"));
}

INSTANTIATE_TEST_SUITE_P(Backends, SearchTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::membership

namespace cstopa::membership {
namespace {

// Two replicas of the service on one store: each keeps the answers of its
// reads (store/read_cache.h). A write through one must reach the other's
// readers once its change feed has seen it (within the feed's poll
// interval), never stay hidden behind a kept answer.
TEST(MembershipReplicasTest, AWriteThroughOneReplicaShowsInTheOthersReads) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/replicas-", getpid(), ".db");
  std::remove(path.c_str());
  common::ApiKeyStore keys = common::testing::TestApiKeys();
  common::PageTokenCodec tokens{"test-secret"};
  auto db_a = common::OpenDatabase("sqlite://" + path, MembershipSchema());
  ASSERT_TRUE(db_a.ok()) << db_a.status();
  auto db_b = common::OpenDatabase("sqlite://" + path, MembershipSchema());
  ASSERT_TRUE(db_b.ok()) << db_b.status();
  MembershipResources resources_a(db_a->get(), &tokens, &keys);
  MembershipResources resources_b(db_b->get(), &tokens, &keys);
  MembershipHandler handler_a(&resources_a);
  MembershipHandler handler_b(&resources_b);
  v1::MembershipServiceBlocking a(&handler_a);
  v1::MembershipServiceBlocking b(&handler_b);
  ASSERT_TRUE(handler_a.LoadSeed(kMembershipSeed).ok());
  // B's feed follows the log (it has seen the seed's changes).
  const absl::Time started = absl::Now();
  while (resources_b.feed().head() == 0 &&
         absl::Now() - started < absl::Seconds(10))
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_GT(resources_b.feed().head(), 0);

  v1::GetStateRequest get;
  get.set_name("states/kz");
  v1::State before;
  ASSERT_TRUE(b.GetState({}, get, &before).ok());
  v1::State again;
  ASSERT_TRUE(b.GetState({}, get, &again).ok());
  ASSERT_GT((*db_b)->read_cache().hits(), 0);  // B answers from its cache

  v1::UpdateStateRequest update;
  *update.mutable_state() = before;
  update.mutable_state()->mutable_display_name(0)->set_text("Renamed");
  update.mutable_update_mask()->add_paths("display_name");
  v1::State updated;
  ASSERT_TRUE(
      a.UpdateState(common::testing::AdminCaller(), update, &updated).ok());
  // A's own readers see the write at once.
  v1::State from_a;
  ASSERT_TRUE(a.GetState({}, get, &from_a).ok());
  EXPECT_EQ(from_a.display_name(0).text(), "Renamed");
  // B's, once its feed has polled (50 ms by default; bounded here by 10 s).
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  v1::State from_b;
  do {
    absl::SleepFor(absl::Milliseconds(10));
    ASSERT_TRUE(b.GetState({}, get, &from_b).ok());
  } while (from_b.display_name(0).text() != "Renamed" && absl::Now() < give_up);
  EXPECT_EQ(from_b.display_name(0).text(), "Renamed");
  EXPECT_EQ(from_b.etag(), from_a.etag());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace cstopa::membership
