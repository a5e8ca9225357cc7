// Tests of the PostgreSQL back end as a whole (its parts have their own,
// without a server, in internal/pg_*_test.cc). Those that need a server run
// when CSTOPA_TEST_POSTGRES_URL names one (tests/postgres/pg_server.sh starts
// a throwaway one) and skip otherwise; each works in a schema of its own and
// drops it at the end. The outage test also needs CSTOPA_TEST_POSTGRES_DIR
// (the pg_server.sh directory of that server) and CSTOPA_TEST_PG_SERVER (the
// script's path): it stops and restarts the server.
#include "services/common/store/postgres.h"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/store/sql.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::common {
namespace {

using ::testing::HasSubstr;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// ---------------------------------------------------------------------------
// Without a server.

TEST(OpenPostgresTest, RejectsBadUrlsAndServiceNames) {
  SchemaSpec ok = {"svc", {}};
  EXPECT_EQ(OpenPostgres("mysql://x/y", ok).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const char* url : {"postgresql://u@127.0.0.1:1/db?pool_size=0",
                          "postgresql://u@127.0.0.1:1/db?pool_size=65",
                          "postgres://u@127.0.0.1:1/db?pool_size=x",
                          "postgresql://u@127.0.0.1:1/db?pool_timeout_ms=0",
                          "postgresql://u@127.0.0.1:1/db?no_such_param=1"}) {
    auto db = OpenPostgres(url, ok);
    EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument)
        << url << ": " << db.status();
  }
  for (const char* service : {"", "Upper", "1abc", "a-b", "pg_x", "a b"}) {
    auto db = OpenPostgres("postgresql://u@127.0.0.1:1/db", {service, {}});
    EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument)
        << service;
  }
}

TEST(OpenPostgresTest, UnreachableServerIsUnavailableQuickly) {
  // Port 1 on loopback: refused at once.
  absl::Time start = absl::Now();
  auto db = OpenPostgres("postgresql://u@127.0.0.1:1/db?connect_timeout=2",
                         {"svc", {}});
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable) << db.status();
  EXPECT_THAT(Message(db.status()), HasSubstr("127.0.0.1:1/db"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

// ---------------------------------------------------------------------------
// With a server.

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CSTOPA_TEST_POSTGRES_URL_OR_SKIP(base_url_);
    service_ = NewService();
  }

  void TearDown() override {
    if (base_url_.empty()) return;
    PGconn* conn = PQconnectdb(base_url_.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    for (const std::string& s : services_) {
      PGresult* r = PQexec(
          conn, absl::StrCat("DROP SCHEMA IF EXISTS ", s, " CASCADE").c_str());
      EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(conn);
      PQclear(r);
    }
    PQfinish(conn);
  }

  // A fresh schema name, dropped at the end of the test.
  std::string NewService() {
    std::random_device rd;
    std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) | rd());
    std::string name = absl::StrCat("t_", absl::Hex(gen()));
    services_.push_back(name);
    return name;
  }

  // The server's URL with extra parameters ("pool_size=1&...").
  std::string Url(const std::string& extra = "") const {
    if (extra.empty()) return base_url_;
    return absl::StrCat(
        base_url_, base_url_.find('?') == std::string::npos ? "?" : "&", extra);
  }

  SchemaSpec Schema() const {
    return {
        service_,
        {{1, "init", "", "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v TEXT)"},
         {2, "values", "",
          "CREATE TABLE vals (k TEXT PRIMARY KEY, i8 BIGINT, i4 INTEGER, "
          "i2 SMALLINT, b BOOLEAN, f8 DOUBLE PRECISION, f4 REAL, "
          "vc VARCHAR(20), ch CHAR(3), data BYTEA, j JSONB)"}}};
  }

  std::unique_ptr<Database> Open(const std::string& extra = "") {
    auto db = OpenPostgres(Url(extra), Schema());
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(*db) : nullptr;
  }

  std::string base_url_, service_;
  std::vector<std::string> services_;
};

int64_t Count(Database& db, const std::string& table = "t") {
  int64_t n = -1;
  absl::Status s = db.Read([&](SqlTransaction& tx) {
    auto rows = tx.Query(absl::StrCat("SELECT COUNT(*) FROM ", table), {});
    if (!rows.ok()) return rows.status();
    n = AsInt((*rows)[0][0]);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return n;
}

absl::Status Insert(Database& db, const std::string& v) {
  return db.Write([&](SqlTransaction& tx) {
    return tx.Execute("INSERT INTO t (v) VALUES (?)", {v}).status();
  });
}

TEST_F(PostgresTest, DialectAndPing) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->dialect(), "postgresql");
  EXPECT_TRUE(db->Ping().ok());
}

