#include "tests/bench/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace cstopa::bench {
namespace {

constexpr uint64_t kSub = uint64_t{1} << 6;

int HighestBit(uint64_t v) { return 63 - __builtin_clzll(v); }

}  // namespace

LatencyHistogram::LatencyHistogram()
    : counts_(BucketOf((uint64_t{1} << kMaxBits) - 1) + 1, 0) {
  static_assert(kSub == (uint64_t{1} << kSubBits), "kSub and kSubBits agree");
}

size_t LatencyHistogram::BucketOf(uint64_t value) {
  if (value < kSub) return static_cast<size_t>(value);
  int e = HighestBit(value);  // >= kSubBits
  uint64_t sub = (value >> (e - kSubBits)) - kSub;
  return static_cast<size_t>(e - kSubBits + 1) * kSub + sub;
}

uint64_t LatencyHistogram::BucketLow(size_t bucket) {
  if (bucket < kSub) return bucket;
  int shift = static_cast<int>(bucket / kSub) - 1;
  return (kSub + bucket % kSub) << shift;
}

uint64_t LatencyHistogram::BucketWidth(size_t bucket) {
  if (bucket < kSub) return 1;
  return uint64_t{1} << (bucket / kSub - 1);
}

void LatencyHistogram::Record(int64_t value) {
  if (value < 0) value = 0;
  const int64_t top = (int64_t{1} << kMaxBits) - 1;
  if (value > top) value = top;
  ++counts_[BucketOf(static_cast<uint64_t>(value))];
  if (count_ == 0 || value < min_) min_ = value;
  if (count_ == 0 || value > max_) max_ = value;
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
}

double LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  int64_t rank = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(q * static_cast<double>(count_))));
  int64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      double mid = static_cast<double>(BucketLow(b)) +
                   static_cast<double>(BucketWidth(b) - 1) / 2.0;
      return std::clamp(mid, static_cast<double>(min_),
                        static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);
}

}  // namespace cstopa::bench
