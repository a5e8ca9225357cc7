#include "cli/commands.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/http_client.h"
#include "cli/table.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "services/common/base/gzip.h"

namespace cstopa::cli {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Value;

constexpr char kBold[] = "\x1b[1m";
constexpr char kPlain[] = "\x1b[0m";

// ---------------------------------------------------------------------------
// Reading protobuf JSON

const Value& NullValue() {
  static const Value* const kNull = new Value();
  return *kNull;
}

const ListValue& EmptyList() {
  static const ListValue* const kEmpty = new ListValue();
  return *kEmpty;
}

// v[key], or null when v is not an object or has no such key.
const Value& F(const Value& v, absl::string_view key) {
  if (v.kind_case() != Value::kStructValue) return NullValue();
  const auto& fields = v.struct_value().fields();
  auto it = fields.find(std::string(key));
  return it == fields.end() ? NullValue() : it->second;
}

const ListValue& L(const Value& v) {
  return v.kind_case() == Value::kListValue ? v.list_value() : EmptyList();
}

std::string Number(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(d));
  }
  return absl::StrCat(d);
}

// A scalar as text: strings as they are, numbers without ".0", booleans as
// "yes" / "no"; "" for null, objects and lists.
std::string S(const Value& v) {
  switch (v.kind_case()) {
    case Value::kStringValue:
      return v.string_value();
    case Value::kNumberValue:
      return Number(v.number_value());
    case Value::kBoolValue:
      return v.bool_value() ? "yes" : "no";
    default:
      return "";
  }
}

int64_t I(const Value& v) {
  if (v.kind_case() == Value::kNumberValue) {
    return static_cast<int64_t>(v.number_value());
  }
  int64_t n = 0;
  if (v.kind_case() == Value::kStringValue &&
      absl::SimpleAtoi(v.string_value(), &n)) {
    return n;
  }
  return 0;
}

bool B(const Value& v) {
  return v.kind_case() == Value::kBoolValue && v.bool_value();
}

// The last segment of a resource name: "states/kz" -> "kz".
std::string Id(absl::string_view name) {
  size_t slash = name.rfind('/');
  return std::string(slash == absl::string_view::npos ? name
                                                      : name.substr(slash + 1));
}

// An enum value's name without its prefix, in lower case with spaces:
// ("DOCUMENT_KIND_MODEL_LAW", "DOCUMENT_KIND_") -> "model law".
std::string Enum(const Value& v, absl::string_view prefix) {
  std::string name = S(v);
  absl::string_view rest = name;
  absl::ConsumePrefix(&rest, prefix);
  if (rest == "UNSPECIFIED") return "";
  std::string out = absl::AsciiStrToLower(rest);
  for (char& c : out) {
    if (c == '_') c = ' ';
  }
  return out;
}

// A google.type.Date, full or partial: "2022-05-01", "2022-05", "2022".
std::string Date(const Value& date) {
  int64_t year = I(F(date, "year"));
  int64_t month = I(F(date, "month"));
  int64_t day = I(F(date, "day"));
  if (year == 0) return "";
  std::string out = absl::StrCat(year);
  if (month > 0) absl::StrAppend(&out, month < 10 ? "-0" : "-", month);
  if (month > 0 && day > 0) absl::StrAppend(&out, day < 10 ? "-0" : "-", day);
  return out;
}

// A cstopa.type.v1.DateRange: "2020-01-01 – 2021", "2020 –", "– 2021".
std::string Period(const Value& range) {
  // What the sources say of an unstated start or end (cstopa.type.v1.
  // DateRange): "known from 2022", "after 2025-08-29", "ended by 2024".
  std::string start = Date(F(range, "startDate"));
  std::string end = Date(F(range, "endDate"));
  const std::string known_from = Date(F(range, "knownFrom"));
  const std::string start_after = Date(F(range, "startAfter"));
  const std::string known_until = Date(F(range, "knownUntil"));
  const std::string ended_by = Date(F(range, "endedBy"));
  if (start.empty() && !known_from.empty()) {
    start = "known from " + known_from;
  } else if (start.empty() && !start_after.empty()) {
    start = "after " + start_after;
  }
  if (end.empty() && !ended_by.empty()) {
    end = "ended by " + ended_by;
  } else if (end.empty() && !known_until.empty() && known_until != known_from) {
    end = "known until " + known_until;
  }
  if (start.empty() && end.empty()) return "";
  if (end.empty()) {
    return known_from.empty() && start_after.empty() ? start + " \xE2\x80\x93"
                                                     : start;
  }
  if (start.empty()) return "\xE2\x80\x93 " + end;
  return start + " \xE2\x80\x93 " + end;
}

// Whether an AsOfKnowledge field says the sources do not tell.
bool NotKnown(const Value& knowledge) {
  return S(knowledge) == "AS_OF_KNOWLEDGE_NOT_KNOWN";
}

// A Timestamp's date, "2022-05-01".
std::string Day(const Value& timestamp) { return S(timestamp).substr(0, 10); }

// A Timestamp to the second: "2022-05-01T10:00:00Z".
std::string Second(const Value& timestamp) {
  std::string t = S(timestamp);
  size_t dot = t.find('.');
  if (dot != std::string::npos) t = t.substr(0, dot) + "Z";
  return t;
}

// The text of a repeated LocalizedText in `lang` (exact, then by language
// prefix), else English, else the first.
std::string Text(const Value& texts, absl::string_view lang) {
  const ListValue& list = L(texts);
  const Value* english = nullptr;
  const Value* prefix = nullptr;
  for (const Value& t : list.values()) {
    std::string code = S(F(t, "languageCode"));
    if (code == lang) return S(F(t, "text"));
    if (prefix == nullptr && absl::StartsWith(code, lang)) prefix = &t;
    if (english == nullptr && absl::StartsWith(code, "en")) english = &t;
  }
  if (prefix != nullptr) return S(F(*prefix, "text"));
  if (english != nullptr) return S(F(*english, "text"));
  if (list.values_size() > 0) return S(F(list.values(0), "text"));
  return "";
}

// The text in `lang` only ("" when absent).
std::string TextExactly(const Value& texts, absl::string_view lang) {
  for (const Value& t : L(texts).values()) {
    if (absl::StartsWith(S(F(t, "languageCode")), lang)) {
      return S(F(t, "text"));
    }
  }
  return "";
}

// The view's `references`: resource name -> display names.
std::map<std::string, const Value*> References(const Value& view) {
  std::map<std::string, const Value*> refs;
  for (const Value& r : L(F(view, "references")).values()) {
    refs[S(F(r, "name"))] = &F(r, "displayName");
  }
  return refs;
}

absl::StatusCode CodeNamed(absl::string_view name) {
  for (int i = 0; i <= 16; ++i) {
    auto code = static_cast<absl::StatusCode>(i);
    if (absl::StatusCodeToString(code) == name) return code;
  }
  return absl::StatusCode::kUnknown;
}

absl::StatusCode CodeOfHttp(long status) {
  switch (status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAborted;
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 499:
      return absl::StatusCode::kCancelled;
    case 501:
      return absl::StatusCode::kUnimplemented;
    case 503:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return status >= 500 ? absl::StatusCode::kInternal
                           : absl::StatusCode::kUnknown;
  }
}

// The error an `{"error": {...}}` object stands for.
absl::Status ErrorOf(const Value& error, long http_status) {
  std::string status_name = S(F(error, "status"));
  absl::StatusCode code =
      status_name.empty() ? CodeOfHttp(http_status) : CodeNamed(status_name);
  if (code == absl::StatusCode::kOk) code = absl::StatusCode::kUnknown;
  std::string message = S(F(error, "message"));
  if (message.empty()) message = absl::StrCat("HTTP ", http_status);
  return absl::Status(code, OneLine(message));
}

// A status with more words after its message, its payloads kept.
absl::Status WithSuffix(const absl::Status& status, absl::string_view more) {
  absl::Status out(status.code(), absl::StrCat(status.message(), more));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

absl::Status CheckDate(const std::string& date) {
  if (date.empty()) return absl::OkStatus();
  std::vector<std::string> parts = absl::StrSplit(date, '-');
  int y = 0, m = 0, d = 0;
  if (parts.size() != 3 || parts[0].size() != 4 || parts[1].size() != 2 ||
      parts[2].size() != 2 || !absl::SimpleAtoi(parts[0], &y) ||
      !absl::SimpleAtoi(parts[1], &m) || !absl::SimpleAtoi(parts[2], &d) ||
      m < 1 || m > 12 || d < 1 || d > 31) {
    return UsageError(
        absl::StrCat("--as-of: \"", date, "\" is not a date YYYY-MM-DD"));
  }
  return absl::OkStatus();
}

// "?a=1&b=2" from the pairs whose value is not empty.
std::string Query(
    const std::vector<std::pair<std::string, std::string>>& params) {
  std::string query;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    absl::StrAppend(&query, query.empty() ? "?" : "&", key, "=",
                    HttpClient::Escape(value));
  }
  return query;
}

