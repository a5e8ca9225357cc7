// Tests of pg_async_io.h without a server: fake connections whose socket is
// one end of a socketpair. The test plays the server: it sees each
// statement sent, and answers by setting the rows (or an error) and writing
// a byte to the other end, which wakes the I/O thread.
#include "services/common/store/internal/pg_async_io.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/store/internal/pg_codec.h"

namespace cstopa::common::pg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A row of SqlValues.
class ValuesRow : public SqlRow {
 public:
  explicit ValuesRow(const SqlValues* values) : values_(values) {}
  int size() const override { return static_cast<int>(values_->size()); }
  bool IsNull(int c) const override {
    return std::holds_alternative<std::monostate>((*values_)[c]);
  }
  int64_t Int(int c) const override { return ToInt((*values_)[c]); }
  absl::string_view Bytes(int c) const override {
    const auto* s = std::get_if<std::string>(&(*values_)[c]);
    return s == nullptr ? absl::string_view() : absl::string_view(*s);
  }
  SqlValue Value(int c) const override { return (*values_)[c]; }

 private:
  const SqlValues* values_;
};

class FakeServer;

class SocketConnection : public Connection {
 public:
  explicit SocketConnection(FakeServer* server);
  ~SocketConnection() override {
    close(fds_[0]);
    close(fds_[1]);
  }

