#include "gateway/view_bytes.h"

#include <string>
#include <vector>

#include "cstopa/events/v1/events.pb.h"
#include "cstopa/gateway/v1/gateway.pb.h"
#include "cstopa/membership/v1/membership.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace cstopa::gateway {
namespace {

namespace gw = ::cstopa::gateway::v1;
namespace mem = ::cstopa::membership::v1;
namespace ev = ::cstopa::events::v1;
using google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

void AddText(google::protobuf::RepeatedPtrField<type::v1::LocalizedText>* out,
             const std::string& language, const std::string& text) {
  type::v1::LocalizedText* t = out->Add();
  t->set_language_code(language);
  t->set_text(text);
}

mem::StateSummary Summary() {
  mem::StateSummary s;
  s.mutable_state()->set_name("states/kz");
  AddText(s.mutable_state()->mutable_display_name(), "en", "Kazakhstan");
  AddText(s.mutable_state()->mutable_display_name(), "ru", "Казахстан");
  s.add_parliaments()->set_name("parliaments/kz");
  for (const char* person : {"persons/a-b", "persons/c-d"}) {
    mem::NamedRole* r = s.add_roles();
    r->mutable_role()->set_name("roles/1");
    r->mutable_role()->set_person(person);
    r->mutable_role()->set_organization("bodies/council");
    AddText(r->mutable_person_display_name(), "en", "A Person");
  }
  s.add_not_known_roles()->mutable_role()->set_person("persons/e-f");
  s.mutable_as_of_date()->set_year(2024);  // not copied
  return s;
}

const Splice& SummarySplice() {
  static const Splice* const splice = new Splice(
      mem::StateSummary::descriptor(), gw::StateProfile::descriptor(),
      {{"state", "state"},
       {"parliaments", "parliaments"},
       {"roles", "posts"},
       {"not_known_roles", "posts_not_known"}});
  return *splice;
}

TEST(SpliceTest, CopiesTheMappedFieldsUnderTheViewsNumbers) {
  mem::StateSummary summary = Summary();
  std::string view;
  gw::StateProfile own;
  own.set_name("states/kz/profile");
  own.AppendToString(&view);
  std::vector<absl::string_view> names;
  const std::string answer = summary.SerializeAsString();
  ASSERT_TRUE(SummarySplice().AppendTo(answer, &view, &names));

  gw::StateProfile got;
  ASSERT_TRUE(got.ParseFromString(view));
  gw::StateProfile want = own;
  *want.mutable_state() = summary.state();
  *want.mutable_parliaments() = summary.parliaments();
  *want.mutable_posts() = summary.roles();
  *want.mutable_posts_not_known() = summary.not_known_roles();
  EXPECT_TRUE(MessageDifferencer::Equals(got, want)) << got.DebugString();
  // Nothing of what was not mapped comes along, not even as unknown fields.
  EXPECT_TRUE(got.GetReflection()->GetUnknownFields(got).empty());
  EXPECT_FALSE(got.has_as_of_date());

  // Every string shaped like a membership name, at any depth, in order;
  // texts and other names (roles/1) are not.
  EXPECT_THAT(names, ElementsAre("states/kz", "parliaments/kz", "persons/a-b",
                                 "bodies/council", "persons/c-d",
                                 "bodies/council", "persons/e-f"));
}

TEST(SpliceTest, ARepeatedFieldMayComeFromSeveralAnswers) {
  const Splice splice(ev::ListEventsResponse::descriptor(),
                      gw::StateProfile::descriptor(),
                      {{"events", "recent_events"}});
  ev::ListEventsResponse a, b;
  a.add_events()->set_name("events/1");
  a.set_next_page_token("token");  // not mapped
  b.add_events()->set_name("events/2");
  std::string view;
  std::vector<absl::string_view> names;
  const std::string a_bytes = a.SerializeAsString();
  const std::string b_bytes = b.SerializeAsString();
  ASSERT_TRUE(splice.AppendTo(a_bytes, &view, &names));
  ASSERT_TRUE(splice.AppendTo(b_bytes, &view, &names));
  gw::StateProfile got;
  ASSERT_TRUE(got.ParseFromString(view));
  ASSERT_EQ(got.recent_events_size(), 2);
  EXPECT_EQ(got.recent_events(0).name(), "events/1");
  EXPECT_EQ(got.recent_events(1).name(), "events/2");
  EXPECT_THAT(names, IsEmpty());
}

// A bad answer fails as a parse would, appends nothing and adds no name:
// the view stays decodable with that section left out.
TEST(SpliceTest, AnAnswerThatIsNotWellFormedAddsNothing) {
  const std::string good = Summary().SerializeAsString();
  mem::StateSummary bad_text = Summary();
  AddText(bad_text.mutable_roles(1)->mutable_person_display_name(), "en",
          std::string("\xff\xfe", 2));
  // The state's length made past the end.
  const std::string bad_length =
      good.substr(0, 1) + std::string("\xff\xff\x03", 3) + good.substr(2);
  const std::vector<std::string> bad = {
      good.substr(0, good.size() - 3),  // cut short
      bad_text.SerializeAsString(),     // a nested string not UTF-8
      bad_length,
      std::string("\x08\xff\xff", 3),  // a varint that never ends
      std::string("\x00\x01", 2),      // field number 0
      std::string("\x0c", 1),          // an end-group tag alone
  };
  for (const std::string& answer : bad) {
    std::string view = "kept";
    std::vector<absl::string_view> names = {"states/ru"};
    EXPECT_FALSE(SummarySplice().AppendTo(answer, &view, &names))
        << testing::PrintToString(answer);
    EXPECT_EQ(view, "kept");
    EXPECT_THAT(names, ElementsAre("states/ru"));
    // As the protobuf parser judges it.
    mem::StateSummary parsed;
    EXPECT_FALSE(parsed.ParseFromString(answer));
  }
}

// Fields the gateway does not know (a newer backend) are no error: at the
// top they are left out, inside a copied message they come along.
TEST(SpliceTest, UnknownFieldsAreNoError) {
  std::string answer = Summary().SerializeAsString();
  // Field 900, a string, at the top; a nested unknown inside `state`.
  mem::State state = Summary().state();
  std::string state_bytes = state.SerializeAsString();
  state_bytes.append("\xa0\x38\x05", 3);  // field 900 (varint 5)
  answer.append("\xa2\x38\x02hi", 5);     // field 900, length 2
  std::string view;
  std::vector<absl::string_view> names;
  ASSERT_TRUE(SummarySplice().AppendTo(answer, &view, &names));
  gw::StateProfile got;
  ASSERT_TRUE(got.ParseFromString(view));
  EXPECT_TRUE(got.GetReflection()->GetUnknownFields(got).empty());

  std::string nested;
  AppendLengthDelimited(1, state_bytes, &nested);  // StateSummary.state
  view.clear();
  ASSERT_TRUE(SummarySplice().AppendTo(nested, &view, &names));
  ASSERT_TRUE(got.ParseFromString(view));
  EXPECT_EQ(got.state().name(), "states/kz");
  EXPECT_FALSE(
      got.state().GetReflection()->GetUnknownFields(got.state()).empty());
}

TEST(SpliceTest, FieldsOfDifferentTypesCannotBeSpliced) {
  EXPECT_DEATH(
      Splice(mem::StateSummary::descriptor(), gw::StateProfile::descriptor(),
             {{"state", "parliaments"}}),
      "cannot be copied");
  EXPECT_DEATH(Splice(mem::StateSummary::descriptor(),
                      gw::StateProfile::descriptor(), {{"state", "nothing"}}),
               "no such field");
}

// A repeated scalar's packed run is checked as a parser reads it.
TEST(SpliceTest, PackedRunsAreChecked) {
  using google::protobuf::SourceCodeInfo;
  const Splice splice(SourceCodeInfo::Location::descriptor(),
                      SourceCodeInfo::Location::descriptor(),
                      {{"path", "span"}});
  SourceCodeInfo::Location good;
  for (int v : {1, 300, 70000}) good.add_path(v);
  std::string view;
  std::vector<absl::string_view> names;
  ASSERT_TRUE(splice.AppendTo(good.SerializeAsString(), &view, &names));
  SourceCodeInfo::Location got;
  ASSERT_TRUE(got.ParseFromString(view));
  EXPECT_THAT(got.span(), ElementsAre(1, 300, 70000));
  // path (1), packed, one byte: a varint that never ends.
  const std::string bad("\x0a\x01\x80", 3);
  view.clear();
  EXPECT_FALSE(splice.AppendTo(bad, &view, &names));
  EXPECT_TRUE(view.empty());
  EXPECT_FALSE(got.ParseFromString(bad));
}

TEST(CheckMessageTest, WalksEveryNestedMessage) {
  WireTypes types;
  const WireType* type = types.For(mem::StateSummary::descriptor());
  std::vector<absl::string_view> names;
  const std::string good = Summary().SerializeAsString();
  EXPECT_TRUE(CheckMessage(good, *type, &names));
  EXPECT_EQ(names.size(), 7u);
  mem::StateSummary bad = Summary();
  bad.mutable_roles(0)->mutable_role()->set_organization(
      std::string("bodies/\xc3", 8));
  names.clear();
  EXPECT_FALSE(CheckMessage(bad.SerializeAsString(), *type, &names));
}

TEST(IsMembershipNameTest, KnowsTheMembershipCollections) {
  for (const char* name :
       {"states/kz", "bodies/council", "parliaments/kz-parliament",
        "parliaments/kz/delegations/d", "persons/viktor-rogalev",
        "partners/un"})
    EXPECT_TRUE(IsMembershipName(name)) << name;
  for (const char* name : {"states/", "events/1", "documents/x", "Kazakhstan",
                           "missions/kz-2024", "s", ""})
    EXPECT_FALSE(IsMembershipName(name)) << name;
}

}  // namespace
}  // namespace cstopa::gateway
