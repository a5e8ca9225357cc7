#include "services/common/store/sqlite.h"

#include <sqlite3.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/base/errors.h"
#include "services/common/store/fts5_tokenizer.h"
#include "services/common/store/internal/migrations.h"

namespace cstopa::common {
namespace {

constexpr int kReaderConnections = 4;
// Each reader maps up to this much of the database file (address space and
// page cache, not heap)...
constexpr int64_t kMmapBytes = int64_t{1} << 30;
// ...and keeps up to this many KiB of decoded pages (heap, per reader).
constexpr int kReaderCacheKib = 8192;
constexpr int kBusyTimeoutMs = 10000;

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string msg = absl::StrCat("sqlite ", what, ": ",
                                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      // The store cannot be reached right now (locked, or its file or disk
      // is failing): the health watcher reports NOT_SERVING meanwhile.
      return absl::UnavailableError(msg);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(msg);
    case SQLITE_INTERRUPT:  // by DeadlineGuard
      return absl::DeadlineExceededError(msg);
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return absl::AlreadyExistsError(msg);
      return absl::InternalError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// One connection with its prepared-statement cache.
class Connection {
 public:
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close_v2(db_);
  }

  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, bool read_only) {
    auto c = std::make_unique<Connection>();
    int flags = SQLITE_OPEN_NOMUTEX |
                (read_only ? SQLITE_OPEN_READONLY
                           : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path.c_str(), &c->db_, flags, nullptr);
    if (rc != SQLITE_OK) {
      absl::Status s = SqliteError(c->db_, rc, absl::StrCat("open ", path));
      return s;
    }
    sqlite3_busy_timeout(c->db_, kBusyTimeoutMs);
    sqlite3_extended_result_codes(c->db_, 1);
    // FTS5 tables may use the search tokenizers (store/fts5_tokenizer.h).
    if (absl::Status s = RegisterFts5Tokenizers(c->db_); !s.ok()) return s;
    return c;
  }

  absl::Status Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return SqliteError(db_, rc, absl::StrCat("exec: ", msg));
    }
    return absl::OkStatus();
  }

  // Runs a parameterless statement through the prepared-statement cache
  // (BEGIN, COMMIT and ROLLBACK run on every call).
  absl::Status Step(absl::string_view sql) {
    auto stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    int rc = sqlite3_step(*stmt);
    sqlite3_reset(*stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
      return SqliteError(db_, rc, absl::StrCat("step ", sql));
    return absl::OkStatus();
  }

  absl::StatusOr<sqlite3_stmt*> Prepare(absl::string_view sql) {
    std::string key(sql);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      sqlite3_reset(it->second);
      sqlite3_clear_bindings(it->second);
      return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
    cache_.emplace(std::move(key), stmt);
    return stmt;
  }

  sqlite3* db() { return db_; }

  // Filters make SQL text vary, so the cache is bounded: when it has grown
  // past the limit it is emptied, between transactions only, when no
  // statement can be in use.
  void TrimCache() {
    if (cache_.size() < 256) return;
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    cache_.clear();
  }

  Connection() = default;

 private:
  sqlite3* db_ = nullptr;
  absl::flat_hash_map<std::string, sqlite3_stmt*> cache_;
};

absl::Status Bind(sqlite3* db, sqlite3_stmt* stmt, const SqlValues& params) {
  if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt)) {
    return absl::InternalError(
        absl::StrCat("statement expects ", sqlite3_bind_parameter_count(stmt),
                     " parameters, got ", params.size()));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    int idx = static_cast<int>(i) + 1;
    int rc = SQLITE_OK;
    const SqlValue& v = params[i];
    if (std::holds_alternative<std::monostate>(v)) {
      rc = sqlite3_bind_null(stmt, idx);
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, idx, *n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, idx, *d);
    } else {
      const auto& s = std::get<std::string>(v);
      // Bound as text so that comparisons with text columns work; the
      // serialized `data` column is read back byte for byte all the same.
      rc = sqlite3_bind_text64(stmt, idx, s.data(), s.size(), SQLITE_STATIC,
                               SQLITE_UTF8);
    }
    if (rc != SQLITE_OK) return SqliteError(db, rc, "bind");
  }
  return absl::OkStatus();
}

