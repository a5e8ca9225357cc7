#include "services/common/sql.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/errors.h"
#include "services/common/postgres.h"
#include "services/common/sqlite.h"

namespace cstopa::common {

absl::StatusOr<std::unique_ptr<Database>> OpenDatabase(
    const std::string& url, const SchemaSpec& schema) {
  if (url == "sqlite::memory:") return OpenSqlite(":memory:", schema);
  if (absl::StartsWith(url, "sqlite://")) {
    std::string path = url.substr(9);
    if (path.empty()) return InvalidArgument("store", "sqlite:// needs a path");
    return OpenSqlite(path, schema);
  }
  if (absl::StartsWith(url, "postgresql://") ||
      absl::StartsWith(url, "postgres://"))
    return OpenPostgres(url, schema);
  return InvalidArgument(
      "store", absl::StrCat("unsupported store URL `", url,
                            "`: use sqlite:///path/file.db, sqlite::memory: "
                            "or postgresql://user@host:port/db"));
}

void Database::QueryOnceAsync(std::string sql, SqlValues params,
                              absl::Time deadline, RowCallback on_row,
                              StatusCallback done) {
  absl::Status s = QueryOnce(sql, params, deadline,
                             [&](const SqlRow& row) { return on_row(row); });
  done(std::move(s));
}

void Database::QueryKeyAsync(const KeyedQuery* query, std::string key,
                             absl::Time deadline, RowCallback on_row,
                             StatusCallback done) {
  absl::Status s = QueryOnce(query->sql, {std::move(key)}, deadline,
                             [&](const SqlRow& row) { return on_row(row); });
  done(std::move(s));
}

int64_t AsInt(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}

std::string AsString(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return "";
}

}  // namespace cstopa::common
