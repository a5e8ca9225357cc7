// Every List's documentation of `filter` and `order_by` (the comments on
// List<Resources>Request.filter and .order_by in proto/) against what its
// store accepts (the resource's declaration in services/*/*_resources.cc,
// planned by common::ResourceStore as a List call plans it):
// - each field a comment lists is accepted by that List;
// - each field the store accepts is listed, except `name`, `create_time` and
//   `update_time`, which docs/api.md documents for every List (a comment may
//   list them too).
//
// The comments come from the descriptor set with source info that the build
// writes (build/cstopa.binpb). A List's field list starts at "Fields:" and
// is the backquoted names there, either inline ("Fields: `a`, `b` (what b
// is), `c`.") or one bullet per line ("- `a`, `b`: what they are"); words
// in parentheses, after a bullet's ':' or ';', after the first sentence of
// an inline list, and from "Example:" on are descriptions, not fields.
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "services/common/resources/resource.h"
#include "services/common/store/resource_store.h"
#include "services/events/events_resources.h"
#include "services/legislation/legislation_resources.h"
#include "services/membership/membership_resources.h"
#include "services/monitoring/monitoring_resources.h"

namespace cstopa {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptorSet;
using google::protobuf::MethodDescriptor;
using google::protobuf::SourceLocation;

// The fields every List accepts, documented once in docs/api.md.
const std::set<std::string>& CommonFields() {
  static const auto* kFields =
      new std::set<std::string>{"name", "create_time", "update_time"};
  return *kFields;
}

// One declared resource: its message's full name, name pattern and columns.
struct Declared {
  std::string pattern;
  std::vector<common::ColumnSpec> columns;
};

template <typename T>
void Add(std::map<std::string, Declared>& out,
         const common::ResourceDecl<T>& decl) {
  out[T::descriptor()->full_name()] = {decl.pattern, decl.columns};
}

// Every resource declaration of the four services, by message full name.
const std::map<std::string, Declared>& Declarations() {
  static const auto* kDecls = [] {
    auto* m = new std::map<std::string, Declared>;
    Add(*m, membership::StateDecl());
    Add(*m, membership::ParliamentDecl());
    Add(*m, membership::DelegationDecl());
    Add(*m, membership::PersonDecl());
    Add(*m, membership::RoleDecl());
    Add(*m, membership::BodyDecl());
    Add(*m, membership::PartnerDecl());
    Add(*m, legislation::DocumentDecl());
    Add(*m, legislation::TopicDecl());
    Add(*m, legislation::ActionPlanDecl());
    Add(*m, legislation::ActionPlanItemDecl());
    Add(*m, legislation::TreatyDecl());
    Add(*m, legislation::RatificationDecl());
    Add(*m, legislation::ImplementationDecl());
    Add(*m, legislation::StatedFigureDecl());
    Add(*m, events::EventDecl());
    Add(*m, monitoring::MissionDecl());
    Add(*m, monitoring::OperationDecl());
    Add(*m, monitoring::RegionalOperationDecl());
    Add(*m, monitoring::ComplianceRecordDecl());
    Add(*m, monitoring::FieldVisitDecl());
    Add(*m, monitoring::SourceGapDecl());
    return m;
  }();
  return *kDecls;
}

// `text` without anything between balanced parentheses (outside backquotes).
std::string WithoutParentheses(const std::string& text) {
  std::string out;
  int depth = 0;
  bool quoted = false;
  for (char c : text) {
    if (c == '`') quoted = !quoted;
    if (!quoted && c == '(') {
      ++depth;
      continue;
    }
    if (!quoted && c == ')' && depth > 0) {
      --depth;
      continue;
    }
    if (depth == 0) out.push_back(c);
  }
  return out;
}

// `text` up to the first of `stops` found outside backquotes.
std::string UpTo(const std::string& text, const std::string& stops) {
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '`') quoted = !quoted;
    if (!quoted && stops.find(text[i]) != std::string::npos)
      return text.substr(0, i);
  }
  return text;
}

// `text` up to the end of its first sentence (". " or "." at the end,
// outside backquotes).
std::string FirstSentence(const std::string& text) {
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '`') quoted = !quoted;
    if (!quoted && text[i] == '.' &&
        (i + 1 == text.size() || absl::ascii_isspace(text[i + 1])))
      return text.substr(0, i);
  }
  return text;
}

// The backquoted field names in `text` (backquoted expressions that are not
// a bare field name are skipped).
void CollectNames(const std::string& text, std::set<std::string>& out) {
  std::vector<std::string> parts = absl::StrSplit(text, '`');
  for (size_t i = 1; i < parts.size(); i += 2) {
    const std::string& p = parts[i];
    bool field = !p.empty() && absl::ascii_islower(p[0]);
    for (char c : p)
      field &= absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
    if (field) out.insert(p);
  }
}

