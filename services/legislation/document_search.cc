// DocumentSearch: statements, ranking cache and the asynchronous paths of a
// search. See document_search.h.
#include "services/legislation/document_search.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cstopa/legislation/v1/legislation.pb.h"
#include "services/common/base/errors.h"
#include "services/common/resources/resource.h"
#include "services/legislation/search_query.h"

namespace cstopa::legislation {
namespace {

using common::SharedRead;
using common::SqlRow;
using common::SqlTransaction;
using common::SqlValue;
using common::SqlValues;

absl::StatusOr<int32_t> SearchPageSize(int32_t requested) {
  if (requested < 0)
    return common::InvalidArgument("page_size", "must not be negative");
  if (requested == 0) return kDefaultSearchPageSize;
  return std::min(requested, kMaxSearchPageSize);
}

// The first passage of the titles, summaries or texts (as stored in the
// text columns `first`, `first` + 1 and `first` + 2 of `row`, entries
// separated by newlines) that holds one of the words; the first title when
// none does (e.g. a match FTS5 made after folding diacritics). Columns after
// the one that holds a word are not read.
std::string SnippetOf(const SqlRow& row, int first, const SnippetWords& words) {
  for (int column = first; column < first + 3; ++column) {
    std::string s = Snippet(row.Bytes(column), words);
    if (!s.empty()) {
      std::replace(s.begin(), s.end(), '\n', ' ');
      return std::string(absl::StripAsciiWhitespace(s));
    }
  }
  absl::string_view title = absl::StripAsciiWhitespace(row.Bytes(first));
  return std::string(title.substr(0, title.find('\n')));
}

// Fills `hit` from the stored document (column `first` of `row`; with
// `full`, its texts included) and its text columns (the three after it).
absl::Status FillHit(const SqlRow& row, int first, const SnippetWords& words,
                     bool full, SearchHit* hit) {
  if (full) {
    hit->document.assign(row.Bytes(first).data(), row.Bytes(first).size());
  } else if (!common::resource_internal::WithoutFields(
                 row.Bytes(first), {v1::Document::kTextFieldNumber},
                 &hit->document)) {
    return absl::DataLossError("a stored document is corrupt");
  }
  hit->snippets.push_back(SnippetOf(row, first + 1, words));
  return absl::OkStatus();
}

// A ranked row's score as read back (FTS5 and ts_rank give doubles).
double ScoreOf(const SqlRow& row, int column) {
  SqlValue score = row.Value(column);
  return std::holds_alternative<double>(score)
             ? std::get<double>(score)
             : static_cast<double>(common::AsInt(score));
}

// Whether `a` comes after `b` in (score desc, key asc) order.
bool After(double a_score, const SqlValue& a_key, double b_score,
           const SqlValue& b_key) {
  if (a_score != b_score) return a_score < b_score;
  return a_key > b_key;
}

// The best `limit` (score, row id) pairs of those added, in (score desc, row
// id asc) order: what ORDER BY score DESC, rowid ASC LIMIT `limit` selects.
// Kept in C++ on SQLite, where the sort would open a temporary b-tree (and
// allocate and free its page cache) on every search.
class TopRows {
 public:
  explicit TopRows(size_t limit) : limit_(limit) {}

  void Add(double score, int64_t id) {
    Entry e{score, id};
    if (heap_.size() < limit_) {
      heap_.push_back(e);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (limit_ > 0 && Better(e, heap_.front())) {
      // The worst kept row is at the front.
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = e;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }

  std::vector<std::pair<double, int64_t>> Sorted() {
    std::sort_heap(heap_.begin(), heap_.end(), Better);
    std::vector<std::pair<double, int64_t>> out;
    out.reserve(heap_.size());
    for (const Entry& e : heap_) out.emplace_back(e.score, e.id);
    return out;
  }

 private:
  struct Entry {
    double score;
    int64_t id;
  };
  static bool Better(const Entry& a, const Entry& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.id < b.id;
  }

  size_t limit_;
  std::vector<Entry> heap_;
};

}  // namespace

// One search, from its checks to its answer: owned by whichever step runs.
struct DocumentSearch::Pending {
  explicit Pending(SearchQuery q, Callback callback)
      : query(std::move(q)), words(query.words), done(std::move(callback)) {}

