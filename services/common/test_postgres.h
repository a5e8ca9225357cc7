// For tests that run on both back ends: the URL of the throwaway PostgreSQL
// server the test command starts (see cmake/testing.cmake), or "" when there
// is none and the PostgreSQL cases should skip; and a database of either
// back end that cleans up after itself.
//
//   // In a fixture parameterized over "sqlite" and "postgresql":
//   if (BackendMissing(GetParam())) GTEST_SKIP() << "no PostgreSQL server";
//   auto db = OpenTestDatabase(GetParam(), MembershipSchema());
//   ASSERT_TRUE(db.ok()) << db.status();
#ifndef CSTOPA_SERVICES_COMMON_TEST_POSTGRES_H_
#define CSTOPA_SERVICES_COMMON_TEST_POSTGRES_H_

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "services/common/sql.h"

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
// skip: there is no test server.
inline bool BackendMissing(const std::string& backend) {
  return backend == "postgresql" && TestPostgresUrl().empty();
}

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
  void QueryKeyAsync(const KeyedQuery* query, std::string key,
                     absl::Time deadline, RowCallback on_row,
                     StatusCallback done) override {
    db_->QueryKeyAsync(query, std::move(key), deadline, std::move(on_row),
                       std::move(done));
  }
  std::vector<StoreGauge> Gauges() override { return db_->Gauges(); }
  absl::Status Ping() override { return db_->Ping(); }
  absl::string_view dialect() const override { return db_->dialect(); }

 private:
  std::unique_ptr<Database> db_;
  std::string schema_;
};

// `schema` applied to a new database of `backend`: a private in-memory
// SQLite database, or a randomly named schema on the test PostgreSQL server
// (see BackendMissing) that is dropped when the database is destroyed.
inline absl::StatusOr<std::unique_ptr<Database>> OpenTestDatabase(
    const std::string& backend, SchemaSpec schema) {
  if (backend != "postgresql") return OpenDatabase("sqlite::memory:", schema);
  std::random_device rd;
  schema.service = absl::StrCat(schema.service, "_t", rd(), "_", rd());
  auto db = OpenDatabase(TestPostgresUrl(), schema);
  if (!db.ok()) return db.status();
  return std::make_unique<SchemaDroppingDatabase>(std::move(*db),
                                                  schema.service);
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_TEST_POSTGRES_H_
