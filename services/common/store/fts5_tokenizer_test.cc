#include "services/common/store/fts5_tokenizer.h"

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cstopa::common {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// An in-memory database with the tokenizers registered.
class Fts5TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    absl::Status s = RegisterFts5Tokenizers(db_);
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }

  // The rowids of `table` matching `match`, in rowid order.
  std::vector<int64_t> Match(absl::string_view table, absl::string_view match) {
    std::vector<int64_t> out;
    std::string sql = absl::StrCat("SELECT rowid FROM ", table, " WHERE ",
                                   table, " MATCH ?1 ORDER BY rowid");
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db_);
    sqlite3_bind_text(stmt, 1, match.data(), static_cast<int>(match.size()),
                      SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
      out.push_back(sqlite3_column_int64(stmt, 0));
    EXPECT_EQ(rc, SQLITE_DONE) << match << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    return out;
  }

  std::string Text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db_);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      if (t != nullptr) out = reinterpret_cast<const char*>(t);
    }
    sqlite3_finalize(stmt);
    return out;
  }

  sqlite3* db_ = nullptr;
};

TEST_F(Fts5TokenizerTest, TransliteratedTableFindsNamesAndWordForms) {
  Exec("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='cstopa_translit')");
  Exec(
      "INSERT INTO t(rowid, body) VALUES"
      " (1, 'Доклад Виктора Рогалева и Рогалев'),"
      " (2, 'Соглашение с Кыргызской Республикой'),"
      " (3, 'О противодействии терроризму'),"
      " (4, 'Rogachev and Rogozin')");
  EXPECT_THAT(Match("t", "\"Rogalev\""), ElementsAre(1));
  EXPECT_THAT(Match("t", "\"Рогалев\""), ElementsAre(1));
  // Prefixes: only the folded form of the last word is looked up.
  EXPECT_THAT(Match("t", "\"Roga\"*"), ElementsAre(1, 4));
  EXPECT_THAT(Match("t", "\"Рогал\"*"), ElementsAre(1));
  EXPECT_THAT(Match("t", "\"Kyrgyz\"*"), ElementsAre(2));
  EXPECT_THAT(Match("t", "\"Kyrgyz\""), IsEmpty());  // a word, not a prefix
  // Word forms share the stem.
  EXPECT_THAT(Match("t", "\"терроризма\""), ElementsAre(3));
  EXPECT_THAT(Match("t", "\"терроризм\""), ElementsAre(3));
  EXPECT_THAT(Match("t", "\"terrorizmu\""), ElementsAre(3));
  EXPECT_THAT(Match("t", "\"противодействии\" \"Рогалев\""), IsEmpty());
  // Offsets are the word's own: highlight() marks it in the stored text.
  EXPECT_EQ(Text("SELECT highlight(t, 0, '[', ']') FROM t "
                 "WHERE t MATCH '\"Rogalev\"'"),
            "Доклад Виктора [Рогалева] и [Рогалев]");
}

TEST_F(Fts5TokenizerTest, StemTableFindsEnglishAndRussianForms) {
  Exec("CREATE VIRTUAL TABLE s USING fts5(body, tokenize='cstopa_stem')");
  Exec(
      "INSERT INTO s(rowid, body) VALUES"
      " (1, 'The treaty was ratified'),"
      " (2, 'Ratification of the treaty'),"
      " (3, 'Модельный закон о противодействии терроризму'),"
      " (4, 'Рогалев')");
  // Snowball: ratified, ratify, ratifies -> "ratifi"; ratification ->
  // "ratif". So the verb's forms find each other, not the noun.
  EXPECT_THAT(Match("s", "\"ratify\""), ElementsAre(1));
  EXPECT_THAT(Match("s", "\"ratifies\""), ElementsAre(1));
  EXPECT_THAT(Match("s", "\"ratification\""), ElementsAre(2));
  EXPECT_THAT(Match("s", "\"ratif\"*"), ElementsAre(1, 2));
  EXPECT_THAT(Match("s", "\"treaties\""), ElementsAre(1, 2));
  EXPECT_THAT(Match("s", "\"ТЕРРОРИЗМА\""), ElementsAre(3));
  EXPECT_THAT(Match("s", "\"модельные\" \"законы\""), ElementsAre(3));
  // No transliteration in this mode.
  EXPECT_THAT(Match("s", "\"Rogalev\""), IsEmpty());
}

