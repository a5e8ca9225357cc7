// Store and search-query tests: turning user text into safe search words,
// snippets, lifecycle and progress rules, and the store's search cache and
// revision triggers on SQLite and (when the test command started one)
// PostgreSQL.
#include "services/legislation/legislation_store.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/errors.h"
#include "services/common/test_postgres.h"
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
  std::string long_text;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&long_text, "w", i, " ");
  long_text += "target";
  for (int i = 0; i < 20; ++i) absl::StrAppend(&long_text, " v", i);
  std::string s = Snippet(long_text, {"target"}, 10);
  EXPECT_EQ(s.substr(0, 3), "…");
  EXPECT_NE(s.find("<mark>target</mark>"), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 3), "…");
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

class LegislationStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    common::SchemaSpec schema = LegislationSchema();
    std::string url = "sqlite::memory:";
    if (GetParam() == "postgresql") {
      url = common::TestPostgresUrl();
      if (url.empty()) GTEST_SKIP() << "no PostgreSQL server for tests";
      std::random_device rd;
      schema.service = absl::StrCat("legislation_s", rd(), "_", rd());
      schema_ = schema.service;
    }
    auto db = common::OpenDatabase(url, schema);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  void TearDown() override {
    if (db_ != nullptr && !schema_.empty()) {
      (void)db_->Write([&](common::SqlTransaction& tx) {
        return tx.Execute(absl::StrCat("DROP SCHEMA ", schema_, " CASCADE"), {})
            .status();
      });
    }
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

  static std::vector<std::string> Found(const LegislationStore& store,
                                        const std::string& word) {
    SearchQuery q;
    q.words = {word};
    auto page = store.Search(q, absl::InfiniteFuture());
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

  std::string schema_;
  std::unique_ptr<common::Database> db_;
  common::PageTokenCodec tokens_{"test-secret"};
};

TEST_P(LegislationStoreTest, CachedRankingsDropOnWritesAndExpire) {
  // Two stores on one database stand for two replicas.
  SearchCacheOptions forever;
  forever.ttl = absl::Hours(1);
  LegislationStore a(db_.get(), &tokens_, forever);
  LegislationStore b(db_.get(), &tokens_, forever);
  v1::Document d = Doc("cached", "ratification bill");
  ASSERT_TRUE(a.documents().Create(&d).ok());
  EXPECT_THAT(Found(a, "ratification"), ElementsAre("documents/cached"));
  // A write through `a` drops a's cached ranking at once.
  v1::Document out;
  ASSERT_TRUE(
      a.documents()
          .Update(
              d.name(), "",
              [](google::protobuf::Message* m) {
                static_cast<v1::Document*>(m)->mutable_text(0)->set_text(
                    "accession bill");
                return absl::OkStatus();
              },
              &out)
          .ok());
  EXPECT_THAT(Found(a, "ratification"), IsEmpty());
  EXPECT_THAT(Found(a, "accession"), ElementsAre("documents/cached"));
  // A write through `b` is not seen by a's cache until the entry expires;
  // a store with no TTL sees it at once.
  ASSERT_TRUE(
      b.documents()
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
  LegislationStore c(db_.get(), &tokens_, fresh);
  EXPECT_THAT(Found(c, "accession"), IsEmpty());
  EXPECT_THAT(Found(c, "withdrawal"), ElementsAre("documents/cached"));
  SearchCacheOptions off;
  off.max_entries = 0;
  LegislationStore uncached(db_.get(), &tokens_, off);
  EXPECT_THAT(Found(uncached, "withdrawal"), ElementsAre("documents/cached"));
}

TEST_P(LegislationStoreTest, RevisionsAreRecordedWithEveryWritePath) {
  LegislationStore store(db_.get(), &tokens_);
  v1::Document d = Doc("seeded", "first");
  // The seed path (insert if absent) records r1 too.
  ASSERT_TRUE(store.documents().InsertMissing({&d}).ok());
  v1::Document snap;
  int64_t micros = 0;
  ASSERT_TRUE(store
                  .GetRevision("documents/seeded", "r1", absl::InfiniteFuture(),
                               &snap, &micros)
                  .ok());
  EXPECT_EQ(snap.text(0).text(), "first");
  EXPECT_GT(micros, 0);
  EXPECT_EQ(store
                .GetRevision("documents/seeded", "r2", absl::InfiniteFuture(),
                             &snap, &micros)
                .code(),
            absl::StatusCode::kNotFound);
  // Soft-deleted documents leave the search index.
  EXPECT_THAT(Found(store, "first"), ElementsAre("documents/seeded"));
  v1::Document out;
  ASSERT_TRUE(store.documents().Delete("documents/seeded", "", &out).ok());
  EXPECT_THAT(Found(store, "first"), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Backends, LegislationStoreTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::legislation
