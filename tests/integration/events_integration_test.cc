// Integration tests of events_server: the real binary on port 0, called
// over gRPC. The watch stream: three concurrent watchers each see every one
// of 1,000 writes exactly once and in order; a watcher that reconnects with
// its token after a server restart sees the writes it missed; on PostgreSQL
// (tests named *Postgres*, registered separately with the `postgres`
// fixture) a watcher on one replica sees writes made through another in
// commit order without gaps, and resumes on the other replica. Plus bad
// input with error details.
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/events/v1/events.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/testing/test_postgres.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/scratch_postgres.h"
#include "tests/integration/server_process.h"

#ifndef CSTOPA_EVENTS_SERVER
#error "CSTOPA_EVENTS_SERVER must name the events_server binary"
#endif

namespace cstopa::itest {
namespace {

namespace v1 = ::cstopa::events::v1;

constexpr char kSecret[] = "itest-events-page-token-secret";

v1::Event NewEvent(absl::string_view title) {
  v1::Event e;
  e.set_kind(v1::EVENT_KIND_WORKING_MEETING);
  auto* t = e.add_title();
  t->set_language_code("en");
  t->set_text(std::string(title));
  return e;
}

// A WatchEvents stream read on its own thread (sync client API).
class StreamWatcher {
 public:
  StreamWatcher(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(v1::EventsService::NewStub(channel)) {
    Prepare(&ctx_, "", absl::Seconds(300));
    v1::WatchEventsRequest req;
    req.set_resume_token(std::move(token));
    thread_ = std::thread([this, req] {
      auto reader = stub_->WatchEvents(&ctx_, req);
      v1::WatchEventsResponse msg;
      while (reader->Read(&msg)) {
        absl::MutexLock lock(&mu_);
        ++messages_;
        last_token_ = msg.resume_token();
        if (msg.change_type() != v1::CHANGE_TYPE_CHECKPOINT)
          changes_.push_back(msg);
      }
      grpc::Status s = reader->Finish();
      absl::MutexLock lock(&mu_);
      status_ = s;
      done_ = true;
    });
  }
  ~StreamWatcher() {
    ctx_.TryCancel();
    thread_.join();
  }

  // The first message (a checkpoint) arrived: the stream is registered.
  bool WaitStarted(absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto cond = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return messages_ > 0 || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
    return messages_ > 0;
  }
  bool WaitForChanges(size_t n, absl::Duration timeout = absl::Seconds(120)) {
    absl::MutexLock lock(&mu_);
    auto cond = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return changes_.size() >= n || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
    return changes_.size() >= n;
  }
  bool WaitDone(absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
    return done_;
  }
  void Cancel() { ctx_.TryCancel(); }

  std::vector<v1::WatchEventsResponse> changes() {
    absl::MutexLock lock(&mu_);
    return changes_;
  }
  std::string last_token() {
    absl::MutexLock lock(&mu_);
    return last_token_;
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  std::unique_ptr<v1::EventsService::Stub> stub_;
  grpc::ClientContext ctx_;
  absl::Mutex mu_;
  int messages_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::string last_token_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::WatchEventsResponse> changes_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Creates `id`; returns the event (with its etag) or fails the test.
v1::Event CreateEvent(v1::EventsService::Stub* stub, const std::string& id) {
  grpc::ClientContext ctx;
  Prepare(&ctx, kEditorKey);
  v1::CreateEventRequest req;
  req.set_event_id(id);
  *req.mutable_event() = NewEvent("Event " + id);
  v1::Event out;
  grpc::Status s = stub->CreateEvent(&ctx, req, &out);
  EXPECT_TRUE(s.ok()) << id << ": " << Describe(s);
  return out;
}

v1::Event UpdateEvent(v1::EventsService::Stub* stub, const std::string& name,
                      const std::string& summary) {
  grpc::ClientContext ctx;
  Prepare(&ctx, kEditorKey);
  v1::UpdateEventRequest req;
  req.mutable_event()->set_name(name);
  auto* t = req.mutable_event()->add_summary();
  t->set_language_code("en");
  t->set_text(summary);
  v1::Event out;
  grpc::Status s = stub->UpdateEvent(&ctx, req, &out);
  EXPECT_TRUE(s.ok()) << name << ": " << Describe(s);
  return out;
}

// The stream saw each etag in `written` exactly once, with dense sequence
// numbers; returns the (sequence-ordered) etags it saw.
std::vector<std::string> CheckStream(
    const std::vector<v1::WatchEventsResponse>& got,
    const std::set<std::string>& written) {
  std::vector<std::string> etags;
  std::set<std::string> seen;
  for (size_t i = 0; i < got.size(); ++i) {
    if (i > 0) {
      EXPECT_EQ(got[i].sequence(), got[i - 1].sequence() + 1)
          << "gap or reorder at position " << i;
    }
    EXPECT_FALSE(got[i].resume_token().empty());
    EXPECT_TRUE(got[i].has_commit_time());
    const std::string& etag = got[i].event().etag();
    EXPECT_TRUE(seen.insert(etag).second) << "duplicate " << etag;
    EXPECT_EQ(written.count(etag), 1u)
        << "unexpected change " << got[i].ShortDebugString();
    etags.push_back(etag);
  }
  EXPECT_EQ(seen.size(), written.size());
  return etags;
}

ServerProcess::Options SqliteOptions() {
  ServerProcess::Options o;
  o.binary = CSTOPA_EVENTS_SERVER;
  o.page_token_secret = kSecret;
  o.drain_seconds = 20;  // streams must end long before this
  return o;
}

// ---------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------

TEST(EventsIntegrationTest, SeededEventsAndFiltersOverGrpc) {
  ServerProcess server(SqliteOptions());
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr(4000);
  auto stub = v1::EventsService::NewStub(server.channel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::ListEventsRequest req;
  req.set_filter(
      "kind = EVENT_KIND_CONSULTATION AND state = \"states/kg\" AND "
      "start_time >= 2022-01-01T00:00:00Z");
  v1::ListEventsResponse resp;
  ASSERT_TRUE(stub->ListEvents(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.events_size(), 1);
  const v1::Event& e = resp.events(0);
  EXPECT_EQ(e.name(),
            "events/consultations-international-military-flights-2022");
  EXPECT_EQ(e.place().locality(0).text(), "Moscow");
  EXPECT_EQ(e.provenance(0).source(), "002_5b865f62c35cc4cc.txt");
}

TEST(EventsIntegrationTest, BadInputFailsWithDetails) {
  ServerProcess server(SqliteOptions());
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr(4000);
  auto stub = v1::EventsService::NewStub(server.channel());

  {  // ends before it starts
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::CreateEventRequest req;
    req.set_event_id("backwards");
    *req.mutable_event() = NewEvent("Backwards");
    req.mutable_event()->mutable_start_time()->set_seconds(1700000000);
    req.mutable_event()->mutable_end_time()->set_seconds(1600000000);
    v1::Event out;
    Details d =
        ExpectError(stub->CreateEvent(&ctx, req, &out),
                    grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT");
    ASSERT_TRUE(d.bad_request.has_value());
    EXPECT_EQ(d.bad_request->field_violations(0).field(), "event.end_time");
  }
  {  // unknown enum values
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::CreateEventRequest req;
    req.set_event_id("unknown-kind");
    *req.mutable_event() = NewEvent("Unknown");
    req.mutable_event()->set_kind(static_cast<v1::EventKind>(77));
    v1::Event out;
    Details d =
        ExpectError(stub->CreateEvent(&ctx, req, &out),
                    grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT");
    ASSERT_TRUE(d.bad_request.has_value());
    EXPECT_EQ(d.bad_request->field_violations(0).field(), "event.kind");
  }
  {  // a filter on an unknown field
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListEventsRequest req;
    req.set_filter("colour = \"red\"");
    v1::ListEventsResponse resp;
    Details d =
        ExpectError(stub->ListEvents(&ctx, req, &resp),
                    grpc::StatusCode::INVALID_ARGUMENT, "INVALID_FILTER");
    EXPECT_EQ(d.info->domain(), "events.cstopa.org");
  }
  {  // a malformed resume token
    StreamWatcher w(server.channel(), "bm90LWEtdG9rZW4");
    ASSERT_TRUE(w.WaitDone());
    Details d = ExpectError(w.status(), grpc::StatusCode::INVALID_ARGUMENT,
                            "INVALID_RESUME_TOKEN");
    ASSERT_TRUE(d.bad_request.has_value());
    EXPECT_EQ(d.bad_request->field_violations(0).field(), "resume_token");
  }
  // A token from a longer history than this store has (another store with
  // the same secret): OUT_OF_RANGE, restart from a List.
  std::string token;
  {
    auto writer = v1::EventsService::NewStub(server.channel());
    StreamWatcher w(server.channel(), "");
    ASSERT_TRUE(w.WaitStarted());
    for (int i = 0; i < 3; ++i)
      CreateEvent(writer.get(), absl::StrCat("later-", i));
    ASSERT_TRUE(w.WaitForChanges(3));
    token = w.last_token();
  }
  ServerProcess::Options empty = SqliteOptions();
  empty.seed = "none";
  ServerProcess other(empty);
  ASSERT_TRUE(other.Start().ok()) << other.ReadStderr(4000);
  StreamWatcher w(other.channel(), token);
  ASSERT_TRUE(w.WaitDone());
  ExpectError(w.status(), grpc::StatusCode::OUT_OF_RANGE,
              "RESUME_TOKEN_EXPIRED");
  EXPECT_NE(w.status().error_message().find("List"), std::string::npos);
}

TEST(EventsIntegrationTest, ThreeWatchersSeeEachOf1000WritesOnceInOrder) {
  ServerProcess server(SqliteOptions());
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr(4000);
  std::vector<std::unique_ptr<StreamWatcher>> watchers;
  for (int i = 0; i < 3; ++i) {
    watchers.push_back(std::make_unique<StreamWatcher>(server.channel(), ""));
    ASSERT_TRUE(watchers.back()->WaitStarted());
  }
  // 1,000 writes from 4 concurrent writers: creates, and updates of them.
  constexpr int kWriters = 4, kEach = 250;
  absl::Mutex mu;
  std::set<std::string> written;
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::EventsService::NewStub(server.channel());
      std::string last;
      for (int i = 0; i < kEach; ++i) {
        v1::Event e =
            i % 5 == 4 ? UpdateEvent(stub.get(), last, absl::StrCat(i))
                       : CreateEvent(stub.get(), absl::StrCat("w", t, "-", i));
        if (i % 5 != 4) last = e.name();
        absl::MutexLock lock(&mu);
        written.insert(e.etag());
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(written.size(), static_cast<size_t>(kWriters * kEach));
  std::vector<std::string> first;
  for (auto& w : watchers) {
    ASSERT_TRUE(w->WaitForChanges(written.size())) << Describe(w->status());
    std::vector<std::string> order = CheckStream(w->changes(), written);
    if (first.empty()) {
      first = order;
    } else {
      EXPECT_EQ(order, first) << "watchers disagree on the order";
    }
  }
}

TEST(EventsIntegrationTest, ReconnectingAfterARestartSeesTheMissedWrites) {
  ServerProcess server(SqliteOptions());
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr(4000);
  std::set<std::string> before, missed;
  std::string token;
  {
    auto stub = v1::EventsService::NewStub(server.channel());
    StreamWatcher w(server.channel(), "");
    ASSERT_TRUE(w.WaitStarted());
    for (int i = 0; i < 5; ++i)
      before.insert(CreateEvent(stub.get(), absl::StrCat("a", i)).etag());
    ASSERT_TRUE(w.WaitForChanges(5));
    token = w.last_token();
    // Writes after the client's last message, then SIGTERM: the stream
    // ends at once with UNAVAILABLE (not at the 20 s drain deadline).
    for (int i = 0; i < 3; ++i)
      missed.insert(CreateEvent(stub.get(), absl::StrCat("b", i)).etag());
    ASSERT_TRUE(w.WaitForChanges(8));
    ASSERT_TRUE(server.Signal(SIGTERM).ok());
    ASSERT_TRUE(w.WaitDone(absl::Seconds(15)));
    ExpectError(w.status(), grpc::StatusCode::UNAVAILABLE,
                "SERVER_SHUTTING_DOWN");
    auto exit = server.WaitForExit(absl::Seconds(15));
    ASSERT_TRUE(exit.ok());
    EXPECT_TRUE(exit->exited && exit->code == 0) << exit->ToString();
  }
  ASSERT_TRUE(server.Restart().ok()) << server.ReadStderr(4000);
  auto stub = v1::EventsService::NewStub(server.channel());
  for (int i = 0; i < 2; ++i)
    missed.insert(CreateEvent(stub.get(), absl::StrCat("c", i)).etag());
  StreamWatcher w(server.channel(), token);
  ASSERT_TRUE(w.WaitStarted());
  missed.insert(CreateEvent(stub.get(), "d0").etag());  // live again
  ASSERT_TRUE(w.WaitForChanges(missed.size())) << Describe(w.status());
  CheckStream(w.changes(), missed);
  EXPECT_EQ(w.changes().front().event().name(), "events/b0");
}

// Creates `id` with `request_id` (AIP-155) through `stub`.
grpc::Status CreateWithRequestId(v1::EventsService::Stub* stub,
                                 const std::string& id,
                                 const std::string& title,
                                 const std::string& request_id,
                                 v1::Event* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx, kEditorKey);
  v1::CreateEventRequest req;
  req.set_event_id(id);
  *req.mutable_event() = NewEvent(title);
  req.set_request_id(request_id);
  return stub->CreateEvent(&ctx, req, out);
}

grpc::Status Undelete(v1::EventsService::Stub* stub, const std::string& key,
                      const std::string& name, v1::Event* out) {
  grpc::ClientContext ctx;
  Prepare(&ctx, key);
  v1::UndeleteEventRequest req;
  req.set_name(name);
  return stub->UndeleteEvent(&ctx, req, out);
}

TEST(EventsIntegrationTest, RetriedCreatesAndUndeleteOverGrpc) {
  ServerProcess server(SqliteOptions());
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr(4000);
  auto stub = v1::EventsService::NewStub(server.channel());
  StreamWatcher w(server.channel(), "");
  ASSERT_TRUE(w.WaitStarted());

  // A create whose answer was lost is retried with its request ID: the
  // retry answers the event the first call made, and writes nothing.
  const std::string rid = "5e0c7a52-1d2b-4c3e-9f4a-6b7c8d9e0f1a";
  v1::Event first, again;
  grpc::Status s =
      CreateWithRequestId(stub.get(), "retried", "Retried", rid, &first);
  ASSERT_TRUE(s.ok()) << Describe(s);
  s = CreateWithRequestId(stub.get(), "retried", "Retried", rid, &again);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(again.etag(), first.etag());
  // Another request under the taken ID is a conflict, request ID or not.
  s = CreateWithRequestId(stub.get(), "retried", "Something else", rid, &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Describe(s);
  Details d = ExpectError(
      CreateWithRequestId(stub.get(), "other", "Other", rid, &again),
      grpc::StatusCode::INVALID_ARGUMENT, "REQUEST_ID_REUSED");
  ASSERT_TRUE(d.bad_request.has_value());
  EXPECT_EQ(d.bad_request->field_violations(0).field(), "request_id");

  // Deleted by mistake, then undeleted: only by an admin, only once.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kAdminKey);
    v1::DeleteEventRequest req;
    req.set_name("events/retried");
    v1::Event out;
    ASSERT_TRUE(stub->DeleteEvent(&ctx, req, &out).ok());
  }
  ExpectError(Undelete(stub.get(), kEditorKey, "events/retried", &again),
              grpc::StatusCode::PERMISSION_DENIED, "");
  s = Undelete(stub.get(), kAdminKey, "events/retried", &again);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_FALSE(again.has_delete_time());
  EXPECT_EQ(again.title(0).text(), "Retried");
  ExpectError(Undelete(stub.get(), kAdminKey, "events/retried", &again),
              grpc::StatusCode::ALREADY_EXISTS, "NOT_DELETED");
  ExpectError(Undelete(stub.get(), kAdminKey, "events/never-was", &again),
              grpc::StatusCode::NOT_FOUND, "");
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::GetEventRequest req;
    req.set_name("events/retried");
    v1::Event out;
    EXPECT_TRUE(stub->GetEvent(&ctx, req, &out).ok());
  }

  // The stream: the create once (not the retry), the delete, and the
  // undelete as an update; then the next write.
  CreateEvent(stub.get(), "next");
  ASSERT_TRUE(w.WaitForChanges(4)) << Describe(w.status());
  auto changes = w.changes();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].change_type(), v1::CHANGE_TYPE_CREATED);
  EXPECT_EQ(changes[1].change_type(), v1::CHANGE_TYPE_DELETED);
  EXPECT_EQ(changes[2].change_type(), v1::CHANGE_TYPE_UPDATED);
  EXPECT_FALSE(changes[2].event().has_delete_time());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(changes[i].event().name(), "events/retried") << i;
  EXPECT_EQ(changes[3].event().name(), "events/next");
}

TEST(EventsIntegrationTest, ManyWatchersComeAndGoWithoutHoldingTheServer) {
  ServerProcess server(SqliteOptions());
  ASSERT_TRUE(server.Start().ok()) << server.ReadStderr(4000);
  auto stub = v1::EventsService::NewStub(server.channel());
  for (int round = 0; round < 3; ++round) {
    std::vector<std::unique_ptr<StreamWatcher>> ws;
    for (int i = 0; i < 20; ++i)
      ws.push_back(std::make_unique<StreamWatcher>(server.channel(), ""));
    for (auto& w : ws) ASSERT_TRUE(w->WaitStarted());
    CreateEvent(stub.get(), absl::StrCat("round", round));
    for (auto& w : ws) w->Cancel();  // clients vanish mid-stream
  }
  // One watcher left: the server still delivers and still drains at once.
  StreamWatcher last(server.channel(), "");
  ASSERT_TRUE(last.WaitStarted());
  CreateEvent(stub.get(), "final");
  ASSERT_TRUE(last.WaitForChanges(1));
  ASSERT_TRUE(server.Signal(SIGTERM).ok());
  auto exit = server.WaitForExit(absl::Seconds(15));
  ASSERT_TRUE(exit.ok()) << "the server did not stop";
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->ToString();
}

// ---------------------------------------------------------------------------
// PostgreSQL: two replicas on one database
// ---------------------------------------------------------------------------

class EventsPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CSTOPA_TEST_POSTGRES_URL_OR_SKIP(base_);
    databases_ = std::make_unique<ScratchDatabases>(base_);
    // The shared database when none can be made: the tests watch from now.
    url_ = databases_->New("cstopa_events_itest");
  }
  void TearDown() override {
    replicas_.clear();
    databases_.reset();  // drops the database
  }
  ServerProcess* Replica() {
    ServerProcess::Options o = SqliteOptions();
    o.drain_seconds = 5;
    o.extra_args = {absl::StrCat("--store=", url_)};
    replicas_.push_back(std::make_unique<ServerProcess>(o));
    return replicas_.back().get();
  }

  std::string base_, url_;
  std::unique_ptr<ScratchDatabases> databases_;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
};

TEST_F(EventsPostgresTest, ARetryOnAnotherReplicaAnswersTheFirstCreate) {
  ServerProcess* a = Replica();
  ASSERT_TRUE(a->Start().ok()) << a->ReadStderr(4000);
  ServerProcess* b = Replica();
  ASSERT_TRUE(b->Start().ok()) << b->ReadStderr(4000);
  auto on_a = v1::EventsService::NewStub(a->channel());
  auto on_b = v1::EventsService::NewStub(b->channel());
  // The first try commits on A; its answer is lost and the client's retry
  // reaches B, which reads the request ID from the shared store.
  const std::string rid = "c4d5e6f7-0819-4a2b-8c3d-4e5f6a7b8c9d";
  v1::Event first, again;
  grpc::Status s =
      CreateWithRequestId(on_a.get(), "across", "Across", rid, &first);
  ASSERT_TRUE(s.ok()) << Describe(s);
  s = CreateWithRequestId(on_b.get(), "across", "Across", rid, &again);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(again.etag(), first.etag());
  // Deleted through A, undeleted through B.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kAdminKey);
    v1::DeleteEventRequest req;
    req.set_name("events/across");
    v1::Event out;
    ASSERT_TRUE(on_a->DeleteEvent(&ctx, req, &out).ok());
  }
  s = Undelete(on_b.get(), kAdminKey, "events/across", &again);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_FALSE(again.has_delete_time());
}

TEST_F(EventsPostgresTest, AWatcherOnReplicaASeesWritesThroughBInCommitOrder) {
  ServerProcess* a = Replica();
  ServerProcess* b = Replica();
  // Started together: migrations and seed race on one empty schema.
  ASSERT_TRUE(a->Launch().ok());
  ASSERT_TRUE(b->Launch().ok());
  ASSERT_TRUE(a->WaitForPortFile().ok()) << a->ReadStderr(4000);
  ASSERT_TRUE(b->WaitForPortFile().ok()) << b->ReadStderr(4000);

  auto on_a = std::make_unique<StreamWatcher>(a->channel(), "");
  ASSERT_TRUE(on_a->WaitStarted());
  // Writers on both replicas at once; B writes most.
  absl::Mutex mu;
  std::set<std::string> written;
  auto write = [&](ServerProcess* replica, const std::string& prefix, int n) {
    auto stub = v1::EventsService::NewStub(replica->channel());
    for (int i = 0; i < n; ++i) {
      std::string etag =
          CreateEvent(stub.get(), absl::StrCat(prefix, "-", getpid(), "-", i))
              .etag();
      absl::MutexLock lock(&mu);
      written.insert(etag);
    }
  };
  std::thread t1([&] { write(b, "b", 150); });
  std::thread t2([&] { write(b, "bb", 150); });
  std::thread t3([&] { write(a, "a", 100); });
  t1.join();
  t2.join();
  t3.join();
  ASSERT_TRUE(on_a->WaitForChanges(written.size())) << Describe(on_a->status());
  CheckStream(on_a->changes(), written);

  // The token from A resumes on B: writes made while disconnected arrive.
  std::string token = on_a->last_token();
  on_a.reset();
  std::set<std::string> missed;
  auto stub_a = v1::EventsService::NewStub(a->channel());
  for (int i = 0; i < 10; ++i)
    missed.insert(
        CreateEvent(stub_a.get(), absl::StrCat("m-", getpid(), "-", i)).etag());
  StreamWatcher on_b(b->channel(), token);
  ASSERT_TRUE(on_b.WaitForChanges(missed.size())) << Describe(on_b.status());
  CheckStream(on_b.changes(), missed);
}

}  // namespace
}  // namespace cstopa::itest
