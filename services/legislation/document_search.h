// Full-text search over the legislation documents (SearchDocuments), without
// holding the caller's thread for the store.
//
// The index is the service's own (migrations/): on SQLite an FTS5 table kept
// by triggers on the documents table, so that it holds live documents only;
// on PostgreSQL a generated, weighted tsvector column. Ranking (bm25 /
// ts_rank over every match) costs far more than fetching a page, and popular
// queries repeat, so ranked results are cached per (words, filter) for a
// short time.
//
//   DocumentSearch search(db, &page_tokens, DocumentColumns());
//   SearchQuery q;
//   q.words = *ParseSearchQuery("model law");
//   search.Search(q, deadline, [](absl::StatusOr<SearchPage> page) {...});
#ifndef CSTOPA_SERVICES_LEGISLATION_DOCUMENT_SEARCH_H_
#define CSTOPA_SERVICES_LEGISLATION_DOCUMENT_SEARCH_H_

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/query/filter.h"
#include "services/common/query/paging.h"
#include "services/common/store/resource_store.h"
#include "services/common/store/sql.h"

namespace cstopa::legislation {

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
  // The documents with their texts (DOCUMENT_VIEW_FULL); without them when
  // false.
  bool full = false;
};

// One hit: the stored document (serialized v1::Document) without its texts,
// its score and snippets.
struct SearchHit {
  std::string document;
  double score = 0;
  std::vector<std::string> snippets;
};

struct SearchPage {
  std::vector<SearchHit> hits;
  std::string next_page_token;
};

// An entry of the ranking cache is dropped as soon as this process writes a
// document (DocumentSearch::Invalidate), and lives at most `ttl` otherwise
// (the bound on how long a write made by another process or replica can be
// missed).
struct SearchCacheOptions {
  int max_entries = 256;  // 0 disables the cache
  int depth = 1000;       // ranked rows kept per entry
  absl::Duration ttl = absl::Seconds(2);
};

class DocumentSearch {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<SearchPage>)>;

  // `columns` are the documents' filter columns (those of ListDocuments);
  // `db` and `tokens` must outlive the search.
  DocumentSearch(common::Database* db, const common::PageTokenCodec* tokens,
                 const std::vector<common::ColumnSpec>& columns,
                 SearchCacheOptions cache = {});
  ~DocumentSearch();

  DocumentSearch(const DocumentSearch&) = delete;
  DocumentSearch& operator=(const DocumentSearch&) = delete;

  // Drops every cached ranking: runs in every document write of this
  // process.
  void Invalidate() { generation_.fetch_add(1); }

  // One page of live documents that contain every word, best first (then by
  // name), restricted by the filter. Page tokens bind to the words and the
  // filter. INVALID_ARGUMENT for a bad filter, page size or token. On
  // SQLite the store's work runs on its threads in one read transaction; on
  // PostgreSQL as one or two asynchronous statements (Database::
  // QueryOnceAsync), holding no thread. `done` runs once, on the thread
  // that finished the work or on the calling thread.
  void Search(SearchQuery query, absl::Time deadline, Callback done) const;

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
  struct Pending;  // one search in flight
  class PageFetch;

  // How a read of `p`'s page shares its row work (see common::SharedRead).
  static common::SharedRead ShareFetch(
      const void* kind, const Pending& p, const void* outcome,
      absl::AnyInvocable<absl::Status(const void*)> adopt);

  // Checks the query and fills what every statement of it shares.
  absl::Status Prepare(Pending& p) const;
  // The ranked rows of the page (and the one after it) from a live cache
  // entry; false when the cache does not serve this page.
  bool FromCache(Pending& p) const;
  // Keeps the ranking of a first page (at most `depth` + 1 rows) and takes
  // the page's rows from it.
  void Remember(Pending& p, std::vector<Ranked> ranking) const;
  // The statement that selects (rank_key, score) of the matches after the
  // page token's row (if any); on PostgreSQL the best `limit`, best first.
  void RankStatement(const Pending& p, int limit, std::string* sql,
                     common::SqlValues* params) const;
  // The best `limit` matches after the page token's row, best first.
  absl::StatusOr<std::vector<Ranked>> Rank(common::SqlTransaction& tx,
                                           const Pending& p, int limit) const;
  // The page's documents and snippets, in tx.
  absl::Status Fetch(common::SqlTransaction& tx, Pending& p) const;
  // The rest of a search whose rows are known: one statement.
  void FetchAsync(std::unique_ptr<Pending> p, absl::Time deadline) const;
  // PostgreSQL: the best `limit` matches and the documents of all but the
  // last, in one statement.
  void RankAndFetchAsync(std::unique_ptr<Pending> p, absl::Time deadline) const;
  // PostgreSQL, a first page that fills the cache: the cache's depth of
  // the ranking, then the page's documents, one statement each.
  void RankThenFetchAsync(std::unique_ptr<Pending> p,
                          absl::Time deadline) const;
  // SQLite: ranks and fetches in one read transaction (one snapshot).
  void RankAndFetchInTransaction(std::unique_ptr<Pending> p,
                                 absl::Time deadline) const;
  // Answers: the page and its next page token, or the error.
  void Finish(std::unique_ptr<Pending> p, absl::Status s) const;

  common::Database* db_;
  const common::PageTokenCodec* tokens_;
  std::vector<common::FilterField> filter_fields_;
  SearchCacheOptions cache_options_;
  bool postgres_ = false;
  std::atomic<uint64_t> generation_{0};
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, CacheEntry> cache_
      ABSL_GUARDED_BY(cache_mu_);
  mutable std::list<std::string> cache_lru_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace cstopa::legislation

#endif  // CSTOPA_SERVICES_LEGISLATION_DOCUMENT_SEARCH_H_
