// The conformance cases every `Watch...` change stream of the suite must
// pass, written once for any service: the stream is the service's, the
// checks are the same. A service's integration test supplies two functions,
// one that opens its stream and one that makes its write number i:
//
//   WatchClient<v1::WatchMembershipResponse> client;
//   client.open = [](const std::shared_ptr<grpc::Channel>& channel,
//                    grpc::ClientContext* ctx, const std::string& token) {
//     v1::WatchMembershipRequest req;
//     req.set_resume_token(token);
//     return v1::MembershipService::NewStub(channel)->WatchMembership(ctx,
//                                                                     req);
//   };
//   client.write = [](int i, const std::shared_ptr<grpc::Channel>& channel) {
//     ... create persons/w<i> (or update the resource of write i - 1) ...
//     return changed_resource_name;  // "" when the write failed
//   };
//   ExpectConcurrentWatchersSeeEachWriteOnceInOrder(&server, client);
//
// and calls the cases (each inside ASSERT_NO_FATAL_FAILURE, or on its own in
// a TEST) against servers it started itself (ServerProcess), so that the
// options, seed and store stay the caller's.
//
// The Response type needs the accessors of the suite's watch responses:
// change_type() (4, CHANGE_TYPE_CHECKPOINT, for a checkpoint), resume_token(),
// sequence(), name() (empty on a checkpoint) and has_commit_time().
//
// The contract of `write`:
// - Each call makes exactly one committed change, to the resource whose
//   name it returns ("" when the write failed, which fails the case).
// - Writes come in blocks of kWatchWriteBlock consecutive numbers
//   (i / kWatchWriteBlock): the writes of one block run in increasing order
//   on one thread; blocks may run concurrently. A write may change a
//   resource an earlier write of its block changed (e.g. update what write
//   i - 1 created when i % kWatchWriteBlock != 0); writes of different
//   blocks must change different resources.
// - Numbers are distinct within one case, not across cases or runs: on a
//   shared database, put RunTag() (scratch_postgres.h) in the names.
#ifndef CSTOPA_TESTS_INTEGRATION_WATCH_CONFORMANCE_H_
#define CSTOPA_TESTS_INTEGRATION_WATCH_CONFORMANCE_H_

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/server_process.h"

namespace cstopa::itest {

// Opens a watch stream on `channel` after `resume_token` ("" = from now)
// with `ctx` (deadline already set). The harness keeps `channel` alive for
// as long as the stream lives, so a stub made here may go at once.
template <typename Response>
using OpenWatchFn =
    std::function<std::unique_ptr<grpc::ClientReaderInterface<Response>>(
        const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* ctx,
        const std::string& resume_token)>;

// Makes write number `i` through `channel`; returns the name of the
// resource it changed, "" when it failed (see the contract above).
using WatchWriteFn = std::function<std::string(
    int i, const std::shared_ptr<grpc::Channel>& channel)>;

// Writes per block (see the contract above).
inline constexpr int kWatchWriteBlock = 10;

template <typename Response>
struct WatchClient {
  OpenWatchFn<Response> open;
  WatchWriteFn write;
};

struct WatchConformanceOptions {
  // Writes of the concurrent cases (three watchers; two replicas).
  int writes = 300;
  // Threads writing blocks at once.
  int writers = 3;
  // How long a watcher may take to see every write: reached only when the
  // stream loses some.
  absl::Duration timeout = absl::Seconds(120);
};

// One watch stream, read on its own thread (the sync client API): every
// message is kept; changes (not checkpoints) are listed. The destructor
// cancels the stream and joins the thread.
template <typename Response>
class WatchReader {
 public:
  WatchReader(OpenWatchFn<Response> open,
              std::shared_ptr<grpc::Channel> channel, std::string resume_token,
              absl::Duration deadline = absl::Seconds(300))
      : channel_(std::move(channel)) {
    Prepare(&ctx_, "", deadline);
    thread_ = std::thread([this, open = std::move(open),
                           token = std::move(resume_token)] {
      std::unique_ptr<grpc::ClientReaderInterface<Response>> reader =
          open(channel_, &ctx_, token);
      Response msg;
      while (reader->Read(&msg)) {
        absl::MutexLock lock(&mu_);
        ++messages_;
        last_token_ = msg.resume_token();
        if (static_cast<int>(msg.change_type()) != 4) {  // not a checkpoint
          changes_.push_back(msg);
        } else {
          EXPECT_TRUE(msg.name().empty())
              << "a checkpoint names a resource: " << msg.ShortDebugString();
        }
      }
      grpc::Status s = reader->Finish();
      absl::MutexLock lock(&mu_);
      status_ = s;
      done_ = true;
    });
  }
  ~WatchReader() {
    ctx_.TryCancel();
    thread_.join();
  }

