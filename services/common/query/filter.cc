#include "services/common/query/filter.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

enum class Op { kEq, kNe, kLt, kGt, kLe, kGe, kHas };

struct OpSpelling {
  absl::string_view text;
  Op op;
};
constexpr OpSpelling kOps[] = {{"=", Op::kEq}, {"!=", Op::kNe}, {"<", Op::kLt},
                               {">", Op::kGt}, {"<=", Op::kLe}, {">=", Op::kGe},
                               {":", Op::kHas}};

constexpr absl::string_view kExpectTerm =
    "a comparison such as `field = value`, NOT, '-' or '('";
constexpr absl::string_view kExpectValue =
    "a value: quoted text (\"...\" or '...') or a bare word such as 42, "
    "true, ENUM_NAME, 2022-05-01 or 2024-01-02T03:04:05Z";

absl::string_view SqlOperator(Op op) {
  switch (op) {
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "<>";
    case Op::kLt:
      return "<";
    case Op::kGt:
      return ">";
    case Op::kLe:
      return "<=";
    case Op::kGe:
      return ">=";
    case Op::kHas:
      break;
  }
  return "";  // not reached: ':' never compiles to a plain comparison
}

// The type as in "n (an integer field)".
absl::string_view TypeName(FilterFieldType type) {
  switch (type) {
    case FilterFieldType::kString:
      return "a text";
    case FilterFieldType::kTextList:
      return "a text list";
    case FilterFieldType::kInt:
      return "an integer";
    case FilterFieldType::kBool:
      return "a boolean";
    case FilterFieldType::kEnum:
      return "an enum";
    case FilterFieldType::kTimestamp:
      return "a timestamp";
    case FilterFieldType::kDate:
      return "a date";
  }
  return "unknown";
}

bool Supports(FilterFieldType type, Op op) {
  switch (type) {
    case FilterFieldType::kString:
      return true;
    case FilterFieldType::kTextList:
      return op == Op::kEq || op == Op::kNe || op == Op::kHas;
    case FilterFieldType::kBool:
    case FilterFieldType::kEnum:
      return op == Op::kEq || op == Op::kNe;
    case FilterFieldType::kInt:
    case FilterFieldType::kTimestamp:
    case FilterFieldType::kDate:
      return op != Op::kHas;
  }
  return false;
}

std::string SupportedOps(FilterFieldType type) {
  std::vector<absl::string_view> ops;
  for (const OpSpelling& s : kOps) {
    if (Supports(type, s.op)) ops.push_back(s.text);
  }
  return absl::StrCat("one of ", absl::StrJoin(ops, " "));
}

absl::Status FilterError(absl::string_view description) {
  return InvalidArgument("INVALID_FILTER",
                         {{"filter", std::string(description)}});
}

absl::Status FilterError(size_t offset, absl::string_view what,
                         absl::string_view expected) {
  return FilterError(
      absl::StrCat(what, " at offset ", offset, "; expected ", expected));
}

// The offset of the first byte that is NUL or not part of well-formed UTF-8,
// or npos. (PostgreSQL rejects both in text parameters.)
size_t FindInvalidUtf8(absl::string_view s) {
  static constexpr uint32_t kMinCodePoint[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return i;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t more;
    uint32_t code_point;
    if ((c & 0xE0) == 0xC0) {
      more = 1;
      code_point = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      more = 2;
      code_point = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      more = 3;
      code_point = c & 0x07;
    } else {
      return i;
    }
    if (i + more >= s.size()) return i;
    for (size_t k = 1; k <= more; ++k) {
      const auto cont = static_cast<unsigned char>(s[i + k]);
      if ((cont & 0xC0) != 0x80) return i;
      code_point = (code_point << 6) | (cont & 0x3F);
    }
    if (code_point < kMinCodePoint[more] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return i;
    }
    i += more + 1;
  }
  return absl::string_view::npos;
}

bool IsWordChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// Characters of an unquoted value.
bool IsBareValueChar(char c) {
  return !absl::ascii_isspace(c) &&
         absl::string_view("()\"'=<>!").find(c) == absl::string_view::npos;
}

bool IsFieldName(absl::string_view word) {
  if (word.empty() || absl::ascii_isdigit(word[0])) return false;
  for (char c : word) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') {
      return false;
    }
  }
  return true;
}

std::string Describe(char c) {
  if (absl::ascii_isprint(c)) return absl::StrCat("'", std::string(1, c), "'");
  return "a non-ASCII character";
}

