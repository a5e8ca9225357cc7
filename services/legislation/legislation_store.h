// Data access of the legislation service: one ResourceStore per resource
// type over the service's own tables (migrations/), plus what the standard
// methods do not cover: document revisions, plan progress, full-text search.
//
// Revisions and the SQLite full-text index are kept by triggers on the
// documents table (see migrations/), so they are written in the same
// transaction as every document write, whichever path makes it (API, seed,
// bulk load). On PostgreSQL the index is a generated tsvector column.
//
//   auto db = OpenDatabase("sqlite::memory:", LegislationSchema());
//   LegislationStore store(db->get(), &page_tokens);
//   v1::Document d;
//   store.documents().Get("documents/x", false, &d);
#ifndef CSTOPA_SERVICES_LEGISLATION_LEGISLATION_STORE_H_
#define CSTOPA_SERVICES_LEGISLATION_LEGISLATION_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cstopa/legislation/v1/legislation.pb.h"
#include "services/common/store/resource_store.h"
#include "services/legislation/search_query.h"

namespace cstopa::legislation {

// The schema (migrations) of the legislation store.
const common::SchemaSpec& LegislationSchema();

// Search pages: default and maximum sizes.
inline constexpr int32_t kDefaultSearchPageSize = 20;
inline constexpr int32_t kMaxSearchPageSize = 100;

// A search after validation: the words (see search_query.h), a ListDocuments
// filter, and paging.
struct SearchQuery {
  std::vector<std::string> words;
  std::string filter;
  int32_t page_size = 0;  // as given; 0 means the default
  std::string page_token;
};

// One hit: the stored document (serialized v1::Document), its score and
// snippets.
struct SearchHit {
  std::string document;
  double score = 0;
  std::vector<std::string> snippets;
};

struct SearchPage {
  std::vector<SearchHit> hits;
  std::string next_page_token;
};

// Counts of live items of a plan per (status, commission).
struct ItemCount {
  int status = 0;
  std::string commission;
  int64_t count = 0;
};

// Ranked search results are cached per (words, filter) for a short time:
// ranking (bm25 / ts_rank over every match) costs far more than fetching a
// page, and popular queries repeat. An entry is dropped as soon as this
// process writes a document, and lives at most `ttl` otherwise (the bound on
// how long a write made by another process or replica can be missed).
struct SearchCacheOptions {
  int max_entries = 256;  // 0 disables the cache
  int depth = 1000;       // ranked rows kept per entry
  absl::Duration ttl = absl::Seconds(2);
};

class LegislationStore {
 public:
  LegislationStore(common::Database* db, const common::PageTokenCodec* tokens,
                   SearchCacheOptions cache = {});

  common::ResourceStore& documents() { return documents_; }
  common::ResourceStore& topics() { return topics_; }
  common::ResourceStore& action_plans() { return action_plans_; }
  common::ResourceStore& items() { return items_; }
  common::ResourceStore& treaties() { return treaties_; }
  common::ResourceStore& ratifications() { return ratifications_; }
  common::ResourceStore& implementations() { return implementations_; }
  common::Database* db() { return db_; }

  // The document as it was at revision `revision_id`, with the time the
  // revision was made. NOT_FOUND when the document is missing or deleted, or
  // has no such revision.
  absl::Status GetRevision(const std::string& document,
                           const std::string& revision_id, absl::Time deadline,
                           v1::Document* snapshot, int64_t* create_micros);

  // Live item counts of a plan, ordered by status then commission.
  absl::StatusOr<std::vector<ItemCount>> CountItems(const std::string& plan,
                                                    absl::Time deadline);

  // Whether a live resource with this name exists in `store`.
  absl::StatusOr<bool> Exists(const common::ResourceStore& store,
                              const std::string& name, absl::Time deadline);

  // One page of live documents that contain every word, best first (then by
  // name), restricted by the filter. Page tokens bind to the words and the
  // filter. INVALID_ARGUMENT for a bad filter, page size or token.
  absl::StatusOr<SearchPage> Search(const SearchQuery& query,
                                    absl::Time deadline) const;

 private:
  // One ranked match: its score and tie-breaker (the row id on SQLite, the
  // name on PostgreSQL).
  struct Ranked {
    double score = 0;
    common::SqlValue key;
  };
  struct CacheEntry {
    std::vector<Ranked> rows;
    bool complete = false;  // every match is in `rows`
    uint64_t generation = 0;
    absl::Time created;
    std::list<std::string>::iterator lru;
  };
  using RowFn = absl::FunctionRef<absl::Status(const common::SqlRow&)>;
  // Runs a read statement: as a QueryOnce, or in a transaction.
  using QueryFn = std::function<absl::Status(
      absl::string_view sql, const common::SqlValues& params, RowFn fn)>;
  QueryFn QueryOnceIn(absl::Time deadline) const;

  // The ranked matches after `after` (if set), at most `limit`, from the
  // cache (filled on a miss of the first page). False when the cache does not
  // serve this page (it is off, or the page is not in it).
  absl::StatusOr<bool> CachedRank(const SearchQuery& query,
                                  const std::string& where,
                                  const common::SqlValues& where_params,
                                  const Ranked* after, int limit,
                                  absl::Time deadline,
                                  std::vector<Ranked>* out) const;
  // The statement that selects (rank_key, score) of the matches after
  // `after` (if set); on PostgreSQL the best `limit`, best first.
  void RankStatement(const SearchQuery& query, const std::string& where,
                     const common::SqlValues& where_params, const Ranked* after,
                     int limit, std::string* sql,
                     common::SqlValues* params) const;
  // The best `limit` matches after `after` (if set), best first.
  absl::StatusOr<std::vector<Ranked>> RankIn(
      QueryFn in, const SearchQuery& query, const std::string& where,
      const common::SqlValues& where_params, const Ranked* after,
      int limit) const;
  // PostgreSQL: the best `limit` matches and the documents of all but the
  // last, in one statement.
  absl::Status RankAndFetch(const SearchQuery& query, const SnippetWords& words,
                            const std::string& where,
                            const common::SqlValues& where_params,
                            const Ranked* after, int limit, absl::Time deadline,
                            std::vector<Ranked>* rows,
                            std::vector<SearchHit>* hits) const;
  // The page's documents and snippets, in the order of `rows`.
  absl::Status Fetch(QueryFn in, const SnippetWords& words,
                     const std::vector<Ranked>& rows,
                     std::vector<SearchHit>* hits) const;
  bool postgres() const { return postgres_; }

  common::Database* db_;
  const common::PageTokenCodec* tokens_;
  SearchCacheOptions cache_options_;
  bool postgres_ = false;
  std::atomic<uint64_t> generation_{0};
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, CacheEntry> cache_
      ABSL_GUARDED_BY(cache_mu_);
  mutable std::list<std::string> cache_lru_ ABSL_GUARDED_BY(cache_mu_);
  common::ResourceStore documents_, topics_, action_plans_, items_, treaties_,
      ratifications_, implementations_;
};

}  // namespace cstopa::legislation

#endif  // CSTOPA_SERVICES_LEGISLATION_LEGISLATION_STORE_H_
