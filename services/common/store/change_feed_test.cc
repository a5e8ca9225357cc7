// ChangeFeed on both back ends: commit order with concurrent writers (and
// two "replicas" on one database), resume tokens, catch-up past the memory
// buffer, retention, slow consumers, cancellation and shutdown.
#include "services/common/store/change_feed.h"

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::common {
namespace {

constexpr char kSqlite[] =
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, "
    "name TEXT NOT NULL, data BLOB NOT NULL, commit_time INTEGER NOT NULL)";
constexpr char kPostgres[] =
    "CREATE TABLE changes (seq BIGINT PRIMARY KEY, kind BIGINT NOT NULL, "
    "name TEXT NOT NULL, data BYTEA NOT NULL, commit_time BIGINT NOT NULL)";

// Records what the feed hands it. With `auto_ready`, asks for the next
// change as soon as it has one (like a client that keeps up).
class FakeWatcher : public ChangeFeed::Watcher {
 public:
  FakeWatcher(ChangeFeed* feed, bool auto_ready)
      : feed_(feed), auto_ready_(auto_ready) {}

  // Like a server stream, a watcher leaves the feed before it goes away.
  ~FakeWatcher() override {
    bool leave;
    {
      absl::MutexLock lock(&mu_);
      leave = id_ != 0 && !ended_ && !cancelled_;
    }
    if (leave) Cancel();
  }

  absl::Status Start(absl::string_view token, ChangeFilter filter = {}) {
    auto id = feed_->Watch(token, this, std::move(filter));
    if (!id.ok()) return id.status();
    absl::MutexLock lock(&mu_);
    id_ = *id;
    return absl::OkStatus();
  }

  void OnChange(const Change& change, const std::string& token) override {
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](uint64_t* i) { return *i != 0; }, &id_));
      EXPECT_FALSE(outstanding_) << "OnChange before Ready";
      EXPECT_FALSE(ended_) << "OnChange after OnEnd";
      EXPECT_FALSE(cancelled_) << "OnChange after Cancel returned";
      outstanding_ = true;
      if (change.kind != ChangeKind::kCheckpoint) changes_.push_back(change);
      last_token_ = token;
      ++messages_;
      id = id_;
      if (!auto_ready_) return;
      outstanding_ = false;
    }
    feed_->Ready(id);
  }

  void OnEnd(const absl::Status& status) override {
    absl::MutexLock lock(&mu_);
    EXPECT_FALSE(ended_);
    EXPECT_FALSE(outstanding_) << "OnEnd with a message outstanding";
    ended_ = true;
    end_status_ = status;
  }

  // The client took the message it was handed.
  void Ack() {
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      outstanding_ = false;
      id = id_;
    }
    feed_->Ready(id);
  }

  void Cancel() {
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      id = id_;
    }
    feed_->Cancel(id);
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  // Waits (bounded) until `n` changes arrived.
  bool WaitForChanges(size_t n, absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    struct Args {
      FakeWatcher* w;
      size_t n;
    } args{this, n};
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return a->w->changes_.size() >= a->n;
            },
            &args),
        timeout);
  }
  bool WaitForMessages(int n, absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    struct Args {
      FakeWatcher* w;
      int n;
    } args{this, n};
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return a->w->messages_ >= a->n;
            },
            &args),
        timeout);
  }
  bool WaitForEnd(absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&ended_), timeout);
  }

  std::vector<Change> changes() {
    absl::MutexLock lock(&mu_);
    return changes_;
  }
  std::string last_token() {
    absl::MutexLock lock(&mu_);
    return last_token_;
  }
  absl::Status end_status() {
    absl::MutexLock lock(&mu_);
    return end_status_;
  }
  bool ended() {
    absl::MutexLock lock(&mu_);
    return ended_;
  }
  int messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  ChangeFeed* feed_;
  const bool auto_ready_;
  absl::Mutex mu_;
  uint64_t id_ ABSL_GUARDED_BY(mu_) = 0;
  bool outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  int messages_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
  std::vector<Change> changes_ ABSL_GUARDED_BY(mu_);
  std::string last_token_ ABSL_GUARDED_BY(mu_);
};

ChangeFilter Filter(std::vector<std::string> collections, std::string name) {
  ChangeFilter f;
  f.collections = std::move(collections);
  f.name = std::move(name);
  return f;
}

