#include "services/common/store/sql.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/base/errors.h"
#include "services/common/store/postgres.h"
#include "services/common/store/sqlite.h"

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

void Database::QuerySharedAsync(std::string sql, SqlValues params,
                                absl::Time deadline, RowCallback on_row,
                                StatusCallback done, SharedRead) {
  QueryOnceAsync(std::move(sql), std::move(params), deadline, std::move(on_row),
                 std::move(done));
}

void Database::QueryKeyAsync(const KeyedQuery* query, std::string key,
                             absl::Time deadline, RowCallback on_row,
                             StatusCallback done) {
  absl::Status s = QueryOnce(query->sql, {std::move(key)}, deadline,
                             [&](const SqlRow& row) { return on_row(row); });
  done(std::move(s));
}

void Database::StartStoreThreads(absl::string_view name, int readers,
                                 int writers) {
  read_executor_ =
      std::make_unique<Executor>(absl::StrCat(name, "_rd"), readers);
  write_executor_ =
      std::make_unique<Executor>(absl::StrCat(name, "_wr"), writers);
}

void Database::StopStoreThreads() {
  if (read_executor_) read_executor_->Stop();
  if (write_executor_) write_executor_->Stop();
}

std::vector<StoreGauge> Database::StoreThreadGauges() const {
  std::vector<StoreGauge> out;
  if (read_executor_) {
    out.push_back({"cstopa_store_reads_queued",
                   "Read transactions waiting for a store thread.",
                   static_cast<double>(read_executor_->queued())});
  }
  if (write_executor_) {
    out.push_back({"cstopa_store_writes_queued",
                   "Write transactions waiting for a store thread.",
                   static_cast<double>(write_executor_->queued())});
  }
  return out;
}

void Database::RunOn(Executor* executor, bool write, absl::Time deadline,
                     TransactionFn fn, StatusCallback done) {
  auto task = [this, write, deadline, fn = std::move(fn),
               done = std::move(done)]() mutable {
    absl::Status s;
    if (absl::Now() >= deadline) {
      s = absl::DeadlineExceededError(
          "the call's deadline passed before the store could start its work");
    } else if (write) {
      s = Write(deadline, [&](SqlTransaction& tx) { return fn(tx); });
    } else {
      s = Read(deadline, [&](SqlTransaction& tx) { return fn(tx); });
    }
    done(std::move(s));
  };
  if (executor == nullptr) {  // a back end without store threads
    task();
    return;
  }
  executor->Run(std::move(task));
}

void Database::ReadAsync(absl::Time deadline, TransactionFn fn,
                         StatusCallback done) {
  Database::ReadOnStoreThread(deadline, std::move(fn), std::move(done));
}

void Database::ReadOnStoreThread(absl::Time deadline, TransactionFn fn,
                                 StatusCallback done) {
  RunOn(read_executor_.get(), false, deadline, std::move(fn), std::move(done));
}

void Database::WriteAsync(absl::Time deadline, TransactionFn fn,
                          StatusCallback done) {
  RunOn(write_executor_.get(), true, deadline, std::move(fn), std::move(done));
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