// "kz" or "states/kz" -> "kz"; a usage error for anything with more
// slashes or characters a resource ID does not have.
absl::StatusOr<std::string> ResourceId(const std::string& arg,
                                       absl::string_view collection) {
  absl::string_view id = arg;
  absl::ConsumePrefix(&id, absl::StrCat(collection, "/"));
  absl::ConsumeSuffix(&id, "/profile");
  bool ok = !id.empty();
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_' && c != '.') {
      ok = false;
    }
  }
  if (!ok) {
    return UsageError(absl::StrCat("\"", arg, "\" is not a ",
                                   collection == "states"
                                       ? "state ID (e.g. kz)"
                                       : "person ID (e.g. viktor-rogalev)"));
  }
  return std::string(id);
}

// ---------------------------------------------------------------------------
// Sections of a view

struct SectionState {
  bool complete = true;
  std::string why;  // "events: DEADLINE_EXCEEDED: ..." when not complete
};

std::map<std::string, SectionState> Sections(const Value& view) {
  std::map<std::string, SectionState> sections;
  for (const Value& s : L(F(view, "sections")).values()) {
    SectionState state;
    state.complete = B(F(s, "complete"));
    if (!state.complete) {
      const Value& status = F(s, "status");
      auto code = static_cast<absl::StatusCode>(I(F(status, "code")));
      std::string service = S(F(s, "service"));
      state.why = absl::StrCat(service.empty() ? "" : service + " service: ",
                               absl::StatusCodeToString(code));
      std::string message = S(F(status, "message"));
      if (!message.empty()) absl::StrAppend(&state.why, ": ", message);
    }
    sections[S(F(s, "section"))] = state;
  }
  return sections;
}

// ---------------------------------------------------------------------------
// Printing

class Printer {
 public:
  Printer(const Output& output, const Value& view, std::string lang)
      : output_(output),
        sections_(Sections(view)),
        refs_(References(view)),
        lang_(std::move(lang)) {}

  std::ostream& out() { return *output_.out; }
  const std::string& lang() const { return lang_; }

  void Heading(absl::string_view title) {
    out() << "\n"
          << (output_.tty ? kBold : "") << title << (output_.tty ? kPlain : "")
          << "\n";
  }

  void Line(absl::string_view text) {
    out() << TruncateToWidth(OneLine(text), output_.width) << "\n";
  }

  // A section's table under its heading; when the section is incomplete,
  // why instead of the table.
  void Section(absl::string_view title, absl::string_view section,
               const Table& table) {
    Heading(title);
    auto it = sections_.find(std::string(section));
    if (it != sections_.end() && !it->second.complete) {
      Line(absl::StrCat("  (missing: ", it->second.why, ")"));
      return;
    }
    if (table.empty()) {
      out() << "  (none)\n";
      return;
    }
    out() << table.Render(output_.width);
  }

  bool Complete(absl::string_view section) const {
    auto it = sections_.find(std::string(section));
    return it == sections_.end() || it->second.complete;
  }

  // A referenced resource's display name, else its ID.
  std::string Ref(const std::string& name) const {
    auto it = refs_.find(name);
    if (it != refs_.end()) {
      std::string text = Text(*it->second, lang_);
      if (!text.empty()) return text;
    }
    return Id(name);
  }

  std::string T(const Value& texts) const { return Text(texts, lang_); }

 private:
  const Output& output_;
  std::map<std::string, SectionState> sections_;
  std::map<std::string, const Value*> refs_;
  std::string lang_;
};

// The place of an event: "Москва, ru".
std::string Place(const Printer& p, const Value& place) {
  std::string locality = p.T(F(place, "locality"));
  std::string state = S(F(place, "state"));
  std::string region = S(F(place, "regionCode"));
  std::string where = state.empty() ? region : p.Ref(state);
  if (locality.empty()) return where;
  if (where.empty()) return locality;
  return absl::StrCat(locality, ", ", where);
}

std::string EventDate(const Value& event) {
  std::string day = Day(F(event, "startTime"));
  if (!day.empty()) return day;
  return Date(F(F(event, "dates"), "startDate"));
}

Table EventsTable(const Printer& p, const Value& events) {
  Table t({"DATE", "KIND", "TITLE", "PLACE"});
  for (const Value& e : L(events).values()) {
    t.AddRow({EventDate(e), Enum(F(e, "kind"), "EVENT_KIND_"),
              p.T(F(e, "title")), Place(p, F(e, "place"))});
  }
  return t;
}

std::string MissionDates(const Value& mission) {
  std::vector<std::string> dates;
  for (const Value& d : L(F(mission, "electionDates")).values()) {
    dates.push_back(Date(d));
  }
  if (!dates.empty()) return absl::StrJoin(dates, ", ");
  return Period(F(mission, "period"));
}

std::string RoleName(const Printer& p, const Value& role) {
  std::string title = p.T(F(role, "title"));
  if (!title.empty()) return title;
  return Enum(F(role, "roleType"), "ROLE_TYPE_");
}

// Since when the current status holds: its start ("2022-01"), or where no
// source states one, the first source attesting it ("known from 2022-01").
std::string StatusSince(const Value& state) {
  const std::string current = S(F(state, "currentStatus"));
  std::string since;
  for (const Value& period : L(F(state, "statusHistory")).values()) {
    if (S(F(period, "status")) != current) continue;
    std::string start = Date(F(F(period, "period"), "startDate"));
    const std::string known = Date(F(F(period, "period"), "knownFrom"));
    if (start.empty() && !known.empty()) start = "known from " + known;
    if (!start.empty()) since = start;
  }
  return since;
}

// The resource types a search finds, for --type's case-insensitive match.
constexpr const char* kSearchTypes[] = {
    "ActionPlan", "Body",      "Delegation", "Document",  "Event",
    "Mission",    "Operation", "Parliament", "Partner",   "Person",
    "State",      "Topic",     "Treaty",     "FieldVisit"};

constexpr char kTypePrefix[] = "cstopa.org/";

// "cstopa.org/Person" -> "Person".
std::string ShortType(absl::string_view type) {
  absl::ConsumePrefix(&type, kTypePrefix);
  return std::string(type);
}

// --type's value as a resource type: "person" or "Person" ->
// "cstopa.org/Person"; a full type ("cstopa.org/Person") as it is.
absl::StatusOr<std::string> SearchType(const std::string& arg) {
  bool ok = !arg.empty();
  for (char c : arg) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '/') {
      ok = false;
    }
  }
  if (!ok) {
    return UsageError(absl::StrCat("--type: \"", arg,
                                   "\" is not a resource type, e.g. Person "
                                   "or cstopa.org/Document"));
  }
  if (arg.find('/') != std::string::npos) return arg;
  for (const char* known : kSearchTypes) {
    if (absl::EqualsIgnoreCase(arg, known)) {
      return absl::StrCat(kTypePrefix, known);
    }
  }
  std::string type = arg;
  type[0] = absl::ascii_toupper(static_cast<unsigned char>(type[0]));
  return absl::StrCat(kTypePrefix, type);
}

// `filter` AND one of `types`: "(F) AND (type = "cstopa.org/Person" OR
// ...)"; `filter` alone without types.
absl::StatusOr<std::string> SearchFilter(
    const std::string& filter, const std::vector<std::string>& types) {
  std::vector<std::string> terms;
  for (const std::string& arg : types) {
    absl::StatusOr<std::string> type = SearchType(arg);
    if (!type.ok()) return type.status();
    terms.push_back(absl::StrCat("type = \"", *type, "\""));
  }
  if (terms.empty()) return filter;
  std::string by_type = absl::StrJoin(terms, " OR ");
  if (terms.size() > 1 && !absl::StripAsciiWhitespace(filter).empty()) {
    by_type = absl::StrCat("(", by_type, ")");
  }
  if (absl::StripAsciiWhitespace(filter).empty()) return by_type;
  return absl::StrCat("(", filter, ") AND ", by_type);
}

}  // namespace

// ---------------------------------------------------------------------------
// Free functions

absl::StatusOr<Value> ParseJson(absl::string_view text) {
  Value value;
  auto status =
      google::protobuf::util::JsonStringToMessage(std::string(text), &value);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON: ", std::string(status.message())));
  }
  return value;
}

