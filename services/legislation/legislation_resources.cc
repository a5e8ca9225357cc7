// The legislation service's resources, declared (services/common/resources/
// resource.h): for each, its name pattern, table, the columns List filters
// and orders on, its validation and references; and the reads beyond the
// standard methods: plan progress, document revisions and the summaries'
// reads.
#include "services/legislation/legislation_resources.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/base/dates.h"
#include "services/common/base/errors.h"
#include "services/common/query/paging.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"
#include "services/common/store/columns.h"
#include "services/legislation/embedded_files.h"

namespace cstopa::legislation {
namespace {

// The most names one `IN (?, ...)` list binds (the databases allow some
// tens of thousands of parameters; each list length is its own prepared
// statement).
constexpr size_t kInListChunk = 500;

using common::CheckDate;
using common::CheckEnum;
using common::CheckName;
using common::CheckProvenance;
using common::CheckTexts;
using common::ColumnSpec;
using common::EnumColumn;
using common::FilterFieldType;
using common::IntColumn;
using common::JoinTexts;
using common::Refs;
using common::ResourceDecl;
using common::ResourceSpec;
using common::SqlRow;
using common::SqlValue;
using common::SqlValues;
using common::StringColumn;
using common::Violations;
using cstopa::type::v1::LocalizedText;
using google::protobuf::Message;
using google::protobuf::RepeatedPtrField;
using google::protobuf::util::TimeUtil;

// Document texts may be long (a whole model law); other texts are short.
constexpr size_t kMaxDocumentTextLength = 100000;
constexpr int kMaxDocumentTexts = 20;

// ---------------------------------------------------------------------------
// Columns (tables and their filter columns: migrations/)
// ---------------------------------------------------------------------------

// A list of strings as a kTextList column: "\na\nb\n".
template <typename Strings>
std::string JoinStrings(const Strings& items) {
  std::string out = "\n";
  for (const auto& s : items) absl::StrAppend(&out, s, "\n");
  return out;
}

template <typename T, typename F>
ColumnSpec TextListColumn(const char* name, F get) {
  return {name, FilterFieldType::kTextList, nullptr,
          [get](const Message& m) -> SqlValue {
            return get(static_cast<const T&>(m));
          }};
}

const ResourceSpec kDocuments{
    "documents",
    {EnumColumn<v1::Document>("kind", v1::DocumentKind_descriptor(),
                              [](const v1::Document& d) { return d.kind(); }),
     EnumColumn<v1::Document>("stage", v1::DocumentStage_descriptor(),
                              [](const v1::Document& d) { return d.stage(); }),
     TextListColumn<v1::Document>(
         "topics",
         [](const v1::Document& d) { return JoinStrings(d.topics()); }),
     StringColumn<v1::Document>(
         "commission", [](const v1::Document& d) { return d.commission(); },
         true),
     // NULL while there is no dated adoption, so no comparison matches it.
     {"adopt_date", FilterFieldType::kDate, nullptr,
      [](const Message& m) -> SqlValue {
        const auto& d = static_cast<const v1::Document&>(m);
        if (!d.has_adopt_date() || d.adopt_date().year() == 0)
          return std::monostate{};
        return common::EarliestDay(d.adopt_date(), true);
      },
      false},
     StringColumn<v1::Document>(
         "revision_id", [](const v1::Document& d) { return d.revision_id(); },
         false),
     TextListColumn<v1::Document>(
         "title", [](const v1::Document& d) { return JoinTexts(d.title()); }),
     TextListColumn<v1::Document>(
         "summary_text",
         [](const v1::Document& d) { return JoinTexts(d.summary()); }),
     TextListColumn<v1::Document>("body_text", [](const v1::Document& d) {
       return JoinTexts(d.text());
     })}};

const ResourceSpec kTopics{"topics", {common::DisplayNameColumn<v1::Topic>()}};

const ResourceSpec kActionPlans{
    "action_plans",
    {TextListColumn<v1::ActionPlan>(
         "title", [](const v1::ActionPlan& p) { return JoinTexts(p.title()); }),
     IntColumn<v1::ActionPlan>(
         "start_date", FilterFieldType::kDate,
         [](const v1::ActionPlan& p) {
           return common::EarliestDay(p.period().start_date(),
                                      p.period().has_start_date());
         },
         true),
     IntColumn<v1::ActionPlan>(
         "end_date", FilterFieldType::kDate,
         [](const v1::ActionPlan& p) {
           return common::LatestDay(p.period().end_date(),
                                    p.period().has_end_date());
         },
         true)}};

const ResourceSpec kItems{
    "action_plan_items",
    {EnumColumn<v1::ActionPlanItem>(
         "status", v1::ItemStatus_descriptor(),
         [](const v1::ActionPlanItem& i) { return i.status(); }),
     StringColumn<v1::ActionPlanItem>(
         "document", [](const v1::ActionPlanItem& i) { return i.document(); },
         false),
     StringColumn<v1::ActionPlanItem>(
         "commission",
         [](const v1::ActionPlanItem& i) { return i.commission(); }, false),
     EnumColumn<v1::ActionPlanItem>(
         "kind", v1::DocumentKind_descriptor(),
         [](const v1::ActionPlanItem& i) { return i.kind(); }),
     IntColumn<v1::ActionPlanItem>(
         "details_known", FilterFieldType::kBool,
         [](const v1::ActionPlanItem& i) { return i.details_known() ? 1 : 0; },
         false)}};

const ResourceSpec kTreaties{
    "treaties",
    {TextListColumn<v1::Treaty>(
         "title", [](const v1::Treaty& t) { return JoinTexts(t.title()); }),
     IntColumn<v1::Treaty>(
         "signing_date", FilterFieldType::kDate,
         [](const v1::Treaty& t) {
           return common::EarliestDay(t.signing_date(), t.has_signing_date());
         },
         true),
     TextListColumn<v1::Treaty>("parties", [](const v1::Treaty& t) {
       return JoinStrings(t.parties());
     })}};

const ResourceSpec kRatifications{
    "ratifications",
    {StringColumn<v1::Ratification>(
         "state", [](const v1::Ratification& r) { return r.state(); }, true),
     EnumColumn<v1::Ratification>(
         "status", v1::RatificationStatus_descriptor(),
         [](const v1::Ratification& r) { return r.status(); }),
     IntColumn<v1::Ratification>(
         "status_date", FilterFieldType::kDate,
         [](const v1::Ratification& r) {
           return common::EarliestDay(r.status_date(), r.has_status_date());
         },
         true),
     StringColumn<v1::Ratification>(
         "parliament", [](const v1::Ratification& r) { return r.parliament(); },
         false)}};

const ResourceSpec kImplementations{
    "implementations",
    {StringColumn<v1::Implementation>(
         "document", [](const v1::Implementation& i) { return i.document(); },
         true),
     StringColumn<v1::Implementation>(
         "state", [](const v1::Implementation& i) { return i.state(); }, true),
     EnumColumn<v1::Implementation>(
         "level", v1::ImplementationLevel_descriptor(),
         [](const v1::Implementation& i) { return i.level(); })}};

// A stated figure's period bounds as ListActionPlans has them: an unstated
// start is 0 (before every date), an unstated end 99991231.
const ResourceSpec kStatedFigures{
    "stated_figures",
    {TextListColumn<v1::StatedFigure>(
         "subject",
         [](const v1::StatedFigure& f) { return JoinTexts(f.subject()); }),
     EnumColumn<v1::StatedFigure>(
         "kind", v1::DocumentKind_descriptor(),
         [](const v1::StatedFigure& f) { return f.kind(); }),
     TextListColumn<v1::StatedFigure>(
         "topics",
         [](const v1::StatedFigure& f) { return JoinStrings(f.topics()); }),
     IntColumn<v1::StatedFigure>(
         "value", FilterFieldType::kInt,
         [](const v1::StatedFigure& f) { return f.value(); }, true),
     EnumColumn<v1::StatedFigure>(
         "qualifier", v1::FigureQualifier_descriptor(),
         [](const v1::StatedFigure& f) { return f.qualifier(); }),
     IntColumn<v1::StatedFigure>(
         "start_date", FilterFieldType::kDate,
         [](const v1::StatedFigure& f) {
           return common::EarliestDay(f.period().start_date(),
                                      f.period().has_start_date());
         },
         true),
     IntColumn<v1::StatedFigure>(
         "end_date", FilterFieldType::kDate,
         [](const v1::StatedFigure& f) {
           return common::LatestDay(f.period().end_date(),
                                    f.period().has_end_date());
         },
         true),
     TextListColumn<v1::StatedFigure>("source", [](const v1::StatedFigure& f) {
       std::vector<std::string> sources;
       for (const auto& p : f.provenance())
         if (!p.source().empty()) sources.push_back(p.source());
       return JoinStrings(sources);
     })}};

// ---------------------------------------------------------------------------
// Validation of the writable content; `p` prefixes field paths (e.g.
// "document."). References to documents and topics are checked in the write
// transaction; names of other services' resources only for their shape.
// ---------------------------------------------------------------------------

void CheckNames(Violations& v, const std::string& field,
                const RepeatedPtrField<std::string>& names,
                std::initializer_list<absl::string_view> shape, Refs* refs) {
  common::CheckCount(v, field, names.size());
  std::map<std::string, int> seen;
  for (int i = 0; i < names.size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    CheckName(v, f, names[i], shape, true);
    if (++seen[names[i]] == 2) v.Add(f, absl::StrCat("repeats ", names[i]));
    if (refs != nullptr) refs->push_back({f, names[i]});
  }
}

void CheckDocumentTexts(Violations& v, const std::string& field,
                        const RepeatedPtrField<LocalizedText>& texts) {
  if (texts.size() > kMaxDocumentTexts)
    v.Add(field, absl::StrCat("has ", texts.size(), " entries; at most ",
                              kMaxDocumentTexts));
  for (int i = 0; i < texts.size() && i < kMaxDocumentTexts; ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    if (!common::ValidLanguageCode(texts[i].language_code()))
      v.Add(f + ".language_code",
            absl::StrCat("`", texts[i].language_code(),
                         "` is not a BCP 47 language tag such as en or ru"));
    if (absl::StripAsciiWhitespace(texts[i].text()).empty())
      v.Add(f + ".text", "must not be empty");
    if (texts[i].text().size() > kMaxDocumentTextLength)
      v.Add(f + ".text",
            absl::StrCat("is longer than ", kMaxDocumentTextLength, " bytes"));
  }
}

void CheckOptionalDate(Violations& v, const std::string& field, bool present,
                       const google::type::Date& d) {
  if (present) CheckDate(v, field, d);
}

void Validate(const v1::Document& d, const std::string& p, Violations& v,
              Refs& refs) {
  CheckEnum(v, p + "kind", v1::DocumentKind_descriptor(), d.kind(), true);
  CheckTexts(v, p + "title", d.title(), true);
  CheckTexts(v, p + "summary", d.summary(), false);
  CheckDocumentTexts(v, p + "text", d.text());
  CheckNames(v, p + "topics", d.topics(), {"topics"}, &refs);
  CheckName(v, p + "commission", d.commission(), {"bodies"}, false);
  CheckProvenance(v, p + "provenance", d.provenance());
}

void Validate(const v1::Topic& t, const std::string& p, Violations& v, Refs&) {
  CheckTexts(v, p + "display_name", t.display_name(), true);
  CheckProvenance(v, p + "provenance", t.provenance());
}

void Validate(const v1::ActionPlan& a, const std::string& p, Violations& v,
              Refs&) {
  CheckTexts(v, p + "title", a.title(), true);
  CheckTexts(v, p + "summary", a.summary(), false);
  common::CheckRange(v, p + "period", a.period());
  CheckProvenance(v, p + "provenance", a.provenance());
}

void Validate(const v1::ActionPlanItem& i, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "title", i.title(), false);
  CheckName(v, p + "document", i.document(), {"documents"}, false);
  refs.push_back({p + "document", i.document()});
  CheckEnum(v, p + "status", v1::ItemStatus_descriptor(), i.status(), true);
  CheckEnum(v, p + "kind", v1::DocumentKind_descriptor(), i.kind(), false);
  CheckName(v, p + "commission", i.commission(), {"bodies"}, false);
  CheckProvenance(v, p + "provenance", i.provenance());
}

void Validate(const v1::Treaty& t, const std::string& p, Violations& v, Refs&) {
  CheckTexts(v, p + "title", t.title(), true);
  CheckOptionalDate(v, p + "signing_date", t.has_signing_date(),
                    t.signing_date());
  if (t.has_signing_place()) {
    const auto& place = t.signing_place();
    CheckTexts(v, p + "signing_place.locality", place.locality(), false);
    CheckName(v, p + "signing_place.state", place.state(), {"states"}, false);
    common::CheckRegionCode(v, p + "signing_place.region_code",
                            place.region_code());
  }
  common::CheckCount(v, p + "amendments", t.amendments_size());
  for (int i = 0; i < t.amendments_size(); ++i) {
    std::string f = absl::StrCat(p, "amendments[", i, "]");
    const auto& a = t.amendments(i);
    CheckTexts(v, f + ".summary", a.summary(), true);
    CheckEnum(v, f + ".stage", v1::AmendmentStage_descriptor(), a.stage(),
              false);
    if (a.has_proposed_date()) {
      size_t before = v.size();
      CheckDate(v, f + ".proposed_date", a.proposed_date());
      if (v.size() == before && t.has_signing_date() &&
          t.signing_date().year() != 0 &&
          common::LatestDay(a.proposed_date(), true) <
              common::EarliestDay(t.signing_date(), true))
        v.Add(f + ".proposed_date", "is before the treaty's signing date");
    }
    CheckProvenance(v, f + ".provenance", a.provenance());
  }
  CheckNames(v, p + "parties", t.parties(), {"states"}, nullptr);
  CheckProvenance(v, p + "provenance", t.provenance());
}

void Validate(const v1::Ratification& r, const std::string& p, Violations& v,
              Refs&) {
  CheckEnum(v, p + "status", v1::RatificationStatus_descriptor(), r.status(),
            true);
  CheckOptionalDate(v, p + "status_date", r.has_status_date(), r.status_date());
  CheckName(v, p + "parliament", r.parliament(), {"parliaments"}, false);
  if (!r.chamber_id().empty()) {
    if (!common::ValidId(r.chamber_id()))
      v.Add(p + "chamber_id",
            absl::StrCat("`", r.chamber_id(), "` ", common::kIdRule));
    if (r.parliament().empty())
      v.Add(p + "chamber_id", "needs `parliament` (the chamber's parliament)");
  }
  CheckTexts(v, p + "national_act", r.national_act(), false);
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Implementation& i, const std::string& p, Violations& v,
              Refs& refs) {
  CheckName(v, p + "document", i.document(), {"documents"}, true);
  refs.push_back({p + "document", i.document()});
  CheckName(v, p + "state", i.state(), {"states"}, true);
  CheckEnum(v, p + "level", v1::ImplementationLevel_descriptor(), i.level(),
            true);
  CheckTexts(v, p + "extent", i.extent(), false);
  if (i.national_act().size() > common::kMaxTextLength)
    v.Add(p + "national_act", "is too long");
  CheckOptionalDate(v, p + "national_act_date", i.has_national_act_date(),
                    i.national_act_date());
  CheckProvenance(v, p + "provenance", i.provenance());
}

// A figure is what a source states: it needs the source (at least one
// provenance entry, each naming its source). Values are counts.
void Validate(const v1::StatedFigure& f, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "subject", f.subject(), true);
  CheckEnum(v, p + "kind", v1::DocumentKind_descriptor(), f.kind(), false);
  CheckNames(v, p + "topics", f.topics(), {"topics"}, &refs);
  if (f.value() < 0)
    v.Add(p + "value", absl::StrCat(f.value(),
                                    " is negative; a stated figure "
                                    "is a count, 0 or more"));
  CheckEnum(v, p + "qualifier", v1::FigureQualifier_descriptor(), f.qualifier(),
            true);
  common::CheckRange(v, p + "period", f.period());
  common::CheckSourcedProvenance(v, p + "provenance", f.provenance(),
                                 "the source that states the figure");
}