  const Ranked* after_row() const { return has_after ? &after : nullptr; }
  // The ranked rows shown: all but the one after the page (which tells that
  // there are more).
  std::vector<Ranked> Shown() const {
    return std::vector<Ranked>(
        rows.begin(), rows.begin() + std::min<size_t>(rows.size(), page_size));
  }

  SearchQuery query;
  SnippetWords words;
  Callback done;
  int32_t page_size = 0;
  std::string where;  // " AND ..." conditions after the match
  SqlValues where_params;
  std::string fingerprint;  // binds page tokens to the query
  bool has_after = false;
  Ranked after;  // the last row of the previous page
  // What the cache knew when the search started: an entry made from this
  // search's ranking is as old as that.
  uint64_t generation = 0;
  absl::Time started;
  // The ranked rows of the page and, when there are more, one after it.
  std::vector<Ranked> rows;
  SearchPage page;
};

// The documents and snippets of a page's ranked rows: one statement, whose
// rows fill the hits in the order of the ranking.
class DocumentSearch::PageFetch {
 public:
  PageFetch(bool postgres, const SnippetWords& words, bool full,
            std::vector<Ranked> rows, std::vector<SearchHit>* hits)
      : postgres_(postgres),
        full_(full),
        words_(words),
        rows_(std::move(rows)),
        hits_(hits),
        seen_(rows_.size(), false) {
    hits_->clear();
    hits_->resize(rows_.size());
    for (size_t i = 0; i < rows_.size(); ++i)
      (*hits_)[i].score = rows_[i].score;
    // Snippets are cut here (SnippetOf) on both back ends, not by FTS5's
    // snippet() or PostgreSQL's ts_headline(), which re-parse every text of
    // every row in SQL and cost more than the rest of the page.
    static constexpr char kColumns[] =
        "data, title, summary_text, body_text FROM documents WHERE "
        "delete_time IS NULL AND ";
    params_.reserve(rows_.size());
    if (postgres_) {
      sql_ = absl::StrCat("SELECT name, ", kColumns, "name IN (");
      for (size_t i = 0; i < rows_.size(); ++i) {
        sql_ += i == 0 ? "?" : ", ?";
        params_.push_back(rows_[i].key);
      }
      sql_ += ")";
    } else {
      // Point lookups: an IN list would build a temporary b-tree first.
      for (size_t i = 0; i < rows_.size(); ++i) {
        absl::StrAppend(&sql_, i == 0 ? "" : " UNION ALL ", "SELECT id, ",
                        kColumns, "id = ?");
        params_.push_back(rows_[i].key);
      }
    }
  }

  // Nothing to read: the page is empty.
  bool empty() const { return rows_.empty(); }
  std::string& sql() { return sql_; }
  SqlValues& params() { return params_; }

  absl::Status OnRow(const SqlRow& row) {
    size_t i = Position(row);
    if (i == rows_.size() || seen_[i]) return absl::OkStatus();
    seen_[i] = true;
    return FillHit(row, 1, words_, full_, &(*hits_)[i]);
  }

  // The outcome of another fetch of the same rows with the same words:
  // the documents and snippets it found (the scores are this search's).
  void Adopt(const PageFetch& leader) {
    seen_ = leader.seen_;
    for (size_t i = 0; i < hits_->size() && i < leader.hits_->size(); ++i) {
      (*hits_)[i].document = (*leader.hits_)[i].document;
      (*hits_)[i].snippets = (*leader.hits_)[i].snippets;
    }
  }

  // A document deleted between ranking and fetching drops out of the page.
  void Done() {
    size_t kept = 0;
    for (size_t i = 0; i < hits_->size(); ++i) {
      if (!seen_[i]) continue;
      if (kept != i) (*hits_)[kept] = std::move((*hits_)[i]);
      ++kept;
    }
    hits_->resize(kept);
  }

 private:
  // The ranked row of a document row: keys are row ids (SQLite) or names
  // (PostgreSQL). Rows mostly come in the order asked for.
  size_t Position(const SqlRow& row) {
    for (size_t k = 0; k < rows_.size(); ++k) {
      size_t i = (next_ + k) % rows_.size();
      bool same = false;
      if (postgres_) {
        const auto* key = std::get_if<std::string>(&rows_[i].key);
        same = key != nullptr && *key == row.Bytes(0);
      } else {
        const auto* key = std::get_if<int64_t>(&rows_[i].key);
        same = key != nullptr && *key == row.Int(0);
      }
      if (same) {
        next_ = i + 1;
        return i;
      }
    }
    return rows_.size();
  }

