// Conformance tests of the SQL layer, run on every back end: SQLite always,
// PostgreSQL on the throwaway server the test command starts (skipped where
// there is none, as in the sanitizer build). Each PostgreSQL test works in a
// schema of its own.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/store/internal/migrations.h"
#include "services/common/store/resource_store.h"
#include "services/common/store/sql.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::common {
namespace {

std::string TempPath() {
  char tmpl[] = "/tmp/cstopa_store_test_XXXXXX";
  int fd = mkstemp(tmpl);
  close(fd);
  std::remove(tmpl);
  return tmpl;
}

// A database of one back end, removed when the test ends.
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::random_device rd;
    service_ = absl::StrCat("t_", rd(), "_", rd());
    if (GetParam() == "sqlite") {
      path_ = TempPath();
      url_ = "sqlite://" + path_;
    } else {
      CSTOPA_TEST_POSTGRES_URL_OR_SKIP(url_);
    }
  }

  void TearDown() override {
    if (!path_.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"})
        std::remove((path_ + suffix).c_str());
    } else if (!url_.empty()) {
      auto db = OpenDatabase(url_, {service_, {}});
      if (db.ok()) {
        (void)(*db)->Write([&](SqlTransaction& tx) {
          return tx
              .Execute(absl::StrCat("DROP SCHEMA ", service_, " CASCADE"), {})
              .status();
        });
      }
    }
  }

  SchemaSpec Schema() const {
    return {service_,
            {{1, "init", "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
              "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v TEXT)"},
             {2, "blobs", "CREATE TABLE b (k TEXT PRIMARY KEY, data BLOB)",
              "CREATE TABLE b (k TEXT PRIMARY KEY, data BYTEA)"}}};
  }

  std::unique_ptr<Database> Open() {
    auto db = OpenDatabase(url_, Schema());
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }

  std::string service_, url_, path_;
};

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

absl::Status Insert(Database& db, const std::string& v) {
  return db.Write([&](SqlTransaction& tx) {
    return tx.Execute("INSERT INTO t (v) VALUES (?)", {v}).status();
  });
}

TEST_P(StoreTest, AppliesMigrationsOnceAndRecordsThem) {
  for (int i = 0; i < 2; ++i) {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Read([](SqlTransaction& tx) {
                    auto rows = tx.Query(
                        "SELECT version FROM schema_migrations ORDER BY 1", {});
                    EXPECT_TRUE(rows.ok()) << rows.status();
                    EXPECT_EQ(rows->size(), 2u);
                    return absl::OkStatus();
                  }).ok());
  }
}

TEST_P(StoreTest, FailedMigrationStopsOpenWithItsName) {
  SchemaSpec bad = {service_,
                    {{1, "broken", "CREATE TABLE (", "CREATE TABLE ("}}};
  auto db = OpenDatabase(url_, bad);
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(std::string(db.status().message()), testing::HasSubstr("broken"));
}

TEST_P(StoreTest, WriteRollsBackWhenTheFunctionFails) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  absl::Status s = db->Write([](SqlTransaction& tx) {
    auto r = tx.Execute("INSERT INTO t (v) VALUES (?)", {std::string("a")});
    EXPECT_TRUE(r.ok());
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Count(*db), 0);
}

TEST_P(StoreTest, CommittedWritesSurviveReopening) {
  {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(Insert(*db, "kept").ok());
  }
  auto db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Count(*db), 1);
}