// The state a ratification is of: the last ID of its name.
void ComputeRatification(v1::Ratification* r) {
  std::vector<absl::string_view> parts = absl::StrSplit(r->name(), '/');
  r->set_state(parts.size() == 4 ? absl::StrCat("states/", parts[3]) : "");
}

// What Search finds of a record titled `title`: its titles in every
// language, the English one (else the first) as its title.
common::SearchEntry TitleEntry(const RepeatedPtrField<LocalizedText>& title,
                               int64_t date = 0) {
  common::SearchEntry e;
  e.title = common::PreferredText(title);
  common::AppendTexts(title, &e.text);
  e.date = date;
  return e;
}

// A declaration from its pattern, table and columns, validated by Validate.
template <typename T>
ResourceDecl<T> Declare(const char* pattern, const ResourceSpec& spec) {
  ResourceDecl<T> d;
  d.pattern = pattern;
  d.table = spec.table;
  d.columns = spec.columns;
  d.validate = [](const T& r, const std::string& prefix, Violations& v,
                  Refs& refs) { Validate(r, prefix, v, refs); };
  return d;
}

}  // namespace

const common::SchemaSpec& LegislationSchema() {
  static const common::SchemaSpec* schema =
      new common::SchemaSpec{"legislation", EmbeddedMigrations()};
  return *schema;
}

