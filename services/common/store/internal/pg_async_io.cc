#include "services/common/store/internal/pg_async_io.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "services/common/store/internal/pg_codec.h"

namespace cstopa::common::pg {
namespace {

// A row of a batched statement as the row of its key's own statement
// (without the leading key column).
class KeyedRow : public SqlRow {
 public:
  explicit KeyedRow(const SqlRow* row) : row_(row) {}
  int size() const override { return row_->size() - 1; }
  bool IsNull(int column) const override { return row_->IsNull(column + 1); }
  int64_t Int(int column) const override { return row_->Int(column + 1); }
  absl::string_view Bytes(int column) const override {
    return row_->Bytes(column + 1);
  }
  SqlValue Value(int column) const override { return row_->Value(column + 1); }

 private:
  const SqlRow* row_;
};

absl::Status Closing() {
  return absl::UnavailableError("postgresql: the store is closing");
}

}  // namespace

absl::Time AsyncIo::Flight::NextTime() const {
  if (cancel_sent) return give_up;
  absl::Time next = absl::InfiniteFuture();
  for (const auto& q : queries) {
    if (q != nullptr) next = std::min(next, q->deadline);
  }
  return next;
}

AsyncIo::AsyncIo(ConnectionPool* pool, Options options)
    : pool_(pool), options_(options) {
  if (options_.completion_threads > 0)
    completions_ =
        std::make_unique<Executor>("pg_done", options_.completion_threads);
  pool_->set_release_hook([this] { OnRelease(); });
}

// ---------------------------------------------------------------------------
// Starting and stopping.

absl::Status AsyncIo::Start() {
  absl::MutexLock lock(&mu_);
  if (stop_) return Closing();
  if (thread_.joinable()) return absl::OkStatus();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up
  if (epoll_fd_ < 0 || wake_fd_ < 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    std::string err = std::generic_category().message(errno);
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    epoll_fd_ = wake_fd_ = -1;
    return absl::InternalError(
        absl::StrCat("postgresql: cannot start the I/O thread: ", err));
  }
  thread_ = std::thread([this] { Loop(); });
  // Named for profiles and thread listings (at most 15 characters).
  pthread_setname_np(thread_.native_handle(), "pg_io");
  thread_id_ = thread_.get_id();
  return absl::OkStatus();
}

void AsyncIo::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (!thread_.joinable()) return;
    Wake();
  }
  thread_.join();  // the loop failed what was left
  if (completions_) completions_->Stop();
  absl::MutexLock lock(&mu_);
  close(epoll_fd_);
  close(wake_fd_);
  epoll_fd_ = wake_fd_ = -1;
}

void AsyncIo::Wake() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void AsyncIo::OnRelease() {
  absl::MutexLock lock(&mu_);
  // A waiting read can have the connection. The I/O thread itself starts
  // waiting reads after every event anyway.
  if (!pending_.empty() && std::this_thread::get_id() != thread_id_) Wake();
}

AsyncIo::Stats AsyncIo::stats() const {
  absl::MutexLock lock(&mu_);
  return {pending_.size(), statements_, reads_};
}

// ---------------------------------------------------------------------------
// Sending.

void AsyncIo::Submit(std::unique_ptr<AsyncQuery> q) {
  if (absl::Now() >= q->deadline) {
    q->done(DeadlinePassed());
    return;
  }
  if (absl::Status s = Start(); !s.ok()) {
    q->done(std::move(s));
    return;
  }
  ConnectionPool::Claim claim;
  {
    absl::MutexLock lock(&mu_);
    // Reads already waiting go first.
    if (!pending_.empty() || !(claim = pool_->TryClaim()).found()) {
      q->queued = absl::Now();
      // The I/O thread sends it when a connection frees up (it learns of
      // every release); it must wake up early only to fail it in time. A
      // wake-up per read costs a context switch each.
      if (std::min(q->deadline, q->queued + pool_->timeout()) < wakes_at_)
        Wake();
      pending_.push_back(std::move(q));
      return;
    }
  }
  Connection* c = claim.idle;
  if (claim.open) {
    auto opened = pool_->Open();
    if (!opened.ok()) {
      q->done(opened.status());
      return;
    }
    c = *opened;
  }
  std::vector<std::unique_ptr<AsyncQuery>> one;
  one.push_back(std::move(q));
  Launch(c, std::move(one));
}

