// A service's full-text search over all its resources: one index, kept in
// step with every write, answering the service's `Search` method.
//
// A resource type joins the index by saying what of it is found
// (ResourceDecl::search): a title, more text, a date. Resource<T> then puts
// that entry in the index inside every write's transaction (Create, Update,
// Delete, Undelete, seed loads), so the index commits with the record or
// not at all, and a deleted resource is no longer found.
//
// The index is a table every service's migrations make (both dialects):
//   search_entries(name, resource_type, title, body, hit_date) and on
//   SQLite an external-content FTS5 table `search_fts` over title and body
//   with the `cstopa_translit` tokenizer (store/fts5_tokenizer.h), kept by
//   triggers; on PostgreSQL a tsvector column `keys` of the same keys
//   (text/search_text.h NormalizedText, 'simple' configuration), title
//   weighted above body, with a GIN index;
//   search_state(version): the analyzer version the index was built with.
// Both stores thus match the same words: word forms by stemming, names
// across Cyrillic and Latin by transliteration, the last word as a prefix.
//
// Ranking: bm25 on SQLite, ts_rank on PostgreSQL, best first, then by name.
// Pages are offsets carried in signed page tokens bound to the query and
// filter, so they never repeat or skip a hit while the data stands still;
// at most kMaxSearchDepth hits are reachable.
//
//   ResourceDecl<v1::Person> d;
//   d.search = [](const v1::Person& p) -> std::optional<SearchEntry> {
//     return SearchEntry{EnglishFirst(p.display_name()), AllTexts(...), 0};
//   };
//   ...
//   void Handler::Search(SearchCall call) {
//     resources_->set().search_index().Serve(std::move(call));
//   }
#ifndef CSTOPA_SERVICES_COMMON_RESOURCES_SEARCH_INDEX_H_
#define CSTOPA_SERVICES_COMMON_RESOURCES_SEARCH_INDEX_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cstopa/type/v1/types.pb.h"
#include "services/common/api/call.h"
#include "services/common/api/language.h"
#include "services/common/base/dates.h"
#include "services/common/query/paging.h"
#include "services/common/store/read_cache.h"
#include "services/common/store/sql.h"
#include "services/common/text/search_text.h"

namespace cstopa::common {

// What search finds of one resource.
struct SearchEntry {
  // Shown as the hit's title and searched first (ranked above `text`).
  std::string title;
  // More text that finds it: names in other languages, a summary, a body.
  std::string text;
  // The resource's date as YYYYMMDD (month or day 00 when partial); 0 when
  // it has none.
  int64_t date = 0;
};

// Helpers for ResourceDecl::search (with PreferredText, api/language.h).
//
// Appends every text of `texts` to `out`, each on a line of its own.
void AppendTexts(const google::protobuf::RepeatedPtrField<
                     cstopa::type::v1::LocalizedText>& texts,
                 std::string* out);
// A (possibly partial) date as SearchEntry::date: YYYYMMDD with 00 for an
// unknown month or day; 0 when `present` is false or the year is 0.
int64_t SearchDate(const google::type::Date& date, bool present = true);
// The date of a dated fact as SearchEntry::date: its start_date, else the
// first day a source attests it (known_from); 0 when neither is known.
int64_t SearchDate(const cstopa::type::v1::DateRange& range);

// Hits beyond this rank are not reachable by paging.
inline constexpr int kMaxSearchDepth = 1000;
inline constexpr int32_t kDefaultSearchHits = 20;
inline constexpr int32_t kMaxSearchHits = 100;
// The page size of a search's `page_size`: kDefaultSearchHits for 0, at
// most kMaxSearchHits; INVALID_ARGUMENT when negative.
absl::StatusOr<int32_t> SearchPageSize(int32_t requested);
// Bumped whenever what the index holds for the same records changes (the
// analyzer's keys, what an entry contains): a service rebuilds its index at
// start when the stored version differs.
inline constexpr int64_t kSearchIndexVersion = 2;

// A search as asked.
struct SearchParams {
  std::string query;
  std::string filter;
  int32_t page_size = 0;
  std::string page_token;
  int32_t skip = 0;  // hits to skip after those the token skips (AIP-158)
};

// A page of hits.
struct SearchOutcome {
  std::vector<cstopa::type::v1::SearchHit> hits;
  std::string next_page_token;
  // Per resource type, largest first (then by type).
  std::vector<std::pair<std::string, int64_t>> type_counts;
  int64_t total = 0;
};

// Rankings (every match's order and the facets of a query and filter) are
// kept for popular searches: the page of a repeated search then reads only
// its rows. A write of this process drops them all (Invalidate: when its
// entry is put and again once it has committed); otherwise one lives at most
// `ttl`, the bound on how long a write through another replica can be
// missed.
struct SearchCacheOptions {
  int max_entries = 256;  // 0 disables the cache
  absl::Duration ttl = absl::Seconds(2);
};

class SearchIndex {
 public:
  // `db` and `tokens` must outlive the index.
  SearchIndex(Database* db, const PageTokenCodec* tokens,
              SearchCacheOptions cache = {});

  SearchIndex(const SearchIndex&) = delete;
  SearchIndex& operator=(const SearchIndex&) = delete;

  // The entry of a stored resource (its serialized bytes), setting `name`;
  // nullopt when it is not searched (or the bytes do not parse).
  using EntryOf = std::function<std::optional<SearchEntry>(
      absl::string_view data, std::string* name)>;
  // Adds a resource type to the index: its table (live rows are indexed by
  // a rebuild) and resource type. Resource<T> calls it for declarations
  // with `search`; call before the index is used.
  void AddSource(std::string table, std::string resource_type,
                 EntryOf entry_of);
  bool enabled() const { return !sources_.empty(); }

