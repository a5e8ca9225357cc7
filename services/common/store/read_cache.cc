#include "services/common/store/read_cache.h"

#include <utility>

#include "absl/time/clock.h"

namespace cstopa::common {

void ReadCache::set_options(ReadCacheOptions options) {
  absl::MutexLock lock(&mu_);
  options_ = options;
  entries_.clear();
  bytes_ = 0;
}

bool ReadCache::Lookup(std::string key, Slot* slot, std::string* bytes) {
  slot->key.clear();
  if (!enabled()) return false;
  slot->generation = generation();
  slot->key = std::move(key);
  return Find(slot->key, bytes);
}

bool ReadCache::Find(absl::string_view key, std::string* bytes) const {
  std::shared_ptr<const std::string> found;
  {
    absl::ReaderMutexLock lock(&mu_);
    if (options_.max_bytes == 0) return false;
    if (entries_generation_ == generation()) {
      auto it = entries_.find(key);
      if (it != entries_.end() &&
          absl::Now() - it->second.created < options_.max_age)
        found = it->second.bytes;
    }
  }
  if (found == nullptr) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  bytes->assign(*found);
  return true;
}

void ReadCache::Put(absl::string_view key, uint64_t generation,
                    absl::string_view bytes) {
  const size_t size = key.size() + bytes.size() + 64;
  auto kept = std::make_shared<const std::string>(bytes);
  absl::MutexLock lock(&mu_);
  if (size > options_.max_bytes) return;
  // Read at an older generation: a write may be missing from it.
  if (generation != this->generation()) return;
  if (entries_generation_ != generation || bytes_ + size > options_.max_bytes) {
    entries_.clear();
    bytes_ = 0;
    entries_generation_ = generation;
  }
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) bytes_ -= it->first.size() + it->second.bytes->size() + 64;
  it->second = Entry{std::move(kept), absl::Now()};
  bytes_ += size;
}

}  // namespace cstopa::common