// Seqs 1..n each exactly once, in order.
void ExpectDense(const std::vector<Change>& changes, int64_t first,
                 int64_t count) {
  ASSERT_EQ(static_cast<int64_t>(changes.size()), count);
  for (int64_t i = 0; i < count; ++i)
    ASSERT_EQ(changes[i].seq, first + i) << "at position " << i;
}

class ChangeFeedTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::random_device rd;
    schema_.service =
        absl::StrCat("feed_t", rd() % 100000000, "_", rd() % 1000);
    schema_.migrations = {{1, "changes", kSqlite, kPostgres}};
    if (GetParam() == "postgresql") {
      CSTOPA_TEST_POSTGRES_URL_OR_SKIP(url_);
    } else {
      char tmpl[] = "/tmp/change_feed_test_XXXXXX";
      ASSERT_NE(mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
      url_ = absl::StrCat("sqlite://", dir_, "/feed.db");
    }
    db_ = Open();
    ASSERT_NE(db_, nullptr);
  }

  void TearDown() override {
    feeds_.clear();
    if (db_ != nullptr && GetParam() == "postgresql") {
      (void)db_->Write([&](SqlTransaction& tx) {
        return tx
            .Execute(absl::StrCat("DROP SCHEMA ", schema_.service, " CASCADE"),
                     {})
            .status();
      });
    }
    extra_dbs_.clear();
    db_.reset();
    if (!dir_.empty()) {
      std::remove((dir_ + "/feed.db").c_str());
      std::remove((dir_ + "/feed.db-wal").c_str());
      std::remove((dir_ + "/feed.db-shm").c_str());
      std::remove(dir_.c_str());
    }
  }

  std::unique_ptr<Database> Open() {
    auto db = OpenDatabase(url_, schema_);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return nullptr;
    return *std::move(db);
  }

  static ChangeFeedOptions Options() {
    ChangeFeedOptions o;
    o.table = "changes";
    o.lock_key = 4242;
    o.token_scope = "test";
    o.poll_interval = absl::Milliseconds(20);
    return o;
  }

  ChangeFeed* NewFeed(ChangeFeedOptions o = Options(), Database* db = nullptr) {
    feeds_.push_back(
        std::make_unique<ChangeFeed>(db ? db : db_.get(), &tokens_, o));
    return feeds_.back().get();
  }

  // One write transaction logging one change.
  absl::Status Write(Database* db, ChangeFeed* feed, const std::string& name,
                     int64_t time = 0) {
    if (time == 0) time = absl::ToUnixMicros(absl::Now());
    absl::Status s = db->Write([&](SqlTransaction& tx) {
      return feed->Append(tx, ChangeKind::kUpdated, name, "data:" + name, time);
    });
    feed->Notify();
    return s;
  }

  std::string url_, dir_;
  SchemaSpec schema_;
  PageTokenCodec tokens_{"change-feed-test-secret"};
  std::unique_ptr<Database> db_;
  std::vector<std::unique_ptr<Database>> extra_dbs_;
  std::vector<std::unique_ptr<ChangeFeed>> feeds_;  // destroyed first
};

TEST_P(ChangeFeedTest, ConcurrentWritersAreSeenInCommitOrderWithoutGaps) {
  ChangeFeed* feed = NewFeed();
  FakeWatcher w(feed, /*auto_ready=*/true);
  ASSERT_TRUE(w.Start("").ok());
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        ASSERT_TRUE(Write(db_.get(), feed, absl::StrCat("r/", t, "-", i)).ok());
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(w.WaitForChanges(kThreads * kEach));
  ExpectDense(w.changes(), 1, kThreads * kEach);
  EXPECT_EQ(w.changes()[0].data, "data:" + w.changes()[0].name);
}

