// A small SQL layer that every service store is written against.
//
// A Database runs functions inside transactions; the function issues
// statements through SqlTransaction with `?` placeholders and bound
// parameters only (user input is never spliced into SQL text). Back ends:
// SQLite today (sqlite.h); PostgreSQL slots in behind the same interface by
// rewriting `?` to `$n`.
//
//   auto db = OpenDatabase("sqlite:///var/lib/cstopa/membership.db",
//                          {"membership", migrations});
//   absl::Status s = (*db)->Write([&](SqlTransaction& tx) -> absl::Status {
//     return tx.Execute("UPDATE t SET x = ? WHERE id = ?", {int64_t{1}, id})
//         .status();
//   });
#ifndef CSTOPA_SERVICES_COMMON_STORE_SQL_H_
#define CSTOPA_SERVICES_COMMON_STORE_SQL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/base/executor.h"
#include "services/common/base/sql_value.h"
#include "services/common/store/read_cache.h"

namespace cstopa::common {

// One schema change. Versions start at 1 and increase by one; a database
// records the versions applied and applies the rest, in order, at start.
//
// The store owns the standard columns of a resource table (see
// resource_store.h), so a migration holds only what is special to its
// tables: inside CREATE TABLE, the directive
//
//   {{resource_columns}}
//
// stands for name (the primary key), parent, data, etag, revision,
// create_time, update_time and delete_time, in each dialect's types (TEXT,
// BLOB and INTEGER on SQLite; text COLLATE "C", bytea and bigint on
// PostgreSQL, so that keyset pages order byte for byte as on SQLite), laid
// out over four lines indented like the directive's own. A table with a
// primary key of its own writes `{{resource_columns name_unique}}`: name is
// then NOT NULL UNIQUE instead. `{{` starts a directive anywhere in a
// migration outside comments and '...' literals; an unknown one fails the
// start.
//
//   CREATE TABLE states (
//     {{resource_columns}},
//     display_name TEXT NOT NULL
//   );
//
// A database records, with each migration it applies, the SHA-256 of the
// migration's text as written (before expansion) in its dialect. A migration
// whose text changed after it was applied is refused at start
// (FAILED_PRECONDITION naming the service, version and name): a change goes
// in a new migration. Migrations applied before checksums were recorded get
// the current text's checksum, once.
struct Migration {
  int version = 0;
  std::string name;
  std::string sql;           // SQLite: one or more statements separated by ';'
  std::string postgres_sql;  // the same change in PostgreSQL's dialect
};

// The schema of one service: its name (its PostgreSQL schema) and its
// migrations in both dialects.
struct SchemaSpec {
  std::string service;
  std::vector<Migration> migrations;
};

// Statements within one transaction. Not thread-safe; lives only inside
// Database::Read/Write.
// One result row while a query steps; valid only inside the callback.
class SqlRow {
 public:
  virtual ~SqlRow() = default;
  virtual int size() const = 0;
  virtual bool IsNull(int column) const = 0;
  virtual int64_t Int(int column) const = 0;
  // Text or blob bytes, without a copy.
  virtual absl::string_view Bytes(int column) const = 0;
  // A copy of the value (for page cursors).
  virtual SqlValue Value(int column) const = 0;
};

class SqlTransaction {
 public:
  virtual ~SqlTransaction() = default;
  // Runs a query and calls `fn` for each row, without copying values; an
  // error from `fn` stops the query and is returned.
  virtual absl::Status QueryEach(
      absl::string_view sql, const SqlValues& params,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) = 0;
  // Runs a query and returns every row.
  virtual absl::StatusOr<std::vector<SqlValues>> Query(
      absl::string_view sql, const SqlValues& params) = 0;
  // Runs a statement and returns the number of rows it changed.
  virtual absl::StatusOr<int64_t> Execute(absl::string_view sql,
                                          const SqlValues& params) = 0;
};

// Called once with a row of an asynchronous query (see
// Database::QueryOnceAsync); an error stops the query and becomes its result.
using RowCallback = absl::AnyInvocable<absl::Status(const SqlRow&)>;
// Called exactly once when an asynchronous operation ends.
using StatusCallback = absl::AnyInvocable<void(absl::Status)>;
// The work of one transaction run on a store thread (Database::ReadAsync,
// Database::WriteAsync).
using TransactionFn = absl::AnyInvocable<absl::Status(SqlTransaction&)>;

// A read of the rows of one key that a back end may combine with reads of
// other keys into one statement (see Database::QueryKeyAsync).
struct KeyedQuery {
  // The read of one key, bound to `?`:
  //   SELECT data, delete_time FROM t WHERE name = ?
  std::string sql;
  // The same read of many keys in PostgreSQL's dialect, bound to one text
  // array, returning the key first and then the columns of `sql`:
  //   SELECT name, data, delete_time FROM t WHERE name = ANY(?)
  std::string batch_sql;
};

// How identical reads may share the work done on their rows as well as the
// statement (see Database::QuerySharedAsync). Reads with the same `kind`
// (the code that reads, any address it owns) and `key` (whatever beyond the
// statement their outcome depends on) produce the same outcome from the
// same rows: one runs its row callback, every other copies its outcome.
struct SharedRead {
  const void* kind = nullptr;  // null: the read shares nothing
  std::string key;
  // What the read's row callback fills, given to the others' `adopt`.
  const void* outcome = nullptr;
  // Makes this read's outcome a copy of `leader`'s (another read's
  // `outcome`, its row callback done); an error is this read's result.
  absl::AnyInvocable<absl::Status(const void* leader)> adopt;
};

// A figure about a store at one moment, for operators (a Prometheus gauge).
struct StoreGauge {
  std::string name;  // a Prometheus metric name, cstopa_store_...
  std::string help;
  double value = 0;
};

class Database {
 public:
  virtual ~Database() = default;
  // Runs `fn` in a read-only transaction (one consistent snapshot).
  absl::Status Read(absl::FunctionRef<absl::Status(SqlTransaction&)> fn) {
    return Read(absl::InfiniteFuture(), fn);
  }
  // Runs `fn` in a write transaction; commits when it returns OK (durably,
  // before returning), rolls back otherwise. SQLite serializes writes;
  // PostgreSQL runs them concurrently (READ COMMITTED), so writers make their
  // changes conditional (see ResourceStore::Update).
  absl::Status Write(absl::FunctionRef<absl::Status(SqlTransaction&)> fn) {
    return Write(absl::InfiniteFuture(), fn);
  }
  // Runs one read-only statement without an explicit transaction (a single
  // statement reads one consistent snapshot by itself), calling `fn` for each
  // row: one round trip instead of three on PostgreSQL. Inside a Read or
  // Write use its `tx` instead: this is a statement of its own.
  absl::Status QueryOnce(absl::string_view sql, const SqlValues& params,
                         absl::FunctionRef<absl::Status(const SqlRow&)> fn) {
    return QueryOnce(sql, params, absl::InfiniteFuture(), fn);
  }