TEST_P(StoreTest, ValuesRoundTripIncludingBinaryBytes) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  const std::string binary("a\0b\xff\x80", 5);
  ASSERT_TRUE(db->Write([&](SqlTransaction& tx) {
                  return tx
                      .Execute("INSERT INTO b (k, data) VALUES (?, ?)",
                               {std::string("key"), binary})
                      .status();
                }).ok());
  ASSERT_TRUE(
      db->Read([&](SqlTransaction& tx) {
          auto rows = tx.Query("SELECT data, k, 7, NULL FROM b WHERE k = ?",
                               {std::string("key")});
          EXPECT_TRUE(rows.ok()) << rows.status();
          EXPECT_EQ(rows->size(), 1u);
          const SqlValues& r = (*rows)[0];
          EXPECT_EQ(AsString(r[0]), binary);
          EXPECT_EQ(AsString(r[1]), "key");
          EXPECT_EQ(AsInt(r[2]), 7);
          EXPECT_TRUE(std::holds_alternative<std::monostate>(r[3]));
          // The streaming form sees the same bytes without a copy.
          return tx.QueryEach("SELECT data FROM b", {}, [&](const SqlRow& row) {
            EXPECT_EQ(row.Bytes(0), binary);
            return absl::OkStatus();
          });
        }).ok());
}

TEST_P(StoreTest, BindsIntegersAndNulls) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([](SqlTransaction& tx) {
                  return tx
                      .Execute("INSERT INTO t (id, v) VALUES (?, ?)",
                               {int64_t{-7}, std::monostate{}})
                      .status();
                }).ok());
  ASSERT_TRUE(
      db->Read([](SqlTransaction& tx) {
          auto rows =
              tx.Query("SELECT id, v FROM t WHERE id = ?", {int64_t{-7}});
          EXPECT_TRUE(rows.ok()) << rows.status();
          EXPECT_EQ(rows->size(), 1u);
          EXPECT_EQ(AsInt((*rows)[0][0]), -7);
          EXPECT_TRUE(std::holds_alternative<std::monostate>((*rows)[0][1]));
          return absl::OkStatus();
        }).ok());
}

TEST_P(StoreTest, DuplicateKeyIsAlreadyExists) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  auto put = [&] {
    return db->Write([](SqlTransaction& tx) {
      return tx.Execute("INSERT INTO b (k, data) VALUES ('x', 'y')", {})
          .status();
    });
  };
  ASSERT_TRUE(put().ok());
  EXPECT_EQ(put().code(), absl::StatusCode::kAlreadyExists);
}

TEST_P(StoreTest, InsideAWriteOnlyItsTxSeesItsOwnChanges) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([&](SqlTransaction& tx) -> absl::Status {
                  auto r = tx.Execute("INSERT INTO t (v) VALUES ('w')", {});
                  if (!r.ok()) return r.status();
                  auto rows = tx.Query("SELECT COUNT(*) FROM t", {});
                  if (!rows.ok()) return rows.status();
                  EXPECT_EQ(AsInt((*rows)[0][0]), 1);
                  // A Database call is a transaction of its own (reads do
                  // not join a transaction by thread): it sees only what
                  // was committed.
                  EXPECT_EQ(Count(*db), 0);
                  return absl::OkStatus();
                }).ok());
  EXPECT_EQ(Count(*db), 1);
}

TEST_P(StoreTest, WrongParameterCountIsAnError) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  absl::Status s = db->Read([](SqlTransaction& tx) {
    return tx.Query("SELECT v FROM t WHERE id = ?", {}).status();
  });
  EXPECT_FALSE(s.ok());
}

TEST_P(StoreTest, ConcurrentWritersAndReadersLoseNothing) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  constexpr int kThreads = 4, kWrites = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kWrites; ++i) {
        if (!Insert(*db, "x").ok()) ++failures;
        if (Count(*db) < 0) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Count(*db), kThreads * kWrites);
}

TEST_P(StoreTest, PingAnswersWhileTheStoreIsUp) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(db->Ping().ok());
  EXPECT_EQ(db->dialect(), GetParam());
}

// A statement that would run for many seconds.
constexpr char kSlowQuery[] =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 1000000000) SELECT COUNT(*) FROM c";

