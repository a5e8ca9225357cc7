// Integration tests of membership_server on PostgreSQL: two replicas on one
// database, and the database going away and coming back under load.
//
// They need the throwaway PostgreSQL server of the CTest fixture `postgres`
// (cmake/testing.cmake) and skip without one. The service's schema name is
// fixed ("membership"), so each test makes a database of its own (CREATE
// DATABASE through psql, dropped at the end): the servers then start on an
// empty schema, so migrations and seed really run, concurrently in the
// replica test. Where no database can be created (a server the test does not
// own) the shared one is used; the IDs the tests write are unique per run, so
// data left by earlier runs does not matter.
//
// PostgresOutageFailsCleanlyAndRecovers stops and restarts the fixture's
// server (tests/postgres/pg_server.sh restart-stop / restart-start). The
// fixture's RESOURCE_LOCK keeps the other PostgreSQL tests away meanwhile,
// and TearDown restarts the server on every path out of the test.
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/testing/test_postgres.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/membership_calls.h"
#include "tests/integration/scratch_postgres.h"
#include "tests/integration/server_process.h"

#ifndef CSTOPA_MEMBERSHIP_SERVER
#error "CSTOPA_MEMBERSHIP_SERVER must name the membership_server binary"
#endif

namespace cstopa::itest {
namespace {

namespace v1 = ::cstopa::membership::v1;

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kPageTokenSecret[] = "itest-postgres-page-token-secret";

// ---------------------------------------------------------------------------
// Helpers (and client_helpers.h, membership_calls.h, scratch_postgres.h)
// ---------------------------------------------------------------------------

ServerProcess::Options PostgresOptions(const std::string& url) {
  ServerProcess::Options options;
  options.binary = CSTOPA_MEMBERSHIP_SERVER;
  options.drain_seconds = 2;
  options.page_token_secret = kPageTokenSecret;
  // The harness passes --store=sqlite://<dir>/m.db before extra_args; the
  // last value of a flag wins.
  options.extra_args = {absl::StrCat("--store=", url)};
  return options;
}

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

class PostgresIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CSTOPA_TEST_POSTGRES_URL_OR_SKIP(base_url_);
    databases_ = std::make_unique<ScratchDatabases>(base_url_);
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& [label, server] : servers_) {
        std::cerr << "---- " << label << " stderr (tail) ----\n"
                  << server->ReadStderr(6000) << "---- end ----\n";
      }
    }
    // PostgreSQL back first: other tests share it, and the drops need it.
    if (postgres_stopped_) {
      absl::Status s = PgServer("restart-start");
      EXPECT_TRUE(s.ok()) << "could not restart PostgreSQL: " << s;
      if (s.ok()) postgres_stopped_ = false;
    }
    servers_.clear();  // kills them
    databases_.reset();  // drops them
  }

  // The URL of a new, empty database (dropped in TearDown); the shared
  // database when one cannot be created.
  std::string NewDatabase() { return databases_->New("cstopa_itest"); }

  // A membership_server on `url`, not started yet.
  ServerProcess* NewServer(const std::string& label, const std::string& url) {
    servers_.emplace_back(
        label, std::make_unique<ServerProcess>(PostgresOptions(url)));
    return servers_.back().second.get();
  }

  // Runs `pg_server.sh <subcommand> <dir>` on the fixture's server.
  absl::Status PgServer(absl::string_view subcommand) {
    const char* script = std::getenv("CSTOPA_TEST_PG_SERVER");
    const char* dir = std::getenv("CSTOPA_TEST_POSTGRES_DIR");
    if (script == nullptr || dir == nullptr)
      return absl::FailedPreconditionError("no CSTOPA_TEST_PG_SERVER/DIR");
    CommandResult r =
        RunCommand(absl::StrCat("timeout 120 ", ShellQuote(script), " ",
                                subcommand, " ", ShellQuote(dir)));
    if (r.exit_code != 0) {
      return absl::InternalError(absl::StrCat("pg_server.sh ", subcommand,
                                              " exited with ", r.exit_code,
                                              ": ", r.output));
    }
    return absl::OkStatus();
  }

  std::string base_url_;
  std::unique_ptr<ScratchDatabases> databases_;
  std::vector<std::pair<std::string, std::unique_ptr<ServerProcess>>> servers_;
  bool postgres_stopped_ = false;
};

