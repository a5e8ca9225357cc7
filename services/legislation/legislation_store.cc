#include "services/legislation/legislation_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/columns.h"
#include "services/common/dates.h"
#include "services/common/errors.h"
#include "services/common/filter.h"
#include "services/common/paging.h"
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
  std::string after_name;
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
        !std::holds_alternative<double>(cursor->last_values[0]) ||
        !std::holds_alternative<std::string>(cursor->last_values[1])) {
      return common::InvalidArgument(
          "INVALID_PAGE_TOKEN", {{"page_token", "does not match this query"}});
    }
    parts.has_cursor = true;
    parts.after_score = std::get<double>(cursor->last_values[0]);
    parts.after_name = std::get<std::string>(cursor->last_values[1]);
  }
  return parts;
}

std::string NextToken(const common::PageTokenCodec& tokens,
                      const SearchParts& parts, double score,
                      const std::string& name) {
  common::PageCursor c;
  c.last_values = {score, name};
  c.last_name = name;
  return tokens.Encode(c, parts.fingerprint);
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
                                   const common::PageTokenCodec* tokens)
    : db_(db),
      tokens_(tokens),
      documents_(db, &kDocuments, tokens),
      topics_(db, &kTopics, tokens),
      action_plans_(db, &kActionPlans, tokens),
      items_(db, &kItems, tokens),
      treaties_(db, &kTreaties, tokens),
      ratifications_(db, &kRatifications, tokens),
      implementations_(db, &kImplementations, tokens) {}

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
  if (db_->dialect() == "postgresql")
    return SearchPostgres(query, *page_size, deadline);
  return SearchSqlite(query, *page_size, deadline);
}