// `text` with the LIKE wildcards % and _ and the escape character \ escaped.
std::string EscapeLike(absl::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// A decimal int64: an optional '-' and digits, nothing else.
bool ParseInt(absl::string_view text, int64_t* out) {
  absl::string_view digits = absl::StripPrefix(text, "-");
  if (digits.empty()) return false;
  for (char c : digits) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return absl::SimpleAtoi(text, out);
}

// "YYYY-MM-DD" (years 0001 to 9999) as YYYYMMDD.
bool ParseDate(absl::string_view text, int64_t* out) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  int64_t y, m, d;
  for (absl::string_view part :
       {text.substr(0, 4), text.substr(5, 2), text.substr(8, 2)}) {
    for (char c : part) {
      if (!absl::ascii_isdigit(c)) return false;
    }
  }
  if (!absl::SimpleAtoi(text.substr(0, 4), &y) ||
      !absl::SimpleAtoi(text.substr(5, 2), &m) ||
      !absl::SimpleAtoi(text.substr(8, 2), &d) || y == 0) {
    return false;
  }
  const absl::CivilDay day(y, static_cast<int>(m), static_cast<int>(d));
  if (day.year() != y || day.month() != m || day.day() != d) return false;
  *out = y * 10000 + m * 100 + d;
  return true;
}

// An RFC 3339 time (years 0001 to 9999) as microseconds since the epoch.
bool ParseTimestamp(absl::string_view text, int64_t* out) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error) ||
      t < absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), utc) ||
      t >= absl::FromCivil(absl::CivilSecond(10000, 1, 1, 0, 0, 0), utc)) {
    return false;
  }
  *out = absl::ToUnixMicros(t);
  return true;
}

struct Value {
  std::string text;  // unquoted and unescaped
  size_t offset;     // of its first byte in the filter
};

// A recursive-descent parser that emits SQL as it goes. Parameters are
// appended in the order their '?' appear, since the SQL keeps the filter's
// order.
class Parser {
 public:
  Parser(absl::string_view filter, absl::Span<const FilterField> fields)
      : in_(filter), fields_(fields) {}

  absl::StatusOr<SqlCondition> Parse() {
    SkipSpace();
    if (AtEnd()) return SqlCondition{};
    absl::StatusOr<std::string> sql = ParseExpression(0);
    if (!sql.ok()) return sql.status();
    // ParseExpression stops only at the end or at a ')'.
    if (!AtEnd()) {
      return FilterError(pos_, "')' without a matching '('",
                         "the end of the filter");
    }
    return SqlCondition{*std::move(sql), std::move(params_)};
  }

 private:
  // expression = factor { ["AND"] factor }
  absl::StatusOr<std::string> ParseExpression(int depth) {
    std::vector<std::string> parts;
    while (true) {
      absl::StatusOr<std::string> part = ParseFactor(depth);
      if (!part.ok()) return part.status();
      parts.push_back(*std::move(part));
      SkipSpace();
      if (AtEnd() || Peek() == ')') break;
      if (Word() == "AND") {
        absl::Status s = SkipKeyword("AND");
        if (!s.ok()) return s;
      }
    }
    if (parts.size() == 1) return std::move(parts[0]);
    return absl::StrCat("(", absl::StrJoin(parts, " AND "), ")");
  }

  // factor = term { "OR" term }
  absl::StatusOr<std::string> ParseFactor(int depth) {
    std::vector<std::string> parts;
    while (true) {
      absl::StatusOr<std::string> part = ParseTerm(depth);
      if (!part.ok()) return part.status();
      parts.push_back(*std::move(part));
      SkipSpace();
      if (Word() != "OR") break;
      absl::Status s = SkipKeyword("OR");
      if (!s.ok()) return s;
    }
    if (parts.size() == 1) return std::move(parts[0]);
    return absl::StrCat("(", absl::StrJoin(parts, " OR "), ")");
  }

  // term = "NOT" term | "-" term | "(" expression ")" | comparison
  absl::StatusOr<std::string> ParseTerm(int depth) {
    SkipSpace();
    const size_t at = pos_;
    if (AtEnd()) return FilterError(at, "the filter ends", kExpectTerm);
    const absl::string_view word = Word();
    const bool negate = word == "NOT" || Peek() == '-';
    if ((negate || Peek() == '(') && depth >= kMaxFilterDepth) {
      return FilterError(
          at, absl::StrCat("nesting deeper than ", kMaxFilterDepth, " levels"),
          "a less deeply nested filter");
    }
    if (negate) {
      pos_ += word == "NOT" ? word.size() : 1;
      absl::StatusOr<std::string> inner = ParseTerm(depth + 1);
      if (!inner.ok()) return inner.status();
      // IS NOT TRUE (unlike NOT) is also true when `inner` is NULL.
      return absl::StrCat("(", *inner, " IS NOT TRUE)");
    }
    if (Peek() == '(') {
      ++pos_;
      absl::StatusOr<std::string> inner = ParseExpression(depth + 1);
      if (!inner.ok()) return inner.status();
      if (AtEnd()) {
        return FilterError(at, "'(' without a matching ')'",
                           "')' before the end of the filter");
      }
      ++pos_;  // ParseExpression stops only at the end or at a ')'.
      return inner;
    }
    if (word == "AND" || word == "OR") {
      return FilterError(at, absl::StrCat(word, " without a left operand"),
                         "a comparison before it");
    }
    return ParseComparison();
  }

