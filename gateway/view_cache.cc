#include "gateway/view_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cstopa::gateway {
namespace {

// What an entry costs beyond its key and bytes (list node, index slot,
// string headers), roughly.
constexpr size_t kEntryOverhead = 160;

}  // namespace

const char* ServiceName(int index) {
  static constexpr const char* kNames[kServiceCount] = {
      "membership", "legislation", "events", "monitoring"};
  return index >= 0 && index < kServiceCount ? kNames[index] : "";
}

ViewCache::ViewCache(Options options) : options_(options) {
  absl::MutexLock lock(&mu_);
  for (StreamState& s : streams_)
    s.last_error = absl::UnavailableError("the stream was not opened yet");
}

std::shared_ptr<const std::string> ViewCache::Lookup(const std::string& key) {
  if (!options_.enabled) return nullptr;
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->bytes;
}

ViewCache::Stamp ViewCache::Read() const {
  absl::MutexLock lock(&mu_);
  Stamp stamp;
  for (int i = 0; i < kServiceCount; ++i) {
    stamp.epoch[i] = epoch_[i];
    stamp.sequence[i] = streams_[i].sequence;
    stamp.following[i] = streams_[i].following;
  }
  return stamp;
}

void ViewCache::Insert(const std::string& key, std::string bytes,
                       uint32_t services, const Stamp& stamp) {
  if (!options_.enabled) return;
  const size_t size = key.size() + bytes.size() + kEntryOverhead;
  if (size > options_.max_bytes) return;
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < kServiceCount; ++i) {
    if ((services & ServiceBit(i)) == 0) continue;
    if (!stamp.following[i] || !streams_[i].following ||
        stamp.epoch[i] != epoch_[i]) {
      ++stale_skips_;
      return;
    }
  }
  if (auto old = index_.find(key); old != index_.end())
    EraseLocked(old->second);
  lru_.push_front({key, std::make_shared<const std::string>(std::move(bytes)),
                   services, size});
  index_[key] = lru_.begin();
  bytes_ += size;
  ++inserts_;
  while (bytes_ > options_.max_bytes && !lru_.empty()) {
    EraseLocked(std::prev(lru_.end()));
    ++evictions_;
  }
}

void ViewCache::EraseLocked(Lru::iterator it) {
  bytes_ -= it->size;
  index_.erase(it->key);
  lru_.erase(it);
}

void ViewCache::DropLocked(uint32_t bit) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if ((it->services & bit) != 0) {
      EraseLocked(it);
      ++drops_;
    }
    it = next;
  }
}

void ViewCache::Following(int index, int64_t sequence) {
  absl::MutexLock lock(&mu_);
  ++epoch_[index];
  StreamState& s = streams_[index];
  s.following = true;
  s.sequence = sequence;
  s.last_error = absl::OkStatus();
}

void ViewCache::Changed(int index, int64_t sequence, absl::Time commit_time) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  ++epoch_[index];
  DropLocked(ServiceBit(index));
  StreamState& s = streams_[index];
  s.sequence = sequence;
  ++s.changes;
  s.last_commit_time = commit_time;
  s.last_lag = now - commit_time;
}

void ViewCache::Wrote(int index) {
  absl::MutexLock lock(&mu_);
  ++epoch_[index];
  DropLocked(ServiceBit(index));
}

void ViewCache::Lost(int index, const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  ++epoch_[index];
  DropLocked(ServiceBit(index));
  StreamState& s = streams_[index];
  if (s.following) ++s.losses;
  s.following = false;
  s.last_error = why;
}

ViewCache::StreamState ViewCache::Stream(int index) const {
  absl::MutexLock lock(&mu_);
  return streams_[index];
}

std::string ViewCache::MetricsText() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  auto family = [&out](const char* name, const char* type, const char* help) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                    type, "\n");
  };
  auto counter = [&](const char* name, const char* help, int64_t value) {
    family(name, "counter", help);
    absl::StrAppend(&out, name, " ", value, "\n");
  };
  counter("cstopa_gateway_cache_hits_total",
          "View requests answered from the cache.", hits_);
  counter("cstopa_gateway_cache_misses_total",
          "View requests the cache did not hold (built from the backends).",
          misses_);
  counter("cstopa_gateway_cache_inserts_total", "Views put in the cache.",
          inserts_);
  counter("cstopa_gateway_cache_drops_total",
          "Cached views dropped because a service they need changed or its "
          "stream was lost.",
          drops_);
  counter("cstopa_gateway_cache_evictions_total",
          "Cached views evicted to stay within --view_cache_mb.", evictions_);
  counter("cstopa_gateway_cache_stale_skips_total",
          "Views built from the backends and not cached because a change "
          "arrived (or a stream was not followed) while they were built.",
          stale_skips_);
  family("cstopa_gateway_cache_bytes", "gauge",
         "Bytes the cached views take (views, keys and bookkeeping).");
  absl::StrAppend(&out, "cstopa_gateway_cache_bytes ", bytes_, "\n");
  family("cstopa_gateway_cache_entries", "gauge", "Views in the cache.");
  absl::StrAppend(&out, "cstopa_gateway_cache_entries ", lru_.size(), "\n");

  auto per_stream = [&](const char* name, const char* type, const char* help,
                        auto value) {
    family(name, type, help);
    for (int i = 0; i < kServiceCount; ++i)
      absl::StrAppend(&out, name, "{service=\"", ServiceName(i), "\"} ",
                      value(streams_[i]), "\n");
  };
  per_stream("cstopa_gateway_stream_following", "gauge",
             "1 while the gateway follows the service's change stream "
             "(connected and caught up), else 0.",
             [](const StreamState& s) { return s.following ? 1 : 0; });
  per_stream("cstopa_gateway_stream_sequence", "gauge",
             "Sequence of the last change received from the service.",
             [](const StreamState& s) { return s.sequence; });
  per_stream("cstopa_gateway_stream_changes_total", "counter",
             "Changes received from the service's stream.",
             [](const StreamState& s) { return s.changes; });
  per_stream("cstopa_gateway_stream_losses_total", "counter",
             "Times a followed stream ended and had to be opened again.",
             [](const StreamState& s) { return s.losses; });
  per_stream("cstopa_gateway_stream_lag_seconds", "gauge",
             "For the last change received: its arrival at the gateway minus "
             "its commit by the service.",
             [](const StreamState& s) {
               return absl::FDivDuration(s.last_lag, absl::Seconds(1));
             });
  return out;
}

}  // namespace cstopa::gateway