TEST_P(StoreTest, StatementsStopAtTheDeadline) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  const absl::Time start = absl::Now();
  absl::Status once =
      db->QueryOnce(kSlowQuery, {}, start + absl::Milliseconds(200),
                    [](const SqlRow&) { return absl::OkStatus(); });
  EXPECT_EQ(once.code(), absl::StatusCode::kDeadlineExceeded) << once;
  absl::Status read = db->Read(
      absl::Now() + absl::Milliseconds(200),
      [](SqlTransaction& tx) { return tx.Query(kSlowQuery, {}).status(); });
  EXPECT_EQ(read.code(), absl::StatusCode::kDeadlineExceeded) << read;
  absl::Status write =
      db->Write(absl::Now() + absl::Milliseconds(200), [](SqlTransaction& tx) {
        auto r = tx.Execute("INSERT INTO t (v) VALUES ('lost')", {});
        if (!r.ok()) return r.status();
        return tx.Query(kSlowQuery, {}).status();
      });
  EXPECT_EQ(write.code(), absl::StatusCode::kDeadlineExceeded) << write;
  // Stopped, not run to the end (minutes): the bound is far from the 600 ms
  // of deadlines, so a busy machine does not fail it.
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  // The write was rolled back, and the store still answers.
  EXPECT_EQ(Count(*db), 0);
  // A deadline already past fails at once.
  absl::Status past =
      db->QueryOnce("SELECT 1", {}, absl::Now() - absl::Seconds(1),
                    [](const SqlRow&) { return absl::OkStatus(); });
  EXPECT_EQ(past.code(), absl::StatusCode::kDeadlineExceeded);
}

// The checksums schema_migrations holds, by version ("" for NULL).
std::map<int64_t, std::string> RecordedChecksums(Database& db) {
  std::map<int64_t, std::string> out;
  EXPECT_TRUE(db.Read([&](SqlTransaction& tx) {
                  auto rows = tx.Query(
                      "SELECT version, checksum FROM schema_migrations", {});
                  if (!rows.ok()) return rows.status();
                  for (const SqlValues& r : *rows) {
                    out[AsInt(r[0])] = AsString(r[1]);
                  }
                  return absl::OkStatus();
                }).ok());
  return out;
}

std::string ChecksumOf(const Migration& m, const std::string& backend) {
  return internal::MigrationChecksum(backend == "sqlite" ? m.sql
                                                         : m.postgres_sql);
}

TEST_P(StoreTest, RecordsEachMigrationsChecksumAndReopensUnchanged) {
  const SchemaSpec schema = Schema();
  for (int i = 0; i < 2; ++i) {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    EXPECT_THAT(
        RecordedChecksums(*db),
        testing::ElementsAre(
            testing::Pair(1, ChecksumOf(schema.migrations[0], GetParam())),
            testing::Pair(2, ChecksumOf(schema.migrations[1], GetParam()))));
  }
}

TEST_P(StoreTest, AMigrationChangedAfterItWasAppliedIsRefused) {
  ASSERT_NE(Open(), nullptr);
  SchemaSpec changed = Schema();
  changed.migrations[1].sql += "\n-- edited";
  changed.migrations[1].postgres_sql += "\n-- edited";
  changed.migrations.push_back(
      {3, "more", "CREATE TABLE m (v TEXT)", "CREATE TABLE m (v TEXT)"});
  auto db = OpenDatabase(url_, changed);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      std::string(db.status().message()),
      testing::AllOf(testing::HasSubstr("migration 2 (blobs) of " + service_),
                     testing::HasSubstr("changed after it was applied"),
                     testing::HasSubstr("new migration")));
  // Nothing was applied: migration 3 is still pending, the checksums stay.
  auto unchanged = Open();
  ASSERT_NE(unchanged, nullptr);
  EXPECT_EQ(RecordedChecksums(*unchanged).size(), 2u);
  // The other dialect's text is not this database's: changing it is fine.
  SchemaSpec other = Schema();
  (GetParam() == "sqlite" ? other.migrations[1].postgres_sql
                          : other.migrations[1].sql) += " ";
  EXPECT_TRUE(OpenDatabase(url_, other).ok());
}