// Sends the statement answering `queries` (one read, or several reads of one
// KeyedQuery) on `c`, idle and taken from the pool, and hands it to the I/O
// thread; on failure gives the connection back and reports.
void AsyncIo::Launch(Connection* c,
                     std::vector<std::unique_ptr<AsyncQuery>> queries) {
  auto f = std::make_unique<Flight>();
  f->conn = c;
  const AsyncQuery& first = *queries[0];
  // Several keyed reads: one `= ANY` statement. Several plain reads are the
  // same statement (StartPending gathers only identical ones): sent once.
  f->batch = queries.size() > 1 && first.keyed != nullptr;
  SqlValues keyed_params;  // the key, or the array of keys
  if (f->batch) {
    f->sql = first.keyed->batch_sql;
    std::vector<absl::string_view> keys;
    keys.reserve(queries.size());
    for (const auto& q : queries) keys.push_back(q->key);
    keyed_params.push_back(TextArrayLiteral(keys));
  } else if (first.keyed != nullptr) {
    f->sql = first.keyed->sql;
    keyed_params.push_back(first.key);
  } else {
    f->sql = first.sql;
  }
  const SqlValues& params =
      first.keyed != nullptr ? keyed_params : first.params;
  if (absl::Status s = c->Send(f->sql, params); !s.ok()) {
    pool_->Release(c);
    for (auto& q : queries) q->done(s);
    return;
  }
  f->queries = std::move(queries);
  f->fd = c->socket();
  Flight* raw = f.get();
  int watch_error = 0;
  {
    absl::MutexLock lock(&mu_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = raw;
    // Under mu_: the I/O thread cannot see the answer before the flight is
    // in in_flight_.
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, raw->fd, &ev) == 0) {
      // The I/O thread must wake up for this deadline if it would not.
      if (raw->NextTime() < wakes_at_) Wake();
      ++statements_;
      reads_ += raw->queries.size();
      in_flight_.emplace(raw, std::move(f));
      return;
    }
    watch_error = errno;
  }
  c->Close();  // a statement is in flight on it
  pool_->Release(c);
  absl::Status error = absl::InternalError(
      absl::StrCat("postgresql: cannot watch a connection: ",
                   std::generic_category().message(watch_error)));
  for (auto& q : f->queries) q->done(error);
}

// ---------------------------------------------------------------------------
// The I/O thread.

void AsyncIo::Loop() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (true) {
    int timeout_ms = -1;
    int wake_fd = -1;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) break;
      timeout_ms = TimeoutMs();
      wake_fd = wake_fd_;
    }
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        uint64_t count;
        (void)!read(wake_fd, &count, sizeof count);
        continue;
      }
      OnReadable(static_cast<Flight*>(events[i].data.ptr));
    }
    ExpireAndStart();
  }
  // Closing: whatever is left fails.
  std::vector<std::unique_ptr<Flight>> flights;
  std::deque<std::unique_ptr<AsyncQuery>> waiting;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [raw, f] : in_flight_) flights.push_back(std::move(f));
    in_flight_.clear();
    waiting.swap(pending_);
  }
  for (auto& f : flights) {
    (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, f->fd, nullptr);
    f->conn->Close();
    pool_->Release(f->conn);
    for (auto& q : f->queries) {
      if (q != nullptr) q->done(Closing());
    }
  }
  for (auto& q : waiting) q->done(Closing());
}

// Milliseconds until the next deadline of a read (-1: none).
int AsyncIo::TimeoutMs() {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [raw, f] : in_flight_) next = std::min(next, f->NextTime());
  for (const auto& q : pending_) {
    next = std::min({next, q->deadline, q->queued + pool_->timeout()});
  }
  wakes_at_ = next;
  if (next == absl::InfiniteFuture()) return -1;
  absl::Duration left = next - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
      60000));
}

// Reads what arrived for `f`; reports once its answer is complete.
void AsyncIo::OnReadable(Flight* f) {
  absl::StatusOr<bool> complete = f->conn->Receive();
  if (!complete.ok()) {
    Finish(f, complete.status(), /*close_connection=*/false);
  } else if (*complete) {
    Finish(f, absl::OkStatus(), /*close_connection=*/false);
  }
}