  bool postgres_;
  bool full_;
  const SnippetWords& words_;
  std::vector<Ranked> rows_;
  std::vector<SearchHit>* hits_;
  std::vector<bool> seen_;
  size_t next_ = 0;
  std::string sql_;
  SqlValues params_;
};

DocumentSearch::DocumentSearch(common::Database* db,
                               const common::PageTokenCodec* tokens,
                               const std::vector<common::ColumnSpec>& columns,
                               SearchCacheOptions cache)
    : db_(db),
      tokens_(tokens),
      cache_options_(cache),
      postgres_(db->dialect() == "postgresql") {
  // The ListDocuments filter fields, on the documents table aliased `d`.
  filter_fields_ = {
      {"name", "d.name", common::FilterFieldType::kString},
      {"create_time", "d.create_time", common::FilterFieldType::kTimestamp},
      {"update_time", "d.update_time", common::FilterFieldType::kTimestamp}};
  for (const common::ColumnSpec& c : columns)
    filter_fields_.push_back({c.name, "d." + c.name, c.type, c.enum_type});
}

DocumentSearch::~DocumentSearch() = default;

void DocumentSearch::Search(SearchQuery query, absl::Time deadline,
                            Callback done) const {
  auto p = std::make_unique<Pending>(std::move(query), std::move(done));
  if (auto s = Prepare(*p); !s.ok()) return Finish(std::move(p), s);
  if (FromCache(*p)) return FetchAsync(std::move(p), deadline);
  const bool fills_cache = cache_options_.max_entries > 0 && !p->has_after &&
                           p->page_size + 1 <= cache_options_.depth;
  if (postgres_) {
    if (fills_cache) return RankThenFetchAsync(std::move(p), deadline);
    return RankAndFetchAsync(std::move(p), deadline);
  }
  RankAndFetchInTransaction(std::move(p), deadline);
}

absl::Status DocumentSearch::Prepare(Pending& p) const {
  const SearchQuery& q = p.query;
  if (q.words.empty())
    return common::InvalidArgument("query", "has no word to search for");
  auto page_size = SearchPageSize(q.page_size);
  if (!page_size.ok()) return page_size.status();
  p.page_size = *page_size;
  auto cond = common::CompileFilter(q.filter, filter_fields_);
  if (!cond.ok()) return cond.status();
  if (!cond->sql.empty()) {
    p.where = absl::StrCat(" AND ", cond->sql);
    p.where_params = std::move(cond->params);
  }
  // The token binds to the words (not their spelling in the request), the
  // filter and the back end (scores differ between them).
  p.fingerprint = absl::StrCat("search\n", db_->dialect(), "\n",
                               absl::StrJoin(q.words, "\x1f"), "\n", q.filter);
  if (!q.page_token.empty()) {
    auto cursor = tokens_->Decode(q.page_token, p.fingerprint);
    if (!cursor.ok()) return cursor.status();
    if (cursor->last_values.size() != 2 ||
        !std::holds_alternative<double>(cursor->last_values[0]) ||
        postgres_ !=
            std::holds_alternative<std::string>(cursor->last_values[1])) {
      return common::InvalidArgument(
          "INVALID_PAGE_TOKEN", {{"page_token", "does not match this query"}});
    }
    p.has_after = true;
    p.after.score = std::get<double>(cursor->last_values[0]);
    p.after.key = cursor->last_values[1];
  }
  p.generation = generation_.load();
  p.started = absl::Now();
  return absl::OkStatus();
}

namespace {

std::string CacheKey(const SearchQuery& q) {
  return absl::StrCat(absl::StrJoin(q.words, "\x1f"), "\n", q.filter);
}

}  // namespace

bool DocumentSearch::FromCache(Pending& p) const {
  const int limit = p.page_size + 1;
  // Deep pages not in the cache go straight to the database.
  if (cache_options_.max_entries <= 0 || limit > cache_options_.depth)
    return false;
  const std::string key = CacheKey(p.query);
  absl::MutexLock lock(&cache_mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  CacheEntry& e = it->second;
  if (e.generation != p.generation ||
      p.started - e.created >= cache_options_.ttl) {
    cache_lru_.erase(e.lru);
    cache_.erase(it);
    return false;
  }
  cache_lru_.splice(cache_lru_.begin(), cache_lru_, e.lru);
  size_t i = 0;
  if (p.has_after) {
    while (i < e.rows.size() &&
           !After(e.rows[i].score, e.rows[i].key, p.after.score, p.after.key))
      ++i;
  }
  std::vector<Ranked> rows;
  for (; i < e.rows.size() && rows.size() < static_cast<size_t>(limit); ++i)
    rows.push_back(e.rows[i]);
  // Served from the cache unless the page runs past a partial entry.
  if (rows.size() != static_cast<size_t>(limit) && !e.complete) return false;
  p.rows = std::move(rows);
  return true;
}

void DocumentSearch::Remember(Pending& p, std::vector<Ranked> ranking) const {
  CacheEntry entry;
  entry.complete = ranking.size() <= static_cast<size_t>(cache_options_.depth);
  if (!entry.complete) ranking.pop_back();
  entry.rows = std::move(ranking);
  entry.generation = p.generation;
  entry.created = p.started;
  // The first page: the best rows.
  p.rows.assign(entry.rows.begin(),
                entry.rows.begin() +
                    std::min<size_t>(entry.rows.size(), p.page_size + 1));
  const std::string key = CacheKey(p.query);
  absl::MutexLock lock(&cache_mu_);
  if (cache_.find(key) != cache_.end()) return;
  while (static_cast<int>(cache_.size()) >= cache_options_.max_entries &&
         !cache_lru_.empty()) {
    cache_.erase(cache_lru_.back());
    cache_lru_.pop_back();
  }
  cache_lru_.push_front(key);
  entry.lru = cache_lru_.begin();
  cache_.emplace(key, std::move(entry));
}

// SQLite: FTS5 with bm25 (titles weigh 10, summaries 4, texts 1); the index
// holds live documents only (see the triggers), so without a filter the
// ranking reads the index alone. Ties break on the row id. The statement
// selects every match unordered (Rank keeps the best).
//
// PostgreSQL: every word must match under at least one of the 'russian'
// (Russian and English stems) and 'simple' configurations (each word a bound
// parameter of plainto_tsquery, lower-cased like the indexed text); ranked by
// ts_rank over the weighted tsvector. Ties break on the name. The statement
// selects the best `limit` in order.
//
// Columns: rank_key, score.
void DocumentSearch::RankStatement(const Pending& p, int limit,
                                   std::string* sql, SqlValues* params) const {
  const Ranked* after = p.after_row();
  params->clear();
  if (!postgres_) {
    static constexpr char kScore[] = "(-bm25(documents_fts, 10.0, 4.0, 1.0))";
    params->push_back(Fts5Expression(p.query.words));
    params->insert(params->end(), p.where_params.begin(), p.where_params.end());
    std::string keyset;
    if (after != nullptr) {
      keyset = absl::StrCat(" AND (", kScore, " < ? OR (", kScore,
                            " = ? AND documents_fts.rowid > ?))");
      params->insert(params->end(), {after->score, after->score, after->key});
    }
    *sql = absl::StrCat("SELECT documents_fts.rowid AS rank_key, ", kScore,
                        " AS score FROM documents_fts",
                        p.where.empty()
                            ? ""
                            : " JOIN documents d ON d.id = documents_fts.rowid",
                        " WHERE documents_fts MATCH ?", p.where, keyset);
  } else {
    std::vector<std::string> terms;
    for (const std::string& w : p.query.words) {
      terms.push_back(
          "(plainto_tsquery('russian', lower(CAST(? AS text) COLLATE "
          "\"und-x-icu\")) || plainto_tsquery('simple', lower(CAST(? AS text) "
          "COLLATE \"und-x-icu\")))");
      params->insert(params->end(), {w, w});
    }
    static constexpr char kScore[] =
        "(ts_rank(d.search_tsv, query.tsq)::float8)";
    params->insert(params->end(), p.where_params.begin(), p.where_params.end());
    std::string keyset;
    if (after != nullptr) {
      keyset = absl::StrCat(" AND (", kScore, " < ? OR (", kScore,
                            " = ? AND d.name > ?))");
      params->insert(params->end(), {after->score, after->score, after->key});
    }
    *sql = absl::StrCat(
        "SELECT d.name AS rank_key, ", kScore,
        " AS score FROM documents d, (SELECT ", absl::StrJoin(terms, " && "),
        " AS tsq) query WHERE d.search_tsv @@ query.tsq AND d.delete_time IS "
        "NULL",
        p.where, keyset, " ORDER BY score DESC, d.name ASC LIMIT ", limit);
  }
}

absl::StatusOr<std::vector<DocumentSearch::Ranked>> DocumentSearch::Rank(
    SqlTransaction& tx, const Pending& p, int limit) const {
  std::string sql;
  SqlValues params;
  RankStatement(p, limit, &sql, &params);
  std::vector<Ranked> out;
  if (postgres_) {
    absl::Status s =
        tx.QueryEach(sql, params, [&](const SqlRow& row) -> absl::Status {
          out.push_back({ScoreOf(row, 1), row.Value(0)});
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    return out;
  }
  TopRows top(static_cast<size_t>(std::max(limit, 0)));
  absl::Status s =
      tx.QueryEach(sql, params, [&](const SqlRow& row) -> absl::Status {
        top.Add(ScoreOf(row, 1), row.Int(0));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  for (const auto& [score, id] : top.Sorted()) out.push_back({score, id});
  return out;
}

absl::Status DocumentSearch::Fetch(SqlTransaction& tx, Pending& p) const {
  PageFetch fetch(postgres_, p.words, p.query.full, p.Shown(), &p.page.hits);
  if (fetch.empty()) return absl::OkStatus();
  absl::Status s =
      tx.QueryEach(fetch.sql(), fetch.params(),
                   [&fetch](const SqlRow& row) { return fetch.OnRow(row); });
  if (!s.ok()) return s;
  fetch.Done();
  return absl::OkStatus();
}

// Searches for the same words fetching the same page together (one
// statement on PostgreSQL) cut its snippets once.
SharedRead DocumentSearch::ShareFetch(
    const void* kind, const Pending& p, const void* outcome,
    absl::AnyInvocable<absl::Status(const void*)> adopt) {
  SharedRead share;
  share.kind = kind;
  share.key = absl::StrCat(p.query.full ? "full\n" : "basic\n",
                           absl::StrJoin(p.query.words, std::string(1, '\0')));
  share.outcome = outcome;
  share.adopt = std::move(adopt);
  return share;
}

void DocumentSearch::FetchAsync(std::unique_ptr<Pending> p,
                                absl::Time deadline) const {
  static const char kFetch = 0;
  auto fetch = std::make_unique<PageFetch>(postgres_, p->words, p->query.full,
                                           p->Shown(), &p->page.hits);
  if (fetch->empty()) return Finish(std::move(p), absl::OkStatus());
  PageFetch* f = fetch.get();
  std::string sql = std::move(f->sql());
  SqlValues params = std::move(f->params());
  SharedRead share = ShareFetch(&kFetch, *p, f, [f](const void* leader) {
    f->Adopt(*static_cast<const PageFetch*>(leader));
    return absl::OkStatus();
  });
  db_->QuerySharedAsync(
      std::move(sql), std::move(params), deadline,
      [f](const SqlRow& row) { return f->OnRow(row); },
      [this, p = std::move(p),
       fetch = std::move(fetch)](absl::Status s) mutable {
        if (s.ok()) fetch->Done();
        fetch.reset();  // before `p`, whose words and hits it refers to
        Finish(std::move(p), std::move(s));
      },
      std::move(share));
}

// The ranking (at most `limit` rows) joined to the documents: the page is
// read in the same snapshot, with one round trip. The join reads the ranked
// rows only, whatever the number of matches.
void DocumentSearch::RankAndFetchAsync(std::unique_ptr<Pending> p,
                                       absl::Time deadline) const {
  const int limit = p->page_size + 1;
  std::string ranked;
  SqlValues params;
  RankStatement(*p, limit, &ranked, &params);
  std::string sql = absl::StrCat(
      "SELECT r.rank_key, r.score, doc.data, doc.title, doc.summary_text, "
      "doc.body_text FROM (",
      ranked,
      ") r JOIN documents doc ON doc.name = r.rank_key "
      "ORDER BY r.score DESC, r.rank_key ASC");
  Pending* st = p.get();
  static const char kRankAndFetch = 0;
  SharedRead share =
      ShareFetch(&kRankAndFetch, *st, st, [st](const void* leader) {
        const Pending* l = static_cast<const Pending*>(leader);
        st->rows = l->rows;
        st->page.hits = l->page.hits;
        return absl::OkStatus();
      });
  db_->QuerySharedAsync(
      std::move(sql), std::move(params), deadline,
      [st](const SqlRow& row) -> absl::Status {
        st->rows.push_back({ScoreOf(row, 1), row.Value(0)});
        // The row after the page only tells that there are more.
        auto& hits = st->page.hits;
        if (static_cast<int>(hits.size()) == st->page_size)
          return absl::OkStatus();
        hits.emplace_back();
        hits.back().score = st->rows.back().score;
        return FillHit(row, 2, st->words, st->query.full, &hits.back());
      },
      [this, p = std::move(p)](absl::Status s) mutable {
        Finish(std::move(p), std::move(s));
      },
      std::move(share));
}

// The cache's depth of the ranking, then the page's documents as a cached
// ranking's are read: two statements, neither holding a store thread. A
// document deleted in between drops out of the page (PageFetch::Done).
void DocumentSearch::RankThenFetchAsync(std::unique_ptr<Pending> p,
                                        absl::Time deadline) const {
  std::string sql;
  SqlValues params;
  RankStatement(*p, cache_options_.depth + 1, &sql, &params);
  auto ranking = std::make_unique<std::vector<Ranked>>();
  std::vector<Ranked>* r = ranking.get();
  db_->QueryOnceAsync(
      std::move(sql), std::move(params), deadline,
      [r](const SqlRow& row) -> absl::Status {
        r->push_back({ScoreOf(row, 1), row.Value(0)});
        return absl::OkStatus();
      },
      [this, p = std::move(p), ranking = std::move(ranking),
       deadline](absl::Status s) mutable {
        if (!s.ok()) return Finish(std::move(p), std::move(s));
        Remember(*p, std::move(*ranking));
        FetchAsync(std::move(p), deadline);
      });
}

void DocumentSearch::RankAndFetchInTransaction(std::unique_ptr<Pending> p,
                                               absl::Time deadline) const {
  Pending* st = p.get();
  db_->ReadAsync(
      deadline,
      [this, st](SqlTransaction& tx) -> absl::Status {
        const int limit = st->page_size + 1;
        const bool fill = cache_options_.max_entries > 0 && !st->has_after &&
                          limit <= cache_options_.depth;
        auto ranked = Rank(tx, *st, fill ? cache_options_.depth + 1 : limit);
        if (!ranked.ok()) return ranked.status();
        if (fill) {
          Remember(*st, *std::move(ranked));
        } else {
          st->rows = *std::move(ranked);
        }
        return Fetch(tx, *st);
      },
      [this, p = std::move(p)](absl::Status s) mutable {
        Finish(std::move(p), std::move(s));
      });
}

void DocumentSearch::Finish(std::unique_ptr<Pending> p, absl::Status s) const {
  if (!s.ok()) return p->done(std::move(s));
  // A page cut short by bytes (full texts may be long): it ends before the
  // hit that would take it past the response limit.
  const int64_t limit = common::MaxResponseBytes();
  const size_t budget = common::resource_internal::PageBudget(limit);
  size_t used = 0;
  auto& hits = p->page.hits;
  for (size_t i = 0; i < hits.size(); ++i) {
    size_t bytes = hits[i].document.size() + 32;
    for (const std::string& snippet : hits[i].snippets)
      bytes += snippet.size() + 8;
    if (used + bytes > budget) {
      if (i == 0)
        return p->done(common::resource_internal::TooLarge(
            hits[i].document, bytes, v1::Document::kNameFieldNumber, limit));
      hits.resize(i);
      p->rows.resize(i + 1);  // the next page resumes at hit i
      p->page_size = static_cast<int32_t>(i);
      break;
    }
    used += bytes;
  }
  if (p->rows.size() > static_cast<size_t>(p->page_size)) {
    const Ranked& last = p->rows[p->page_size - 1];
    common::PageCursor c;
    c.last_values = {last.score, last.key};
    p->page.next_page_token = tokens_->Encode(c, p->fingerprint);
  }
  p->done(std::move(p->page));
}

}  // namespace cstopa::legislation
