// SearchIndex on both stores: the same words find the same records on
// SQLite (FTS5 with the cstopa_translit tokenizer) and PostgreSQL (the keys
// in a 'simple' tsvector): word forms, either script, prefixes, filters,
// facets, pages, hostile queries, deletes and a rebuild.
#include "services/common/resources/search_index.h"

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::common {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::string ReadSource(const std::string& path) {
  std::ifstream in(absl::StrCat(CSTOPA_SOURCE_DIR, "/", path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A table of records whose `data` is "title|text|date", enough for a
// rebuild to read.
constexpr char kThings[] =
    "CREATE TABLE things (name TEXT PRIMARY KEY, data TEXT NOT NULL, "
    "delete_time BIGINT)";

SchemaSpec TestSchema() {
  return {
      "search_index_test",
      {{1, "things", kThings, kThings},
       {2, "search", ReadSource("services/common/resources/search_index.sql"),
        ReadSource("services/common/resources/search_index.postgres.sql")}}};
}

struct Record {
  std::string name;
  std::string type;
  SearchEntry entry;
};

// Seeded facts in the assembly's two languages and scripts.
std::vector<Record> Records() {
  return {
      {"persons/rogalev",
       "cstopa.org/Person",
       {"Viktor Rogalev", "Рогалев Виктор Николаевич", 20230101}},
      {"documents/terror",
       "cstopa.org/Document",
       {"О противодействии терроризму",
        "Модельный закон о противодействии терроризму", 20090300}},
      {"states/kg",
       "cstopa.org/State",
       {"Kyrgyz Republic", "Кыргызская Республика", 0}},
      {"documents/ratify",
       "cstopa.org/Document",
       {"Recommendations on ratification",
        "On ratifying the treaties of the <Organization> & its partners",
        20240515}},
      {"bodies/council",
       "cstopa.org/Body",
       {"Council of the Assembly", "Совет Ассамблеи", 0}},
      {"documents/council-2024",
       "cstopa.org/Document",
       {"Decision of the Council", "The Council adopted the plan", 20240101}},
      {"documents/council-2022",
       "cstopa.org/Document",
       {"Statement of the Council", "The Council stated", 20221120}},
  };
}

class SearchIndexTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL server for tests";
    auto db = OpenTestDatabase(GetParam(), TestSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    index_ = std::make_unique<SearchIndex>(db_.get(), &tokens_);
    index_->AddSource(
        "things", "cstopa.org/Thing",
        [](absl::string_view data,
           std::string* name) -> std::optional<SearchEntry> {
          std::vector<std::string> parts = absl::StrSplit(data, '|');
          if (parts.size() != 4) return std::nullopt;
          *name = parts[0];
          return SearchEntry{parts[1], parts[2], std::stoll(parts[3])};
        });
    for (const Record& r : Records()) Put(r);
  }

  void Put(const Record& r) {
    absl::Status s = db_->Write([&](SqlTransaction& tx) {
      return index_->Put(tx, r.name, r.type, &r.entry);
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  absl::StatusOr<SearchOutcome> Search(SearchParams p) {
    absl::Notification done;
    absl::StatusOr<SearchOutcome> out;
    index_->Search(std::move(p), absl::Now() + absl::Seconds(20),
                   [&](absl::StatusOr<SearchOutcome> r) {
                     out = std::move(r);
                     done.Notify();
                   });
    done.WaitForNotification();
    return out;
  }

  // The names a query finds (all on one page).
  std::vector<std::string> Names(const std::string& query,
                                 const std::string& filter = "") {
    SearchParams p;
    p.query = query;
    p.filter = filter;
    p.page_size = 100;
    auto r = Search(p);
    EXPECT_TRUE(r.ok()) << query << ": " << r.status();
    std::vector<std::string> names;
    if (!r.ok()) return names;
    for (const auto& h : r->hits) names.push_back(h.name());
    return names;
  }

  PageTokenCodec tokens_{"search-index-test-secret"};
  std::unique_ptr<Database> db_;
  std::unique_ptr<SearchIndex> index_;
};

TEST_P(SearchIndexTest, NamesInEitherScriptAndPrefixes) {
  EXPECT_THAT(Names("Рогалев"), ElementsAre("persons/rogalev"));
  EXPECT_THAT(Names("Rogalev"), ElementsAre("persons/rogalev"));
  EXPECT_THAT(Names("rogalev viktor "), ElementsAre("persons/rogalev"));
  // Type-ahead: the last word is a prefix, unless followed by a space.
  EXPECT_THAT(Names("Roga"), ElementsAre("persons/rogalev"));
  EXPECT_THAT(Names("Рога"), ElementsAre("persons/rogalev"));
  EXPECT_THAT(Names("Roga "), IsEmpty());
  EXPECT_THAT(Names("Kyrgyz"), ElementsAre("states/kg"));
  EXPECT_THAT(Names("Кыргыз"), ElementsAre("states/kg"));
}

TEST_P(SearchIndexTest, WordFormsInRussianAndEnglish) {
  for (const char* q : {"терроризму ", "терроризма ", "терроризм ",
                        "противодействие терроризма "})
    EXPECT_THAT(Names(q), ElementsAre("documents/terror")) << q;
  for (const char* q : {"ratification ", "ratify ", "ratified "})
    EXPECT_THAT(Names(q), ElementsAre("documents/ratify")) << q;
  // A whole word at the end of a query (a prefix, no space after it)
  // still finds other forms by its stem.
  EXPECT_THAT(Names("терроризма"), ElementsAre("documents/terror"));
  EXPECT_THAT(Names("противодействие терроризма"),
              ElementsAre("documents/terror"));
  // Every word must occur.
  EXPECT_THAT(Names("терроризм ratification "), IsEmpty());
}

TEST_P(SearchIndexTest, HitsCarryTitleSnippetDateAndRank) {
  SearchParams p;
  p.query = "ratifying";
  auto r = Search(p);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->hits.size(), 1u);
  const auto& hit = r->hits[0];
  EXPECT_EQ(hit.name(), "documents/ratify");
  EXPECT_EQ(hit.type(), "cstopa.org/Document");
  EXPECT_EQ(hit.title(), "Recommendations on ratification");
  // The body's passage, HTML-escaped, the word forms marked.
  EXPECT_EQ(hit.snippet(),
            "On <mark>ratifying</mark> the treaties of the "
            "&lt;Organization&gt; &amp; its partners");
  EXPECT_EQ(hit.date().year(), 2024);
  EXPECT_EQ(hit.date().month(), 5);
  EXPECT_EQ(hit.date().day(), 15);
  EXPECT_GT(hit.score(), 0);
  EXPECT_EQ(r->total, 1);
  EXPECT_THAT(r->type_counts,
              ElementsAre(std::make_pair(std::string("cstopa.org/Document"),
                                         int64_t{1})));
}

TEST_P(SearchIndexTest, FiltersAndFacets) {
  EXPECT_THAT(
      Names("council ", "type = \"cstopa.org/Document\""),
      UnorderedElementsAre("documents/council-2024", "documents/council-2022"));
  EXPECT_THAT(Names("council ", "date >= 2024-01-01"),
              ElementsAre("documents/council-2024"));
  EXPECT_THAT(
      Names("council ", "type = \"cstopa.org/Body\" OR date < 2023-01-01"),
      UnorderedElementsAre("bodies/council", "documents/council-2022"));
  // A date known to its month (March 2009) compares as its first day.
  EXPECT_THAT(Names("терроризм ", "date >= 2009-03-01"),
              ElementsAre("documents/terror"));
  EXPECT_THAT(Names("терроризм ", "date < 2009-03-01"), IsEmpty());
  EXPECT_THAT(Names("терроризм ", "date <= 2009-03-31"),
              ElementsAre("documents/terror"));
  SearchParams p;
  p.query = "council";
  auto r = Search(p);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->total, 3);
  EXPECT_THAT(
      r->type_counts,
      ElementsAre(
          std::make_pair(std::string("cstopa.org/Document"), int64_t{2}),
          std::make_pair(std::string("cstopa.org/Body"), int64_t{1})));
  p.filter = "kind = 1";
  r = Search(p);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetErrorInfo(r.status())->reason(), "INVALID_FILTER");
}

TEST_P(SearchIndexTest, PagesNeverRepeatOrSkip) {
  for (int i = 0; i < 23; ++i) {
    Put({absl::StrCat("events/e", i),
         "cstopa.org/Event",
         {absl::StrCat("Session ", i), i % 3 == 0 ? "session session" : "",
          0}});
  }
  const std::vector<std::string> all = Names("session");
  ASSERT_EQ(all.size(), 23u);
  std::vector<std::string> walked;
  SearchParams p;
  p.query = "session";
  p.page_size = 4;
  for (int pages = 0; pages < 20; ++pages) {
    auto r = Search(p);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->total, 23);
    for (const auto& h : r->hits) walked.push_back(h.name());
    if (r->next_page_token.empty()) break;
    p.page_token = r->next_page_token;
  }
  EXPECT_EQ(walked, all);
  // skip (AIP-158) resumes anywhere in the same ranking.
  SearchParams s;
  s.query = "session";
  s.page_size = 3;
  s.skip = 5;
  auto r = Search(s);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->hits.size(), 3u);
  EXPECT_EQ(r->hits[0].name(), all[5]);
  EXPECT_EQ(r->hits[2].name(), all[7]);
  s.skip = -1;
  EXPECT_EQ(Search(s).status().code(), absl::StatusCode::kInvalidArgument);
  // A token of another query, or a damaged one, is refused.
  SearchParams other;
  other.query = "council";
  other.page_token = p.page_token;
  auto bad = Search(other);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetErrorInfo(bad.status())->reason(), "INVALID_PAGE_TOKEN");
}

