#include "services/legislation/legislation_service.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/rpc/error_details.pb.h"
#include "legislation/seed/legislation_seed.pb.h"
#include "services/common/base/dates.h"
#include "services/common/base/errors.h"
#include "services/common/server/grpc_glue.h"
#include "services/common/query/validation.h"
#include "services/legislation/search_query.h"

namespace cstopa::legislation {
namespace {

using common::Caller;
using common::CheckDate;
using common::CheckEnum;
using common::CheckName;
using common::CheckProvenance;
using common::CheckTexts;
using common::Refs;
using common::Violations;
using cstopa::type::v1::LocalizedText;
using google::protobuf::RepeatedPtrField;

// Document texts may be long (a whole model law); other texts are short.
constexpr size_t kMaxDocumentTextLength = 100000;
constexpr int kMaxDocumentTexts = 20;
// Ratification progress reads at most this many records per treaty.
constexpr int kMaxRatificationsPerTreaty = 1000;

// ---------------------------------------------------------------------------
// Validation
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

constexpr auto kValidate = [](const auto& resource, const std::string& prefix,
                              Violations& v, Refs& refs) {
  Validate(resource, prefix, v, refs);
};

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

bool Allowed(v1::DocumentStage from, v1::DocumentStage to) {
  for (v1::DocumentStage s : AllowedNextStages(from))
    if (s == to) return true;
  return false;
}

// The date of the last dated transition (its earliest day), or 0.
int64_t LastTransitionDay(const v1::Document& d) {
  for (int i = d.stage_history_size() - 1; i >= 0; --i) {
    const auto& t = d.stage_history(i);
    if (t.has_date() && t.date().year() != 0)
      return common::EarliestDay(t.date(), true);
  }
  return 0;
}

// Sets the stage and adopt_date that follow from the stage history.
void DeriveStage(v1::Document* d) {
  d->set_stage(d->stage_history().empty()
                   ? v1::DOCUMENT_STAGE_UNSPECIFIED
                   : d->stage_history(d->stage_history_size() - 1).stage());
  d->clear_adopt_date();
  for (const auto& t : d->stage_history())
    if (t.stage() == v1::DOCUMENT_STAGE_ADOPTED && t.has_date() &&
        t.date().year() != 0)
      *d->mutable_adopt_date() = t.date();
}

void ValidateTransition(Violations& v, const std::string& p,
                        const v1::StageTransition& t) {
  CheckEnum(v, p + "stage", v1::DocumentStage_descriptor(), t.stage(), true);
  CheckOptionalDate(v, p + "date", t.has_date(), t.date());
  CheckProvenance(v, p + "provenance", t.provenance());
}

// A seeded document's history: valid entries, allowed moves, dates in order.
void ValidateHistory(Violations& v, const std::string& p,
                     const v1::Document& d) {
  common::CheckCount(v, p + "stage_history", d.stage_history_size());
  int64_t last_day = 0;
  for (int i = 0; i < d.stage_history_size(); ++i) {
    std::string f = absl::StrCat(p, "stage_history[", i, "]");
    const auto& t = d.stage_history(i);
    size_t before = v.size();
    ValidateTransition(v, f + ".", t);
    if (v.size() != before) continue;
    if (i > 0 && !Allowed(d.stage_history(i - 1).stage(), t.stage()))
      v.Add(
          f + ".stage",
          absl::StrCat(v1::DocumentStage_Name(t.stage()), " cannot follow ",
                       v1::DocumentStage_Name(d.stage_history(i - 1).stage())));
    if (t.has_date() && t.date().year() != 0) {
      if (common::LatestDay(t.date(), true) < last_day)
        v.Add(f + ".date", "is before the previous transition's date");
      last_day = common::EarliestDay(t.date(), true);
    }
  }
}

std::string NextRevisionId(const std::string& current) {
  int64_t n = 0;
  if (absl::StartsWith(current, "r") &&
      absl::SimpleAtoi(absl::string_view(current).substr(1), &n))
    return absl::StrCat("r", n + 1);
  return "r1";
}

bool SameTexts(const RepeatedPtrField<LocalizedText>& a,
               const RepeatedPtrField<LocalizedText>& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i)
    if (a[i].language_code() != b[i].language_code() ||
        a[i].text() != b[i].text())
      return false;
  return true;
}

absl::Status StageTransitionError(const std::string& name,
                                  v1::DocumentStage from,
                                  v1::DocumentStage to) {
  std::vector<std::string> allowed;
  google::rpc::PreconditionFailure failure;
  for (v1::DocumentStage s : AllowedNextStages(from)) {
    allowed.push_back(v1::DocumentStage_Name(s));
    auto* violation = failure.add_violations();
    violation->set_type("ALLOWED_NEXT_STAGE");
    violation->set_subject(v1::DocumentStage_Name(s));
    violation->set_description(absl::StrCat(v1::DocumentStage_Name(s),
                                            " may follow ",
                                            v1::DocumentStage_Name(from)));
  }
  std::string joined = absl::StrJoin(allowed, ",");
  absl::Status s = common::ErrorWithInfo(
      absl::StatusCode::kFailedPrecondition, "INVALID_STAGE_TRANSITION",
      absl::StrCat(name, " is at ", v1::DocumentStage_Name(from), "; ",
                   v1::DocumentStage_Name(to), " cannot follow it (allowed: ",
                   allowed.empty() ? "none" : joined, ")"),
      {{"current_stage", v1::DocumentStage_Name(from)},
       {"requested_stage", v1::DocumentStage_Name(to)},
       {"allowed_next_stages", joined}});
  s.SetPayload(
      absl::StrCat("type.googleapis.com/",
                   google::rpc::PreconditionFailure::descriptor()->full_name()),
      absl::Cord(failure.SerializeAsString()));
  return s;
}

// ---------------------------------------------------------------------------
// Computed fields
// ---------------------------------------------------------------------------

void ComputeRatification(v1::Ratification* r) {
  std::vector<absl::string_view> parts = absl::StrSplit(r->name(), '/');
  r->set_state(parts.size() == 4 ? absl::StrCat("states/", parts[3]) : "");
}

bool Behind(v1::RatificationStatus s) {
  return s != v1::RATIFICATION_STATUS_RATIFIED &&
         s != v1::RATIFICATION_STATUS_IN_FORCE;
}

}  // namespace