  // Inside a write transaction: the entry of resource `name` becomes
  // `entry`; null removes it (a deleted resource).
  absl::Status Put(SqlTransaction& tx, absl::string_view name,
                   absl::string_view resource_type, const SearchEntry* entry);

  // Drops every cached ranking (after a write of this process).
  void Invalidate() const {
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }

  // Rebuilds the whole index from the sources' live rows, in one write
  // transaction, when it was built by another kSearchIndexVersion (or
  // never, as after the migration that made it). Blocks; for start-up.
  absl::Status RebuildIfStale();

  // One page of hits. INVALID_ARGUMENT for a bad query (reason
  // INVALID_SEARCH_QUERY), filter (INVALID_FILTER), page size, skip or
  // token (INVALID_PAGE_TOKEN). On SQLite the store's work runs on its
  // threads, in one read transaction; on PostgreSQL as two asynchronous
  // statements (the ranking, unless kept, then the page's rows; Database::
  // QueryOnceAsync), holding no thread. `done` runs once, on the thread that
  // finished the work or on the calling thread.
  void Search(SearchParams params, absl::Time deadline,
              absl::AnyInvocable<void(absl::StatusOr<SearchOutcome>)> done);

  // Serves a `Search` RPC whose request has query, filter, page_size and
  // page_token and skip, and whose response has hits, next_page_token,
  // type_counts and total_size (every service's SearchRequest /
  // SearchResponse).
  //
  // Answers are kept in the store's read cache (store/read_cache.h) under
  // the request's bytes, as Gets and Lists are: a search asked again before
  // any write is answered with the bytes sent the first time.
  template <typename Request, typename Response>
  void Serve(UnaryCall<Request, Response> call) {
    const Request& req = call.request();
    ReadCache::Slot slot;
    if (db_ != nullptr && db_->read_cache().enabled()) {
      std::string bytes;
      if (db_->read_cache().Lookup(RequestKey(req), &slot, &bytes))
        return call.FinishSerialized(std::move(bytes));
    }
    SearchParams p{req.query(), req.filter(), req.page_size(), req.page_token(),
                   req.skip()};
    Response* out = call.response();
    const absl::Time deadline = call.deadline();
    Search(std::move(p), deadline,
           [this, out, slot = std::move(slot),
            call = std::move(call)](absl::StatusOr<SearchOutcome> r) mutable {
             if (!r.ok()) return call.Finish(r.status());
             for (auto& h : r->hits) *out->add_hits() = std::move(h);
             out->set_next_page_token(std::move(r->next_page_token));
             for (auto& [type, count] : r->type_counts) {
               auto* c = out->add_type_counts();
               c->set_type(type);
               c->set_count(count);
             }
             out->set_total_size(r->total);
             if (slot.key.empty()) return call.Finish(absl::OkStatus());
             std::string bytes = out->SerializeAsString();
             db_->read_cache().Keep(slot, bytes);
             call.FinishSerialized(std::move(bytes));
           });
  }

 private:
  struct Source {
    std::string table;
    std::string resource_type;
    EntryOf entry_of;
  };
  struct Pending;
  // A query's ranking: its best matches to kMaxSearchDepth, best first, and
  // its facets.
  struct Ranking {
    struct Match {
      SqlValue key;  // the row's id (SQLite) or name (PostgreSQL)
      std::string name;
      double score;
    };
    std::vector<Match> top;
    std::vector<std::pair<std::string, int64_t>> type_counts;
    int64_t total = 0;
    uint64_t generation = 0;
    absl::Time created;
  };

  using Done = absl::AnyInvocable<void(absl::StatusOr<SearchOutcome>)>;

  absl::Status Rebuild(SqlTransaction& tx);
  // The ranking's statement and its parameters (see the .cc: SQLite reads
  // every match, PostgreSQL ranks and counts in the statement).
  std::string RankingStatement(const Pending& p, SqlValues* params) const;
  // Counts and facets from `counts`; the matches sorted, to kMaxSearchDepth.
  static void Finalize(Ranking& r,
                       const absl::flat_hash_map<std::string, int64_t>& counts);
  // From `p.ranking`: the outcome's total and facets, and the statement
  // reading the page's rows by key; false when the page has none.
  bool PageStatement(Pending& p, std::string* sql, SqlValues* keys) const;
  absl::Status PageRow(Pending& p, TextAnalyzer& analyzer,
                       const SqlRow& row) const;
  // Drops hits whose rows were gone; sets the next page's token.
  void EndPage(Pending& p) const;
  // SQLite: ranking and page in one read transaction.
  absl::Status Run(SqlTransaction& tx, Pending& p);
  // PostgreSQL: the ranking statement, then the page's, each with
  // Database::QueryOnceAsync (no store thread held).
  void RankAsync(std::unique_ptr<Pending> p, absl::Time deadline, Done done);
  void FetchPageAsync(std::unique_ptr<Pending> p, absl::Time deadline,
                      Done done);
  // The cached ranking of `key` when it was built at `generation` and is
  // younger than the ttl; else null.
  std::shared_ptr<const Ranking> Cached(const std::string& key,
                                        uint64_t generation);
  void Remember(const std::string& key, uint64_t generation,
                const std::shared_ptr<Ranking>& ranking);

  Database* db_;
  const PageTokenCodec* tokens_;
  const SearchCacheOptions cache_options_;
  mutable std::atomic<uint64_t> generation_{0};
  absl::Mutex cache_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const Ranking>> cache_
      ABSL_GUARDED_BY(cache_mu_);
  bool postgres_;
  std::vector<Source> sources_;
  TextAnalyzerPool analyzers_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_RESOURCES_SEARCH_INDEX_H_
