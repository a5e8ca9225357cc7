// The PostgreSQL back end of the SQL layer (sql.h).
//
// The URL is libpq's (https://www.postgresql.org/docs/15/libpq-connect.html):
//
//   postgresql://user[:password]@host[:port]/dbname[?param=value&...]
//
// (`postgres://` too). Two parameters are ours and are removed before the
// rest reaches libpq:
//   pool_size        connections at most (default 8, 1..64), opened lazily
//   pool_timeout_ms  how long a call waits for a free connection before it
//                    fails with UNAVAILABLE (default 5000, 1..600000)
// Unless the URL says otherwise, libpq gets connect_timeout=5, TCP keepalives
// (idle 30 s, interval 10 s, 3 probes) and tcp_user_timeout=30000, so that no
// call waits forever on a dead server, and client_encoding=UTF8.
//
// A service's tables live in the PostgreSQL schema named after the service
// (SchemaSpec::service, [a-z_][a-z0-9_]*): it is created if missing, and
// every connection's search_path is set to it. Migrations (their
// `postgres_sql`, directives expanded: see Migration in sql.h) are checked
// and applied at open in one transaction that first takes a
// transaction-scoped advisory lock derived from the schema name, so replicas
// starting together apply each one once; applied versions and their
// checksums are recorded in <schema>.schema_migrations.
//
// Read runs in a REPEATABLE READ READ ONLY transaction, Write in a READ
// COMMITTED one; each takes its own pooled connection (writes from different
// threads run concurrently, unlike SQLite's). Inside a transaction, use its
// `tx`: a Database call there is a transaction of its own on a second
// connection (it does not see the caller's uncommitted changes, and with
// every connection taken it waits pool_timeout_ms and fails). A connection
// lost with the server (a restart) is reopened on its next use.
//
// Asynchronous reads (QueryOnceAsync, QueryKeyAsync; what the services'
// Get handlers use): the calling thread sends the statement on a free pooled
// connection and returns; one I/O thread per database ("pg_io") waits on
// the sockets of every connection with a statement in flight (epoll) and
// runs the callbacks when the answer is complete. So no gRPC thread is
// parked on a round trip. When all pool_size connections are busy, reads
// wait in a queue (no thread each) for at most pool_timeout_ms; when a
// connection frees up, the I/O thread sends the first of them together
// with every other waiting read of the same KeyedQuery (up to 64) as one
// `= ANY(array)` statement and hands each read the rows of its key. Under
// load many Gets then cost one round trip and one statement. A read whose
// deadline passes is answered DEADLINE_EXCEEDED at once; a statement nobody
// waits for any more is cancelled on the server.
//
// `?` placeholders become $1..$n (outside quoted literals, quoted identifiers,
// comments and dollar-quoted strings; so PostgreSQL's `?`, `?|`, `?&` jsonb
// operators cannot be used: use the functions jsonb_exists etc.). Statements
// are prepared once per connection and the server infers parameter types.
// Result columns may be bigint, integer, smallint, boolean (read as 0/1),
// double precision, real, text, varchar, char(n), name, bytea, json or jsonb;
// cast others (numeric, timestamptz, uuid, ...) in the query.
//
// Errors: connection problems are UNAVAILABLE, unique violations
// ALREADY_EXISTS, serialization failures and deadlocks ABORTED, statement
// timeouts DEADLINE_EXCEEDED, other server errors INTERNAL with the server's
// message and SQLSTATE.
//
//   auto db = OpenPostgres("postgresql://app@db:5432/cstopa?pool_size=16",
//                          {"membership", migrations});
#ifndef CSTOPA_SERVICES_COMMON_STORE_POSTGRES_H_
#define CSTOPA_SERVICES_COMMON_STORE_POSTGRES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/store/sql.h"

namespace cstopa::common {

// Connects to the server named by `url` (see above), creates the service's
// schema if needed and applies its pending migrations. INVALID_ARGUMENT for
// a malformed URL or service name, UNAVAILABLE when the server cannot be
// reached, INTERNAL (naming the migration) when a migration fails,
// FAILED_PRECONDITION when an applied migration's text changed.
absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(
    const std::string& url, const SchemaSpec& schema);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_STORE_POSTGRES_H_