TEST_P(ChangeFeedTest, AWatcherOnOneReplicaSeesWritesMadeThroughAnother) {
  // Two processes' worth of state: separate connections (pools) and feeds
  // on one database; writers on both, the watcher on A.
  extra_dbs_.push_back(Open());
  Database* db_b = extra_dbs_.back().get();
  ASSERT_NE(db_b, nullptr);
  ChangeFeed* a = NewFeed();
  ChangeFeed* b = NewFeed(Options(), db_b);
  FakeWatcher w(a, /*auto_ready=*/true);
  ASSERT_TRUE(w.Start("").ok());
  constexpr int kEach = 60;
  std::thread ta([&] {
    for (int i = 0; i < kEach; ++i)
      ASSERT_TRUE(Write(db_.get(), a, absl::StrCat("a/", i)).ok());
  });
  std::thread tb([&] {
    for (int i = 0; i < kEach; ++i)
      ASSERT_TRUE(Write(db_b, b, absl::StrCat("b/", i)).ok());
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(w.WaitForChanges(2 * kEach));
  ExpectDense(w.changes(), 1, 2 * kEach);
  int from_b = 0;
  for (const Change& c : w.changes()) from_b += c.name[0] == 'b';
  EXPECT_EQ(from_b, kEach);
}

TEST_P(ChangeFeedTest, ResumingWithATokenContinuesAfterItEvenAfterARestart) {
  ChangeFeed* feed = NewFeed();
  FakeWatcher first(feed, true);
  ASSERT_TRUE(first.Start("").ok());
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(Write(db_.get(), feed, absl::StrCat("x/", i)).ok());
  ASSERT_TRUE(first.WaitForChanges(5));
  std::string token = first.last_token();
  first.Cancel();
  // Writes while nobody watches, then a "restarted" feed (new object).
  for (int i = 5; i < 9; ++i)
    ASSERT_TRUE(Write(db_.get(), feed, absl::StrCat("x/", i)).ok());
  feeds_.clear();
  ChangeFeed* again = NewFeed();
  FakeWatcher second(again, true);
  ASSERT_TRUE(second.Start(token).ok());
  ASSERT_TRUE(Write(db_.get(), again, "x/9").ok());
  ASSERT_TRUE(second.WaitForChanges(5));
  ExpectDense(second.changes(), 6, 5);
  EXPECT_EQ(second.changes().back().name, "x/9");
}

TEST_P(ChangeFeedTest, CatchUpReadsPagesPastTheMemoryBuffer) {
  ChangeFeedOptions o = Options();
  o.buffer_size = 4;
  o.page_size = 7;
  ChangeFeed* feed = NewFeed(o);
  for (int i = 0; i < 60; ++i)
    ASSERT_TRUE(Write(db_.get(), feed, absl::StrCat("c/", i)).ok());
  FakeWatcher w(feed, true);
  ASSERT_TRUE(w.Start(feed->TokenFor(0)).ok());
  ASSERT_TRUE(w.WaitForChanges(60));
  for (int i = 60; i < 70; ++i)
    ASSERT_TRUE(Write(db_.get(), feed, absl::StrCat("c/", i)).ok());
  ASSERT_TRUE(w.WaitForChanges(70));
  ExpectDense(w.changes(), 1, 70);
}

// A filtered watcher gets only the changes it asked for, from the memory
// buffer and from catch-up pages alike, and its tokens move past the rest.
TEST_P(ChangeFeedTest, FilteredWatchersGetOnlyTheirCollectionOrResource) {
  ChangeFeedOptions o = Options();
  o.buffer_size = 4;
  o.page_size = 5;
  ChangeFeed* feed = NewFeed(o);
  auto name = [](int i) {
    return i % 3 == 0 ? absl::StrCat("parliaments/p", i, "/delegations/d")
                      : absl::StrCat("persons/x", i % 2);
  };
  for (int i = 0; i < 30; ++i)
    ASSERT_TRUE(Write(db_.get(), feed, name(i)).ok());
  FakeWatcher delegations(feed, true), one(feed, true), both(feed, true);
  ASSERT_TRUE(
      delegations.Start(feed->TokenFor(0), Filter({"delegations"}, "")).ok());
  ASSERT_TRUE(one.Start(feed->TokenFor(0), Filter({}, "persons/x1")).ok());
  ASSERT_TRUE(
      both.Start(feed->TokenFor(0), Filter({"persons"}, "persons/x0")).ok());
  for (int i = 30; i < 36; ++i)  // these come from the memory buffer
    ASSERT_TRUE(Write(db_.get(), feed, name(i)).ok());
  auto expect = [&](FakeWatcher& w, auto wanted) {
    std::vector<int64_t> seqs;
    for (int i = 0; i < 36; ++i)
      if (wanted(name(i))) seqs.push_back(i + 1);
    ASSERT_TRUE(w.WaitForChanges(seqs.size()));
    std::vector<int64_t> got;
    for (const Change& c : w.changes()) got.push_back(c.seq);
    EXPECT_EQ(got, seqs);
  };
  expect(delegations, [](const std::string& n) {
    return absl::EndsWith(n, "/delegations/d");
  });
  expect(one, [](const std::string& n) { return n == "persons/x1"; });
  expect(both, [](const std::string& n) { return n == "persons/x0"; });
  // The last change the collection watcher got was seq 34 (i = 33); the
  // change after it is not its, and a new one is.
  ASSERT_TRUE(Write(db_.get(), feed, "persons/x9").ok());
  ASSERT_TRUE(Write(db_.get(), feed, name(36)).ok());
  ASSERT_TRUE(delegations.WaitForChanges(13));
  EXPECT_EQ(delegations.changes().back().seq, 38);
  EXPECT_EQ(delegations.changes().back().name, name(36));
}

TEST(ChangeFilterTest, CollectionsAreTheLastCollectionOfAName) {
  EXPECT_EQ(CollectionOf("persons/x"), "persons");
  EXPECT_EQ(CollectionOf("parliaments/p/delegations/d"), "delegations");
  EXPECT_EQ(CollectionOf("dashboard"), "");
  EXPECT_TRUE(ChangeFilter{}.Matches("anything/at-all"));
  ChangeFilter f = Filter({"roles", "bodies"}, "");
  EXPECT_TRUE(f.Matches("roles/r1"));
  EXPECT_FALSE(f.Matches("persons/r1"));
  EXPECT_FALSE(f.Matches("roles"));
}

TEST_P(ChangeFeedTest, TokensOlderThanTheRetentionAreOutOfRange) {
  ChangeFeed* feed = NewFeed();
  int64_t old = absl::ToUnixMicros(absl::Now() - absl::Hours(24 * 30));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(Write(db_.get(), feed, absl::StrCat("o/", i), old).ok());
  ASSERT_TRUE(Write(db_.get(), feed, "new/5").ok());
  auto pruned = feed->Prune(absl::Now());
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 5);

  FakeWatcher expired(feed, true);
  absl::Status s = expired.Start(feed->TokenFor(2));
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  auto info = GetErrorInfo(s);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "RESUME_TOKEN_EXPIRED");
  EXPECT_NE(s.message().find("List"), absl::string_view::npos) << s;

  // The token just before the oldest kept change still works.
  FakeWatcher ok(feed, true);
  ASSERT_TRUE(ok.Start(feed->TokenFor(5)).ok());
  ASSERT_TRUE(ok.WaitForChanges(1));
  EXPECT_EQ(ok.changes()[0].name, "new/5");

  // The newest change is kept however old, so seqs never restart.
  auto all_old = feed->Prune(absl::Now() + absl::Hours(24 * 365));
  ASSERT_TRUE(all_old.ok());
  EXPECT_EQ(*all_old, 0);
  ASSERT_TRUE(Write(db_.get(), feed, "new/6").ok());
  ASSERT_TRUE(ok.WaitForChanges(2));
  EXPECT_EQ(ok.changes()[1].seq, 7);
}

