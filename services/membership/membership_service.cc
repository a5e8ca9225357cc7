#include "services/membership/membership_service.h"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/api/field_behavior.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/field_mask_util.h"
#include "membership/seed/membership_seed.pb.h"
#include "services/common/errors.h"

namespace cstopa::membership {
namespace {

using common::FieldViolation;
using common::ResourceStore;
using cstopa::type::v1::DateRange;
using cstopa::type::v1::LocalizedText;
using cstopa::type::v1::Provenance;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::RepeatedPtrField;

constexpr int kMaxBatch = 1000;
constexpr size_t kMaxTextLength = 4000;
constexpr int kMaxRepeated = 500;

// ---------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------

class Violations {
 public:
  void Add(std::string field, std::string description) {
    v_.push_back({std::move(field), std::move(description)});
  }
  bool empty() const { return v_.empty(); }
  size_t size() const { return v_.size(); }
  absl::Status ToStatus(absl::string_view reason = "INVALID_ARGUMENT") {
    if (v_.empty()) return absl::OkStatus();
    return common::InvalidArgument(reason, std::move(v_));
  }

 private:
  std::vector<FieldViolation> v_;
};

bool ValidId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  if (!absl::ascii_islower(id.front())) return false;
  if (id.back() == '-') return false;
  for (char c : id) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-')
      return false;
  }
  return true;
}

constexpr char kIdRule[] =
    "must be 1-63 characters of a-z, 0-9 and '-', start with a letter and "
    "not end with '-'";

// A resource name of the given shape: {"states"} or {"parliaments",
// "delegations"}. `allow_dash` permits "-" as the last parent ID (List of all
// parents).
bool ValidName(absl::string_view name,
               std::initializer_list<absl::string_view> collections) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 2 * collections.size()) return false;
  size_t i = 0;
  for (absl::string_view c : collections) {
    if (parts[i] != c || !ValidId(parts[i + 1])) return false;
    i += 2;
  }
  return true;
}

std::string Pattern(std::initializer_list<absl::string_view> collections) {
  std::vector<std::string> parts;
  for (absl::string_view c : collections) {
    std::string singular(c);
    if (absl::EndsWith(singular, "ies"))
      singular = singular.substr(0, singular.size() - 3) + "y";
    else if (absl::EndsWith(singular, "s"))
      singular.pop_back();
    parts.push_back(absl::StrCat(c, "/{", singular, "}"));
  }
  return absl::StrJoin(parts, "/");
}

void CheckName(Violations& v, const std::string& field, const std::string& name,
               std::initializer_list<absl::string_view> collections,
               bool required) {
  if (name.empty()) {
    if (required)
      v.Add(field, absl::StrCat("is required (", Pattern(collections), ")"));
    return;
  }
  if (!ValidName(name, collections)) {
    v.Add(field,
          absl::StrCat("`", name, "` is not a resource name of the form ",
                       Pattern(collections), "; IDs ", kIdRule));
  }
}

bool ValidLanguageCode(absl::string_view code) {
  std::vector<absl::string_view> parts = absl::StrSplit(code, '-');
  if (parts.empty() || parts[0].size() < 2 || parts[0].size() > 3) return false;
  for (absl::string_view p : parts) {
    if (p.empty() || p.size() > 8) return false;
    for (char c : p)
      if (!absl::ascii_isalnum(c)) return false;
  }
  for (char c : parts[0])
    if (!absl::ascii_isalpha(c)) return false;
  return true;
}

void CheckCount(Violations& v, const std::string& field, int count) {
  if (count > kMaxRepeated)
    v.Add(field,
          absl::StrCat("has ", count, " entries; at most ", kMaxRepeated));
}

void CheckTexts(Violations& v, const std::string& field,
                const RepeatedPtrField<LocalizedText>& texts, bool required) {
  if (texts.empty() && required) {
    v.Add(field, "needs at least one entry {language_code, text}");
  }
  CheckCount(v, field, texts.size());
  for (int i = 0; i < texts.size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    if (!ValidLanguageCode(texts[i].language_code()))
      v.Add(f + ".language_code",
            absl::StrCat("`", texts[i].language_code(),
                         "` is not a BCP 47 language tag such as en or ru"));
    if (absl::StripAsciiWhitespace(texts[i].text()).empty())
      v.Add(f + ".text", "must not be empty");
    if (texts[i].text().size() > kMaxTextLength)
      v.Add(f + ".text",
            absl::StrCat("is longer than ", kMaxTextLength, " bytes"));
  }
}

void CheckDate(Violations& v, const std::string& field,
               const google::type::Date& d) {
  if (d.year() < 1 || d.year() > 9999) {
    v.Add(field + ".year", "must be 1-9999");
    return;
  }
  if (d.month() < 0 || d.month() > 12) {
    v.Add(field + ".month", "must be 1-12, or 0 for a year alone");
    return;
  }
  if (d.day() != 0) {
    if (d.month() == 0) {
      v.Add(field + ".day", "a day needs a month");
      return;
    }
    int last = static_cast<int>(LatestDay(
                                    [&] {
                                      google::type::Date m;
                                      m.set_year(d.year());
                                      m.set_month(d.month());
                                      return m;
                                    }(),
                                    true) %
                                100);
    if (d.day() < 1 || d.day() > last)
      v.Add(field + ".day", absl::StrCat("must be 1-", last, " for ", d.year(),
                                         "-", d.month()));
  }
}

