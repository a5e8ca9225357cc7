#include "services/common/query/validation.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/api/field_behavior.pb.h"
#include "services/common/base/dates.h"

namespace cstopa::common {

using cstopa::type::v1::DateRange;
using cstopa::type::v1::LocalizedText;
using cstopa::type::v1::Provenance;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::RepeatedPtrField;

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

const char kIdRule[] =
    "must be 1-63 characters of a-z, 0-9 and '-', start with a letter and "
    "not end with '-'";

bool ValidName(absl::string_view name,
               absl::Span<const absl::string_view> collections) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 2 * collections.size()) return false;
  size_t i = 0;
  for (absl::string_view c : collections) {
    if (parts[i] != c || !ValidId(parts[i + 1])) return false;
    i += 2;
  }
  return true;
}

std::string NamePattern(absl::Span<const absl::string_view> collections) {
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

absl::Status CheckRequestName(const std::string& field, const std::string& name,
                              absl::Span<const absl::string_view> collections) {
  Violations v;
  CheckName(v, field, name, collections, true);
  return v.ToStatus("INVALID_NAME");
}

void CheckName(Violations& v, const std::string& field, const std::string& name,
               absl::Span<const absl::string_view> collections, bool required) {
  if (name.empty()) {
    if (required)
      v.Add(field,
            absl::StrCat("is required (", NamePattern(collections), ")"));
    return;
  }
  if (!ValidName(name, collections)) {
    v.Add(field,
          absl::StrCat("`", name, "` is not a resource name of the form ",
                       NamePattern(collections), "; IDs ", kIdRule));
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
  // What is known of an unstated start or end: only where it is unstated.
  const struct {
    bool set;
    const char* name;
    const google::type::Date& date;
    bool stated;  // the end it stands for is stated too
    const char* stated_name;
  } bounds[] = {
      {r.has_known_from(), "known_from", r.known_from(), r.has_start_date(),
       "start_date"},
      {r.has_start_after(), "start_after", r.start_after(), r.has_start_date(),
       "start_date"},
      {r.has_known_until(), "known_until", r.known_until(), r.has_end_date(),
       "end_date"},
      {r.has_ended_by(), "ended_by", r.ended_by(), r.has_end_date(),
       "end_date"},
  };
  for (const auto& b : bounds) {
    if (!b.set) continue;
    const std::string f = absl::StrCat(field, ".", b.name);
    CheckDate(v, f, b.date);
    if (b.stated)
      v.Add(f, absl::StrCat("is only for a range whose ", b.stated_name,
                            " is not stated; this one has ", b.stated_name));
  }
  if (v.size() != before) return;
  if (r.has_start_date() && r.has_end_date() &&
      EarliestDay(r.start_date(), true) > LatestDay(r.end_date(), true)) {
    v.Add(field + ".end_date", "ends before the start date");
    return;
  }
  // The bounds must leave a day the fact could have held on, and the days
  // it is known to hold must lie within those.
  const int64_t first_possible = EarliestPossibleDay(r);
  const int64_t last_possible = LatestPossibleDay(r);
  if (first_possible > last_possible) {
    v.Add(field, "leaves no day on which the fact could have held");
    return;
  }
  if (r.has_known_from() && !r.has_start_date() &&
      FirstDayHeld(r) < first_possible)
    v.Add(field + ".known_from", "is on or before start_after");
  if (r.has_known_until() && !r.has_end_date() &&
      LastDayHeld(r) > last_possible)
    v.Add(field + ".known_until", "is after ended_by");
  if (r.has_known_from() && r.has_known_until() && !r.has_start_date() &&
      !r.has_end_date() && FirstDayHeld(r) > LastDayHeld(r))
    v.Add(field + ".known_until", "is before known_from");
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

void CheckSourcedProvenance(Violations& v, const std::string& field,
                            const RepeatedPtrField<Provenance>& ps,
                            const std::string& what) {
  if (ps.empty())
    v.Add(field, absl::StrCat("is required: ", what,
                              " (at least one entry with its `source`)"));
  for (int i = 0; i < ps.size(); ++i)
    if (ps[i].source().empty())
      v.Add(absl::StrCat(field, "[", i, "].source"),
            absl::StrCat("is required: ", what));
  CheckProvenance(v, field, ps);
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

bool IsOutputOnly(const FieldDescriptor* f) {
  for (int b : f->options().GetRepeatedExtension(google::api::field_behavior))
    if (b == google::api::OUTPUT_ONLY) return true;
  return false;
}

bool IsWritable(const FieldDescriptor* f) {
  return f->name() != "name" && f->name() != "etag" && !IsOutputOnly(f);
}

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
    const Message& prototype, const google::protobuf::FieldMask& mask) {
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

}  // namespace cstopa::common