class SqliteRow : public SqlRow {
 public:
  explicit SqliteRow(sqlite3_stmt* stmt) : stmt_(stmt) {}
  int size() const override { return sqlite3_column_count(stmt_); }
  bool IsNull(int i) const override {
    return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
  }
  int64_t Int(int i) const override { return sqlite3_column_int64(stmt_, i); }
  absl::string_view Bytes(int i) const override {
    const void* p = sqlite3_column_blob(stmt_, i);
    int len = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? absl::string_view()
                        : absl::string_view(static_cast<const char*>(p), len);
  }
  SqlValue Value(int i) const override {
    switch (sqlite3_column_type(stmt_, i)) {
      case SQLITE_NULL:
        return std::monostate{};
      case SQLITE_INTEGER:
        return static_cast<int64_t>(sqlite3_column_int64(stmt_, i));
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt_, i);
      default:
        return std::string(Bytes(i));
    }
  }

 private:
  sqlite3_stmt* stmt_;
};

class SqliteTransaction : public SqlTransaction {
 public:
  explicit SqliteTransaction(Connection* c) : c_(c) {}

  absl::Status QueryEach(
      absl::string_view sql, const SqlValues& params,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) override {
    auto stmt = c_->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    if (auto s = Bind(c_->db(), *stmt, params); !s.ok()) return s;
    SqliteRow row(*stmt);
    absl::Status result;
    while (true) {
      int rc = sqlite3_step(*stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        result = SqliteError(c_->db(), rc, "query");
        break;
      }
      result = fn(row);
      if (!result.ok()) break;
    }
    sqlite3_reset(*stmt);
    return result;
  }

