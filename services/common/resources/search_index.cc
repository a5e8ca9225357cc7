#include "services/common/resources/search_index.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/base/errors.h"
#include "services/common/query/filter.h"

namespace cstopa::common {
namespace {

// The fields a search's filter may name, as columns of search_entries `e`.
// A date known to its year or month only (00 for the unknown parts) compares
// as its first day, as the `as_of` of lists reads a period's start.
const FilterField kSearchFilterFields[] = {
    {"type", "e.resource_type", FilterFieldType::kString},
    {"date",
     "(e.hit_date + CASE WHEN e.hit_date % 10000 = 0 THEN 101 "
     "WHEN e.hit_date % 100 = 0 THEN 1 ELSE 0 END)",
     FilterFieldType::kDate},
};

// Both statements' FROM and WHERE, before the filter's condition. The one
// parameter is the FTS5 expression or the tsquery text.
constexpr char kSqliteMatch[] =
    " FROM search_fts JOIN search_entries e ON e.id = search_fts.rowid"
    " WHERE search_fts MATCH ?";
constexpr char kPostgresMatch[] =
    " FROM search_entries e WHERE e.keys @@ to_tsquery('simple', ?)";

std::string Fingerprint(const SearchParams& p) {
  return absl::StrCat("search\n", p.query.size(), ":", p.query, "\n", p.filter);
}

double ScoreOf(const SqlValue& v) {
  if (const double* d = std::get_if<double>(&v)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&v))
    return static_cast<double>(*i);
  return 0;
}

// A stored YYYYMMDD (month or day 00 when partial) as a google.type.Date.
void SetDate(int64_t day, google::type::Date* out) {
  out->set_year(static_cast<int32_t>(day / 10000));
  out->set_month(static_cast<int32_t>(day / 100 % 100));
  out->set_day(static_cast<int32_t>(day % 100));
}

}  // namespace

void AppendTexts(const google::protobuf::RepeatedPtrField<
                     cstopa::type::v1::LocalizedText>& texts,
                 std::string* out) {
  for (const auto& t : texts) {
    if (t.text().empty()) continue;
    if (!out->empty()) out->push_back('\n');
    out->append(t.text());
  }
}

int64_t SearchDate(const google::type::Date& date, bool present) {
  if (!present || date.year() <= 0) return 0;
  return int64_t{date.year()} * 10000 + date.month() * 100 + date.day();
}

int64_t SearchDate(const cstopa::type::v1::DateRange& range) {
  if (range.has_start_date()) return SearchDate(range.start_date());
  return SearchDate(range.known_from(), range.has_known_from());
}

absl::StatusOr<int32_t> SearchPageSize(int32_t requested) {
  auto size = NormalizePageSize(requested);
  if (!size.ok()) return size.status();
  return requested == 0 ? kDefaultSearchHits : std::min(*size, kMaxSearchHits);
}

struct SearchIndex::Pending {
  SearchParams params;
  std::string cache_key;    // the words and the filter
  uint64_t generation = 0;  // of the index when the search began
  SearchWords words;
  SqlCondition condition;
  std::string match;  // the FTS5 expression or tsquery text
  int64_t offset = 0;
  int32_t page_size = 0;
  // Set once ranked: the ranking, and the end of the page's ranks.
  std::shared_ptr<const Ranking> ranking;
  int64_t end = 0;
  // Held while the page's rows are read asynchronously.
  std::optional<TextAnalyzerPool::Handle> analyzer;
  SearchOutcome outcome;
};

SearchIndex::SearchIndex(Database* db, const PageTokenCodec* tokens,
                         SearchCacheOptions cache)
    : db_(db),
      tokens_(tokens),
      cache_options_(cache),
      postgres_(db != nullptr && db->dialect() == "postgresql"),
      analyzers_(TextMode::kTransliterate) {}

void SearchIndex::AddSource(std::string table, std::string resource_type,
                            EntryOf entry_of) {
  sources_.push_back(
      {std::move(table), std::move(resource_type), std::move(entry_of)});
}