TEST_F(Fts5TokenizerTest, ExternalContentWithTriggersAndRebuild) {
  Exec("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)");
  Exec(
      "INSERT INTO docs VALUES (1, 'Закон о терроризме'),"
      " (2, 'Виктор Рогалев')");
  Exec(
      "CREATE VIRTUAL TABLE docs_fts USING fts5(body, content='docs',"
      " content_rowid='id', tokenize='cstopa_translit')");
  Exec(
      "CREATE TRIGGER docs_ai AFTER INSERT ON docs BEGIN"
      " INSERT INTO docs_fts(rowid, body) VALUES (new.id, new.body); END");
  Exec(
      "CREATE TRIGGER docs_ad AFTER DELETE ON docs BEGIN"
      " INSERT INTO docs_fts(docs_fts, rowid, body)"
      " VALUES ('delete', old.id, old.body); END");
  Exec(
      "CREATE TRIGGER docs_au AFTER UPDATE ON docs BEGIN"
      " INSERT INTO docs_fts(docs_fts, rowid, body)"
      " VALUES ('delete', old.id, old.body);"
      " INSERT INTO docs_fts(rowid, body) VALUES (new.id, new.body); END");
  // Rows written before the table existed are found after a rebuild.
  EXPECT_THAT(Match("docs_fts", "\"Rogalev\""), IsEmpty());
  Exec("INSERT INTO docs_fts(docs_fts) VALUES('rebuild')");
  EXPECT_THAT(Match("docs_fts", "\"Rogalev\""), ElementsAre(2));
  EXPECT_THAT(Match("docs_fts", "\"терроризм\""), ElementsAre(1));

  // Triggers, inside a write transaction.
  Exec("BEGIN IMMEDIATE");
  Exec("INSERT INTO docs VALUES (3, 'Шойгу в Кыргызстане')");
  Exec("UPDATE docs SET body = 'Закон о мире' WHERE id = 1");
  Exec("DELETE FROM docs WHERE id = 2");
  Exec("COMMIT");
  EXPECT_THAT(Match("docs_fts", "\"Shoygu\""), ElementsAre(3));
  EXPECT_THAT(Match("docs_fts", "\"kyrgyz\"*"), ElementsAre(3));
  EXPECT_THAT(Match("docs_fts", "\"терроризм\""), IsEmpty());
  EXPECT_THAT(Match("docs_fts", "\"мир\""), ElementsAre(1));
  EXPECT_THAT(Match("docs_fts", "\"Rogalev\""), IsEmpty());
  // The index agrees with its content (a delete with other tokens than
  // the insert's would leave it corrupt).
  Exec("INSERT INTO docs_fts(docs_fts, rank) VALUES('integrity-check', 1)");
  Exec("INSERT INTO docs_fts(docs_fts) VALUES('rebuild')");
  EXPECT_THAT(Match("docs_fts", "\"мира\""), ElementsAre(1));
}

TEST_F(Fts5TokenizerTest, QueryWordWithoutKeysMatchesNothing) {
  Exec("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='cstopa_translit')");
  Exec("INSERT INTO t(rowid, body) VALUES (1, 'Рогалев')");
  // "ь" has no key in Latin letters: its phrase is empty.
  EXPECT_THAT(Match("t", "\"ь\""), IsEmpty());
}

TEST_F(Fts5TokenizerTest, UnknownTokenizerWithoutRegistration) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &other), SQLITE_OK);
  char* err = nullptr;
  EXPECT_NE(sqlite3_exec(other,
                         "CREATE VIRTUAL TABLE t USING fts5(body,"
                         " tokenize='cstopa_stem')",
                         nullptr, nullptr, &err),
            SQLITE_OK);
  sqlite3_free(err);
  sqlite3_close(other);
}

}  // namespace
}  // namespace cstopa::common