TEST_F(PostgresTest, MigrationsAreAppliedOnceAndRecorded) {
  // Migration 2 inserts a row: a second application would show.
  SchemaSpec spec = {service_,
                     {{1, "init", "", "CREATE TABLE t (v TEXT)"},
                      {2, "seed", "", "INSERT INTO t VALUES ('seed')"}}};
  for (int i = 0; i < 2; ++i) {
    auto db = OpenPostgres(Url(), spec);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_EQ(Count(**db), 1);
  }
  spec.migrations.push_back({3, "more", "", "INSERT INTO t VALUES ('three')"});
  auto db = OpenPostgres(Url(), spec);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(Count(**db), 2);
  ASSERT_TRUE((*db)
                  ->Read([](SqlTransaction& tx) {
                    auto rows = tx.Query(
                        "SELECT version, name FROM schema_migrations "
                        "ORDER BY version",
                        {});
                    EXPECT_TRUE(rows.ok()) << rows.status();
                    EXPECT_EQ(rows->size(), 3u);
                    EXPECT_EQ(AsString((*rows)[2][1]), "more");
                    return absl::OkStatus();
                  })
                  .ok());
}

TEST_F(PostgresTest, ConcurrentOpensApplyEachMigrationOnce) {
  // The migration takes a while, so the openers overlap; the advisory lock
  // makes all but one find it applied.
  SchemaSpec spec = {
      service_,
      {{1, "init", "", "CREATE TABLE t (v TEXT)"},
       {2, "slow", "", "SELECT pg_sleep(0.5); INSERT INTO t VALUES ('once')"}}};
  constexpr int kOpeners = 4;
  std::vector<absl::Status> results(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      auto db = OpenPostgres(Url(), spec);
      results[i] = db.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  auto db = OpenPostgres(Url(), spec);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(Count(**db), 1);
}

TEST_F(PostgresTest, FailedMigrationNamesItAndAppliesNothing) {
  SchemaSpec bad = {service_,
                    {{1, "init", "", "CREATE TABLE t (v TEXT)"},
                     {2, "broken", "", "CREATE TABLE ("}}};
  auto db = OpenPostgres(Url(), bad);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(db.status()), HasSubstr("migration 2 (broken)"));
  EXPECT_THAT(Message(db.status()), HasSubstr("SQLSTATE 42601"));
  // All migrations run in one transaction: migration 1 is gone too.
  SchemaSpec none = {service_, {}};
  auto db2 = OpenPostgres(Url(), none);
  ASSERT_TRUE(db2.ok()) << db2.status();
  EXPECT_EQ(Count(**db2, "schema_migrations"), 0);
}

TEST_F(PostgresTest, MigrationWithoutPostgresSqlIsAnError) {
  auto db =
      OpenPostgres(Url(), {service_, {{1, "lite", "CREATE TABLE x (a)", ""}}});
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(Message(db.status()), HasSubstr("migration 1 (lite)"));
}