  absl::StatusOr<std::vector<SqlValues>> Query(
      absl::string_view sql, const SqlValues& params) override {
    auto stmt = c_->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    if (auto s = Bind(c_->db(), *stmt, params); !s.ok()) return s;
    std::vector<SqlValues> rows;
    while (true) {
      int rc = sqlite3_step(*stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        absl::Status s = SqliteError(c_->db(), rc, "query");
        sqlite3_reset(*stmt);
        return s;
      }
      int n = sqlite3_column_count(*stmt);
      SqlValues row;
      row.reserve(n);
      for (int i = 0; i < n; ++i) {
        switch (sqlite3_column_type(*stmt, i)) {
          case SQLITE_NULL:
            row.emplace_back(std::monostate{});
            break;
          case SQLITE_INTEGER:
            row.emplace_back(
                static_cast<int64_t>(sqlite3_column_int64(*stmt, i)));
            break;
          case SQLITE_FLOAT:
            row.emplace_back(sqlite3_column_double(*stmt, i));
            break;
          default: {
            const void* p = sqlite3_column_blob(*stmt, i);
            int len = sqlite3_column_bytes(*stmt, i);
            row.emplace_back(
                std::string(static_cast<const char*>(p), p ? len : 0));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    sqlite3_reset(*stmt);
    return rows;
  }

  absl::StatusOr<int64_t> Execute(absl::string_view sql,
                                  const SqlValues& params) override {
    auto stmt = c_->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    if (auto s = Bind(c_->db(), *stmt, params); !s.ok()) return s;
    int rc;
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    }
    sqlite3_reset(*stmt);
    if (rc != SQLITE_DONE) return SqliteError(c_->db(), rc, "execute");
    return static_cast<int64_t>(sqlite3_changes64(c_->db()));
  }

 private:
  Connection* c_;
};

absl::Status DeadlinePassed() {
  return absl::DeadlineExceededError(
      "the call's deadline passed before the store finished");
}

// Interrupts the connection's statements once `deadline` passes (checked
// every 1000 virtual-machine steps), for the guard's lifetime.
class DeadlineGuard {
 public:
  DeadlineGuard(Connection* c, absl::Time deadline) : db_(c->db()) {
    if (deadline == absl::InfiniteFuture()) {
      db_ = nullptr;
      return;
    }
    deadline_ = deadline;
    sqlite3_progress_handler(db_, 1000, &DeadlineGuard::Check, &deadline_);
  }
  ~DeadlineGuard() {
    if (db_ != nullptr) sqlite3_progress_handler(db_, 0, nullptr, nullptr);
  }
  DeadlineGuard(const DeadlineGuard&) = delete;
  DeadlineGuard& operator=(const DeadlineGuard&) = delete;

 private:
  static int Check(void* deadline) {
    return absl::Now() >= *static_cast<absl::Time*>(deadline) ? 1 : 0;
  }
  sqlite3* db_;
  absl::Time deadline_;
};

class SqliteDatabase : public Database {
 public:
  explicit SqliteDatabase(std::string path) : path_(std::move(path)) {}
  ~SqliteDatabase() override { StopStoreThreads(); }

  // Writes run on one store thread (SQLite takes one writer at a time,
  // and a commit waits for the disk). A read runs on the calling thread
  // when a reader connection is free: reading a WAL snapshot whose pages
  // are cached is work, not a wait, and handing it to another thread would
  // cost more than the read. When every reader is busy it queues for the
  // store's read threads (one per reader connection) instead of waiting.
  void StartThreads() {
    StartStoreThreads("sqlite", readers_.empty() ? 1 : kReaderConnections, 1);
  }

  void QueryOnceAsync(std::string sql, SqlValues params, absl::Time deadline,
                      RowCallback on_row, StatusCallback done) override {
    if (Connection* c = TryAcquireReader()) {
      absl::Status s = QueryOn(c, sql, params, deadline,
                               [&](const SqlRow& row) { return on_row(row); });
      ReleaseReader(c);
      done(std::move(s));
      return;
    }
    read_threads()->Run([this, sql = std::move(sql), params = std::move(params),
                         deadline, on_row = std::move(on_row),
                         done = std::move(done)]() mutable {
      done(QueryOnce(sql, params, deadline,
                     [&](const SqlRow& row) { return on_row(row); }));
    });
  }

  void QueryKeyAsync(const KeyedQuery* query, std::string key,
                     absl::Time deadline, RowCallback on_row,
                     StatusCallback done) override {
    QueryOnceAsync(query->sql, {std::move(key)}, deadline, std::move(on_row),
                   std::move(done));
  }

  void ReadAsync(absl::Time deadline, TransactionFn fn,
                 StatusCallback done) override {
    if (Connection* c = TryAcquireReader()) {
      absl::Status s;
      if (absl::Now() >= deadline) {
        s = DeadlinePassed();
      } else {
        DeadlineGuard guard(c, deadline);
        s = RunInTransaction(c, "BEGIN",
                             [&](SqlTransaction& tx) { return fn(tx); });
      }
      ReleaseReader(c);
      done(std::move(s));
      return;
    }
    Database::ReadAsync(deadline, std::move(fn), std::move(done));
  }

  std::vector<StoreGauge> Gauges() override { return StoreThreadGauges(); }

  absl::Status Init(const SchemaSpec& schema) {
    auto w = Connection::Open(path_, /*read_only=*/false);
    if (!w.ok()) return w.status();
    writer_ = std::move(*w);
    const bool memory = path_ == ":memory:";
    if (!memory) {
      if (auto s = writer_->Exec("PRAGMA journal_mode=WAL"); !s.ok()) return s;
    }
    if (auto s = writer_->Exec("PRAGMA synchronous=FULL; "
                               "PRAGMA foreign_keys=ON");
        !s.ok())
      return s;
    if (auto s = Migrate(schema); !s.ok()) return s;
    if (!memory) {
      for (int i = 0; i < kReaderConnections; ++i) {
        auto r = Connection::Open(path_, /*read_only=*/true);
        if (!r.ok()) return r.status();
        // Reads map the database file instead of copying each page with a
        // pread call (a search over a large index reads thousands of pages:
        // the copies were 40% of its time), and keep more of the pages they
        // decoded.
        if (auto s = (*r)->Exec(absl::StrCat("PRAGMA mmap_size=", kMmapBytes,
                                             "; PRAGMA cache_size=-",
                                             kReaderCacheKib));
            !s.ok())
          return s;
        readers_.push_back(std::move(*r));
      }
    }
    return absl::OkStatus();
  }

  using Database::QueryOnce;
  using Database::Read;
  using Database::Write;

  absl::Status Read(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    if (absl::Now() >= deadline) return DeadlinePassed();
    if (readers_.empty()) {
      absl::MutexLock lock(&write_mu_);
      DeadlineGuard guard(writer_.get(), deadline);
      return RunInTransaction(writer_.get(), "BEGIN", fn);
    }
    Connection* c = AcquireReader();
    absl::Status s;
    {
      DeadlineGuard guard(c, deadline);
      s = RunInTransaction(c, "BEGIN", fn);
    }
    ReleaseReader(c);
    return s;
  }

  absl::Status Write(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    if (absl::Now() >= deadline) return DeadlinePassed();
    absl::MutexLock lock(&write_mu_);
    DeadlineGuard guard(writer_.get(), deadline);
    absl::Status s = RunInTransaction(writer_.get(), "BEGIN IMMEDIATE", fn);
    read_cache().Invalidate();
    return s;
  }

  absl::Status QueryOnce(
      absl::string_view sql, const SqlValues& params, absl::Time deadline,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) override {
    if (absl::Now() >= deadline) return DeadlinePassed();
    if (readers_.empty()) {
      absl::MutexLock lock(&write_mu_);
      writer_->TrimCache();
      DeadlineGuard guard(writer_.get(), deadline);
      SqliteTransaction tx(writer_.get());
      return tx.QueryEach(sql, params, fn);
    }
    Connection* c = AcquireReader();
    absl::Status s = QueryOn(c, sql, params, deadline, fn);
    ReleaseReader(c);
    return s;
  }

  absl::Status Ping() override {
    // Reads the file (SELECT 1 would not), so a lost or unreadable database
    // makes the store unreachable.
    return Read([](SqlTransaction& tx) {
      return tx.Query("SELECT version FROM schema_migrations LIMIT 1", {})
          .status();
    });
  }

  absl::string_view dialect() const override { return "sqlite"; }

 private:
  static absl::Status RunInTransaction(
      Connection* c, const char* begin,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) {
    c->TrimCache();
    if (auto s = c->Step(begin); !s.ok()) return s;
    SqliteTransaction tx(c);
    absl::Status s = fn(tx);
    if (s.ok()) {
      s = c->Step("COMMIT");
      if (s.ok()) return s;
    }
    (void)c->Step("ROLLBACK");
    return s;
  }

  // One statement on reader `c`, outside a transaction.
  static absl::Status QueryOn(
      Connection* c, absl::string_view sql, const SqlValues& params,
      absl::Time deadline, absl::FunctionRef<absl::Status(const SqlRow&)> fn) {
    if (absl::Now() >= deadline) return DeadlinePassed();
    c->TrimCache();
    DeadlineGuard guard(c, deadline);
    SqliteTransaction tx(c);
    return tx.QueryEach(sql, params, fn);
  }

  // A free reader connection, or null when none is free (never waits; null
  // too for an in-memory database, which has none).
  Connection* TryAcquireReader() {
    absl::MutexLock lock(&pool_mu_);
    if (free_readers_.empty()) return nullptr;
    Connection* c = free_readers_.back();
    free_readers_.pop_back();
    return c;
  }

  Connection* AcquireReader() {
    absl::MutexLock lock(&pool_mu_);
    pool_mu_.Await(absl::Condition(
        +[](std::vector<Connection*>* free) { return !free->empty(); },
        &free_readers_));
    Connection* c = free_readers_.back();
    free_readers_.pop_back();
    return c;
  }

  void ReleaseReader(Connection* c) {
    absl::MutexLock lock(&pool_mu_);
    free_readers_.push_back(c);
  }

  // Checks the migrations applied (their checksums; recording those of
  // migrations applied before checksums existed) in one transaction, then
  // applies the others in one transaction each.
  absl::Status Migrate(const SchemaSpec& schema) {
    using internal::Dialect;
    absl::MutexLock lock(&write_mu_);
    if (auto s =
            writer_->Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                          "applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, "
                          "checksum TEXT)");
        !s.ok())
      return s;
    internal::MigrationPlan plan;
    absl::Status checked = RunInTransaction(
        writer_.get(), "BEGIN IMMEDIATE", [&](SqlTransaction& tx) {
          auto has_checksum = tx.Query(
              "SELECT 1 FROM pragma_table_info('schema_migrations') "
              "WHERE name = 'checksum'",
              {});
          if (!has_checksum.ok()) return has_checksum.status();
          if (has_checksum->empty()) {  // a database from before checksums
            if (auto e = writer_->Exec(
                    "ALTER TABLE schema_migrations ADD COLUMN checksum TEXT");
                !e.ok())
              return e;
          }
          auto rows =
              tx.Query("SELECT version, checksum FROM schema_migrations", {});
          if (!rows.ok()) return rows.status();
          std::vector<internal::AppliedMigration> applied;
          for (const SqlValues& r : *rows) {
            internal::AppliedMigration a{AsInt(r[0]), std::nullopt};
            if (!std::holds_alternative<std::monostate>(r[1])) {
              a.checksum = AsString(r[1]);
            }
            applied.push_back(std::move(a));
          }
          auto planned =
              internal::PlanMigrations(schema, Dialect::kSqlite, applied);
          if (!planned.ok()) return planned.status();
          plan = *std::move(planned);
          for (const auto& [version, checksum] : plan.adopt) {
            auto r = tx.Execute(
                "UPDATE schema_migrations SET checksum = ? WHERE version = ?",
                {checksum, version});
            if (!r.ok()) return r.status();
          }
          return absl::OkStatus();
        });
    if (!checked.ok()) return checked;
    for (const Migration* m : plan.apply) {
      absl::Status s = RunInTransaction(
          writer_.get(), "BEGIN IMMEDIATE", [&](SqlTransaction& tx) {
            auto rows =
                tx.Query("SELECT 1 FROM schema_migrations WHERE version = ?",
                         {int64_t{m->version}});
            if (!rows.ok()) return rows.status();
            if (!rows->empty()) return absl::OkStatus();
            auto sql = internal::MigrationSql(schema, *m, Dialect::kSqlite);
            if (!sql.ok()) return sql.status();
            if (auto e = writer_->Exec(*sql); !e.ok()) {
              return absl::InternalError(
                  absl::StrCat("migration ", m->version, " (", m->name, ") of ",
                               schema.service, " failed: ", e.message()));
            }
            return tx
                .Execute(
                    "INSERT INTO schema_migrations(version, name, checksum) "
                    "VALUES (?, ?, ?)",
                    {int64_t{m->version}, m->name,
                     internal::MigrationChecksum(m->sql)})
                .status();
          });
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::string path_;
  absl::Mutex write_mu_;
  std::unique_ptr<Connection> writer_;
  std::vector<std::unique_ptr<Connection>> readers_;
  absl::Mutex pool_mu_;
  std::vector<Connection*> free_readers_;

 public:
  void InitPool() {
    for (auto& r : readers_) free_readers_.push_back(r.get());
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const std::string& path,
                                                     const SchemaSpec& schema) {
  // SQLite's memory statistics take one process-wide mutex on every
  // allocation, which serializes the reader threads (a quarter of the CPU
  // of a full-text ranking under load). Nothing here reads them. The
  // setting only takes before SQLite initializes; later it is refused,
  // harmlessly.
  static const int kNoMemStatus = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)kNoMemStatus;
  auto db = std::make_unique<SqliteDatabase>(path);
  if (auto s = db->Init(schema); !s.ok()) return s;
  db->InitPool();
  db->StartThreads();
  return db;
}

}  // namespace cstopa::common
