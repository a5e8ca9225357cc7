// The seed as data: the facts the seed documents state about people, posts
// and partners are records of the right kind, dated only as the sources date
// them. Handler tests on an in-memory SQLite store loaded with the real seed
// file (as in membership_service_test.cc), plus checks over the parsed seed.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "membership/seed/membership_seed.pb.h"
#include "services/membership/membership_test_fixture.h"

namespace cstopa::membership {
namespace {

std::string DateText(const google::type::Date& d) {
  return absl::StrCat(d.year(), "-", d.month(), "-", d.day());
}

// The English text of `names`; empty when there is none.
std::string En(
    const google::protobuf::RepeatedPtrField<type::v1::LocalizedText>& names) {
  for (const auto& n : names)
    if (n.language_code() == "en") return n.text();
  return "";
}

class MembershipSeedFactsTest : public SeededMembershipTest {
 protected:
  // The roles held by `person`, in any period.
  std::vector<v1::Role> RolesOf(const std::string& person) {
    v1::ListRolesRequest req;
    req.set_filter(absl::StrCat("person = \"", person, "\""));
    v1::ListRolesResponse resp;
    EXPECT_TRUE(api_->ListRoles({}, req, &resp).ok());
    return {resp.roles().begin(), resp.roles().end()};
  }
};

// An official the seeds name with a post, and the post as the source names
// it: the body, its English name in the seed and the date of the source (or
// of the item on the page) that attests the post.
struct Official {
  const char* person;
  const char* display_name;
  const char* body;
  const char* body_display_name;
  v1::RoleType role_type;
  const char* title;  // the post as the source words it
  google::type::Date known_from;
};

const std::vector<Official>& Officials() {
  static const auto* officials = new std::vector<Official>{
      // Seed 002, item dated 22.04.2024: "the Deputy Secretary General of the
      // Collective Security Treaty Organization, Samat Ordabaev".
      {"persons/ordabaev-samat", "Samat Ordabaev", "bodies/csto",
       "Collective Security Treaty Organization",
       v1::ROLE_TYPE_DEPUTY_SECRETARY,
       "Deputy Secretary General of the Collective Security Treaty "
       "Organization",
       Day(2024, 4, 22)},
      // Seed 002, item dated 18.04.2024: "Viktor Zinoviev, Secretary of the
      // CSTO Interstate Commission on Military-Economic Cooperation".
      {"persons/zinoviev-viktor", "Viktor Zinoviev", "bodies/csto-icmec",
       "Interstate Commission on Military-Economic Cooperation",
       v1::ROLE_TYPE_SECRETARY,
       "Secretary of the CSTO Interstate Commission on Military-Economic "
       "Cooperation",
       Day(2024, 4, 18)},
      // Seed 002, item dated 06.04.2022: "the Head of the CSTO Troops
      // (Collective Forces) Military Planning Directorate Lieutenant General
      // Anatoly Yakovlev".
      {"persons/yakovlev-anatoly", "Anatoly Yakovlev",
       "bodies/csto-military-planning-directorate",
       "CSTO Troops (Collective Forces) Military Planning Directorate",
       v1::ROLE_TYPE_CHAIR,
       "Head of the CSTO Troops (Collective Forces) Military Planning "
       "Directorate",
       Day(2022, 4, 6)},
      // Seed 004, 2025-08-29: "Andrey Kikot ... was elected Chairman of the
      // Coordination Council" (of Heads of Competent Authorities of the CSTO
      // member states on combating illegal migration), at its 28th meeting.
      {"persons/kikot-andrey", "Andrey Kikot",
       "bodies/csto-migration-coordination-council",
       "Coordination Council of Heads of Competent Authorities of the CSTO "
       "Member States on Combating Illegal Migration",
       v1::ROLE_TYPE_CHAIR, "Chairman of the Coordination Council",
       Day(2025, 8, 29)},
  };
  return *officials;
}

// Every official the seeds name with a post in the organization is a person
// holding a role in a seeded body, the body the source names; the role's
// start is unset (no source states it) and it is known from the date of the
// source that attests it.
TEST_F(MembershipSeedFactsTest, OfficialsArePersonsWithDatedRolesInBodies) {
  for (const Official& o : Officials()) {
    SCOPED_TRACE(o.person);
    v1::GetPersonRequest get_person;
    get_person.set_name(o.person);
    v1::Person person;
    ASSERT_TRUE(api_->GetPerson({}, get_person, &person).ok());
    EXPECT_EQ(En(person.display_name()), o.display_name);
    EXPECT_FALSE(person.provenance().empty());

    const std::vector<v1::Role> roles = RolesOf(o.person);
    ASSERT_EQ(roles.size(), 1u);
    const v1::Role& role = roles[0];
    EXPECT_EQ(role.organization(), o.body);
    EXPECT_EQ(role.role_type(), o.role_type);
    EXPECT_EQ(En(role.title()), o.title);
    EXPECT_FALSE(role.period().has_start_date());
    EXPECT_FALSE(role.period().has_end_date());
    ASSERT_TRUE(role.period().has_known_from());
    EXPECT_EQ(DateText(role.period().known_from()), DateText(o.known_from));
    // The title is the source's: it is in the role's quote, word for word.
    ASSERT_FALSE(role.provenance().empty());
    bool quoted = false;
    for (const auto& p : role.provenance()) {
      EXPECT_FALSE(p.source().empty());
      EXPECT_FALSE(p.note().empty());
      if (absl::StrContains(p.quote(), o.title)) quoted = true;
    }
    EXPECT_TRUE(quoted) << "title not in the role's quote: " << o.title;

    v1::GetBodyRequest get_body;
    get_body.set_name(o.body);
    v1::Body body;
    ASSERT_TRUE(api_->GetBody({}, get_body, &body).ok());
    EXPECT_EQ(En(body.display_name()), o.body_display_name);
    EXPECT_FALSE(body.provenance().empty());
  }
}

// "As of" a day before the source that attests a post, the post is not
// listed (it is not known to be held); from that day on it is.
TEST_F(MembershipSeedFactsTest, OfficialsRolesAreKnownFromTheirSourceOnly) {
  for (const Official& o : Officials()) {
    SCOPED_TRACE(o.person);
    v1::ListRolesRequest req;
    req.set_filter(absl::StrCat("person = \"", o.person, "\""));
    *req.mutable_as_of() = o.known_from;
    v1::ListRolesResponse on;
    ASSERT_TRUE(api_->ListRoles({}, req, &on).ok());
    EXPECT_EQ(on.roles_size(), 1);

    google::type::Date before = o.known_from;
    before.set_day(before.day() - 1);  // no known_from is on a 1st
    *req.mutable_as_of() = before;
    v1::ListRolesResponse earlier;
    ASSERT_TRUE(api_->ListRoles({}, req, &earlier).ok());
    EXPECT_EQ(earlier.roles_size(), 0);
  }
}

// The Yakovlev directorate is a body of its own, as the source names it; the
// source does not place it under the Joint Staff.
TEST_F(MembershipSeedFactsTest,
       MilitaryPlanningDirectorateIsNotInventedIntoTheJointStaff) {
  v1::GetBodyRequest get;
  get.set_name("bodies/csto-military-planning-directorate");
  v1::Body body;
  ASSERT_TRUE(api_->GetBody({}, get, &body).ok());
  EXPECT_NE(body.parent_body(), "bodies/csto-joint-staff");
  EXPECT_TRUE(body.mandate().empty());  // the source gives none
}

// Kassym-Jomart Tokayev, "the President of Kazakhstan" (seed 003): a person
// of Kazakhstan. A role's organization can only be a body, a parliament or
// a delegation, and the presidency is none of them, so no role (and no body
// for it) is invented; the post is in his provenance.
TEST_F(MembershipSeedFactsTest,
       HeadOfStateIsAPersonOfHisStateWithoutAnInventedBody) {
  v1::GetPersonRequest get;
  get.set_name("persons/tokayev-kassym-jomart");
  v1::Person person;
  ASSERT_TRUE(api_->GetPerson({}, get, &person).ok());
  EXPECT_EQ(En(person.display_name()), "Kassym-Jomart Tokayev");
  EXPECT_EQ(person.state(), "states/kz");
  ASSERT_EQ(person.provenance_size(), 1);
  const auto& p = person.provenance(0);
  EXPECT_EQ(p.source(), "003_29fe70bcc92e977c.txt");
  EXPECT_EQ(p.source_date().year(), 2022);
  EXPECT_EQ(p.source_date().month(), 1);
  EXPECT_TRUE(absl::StrContains(
      p.quote(), "the President of Kazakhstan, Kassym-Jomart Tokayev"));
  EXPECT_TRUE(absl::StrContains(p.note(), "President of Kazakhstan"));
  EXPECT_TRUE(RolesOf(person.name()).empty());

  v1::ListBodiesRequest bodies;
  bodies.set_page_size(1000);
  v1::ListBodiesResponse listed;
  ASSERT_TRUE(api_->ListBodies({}, bodies, &listed).ok());
  for (const auto& b : listed.bodies()) {
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(En(b.display_name())),
                                   "president"))
        << b.name();
  }
}