TEST_F(PostgresTest, WriteRollsBackWhenTheFunctionFails) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  absl::Status s = db->Write([](SqlTransaction& tx) {
    auto r = tx.Execute("INSERT INTO t (v) VALUES (?)", {std::string("a")});
    EXPECT_TRUE(r.ok()) << r.status();
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Count(*db), 0);
  // A failing statement rolls back the statements before it.
  s = db->Write([](SqlTransaction& tx) -> absl::Status {
    auto r = tx.Execute("INSERT INTO t (v) VALUES ('b')", {});
    if (!r.ok()) return r.status();
    return tx.Execute("INSERT INTO no_such_table VALUES (1)", {}).status();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(s), HasSubstr("42P01"));
  EXPECT_EQ(Count(*db), 0);
  // The connection is usable afterwards.
  EXPECT_TRUE(Insert(*db, "c").ok());
  EXPECT_EQ(Count(*db), 1);
}

TEST_F(PostgresTest, IgnoredStatementErrorDoesNotCommitSilently) {
  auto db = Open("pool_size=1");
  ASSERT_NE(db, nullptr);
  absl::Status s = db->Write([](SqlTransaction& tx) -> absl::Status {
    auto r = tx.Execute("INSERT INTO t (v) VALUES ('lost')", {});
    if (!r.ok()) return r.status();
    (void)tx.Execute("SELECT * FROM no_such_table", {});
    return absl::OkStatus();
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(Count(*db), 0);
}

TEST_F(PostgresTest, EveryValueKindRoundTrips) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  const std::string binary("a\0b\xff\x80\0", 6);
  const std::string utf8 = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac";
  const double third = 1.0 / 3.0;
  const int64_t big = std::numeric_limits<int64_t>::min();
  ASSERT_TRUE(
      db->Write([&](SqlTransaction& tx) -> absl::Status {
          auto r = tx.Execute(
              "INSERT INTO vals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
              "?)",
              {std::string("full"), big, int64_t{-2147483647 - 1},
               int64_t{-32768}, int64_t{1}, third, 0.5, utf8, std::string("ab"),
               binary, std::string("{\"a\": 1}")});
          if (!r.ok()) return r.status();
          EXPECT_EQ(*r, 1);
          r = tx.Execute(
              "INSERT INTO vals (k, i8, f8, b) VALUES (?, ?, ?, ?)",
              {std::string("nulls"), std::monostate{}, 1e300, int64_t{0}});
          if (!r.ok()) return r.status();
          return tx
              .Execute(
                  "INSERT INTO vals (k, f8) VALUES (?, ?)",
                  {std::string("inf"), std::numeric_limits<double>::infinity()})
              .status();
        }).ok());
  ASSERT_TRUE(
      db->Read([&](SqlTransaction& tx) {
          auto rows = tx.Query(
              "SELECT i8, i4, i2, b, f8, f4, vc, ch, data, j, k, "
              "NULL, 7, 'lit' FROM vals WHERE k = ?",
              {std::string("full")});
          EXPECT_TRUE(rows.ok()) << rows.status();
          if (!rows.ok() || rows->size() != 1) return rows.status();
          const SqlValues& r = (*rows)[0];
          EXPECT_EQ(std::get<int64_t>(r[0]), big);
          EXPECT_EQ(std::get<int64_t>(r[1]), -2147483647 - 1);
          EXPECT_EQ(std::get<int64_t>(r[2]), -32768);
          EXPECT_EQ(std::get<int64_t>(r[3]), 1);
          EXPECT_EQ(std::get<double>(r[4]), third);  // exact
          EXPECT_EQ(std::get<double>(r[5]), 0.5);
          EXPECT_EQ(std::get<std::string>(r[6]), utf8);
          EXPECT_EQ(std::get<std::string>(r[7]), "ab ");
          EXPECT_EQ(std::get<std::string>(r[8]), binary);
          EXPECT_EQ(std::get<std::string>(r[9]), "{\"a\": 1}");
          EXPECT_EQ(std::get<std::string>(r[10]), "full");
          EXPECT_TRUE(std::holds_alternative<std::monostate>(r[11]));
          EXPECT_EQ(std::get<int64_t>(r[12]), 7);
          EXPECT_EQ(std::get<std::string>(r[13]), "lit");

          // The streaming form, without copies.
          int seen = 0;
          absl::Status s = tx.QueryEach(
              "SELECT data, i8, k, i2, f8, b FROM vals ORDER BY k", {},
              [&](const SqlRow& row) {
                EXPECT_EQ(row.size(), 6);
                const std::string k(row.Bytes(2));
                if (k == "full") {
                  EXPECT_EQ(row.Bytes(0), binary);
                  EXPECT_EQ(row.Int(1), big);
                  EXPECT_EQ(row.Int(3), -32768);
                  EXPECT_EQ(row.Bytes(3), "-32768");
                  EXPECT_EQ(std::get<double>(row.Value(4)), third);
                  EXPECT_EQ(row.Int(5), 1);
                } else if (k == "nulls") {
                  EXPECT_TRUE(row.IsNull(0));
                  EXPECT_TRUE(row.IsNull(1));
                  EXPECT_EQ(row.Int(1), 0);
                  EXPECT_EQ(row.Bytes(0), "");
                  EXPECT_TRUE(
                      std::holds_alternative<std::monostate>(row.Value(1)));
                  EXPECT_EQ(std::get<double>(row.Value(4)), 1e300);
                  EXPECT_EQ(row.Int(5), 0);
                } else {
                  EXPECT_EQ(k, "inf");
                  EXPECT_TRUE(std::isinf(std::get<double>(row.Value(4))));
                }
                ++seen;
                return absl::OkStatus();
              });
          EXPECT_EQ(seen, 3);
          return s;
        }).ok());
}

TEST_F(PostgresTest, StringParametersFollowTheInferredType) {
  // A string compared with a bigint column, or cast to one, is sent as
  // text (SQLite coerces such values too).
  auto db = Open();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(Insert(*db, "x").ok());
  ASSERT_TRUE(db->Read([&](SqlTransaction& tx) {
                  auto rows = tx.Query("SELECT v FROM t WHERE id = ?",
                                       {std::string("1")});
                  EXPECT_TRUE(rows.ok()) << rows.status();
                  if (rows.ok()) {
                    EXPECT_EQ(rows->size(), 1u);
                  }
                  rows = tx.Query(
                      "SELECT CAST(? AS bigint) + 1, "
                      "CAST(? AS text), CAST(? AS double precision)",
                      {std::string("41"), int64_t{5}, 0.1});
                  EXPECT_TRUE(rows.ok()) << rows.status();
                  if (!rows.ok()) return rows.status();
                  EXPECT_EQ(AsInt((*rows)[0][0]), 42);
                  EXPECT_EQ(AsString((*rows)[0][1]), "5");
                  EXPECT_EQ(std::get<double>((*rows)[0][2]), 0.1);
                  return absl::OkStatus();
                }).ok());
}

TEST_F(PostgresTest, QuestionMarksInLiteralsAreNotPlaceholders) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([](SqlTransaction& tx) {
                  return tx
                      .Execute("INSERT INTO t (v) VALUES ('why?'), (?)",
                               {std::string("because?")})
                      .status();
                }).ok());
  ASSERT_TRUE(db->Read([](SqlTransaction& tx) {
                  auto rows = tx.Query(
                      "SELECT v, 'a?b' FROM t WHERE v <> '?' AND v LIKE ? "
                      "ORDER BY v",
                      {std::string("%?")});
                  EXPECT_TRUE(rows.ok()) << rows.status();
                  if (!rows.ok()) return rows.status();
                  EXPECT_EQ(rows->size(), 2u);
                  EXPECT_EQ(AsString((*rows)[0][0]), "because?");
                  EXPECT_EQ(AsString((*rows)[1][0]), "why?");
                  EXPECT_EQ(AsString((*rows)[0][1]), "a?b");
                  return absl::OkStatus();
                }).ok());
}

