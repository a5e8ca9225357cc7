#include "gateway/search_fusion.h"

#include <cstddef>
#include <utility>

namespace cstopa::gateway {

FusedPage FuseRankings(std::vector<Ranking>& rankings, int page_size) {
  FusedPage page;
  page.taken.assign(rankings.size(), 0);
  // A merge of the rankings by (rank, type, name): each is in rank order.
  while (static_cast<int>(page.hits.size()) < page_size) {
    int best = -1;
    for (size_t i = 0; i < rankings.size(); ++i) {
      const Ranking& r = rankings[i];
      const size_t next = static_cast<size_t>(page.taken[i]);
      if (next >= r.hits.size()) continue;
      if (best < 0) {
        best = static_cast<int>(i);
        continue;
      }
      const Ranking& b = rankings[static_cast<size_t>(best)];
      const auto& hb = b.hits[static_cast<size_t>(page.taken[best])];
      const auto& hi = r.hits[next];
      const int64_t rank_b = b.offset + page.taken[best];
      const int64_t rank_i = r.offset + page.taken[i];
      if (rank_i != rank_b         ? rank_i < rank_b
          : hi.type() != hb.type() ? hi.type() < hb.type()
                                   : hi.name() < hb.name())
        best = static_cast<int>(i);
    }
    if (best < 0) break;
    Ranking& r = rankings[static_cast<size_t>(best)];
    const int64_t at = page.taken[best]++;
    cstopa::type::v1::SearchHit& hit = r.hits[static_cast<size_t>(at)];
    hit.set_score(FusedScore(r.offset + at));
    page.hits.push_back(std::move(hit));
  }
  return page;
}

}  // namespace cstopa::gateway