// The fields a `filter` or `order_by` comment lists (see the file comment).
// Sets `found` to whether it has a "Fields:" list at all.
std::set<std::string> DocumentedFields(const std::string& comment,
                                       bool* found) {
  std::set<std::string> out;
  size_t at = comment.find("Fields:");
  *found = at != std::string::npos;
  if (!*found) return out;
  std::string list = comment.substr(at + 7);
  size_t example = list.find("Example:");
  if (example != std::string::npos) list.resize(example);
  std::vector<std::string> lines = absl::StrSplit(list, '\n');
  bool bullets = false;
  for (const std::string& l : lines)
    bullets |= absl::StartsWith(absl::StripLeadingAsciiWhitespace(l), "- ");
  if (!bullets) {
    CollectNames(FirstSentence(WithoutParentheses(list)), out);
    return out;
  }
  // One bullet per field group; a bullet's continuation lines are indented
  // deeper and describe it.
  std::string joined;
  for (const std::string& l : lines) {
    absl::string_view s = absl::StripLeadingAsciiWhitespace(l);
    if (absl::ConsumePrefix(&s, "- ")) joined += "\n";
    absl::StrAppend(&joined, " ", s);
  }
  std::vector<std::string> bullets_text = absl::StrSplit(joined, '\n');
  for (const std::string& bullet : bullets_text)
    CollectNames(UpTo(WithoutParentheses(bullet), ":;"), out);
  return out;
}

// A value of the type of `f` that its filter accepts in `f = <value>`.
std::string SampleValue(const common::FilterField& f) {
  switch (f.type) {
    case common::FilterFieldType::kString:
    case common::FilterFieldType::kTextList:
      return "\"x\"";
    case common::FilterFieldType::kInt:
      return "1";
    case common::FilterFieldType::kBool:
      return "true";
    case common::FilterFieldType::kEnum:
      return f.enum_type != nullptr && f.enum_type->value_count() > 1
                 ? f.enum_type->value(1)->name()
                 : "UNKNOWN";
    case common::FilterFieldType::kTimestamp:
      return "2024-01-02T03:04:05Z";
    case common::FilterFieldType::kDate:
      return "2024-01-02";
  }
  return "\"x\"";
}

// The descriptor set with source info, built from it.
class FilterDocsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(CSTOPA_DESCRIPTOR_SET, std::ios::binary);
    ASSERT_TRUE(in) << "cannot read " << CSTOPA_DESCRIPTOR_SET;
    FileDescriptorSet set;
    ASSERT_TRUE(set.ParseFromIstream(&in));
    pool_ = new DescriptorPool;
    for (const auto& file : set.file())
      ASSERT_NE(pool_->BuildFile(file), nullptr) << file.name();
  }

  // Every List method of the suite's services whose request has a `filter`.
  static std::vector<const MethodDescriptor*> Lists() {
    std::vector<const MethodDescriptor*> out;
    for (const char* service : {"cstopa.membership.v1.MembershipService",
                                "cstopa.legislation.v1.LegislationService",
                                "cstopa.events.v1.EventsService",
                                "cstopa.monitoring.v1.MonitoringService"}) {
      const auto* s = pool_->FindServiceByName(service);
      EXPECT_NE(s, nullptr) << service;
      if (s == nullptr) continue;
      for (int i = 0; i < s->method_count(); ++i) {
        const MethodDescriptor* m = s->method(i);
        if (absl::StartsWith(m->name(), "List") &&
            m->input_type()->FindFieldByName("filter") != nullptr)
          out.push_back(m);
      }
    }
    return out;
  }

  // The resource message a List returns: its response's repeated message
  // field of a declared type.
  static const Declared* DeclarationOf(const MethodDescriptor* m,
                                       std::string* type) {
    const Descriptor* response = m->output_type();
    for (int i = 0; i < response->field_count(); ++i) {
      const FieldDescriptor* f = response->field(i);
      if (!f->is_repeated() || f->message_type() == nullptr) continue;
      auto it = Declarations().find(f->message_type()->full_name());
      if (it != Declarations().end()) {
        *type = it->first;
        return &it->second;
      }
    }
    return nullptr;
  }

  static std::string Comment(const FieldDescriptor* f) {
    SourceLocation loc;
    return f->GetSourceLocation(&loc) ? loc.leading_comments : "";
  }

  static DescriptorPool* pool_;
};

DescriptorPool* FilterDocsTest::pool_ = nullptr;

// A List call planned over the declaration's columns (ResourceStore plans
// without touching its database when there is no page token).
struct Planner {
  explicit Planner(const Declared& d)
      : spec{"t", d.columns}, store(nullptr, &spec, nullptr) {
    // Nested collections are listed with a parent ("<collection>/-" for
    // all); top-level ones without.
    std::vector<std::string> segments = absl::StrSplit(d.pattern, '/');
    if (segments.size() > 2) parent = absl::StrCat(segments[0], "/-");
  }
  absl::Status Plan(const std::string& filter, const std::string& order_by) {
    common::ListQuery q;
    q.parent = parent;
    q.filter = filter;
    q.order_by = order_by;
    return store.PlanList(q).status();
  }
  common::ResourceSpec spec;
  common::ResourceStore store;
  std::string parent;
};