absl::Status SearchIndex::Put(SqlTransaction& tx, absl::string_view name,
                              absl::string_view resource_type,
                              const SearchEntry* entry) {
  Invalidate();  // and again once the write has committed (ResourceSet)
  if (entry == nullptr) {
    return tx
        .Execute("DELETE FROM search_entries WHERE name = ?",
                 {std::string(name)})
        .status();
  }
  // NULL without a date (so that no date comparison holds).
  SqlValue date;
  if (entry->date > 0) date.emplace<int64_t>(entry->date);
  SqlValues values = {std::string(name), std::string(resource_type),
                      entry->title, entry->text, date};
  // SQLite: the triggers keep search_fts (an update re-indexes the row).
  // PostgreSQL: the keys are stored beside the texts, title above body.
  std::string keys_column, keys_value, keys_update;
  if (postgres_) {
    auto analyzer = analyzers_.Borrow();
    if (!analyzer.ok()) return analyzer.status();
    values.push_back((*analyzer)->NormalizedText(entry->title));
    values.push_back((*analyzer)->NormalizedText(entry->text));
    keys_column = ", keys";
    keys_value =
        ", setweight(to_tsvector('simple', ?), 'A') || "
        "setweight(to_tsvector('simple', ?), 'B')";
    keys_update = ", keys = excluded.keys";
  }
  return tx
      .Execute(
          absl::StrCat("INSERT INTO search_entries(name, resource_type, title, "
                       "body, hit_date",
                       keys_column, ") VALUES (?, ?, ?, ?, ?", keys_value,
                       ") ON CONFLICT (name) DO UPDATE SET resource_type = "
                       "excluded.resource_type, title = excluded.title, body = "
                       "excluded.body, hit_date = excluded.hit_date",
                       keys_update),
          values)
      .status();
}