std::string PrettyJson(const Value& value) {
  // MessageToJsonString prints a Struct's keys in the order of its map,
  // which is arbitrary; printing its deterministic (key-sorted) wire form
  // instead gives the keys in a stable, sorted order.
  static google::protobuf::util::TypeResolver* const kResolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com",
          google::protobuf::DescriptorPool::generated_pool());
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string wire;
  {
    google::protobuf::io::StringOutputStream stream(&wire);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    value.SerializeToCodedStream(&coded);
  }
  std::string out;
  auto status = google::protobuf::util::BinaryToJsonString(
      kResolver, "type.googleapis.com/google.protobuf.Value", wire, &out,
      options);
  if (!status.ok()) {
    out.clear();
    status = google::protobuf::util::MessageToJsonString(value, &out, options);
    if (!status.ok()) return "null\n";
  }
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

absl::Status ApiError(long http_status, absl::string_view body) {
  absl::StatusOr<Value> parsed = ParseJson(body);
  if (parsed.ok()) {
    const Value& error = F(*parsed, "error");
    if (error.kind_case() == Value::kStructValue) {
      return ErrorOf(error, http_status);
    }
  }
  std::string text(absl::StripAsciiWhitespace(body));
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return absl::Status(CodeOfHttp(http_status),
                      OneLine(absl::StrCat("HTTP ", http_status,
                                           text.empty() ? "" : ": ", text)));
}

std::string SnippetText(absl::string_view html, bool bold) {
  static const std::map<std::string, std::string>* const kEntities =
      new std::map<std::string, std::string>{{"amp", "&"},  {"lt", "<"},
                                             {"gt", ">"},   {"quot", "\""},
                                             {"apos", "'"}, {"nbsp", " "}};
  std::string out;
  bool marked = false;  // inside <mark>
  size_t i = 0;
  while (i < html.size()) {
    absl::string_view rest = html.substr(i);
    if (absl::StartsWith(rest, "<mark>")) {
      if (bold) out += kBold;
      marked = true;
      i += 6;
      continue;
    }
    if (absl::StartsWith(rest, "</mark>")) {
      if (bold) out += kPlain;
      marked = false;
      i += 7;
      continue;
    }
    if (rest[0] == '&') {
      size_t semi = rest.find(';');
      if (semi != absl::string_view::npos && semi <= 10) {
        std::string name(rest.substr(1, semi - 1));
        std::string decoded;
        uint32_t cp = 0;
        if (!name.empty() && name[0] == '#') {
          bool hex = name.size() > 1 && (name[1] == 'x' || name[1] == 'X');
          bool ok = hex ? absl::SimpleHexAtoi(name.substr(2), &cp)
                        : absl::SimpleAtoi(name.substr(1), &cp);
          if (ok && cp > 0 && cp < 0x110000) {
            if (cp < 0x80) {
              decoded += static_cast<char>(cp);
            } else if (cp < 0x800) {
              decoded += static_cast<char>(0xC0 | (cp >> 6));
              decoded += static_cast<char>(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
              decoded += static_cast<char>(0xE0 | (cp >> 12));
              decoded += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
              decoded += static_cast<char>(0x80 | (cp & 0x3F));
            } else {
              decoded += static_cast<char>(0xF0 | (cp >> 18));
              decoded += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
              decoded += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
              decoded += static_cast<char>(0x80 | (cp & 0x3F));
            }
          }
        } else if (auto it = kEntities->find(name); it != kEntities->end()) {
          decoded = it->second;
        }
        if (!decoded.empty()) {
          out += decoded;
          i += semi + 1;
          continue;
        }
      }
    }
    out += html[i];
    ++i;
  }
  if (bold && marked) out += kPlain;
  return out;
}

int ExitCodeFor(const absl::StatusOr<int>& result, std::ostream& err) {
  if (result.ok()) return *result;
  const absl::Status& status = result.status();
  if (IsTransportError(status)) {
    err << "cstopa: " << OneLine(status.message()) << "\n";
    return kExitUnreachable;
  }
  if (IsUsageError(status)) {
    err << "cstopa: " << OneLine(status.message()) << "\n";
    return kExitUsage;
  }
  err << "cstopa: " << absl::StatusCodeToString(status.code()) << ": "
      << OneLine(status.message()) << "\n";
  return kExitApiError;
}

// ---------------------------------------------------------------------------
// Commands

Commands::Commands(const HttpClient& client, Output output, bool json,
                   std::string lang)
    : client_(client), output_(output), json_(json), lang_(std::move(lang)) {}

absl::StatusOr<Value> Commands::Get(const std::string& path) {
  absl::StatusOr<HttpResponse> response = client_.Call("GET", path, "");
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status >= 300) {
    return ApiError(response->status, response->body);
  }
  absl::StatusOr<Value> value = ParseJson(response->body);
  if (!value.ok()) {
    return absl::InternalError(absl::StrCat("the gateway's answer to GET ",
                                            path, " is ",
                                            value.status().message()));
  }
  return value;
}

void Commands::PrintJson(const Value& value) {
  *output_.out << PrettyJson(value);
}

int Commands::FinishView(const Value& view) {
  std::vector<std::string> missing;
  for (const auto& [name, state] : Sections(view)) {
    if (state.complete) continue;
    missing.push_back(absl::StrCat(name, " (", state.why, ")"));
  }
  if (missing.empty()) return kExitOk;
  output_.out->flush();
  *output_.err << "cstopa: warning: partial answer, incomplete sections: "
               << OneLine(absl::StrJoin(missing, ", ")) << "\n";
  return kExitPartial;
}

absl::StatusOr<int> Commands::States(const std::string& as_of) {
  if (absl::Status s = CheckDate(as_of); !s.ok()) return s;
  Value all;
  std::string token;
  do {
    absl::StatusOr<Value> page =
        Get("/v1/states" + Query({{kAsOfParameter, as_of},
                                  {"pageSize", "1000"},
                                  {"pageToken", token}}));
    if (!page.ok()) return page.status();
    if (all.kind_case() == Value::kNullValue) {
      all = *page;
    } else {
      auto* states = (*all.mutable_struct_value()->mutable_fields())["states"]
                         .mutable_list_value();
      for (const Value& s : L(F(*page, "states")).values()) {
        *states->add_values() = s;
      }
    }
    token = S(F(*page, "nextPageToken"));
  } while (!token.empty());
  all.mutable_struct_value()->mutable_fields()->erase("nextPageToken");
  if (json_) {
    PrintJson(all);
    return kExitOk;
  }
  // Both names, the one in --lang first.
  const std::string first = lang_ == "ru" ? "ru" : "en";
  const std::string second = first == "ru" ? "en" : "ru";
  Table t({"ID", absl::StrCat("NAME (", absl::AsciiStrToUpper(first), ")"),
           absl::StrCat("NAME (", absl::AsciiStrToUpper(second), ")"), "STATUS",
           "SINCE", "REGION"});
  for (const Value& s : L(F(all, "states")).values()) {
    t.AddRow({Id(S(F(s, "name"))), TextExactly(F(s, "displayName"), first),
              TextExactly(F(s, "displayName"), second),
              Enum(F(s, "currentStatus"), "MEMBERSHIP_STATUS_"), StatusSince(s),
              S(F(s, "regionCode"))});
  }
  *output_.out << t.Render(output_.width);
  return kExitOk;
}

