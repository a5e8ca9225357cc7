#include "gateway/search_fusion.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cstopa::gateway {
namespace {

using ::testing::ElementsAre;

cstopa::type::v1::SearchHit Hit(const std::string& type,
                                const std::string& name, double score) {
  cstopa::type::v1::SearchHit h;
  h.set_type(type);
  h.set_name(name);
  h.set_score(score);  // the service's own score: never compared
  return h;
}

std::vector<std::string> Names(const FusedPage& page) {
  std::vector<std::string> out;
  for (const auto& h : page.hits) out.push_back(h.name());
  return out;
}

// Four services' rankings of one query; `offsets` as a page token keeps
// them.
std::vector<Ranking> Rankings(std::vector<int64_t> offsets) {
  std::vector<Ranking> r(4);
  r[0].hits = {Hit("cstopa.org/Person", "persons/a", 0.1),
               Hit("cstopa.org/Body", "bodies/b", 0.05)};
  r[1].hits = {Hit("cstopa.org/Document", "documents/x", 99),
               Hit("cstopa.org/Document", "documents/y", 98),
               Hit("cstopa.org/Document", "documents/z", 97)};
  r[2].hits = {Hit("cstopa.org/Event", "events/e", 1e9)};
  for (size_t i = 0; i < r.size(); ++i) {
    r[i].offset = offsets[i];
    r[i].hits.erase(
        r[i].hits.begin(),
        r[i].hits.begin() + std::min<size_t>(offsets[i], r[i].hits.size()));
  }
  return r;
}

TEST(SearchFusionTest, RanksDecideNotTheServicesScores) {
  std::vector<Ranking> r = Rankings({0, 0, 0, 0});
  FusedPage page = FuseRankings(r, 10);
  // Rank 1 of each service first (ties by type, then name), then rank 2...
  // The events hit's huge score of its own does not lift it.
  EXPECT_THAT(Names(page),
              ElementsAre("documents/x", "events/e", "persons/a", "bodies/b",
                          "documents/y", "documents/z"));
  EXPECT_DOUBLE_EQ(page.hits[0].score(), 1.0 / 61);
  EXPECT_DOUBLE_EQ(page.hits[2].score(), 1.0 / 61);
  EXPECT_DOUBLE_EQ(page.hits[3].score(), 1.0 / 62);
  EXPECT_DOUBLE_EQ(page.hits[5].score(), 1.0 / 63);
  EXPECT_THAT(page.taken, ElementsAre(2, 3, 1, 0));
}

TEST(SearchFusionTest, PagesCutFromTheFusedOrderNeverOverlap) {
  std::vector<std::string> walked;
  std::vector<int64_t> offsets = {0, 0, 0, 0};
  for (int pages = 0; pages < 10; ++pages) {
    std::vector<Ranking> r = Rankings(offsets);
    // Each service answers at most a page of hits from its offset.
    for (auto& ranking : r)
      if (ranking.hits.size() > 2) ranking.hits.resize(2);
    FusedPage page = FuseRankings(r, 2);
    if (page.hits.empty()) break;
    for (auto& name : Names(page)) walked.push_back(name);
    for (size_t i = 0; i < offsets.size(); ++i) offsets[i] += page.taken[i];
  }
  EXPECT_THAT(walked, ElementsAre("documents/x", "events/e", "persons/a",
                                  "bodies/b", "documents/y", "documents/z"));
  // A later page's scores continue from the services' ranks.
  std::vector<Ranking> r = Rankings({1, 2, 1, 0});
  FusedPage page = FuseRankings(r, 5);
  EXPECT_THAT(Names(page), ElementsAre("bodies/b", "documents/z"));
  EXPECT_DOUBLE_EQ(page.hits[0].score(), 1.0 / 62);
  EXPECT_DOUBLE_EQ(page.hits[1].score(), 1.0 / 63);
}

}  // namespace
}  // namespace cstopa::gateway