TEST_P(StoreTest, ADatabaseFromBeforeChecksumsIsAdopted) {
  const bool sqlite = GetParam() == "sqlite";
  const SchemaSpec schema = Schema();
  {
    // Made as the store made databases before checksums: its own
    // schema_migrations, without the column, and both migrations applied.
    auto db = OpenDatabase(url_, {service_, {}});
    ASSERT_TRUE(db.ok()) << db.status();
    absl::Status made = (*db)->Write([&](SqlTransaction& tx) -> absl::Status {
      std::vector<std::string> statements = {
          "DROP TABLE schema_migrations",
          sqlite ? "CREATE TABLE schema_migrations (version INTEGER PRIMARY "
                   "KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL "
                   "DEFAULT CURRENT_TIMESTAMP)"
                 : "CREATE TABLE schema_migrations (version bigint PRIMARY "
                   "KEY, name text NOT NULL, applied_at timestamptz NOT NULL "
                   "DEFAULT now())",
          sqlite ? schema.migrations[0].sql : schema.migrations[0].postgres_sql,
          sqlite ? schema.migrations[1].sql : schema.migrations[1].postgres_sql,
          "INSERT INTO schema_migrations (version, name) VALUES (1, 'init'), "
          "(2, 'blobs')",
          "INSERT INTO t (v) VALUES ('old')"};
      for (const std::string& sql : statements) {
        if (auto r = tx.Execute(sql, {}); !r.ok()) return r.status();
      }
      return absl::OkStatus();
    });
    ASSERT_TRUE(made.ok()) << made;
  }
  {
    auto db = Open();
    ASSERT_NE(db, nullptr);
    EXPECT_EQ(Count(*db), 1);  // its data kept, nothing applied again
    EXPECT_THAT(
        RecordedChecksums(*db),
        testing::ElementsAre(
            testing::Pair(1, ChecksumOf(schema.migrations[0], GetParam())),
            testing::Pair(2, ChecksumOf(schema.migrations[1], GetParam()))));
    // A NULL checksum (a column added, the row not yet filled) too.
    ASSERT_TRUE(db->Write([](SqlTransaction& tx) {
                    return tx
                        .Execute(
                            "UPDATE schema_migrations SET checksum = NULL "
                            "WHERE version = 2",
                            {})
                        .status();
                  }).ok());
  }
  auto db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(RecordedChecksums(*db)[2],
            ChecksumOf(schema.migrations[1], GetParam()));
  // From now on, a change is refused.
  SchemaSpec changed = schema;
  changed.migrations[0].sql += " ";
  changed.migrations[0].postgres_sql += " ";
  EXPECT_EQ(OpenDatabase(url_, changed).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreTest, ResourceColumnsDirectiveMakesTheStandardColumns) {
  auto tables = [](const std::string& key_type) {
    return "CREATE TABLE r (\n  {{resource_columns}},\n  extra TEXT NOT "
           "NULL\n);\nCREATE TABLE k (\n  id " +
           key_type + " PRIMARY KEY,\n  {{resource_columns name_unique}}\n)";
  };
  auto db = OpenDatabase(
      url_, {service_, {{1, "init", tables("INTEGER"), tables("BIGSERIAL")}}});
  ASSERT_TRUE(db.ok()) << db.status();
  auto columns = [&](const std::string& t) {
    std::vector<std::string> names;
    const std::string sql =
        GetParam() == "sqlite"
            ? "SELECT name FROM pragma_table_info(?) ORDER BY cid"
            : "SELECT column_name::text FROM information_schema.columns "
              "WHERE table_schema = current_schema() AND table_name = ? "
              "ORDER BY ordinal_position";
    EXPECT_TRUE((*db)
                    ->Read([&](SqlTransaction& tx) {
                      auto rows = tx.Query(sql, {t});
                      if (!rows.ok()) return rows.status();
                      for (const SqlValues& r : *rows) {
                        names.push_back(AsString(r[0]));
                      }
                      return absl::OkStatus();
                    })
                    .ok());
    return names;
  };
  EXPECT_THAT(columns("r"),
              testing::ElementsAre("name", "parent", "data", "etag", "revision",
                                   "create_time", "update_time", "delete_time",
                                   "extra"));
  EXPECT_THAT(
      columns("k"),
      testing::ElementsAre("id", "name", "parent", "data", "etag", "revision",
                           "create_time", "update_time", "delete_time"));
  auto insert = [&](const std::string& t, const std::string& name) {
    return (*db)->Write([&](SqlTransaction& tx) {
      return tx
          .Execute(absl::StrCat("INSERT INTO ", t,
                                " (name, parent, data, etag, revision, "
                                "create_time, update_time",
                                t == "r" ? ", extra" : "",
                                ") VALUES (?, '', '', '', 1, 0, 0",
                                t == "r" ? ", ''" : "", ")"),
                   {name})
          .status();
    });
  };
  // name is the key of r, unique in k; delete_time may be NULL.
  ASSERT_TRUE(insert("r", "a").ok());
  EXPECT_EQ(insert("r", "a").code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(insert("k", "a").ok());
  EXPECT_EQ(insert("k", "a").code(), absl::StatusCode::kAlreadyExists);
}

TEST_P(StoreTest, AnUnknownDirectiveStopsOpenWithTheMigrationsName) {
  auto db =
      OpenDatabase(url_, {service_,
                          {{1, "typo", "CREATE TABLE x ({{resource_column}})",
                            "CREATE TABLE x ({{resource_column}})"}}});
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(std::string(db.status().message()),
              testing::AllOf(testing::HasSubstr("migration 1 (typo)"),
                             testing::HasSubstr("{{resource_column}}")));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST(MigrationChecksumTest, IsTheSha256OfTheText) {
  EXPECT_EQ(internal::MigrationChecksum("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(internal::MigrationChecksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ExpandMigrationTest, ResourceColumnsInEachDialect) {
  const std::string text =
      "CREATE TABLE states (\n  {{resource_columns}},\n  x TEXT NOT NULL\n);";
  EXPECT_EQ(*internal::ExpandMigration(text, internal::Dialect::kSqlite),
            "CREATE TABLE states (\n"
            "  name TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB NOT "
            "NULL,\n"
            "  etag TEXT NOT NULL, revision INTEGER NOT NULL,\n"
            "  create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,\n"
            "  delete_time INTEGER,\n"
            "  x TEXT NOT NULL\n);");
  EXPECT_EQ(*internal::ExpandMigration(text, internal::Dialect::kPostgres),
            "CREATE TABLE states (\n"
            "  name TEXT COLLATE \"C\" PRIMARY KEY, parent TEXT COLLATE \"C\" "
            "NOT NULL, data BYTEA NOT NULL,\n"
            "  etag TEXT COLLATE \"C\" NOT NULL, revision BIGINT NOT NULL,\n"
            "  create_time BIGINT NOT NULL, update_time BIGINT NOT NULL,\n"
            "  delete_time BIGINT,\n"
            "  x TEXT NOT NULL\n);");
}

TEST(ExpandMigrationTest, NameUniqueIndentationAndPlainText) {
  EXPECT_EQ(*internal::ExpandMigration("(\n\t  {{ resource_columns "
                                       "name_unique }})",
                                       internal::Dialect::kSqlite),
            "(\n\t  name TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, data "
            "BLOB NOT NULL,\n\t  etag TEXT NOT NULL, revision INTEGER NOT "
            "NULL,\n\t  create_time INTEGER NOT NULL, update_time INTEGER "
            "NOT NULL,\n\t  delete_time INTEGER)");
  EXPECT_THAT(*internal::ExpandMigration("{{resource_columns name_unique}}",
                                         internal::Dialect::kPostgres),
              testing::StartsWith("name TEXT COLLATE \"C\" NOT NULL UNIQUE,"));
  // Not at the start of its line: continuation lines are not indented.
  EXPECT_EQ(*internal::ExpandMigration("t ({{resource_columns}})",
                                       internal::Dialect::kSqlite),
            "t (name TEXT PRIMARY KEY, parent TEXT NOT NULL, data BLOB NOT "
            "NULL,\netag TEXT NOT NULL, revision INTEGER NOT NULL,\n"
            "create_time INTEGER NOT NULL, update_time INTEGER NOT NULL,\n"
            "delete_time INTEGER)");
  // Comments and literals are left as they are.
  const std::string plain =
      "CREATE INDEX i ON t (a); -- {{resource_columns}}\n"
      "/* {{x}} */ SELECT '{{1,2},{3,4}}'::int[], 'it''s {{';";
  EXPECT_EQ(*internal::ExpandMigration(plain, internal::Dialect::kSqlite),
            plain);
}

TEST(ExpandMigrationTest, UnknownOrUnclosedDirectivesAreErrors) {
  for (const char* bad : {"{{resource_column}}", "{{resource_columns unique}}",
                          "{{}}", "CREATE TABLE t ({{resource_columns)"}) {
    auto out = internal::ExpandMigration(bad, internal::Dialect::kSqlite);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(OpenDatabaseTest, RejectsUnknownSchemes) {
  auto db = OpenDatabase("mysql://localhost/x", {"x", {}});
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(db.status().message()), testing::HasSubstr("sqlite"));
}

TEST(OpenDatabaseTest, MemoryDatabasesArePrivate) {
  SchemaSpec schema = {"m", {{1, "init", "CREATE TABLE t (v TEXT)", ""}}};
  auto a = OpenDatabase("sqlite::memory:", schema);
  auto b = OpenDatabase("sqlite::memory:", schema);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(
      (*a)->Write([](SqlTransaction& tx) {
            return tx.Execute("INSERT INTO t VALUES ('a')", {}).status();
          })
          .ok());
  ASSERT_TRUE((*b)->Read([](SqlTransaction& tx) {
                    auto rows = tx.Query("SELECT COUNT(*) FROM t", {});
                    EXPECT_EQ(AsInt((*rows)[0][0]), 0);
                    return absl::OkStatus();
                  })
                  .ok());
}

// Etags (AIP-154): a weak etag for a day is made from the stored one and
// names it in a write, whatever the day; strong, weak and the unquoted form
// of before match only the version they were made from.
TEST(EtagTest, WeakEtagsForADayNameTheStoredVersion) {
  const std::string stored = "\"0123456789abcdef\"";
  EXPECT_EQ(WeakEtag(stored, 20220501), "W/\"0123456789abcdef-20220501\"");
  // Made again for another day, from the stored or from a weak one.
  EXPECT_EQ(WeakEtag(WeakEtag(stored, 20220501), 20261122),
            WeakEtag(stored, 20261122));
  EXPECT_NE(WeakEtag(stored, 20220501), WeakEtag(stored, 20261122));

  EXPECT_TRUE(EtagMatches(stored, stored));
  EXPECT_TRUE(EtagMatches("0123456789abcdef", stored));  // unquoted, as before
  EXPECT_TRUE(EtagMatches(WeakEtag(stored, 20220501), stored));
  // A stored etag from before quoting matches the quoted form too.
  EXPECT_TRUE(EtagMatches(stored, "0123456789abcdef"));

  for (const char* other :
       {"\"0123456789abcdee\"", "0123456789abcde", "W/\"0123456789abcdef\"",
        "W/\"0123456789abcdee-20220501\"", "\"\"", "", "\"0123456789abcdef",
        "W/\"-20220501\""}) {
    EXPECT_FALSE(EtagMatches(other, stored)) << other;
  }
}

}  // namespace
}  // namespace cstopa::common