// A dated fact's period and the quotes of the provenance that states it.
struct DatedFact {
  std::string what;
  const type::v1::DateRange* period;
  std::vector<std::string> quotes;
};

template <typename T>
DatedFact FactOf(std::string what, const T& fact) {
  DatedFact f{std::move(what), &fact.period(), {}};
  for (const auto& p : fact.provenance()) f.quotes.push_back(p.quote());
  return f;
}

// Whether some quote states the year of `date` (as its digits, not part of a
// longer number).
bool SomeQuoteStatesTheYear(const std::vector<std::string>& quotes,
                            const google::type::Date& date) {
  const std::string year = absl::StrCat(date.year());
  for (const std::string& q : quotes) {
    for (size_t at = q.find(year); at != std::string::npos;
         at = q.find(year, at + 1)) {
      const bool digit_before =
          at > 0 && absl::ascii_isdigit(static_cast<unsigned char>(q[at - 1]));
      const size_t end = at + year.size();
      const bool digit_after =
          end < q.size() &&
          absl::ascii_isdigit(static_cast<unsigned char>(q[end]));
      if (!digit_before && !digit_after) return true;
    }
  }
  return false;
}

// The class of facts: across the whole seed, no status period,
// chairmanship, seat allocation, role or partner has a start (or an end)
// that no quote of its provenance states. Where the sources give no start,
// the period has `known_from` (the date of the source) instead.
TEST(MembershipSeedClassTest, NoPeriodStartsOrEndsOnADateNoQuoteStates) {
  seed::MembershipSeed seed;
  ASSERT_TRUE(
      google::protobuf::TextFormat::ParseFromString(kMembershipSeed, &seed));

  std::vector<DatedFact> facts;
  for (const auto& s : seed.states()) {
    for (const auto& st : s.status_history())
      facts.push_back(
          FactOf(absl::StrCat(s.name(), " status ",
                              v1::MembershipStatus_Name(st.status())),
                 st));
    for (const auto& c : s.chairmanships())
      facts.push_back(
          FactOf(absl::StrCat(s.name(), " chairmanship of ", c.body()), c));
  }
  for (const auto& d : seed.delegations())
    for (const auto& a : d.seat_allocations())
      facts.push_back(FactOf(
          absl::StrCat(d.name(), " ", a.seats(), " seats ", a.chamber_id()),
          a));
  for (const auto& r : seed.roles()) facts.push_back(FactOf(r.name(), r));
  for (const auto& p : seed.partners()) facts.push_back(FactOf(p.name(), p));

  // All five kinds of dated fact are there to check.
  EXPECT_GT(seed.states_size(), 0);
  EXPECT_GT(seed.delegations_size(), 0);
  EXPECT_GT(seed.roles_size(), 0);
  EXPECT_GT(seed.partners_size(), 0);
  EXPECT_GE(facts.size(),
            static_cast<size_t>(seed.roles_size() + seed.partners_size() + 2));
  int without_start = 0;
  for (const DatedFact& f : facts) {
    SCOPED_TRACE(f.what);
    EXPECT_FALSE(f.quotes.empty()) << "no provenance";
    if (f.period->has_start_date()) {
      EXPECT_TRUE(SomeQuoteStatesTheYear(f.quotes, f.period->start_date()))
          << "starts on " << DateText(f.period->start_date())
          << ", which no quote of its provenance states";
    } else {
      ++without_start;
      // An unstated start is bounded by what the sources say instead.
      EXPECT_TRUE(f.period->has_known_from() || f.period->has_start_after())
          << "neither a start nor a date it is known from";
    }
    if (f.period->has_end_date()) {
      EXPECT_TRUE(SomeQuoteStatesTheYear(f.quotes, f.period->end_date()))
          << "ends on " << DateText(f.period->end_date())
          << ", which no quote of its provenance states";
    }
  }
  EXPECT_GT(without_start, 0);
}