// Ends a flight: runs the row callbacks over its answer (when `status`, the
// connection's, is OK), gives the connection back (closed first when
// `close_connection`), then reports to each read still waiting.
void AsyncIo::Finish(Flight* raw, absl::Status status, bool close_connection) {
  // Before any close: a closed descriptor's number may be reused at once by
  // another thread's new connection, whose watch this must not remove.
  (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, raw->fd, nullptr);
  std::unique_ptr<Flight> f;
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(raw);
    if (it == in_flight_.end()) return;
    f = std::move(it->second);
    in_flight_.erase(it);
  }
  if (close_connection) f->conn->Close();
  std::vector<absl::Status> results(f->queries.size(), status);
  const bool delivered = !status.ok() || Deliver(*f, results);
  pool_->Release(f->conn);
  if (!delivered) {
    // The batched statement failed as a statement (a key the server
    // refused, say): one read must not fail the others, so each is sent
    // again on its own, first in line.
    absl::MutexLock lock(&mu_);
    for (auto it = f->queries.rbegin(); it != f->queries.rend(); ++it) {
      if (*it == nullptr) continue;
      (*it)->alone = true;
      pending_.push_front(std::move(*it));
    }
    return;  // ExpireAndStart sends them
  }
  auto report = [queries = std::move(f->queries),
                 results = std::move(results)]() mutable {
    for (size_t i = 0; i < queries.size(); ++i) {
      if (queries[i] != nullptr) queries[i]->done(std::move(results[i]));
    }
  };
  if (completions_) {
    completions_->Run(std::move(report));
  } else {
    report();
  }
}

// For each read of a shared statement, the read whose outcome it copies:
// the first live read of its share kind and key (itself if it is that
// read, or shares nothing).
std::vector<size_t> AsyncIo::Leaders(
    const std::vector<std::unique_ptr<AsyncQuery>>& queries) {
  std::vector<size_t> leader(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    leader[i] = i;
    const AsyncQuery* q = queries[i].get();
    if (q == nullptr || q->share.kind == nullptr || !q->share.adopt) continue;
    for (size_t j = 0; j < i; ++j) {
      const AsyncQuery* p = queries[j].get();
      if (p != nullptr && leader[j] == j && p->share.kind == q->share.kind &&
          p->share.key == q->share.key) {
        leader[i] = j;
        break;
      }
    }
  }
  return leader;
}

// Runs the row callbacks of `f`'s reads over its answer, leaving each read's
// outcome in `results`. False when a batched statement failed as a statement
// (not for want of a connection or time): then nothing ran.
bool AsyncIo::Deliver(Flight& f, std::vector<absl::Status>& results) {
  if (absl::Status answer = f.conn->AnswerStatus(); !answer.ok()) {
    if (f.batch && answer.code() != absl::StatusCode::kUnavailable &&
        answer.code() != absl::StatusCode::kDeadlineExceeded) {
      return false;
    }
    for (absl::Status& r : results) r = answer;
    return true;
  }
  if (!f.batch) {
    // One read, or identical reads that shared the statement: every row to
    // each (null: answered early) that does not copy another's outcome; a
    // read's error stops only that read.
    const std::vector<size_t> leader = Leaders(f.queries);
    absl::Status read = f.conn->ForEachRow([&](const SqlRow& row) {
      for (size_t i = 0; i < f.queries.size(); ++i) {
        AsyncQuery* q = f.queries[i].get();
        if (q != nullptr && leader[i] == i && results[i].ok())
          results[i] = q->on_row(row);
      }
      return absl::OkStatus();
    });
    if (!read.ok()) {
      for (absl::Status& r : results) r = read;
      return true;
    }
    for (size_t i = 0; i < f.queries.size(); ++i) {
      const size_t l = leader[i];
      if (l == i || f.queries[i] == nullptr) continue;
      results[i] = results[l].ok()
                       ? f.queries[i]->share.adopt(f.queries[l]->share.outcome)
                       : results[l];
    }
    return true;
  }
  // Which reads asked for each key (a key may be asked for more than once).
  absl::flat_hash_map<absl::string_view, std::vector<size_t>> by_key;
  for (size_t i = 0; i < f.queries.size(); ++i) {
    if (f.queries[i] != nullptr) by_key[f.queries[i]->key].push_back(i);
  }
  absl::Status read = f.conn->ForEachRow([&](const SqlRow& row) {
    auto it = by_key.find(row.Bytes(0));
    if (it == by_key.end()) return absl::OkStatus();
    KeyedRow keyed(&row);
    for (size_t i : it->second) {
      if (results[i].ok()) results[i] = f.queries[i]->on_row(keyed);
    }
    return absl::OkStatus();  // a read's error stops only that read
  });
  if (!read.ok()) {
    for (absl::Status& r : results) r = read;
  }
  return true;
}

