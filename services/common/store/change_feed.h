// A change log and watcher hub: the machinery behind `Watch...` streams.
//
// Every write of a watched collection appends one row to a change table in
// the same transaction (Append, called from ResourceSpec::on_write), so a
// change is logged exactly when, and only if, the write commits. Each
// process runs ONE poller thread per feed (never one per watcher or per call)
// that reads the rows after the newest it has seen and hands them to the
// registered watchers, one message at a time.
//
// Ordering across replicas (PostgreSQL). Sequence numbers must be visible in
// the order they are allocated, or a poller that has seen seq 7 could later
// miss a seq 6 committed after it. Append therefore takes a transaction-
// scoped advisory lock (pg_advisory_xact_lock(lock_key)) and then allocates
// MAX(seq) + 1: the lock is held until the transaction commits or rolls
// back, so the writers of one feed commit one after another in seq order,
// and seqs are dense (no gaps; a rolled-back allocation is reused). Any
// reader on any replica that sees seq n has therefore already been able to
// see every seq below n, so "rows with seq > last seen" never skips one. The
// cost is that writes of one feed are serialized across replicas (only the
// end of each transaction; the lock is the last thing a write takes, so it
// cannot deadlock with row locks). On SQLite writes are serialized anyway.
//
// Other replicas' writes are found by polling (every poll_interval, 50 ms by
// default: one index probe on the primary key per replica); local writes
// wake the poller at once (Notify). LISTEN/NOTIFY was not chosen: it needs a
// dedicated connection outside the store's pool, notifications are lost
// while that connection is down so a poll is needed as a fallback anyway,
// and the ordering guarantee above still has to come from the sequence.
//
// Delivery and memory. Watchers pull: a watcher gets one change (OnChange),
// sends it, and asks for the next (Ready). Recent changes sit in one shared
// ring buffer (buffer_size); a watcher further behind (resuming from an old
// token) reads pages of page_size rows from the store at its own pace. The
// server thus holds at most one page per watcher, however slow its client.
// A watcher that had caught up and then falls more than max_lag changes
// behind the newest is ended with RESOURCE_EXHAUSTED (reason
// WATCHER_TOO_SLOW); it resumes from its last token, and nothing is lost.
//
// Tokens are PageTokenCodec tokens (HMAC-signed, so tamper-evident) bound to
// the feed's token_scope and carrying the seq of the last change sent. A
// damaged or foreign token is INVALID_ARGUMENT (INVALID_RESUME_TOKEN). Rows
// older than `retention` are pruned (the newest row is always kept, so seqs
// never restart); a token whose next change was pruned is OUT_OF_RANGE
// (RESUME_TOKEN_EXPIRED): the client must restart from a List.
//
// The change table, created by the service's migrations (both dialects):
//   CREATE TABLE <table> (seq BIGINT PRIMARY KEY, kind INTEGER NOT NULL,
//     name TEXT NOT NULL, data BLOB/BYTEA NOT NULL, commit_time BIGINT NOT
//     NULL);
//
//   ChangeFeed feed(db, &page_tokens, {.table = "event_changes", ...});
//   // in the write transaction:  feed.Append(tx, kind, name, bytes, time);
//   // after it commits:          feed.Notify();
//   // a stream:                  auto id = feed.Watch(token, watcher);
#ifndef CSTOPA_SERVICES_COMMON_STORE_CHANGE_FEED_H_
#define CSTOPA_SERVICES_COMMON_STORE_CHANGE_FEED_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/query/paging.h"
#include "services/common/store/sql.h"

namespace cstopa::common {

// What a change did. The numbers are stored.
enum class ChangeKind : int {
  kCreated = 1,
  kUpdated = 2,
  kDeleted = 3,
  kCheckpoint = 4,  // not stored: a position without a change
};

// One logged change, or a checkpoint (kind kCheckpoint, seq = the position).
struct Change {
  int64_t seq = 0;
  ChangeKind kind = ChangeKind::kCheckpoint;
  std::string name;         // the resource name
  std::string data;         // the serialized resource after the change
  int64_t commit_time = 0;  // microseconds since the epoch
};

// Which changes a watcher wants: those of resources in `collections` (the
// collection ID a name ends in: "persons" for persons/x, "delegations" for
// parliaments/p/delegations/d), or of the one resource `name`; both empty:
// every change. Both set: a change must satisfy both. Checkpoints are
// always sent, so a filtered stream's token keeps advancing past the
// changes it skipped.
struct ChangeFilter {
  std::vector<std::string> collections;
  std::string name;