TEST_P(SearchIndexTest, HostileQueriesAreWordsOrRefused) {
  const std::string hostile[] = {"\") OR 1=1 --",
                                 "NEAR(",
                                 "*",
                                 "\"",
                                 "\\",
                                 "title:council",
                                 "council OR 1",
                                 "'; DROP TABLE search_entries; --",
                                 "^council",
                                 std::string(10 * 1024, 'a'),
                                 "\xff\xfe",
                                 std::string("a\0b", 3)};
  for (const std::string& q : hostile) {
    SearchParams p;
    p.query = q;
    auto r = Search(p);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << q;
      auto info = GetErrorInfo(r.status());
      ASSERT_TRUE(info.has_value()) << q;
      EXPECT_EQ(info->reason(), "INVALID_SEARCH_QUERY") << q;
    }
  }
  // The words of an operator-laden query are searched as words.
  EXPECT_THAT(Names("title:council "), IsEmpty());
  EXPECT_THAT(Names("\"council\" ) ("), Names("council "));
  // The index is intact.
  EXPECT_EQ(Names("council ").size(), 3u);
}

TEST_P(SearchIndexTest, RemovedEntriesAreNotFoundAndRebuildRestoresThem) {
  ASSERT_TRUE(db_->Write([&](SqlTransaction& tx) {
                   return index_->Put(tx, "persons/rogalev",
                                      "cstopa.org/Person", nullptr);
                 })
                  .ok());
  EXPECT_THAT(Names("Rogalev"), IsEmpty());

  // The stored records are the truth: a rebuild (the index of an older
  // version) indexes every live one and drops the rest.
  ASSERT_TRUE(db_->Write([&](SqlTransaction& tx) {
                   for (const char* row :
                        {"things/a|Treaty on Collective Security|Договор о "
                         "коллективной безопасности|19920515",
                         "things/b|Deleted thing|gone|0"}) {
                     std::string data = row;
                     std::string name = data.substr(0, data.find('|'));
                     SqlValue deleted;
                     if (name == "things/b") deleted.emplace<int64_t>(1);
                     auto r = tx.Execute(
                         "INSERT INTO things(name, data, delete_time) VALUES "
                         "(?, ?, ?)",
                         {name, data, deleted});
                     if (!r.ok()) return r.status();
                   }
                   return absl::OkStatus();
                 })
                  .ok());
  ASSERT_TRUE(index_->RebuildIfStale().ok());
  EXPECT_THAT(Names("договора "), ElementsAre("things/a"));
  EXPECT_THAT(Names("collective security "), ElementsAre("things/a"));
  EXPECT_THAT(Names("deleted "), IsEmpty());
  EXPECT_THAT(Names("council "), IsEmpty());  // not a stored record
  // Built: a second start does not rebuild (the entry put now survives).
  Put(Records()[0]);
  ASSERT_TRUE(index_->RebuildIfStale().ok());
  EXPECT_THAT(Names("Rogalev"), ElementsAre("persons/rogalev"));
}