absl::StatusOr<int> Commands::State(const std::string& state,
                                    const std::string& as_of) {
  if (absl::Status s = CheckDate(as_of); !s.ok()) return s;
  absl::StatusOr<std::string> id = ResourceId(state, "states");
  if (!id.ok()) return id.status();
  absl::StatusOr<Value> view = Get(absl::StrCat(
      "/v1/states/", *id, "/profile", Query({{kAsOfParameter, as_of}})));
  if (!view.ok()) return view.status();
  if (json_) {
    PrintJson(*view);
    return FinishView(*view);
  }
  const Value& v = *view;
  Printer p(output_, v, lang_);
  const Value& st = F(v, "state");
  const std::string as_of_date = Date(F(v, "asOfDate"));
  {
    std::string name = p.T(F(st, "displayName"));
    std::string other =
        TextExactly(F(st, "displayName"), lang_ == "ru" ? "en" : "ru");
    std::string title = name.empty() ? *id : name;
    if (!other.empty() && other != name) absl::StrAppend(&title, " / ", other);
    p.Line(absl::StrCat(title, "  (states/", *id, ")"));
    std::string status = Enum(F(st, "currentStatus"), "MEMBERSHIP_STATUS_");
    std::string since = StatusSince(st);
    std::vector<std::string> facts;
    if (NotKnown(F(st, "currentStatusKnowledge"))) {
      facts.push_back("status: not known on this date");
    } else if (!status.empty()) {
      facts.push_back(absl::StrCat("status: ", status,
                                   since.empty() ? ""
                                   : absl::StartsWith(since, "known ")
                                       ? " (" + since + ")"
                                       : " since " + since));
    }
    if (!as_of_date.empty()) facts.push_back("as of: " + as_of_date);
    if (!facts.empty()) p.Line(absl::StrJoin(facts, "   "));
  }

  // Chamber IDs -> names, from the parliaments.
  std::map<std::string, std::string> chambers;
  Table parliaments({"PARLIAMENT", "CHAMBER", "CHAMBER NAME", "WEBSITE"});
  for (const Value& parl : L(F(v, "parliaments")).values()) {
    std::string parl_name = p.T(F(parl, "displayName"));
    if (L(F(parl, "chambers")).values_size() == 0) {
      parliaments.AddRow({parl_name, "", "", S(F(parl, "websiteUri"))});
    }
    for (const Value& c : L(F(parl, "chambers")).values()) {
      std::string chamber_name = p.T(F(c, "displayName"));
      chambers[S(F(c, "chamberId"))] = chamber_name;
      std::string site = S(F(c, "websiteUri"));
      if (site.empty()) site = S(F(parl, "websiteUri"));
      parliaments.AddRow({parl_name, S(F(c, "chamberId")), chamber_name, site});
    }
  }
  auto chamber = [&](const std::string& chamber_id) {
    auto it = chambers.find(chamber_id);
    return it != chambers.end() && !it->second.empty() ? it->second
                                                       : chamber_id;
  };
  p.Section("Parliament and chambers", "membership", parliaments);

  Table seats({"DELEGATION", "CHAMBER", "SEATS"});
  seats.SetAlign(2, Align::kRight);
  Table history({"DELEGATION", "CHAMBER", "SEATS", "PERIOD", "SOURCE"});
  history.SetAlign(2, Align::kRight);
  for (const Value& d : L(F(v, "delegations")).values()) {
    std::string delegation = p.T(F(d, "displayName"));
    for (const Value& s : L(F(d, "effectiveSeats")).values()) {
      seats.AddRow(
          {delegation, chamber(S(F(s, "chamberId"))), S(F(s, "seats"))});
    }
    seats.AddRow({delegation, "total",
                  NotKnown(F(d, "seatsKnowledge"))
                      ? "not known"
                      : absl::StrCat(I(F(d, "totalSeats")))});
    for (const Value& s : L(F(d, "seatAllocations")).values()) {
      const ListValue& provenance = L(F(s, "provenance"));
      history.AddRow({delegation, chamber(S(F(s, "chamberId"))),
                      S(F(s, "seats")), Period(F(s, "period")),
                      provenance.values_size() > 0
                          ? S(F(provenance.values(0), "source"))
                          : ""});
    }
  }
  p.Section(as_of_date.empty() ? "Seats" : "Seats on " + as_of_date,
            "membership", seats);
  p.Section("Seat history", "membership", history);

  auto posts_of = [&](const char* field) {
    Table posts({"POST", "PERSON", "ORGANIZATION", "CHAMBER", "PERIOD"});
    for (const Value& nr : L(F(v, field)).values()) {
      const Value& role = F(nr, "role");
      std::string person = p.T(F(nr, "personDisplayName"));
      if (person.empty()) {
        person = S(F(role, "person")).empty() ? "(vacant)"
                                              : Id(S(F(role, "person")));
      }
      std::string chamber_name = p.T(F(nr, "chamberDisplayName"));
      if (chamber_name.empty()) chamber_name = S(F(role, "chamberId"));
      posts.AddRow({RoleName(p, role), person,
                    p.T(F(nr, "organizationDisplayName")), chamber_name,
                    Period(F(role, "period"))});
    }
    return posts;
  };
  p.Section("Posts", "membership", posts_of("posts"));
  // Neither held nor not held on the date: the sources do not say.
  if (L(F(v, "postsNotKnown")).values_size() > 0) {
    p.Section("Posts not known to be held on this date", "membership",
              posts_of("postsNotKnown"));
  }

  Table treaties({"TREATY", "SIGNED", "RATIFICATION", "SINCE", "BEHIND"});
  for (const Value& tp : L(F(v, "treaties")).values()) {
    const Value& party = F(tp, "party");
    std::string title = p.T(F(tp, "title"));
    treaties.AddRow({title.empty() ? Id(S(F(tp, "treaty"))) : title,
                     Date(F(tp, "signingDate")),
                     Enum(F(party, "status"), "RATIFICATION_STATUS_"),
                     Date(F(party, "statusDate")),
                     B(F(party, "behind")) ? "behind" : ""});
  }
  p.Section("Treaties", "legislation", treaties);

  Table impl({"DOCUMENT", "KIND", "LEVEL", "NATIONAL ACT", "DATE"});
  for (const Value& idoc : L(F(v, "implementations")).values()) {
    const Value& im = F(idoc, "implementation");
    std::string title = p.T(F(idoc, "documentTitle"));
    impl.AddRow({title.empty() ? Id(S(F(im, "document"))) : title,
                 Enum(F(idoc, "documentKind"), "DOCUMENT_KIND_"),
                 Enum(F(im, "level"), "IMPLEMENTATION_LEVEL_"),
                 S(F(im, "nationalAct")), Date(F(im, "nationalActDate"))});
  }
  p.Section("Model acts implemented", "legislation", impl);

  p.Section("Recent events", "events", EventsTable(p, F(v, "recentEvents")));

  Table missions({"ELECTION DATE", "KIND", "ELECTION", "OBSERVERS"});
  missions.SetAlign(3, Align::kRight);
  for (const Value& m : L(F(v, "missions")).values()) {
    missions.AddRow({MissionDates(m),
                     Enum(F(m, "electionKind"), "ELECTION_KIND_"),
                     p.T(F(m, "election")),
                     absl::StrCat(L(F(m, "observers")).values_size())});
  }
  p.Section("Election observation missions", "missions", missions);

  Table operations({"OPERATION", "STATUS", "PERIOD", "IN", "SIZE"});
  operations.SetAlign(4, Align::kRight);
  for (const Value& o : L(F(v, "operations")).values()) {
    operations.AddRow({p.T(F(o, "title")),
                       Enum(F(o, "status"), "OPERATION_STATUS_"),
                       Period(F(o, "period")), p.Ref(S(F(o, "state"))),
                       S(F(o, "totalSize"))});
  }
  p.Section("Operations", "operations", operations);
  return FinishView(v);
}

absl::StatusOr<int> Commands::Person(const std::string& person) {
  absl::StatusOr<std::string> id = ResourceId(person, "persons");
  if (!id.ok()) return id.status();
  absl::StatusOr<Value> view =
      Get(absl::StrCat("/v1/persons/", *id, "/profile"));
  if (!view.ok()) return view.status();
  if (json_) {
    PrintJson(*view);
    return FinishView(*view);
  }
  const Value& v = *view;
  Printer p(output_, v, lang_);
  const Value& pe = F(v, "person");
  const std::string person_name = "persons/" + *id;
  {
    std::string name = p.T(F(pe, "displayName"));
    std::string other =
        TextExactly(F(pe, "displayName"), lang_ == "ru" ? "en" : "ru");
    std::string title = name.empty() ? *id : name;
    if (!other.empty() && other != name) absl::StrAppend(&title, " / ", other);
    p.Line(absl::StrCat(title, "  (", person_name, ")"));
    std::string state = p.T(F(v, "stateDisplayName"));
    if (state.empty() && !S(F(pe, "state")).empty()) {
      state = p.Ref(S(F(pe, "state")));
    }
    if (!state.empty()) p.Line("state: " + state);
  }

  Table roles({"POST", "ORGANIZATION", "CHAMBER", "FROM", "TO"});
  for (const Value& nr : L(F(v, "roles")).values()) {
    const Value& role = F(nr, "role");
    std::string chamber_name = p.T(F(nr, "chamberDisplayName"));
    if (chamber_name.empty()) chamber_name = S(F(role, "chamberId"));
    std::string org = p.T(F(nr, "organizationDisplayName"));
    if (org.empty()) org = p.Ref(S(F(role, "organization")));
    roles.AddRow({RoleName(p, role), org, chamber_name,
                  Date(F(F(role, "period"), "startDate")),
                  Date(F(F(role, "period"), "endDate"))});
  }
  p.Section("Roles", "membership", roles);

  Table events({"DATE", "KIND", "TITLE", "AS"});
  for (const Value& e : L(F(v, "events")).values()) {
    std::string capacity;
    for (const Value& part : L(F(e, "participants")).values()) {
      if (S(F(part, "participant")) == person_name) {
        capacity = p.T(F(part, "capacity"));
      }
    }
    events.AddRow({EventDate(e), Enum(F(e, "kind"), "EVENT_KIND_"),
                   p.T(F(e, "title")), capacity});
  }
  p.Section("Events", "events", events);

  Table missions({"ELECTION DATE", "STATE", "ELECTION", "ROLE"});
  for (const Value& m : L(F(v, "missions")).values()) {
    std::string role;
    for (const Value& o : L(F(m, "observers")).values()) {
      if (S(F(o, "person")) == person_name) role = p.T(F(o, "role"));
    }
    missions.AddRow({MissionDates(m), p.Ref(S(F(m, "state"))),
                     p.T(F(m, "election")), role});
  }
  p.Section("Missions observed", "missions", missions);
  return FinishView(v);
}

