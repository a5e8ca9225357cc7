#include "services/common/store/internal/migrations.h"

#include <openssl/sha.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cstopa::common::internal {
namespace {

// The standard resource columns (resource_store.h), one string per line as
// laid out in every migration written before the directive existed, so that
// SQLite, which keeps the text of CREATE TABLE, keeps it byte for byte.
std::vector<std::string> ResourceColumnLines(Dialect dialect,
                                             bool name_unique) {
  if (dialect == Dialect::kSqlite) {
    return {absl::StrCat("name TEXT ",
                         name_unique ? "NOT NULL UNIQUE" : "PRIMARY KEY",
                         ", parent TEXT NOT NULL, data BLOB NOT NULL,"),
            "etag TEXT NOT NULL, revision INTEGER NOT NULL,",
            "create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,",
            "delete_time INTEGER"};
  }
  // Text in the "C" collation: ordering, and so keyset pages, match SQLite
  // byte for byte.
  return {absl::StrCat("name TEXT COLLATE \"C\" ",
                       name_unique ? "NOT NULL UNIQUE" : "PRIMARY KEY",
                       ", parent TEXT COLLATE \"C\" NOT NULL, data BYTEA NOT "
                       "NULL,"),
          "etag TEXT COLLATE \"C\" NOT NULL, revision BIGINT NOT NULL,",
          "create_time BIGINT NOT NULL, update_time BIGINT NOT NULL,",
          "delete_time BIGINT"};
}

// The expansion of the directive `body` (what stands between {{ and }}),
// continuation lines indented with `indent`.
absl::StatusOr<std::string> ExpandDirective(absl::string_view body,
                                            absl::string_view indent,
                                            Dialect dialect) {
  std::vector<absl::string_view> words =
      absl::StrSplit(body, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  if (!words.empty() && words[0] == "resource_columns") {
    bool name_unique = false;
    for (size_t i = 1; i < words.size(); ++i) {
      if (words[i] != "name_unique") {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option `", words[i],
                         "` of {{resource_columns}} (known: name_unique)"));
      }
      name_unique = true;
    }
    return absl::StrJoin(ResourceColumnLines(dialect, name_unique),
                         absl::StrCat("\n", indent));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown directive `{{", body, "}}` (known: {{resource_columns}})"));
}

// Where the token starting at `i` (a comment or a quoted literal) ends, or
// `i` when none starts there. Unterminated ones run to the end.
size_t SkipCommentOrLiteral(absl::string_view text, size_t i) {
  if (text.substr(i, 2) == "--") {
    size_t nl = text.find('\n', i);
    return nl == absl::string_view::npos ? text.size() : nl + 1;
  }
  if (text.substr(i, 2) == "/*") {
    size_t close = text.find("*/", i + 2);
    return close == absl::string_view::npos ? text.size() : close + 2;
  }
  if (text[i] == '\'') {  // 'it''s' reads as two literals: fine here
    size_t close = text.find('\'', i + 1);
    return close == absl::string_view::npos ? text.size() : close + 1;
  }
  return i;
}

}  // namespace

const std::string& MigrationText(const Migration& m, Dialect dialect) {
  return dialect == Dialect::kSqlite ? m.sql : m.postgres_sql;
}

std::string MigrationChecksum(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

absl::StatusOr<std::string> ExpandMigration(absl::string_view text,
                                            Dialect dialect) {
  std::string out;
  size_t copied = 0;  // text before this is in `out`
  size_t i = 0;
  while (i < text.size()) {
    if (size_t end = SkipCommentOrLiteral(text, i); end != i) {
      i = end;
      continue;
    }
    if (text.substr(i, 2) != "{{") {
      ++i;
      continue;
    }
    const size_t close = text.find("}}", i + 2);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "a directive `{{` is not closed by `}}`");
    }
    // The directive's line's leading blanks, for the lines it adds.
    const size_t line = text.rfind('\n', i);
    const size_t line_start = line == absl::string_view::npos ? 0 : line + 1;
    absl::string_view before = text.substr(line_start, i - line_start);
    size_t blank = 0;
    while (blank < before.size() && absl::ascii_isblank(before[blank])) {
      ++blank;
    }
    auto expanded = ExpandDirective(text.substr(i + 2, close - i - 2),
                                    before.substr(0, blank), dialect);
    if (!expanded.ok()) return expanded.status();
    absl::StrAppend(&out, text.substr(copied, i - copied), *expanded);
    i = copied = close + 2;
  }
  absl::StrAppend(&out, text.substr(copied));
  return out;
}

absl::StatusOr<MigrationPlan> PlanMigrations(
    const SchemaSpec& schema, Dialect dialect,
    const std::vector<AppliedMigration>& applied) {
  absl::flat_hash_map<int64_t, const AppliedMigration*> by_version;
  for (const AppliedMigration& a : applied) by_version[a.version] = &a;
  MigrationPlan plan;
  for (const Migration& m : schema.migrations) {
    auto it = by_version.find(m.version);
    if (it == by_version.end()) {
      plan.apply.push_back(&m);
      continue;
    }
    std::string checksum = MigrationChecksum(MigrationText(m, dialect));
    const std::optional<std::string>& recorded = it->second->checksum;
    if (!recorded.has_value()) {
      plan.adopt.emplace_back(m.version, std::move(checksum));
    } else if (*recorded != checksum) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migration ", m.version, " (", m.name, ") of ", schema.service,
          " changed after it was applied to this database (SHA-256 ",
          recorded->substr(0, 12), "... recorded, ", checksum.substr(0, 12),
          "... now): an applied migration must stay as it was; put the "
          "change in a new migration"));
    }
  }
  return plan;
}

absl::StatusOr<std::string> MigrationSql(const SchemaSpec& schema,
                                         const Migration& m, Dialect dialect) {
  auto sql = ExpandMigration(MigrationText(m, dialect), dialect);
  if (!sql.ok()) {
    return absl::InternalError(absl::StrCat("migration ", m.version, " (",
                                            m.name, ") of ", schema.service,
                                            ": ", sql.status().message()));
  }
  return sql;
}

}  // namespace cstopa::common::internal
