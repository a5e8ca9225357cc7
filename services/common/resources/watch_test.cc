// ServeWatch on both back ends, without a server: through the blocking face
// (StreamBlocking), and through a fake stream that lets the test decide when
// each write completes and when the client cancels.
#include "services/common/resources/watch.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/struct.pb.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/api/blocking.h"
#include "services/common/base/errors.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::common {
namespace {

using google::protobuf::Struct;

constexpr char kSqlite[] =
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, "
    "name TEXT NOT NULL, data BLOB NOT NULL, commit_time INTEGER NOT NULL)";
constexpr char kPostgres[] =
    "CREATE TABLE changes (seq BIGINT PRIMARY KEY, kind BIGINT NOT NULL, "
    "name TEXT NOT NULL, data BYTEA NOT NULL, commit_time BIGINT NOT NULL)";

// A Watch request: ServeWatch reads `resume_token()`.
struct TestRequest {
  std::string token;
  const std::string& resume_token() const { return token; }
};

// The response: what the fill saw, as a Struct.
void Fill(const Change& change, const std::string& token, Struct* out) {
  auto& f = *out->mutable_fields();
  f["kind"].set_number_value(static_cast<int>(change.kind));
  f["seq"].set_number_value(static_cast<double>(change.seq));
  f["name"].set_string_value(change.name);
  f["token"].set_string_value(token);
}

int KindOf(const Struct& m) {
  return static_cast<int>(m.fields().at("kind").number_value());
}
int64_t SeqOf(const Struct& m) {
  return static_cast<int64_t>(m.fields().at("seq").number_value());
}
std::string NameOf(const Struct& m) {
  return m.fields().at("name").string_value();
}
std::string TokenOf(const Struct& m) {
  return m.fields().at("token").string_value();
}

// A handler with one Watch method.
class TestHandler {
 public:
  TestHandler(ChangeFeed* feed, Database* db) : feed_(feed), db_(db) {}
  void Watch(ServerStreamCall<TestRequest, Struct> call) {
    ServeWatch(feed_, db_, std::move(call), Fill);
  }

 private:
  ChangeFeed* feed_;
  Database* db_;
};

// A stream whose writes complete, and whose client cancels, when the test
// says so. Fails the test when the helper breaks the stream's contract: a
// second write while one is outstanding, a finish with a write outstanding,
// anything after the finish.
class FakeStream final : public ServerStreamState {
 public:
  const Caller& caller() const override { return caller_; }

  void Write(const google::protobuf::Message& message,
             absl::AnyInvocable<void(bool)> written) override {
    absl::MutexLock lock(&mu_);
    EXPECT_FALSE(written_) << "a second write while one is outstanding";
    EXPECT_FALSE(finished_) << "a write after Finish";
    Struct copy;
    copy.CopyFrom(message);
    messages_.push_back(std::move(copy));
    written_ = std::move(written);
  }

  void Finish(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    EXPECT_FALSE(finished_) << "Finish twice";
    EXPECT_FALSE(written_) << "Finish with a write outstanding";
    finished_ = true;
    status_ = std::move(status);
  }

  void SetOnCancel(absl::AnyInvocable<void()> on_cancel) override {
    {
      absl::MutexLock lock(&mu_);
      if (!cancelled_) {
        on_cancel_ = std::move(on_cancel);
        return;
      }
    }
    on_cancel();
  }

  // The client cancels (as gRPC's OnCancel: a write stays outstanding).
  void ClientCancel() {
    absl::AnyInvocable<void()> on_cancel;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      on_cancel = std::move(on_cancel_);
      on_cancel_ = nullptr;
    }
    if (on_cancel) on_cancel();
  }