// Seed 001 lists "Serbia" under "PARTNERS AND OBSERVERS": the partner is the
// state, not its parliament, which the source never names.
TEST_F(MembershipSeedFactsTest, SerbiaIsAPartnerStateNotAParliament) {
  v1::GetPartnerRequest get;
  get.set_name("partners/serbia");
  v1::Partner serbia;
  ASSERT_TRUE(api_->GetPartner({}, get, &serbia).ok());
  EXPECT_EQ(En(serbia.display_name()), "Serbia");
  EXPECT_EQ(serbia.organization_type(), v1::ORGANIZATION_TYPE_STATE);
  EXPECT_EQ(serbia.region_code(), "RS");
  EXPECT_EQ(serbia.kind(), v1::PARTNER_KIND_UNDETERMINED);
  EXPECT_FALSE(serbia.period().has_start_date());
  ASSERT_FALSE(serbia.provenance().empty());
  EXPECT_EQ(serbia.provenance(0).source(), "001_2f9c2b9cd01aeccb.txt");
  EXPECT_TRUE(absl::StrContains(serbia.provenance(0).quote(), "Serbia"));

  v1::ListPartnersRequest list;
  list.set_page_size(1000);
  list.set_show_deleted(true);
  v1::ListPartnersResponse listed;
  ASSERT_TRUE(api_->ListPartners({}, list, &listed).ok());
  std::set<std::string> names;
  for (const auto& p : listed.partners()) {
    names.insert(p.name());
    for (const auto& n : p.display_name()) {
      EXPECT_FALSE(absl::StrContains(n.text(), "National Assembly of Serbia"))
          << p.name();
    }
    if (p.region_code() == "RS") {
      EXPECT_NE(p.organization_type(),
                v1::ORGANIZATION_TYPE_NATIONAL_PARLIAMENT)
          << p.name();
    }
  }
  EXPECT_EQ(names.count("partners/serbia-national-assembly"), 0u);
  EXPECT_EQ(names.count("partners/serbia"), 1u);

  v1::GetPartnerRequest old_name;
  old_name.set_name("partners/serbia-national-assembly");
  v1::Partner gone;
  EXPECT_EQ(api_->GetPartner({}, old_name, &gone).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cstopa::membership