TEST_P(ChangeFeedTest, DamagedForeignAndFutureTokensAreRefused) {
  ChangeFeed* feed = NewFeed();
  ASSERT_TRUE(Write(db_.get(), feed, "t/1").ok());
  FakeWatcher w(feed, true);
  absl::Status s = w.Start("not-a-token");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(GetErrorInfo(s).has_value());
  EXPECT_EQ(GetErrorInfo(s)->reason(), "INVALID_RESUME_TOKEN");
  ASSERT_TRUE(GetBadRequest(s).has_value());
  EXPECT_EQ(GetBadRequest(s)->field_violations(0).field(), "resume_token");

  std::string good = feed->TokenFor(1);
  std::string altered = good;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(w.Start(altered).code(), absl::StatusCode::kInvalidArgument);

  // A page token (same secret, other purpose) is not a resume token.
  PageCursor cursor;
  cursor.last_values.push_back(int64_t{1});
  EXPECT_EQ(w.Start(tokens_.Encode(cursor, "events\n\n")).code(),
            absl::StatusCode::kInvalidArgument);

  // A position this store never reached (another database's history).
  EXPECT_EQ(w.Start(feed->TokenFor(99)).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(feed->watcher_count(), 0u);
}

TEST_P(ChangeFeedTest, ASlowWatcherIsEndedWithResourceExhaustedAndCanResume) {
  ChangeFeedOptions o = Options();
  o.max_lag = 5;
  ChangeFeed* feed = NewFeed(o);
  FakeWatcher slow(feed, /*auto_ready=*/false);
  ASSERT_TRUE(slow.Start("").ok());
  ASSERT_TRUE(slow.WaitForMessages(1));  // the first checkpoint
  std::string token = slow.last_token();
  // The client does not take its messages while 10 changes are written.
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(Write(db_.get(), feed, absl::StrCat("s/", i)).ok());
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (feed->head() < 10 && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(feed->head(), 10);
  slow.Ack();
  ASSERT_TRUE(slow.WaitForEnd());
  EXPECT_EQ(slow.end_status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(GetErrorInfo(slow.end_status()).has_value());
  EXPECT_EQ(GetErrorInfo(slow.end_status())->reason(), "WATCHER_TOO_SLOW");
  EXPECT_TRUE(slow.changes().empty());
  EXPECT_EQ(feed->watcher_count(), 0u);

  // Resuming with its last token loses nothing.
  FakeWatcher again(feed, true);
  ASSERT_TRUE(again.Start(token).ok());
  ASSERT_TRUE(again.WaitForChanges(10));
  ExpectDense(again.changes(), 1, 10);
}

TEST_P(ChangeFeedTest, CancelledWatchersLeaveNothingBehind) {
  ChangeFeed* feed = NewFeed();
  std::vector<std::unique_ptr<FakeWatcher>> watchers;
  for (int i = 0; i < 20; ++i) {
    watchers.push_back(std::make_unique<FakeWatcher>(feed, true));
    ASSERT_TRUE(watchers.back()->Start("").ok());
  }
  EXPECT_EQ(feed->watcher_count(), 20u);
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i)
      ASSERT_TRUE(Write(db_.get(), feed, absl::StrCat("w/", i)).ok());
  });
  // Cancel while changes are being delivered; FakeWatcher fails the test if
  // it gets a call after Cancel returned.
  for (auto& w : watchers) {
    w->Cancel();
    absl::SleepFor(absl::Milliseconds(1));
  }
  writer.join();
  EXPECT_EQ(feed->watcher_count(), 0u);
  // Destroying the watchers now is safe: the feed holds no reference.
  watchers.clear();
  ASSERT_TRUE(Write(db_.get(), feed, "after").ok());
  FakeWatcher probe(feed, true);
  ASSERT_TRUE(probe.Start(feed->TokenFor(40)).ok());
  ASSERT_TRUE(probe.WaitForChanges(1));
}

