// ViewCache on its own: what a change, a lost stream and a change during a
// build do to cached views, and the byte bound.
#include "gateway/view_cache.h"

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace cstopa::gateway {
namespace {

constexpr uint32_t kPersonView = ServiceBit(kMembershipIndex) |
                                 ServiceBit(kEventsIndex) |
                                 ServiceBit(kMonitoringIndex);

ViewCache::Options Bounded(size_t max_bytes) {
  ViewCache::Options o;
  o.max_bytes = max_bytes;
  return o;
}

// A cache whose four streams are followed.
void FollowAll(ViewCache& cache) {
  for (int i = 0; i < kServiceCount; ++i) cache.Following(i, 10);
}

TEST(ViewCacheTest, NothingIsCachedBeforeTheStreamsAreFollowed) {
  ViewCache cache(Bounded(1 << 20));
  cache.Insert("a", "view", kAllServices, cache.Read());
  EXPECT_EQ(cache.Lookup("a"), nullptr);
  // Followed at the stamp, but not every service: still not cached.
  cache.Following(kMembershipIndex, 1);
  cache.Insert("a", "view", kAllServices, cache.Read());
  EXPECT_EQ(cache.Lookup("a"), nullptr);
  FollowAll(cache);
  cache.Insert("a", "view", kAllServices, cache.Read());
  ASSERT_NE(cache.Lookup("a"), nullptr);
  EXPECT_EQ(*cache.Lookup("a"), "view");
}

TEST(ViewCacheTest, AChangeDropsTheViewsOfItsServiceOnly) {
  ViewCache cache(Bounded(1 << 20));
  FollowAll(cache);
  cache.Insert("state", "s", kAllServices, cache.Read());
  cache.Insert("person", "p", kPersonView, cache.Read());
  cache.Changed(kLegislationIndex, 11, absl::Now());
  EXPECT_EQ(cache.Lookup("state"), nullptr);   // it shows treaties
  EXPECT_NE(cache.Lookup("person"), nullptr);  // it does not
  cache.Changed(kEventsIndex, 11, absl::Now());
  EXPECT_EQ(cache.Lookup("person"), nullptr);
  EXPECT_EQ(cache.Stream(kEventsIndex).sequence, 11);
  EXPECT_EQ(cache.Stream(kEventsIndex).changes, 1);
}

TEST(ViewCacheTest, AViewBuiltAcrossAChangeIsNotCached) {
  ViewCache cache(Bounded(1 << 20));
  FollowAll(cache);
  const ViewCache::Stamp before = cache.Read();
  cache.Changed(kMonitoringIndex, 11, absl::Now());  // while it was built
  cache.Insert("person", "p", kPersonView, before);
  EXPECT_EQ(cache.Lookup("person"), nullptr);
  // A change to a service the view does not need does not matter.
  const ViewCache::Stamp again = cache.Read();
  cache.Changed(kLegislationIndex, 12, absl::Now());
  cache.Insert("person", "p", kPersonView, again);
  EXPECT_NE(cache.Lookup("person"), nullptr);
}

TEST(ViewCacheTest, ALostStreamDropsAndStopsCachingUntilFollowedAgain) {
  ViewCache cache(Bounded(1 << 20));
  FollowAll(cache);
  cache.Insert("state", "s", kAllServices, cache.Read());
  const ViewCache::Stamp before = cache.Read();
  cache.Lost(kMembershipIndex, absl::UnavailableError("gone"));
  EXPECT_EQ(cache.Lookup("state"), nullptr);
  cache.Insert("state", "s", kAllServices, before);
  EXPECT_EQ(cache.Lookup("state"), nullptr);
  cache.Insert("state", "s", kAllServices, cache.Read());
  EXPECT_EQ(cache.Lookup("state"), nullptr);
  EXPECT_FALSE(cache.Stream(kMembershipIndex).following);
  EXPECT_EQ(cache.Stream(kMembershipIndex).losses, 1);
  EXPECT_EQ(cache.Stream(kMembershipIndex).last_error.message(), "gone");

  // A build begun while the stream was lost is not cached even when the
  // stream is back by the time it ends.
  const ViewCache::Stamp during = cache.Read();
  cache.Following(kMembershipIndex, 20);
  cache.Insert("state", "s", kAllServices, during);
  EXPECT_EQ(cache.Lookup("state"), nullptr);
  cache.Insert("state", "s", kAllServices, cache.Read());
  EXPECT_NE(cache.Lookup("state"), nullptr);
  EXPECT_TRUE(cache.Stream(kMembershipIndex).last_error.ok());
}

TEST(ViewCacheTest, LeastRecentlyUsedViewsGoFirstWithinTheBound) {
  const std::string view(1000, 'v');
  ViewCache cache(Bounded(3 * 1300));  // three views with their overhead
  FollowAll(cache);
  for (const char* key : {"a", "b", "c"})
    cache.Insert(key, view, kAllServices, cache.Read());
  ASSERT_NE(cache.Lookup("a"), nullptr);  // "b" is now the oldest
  cache.Insert("d", view, kAllServices, cache.Read());
  EXPECT_EQ(cache.Lookup("b"), nullptr);
  EXPECT_NE(cache.Lookup("a"), nullptr);
  EXPECT_NE(cache.Lookup("c"), nullptr);
  EXPECT_NE(cache.Lookup("d"), nullptr);
  // Larger than the whole bound: never kept.
  cache.Insert("huge", std::string(5000, 'x'), kAllServices, cache.Read());
  EXPECT_EQ(cache.Lookup("huge"), nullptr);
  const std::string metrics = cache.MetricsText();
  EXPECT_NE(metrics.find("cstopa_gateway_cache_evictions_total 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cstopa_gateway_cache_entries 3\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("cstopa_gateway_stream_following{service=\"events\"} "
                         "1\n"),
            std::string::npos);
}

TEST(ViewCacheTest, ADisabledCacheKeepsNothingButTracksTheStreams) {
  ViewCache::Options off;
  off.enabled = false;
  ViewCache cache(off);
  FollowAll(cache);
  cache.Insert("a", "view", kAllServices, cache.Read());
  EXPECT_EQ(cache.Lookup("a"), nullptr);
  cache.Changed(kEventsIndex, 12, absl::Now());
  EXPECT_EQ(cache.Read().sequence[kEventsIndex], 12);
  EXPECT_TRUE(cache.Read().following[kEventsIndex]);
}

}  // namespace
}  // namespace cstopa::gateway