TEST_P(SearchIndexTest, RankingsAreKeptUntilAWriteOfThisProcess) {
  // Another replica: an index of its own over the same store.
  SearchIndex other(db_.get(), &tokens_);
  SearchCacheOptions an_hour;
  an_hour.ttl = absl::Hours(1);
  SearchIndex patient(db_.get(), &tokens_, an_hour);
  patient.AddSource("things", "cstopa.org/Thing",
                    [](absl::string_view, std::string*) {
                      return std::optional<SearchEntry>();
                    });
  auto search = [&](SearchIndex& index) {
    absl::Notification done;
    int64_t total = -1;
    SearchParams p;
    p.query = "council ";
    index.Search(std::move(p), absl::Now() + absl::Seconds(20),
                 [&](absl::StatusOr<SearchOutcome> r) {
                   EXPECT_TRUE(r.ok()) << r.status();
                   if (r.ok()) total = r->total;
                   done.Notify();
                 });
    done.WaitForNotification();
    return total;
  };
  EXPECT_EQ(search(patient), 3);
  const SearchEntry entry{"Council of Heads of State", "", 0};
  ASSERT_TRUE(db_->Write([&](SqlTransaction& tx) {
                   return other.Put(tx, "bodies/heads", "cstopa.org/Body",
                                    &entry);
                 })
                  .ok());
  // Kept: the other replica's write is seen once the ranking is too old
  // (here: an hour), or ...
  EXPECT_EQ(search(patient), 3);
  // ... at once after a write of this process.
  patient.Invalidate();
  EXPECT_EQ(search(patient), 4);
  // The index of this test (default cache) saw its own writes at once.
  EXPECT_EQ(Names("council ").size(), 4u);
  Put({"bodies/heads2", "cstopa.org/Body", {"Council of Ministers", "", 0}});
  EXPECT_EQ(Names("council ").size(), 5u);
}

