#include "tests/bench/latency_histogram.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace cstopa::bench {
namespace {

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int64_t v = 1; v <= 50; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 50);
  EXPECT_EQ(h.Quantile(0.5), 25);
  EXPECT_EQ(h.Quantile(0.97), 49);  // rank ceil(48.5)
  EXPECT_EQ(h.Quantile(1.0), 50);
  EXPECT_EQ(h.Quantile(0.0), 1);
}

TEST(LatencyHistogramTest, LargeValuesWithinOneBucket) {
  LatencyHistogram h;
  // 1 ms .. 1000 ms in nanoseconds, one value per millisecond.
  for (int64_t ms = 1; ms <= 1000; ++ms) h.Record(ms * 1000000);
  EXPECT_NEAR(h.Quantile(0.5), 500e6, 500e6 / 64);
  EXPECT_NEAR(h.Quantile(0.99), 990e6, 990e6 / 64);
  EXPECT_EQ(h.min(), 1000000);
  EXPECT_EQ(h.max(), 1000000000);
  EXPECT_LE(h.Quantile(1.0), 1e9);
}

TEST(LatencyHistogramTest, EveryValueLandsInItsBucket) {
  // A quantile of a single value is that value to within 1/64.
  for (int64_t v : {int64_t{63}, int64_t{64}, int64_t{65}, int64_t{127},
                    int64_t{128}, int64_t{1000}, int64_t{123456789}}) {
    LatencyHistogram h;
    h.Record(v);
    h.Record(v);
    EXPECT_EQ(h.Quantile(0.5), v) << v;  // clamped to [min, max]
  }
  LatencyHistogram h;
  h.Record(1000);
  h.Record(1 << 20);
  EXPECT_NEAR(h.Quantile(0.5), 1000, 1000.0 / 64);
}

TEST(LatencyHistogramTest, OutOfRangeValuesAreClamped) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(int64_t{1} << 50);
  EXPECT_EQ(h.count(), 2);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), (int64_t{1} << 40) - 1);
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a, b, empty;
  for (int64_t v = 1; v <= 30; ++v) a.Record(v);
  for (int64_t v = 31; v <= 60; ++v) b.Record(v);
  a.Merge(b);
  a.Merge(empty);
  EXPECT_EQ(a.count(), 60);
  EXPECT_EQ(a.min(), 1);
  EXPECT_EQ(a.max(), 60);
  EXPECT_EQ(a.Quantile(0.5), 30);
  empty.Merge(b);
  EXPECT_EQ(empty.min(), 31);
  EXPECT_EQ(empty.count(), 30);
}

}  // namespace
}  // namespace cstopa::bench