  // comparison = field op value
  absl::StatusOr<std::string> ParseComparison() {
    const size_t at = pos_;
    const absl::string_view name = Word();
    if (name.empty()) {
      return FilterError(at, absl::StrCat("unexpected ", Describe(Peek())),
                         kExpectTerm);
    }
    if (!IsFieldName(name)) {
      return FilterError(
          at, absl::StrCat("\"", name, "\" is not a field name"),
          "a field name of lowercase letters, digits and '_', such as "
          "role_type");
    }
    const FilterField* field = nullptr;
    for (const FilterField& f : fields_) {
      if (f.name == name) field = &f;
    }
    if (field == nullptr) {
      std::vector<absl::string_view> known;
      for (const FilterField& f : fields_) known.push_back(f.name);
      return FilterError(at, absl::StrCat("unknown field \"", name, "\""),
                         absl::StrCat("one of: ", absl::StrJoin(known, ", ")));
    }
    if (++comparisons_ > kMaxFilterComparisons) {
      return FilterError(
          at, absl::StrCat("more than ", kMaxFilterComparisons, " comparisons"),
          "a shorter filter");
    }
    pos_ += name.size();
    SkipSpace();

    const size_t op_at = pos_;
    const OpSpelling* op = nullptr;
    for (const OpSpelling& s : kOps) {
      if (absl::StartsWith(in_.substr(pos_), s.text) &&
          (op == nullptr || s.text.size() > op->text.size())) {
        op = &s;
      }
    }
    if (op == nullptr) {
      return FilterError(op_at,
                         absl::StrCat("missing operator after field ", name),
                         SupportedOps(field->type));
    }
    if (!Supports(field->type, op->op)) {
      return FilterError(
          op_at,
          absl::StrCat("operator ", op->text, " does not apply to ", name, " (",
                       TypeName(field->type), " field)"),
          SupportedOps(field->type));
    }
    pos_ += op->text.size();
    SkipSpace();

    absl::StatusOr<Value> value = ParseValue();
    if (!value.ok()) return value.status();
    return Compile(*field, op->op, *value);
  }

  // value = quoted text | bare word
  absl::StatusOr<Value> ParseValue() {
    Value v{"", pos_};
    if (AtEnd()) return FilterError(pos_, "the filter ends", kExpectValue);
    const char first = Peek();
    if (first == '"' || first == '\'') {
      const char quote = first;
      const std::string closing = absl::StrCat("a closing ", Describe(quote));
      ++pos_;
      while (true) {
        if (AtEnd()) return FilterError(v.offset, "unterminated text", closing);
        const char c = in_[pos_++];
        if (c == quote) return v;
        if (c != '\\') {
          v.text += c;
          continue;
        }
        if (AtEnd()) return FilterError(v.offset, "unterminated text", closing);
        const char escaped = in_[pos_++];
        switch (escaped) {
          case '"':
          case '\'':
          case '\\':
            v.text += escaped;
            break;
          case 'n':
            v.text += '\n';
            break;
          default:
            return FilterError(pos_ - 2, "unknown escape sequence",
                               R"(one of \" \' \\ \n)");
        }
      }
    }
    while (!AtEnd() && IsBareValueChar(Peek())) ++pos_;
    v.text = std::string(in_.substr(v.offset, pos_ - v.offset));
    if (v.text.empty()) {
      return FilterError(v.offset, absl::StrCat("unexpected ", Describe(first)),
                         kExpectValue);
    }
    if (v.text == "AND" || v.text == "OR" || v.text == "NOT") {
      return FilterError(
          v.offset, absl::StrCat("keyword ", v.text, " instead of a value"),
          absl::StrCat("a value (quote it, \"", v.text,
                       "\", to compare with that text)"));
    }
    return v;
  }