  WatchReader(const WatchReader&) = delete;
  WatchReader& operator=(const WatchReader&) = delete;

  // The first message (a checkpoint) arrived: the stream is registered, so
  // every write from now on is in it.
  bool WaitStarted(absl::Duration timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    auto cond = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return messages_ > 0 || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
    return messages_ > 0;
  }
  // At least `n` changes arrived (false when the stream ended or the time
  // ran out first).
  bool WaitForChanges(size_t n, absl::Duration timeout = absl::Seconds(120)) {
    absl::MutexLock lock(&mu_);
    auto cond = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return changes_.size() >= n || done_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
    return changes_.size() >= n;
  }
  // The stream ended (its status is status()).
  bool WaitDone(absl::Duration timeout = absl::Seconds(30)) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
    return done_;
  }
  void Cancel() { ctx_.TryCancel(); }

  std::vector<Response> changes() {
    absl::MutexLock lock(&mu_);
    return changes_;
  }
  // The token of the last message, change or checkpoint.
  std::string last_token() {
    absl::MutexLock lock(&mu_);
    return last_token_;
  }
  int messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::ClientContext ctx_;
  absl::Mutex mu_;
  int messages_ ABSL_GUARDED_BY(mu_) = 0;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  std::string last_token_ ABSL_GUARDED_BY(mu_);
  std::vector<Response> changes_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

namespace watch_conformance_internal {

// The (sequence, name) of each change.
template <typename Response>
std::vector<std::pair<int64_t, std::string>> Positions(
    const std::vector<Response>& got) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const Response& r : got) out.emplace_back(r.sequence(), r.name());
  return out;
}

}  // namespace watch_conformance_internal

// Checks (EXPECT) that the changes `got` are exactly the writes `written`
// (write number -> the name it returned), each once: as many changes as
// writes, dense sequence numbers, each with a token and a commit time, the
// k-th change of a resource where its k-th write is, and the writes of each
// block in their order. For a stream that started before the first write
// of `written` and saw nothing else.
template <typename Response>
void ExpectStreamHoldsWrites(const std::vector<Response>& got,
                             const std::map<int, std::string>& written) {
  EXPECT_EQ(got.size(), written.size())
      << "the stream has " << got.size() << " changes for " << written.size()
      << " writes";
  // Where each resource's k-th change is in the stream.
  std::map<std::string, std::vector<size_t>> at;
  for (size_t i = 0; i < got.size(); ++i) {
    if (i > 0) {
      EXPECT_EQ(got[i].sequence(), got[i - 1].sequence() + 1)
          << "gap or reorder at position " << i;
    }
    EXPECT_FALSE(got[i].resume_token().empty()) << "position " << i;
    EXPECT_TRUE(got[i].has_commit_time()) << "position " << i;
    EXPECT_FALSE(got[i].name().empty()) << got[i].ShortDebugString();
    at[got[i].name()].push_back(i);
  }
  std::map<std::string, size_t> seen;  // writes of each resource so far
  std::map<int, size_t> last_in_block;
  for (const auto& [i, name] : written) {  // in write-number order
    size_t k = seen[name]++;
    auto it = at.find(name);
    if (it == at.end() || k >= it->second.size()) {
      ADD_FAILURE() << "write " << i << " (" << name
                    << ") is missing from the stream";
      continue;
    }
    size_t pos = it->second[k];
    auto prev = last_in_block.find(i / kWatchWriteBlock);
    if (prev != last_in_block.end()) {
      EXPECT_GT(pos, prev->second)
          << "write " << i << " (" << name
          << ") comes before an earlier write of its block";
    }
    last_in_block[i / kWatchWriteBlock] = pos;
  }
  for (const auto& [name, positions] : at) {
    EXPECT_EQ(positions.size(), seen[name])
        << name << " changed " << seen[name] << " times but the stream has "
        << positions.size() << " changes of it";
  }
}