v1::PlanProgress ComputeProgress(const std::vector<ItemCount>& counts) {
  v1::PlanProgress p;
  std::map<std::string, std::pair<int64_t, int64_t>> by_commission;
  int64_t done = 0, total = 0;
  for (const ItemCount& c : counts) {
    total += c.count;
    bool is_done = c.status == v1::ITEM_STATUS_DONE;
    if (is_done) done += c.count;
    const auto* value =
        v1::ItemStatus_descriptor()->FindValueByNumber(c.status);
    std::string status =
        value != nullptr ? value->name() : absl::StrCat(c.status);
    (*p.mutable_by_status())[status] += static_cast<int32_t>(c.count);
    auto& entry = by_commission[c.commission];
    entry.second += c.count;
    if (is_done) entry.first += c.count;
  }
  p.set_done(static_cast<int32_t>(done));
  p.set_total(static_cast<int32_t>(total));
  p.set_percent_done(total == 0 ? 0 : static_cast<int32_t>(done * 100 / total));
  for (const auto& [commission, dt] : by_commission) {
    auto* c = p.add_by_commission();
    c->set_commission(commission);
    c->set_done(static_cast<int32_t>(dt.first));
    c->set_total(static_cast<int32_t>(dt.second));
  }
  return p;
}

std::vector<ColumnSpec> DocumentColumns() { return kDocuments.columns; }