TEST_F(PostgresTest, ErrorsMapToStatusCodes) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  auto put = [&] {
    return db->Write([](SqlTransaction& tx) {
      return tx.Execute("INSERT INTO vals (k) VALUES (?)", {std::string("x")})
          .status();
    });
  };
  ASSERT_TRUE(put().ok());
  absl::Status dup = put();
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists) << dup;
  EXPECT_THAT(Message(dup), HasSubstr("23505"));

  absl::Status timeout = db->Read([](SqlTransaction& tx) -> absl::Status {
    auto r = tx.Execute("SET LOCAL statement_timeout = 50", {});
    if (!r.ok()) return r.status();
    return tx.Execute("SELECT pg_sleep(5)", {}).status();
  });
  EXPECT_EQ(timeout.code(), absl::StatusCode::kDeadlineExceeded) << timeout;

  absl::Status syntax = db->Read(
      [](SqlTransaction& tx) { return tx.Query("SELEC 1", {}).status(); });
  EXPECT_EQ(syntax.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(syntax), HasSubstr("42601"));
  EXPECT_THAT(Message(syntax), HasSubstr("SELEC 1"));

  absl::Status params = db->Read([](SqlTransaction& tx) {
    return tx.Query("SELECT v FROM t WHERE id = ?", {}).status();
  });
  EXPECT_EQ(params.code(), absl::StatusCode::kInternal);

  absl::Status type = db->Read(
      [](SqlTransaction& tx) { return tx.Query("SELECT now()", {}).status(); });
  EXPECT_EQ(type.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(type), HasSubstr("cast it"));

  absl::Status read_only = db->Read([](SqlTransaction& tx) {
    return tx.Execute("INSERT INTO t (v) VALUES ('no')", {}).status();
  });
  EXPECT_FALSE(read_only.ok());
  EXPECT_THAT(Message(read_only), HasSubstr("25006"));
}

TEST_F(PostgresTest, DeadlockIsAborted) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([](SqlTransaction& tx) {
                  return tx
                      .Execute("INSERT INTO vals (k) VALUES ('a'), ('b')", {})
                      .status();
                }).ok());
  // Two writers lock a and b in opposite orders.
  absl::Notification a_locked, b_locked;
  absl::Status other;
  std::thread t([&] {
    other = db->Write([&](SqlTransaction& tx) -> absl::Status {
      auto r = tx.Execute("UPDATE vals SET i8 = 1 WHERE k = 'b'", {});
      if (!r.ok()) return r.status();
      b_locked.Notify();
      a_locked.WaitForNotificationWithTimeout(absl::Seconds(10));
      return tx.Execute("UPDATE vals SET i8 = 1 WHERE k = 'a'", {}).status();
    });
  });
  absl::Status mine = db->Write([&](SqlTransaction& tx) -> absl::Status {
    auto r = tx.Execute("UPDATE vals SET i8 = 2 WHERE k = 'a'", {});
    if (!r.ok()) return r.status();
    a_locked.Notify();
    b_locked.WaitForNotificationWithTimeout(absl::Seconds(10));
    return tx.Execute("UPDATE vals SET i8 = 2 WHERE k = 'b'", {}).status();
  });
  t.join();
  // The server breaks the deadlock by failing one of them.
  EXPECT_NE(mine.ok(), other.ok()) << mine << " / " << other;
  absl::Status failed = mine.ok() ? other : mine;
  EXPECT_EQ(failed.code(), absl::StatusCode::kAborted) << failed;
}