TEST_F(FilterDocsTest, EveryListHasADeclaredResource) {
  std::vector<const MethodDescriptor*> lists = Lists();
  EXPECT_GE(lists.size(), 20u);
  for (const MethodDescriptor* m : lists) {
    std::string type;
    EXPECT_NE(DeclarationOf(m, &type), nullptr)
        << m->full_name() << " returns no resource declared in "
        << "services/*/*_resources.cc (add its declaration to this test)";
  }
}

TEST_F(FilterDocsTest, DocumentedFilterFieldsAreAcceptedAndComplete) {
  for (const MethodDescriptor* m : Lists()) {
    std::string type;
    const Declared* decl = DeclarationOf(m, &type);
    if (decl == nullptr) continue;
    Planner planner(*decl);
    bool found;
    std::set<std::string> documented = DocumentedFields(
        Comment(m->input_type()->FindFieldByName("filter")), &found);
    EXPECT_TRUE(found) << m->name() << ": the comment on "
                       << m->input_type()->name()
                       << ".filter has no \"Fields:\" list";
    std::map<std::string, const common::FilterField*> accepted;
    for (const auto& f : planner.store.filter_fields()) accepted[f.name] = &f;
    for (const std::string& field : documented) {
      auto it = accepted.find(field);
      if (it == accepted.end()) {
        ADD_FAILURE() << m->name() << " documents filter field `" << field
                      << "` that its store does not accept (" << type
                      << " declares: "
                      << absl::StrJoin(accepted, ", ",
                                       [](std::string* out, const auto& a) {
                                         out->append(a.first);
                                       })
                      << ")";
        continue;
      }
      std::string filter = absl::StrCat(field, " = ", SampleValue(*it->second));
      absl::Status s = planner.Plan(filter, "");
      EXPECT_TRUE(s.ok()) << m->name() << " refuses documented filter `"
                          << filter << "`: " << s;
    }
    for (const auto& [field, unused] : accepted) {
      if (CommonFields().count(field) != 0) continue;
      EXPECT_TRUE(documented.count(field) != 0)
          << m->name() << " accepts filter field `" << field
          << "` that the comment on " << m->input_type()->name()
          << ".filter does not list";
    }
  }
}

TEST_F(FilterDocsTest, DocumentedOrderFieldsAreAcceptedAndComplete) {
  for (const MethodDescriptor* m : Lists()) {
    std::string type;
    const Declared* decl = DeclarationOf(m, &type);
    const FieldDescriptor* order_by =
        m->input_type()->FindFieldByName("order_by");
    if (decl == nullptr || order_by == nullptr) continue;
    Planner planner(*decl);
    bool found;
    std::set<std::string> documented =
        DocumentedFields(Comment(order_by), &found);
    EXPECT_TRUE(found) << m->name() << ": the comment on "
                       << m->input_type()->name()
                       << ".order_by has no \"Fields:\" list";
    for (const std::string& field : documented) {
      absl::Status s = planner.Plan("", absl::StrCat(field, " desc"));
      EXPECT_TRUE(s.ok()) << m->name() << " documents order_by field `" << field
                          << "` that it refuses: " << s;
    }
    for (const common::ColumnSpec& c : decl->columns) {
      if (!c.orderable) continue;
      EXPECT_TRUE(documented.count(c.name) != 0)
          << m->name() << " orders by `" << c.name << "` but the comment on "
          << m->input_type()->name() << ".order_by does not list it";
    }
  }
}

// The parser itself, on the two shapes the protos use.
TEST(DocumentedFieldsTest, InlineAndBulletLists) {
  bool found;
  EXPECT_EQ(DocumentedFields(" Filter (see the grammar). Fields: `kind`, "
                             "`topics` (`=` one `name`, `:` part),\n "
                             "`adopt_date` (e.g. `adopt_date >= 2020`). "
                             "Default `other`.\n Example: `x = 1`",
                             &found),
            (std::set<std::string>{"kind", "topics", "adopt_date"}));
  EXPECT_TRUE(found);
  EXPECT_EQ(DocumentedFields(" Filter. Fields:\n - `kind` (a name),\n - "
                             "`start_time`, `end_time`: bounds, in its "
                             "`time_zone`.\n - `organizer` (`bodies/x`); "
                             "events of `parent`,\n   more `text`.\n - "
                             "`title` (`:` part).\n Example: `kind = A`",
                             &found),
            (std::set<std::string>{"kind", "start_time", "end_time",
                                   "organizer", "title"}));
  EXPECT_TRUE(DocumentedFields(" No list here.", &found).empty());
  EXPECT_FALSE(found);
}

}  // namespace
}  // namespace cstopa