  // The outstanding write completes with `ok`.
  void Complete(bool ok) {
    absl::AnyInvocable<void(bool)> written;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](FakeStream* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return static_cast<bool>(s->written_);
          },
          this));
      written = std::move(written_);
      written_ = nullptr;
    }
    written(ok);
  }

  // Waits (bounded) until `n` messages were written.
  bool WaitForMessages(size_t n, absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    struct Args {
      FakeStream* s;
      size_t n;
    } args{this, n};
    return mu_.AwaitWithTimeout(
        absl::Condition(
            +[](Args* a) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return a->s->messages_.size() >= a->n;
            },
            &args),
        timeout);
  }
  bool WaitForFinish(absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&finished_), timeout);
  }

  std::vector<Struct> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  bool finished() {
    absl::MutexLock lock(&mu_);
    return finished_;
  }
  absl::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  Caller caller_;
  absl::Mutex mu_;
  std::vector<Struct> messages_ ABSL_GUARDED_BY(mu_);
  absl::AnyInvocable<void(bool)> written_ ABSL_GUARDED_BY(mu_);
  absl::AnyInvocable<void()> on_cancel_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

class WatchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL server for tests";
    auto db = OpenTestDatabase(
        GetParam(), {"watch_test", {{1, "changes", kSqlite, kPostgres}}});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    feed_ = std::make_unique<ChangeFeed>(db_.get(), &tokens_, Options());
    handler_ = std::make_unique<TestHandler>(feed_.get(), db_.get());
  }

  virtual ChangeFeedOptions Options() {
    ChangeFeedOptions o;
    o.table = "changes";
    o.lock_key = 4243;
    o.token_scope = "watch-test";
    o.poll_interval = absl::Milliseconds(20);
    return o;
  }

  void Write(const std::string& name) {
    absl::Status s = db_->Write([&](SqlTransaction& tx) {
      return feed_->Append(tx, ChangeKind::kUpdated, name, "data",
                           absl::ToUnixMicros(absl::Now()));
    });
    ASSERT_TRUE(s.ok()) << s;
    feed_->Notify();
  }

  // Opens the stream on `stream` (a fake) from `token`.
  void Open(FakeStream* stream, const std::string& token) {
    request_.token = token;
    handler_->Watch(ServerStreamCall<TestRequest, Struct>(&request_, stream));
  }

  // Reads a blocking stream from `token`, handing each message to
  // `on_message` until it returns false; the status it ended with.
  absl::Status Read(const std::string& token,
                    absl::FunctionRef<bool(const Struct&)> on_message) {
    TestRequest req{token};
    return StreamBlocking(handler_.get(), &TestHandler::Watch, Caller(), req,
                          on_message);
  }

  // Waits (bounded) until the feed has `n` watchers.
  bool WaitForWatchers(size_t n) {
    for (int i = 0; i < 3000 && feed_->watcher_count() != n; ++i)
      absl::SleepFor(absl::Milliseconds(10));
    return feed_->watcher_count() == n;
  }

  PageTokenCodec tokens_{"watch-test-secret"};
  std::unique_ptr<Database> db_;
  std::unique_ptr<ChangeFeed> feed_;
  std::unique_ptr<TestHandler> handler_;
  TestRequest request_;
};

TEST_P(WatchTest, ACheckpointFirstThenEachChangeOnceInOrderWithTokens) {
  std::vector<Struct> got;
  absl::Status s = Read("", [&](const Struct& m) {
    got.push_back(m);
    if (got.size() == 1) {  // the stream is live: write while it waits
      Write("a/1");
      Write("a/2");
      Write("a/3");
    }
    return got.size() < 4;
  });
  // Cancelled by the client, with the last message outstanding.
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(KindOf(got[0]), static_cast<int>(ChangeKind::kCheckpoint));
  EXPECT_EQ(SeqOf(got[0]), 0);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(KindOf(got[i]), static_cast<int>(ChangeKind::kUpdated));
    EXPECT_EQ(SeqOf(got[i]), i);
    EXPECT_EQ(NameOf(got[i]), absl::StrCat("a/", i));
    EXPECT_EQ(TokenOf(got[i]), feed_->TokenFor(i));
  }
  EXPECT_EQ(feed_->watcher_count(), 0u);
}