TEST_F(PostgresTest, InsideAWriteItsTxSeesItsOwnChangesAndNobodyElse) {
  auto db = Open("pool_size=2");
  ASSERT_NE(db, nullptr);
  absl::Status s = db->Write([&](SqlTransaction& tx) -> absl::Status {
    auto r = tx.Execute("INSERT INTO t (v) VALUES ('w')", {});
    if (!r.ok()) return r.status();
    auto rows = tx.Query("SELECT COUNT(*) FROM t", {});
    if (!rows.ok()) return rows.status();
    EXPECT_EQ(AsInt((*rows)[0][0]), 1);
    // A Database call is a transaction of its own, on another connection:
    // it does not see the uncommitted row.
    EXPECT_EQ(Count(*db), 0);
    // Nor does another process.
    auto other = OpenPostgres(Url(), Schema());
    if (!other.ok()) return other.status();
    EXPECT_EQ(Count(**other), 0);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Count(*db), 1);
}

TEST_F(PostgresTest, ADatabaseCallInsideATransactionDoesNotJoinIt) {
  // With the one connection taken by the Write, a nested call waits for a
  // second one (no transaction is joined by thread) and fails after the
  // pool timeout: code inside a transaction must use its `tx`.
  auto db = Open("pool_size=1&pool_timeout_ms=300");
  ASSERT_NE(db, nullptr);
  absl::Status inner_write, inner_read;
  ASSERT_TRUE(db->Write([&](SqlTransaction&) {
                  inner_write = Insert(*db, "nested");
                  inner_read = db->Ping();
                  return absl::OkStatus();
                }).ok());
  EXPECT_EQ(inner_write.code(), absl::StatusCode::kUnavailable) << inner_write;
  EXPECT_THAT(Message(inner_write), HasSubstr("connection pool exhausted"));
  EXPECT_EQ(inner_read.code(), absl::StatusCode::kUnavailable) << inner_read;
  EXPECT_EQ(Count(*db), 0);
}

TEST_F(PostgresTest, WritesRunConcurrentlyOnTheirOwnConnections) {
  auto db = Open("pool_size=2");
  ASSERT_NE(db, nullptr);
  // Each writer waits, inside its transaction, until the other is inside
  // its own: this only finishes if writes are not serialized.
  absl::Notification first_in, second_in;
  absl::Status a, b;
  std::thread t([&] {
    a = db->Write([&](SqlTransaction& tx) -> absl::Status {
      first_in.Notify();
      if (!second_in.WaitForNotificationWithTimeout(absl::Seconds(10)))
        return absl::DeadlineExceededError("second writer never came in");
      return tx.Execute("INSERT INTO t (v) VALUES ('a')", {}).status();
    });
  });
  ASSERT_TRUE(first_in.WaitForNotificationWithTimeout(absl::Seconds(10)));
  b = db->Write([&](SqlTransaction& tx) -> absl::Status {
    second_in.Notify();
    return tx.Execute("INSERT INTO t (v) VALUES ('b')", {}).status();
  });
  t.join();
  EXPECT_TRUE(a.ok()) << a;
  EXPECT_TRUE(b.ok()) << b;
  EXPECT_EQ(Count(*db), 2);
}

TEST_F(PostgresTest, ExhaustedPoolIsUnavailableNotAHang) {
  auto db = Open("pool_size=1&pool_timeout_ms=1000");
  ASSERT_NE(db, nullptr);
  absl::Notification holding, done;
  std::thread holder([&] {
    absl::Status s = db->Write([&](SqlTransaction& tx) {
      holding.Notify();
      done.WaitForNotificationWithTimeout(absl::Seconds(30));
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
  });
  ASSERT_TRUE(holding.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::Time start = absl::Now();
  absl::Status s =
      db->Read([](SqlTransaction& tx) { return absl::OkStatus(); });
  absl::Duration waited = absl::Now() - start;
  done.Notify();
  holder.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(Message(s), HasSubstr("connection pool exhausted"));
  EXPECT_GE(waited, absl::Milliseconds(900));
  EXPECT_LT(waited, absl::Seconds(5));
  // Free again.
  EXPECT_TRUE(db->Read([](SqlTransaction&) { return absl::OkStatus(); }).ok());
}

TEST_F(PostgresTest, DefaultPoolTimeoutIsBounded) {
  auto db = Open("pool_size=1");
  ASSERT_NE(db, nullptr);
  absl::Notification holding, done;
  std::thread holder([&] {
    (void)db->Write([&](SqlTransaction&) {
      holding.Notify();
      done.WaitForNotificationWithTimeout(absl::Seconds(30));
      return absl::OkStatus();
    });
  });
  ASSERT_TRUE(holding.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::Time start = absl::Now();
  absl::Status s = db->Write([](SqlTransaction&) { return absl::OkStatus(); });
  absl::Duration waited = absl::Now() - start;
  done.Notify();
  holder.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  // The 5 s default (pg_url_test pins the value); the upper bound only
  // catches a wait without end.
  EXPECT_GE(waited, absl::Milliseconds(4900));
  EXPECT_LT(waited, absl::Seconds(30));
}

TEST_F(PostgresTest, ManyDistinctStatementsOverflowTheCache) {
  auto db = Open("pool_size=1");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([](SqlTransaction& tx) -> absl::Status {
                  for (int i = 0; i < 600; ++i) {
                    auto r =
                        tx.Query(absl::StrCat("SELECT ? + ", i), {int64_t{i}});
                    if (!r.ok()) return r.status();
                    EXPECT_EQ(AsInt((*r)[0][0]), 2 * i);
                  }
                  return absl::OkStatus();
                }).ok());
  EXPECT_EQ(Count(*db), 0);
}

TEST_F(PostgresTest, ManyThreadsShareThePool) {
  auto db = Open("pool_size=3");
  ASSERT_NE(db, nullptr);
  constexpr int kThreads = 8, kWrites = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < kWrites; ++j) {
        if (!Insert(*db, "x").ok()) ++failures;
        if (Count(*db) < 1) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Count(*db), kThreads * kWrites);
}

// The value of the store gauge `name` (-1 when there is none).
double Gauge(Database& db, absl::string_view name) {
  for (const StoreGauge& g : db.Gauges()) {
    if (g.name == name) return g.value;
  }
  return -1;
}

// Holds one pooled connection in an open write transaction, from a thread
// of its own, until Release (or destruction).
class HeldConnection {
 public:
  explicit HeldConnection(Database& db)
      : thread_([this, &db] {
          (void)db.Write([this](SqlTransaction&) {
            holding_.Notify();
            release_.WaitForNotificationWithTimeout(absl::Seconds(30));
            return absl::OkStatus();
          });
        }) {}
  ~HeldConnection() { Release(); }
  // True once the transaction holds its connection.
  bool Holding() {
    return holding_.WaitForNotificationWithTimeout(absl::Seconds(10));
  }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
    if (thread_.joinable()) thread_.join();
  }

 private:
  absl::Notification holding_, release_;
  std::thread thread_;  // last: starts once the notifications exist
};

// An asynchronous query's outcome, waited for by the test.
struct AsyncResult {
  absl::Notification finished;
  absl::Status status;
  std::vector<int64_t> values;
  std::atomic<int> done_calls{0};
  std::thread::id done_thread;

  RowCallback OnRow() {
    return [this](const SqlRow& row) {
      values.push_back(row.Int(0));
      return absl::OkStatus();
    };
  }
  StatusCallback OnDone() {
    return [this](absl::Status s) {
      status = std::move(s);
      done_thread = std::this_thread::get_id();
      ++done_calls;
      finished.Notify();
    };
  }
  bool Wait(absl::Duration d = absl::Seconds(20)) {
    return finished.WaitForNotificationWithTimeout(d);
  }
};

TEST_F(PostgresTest, AsyncQueryDeliversRowsOnTheIoThread) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  for (const char* v : {"1", "2", "3"}) ASSERT_TRUE(Insert(*db, v).ok());
  AsyncResult r;
  db->QueryOnceAsync("SELECT v::bigint * ? FROM t ORDER BY id", {int64_t{10}},
                     absl::Now() + absl::Seconds(10), r.OnRow(), r.OnDone());
  ASSERT_TRUE(r.Wait());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.values, ::testing::ElementsAre(10, 20, 30));
  EXPECT_EQ(r.done_calls, 1);
  // The caller did not wait for the answer: another thread reported it.
  EXPECT_NE(r.done_thread, std::this_thread::get_id());
}