TEST_P(ChangeFeedTest, ShutdownEndsEveryWatcherAndRefusesNewOnes) {
  ChangeFeed* feed = NewFeed();
  FakeWatcher ready(feed, true), busy(feed, false);
  ASSERT_TRUE(ready.Start("").ok());
  ASSERT_TRUE(busy.Start("").ok());
  ASSERT_TRUE(ready.WaitForMessages(1));
  ASSERT_TRUE(busy.WaitForMessages(1));
  feed->Shutdown(absl::UnavailableError("draining"));
  ASSERT_TRUE(ready.WaitForEnd());
  EXPECT_EQ(ready.end_status().code(), absl::StatusCode::kUnavailable);
  // The busy one ends once its outstanding message is taken.
  EXPECT_FALSE(busy.ended());
  busy.Ack();
  ASSERT_TRUE(busy.WaitForEnd());
  EXPECT_EQ(busy.end_status().code(), absl::StatusCode::kUnavailable);
  FakeWatcher late(feed, true);
  EXPECT_EQ(late.Start("").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(feed->watcher_count(), 0u);
}

TEST_P(ChangeFeedTest, QuietStreamsGetCheckpoints) {
  ChangeFeedOptions o = Options();
  o.checkpoint_interval = absl::Milliseconds(50);
  ChangeFeed* feed = NewFeed(o);
  ASSERT_TRUE(Write(db_.get(), feed, "q/1").ok());
  FakeWatcher w(feed, true);
  ASSERT_TRUE(w.Start("").ok());
  ASSERT_TRUE(w.WaitForMessages(3));
  EXPECT_TRUE(w.changes().empty());
  // A checkpoint's token resumes after the last change before it.
  FakeWatcher from_checkpoint(feed, true);
  ASSERT_TRUE(from_checkpoint.Start(w.last_token()).ok());
  ASSERT_TRUE(Write(db_.get(), feed, "q/2").ok());
  ASSERT_TRUE(from_checkpoint.WaitForChanges(1));
  EXPECT_EQ(from_checkpoint.changes()[0].name, "q/2");
}

INSTANTIATE_TEST_SUITE_P(Backends, ChangeFeedTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::common
