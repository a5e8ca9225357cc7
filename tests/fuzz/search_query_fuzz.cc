// libFuzzer target for the search-text parser of the legislation service:
// any input must either be refused with INVALID_ARGUMENT or become words
// whose FTS5 expression SQLite accepts as plain words. The expression is run
// against a real FTS5 table: it must never be a syntax error, and a row that
// holds none of the words must never match (no operator survives, nothing
// "matches all").
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/legislation/search_query.h"

namespace {

// One in-memory FTS5 table with a row no query word can match (words of
// the parser are at least one letter or digit; this row has none).
sqlite3* Db() {
  static sqlite3* db = [] {
    sqlite3* d = nullptr;
    if (sqlite3_open(":memory:", &d) != SQLITE_OK) std::abort();
    if (sqlite3_exec(d,
                     "CREATE VIRTUAL TABLE t USING fts5(body, tokenize = "
                     "'unicode61 remove_diacritics 2');"
                     "INSERT INTO t(body) VALUES ('.');",
                     nullptr, nullptr, nullptr) != SQLITE_OK)
      std::abort();
    return d;
  }();
  return db;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view query(reinterpret_cast<const char*>(data), size);
  auto words = cstopa::legislation::ParseSearchQuery(query);
  if (!words.ok()) {
    if (words.status().code() != absl::StatusCode::kInvalidArgument)
      std::abort();
    return 0;
  }
  if (words->empty() || words->size() > cstopa::legislation::kMaxSearchWords)
    std::abort();
  const std::string expr = cstopa::legislation::Fts5Expression(*words);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(Db(), "SELECT count(*) FROM t WHERE t MATCH ?", -1,
                         &stmt, nullptr) != SQLITE_OK)
    std::abort();
  sqlite3_bind_text(stmt, 1, expr.data(), static_cast<int>(expr.size()),
                    SQLITE_TRANSIENT);
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) std::abort();  // a syntax error in the expression
  if (sqlite3_column_int(stmt, 0) != 0) std::abort();  // matched everything
  sqlite3_finalize(stmt);
  return 0;
}