  // The same, bounded by `deadline`: statements still running then are
  // interrupted (SQLite) or cancelled on the server (PostgreSQL), and the
  // call fails with DEADLINE_EXCEEDED.
  virtual absl::Status Read(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) = 0;
  virtual absl::Status Write(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) = 0;
  virtual absl::Status QueryOnce(
      absl::string_view sql, const SqlValues& params, absl::Time deadline,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) = 0;

  // QueryOnce without holding the calling thread for the round trip, for
  // handlers of the gRPC callback API: `on_row` runs for each row, then
  // `done` with the outcome, exactly once. On PostgreSQL the statement is
  // sent from the calling thread (which waits only to open a connection the
  // pool does not have yet) and the answer is read by the database's one
  // I/O thread, which runs both callbacks; when every pooled connection is
  // busy the query waits in a queue (at most pool_timeout, then
  // UNAVAILABLE) without a thread. Other back ends run it synchronously:
  // both callbacks then run before this returns.
  //
  // What the callbacks reference must live until `done` runs. They must not
  // block: in particular `done` must not wait for another asynchronous
  // query to finish (it would wait for its own thread). Starting one is
  // fine.
  //
  //   db->QueryOnceAsync("SELECT data FROM t WHERE name = ?", {name},
  //                      deadline, [&](const SqlRow& row) {...},
  //                      [](absl::Status s) { reactor->Finish(...); });
  virtual void QueryOnceAsync(std::string sql, SqlValues params,
                              absl::Time deadline, RowCallback on_row,
                              StatusCallback done);

