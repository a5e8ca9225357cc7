// List filters (AIP-160 subset) compiled to SQL with bound parameters.
//
// A List method declares which fields clients may filter on and which SQL
// column holds each; CompileFilter parses the request's `filter` and returns
// a boolean SQL expression to put in a WHERE clause. Every value the client
// wrote travels as a bound parameter, never as SQL text, and the SQL is
// valid on both SQLite and PostgreSQL.
//
//   const FilterField kFields[] = {
//       {"role_type", "role_type", FilterFieldType::kEnum,
//        RoleType_descriptor()},
//       {"start_date", "start_date", FilterFieldType::kDate},
//   };
//   auto cond = CompileFilter(
//       "role_type = ROLE_TYPE_MEMBER AND start_date >= 2022-05-01", kFields);
//   if (!cond.ok()) return cond.status();  // INVALID_ARGUMENT, INVALID_FILTER
//   // cond->sql    == "((role_type = ?) AND (start_date >= ?))"
//   // cond->params == {<ROLE_TYPE_MEMBER's number>, int64_t{20220501}}
//
// Grammar (whitespace around operators is optional):
//
//   filter      = [expression]
//   expression  = factor { ["AND"] factor }    juxtaposition means AND
//   factor      = term { "OR" term }
//   term        = "NOT" term | "-" term | "(" expression ")" | comparison
//   comparison  = field op value
//   field       = [a-z_][a-z0-9_]*
//   op          = "=" | "!=" | "<" | ">" | "<=" | ">=" | ":"
//   value       = "double" or 'single' quoted text with the escapes
//                 \" \' \\ \n, or a bare word such as ROLE_TYPE_MEMBER, -12,
//                 true, 2022-05-01 or 2024-01-02T03:04:05+01:00 (a run of
//                 characters other than whitespace, quotes, ( ) = < > !)
//
// As in AIP-160, OR binds TIGHTER than AND: `a AND b OR c` means
// `a AND (b OR c)`. The keywords AND, OR and NOT are case-sensitive.
//
// NULL columns (unknown values): a comparison on a NULL column is false,
// except `!=`, which is true (it is exactly NOT `=`). NOT and `-` are exact
// complements, so `NOT d < 2022-05-01` matches rows whose d is NULL while
// `d >= 2022-05-01` does not.
//
// Errors are INVALID_ARGUMENT from InvalidArgument("INVALID_FILTER", ...)
// with one violation on "filter" that says what is wrong, at which byte
// offset (0-based), and what was expected.
#ifndef CSTOPA_SERVICES_COMMON_QUERY_FILTER_H_
#define CSTOPA_SERVICES_COMMON_QUERY_FILTER_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "services/common/base/sql_value.h"

namespace cstopa::common {

// Longer filters are rejected without being parsed.
inline constexpr size_t kMaxFilterLength = 2048;
// Parentheses, NOT and '-' may nest at most this deep.
inline constexpr int kMaxFilterDepth = 32;
// A filter may contain at most this many comparisons.
inline constexpr int kMaxFilterComparisons = 64;

// How a field's values are written in filters and stored in its column.
enum class FilterFieldType {
  // A text column. = != < > <= >= compare as the database collates text
  // (bytewise on SQLite); ':' tests for a substring, case-insensitively (at
  // least for ASCII; PostgreSQL's lower() also folds other letters).
  kString,
  // A text column holding several texts as "\n" + t1 + "\n" + t2 + "\n".
  // '=': one element equals the value (case-sensitive); '!=': none does
  // (true for NULL); ':': some element contains the value, case-insensitively
  // as for kString. Other operators are invalid, as are values containing a
  // newline.
  kTextList,
  // An integer column; the value is a decimal integer, optionally negative.
  kInt,
  // An integer column holding 0 or 1; the value is true or false. Only = and
  // != are allowed.
  kBool,
  // An integer column holding an enum number; the value is the enum value's
  // NAME (e.g. ROLE_TYPE_MEMBER) in `enum_type`. Only = and != are allowed.
  kEnum,
  // An integer column, microseconds since the Unix epoch (UTC); the value is
  // an RFC 3339 time such as 2024-01-02T03:04:05Z or
  // 2024-01-02T04:04:05.25+01:00 (years 0001 to 9999).
  kTimestamp,
  // An integer column YYYYMMDD (e.g. 20220501); the value is a date
  // YYYY-MM-DD (e.g. 2022-05-01).
  kDate,
};

// A field clients may filter on.
struct FilterField {
  std::string name;    // the name clients use, e.g. "role_type"
  std::string column;  // trusted SQL: a column name or a parenthesized
                       // expression, e.g. "role_type"
  FilterFieldType type;
  // Required for kEnum (a kEnum comparison without it is INTERNAL), unused
  // otherwise.
  const google::protobuf::EnumDescriptor* enum_type = nullptr;
};

// A compiled filter.
struct SqlCondition {
  // A parenthesized boolean SQL expression with '?' placeholders; empty when
  // the filter is empty or blank (everything matches).
  std::string sql;
  SqlValues params;  // one per '?', in order
};

// Parses `filter` (see the grammar above) against `fields` and compiles it.
// Errors are INVALID_ARGUMENT with reason INVALID_FILTER: an unknown field
// (the message lists the known ones), an operator the field's type does not
// support, a malformed value, unbalanced parentheses, unexpected or trailing
// input, text that is not UTF-8 or contains NUL, a filter longer than
// kMaxFilterLength bytes, nested deeper than kMaxFilterDepth or with more than
// kMaxFilterComparisons comparisons.
absl::StatusOr<SqlCondition> CompileFilter(
    absl::string_view filter, absl::Span<const FilterField> fields);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_QUERY_FILTER_H_