TEST_F(PostgresTest, AsyncErrorsMapLikeSynchronousOnes) {
  auto db = Open();
  ASSERT_NE(db, nullptr);
  AsyncResult missing;
  db->QueryOnceAsync("SELECT 1 FROM no_such_table", {}, absl::InfiniteFuture(),
                     missing.OnRow(), missing.OnDone());
  ASSERT_TRUE(missing.Wait());
  EXPECT_EQ(missing.status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(missing.status), HasSubstr("42P01"));
  // An error from the row callback stops the rows and is the result.
  ASSERT_TRUE(Insert(*db, "1").ok());
  ASSERT_TRUE(Insert(*db, "2").ok());
  AsyncResult stopped;
  int rows = 0;
  db->QueryOnceAsync(
      "SELECT id FROM t", {}, absl::InfiniteFuture(),
      [&](const SqlRow&) {
        ++rows;
        return absl::DataLossError("bad row");
      },
      stopped.OnDone());
  ASSERT_TRUE(stopped.Wait());
  EXPECT_EQ(stopped.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(rows, 1);
  // The connection is clean for the next user.
  EXPECT_EQ(Count(*db), 2);
}

TEST_F(PostgresTest, AsyncQueriesBeyondThePoolQueueWithoutBlockingTheCaller) {
  auto db = Open("pool_size=2&pool_timeout_ms=30000");
  ASSERT_NE(db, nullptr);
  // Both connections are taken until every query has been issued: none can
  // be answered, so a caller that waited for its answer would never get here.
  auto first = std::make_unique<HeldConnection>(*db);
  auto second = std::make_unique<HeldConnection>(*db);
  ASSERT_TRUE(first->Holding());
  ASSERT_TRUE(second->Holding());
  constexpr int kQueries = 40;
  std::vector<AsyncResult> results(kQueries);
  for (int i = 0; i < kQueries; ++i) {
    db->QueryOnceAsync("SELECT ?::bigint + 0 * length(pg_sleep(0.02)::text)",
                       {int64_t{i}}, absl::Now() + absl::Seconds(30),
                       results[i].OnRow(), results[i].OnDone());
  }
  int finished_when_issued = 0;
  for (auto& r : results) finished_when_issued += r.finished.HasBeenNotified();
  EXPECT_EQ(finished_when_issued, 0);
  first.reset();
  second.reset();
  for (int i = 0; i < kQueries; ++i) {
    ASSERT_TRUE(results[i].Wait()) << i;
    ASSERT_TRUE(results[i].status.ok()) << results[i].status;
    EXPECT_THAT(results[i].values, ::testing::ElementsAre(i));
    EXPECT_EQ(results[i].done_calls, 1);
  }
}

TEST_F(PostgresTest, WaitingKeyedReadsAreAnsweredByOneStatement) {
  auto db = Open("pool_size=1");
  ASSERT_NE(db, nullptr);
  // Keys that need quoting in an array literal, a duplicate, an absent one.
  const std::vector<std::string> stored = {"a",   "b\"q", "c\\d", "e,f",
                                           "{g}", "NULL", "",     "h i"};
  ASSERT_TRUE(db->Write([&](SqlTransaction& tx) -> absl::Status {
                  for (size_t i = 0; i < stored.size(); ++i) {
                    auto r =
                        tx.Execute("INSERT INTO vals (k, i8) VALUES (?, ?)",
                                   {stored[i], int64_t(i)});
                    if (!r.ok()) return r.status();
                  }
                  return absl::OkStatus();
                }).ok());
  // The marker column tells which form answered.
  const KeyedQuery query = {"SELECT i8, 'single' FROM vals WHERE k = ?",
                            "SELECT k, i8, 'batch' FROM vals WHERE k = ANY(?)"};
  std::vector<std::string> asked = stored;
  asked.push_back("a");        // twice
  asked.push_back("missing");  // no row
  struct Read {
    AsyncResult result;
    std::vector<std::string> forms;
  };
  std::vector<Read> reads(asked.size());
  // Hold the only connection so that every read waits in the queue.
  HeldConnection held(*db);
  ASSERT_TRUE(held.Holding());
  AsyncResult other;  // an unkeyed query waiting among them
  for (size_t i = 0; i < asked.size(); ++i) {
    if (i == 3) {
      db->QueryOnceAsync("SELECT 42::bigint", {}, absl::InfiniteFuture(),
                         other.OnRow(), other.OnDone());
    }
    Read& r = reads[i];
    db->QueryKeyAsync(
        &query, asked[i], absl::Now() + absl::Seconds(30),
        [&r](const SqlRow& row) {
          r.result.values.push_back(row.Int(0));
          r.forms.emplace_back(row.Bytes(1));
          EXPECT_EQ(row.size(), 2);
          return absl::OkStatus();
        },
        r.result.OnDone());
  }
  // Operators see the queue (every read and the unkeyed query wait).
  EXPECT_EQ(Gauge(*db, "cstopa_store_reads_waiting"), asked.size() + 1);
  EXPECT_EQ(Gauge(*db, "cstopa_store_connections_busy"), 1);
  EXPECT_EQ(Gauge(*db, "cstopa_store_pool_size"), 1);
  held.Release();
  for (size_t i = 0; i < asked.size(); ++i) {
    ASSERT_TRUE(reads[i].result.Wait()) << i;
    ASSERT_TRUE(reads[i].result.status.ok()) << reads[i].result.status;
    EXPECT_EQ(reads[i].result.done_calls, 1);
    if (asked[i] == "missing") {
      EXPECT_TRUE(reads[i].result.values.empty());
      continue;
    }
    const int64_t want =
        std::find(stored.begin(), stored.end(), asked[i]) - stored.begin();
    EXPECT_THAT(reads[i].result.values, ::testing::ElementsAre(want))
        << "key `" << asked[i] << "`";
    EXPECT_THAT(reads[i].forms, ::testing::ElementsAre("batch"));
  }
  ASSERT_TRUE(other.Wait());
  EXPECT_TRUE(other.status.ok()) << other.status;
  EXPECT_THAT(other.values, ::testing::ElementsAre(42));
  // Two statements answered them all: the keyed reads' and the other one.
  EXPECT_DOUBLE_EQ(Gauge(*db, "cstopa_store_reads_per_statement"),
                   (asked.size() + 1) / 2.0);
  EXPECT_EQ(Gauge(*db, "cstopa_store_reads_waiting"), 0);
  // A read that finds the connection free is sent alone, as `sql`.
  Read alone;
  db->QueryKeyAsync(
      &query, "a", absl::InfiniteFuture(),
      [&alone](const SqlRow& row) {
        alone.forms.emplace_back(row.Bytes(1));
        return absl::OkStatus();
      },
      alone.result.OnDone());
  ASSERT_TRUE(alone.result.Wait());
  EXPECT_THAT(alone.forms, ::testing::ElementsAre("single"));
}

TEST_F(PostgresTest, AKeyTheServerRefusesDoesNotFailTheOthersInItsBatch) {
  auto db = Open("pool_size=1");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Write([&](SqlTransaction& tx) {
                  return tx
                      .Execute(
                          "INSERT INTO vals (k, i8) VALUES ('x', 1), "
                          "('y', 2)",
                          {})
                      .status();
                }).ok());
  const KeyedQuery query = {"SELECT i8 FROM vals WHERE k = ?",
                            "SELECT k, i8 FROM vals WHERE k = ANY(?)"};
  HeldConnection held(*db);
  ASSERT_TRUE(held.Holding());
  // Not UTF-8: the server refuses the whole array it is part of.
  const std::vector<std::string> keys = {"x", "\xff\xfe", "y"};
  std::vector<AsyncResult> results(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    db->QueryKeyAsync(&query, keys[i], absl::Now() + absl::Seconds(30),
                      results[i].OnRow(), results[i].OnDone());
  }
  held.Release();
  for (auto& r : results) ASSERT_TRUE(r.Wait());
  EXPECT_TRUE(results[0].status.ok()) << results[0].status;
  EXPECT_THAT(results[0].values, ::testing::ElementsAre(1));
  EXPECT_EQ(results[1].status.code(), absl::StatusCode::kInternal)
      << results[1].status;
  EXPECT_THAT(Message(results[1].status), HasSubstr("22021"));
  EXPECT_TRUE(results[2].status.ok()) << results[2].status;
  EXPECT_THAT(results[2].values, ::testing::ElementsAre(2));
  for (auto& r : results) EXPECT_EQ(r.done_calls, 1);
}