// SQLite: FTS5 with bm25 (titles weigh 10, summaries 4, texts 1). Two steps
// in one snapshot: first the page's rows by rank alone (no snippet, no
// document bytes, so the sort holds only ids and scores), then the
// documents and snippets of just those rows.
absl::StatusOr<SearchPage> LegislationStore::SearchSqlite(
    const SearchQuery& query, int32_t page_size, absl::Time deadline) const {
  auto parts = CommonParts(query, *tokens_, "sqlite");
  if (!parts.ok()) return parts.status();
  static constexpr char kScore[] = "(-bm25(documents_fts, 10.0, 4.0, 1.0))";
  std::string match = Fts5Expression(query.words);
  SqlValues params = {match};
  for (const SqlValue& p : parts->params) params.push_back(p);
  std::string keyset;
  if (parts->has_cursor) {
    keyset = absl::StrCat(" AND (", kScore, " < ? OR (", kScore,
                          " = ? AND d.name > ?))");
    params.push_back(parts->after_score);
    params.push_back(parts->after_score);
    params.push_back(parts->after_name);
  }
  std::string ranked =
      absl::StrCat("SELECT d.id, ", kScore,
                   " AS score, d.name FROM documents_fts "
                   "JOIN documents d ON d.id = documents_fts.rowid "
                   "WHERE documents_fts MATCH ? AND d.delete_time IS NULL",
                   parts->where, keyset,
                   " ORDER BY score DESC, d.name ASC LIMIT ", page_size + 1);

  struct Ranked {
    int64_t id;
    double score;
    std::string name;
  };
  SearchPage page;
  absl::Status s = db_->Read(deadline, [&](common::SqlTransaction& tx) {
    std::vector<Ranked> rows;
    absl::Status st =
        tx.QueryEach(ranked, params, [&](const SqlRow& row) -> absl::Status {
          rows.push_back({row.Int(0), std::get<double>(row.Value(1)),
                          std::string(row.Bytes(2))});
          return absl::OkStatus();
        });
    if (!st.ok()) return st;
    bool more = rows.size() > static_cast<size_t>(page_size);
    if (more) rows.pop_back();
    if (rows.empty()) return absl::OkStatus();
    std::vector<std::string> marks(rows.size(), "?");
    SqlValues detail_params = {match};
    for (const Ranked& r : rows) detail_params.push_back(r.id);
    absl::flat_hash_map<int64_t, size_t> index;
    page.hits.resize(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      index[rows[i].id] = i;
      page.hits[i].score = rows[i].score;
    }
    st = tx.QueryEach(
        absl::StrCat(
            "SELECT d.id, d.data, snippet(documents_fts, -1, '<mark>', "
            "'</mark>', '…', 24) FROM documents_fts "
            "JOIN documents d ON d.id = documents_fts.rowid "
            "WHERE documents_fts MATCH ? AND documents_fts.rowid IN (",
            absl::StrJoin(marks, ", "), ")"),
        detail_params, [&](const SqlRow& row) -> absl::Status {
          auto it = index.find(row.Int(0));
          if (it == index.end()) return absl::OkStatus();
          SearchHit& hit = page.hits[it->second];
          hit.document = std::string(row.Bytes(1));
          std::string snippet(row.Bytes(2));
          // Column texts are stored as "\nt1\nt2\n"; show spaces instead.
          std::replace(snippet.begin(), snippet.end(), '\n', ' ');
          hit.snippets.push_back(
              std::string(absl::StripAsciiWhitespace(snippet)));
          return absl::OkStatus();
        });
    if (!st.ok()) return st;
    if (more)
      page.next_page_token =
          NextToken(*tokens_, *parts, rows.back().score, rows.back().name);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return page;
}

// PostgreSQL: every word must match under at least one of the 'english',
// 'russian' and 'simple' configurations (each word a bound parameter of
// plainto_tsquery); ranked by ts_rank over the weighted tsvector; snippets
// by ts_headline, computed only for the rows of the page.
absl::StatusOr<SearchPage> LegislationStore::SearchPostgres(
    const SearchQuery& query, int32_t page_size, absl::Time deadline) const {
  auto parts = CommonParts(query, *tokens_, "postgresql");
  if (!parts.ok()) return parts.status();
  std::vector<std::string> terms;
  SqlValues params;
  for (const std::string& w : query.words) {
    terms.push_back(
        "(plainto_tsquery('english', lower(CAST(? AS text) COLLATE "
        "\"und-x-icu\")) || plainto_tsquery('russian', lower(CAST(? AS text) "
        "COLLATE \"und-x-icu\")) || plainto_tsquery('simple', "
        "lower(CAST(? AS text) COLLATE \"und-x-icu\")))");
    params.insert(params.end(), {w, w, w});
  }
  static constexpr char kScore[] = "(ts_rank(d.search_tsv, query.tsq)::float8)";
  for (const SqlValue& p : parts->params) params.push_back(p);
  std::string keyset;
  if (parts->has_cursor) {
    keyset = absl::StrCat(" AND (", kScore, " < ? OR (", kScore,
                          " = ? AND d.name > ?))");
    params.push_back(parts->after_score);
    params.push_back(parts->after_score);
    params.push_back(parts->after_name);
  }
  std::string sql = absl::StrCat(
      "SELECT s.data, s.score, s.name, ts_headline('russian', s.title || "
      "s.summary_text || s.body_text, s.tsq, 'StartSel=<mark>, "
      "StopSel=</mark>, MaxFragments=2, MaxWords=24, MinWords=8, "
      "FragmentDelimiter=\" … \"') FROM (SELECT d.data, d.name, d.title, "
      "d.summary_text, d.body_text, query.tsq, ",
      kScore, " AS score FROM documents d, (SELECT ",
      absl::StrJoin(terms, " && "),
      " AS tsq) query WHERE d.search_tsv @@ query.tsq AND d.delete_time IS "
      "NULL",
      parts->where, keyset, " ORDER BY score DESC, d.name ASC LIMIT ",
      page_size + 1, ") s ORDER BY s.score DESC, s.name ASC");
  SearchPage page;
  double last_score = 0;
  std::string last_name;
  bool more = false;
  absl::Status s = db_->QueryOnce(
      sql, params, deadline, [&](const SqlRow& row) -> absl::Status {
        if (page.hits.size() == static_cast<size_t>(page_size)) {
          more = true;
          return absl::OkStatus();
        }
        SearchHit hit;
        hit.document = std::string(row.Bytes(0));
        SqlValue score = row.Value(1);
        hit.score = std::holds_alternative<double>(score)
                        ? std::get<double>(score)
                        : static_cast<double>(common::AsInt(score));
        last_score = hit.score;
        last_name = std::string(row.Bytes(2));
        std::string snippet(row.Bytes(3));
        std::replace(snippet.begin(), snippet.end(), '\n', ' ');
        hit.snippets.push_back(
            std::string(absl::StripAsciiWhitespace(snippet)));
        page.hits.push_back(std::move(hit));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  if (more)
    page.next_page_token = NextToken(*tokens_, *parts, last_score, last_name);
  return page;
}

}  // namespace cstopa::legislation