  absl::Status Connect() override;
  absl::Status EnsureConnected() override { return absl::OkStatus(); }
  bool Reusable() const override { return !closed_; }
  void Close() override { closed_ = true; }
  absl::Status Send(const std::string& sql, const SqlValues& params) override;
  int socket() const override { return fds_[0]; }
  absl::StatusOr<bool> Receive() override {
    char buf[64];
    ssize_t n = read(fds_[0], buf, sizeof buf);
    ++receives;
    if (n == 0) return absl::UnavailableError("server closed the connection");
    absl::MutexLock lock(&mu_);
    return answered_;
  }
  absl::Status AnswerStatus() override {
    absl::MutexLock lock(&mu_);
    return error_;
  }
  absl::Status ForEachRow(
      absl::FunctionRef<absl::Status(const SqlRow&)> on_row) override {
    std::vector<SqlValues> rows;
    {
      absl::MutexLock lock(&mu_);
      rows.swap(rows_);
    }
    for (const SqlValues& r : rows) {
      ValuesRow row(&r);
      if (absl::Status s = on_row(row); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  void Cancel() override { ++cancels; }

  // The server's side.
  void Answer(absl::Status error, std::vector<SqlValues> rows) {
    {
      absl::MutexLock lock(&mu_);
      error_ = std::move(error);
      rows_ = std::move(rows);
      answered_ = true;
    }
    Poke();
  }
  // Wakes the reader without completing the answer (a partial packet).
  void Poke() { (void)!write(fds_[1], "x", 1); }
  // The server goes away: the reader sees EOF.
  void Hangup() { shutdown(fds_[1], SHUT_WR); }

  std::atomic<bool> closed_{false};
  std::atomic<int> cancels{0};
  std::atomic<int> receives{0};  // Receive() calls by the I/O thread

 private:
  FakeServer* server_;
  int fds_[2];
  absl::Mutex mu_;
  bool answered_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::vector<SqlValues> rows_ ABSL_GUARDED_BY(mu_);
};

// One statement as the server received it.
struct Sent {
  SocketConnection* conn = nullptr;
  std::string sql;
  SqlValues params;
};

class FakeServer {
 public:
  std::unique_ptr<Connection> NewConnection() {
    return std::make_unique<SocketConnection>(this);
  }

  void Record(Sent s) {
    absl::MutexLock lock(&mu_);
    sent_.push_back(std::move(s));
  }

  // The `i`-th statement sent (from 0), once it has been; fails the test
  // after 5 s.
  Sent WaitForSent(size_t i) {
    absl::MutexLock lock(&mu_);
    auto arrived = [&] { return sent_.size() > i; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), absl::Seconds(5))) {
      ADD_FAILURE() << "statement " << i << " was never sent";
      return {};
    }
    return sent_[i];
  }

  size_t sent_count() {
    absl::MutexLock lock(&mu_);
    return sent_.size();
  }

  std::atomic<bool> refuse{false};     // Connect fails
  std::atomic<bool> fail_send{false};  // Send fails
  std::atomic<int> connects{0};

 private:
  absl::Mutex mu_;
  std::vector<Sent> sent_ ABSL_GUARDED_BY(mu_);
};

SocketConnection::SocketConnection(FakeServer* server) : server_(server) {
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
}

absl::Status SocketConnection::Connect() {
  ++server_->connects;
  if (server_->refuse) return absl::UnavailableError("cannot connect");
  closed_ = false;
  return absl::OkStatus();
}

absl::Status SocketConnection::Send(const std::string& sql,
                                    const SqlValues& params) {
  if (server_->fail_send) return absl::InternalError("syntax error");
  {
    absl::MutexLock lock(&mu_);
    answered_ = false;
    error_ = absl::OkStatus();
    rows_.clear();
  }
  closed_ = false;
  server_->Record({this, sql, params});
  return absl::OkStatus();
}

// Waits until `cond` holds; false after 30 s (only a hang takes that long).
template <typename Cond>
bool WaitUntil(Cond cond) {
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (!cond()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// What one read saw.
struct Outcome {
  absl::Notification finished;
  absl::Status status;
  std::vector<SqlValues> rows;
  std::atomic<int> done_calls{0};
  std::thread::id done_thread;

  bool Wait(absl::Duration d = absl::Seconds(5)) {
    return finished.WaitForNotificationWithTimeout(d);
  }
};

std::unique_ptr<AsyncQuery> Query(
    Outcome* out, std::string sql, SqlValues params = {},
    absl::Time deadline = absl::InfiniteFuture()) {
  auto q = std::make_unique<AsyncQuery>();
  q->sql = std::move(sql);
  q->params = std::move(params);
  q->deadline = deadline;
  q->on_row = [out](const SqlRow& row) {
    SqlValues values;
    for (int c = 0; c < row.size(); ++c) values.push_back(row.Value(c));
    out->rows.push_back(std::move(values));
    return absl::OkStatus();
  };
  q->done = [out](absl::Status s) {
    out->status = std::move(s);
    out->done_thread = std::this_thread::get_id();
    ++out->done_calls;
    out->finished.Notify();
  };
  return q;
}

std::unique_ptr<AsyncQuery> KeyRead(
    Outcome* out, const KeyedQuery* keyed, std::string key,
    absl::Time deadline = absl::InfiniteFuture()) {
  auto q = Query(out, "", {}, deadline);
  q->keyed = keyed;
  q->key = std::move(key);
  return q;
}

const KeyedQuery kByName = {"SELECT v FROM t WHERE name = ?",
                            "SELECT name, v FROM t WHERE name = ANY(?)"};
const KeyedQuery kOther = {"SELECT w FROM u WHERE name = ?",
                           "SELECT name, w FROM u WHERE name = ANY(?)"};

class AsyncIoTest : public ::testing::Test {
 protected:
  void Make(int pool_size, absl::Duration pool_timeout = absl::Seconds(30),
            AsyncIo::Options options = {}) {
    pool_ = std::make_unique<ConnectionPool>(
        pool_size, pool_timeout, "fake/db",
        [this] { return server_.NewConnection(); });
    io_ = std::make_unique<AsyncIo>(pool_.get(), options);
  }

  void TearDown() override {
    io_.reset();
    pool_.reset();
  }

  FakeServer server_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<AsyncIo> io_;
};

TEST_F(AsyncIoTest, SendsAtOnceAndDeliversRowsOnTheIoThread) {
  Make(2);
  Outcome out;
  io_->Submit(Query(&out, "SELECT ?", {int64_t{7}}));
  Sent sent = server_.WaitForSent(0);
  EXPECT_EQ(sent.sql, "SELECT ?");
  EXPECT_EQ(sent.params, SqlValues{int64_t{7}});
  EXPECT_FALSE(out.finished.HasBeenNotified());
  // A partial answer wakes the loop but does not finish the read.
  sent.conn->Poke();
  ASSERT_TRUE(WaitUntil([&] { return sent.conn->receives > 0; }));
  EXPECT_FALSE(out.finished.HasBeenNotified());
  sent.conn->Answer(absl::OkStatus(), {{int64_t{1}}, {int64_t{2}}});
  ASSERT_TRUE(out.Wait());
  EXPECT_TRUE(out.status.ok()) << out.status;
  EXPECT_THAT(out.rows,
              ElementsAre(SqlValues{int64_t{1}}, SqlValues{int64_t{2}}));
  EXPECT_EQ(out.done_calls, 1);
  EXPECT_NE(out.done_thread, std::this_thread::get_id());
  EXPECT_EQ(io_->stats().statements, 1u);
}

TEST_F(AsyncIoTest, WaitingReadsAreSentInOrderAsConnectionsFree) {
  Make(1);
  Outcome a, b, c;
  io_->Submit(Query(&a, "A"));
  io_->Submit(Query(&b, "B"));
  io_->Submit(Query(&c, "C"));
  Sent first = server_.WaitForSent(0);
  EXPECT_EQ(first.sql, "A");
  EXPECT_EQ(io_->stats().waiting, 2u);
  EXPECT_EQ(server_.sent_count(), 1u);
  first.conn->Answer(absl::OkStatus(), {});
  Sent second = server_.WaitForSent(1);
  EXPECT_EQ(second.sql, "B");
  EXPECT_EQ(second.conn, first.conn);  // the one connection, reused
  ASSERT_TRUE(a.Wait());
  EXPECT_FALSE(c.finished.HasBeenNotified());
  second.conn->Answer(absl::OkStatus(), {});
  Sent third = server_.WaitForSent(2);
  EXPECT_EQ(third.sql, "C");
  third.conn->Answer(absl::OkStatus(), {});
  ASSERT_TRUE(b.Wait());
  ASSERT_TRUE(c.Wait());
  EXPECT_EQ(io_->stats().waiting, 0u);
}

TEST_F(AsyncIoTest, WaitingKeyedReadsAreBatchedByQuery) {
  Make(1);
  Outcome busy, k1, k2, unkeyed, k3, j1, k1_again;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(KeyRead(&k1, &kByName, "k1"));
  io_->Submit(KeyRead(&k2, &kByName, "k,2"));
  io_->Submit(Query(&unkeyed, "UNKEYED"));
  io_->Submit(KeyRead(&k3, &kByName, "k3"));
  io_->Submit(KeyRead(&j1, &kOther, "j1"));
  io_->Submit(KeyRead(&k1_again, &kByName, "k1"));
  EXPECT_EQ(io_->stats().waiting, 6u);
  holding.conn->Answer(absl::OkStatus(), {});

  // The first waiting read goes with every other of its query.
  Sent batch = server_.WaitForSent(1);
  EXPECT_EQ(batch.sql, kByName.batch_sql);
  EXPECT_EQ(batch.params,
            SqlValues{std::string("{\"k1\",\"k,2\",\"k3\",\"k1\"}")});
  // Rows for k1 and k3, in any order; none for k,2; one for no read.
  batch.conn->Answer(absl::OkStatus(), {{std::string("k3"), int64_t{3}},
                                        {std::string("k1"), int64_t{1}},
                                        {std::string("stray"), int64_t{9}}});
  for (Outcome* o : {&k1, &k2, &k3, &k1_again}) {
    ASSERT_TRUE(o->Wait());
    EXPECT_TRUE(o->status.ok()) << o->status;
    EXPECT_EQ(o->done_calls, 1);
  }
  // Each read sees its rows without the key column.
  EXPECT_THAT(k1.rows, ElementsAre(SqlValues{int64_t{1}}));
  EXPECT_THAT(k1_again.rows, ElementsAre(SqlValues{int64_t{1}}));
  EXPECT_THAT(k3.rows, ElementsAre(SqlValues{int64_t{3}}));
  EXPECT_TRUE(k2.rows.empty());

  // Then, in order, the unkeyed read and the other query's single read,
  // sent alone as its own statement.
  Sent next = server_.WaitForSent(2);
  EXPECT_EQ(next.sql, "UNKEYED");
  next.conn->Answer(absl::OkStatus(), {});
  Sent alone = server_.WaitForSent(3);
  EXPECT_EQ(alone.sql, kOther.sql);
  EXPECT_EQ(alone.params, SqlValues{std::string("j1")});
  alone.conn->Answer(absl::OkStatus(), {{int64_t{5}}});
  ASSERT_TRUE(j1.Wait());
  EXPECT_THAT(j1.rows, ElementsAre(SqlValues{int64_t{5}}));
  ASSERT_TRUE(unkeyed.Wait());
  // 7 reads, 4 statements.
  EXPECT_EQ(io_->stats().statements, 4u);
  EXPECT_EQ(io_->stats().reads, 7u);
}

TEST_F(AsyncIoTest, WaitingIdenticalReadsShareOneStatement) {
  Make(1);
  Outcome busy, a1, b, a2, a_other_params, a3;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(Query(&a1, "PAGE ?", {int64_t{1}}));
  io_->Submit(Query(&b, "OTHER ?", {int64_t{1}}));
  io_->Submit(Query(&a2, "PAGE ?", {int64_t{1}}));
  io_->Submit(Query(&a_other_params, "PAGE ?", {int64_t{2}}));
  io_->Submit(Query(&a3, "PAGE ?", {int64_t{1}}));
  holding.conn->Answer(absl::OkStatus(), {});

  // The first waiting read goes with the others of its very statement.
  Sent shared = server_.WaitForSent(1);
  EXPECT_EQ(shared.sql, "PAGE ?");
  EXPECT_EQ(shared.params, SqlValues{int64_t{1}});
  shared.conn->Answer(absl::OkStatus(), {{int64_t{10}}, {int64_t{11}}});
  for (Outcome* o : {&a1, &a2, &a3}) {
    ASSERT_TRUE(o->Wait());
    EXPECT_TRUE(o->status.ok()) << o->status;
    EXPECT_EQ(o->done_calls, 1);
    EXPECT_THAT(o->rows, ElementsAre(SqlValues{int64_t{10}},
                                     SqlValues{int64_t{11}}));
  }
  // Other statements, or other parameters, are their own statements.
  Sent other = server_.WaitForSent(2);
  EXPECT_EQ(other.sql, "OTHER ?");
  other.conn->Answer(absl::OkStatus(), {});
  Sent params = server_.WaitForSent(3);
  EXPECT_EQ(params.params, SqlValues{int64_t{2}});
  params.conn->Answer(absl::OkStatus(), {{int64_t{20}}});
  ASSERT_TRUE(a_other_params.Wait());
  EXPECT_THAT(a_other_params.rows, ElementsAre(SqlValues{int64_t{20}}));
  ASSERT_TRUE(b.Wait());
  EXPECT_EQ(io_->stats().statements, 4u);
  EXPECT_EQ(io_->stats().reads, 6u);
}

TEST_F(AsyncIoTest, OneSharingReadsRowErrorIsItsOwn) {
  Make(1);
  Outcome busy, good, bad;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(Query(&good, "PAGE"));
  auto failing = Query(&bad, "PAGE");
  failing->on_row = [](const SqlRow&) {
    return absl::DataLossError("a stored row is corrupt");
  };
  io_->Submit(std::move(failing));
  holding.conn->Answer(absl::OkStatus(), {});
  Sent shared = server_.WaitForSent(1);
  shared.conn->Answer(absl::OkStatus(), {{int64_t{1}}, {int64_t{2}}});
  ASSERT_TRUE(good.Wait());
  ASSERT_TRUE(bad.Wait());
  EXPECT_TRUE(good.status.ok()) << good.status;
  EXPECT_EQ(good.rows.size(), 2u);
  EXPECT_EQ(bad.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(server_.sent_count(), 2u);
}

// A read that shares its row work: counts its row callbacks and adoptions.
struct SharingOutcome : Outcome {
  int on_row_calls = 0;
  const void* adopted_from = nullptr;
};

const char kPageKind = 0;
const char kOtherKind = 0;

std::unique_ptr<AsyncQuery> SharingRead(
    SharingOutcome* out, const void* kind, std::string key,
    absl::Time deadline = absl::InfiniteFuture()) {
  auto q = Query(out, "PAGE", {}, deadline);
  q->on_row = [out](const SqlRow& row) {
    ++out->on_row_calls;
    out->rows.push_back({row.Value(0)});
    return absl::OkStatus();
  };
  q->share.kind = kind;
  q->share.key = std::move(key);
  q->share.outcome = out;
  q->share.adopt = [out](const void* leader) {
    const auto* l = static_cast<const SharingOutcome*>(leader);
    out->adopted_from = l;
    out->rows = l->rows;
    return absl::OkStatus();
  };
  return q;
}

TEST_F(AsyncIoTest, SharingReadsOfOneKindAndKeyBuildTheirOutcomeOnce) {
  Make(1);
  Outcome busy, plain;
  SharingOutcome first, same, other_key, other_kind;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(SharingRead(&first, &kPageKind, "w"));
  io_->Submit(SharingRead(&same, &kPageKind, "w"));
  io_->Submit(SharingRead(&other_key, &kPageKind, "v"));
  io_->Submit(SharingRead(&other_kind, &kOtherKind, "w"));
  io_->Submit(Query(&plain, "PAGE"));
  holding.conn->Answer(absl::OkStatus(), {});
  Sent shared = server_.WaitForSent(1);
  shared.conn->Answer(absl::OkStatus(), {{int64_t{1}}, {int64_t{2}}});
  for (Outcome* o :
       std::vector<Outcome*>{&first, &same, &other_key, &other_kind, &plain}) {
    ASSERT_TRUE(o->Wait());
    EXPECT_TRUE(o->status.ok()) << o->status;
    EXPECT_EQ(o->done_calls, 1);
    EXPECT_THAT(o->rows,
                ElementsAre(SqlValues{int64_t{1}}, SqlValues{int64_t{2}}));
  }
  // One statement for all five; the second read of kind and key copied the
  // first's outcome instead of reading the rows.
  EXPECT_EQ(server_.sent_count(), 2u);
  EXPECT_EQ(first.on_row_calls, 2);
  EXPECT_EQ(first.adopted_from, nullptr);
  EXPECT_EQ(same.on_row_calls, 0);
  EXPECT_EQ(same.adopted_from, &first);
  EXPECT_EQ(other_key.on_row_calls, 2);
  EXPECT_EQ(other_kind.on_row_calls, 2);
  EXPECT_EQ(other_key.adopted_from, nullptr);
  EXPECT_EQ(other_kind.adopted_from, nullptr);
}

TEST_F(AsyncIoTest, ASharedOutcomesErrorIsEveryCopysAndAnEarlyAnswerLeadsNone) {
  Make(1);
  Outcome busy;
  SharingOutcome hasty, failing, copy, after;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  // The first read of the kind is answered early (its deadline): the next
  // one builds the outcome.
  io_->Submit(SharingRead(&hasty, &kPageKind, "w",
                          absl::Now() + absl::Milliseconds(100)));
  auto bad = SharingRead(&failing, &kPageKind, "w");
  bad->on_row = [&failing](const SqlRow&) {
    ++failing.on_row_calls;
    return absl::DataLossError("a stored row is corrupt");
  };
  io_->Submit(std::move(bad));
  io_->Submit(SharingRead(&copy, &kPageKind, "w"));
  holding.conn->Answer(absl::OkStatus(), {});
  Sent shared = server_.WaitForSent(1);
  ASSERT_TRUE(hasty.Wait());
  EXPECT_EQ(hasty.status.code(), absl::StatusCode::kDeadlineExceeded);
  shared.conn->Answer(absl::OkStatus(), {{int64_t{1}}, {int64_t{2}}});
  ASSERT_TRUE(failing.Wait());
  ASSERT_TRUE(copy.Wait());
  EXPECT_EQ(failing.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(failing.on_row_calls, 1);  // stopped at its first error
  EXPECT_EQ(copy.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(copy.on_row_calls, 0);
  EXPECT_EQ(copy.adopted_from, nullptr);  // an error is not adopted
  EXPECT_EQ(hasty.on_row_calls, 0);
  // A later read of the same kind reads its own statement's rows.
  io_->Submit(SharingRead(&after, &kPageKind, "w"));
  Sent alone = server_.WaitForSent(2);
  alone.conn->Answer(absl::OkStatus(), {{int64_t{3}}});
  ASSERT_TRUE(after.Wait());
  EXPECT_TRUE(after.status.ok()) << after.status;
  EXPECT_THAT(after.rows, ElementsAre(SqlValues{int64_t{3}}));
}

TEST_F(AsyncIoTest, OutcomesReportedOnCompletionThreadsFreeTheIoThread) {
  AsyncIo::Options options;
  options.completion_threads = 1;
  Make(2, absl::Seconds(30), options);
  Outcome slow, next;
  absl::Notification release, reporting;
  auto held = Query(&slow, "SLOW");
  held->done = [&](absl::Status s) {
    reporting.Notify();
    release.WaitForNotification();  // a done that takes its time
    slow.status = std::move(s);
    slow.finished.Notify();
  };
  io_->Submit(std::move(held));
  Sent first = server_.WaitForSent(0);
  first.conn->Answer(absl::OkStatus(), {});
  ASSERT_TRUE(reporting.WaitForNotificationWithTimeout(absl::Seconds(5)));
  // While the one completion thread is held, the I/O thread still reads
  // the next answer (its rows arrive; its report waits its turn).
  io_->Submit(Query(&next, "NEXT"));
  Sent second = server_.WaitForSent(1);
  second.conn->Answer(absl::OkStatus(), {{int64_t{5}}});
  EXPECT_TRUE(WaitUntil([&] { return second.conn->receives > 0; }));
  EXPECT_TRUE(WaitUntil([&] {
    const auto counts = pool_->counts();
    return counts.idle == counts.open;  // its connection is back
  }));
  EXPECT_FALSE(next.finished.HasBeenNotified());
  release.Notify();
  ASSERT_TRUE(slow.Wait());
  ASSERT_TRUE(next.Wait());
  EXPECT_THAT(next.rows, ElementsAre(SqlValues{int64_t{5}}));
}

TEST_F(AsyncIoTest, BatchesHoldAtMostMaxBatchReads) {
  AsyncIo::Options options;
  options.max_batch = 2;
  Make(1, absl::Seconds(30), options);
  Outcome busy, a, b, c;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(KeyRead(&a, &kByName, "a"));
  io_->Submit(KeyRead(&b, &kByName, "b"));
  io_->Submit(KeyRead(&c, &kByName, "c"));
  holding.conn->Answer(absl::OkStatus(), {});
  Sent two = server_.WaitForSent(1);
  EXPECT_EQ(two.params, SqlValues{std::string("{\"a\",\"b\"}")});
  two.conn->Answer(absl::OkStatus(), {});
  Sent one = server_.WaitForSent(2);
  EXPECT_EQ(one.sql, kByName.sql);
  EXPECT_EQ(one.params, SqlValues{std::string("c")});
  one.conn->Answer(absl::OkStatus(), {});
  for (Outcome* o : {&a, &b, &c}) ASSERT_TRUE(o->Wait());
}

TEST_F(AsyncIoTest, ABatchRefusedAsAStatementIsRetriedReadByRead) {
  Make(1);
  Outcome busy, good, bad;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(KeyRead(&good, &kByName, "good"));
  io_->Submit(KeyRead(&bad, &kByName, "\xff"));
  holding.conn->Answer(absl::OkStatus(), {});
  Sent batch = server_.WaitForSent(1);
  EXPECT_EQ(batch.sql, kByName.batch_sql);
  batch.conn->Answer(absl::InternalError("invalid byte sequence [22021]"), {});
  // Each alone, first in line, in their order.
  Sent first = server_.WaitForSent(2);
  EXPECT_EQ(first.sql, kByName.sql);
  EXPECT_EQ(first.params, SqlValues{std::string("good")});
  first.conn->Answer(absl::OkStatus(), {{int64_t{1}}});
  Sent second = server_.WaitForSent(3);
  EXPECT_EQ(second.params, SqlValues{std::string("\xff")});
  second.conn->Answer(absl::InternalError("invalid byte sequence [22021]"), {});
  ASSERT_TRUE(good.Wait());
  ASSERT_TRUE(bad.Wait());
  EXPECT_TRUE(good.status.ok()) << good.status;
  EXPECT_THAT(good.rows, ElementsAre(SqlValues{int64_t{1}}));
  EXPECT_EQ(bad.status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(good.done_calls + bad.done_calls, 2);
}

TEST_F(AsyncIoTest, ABatchThatLostItsConnectionFailsEveryRead) {
  Make(1);
  Outcome busy, a, b;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(KeyRead(&a, &kByName, "a"));
  io_->Submit(KeyRead(&b, &kByName, "b"));
  holding.conn->Answer(absl::OkStatus(), {});
  Sent batch = server_.WaitForSent(1);
  batch.conn->Answer(absl::UnavailableError("server gone"), {});
  ASSERT_TRUE(a.Wait());
  ASSERT_TRUE(b.Wait());
  EXPECT_EQ(a.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(b.status.code(), absl::StatusCode::kUnavailable);
  // Not retried: the next statement sent is the next read's.
  Outcome next;
  io_->Submit(Query(&next, "NEXT"));
  Sent after = server_.WaitForSent(2);
  EXPECT_EQ(after.sql, "NEXT");
  after.conn->Answer(absl::OkStatus(), {});
  ASSERT_TRUE(next.Wait());
}

TEST_F(AsyncIoTest, ARowCallbackErrorIsThatReadsOutcomeOnly) {
  Make(1);
  Outcome busy, picky, plain;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  auto q = KeyRead(&picky, &kByName, "a");
  q->on_row = [](const SqlRow&) { return absl::DataLossError("bad row"); };
  io_->Submit(std::move(q));
  io_->Submit(KeyRead(&plain, &kByName, "a"));
  holding.conn->Answer(absl::OkStatus(), {});
  Sent batch = server_.WaitForSent(1);
  batch.conn->Answer(absl::OkStatus(), {{std::string("a"), int64_t{1}},
                                        {std::string("a"), int64_t{2}}});
  ASSERT_TRUE(picky.Wait());
  ASSERT_TRUE(plain.Wait());
  EXPECT_EQ(picky.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(plain.status.ok());
  EXPECT_THAT(plain.rows,
              ElementsAre(SqlValues{int64_t{1}}, SqlValues{int64_t{2}}));
}

TEST_F(AsyncIoTest, AReadPastItsDeadlineIsAnsweredAndItsStatementCancelled) {
  AsyncIo::Options options;
  options.cancel_grace = absl::Milliseconds(200);
  Make(1, absl::Seconds(30), options);
  const absl::Time start = absl::Now();
  Outcome slow;
  io_->Submit(Query(&slow, "SLOW", {}, start + absl::Milliseconds(150)));
  Sent sent = server_.WaitForSent(0);
  // Answered although the server never answers (the wait fails after 5 s).
  ASSERT_TRUE(slow.Wait());
  EXPECT_EQ(slow.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  // Nobody waits for the statement any more: the server is asked to cancel.
  EXPECT_TRUE(WaitUntil([&] { return sent.conn->cancels > 0; }));
  EXPECT_EQ(sent.conn->cancels, 1);
  // The server never answers: after the grace the connection is closed and
  // back in the pool, so the next read is sent.
  Outcome next;
  io_->Submit(Query(&next, "NEXT"));
  Sent again = server_.WaitForSent(1);
  EXPECT_EQ(again.sql, "NEXT");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(350));
  again.conn->Answer(absl::OkStatus(), {});
  ASSERT_TRUE(next.Wait());
  EXPECT_TRUE(next.status.ok()) << next.status;
  EXPECT_EQ(slow.done_calls, 1);
}

TEST_F(AsyncIoTest, ACancelledStatementAnsweredInTimeKeepsItsConnection) {
  Make(1);
  Outcome slow;
  io_->Submit(Query(&slow, "SLOW", {}, absl::Now() + absl::Milliseconds(50)));
  Sent sent = server_.WaitForSent(0);
  ASSERT_TRUE(slow.Wait());
  ASSERT_TRUE(WaitUntil([&] { return sent.conn->cancels > 0; }));
  ASSERT_EQ(sent.conn->cancels, 1);
  sent.conn->Answer(absl::DeadlineExceededError("canceling statement"), {});
  Outcome next;
  io_->Submit(Query(&next, "NEXT"));
  Sent again = server_.WaitForSent(1);
  EXPECT_EQ(again.conn, sent.conn);
  EXPECT_FALSE(sent.conn->closed_);
  again.conn->Answer(absl::OkStatus(), {});
  ASSERT_TRUE(next.Wait());
  EXPECT_EQ(slow.status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(AsyncIoTest, OneReadsDeadlineDoesNotStopTheOthersInItsBatch) {
  Make(1);
  Outcome busy, hasty, patient;
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(
      KeyRead(&hasty, &kByName, "a", absl::Now() + absl::Milliseconds(100)));
  io_->Submit(KeyRead(&patient, &kByName, "b"));
  holding.conn->Answer(absl::OkStatus(), {});
  Sent batch = server_.WaitForSent(1);
  ASSERT_TRUE(hasty.Wait());
  EXPECT_EQ(hasty.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(batch.conn->cancels, 0);  // `patient` still waits for it
  batch.conn->Answer(absl::OkStatus(), {{std::string("a"), int64_t{1}},
                                        {std::string("b"), int64_t{2}}});
  ASSERT_TRUE(patient.Wait());
  EXPECT_THAT(patient.rows, ElementsAre(SqlValues{int64_t{2}}));
  EXPECT_TRUE(hasty.rows.empty());
  EXPECT_EQ(hasty.done_calls, 1);
}

TEST_F(AsyncIoTest, WaitingReadsFailAtTheirDeadlineOrThePoolTimeout) {
  const absl::Duration pool_timeout = absl::Seconds(2);
  Make(1, pool_timeout);
  Outcome busy, hasty, patient;
  const absl::Time start = absl::Now();
  io_->Submit(Query(&busy, "BUSY"));
  Sent holding = server_.WaitForSent(0);
  io_->Submit(Query(&hasty, "HASTY", {}, start + absl::Milliseconds(100)));
  io_->Submit(Query(&patient, "PATIENT"));
  ASSERT_TRUE(hasty.Wait());
  EXPECT_EQ(hasty.status.code(), absl::StatusCode::kDeadlineExceeded);
  // At its own deadline, not at the pool timeout with the others.
  EXPECT_FALSE(patient.finished.HasBeenNotified());
  ASSERT_TRUE(patient.Wait());
  EXPECT_EQ(patient.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(patient.status.message(), HasSubstr("connection pool exhausted"));
  EXPECT_GE(absl::Now() - start, pool_timeout);
  holding.conn->Answer(absl::OkStatus(), {});
  ASSERT_TRUE(busy.Wait());
  EXPECT_EQ(server_.sent_count(), 1u);
}

TEST_F(AsyncIoTest, ADeadlineAlreadyPastFailsBeforeReturning) {
  Make(1);
  Outcome late;
  io_->Submit(Query(&late, "LATE", {}, absl::Now() - absl::Seconds(1)));
  EXPECT_TRUE(late.finished.HasBeenNotified());
  EXPECT_EQ(late.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server_.sent_count(), 0u);
}

TEST_F(AsyncIoTest, ALostConnectionFailsItsRead) {
  Make(1);
  Outcome lost;
  io_->Submit(Query(&lost, "Q"));
  Sent sent = server_.WaitForSent(0);
  sent.conn->Hangup();
  ASSERT_TRUE(lost.Wait());
  EXPECT_EQ(lost.status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(AsyncIoTest, FailuresToSendOrConnectAreReported) {
  Make(1);
  server_.fail_send = true;
  Outcome unsent;
  io_->Submit(Query(&unsent, "Q"));
  ASSERT_TRUE(unsent.Wait());
  EXPECT_EQ(unsent.status.code(), absl::StatusCode::kInternal);
  server_.fail_send = false;
  // The connection went back to the pool.
  Outcome sent_ok;
  io_->Submit(Query(&sent_ok, "Q"));
  server_.WaitForSent(0).conn->Answer(absl::OkStatus(), {});
  ASSERT_TRUE(sent_ok.Wait());
  EXPECT_TRUE(sent_ok.status.ok());
}

TEST_F(AsyncIoTest, AConnectionThatCannotOpenFailsTheRead) {
  Make(1);
  server_.refuse = true;
  Outcome first;
  io_->Submit(Query(&first, "Q"));
  EXPECT_TRUE(first.finished.HasBeenNotified());  // opened on this thread
  EXPECT_EQ(first.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(pool_->counts().open, 0);
  // The slot is free again for the next read.
  server_.refuse = false;
  Outcome second;
  io_->Submit(Query(&second, "Q"));
  server_.WaitForSent(0).conn->Answer(absl::OkStatus(), {});
  ASSERT_TRUE(second.Wait());
  EXPECT_TRUE(second.status.ok()) << second.status;
}

TEST_F(AsyncIoTest, StopFailsReadsInFlightAndWaiting) {
  Make(1);
  Outcome running, waiting;
  io_->Submit(Query(&running, "RUNNING"));
  Sent sent = server_.WaitForSent(0);
  io_->Submit(Query(&waiting, "WAITING"));
  io_->Stop();
  // Failed before Stop returns.
  ASSERT_TRUE(running.finished.HasBeenNotified());
  ASSERT_TRUE(waiting.finished.HasBeenNotified());
  EXPECT_EQ(running.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(running.status.message(), HasSubstr("closing"));
  EXPECT_EQ(waiting.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(sent.conn->closed_);  // a statement was in flight on it
  EXPECT_EQ(pool_->counts().idle, 1);
  // After Stop, reads fail at once.
  Outcome after;
  io_->Submit(Query(&after, "AFTER"));
  EXPECT_TRUE(after.finished.HasBeenNotified());
  EXPECT_EQ(after.status.code(), absl::StatusCode::kUnavailable);
}

TEST_F(AsyncIoTest, ManyReadsFromManyThreadsEachFinishOnce) {
  Make(3);
  // A server thread answering every statement with its first parameter.
  std::atomic<bool> stop{false};
  std::thread answerer([&] {
    for (size_t i = 0; !stop; ++i) {
      Sent s = server_.WaitForSent(i);
      if (s.conn == nullptr) break;
      s.conn->Answer(absl::OkStatus(), {{s.params.at(0)}});
    }
  });
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::unique_ptr<Outcome>> outs;
  for (int i = 0; i < kThreads * kEach; ++i) {
    outs.push_back(std::make_unique<Outcome>());
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int n = t * kEach + i;
        io_->Submit(Query(outs[n].get(), "Q", {int64_t{n}}));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int n = 0; n < kThreads * kEach; ++n) {
    ASSERT_TRUE(outs[n]->Wait()) << n;
    EXPECT_TRUE(outs[n]->status.ok()) << outs[n]->status;
    EXPECT_THAT(outs[n]->rows, ElementsAre(SqlValues{int64_t{n}}));
    EXPECT_EQ(outs[n]->done_calls, 1);
  }
  stop = true;
  server_.Record({});  // unblocks the answerer
  answerer.join();
}

}  // namespace
}  // namespace cstopa::common::pg
