// A value bound to a SQL statement parameter or read from a result column.
//
// Every back end (SQLite today, PostgreSQL next) maps these four kinds to its
// own types. Text is UTF-8; blobs travel as std::string too, flagged by the
// column type, never by content.
//
//   SqlValue v = int64_t{42};
//   if (const auto* i = std::get_if<int64_t>(&v)) ...
#ifndef CSTOPA_SERVICES_COMMON_BASE_SQL_VALUE_H_
#define CSTOPA_SERVICES_COMMON_BASE_SQL_VALUE_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cstopa::common {

// NULL, integer, real or text.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;
using SqlValues = std::vector<SqlValue>;

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_BASE_SQL_VALUE_H_