TEST_P(WatchTest, ResumingWithATokenContinuesAfterIt) {
  for (int i = 1; i <= 5; ++i) Write(absl::StrCat("r/", i));
  std::vector<Struct> got;
  absl::Status s = Read(feed_->TokenFor(2), [&](const Struct& m) {
    got.push_back(m);
    return got.size() < 4;
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(KindOf(got[0]), static_cast<int>(ChangeKind::kCheckpoint));
  EXPECT_EQ(SeqOf(got[0]), 2);
  EXPECT_EQ(NameOf(got[1]), "r/3");
  EXPECT_EQ(NameOf(got[3]), "r/5");

  // A checkpoint's token resumes after the last change before it.
  std::string checkpoint;
  s = Read("", [&](const Struct& m) {
    checkpoint = TokenOf(m);
    return false;
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  Write("r/6");
  got.clear();
  s = Read(checkpoint, [&](const Struct& m) {
    got.push_back(m);
    return got.size() < 2;
  });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(NameOf(got[1]), "r/6");
  EXPECT_EQ(SeqOf(got[1]), 6);
}

TEST_P(WatchTest, BadTokensEndTheStreamWithTheFeedsError) {
  int messages = 0;
  absl::Status s = Read("bm90LWEtdG9rZW4", [&](const Struct&) {
    ++messages;
    return true;
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(GetErrorInfo(s)->reason(), "INVALID_RESUME_TOKEN");
  EXPECT_EQ(messages, 0);
  // A token after the newest change: out of range.
  s = Read(feed_->TokenFor(7), [&](const Struct&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_EQ(feed_->watcher_count(), 0u);
}

TEST_P(WatchTest, OneMessageInFlightAndTheNextOnlyAfterItWasWritten) {
  for (int i = 1; i <= 5; ++i) Write(absl::StrCat("f/", i));
  FakeStream stream;
  Open(&stream, feed_->TokenFor(0));
  ASSERT_TRUE(stream.WaitForMessages(1));
  for (size_t n = 1; n <= 5; ++n) {
    // Five changes wait; none is written before the last write completed.
    absl::SleepFor(absl::Milliseconds(100));
    ASSERT_EQ(stream.messages().size(), n);
    stream.Complete(true);
    ASSERT_TRUE(stream.WaitForMessages(n + 1));
  }
  std::vector<Struct> got = stream.messages();
  ASSERT_EQ(got.size(), 6u);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(SeqOf(got[i]), i);
  EXPECT_FALSE(stream.finished());
  stream.ClientCancel();
  stream.Complete(false);
  ASSERT_TRUE(stream.WaitForFinish());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kCancelled);
}

TEST_P(WatchTest, ACancelWithAWriteOutstandingFinishesWhenTheWriteCompletes) {
  FakeStream stream;
  Open(&stream, "");
  ASSERT_TRUE(stream.WaitForMessages(1));
  ASSERT_EQ(feed_->watcher_count(), 1u);
  stream.ClientCancel();
  // The stream leaves the feed without waiting for its write (once its
  // registration, which wrote the first message from inside Watch, has
  // returned), but does not finish over the write.
  EXPECT_TRUE(WaitForWatchers(0));
  Write("c/1");
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(stream.finished());
  stream.Complete(false);
  ASSERT_TRUE(stream.WaitForFinish());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(stream.messages().size(), 1u);
}

TEST_P(WatchTest, ACancelBetweenWritesFinishesAtOnce) {
  FakeStream stream;
  Open(&stream, "");
  ASSERT_TRUE(stream.WaitForMessages(1));
  stream.Complete(true);
  // A change arrives only after the stream has registered (it asks for the
  // next once it knows its id): past that, no registration is in progress.
  Write("b/1");
  ASSERT_TRUE(stream.WaitForMessages(2));
  stream.Complete(true);  // ready for the next; nothing comes
  stream.ClientCancel();
  ASSERT_TRUE(stream.finished());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(feed_->watcher_count(), 0u);
}

TEST_P(WatchTest, AFailedWriteEndsTheStream) {
  FakeStream stream;
  Open(&stream, "");
  ASSERT_TRUE(stream.WaitForMessages(1));
  stream.Complete(false);  // the client went away
  ASSERT_TRUE(stream.WaitForFinish());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(feed_->watcher_count(), 0u);
  Write("w/1");
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(stream.messages().size(), 1u);
}

TEST_P(WatchTest, AStreamCancelledBeforeItRegisteredLeavesNothing) {
  FakeStream stream;
  stream.ClientCancel();
  Open(&stream, "");
  ASSERT_TRUE(stream.WaitForFinish());
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(stream.messages().empty());
  EXPECT_EQ(feed_->watcher_count(), 0u);
}

TEST_P(WatchTest, DrainEndsStreamsOnceTheirWriteCompletesAndRefusesNew) {
  FakeStream idle, busy;
  Open(&idle, "");
  Open(&busy, "");
  ASSERT_TRUE(idle.WaitForMessages(1));
  ASSERT_TRUE(busy.WaitForMessages(1));
  idle.Complete(true);
  ASSERT_TRUE(WaitForWatchers(2));
  DrainWatches(feed_.get());
  ASSERT_TRUE(idle.WaitForFinish());
  EXPECT_EQ(idle.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(GetErrorInfo(idle.status())->reason(), "SERVER_SHUTTING_DOWN");
  // The busy one ends once its outstanding message is written.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(busy.finished());
  busy.Complete(true);
  ASSERT_TRUE(busy.WaitForFinish());
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(feed_->watcher_count(), 0u);

  absl::Status late = Read("", [](const Struct&) { return true; });
  EXPECT_EQ(late.code(), absl::StatusCode::kUnavailable) << late;
  EXPECT_EQ(GetErrorInfo(late)->reason(), "SERVER_SHUTTING_DOWN");
}

class QuietWatchTest : public WatchTest {
 protected:
  ChangeFeedOptions Options() override {
    ChangeFeedOptions o = WatchTest::Options();
    o.checkpoint_interval = absl::Milliseconds(50);
    return o;
  }
};

TEST_P(QuietWatchTest, QuietStreamsGetCheckpoints) {
  Write("q/1");
  int checkpoints = 0;
  absl::Status s = Read("", [&](const Struct& m) {
    EXPECT_EQ(KindOf(m), static_cast<int>(ChangeKind::kCheckpoint));
    EXPECT_EQ(SeqOf(m), 1);
    EXPECT_EQ(TokenOf(m), feed_->TokenFor(1));
    return ++checkpoints < 3;
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_EQ(checkpoints, 3);
}

TEST(FeedWriteHookTest, NeedsANameAndAnUpdateTime) {
  ChangeFeed* feed = nullptr;  // not reached
  WriteHook hook = FeedWriteHook(feed);
  struct NoTx : SqlTransaction {
    absl::Status QueryEach(
        absl::string_view, const SqlValues&,
        absl::FunctionRef<absl::Status(const SqlRow&)>) override {
      return absl::OkStatus();
    }
    absl::StatusOr<std::vector<SqlValues>> Query(absl::string_view,
                                                 const SqlValues&) override {
      return std::vector<SqlValues>();
    }
    absl::StatusOr<int64_t> Execute(absl::string_view,
                                    const SqlValues&) override {
      return 0;
    }
  } tx;
  EXPECT_EQ(hook(tx, WriteKind::kCreate, Struct()).code(),
            absl::StatusCode::kInternal);
}

// A Watch request's filter fields: known collections once each, and a name
// of one of them; anything else is INVALID_ARGUMENT naming the field.
TEST(MakeChangeFilterTest, ChecksCollectionsAndName) {
  const std::vector<std::string> known = {"parliaments", "delegations",
                                          "persons"};
  google::protobuf::RepeatedPtrField<std::string> collections;
  auto ok = MakeChangeFilter(collections, "", known);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->empty());

  collections.Add("delegations");
  ok = MakeChangeFilter(collections, "parliaments/kg/delegations/kg", known);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->Matches("parliaments/kg/delegations/kg"));
  EXPECT_FALSE(ok->Matches("parliaments/kz/delegations/kz"));

  collections.Add("states");
  collections.Add("delegations");
  auto bad = MakeChangeFilter(collections, "persons/Bad_Id", known);
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto request = GetBadRequest(bad.status());
  ASSERT_TRUE(request.has_value());
  std::vector<std::string> fields;
  for (const auto& v : request->field_violations()) fields.push_back(v.field());
  EXPECT_EQ(fields, (std::vector<std::string>{"collections[1]",
                                              "collections[2]", "name"}));
  EXPECT_EQ(GetErrorInfo(bad.status())->reason(), "INVALID_WATCH_FILTER");
  EXPECT_FALSE(MakeChangeFilter({}, "events/e1", known).ok());
  EXPECT_FALSE(MakeChangeFilter({}, "persons", known).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, WatchTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Backends, QuietWatchTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::common