// ---------------------------------------------------------------------------
// 1. Two replicas, one database
// ---------------------------------------------------------------------------

TEST_F(PostgresIntegrationTest, TwoReplicasOneDatabase) {
  // Two replicas launched together on an empty database: migrations (under
  // an advisory lock) and the insert-if-absent seed race; both must start.
  // A few rounds, each on a fresh database; the last pair stays up.
  constexpr int kStartRounds = 3;
  ServerProcess* a = nullptr;
  ServerProcess* b = nullptr;
  for (int round = 0; round < kStartRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("start round ", round));
    const std::string url = NewDatabase();
    a = NewServer(absl::StrCat("replica A, round ", round), url);
    b = NewServer(absl::StrCat("replica B, round ", round), url);
    // Forked from this thread: the children's PR_SET_PDEATHSIG follows the
    // thread that forked them.
    absl::Status launched = a->Launch();
    ASSERT_TRUE(launched.ok()) << launched;
    launched = b->Launch();
    ASSERT_TRUE(launched.ok()) << launched;
    absl::Status started_a = a->WaitForPortFile();
    absl::Status started_b = b->WaitForPortFile();
    EXPECT_TRUE(started_a.ok()) << "replica A: " << started_a;
    EXPECT_TRUE(started_b.ok()) << "replica B: " << started_b;
    ASSERT_TRUE(started_a.ok() && started_b.ok())
        << "two replicas starting together on one empty database must both "
           "start";
    if (round + 1 < kStartRounds) {
      a->Kill();
      b->Kill();
    }
  }

  auto stub_a = v1::MembershipService::NewStub(a->channel());
  auto stub_b = v1::MembershipService::NewStub(b->channel());
  for (ServerProcess* server : {a, b}) {
    auto health = grpc::health::v1::Health::NewStub(server->channel());
    HealthStatus resp;
    grpc::Status s = CheckHealth(health.get(), "", &resp);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(resp.status(), HealthStatus::SERVING);
  }
  // The seed went in once, whoever inserted it.
  EXPECT_EQ(CountStates(stub_a.get()), 6);
  EXPECT_EQ(CountStates(stub_b.get()), 6);

  // Written through A, read through B.
  const std::string id = absl::StrCat("pgit-", RunTag(), "-shared");
  const std::string name = absl::StrCat("persons/", id);
  v1::Person created;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::CreatePersonRequest req;
    req.set_person_id(id);
    *req.mutable_person() = NewPerson("Replicated Person");
    req.mutable_person()->set_state("states/kz");
    grpc::Status s = stub_a->CreatePerson(&ctx, req, &created);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(created.name(), name);
  }
  {
    v1::Person got;
    grpc::Status s = GetPerson(stub_b.get(), name, &got);
    ASSERT_TRUE(s.ok()) << "replica B does not see A's write: " << Describe(s);
    EXPECT_EQ(got.etag(), created.etag());
    EXPECT_EQ(got.state(), "states/kz");
    ASSERT_EQ(got.display_name_size(), 1);
    EXPECT_EQ(got.display_name(0).text(), "Replicated Person");
  }
  const std::vector<std::string> listed_by_b = AllPersonNames(stub_b.get());
  EXPECT_THAT(listed_by_b, Contains(name));

  // Operators see the store's pool next to the gRPC metrics.
  {
    absl::StatusOr<std::string> m = HttpGet(b->admin_port(), "/metrics");
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_THAT(*m, HasSubstr("cstopa_store_pool_size "));
    EXPECT_THAT(*m, HasSubstr("cstopa_store_connections_busy "));
    EXPECT_THAT(*m, HasSubstr("cstopa_store_reads_waiting 0\n"));
    // B answered the Get above asynchronously: one read per statement.
    EXPECT_THAT(*m, HasSubstr("cstopa_store_reads_per_statement 1\n"));
  }

  // A page walk alternating replicas, starting on A: each page token made
  // by one replica is honoured by the other (same --page_token_secret), and
  // the walk is the one-page listing.
  {
    std::vector<std::string> walk;
    v1::ListPersonsRequest req;
    req.set_page_size(2);
    int pages = 0;
    for (; pages < 200; ++pages) {
      v1::MembershipService::Stub* stub =
          pages % 2 == 0 ? stub_a.get() : stub_b.get();
      grpc::ClientContext ctx;
      Prepare(&ctx);
      v1::ListPersonsResponse resp;
      grpc::Status s = stub->ListPersons(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << "page " << pages << " on replica "
                          << (pages % 2 == 0 ? "A" : "B")
                          << (pages > 0 ? " with the other's token" : "")
                          << ": " << Describe(s);
      for (const auto& p : resp.persons()) walk.push_back(p.name());
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    EXPECT_GE(pages, 2) << "the walk should span several pages";
    EXPECT_EQ(walk, listed_by_b);
  }

  // Two updates of one person from the same etag, one through each replica,
  // released together: exactly one wins, the other is told its etag is
  // stale, and both replicas then return the winner's write.
  constexpr int kRaceRounds = 20;
  std::string etag = created.etag();
  int wins[2] = {0, 0};
  for (int round = 0; round < kRaceRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("race round ", round));
    v1::MembershipService::Stub* stubs[2] = {stub_a.get(), stub_b.get()};
    grpc::Status results[2];
    v1::Person outs[2];
    std::string texts[2];
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    auto racer = [&](int side) {
      texts[side] = absl::StrCat("Race ", round, side == 0 ? " A" : " B");
      v1::UpdatePersonRequest req;
      *req.mutable_person() = NewPerson(texts[side]);
      req.mutable_person()->set_name(name);
      req.mutable_person()->set_etag(etag);
      req.mutable_update_mask()->add_paths("display_name");
      grpc::ClientContext ctx;
      Prepare(&ctx, kEditorKey);
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      results[side] = stubs[side]->UpdatePerson(&ctx, req, &outs[side]);
    };
    std::thread ta(racer, 0), tb(racer, 1);
    while (ready.load() < 2) std::this_thread::yield();
    go = true;
    ta.join();
    tb.join();

    const int ok = int{results[0].ok()} + int{results[1].ok()};
    EXPECT_EQ(ok, 1) << "A: " << Describe(results[0])
                     << "; B: " << Describe(results[1]);
    if (ok == 1) {
      const int winner = results[0].ok() ? 0 : 1;
      ++wins[winner];
      ExpectError(results[1 - winner], grpc::StatusCode::ABORTED,
                  "ETAG_MISMATCH");
      EXPECT_NE(outs[winner].etag(), etag);
      for (v1::MembershipService::Stub* stub : stubs) {
        v1::Person got;
        grpc::Status s = GetPerson(stub, name, &got);
        ASSERT_TRUE(s.ok()) << Describe(s);
        EXPECT_EQ(got.etag(), outs[winner].etag());
        ASSERT_EQ(got.display_name_size(), 1);
        EXPECT_EQ(got.display_name(0).text(), texts[winner]);
      }
    }
    // The next round starts from whatever is stored now.
    v1::Person now;
    grpc::Status s = GetPerson(stub_a.get(), name, &now);
    ASSERT_TRUE(s.ok()) << Describe(s);
    etag = now.etag();
  }
  std::cerr << "etag races won: replica A " << wins[0] << ", replica B "
            << wins[1] << " of " << kRaceRounds << "\n";
}

