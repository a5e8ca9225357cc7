// For tests that run on both back ends: the URL of the throwaway PostgreSQL
// server the test command starts (see cmake/testing.cmake), or "" when there
// is none and the PostgreSQL cases should skip; and a database of either
// back end that cleans up after itself.
//
//   // In a fixture parameterized over "sqlite" and "postgresql":
//   if (BackendMissing(GetParam())) GTEST_SKIP() << "no PostgreSQL server";
//   auto db = OpenTestDatabase(GetParam(), MembershipSchema());
//   ASSERT_TRUE(db.ok()) << db.status();
#ifndef CSTOPA_SERVICES_COMMON_TESTING_TEST_POSTGRES_H_
#define CSTOPA_SERVICES_COMMON_TESTING_TEST_POSTGRES_H_

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/store/sql.h"

namespace cstopa::common {

// CSTOPA_TEST_POSTGRES_URL, else the first line of the file named by
// CSTOPA_TEST_POSTGRES_URL_FILE, else "".
inline std::string TestPostgresUrl() {
  if (const char* url = std::getenv("CSTOPA_TEST_POSTGRES_URL");
      url != nullptr && *url != '\0')
    return url;
  const char* file = std::getenv("CSTOPA_TEST_POSTGRES_URL_FILE");
  if (file == nullptr || *file == '\0') return "";
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// Whether the PostgreSQL cases of `backend` ("sqlite" or "postgresql") must
// skip: no test server was asked for (the sanitizer build, or a build
// without PostgreSQL's server binaries). Where the test command started one
// (CSTOPA_TEST_POSTGRES_URL_FILE is set) they never skip: a server that
// failed to start fails them, in OpenTestDatabase.
inline bool BackendMissing(const std::string& backend) {
  if (backend != "postgresql") return false;
  const char* file = std::getenv("CSTOPA_TEST_POSTGRES_URL_FILE");
  return TestPostgresUrl().empty() && (file == nullptr || *file == '\0');
}

// In a test or a fixture's SetUp: sets `url` to the test server's URL; skips
// the test when no server was asked for (BackendMissing); fails it when one
// was asked for and did not start.
#define CSTOPA_TEST_POSTGRES_URL_OR_SKIP(url)                          \
  do {                                                                 \
    url = ::cstopa::common::TestPostgresUrl();                         \
    if (url.empty()) {                                                 \
      if (::cstopa::common::BackendMissing("postgresql")) {            \
        GTEST_SKIP() << "no PostgreSQL test server in this build";     \
      } else {                                                         \
        FAIL() << "the test PostgreSQL server did not start (see the " \
                  "postgres_start test's output)";                     \
      }                                                                \
    }                                                                  \
  } while (0)

// A PostgreSQL database in a schema of its own, dropped with the object.
class SchemaDroppingDatabase : public Database {
 public:
  SchemaDroppingDatabase(std::unique_ptr<Database> db, std::string schema)
      : db_(std::move(db)), schema_(std::move(schema)) {}
  ~SchemaDroppingDatabase() override {
    (void)db_->Write([&](SqlTransaction& tx) {
      return tx.Execute(absl::StrCat("DROP SCHEMA ", schema_, " CASCADE"), {})
          .status();
    });
  }
  using Database::QueryOnce;
  using Database::Read;
  using Database::Write;
  absl::Status Read(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    read_transactions_.fetch_add(1, std::memory_order_relaxed);
    return db_->Read(deadline, fn);
  }
  absl::Status Write(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    return db_->Write(deadline, fn);
  }
  absl::Status QueryOnce(
      absl::string_view sql, const SqlValues& params, absl::Time deadline,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) override {
    return db_->QueryOnce(sql, params, deadline, fn);
  }
  void QueryOnceAsync(std::string sql, SqlValues params, absl::Time deadline,
                      RowCallback on_row, StatusCallback done) override {
    db_->QueryOnceAsync(std::move(sql), std::move(params), deadline,
                        std::move(on_row), std::move(done));
  }
  void QuerySharedAsync(std::string sql, SqlValues params, absl::Time deadline,
                        RowCallback on_row, StatusCallback done,
                        SharedRead share) override {
    db_->QuerySharedAsync(std::move(sql), std::move(params), deadline,
                          std::move(on_row), std::move(done), std::move(share));
  }
  void QueryKeyAsync(const KeyedQuery* query, std::string key,
                     absl::Time deadline, RowCallback on_row,
                     StatusCallback done) override {
    db_->QueryKeyAsync(query, std::move(key), deadline, std::move(on_row),
                       std::move(done));
  }
  void ReadAsync(absl::Time deadline, TransactionFn fn,
                 StatusCallback done) override {
    read_transactions_.fetch_add(1, std::memory_order_relaxed);
    db_->ReadAsync(deadline, std::move(fn), std::move(done));
  }
  void ReadOnStoreThread(absl::Time deadline, TransactionFn fn,
                         StatusCallback done) override {
    read_transactions_.fetch_add(1, std::memory_order_relaxed);
    db_->ReadOnStoreThread(deadline, std::move(fn), std::move(done));
  }
  void WriteAsync(absl::Time deadline, TransactionFn fn,
                  StatusCallback done) override {
    db_->WriteAsync(deadline, std::move(fn), std::move(done));
  }
  std::vector<StoreGauge> Gauges() override { return db_->Gauges(); }
  ReadCache& read_cache() override { return db_->read_cache(); }
  absl::Status Ping() override { return db_->Ping(); }
  absl::string_view dialect() const override { return db_->dialect(); }

  // Read transactions asked for so far (Read and ReadAsync): tests check
  // that a read meant for the asynchronous path holds no store thread.
  int64_t read_transactions() const {
    return read_transactions_.load(std::memory_order_relaxed);
  }

 private:
  std::unique_ptr<Database> db_;
  std::string schema_;
  std::atomic<int64_t> read_transactions_{0};
};

// `schema` applied to a new database of `backend`: a private in-memory
// SQLite database, or a randomly named schema on the test PostgreSQL server
// (see BackendMissing) that is dropped when the database is destroyed.
inline absl::StatusOr<std::unique_ptr<Database>> OpenTestDatabase(
    const std::string& backend, SchemaSpec schema) {
  if (backend != "postgresql") return OpenDatabase("sqlite::memory:", schema);
  const std::string url = TestPostgresUrl();
  if (url.empty()) {
    return absl::FailedPreconditionError(
        "the test PostgreSQL server did not start: no URL in "
        "CSTOPA_TEST_POSTGRES_URL_FILE (see tests/postgres/pg_server.sh and "
        "the postgres_start test's output)");
  }
  std::random_device rd;
  schema.service = absl::StrCat(schema.service, "_t", rd(), "_", rd());
  auto db = OpenDatabase(url, schema);
  if (!db.ok()) return db.status();
  return std::make_unique<SchemaDroppingDatabase>(std::move(*db),
                                                  schema.service);
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_TESTING_TEST_POSTGRES_H_
