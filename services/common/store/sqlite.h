// The SQLite back end of the SQL layer (sql.h).
//
// A file database runs in WAL mode with synchronous=FULL, so a write is on
// disk before Write() returns and survives a crash of the process or the
// machine. One connection writes (writes are serialized by a mutex, as SQLite
// does anyway); a small pool of connections reads concurrently from
// snapshots. An in-memory database uses a single connection for both.
// Inside a transaction, use its `tx`: a Database call there is a transaction
// of its own (on a file database it does not see the caller's uncommitted
// changes; on an in-memory one it waits for the connection the caller
// holds).
//
//   auto db = OpenSqlite("/tmp/x.db", schema);
#ifndef CSTOPA_SERVICES_COMMON_STORE_SQLITE_H_
#define CSTOPA_SERVICES_COMMON_STORE_SQLITE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/store/sql.h"

namespace cstopa::common {

// Opens (creating if needed) the database at `path`, or ":memory:", checks
// the migrations it applied (FAILED_PRECONDITION when one's text changed;
// see Migration in sql.h) and applies the schema's pending ones in one
// transaction each.
absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const SchemaSpec& schema);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_STORE_SQLITE_H_
