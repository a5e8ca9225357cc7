// Resource and search-query tests: turning user text into safe search
// words, snippets, lifecycle and progress rules, and the search cache and
// revision triggers on SQLite and (when the test command started one)
// PostgreSQL.
#include "services/legislation/legislation_resources.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/common/testing/test_postgres.h"
#include "services/legislation/legislation_service.h"
#include "services/legislation/search_query.h"

namespace cstopa::legislation {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Words(absl::string_view q) {
  auto w = ParseSearchQuery(q);
  EXPECT_TRUE(w.ok()) << q << ": " << w.status();
  return w.ok() ? *w : std::vector<std::string>{};
}

TEST(SearchQueryTest, OperatorsAndPunctuationAreNeverSyntax) {
  EXPECT_THAT(Words("\") OR 1=1 --"), ElementsAre("OR", "1", "1"));
  EXPECT_THAT(Words("NEAR(a b)"), ElementsAre("NEAR", "a", "b"));
  EXPECT_THAT(Words("title:foo^ bar*"), ElementsAre("title", "foo", "bar"));
  EXPECT_THAT(Words("«Модельный закон» — о терроризме"),
              ElementsAre("Модельный", "закон", "о", "терроризме"));
  EXPECT_THAT(Words("Straße café"), ElementsAre("Straße", "café"));
  EXPECT_EQ(Fts5Expression(Words("\") OR 1=1 --")), "\"OR\" \"1\" \"1\"");
  EXPECT_EQ(Fts5Expression({"a\"b"}), "\"a\"\"b\"");
}

TEST(SearchQueryTest, QueriesWithoutWordsOrTooBigAreRejected) {
  for (const std::string& q :
       {std::string(""), std::string("*"), std::string("\"\" () - + ^"),
        std::string("☃ … —"), std::string(kMaxSearchQueryBytes + 1, 'x'),
        std::string("\xc3\x28"), std::string("a\0b", 3)}) {
    auto w = ParseSearchQuery(q);
    EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument) << q;
    auto bad = common::GetBadRequest(w.status());
    ASSERT_TRUE(bad.has_value()) << q;
    EXPECT_EQ(bad->field_violations(0).field(), "query");
  }
  std::string sixteen, seventeen;
  for (size_t i = 0; i < kMaxSearchWords; ++i) sixteen += "w ";
  seventeen = sixteen + "w";
  EXPECT_TRUE(ParseSearchQuery(sixteen).ok());
  EXPECT_FALSE(ParseSearchQuery(seventeen).ok());
  EXPECT_TRUE(ParseSearchQuery(std::string(kMaxSearchQueryBytes, 'x')).ok());
}

TEST(SearchQueryTest, SnippetsMarkWholeWordsCaseInsensitively) {
  EXPECT_EQ(FoldCase("ТЕРРОРИЗМУ Ёж ÀB"), "терроризму ёж àb");
  EXPECT_EQ(
      Snippet("Модельный закон о противодействии ТЕРРОРИЗМУ.", {"терроризму"}),
      "Модельный закон о противодействии <mark>ТЕРРОРИЗМУ</mark>.");
  // Whole words only: "law" does not mark "lawful".
  EXPECT_EQ(Snippet("A lawful law", {"law"}), "A lawful <mark>law</mark>");
  EXPECT_EQ(Snippet("nothing here", {"law"}), "");
  // Forms of a word, as stemmed search matches them, are marked too.
  EXPECT_EQ(Snippet("terrorist acts", {"terrorism"}),
            "<mark>terrorist</mark> acts");
  EXPECT_EQ(Snippet("проект закона", {"закон"}), "проект <mark>закона</mark>");
  // HTML: the text is escaped, the <mark> tags are the only markup.
  EXPECT_EQ(Snippet("<script>alert('law')</script> law & \"order\"", {"law"}),
            "&lt;script&gt;alert(&#39;<mark>law</mark>&#39;)&lt;/script&gt; "
            "<mark>law</mark> &amp; &quot;order&quot;");
  EXPECT_EQ(Snippet("a <b>law</b>", {"law"}),
            "a &lt;b&gt;<mark>law</mark>&lt;/b&gt;");
  std::string long_text;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&long_text, "w", i, " ");
  long_text += "target";
  for (int i = 0; i < 20; ++i) absl::StrAppend(&long_text, " v", i);
  std::string s = Snippet(long_text, {"target"}, 10);
  EXPECT_EQ(s.substr(0, 3), "…");
  EXPECT_NE(s.find("<mark>target</mark>"), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 3), "…");
}