absl::StatusOr<int> Commands::Dashboard(const std::string& as_of) {
  if (absl::Status s = CheckDate(as_of); !s.ok()) return s;
  absl::StatusOr<Value> view =
      Get("/v1/dashboard" + Query({{kAsOfParameter, as_of}}));
  if (!view.ok()) return view.status();
  if (json_) {
    PrintJson(*view);
    return FinishView(*view);
  }
  const Value& v = *view;
  Printer p(output_, v, lang_);
  std::string as_of_date = Date(F(v, "asOfDate"));
  p.Line(as_of_date.empty() ? "The assembly" : "The assembly on " + as_of_date);

  Table states({"STATE", "NAME", "STATUS", "SEATS"});
  states.SetAlign(3, Align::kRight);
  for (const Value& s : L(F(v, "states")).values()) {
    states.AddRow({Id(S(F(s, "state"))), p.T(F(s, "displayName")),
                   NotKnown(F(s, "statusKnowledge"))
                       ? "not known"
                       : Enum(F(s, "status"), "MEMBERSHIP_STATUS_"),
                   NotKnown(F(s, "seatsKnowledge"))
                       ? absl::StrCat(I(F(s, "seats")), " (not all known)")
                       : absl::StrCat(I(F(s, "seats")))});
  }
  if (!states.empty()) {
    states.AddRow({"", "total", "", absl::StrCat(I(F(v, "totalSeats")))});
  }
  p.Section("Members and observers", "membership", states);

  Table partners({"PARTNER", "KIND", "TYPE", "PERIOD"});
  for (const Value& pa : L(F(v, "partners")).values()) {
    partners.AddRow({p.T(F(pa, "displayName")),
                     Enum(F(pa, "kind"), "PARTNER_KIND_"),
                     Enum(F(pa, "organizationType"), "ORGANIZATION_TYPE_"),
                     Period(F(pa, "period"))});
  }
  p.Section("Partners and observers", "membership", partners);

  // Documents adopted: one row per year, one column per kind.
  std::vector<std::string> kinds;
  std::map<int64_t, std::map<std::string, int64_t>> per_year;
  for (const Value& a : L(F(v, "adoptions")).values()) {
    std::string kind = Enum(F(a, "kind"), "DOCUMENT_KIND_");
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
      kinds.push_back(kind);
    }
    per_year[I(F(a, "year"))][kind] += I(F(a, "documentCount"));
  }
  std::vector<std::string> header = {"YEAR"};
  for (const std::string& k : kinds) header.push_back(absl::AsciiStrToUpper(k));
  header.push_back("TOTAL");
  Table adoptions(header);
  for (size_t i = 1; i < header.size(); ++i) {
    adoptions.SetAlign(i, Align::kRight);
  }
  for (const auto& [year, counts] : per_year) {
    std::vector<std::string> row = {year == 0 ? "undated" : absl::StrCat(year)};
    int64_t total = 0;
    for (const std::string& k : kinds) {
      auto it = counts.find(k);
      int64_t n = it == counts.end() ? 0 : it->second;
      total += n;
      row.push_back(n == 0 ? "" : absl::StrCat(n));
    }
    row.push_back(absl::StrCat(total));
    adoptions.AddRow(row);
  }
  p.Section("Documents adopted per year", "legislation", adoptions);

  Table plans({"ACTION PLAN", "PERIOD", "DONE", "ITEMS", "PROGRESS"});
  for (size_t i = 2; i < 5; ++i) plans.SetAlign(i, Align::kRight);
  for (const Value& pl : L(F(v, "actionPlans")).values()) {
    const Value& progress = F(pl, "progress");
    std::string title = p.T(F(pl, "title"));
    plans.AddRow({title.empty() ? Id(S(F(pl, "actionPlan"))) : title,
                  Period(F(pl, "period")), absl::StrCat(I(F(progress, "done"))),
                  absl::StrCat(I(F(progress, "total"))),
                  absl::StrCat(I(F(progress, "percentDone")), "%")});
  }
  p.Section("Action plans", "legislation", plans);

  Table treaties({"TREATY", "SIGNED", "RATIFIED", "BEHIND"});
  treaties.SetAlign(2, Align::kRight);
  for (const Value& ts : L(F(v, "treaties")).values()) {
    const Value& progress = F(ts, "progress");
    std::vector<std::string> behind;
    for (const Value& b : L(F(progress, "behindStates")).values()) {
      behind.push_back(Id(S(b)));
    }
    std::string title = p.T(F(ts, "title"));
    treaties.AddRow({title.empty() ? Id(S(F(progress, "treaty"))) : title,
                     Date(F(ts, "signingDate")),
                     absl::StrCat(I(F(progress, "ratifiedCount")), "/",
                                  I(F(progress, "partyCount"))),
                     absl::StrJoin(behind, ", ")});
  }
  p.Section("Treaty ratification", "legislation", treaties);

  // Figures as the sources state them, apart from the counts above.
  Table figures({"STATED FIGURE", "VALUE", "PERIOD", "SOURCE"});
  for (const Value& f : L(F(v, "statedFigures")).values()) {
    std::string value = absl::StrCat(I(F(f, "value")));
    const std::string qualifier = S(F(f, "qualifier"));
    if (qualifier == "FIGURE_QUALIFIER_MORE_THAN") value = "> " + value;
    if (qualifier == "FIGURE_QUALIFIER_AT_LEAST") value = ">= " + value;
    if (qualifier == "FIGURE_QUALIFIER_ABOUT") value = "~ " + value;
    if (qualifier == "FIGURE_QUALIFIER_AT_MOST") value = "<= " + value;
    if (qualifier == "FIGURE_QUALIFIER_LESS_THAN") value = "< " + value;
    const ListValue& provenance = L(F(f, "provenance"));
    figures.AddRow({p.T(F(f, "subject")), value, Period(F(f, "period")),
                    provenance.values_size() > 0
                        ? S(F(provenance.values(0), "source"))
                        : ""});
  }
  if (!figures.empty()) p.Section("Stated figures", "legislation", figures);

  Table missions({"YEAR", "MISSIONS"});
  missions.SetAlign(1, Align::kRight);
  bool some_not_known = false;
  for (const Value& y : L(F(v, "missionsPerYear")).values()) {
    // A year the sources leave unreadable: its count is not known.
    const bool not_known = NotKnown(F(y, "countKnowledge"));
    some_not_known = some_not_known || not_known;
    const int64_t count = I(F(y, "missionCount"));
    missions.AddRow({absl::StrCat(I(F(y, "year"))),
                     !not_known   ? absl::StrCat(count)
                     : count == 0 ? "not known"
                                  : absl::StrCat(count, "+ (not all known)")});
  }
  if (!missions.empty()) {
    missions.AddRow(
        {"total", absl::StrCat(I(F(v, "totalMissions")),
                               some_not_known ? " on record" : "")});
  }
  p.Section("Observation missions per year", "missions", missions);

  p.Section("Latest events", "latest_events",
            EventsTable(p, F(v, "latestEvents")));
  p.Section("Next events", "next_events", EventsTable(p, F(v, "nextEvents")));
  return FinishView(v);
}

