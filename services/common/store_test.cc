// Tests of the SQL layer's SQLite back end: migrations, transactions,
// durability across reopening, concurrency of readers and writers.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/sql.h"

namespace cstopa::common {
namespace {

SchemaSpec TestSchema() {
  return {"test",
          {{1, "init", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"},
           {2, "index", "CREATE INDEX t_v ON t (v)"}}};
}

std::string TempPath() {
  char tmpl[] = "/tmp/cstopa_store_test_XXXXXX";
  int fd = mkstemp(tmpl);
  close(fd);
  std::remove(tmpl);
  return tmpl;
}

int64_t Count(Database& db) {
  int64_t n = -1;
  EXPECT_TRUE(db.Read([&](SqlTransaction& tx) {
                  auto rows = tx.Query("SELECT COUNT(*) FROM t", {});
                  if (!rows.ok()) return rows.status();
                  n = AsInt((*rows)[0][0]);
                  return absl::OkStatus();
                }).ok());
  return n;
}

TEST(SqliteTest, AppliesMigrationsOnceAndRecordsThem) {
  std::string path = TempPath();
  for (int i = 0; i < 2; ++i) {
    auto db = OpenDatabase("sqlite://" + path, TestSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)
                    ->Read([](SqlTransaction& tx) {
                      auto rows = tx.Query(
                          "SELECT version FROM schema_migrations ORDER BY 1",
                          {});
                      EXPECT_TRUE(rows.ok());
                      EXPECT_EQ(rows->size(), 2u);
                      return absl::OkStatus();
                    })
                    .ok());
  }
  std::remove(path.c_str());
}

TEST(SqliteTest, FailedMigrationStopsOpenWithItsName) {
  SchemaSpec bad = {"test", {{1, "broken", "CREATE TABLE ("}}};
  auto db = OpenDatabase("sqlite::memory:", bad);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(std::string(db.status().message()), testing::HasSubstr("broken"));
}

TEST(SqliteTest, WriteRollsBackWhenTheFunctionFails) {
  auto db = OpenDatabase("sqlite::memory:", TestSchema());
  ASSERT_TRUE(db.ok());
  absl::Status s = (*db)->Write([](SqlTransaction& tx) {
    auto r = tx.Execute("INSERT INTO t (v) VALUES (?)", {std::string("a")});
    EXPECT_TRUE(r.ok());
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Count(**db), 0);
}

TEST(SqliteTest, CommittedWritesSurviveReopening) {
  std::string path = TempPath();
  {
    auto db = OpenDatabase("sqlite://" + path, TestSchema());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Write([](SqlTransaction& tx) {
                      return tx
                          .Execute("INSERT INTO t (v) VALUES (?)",
                                   {std::string("kept")})
                          .status();
                    })
                    .ok());
  }
  auto db = OpenDatabase("sqlite://" + path, TestSchema());
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(Count(**db), 1);
  std::remove(path.c_str());
  std::remove((path + "-wal").c_str());
  std::remove((path + "-shm").c_str());
}

TEST(SqliteTest, BindsEveryValueKindAndReadsItBack) {
  auto db = OpenDatabase("sqlite::memory:", TestSchema());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)
                  ->Read([](SqlTransaction& tx) {
                    std::string with_nul("a\0b", 3);
                    auto rows = tx.Query(
                        "SELECT ?, ?, ?, ?",
                        {std::monostate{}, int64_t{-7}, 2.5, with_nul});
                    EXPECT_TRUE(rows.ok()) << rows.status();
                    const SqlValues& r = (*rows)[0];
                    EXPECT_TRUE(std::holds_alternative<std::monostate>(r[0]));
                    EXPECT_EQ(AsInt(r[1]), -7);
                    EXPECT_EQ(std::get<double>(r[2]), 2.5);
                    EXPECT_EQ(AsString(r[3]), with_nul);
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST(SqliteTest, WrongParameterCountIsAnError) {
  auto db = OpenDatabase("sqlite::memory:", TestSchema());
  ASSERT_TRUE(db.ok());
  absl::Status s = (*db)->Read(
      [](SqlTransaction& tx) { return tx.Query("SELECT ?", {}).status(); });
  EXPECT_FALSE(s.ok());
}

TEST(SqliteTest, ConcurrentWritersAndReadersLoseNothing) {
  std::string path = TempPath();
  auto db = OpenDatabase("sqlite://" + path, TestSchema());
  ASSERT_TRUE(db.ok());
  constexpr int kThreads = 4, kWrites = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kWrites; ++i) {
        if (!(*db)
                 ->Write([](SqlTransaction& tx) {
                   return tx.Execute("INSERT INTO t (v) VALUES ('x')", {})
                       .status();
                 })
                 .ok())
          ++failures;
        if (Count(**db) < 0) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Count(**db), kThreads * kWrites);
  std::remove(path.c_str());
}

TEST(OpenDatabaseTest, RejectsUnknownSchemes) {
  auto db = OpenDatabase("mysql://localhost/x", TestSchema());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(db.status().message()), testing::HasSubstr("sqlite"));
}

}  // namespace
}  // namespace cstopa::common