// Lists return the BASIC view by default: every field but the texts.
ResourceDecl<v1::Document> DocumentDecl() {
  ResourceDecl<v1::Document> d =
      Declare<v1::Document>("documents/{document}", kDocuments);
  d.basic_view_omits = {v1::Document::kTextFieldNumber};
  d.search = [](const v1::Document& doc) -> std::optional<common::SearchEntry> {
    common::SearchEntry e =
        TitleEntry(doc.title(),
                   common::SearchDate(doc.adopt_date(), doc.has_adopt_date()));
    common::AppendTexts(doc.summary(), &e.text);
    common::AppendTexts(doc.text(), &e.text);
    return e;
  };
  return d;
}

ResourceDecl<v1::Topic> TopicDecl() {
  auto d = Declare<v1::Topic>("topics/{topic}", kTopics);
  d.search = [](const v1::Topic& t) -> std::optional<common::SearchEntry> {
    return TitleEntry(t.display_name());
  };
  return d;
}

ResourceDecl<v1::ActionPlan> ActionPlanDecl() {
  auto d = Declare<v1::ActionPlan>("actionPlans/{action_plan}", kActionPlans);
  d.search = [](const v1::ActionPlan& p) -> std::optional<common::SearchEntry> {
    common::SearchEntry e =
        TitleEntry(p.title(), common::SearchDate(p.period()));
    common::AppendTexts(p.summary(), &e.text);
    return e;
  };
  return d;
}