absl::StatusOr<int> Commands::Search(const std::string& query,
                                     const std::string& filter,
                                     const std::vector<std::string>& types,
                                     int page_size,
                                     const std::string& page_token) {
  if (absl::StripAsciiWhitespace(query).empty()) {
    return UsageError("search: give the words to look for");
  }
  absl::StatusOr<std::string> full_filter = SearchFilter(filter, types);
  if (!full_filter.ok()) return full_filter.status();
  absl::StatusOr<Value> answer =
      Get("/v1/search" +
          Query({{"query", query},
                 {"filter", *full_filter},
                 {"pageSize", page_size > 0 ? absl::StrCat(page_size) : ""},
                 {"pageToken", page_token}}));
  if (!answer.ok()) return answer.status();
  if (json_) {
    PrintJson(*answer);
    return FinishView(*answer);
  }
  std::ostream& out = *output_.out;
  const ListValue& hits = L(F(*answer, "hits"));
  if (hits.values_size() == 0) {
    out << "no results\n";
  } else {
    // The passage found goes in MATCH, unless it is the title itself.
    Table t({"TYPE", "NAME", "DATE", "TITLE", "MATCH"});
    for (const Value& h : hits.values()) {
      std::string title = S(F(h, "title"));
      std::string snippet = S(F(h, "snippet"));
      std::string match;
      if (SnippetText(snippet, /*bold=*/false) != title) {
        match = SnippetText(snippet, output_.tty);
      }
      t.AddRow({ShortType(S(F(h, "type"))), S(F(h, "name")), Date(F(h, "date")),
                title, match});
    }
    out << t.Render(output_.width);
  }
  // "12 results: 5 Document, 4 Event, 3 Person"
  std::vector<std::string> counts;
  for (const Value& c : L(F(*answer, "typeCounts")).values()) {
    counts.push_back(
        absl::StrCat(I(F(c, "count")), " ", ShortType(S(F(c, "type")))));
  }
  const int64_t total = I(F(*answer, "totalSize"));
  if (total > 0 || !counts.empty()) {
    std::string line = absl::StrCat(total, total == 1 ? " result" : " results");
    if (!counts.empty())
      absl::StrAppend(&line, ": ", absl::StrJoin(counts, ", "));
    out << TruncateToWidth(OneLine(line), output_.width) << "\n";
  }
  std::string next = S(F(*answer, "nextPageToken"));
  if (!next.empty()) {
    out.flush();
    *output_.err << "cstopa: more results: add --page-token " << next
                 << " for the next page\n";
  }
  return FinishView(*answer);
}

absl::StatusOr<int> Commands::Documents(const std::string& filter,
                                        const std::string& order_by,
                                        int page_size,
                                        const std::string& page_token,
                                        bool all) {
  Value merged;
  std::string token = page_token;
  std::string next;
  do {
    absl::StatusOr<Value> page =
        Get("/v1/documents" +
            Query({{"filter", filter},
                   {"orderBy", order_by},
                   {"pageSize", page_size > 0 ? absl::StrCat(page_size) : ""},
                   {"pageToken", token}}));
    if (!page.ok()) return page.status();
    if (merged.kind_case() == Value::kNullValue) {
      merged = *page;
    } else {
      auto* docs =
          (*merged.mutable_struct_value()->mutable_fields())["documents"]
              .mutable_list_value();
      for (const Value& d : L(F(*page, "documents")).values()) {
        *docs->add_values() = d;
      }
    }
    next = S(F(*page, "nextPageToken"));
    token = next;
  } while (all && !next.empty());
  if (all)
    merged.mutable_struct_value()->mutable_fields()->erase("nextPageToken");
  if (json_) {
    PrintJson(merged);
  } else {
    Table t({"ID", "KIND", "STAGE", "ADOPTED", "TITLE"});
    for (const Value& d : L(F(merged, "documents")).values()) {
      t.AddRow({Id(S(F(d, "name"))), Enum(F(d, "kind"), "DOCUMENT_KIND_"),
                Enum(F(d, "stage"), "DOCUMENT_STAGE_"), Date(F(d, "adoptDate")),
                Text(F(d, "title"), lang_)});
    }
    if (t.empty()) {
      *output_.out << "no documents\n";
    } else {
      *output_.out << t.Render(output_.width);
    }
  }
  if (!all && !next.empty()) {
    output_.out->flush();
    *output_.err << "cstopa: more documents: add --page-token " << next
                 << " for the next page, or --all for every page\n";
  }
  return kExitOk;
}

namespace {

// "membership" for "cstopa.membership.v1.State" or
// "cstopa.membership.v1.MembershipService"; "" for a name outside cstopa.*.
std::string ServiceOf(absl::string_view full_name) {
  if (!absl::ConsumePrefix(&full_name, "cstopa.")) return "";
  return std::string(full_name.substr(0, full_name.find('.')));
}

// Reads a cstopa export (gzip'd JSON Lines, gateway/http/record_export.h)
// as it downloads: counts the records, and keeps the snapshots and the
// last line, without holding more than a line.
class ExportReader {
 public:
  // `popolo`: the Popolo document (gateway/http/popolo.h), one object a
  // line, its `meta` (or `error`) on the line before the last `}`.
  explicit ExportReader(bool popolo) : popolo_(popolo) {}

  // Feeds compressed bytes; false (see error()) when they are not gzip.
  bool Feed(absl::string_view in) {
    if (!gunzip_.Feed(in, [this](absl::string_view text) { Lines(text); })) {
      error_ = "the download is not gzip";
      return false;
    }
    return true;
  }

  bool gzip_ended() const { return gunzip_.ended(); }
  int64_t records() const { return records_; }
  const std::string& last_line() const { return last_; }
  const std::string& error() const { return error_; }
  // "membership: 161" per snapshot line seen, in order.
  const std::vector<std::pair<std::string, int64_t>>& snapshots() const {
    return snapshots_;
  }
  // The service whose records are coming (its package, "membership").
  const std::string& current() const { return current_; }

 private:
  void Lines(absl::string_view text) {
    partial_.append(text.data(), text.size());
    size_t start = 0;
    for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos;
         start = nl + 1) {
      Line(absl::string_view(partial_).substr(start, nl - start));
    }
    partial_.erase(0, start);
  }

  void Line(absl::string_view line) {
    if (popolo_) return PopoloLine(line);
    if (absl::string_view type = RecordType(line); !type.empty()) {
      ++records_;
      current_ = ServiceOf(type);
      return;
    }
    last_ = std::string(line);
    if (absl::StartsWith(line, "{\"snapshot\":")) {
      absl::StatusOr<Value> v = ParseJson(line);
      if (!v.ok()) return;
      const Value& snap = F(*v, "snapshot");
      snapshots_.push_back(
          {ServiceOf(S(F(snap, "service"))),
           static_cast<int64_t>(F(snap, "recordCount").number_value())});
    }
  }

  void PopoloLine(absl::string_view line) {
    if (absl::StartsWith(line, "{\"id\":")) {
      ++records_;
      return;
    }
    if (absl::StartsWith(line, "\"") && absl::EndsWith(line, "\":[")) {
      current_ = std::string(line.substr(1, line.size() - 4));
      return;
    }
    if (!absl::StartsWith(line, "\"meta\":") &&
        !absl::StartsWith(line, "\"error\":"))
      return;
    // The member as an object of its own: {"meta": {...}}.
    last_ = absl::StrCat("{", line, "}");
    absl::StatusOr<Value> v = ParseJson(last_);
    if (!v.ok()) return;
    for (const Value& snap :
         F(F(*v, "meta"), "snapshots").list_value().values())
      snapshots_.push_back(
          {ServiceOf(S(F(snap, "service"))),
           static_cast<int64_t>(F(snap, "recordCount").number_value())});
  }

  // The `type` of a record line (`{"type": "cstopa.x.v1.T", ...`, however
  // spaced), without parsing the rest; "" for other lines.
  static absl::string_view RecordType(absl::string_view line) {
    auto skip = [&line] {
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
        line.remove_prefix(1);
    };
    if (!absl::ConsumePrefix(&line, "{")) return "";
    skip();
    if (!absl::ConsumePrefix(&line, "\"type\"")) return "";
    skip();
    if (!absl::ConsumePrefix(&line, ":")) return "";
    skip();
    if (!absl::ConsumePrefix(&line, "\"")) return "";
    const size_t end = line.find('"');
    return end == absl::string_view::npos ? "" : line.substr(0, end);
  }

  const bool popolo_;
  common::Gunzipper gunzip_;
  std::string partial_;
  std::string last_;
  std::string error_;
  std::string current_;
  int64_t records_ = 0;
  std::vector<std::pair<std::string, int64_t>> snapshots_;
};

std::string Megabytes(int64_t bytes) {
  return absl::StrFormat("%.1f MB", static_cast<double>(bytes) / 1e6);
}

}  // namespace