void CheckRange(Violations& v, const std::string& field, const DateRange& r) {
  size_t before = v.size();
  if (r.has_start_date()) CheckDate(v, field + ".start_date", r.start_date());
  if (r.has_end_date()) CheckDate(v, field + ".end_date", r.end_date());
  if (v.size() == before && r.has_start_date() && r.has_end_date() &&
      EarliestDay(r.start_date(), true) > LatestDay(r.end_date(), true)) {
    v.Add(field + ".end_date", "ends before the start date");
  }
}

void CheckEnum(Violations& v, const std::string& field,
               const google::protobuf::EnumDescriptor* e, int value,
               bool required) {
  if (e->FindValueByNumber(value) == nullptr) {
    v.Add(field, absl::StrCat(value, " is not a known ", e->name(), " value"));
  } else if (required && value == 0) {
    v.Add(field,
          absl::StrCat("is required: one of the ", e->name(),
                       " values other than ", e->FindValueByNumber(0)->name()));
  }
}

void CheckProvenance(Violations& v, const std::string& field,
                     const RepeatedPtrField<Provenance>& ps) {
  CheckCount(v, field, ps.size());
  for (int i = 0; i < ps.size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    if (ps[i].source().size() > 500) v.Add(f + ".source", "is too long");
    if (ps[i].note().size() > kMaxTextLength) v.Add(f + ".note", "is too long");
    if (ps[i].has_source_date())
      CheckDate(v, f + ".source_date", ps[i].source_date());
  }
}

void CheckRegionCode(Violations& v, const std::string& field,
                     const std::string& code) {
  if (code.empty()) return;
  if (code.size() != 2 || !absl::ascii_isupper(code[0]) ||
      !absl::ascii_isupper(code[1]))
    v.Add(field,
          absl::StrCat("`", code,
                       "` is not an ISO 3166-1 alpha-2 code such as KZ"));
}

void CheckUri(Violations& v, const std::string& field, const std::string& uri) {
  if (uri.empty()) return;
  if (!absl::StartsWith(uri, "https://") && !absl::StartsWith(uri, "http://"))
    v.Add(field, "must be an http(s) URI");
  if (uri.size() > 2000) v.Add(field, "is too long");
}

void CheckChamberId(Violations& v, const std::string& field,
                    const std::string& id) {
  if (!id.empty() && !ValidId(id))
    v.Add(field, absl::StrCat("`", id, "` ", kIdRule));
}

// References to other membership resources, checked for existence after the
// shape checks pass.
using Refs = std::vector<std::pair<std::string, std::string>>;

// Per-resource validation of the writable content. `p` prefixes field paths
// (e.g. "state.").
void Validate(const v1::State& s, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", s.display_name(), true);
  CheckRegionCode(v, p + "region_code", s.region_code());
  CheckCount(v, p + "status_history", s.status_history_size());
  CheckCount(v, p + "chairmanships", s.chairmanships_size());
  for (int i = 0; i < s.status_history_size(); ++i) {
    std::string f = absl::StrCat(p, "status_history[", i, "]");
    CheckEnum(v, f + ".status", v1::MembershipStatus_descriptor(),
              s.status_history(i).status(), true);
    CheckRange(v, f + ".period", s.status_history(i).period());
    CheckProvenance(v, f + ".provenance", s.status_history(i).provenance());
  }
  for (int i = 0; i < s.chairmanships_size(); ++i) {
    std::string f = absl::StrCat(p, "chairmanships[", i, "]");
    CheckName(v, f + ".body", s.chairmanships(i).body(), {"bodies"}, true);
    refs.push_back({f + ".body", s.chairmanships(i).body()});
    CheckRange(v, f + ".period", s.chairmanships(i).period());
    CheckProvenance(v, f + ".provenance", s.chairmanships(i).provenance());
  }
  CheckProvenance(v, p + "provenance", s.provenance());
}

