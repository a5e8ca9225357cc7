#include "services/common/store/read_cache.h"

#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "services/common/store/sql.h"

namespace cstopa::common {
namespace {

TEST(ReadCacheTest, ServesWhatWasKeptUntilInvalidated) {
  ReadCache cache;
  const uint64_t g = cache.generation();
  std::string bytes;
  EXPECT_FALSE(cache.Find("get states/kz", &bytes));
  cache.Put("get states/kz", g, "kazakhstan");
  ASSERT_TRUE(cache.Find("get states/kz", &bytes));
  EXPECT_EQ(bytes, "kazakhstan");
  EXPECT_FALSE(cache.Find("get states/kg", &bytes));
  cache.Invalidate();
  EXPECT_FALSE(cache.Find("get states/kz", &bytes));
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ(cache.misses(), 3);
}

TEST(ReadCacheTest, AnswerReadBeforeAWriteIsNotKept) {
  ReadCache cache;
  const uint64_t before = cache.generation();
  cache.Invalidate();  // a write committed while the read ran
  cache.Put("k", before, "old");
  std::string bytes;
  EXPECT_FALSE(cache.Find("k", &bytes));
  cache.Put("k", cache.generation(), "new");
  ASSERT_TRUE(cache.Find("k", &bytes));
  EXPECT_EQ(bytes, "new");
}

TEST(ReadCacheTest, SizeIsBounded) {
  ReadCache cache({.max_bytes = 1000});
  std::string bytes;
  cache.Put("a", cache.generation(), std::string(600, 'a'));
  cache.Put("b", cache.generation(), std::string(600, 'b'));  // a goes
  EXPECT_FALSE(cache.Find("a", &bytes));
  EXPECT_TRUE(cache.Find("b", &bytes));
  cache.Put("huge", cache.generation(), std::string(5000, 'h'));
  EXPECT_FALSE(cache.Find("huge", &bytes));
  EXPECT_TRUE(cache.Find("b", &bytes));
}

TEST(ReadCacheTest, AgeIsBounded) {
  ReadCache cache({.max_age = absl::Milliseconds(20)});
  cache.Put("k", cache.generation(), "v");
  absl::SleepFor(absl::Milliseconds(30));
  std::string bytes;
  EXPECT_FALSE(cache.Find("k", &bytes));
}

TEST(ReadCacheTest, OffWhenItHasNoRoom) {
  ReadCache cache({.max_bytes = 0});
  EXPECT_FALSE(cache.enabled());
  cache.Put("k", cache.generation(), "v");
  std::string bytes;
  EXPECT_FALSE(cache.Find("k", &bytes));
}

// Every write transaction of a store moves its cache's generation, whether
// it committed or not, before Write returns.
TEST(ReadCacheTest, EveryWriteOfTheStoreInvalidates) {
  SchemaSpec schema;
  schema.service = "read_cache_test";
  schema.migrations = {{1, "t", "CREATE TABLE t (k TEXT PRIMARY KEY)",
                        "CREATE TABLE t (k TEXT PRIMARY KEY)"}};
  auto db = OpenDatabase("sqlite::memory:", schema);
  ASSERT_TRUE(db.ok()) << db.status();
  ReadCache& cache = (*db)->read_cache();
  uint64_t g = cache.generation();
  cache.Put("k", g, "v");
  ASSERT_TRUE(
      (*db)
          ->Write([](SqlTransaction& tx) {
            return tx.Execute("INSERT INTO t VALUES ('a')", {}).status();
          })
          .ok());
  std::string bytes;
  EXPECT_FALSE(cache.Find("k", &bytes));
  EXPECT_NE(cache.generation(), g);
  g = cache.generation();
  EXPECT_FALSE((*db)
                   ->Write([](SqlTransaction&) {
                     return absl::InvalidArgumentError("rolled back");
                   })
                   .ok());
  EXPECT_NE(cache.generation(), g);
}

}  // namespace
}  // namespace cstopa::common