TEST_F(PostgresTest, AsyncQueryPastItsDeadlineIsCancelledOnTheServer) {
  auto db = Open("pool_size=1");
  ASSERT_NE(db, nullptr);
  const absl::Time start = absl::Now();
  AsyncResult slow;
  db->QueryOnceAsync("SELECT length(pg_sleep(30)::text)::bigint", {},
                     start + absl::Milliseconds(300), slow.OnRow(),
                     slow.OnDone());
  ASSERT_TRUE(slow.Wait());
  EXPECT_EQ(slow.status.code(), absl::StatusCode::kDeadlineExceeded)
      << slow.status;
  // (Answered long before the 30 s statement would end: Wait gives up
  // after 20 s.)
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  // The one connection is free and works.
  EXPECT_EQ(Count(*db), 0);
}

TEST_F(PostgresTest, QueuedAsyncQueryFailsWhenThePoolStaysBusy) {
  auto db = Open("pool_size=1&pool_timeout_ms=300");
  ASSERT_NE(db, nullptr);
  HeldConnection held(*db);
  ASSERT_TRUE(held.Holding());
  const absl::Time start = absl::Now();
  AsyncResult queued, late;
  db->QueryOnceAsync("SELECT 1::bigint", {}, absl::InfiniteFuture(),
                     queued.OnRow(), queued.OnDone());
  db->QueryOnceAsync("SELECT 1::bigint", {}, start + absl::Milliseconds(100),
                     late.OnRow(), late.OnDone());
  ASSERT_TRUE(queued.Wait());
  ASSERT_TRUE(late.Wait());
  const absl::Duration waited = absl::Now() - start;
  held.Release();
  EXPECT_EQ(queued.status.code(), absl::StatusCode::kUnavailable)
      << queued.status;
  EXPECT_THAT(Message(queued.status), HasSubstr("connection pool exhausted"));
  EXPECT_EQ(late.status.code(), absl::StatusCode::kDeadlineExceeded)
      << late.status;
  EXPECT_GE(waited, absl::Milliseconds(290));
  EXPECT_LT(waited, absl::Seconds(5));
  // A query queued behind a transaction that then ends is sent.
  AsyncResult later;
  db->QueryOnceAsync("SELECT 7::bigint", {}, absl::InfiniteFuture(),
                     later.OnRow(), later.OnDone());
  ASSERT_TRUE(later.Wait());
  EXPECT_TRUE(later.status.ok()) << later.status;
  EXPECT_THAT(later.values, ::testing::ElementsAre(7));
}

