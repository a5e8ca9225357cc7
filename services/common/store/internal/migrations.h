// What the two migration runners (sqlite.cc, postgres.cc) share: the
// expansion of a migration's directives per dialect, its checksum, and the
// check of the migrations a database applied against the ones the service
// has (see Migration in sql.h). Tested in store_test.cc.
#ifndef CSTOPA_SERVICES_COMMON_STORE_INTERNAL_MIGRATIONS_H_
#define CSTOPA_SERVICES_COMMON_STORE_INTERNAL_MIGRATIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/store/sql.h"

namespace cstopa::common::internal {

enum class Dialect { kSqlite, kPostgres };

// The text of `m` in `dialect`, as written.
const std::string& MigrationText(const Migration& m, Dialect dialect);

// The SHA-256 of `text`, in lower-case hex.
std::string MigrationChecksum(absl::string_view text);

// `text` with its directives expanded for `dialect` (see sql.h).
// INVALID_ARGUMENT for an unknown or unterminated directive.
absl::StatusOr<std::string> ExpandMigration(absl::string_view text,
                                            Dialect dialect);

// A migration recorded in a database's schema_migrations.
struct AppliedMigration {
  int64_t version = 0;
  std::optional<std::string> checksum;  // none: applied before checksums
};

// What a runner does with a database.
struct MigrationPlan {
  // Versions recorded without a checksum, with the checksum to record.
  std::vector<std::pair<int64_t, std::string>> adopt;
  // Migrations not applied yet, in order.
  std::vector<const Migration*> apply;
};

// The plan for `schema` over a database that applied `applied`.
// FAILED_PRECONDITION, naming the service, version and name, when a
// migration's text changed since it was applied.
absl::StatusOr<MigrationPlan> PlanMigrations(
    const SchemaSpec& schema, Dialect dialect,
    const std::vector<AppliedMigration>& applied);

// `m`'s text in `dialect`, expanded, or INTERNAL naming the migration.
absl::StatusOr<std::string> MigrationSql(const SchemaSpec& schema,
                                         const Migration& m, Dialect dialect);

}  // namespace cstopa::common::internal

#endif  // CSTOPA_SERVICES_COMMON_STORE_INTERNAL_MIGRATIONS_H_
