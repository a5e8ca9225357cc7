// The asynchronous reads of the PostgreSQL back end (Database::QueryOnceAsync
// and QueryKeyAsync, what the services' Get handlers use), sent without
// parking a thread on the round trip.
//
// Submit sends a read at once, from the calling thread, when the pool has a
// free connection; otherwise the read waits in a queue, without a thread.
// One I/O thread ("pg_io", started with the first read) waits with epoll on
// the sockets of the connections with a statement in flight, on an eventfd
// that wakes it, and on the earliest deadline; it reads the answers, runs
// the callbacks and gives the connections back. When a connection frees up
// it sends the first waiting read together with every other waiting read of
// the same KeyedQuery (up to max_batch) as one `= ANY(array)` statement, and
// hands each read the rows of its key; a batch the server refuses as a
// whole (one bad key) is sent again read by read. Waiting plain reads of
// the very same statement and parameters (the same page asked for by many
// clients) are sent once, and each gets every row; reads that say how
// (AsyncQuery::share) also share the work on the rows: one read's row
// callback runs, the others copy its outcome. The outcomes are reported
// (`done`) on completion_threads, off the I/O thread, so that finishing a
// gRPC call never holds up the next answer.
//
// A read whose deadline passes is answered DEADLINE_EXCEEDED at once; a
// statement nobody waits for any more is cancelled on the server, and its
// connection closed if the server does not answer within cancel_grace. A
// read that waits longer than the pool's timeout fails with the pool's
// Exhausted(). Stop (or destruction) fails whatever is still waiting or in
// flight with UNAVAILABLE.
//
//   AsyncIo io(&pool);
//   auto q = std::make_unique<AsyncQuery>();
//   q->sql = "SELECT v FROM t WHERE id = ?";
//   q->params = {int64_t{7}};
//   q->on_row = [](const SqlRow& row) { ...; return absl::OkStatus(); };
//   q->done = [](absl::Status s) { ... };
//   io.Submit(std::move(q));
#ifndef CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_ASYNC_IO_H_
#define CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_ASYNC_IO_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/base/executor.h"
#include "services/common/base/sql_value.h"
#include "services/common/store/internal/pg_connection.h"
#include "services/common/store/internal/pg_pool.h"
#include "services/common/store/sql.h"

namespace cstopa::common::pg {

// One asynchronous read: `sql` bound to `params`, or `keyed`'s read of `key`.
struct AsyncQuery {
  std::string sql;   // unless keyed
  SqlValues params;  // unless keyed
  const KeyedQuery* keyed = nullptr;
  std::string key;  // if keyed
  absl::Time deadline = absl::InfiniteFuture();
  RowCallback on_row;   // for each row of the answer
  StatusCallback done;  // exactly once, with the outcome
  // Identical plain reads sharing a statement run `on_row` once per kind and
  // key; the others adopt that read's outcome.
  SharedRead share;

  // AsyncIo's own bookkeeping.
  absl::Time queued = absl::InfiniteFuture();  // when it started waiting
  bool alone = false;  // never batched (its batch failed once)
};

class AsyncIo {
 public:
  struct Options {
    // How long a cancelled statement may take to answer before its
    // connection is closed.
    absl::Duration cancel_grace = absl::Seconds(5);
    // Most reads one batched or shared statement answers.
    size_t max_batch = 64;
    // Threads that report outcomes (run `done`); 0: the I/O thread does.
    int completion_threads = 0;
  };

  // Takes its connections from `pool`, which must outlive it, and installs
  // itself as the pool's release hook.
  AsyncIo(ConnectionPool* pool, Options options);
  explicit AsyncIo(ConnectionPool* pool) : AsyncIo(pool, Options()) {}
  ~AsyncIo() { Stop(); }
  AsyncIo(const AsyncIo&) = delete;
  AsyncIo& operator=(const AsyncIo&) = delete;

  // Sends `q` or queues it. Its `done` may run before this returns (a
  // deadline already past, a connection that cannot be opened), else on the
  // I/O thread or a completion thread; `on_row` and `share.adopt` run on the
  // I/O thread.
  void Submit(std::unique_ptr<AsyncQuery> q);

  // Fails the reads waiting or in flight with UNAVAILABLE ("the store is
  // closing") and joins the I/O thread. Reads submitted afterwards fail the
  // same way.
  void Stop();

  // For the store's gauges.
  struct Stats {
    size_t waiting = 0;       // reads queued for a connection
    uint64_t statements = 0;  // statements sent since the start
    uint64_t reads = 0;       // reads those statements answered
  };
  Stats stats() const;

 private:
  // One statement in flight on a connection and the reads it answers.
  struct Flight {
    Connection* conn = nullptr;
    int fd = -1;
    std::string sql;  // as sent
    bool batch = false;
    // Null once a read was answered early (its deadline passed).
    std::vector<std::unique_ptr<AsyncQuery>> queries;
    bool cancel_sent = false;
    absl::Time give_up = absl::InfiniteFuture();  // after the cancel

    // When the next read's deadline passes or, with none left waiting,
    // when to stop waiting for the cancelled statement.
    absl::Time NextTime() const;
  };

  absl::Status Start();
  void Wake() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnRelease();
  void Launch(Connection* c, std::vector<std::unique_ptr<AsyncQuery>> queries);
  void Loop();
  int TimeoutMs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnReadable(Flight* f);
  void Finish(Flight* raw, absl::Status status, bool close_connection);
  static bool Deliver(Flight& f, std::vector<absl::Status>& results);
  static std::vector<size_t> Leaders(
      const std::vector<std::unique_ptr<AsyncQuery>>& queries);
  void ExpireAndStart();
  void StartPending();

  ConnectionPool* const pool_;
  const Options options_;
  std::unique_ptr<Executor> completions_;

  mutable absl::Mutex mu_;
  std::thread thread_;
  std::thread::id thread_id_ ABSL_GUARDED_BY(mu_);
  int epoll_fd_ = -1;
  int wake_fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // When the I/O thread's wait ends by itself (recomputed before every
  // wait); a read due earlier must wake it.
  absl::Time wakes_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::deque<std::unique_ptr<AsyncQuery>> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t statements_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
  // Statements in flight (keys, owned by the values). Added by whichever
  // thread sends; only the I/O thread changes or removes one once it is
  // here.
  absl::flat_hash_map<Flight*, std::unique_ptr<Flight>> in_flight_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace cstopa::common::pg

#endif  // CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_ASYNC_IO_H_
