// Reciprocal rank fusion (RRF) of the services' search rankings, one page
// at a time.
//
// Each service ranks its own hits by its own scores, which say nothing
// across services; ranks do. A hit at rank r (1-based) of its service
// scores 1 / (kRrfK + r), and the fused ranking orders hits by that score.
// Each record belongs to one service, so a hit's fused score is its one
// service's term, and the fused order is simply: by rank, then by type,
// then by name (a total order, so pages cut from it never overlap).
//
// The gateway keeps, per service, how many of its hits earlier pages took
// (its offset); a page asks each service for `page_size` hits from there
// (SearchRequest.skip) and takes the first `page_size` of their fusion:
//
//   std::vector<Ranking> r(4);
//   r[0].offset = 3; r[0].hits = ...;  // membership's hits 4, 5, ...
//   FusedPage page = FuseRankings(r, 20);
//   // page.hits: the next 20 hits overall; page.taken[i]: how many of
//   // r[i].hits it took (add to the offsets for the next page).
#ifndef CSTOPA_GATEWAY_SEARCH_FUSION_H_
#define CSTOPA_GATEWAY_SEARCH_FUSION_H_

#include <cstdint>
#include <vector>

#include "cstopa/type/v1/types.pb.h"

namespace cstopa::gateway {

// The RRF constant of Cormack, Clarke and Büttcher (2009).
inline constexpr double kRrfK = 60;

// One service's hits for a page: `hits[0]` is its hit at 0-based rank
// `offset`, and so on, best first.
struct Ranking {
  int64_t offset = 0;
  std::vector<cstopa::type::v1::SearchHit> hits;
};

struct FusedPage {
  // Best first, each with its fused score in `score`.
  std::vector<cstopa::type::v1::SearchHit> hits;
  // Per ranking, how many of its hits the page took (a prefix of them).
  std::vector<int64_t> taken;
};

// The first `page_size` hits of the fused ranking of `rankings` (moved out
// of them).
FusedPage FuseRankings(std::vector<Ranking>& rankings, int page_size);

// The fused score of 0-based rank `rank`.
inline double FusedScore(int64_t rank) {
  return 1.0 / (kRrfK + static_cast<double>(rank) + 1);
}

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_SEARCH_FUSION_H_