// ---------------------------------------------------------------------------
// 2. PostgreSQL outage under load
// ---------------------------------------------------------------------------

TEST_F(PostgresIntegrationTest, PostgresOutageFailsCleanlyAndRecovers) {
  if (std::getenv("CSTOPA_TEST_PG_SERVER") == nullptr ||
      std::getenv("CSTOPA_TEST_POSTGRES_DIR") == nullptr) {
    GTEST_SKIP() << "needs the fixture's own PostgreSQL server to stop it "
                    "(CSTOPA_TEST_PG_SERVER, CSTOPA_TEST_POSTGRES_DIR)";
  }
  // Short, so that a call in flight when PostgreSQL stops ends soon; what
  // the server notices and when is waited for, bounded by kHangTimeout.
  constexpr absl::Duration kOutageCallDeadline = absl::Seconds(2);
  constexpr int kReaders = 2;
  constexpr int kWriters = 2;

  ServerProcess::Options options = PostgresOptions(NewDatabase());
  options.access_log = "dir";  // to tell what the server did with a call
  servers_.emplace_back("server", std::make_unique<ServerProcess>(options));
  ServerProcess* server = servers_.back().second.get();
  {
    absl::Status s = server->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  std::shared_ptr<grpc::Channel> channel = server->channel();
  auto health = grpc::health::v1::Health::NewStub(channel);
  {
    std::string last;
    ASSERT_TRUE(WaitForHealth(health.get(), HealthStatus::SERVING,
                              absl::Now() + kHangTimeout, &last))
        << "not SERVING at start: " << last;
  }

  struct Call {
    bool write = false;
    std::string request_id;
    std::string name;  // the person written
    absl::Time start;
    absl::Time end;
    grpc::Status status;
  };
  // Phase boundaries, in Unix nanoseconds (0: not yet), for the workers.
  std::atomic<int64_t> stopped_ns{0};    // restart-stop returned
  std::atomic<int64_t> restarted_ns{0};  // restart-start returned
  std::atomic<int> outage_read_failures{0}, outage_write_failures{0};
  // When the first read and write sent after the restart succeeded.
  std::atomic<int64_t> read_recovered_ns{0}, write_recovered_ns{0};
  absl::Mutex mu;
  std::vector<Call> calls;  // guarded by mu

  std::atomic<bool> stop{false};
  auto worker = [&](bool write, int id) {
    auto stub = v1::MembershipService::NewStub(channel);
    for (int i = 0; !stop.load(); ++i) {
      Call call;
      call.write = write;
      call.request_id = absl::StrCat("pgit-", write ? "w" : "r", id, "-", i);
      grpc::ClientContext ctx;
      Prepare(&ctx, write ? kEditorKey : "", kOutageCallDeadline);
      ctx.AddMetadata("x-request-id", call.request_id);
      call.start = absl::Now();
      if (write) {
        v1::CreatePersonRequest req;
        req.set_person_id(absl::StrCat("pgit-", RunTag(), "-w", id, "-", i));
        *req.mutable_person() = NewPerson(call.request_id);
        call.name = absl::StrCat("persons/", req.person_id());
        v1::Person out;
        call.status = stub->CreatePerson(&ctx, req, &out);
        if (call.status.ok() && out.name() != call.name) {
          call.status = grpc::Status(grpc::StatusCode::INTERNAL,
                                     "the test: unexpected name " + out.name());
        }
      } else {
        v1::GetStateRequest req;
        req.set_name("states/kz");
        v1::State out;
        call.status = stub->GetState(&ctx, req, &out);
      }
      call.end = absl::Now();
      const int64_t start_ns = absl::ToUnixNanos(call.start);
      const int64_t stopped = stopped_ns.load();
      const int64_t restarted = restarted_ns.load();
      if (stopped != 0 && restarted == 0 && start_ns >= stopped &&
          call.status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        ++(write ? outage_write_failures : outage_read_failures);
      }
      if (restarted != 0 && start_ns >= restarted && call.status.ok()) {
        int64_t unset = 0;
        (write ? write_recovered_ns : read_recovered_ns)
            .compare_exchange_strong(unset, absl::ToUnixNanos(call.end));
      }
      absl::MutexLock lock(&mu);
      calls.push_back(std::move(call));
    }
  };
  // Stops and joins the workers on every path out of the test; each call has
  // a deadline, so the joins are bounded.
  std::vector<std::thread> threads;
  struct Joiner {
    std::atomic<bool>* stop;
    std::vector<std::thread>* threads;
    ~Joiner() {
      stop->store(true);
      for (std::thread& t : *threads)
        if (t.joinable()) t.join();
    }
  } joiner{&stop, &threads};
  for (int i = 0; i < kReaders; ++i) threads.emplace_back(worker, false, i);
  for (int i = 0; i < kWriters; ++i) threads.emplace_back(worker, true, i);

  // Under load: reads and writes have succeeded.
  WaitFor([&] {
    absl::MutexLock lock(&mu);
    bool read_ok = false, write_ok = false;
    for (const Call& c : calls) {
      (c.write ? write_ok : read_ok) |= c.status.ok();
    }
    return read_ok && write_ok;
  });

  // Stop PostgreSQL (pg_ctl stop -m fast: sessions are terminated).
  const absl::Time stop_begin = absl::Now();
  postgres_stopped_ = true;  // TearDown restarts it whatever happens
  {
    absl::Status s = PgServer("restart-stop");
    ASSERT_TRUE(s.ok()) << s;
  }
  const absl::Time stop_end = absl::Now();
  stopped_ns = absl::ToUnixNanos(stop_end);

  // Health turns NOT_SERVING, and calls fail (reads and writes alike).
  std::string last_health;
  std::optional<absl::Time> not_serving_at =
      WaitForHealth(health.get(), HealthStatus::NOT_SERVING,
                    stop_end + kHangTimeout, &last_health);
  EXPECT_TRUE(not_serving_at.has_value())
      << "health still " << last_health << " "
      << absl::FormatDuration(kHangTimeout) << " after PostgreSQL stopped";
  WaitFor([&] {
    return outage_read_failures.load() > 0 && outage_write_failures.load() > 0;
  });

  // Start it again (same data, same port).
  const absl::Time start_begin = absl::Now();
  {
    absl::Status s = PgServer("restart-start");
    ASSERT_TRUE(s.ok()) << s;
    postgres_stopped_ = false;
  }
  const absl::Time start_end = absl::Now();
  restarted_ns = absl::ToUnixNanos(start_end);

  // Then SERVING, and reads and writes sent after the restart succeed.
  std::optional<absl::Time> serving_at =
      WaitForHealth(health.get(), HealthStatus::SERVING,
                    start_end + kHangTimeout, &last_health);
  EXPECT_TRUE(serving_at.has_value())
      << "health still " << last_health << " "
      << absl::FormatDuration(kHangTimeout) << " after PostgreSQL restarted";
  WaitFor([&] {
    return read_recovered_ns.load() != 0 && write_recovered_ns.load() != 0;
  });
  std::optional<absl::Time> calls_ok_at;
  if (read_recovered_ns.load() != 0 && write_recovered_ns.load() != 0) {
    calls_ok_at = absl::FromUnixNanos(
        std::max(read_recovered_ns.load(), write_recovered_ns.load()));
  }
  EXPECT_TRUE(calls_ok_at.has_value())
      << "no successful " << (read_recovered_ns.load() != 0 ? "write" : "read")
      << " within " << absl::FormatDuration(kHangTimeout)
      << " of PostgreSQL restarting";
  // A few more calls from every worker after recovery, then stop.
  size_t calls_at_recovery;
  {
    absl::MutexLock lock(&mu);
    calls_at_recovery = calls.size();
  }
  WaitFor([&] {
    absl::MutexLock lock(&mu);
    return calls.size() >= calls_at_recovery + 3 * (kReaders + kWriters);
  });
  stop = true;
  for (std::thread& t : threads) t.join();

  // Classify every call.
  absl::MutexLock lock(&mu);
  auto since_stop = [&](absl::Time t) {
    return absl::FormatDuration(
        absl::Trunc(t - stop_begin, absl::Milliseconds(1)));
  };
  std::map<std::string, int> before, outage, after;  // code name -> count
  std::map<std::string, std::string> sample;         // code name -> message
  std::vector<const Call*> bad;
  std::vector<std::string> ok_writes;
  int deadline_mid_flight = 0, outage_ok = 0;
  absl::Duration longest;
  for (const Call& c : calls) {
    const std::string code = CodeName(c.status.error_code());
    const std::string key = absl::StrCat(c.write ? "write " : "read ", code);
    if (c.end <= stop_begin) {
      ++before[key];
    } else if (c.start >= stop_end && c.end <= start_begin) {
      ++outage[key];
      if (c.status.ok()) ++outage_ok;
    } else if (c.start >= start_end) {
      ++after[key];
    }
    if (!c.status.ok() && sample.count(code) == 0)
      sample[code] = c.status.error_message();
    longest = std::max(longest, c.end - c.start);
    switch (c.status.error_code()) {
      case grpc::StatusCode::OK:
        if (c.write) ok_writes.push_back(c.name);
        break;
      case grpc::StatusCode::UNAVAILABLE:
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        // Acceptable for a call in flight while PostgreSQL stopped.
        if (c.start < stop_end && c.end > stop_begin) {
          ++deadline_mid_flight;
        } else {
          bad.push_back(&c);
        }
        break;
      default:
        bad.push_back(&c);
    }
  }
  auto render = [](const std::map<std::string, int>& m) {
    return m.empty() ? std::string("none")
                     : absl::StrJoin(m, ", ", absl::PairFormatter("="));
  };
  std::cerr << "PostgreSQL stop took "
            << absl::FormatDuration(stop_end - stop_begin) << ", restart took "
            << absl::FormatDuration(start_end - start_begin)
            << "; health NOT_SERVING "
            << (not_serving_at
                    ? absl::FormatDuration(*not_serving_at - stop_end)
                    : std::string("never"))
            << " after the stop, SERVING "
            << (serving_at ? absl::FormatDuration(*serving_at - start_end)
                           : std::string("never"))
            << " and calls OK "
            << (calls_ok_at ? absl::FormatDuration(*calls_ok_at - start_end)
                            : std::string("never"))
            << " after the restart\n"
            << "calls before the stop: " << render(before)
            << "\ncalls during the outage: " << render(outage)
            << "\ncalls after the restart: " << render(after)
            << "\ncalls in flight while PostgreSQL stopped that hit their "
               "deadline: "
            << deadline_mid_flight
            << "\nlongest call: " << absl::FormatDuration(longest) << " of "
            << calls.size() << "\n";
  for (const auto& [code, message] : sample)
    std::cerr << "  e.g. " << code << ": " << message << "\n";

  EXPECT_GT(before["read OK"], 0) << "no read succeeded before the stop";
  EXPECT_GT(before["write OK"], 0) << "no write succeeded before the stop";
  EXPECT_GT(outage["read UNAVAILABLE"], 0)
      << "no read failed with UNAVAILABLE during the outage";
  EXPECT_GT(outage["write UNAVAILABLE"], 0)
      << "no write failed with UNAVAILABLE during the outage";
  EXPECT_EQ(outage_ok, 0) << "calls succeeded while PostgreSQL was down";
  // No call outlived its deadline (by more than a loaded machine's delay).
  EXPECT_LE(longest, kOutageCallDeadline + absl::Seconds(10));
  if (!bad.empty()) {
    const std::string log = server->ReadAccessLog();
    std::vector<std::string> lines;
    for (size_t i = 0; i < bad.size() && i < 20; ++i) {
      const Call& c = *bad[i];
      std::string server_side = "(not in the access log)";
      for (absl::string_view l : absl::StrSplit(log, '\n')) {
        if (absl::StrContains(
                l, absl::StrCat("\"request_id\":\"", c.request_id, "\""))) {
          server_side = std::string(l);
        }
      }
      lines.push_back(
          absl::StrCat(c.write ? "CreatePerson " : "GetState ", c.request_id,
                       " started ", since_stop(c.start), " ended ",
                       since_stop(c.end), " after the stop began -> ",
                       Describe(c.status), "\n    server side: ", server_side));
    }
    ADD_FAILURE() << bad.size()
                  << " calls failed with a code other than UNAVAILABLE (or "
                     "DEADLINE_EXCEEDED while PostgreSQL stopped); first "
                  << lines.size() << ":\n"
                  << absl::StrJoin(lines, "\n");
  }

  // Every acknowledged write, before, during or after the outage, is there.
  auto stub = v1::MembershipService::NewStub(channel);
  std::vector<std::string> missing;
  for (const std::string& name : ok_writes) {
    v1::Person got;
    grpc::Status s = GetPerson(stub.get(), name, &got);
    if (!s.ok()) missing.push_back(absl::StrCat(name, ": ", Describe(s)));
  }
  std::cerr << "acknowledged writes checked: " << ok_writes.size() << "\n";
  EXPECT_THAT(missing, IsEmpty()) << "acknowledged writes that are gone";
}

}  // namespace
}  // namespace cstopa::itest