// The first implementation of Snippet (every word of the text split, folded
// and compared), for texts made of the pieces below only: ASCII, Cyrillic
// letters, "…" and an invalid byte.
std::string ReferenceSnippet(absl::string_view text,
                             const std::vector<std::string>& words,
                             int max_words) {
  struct Word {
    size_t begin, end;
  };
  std::vector<Word> all;
  size_t i = 0, start = 0;
  bool in_word = false;
  while (i < text.size()) {
    size_t at = i;
    unsigned char c = static_cast<unsigned char>(text[i]);
    bool word;
    if (c < 0x80) {
      word = absl::ascii_isalnum(c);
      i += 1;
    } else if (c == 0xE2) {  // "…"
      word = false;
      i += 3;
    } else if (c == 0xD0 || c == 0xD1) {  // Cyrillic
      word = true;
      i += 2;
    } else {  // invalid
      word = false;
      i += 1;
    }
    if (word && !in_word) start = at;
    if (!word && in_word) all.push_back({start, at});
    in_word = word;
  }
  if (in_word) all.push_back({start, text.size()});
  auto same_stem = [](const std::string& a, const std::string& b) {
    if (a == b) return true;
    std::vector<size_t> ca, cb;
    for (size_t k = 0; k < a.size(); ++k)
      if ((static_cast<unsigned char>(a[k]) & 0xC0) != 0x80) ca.push_back(k);
    for (size_t k = 0; k < b.size(); ++k)
      if ((static_cast<unsigned char>(b[k]) & 0xC0) != 0x80) cb.push_back(k);
    size_t shorter = std::min(ca.size(), cb.size());
    if (shorter < 4) return false;
    size_t need = std::max<size_t>(4, shorter - 2);
    size_t bytes = need < ca.size() ? ca[need] : a.size();
    size_t bytes_b = need < cb.size() ? cb[need] : b.size();
    return bytes == bytes_b && a.compare(0, bytes, b, 0, bytes) == 0;
  };
  std::vector<std::string> wanted;
  for (const std::string& w : words) wanted.push_back(FoldCase(w));
  std::vector<bool> match(all.size(), false);
  int first = -1;
  for (size_t k = 0; k < all.size(); ++k) {
    std::string folded =
        FoldCase(text.substr(all[k].begin, all[k].end - all[k].begin));
    for (const std::string& q : wanted)
      match[k] = match[k] || same_stem(folded, q);
    if (match[k] && first < 0) first = static_cast<int>(k);
  }
  if (first < 0) return "";
  int n = static_cast<int>(all.size());
  int from = std::max(0, first - max_words / 3);
  int to = std::min(n, from + max_words);
  from = std::max(0, std::min(from, to - max_words));
  std::string out;
  if (from > 0) out += "…";
  // HTML text: each special character as its entity.
  auto escaped = [](absl::string_view s) {
    return absl::StrReplaceAll(s, {{"&", "&amp;"},
                                   {"<", "&lt;"},
                                   {">", "&gt;"},
                                   {"\"", "&quot;"},
                                   {"'", "&#39;"}});
  };
  // From the start of the text when nothing is cut before the passage.
  size_t pos = from == 0 ? 0 : all[from].begin;
  for (int k = from; k < to; ++k) {
    out += escaped(text.substr(pos, all[k].begin - pos));
    absl::string_view w = text.substr(all[k].begin, all[k].end - all[k].begin);
    if (match[k]) {
      absl::StrAppend(&out, "<mark>", escaped(w), "</mark>");
    } else {
      out += escaped(w);
    }
    pos = all[k].end;
  }
  if (to < n) {
    out += "…";
  } else {
    out += escaped(text.substr(pos));
  }
  return out;
}