TEST_P(SearchIndexTest, FacetsCountEveryMatchAndPagesStopAtTheReachableDepth) {
  // More matches than are reachable: 1,010 reports ranked by how often the
  // word occurs in their titles, and 3 bodies.
  ASSERT_TRUE(
      db_->Write([&](SqlTransaction& tx) {
           for (int i = 0; i < 1010; ++i) {
             const SearchEntry entry{
                 absl::StrCat("Zephyr report ", i, i % 2 == 0 ? " zephyr" : ""),
                 "", 0};
             absl::Status s =
                 index_->Put(tx, absl::StrCat("reports/r", 10000 + i),
                             "cstopa.org/Report", &entry);
             if (!s.ok()) return s;
           }
           for (int i = 0; i < 3; ++i) {
             const SearchEntry entry{absl::StrCat("Zephyr body ", i), "", 0};
             absl::Status s = index_->Put(tx, absl::StrCat("bodies/z", i),
                                          "cstopa.org/Body", &entry);
             if (!s.ok()) return s;
           }
           return absl::OkStatus();
         })
          .ok());
  SearchParams p;
  p.query = "zephyr";
  p.page_size = 100;
  std::set<std::string> seen;
  int pages = 0;
  double last_score = 1e300;
  while (true) {
    auto r = Search(p);
    ASSERT_TRUE(r.ok()) << r.status();
    // Facets and total count every match, not only the reachable ones.
    EXPECT_EQ(r->total, 1013);
    ASSERT_EQ(r->type_counts.size(), 2u);
    EXPECT_EQ(r->type_counts[0].first, "cstopa.org/Report");
    EXPECT_EQ(r->type_counts[0].second, 1010);
    EXPECT_EQ(r->type_counts[1].first, "cstopa.org/Body");
    EXPECT_EQ(r->type_counts[1].second, 3);
    for (const auto& h : r->hits) {
      EXPECT_TRUE(seen.insert(h.name()).second) << "repeated: " << h.name();
      EXPECT_LE(h.score(), last_score) << h.name();
      last_score = h.score();
    }
    ++pages;
    if (r->next_page_token.empty()) break;
    p.page_token = r->next_page_token;
    ASSERT_LT(pages, 20);
  }
  EXPECT_EQ(pages, kMaxSearchDepth / 100);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMaxSearchDepth));
  // The 505 titles with the word twice rank above every other match.
  int doubled = 0;
  for (const std::string& name : seen) {
    int i = 0;
    if (absl::SimpleAtoi(absl::StripPrefix(name, "reports/r"), &i) &&
        (i - 10000) % 2 == 0)
      ++doubled;
  }
  EXPECT_EQ(doubled, 505);
}

TEST_P(SearchIndexTest, OnPostgresqlASearchHoldsNoStoreThread) {
  if (GetParam() != "postgresql") GTEST_SKIP() << "SQLite reads on its threads";
  auto* counted = dynamic_cast<SchemaDroppingDatabase*>(db_.get());
  ASSERT_NE(counted, nullptr);
  const int64_t before = counted->read_transactions();
  SearchParams p;
  p.query = "council ";
  p.page_size = 1;
  auto first = Search(p);  // ranked, then its page read
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->hits.size(), 1u);
  p.page_token = first->next_page_token;
  auto second = Search(p);  // from the kept ranking
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->hits.size(), 1u);
  EXPECT_NE(first->hits[0].name(), second->hits[0].name());
  EXPECT_EQ(counted->read_transactions(), before);
}

INSTANTIATE_TEST_SUITE_P(Backends, SearchIndexTest,
                         ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace cstopa::common