void Validate(const v1::Parliament& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckName(v, p + "state", r.state(), {"states"}, true);
  refs.push_back({p + "state", r.state()});
  CheckCount(v, p + "chambers", r.chambers_size());
  std::map<std::string, int> seen;
  for (int i = 0; i < r.chambers_size(); ++i) {
    std::string f = absl::StrCat(p, "chambers[", i, "]");
    if (r.chambers(i).chamber_id().empty())
      v.Add(f + ".chamber_id", "is required");
    CheckChamberId(v, f + ".chamber_id", r.chambers(i).chamber_id());
    if (++seen[r.chambers(i).chamber_id()] == 2)
      v.Add(f + ".chamber_id", "is used by two chambers");
    CheckTexts(v, f + ".display_name", r.chambers(i).display_name(), true);
    CheckUri(v, f + ".website_uri", r.chambers(i).website_uri());
  }
  CheckUri(v, p + "website_uri", r.website_uri());
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Delegation& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckName(v, p + "assembly", r.assembly(), {"bodies"}, true);
  refs.push_back({p + "assembly", r.assembly()});
  CheckCount(v, p + "seat_allocations", r.seat_allocations_size());
  for (int i = 0; i < r.seat_allocations_size(); ++i) {
    std::string f = absl::StrCat(p, "seat_allocations[", i, "]");
    const auto& a = r.seat_allocations(i);
    CheckChamberId(v, f + ".chamber_id", a.chamber_id());
    if (a.seats() < 0) v.Add(f + ".seats", "must not be negative");
    if (a.seats() > 100000) v.Add(f + ".seats", "is implausibly large");
    CheckRange(v, f + ".period", a.period());
    CheckProvenance(v, f + ".provenance", a.provenance());
  }
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Person& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckName(v, p + "state", r.state(), {"states"}, false);
  refs.push_back({p + "state", r.state()});
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Role& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckName(v, p + "person", r.person(), {"persons"}, false);
  refs.push_back({p + "person", r.person()});
  if (r.organization().empty()) {
    v.Add(p + "organization",
          "is required: bodies/{body}, parliaments/{parliament} or "
          "parliaments/{parliament}/delegations/{delegation}");
  } else if (!ValidName(r.organization(), {"bodies"}) &&
             !ValidName(r.organization(), {"parliaments"}) &&
             !ValidName(r.organization(), {"parliaments", "delegations"})) {
    v.Add(p + "organization",
          absl::StrCat("`", r.organization(),
                       "` is not bodies/{body}, parliaments/{parliament} or "
                       "parliaments/{parliament}/delegations/{delegation}"));
  }
  refs.push_back({p + "organization", r.organization()});
  CheckChamberId(v, p + "chamber_id", r.chamber_id());
  CheckEnum(v, p + "role_type", v1::RoleType_descriptor(), r.role_type(), true);
  CheckTexts(v, p + "title", r.title(), false);
  CheckRange(v, p + "period", r.period());
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Body& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckTexts(v, p + "abbreviation", r.abbreviation(), false);
  CheckEnum(v, p + "kind", v1::BodyKind_descriptor(), r.kind(), true);
  CheckName(v, p + "parent_body", r.parent_body(), {"bodies"}, false);
  refs.push_back({p + "parent_body", r.parent_body()});
  CheckCount(v, p + "mandate", r.mandate_size());
  for (int i = 0; i < r.mandate_size(); ++i)
    CheckTexts(v, absl::StrCat(p, "mandate[", i, "].text"), r.mandate(i).text(),
               true);
  CheckProvenance(v, p + "provenance", r.provenance());
}

void Validate(const v1::Partner& r, const std::string& p, Violations& v,
              Refs& refs) {
  CheckTexts(v, p + "display_name", r.display_name(), true);
  CheckEnum(v, p + "kind", v1::PartnerKind_descriptor(), r.kind(), false);
  CheckEnum(v, p + "organization_type", v1::OrganizationType_descriptor(),
            r.organization_type(), false);
  CheckRegionCode(v, p + "region_code", r.region_code());
  CheckRange(v, p + "period", r.period());
  CheckProvenance(v, p + "provenance", r.provenance());
}

// ---------------------------------------------------------------------------
// Field behaviour and masks
// ---------------------------------------------------------------------------

bool IsOutputOnly(const FieldDescriptor* f) {
  for (int b : f->options().GetRepeatedExtension(google::api::field_behavior))
    if (b == google::api::OUTPUT_ONLY) return true;
  return false;
}

// Fields a client may write: everything but the name, etag and OUTPUT_ONLY.
bool IsWritable(const FieldDescriptor* f) {
  return f->name() != "name" && f->name() != "etag" && !IsOutputOnly(f);
}

// Clears OUTPUT_ONLY fields that are computed on read (not the timestamps,
// which the store keeps).
void ClearComputed(Message* m) {
  const auto* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (IsOutputOnly(f) && !absl::EndsWith(f->name(), "_time"))
      m->GetReflection()->ClearField(m, f);
  }
}

void ClearOutputOnly(Message* m) {
  const auto* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i)
    if (IsOutputOnly(d->field(i)))
      m->GetReflection()->ClearField(m, d->field(i));
}

absl::StatusOr<google::protobuf::FieldMask> EffectiveMask(
    const Message& prototype, const google::protobuf::FieldMask& mask,
    const std::string& resource_field) {
  const auto* d = prototype.GetDescriptor();
  const auto* r = prototype.GetReflection();
  google::protobuf::FieldMask out;
  if (mask.paths_size() == 0) {
    // AIP-134: no mask means the fields the request populates.
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      bool populated = f->is_repeated() ? r->FieldSize(prototype, f) > 0
                                        : r->HasField(prototype, f);
      if (IsWritable(f) && populated) out.add_paths(f->name());
    }
    return out;
  }
  Violations v;
  for (const std::string& path : mask.paths()) {
    if (path == "*") {  // full replacement of every writable field
      google::protobuf::FieldMask all;
      for (int i = 0; i < d->field_count(); ++i)
        if (IsWritable(d->field(i))) all.add_paths(d->field(i)->name());
      return all;
    }
    const FieldDescriptor* f = d->FindFieldByName(path);
    if (f == nullptr) {
      v.Add("update_mask",
            absl::StrCat("`", path, "` is not a field of ", d->name(),
                         " (only top-level fields can be named)"));
    } else if (!IsWritable(f)) {
      v.Add("update_mask", absl::StrCat("`", path,
                                        "` cannot be written (output only or "
                                        "identity)"));
    } else {
      out.add_paths(path);
    }
  }
  if (!v.empty()) return v.ToStatus("INVALID_UPDATE_MASK");
  return out;
}

// ---------------------------------------------------------------------------
// Computed ("as of") output fields
// ---------------------------------------------------------------------------

// Binds page tokens to the `as_of` a list was asked for (unset is "today",
// which a token keeps meaning).
std::string AsOfFingerprint(const google::type::Date& d, bool present) {
  return present ? absl::StrCat("as_of=", EarliestDay(d, true)) : "as_of=";
}

google::type::Date DayToDate(int64_t day) {
  google::type::Date d;
  d.set_year(static_cast<int32_t>(day / 10000));
  d.set_month(static_cast<int32_t>(day / 100 % 100));
  d.set_day(static_cast<int32_t>(day % 100));
  return d;
}