TEST(SearchQueryTest, SnippetsAreThoseOfTheFirstImplementation) {
  const std::vector<std::string> pieces = {
      "law",    "Law",   "laws",  "lawful", "terrorism", "Terrorist", "закон",
      "Закона", "ЗАКОН", "о",     "a",      "1",         " ",         " ",
      ", ",     ".",     "\n",    "…",      "\xff",      "x",         "terr",
      "-",      "<",     "&amp;", "\"",     "'",         ">"};
  const std::vector<std::vector<std::string>> queries = {
      {"law"}, {"terrorism"}, {"закон", "law"}, {"terr"}, {"x", "a"}};
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    int length = static_cast<int>(rng() % 60);
    for (int k = 0; k < length; ++k) text += pieces[rng() % pieces.size()];
    const auto& words = queries[rng() % queries.size()];
    for (int max_words : {24, 10, 3, 1}) {
      ASSERT_EQ(Snippet(text, words, max_words),
                ReferenceSnippet(text, words, max_words))
          << "text: " << text << " max_words: " << max_words;
    }
  }
}

TEST(LifecycleTest, AllowedNextStages) {
  EXPECT_THAT(AllowedNextStages(v1::DOCUMENT_STAGE_DRAFTED),
              ElementsAre(v1::DOCUMENT_STAGE_UNDER_REVIEW,
                          v1::DOCUMENT_STAGE_AT_COMMISSION));
  EXPECT_THAT(
      AllowedNextStages(v1::DOCUMENT_STAGE_AT_COMMISSION),
      ElementsAre(v1::DOCUMENT_STAGE_UNDER_REVIEW, v1::DOCUMENT_STAGE_ADOPTED));
  EXPECT_THAT(
      AllowedNextStages(v1::DOCUMENT_STAGE_AMENDED),
      ElementsAre(v1::DOCUMENT_STAGE_AMENDED, v1::DOCUMENT_STAGE_REPEALED));
  EXPECT_THAT(AllowedNextStages(v1::DOCUMENT_STAGE_REPEALED), IsEmpty());
  EXPECT_THAT(AllowedNextStages(v1::DOCUMENT_STAGE_UNSPECIFIED), IsEmpty());
}

TEST(ProgressTest, ArithmeticOverStatusesAndCommissions) {
  v1::PlanProgress p =
      ComputeProgress({{v1::ITEM_STATUS_PLANNED, "", 1},
                       {v1::ITEM_STATUS_DONE, "", 2},
                       {v1::ITEM_STATUS_DONE, "bodies/a", 4},
                       {v1::ITEM_STATUS_DROPPED, "bodies/a", 2}});
  EXPECT_EQ(p.total(), 9);
  EXPECT_EQ(p.done(), 6);
  EXPECT_EQ(p.percent_done(), 66);  // rounded down
  EXPECT_EQ(p.by_status().at("ITEM_STATUS_DONE"), 6);
  EXPECT_EQ(p.by_status().size(), 3u);
  ASSERT_EQ(p.by_commission_size(), 2);
  EXPECT_EQ(p.by_commission(0).commission(), "");
  EXPECT_EQ(p.by_commission(0).done(), 2);
  EXPECT_EQ(p.by_commission(0).total(), 3);
  EXPECT_EQ(p.by_commission(1).done(), 4);
  EXPECT_EQ(p.by_commission(1).total(), 6);
  v1::PlanProgress empty = ComputeProgress({});
  EXPECT_EQ(empty.total(), 0);
  EXPECT_EQ(empty.percent_done(), 0);
}

// Waits for an asynchronous search.
absl::StatusOr<SearchPage> SearchNow(const LegislationResources& r,
                                     const SearchQuery& q) {
  absl::Notification done;
  absl::StatusOr<SearchPage> out;
  r.search().Search(q, absl::InfiniteFuture(),
                    [&](absl::StatusOr<SearchPage> page) {
                      out = std::move(page);
                      done.Notify();
                    });
  done.WaitForNotification();
  return out;
}

class LegislationResourcesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL server for tests";
    auto db = common::OpenTestDatabase(GetParam(), LegislationSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  static v1::Document Doc(const std::string& id, const std::string& text) {
    v1::Document d;
    d.set_name("documents/" + id);
    d.set_kind(v1::DOCUMENT_KIND_MODEL_LAW);
    auto* t = d.add_title();
    t->set_language_code("en");
    t->set_text("Act " + id);
    auto* x = d.add_text();
    x->set_language_code("en");
    x->set_text(text);
    d.set_revision_id("r1");
    return d;
  }

  // Resources over the test database with these cache options.
  std::unique_ptr<LegislationResources> Open(SearchCacheOptions cache = {}) {
    return std::make_unique<LegislationResources>(db_.get(), &tokens_, &keys_,
                                                  cache);
  }

  static std::vector<std::string> Found(const LegislationResources& r,
                                        const std::string& word) {
    SearchQuery q;
    q.words = {word};
    auto page = SearchNow(r, q);
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const SearchHit& h : page->hits) {
      v1::Document d;
      EXPECT_TRUE(d.ParseFromString(h.document));
      out.push_back(d.name());
    }
    return out;
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
};

TEST_P(LegislationResourcesTest, CachedRankingsDropOnWritesAndExpire) {
  // Two stores on one database stand for two replicas.
  SearchCacheOptions forever;
  forever.ttl = absl::Hours(1);
  auto a = Open(forever);
  auto b = Open(forever);
  v1::Document d = Doc("cached", "ratification bill");
  ASSERT_TRUE(a->documents().store().Create(&d).ok());
  EXPECT_THAT(Found(*a, "ratification"), ElementsAre("documents/cached"));
  // A write through `a` drops a's cached ranking at once.
  v1::Document out;
  ASSERT_TRUE(
      a->documents()
          .store()
          .Update(
              d.name(), "",
              [](google::protobuf::Message* m) {
                static_cast<v1::Document*>(m)->mutable_text(0)->set_text(
                    "accession bill");
                return absl::OkStatus();
              },
              &out)
          .ok());
  EXPECT_THAT(Found(*a, "ratification"), IsEmpty());
  EXPECT_THAT(Found(*a, "accession"), ElementsAre("documents/cached"));
  // A write through `b` is not seen by a's cache until the entry expires;
  // a store with no TTL sees it at once.
  ASSERT_TRUE(
      b->documents()
          .store()
          .Update(
              d.name(), "",
              [](google::protobuf::Message* m) {
                static_cast<v1::Document*>(m)->mutable_text(0)->set_text(
                    "withdrawal bill");
                return absl::OkStatus();
              },
              &out)
          .ok());
  SearchCacheOptions fresh;
  fresh.ttl = absl::ZeroDuration();
  auto c = Open(fresh);
  EXPECT_THAT(Found(*c, "accession"), IsEmpty());
  EXPECT_THAT(Found(*c, "withdrawal"), ElementsAre("documents/cached"));
  // Until it expires, a's cache still answers with what it ranked before
  // b's write.
  EXPECT_THAT(Found(*a, "accession"), ElementsAre("documents/cached"));
  SearchCacheOptions off;
  off.max_entries = 0;
  auto uncached = Open(off);
  EXPECT_THAT(Found(*uncached, "withdrawal"), ElementsAre("documents/cached"));
}

