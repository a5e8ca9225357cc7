// The gateway's cache of complete views, kept true by the services' change
// streams (change_follower.h).
//
// A view is cached under its key (the view and its arguments) with the set
// of services it was built from. Each followed service's stream reports to
// the cache: Following (connected and caught up), Changed (one change) and
// Lost (the stream ended). A change drops, at once and before the next
// Lookup, every cached view built from its service; a lost stream does the
// same and, until the stream is followed again, views needing the service
// are neither answered from the cache nor cached. The invalidation is by
// service, not by record: a change to any event drops every view that shows
// events. It is coarse, but it cannot miss a view a change affects.
//
// A view built from the backends races the changes that arrive while it is
// built: Insert takes the Stamp read before the backend calls started and
// caches the view only if none of its services has changed or been lost
// since (otherwise the view may predate a change that has already been
// dropped for).
//
//   const ViewCache::Stamp stamp = cache.Read();
//   if (auto hit = cache.Lookup(key)) return answer(*hit);
//   ... build the view from the backends ...
//   cache.Insert(key, bytes, kMembership | kEvents, stamp);
//
// The same cache keeps the HTTP front door's answers to GETs of the
// services (gateway_service.cc), each under the one service that answered.
//
// Bounded by bytes (views plus keys): the least recently used go first.
// Thread-safe.
#ifndef CSTOPA_GATEWAY_VIEW_CACHE_H_
#define CSTOPA_GATEWAY_VIEW_CACHE_H_

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cstopa::gateway {

// The followed services, as indexes and as bits of a view's service set.
enum ServiceIndex : int {
  kMembershipIndex = 0,
  kLegislationIndex = 1,
  kEventsIndex = 2,
  kMonitoringIndex = 3,
};
inline constexpr int kServiceCount = 4;
inline constexpr uint32_t ServiceBit(int index) { return 1u << index; }
inline constexpr uint32_t kAllServices = 0xF;
// The services' names, by index.
const char* ServiceName(int index);

class ViewCache {
 public:
  struct Options {
    // Off: Lookup always misses and Insert keeps nothing; the streams are
    // still followed (for the positions views report).
    bool enabled = true;
    size_t max_bytes = 64 << 20;
  };

  // The streams' state when a view's build began.
  struct Stamp {
    std::array<uint64_t, kServiceCount> epoch{};  // changes + losses seen
    std::array<int64_t, kServiceCount> sequence{};
    std::array<bool, kServiceCount> following{};
  };

  // One followed stream, for ListBackends and /metrics.
  struct StreamState {
    bool following = false;
    int64_t sequence = 0;
    int64_t changes = 0;
    int64_t losses = 0;
    absl::Time last_commit_time = absl::InfinitePast();
    absl::Duration last_lag;  // arrival minus commit of the last change
    absl::Status last_error;  // why not following (OK while following)
  };

  explicit ViewCache(Options options);

  // A cached view's bytes (nullptr on a miss). Counts hits and misses.
  std::shared_ptr<const std::string> Lookup(const std::string& key);
  Stamp Read() const;
  // Caches `bytes` (a complete view built from `services`, begun at
  // `stamp`), unless disabled, too large, or any of its services was not
  // followed at `stamp` or has changed or been lost since.
  void Insert(const std::string& key, std::string bytes, uint32_t services,
              const Stamp& stamp);

  // From the stream of service `index`: connected and caught up at
  // `sequence`.
  void Following(int index, int64_t sequence);
  // One change at `sequence`, committed at `commit_time`. Drops the
  // service's views.
  void Changed(int index, int64_t sequence, absl::Time commit_time);
  // The stream ended or could not be opened, with `why`. Drops the
  // service's views; nothing that needs it is cached until Following.
  void Lost(int index, const absl::Status& why);

  // A write to service `index` went through the gateway and was answered:
  // drops the service's entries now, before its change arrives on the
  // stream, so that a read that follows the write does not see an answer
  // from before it.
  void Wrote(int index);

  StreamState Stream(int index) const;
  // Prometheus text: hits, misses, drops, evictions, bytes, entries, and
  // per stream following, sequence, changes, losses and lag.
  std::string MetricsText() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const std::string> bytes;
    uint32_t services;
    size_t size;
  };
  using Lru = std::list<Entry>;

  void DropLocked(uint32_t bit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseLocked(Lru::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, Lru::iterator> index_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Per stream: changes and losses seen (a Stamp's epoch).
  std::array<uint64_t, kServiceCount> epoch_ ABSL_GUARDED_BY(mu_){};
  std::array<StreamState, kServiceCount> streams_ ABSL_GUARDED_BY(mu_);
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t drops_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t evictions_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t inserts_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t stale_skips_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_VIEW_CACHE_H_