void Compute(v1::State* s, int64_t day) {
  int64_t best_start = -1;
  v1::MembershipStatus status = v1::MEMBERSHIP_STATUS_UNSPECIFIED;
  for (const auto& p : s->status_history()) {
    if (!RangeHolds(p.period(), day)) continue;
    int64_t start =
        EarliestDay(p.period().start_date(), p.period().has_start_date());
    if (start > best_start) {
      best_start = start;
      status = p.status();
    }
  }
  s->set_current_status(status);
}

void Compute(v1::Delegation* d, int64_t day) {
  std::map<std::string, std::pair<int64_t, const v1::SeatAllocation*>> best;
  for (const auto& a : d->seat_allocations()) {
    if (!RangeHolds(a.period(), day)) continue;
    int64_t start =
        EarliestDay(a.period().start_date(), a.period().has_start_date());
    auto it = best.find(a.chamber_id());
    if (it == best.end() || start > it->second.first)
      best[a.chamber_id()] = {start, &a};
  }
  d->clear_effective_seats();
  int64_t total = 0;
  for (const auto& [chamber, entry] : best) {
    *d->add_effective_seats() = *entry.second;
    total += entry.second->seats();
  }
  d->set_total_seats(static_cast<int32_t>(
      std::min<int64_t>(total, std::numeric_limits<int32_t>::max())));
  *d->mutable_as_of_date() = DayToDate(day);
}

template <typename T>
void Compute(T*, int64_t) {}

// ---------------------------------------------------------------------------
// Generic standard methods
// ---------------------------------------------------------------------------