TEST_F(PostgresTest, ClosingTheDatabaseFailsQueriesInFlight) {
  auto db = Open("pool_size=1");
  ASSERT_NE(db, nullptr);
  AsyncResult running, queued;
  db->QueryOnceAsync("SELECT length(pg_sleep(30)::text)::bigint", {},
                     absl::InfiniteFuture(), running.OnRow(), running.OnDone());
  db->QueryOnceAsync("SELECT 1::bigint", {}, absl::InfiniteFuture(),
                     queued.OnRow(), queued.OnDone());
  const absl::Time start = absl::Now();
  db.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_TRUE(running.Wait(absl::Seconds(1)));
  ASSERT_TRUE(queued.Wait(absl::Seconds(1)));
  EXPECT_EQ(running.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(queued.status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(PostgresTest, ServerOutageIsUnavailableAndRecoveredFrom) {
  const std::string dir = Env("CSTOPA_TEST_POSTGRES_DIR");
  const std::string script = Env("CSTOPA_TEST_PG_SERVER");
  if (dir.empty() || script.empty()) {
    GTEST_SKIP() << "CSTOPA_TEST_POSTGRES_DIR / CSTOPA_TEST_PG_SERVER not set";
  }
  auto db = Open("pool_size=2&connect_timeout=2");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(Insert(*db, "before").ok());  // prepares statements
  ASSERT_EQ(Count(*db), 1);
  ASSERT_TRUE(db->Ping().ok());

  ASSERT_EQ(std::system(absl::StrCat(script, " restart-stop ", dir).c_str()),
            0);
  absl::Time start = absl::Now();
  absl::Status ping = db->Ping();
  EXPECT_EQ(ping.code(), absl::StatusCode::kUnavailable) << ping;
  absl::Status write = Insert(*db, "during");
  EXPECT_EQ(write.code(), absl::StatusCode::kUnavailable) << write;
  AsyncResult down;
  db->QueryOnceAsync("SELECT COUNT(*) FROM t", {}, absl::InfiniteFuture(),
                     down.OnRow(), down.OnDone());
  ASSERT_TRUE(down.Wait());
  EXPECT_EQ(down.status.code(), absl::StatusCode::kUnavailable) << down.status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));

  ASSERT_EQ(
      std::system(
          absl::StrCat(script, " restart-start ", dir, " >/dev/null").c_str()),
      0);
  // Reconnected, with the statement cache emptied (the old names are gone
  // from the new sessions).
  EXPECT_TRUE(db->Ping().ok());
  EXPECT_TRUE(Insert(*db, "after").ok());
  EXPECT_EQ(Count(*db), 2);
  // The asynchronous path reconnects too.
  for (int i = 0; i < 3; ++i) {
    AsyncResult up;
    db->QueryOnceAsync("SELECT COUNT(*) FROM t", {}, absl::InfiniteFuture(),
                       up.OnRow(), up.OnDone());
    ASSERT_TRUE(up.Wait());
    EXPECT_TRUE(up.status.ok()) << up.status;
    EXPECT_THAT(up.values, ::testing::ElementsAre(2));
  }
}

}  // namespace
}  // namespace cstopa::common