absl::StatusOr<int> Commands::Export(const std::string& file, bool popolo,
                                     bool show_deleted) {
  if (file.empty() || file == "-")
    return UsageError("export: FILE must be a file name (a gzip file)");
  if (popolo && show_deleted)
    return UsageError(
        "export: --show-deleted is for --format jsonl: the Popolo document "
        "holds live records only");
  const std::string part = file + ".part";
  std::ofstream sink(part, std::ios::binary | std::ios::trunc);
  if (!sink) {
    return UsageError(absl::StrCat("export: cannot write ", part, ": ",
                                   std::strerror(errno)));
  }
  ExportReader reader(popolo);
  int64_t bytes = 0;
  bool write_failed = false;
  bool unreadable = false;
  absl::Time shown = absl::InfinitePast();
  std::ostream& err = *output_.err;
  auto show = [&](bool last) {
    if (!output_.progress) return;
    const absl::Time now = absl::Now();
    if (!last && now - shown < absl::Milliseconds(100)) return;
    shown = now;
    std::string line = absl::StrCat("exporting: ", reader.records(),
                                    " records, ", Megabytes(bytes));
    if (!reader.current().empty() && !last)
      absl::StrAppend(&line, " (", reader.current(), ")");
    err << "\r" << line << "\x1b[K" << (last ? "\n" : "") << std::flush;
  };
  EndStreamsOnSignals();
  absl::StatusOr<HttpResponse> response = client_.Download(
      popolo         ? "/v1/export?format=popolo"
      : show_deleted ? "/v1/export?show_deleted=true"
                     : "/v1/export",
      [&](absl::string_view data) {
        sink.write(data.data(), static_cast<std::streamsize>(data.size()));
        if (!sink) {
          write_failed = true;
          return false;
        }
        bytes += static_cast<int64_t>(data.size());
        if (!reader.Feed(data)) {
          unreadable = true;
          return false;
        }
        show(false);
        return true;
      });
  sink.close();
  auto discard = [&](absl::Status status) -> absl::StatusOr<int> {
    std::remove(part.c_str());
    return status;
  };
  if (output_.progress && bytes > 0) show(true);
  if (!response.ok()) return discard(response.status());
  if (response->interrupted) {
    std::remove(part.c_str());
    err << "cstopa: interrupted; nothing written to " << file << "\n";
    return kExitOk;
  }
  if (response->status != 200)
    return discard(ApiError(response->status, response->body));
  if (write_failed || sink.fail()) {
    return discard(UsageError(absl::StrCat("export: writing ", part,
                                           " failed: ", std::strerror(errno))));
  }
  if (unreadable) {
    return discard(absl::DataLossError(
        absl::StrCat("the gateway's export is unreadable: ", reader.error())));
  }
  // A whole export ends with its `end` line (the document with its
  // `meta`); a failed one with an error.
  absl::StatusOr<Value> last = ParseJson(reader.last_line());
  if (last.ok() && F(*last, "error").kind_case() == Value::kStructValue)
    return discard(ErrorOf(F(*last, "error"), 0));
  if (!reader.gzip_ended() || !last.ok() ||
      F(*last, popolo ? "meta" : "end").kind_case() != Value::kStructValue) {
    return discard(absl::DataLossError(absl::StrCat(
        "the export ended early, after ", reader.records(), " records (no ",
        popolo ? "meta" : "end line", "); nothing written to ", file)));
  }
  if (std::rename(part.c_str(), file.c_str()) != 0) {
    return discard(
        UsageError(absl::StrCat("export: cannot rename ", part, " to ", file,
                                ": ", std::strerror(errno))));
  }
  std::ostream& out = *output_.out;
  if (json_) {
    Value summary;
    auto& fields = *summary.mutable_struct_value()->mutable_fields();
    fields["file"].set_string_value(file);
    fields["records"].set_number_value(static_cast<double>(reader.records()));
    fields["bytes"].set_number_value(static_cast<double>(bytes));
    auto& services =
        *fields["services"].mutable_struct_value()->mutable_fields();
    for (const auto& [service, count] : reader.snapshots())
      services[service].set_number_value(static_cast<double>(count));
    PrintJson(summary);
    return kExitOk;
  }
  std::vector<std::string> parts;
  for (const auto& [service, count] : reader.snapshots())
    parts.push_back(absl::StrCat(service, " ", count));
  out << "wrote " << reader.records()
      << (popolo ? " Popolo objects (" : " records (") << Megabytes(bytes)
      << ") to " << file << ": " << absl::StrJoin(parts, ", ") << std::endl;
  return kExitOk;
}

namespace {

// `in` gunzip'd, or an error naming `file`.
absl::StatusOr<std::string> Gunzip(const std::string& file,
                                   absl::string_view in) {
  std::optional<std::string> out = common::Gunzip(in);
  if (!out) {
    return UsageError(
        absl::StrCat("import: ", file,
                     " is not a whole gzip file (as cstopa export writes)"));
  }
  return *std::move(out);
}

// "ActionPlanItem" -> "actionPlanItem": a record's member in a service's
// Record message (its JSON name) from its type's name.
std::string MemberOf(absl::string_view type) {
  std::string name(type.substr(type.rfind('.') + 1));
  if (!name.empty()) name[0] = absl::ascii_tolower(name[0]);
  return name;
}

// One service's part of an import file.
struct ImportBatch {
  std::string service;  // "membership"
  Value records;        // a list of {"<member>": resource}
  std::vector<int> lines;
  std::vector<std::string> names;
};

// The body of POST /v1/{service}:import.
std::string ImportBody(const ImportBatch& batch, bool validate_only) {
  Value body;
  auto& fields = *body.mutable_struct_value()->mutable_fields();
  fields["records"] = batch.records;
  fields["validateOnly"].set_bool_value(validate_only);
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(body, &out);
  return out;
}

}  // namespace