ResourceDecl<v1::ActionPlanItem> ActionPlanItemDecl() {
  auto d = Declare<v1::ActionPlanItem>("actionPlans/{action_plan}/items/{item}",
                                       kItems);
  // An item known only as one of a count has no words to be found by.
  d.search =
      [](const v1::ActionPlanItem& i) -> std::optional<common::SearchEntry> {
    if (i.title().empty()) return std::nullopt;
    return TitleEntry(i.title());
  };
  return d;
}

ResourceDecl<v1::Treaty> TreatyDecl() {
  auto d = Declare<v1::Treaty>("treaties/{treaty}", kTreaties);
  d.search = [](const v1::Treaty& t) -> std::optional<common::SearchEntry> {
    common::SearchEntry e = TitleEntry(
        t.title(), common::SearchDate(t.signing_date(), t.has_signing_date()));
    common::AppendTexts(t.signing_place().locality(), &e.text);
    for (const v1::ProposedAmendment& a : t.amendments())
      common::AppendTexts(a.summary(), &e.text);
    return e;
  };
  return d;
}

ResourceDecl<v1::Ratification> RatificationDecl() {
  auto d = Declare<v1::Ratification>(
      "treaties/{treaty}/ratifications/{ratification}", kRatifications);
  d.compute = [](v1::Ratification* r, int64_t) { ComputeRatification(r); };
  d.compute_uses_day = false;  // from the record alone: the etag stays strong
  return d;
}

ResourceDecl<v1::Implementation> ImplementationDecl() {
  return Declare<v1::Implementation>("implementations/{implementation}",
                                     kImplementations);
}

// Found by its subject (every language), dated by the start of its period.
ResourceDecl<v1::StatedFigure> StatedFigureDecl() {
  auto d = Declare<v1::StatedFigure>("statedFigures/{stated_figure}",
                                     kStatedFigures);
  d.search =
      [](const v1::StatedFigure& f) -> std::optional<common::SearchEntry> {
    return TitleEntry(f.subject(), common::SearchDate(f.period()));
  };
  return d;
}

const std::vector<std::string>& WatchedCollections() {
  static const std::vector<std::string>* const collections =
      new std::vector<std::string>{
          "documents",     "revisions",       "topics",
          "actionPlans",   "items",           "treaties",
          "ratifications", "implementations", "statedFigures"};
  return *collections;
}

common::ChangeFeedOptions LegislationFeedOptions() {
  common::ChangeFeedOptions o;
  o.table = "legislation_changes";
  o.lock_key = 0x63737470'6c656773LL;  // "cstplegs"
  o.token_scope = "cstopa.legislation.v1.LegislationService/WatchLegislation";
  return o;
}

LegislationResources::LegislationResources(common::Database* db,
                                           const common::PageTokenCodec* tokens,
                                           const common::ApiKeyStore* keys,
                                           SearchCacheOptions cache,
                                           common::ChangeFeedOptions feed)
    : set_(db, tokens, keys),
      feed_(db, tokens, std::move(feed)),
      documents_(&set_, DocumentDecl()),
      topics_(&set_, TopicDecl()),
      action_plans_(&set_, ActionPlanDecl()),
      items_(&set_, ActionPlanItemDecl()),
      treaties_(&set_, TreatyDecl()),
      ratifications_(&set_, RatificationDecl()),
      implementations_(&set_, ImplementationDecl()),
      stated_figures_(&set_, StatedFigureDecl()),
      search_(db, tokens, kDocuments.columns, cache) {
  // Every write (in this process, whatever its path) logs its change, and
  // a document write the revision it made, in its own transaction; the feed
  // is woken after commit. A document write also drops the cached search
  // rankings.
  set_.set_write_hook([this, log = common::FeedWriteHook(&feed_)](
                          common::SqlTransaction& tx, common::WriteKind kind,
                          const Message& m) -> absl::Status {
    const bool document = m.GetDescriptor() == v1::Document::descriptor();
    if (document) search_.Invalidate();
    if (absl::Status s = log(tx, kind, m); !s.ok()) return s;
    return document ? LogRevision(tx, static_cast<const v1::Document&>(m))
                    : absl::OkStatus();
  });
  set_.set_after_commit([this] { feed_.Notify(); });
}