  // QueryOnceAsync of a read whose row work is worth sharing (a page built
  // or snippets cut from the rows): when PostgreSQL answers identical
  // waiting reads with one statement, the reads of one `share.kind` and
  // `share.key` also run `on_row` once, for the first of them, and the
  // others `share.adopt` its outcome (before any `done` runs). Other back
  // ends ignore `share`.
  virtual void QuerySharedAsync(std::string sql, SqlValues params,
                                absl::Time deadline, RowCallback on_row,
                                StatusCallback done, SharedRead share);

  // QueryOnceAsync of `query->sql` with `key` bound. While the read waits
  // for a connection, PostgreSQL combines it with the other waiting reads
  // of the same `query` (the same object) into one statement of
  // `query->batch_sql`, and gives each read the rows of its key: under load
  // the database answers many reads with one round trip and one index scan
  // each. `query` must outlive the database's use of it.
  virtual void QueryKeyAsync(const KeyedQuery* query, std::string key,
                             absl::Time deadline, RowCallback on_row,
                             StatusCallback done);

  // Read and Write without holding the calling thread: `fn` runs in the
  // transaction on one of the store's own threads, then `done` with the
  // outcome, on that thread. The way handlers run transactions (they must
  // never wait for the store on a gRPC thread). A transaction that reaches a
  // thread after `deadline` fails with DEADLINE_EXCEEDED without running.
  // Inside `fn`, use only `tx`: a Database call there would wait for a
  // second connection (and with SQLite's one writer, for itself).
  virtual void ReadAsync(absl::Time deadline, TransactionFn fn,
                         StatusCallback done);
  virtual void WriteAsync(absl::Time deadline, TransactionFn fn,
                          StatusCallback done);

  // ReadAsync that always runs on one of the store's read threads, never on
  // the calling thread (SQLite's ReadAsync runs a read at once on the
  // caller's thread when a reader connection is free): for a long read that
  // waits for something else while its transaction is open, such as an
  // export waiting for its client. It holds that thread, and its
  // connection, until `fn` returns.
  virtual void ReadOnStoreThread(absl::Time deadline, TransactionFn fn,
                                 StatusCallback done);

  // Answers of recent reads, kept until a write commits (read_cache.h).
  // Every back end's Write invalidates it when its transaction ends, before
  // returning; a change feed, when it sees rows another replica wrote.
  // A Database that wraps another answers with the other's.
  virtual ReadCache& read_cache() { return read_cache_; }

  // The store's own figures (connections, queued reads, ...), served with
  // the server's metrics; none by default. Cheap; thread-safe.
  virtual std::vector<StoreGauge> Gauges() { return {}; }

  // OK while the store answers; UNAVAILABLE otherwise. Cheap.
  virtual absl::Status Ping() = 0;
  // "sqlite" or "postgresql".
  virtual absl::string_view dialect() const = 0;

 protected:
  // Starts the threads of ReadAsync (`readers`) and WriteAsync (`writers`).
  // Back ends call this once they can run transactions.
  void StartStoreThreads(absl::string_view name, int readers, int writers);
  // Runs what is queued and joins the store threads. Back ends call this
  // first in their destructor, while transactions can still run.
  void StopStoreThreads();
  // The threads of ReadAsync, for back ends whose QueryOnceAsync runs the
  // statement synchronously on them (SQLite). Null before StartStoreThreads.
  Executor* read_threads() { return read_executor_.get(); }
  // The figures of the store threads, for Gauges().
  std::vector<StoreGauge> StoreThreadGauges() const;

 private:
  void RunOn(Executor* executor, bool write, absl::Time deadline,
             TransactionFn fn, StatusCallback done);

  std::unique_ptr<Executor> read_executor_;
  std::unique_ptr<Executor> write_executor_;
  ReadCache read_cache_;
};

// Opens the store named by `url` and applies pending migrations:
//   sqlite:///absolute/path.db   a file (created if missing; WAL mode)
//   sqlite://relative/path.db    a file relative to the working directory
//   sqlite::memory:              a private in-memory database
//   postgresql://user@host:port/db?pool_size=8   PostgreSQL (postgres.h)
// Unknown schemes are INVALID_ARGUMENT.
absl::StatusOr<std::unique_ptr<Database>> OpenDatabase(
    const std::string& url, const SchemaSpec& schema);

// Helpers for reading result columns. A NULL reads as 0 / "".
int64_t AsInt(const SqlValue& v);
std::string AsString(const SqlValue& v);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_STORE_SQL_H_
