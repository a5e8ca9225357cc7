#include "services/legislation/legislation_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/store/columns.h"
#include "services/common/base/dates.h"
#include "services/common/base/errors.h"
#include "services/common/query/filter.h"
#include "services/common/query/paging.h"
#include "services/legislation/embedded_files.h"
#include "services/legislation/search_query.h"

namespace cstopa::legislation {
namespace {

using common::ColumnSpec;
using common::EnumColumn;
using common::FilterFieldType;
using common::IntColumn;
using common::JoinTexts;
using common::ResourceSpec;
using common::SqlRow;
using common::SqlValue;
using common::SqlValues;
using common::StringColumn;
using google::protobuf::Message;

// A list of strings as a kTextList column: "\na\nb\n".
template <typename Strings>
std::string JoinStrings(const Strings& items) {
  std::string out = "\n";
  for (const auto& s : items) absl::StrAppend(&out, s, "\n");
  return out;
}

template <typename T, typename F>
ColumnSpec TextListColumn(const char* name, F get) {
  return {name, FilterFieldType::kTextList, nullptr,
          [get](const Message& m) -> SqlValue {
            return get(static_cast<const T&>(m));
          }};
}

const ResourceSpec kDocuments{
    "documents",
    {EnumColumn<v1::Document>("kind", v1::DocumentKind_descriptor(),
                              [](const v1::Document& d) { return d.kind(); }),
     EnumColumn<v1::Document>("stage", v1::DocumentStage_descriptor(),
                              [](const v1::Document& d) { return d.stage(); }),
     TextListColumn<v1::Document>(
         "topics",
         [](const v1::Document& d) { return JoinStrings(d.topics()); }),
     StringColumn<v1::Document>(
         "commission", [](const v1::Document& d) { return d.commission(); },
         true),
     // NULL while there is no dated adoption, so no comparison matches it.
     {"adopt_date", FilterFieldType::kDate, nullptr,
      [](const Message& m) -> SqlValue {
        const auto& d = static_cast<const v1::Document&>(m);
        if (!d.has_adopt_date() || d.adopt_date().year() == 0)
          return std::monostate{};
        return common::EarliestDay(d.adopt_date(), true);
      },
      false},
     StringColumn<v1::Document>(
         "revision_id", [](const v1::Document& d) { return d.revision_id(); },
         false),
     TextListColumn<v1::Document>(
         "title", [](const v1::Document& d) { return JoinTexts(d.title()); }),
     TextListColumn<v1::Document>(
         "summary_text",
         [](const v1::Document& d) { return JoinTexts(d.summary()); }),
     TextListColumn<v1::Document>("body_text", [](const v1::Document& d) {
       return JoinTexts(d.text());
     })}};

const ResourceSpec kTopics{"topics", {common::DisplayNameColumn<v1::Topic>()}};

const ResourceSpec kActionPlans{
    "action_plans",
    {TextListColumn<v1::ActionPlan>(
         "title", [](const v1::ActionPlan& p) { return JoinTexts(p.title()); }),
     IntColumn<v1::ActionPlan>(
         "start_date", FilterFieldType::kDate,
         [](const v1::ActionPlan& p) {
           return common::EarliestDay(p.period().start_date(),
                                      p.period().has_start_date());
         },
         true),
     IntColumn<v1::ActionPlan>(
         "end_date", FilterFieldType::kDate,
         [](const v1::ActionPlan& p) {
           return common::LatestDay(p.period().end_date(),
                                    p.period().has_end_date());
         },
         true)}};

const ResourceSpec kItems{
    "action_plan_items",
    {EnumColumn<v1::ActionPlanItem>(
         "status", v1::ItemStatus_descriptor(),
         [](const v1::ActionPlanItem& i) { return i.status(); }),
     StringColumn<v1::ActionPlanItem>(
         "document", [](const v1::ActionPlanItem& i) { return i.document(); },
         false),
     StringColumn<v1::ActionPlanItem>(
         "commission",
         [](const v1::ActionPlanItem& i) { return i.commission(); }, false),
     EnumColumn<v1::ActionPlanItem>(
         "kind", v1::DocumentKind_descriptor(),
         [](const v1::ActionPlanItem& i) { return i.kind(); }),
     IntColumn<v1::ActionPlanItem>(
         "details_known", FilterFieldType::kBool,
         [](const v1::ActionPlanItem& i) { return i.details_known() ? 1 : 0; },
         false)}};

const ResourceSpec kTreaties{
    "treaties",
    {TextListColumn<v1::Treaty>(
         "title", [](const v1::Treaty& t) { return JoinTexts(t.title()); }),
     IntColumn<v1::Treaty>(
         "signing_date", FilterFieldType::kDate,
         [](const v1::Treaty& t) {
           return common::EarliestDay(t.signing_date(), t.has_signing_date());
         },
         true),
     TextListColumn<v1::Treaty>("parties", [](const v1::Treaty& t) {
       return JoinStrings(t.parties());
     })}};

const ResourceSpec kRatifications{
    "ratifications",
    {StringColumn<v1::Ratification>(
         "state", [](const v1::Ratification& r) { return r.state(); }, true),
     EnumColumn<v1::Ratification>(
         "status", v1::RatificationStatus_descriptor(),
         [](const v1::Ratification& r) { return r.status(); }),
     IntColumn<v1::Ratification>(
         "status_date", FilterFieldType::kDate,
         [](const v1::Ratification& r) {
           return common::EarliestDay(r.status_date(), r.has_status_date());
         },
         true),
     StringColumn<v1::Ratification>(
         "parliament", [](const v1::Ratification& r) { return r.parliament(); },
         false)}};

const ResourceSpec kImplementations{
    "implementations",
    {StringColumn<v1::Implementation>(
         "document", [](const v1::Implementation& i) { return i.document(); },
         true),
     StringColumn<v1::Implementation>(
         "state", [](const v1::Implementation& i) { return i.state(); }, true),
     EnumColumn<v1::Implementation>(
         "level", v1::ImplementationLevel_descriptor(),
         [](const v1::Implementation& i) { return i.level(); })}};

// The ListDocuments filter fields, on the documents table aliased `d`.
std::vector<common::FilterField> SearchFilterFields() {
  std::vector<common::FilterField> out = {
      {"name", "d.name", FilterFieldType::kString},
      {"create_time", "d.create_time", FilterFieldType::kTimestamp},
      {"update_time", "d.update_time", FilterFieldType::kTimestamp}};
  for (const ColumnSpec& c : kDocuments.columns)
    out.push_back({c.name, "d." + c.name, c.type, c.enum_type});
  return out;
}

absl::StatusOr<int32_t> SearchPageSize(int32_t requested) {
  if (requested < 0)
    return common::InvalidArgument("page_size", "must not be negative");
  if (requested == 0) return kDefaultSearchPageSize;
  return std::min(requested, kMaxSearchPageSize);
}

// The pieces every search statement shares: filter, keyset, fingerprint.
struct SearchParts {
  std::string where;  // " AND ..." conditions after the match
  SqlValues params;
  bool has_cursor = false;
  double after_score = 0;
  SqlValue after_key;
  std::string fingerprint;
};

absl::StatusOr<SearchParts> CommonParts(const SearchQuery& q,
                                        const common::PageTokenCodec& tokens,
                                        absl::string_view dialect) {
  static const std::vector<common::FilterField>* fields =
      new std::vector<common::FilterField>(SearchFilterFields());
  SearchParts parts;
  auto cond = common::CompileFilter(q.filter, *fields);
  if (!cond.ok()) return cond.status();
  if (!cond->sql.empty()) {
    parts.where = absl::StrCat(" AND ", cond->sql);
    parts.params = std::move(cond->params);
  }
  // The token binds to the words (not their spelling in the request), the
  // filter and the back end (scores differ between them).
  parts.fingerprint =
      absl::StrCat("search\n", dialect, "\n", absl::StrJoin(q.words, "\x1f"),
                   "\n", q.filter);
  if (!q.page_token.empty()) {
    auto cursor = tokens.Decode(q.page_token, parts.fingerprint);
    if (!cursor.ok()) return cursor.status();
    if (cursor->last_values.size() != 2 ||
        !std::holds_alternative<double>(cursor->last_values[0])) {
      return common::InvalidArgument(
          "INVALID_PAGE_TOKEN", {{"page_token", "does not match this query"}});
    }
    parts.has_cursor = true;
    parts.after_score = std::get<double>(cursor->last_values[0]);
    parts.after_key = cursor->last_values[1];
  }
  return parts;
}

bool ReadVarint(absl::string_view in, size_t* pos, uint64_t* out) {
  *out = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    unsigned char b = static_cast<unsigned char>(in[(*pos)++]);
    *out |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Copies the serialized message `in` to `out` without the top-level field
// `field` (search results leave out document texts, which may be long),
// working on the wire format so nothing is decoded. False if `in` is not a
// valid message encoding.
bool WithoutField(absl::string_view in, int field, std::string* out) {
  out->clear();
  out->reserve(in.size());
  size_t pos = 0;
  while (pos < in.size()) {
    size_t start = pos;
    uint64_t tag, n;
    if (!ReadVarint(in, &pos, &tag)) return false;
    switch (tag & 7) {
      case 0:
        if (!ReadVarint(in, &pos, &n)) return false;
        break;
      case 1:
        pos += 8;
        break;
      case 2:
        if (!ReadVarint(in, &pos, &n) || n > in.size() - pos) return false;
        pos += n;
        break;
      case 5:
        pos += 4;
        break;
      default:
        return false;
    }
    if (pos > in.size()) return false;
    if (static_cast<int64_t>(tag >> 3) != field)
      out->append(in.data() + start, pos - start);
  }
  return true;
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

// Fills `hit` from the stored document (column `first` of `row`) and its
// text columns (the three after it).
absl::Status FillHit(const SqlRow& row, int first, const SnippetWords& words,
                     SearchHit* hit) {
  if (!WithoutField(row.Bytes(first), v1::Document::kTextFieldNumber,
                    &hit->document))
    return absl::DataLossError("a stored document is corrupt");
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

}  // namespace

const common::SchemaSpec& LegislationSchema() {
  static const common::SchemaSpec* schema =
      new common::SchemaSpec{"legislation",
                             {{1, "init", std::string(kMigration0001Init),
                               std::string(kMigration0001InitPostgres)}}};
  return *schema;
}

LegislationStore::LegislationStore(common::Database* db,
                                   const common::PageTokenCodec* tokens,
                                   SearchCacheOptions cache)
    : db_(db),
      tokens_(tokens),
      cache_options_(cache),
      postgres_(db->dialect() == "postgresql"),
      documents_(db, &kDocuments, tokens),
      topics_(db, &kTopics, tokens),
      action_plans_(db, &kActionPlans, tokens),
      items_(db, &kItems, tokens),
      treaties_(db, &kTreaties, tokens),
      ratifications_(db, &kRatifications, tokens),
      implementations_(db, &kImplementations, tokens) {
  // Every document write (in this process) invalidates cached rankings.
  documents_.set_write_hook(
      [this](common::SqlTransaction&, common::WriteKind, const Message&) {
        generation_.fetch_add(1);
        return absl::OkStatus();
      });
}

absl::Status LegislationStore::GetRevision(const std::string& document,
                                           const std::string& revision_id,
                                           absl::Time deadline,
                                           v1::Document* snapshot,
                                           int64_t* create_micros) {
  bool found = false;
  absl::Status s = db_->QueryOnce(
      "SELECT r.data, r.create_time FROM document_revisions r "
      "JOIN documents d ON d.name = r.document "
      "WHERE r.document = ? AND r.revision_id = ? AND d.delete_time IS NULL",
      {document, revision_id}, deadline,
      [&](const SqlRow& row) -> absl::Status {
        absl::string_view data = row.Bytes(0);
        if (!snapshot->ParseFromArray(data.data(),
                                      static_cast<int>(data.size())))
          return absl::DataLossError(absl::StrCat("stored revision ",
                                                  revision_id, " of ", document,
                                                  " is corrupt"));
        *create_micros = row.Int(1);
        found = true;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (!found)
    return common::NotFound(absl::StrCat(document, "/revisions/", revision_id));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ItemCount>> LegislationStore::CountItems(
    const std::string& plan, absl::Time deadline) {
  std::vector<ItemCount> out;
  absl::Status s = db_->QueryOnce(
      "SELECT status, commission, COUNT(*) FROM action_plan_items "
      "WHERE parent = ? AND delete_time IS NULL "
      "GROUP BY status, commission ORDER BY status, commission",
      {plan}, deadline, [&](const SqlRow& row) -> absl::Status {
        out.push_back({static_cast<int>(row.Int(0)), std::string(row.Bytes(1)),
                       row.Int(2)});
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<bool> LegislationStore::Exists(
    const common::ResourceStore& store, const std::string& name,
    absl::Time deadline) {
  bool found = false;
  absl::Status s =
      db_->QueryOnce(absl::StrCat("SELECT 1 FROM ", store.spec().table,
                                  " WHERE name = ? AND delete_time IS NULL"),
                     {name}, deadline, [&](const SqlRow&) -> absl::Status {
                       found = true;
                       return absl::OkStatus();
                     });
  if (!s.ok()) return s;
  return found;
}

absl::StatusOr<SearchPage> LegislationStore::Search(const SearchQuery& query,
                                                    absl::Time deadline) const {
  if (query.words.empty())
    return common::InvalidArgument("query", "has no word to search for");
  auto page_size = SearchPageSize(query.page_size);
  if (!page_size.ok()) return page_size.status();
  auto parts = CommonParts(query, *tokens_, db_->dialect());
  if (!parts.ok()) return parts.status();
  Ranked after;
  if (parts->has_cursor) {
    after.score = parts->after_score;
    after.key = parts->after_key;
    if (postgres_ != std::holds_alternative<std::string>(after.key))
      return common::InvalidArgument(
          "INVALID_PAGE_TOKEN", {{"page_token", "does not match this query"}});
  }
  const Ranked* after_row = parts->has_cursor ? &after : nullptr;
  SnippetWords words(query.words);
  SearchPage page;
  std::vector<Ranked> rows;
  auto cached = CachedRank(query, parts->where, parts->params, after_row,
                           *page_size + 1, deadline, &rows);
  if (!cached.ok()) return cached.status();
  absl::Status s;
  // The page's rows: all but the one after the page (which tells that there
  // are more).
  auto shown = [&] {
    return std::vector<Ranked>(
        rows.begin(), rows.begin() + std::min<size_t>(rows.size(), *page_size));
  };
  if (*cached) {
    s = Fetch(QueryOnceIn(deadline), words, shown(), &page.hits);
  } else if (postgres_) {
    // One statement, one round trip.
    s = RankAndFetch(query, words, parts->where, parts->params, after_row,
                     *page_size + 1, deadline, &rows, &page.hits);
  } else {
    // Both statements in one read transaction (one snapshot).
    s = db_->Read(deadline, [&](common::SqlTransaction& tx) {
      auto in = [&tx](absl::string_view sql, const SqlValues& params,
                      RowFn fn) { return tx.QueryEach(sql, params, fn); };
      auto ranked = RankIn(in, query, parts->where, parts->params, after_row,
                           *page_size + 1);
      if (!ranked.ok()) return ranked.status();
      rows = *std::move(ranked);
      return Fetch(in, words, shown(), &page.hits);
    });
  }
  if (!s.ok()) return s;
  if (rows.size() > static_cast<size_t>(*page_size)) {
    const Ranked& last = rows[*page_size - 1];
    common::PageCursor c;
    c.last_values = {last.score, last.key};
    page.next_page_token = tokens_->Encode(c, parts->fingerprint);
  }
  return page;
}

namespace {

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

LegislationStore::QueryFn LegislationStore::QueryOnceIn(
    absl::Time deadline) const {
  return [this, deadline](absl::string_view sql, const SqlValues& params,
                          RowFn fn) {
    return db_->QueryOnce(sql, params, deadline, fn);
  };
}

absl::StatusOr<bool> LegislationStore::CachedRank(
    const SearchQuery& query, const std::string& where,
    const SqlValues& where_params, const Ranked* after, int limit,
    absl::Time deadline, std::vector<Ranked>* out) const {
  out->clear();
  // Deep pages not in the cache go straight to the database.
  if (cache_options_.max_entries <= 0 || limit > cache_options_.depth)
    return false;
  std::string key =
      absl::StrCat(absl::StrJoin(query.words, "\x1f"), "\n", query.filter);
  uint64_t generation = generation_.load();
  absl::Time now = absl::Now();
  auto take = [&](const CacheEntry& e) -> bool {
    size_t i = 0;
    if (after != nullptr) {
      while (i < e.rows.size() &&
             !After(e.rows[i].score, e.rows[i].key, after->score, after->key))
        ++i;
    }
    for (; i < e.rows.size() && out->size() < static_cast<size_t>(limit); ++i)
      out->push_back(e.rows[i]);
    // Served from the cache unless the page runs past a partial entry.
    return out->size() == static_cast<size_t>(limit) || e.complete;
  };
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second.generation == generation &&
          now - it->second.created < cache_options_.ttl) {
        cache_lru_.splice(cache_lru_.begin(), cache_lru_, it->second.lru);
        if (take(it->second)) return true;
        out->clear();
      } else {
        cache_lru_.erase(it->second.lru);
        cache_.erase(it);
      }
    }
  }
  if (after != nullptr) return false;
  auto rows = RankIn(QueryOnceIn(deadline), query, where, where_params, nullptr,
                     cache_options_.depth + 1);
  if (!rows.ok()) return rows.status();
  CacheEntry entry;
  entry.complete = rows->size() <= static_cast<size_t>(cache_options_.depth);
  if (!entry.complete) rows->pop_back();
  entry.rows = *std::move(rows);
  entry.generation = generation;
  entry.created = now;
  take(entry);
  absl::MutexLock lock(&cache_mu_);
  if (cache_.find(key) == cache_.end()) {
    while (static_cast<int>(cache_.size()) >= cache_options_.max_entries &&
           !cache_lru_.empty()) {
      cache_.erase(cache_lru_.back());
      cache_lru_.pop_back();
    }
    cache_lru_.push_front(key);
    entry.lru = cache_lru_.begin();
    cache_.emplace(key, std::move(entry));
  }
  return true;
}

// SQLite: FTS5 with bm25 (titles weigh 10, summaries 4, texts 1); the index
// holds live documents only (see the triggers), so without a filter the
// ranking reads the index alone. Ties break on the row id. The statement
// selects every match unordered (RankIn keeps the best).
//
// PostgreSQL: every word must match under at least one of the 'russian'
// (Russian and English stems) and 'simple' configurations (each word a bound
// parameter of plainto_tsquery, lower-cased like the indexed text); ranked by
// ts_rank over the weighted tsvector. Ties break on the name. The statement
// selects the best `limit` in order.
//
// Columns: rank_key, score.
void LegislationStore::RankStatement(const SearchQuery& query,
                                     const std::string& where,
                                     const SqlValues& where_params,
                                     const Ranked* after, int limit,
                                     std::string* sql,
                                     SqlValues* params) const {
  params->clear();
  if (!postgres_) {
    static constexpr char kScore[] = "(-bm25(documents_fts, 10.0, 4.0, 1.0))";
    params->push_back(Fts5Expression(query.words));
    params->insert(params->end(), where_params.begin(), where_params.end());
    std::string keyset;
    if (after != nullptr) {
      keyset = absl::StrCat(" AND (", kScore, " < ? OR (", kScore,
                            " = ? AND documents_fts.rowid > ?))");
      params->insert(params->end(), {after->score, after->score, after->key});
    }
    *sql = absl::StrCat(
        "SELECT documents_fts.rowid AS rank_key, ", kScore,
        " AS score FROM documents_fts",
        where.empty() ? "" : " JOIN documents d ON d.id = documents_fts.rowid",
        " WHERE documents_fts MATCH ?", where, keyset);
  } else {
    std::vector<std::string> terms;
    for (const std::string& w : query.words) {
      terms.push_back(
          "(plainto_tsquery('russian', lower(CAST(? AS text) COLLATE "
          "\"und-x-icu\")) || plainto_tsquery('simple', lower(CAST(? AS text) "
          "COLLATE \"und-x-icu\")))");
      params->insert(params->end(), {w, w});
    }
    static constexpr char kScore[] =
        "(ts_rank(d.search_tsv, query.tsq)::float8)";
    params->insert(params->end(), where_params.begin(), where_params.end());
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
        where, keyset, " ORDER BY score DESC, d.name ASC LIMIT ", limit);
  }
}

absl::StatusOr<std::vector<LegislationStore::Ranked>> LegislationStore::RankIn(
    QueryFn in, const SearchQuery& query, const std::string& where,
    const SqlValues& where_params, const Ranked* after, int limit) const {
  std::string sql;
  SqlValues params;
  RankStatement(query, where, where_params, after, limit, &sql, &params);
  std::vector<Ranked> out;
  if (postgres_) {
    absl::Status s = in(sql, params, [&](const SqlRow& row) -> absl::Status {
      out.push_back({ScoreOf(row, 1), row.Value(0)});
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }
  TopRows top(static_cast<size_t>(std::max(limit, 0)));
  absl::Status s = in(sql, params, [&](const SqlRow& row) -> absl::Status {
    top.Add(ScoreOf(row, 1), row.Int(0));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  for (const auto& [score, id] : top.Sorted()) out.push_back({score, id});
  return out;
}

// The ranking (at most `limit` rows) joined to the documents: the page is
// read in the same snapshot, with one round trip. The join reads the ranked
// rows only, whatever the number of matches.
absl::Status LegislationStore::RankAndFetch(
    const SearchQuery& query, const SnippetWords& words,
    const std::string& where, const SqlValues& where_params,
    const Ranked* after, int limit, absl::Time deadline,
    std::vector<Ranked>* rows, std::vector<SearchHit>* hits) const {
  std::string ranked;
  SqlValues params;
  RankStatement(query, where, where_params, after, limit, &ranked, &params);
  std::string sql = absl::StrCat(
      "SELECT r.rank_key, r.score, doc.data, doc.title, doc.summary_text, "
      "doc.body_text FROM (",
      ranked,
      ") r JOIN documents doc ON doc.name = r.rank_key "
      "ORDER BY r.score DESC, r.rank_key ASC");
  rows->clear();
  hits->clear();
  int page_size = limit - 1;
  absl::Status s = db_->QueryOnce(
      sql, params, deadline, [&](const SqlRow& row) -> absl::Status {
        rows->push_back({ScoreOf(row, 1), row.Value(0)});
        // The row after the page only tells that there are more.
        if (static_cast<int>(hits->size()) == page_size)
          return absl::OkStatus();
        hits->emplace_back();
        hits->back().score = rows->back().score;
        return FillHit(row, 2, words, &hits->back());
      });
  return s;
}

absl::Status LegislationStore::Fetch(QueryFn in, const SnippetWords& words,
                                     const std::vector<Ranked>& rows,
                                     std::vector<SearchHit>* hits) const {
  hits->clear();
  if (rows.empty()) return absl::OkStatus();
  hits->resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) (*hits)[i].score = rows[i].score;
  // Snippets are cut here (SnippetOf) on both back ends, not by FTS5's
  // snippet() or PostgreSQL's ts_headline(), which re-parse every text of
  // every row in SQL and cost more than the rest of the page.
  static constexpr char kColumns[] =
      "data, title, summary_text, body_text FROM documents WHERE "
      "delete_time IS NULL AND ";
  SqlValues params;
  params.reserve(rows.size());
  std::string sql;
  if (postgres_) {
    sql = absl::StrCat("SELECT name, ", kColumns, "name IN (");
    for (size_t i = 0; i < rows.size(); ++i) {
      sql += i == 0 ? "?" : ", ?";
      params.push_back(rows[i].key);
    }
    sql += ")";
  } else {
    // Point lookups: an IN list would build a temporary b-tree first.
    for (size_t i = 0; i < rows.size(); ++i) {
      absl::StrAppend(&sql, i == 0 ? "" : " UNION ALL ", "SELECT id, ",
                      kColumns, "id = ?");
      params.push_back(rows[i].key);
    }
  }
  // The row of a key: keys are row ids (SQLite) or names (PostgreSQL). Rows
  // mostly come in the order asked for.
  size_t next = 0;
  auto position = [&](const SqlRow& row) -> size_t {
    for (size_t k = 0; k < rows.size(); ++k) {
      size_t i = (next + k) % rows.size();
      bool same = false;
      if (postgres_) {
        const auto* key = std::get_if<std::string>(&rows[i].key);
        same = key != nullptr && *key == row.Bytes(0);
      } else {
        const auto* key = std::get_if<int64_t>(&rows[i].key);
        same = key != nullptr && *key == row.Int(0);
      }
      if (same) {
        next = i + 1;
        return i;
      }
    }
    return rows.size();
  };
  std::vector<bool> seen(rows.size(), false);
  absl::Status s = in(sql, params, [&](const SqlRow& row) -> absl::Status {
    size_t i = position(row);
    if (i == rows.size() || seen[i]) return absl::OkStatus();
    seen[i] = true;
    return FillHit(row, 1, words, &(*hits)[i]);
  });
  if (!s.ok()) return s;
  // A document deleted between ranking and fetching drops out of the page.
  size_t kept = 0;
  for (size_t i = 0; i < hits->size(); ++i) {
    if (!seen[i]) continue;
    if (kept != i) (*hits)[kept] = std::move((*hits)[i]);
    ++kept;
  }
  hits->resize(kept);
  return absl::OkStatus();
}

}  // namespace cstopa::legislation