  bool empty() const { return collections.empty() && name.empty(); }
  bool Matches(absl::string_view resource_name) const;
};

// The collection ID of a resource name: its next-to-last segment
// ("delegations" for "parliaments/p/delegations/d"); "" for a name with
// fewer than two segments.
absl::string_view CollectionOf(absl::string_view resource_name);

struct ChangeFeedOptions {
  std::string table;        // the change table (trusted SQL identifier)
  int64_t lock_key = 0;     // PostgreSQL advisory lock key of this feed
  std::string token_scope;  // binds resume tokens to this feed
  absl::Duration poll_interval = absl::Milliseconds(50);
  absl::Duration retention = absl::Hours(24 * 7);
  absl::Duration prune_interval = absl::Minutes(1);
  // A quiet stream gets a checkpoint this often.
  absl::Duration checkpoint_interval = absl::Seconds(30);
  int64_t max_lag = 10000;
  int buffer_size = 4096;
  int page_size = 128;
};

class ChangeFeed {
 public:
  // One stream. The feed calls OnChange once, then not again until the
  // watcher calls Ready(); OnEnd at most once, only while no OnChange is
  // outstanding (the watcher is Ready or never got one), after which the
  // feed forgets the watcher. Calls come from the feed's thread (or from
  // Shutdown's caller) and never concurrently for one watcher.
  class Watcher {
   public:
    virtual ~Watcher() = default;
    virtual void OnChange(const Change& change, const std::string& token) = 0;
    virtual void OnEnd(const absl::Status& status) = 0;
  };

  // Starts the poller thread. `db` and `tokens` must outlive the feed.
  ChangeFeed(Database* db, const PageTokenCodec* tokens,
             ChangeFeedOptions options);
  // Stops the thread. Watchers still registered are forgotten without a
  // call (a server destroys the feed after its calls are done; Shutdown
  // ends streams before that).
  ~ChangeFeed();

  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Inside a write transaction: logs a change with the next seq. Must be the
  // last statement that takes locks in the transaction (see above).
  absl::Status Append(SqlTransaction& tx, ChangeKind kind,
                      absl::string_view name, absl::string_view data,
                      int64_t commit_time);
  // After a write committed: the poller looks at once.
  void Notify();

  // Registers `watcher` to receive the changes after `resume_token` ("" =
  // from now), starting with a checkpoint. INVALID_ARGUMENT for a damaged
  // token, OUT_OF_RANGE for an expired one, UNAVAILABLE after Shutdown or
  // when the store cannot be read. Returns the watcher's id. Changes that
  // `filter` rejects are skipped (the watcher's position moves past them).
  absl::StatusOr<uint64_t> Watch(absl::string_view resume_token,
                                 Watcher* watcher, ChangeFilter filter = {});
  // The watcher has sent its last change and wants the next.
  void Ready(uint64_t id);
  // Forgets a watcher (its client went away); no OnEnd. When it returns the
  // feed no longer calls the watcher. Unknown ids are ignored. Must not be
  // called from inside OnChange/OnEnd.
  void Cancel(uint64_t id);
  // Ends every watcher with `status` (each as soon as its outstanding
  // message is sent) and refuses new ones. For server drain.
  void Shutdown(const absl::Status& status);

  // Inside a read transaction: the seq of the newest change `tx` sees (0
  // when none). With TokenFor, the point a snapshot read in `tx` resumes
  // from: every change after it is a write the snapshot does not hold.
  absl::StatusOr<int64_t> HeadIn(SqlTransaction& tx) const;

  // The token that resumes after `seq`, and back.
  std::string TokenFor(int64_t seq) const;
  absl::StatusOr<int64_t> ParseToken(absl::string_view token) const;

  // Deletes changes older than the retention (keeping the newest); returns
  // how many. The poller calls it every prune_interval.
  absl::StatusOr<int64_t> Prune(absl::Time now);

  // For tests and metrics.
  size_t watcher_count() const;
  int64_t head() const;

 private:
  struct Sub {
    Watcher* watcher = nullptr;
    int64_t after = 0;           // seq of the last change handed over
    bool ready = true;           // no OnChange outstanding
    bool live = false;           // has caught up with the head once
    bool sent_any = false;       // the first checkpoint went out
    absl::Time last_sent;        // for quiet-stream checkpoints
    std::deque<Change> backlog;  // catch-up rows read from the store
    absl::Status doom;           // when not OK: end at the next chance
    ChangeFilter filter;         // changes it wants
  };
  struct Delivery {
    uint64_t id;
    Watcher* watcher;
    Change change;
    bool end = false;
    absl::Status status;
  };

  void Run();
  absl::Status Poll();
  // Rows with seq > after, at most `limit`, in seq order.
  absl::StatusOr<std::vector<Change>> ReadAfter(int64_t after, int limit);
  absl::StatusOr<std::pair<int64_t, int64_t>> Bounds();
  void Dispatch();
  void Deliver(std::vector<Delivery>& out);

  Database* db_;
  const PageTokenCodec* tokens_;
  const ChangeFeedOptions options_;
  std::string token_fingerprint_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status shutdown_status_ ABSL_GUARDED_BY(mu_);
  int64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t ring_floor_ ABSL_GUARDED_BY(mu_) = 0;  // ring covers (floor, head]
  std::deque<Change> ring_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Sub> subs_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t delivering_ ABSL_GUARDED_BY(mu_) = 0;  // id in a callback, or 0
  bool started_ ABSL_GUARDED_BY(mu_) = false;     // head_ read from store
  absl::Time next_prune_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_STORE_CHANGE_FEED_H_