  absl::StatusOr<std::string> Compile(const FilterField& field, Op op,
                                      const Value& value) {
    const std::string& col = field.column;
    auto bad_value = [&](absl::string_view expected) {
      return FilterError(
          value.offset,
          absl::StrCat("invalid value \"", value.text, "\" for ", field.name,
                       " (", TypeName(field.type), " field)"),
          expected);
    };
    int64_t n;
    switch (field.type) {
      case FilterFieldType::kString:
        if (op == Op::kHas) return Like(col, value.text);
        return Compare(col, op, value.text);
      case FilterFieldType::kTextList:
        if (absl::StrContains(value.text, '\n')) {
          return bad_value("text without newlines");
        }
        if (op == Op::kHas) return Like(col, value.text);
        params_.push_back(absl::StrCat("\n", value.text, "\n"));
        // replace() deletes every "\n<value>\n", so the column changes iff
        // one element equals the value. Unlike LIKE, which ignores ASCII case
        // on SQLite, this is case-sensitive on every database.
        if (op == Op::kEq) {
          return absl::StrCat("(replace(", col, ", ?, '') <> ", col, ")");
        }
        return absl::StrCat("(", col, " IS NULL OR replace(", col,
                            ", ?, '') = ", col, ")");
      case FilterFieldType::kInt:
        if (!ParseInt(value.text, &n)) {
          return bad_value("a 64-bit decimal integer such as 42 or -7");
        }
        return Compare(col, op, n);
      case FilterFieldType::kBool:
        if (value.text != "true" && value.text != "false") {
          return bad_value("true or false");
        }
        return Compare(col, op, int64_t{value.text == "true" ? 1 : 0});
      case FilterFieldType::kEnum: {
        if (field.enum_type == nullptr) {
          return absl::InternalError(
              absl::StrCat("filter field ", field.name, " has no enum_type"));
        }
        const google::protobuf::EnumValueDescriptor* e =
            field.enum_type->FindValueByName(value.text);
        if (e == nullptr) {
          std::vector<std::string> names;
          for (int i = 0; i < field.enum_type->value_count(); ++i) {
            names.emplace_back(field.enum_type->value(i)->name());
          }
          return bad_value(
              absl::StrCat("one of: ", absl::StrJoin(names, ", ")));
        }
        return Compare(col, op, int64_t{e->number()});
      }
      case FilterFieldType::kTimestamp:
        if (!ParseTimestamp(value.text, &n)) {
          return bad_value(
              "an RFC 3339 time such as 2024-01-02T03:04:05Z or "
              "2024-01-02T04:04:05.5+01:00");
        }
        return Compare(col, op, n);
      case FilterFieldType::kDate:
        if (!ParseDate(value.text, &n)) {
          return bad_value("a date YYYY-MM-DD such as 2022-05-01");
        }
        return Compare(col, op, n);
    }
    return absl::InternalError("unknown FilterFieldType");
  }

  // `col op ?`; a NULL column makes it NULL (false), except that != is true.
  std::string Compare(const std::string& col, Op op, SqlValue value) {
    params_.push_back(std::move(value));
    if (op == Op::kNe)
      return absl::StrCat("(", col, " IS NULL OR ", col, " <> ?)");
    return absl::StrCat("(", col, " ", SqlOperator(op), " ?)");
  }

  // Whether `col` contains `text`, ignoring case. lower() on both sides keeps
  // the folding consistent with each database's own lower().
  std::string Like(const std::string& col, absl::string_view text) {
    params_.push_back(absl::StrCat("%", EscapeLike(text), "%"));
    return absl::StrCat("(lower(", col, ") LIKE lower(?) ESCAPE '\\')");
  }

  // Consumes `keyword` (AND or OR, at pos_) and checks a term follows.
  absl::Status SkipKeyword(absl::string_view keyword) {
    const size_t at = pos_;
    pos_ += keyword.size();
    SkipSpace();
    if (AtEnd() || Peek() == ')') {
      return FilterError(at, absl::StrCat(keyword, " without a right operand"),
                         "a comparison after it");
    }
    return absl::OkStatus();
  }

  bool AtEnd() const { return pos_ >= in_.size(); }
  char Peek() const { return in_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && absl::ascii_isspace(Peek())) ++pos_;
  }
  // The run of [A-Za-z0-9_] at pos_ (not consumed).
  absl::string_view Word() const {
    size_t end = pos_;
    while (end < in_.size() && IsWordChar(in_[end])) ++end;
    return in_.substr(pos_, end - pos_);
  }

  const absl::string_view in_;
  const absl::Span<const FilterField> fields_;
  size_t pos_ = 0;
  int comparisons_ = 0;
  SqlValues params_;
};

}  // namespace

absl::StatusOr<SqlCondition> CompileFilter(
    absl::string_view filter, absl::Span<const FilterField> fields) {
  if (filter.size() > kMaxFilterLength) {
    return FilterError(absl::StrCat("the filter is ", filter.size(),
                                    " bytes long; expected at most ",
                                    kMaxFilterLength));
  }
  const size_t bad = FindInvalidUtf8(filter);
  if (bad != absl::string_view::npos) {
    return FilterError(bad, "a NUL byte or invalid UTF-8", "UTF-8 text");
  }
  return Parser(filter, fields).Parse();
}

}  // namespace cstopa::common