template <typename T>
absl::Status GetOne(absl::Time deadline, ResourceStore& store,
                    const std::string& name,
                    std::initializer_list<absl::string_view> shape, T* out,
                    int64_t day) {
  Violations v;
  CheckName(v, "name", name, shape, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  if (auto s = store.Get(name, false, out, deadline); !s.ok()) return s;
  Compute(out, day);
  return absl::OkStatus();
}

template <typename Req, typename T>
absl::Status ListMany(absl::Time deadline, ResourceStore& store, const Req& req,
                      const std::string& parent, RepeatedPtrField<T>* out,
                      std::string* next, int64_t day,
                      common::ListQuery q = {}) {
  q.parent = parent;
  q.filter = req.filter();
  q.order_by = req.order_by();
  q.page_token = req.page_token();
  q.page_size = req.page_size();
  q.show_deleted = req.show_deleted();
  auto token = store.List(
      q, [out]() { return out->Add(); }, deadline);
  if (!token.ok()) return token.status();
  *next = *token;
  for (T& t : *out) Compute(&t, day);
  return absl::OkStatus();
}

template <typename Req>
absl::StatusOr<std::string> ListEncodedMany(absl::Time deadline,
                                            ResourceStore& store,
                                            const Req& req,
                                            const std::string& parent,
                                            common::ListQuery q = {}) {
  q.parent = parent;
  q.filter = req.filter();
  q.order_by = req.order_by();
  q.page_token = req.page_token();
  q.page_size = req.page_size();
  q.show_deleted = req.show_deleted();
  std::string out;
  auto token = store.ListEncoded(q, /*field_number=*/1, &out, deadline);
  if (!token.ok()) return token.status();
  if (!token->empty()) {  // next_page_token = 2
    out.push_back(static_cast<char>((2 << 3) | 2));
    ResourceStore::AppendVarint(token->size(), &out);
    out += *token;
  }
  return out;
}

template <typename Resp>
absl::Status Decode(const absl::StatusOr<std::string>& encoded, Resp* resp) {
  if (!encoded.ok()) return encoded.status();
  if (!resp->ParseFromString(*encoded))
    return absl::InternalError("could not decode an encoded list");
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// MembershipHandler
// ---------------------------------------------------------------------------

MembershipHandler::MembershipHandler(MembershipStore* store,
                                     const common::ApiKeyStore* keys,
                                     std::function<int64_t()> today)
    : store_(store), keys_(keys), today_(std::move(today)) {
  if (!today_) {
    today_ = [] {
      absl::CivilDay d = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
      return d.year() * 10000 + d.month() * 100 + d.day();
    };
  }
}

absl::Status MembershipHandler::RequireRole(const Caller& caller,
                                            common::Role role) const {
  std::optional<absl::string_view> auth;
  if (caller.authorization) auth = *caller.authorization;
  return common::Authorize(*keys_, auth, role).status();
}

absl::StatusOr<int64_t> MembershipHandler::AsOfDay(
    const google::type::Date& as_of, bool present, const char* field) const {
  if (!present) return today_();
  if (as_of.year() == 0 || as_of.month() == 0 || as_of.day() == 0) {
    return common::InvalidArgument(field,
                                   "must be a full date (year, month and day)");
  }
  Violations v;
  CheckDate(v, field, as_of);
  if (auto s = v.ToStatus(); !s.ok()) return s;
  return EarliestDay(as_of, true);
}

absl::Status MembershipHandler::CheckReferences(const Refs& refs) {
  Violations v;
  for (const auto& [field, name] : refs) {
    if (name.empty()) continue;
    auto exists = store_->Exists(name);
    if (!exists.ok()) return exists.status();
    if (!*exists)
      v.Add(field, absl::StrCat("refers to ", name, ", which does not exist"));
  }
  return v.ToStatus("UNKNOWN_REFERENCE");
}

namespace {

// Create/Update/Delete shared by every resource type.
template <typename T>
absl::Status CreateOne(absl::Time deadline, ResourceStore& store,
                       const std::string& name, const std::string& id_field,
                       const std::string& id, const std::string& body_field,
                       const T& body,
                       const std::function<absl::Status(const Refs&)>& check,
                       T* out) {
  Violations v;
  if (!ValidId(id)) {
    v.Add(id_field, id.empty() ? std::string("is required")
                               : absl::StrCat("`", id, "` ", kIdRule));
  }
  Refs refs;
  Validate(body, body_field + ".", v, refs);
  if (auto s = v.ToStatus(); !s.ok()) return s;
  *out = body;
  out->DiscardUnknownFields();
  ClearOutputOnly(out);
  out->set_etag("");
  out->set_name(name);
  return store.Create(
      out, [&] { return check(refs); }, deadline);
}

template <typename T>
absl::Status UpdateOne(absl::Time deadline, ResourceStore& store,
                       const T& patch, const google::protobuf::FieldMask& mask,
                       const std::string& body_field,
                       std::initializer_list<absl::string_view> shape,
                       const std::function<absl::Status(const Refs&)>& check,
                       T* out) {
  Violations v;
  CheckName(v, body_field + ".name", patch.name(), shape, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  auto effective = EffectiveMask(patch, mask, body_field);
  if (!effective.ok()) return effective.status();
  google::protobuf::util::FieldMaskUtil::MergeOptions opts;
  opts.set_replace_message_fields(true);
  opts.set_replace_repeated_fields(true);
  return store.Update(
      patch.name(), patch.etag(),
      [&](Message* m) -> absl::Status {
        T* current = static_cast<T*>(m);
        // References the resource already had may point at resources
        // deleted since; only new ones must exist.
        Violations ignored;
        Refs before;
        Validate(*current, body_field + ".", ignored, before);
        T clean = patch;
        clean.DiscardUnknownFields();
        google::protobuf::util::FieldMaskUtil::MergeMessageTo(clean, *effective,
                                                              opts, current);
        ClearComputed(current);
        Violations after;
        Refs refs, added;
        Validate(*current, body_field + ".", after, refs);
        if (auto s = after.ToStatus(); !s.ok()) return s;
        for (const auto& ref : refs) {
          bool had = false;
          for (const auto& old : before) had |= old.second == ref.second;
          if (!had) added.push_back(ref);
        }
        return check(added);
      },
      out, deadline);
}

template <typename T>
absl::Status DeleteOne(absl::Time deadline, ResourceStore& store,
                       const std::string& name, const std::string& etag,
                       std::initializer_list<absl::string_view> shape, T* out) {
  Violations v;
  CheckName(v, "name", name, shape, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  return store.Delete(name, etag, out, deadline);
}

template <typename T>
absl::Status BatchGetMany(absl::Time deadline, ResourceStore& store,
                          const RepeatedPtrField<std::string>& names,
                          std::initializer_list<absl::string_view> shape,
                          RepeatedPtrField<T>* out, int64_t day) {
  Violations v;
  if (names.empty()) v.Add("names", "needs at least one name");
  if (names.size() > kMaxBatch)
    v.Add("names", absl::StrCat("at most ", kMaxBatch, " names per call"));
  for (int i = 0; i < names.size() && i < kMaxBatch; ++i)
    CheckName(v, absl::StrCat("names[", i, "]"), names[i], shape, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  std::vector<std::string> list(names.begin(), names.end());
  if (auto s = store.BatchGet(
          list, [out]() { return out->Add(); }, deadline);
      !s.ok())
    return s;
  for (T& t : *out) Compute(&t, day);
  return absl::OkStatus();
}

}  // namespace

#define CSTOPA_REFS_CHECK [this](const Refs& r) { return CheckReferences(r); }

// States ---------------------------------------------------------------------

absl::Status MembershipHandler::GetState(const Caller& c,
                                         const v1::GetStateRequest& req,
                                         v1::State* resp) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return day.status();
  return GetOne(c.deadline, store_->states(), req.name(), {"states"}, resp,
                *day);
}

absl::Status MembershipHandler::BatchGetStates(
    const Caller& c, const v1::BatchGetStatesRequest& req,
    v1::BatchGetStatesResponse* resp) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return day.status();
  return BatchGetMany(c.deadline, store_->states(), req.names(), {"states"},
                      resp->mutable_states(), *day);
}

absl::Status MembershipHandler::ListStates(const Caller& c,
                                           const v1::ListStatesRequest& req,
                                           v1::ListStatesResponse* resp) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return day.status();
  common::ListQuery q;
  q.extra_fingerprint = AsOfFingerprint(req.as_of(), req.has_as_of());
  return ListMany(c.deadline, store_->states(), req, "", resp->mutable_states(),
                  resp->mutable_next_page_token(), *day, std::move(q));
}

absl::Status MembershipHandler::CreateState(const Caller& c,
                                            const v1::CreateStateRequest& req,
                                            v1::State* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s = CreateOne(c.deadline, store_->states(),
                         "states/" + req.state_id(), "state_id", req.state_id(),
                         "state", req.state(), CSTOPA_REFS_CHECK, resp);
      !s.ok())
    return s;
  Compute(resp, today_());
  return absl::OkStatus();
}

absl::Status MembershipHandler::UpdateState(const Caller& c,
                                            const v1::UpdateStateRequest& req,
                                            v1::State* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s = UpdateOne(c.deadline, store_->states(), req.state(),
                         req.update_mask(), "state", {"states"},
                         CSTOPA_REFS_CHECK, resp);
      !s.ok())
    return s;
  Compute(resp, today_());
  return absl::OkStatus();
}

