// A log-linear histogram of latencies, for the load generator.
//
// Values below 64 are counted exactly; above, each power of two is split into
// 64 buckets, so a quantile is off by at most 1/64 (about 1.6 %) of its value.
// Memory is fixed (a few thousand counters) however many values are recorded.
//
//   LatencyHistogram h;
//   h.Record(1234567);  // nanoseconds
//   double p99 = h.Quantile(0.99);
//
// Not thread-safe: give each writer its own histogram and Merge() them.
#ifndef CSTOPA_TESTS_BENCH_LATENCY_HISTOGRAM_H_
#define CSTOPA_TESTS_BENCH_LATENCY_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cstopa::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  // Counts one value. Negative values count as 0; values of 2^40 and more
  // (over 18 minutes in nanoseconds) count in the top bucket.
  void Record(int64_t value);

  // Adds every value counted by `other`.
  void Merge(const LatencyHistogram& other);

  // The number of values counted.
  int64_t count() const { return count_; }
  // The smallest and largest value counted; 0 when empty.
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return count_ == 0 ? 0 : max_; }

  // The value at quantile `q` (0 <= q <= 1, e.g. 0.99 for p99): the middle of
  // the bucket holding the ceil(q * count())-th smallest value, clamped to
  // [min(), max()]. 0 when empty.
  double Quantile(double q) const;

 private:
  static constexpr int kSubBits = 6;  // 64 buckets per power of two
  static constexpr int kMaxBits = 40;

  static size_t BucketOf(uint64_t value);
  static uint64_t BucketLow(size_t bucket);
  static uint64_t BucketWidth(size_t bucket);

  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

}  // namespace cstopa::bench

#endif  // CSTOPA_TESTS_BENCH_LATENCY_HISTOGRAM_H_