// Answers reads whose deadline passed (their statement keeps running for
// the others; one with nobody left waiting is cancelled on the server, and
// its connection closed if the cancel is not answered in time), fails
// waiting reads past their deadline or the pool's timeout, and sends
// waiting reads on free connections.
void AsyncIo::ExpireAndStart() {
  const absl::Time now = absl::Now();
  std::vector<Flight*> due;
  std::vector<std::pair<std::unique_ptr<AsyncQuery>, absl::Status>> failed;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [raw, f] : in_flight_) {
      if (now >= f->NextTime()) due.push_back(raw);
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (now >= (*it)->deadline) {
        failed.emplace_back(std::move(*it), DeadlinePassed());
      } else if (now >= (*it)->queued + pool_->timeout()) {
        failed.emplace_back(std::move(*it), pool_->Exhausted());
      } else {
        ++it;
        continue;
      }
      it = pending_.erase(it);
    }
  }
  for (Flight* f : due) {
    if (f->cancel_sent) {
      Finish(f,
             absl::DeadlineExceededError(
                 "postgresql: the server did not answer a cancel request; "
                 "the connection was closed"),
             /*close_connection=*/true);
      continue;
    }
    bool waiting = false;
    for (auto& q : f->queries) {
      if (q != nullptr && now >= q->deadline) {
        failed.emplace_back(std::move(q), DeadlinePassed());
        q = nullptr;
      }
      waiting |= q != nullptr;
    }
    if (!waiting) {
      // Answered with SQLSTATE 57014, which nobody reads now.
      f->conn->Cancel();
      f->cancel_sent = true;
      f->give_up = now + options_.cancel_grace;
    }
  }
  for (auto& [q, status] : failed) q->done(std::move(status));
  StartPending();
}

// Sends waiting reads while connections are free: a keyed read with the
// other waiting reads of its KeyedQuery, a plain one with the other waiting
// reads of the very same statement and parameters (many clients asking for
// the same page): one statement answers them all. Each read's statement
// still starts after the read was asked for, so it sees every write
// acknowledged before.
void AsyncIo::StartPending() {
  while (true) {
    std::vector<std::unique_ptr<AsyncQuery>> batch;
    ConnectionPool::Claim claim;
    {
      absl::MutexLock lock(&mu_);
      if (pending_.empty() || !(claim = pool_->TryClaim()).found()) return;
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
      const AsyncQuery& first = *batch[0];
      if (!first.alone) {
        auto joins = [&first](const AsyncQuery& q) {
          if (q.alone || q.keyed != first.keyed) return false;
          return first.keyed != nullptr ||
                 (q.sql == first.sql && q.params == first.params);
        };
        for (auto it = pending_.begin();
             it != pending_.end() && batch.size() < options_.max_batch;) {
          if (joins(**it)) {
            batch.push_back(std::move(*it));
            it = pending_.erase(it);
          } else {
            ++it;
          }
        }
      }
    }
    Connection* c = claim.idle;
    if (claim.open) {
      auto opened = pool_->Open();
      if (!opened.ok()) {
        // The server cannot be reached: the waiting reads would wait for the
        // same answer one connect_timeout after another.
        std::deque<std::unique_ptr<AsyncQuery>> rest;
        {
          absl::MutexLock lock(&mu_);
          rest.swap(pending_);
        }
        for (auto& q : batch) q->done(opened.status());
        for (auto& q : rest) q->done(opened.status());
        return;
      }
      c = *opened;
    }
    Launch(c, std::move(batch));
  }
}

}  // namespace cstopa::common::pg