absl::Status SearchIndex::Rebuild(SqlTransaction& tx) {
  if (auto r = tx.Execute("DELETE FROM search_entries", {}); !r.ok())
    return r.status();
  for (const Source& source : sources_) {
    // Read first, then write: a statement stays open while its rows step.
    std::vector<std::pair<std::string, SearchEntry>> entries;
    absl::Status s = tx.QueryEach(
        absl::StrCat("SELECT data FROM ", source.table,
                     " WHERE delete_time IS NULL ORDER BY name"),
        {}, [&](const SqlRow& row) {
          std::string name;
          std::optional<SearchEntry> e = source.entry_of(row.Bytes(0), &name);
          if (e.has_value()) entries.emplace_back(std::move(name), *e);
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    for (const auto& [name, entry] : entries) {
      if (auto p = Put(tx, name, source.resource_type, &entry); !p.ok())
        return p;
    }
  }
  if (auto r = tx.Execute("DELETE FROM search_state", {}); !r.ok())
    return r.status();
  return tx
      .Execute("INSERT INTO search_state(version) VALUES (?)",
               {int64_t{kSearchIndexVersion}})
      .status();
}

absl::Status SearchIndex::RebuildIfStale() {
  if (!enabled() || db_ == nullptr) return absl::OkStatus();
  return db_->Write(absl::InfiniteFuture(), [&](SqlTransaction& tx) {
    auto rows = tx.Query("SELECT version FROM search_state", {});
    if (!rows.ok()) return rows.status();
    if (rows->size() == 1 && (*rows)[0].size() == 1 &&
        (*rows)[0][0] == SqlValue(int64_t{kSearchIndexVersion}))
      return absl::OkStatus();
    return Rebuild(tx);
  });
}

namespace {

// Best first, then by name (bytewise, as PostgreSQL's ORDER BY ... COLLATE
// "C" of the ranking statement).
bool Better(double a_score, const std::string& a_name, double b_score,
            const std::string& b_name) {
  return a_score != b_score ? a_score > b_score : a_name < b_name;
}

}  // namespace

void SearchIndex::Finalize(
    Ranking& r, const absl::flat_hash_map<std::string, int64_t>& counts) {
  r.total = 0;
  for (const auto& [type, count] : counts) r.total += count;
  r.type_counts.assign(counts.begin(), counts.end());
  std::sort(r.type_counts.begin(), r.type_counts.end(),
            [](const auto& a, const auto& b) {
              return a.second != b.second ? a.second > b.second
                                          : a.first < b.first;
            });
  // Best first, then by name, to the reachable depth.
  std::vector<Ranking::Match>& matches = r.top;
  const size_t depth =
      std::min<size_t>(matches.size(), static_cast<size_t>(kMaxSearchDepth));
  std::partial_sort(matches.begin(), matches.begin() + depth, matches.end(),
                    [](const Ranking::Match& a, const Ranking::Match& b) {
                      return Better(a.score, a.name, b.score, b.name);
                    });
  matches.resize(depth);
  matches.shrink_to_fit();
}

std::string SearchIndex::RankingStatement(const Pending& p,
                                          SqlValues* params) const {
  const std::string where = p.condition.sql.empty()
                                ? std::string()
                                : absl::StrCat(" AND ", p.condition.sql);
  params->clear();
  if (!postgres_) {
    // Every match's key, name, type and score; Run counts and ranks them.
    params->push_back(p.match);
    params->insert(params->end(), p.condition.params.begin(),
                   p.condition.params.end());
    return absl::StrCat(
        "SELECT e.id, e.name, e.resource_type, -bm25(search_fts, 4.0, 1.0)",
        kSqliteMatch, where);
  }
  // PostgreSQL ranks and counts in the statement, so that the rows read
  // back (on the store's one I/O thread) are at most kMaxSearchDepth
  // matches and a row per type: kind 0 is a match (name, type, score),
  // kind 1 a type's count (type, count). The matches are scored once: a
  // common table read twice is computed once.
  params->push_back(p.match);
  params->push_back(p.match);
  params->insert(params->end(), p.condition.params.begin(),
                 p.condition.params.end());
  return absl::StrCat(
      "WITH m AS (SELECT e.name, e.resource_type, "
      "ts_rank(e.keys, to_tsquery('simple', ?))::float8 AS score",
      kPostgresMatch, where,
      ") SELECT 0, name, resource_type, score FROM (SELECT * FROM m ORDER BY "
      "score DESC, name COLLATE \"C\" LIMIT ",
      kMaxSearchDepth,
      ") best UNION ALL SELECT 1, NULL, resource_type, count(*)::float8 FROM m "
      "GROUP BY resource_type");
}

bool SearchIndex::PageStatement(Pending& p, std::string* sql,
                                SqlValues* keys) const {
  const Ranking& ranking = *p.ranking;
  p.outcome.total = ranking.total;
  p.outcome.type_counts = ranking.type_counts;
  p.end = std::min<int64_t>(p.offset + p.page_size,
                            static_cast<int64_t>(ranking.top.size()));
  if (p.offset >= p.end) return false;
  // The page's rows, read by key (their texts are read for the page only).
  std::string in;
  keys->clear();
  for (int64_t i = p.offset; i < p.end; ++i) {
    in.append(in.empty() ? "?" : ", ?");
    keys->push_back(ranking.top[static_cast<size_t>(i)].key);
  }
  p.outcome.hits.assign(keys->size(), {});
  const char* key = postgres_ ? "name" : "id";
  *sql = absl::StrCat("SELECT ", key,
                      ", name, resource_type, title, body, hit_date FROM "
                      "search_entries WHERE ",
                      key, " IN (", in, ")");
  return true;
}

absl::Status SearchIndex::PageRow(Pending& p, TextAnalyzer& analyzer,
                                  const SqlRow& row) const {
  const SqlValue key = row.Value(0);
  const auto first = p.ranking->top.begin() + p.offset;
  const auto last = p.ranking->top.begin() + p.end;
  auto m = std::find_if(first, last,
                        [&](const Ranking::Match& r) { return r.key == key; });
  if (m == last) return absl::OkStatus();
  cstopa::type::v1::SearchHit& hit =
      p.outcome.hits[static_cast<size_t>(m - first)];
  hit.set_name(std::string(row.Bytes(1)));
  hit.set_type(std::string(row.Bytes(2)));
  hit.set_title(std::string(row.Bytes(3)));
  std::string snippet = MarkedSnippet(row.Bytes(4), p.words, analyzer);
  if (snippet.empty()) snippet = MarkedSnippet(row.Bytes(3), p.words, analyzer);
  hit.set_snippet(std::move(snippet));
  if (!row.IsNull(5) && row.Int(5) > 0) SetDate(row.Int(5), hit.mutable_date());
  hit.set_score(m->score);
  return absl::OkStatus();
}

void SearchIndex::EndPage(Pending& p) const {
  // A ranked row gone since the ranking was made (a write in between, or
  // through another replica within the cache's ttl) is left out of the page.
  p.outcome.hits.erase(
      std::remove_if(p.outcome.hits.begin(), p.outcome.hits.end(),
                     [](const auto& h) { return h.name().empty(); }),
      p.outcome.hits.end());
  // The next page starts after this page's ranks (also when a row of it
  // was gone), if any are left within the reachable depth.
  if (p.end >= std::min<int64_t>(kMaxSearchDepth, p.outcome.total)) return;
  PageCursor cursor;
  cursor.last_values = {p.end};
  p.outcome.next_page_token = tokens_->Encode(cursor, Fingerprint(p.params));
}

absl::Status SearchIndex::Run(SqlTransaction& tx, Pending& p) {
  // The ranking: from the cache, else one pass over the matches (the
  // full-text match is the costly part, so it runs once): each match's key,
  // name, type and score; the facets are counted and the ranking kept to
  // the reachable depth here.
  p.ranking = Cached(p.cache_key, p.generation);
  if (p.ranking == nullptr) {
    SqlValues params;
    const std::string sql = RankingStatement(p, &params);
    auto built = std::make_shared<Ranking>();
    absl::flat_hash_map<std::string, int64_t> counts;
    absl::Status s = tx.QueryEach(sql, params, [&](const SqlRow& row) {
      built->top.push_back(
          {row.Value(0), std::string(row.Bytes(1)), ScoreOf(row.Value(3))});
      ++counts[row.Bytes(2)];
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    Finalize(*built, counts);
    Remember(p.cache_key, p.generation, built);
    p.ranking = std::move(built);
  }
  std::string sql;
  SqlValues keys;
  if (!PageStatement(p, &sql, &keys)) return absl::OkStatus();
  auto analyzer = analyzers_.Borrow();
  if (!analyzer.ok()) return analyzer.status();
  absl::Status s = tx.QueryEach(sql, keys, [&](const SqlRow& row) {
    return PageRow(p, **analyzer, row);
  });
  if (!s.ok()) return s;
  EndPage(p);
  return absl::OkStatus();
}

void SearchIndex::RankAsync(std::unique_ptr<Pending> p, absl::Time deadline,
                            Done done) {
  SqlValues params;
  std::string sql = RankingStatement(*p, &params);
  struct Building {
    std::shared_ptr<Ranking> ranking = std::make_shared<Ranking>();
    absl::flat_hash_map<std::string, int64_t> counts;
  };
  auto building = std::make_unique<Building>();
  Building* b = building.get();
  db_->QueryOnceAsync(
      std::move(sql), std::move(params), deadline,
      [b](const SqlRow& row) {
        if (row.Int(0) == 0) {
          b->ranking->top.push_back(
              {row.Value(1), std::string(row.Bytes(1)), ScoreOf(row.Value(3))});
        } else {
          b->counts[row.Bytes(2)] +=
              static_cast<int64_t>(ScoreOf(row.Value(3)));
        }
        return absl::OkStatus();
      },
      [this, p = std::move(p), building = std::move(building), deadline,
       done = std::move(done)](absl::Status s) mutable {
        if (!s.ok()) return done(std::move(s));
        Finalize(*building->ranking, building->counts);
        Remember(p->cache_key, p->generation, building->ranking);
        p->ranking = std::move(building->ranking);
        FetchPageAsync(std::move(p), deadline, std::move(done));
      });
}

void SearchIndex::FetchPageAsync(std::unique_ptr<Pending> p,
                                 absl::Time deadline, Done done) {
  std::string sql;
  SqlValues keys;
  if (!PageStatement(*p, &sql, &keys)) return done(std::move(p->outcome));
  auto analyzer = analyzers_.Borrow();
  if (!analyzer.ok()) return done(analyzer.status());
  p->analyzer.emplace(*std::move(analyzer));
  Pending* raw = p.get();
  db_->QueryOnceAsync(
      std::move(sql), std::move(keys), deadline,
      [this, raw](const SqlRow& row) {
        return PageRow(*raw, **raw->analyzer, row);
      },
      [this, p = std::move(p), done = std::move(done)](absl::Status s) mutable {
        p->analyzer.reset();  // back to the pool
        if (!s.ok()) return done(std::move(s));
        EndPage(*p);
        done(std::move(p->outcome));
      });
}

std::shared_ptr<const SearchIndex::Ranking> SearchIndex::Cached(
    const std::string& key, uint64_t generation) {
  if (cache_options_.max_entries <= 0) return nullptr;
  absl::MutexLock lock(&cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return nullptr;
  const Ranking& r = *it->second;
  if (r.generation != generation ||
      absl::Now() - r.created > cache_options_.ttl) {
    cache_.erase(it);
    return nullptr;
  }
  return it->second;
}

void SearchIndex::Remember(const std::string& key, uint64_t generation,
                           const std::shared_ptr<Ranking>& ranking) {
  if (cache_options_.max_entries <= 0) return;
  ranking->generation = generation;
  ranking->created = absl::Now();
  absl::MutexLock lock(&cache_mu_);
  // Bounded: when full, the whole cache goes (rankings live seconds).
  if (cache_.size() >= static_cast<size_t>(cache_options_.max_entries))
    cache_.clear();
  cache_[key] = ranking;
}

void SearchIndex::Search(
    SearchParams params, absl::Time deadline,
    absl::AnyInvocable<void(absl::StatusOr<SearchOutcome>)> done) {
  auto p = std::make_unique<Pending>();
  p->params = std::move(params);
  auto words = ParseSearchWords(p->params.query, "query");
  if (!words.ok()) return done(words.status());
  p->words = std::move(*words);
  auto condition = CompileFilter(p->params.filter, kSearchFilterFields);
  if (!condition.ok()) return done(condition.status());
  p->condition = std::move(*condition);
  auto page_size = SearchPageSize(p->params.page_size);
  if (!page_size.ok()) return done(page_size.status());
  p->page_size = *page_size;
  if (!p->params.page_token.empty()) {
    auto cursor = tokens_->Decode(p->params.page_token, Fingerprint(p->params));
    if (!cursor.ok()) return done(cursor.status());
    const int64_t* offset = cursor->last_values.size() == 1
                                ? std::get_if<int64_t>(&cursor->last_values[0])
                                : nullptr;
    if (offset == nullptr || *offset < 0 || *offset > kMaxSearchDepth)
      return done(InvalidArgument(
          "INVALID_PAGE_TOKEN",
          {{"page_token", "is not a page token of this search"}}));
    p->offset = *offset;
  }
  if (p->params.skip < 0)
    return done(InvalidArgument("skip", "must not be negative"));
  p->offset = std::min<int64_t>(p->offset + p->params.skip, kMaxSearchDepth);
  if (postgres_) {
    auto analyzer = analyzers_.Borrow();
    if (!analyzer.ok()) return done(analyzer.status());
    p->match = TsQueryText(p->words, **analyzer);
    // No word has a key (only marks, say): nothing can match.
    if (p->match.empty()) return done(SearchOutcome{});
  } else {
    p->match = Fts5MatchExpression(p->words);
  }
  if (db_ == nullptr || !enabled())
    return done(absl::FailedPreconditionError("this service has no search"));
  // Read before the transaction starts: a write that commits after it makes
  // the ranking this search builds stale, and its Invalidate has moved the
  // generation on by then.
  p->generation = generation_.load(std::memory_order_acquire);
  p->cache_key = absl::StrCat(p->match, "\n", p->params.filter);
  if (postgres_) {
    // On the asynchronous path, as Gets are: two statements (the ranking,
    // unless kept, then the page's rows), no store thread held.
    p->ranking = Cached(p->cache_key, p->generation);
    if (p->ranking != nullptr)
      return FetchPageAsync(std::move(p), deadline, std::move(done));
    return RankAsync(std::move(p), deadline, std::move(done));
  }
  // SQLite: in one read transaction on a store thread.
  Pending* raw = p.get();
  db_->ReadAsync(
      deadline, [this, raw](SqlTransaction& tx) { return Run(tx, *raw); },
      [p = std::move(p), done = std::move(done)](absl::Status s) mutable {
        if (!s.ok()) return done(std::move(s));
        done(std::move(p->outcome));
      });
}

}  // namespace cstopa::common