TEST_P(LegislationResourcesTest, PagesAreTheSameWithAndWithoutTheCache) {
  SearchCacheOptions on;
  on.ttl = absl::Hours(1);
  SearchCacheOptions off;
  off.max_entries = 0;
  SearchCacheOptions shallow = on;
  shallow.depth = 5;  // later pages run past the cached rows
  auto cached = Open(on);
  auto uncached = Open(off);
  auto partial = Open(shallow);
  for (int i = 0; i < 23; ++i) {
    std::string text = "treaty";
    for (int k = 0; k < i % 5; ++k) text += " treaty ratification";
    v1::Document d = Doc(absl::StrCat("doc-", i), text);
    if (i % 3 == 0) d.set_kind(v1::DOCUMENT_KIND_RECOMMENDATION);
    ASSERT_TRUE(cached->documents().store().Create(&d).ok());
  }
  for (const std::string& filter :
       {std::string(), std::string("kind = DOCUMENT_KIND_MODEL_LAW")}) {
    // Every page of each store, as (name, score, snippets) lines.
    auto walk = [&](const LegislationResources& resources) {
      std::vector<std::string> lines;
      SearchQuery q;
      q.words = {"treaty"};
      q.filter = filter;
      q.page_size = 4;
      for (int page = 0; page < 20; ++page) {
        auto p = SearchNow(resources, q);
        EXPECT_TRUE(p.ok()) << p.status();
        if (!p.ok()) break;
        for (const SearchHit& h : p->hits) {
          v1::Document d;
          EXPECT_TRUE(d.ParseFromString(h.document));
          EXPECT_TRUE(d.text().empty());
          lines.push_back(absl::StrCat(d.name(), " ", h.score, " ",
                                       absl::StrJoin(h.snippets, "|")));
        }
        lines.push_back(p->next_page_token.empty() ? "end" : "more");
        if (p->next_page_token.empty()) break;
        q.page_token = p->next_page_token;
      }
      return lines;
    };
    std::vector<std::string> expected = walk(*uncached);
    EXPECT_EQ(expected.back(), "end");
    if (GetParam() == "sqlite" && filter.empty()) {
      // The order is that of ORDER BY in SQL.
      std::vector<std::string> names, ordered;
      for (const std::string& line : expected) {
        if (line != "more" && line != "end")
          names.push_back(line.substr(0, line.find(' ')));
      }
      ASSERT_TRUE(
          db_->QueryOnce("SELECT d.name, -bm25(documents_fts, 10.0, 4.0, 1.0) "
                         "AS score FROM documents_fts JOIN documents d ON "
                         "d.id = documents_fts.rowid WHERE documents_fts "
                         "MATCH '\"treaty\"' ORDER BY score DESC, "
                         "documents_fts.rowid ASC",
                         {},
                         [&](const common::SqlRow& row) {
                           ordered.emplace_back(row.Bytes(0));
                           return absl::OkStatus();
                         })
              .ok());
      EXPECT_EQ(names, ordered);
      EXPECT_EQ(names.size(), 23u);
    }
    EXPECT_EQ(walk(*cached), expected) << filter;
    EXPECT_EQ(walk(*cached), expected) << filter;  // from the cache
    EXPECT_EQ(walk(*partial), expected) << filter;
  }
}

TEST_P(LegislationResourcesTest, RevisionsAreRecordedWithEveryWritePath) {
  auto resources = Open();
  auto revision = [&](const std::string& id, v1::DocumentRevision* out) {
    absl::Notification done;
    absl::Status status;
    resources->GetRevision("documents/seeded", id, absl::InfiniteFuture(), out,
                           [&](absl::Status s) {
                             status = std::move(s);
                             done.Notify();
                           });
    done.WaitForNotification();
    return status;
  };
  v1::Document d = Doc("seeded", "first");
  // The seed path (insert if absent) records r1 too.
  ASSERT_TRUE(resources->documents().store().InsertMissing({&d}).ok());
  v1::DocumentRevision snap;
  ASSERT_TRUE(revision("r1", &snap).ok());
  EXPECT_EQ(snap.text(0).text(), "first");
  EXPECT_EQ(snap.title(0).text(), "Act seeded");
  EXPECT_GT(snap.create_time().seconds(), 0);
  EXPECT_EQ(revision("r2", &snap).code(), absl::StatusCode::kNotFound);
  // Soft-deleted documents leave the search index, and their revisions go.
  EXPECT_THAT(Found(*resources, "first"), ElementsAre("documents/seeded"));
  v1::Document out;
  ASSERT_TRUE(
      resources->documents().store().Delete("documents/seeded", "", &out).ok());
  EXPECT_THAT(Found(*resources, "first"), IsEmpty());
  EXPECT_EQ(revision("r1", &snap).code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, LegislationResourcesTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::legislation