// Writes `count` numbers from `first` on: blocks (kWatchWriteBlock numbers)
// dealt round-robin to `writers` threads, the thread of block b writing
// through channel_of(b). Returns write number -> name; failed writes fail
// the test (ADD_FAILURE) and are left out.
inline std::map<int, std::string> WriteConcurrently(
    const WatchWriteFn& write, int first, int count, int writers,
    const std::function<std::shared_ptr<grpc::Channel>(int block)>&
        channel_of) {
  absl::Mutex mu;
  std::map<int, std::string> written;
  std::vector<std::thread> threads;
  const int first_block = first / kWatchWriteBlock;
  const int last_block = (first + count - 1) / kWatchWriteBlock;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      for (int b = first_block + t; b <= last_block; b += writers) {
        std::shared_ptr<grpc::Channel> channel = channel_of(b);
        for (int i = std::max(first, b * kWatchWriteBlock);
             i < std::min(first + count, (b + 1) * kWatchWriteBlock); ++i) {
          std::string name = write(i, channel);
          if (name.empty()) {
            ADD_FAILURE() << "write " << i << " failed";
            continue;
          }
          absl::MutexLock lock(&mu);
          written[i] = std::move(name);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return written;
}

// Writes `first` .. `first + count - 1` one after another through
// `channel`, into `written` (failures as WriteConcurrently).
inline void WriteInOrder(const WatchWriteFn& write, int first, int count,
                         const std::shared_ptr<grpc::Channel>& channel,
                         std::map<int, std::string>* written) {
  for (int i = first; i < first + count; ++i) {
    std::string name = write(i, channel);
    if (name.empty()) {
      ADD_FAILURE() << "write " << i << " failed";
      continue;
    }
    (*written)[i] = std::move(name);
  }
}

// (a) Three watchers started before `options.writes` writes made by
// `options.writers` concurrent writers each see every write exactly once,
// in an order that keeps each block's, and all in the same order.
template <typename Response>
void ExpectConcurrentWatchersSeeEachWriteOnceInOrder(
    ServerProcess* server, const WatchClient<Response>& client,
    WatchConformanceOptions options = {}) {
  std::vector<std::unique_ptr<WatchReader<Response>>> watchers;
  for (int i = 0; i < 3; ++i) {
    watchers.push_back(std::make_unique<WatchReader<Response>>(
        client.open, server->channel(), ""));
    ASSERT_TRUE(watchers.back()->WaitStarted())
        << Describe(watchers.back()->status());
  }
  std::shared_ptr<grpc::Channel> channel = server->channel();
  std::map<int, std::string> written =
      WriteConcurrently(client.write, 0, options.writes, options.writers,
                        [&](int) { return channel; });
  ASSERT_EQ(written.size(), static_cast<size_t>(options.writes));
  std::vector<std::pair<int64_t, std::string>> first;
  for (auto& w : watchers) {
    ASSERT_TRUE(w->WaitForChanges(written.size(), options.timeout))
        << w->changes().size() << " of " << written.size() << " changes; "
        << Describe(w->status());
    // Nothing more arrives than was written.
    absl::SleepFor(absl::Milliseconds(200));
    std::vector<Response> got = w->changes();
    ExpectStreamHoldsWrites(got, written);
    auto order = watch_conformance_internal::Positions(got);
    if (first.empty()) {
      first = order;
    } else {
      EXPECT_EQ(order, first) << "watchers disagree on the order";
    }
  }
}

// (b) A watcher holding a token when the server is stopped (SIGTERM) ends
// at once with UNAVAILABLE, reason SERVER_SHUTTING_DOWN, the server exits
// 0, and a watcher resuming with that token on the restarted server sees
// exactly the writes after it: those made before the stop, those made
// while no watcher was connected, and one made live. The server must keep
// its store across Restart (SQLite, the ServerProcess default).
template <typename Response>
void ExpectResumeAfterRestartSeesMissedWrites(
    ServerProcess* server, const WatchClient<Response>& client) {
  std::map<int, std::string> before, missed;
  std::string token;
  {
    WatchReader<Response> w(client.open, server->channel(), "");
    ASSERT_TRUE(w.WaitStarted()) << Describe(w.status());
    WriteInOrder(client.write, 0, 5, server->channel(), &before);
    ASSERT_TRUE(w.WaitForChanges(5)) << Describe(w.status());
    token = w.last_token();
    ASSERT_FALSE(token.empty());
    // Writes after the token the client keeps, then SIGTERM: the stream
    // ends at once (not at the drain deadline).
    WriteInOrder(client.write, 5, 3, server->channel(), &missed);
    ASSERT_TRUE(w.WaitForChanges(8)) << Describe(w.status());
    ExpectStreamHoldsWrites(w.changes(), [&] {
      std::map<int, std::string> all = before;
      all.insert(missed.begin(), missed.end());
      return all;
    }());
    ASSERT_TRUE(server->Signal(SIGTERM).ok());
    ASSERT_TRUE(w.WaitDone(absl::Seconds(15)))
        << "the stream outlived the server's drain";
    ExpectError(w.status(), grpc::StatusCode::UNAVAILABLE,
                "SERVER_SHUTTING_DOWN");
    auto exit = server->WaitForExit(absl::Seconds(15));
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_TRUE(exit->exited && exit->code == 0) << exit->ToString();
  }
  ASSERT_TRUE(server->Restart().ok()) << server->ReadStderr(4000);
  WriteInOrder(client.write, 8, 2, server->channel(), &missed);
  WatchReader<Response> w(client.open, server->channel(), token);
  ASSERT_TRUE(w.WaitStarted()) << Describe(w.status());
  WriteInOrder(client.write, 10, 1, server->channel(), &missed);  // live
  ASSERT_EQ(missed.size(), 6u);
  ASSERT_TRUE(w.WaitForChanges(missed.size())) << Describe(w.status());
  absl::SleepFor(absl::Milliseconds(200));
  std::vector<Response> got = w.changes();
  ExpectStreamHoldsWrites(got, missed);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().name(), missed.begin()->second)
      << "the resumed stream does not start after its token";
}

// (c) Two replicas on one PostgreSQL database, both started: a watcher on
// `a` sees the writes made concurrently through `b` (most) and `a`, each
// once, in one commit order without gaps; its last token then resumes on
// `b`, which delivers exactly the writes made (through `a`) while no
// watcher was connected.
template <typename Response>
void ExpectReplicaWatcherSeesWritesThroughOther(
    ServerProcess* a, ServerProcess* b, const WatchClient<Response>& client,
    WatchConformanceOptions options = {}) {
  auto on_a =
      std::make_unique<WatchReader<Response>>(client.open, a->channel(), "");
  ASSERT_TRUE(on_a->WaitStarted()) << Describe(on_a->status());
  std::shared_ptr<grpc::Channel> to_a = a->channel(), to_b = b->channel();
  // Two blocks in three go through B.
  std::map<int, std::string> written = WriteConcurrently(
      client.write, 0, options.writes, options.writers,
      [&](int block) { return block % 3 == 2 ? to_a : to_b; });
  ASSERT_EQ(written.size(), static_cast<size_t>(options.writes));
  ASSERT_TRUE(on_a->WaitForChanges(written.size(), options.timeout))
      << on_a->changes().size() << " of " << written.size() << " changes; "
      << Describe(on_a->status());
  absl::SleepFor(absl::Milliseconds(200));
  ExpectStreamHoldsWrites(on_a->changes(), written);

  // A's token resumes on B: the writes made while disconnected arrive.
  std::string token = on_a->last_token();
  on_a.reset();
  std::map<int, std::string> missed;
  const int next = (options.writes / kWatchWriteBlock + 1) * kWatchWriteBlock;
  WriteInOrder(client.write, next, kWatchWriteBlock, to_a, &missed);
  WatchReader<Response> on_b(client.open, to_b, token);
  ASSERT_TRUE(on_b.WaitForChanges(missed.size(), options.timeout))
      << Describe(on_b.status());
  absl::SleepFor(absl::Milliseconds(200));
  ExpectStreamHoldsWrites(on_b.changes(), missed);
}

// A damaged resume token ends the stream at once with INVALID_ARGUMENT,
// reason INVALID_RESUME_TOKEN, and a field violation on `resume_token`.
template <typename Response>
void ExpectDamagedResumeTokenIsInvalidArgument(
    ServerProcess* server, const WatchClient<Response>& client) {
  WatchReader<Response> w(client.open, server->channel(), "bm90LWEtdG9rZW4");
  ASSERT_TRUE(w.WaitDone()) << "the stream did not end";
  EXPECT_EQ(w.messages(), 0);
  Details d = ExpectError(w.status(), grpc::StatusCode::INVALID_ARGUMENT,
                          "INVALID_RESUME_TOKEN");
  ASSERT_TRUE(d.bad_request.has_value());
  EXPECT_EQ(d.bad_request->field_violations(0).field(), "resume_token");
}

}  // namespace cstopa::itest

#endif  // CSTOPA_TESTS_INTEGRATION_WATCH_CONFORMANCE_H_
