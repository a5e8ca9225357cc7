// The PostgreSQL back end (postgres.h): PgDatabase wires its parts, each in
// store/internal/ with tests that need no server:
//   pg_url.h                the store URL's settings
//   pg_codec.h              statements, parameters, results, errors
//   pg_libpq_connection.h   one libpq session with its statement cache
//   pg_pool.h               the bounded pool of connections
//   pg_async_io.h           the I/O thread of asynchronous reads
//   migrations.h            directives and checksums (shared with SQLite)
// What stays here: transactions over a pooled connection, the migration
// runner, and the Database interface.
#include "services/common/store/postgres.h"

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/store/internal/migrations.h"
#include "services/common/store/internal/pg_async_io.h"
#include "services/common/store/internal/pg_codec.h"
#include "services/common/store/internal/pg_libpq_connection.h"
#include "services/common/store/internal/pg_pool.h"
#include "services/common/store/internal/pg_url.h"

namespace cstopa::common {
namespace {

using pg::LibpqConnection;

// Statements of one transaction (or of one autocommitted statement) on a
// connection.
class PgTransaction : public SqlTransaction {
 public:
  explicit PgTransaction(LibpqConnection* c) : c_(c) {}

  absl::Status QueryEach(
      absl::string_view sql, const SqlValues& params,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) override {
    auto res = c_->Run(sql, params);
    if (!res.ok()) return res.status();
    auto kinds = pg::ColumnKinds(res->get());
    if (!kinds.ok()) return kinds.status();
    pg::PgRow row(res->get(), &*kinds);
    const int rows = PQntuples(res->get());
    for (int r = 0; r < rows; ++r) {
      row.set_row(r);
      if (absl::Status s = fn(row); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<SqlValues>> Query(
      absl::string_view sql, const SqlValues& params) override {
    std::vector<SqlValues> out;
    absl::Status s = QueryEach(sql, params, [&](const SqlRow& row) {
      SqlValues values;
      values.reserve(row.size());
      for (int c = 0; c < row.size(); ++c) values.push_back(row.Value(c));
      out.push_back(std::move(values));
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<int64_t> Execute(absl::string_view sql,
                                  const SqlValues& params) override {
    auto res = c_->Run(sql, params);
    if (!res.ok()) return res.status();
    int64_t n = 0;
    const char* tuples = PQcmdTuples(res->get());
    if (tuples != nullptr && *tuples != '\0' && !absl::SimpleAtoi(tuples, &n)) {
      n = 0;
    }
    return n;
  }

 private:
  LibpqConnection* c_;
};

// A stable 64-bit FNV-1a hash: the same in every process and build, so that
// all replicas take the same advisory lock.
int64_t LockKey(absl::string_view schema) {
  uint64_t h = 14695981039346656037ull;
  for (char ch : absl::StrCat("cstopa.migrations:", schema)) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

// Outcomes are reported on two threads besides the I/O thread: finishing a
// gRPC call costs about as much as reading its answer.
pg::AsyncIo::Options IoOptions() {
  pg::AsyncIo::Options options;
  options.completion_threads = 2;
  return options;
}

class PgDatabase : public Database {
 public:
  explicit PgDatabase(pg::Options opts)
      : opts_(std::move(opts)),
        pool_(opts_.pool_size, opts_.pool_timeout, opts_.display,
              [this] { return std::make_unique<LibpqConnection>(&opts_); }),
        io_(&pool_, IoOptions()) {}
  ~PgDatabase() override {
    StopStoreThreads();
    io_.Stop();
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  absl::Status Migrate(const SchemaSpec& schema);

  // Transactions run on pool_size threads each for reads and writes: as
  // many as there are connections for them.
  void StartThreads() {
    StartStoreThreads("pg", opts_.pool_size, opts_.pool_size);
  }

  using Database::QueryOnce;
  using Database::Read;
  using Database::Write;

  absl::Status Read(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    if (absl::Now() >= deadline) return pg::DeadlinePassed();
    auto c = Acquire();
    if (!c.ok()) return c.status();
    (*c)->set_deadline(deadline);
    absl::Status s = RunTransaction(
        *c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", fn);
    (*c)->set_deadline(absl::InfiniteFuture());
    pool_.Release(*c);
    return s;
  }

  absl::Status Write(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    if (absl::Now() >= deadline) return pg::DeadlinePassed();
    auto c = Acquire();
    if (!c.ok()) return c.status();
    (*c)->set_deadline(deadline);
    absl::Status s = RunTransaction(*c, "BEGIN", fn);
    read_cache().Invalidate();
    (*c)->set_deadline(absl::InfiniteFuture());
    pool_.Release(*c);
    return s;
  }

  absl::Status QueryOnce(
      absl::string_view sql, const SqlValues& params, absl::Time deadline,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) override {
    if (absl::Now() >= deadline) return pg::DeadlinePassed();
    auto c = Acquire();
    if (!c.ok()) return c.status();
    // Autocommit: the statement is its own snapshot.
    (*c)->set_deadline(deadline);
    PgTransaction tx(*c);
    bool called = false;
    auto counting = [&](const SqlRow& row) {
      called = true;
      return fn(row);
    };
    absl::Status s = tx.QueryEach(sql, params, counting);
    if (!s.ok() && !called && (*c)->broken()) {
      // A connection the server dropped while idle: a read can be retried.
      s = (*c)->Connect();
      if (s.ok()) s = tx.QueryEach(sql, params, counting);
    }
    (*c)->set_deadline(absl::InfiniteFuture());
    pool_.Release(*c);
    return s;
  }

  void QueryOnceAsync(std::string sql, SqlValues params, absl::Time deadline,
                      RowCallback on_row, StatusCallback done) override {
    QuerySharedAsync(std::move(sql), std::move(params), deadline,
                     std::move(on_row), std::move(done), SharedRead());
  }

  void QuerySharedAsync(std::string sql, SqlValues params, absl::Time deadline,
                        RowCallback on_row, StatusCallback done,
                        SharedRead share) override {
    auto q = std::make_unique<pg::AsyncQuery>();
    q->sql = std::move(sql);
    q->params = std::move(params);
    q->deadline = deadline;
    q->on_row = std::move(on_row);
    q->done = std::move(done);
    q->share = std::move(share);
    io_.Submit(std::move(q));
  }

  void QueryKeyAsync(const KeyedQuery* query, std::string key,
                     absl::Time deadline, RowCallback on_row,
                     StatusCallback done) override {
    auto q = std::make_unique<pg::AsyncQuery>();
    q->keyed = query;
    q->key = std::move(key);
    q->deadline = deadline;
    q->on_row = std::move(on_row);
    q->done = std::move(done);
    io_.Submit(std::move(q));
  }

  absl::Status Ping() override {
    auto c = Acquire();
    if (!c.ok()) return c.status();
    absl::Status s = (*c)->Exec("SELECT 1", "ping");
    if (!s.ok() && (*c)->broken()) {
      s = (*c)->Connect();
      if (s.ok()) s = (*c)->Exec("SELECT 1", "ping");
    }
    pool_.Release(*c);
    if (s.ok() || s.code() == absl::StatusCode::kUnavailable) return s;
    return absl::UnavailableError(s.message());
  }

  std::vector<StoreGauge> Gauges() override {
    std::vector<StoreGauge> out = StoreThreadGauges();
    const pg::ConnectionPool::Counts counts = pool_.counts();
    const pg::AsyncIo::Stats io = io_.stats();
    std::vector<StoreGauge> pool = {
        {"cstopa_store_pool_size",
         "Connections to PostgreSQL the pool may open (pool_size).",
         static_cast<double>(opts_.pool_size)},
        {"cstopa_store_connections", "Connections to PostgreSQL opened.",
         static_cast<double>(counts.open)},
        {"cstopa_store_connections_busy",
         "Connections to PostgreSQL in use by a call or a statement.",
         static_cast<double>(counts.open - counts.idle)},
        {"cstopa_store_reads_waiting",
         "Asynchronous reads (Gets) waiting for a free connection.",
         static_cast<double>(io.waiting)},
        {"cstopa_store_reads_per_statement",
         "Asynchronous reads answered per statement sent, since the start "
         "(above 1: reads waiting together were sent as one statement).",
         io.statements == 0 ? 0.0
                            : static_cast<double>(io.reads) /
                                  static_cast<double>(io.statements)},
    };
    out.insert(out.end(), pool.begin(), pool.end());
    return out;
  }

  absl::string_view dialect() const override { return "postgresql"; }

 private:
  // A connection of the pool, connected. The pool holds only
  // LibpqConnections: its factory (in the constructor) makes nothing else.
  absl::StatusOr<LibpqConnection*> Acquire() {
    auto c = pool_.Acquire();
    if (!c.ok()) return c.status();
    return static_cast<LibpqConnection*>(*c);
  }

  static absl::Status RunTransaction(
      LibpqConnection* c, const std::string& begin,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) {
    absl::Status s = c->Exec(begin, "begin");
    if (!s.ok() && c->broken()) {
      // The server dropped this idle connection (restart, idle timeout):
      // nothing has run yet, so reconnect and begin again.
      s = c->Connect();
      if (s.ok()) s = c->Exec(begin, "begin");
    }
    if (!s.ok()) return s;
    PgTransaction tx(c);
    s = fn(tx);
    if (s.ok()) {
      if (c->transaction_status() == PQTRANS_INERROR) {
        // COMMIT would silently roll back.
        s = absl::InternalError(
            "postgresql: a statement failed and its error was ignored; "
            "the transaction was rolled back");
      } else {
        s = c->Exec("COMMIT", "commit");
        if (s.ok()) return s;
      }
    }
    PGTransactionStatusType ts = c->transaction_status();
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
      (void)c->Exec("ROLLBACK", "rollback");
    }
    return s;
  }

  const pg::Options opts_;
  pg::ConnectionPool pool_;
  pg::AsyncIo io_;  // after pool_: stopped before the pool goes
};

// ---------------------------------------------------------------------------
// Migrations (see Migration in sql.h): checked and applied at open in one
// transaction that first takes a transaction-scoped advisory lock derived
// from the schema name, so that replicas starting together apply each one
// once.

absl::Status PgDatabase::Migrate(const SchemaSpec& schema) {
  for (const Migration& m : schema.migrations) {
    if (m.postgres_sql.empty()) {
      return absl::InternalError(absl::StrCat(
          "migration ", m.version, " (", m.name, ") of ", schema.service,
          " has no PostgreSQL version (Migration::postgres_sql)"));
    }
  }
  auto c = Acquire();
  if (!c.ok()) return c.status();
  const std::string table =
      absl::StrCat(pg::QuoteIdentifier(opts_.schema), ".schema_migrations");
  absl::Status s = RunTransaction(*c, "BEGIN", [&](SqlTransaction& tx) {
    // Replicas starting together queue here; each then sees the versions
    // the others committed (READ COMMITTED: a fresh snapshot per
    // statement).
    auto locked =
        tx.Execute("SELECT pg_advisory_xact_lock(?)", {LockKey(opts_.schema)});
    if (!locked.ok()) return locked.status();
    // Checked first so that a role without CREATE on the database can use
    // a schema made for it.
    auto exists = tx.Query("SELECT 1 FROM pg_namespace WHERE nspname = ?",
                           {opts_.schema});
    if (!exists.ok()) return exists.status();
    if (exists->empty()) {
      if (auto e = (*c)->Exec(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ",
                                           pg::QuoteIdentifier(opts_.schema)),
                              "create schema");
          !e.ok())
        return e;
    }
    if (auto e = (*c)->Exec(
            absl::StrCat("CREATE TABLE IF NOT EXISTS ", table,
                         " (version bigint PRIMARY KEY, name text NOT NULL, "
                         "applied_at timestamptz NOT NULL DEFAULT now(), "
                         "checksum text)"),
            "create schema_migrations");
        !e.ok())
      return e;
    // A database from before checksums: the column is added, and the
    // migrations it applied get their current text's checksum.
    auto has_checksum = tx.Query(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = ? "
        "AND table_name = 'schema_migrations' AND column_name = 'checksum'",
        {opts_.schema});
    if (!has_checksum.ok()) return has_checksum.status();
    if (has_checksum->empty()) {
      if (auto e = (*c)->Exec(
              absl::StrCat("ALTER TABLE ", table, " ADD COLUMN checksum text"),
              "add schema_migrations.checksum");
          !e.ok())
        return e;
    }
    auto rows =
        tx.Query(absl::StrCat("SELECT version, checksum FROM ", table), {});
    if (!rows.ok()) return rows.status();
    std::vector<internal::AppliedMigration> applied;
    for (const SqlValues& r : *rows) {
      internal::AppliedMigration a{pg::ToInt(r[0]), std::nullopt};
      if (const auto* sum = std::get_if<std::string>(&r[1])) a.checksum = *sum;
      applied.push_back(std::move(a));
    }
    auto plan =
        internal::PlanMigrations(schema, internal::Dialect::kPostgres, applied);
    if (!plan.ok()) return plan.status();
    for (const auto& [version, checksum] : plan->adopt) {
      auto r = tx.Execute(
          absl::StrCat("UPDATE ", table, " SET checksum = ? WHERE version = ?"),
          {checksum, version});
      if (!r.ok()) return r.status();
    }
    for (const Migration* m : plan->apply) {
      auto sql =
          internal::MigrationSql(schema, *m, internal::Dialect::kPostgres);
      if (!sql.ok()) return sql.status();
      if (auto e = (*c)->Exec(*sql, "migration"); !e.ok()) {
        return absl::Status(
            e.code() == absl::StatusCode::kUnavailable
                ? absl::StatusCode::kUnavailable
                : absl::StatusCode::kInternal,
            absl::StrCat("migration ", m->version, " (", m->name, ") of ",
                         schema.service, " failed: ", e.message()));
      }
      auto ins = tx.Execute(
          absl::StrCat("INSERT INTO ", table,
                       " (version, name, checksum) VALUES (?, ?, ?)"),
          {int64_t{m->version}, m->name,
           internal::MigrationChecksum(m->postgres_sql)});
      if (!ins.ok()) return ins.status();
    }
    return absl::OkStatus();
  });
  pool_.Release(*c);
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(
    const std::string& url, const SchemaSpec& schema) {
  if (auto s = pg::CheckServiceName(schema.service); !s.ok()) return s;
  auto opts = pg::ParseUrl(url, schema.service);
  if (!opts.ok()) return opts.status();
  auto db = std::make_unique<PgDatabase>(*std::move(opts));
  if (auto s = db->Migrate(schema); !s.ok()) return s;
  db->StartThreads();
  return db;
}

}  // namespace cstopa::common