absl::Status MembershipHandler::DeleteState(const Caller& c,
                                            const v1::DeleteStateRequest& req,
                                            v1::State* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return DeleteOne(c.deadline, store_->states(), req.name(), req.etag(),
                   {"states"}, resp);
}

// Parliaments ----------------------------------------------------------------

absl::Status MembershipHandler::GetParliament(
    const Caller& c, const v1::GetParliamentRequest& req,
    v1::Parliament* resp) {
  return GetOne(c.deadline, store_->parliaments(), req.name(), {"parliaments"},
                resp, 0);
}

absl::Status MembershipHandler::ListParliaments(
    const Caller& c, const v1::ListParliamentsRequest& req,
    v1::ListParliamentsResponse* resp) {
  return Decode(ListParliamentsEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListParliamentsEncoded(
    const Caller& c, const v1::ListParliamentsRequest& req) {
  return ListEncodedMany(c.deadline, store_->parliaments(), req, "");
}

absl::Status MembershipHandler::CreateParliament(
    const Caller& c, const v1::CreateParliamentRequest& req,
    v1::Parliament* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return CreateOne(c.deadline, store_->parliaments(),
                   "parliaments/" + req.parliament_id(), "parliament_id",
                   req.parliament_id(), "parliament", req.parliament(),
                   CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdateParliament(
    const Caller& c, const v1::UpdateParliamentRequest& req,
    v1::Parliament* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return UpdateOne(c.deadline, store_->parliaments(), req.parliament(),
                   req.update_mask(), "parliament", {"parliaments"},
                   CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeleteParliament(
    const Caller& c, const v1::DeleteParliamentRequest& req,
    v1::Parliament* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return DeleteOne(c.deadline, store_->parliaments(), req.name(), req.etag(),
                   {"parliaments"}, resp);
}

// Delegations ----------------------------------------------------------------

absl::Status MembershipHandler::GetDelegation(
    const Caller& c, const v1::GetDelegationRequest& req,
    v1::Delegation* resp) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return day.status();
  return GetOne(c.deadline, store_->delegations(), req.name(),
                {"parliaments", "delegations"}, resp, *day);
}

absl::Status MembershipHandler::ListDelegations(
    const Caller& c, const v1::ListDelegationsRequest& req,
    v1::ListDelegationsResponse* resp) {
  auto day = AsOfDay(req.as_of(), req.has_as_of(), "as_of");
  if (!day.ok()) return day.status();
  if (req.parent() != "parliaments/-") {
    Violations v;
    CheckName(v, "parent", req.parent(), {"parliaments"}, true);
    if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  }
  common::ListQuery q;
  q.extra_fingerprint = AsOfFingerprint(req.as_of(), req.has_as_of());
  return ListMany(c.deadline, store_->delegations(), req, req.parent(),
                  resp->mutable_delegations(), resp->mutable_next_page_token(),
                  *day, std::move(q));
}

absl::Status MembershipHandler::CreateDelegation(
    const Caller& c, const v1::CreateDelegationRequest& req,
    v1::Delegation* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  Violations v;
  CheckName(v, "parent", req.parent(), {"parliaments"}, true);
  if (auto s = v.ToStatus("INVALID_NAME"); !s.ok()) return s;
  auto parent = store_->Exists(req.parent());
  if (!parent.ok()) return parent.status();
  if (!*parent) return common::NotFound(req.parent());
  if (auto s = CreateOne(c.deadline, store_->delegations(),
                         req.parent() + "/delegations/" + req.delegation_id(),
                         "delegation_id", req.delegation_id(), "delegation",
                         req.delegation(), CSTOPA_REFS_CHECK, resp);
      !s.ok())
    return s;
  Compute(resp, today_());
  return absl::OkStatus();
}

absl::Status MembershipHandler::UpdateDelegation(
    const Caller& c, const v1::UpdateDelegationRequest& req,
    v1::Delegation* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  if (auto s =
          UpdateOne(c.deadline, store_->delegations(), req.delegation(),
                    req.update_mask(), "delegation",
                    {"parliaments", "delegations"}, CSTOPA_REFS_CHECK, resp);
      !s.ok())
    return s;
  Compute(resp, today_());
  return absl::OkStatus();
}

absl::Status MembershipHandler::DeleteDelegation(
    const Caller& c, const v1::DeleteDelegationRequest& req,
    v1::Delegation* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return DeleteOne(c.deadline, store_->delegations(), req.name(), req.etag(),
                   {"parliaments", "delegations"}, resp);
}

// Persons --------------------------------------------------------------------

absl::Status MembershipHandler::GetPerson(const Caller& c,
                                          const v1::GetPersonRequest& req,
                                          v1::Person* resp) {
  return GetOne(c.deadline, store_->persons(), req.name(), {"persons"}, resp,
                0);
}

absl::Status MembershipHandler::BatchGetPersons(
    const Caller& c, const v1::BatchGetPersonsRequest& req,
    v1::BatchGetPersonsResponse* resp) {
  return BatchGetMany(c.deadline, store_->persons(), req.names(), {"persons"},
                      resp->mutable_persons(), 0);
}

absl::Status MembershipHandler::ListPersons(const Caller& c,
                                            const v1::ListPersonsRequest& req,
                                            v1::ListPersonsResponse* resp) {
  return Decode(ListPersonsEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListPersonsEncoded(
    const Caller& c, const v1::ListPersonsRequest& req) {
  return ListEncodedMany(c.deadline, store_->persons(), req, "");
}

absl::Status MembershipHandler::CreatePerson(const Caller& c,
                                             const v1::CreatePersonRequest& req,
                                             v1::Person* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return CreateOne(c.deadline, store_->persons(), "persons/" + req.person_id(),
                   "person_id", req.person_id(), "person", req.person(),
                   CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdatePerson(const Caller& c,
                                             const v1::UpdatePersonRequest& req,
                                             v1::Person* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return UpdateOne(c.deadline, store_->persons(), req.person(),
                   req.update_mask(), "person", {"persons"}, CSTOPA_REFS_CHECK,
                   resp);
}

absl::Status MembershipHandler::DeletePerson(const Caller& c,
                                             const v1::DeletePersonRequest& req,
                                             v1::Person* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return DeleteOne(c.deadline, store_->persons(), req.name(), req.etag(),
                   {"persons"}, resp);
}

// Roles ----------------------------------------------------------------------

absl::Status MembershipHandler::GetRole(const Caller& c,
                                        const v1::GetRoleRequest& req,
                                        v1::Role* resp) {
  return GetOne(c.deadline, store_->roles(), req.name(), {"roles"}, resp, 0);
}

absl::Status MembershipHandler::ListRoles(const Caller& c,
                                          const v1::ListRolesRequest& req,
                                          v1::ListRolesResponse* resp) {
  return Decode(ListRolesEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListRolesEncoded(
    const Caller& c, const v1::ListRolesRequest& req) {
  common::ListQuery q;
  if (req.has_as_of()) {
    auto day = AsOfDay(req.as_of(), true, "as_of");
    if (!day.ok()) return day.status();
    q.extra_sql = "start_date <= ? AND end_date >= ?";
    q.extra_params = {*day, *day};
    q.extra_fingerprint = absl::StrCat("as_of=", *day);
  }
  return ListEncodedMany(c.deadline, store_->roles(), req, "", std::move(q));
}

absl::Status MembershipHandler::CreateRole(const Caller& c,
                                           const v1::CreateRoleRequest& req,
                                           v1::Role* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return CreateOne(c.deadline, store_->roles(), "roles/" + req.role_id(),
                   "role_id", req.role_id(), "role", req.role(),
                   CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdateRole(const Caller& c,
                                           const v1::UpdateRoleRequest& req,
                                           v1::Role* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return UpdateOne(c.deadline, store_->roles(), req.role(), req.update_mask(),
                   "role", {"roles"}, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeleteRole(const Caller& c,
                                           const v1::DeleteRoleRequest& req,
                                           v1::Role* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return DeleteOne(c.deadline, store_->roles(), req.name(), req.etag(),
                   {"roles"}, resp);
}

// Bodies ---------------------------------------------------------------------

absl::Status MembershipHandler::GetBody(const Caller& c,
                                        const v1::GetBodyRequest& req,
                                        v1::Body* resp) {
  return GetOne(c.deadline, store_->bodies(), req.name(), {"bodies"}, resp, 0);
}

absl::Status MembershipHandler::ListBodies(const Caller& c,
                                           const v1::ListBodiesRequest& req,
                                           v1::ListBodiesResponse* resp) {
  return Decode(ListBodiesEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListBodiesEncoded(
    const Caller& c, const v1::ListBodiesRequest& req) {
  return ListEncodedMany(c.deadline, store_->bodies(), req, "");
}

absl::Status MembershipHandler::CreateBody(const Caller& c,
                                           const v1::CreateBodyRequest& req,
                                           v1::Body* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return CreateOne(c.deadline, store_->bodies(), "bodies/" + req.body_id(),
                   "body_id", req.body_id(), "body", req.body(),
                   CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdateBody(const Caller& c,
                                           const v1::UpdateBodyRequest& req,
                                           v1::Body* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return UpdateOne(c.deadline, store_->bodies(), req.body(), req.update_mask(),
                   "body", {"bodies"}, CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeleteBody(const Caller& c,
                                           const v1::DeleteBodyRequest& req,
                                           v1::Body* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return DeleteOne(c.deadline, store_->bodies(), req.name(), req.etag(),
                   {"bodies"}, resp);
}

// Partners -------------------------------------------------------------------

absl::Status MembershipHandler::GetPartner(const Caller& c,
                                           const v1::GetPartnerRequest& req,
                                           v1::Partner* resp) {
  return GetOne(c.deadline, store_->partners(), req.name(), {"partners"}, resp,
                0);
}

absl::Status MembershipHandler::ListPartners(const Caller& c,
                                             const v1::ListPartnersRequest& req,
                                             v1::ListPartnersResponse* resp) {
  return Decode(ListPartnersEncoded(c, req), resp);
}

absl::StatusOr<std::string> MembershipHandler::ListPartnersEncoded(
    const Caller& c, const v1::ListPartnersRequest& req) {
  return ListEncodedMany(c.deadline, store_->partners(), req, "");
}

absl::Status MembershipHandler::CreatePartner(
    const Caller& c, const v1::CreatePartnerRequest& req, v1::Partner* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return CreateOne(c.deadline, store_->partners(),
                   "partners/" + req.partner_id(), "partner_id",
                   req.partner_id(), "partner", req.partner(),
                   CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::UpdatePartner(
    const Caller& c, const v1::UpdatePartnerRequest& req, v1::Partner* resp) {
  if (auto s = RequireRole(c, common::Role::kEditor); !s.ok()) return s;
  return UpdateOne(c.deadline, store_->partners(), req.partner(),
                   req.update_mask(), "partner", {"partners"},
                   CSTOPA_REFS_CHECK, resp);
}

absl::Status MembershipHandler::DeletePartner(
    const Caller& c, const v1::DeletePartnerRequest& req, v1::Partner* resp) {
  if (auto s = RequireRole(c, common::Role::kAdmin); !s.ok()) return s;
  return DeleteOne(c.deadline, store_->partners(), req.name(), req.etag(),
                   {"partners"}, resp);
}

#undef CSTOPA_REFS_CHECK

// Seed -----------------------------------------------------------------------

namespace {

template <typename T>
absl::Status SeedOne(ResourceStore& store, const RepeatedPtrField<T>& items,
                     const char* field,
                     std::initializer_list<absl::string_view> shape) {
  Violations v;
  std::vector<const Message*> list;
  for (int i = 0; i < items.size(); ++i) {
    std::string f = absl::StrCat(field, "[", i, "]");
    CheckName(v, f + ".name", items[i].name(), shape, true);
    Refs ignored;
    Validate(items[i], f + ".", v, ignored);
    list.push_back(&items[i]);
  }
  if (auto s = v.ToStatus("INVALID_SEED"); !s.ok()) return s;
  return store.InsertMissing(list).status();
}

}  // namespace

absl::Status MembershipHandler::LoadSeed(const std::string& text) {
  seed::MembershipSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid "
        "MembershipSeed in text format");
  for (auto& r : *seed.mutable_states()) ClearOutputOnly(&r);
  for (auto& r : *seed.mutable_delegations()) ClearOutputOnly(&r);
  if (auto s = SeedOne(store_->states(), seed.states(), "states", {"states"});
      !s.ok())
    return s;
  if (auto s = SeedOne(store_->bodies(), seed.bodies(), "bodies", {"bodies"});
      !s.ok())
    return s;
  if (auto s = SeedOne(store_->parliaments(), seed.parliaments(), "parliaments",
                       {"parliaments"});
      !s.ok())
    return s;
  if (auto s = SeedOne(store_->delegations(), seed.delegations(), "delegations",
                       {"parliaments", "delegations"});
      !s.ok())
    return s;
  if (auto s =
          SeedOne(store_->persons(), seed.persons(), "persons", {"persons"});
      !s.ok())
    return s;
  if (auto s = SeedOne(store_->roles(), seed.roles(), "roles", {"roles"});
      !s.ok())
    return s;
  return SeedOne(store_->partners(), seed.partners(), "partners", {"partners"});
}

// ---------------------------------------------------------------------------
// gRPC wiring
// ---------------------------------------------------------------------------

namespace {

Caller CallerOf(grpc::CallbackServerContext* ctx) {
  Caller c;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it != md.end())
    c.authorization.emplace(it->second.data(), it->second.size());
  c.deadline = absl::FromChrono(ctx->deadline());
  return c;
}

bool ParseRequest(const grpc::ByteBuffer* buffer,
                  google::protobuf::Message* out) {
  std::vector<grpc::Slice> slices;
  if (!buffer->Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out->ParseFromString(bytes);
}

}  // namespace

MembershipGrpcService::MembershipGrpcService(MembershipHandler* handler)
    : handler_(handler) {
#define CSTOPA_MEMBERSHIP_SET_ALLOCATOR(Method, Request, Response) \
  SetMessageAllocatorFor_##Method(&Method##_allocator_);
  CSTOPA_MEMBERSHIP_TYPED_METHODS(CSTOPA_MEMBERSHIP_SET_ALLOCATOR)
#undef CSTOPA_MEMBERSHIP_SET_ALLOCATOR
}

#define CSTOPA_MEMBERSHIP_RPC(Method, Request, Response)            \
  grpc::ServerUnaryReactor* MembershipGrpcService::Method(          \
      grpc::CallbackServerContext* ctx, const v1::Request* request, \
      v1::Response* response) {                                     \
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();      \
    reactor->Finish(common::ToGrpcStatus(                           \
        handler_->Method(CallerOf(ctx), *request, response)));      \
    return reactor;                                                 \
  }
CSTOPA_MEMBERSHIP_TYPED_METHODS(CSTOPA_MEMBERSHIP_RPC)
#undef CSTOPA_MEMBERSHIP_RPC

#define CSTOPA_MEMBERSHIP_RAW_RPC(Method, Request, Response)                 \
  grpc::ServerUnaryReactor* MembershipGrpcService::Method(                   \
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,     \
      grpc::ByteBuffer* response) {                                          \
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();               \
    v1::Request decoded;                                                     \
    if (!ParseRequest(request, &decoded)) {                                  \
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,       \
                                   "the request is not a valid " #Request)); \
      return reactor;                                                        \
    }                                                                        \
    absl::StatusOr<std::string> encoded =                                    \
        handler_->Method##Encoded(CallerOf(ctx), decoded);                   \
    if (encoded.ok()) {                                                      \
      grpc::Slice slice(*encoded);                                           \
      *response = grpc::ByteBuffer(&slice, 1);                               \
    }                                                                        \
    reactor->Finish(common::ToGrpcStatus(encoded.status()));                 \
    return reactor;                                                          \
  }
CSTOPA_MEMBERSHIP_RAW_LISTS(CSTOPA_MEMBERSHIP_RAW_RPC)
#undef CSTOPA_MEMBERSHIP_RAW_RPC

}  // namespace cstopa::membership
