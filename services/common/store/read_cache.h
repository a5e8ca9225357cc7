// Answers of recent reads, kept as the bytes sent, until the record changes.
//
// A read-mostly record is asked the same things again and again (a state, a
// person, the first page of a list); each answer costs a store transaction
// (on SQLite a file lock, on PostgreSQL a round trip), decoding, the fields
// computed for the day, and encoding. A ReadCache keeps the encoded answer
// under a key the caller makes of everything the answer depends on, and
// serves it again while no write has committed since it was read:
//
//   const uint64_t generation = cache.generation();  // BEFORE the read
//   std::string bytes;
//   if (cache.Find(key, &bytes)) return call.FinishSerialized(bytes);
//   ... read in a transaction, build the answer, encode it to `bytes` ...
//   cache.Put(key, generation, bytes);  // kept only if nothing was written
//
// The generation is the Database's (store/sql.h): it moves after every write
// transaction this process runs, before the write returns to its caller, and
// when a change feed sees rows another replica committed (PostgreSQL; within
// the feed's poll interval, 50 ms by default, as watchers see them). An
// answer read at generation g is kept only while the generation is still g,
// so a caller whose write was acknowledged never reads an older answer from
// this process. Entries also expire after `max_age` (a bound for what no
// feed reports), and the cache holds at most `max_bytes` (when full, it
// starts again empty). Keys must name the method, the request's every field
// that shapes the answer, and the day of fields computed for a day; answers
// must not depend on the caller (the preferred languages of a response are
// applied after the cache, to the bytes). Thread-safe.
#ifndef CSTOPA_SERVICES_COMMON_STORE_READ_CACHE_H_
#define CSTOPA_SERVICES_COMMON_STORE_READ_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cstopa::common {

struct ReadCacheOptions {
  // The most bytes of answers (and keys) kept; 0 turns the cache off.
  size_t max_bytes = size_t{64} << 20;
  // How long an answer is served at most, even with no change seen.
  absl::Duration max_age = absl::Seconds(5);
};

class ReadCache {
 public:
  explicit ReadCache(ReadCacheOptions options = {}) : options_(options) {}

  ReadCache(const ReadCache&) = delete;
  ReadCache& operator=(const ReadCache&) = delete;

  bool enabled() const { return options_.max_bytes > 0; }
  void set_options(ReadCacheOptions options);

  // The generation now: read it before the read whose answer is Put.
  uint64_t generation() const {
    return generation_.load(std::memory_order_acquire);
  }
  // Something was written: every answer kept so far is dropped.
  void Invalidate() { generation_.fetch_add(1, std::memory_order_acq_rel); }

  // Copies the answer kept for `key` into `bytes`; false when there is none
  // of the current generation and age.
  bool Find(absl::string_view key, std::string* bytes) const;
  // Keeps `bytes` for `key` if the generation is still `generation`.
  void Put(absl::string_view key, uint64_t generation, absl::string_view bytes);

  // The steps above for one read: Lookup takes the generation, then finds
  // the answer kept for `key` (true, `bytes` filled); on a miss the read
  // runs and Keep puts its answer. A slot whose key is empty (the cache is
  // off) keeps nothing.
  //
  //   ReadCache::Slot slot;
  //   if (cache.Lookup(key, &slot, &bytes)) return call.FinishSerialized(...);
  //   ... read, encode to `bytes` ...
  //   cache.Keep(slot, bytes);
  struct Slot {
    std::string key;
    uint64_t generation = 0;
  };
  bool Lookup(std::string key, Slot* slot, std::string* bytes);
  void Keep(const Slot& slot, absl::string_view bytes) {
    if (!slot.key.empty()) Put(slot.key, slot.generation, bytes);
  }

  // Counters for the server's metrics.
  int64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  int64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::shared_ptr<const std::string> bytes;
    absl::Time created;
  };

  ReadCacheOptions options_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{0};
  mutable std::atomic<int64_t> hits_{0};
  mutable std::atomic<int64_t> misses_{0};
  mutable absl::Mutex mu_;
  // The generation of every entry kept.
  uint64_t entries_generation_ ABSL_GUARDED_BY(mu_) = 0;
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// The key of an answer that depends on nothing but the request's bytes (a
// search): the request type's full name, then the request.
template <typename Request>
std::string RequestKey(const Request& req) {
  std::string key = absl::StrCat(Request::descriptor()->full_name(), "\n");
  req.AppendToString(&key);
  return key;
}

// The key of an answer computed for a day (YYYYMMDD) from the request: the
// request's key and the day (a request without a date means today, so the
// same bytes ask a different question tomorrow).
template <typename Request>
std::string RequestKey(const Request& req, int64_t day) {
  std::string key = RequestKey(req);
  absl::StrAppend(&key, "\n", day);
  return key;
}

// A computed read (a summary) served through the cache: the answer kept
// for `key` finishes `call` at once (true); otherwise `slot` is set for
// FinishKept, which ends the call when the answer is built.
//
//   ReadCache::Slot slot;
//   if (FinishFromCache(cache, key, call, &slot)) return;
//   ... fill call.response() ...
//   FinishKept(cache, slot, call, status);
template <typename Call>
bool FinishFromCache(ReadCache& cache, std::string key, Call& call,
                     ReadCache::Slot* slot) {
  std::string bytes;
  if (!cache.Lookup(std::move(key), slot, &bytes)) return false;
  call.FinishSerialized(std::move(bytes));
  return true;
}

// Ends `call` with `status`; when OK, with its response, kept for the
// slot's key (see FinishFromCache).
template <typename Call>
void FinishKept(ReadCache& cache, const ReadCache::Slot& slot, Call& call,
                absl::Status status) {
  if (!status.ok() || slot.key.empty()) return call.Finish(std::move(status));
  std::string bytes = call.response()->SerializeAsString();
  cache.Keep(slot, bytes);
  call.FinishSerialized(std::move(bytes));
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_STORE_READ_CACHE_H_