absl::Status LegislationResources::LogRevision(common::SqlTransaction& tx,
                                               const v1::Document& document) {
  // The revisions trigger (migrations/) copies the document's stored bytes
  // into the revision it makes, and makes one only when the revision ID is
  // new: a revision holding exactly this write's bytes (which carry a fresh
  // etag and update time) was made by this write.
  bool made = false;
  int64_t create_time = 0;
  absl::Status s = tx.QueryEach(
      "SELECT create_time FROM document_revisions WHERE document = ? AND "
      "revision_id = ? AND data = ?",
      {document.name(), document.revision_id(), document.SerializeAsString()},
      [&](const SqlRow& row) {
        made = true;
        create_time = row.Int(0);
        return absl::OkStatus();
      });
  if (!s.ok() || !made) return s;
  // As GetDocumentRevision answers it.
  v1::DocumentRevision revision;
  revision.set_name(
      absl::StrCat(document.name(), "/revisions/", document.revision_id()));
  *revision.mutable_text() = document.text();
  *revision.mutable_title() = document.title();
  revision.set_stage(document.stage());
  *revision.mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(create_time);
  return feed_.Append(tx, common::ChangeKind::kCreated, revision.name(),
                      revision.SerializeAsString(), create_time);
}

absl::Status LegislationResources::FillProgress(
    common::SqlTransaction& tx,
    const std::vector<v1::ActionPlan*>& plans) const {
  if (plans.empty()) return absl::OkStatus();
  std::map<std::string, std::vector<ItemCount>> counts;
  // At most kInListChunk plans per statement (every plan, for a summary,
  // would exceed the databases' parameter limits one day).
  for (size_t from = 0; from < plans.size(); from += kInListChunk) {
    const size_t to = std::min(plans.size(), from + kInListChunk);
    std::string marks;
    SqlValues params;
    for (size_t i = from; i < to; ++i) {
      absl::StrAppend(&marks, marks.empty() ? "?" : ", ?");
      params.push_back(plans[i]->name());
    }
    absl::Status s = tx.QueryEach(
        absl::StrCat("SELECT parent, status, commission, COUNT(*) FROM "
                     "action_plan_items WHERE parent IN (",
                     marks,
                     ") AND delete_time IS NULL GROUP BY parent, status, "
                     "commission ORDER BY parent, status, commission"),
        params, [&](const SqlRow& row) -> absl::Status {
          counts[std::string(row.Bytes(0))].push_back(
              {static_cast<int>(row.Int(1)), std::string(row.Bytes(2)),
               row.Int(3)});
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
  }
  for (v1::ActionPlan* p : plans)
    *p->mutable_progress() = ComputeProgress(counts[p->name()]);
  return absl::OkStatus();
}

namespace {

// Each row's stored message (its columns: data, name) into a new element of
// `out`, in the rows' order.
template <typename T>
absl::Status ReadStored(common::SqlTransaction& tx, absl::string_view sql,
                        const SqlValues& params, RepeatedPtrField<T>* out) {
  return tx.QueryEach(sql, params, [out](const SqlRow& row) -> absl::Status {
    absl::string_view data = row.Bytes(0);
    if (!out->Add()->ParseFromArray(data.data(), static_cast<int>(data.size())))
      return absl::DataLossError(
          absl::StrCat("stored ", row.Bytes(1), " is corrupt"));
    return absl::OkStatus();
  });
}

}  // namespace

absl::Status LegislationResources::CountAdoptions(
    common::SqlTransaction& tx,
    RepeatedPtrField<v1::AdoptionCount>* out) const {
  // adopt_date is YYYYMMDD (NULL without a dated adoption); integer
  // division and COALESCE mean the same on SQLite and PostgreSQL.
  constexpr absl::string_view kYear = "COALESCE(adopt_date / 10000, 0)";
  return tx.QueryEach(
      absl::StrCat("SELECT ", kYear,
                   ", kind, COUNT(*) FROM documents WHERE delete_time IS NULL "
                   "AND (adopt_date IS NOT NULL OR stage IN (?, ?, ?)) "
                   "GROUP BY ",
                   kYear, ", kind ORDER BY ", kYear, ", kind"),
      {int64_t{v1::DOCUMENT_STAGE_ADOPTED}, int64_t{v1::DOCUMENT_STAGE_AMENDED},
       int64_t{v1::DOCUMENT_STAGE_REPEALED}},
      [out](const SqlRow& row) -> absl::Status {
        v1::AdoptionCount* c = out->Add();
        c->set_year(static_cast<int32_t>(row.Int(0)));
        c->set_kind(static_cast<v1::DocumentKind>(row.Int(1)));
        c->set_document_count(static_cast<int32_t>(row.Int(2)));
        return absl::OkStatus();
      });
}

absl::Status LegislationResources::ReadActionPlans(
    common::SqlTransaction& tx, RepeatedPtrField<v1::ActionPlan>* out) const {
  if (auto s = ReadStored(tx,
                          "SELECT data, name FROM action_plans WHERE "
                          "delete_time IS NULL ORDER BY name",
                          {}, out);
      !s.ok())
    return s;
  std::vector<v1::ActionPlan*> plans;
  plans.reserve(out->size());
  for (v1::ActionPlan& p : *out) plans.push_back(&p);
  return FillProgress(tx, plans);
}

absl::Status LegislationResources::ReadStatedFigures(
    common::SqlTransaction& tx, RepeatedPtrField<v1::StatedFigure>* out) const {
  return ReadStored(tx,
                    "SELECT data, name FROM stated_figures WHERE delete_time "
                    "IS NULL ORDER BY name",
                    {}, out);
}

absl::Status LegislationResources::ReadTreaties(
    common::SqlTransaction& tx, const std::string& party,
    RepeatedPtrField<v1::Treaty>* out) const {
  if (party.empty()) {
    return ReadStored(tx,
                      "SELECT data, name FROM treaties WHERE delete_time IS "
                      "NULL ORDER BY name",
                      {}, out);
  }
  // `parties` is "\na\nb\n": replace() changes it iff one element is
  // `party` (as the filter `parties = ...` compiles; case-sensitive on both
  // databases, unlike LIKE).
  return ReadStored(tx,
                    "SELECT data, name FROM treaties WHERE delete_time IS NULL "
                    "AND replace(parties, ?, '') <> parties ORDER BY name",
                    {absl::StrCat("\n", party, "\n")}, out);
}

absl::Status LegislationResources::ReadRatifications(
    common::SqlTransaction& tx, const std::vector<std::string>* names,
    RepeatedPtrField<v1::Ratification>* out) const {
  absl::Status s;
  if (names == nullptr) {
    s = ReadStored(tx,
                   "SELECT data, name FROM ratifications WHERE delete_time IS "
                   "NULL ORDER BY name",
                   {}, out);
  } else {
    if (names->empty()) return absl::OkStatus();
    // Sorted, then at most kInListChunk per statement: the pages come out
    // in name order as one statement would give them.
    std::vector<std::string> sorted = *names;
    std::sort(sorted.begin(), sorted.end());
    for (size_t from = 0; s.ok() && from < sorted.size();
         from += kInListChunk) {
      const size_t to = std::min(sorted.size(), from + kInListChunk);
      std::string marks;
      SqlValues params;
      for (size_t i = from; i < to; ++i) {
        absl::StrAppend(&marks, marks.empty() ? "?" : ", ?");
        params.push_back(sorted[i]);
      }
      s = ReadStored(tx,
                     absl::StrCat("SELECT data, name FROM ratifications WHERE "
                                  "delete_time IS NULL AND name IN (",
                                  marks, ") ORDER BY name"),
                     params, out);
    }
  }
  if (!s.ok()) return s;
  for (v1::Ratification& r : *out) ratifications_.Compute(&r, 0);
  return absl::OkStatus();
}

absl::Status LegislationResources::ReadImplementations(
    common::SqlTransaction& tx, const std::string& state,
    RepeatedPtrField<v1::ImplementedDocument>* out) const {
  return tx.QueryEach(
      "SELECT i.data, i.name, d.data FROM implementations i "
      "LEFT JOIN documents d ON d.name = i.document AND d.delete_time IS NULL "
      "WHERE i.delete_time IS NULL AND i.state = ? ORDER BY i.name",
      {state}, [out](const SqlRow& row) -> absl::Status {
        v1::ImplementedDocument* item = out->Add();
        absl::string_view data = row.Bytes(0);
        if (!item->mutable_implementation()->ParseFromArray(
                data.data(), static_cast<int>(data.size())))
          return absl::DataLossError(
              absl::StrCat("stored ", row.Bytes(1), " is corrupt"));
        if (row.IsNull(2)) return absl::OkStatus();
        v1::Document document;
        data = row.Bytes(2);
        if (!document.ParseFromArray(data.data(),
                                     static_cast<int>(data.size())))
          return absl::DataLossError(absl::StrCat(
              "stored ", item->implementation().document(), " is corrupt"));
        *item->mutable_document_title() = std::move(*document.mutable_title());
        item->set_document_kind(document.kind());
        return absl::OkStatus();
      });
}

namespace {

// A revision row's snapshot (the stored document as it was) and creation
// time into `out`; the error names `document`'s revision `id`.
absl::Status FillRevision(absl::string_view data, int64_t create_micros,
                          absl::string_view document, absl::string_view id,
                          v1::DocumentRevision* out) {
  v1::Document snapshot;
  if (!snapshot.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return absl::DataLossError(
        absl::StrCat("stored revision ", id, " of ", document, " is corrupt"));
  }
  *out->mutable_text() = std::move(*snapshot.mutable_text());
  *out->mutable_title() = std::move(*snapshot.mutable_title());
  out->set_stage(snapshot.stage());
  *out->mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(create_micros);
  return absl::OkStatus();
}

}  // namespace

void LegislationResources::GetRevision(std::string document,
                                       std::string revision_id,
                                       absl::Time deadline,
                                       v1::DocumentRevision* out,
                                       common::StatusCallback done) const {
  struct Read {
    std::string document, revision_id;
    v1::DocumentRevision* out;
    bool found = false;
    common::StatusCallback done;
  };
  auto read =
      std::make_unique<Read>(Read{std::move(document), std::move(revision_id),
                                  out, false, std::move(done)});
  Read* r = read.get();
  SqlValues params = {r->document, r->revision_id};
  set_.db()->QueryOnceAsync(
      "SELECT r.data, r.create_time FROM document_revisions r "
      "JOIN documents d ON d.name = r.document "
      "WHERE r.document = ? AND r.revision_id = ? AND d.delete_time IS NULL",
      std::move(params), deadline,
      [r](const SqlRow& row) -> absl::Status {
        r->found = true;
        return FillRevision(row.Bytes(0), row.Int(1), r->document,
                            r->revision_id, r->out);
      },
      [read = std::move(read)](absl::Status s) {
        if (s.ok() && !read->found)
          s = common::NotFound(
              absl::StrCat(read->document, "/revisions/", read->revision_id));
        read->done(std::move(s));
      });
}

void LegislationResources::ListRevisions(std::string document,
                                         int32_t page_size,
                                         const std::string& page_token,
                                         absl::Time deadline,
                                         v1::ListDocumentRevisionsResponse* out,
                                         common::StatusCallback done) const {
  auto size = common::NormalizePageSize(page_size);
  if (!size.ok()) return done(size.status());
  // Newest first: (create_time, revision_id) descending, a total order the
  // page token resumes after.
  std::string fingerprint = absl::StrCat("revisions\n", document);
  std::string after;
  SqlValues params;
  if (!page_token.empty()) {
    auto cursor = set_.tokens()->Decode(page_token, fingerprint);
    if (!cursor.ok()) return done(cursor.status());
    if (cursor->last_values.size() != 2 ||
        !std::holds_alternative<int64_t>(cursor->last_values[0]) ||
        !std::holds_alternative<std::string>(cursor->last_values[1])) {
      return done(common::InvalidArgument(
          "INVALID_PAGE_TOKEN", {{"page_token", "does not match this query"}}));
    }
    after =
        " AND (r.create_time < ? OR (r.create_time = ? AND "
        "r.revision_id < ?))";
    params = {cursor->last_values[0], cursor->last_values[0],
              cursor->last_values[1]};
  }
  params.push_back(document);
  struct Read {
    std::string document, fingerprint;
    int32_t page_size = 0;
    v1::ListDocumentRevisionsResponse* out = nullptr;
    bool document_found = false;
    bool more = false;
    common::PageCursor last;
    common::StatusCallback done;
  };
  auto read = std::make_unique<Read>();
  read->document = std::move(document);
  read->fingerprint = std::move(fingerprint);
  read->page_size = *size;
  read->out = out;
  read->done = std::move(done);
  Read* r = read.get();
  // The document's row comes with no revision when the page is past its
  // last one: a missing document gives no row at all.
  set_.db()->QueryOnceAsync(
      absl::StrCat(
          "SELECT r.revision_id, r.data, r.create_time FROM documents d "
          "LEFT JOIN document_revisions r ON r.document = d.name",
          after, " WHERE d.name = ? AND d.delete_time IS NULL ",
          "ORDER BY r.create_time DESC, r.revision_id DESC LIMIT ", *size + 1),
      std::move(params), deadline,
      [r](const SqlRow& row) -> absl::Status {
        r->document_found = true;
        if (row.IsNull(0)) return absl::OkStatus();
        if (r->out->revisions_size() == r->page_size) {
          r->more = true;
          return absl::OkStatus();
        }
        std::string id(row.Bytes(0));
        v1::DocumentRevision* rev = r->out->add_revisions();
        rev->set_name(absl::StrCat(r->document, "/revisions/", id));
        // The page's last row is where the next page resumes.
        if (r->out->revisions_size() == r->page_size)
          r->last.last_values = {row.Int(2), id};
        return FillRevision(row.Bytes(1), row.Int(2), r->document, id, rev);
      },
      [this, read = std::move(read)](absl::Status s) {
        if (s.ok() && !read->document_found)
          s = common::NotFound(read->document);
        if (s.ok() && read->more) {
          read->out->set_next_page_token(
              set_.tokens()->Encode(read->last, read->fingerprint));
        }
        read->done(std::move(s));
      });
}

}  // namespace cstopa::legislation