std::vector<v1::DocumentStage> AllowedNextStages(v1::DocumentStage from) {
  switch (from) {
    case v1::DOCUMENT_STAGE_DRAFTED:
      return {v1::DOCUMENT_STAGE_UNDER_REVIEW,
              v1::DOCUMENT_STAGE_AT_COMMISSION};
    case v1::DOCUMENT_STAGE_UNDER_REVIEW:
      return {v1::DOCUMENT_STAGE_DRAFTED, v1::DOCUMENT_STAGE_AT_COMMISSION};
    case v1::DOCUMENT_STAGE_AT_COMMISSION:
      return {v1::DOCUMENT_STAGE_UNDER_REVIEW, v1::DOCUMENT_STAGE_ADOPTED};
    case v1::DOCUMENT_STAGE_ADOPTED:
      return {v1::DOCUMENT_STAGE_AMENDED, v1::DOCUMENT_STAGE_REPEALED};
    case v1::DOCUMENT_STAGE_AMENDED:
      return {v1::DOCUMENT_STAGE_AMENDED, v1::DOCUMENT_STAGE_REPEALED};
    default:
      return {};
  }
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

// ---------------------------------------------------------------------------
// LegislationHandler
// ---------------------------------------------------------------------------

LegislationHandler::LegislationHandler(LegislationStore* store,
                                       const common::ApiKeyStore* keys)
    : store_(store), keys_(keys) {}

absl::Status LegislationHandler::Require(const Caller& caller,
                                         common::Role role) const {
  return common::RequireRole(*keys_, caller, role);
}

absl::Status LegislationHandler::CheckReferences(const Refs& refs,
                                                 absl::Time deadline) {
  Violations v;
  for (const auto& [field, name] : refs) {
    common::ResourceStore* store = nullptr;
    if (absl::StartsWith(name, "documents/")) store = &store_->documents();
    if (absl::StartsWith(name, "topics/")) store = &store_->topics();
    if (store == nullptr) continue;  // another service's resource
    auto exists = store_->Exists(*store, name, deadline);
    if (!exists.ok()) return exists.status();
    if (!*exists)
      v.Add(field, absl::StrCat("refers to ", name, ", which does not exist"));
  }
  return v.ToStatus("UNKNOWN_REFERENCE");
}

absl::Status LegislationHandler::FillProgress(v1::ActionPlan* plan,
                                              absl::Time deadline) {
  auto counts = store_->CountItems(plan->name(), deadline);
  if (!counts.ok()) return counts.status();
  *plan->mutable_progress() = ComputeProgress(*counts);
  return absl::OkStatus();
}

#define CSTOPA_REFS(deadline) \
  [this, d = (deadline)](const Refs& r) { return CheckReferences(r, d); }

// Documents ------------------------------------------------------------------

void LegislationHandler::GetDocumentAsync(const Caller& c,
                                          const v1::GetDocumentRequest& req,
                                          v1::Document* resp,
                                          common::StatusCallback done) {
  common::GetResourceAsync(c.deadline, store_->documents(), req.name(),
                           {"documents"}, resp, std::move(done));
}

absl::Status LegislationHandler::BatchGetDocuments(
    const Caller& c, const v1::BatchGetDocumentsRequest& req,
    v1::BatchGetDocumentsResponse* resp) {
  return common::BatchGetResources(c.deadline, store_->documents(), req.names(),
                                   {"documents"}, resp->mutable_documents());
}

absl::Status LegislationHandler::ListDocuments(
    const Caller& c, const v1::ListDocumentsRequest& req,
    v1::ListDocumentsResponse* resp) {
  return common::ListResources(c.deadline, store_->documents(), req, "",
                               resp->mutable_documents(),
                               resp->mutable_next_page_token());
}

absl::Status LegislationHandler::CreateDocument(
    const Caller& c, const v1::CreateDocumentRequest& req, v1::Document* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  Violations v;
  if (!common::ValidId(req.document_id()))
    v.Add("document_id",
          req.document_id().empty()
              ? std::string("is required")
              : absl::StrCat("`", req.document_id(), "` ", common::kIdRule));
  Refs refs;
  Validate(req.document(), "document.", v, refs);
  if (req.has_initial_transition())
    ValidateTransition(v, "initial_transition.", req.initial_transition());
  if (auto s = v.ToStatus(); !s.ok()) return s;
  *resp = req.document();
  resp->DiscardUnknownFields();
  common::ClearOutputOnly(resp);
  resp->set_etag("");
  resp->set_name("documents/" + req.document_id());
  v1::StageTransition* first = resp->add_stage_history();
  if (req.has_initial_transition()) {
    *first = req.initial_transition();
    first->DiscardUnknownFields();
  } else {
    first->set_stage(v1::DOCUMENT_STAGE_DRAFTED);
  }
  DeriveStage(resp);
  resp->set_revision_id("r1");
  return store_->documents().Create(
      resp, [&] { return CheckReferences(refs, c.deadline); }, c.deadline);
}

absl::Status LegislationHandler::UpdateDocument(
    const Caller& c, const v1::UpdateDocumentRequest& req, v1::Document* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  const v1::Document& patch = req.document();
  Violations v;
  CheckName(v, "document.name", patch.name(), {"documents"}, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  auto mask = common::EffectiveMask(patch, req.update_mask());
  if (!mask.ok()) return mask.status();
  google::protobuf::util::FieldMaskUtil::MergeOptions opts;
  opts.set_replace_message_fields(true);
  opts.set_replace_repeated_fields(true);
  return store_->documents().Update(
      patch.name(), patch.etag(),
      [&](google::protobuf::Message* m) -> absl::Status {
        auto* current = static_cast<v1::Document*>(m);
        Violations ignored;
        Refs before;
        Validate(*current, "document.", ignored, before);
        RepeatedPtrField<LocalizedText> old_text = current->text();
        v1::Document clean = patch;
        clean.DiscardUnknownFields();
        // Only writable fields are in the mask: the stage, its history and
        // the revision stay as stored.
        google::protobuf::util::FieldMaskUtil::MergeMessageTo(clean, *mask,
                                                              opts, current);
        Violations after;
        Refs refs, added;
        Validate(*current, "document.", after, refs);
        if (auto s = after.ToStatus(); !s.ok()) return s;
        for (const auto& ref : refs) {
          bool had = false;
          for (const auto& old : before) had |= old.second == ref.second;
          if (!had) added.push_back(ref);
        }
        if (!SameTexts(old_text, current->text()))
          current->set_revision_id(NextRevisionId(current->revision_id()));
        return CheckReferences(added, c.deadline);
      },
      resp, c.deadline);
}

absl::Status LegislationHandler::DeleteDocument(
    const Caller& c, const v1::DeleteDocumentRequest& req, v1::Document* resp) {
  if (auto s = Require(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->documents(), req.name(),
                                req.etag(), {"documents"}, resp);
}

absl::Status LegislationHandler::TransitionDocument(
    const Caller& c, const v1::TransitionDocumentRequest& req,
    v1::Document* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  Violations v;
  CheckName(v, "name", req.name(), {"documents"}, true);
  CheckEnum(v, "stage", v1::DocumentStage_descriptor(), req.stage(), true);
  if (!req.has_date() || req.date().year() == 0)
    v.Add("date", "is required: when the move happened (possibly partial)");
  else
    CheckDate(v, "date", req.date());
  CheckProvenance(v, "provenance", req.provenance());
  if (auto s = v.ToStatus(); !s.ok()) return s;
  return store_->documents().Update(
      req.name(), req.etag(),
      [&](google::protobuf::Message* m) -> absl::Status {
        auto* d = static_cast<v1::Document*>(m);
        if (!Allowed(d->stage(), req.stage()))
          return StageTransitionError(req.name(), d->stage(), req.stage());
        int64_t last = LastTransitionDay(*d);
        if (common::LatestDay(req.date(), true) < last) {
          return common::InvalidArgument(
              "INVALID_ARGUMENT",
              {{"date",
                absl::StrCat("is before the date of the previous transition (",
                             last, "); transitions are recorded in order")}});
        }
        v1::StageTransition* t = d->add_stage_history();
        t->set_stage(req.stage());
        *t->mutable_date() = req.date();
        *t->mutable_provenance() = req.provenance();
        DeriveStage(d);
        return absl::OkStatus();
      },
      resp, c.deadline);
}

absl::Status LegislationHandler::GetDocumentRevision(
    const Caller& c, const v1::GetDocumentRevisionRequest& req,
    v1::DocumentRevision* resp) {
  Violations v;
  CheckName(v, "name", req.name(), {"documents", "revisions"}, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  std::vector<std::string> parts = absl::StrSplit(req.name(), '/');
  v1::Document snapshot;
  int64_t micros = 0;
  if (auto s = store_->GetRevision(absl::StrCat("documents/", parts[1]),
                                   parts[3], c.deadline, &snapshot, &micros);
      !s.ok())
    return s;
  resp->set_name(req.name());
  *resp->mutable_text() = snapshot.text();
  *resp->mutable_title() = snapshot.title();
  resp->set_stage(snapshot.stage());
  resp->mutable_create_time()->set_seconds(micros / 1000000);
  resp->mutable_create_time()->set_nanos(
      static_cast<int32_t>(micros % 1000000) * 1000);
  return absl::OkStatus();
}

absl::StatusOr<std::string> LegislationHandler::SearchDocumentsEncoded(
    const Caller& c, const v1::SearchDocumentsRequest& req) {
  auto words = ParseSearchQuery(req.query(), "query");
  if (!words.ok()) return words.status();
  SearchQuery q;
  q.words = *std::move(words);
  q.filter = req.filter();
  q.page_size = req.page_size();
  q.page_token = req.page_token();
  auto page = store_->Search(q, c.deadline);
  if (!page.ok()) return page.status();
  // SearchDocumentsResponse: results = 1 (SearchResult: document = 1,
  // score = 2, snippets = 3), next_page_token = 2.
  using common::ResourceStore;
  std::string out, result;
  for (const SearchHit& hit : page->hits) {
    result.clear();
    result.push_back(static_cast<char>((1 << 3) | 2));
    ResourceStore::AppendVarint(hit.document.size(), &result);
    result += hit.document;
    result.push_back(static_cast<char>((2 << 3) | 1));
    uint64_t bits;
    static_assert(sizeof(bits) == sizeof(hit.score));
    std::memcpy(&bits, &hit.score, sizeof(bits));
    for (int i = 0; i < 8; ++i)
      result.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
    for (const std::string& s : hit.snippets) {
      result.push_back(static_cast<char>((3 << 3) | 2));
      ResourceStore::AppendVarint(s.size(), &result);
      result += s;
    }
    out.push_back(static_cast<char>((1 << 3) | 2));
    ResourceStore::AppendVarint(result.size(), &out);
    out += result;
  }
  if (!page->next_page_token.empty()) {
    out.push_back(static_cast<char>((2 << 3) | 2));
    ResourceStore::AppendVarint(page->next_page_token.size(), &out);
    out += page->next_page_token;
  }
  return out;
}

absl::Status LegislationHandler::SearchDocuments(
    const Caller& c, const v1::SearchDocumentsRequest& req,
    v1::SearchDocumentsResponse* resp) {
  auto encoded = SearchDocumentsEncoded(c, req);
  if (!encoded.ok()) return encoded.status();
  if (!resp->ParseFromString(*encoded))
    return absl::InternalError("could not decode an encoded search response");
  return absl::OkStatus();
}

// Topics ---------------------------------------------------------------------

void LegislationHandler::GetTopicAsync(const Caller& c,
                                       const v1::GetTopicRequest& req,
                                       v1::Topic* resp,
                                       common::StatusCallback done) {
  common::GetResourceAsync(c.deadline, store_->topics(), req.name(), {"topics"},
                           resp, std::move(done));
}

absl::Status LegislationHandler::ListTopics(const Caller& c,
                                            const v1::ListTopicsRequest& req,
                                            v1::ListTopicsResponse* resp) {
  return common::ListResources(c.deadline, store_->topics(), req, "",
                               resp->mutable_topics(),
                               resp->mutable_next_page_token());
}

absl::Status LegislationHandler::CreateTopic(const Caller& c,
                                             const v1::CreateTopicRequest& req,
                                             v1::Topic* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  return common::CreateResource(c.deadline, store_->topics(),
                                "topics/" + req.topic_id(), "topic_id",
                                req.topic_id(), "topic", req.topic(), kValidate,
                                common::NoRefCheck, resp);
}

absl::Status LegislationHandler::UpdateTopic(const Caller& c,
                                             const v1::UpdateTopicRequest& req,
                                             v1::Topic* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(c.deadline, store_->topics(), req.topic(),
                                req.update_mask(), "topic", {"topics"},
                                kValidate, common::NoRefCheck, resp);
}

absl::Status LegislationHandler::DeleteTopic(const Caller& c,
                                             const v1::DeleteTopicRequest& req,
                                             v1::Topic* resp) {
  if (auto s = Require(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->topics(), req.name(),
                                req.etag(), {"topics"}, resp);
}

// Action plans ---------------------------------------------------------------

absl::Status LegislationHandler::GetActionPlan(
    const Caller& c, const v1::GetActionPlanRequest& req,
    v1::ActionPlan* resp) {
  if (auto s = common::GetResource(c.deadline, store_->action_plans(),
                                   req.name(), {"actionPlans"}, resp);
      !s.ok())
    return s;
  return FillProgress(resp, c.deadline);
}

absl::Status LegislationHandler::ListActionPlans(
    const Caller& c, const v1::ListActionPlansRequest& req,
    v1::ListActionPlansResponse* resp) {
  if (auto s = common::ListResources(c.deadline, store_->action_plans(), req,
                                     "", resp->mutable_action_plans(),
                                     resp->mutable_next_page_token());
      !s.ok())
    return s;
  for (v1::ActionPlan& p : *resp->mutable_action_plans())
    if (auto s = FillProgress(&p, c.deadline); !s.ok()) return s;
  return absl::OkStatus();
}

absl::Status LegislationHandler::CreateActionPlan(
    const Caller& c, const v1::CreateActionPlanRequest& req,
    v1::ActionPlan* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s = common::CreateResource(c.deadline, store_->action_plans(),
                                      "actionPlans/" + req.action_plan_id(),
                                      "action_plan_id", req.action_plan_id(),
                                      "action_plan", req.action_plan(),
                                      kValidate, common::NoRefCheck, resp);
      !s.ok())
    return s;
  return FillProgress(resp, c.deadline);
}

absl::Status LegislationHandler::UpdateActionPlan(
    const Caller& c, const v1::UpdateActionPlanRequest& req,
    v1::ActionPlan* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s = common::UpdateResource(c.deadline, store_->action_plans(),
                                      req.action_plan(), req.update_mask(),
                                      "action_plan", {"actionPlans"}, kValidate,
                                      common::NoRefCheck, resp);
      !s.ok())
    return s;
  return FillProgress(resp, c.deadline);
}

absl::Status LegislationHandler::DeleteActionPlan(
    const Caller& c, const v1::DeleteActionPlanRequest& req,
    v1::ActionPlan* resp) {
  if (auto s = Require(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->action_plans(), req.name(),
                                req.etag(), {"actionPlans"}, resp);
}

// Action-plan items ----------------------------------------------------------

void LegislationHandler::GetActionPlanItemAsync(
    const Caller& c, const v1::GetActionPlanItemRequest& req,
    v1::ActionPlanItem* resp, common::StatusCallback done) {
  common::GetResourceAsync(c.deadline, store_->items(), req.name(),
                           {"actionPlans", "items"}, resp, std::move(done));
}

absl::Status LegislationHandler::ListActionPlanItems(
    const Caller& c, const v1::ListActionPlanItemsRequest& req,
    v1::ListActionPlanItemsResponse* resp) {
  if (req.parent() != "actionPlans/-") {
    Violations v;
    CheckName(v, "parent", req.parent(), {"actionPlans"}, true);
    if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  }
  return common::ListResources(c.deadline, store_->items(), req, req.parent(),
                               resp->mutable_action_plan_items(),
                               resp->mutable_next_page_token());
}

absl::Status LegislationHandler::CreateActionPlanItem(
    const Caller& c, const v1::CreateActionPlanItemRequest& req,
    v1::ActionPlanItem* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  Violations v;
  CheckName(v, "parent", req.parent(), {"actionPlans"}, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  const std::string parent = req.parent();
  const absl::Time deadline = c.deadline;
  return common::CreateResource(
      c.deadline, store_->items(),
      absl::StrCat(parent, "/items/", req.item_id()), "item_id", req.item_id(),
      "action_plan_item", req.action_plan_item(), kValidate,
      [this, parent, deadline](const Refs& refs) -> absl::Status {
        auto plan = store_->Exists(store_->action_plans(), parent, deadline);
        if (!plan.ok()) return plan.status();
        if (!*plan) return common::NotFound(parent);
        return CheckReferences(refs, deadline);
      },
      resp);
}

absl::Status LegislationHandler::UpdateActionPlanItem(
    const Caller& c, const v1::UpdateActionPlanItemRequest& req,
    v1::ActionPlanItem* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(c.deadline, store_->items(),
                                req.action_plan_item(), req.update_mask(),
                                "action_plan_item", {"actionPlans", "items"},
                                kValidate, CSTOPA_REFS(c.deadline), resp);
}

absl::Status LegislationHandler::DeleteActionPlanItem(
    const Caller& c, const v1::DeleteActionPlanItemRequest& req,
    v1::ActionPlanItem* resp) {
  if (auto s = Require(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->items(), req.name(),
                                req.etag(), {"actionPlans", "items"}, resp);
}

// Treaties -------------------------------------------------------------------

void LegislationHandler::GetTreatyAsync(const Caller& c,
                                        const v1::GetTreatyRequest& req,
                                        v1::Treaty* resp,
                                        common::StatusCallback done) {
  common::GetResourceAsync(c.deadline, store_->treaties(), req.name(),
                           {"treaties"}, resp, std::move(done));
}

absl::Status LegislationHandler::ListTreaties(
    const Caller& c, const v1::ListTreatiesRequest& req,
    v1::ListTreatiesResponse* resp) {
  return common::ListResources(c.deadline, store_->treaties(), req, "",
                               resp->mutable_treaties(),
                               resp->mutable_next_page_token());
}

absl::Status LegislationHandler::CreateTreaty(
    const Caller& c, const v1::CreateTreatyRequest& req, v1::Treaty* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  return common::CreateResource(c.deadline, store_->treaties(),
                                "treaties/" + req.treaty_id(), "treaty_id",
                                req.treaty_id(), "treaty", req.treaty(),
                                kValidate, common::NoRefCheck, resp);
}

absl::Status LegislationHandler::UpdateTreaty(
    const Caller& c, const v1::UpdateTreatyRequest& req, v1::Treaty* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(c.deadline, store_->treaties(), req.treaty(),
                                req.update_mask(), "treaty", {"treaties"},
                                kValidate, common::NoRefCheck, resp);
}

absl::Status LegislationHandler::DeleteTreaty(
    const Caller& c, const v1::DeleteTreatyRequest& req, v1::Treaty* resp) {
  if (auto s = Require(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->treaties(), req.name(),
                                req.etag(), {"treaties"}, resp);
}

absl::Status LegislationHandler::GetTreatyRatificationProgress(
    const Caller& c, const v1::GetTreatyRatificationProgressRequest& req,
    v1::TreatyRatificationProgress* resp) {
  Violations v;
  CheckName(v, "treaty", req.treaty(), {"treaties"}, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  v1::Treaty treaty;
  if (auto s = store_->treaties().Get(req.treaty(), false, &treaty, c.deadline);
      !s.ok())
    return s;
  common::ListQuery q;
  q.parent = req.treaty();
  q.page_size = kMaxRatificationsPerTreaty;
  std::vector<v1::Ratification> records;
  RepeatedPtrField<v1::Ratification> page;
  auto token = store_->ratifications().List(
      q, [&page]() { return page.Add(); }, c.deadline);
  if (!token.ok()) return token.status();
  std::map<std::string, const v1::Ratification*> by_state;
  for (v1::Ratification& r : page) {
    ComputeRatification(&r);
    by_state[r.state()] = &r;
  }
  resp->set_treaty(req.treaty());
  auto add = [&](const std::string& state, const v1::Ratification* r) {
    v1::PartyStatus* p = resp->add_parties();
    p->set_state(state);
    p->set_status(r != nullptr ? r->status()
                               : v1::RATIFICATION_STATUS_NOT_STARTED);
    if (r != nullptr) {
      if (r->has_status_date()) *p->mutable_status_date() = r->status_date();
      p->set_ratification(r->name());
    }
    p->set_behind(Behind(p->status()));
    if (p->behind())
      resp->add_behind_states(state);
    else
      resp->set_ratified_count(resp->ratified_count() + 1);
  };
  for (const std::string& state : treaty.parties()) {
    auto it = by_state.find(state);
    add(state, it == by_state.end() ? nullptr : it->second);
    if (it != by_state.end()) by_state.erase(it);
  }
  for (const auto& [state, r] : by_state) add(state, r);
  resp->set_party_count(resp->parties_size());
  return absl::OkStatus();
}

// Ratifications --------------------------------------------------------------

absl::Status LegislationHandler::GetRatification(
    const Caller& c, const v1::GetRatificationRequest& req,
    v1::Ratification* resp) {
  if (auto s =
          common::GetResource(c.deadline, store_->ratifications(), req.name(),
                              {"treaties", "ratifications"}, resp);
      !s.ok())
    return s;
  ComputeRatification(resp);
  return absl::OkStatus();
}

absl::Status LegislationHandler::ListRatifications(
    const Caller& c, const v1::ListRatificationsRequest& req,
    v1::ListRatificationsResponse* resp) {
  if (req.parent() != "treaties/-") {
    Violations v;
    CheckName(v, "parent", req.parent(), {"treaties"}, true);
    if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  }
  if (auto s = common::ListResources(
          c.deadline, store_->ratifications(), req, req.parent(),
          resp->mutable_ratifications(), resp->mutable_next_page_token());
      !s.ok())
    return s;
  for (v1::Ratification& r : *resp->mutable_ratifications())
    ComputeRatification(&r);
  return absl::OkStatus();
}

absl::Status LegislationHandler::CreateRatification(
    const Caller& c, const v1::CreateRatificationRequest& req,
    v1::Ratification* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  Violations v;
  CheckName(v, "parent", req.parent(), {"treaties"}, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  const std::string parent = req.parent();
  const std::string state = "states/" + req.ratification_id();
  const absl::Time deadline = c.deadline;
  if (auto s = common::CreateResource(
          c.deadline, store_->ratifications(),
          absl::StrCat(parent, "/ratifications/", req.ratification_id()),
          "ratification_id", req.ratification_id(), "ratification",
          req.ratification(), kValidate,
          [this, parent, state, deadline](const Refs&) -> absl::Status {
            v1::Treaty treaty;
            if (auto s =
                    store_->treaties().Get(parent, false, &treaty, deadline);
                !s.ok())
              return s;
            for (const std::string& p : treaty.parties())
              if (p == state) return absl::OkStatus();
            return common::InvalidArgument(
                "NOT_A_PARTY",
                {{"ratification_id",
                  absl::StrCat(state, " is not a party of ", parent,
                               " (parties: ",
                               treaty.parties().empty()
                                   ? std::string("none recorded")
                                   : absl::StrJoin(treaty.parties(), ", "),
                               "); add it to the treaty's parties first")}});
          },
          resp);
      !s.ok())
    return s;
  ComputeRatification(resp);
  return absl::OkStatus();
}

absl::Status LegislationHandler::UpdateRatification(
    const Caller& c, const v1::UpdateRatificationRequest& req,
    v1::Ratification* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s = common::UpdateResource(
          c.deadline, store_->ratifications(), req.ratification(),
          req.update_mask(), "ratification", {"treaties", "ratifications"},
          kValidate, common::NoRefCheck, resp);
      !s.ok())
    return s;
  ComputeRatification(resp);
  return absl::OkStatus();
}

absl::Status LegislationHandler::DeleteRatification(
    const Caller& c, const v1::DeleteRatificationRequest& req,
    v1::Ratification* resp) {
  if (auto s = Require(c, common::Role::kAdmin); !s.ok()) return s;
  if (auto s = common::DeleteResource(c.deadline, store_->ratifications(),
                                      req.name(), req.etag(),
                                      {"treaties", "ratifications"}, resp);
      !s.ok())
    return s;
  ComputeRatification(resp);
  return absl::OkStatus();
}

// Implementations ------------------------------------------------------------

void LegislationHandler::GetImplementationAsync(
    const Caller& c, const v1::GetImplementationRequest& req,
    v1::Implementation* resp, common::StatusCallback done) {
  common::GetResourceAsync(c.deadline, store_->implementations(), req.name(),
                           {"implementations"}, resp, std::move(done));
}

absl::Status LegislationHandler::ListImplementations(
    const Caller& c, const v1::ListImplementationsRequest& req,
    v1::ListImplementationsResponse* resp) {
  return common::ListResources(c.deadline, store_->implementations(), req, "",
                               resp->mutable_implementations(),
                               resp->mutable_next_page_token());
}

absl::Status LegislationHandler::CreateImplementation(
    const Caller& c, const v1::CreateImplementationRequest& req,
    v1::Implementation* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  return common::CreateResource(c.deadline, store_->implementations(),
                                "implementations/" + req.implementation_id(),
                                "implementation_id", req.implementation_id(),
                                "implementation", req.implementation(),
                                kValidate, CSTOPA_REFS(c.deadline), resp);
}

absl::Status LegislationHandler::UpdateImplementation(
    const Caller& c, const v1::UpdateImplementationRequest& req,
    v1::Implementation* resp) {
  if (auto s = Require(c, common::Role::kEditor); !s.ok()) return s;
  return common::UpdateResource(c.deadline, store_->implementations(),
                                req.implementation(), req.update_mask(),
                                "implementation", {"implementations"},
                                kValidate, CSTOPA_REFS(c.deadline), resp);
}

absl::Status LegislationHandler::DeleteImplementation(
    const Caller& c, const v1::DeleteImplementationRequest& req,
    v1::Implementation* resp) {
  if (auto s = Require(c, common::Role::kAdmin); !s.ok()) return s;
  return common::DeleteResource(c.deadline, store_->implementations(),
                                req.name(), req.etag(), {"implementations"},
                                resp);
}

#undef CSTOPA_REFS

// Seed -----------------------------------------------------------------------

absl::Status LegislationHandler::LoadSeed(const std::string& text) {
  seed::LegislationSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid LegislationSeed in text format");
  // Documents: the history is the seed's; stage, adoption date and the first
  // revision follow from it. Ratifications: the state follows from the name.
  Violations v;
  for (int i = 0; i < seed.documents_size(); ++i) {
    v1::Document* d = seed.mutable_documents(i);
    ValidateHistory(v, absl::StrCat("documents[", i, "]."), *d);
    if (d->stage_history().empty())
      d->add_stage_history()->set_stage(v1::DOCUMENT_STAGE_DRAFTED);
    DeriveStage(d);
    d->set_revision_id("r1");
  }
  for (auto& r : *seed.mutable_ratifications()) r.clear_state();
  for (auto& p : *seed.mutable_action_plans()) p.clear_progress();
  if (auto s = v.ToStatus("INVALID_SEED"); !s.ok()) return s;
  if (auto s = common::SeedResources(store_->topics(), seed.topics(), "topics",
                                     {"topics"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->documents(), seed.documents(),
                                     "documents", {"documents"}, kValidate);
      !s.ok())
    return s;
  if (auto s =
          common::SeedResources(store_->action_plans(), seed.action_plans(),
                                "action_plans", {"actionPlans"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->items(), seed.action_plan_items(),
                                     "action_plan_items",
                                     {"actionPlans", "items"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->treaties(), seed.treaties(),
                                     "treaties", {"treaties"}, kValidate);
      !s.ok())
    return s;
  if (auto s = common::SeedResources(store_->ratifications(),
                                     seed.ratifications(), "ratifications",
                                     {"treaties", "ratifications"}, kValidate);
      !s.ok())
    return s;
  return common::SeedResources(store_->implementations(),
                               seed.implementations(), "implementations",
                               {"implementations"}, kValidate);
}

// ---------------------------------------------------------------------------
// gRPC wiring
// ---------------------------------------------------------------------------

// The synchronous face of the asynchronous reads.
#define CSTOPA_LEGISLATION_AWAIT(Method, Request, Response)                 \
  absl::Status LegislationHandler::Method(                                  \
      const Caller& c, const v1::Request& req, v1::Response* resp) {        \
    return common::AwaitMethod(this, &LegislationHandler::Method##Async, c, \
                               req, resp);                                  \
  }
CSTOPA_LEGISLATION_ASYNC_GETS(CSTOPA_LEGISLATION_AWAIT)
#undef CSTOPA_LEGISLATION_AWAIT

LegislationGrpcService::LegislationGrpcService(LegislationHandler* handler)
    : handler_(handler) {
#define CSTOPA_LEGISLATION_SET_ALLOCATOR(Method, Request, Response) \
  SetMessageAllocatorFor_##Method(&Method##_allocator_);
  CSTOPA_LEGISLATION_DECODED_METHODS(CSTOPA_LEGISLATION_SET_ALLOCATOR)
#undef CSTOPA_LEGISLATION_SET_ALLOCATOR
}

#define CSTOPA_LEGISLATION_RPC(Method, Request, Response)                  \
  grpc::ServerUnaryReactor* LegislationGrpcService::Method(                \
      grpc::CallbackServerContext* ctx, const v1::Request* request,        \
      v1::Response* response) {                                            \
    return common::FinishUnary(                                            \
        ctx, handler_->Method(common::CallerOf(ctx), *request, response)); \
  }
CSTOPA_LEGISLATION_TYPED_METHODS(CSTOPA_LEGISLATION_RPC)
#undef CSTOPA_LEGISLATION_RPC

#define CSTOPA_LEGISLATION_ASYNC_RPC(Method, Request, Response)                \
  grpc::ServerUnaryReactor* LegislationGrpcService::Method(                    \
      grpc::CallbackServerContext* ctx, const v1::Request* request,            \
      v1::Response* response) {                                                \
    return common::StartAsync(                                                 \
        ctx, handler_, &LegislationHandler::Method##Async, request, response); \
  }
CSTOPA_LEGISLATION_ASYNC_GETS(CSTOPA_LEGISLATION_ASYNC_RPC)
#undef CSTOPA_LEGISLATION_ASYNC_RPC

grpc::ServerUnaryReactor* LegislationGrpcService::SearchDocuments(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  v1::SearchDocumentsRequest decoded;
  if (!common::ParseRequest(*request, &decoded)) {
    return common::FinishUnary(
        ctx, absl::InvalidArgumentError(
                 "the request is not a valid SearchDocumentsRequest"));
  }
  return common::FinishEncoded(
      ctx, handler_->SearchDocumentsEncoded(common::CallerOf(ctx), decoded),
      response);
}

}  // namespace cstopa::legislation
