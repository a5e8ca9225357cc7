#include "services/legislation/legislation_service.h"

#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "legislation/seed/legislation_seed.pb.h"
#include "services/common/base/dates.h"
#include "services/common/base/errors.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"
#include "services/common/store/read_cache.h"
#include "services/legislation/embedded_files.h"
#include "services/legislation/search_query.h"

namespace cstopa::legislation {
namespace {

using common::CheckDate;
using common::CheckEnum;
using common::CheckName;
using common::CheckProvenance;
using common::SqlTransaction;
using common::Violations;
using cstopa::type::v1::LocalizedText;
using google::protobuf::RepeatedPtrField;

// Ratification progress reads at most this many records per treaty.
constexpr int kMaxRatificationsPerTreaty = 1000;

// The feed's change kinds are numbered as the API's change types.
static_assert(static_cast<int>(common::ChangeKind::kCheckpoint) ==
              v1::CHANGE_TYPE_CHECKPOINT);
static_assert(static_cast<int>(common::ChangeKind::kCreated) ==
              v1::CHANGE_TYPE_CREATED);
static_assert(static_cast<int>(common::ChangeKind::kUpdated) ==
              v1::CHANGE_TYPE_UPDATED);
static_assert(static_cast<int>(common::ChangeKind::kDeleted) ==
              v1::CHANGE_TYPE_DELETED);

void CheckOptionalDate(Violations& v, const std::string& field, bool present,
                       const google::type::Date& d) {
  if (present) CheckDate(v, field, d);
}

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
// Ratifications
// ---------------------------------------------------------------------------

bool Behind(v1::RatificationStatus s) {
  return s != v1::RATIFICATION_STATUS_RATIFIED &&
         s != v1::RATIFICATION_STATUS_IN_FORCE;
}

// Where `state` stands on a treaty, from its ratification record `r` (its
// state computed; null when none is recorded: NOT_STARTED). The one
// computation behind GetTreatyRatificationProgress, SummarizeLegislation and
// SummarizeStateLegislation.
void FillPartyStatus(const std::string& state, const v1::Ratification* r,
                     v1::PartyStatus* p) {
  p->set_state(state);
  p->set_status(r != nullptr ? r->status()
                             : v1::RATIFICATION_STATUS_NOT_STARTED);
  if (r != nullptr) {
    if (r->has_status_date()) *p->mutable_status_date() = r->status_date();
    p->set_ratification(r->name());
  }
  p->set_behind(Behind(p->status()));
}

// Where each party of `treaty` stands, from its ratification records (their
// state computed): the parties in the treaty's order, then records of states
// that are not (or no longer) listed as parties.
void FillRatificationProgress(
    const std::string& name, const v1::Treaty& treaty,
    const std::vector<const v1::Ratification*>& records,
    v1::TreatyRatificationProgress* resp) {
  std::map<std::string, const v1::Ratification*> by_state;
  for (const v1::Ratification* r : records) by_state[r->state()] = r;
  resp->set_name(absl::StrCat(name, "/ratificationProgress"));
  resp->set_treaty(name);
  auto add = [&](const std::string& state, const v1::Ratification* r) {
    v1::PartyStatus* p = resp->add_parties();
    FillPartyStatus(state, r, p);
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
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

// The `done` of a store transaction that answers `call` (its response
// filled by the transaction).
template <typename Call>
common::StatusCallback FinishWith(Call call) {
  return [call = std::move(call)](absl::Status s) mutable {
    call.Finish(std::move(s));
  };
}

// As FinishWith, and a successful answer is kept in `cache` under the
// slot's key (common::FinishKept).
template <typename Call>
common::StatusCallback FinishKeptWith(common::ReadCache& cache,
                                      common::ReadCache::Slot slot, Call call) {
  return [&cache, slot = std::move(slot),
          call = std::move(call)](absl::Status s) mutable {
    common::FinishKept(cache, slot, call, std::move(s));
  };
}

// A SearchDocumentsResponse built from the stored document bytes without
// decoding them: results = 1 (SearchResult: document = 1, score = 2,
// snippets = 3), next_page_token = 2.
std::string EncodeSearchPage(const SearchPage& page) {
  using common::ResourceStore;
  std::string out, result;
  for (const SearchHit& hit : page.hits) {
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
  if (!page.next_page_token.empty()) {
    out.push_back(static_cast<char>((2 << 3) | 2));
    ResourceStore::AppendVarint(page.next_page_token.size(), &out);
    out += page.next_page_token;
  }
  return out;
}

// The --search_cache_ms flag as cache options (validated by the runner).
SearchCacheOptions CacheOptions(
    const std::map<std::string, std::string>& flags) {
  SearchCacheOptions options;
  auto it = flags.find(kSearchCacheFlag);
  int64_t ms = 0;
  if (it == flags.end() || !absl::SimpleAtoi(it->second, &ms)) return options;
  options.ttl = absl::Milliseconds(ms);
  if (ms == 0) options.max_entries = 0;
  return options;
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

LegislationHandler::LegislationHandler(LegislationResources* resources)
    : r_(resources) {}

// Documents ------------------------------------------------------------------

void LegislationHandler::GetDocument(GetDocumentCall call) {
  r_->documents().Get(std::move(call));
}
void LegislationHandler::BatchGetDocuments(BatchGetDocumentsCall call) {
  r_->documents().BatchGet(std::move(call));
}
void LegislationHandler::ListDocuments(ListDocumentsCall call) {
  r_->documents().List(std::move(call));
}

// A new document starts at its initial transition (DRAFTED when none is
// given), at revision r1.
void LegislationHandler::CreateDocument(CreateDocumentCall call) {
  const v1::CreateDocumentRequest& req = call.request();
  common::WriteHooks<v1::Document> hooks;
  hooks.validate = [&req](Violations& v) {
    if (req.has_initial_transition())
      ValidateTransition(v, "initial_transition.", req.initial_transition());
  };
  hooks.prepare = [&req](const v1::Document*, v1::Document* d) {
    v1::StageTransition* first = d->add_stage_history();
    if (req.has_initial_transition()) {
      *first = req.initial_transition();
      first->DiscardUnknownFields();
    } else {
      first->set_stage(v1::DOCUMENT_STAGE_DRAFTED);
    }
    DeriveStage(d);
    d->set_revision_id("r1");
  };
  r_->documents().Create(std::move(call), std::move(hooks));
}

// Only writable fields are in the mask: the lifecycle (stage, its history,
// the adoption date) stays as stored, and a change of the texts makes a new
// revision.
void LegislationHandler::UpdateDocument(UpdateDocumentCall call) {
  common::WriteHooks<v1::Document> hooks;
  hooks.prepare = [](const v1::Document* stored, v1::Document* d) {
    d->set_stage(stored->stage());
    *d->mutable_stage_history() = stored->stage_history();
    if (stored->has_adopt_date())
      *d->mutable_adopt_date() = stored->adopt_date();
    d->set_revision_id(SameTexts(stored->text(), d->text())
                           ? stored->revision_id()
                           : NextRevisionId(stored->revision_id()));
  };
  r_->documents().Update(std::move(call), std::move(hooks));
}

void LegislationHandler::DeleteDocument(DeleteDocumentCall call) {
  r_->documents().Delete(std::move(call));
}

void LegislationHandler::UndeleteDocument(UndeleteDocumentCall call) {
  r_->documents().Undelete(std::move(call));
}

// A move to a stage that may follow the current one (AllowedNextStages),
// dated no earlier than the previous move; the etag, when given, must match.
void LegislationHandler::TransitionDocument(TransitionDocumentCall call) {
  if (auto s = common::RequireRole(r_->set().keys(), call.caller(),
                                   common::Role::kEditor);
      !s.ok())
    return call.Finish(std::move(s));
  const v1::TransitionDocumentRequest& req = call.request();
  Violations v;
  CheckName(v, "name", req.name(), {"documents"}, true);
  CheckEnum(v, "stage", v1::DocumentStage_descriptor(), req.stage(), true);
  if (!req.has_date() || req.date().year() == 0)
    v.Add("date", "is required: when the move happened (possibly partial)");
  else
    CheckDate(v, "date", req.date());
  CheckProvenance(v, "provenance", req.provenance());
  if (auto s = v.ToStatus(); !s.ok()) return call.Finish(std::move(s));
  v1::Document* out = call.response();
  const absl::Time deadline = call.deadline();
  r_->db()->WriteAsync(
      deadline,
      [this, &req, out](SqlTransaction& tx) {
        return r_->documents().store().Update(
            tx, req.name(), req.etag(),
            [&req](google::protobuf::Message* m) -> absl::Status {
              auto* d = static_cast<v1::Document*>(m);
              if (!Allowed(d->stage(), req.stage()))
                return StageTransitionError(req.name(), d->stage(),
                                            req.stage());
              int64_t last = LastTransitionDay(*d);
              if (common::LatestDay(req.date(), true) < last) {
                return common::InvalidArgument(
                    "INVALID_ARGUMENT",
                    {{"date", absl::StrCat("is before the date of the "
                                           "previous transition (",
                                           last,
                                           "); transitions are recorded in "
                                           "order")}});
              }
              v1::StageTransition* t = d->add_stage_history();
              t->set_stage(req.stage());
              *t->mutable_date() = req.date();
              *t->mutable_provenance() = req.provenance();
              DeriveStage(d);
              return absl::OkStatus();
            },
            out);
      },
      [this, call = std::move(call)](absl::Status s) mutable {
        if (s.ok()) r_->set().AfterCommit();
        call.Finish(std::move(s));
      });
}

void LegislationHandler::GetDocumentRevision(GetDocumentRevisionCall call) {
  const v1::GetDocumentRevisionRequest& req = call.request();
  if (auto s = common::CheckRequestName("name", req.name(),
                                        {"documents", "revisions"});
      !s.ok())
    return call.Finish(std::move(s));
  std::vector<std::string> parts = absl::StrSplit(req.name(), '/');
  v1::DocumentRevision* out = call.response();
  out->set_name(req.name());
  const absl::Time deadline = call.deadline();
  r_->GetRevision(absl::StrCat("documents/", parts[1]), parts[3], deadline, out,
                  FinishWith(std::move(call)));
}

void LegislationHandler::ListDocumentRevisions(ListDocumentRevisionsCall call) {
  const v1::ListDocumentRevisionsRequest& req = call.request();
  if (auto s = common::CheckRequestName("name", req.name(), {"documents"});
      !s.ok())
    return call.Finish(std::move(s));
  v1::ListDocumentRevisionsResponse* out = call.response();
  const absl::Time deadline = call.deadline();
  r_->ListRevisions(req.name(), req.page_size(), req.page_token(), deadline,
                    out, FinishWith(std::move(call)));
}

// The page is sent as built from the stored documents, never decoded.
void LegislationHandler::SearchDocuments(SearchDocumentsCall call) {
  const v1::SearchDocumentsRequest& req = call.request();
  auto words = ParseSearchQuery(req.query(), "query");
  if (!words.ok()) return call.Finish(words.status());
  SearchQuery q;
  q.words = *std::move(words);
  q.filter = req.filter();
  q.page_size = req.page_size();
  q.page_token = req.page_token();
  q.full = req.view() == v1::DOCUMENT_VIEW_FULL;
  // Kept in the store's read cache under the request's bytes, as Gets and
  // Lists are (store/read_cache.h): asked again before any write, the page
  // is the bytes sent the first time.
  common::ReadCache& cache = r_->db()->read_cache();
  common::ReadCache::Slot slot;
  if (cache.enabled()) {
    std::string bytes;
    if (cache.Lookup(common::RequestKey(req), &slot, &bytes))
      return call.FinishSerialized(std::move(bytes));
  }
  const absl::Time deadline = call.deadline();
  r_->search().Search(std::move(q), deadline,
                      [&cache, slot = std::move(slot), call = std::move(call)](
                          absl::StatusOr<SearchPage> page) mutable {
                        if (!page.ok()) return call.Finish(page.status());
                        std::string bytes = EncodeSearchPage(*page);
                        cache.Keep(slot, bytes);
                        call.FinishSerialized(std::move(bytes));
                      });
}

// Topics ---------------------------------------------------------------------

void LegislationHandler::GetTopic(GetTopicCall call) {
  r_->topics().Get(std::move(call));
}
void LegislationHandler::ListTopics(ListTopicsCall call) {
  r_->topics().List(std::move(call));
}
void LegislationHandler::CreateTopic(CreateTopicCall call) {
  r_->topics().Create(std::move(call));
}
void LegislationHandler::UpdateTopic(UpdateTopicCall call) {
  r_->topics().Update(std::move(call));
}
void LegislationHandler::DeleteTopic(DeleteTopicCall call) {
  r_->topics().Delete(std::move(call));
}

void LegislationHandler::UndeleteTopic(UndeleteTopicCall call) {
  r_->topics().Undelete(std::move(call));
}

// Action plans ---------------------------------------------------------------
// A plan's progress is computed from its live items whenever it is read,
// in the same transaction as the plan.

void LegislationHandler::GetActionPlan(GetActionPlanCall call) {
  const v1::GetActionPlanRequest& req = call.request();
  if (auto s = common::CheckRequestName("name", req.name(), {"actionPlans"});
      !s.ok())
    return call.Finish(std::move(s));
  v1::ActionPlan* out = call.response();
  const absl::Time deadline = call.deadline();
  r_->db()->ReadAsync(
      deadline,
      [this, &req, out](SqlTransaction& tx) -> absl::Status {
        if (auto s = r_->action_plans().store().Get(tx, req.name(), false, out);
            !s.ok())
          return s;
        return r_->FillProgress(tx, {out});
      },
      FinishWith(std::move(call)));
}

void LegislationHandler::ListActionPlans(ListActionPlansCall call) {
  const v1::ListActionPlansRequest& req = call.request();
  common::ListQuery q;
  q.filter = req.filter();
  q.order_by = req.order_by();
  q.page_token = req.page_token();
  q.page_size = req.page_size();
  q.show_deleted = req.show_deleted();
  v1::ListActionPlansResponse* out = call.response();
  const absl::Time deadline = call.deadline();
  r_->db()->ReadAsync(
      deadline,
      [this, q = std::move(q), out](SqlTransaction& tx) -> absl::Status {
        auto next = r_->action_plans().store().List(
            tx, q, [out] { return out->add_action_plans(); });
        if (!next.ok()) return next.status();
        out->set_next_page_token(*std::move(next));
        std::vector<v1::ActionPlan*> plans;
        for (v1::ActionPlan& p : *out->mutable_action_plans())
          plans.push_back(&p);
        return r_->FillProgress(tx, plans);
      },
      FinishWith(std::move(call)));
}

common::WriteHooks<v1::ActionPlan> LegislationHandler::WithProgress() {
  common::WriteHooks<v1::ActionPlan> hooks;
  hooks.complete = [this](SqlTransaction& tx, v1::ActionPlan* plan) {
    return r_->FillProgress(tx, {plan});
  };
  return hooks;
}

void LegislationHandler::CreateActionPlan(CreateActionPlanCall call) {
  r_->action_plans().Create(std::move(call), WithProgress());
}
void LegislationHandler::UpdateActionPlan(UpdateActionPlanCall call) {
  r_->action_plans().Update(std::move(call), WithProgress());
}
void LegislationHandler::DeleteActionPlan(DeleteActionPlanCall call) {
  r_->action_plans().Delete(std::move(call));
}

void LegislationHandler::UndeleteActionPlan(UndeleteActionPlanCall call) {
  r_->action_plans().Undelete(std::move(call));
}

// Action-plan items ----------------------------------------------------------

void LegislationHandler::GetActionPlanItem(GetActionPlanItemCall call) {
  r_->items().Get(std::move(call));
}
void LegislationHandler::ListActionPlanItems(ListActionPlanItemsCall call) {
  r_->items().List(std::move(call));
}
void LegislationHandler::CreateActionPlanItem(CreateActionPlanItemCall call) {
  r_->items().Create(std::move(call));
}
void LegislationHandler::UpdateActionPlanItem(UpdateActionPlanItemCall call) {
  r_->items().Update(std::move(call));
}
void LegislationHandler::DeleteActionPlanItem(DeleteActionPlanItemCall call) {
  r_->items().Delete(std::move(call));
}

void LegislationHandler::UndeleteActionPlanItem(
    UndeleteActionPlanItemCall call) {
  r_->items().Undelete(std::move(call));
}

// Treaties -------------------------------------------------------------------

void LegislationHandler::GetTreaty(GetTreatyCall call) {
  r_->treaties().Get(std::move(call));
}
void LegislationHandler::ListTreaties(ListTreatiesCall call) {
  r_->treaties().List(std::move(call));
}
void LegislationHandler::CreateTreaty(CreateTreatyCall call) {
  r_->treaties().Create(std::move(call));
}
void LegislationHandler::UpdateTreaty(UpdateTreatyCall call) {
  r_->treaties().Update(std::move(call));
}
void LegislationHandler::DeleteTreaty(DeleteTreatyCall call) {
  r_->treaties().Delete(std::move(call));
}

void LegislationHandler::UndeleteTreaty(UndeleteTreatyCall call) {
  r_->treaties().Undelete(std::move(call));
}

// The treaty and its ratification records, read in one transaction.
void LegislationHandler::GetTreatyRatificationProgress(
    GetTreatyRatificationProgressCall call) {
  // The treaty's singleton: `treaties/{treaty}/ratificationProgress`.
  constexpr absl::string_view kSingleton = "/ratificationProgress";
  const std::string& name = call.request().name();
  if (!absl::EndsWith(name, kSingleton) ||
      !common::ValidName(name.substr(0, name.size() - kSingleton.size()),
                         {"treaties"})) {
    return call.Finish(common::InvalidArgument(
        "INVALID_NAME", {{"name", absl::StrCat("`", name,
                                               "` is not `treaties/{treaty}/"
                                               "ratificationProgress`")}}));
  }
  const std::string treaty = name.substr(0, name.size() - kSingleton.size());
  struct Read {
    v1::Treaty treaty;
    RepeatedPtrField<v1::Ratification> records;
  };
  auto read = std::make_unique<Read>();
  Read* rd = read.get();
  const absl::Time deadline = call.deadline();
  r_->db()->ReadAsync(
      deadline,
      [this, treaty, rd](SqlTransaction& tx) -> absl::Status {
        if (auto s = r_->treaties().store().Get(tx, treaty, false, &rd->treaty);
            !s.ok())
          return s;
        common::ListQuery q;
        q.parent = treaty;
        q.page_size = kMaxRatificationsPerTreaty;
        return r_->ratifications()
            .store()
            .List(tx, q, [rd] { return rd->records.Add(); })
            .status();
      },
      [this, treaty, read = std::move(read),
       call = std::move(call)](absl::Status s) mutable {
        if (!s.ok()) return call.Finish(std::move(s));
        std::vector<const v1::Ratification*> records;
        for (v1::Ratification& r : read->records) {
          r_->ratifications().Compute(&r, 0);
          records.push_back(&r);
        }
        FillRatificationProgress(treaty, read->treaty, records,
                                 call.response());
        call.Finish(absl::OkStatus());
      });
}

// Ratifications --------------------------------------------------------------
// A ratification's state is the last ID of its name (computed, not stored).

void LegislationHandler::GetRatification(GetRatificationCall call) {
  r_->ratifications().Get(std::move(call));
}
void LegislationHandler::ListRatifications(ListRatificationsCall call) {
  r_->ratifications().List(std::move(call));
}

// Only a party of the treaty ratifies it (NOT_A_PARTY otherwise), checked in
// the write's transaction.
void LegislationHandler::CreateRatification(CreateRatificationCall call) {
  common::WriteHooks<v1::Ratification> hooks;
  hooks.check = [this](SqlTransaction& tx,
                       const v1::Ratification& r) -> absl::Status {
    const std::string parent = common::ResourceStore::ParentOf(r.name());
    const std::string state =
        absl::StrCat("states/", r.name().substr(r.name().rfind('/') + 1));
    v1::Treaty treaty;
    if (auto s = r_->treaties().store().Get(tx, parent, false, &treaty);
        !s.ok())
      return s;
    for (const std::string& p : treaty.parties())
      if (p == state) return absl::OkStatus();
    return common::InvalidArgument(
        "NOT_A_PARTY",
        {{"ratification_id",
          absl::StrCat(state, " is not a party of ", parent, " (parties: ",
                       treaty.parties().empty()
                           ? std::string("none recorded")
                           : absl::StrJoin(treaty.parties(), ", "),
                       "); add it to the treaty's parties first")}});
  };
  r_->ratifications().Create(std::move(call), std::move(hooks));
}

void LegislationHandler::UpdateRatification(UpdateRatificationCall call) {
  r_->ratifications().Update(std::move(call));
}

void LegislationHandler::DeleteRatification(DeleteRatificationCall call) {
  common::WriteHooks<v1::Ratification> hooks;
  hooks.complete = [this](SqlTransaction&, v1::Ratification* r) {
    r_->ratifications().Compute(r, 0);
    return absl::OkStatus();
  };
  r_->ratifications().Delete(std::move(call), std::move(hooks));
}

void LegislationHandler::UndeleteRatification(UndeleteRatificationCall call) {
  r_->ratifications().Undelete(std::move(call));
}

// Implementations ------------------------------------------------------------

void LegislationHandler::GetImplementation(GetImplementationCall call) {
  r_->implementations().Get(std::move(call));
}
void LegislationHandler::ListImplementations(ListImplementationsCall call) {
  r_->implementations().List(std::move(call));
}
void LegislationHandler::CreateImplementation(CreateImplementationCall call) {
  r_->implementations().Create(std::move(call));
}
void LegislationHandler::UpdateImplementation(UpdateImplementationCall call) {
  r_->implementations().Update(std::move(call));
}
void LegislationHandler::DeleteImplementation(DeleteImplementationCall call) {
  r_->implementations().Delete(std::move(call));
}

void LegislationHandler::UndeleteImplementation(
    UndeleteImplementationCall call) {
  r_->implementations().Undelete(std::move(call));
}

// Stated figures -------------------------------------------------------------
// What sources state, kept apart from the stored records: nothing here
// counts documents or makes any.

void LegislationHandler::GetStatedFigure(GetStatedFigureCall call) {
  r_->stated_figures().Get(std::move(call));
}
void LegislationHandler::ListStatedFigures(ListStatedFiguresCall call) {
  r_->stated_figures().List(std::move(call));
}
void LegislationHandler::CreateStatedFigure(CreateStatedFigureCall call) {
  r_->stated_figures().Create(std::move(call));
}
void LegislationHandler::UpdateStatedFigure(UpdateStatedFigureCall call) {
  r_->stated_figures().Update(std::move(call));
}
void LegislationHandler::DeleteStatedFigure(DeleteStatedFigureCall call) {
  r_->stated_figures().Delete(std::move(call));
}
void LegislationHandler::UndeleteStatedFigure(UndeleteStatedFigureCall call) {
  r_->stated_figures().Undelete(std::move(call));
}

// Summaries ------------------------------------------------------------------
// Each is read in one transaction (one snapshot of every record it shows) on
// the store's threads, a few statements (legislation_resources.h), and the
// call is finished from its completion; nothing waits on a gRPC thread.

// The treaties that list the state as a party, its ratification of each
// (treaties/{treaty}/ratifications/{state id}, read by name), and its
// implementations with their documents' titles.
void LegislationHandler::SummarizeStateLegislation(
    SummarizeStateLegislationCall call) {
  const v1::SummarizeStateLegislationRequest& req = call.request();
  if (auto s = common::CheckRequestName("state", req.state(), {"states"});
      !s.ok())
    return call.Finish(std::move(s));
  // Summaries are kept in the read cache as Gets and Lists are.
  common::ReadCache& cache = r_->db()->read_cache();
  common::ReadCache::Slot slot;
  if (common::FinishFromCache(cache, common::RequestKey(req), call, &slot))
    return;
  v1::StateLegislationSummary* out = call.response();
  out->set_state(req.state());
  const absl::Time deadline = call.deadline();
  r_->db()->ReadAsync(
      deadline,
      [this, &req, out](SqlTransaction& tx) -> absl::Status {
        RepeatedPtrField<v1::Treaty> treaties;
        if (auto s = r_->ReadTreaties(tx, req.state(), &treaties); !s.ok())
          return s;
        const std::string suffix = absl::StrCat(
            "/ratifications/", req.state().substr(req.state().find('/') + 1));
        std::vector<std::string> names;
        names.reserve(treaties.size());
        for (const v1::Treaty& t : treaties) names.push_back(t.name() + suffix);
        RepeatedPtrField<v1::Ratification> records;
        if (auto s = r_->ReadRatifications(tx, &names, &records); !s.ok())
          return s;
        std::map<std::string, const v1::Ratification*> by_name;
        for (const v1::Ratification& r : records) by_name[r.name()] = &r;
        for (int i = 0; i < treaties.size(); ++i) {
          v1::Treaty& t = treaties[i];
          v1::TreatyParticipation* p = out->add_treaties();
          p->set_treaty(t.name());
          *p->mutable_title() = std::move(*t.mutable_title());
          if (t.has_signing_date())
            *p->mutable_signing_date() = t.signing_date();
          auto it = by_name.find(names[i]);
          FillPartyStatus(req.state(),
                          it == by_name.end() ? nullptr : it->second,
                          p->mutable_party());
        }
        return r_->ReadImplementations(tx, req.state(),
                                       out->mutable_implementations());
      },
      FinishKeptWith(cache, std::move(slot), std::move(call)));
}

// Adoptions counted by the database; plans with their progress as
// GetActionPlan computes it; each treaty's progress as
// GetTreatyRatificationProgress computes it; the stated figures as stored,
// beside the counts and never added to them.
void LegislationHandler::SummarizeLegislation(SummarizeLegislationCall call) {
  common::ReadCache& cache = r_->db()->read_cache();
  common::ReadCache::Slot slot;
  if (common::FinishFromCache(cache, common::RequestKey(call.request()), call,
                              &slot))
    return;
  v1::LegislationSummary* out = call.response();
  const absl::Time deadline = call.deadline();
  r_->db()->ReadAsync(
      deadline,
      [this, out](SqlTransaction& tx) -> absl::Status {
        if (auto s = r_->CountAdoptions(tx, out->mutable_adoptions()); !s.ok())
          return s;
        RepeatedPtrField<v1::ActionPlan> plans;
        if (auto s = r_->ReadActionPlans(tx, &plans); !s.ok()) return s;
        for (v1::ActionPlan& plan : plans) {
          v1::PlanSummary* p = out->add_action_plans();
          p->set_action_plan(plan.name());
          *p->mutable_title() = std::move(*plan.mutable_title());
          if (plan.has_period())
            *p->mutable_period() = std::move(*plan.mutable_period());
          *p->mutable_progress() = std::move(*plan.mutable_progress());
        }
        RepeatedPtrField<v1::Treaty> treaties;
        if (auto s = r_->ReadTreaties(tx, "", &treaties); !s.ok()) return s;
        RepeatedPtrField<v1::Ratification> records;
        if (auto s = r_->ReadRatifications(tx, nullptr, &records); !s.ok())
          return s;
        std::map<std::string, std::vector<const v1::Ratification*>> by_treaty;
        for (const v1::Ratification& r : records)
          by_treaty[common::ResourceStore::ParentOf(r.name())].push_back(&r);
        for (v1::Treaty& treaty : treaties) {
          v1::TreatySummary* t = out->add_treaties();
          FillRatificationProgress(treaty.name(), treaty,
                                   by_treaty[treaty.name()],
                                   t->mutable_progress());
          *t->mutable_title() = std::move(*treaty.mutable_title());
          if (treaty.has_signing_date())
            *t->mutable_signing_date() = treaty.signing_date();
        }
        return r_->ReadStatedFigures(tx, out->mutable_stated_figures());
      },
      FinishKeptWith(cache, std::move(slot), std::move(call)));
}

// Seed -----------------------------------------------------------------------

absl::Status LegislationHandler::LoadSeed(const std::string& text) {
  seed::LegislationSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid LegislationSeed in text format");
  // Documents: the history is the seed's; stage, adoption date and the first
  // revision follow from it. Computed fields in the file are not data.
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
  // Referenced before referring: topics, documents, plans first.
  absl::Status s = r_->topics().Seed(seed.topics(), "topics");
  if (s.ok()) s = r_->documents().Seed(seed.documents(), "documents");
  if (s.ok()) s = r_->action_plans().Seed(seed.action_plans(), "action_plans");
  if (s.ok())
    s = r_->items().Seed(seed.action_plan_items(), "action_plan_items");
  if (s.ok()) s = r_->treaties().Seed(seed.treaties(), "treaties");
  if (s.ok())
    s = r_->ratifications().Seed(seed.ratifications(), "ratifications");
  if (s.ok())
    s = r_->implementations().Seed(seed.implementations(), "implementations");
  if (s.ok())
    s = r_->stated_figures().Seed(seed.stated_figures(), "stated_figures");
  r_->feed().Notify();  // the inserts were logged: watchers see them now
  return s;
}

// Watch ----------------------------------------------------------------------

void LegislationHandler::WatchLegislation(WatchLegislationCall call) {
  const v1::WatchLegislationRequest& req = call.request();
  auto filter = common::MakeChangeFilter(req.collections(), req.name(),
                                         WatchedCollections());
  common::ServeWatch(&r_->feed(), r_->db(), std::move(call),
                     FillWatchLegislationResponse, std::move(filter));
}

void LegislationHandler::ExportLegislation(ExportLegislationCall call) {
  common::ServeExport(&r_->set(), &r_->feed(), &exports_, std::move(call));
}

void LegislationHandler::ImportLegislation(ImportLegislationCall call) {
  common::ServeImport(&r_->set(), std::move(call));
}

void LegislationHandler::Search(SearchCall call) {
  r_->set().search_index().Serve(std::move(call));
}

void LegislationHandler::BeginDrain() {
  common::DrainWatches(&r_->feed());
  exports_.StopAll();
}

void FillWatchLegislationResponse(const common::Change& change,
                                  const std::string& token,
                                  v1::WatchLegislationResponse* out) {
  // The record goes in the oneof member of its collection.
  common::FillWatchResponse(change, token, out);
  if (out->has_ratification()) {
    // As RatificationDecl computes it, from the name alone.
    out->mutable_ratification()->set_state(absl::StrCat(
        "states/", change.name.substr(change.name.rfind('/') + 1)));
  }
}

common::ServiceDefinition LegislationService() {
  common::ServiceDefinition def;
  def.name = "legislation";
  def.grpc_service_name = "cstopa.legislation.v1.LegislationService";
  def.default_port = 50052;
  def.default_admin_port = 9052;
  def.schema = LegislationSchema();
  def.builtin_seed = kLegislationSeed;
  def.extra_flags.push_back(
      {kSearchCacheFlag, "CSTOPA_SEARCH_CACHE_MS", "2000",
       "how long a search ranking may be reused, in milliseconds: writes "
       "through this replica drop it at once, writes through another show in "
       "search after at most this long; 0 turns the cache off",
       [](const std::string& v) -> absl::Status {
         int64_t ms = 0;
         if (!absl::SimpleAtoi(v, &ms) || ms < 0 || ms > 600000)
           return absl::InvalidArgumentError(
               "must be a whole number of milliseconds from 0 to 600000");
         return absl::OkStatus();
       }});
  def.create = [](const common::ServiceContext& ctx)
      -> absl::StatusOr<std::unique_ptr<common::ServiceInstance>> {
    return std::make_unique<
        common::HandlerInstance<LegislationResources, LegislationHandler>>(
        ctx, &v1::NewLegislationServiceGrpc, CacheOptions(ctx.flags));
  };
  return def;
}

}  // namespace cstopa::legislation