absl::StatusOr<int> Commands::Import(const std::string& file, bool dry_run) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return UsageError(
        absl::StrCat("import: cannot read ", file, ": ", std::strerror(errno)));
  }
  std::string zipped((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
  absl::StatusOr<std::string> text = Gunzip(file, zipped);
  if (!text.ok()) return text.status();
  std::vector<absl::string_view> lines = absl::StrSplit(*text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();

  // Every line is read, and every bad one named, before any call.
  std::vector<std::string> problems;
  auto problem = [&](size_t i, absl::string_view what) {
    problems.push_back(absl::StrCat(file, ":", i + 1, ": ", what));
  };
  std::vector<ImportBatch> batches;
  bool ended = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StatusOr<Value> line = ParseJson(lines[i]);
    if (!line.ok() || line->kind_case() != Value::kStructValue) {
      problem(i, "not a JSON object");
      continue;
    }
    if (i == 0) {
      if (S(F(*line, "format")) != "cstopa-export" ||
          F(*line, "version").number_value() != 1) {
        problem(i,
                "not the first line of a cstopa export (format "
                "\"cstopa-export\", version 1)");
        break;
      }
      continue;
    }
    if (ended) {
      problem(i, "a line after the end line");
      continue;
    }
    const std::string type = S(F(*line, "type"));
    if (!type.empty()) {
      const std::string service = ServiceOf(type);
      const Value& resource = F(*line, "resource");
      if (service.empty() || std::count(type.begin(), type.end(), '.') != 3 ||
          resource.kind_case() != Value::kStructValue) {
        problem(i, absl::StrCat("a record of unknown type \"", type,
                                "\" or without its resource"));
        continue;
      }
      auto batch = std::find_if(
          batches.begin(), batches.end(),
          [&](const ImportBatch& b) { return b.service == service; });
      if (batch == batches.end()) {
        batches.push_back({service, Value(), {}, {}});
        batches.back().records.mutable_list_value();
        batch = batches.end() - 1;
      }
      Value record;
      (*record.mutable_struct_value()->mutable_fields())[MemberOf(type)] =
          resource;
      *batch->records.mutable_list_value()->add_values() = std::move(record);
      batch->lines.push_back(static_cast<int>(i + 1));
      batch->names.push_back(S(F(resource, "name")));
      continue;
    }
    if (F(*line, "snapshot").kind_case() == Value::kStructValue) continue;
    if (F(*line, "end").kind_case() == Value::kStructValue) {
      ended = true;
      continue;
    }
    if (F(*line, "error").kind_case() == Value::kStructValue) {
      problem(i, "the export failed here (an error line): export again");
      continue;
    }
    problem(i, "neither a record, a snapshot nor the end");
  }
  if (!ended && problems.empty())
    problems.push_back(absl::StrCat(
        file, ": incomplete: no end line (the download was cut short?)"));
  std::ostream& out = *output_.out;
  std::ostream& err = *output_.err;
  auto refuse = [&](absl::string_view why) -> absl::StatusOr<int> {
    for (const std::string& p : problems) err << p << "\n";
    return absl::InvalidArgumentError(
        absl::StrCat(problems.size(), " ", why, "; nothing was imported"));
  };
  if (!problems.empty()) return refuse("bad lines");

  auto post = [&](const ImportBatch& batch, bool validate_only) {
    return client_.Call("POST", absl::StrCat("/v1/", batch.service, ":import"),
                        ImportBody(batch, validate_only), /*with_key=*/true);
  };
  // An import's counts (0 for an answer that is not JSON).
  auto counts = [](const std::string& body) -> std::pair<int64_t, int64_t> {
    absl::StatusOr<Value> answer = ParseJson(body);
    if (!answer.ok()) return {0, 0};
    return {static_cast<int64_t>(F(*answer, "createdCount").number_value()),
            static_cast<int64_t>(F(*answer, "skippedCount").number_value())};
  };

  // Each service checks its records; every refusal is reported by line.
  std::vector<std::string> would;
  for (const ImportBatch& batch : batches) {
    absl::StatusOr<HttpResponse> r = post(batch, true);
    if (!r.ok()) return r.status();
    if (r->status == 200) {
      const auto [c, k] = counts(r->body);
      would.push_back(
          absl::StrCat(batch.service, ": ", c, " to create, ", k, " to skip"));
      continue;
    }
    absl::StatusOr<Value> error = ParseJson(r->body);
    bool listed = false;
    if (r->status == 400 && error.ok()) {
      for (const Value& detail :
           F(F(*error, "error"), "details").list_value().values()) {
        for (const Value& violation :
             F(detail, "fieldViolations").list_value().values()) {
          std::string field = S(F(violation, "field"));
          size_t index = 0;
          std::vector<absl::string_view> head =
              absl::StrSplit(field, absl::MaxSplits(']', 1));
          if (absl::ConsumePrefix(&head[0], "records[") &&
              absl::SimpleAtoi(head[0], &index) && index < batch.lines.size()) {
            absl::string_view rest = head.size() > 1 ? head[1] : "";
            absl::ConsumePrefix(&rest, ".");
            problems.push_back(absl::StrCat(file, ":", batch.lines[index], ": ",
                                            batch.names[index], ": ", rest,
                                            rest.empty() ? "" : ": ",
                                            S(F(violation, "description"))));
          } else {
            problems.push_back(absl::StrCat(batch.service, ": ", field, ": ",
                                            S(F(violation, "description"))));
          }
          listed = true;
        }
      }
    }
    if (!listed) return ApiError(r->status, r->body);
  }
  if (!problems.empty()) return refuse("records refused");
  if (dry_run) {
    out << "would import: " << absl::StrJoin(would, "; ") << std::endl;
    return kExitOk;
  }

  int64_t created = 0, skipped = 0;
  for (const ImportBatch& batch : batches) {
    absl::StatusOr<HttpResponse> r = post(batch, false);
    absl::Status failed;
    if (!r.ok()) {
      failed = r.status();
    } else if (r->status != 200) {
      failed = ApiError(r->status, r->body);
    }
    if (!failed.ok()) {
      // The services before this one are loaded: a second run skips them.
      return WithSuffix(failed,
                        absl::StrCat(" (importing ", batch.service,
                                     "; the services before it are loaded: "
                                     "run the import again to finish)"));
    }
    const auto [c, k] = counts(r->body);
    created += c;
    skipped += k;
    out << batch.service << ": " << c << " created, " << k
        << " skipped (already there)" << std::endl;
  }
  out << "imported " << file << ": " << created << " created, " << skipped
      << " skipped" << std::endl;
  return kExitOk;
}

absl::StatusOr<int> Commands::Watch(const std::string& service,
                                    const std::string& resume_token) {
  static const std::set<std::string>* const kServices =
      new std::set<std::string>{"events", "membership", "legislation",
                                "monitoring"};
  if (kServices->count(service) == 0) {
    return UsageError(absl::StrCat(
        "watch: \"", service,
        "\" is not one of events, membership, legislation, monitoring"));
  }
  std::ostream& out = *output_.out;
  absl::Status stream_error;
  std::string last_token = resume_token;
  SseParser parser([&](const SseEvent& event) {
    if (!event.id.empty()) last_token = event.id;
    absl::StatusOr<Value> message = ParseJson(event.data);
    if (!message.ok()) {
      stream_error = absl::InternalError(absl::StrCat(
          "an event of the stream is ", message.status().message()));
      return false;
    }
    const Value& error = F(*message, "error");
    if (event.event == "error" || error.kind_case() == Value::kStructValue) {
      stream_error = ErrorOf(
          error.kind_case() == Value::kStructValue ? error : *message, 0);
      return false;
    }
    std::string token = S(F(*message, "resumeToken"));
    if (!token.empty()) last_token = token;
    if (json_) {
      std::string line = event.data;
      for (char& c : line) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      out << line << std::endl;
      return true;
    }
    std::string type = Enum(F(*message, "changeType"), "CHANGE_TYPE_");
    if (type == "checkpoint") return true;
    // The resource: the one object field besides the commit time.
    std::string label;
    for (const auto& [key, field] : message->struct_value().fields()) {
      if (key == "commitTime" || field.kind_case() != Value::kStructValue) {
        continue;
      }
      label = Text(F(field, "title"), lang_);
      if (label.empty()) label = Text(F(field, "displayName"), lang_);
      if (label.empty()) label = Text(F(field, "election"), lang_);
    }
    std::string time = Second(F(*message, "commitTime"));
    if (time.size() < 20) time.resize(20, ' ');
    if (type.size() < 7) type.resize(7, ' ');
    std::string line =
        absl::StrCat(time, "  ", type, "  ", S(F(*message, "name")));
    if (!label.empty()) absl::StrAppend(&line, "  ", label);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << TruncateToWidth(OneLine(line), output_.width) << std::endl;
    return true;
  });
  // Ctrl-C (or SIGTERM) ends the watch where it is, with the token to
  // resume from.
  EndStreamsOnSignals();
  absl::StatusOr<HttpResponse> response =
      client_.Stream(absl::StrCat("/v1/", service, ":watch"), resume_token,
                     [&](absl::string_view line) { return parser.Line(line); });
  const std::string resume_hint =
      last_token.empty() ? "" : "; resume with --resume " + last_token;
  if (!response.ok()) return WithSuffix(response.status(), resume_hint);
  if (response->interrupted) {
    out.flush();
    *output_.err << "cstopa: interrupted" << resume_hint << "\n";
    return kExitOk;
  }
  if (response->status != 200) {
    return ApiError(response->status, response->body);
  }
  if (!stream_error.ok()) return WithSuffix(stream_error, resume_hint);
  if (!json_) {
    out.flush();
    *output_.err << "cstopa: the stream ended" << resume_hint << "\n";
  }
  return kExitOk;
}

absl::StatusOr<int> Commands::Call(const std::string& service_method,
                                   const std::string& request_json) {
  std::string service;
  std::string method;
  if (size_t slash = service_method.find('/'); slash != std::string::npos) {
    service = service_method.substr(0, slash);
    method = service_method.substr(slash + 1);
  } else if (size_t dot = service_method.rfind('.'); dot != std::string::npos) {
    service = service_method.substr(0, dot);
    method = service_method.substr(dot + 1);
  }
  if (!service.empty() && service[0] == '/') service.erase(0, 1);
  if (service.find('.') == std::string::npos || method.empty() ||
      !absl::ascii_isupper(static_cast<unsigned char>(method[0]))) {
    return UsageError(absl::StrCat(
        "call: \"", service_method,
        "\" is not SERVICE.METHOD, e.g. membership.v1.MembershipService."
        "GetState"));
  }
  static const std::set<std::string>* const kPackages =
      new std::set<std::string>{"membership", "legislation", "events",
                                "monitoring", "gateway"};
  if (kPackages->count(service.substr(0, service.find('.'))) > 0) {
    service = "cstopa." + service;
  }
  std::string body = request_json;
  if (body == "-") {
    body.assign(std::istreambuf_iterator<char>(std::cin),
                std::istreambuf_iterator<char>());
  }
  if (absl::StripAsciiWhitespace(body).empty()) body = "{}";
  absl::StatusOr<Value> request = ParseJson(body);
  if (!request.ok() || request->kind_case() != Value::kStructValue) {
    return UsageError(absl::StrCat(
        "call: the request must be a JSON object (the request message as "
        "protobuf JSON)",
        request.ok() ? "" : absl::StrCat(": ", request.status().message())));
  }
  const std::string path = absl::StrCat("/", service, "/", method);
  absl::StatusOr<HttpResponse> response =
      client_.Call("POST", path, body, /*with_key=*/true);
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status >= 300) {
    return ApiError(response->status, response->body);
  }
  absl::StatusOr<Value> answer = ParseJson(response->body);
  if (!answer.ok()) {
    return absl::InternalError(absl::StrCat("the gateway's answer to POST ",
                                            path, " is ",
                                            answer.status().message()));
  }
  PrintJson(*answer);
  return FinishView(*answer);
}

}  // namespace cstopa::cli
