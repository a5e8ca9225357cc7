#include "services/common/text/search_text.h"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::unique_ptr<TextAnalyzer> Analyzer(TextMode mode) {
  auto a = TextAnalyzer::Create(mode);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *std::move(a) : nullptr;
}

// Each token as "text:key,key" (the word as cut from the text by offsets).
std::vector<std::string> Tokens(TextAnalyzer& a, absl::string_view text) {
  std::vector<std::string> out;
  a.Tokenize(text, [&](const TextToken& t) {
    std::string s(text.substr(t.begin, t.end - t.begin));
    s += ':';
    for (size_t i = 0; i < t.keys.size(); ++i) {
      if (i > 0) s += ',';
      s += t.keys[i];
    }
    out.push_back(std::move(s));
  });
  return out;
}

SearchWords Words(absl::string_view query) {
  auto w = ParseSearchWords(query);
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? *std::move(w) : SearchWords{};
}

TEST(TextAnalyzerTest, StemModeFoldsAndStemsRussianAndEnglish) {
  auto a = Analyzer(TextMode::kStem);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->mode(), TextMode::kStem);
  EXPECT_THAT(
      Tokens(*a, "Противодействие ТЕРРОРИЗМУ, ratified treaties!"),
      ElementsAre("Противодействие:противодействие,противодейств",
                  "ТЕРРОРИЗМУ:терроризму,терроризм", "ratified:ratified,ratifi",
                  "treaties:treaties,treati"));
  // Forms of one word share their stem.
  EXPECT_THAT(a->Keys("терроризма", false),
              ElementsAre("терроризма", "терроризм"));
  EXPECT_THAT(a->Keys("терроризм", false), ElementsAre("терроризм"));
  // A prefix is only folded: a stem would cut what was typed.
  EXPECT_THAT(a->Keys("Террор", true), ElementsAre("террор"));
  // Neither Cyrillic nor Latin: folded only; digits are words too.
  EXPECT_THAT(Tokens(*a, "Ελλάδα 2024"),
              ElementsAre("Ελλάδα:ελλάδα", "2024:2024"));
}

TEST(TextAnalyzerTest, FullCaseFolding) {
  auto a = Analyzer(TextMode::kStem);
  ASSERT_NE(a, nullptr);
  // ß folds to "ss" (full folding, not lower-casing); then English stems.
  EXPECT_THAT(a->Keys("STRAßE", true), ElementsAre("strasse"));
  EXPECT_THAT(a->Keys("Ёлка", true), ElementsAre("ёлка"));
}

TEST(TextAnalyzerTest, TransliterationMatchesNamesAcrossScripts) {
  auto a = Analyzer(TextMode::kTransliterate);
  ASSERT_NE(a, nullptr);
  EXPECT_THAT(Tokens(*a, "Виктор Рогалев"),
              ElementsAre("Виктор:viktor", "Рогалев:rogalev,rogal"));
  EXPECT_THAT(a->Keys("Rogalev", false), ElementsAre("rogalev"));
  EXPECT_THAT(a->Keys("Кыргызстан", false),
              ElementsAre("kyrgyzstan", "kyrgyzsta"));
  EXPECT_THAT(a->Keys("Кыргызской", false),
              ElementsAre("kyrgyzskoy", "kyrgyzsk"));
  EXPECT_THAT(a->Keys("Kyrgyz", true), ElementsAre("kyrgyz"));
  // BGN/PCGN, as English-language news write Russian names.
  EXPECT_THAT(a->Keys("Шойгу", true), ElementsAre("shoygu"));
  EXPECT_THAT(a->Keys("Щукин", true), ElementsAre("shchukin"));
  // Soft and hard signs leave nothing behind; a sign alone is no token.
  EXPECT_THAT(a->Keys("Ильич", true), ElementsAre("ilich"));
  EXPECT_THAT(a->Keys("объект", true), ElementsAre("obyekt"));
  EXPECT_THAT(a->Keys("ь", false), IsEmpty());
  EXPECT_THAT(Tokens(*a, "ь ъ Café"), ElementsAre("Café:cafe"));
  EXPECT_THAT(a->Keys("ё", true), ElementsAre("ye"));
}

TEST(TextAnalyzerTest, WordsAreRunsOfLettersDigitsAndMarks) {
  auto a = Analyzer(TextMode::kStem);
  ASSERT_NE(a, nullptr);
  // Punctuation, symbols and invalid UTF-8 separate words; a combining
  // acute accent (U+0301) stays in its word.
  std::string text =
      "a-b\xFF"
      "c d\xCC\x81x \xCC\x81 e";
  EXPECT_THAT(Tokens(*a, text),
              ElementsAre("a:a", "b:b", "c:c", "d\xCC\x81x:d\xCC\x81x", "e:e"));
  EXPECT_THAT(Tokens(*a, " ,.;!? "), IsEmpty());
  EXPECT_THAT(Tokens(*a, ""), IsEmpty());
}

TEST(TextAnalyzerTest, LongWordsAreCutOnACodePointBoundary) {
  auto a = Analyzer(TextMode::kStem);
  ASSERT_NE(a, nullptr);
  std::string word;
  for (int i = 0; i < 40; ++i) word += "ж";  // 80 bytes
  std::vector<TextToken> tokens;
  a->Tokenize(word + " x", [&](const TextToken& t) { tokens.push_back(t); });
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].begin, 0u);
  EXPECT_EQ(tokens[0].end, 80u);  // the token is the whole word
  EXPECT_EQ(tokens[0].keys[0], word.substr(0, kMaxWordBytes));
  std::string odd = "a" + word;  // 81 bytes: the cut falls inside a ж
  std::vector<std::string> keys = a->Keys(odd, true);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], odd.substr(0, kMaxWordBytes - 1));
}

TEST(TextAnalyzerTest, NormalizedTextHasEveryKeyInOrder) {
  auto a = Analyzer(TextMode::kTransliterate);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->NormalizedText("Виктор Рогалев, ratified"),
            "viktor rogalev rogal ratified ratifi");
  EXPECT_EQ(a->NormalizedText("!!"), "");
}

TEST(TextAnalyzerPoolTest, LendsAnalyzersAndTakesThemBack) {
  TextAnalyzerPool pool(TextMode::kTransliterate);
  EXPECT_EQ(pool.mode(), TextMode::kTransliterate);
  TextAnalyzer* first = nullptr;
  TextAnalyzer* second = nullptr;
  {
    auto a = pool.Borrow();
    ASSERT_TRUE(a.ok()) << a.status();
    first = &**a;
    auto b = pool.Borrow();  // the first is lent: a new one
    ASSERT_TRUE(b.ok()) << b.status();
    second = &**b;
    EXPECT_NE(second, first);
    EXPECT_EQ((*b)->mode(), TextMode::kTransliterate);
    auto moved = std::move(*b);  // a moved-from handle gives nothing back
    EXPECT_EQ(&*moved, second);
  }
  // Both went back (b's analyzer once): the next two borrows get them.
  auto again = pool.Borrow();
  ASSERT_TRUE(again.ok());
  auto other = pool.Borrow();
  ASSERT_TRUE(other.ok());
  EXPECT_THAT((std::vector<TextAnalyzer*>{&**again, &**other}),
              ::testing::UnorderedElementsAre(first, second));
  EXPECT_THAT((*other)->Keys("Рогалев", true), ElementsAre("rogalev"));
  auto third = pool.Borrow();
  ASSERT_TRUE(third.ok());
  EXPECT_NE(&**third, first);
  EXPECT_NE(&**third, second);

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool] {
      for (int i = 0; i < 20; ++i) {
        auto h = pool.Borrow();
        ASSERT_TRUE(h.ok());
        EXPECT_EQ((*h)->NormalizedText("Шойгу"), "shoygu shoyg");
      }
    });
  }
  for (auto& t : threads) t.join();
}

TEST(ParseSearchWordsTest, SplitsLikeTheAnalyzerAndMarksAPrefix) {
  SearchWords w = Words("  \"Roga\" AND  кыргыз* ");
  EXPECT_THAT(w.words, ElementsAre("Roga", "AND", "кыргыз"));
  EXPECT_FALSE(w.last_is_prefix);
  w = Words("Виктор Рога");
  EXPECT_THAT(w.words, ElementsAre("Виктор", "Рога"));
  EXPECT_TRUE(w.last_is_prefix);
}

void ExpectRefused(absl::string_view query) {
  auto w = ParseSearchWords(query, "search");
  ASSERT_FALSE(w.ok()) << query;
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  auto bad = GetBadRequest(w.status());
  ASSERT_TRUE(bad.has_value());
  ASSERT_EQ(bad->field_violations_size(), 1);
  EXPECT_EQ(bad->field_violations(0).field(), "search");
  auto info = GetErrorInfo(w.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "INVALID_SEARCH_QUERY");
}

TEST(ParseSearchWordsTest, RefusesWhatCannotBeSearched) {
  ExpectRefused("");
  ExpectRefused("* -- ()");
  ExpectRefused("ok \xC3(");
  ExpectRefused(std::string(kMaxQueryBytes + 1, 'a'));
  std::string many;
  for (size_t i = 0; i <= kMaxQueryWords; ++i) many += "w ";
  ExpectRefused(many);
  std::string most;
  for (size_t i = 0; i < kMaxQueryWords; ++i) most += "w ";
  EXPECT_TRUE(ParseSearchWords(most).ok());
  EXPECT_TRUE(ParseSearchWords(std::string(kMaxQueryBytes, 'a')).ok());
}

TEST(Fts5MatchExpressionTest, QuotesEachWordAndStarsAPrefix) {
  EXPECT_EQ(Fts5MatchExpression(Words("NEAR(a OR b)")),
            "\"NEAR\" AND \"a\" AND \"OR\" AND \"b\"");
  // The last word typed: a prefix of a word, or the whole word.
  EXPECT_EQ(Fts5MatchExpression(Words("Виктор Рога")),
            "\"Виктор\" AND (\"Рога\"* OR \"Рога\")");
  SearchWords quoted{{"a\"b"}, false};
  EXPECT_EQ(Fts5MatchExpression(quoted), "\"a\"\"b\"");
}

TEST(TsQueryTextTest, OrsKeysAndAndsWords) {
  auto t = Analyzer(TextMode::kTransliterate);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(TsQueryText(Words("Рогалев Kyrgyz"), *t),
            "(rogalev | rogal) & (kyrgyz:* | kyrgyz)");
  EXPECT_EQ(TsQueryText(Words("ь Rogalev "), *t), "rogalev");
  EXPECT_EQ(TsQueryText(Words("ь"), *t), "");
  auto s = Analyzer(TextMode::kStem);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(TsQueryText(Words("терроризма закон"), *s),
            "('терроризма' | 'терроризм') & ('закон':* | 'закон')");
  EXPECT_EQ(TsQueryText(Words("терроризма"), *s),
            "('терроризма':* | 'терроризма' | 'терроризм')");
}

TEST(MarkedSnippetTest, MarksWordFormsAndEscapesHtml) {
  auto a = Analyzer(TextMode::kStem);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(MarkedSnippet("Закон <о> противодействии терроризму & \"всё\"",
                          Words("терроризма "), *a),
            "Закон &lt;о&gt; противодействии <mark>терроризму</mark> &amp; "
            "&quot;всё&quot;");
  EXPECT_EQ(MarkedSnippet("Закон о мире", Words("терроризма "), *a), "");
  // A prefix matches every word that starts with it.
  EXPECT_EQ(MarkedSnippet("it's ratified, ratification", Words("ratif"), *a),
            "it&#39;s <mark>ratified</mark>, <mark>ratification</mark>");
}

TEST(MarkedSnippetTest, CutsAPassageAroundTheFirstMatch) {
  auto a = Analyzer(TextMode::kTransliterate);
  ASSERT_NE(a, nullptr);
  std::string text;
  for (int i = 0; i < 30; ++i) text += "w" + std::to_string(i) + " ";
  text += "Рогалев";
  for (int i = 30; i < 60; ++i) text += " w" + std::to_string(i);
  // 6 words: 2 before the match (6/3), the match, 3 after; cut both ways.
  EXPECT_EQ(MarkedSnippet(text, Words("Rogalev "), *a, 6),
            "…w28 w29 <mark>Рогалев</mark> w30 w31 w32…");
  // Near the end the passage moves back to stay max_words long.
  EXPECT_EQ(MarkedSnippet("a b c d e f", Words("f "), *a, 3),
            "…d e <mark>f</mark>");
  // At the start nothing is cut before it.
  EXPECT_EQ(MarkedSnippet(" (a b c d", Words("a "), *a, 2),
            " (<mark>a</mark> b…");
}

TEST(CountryNamesTest, NamesAStateInEnglishAndRussian) {
  EXPECT_EQ(CountryNames("states/kz"), "Kazakhstan\nКазахстан");
  EXPECT_EQ(CountryNames("KZ"), "Kazakhstan\nКазахстан");
  EXPECT_EQ(CountryNames("kz"), "Kazakhstan\nКазахстан");
  // ICU 72's Russian name of Kyrgyzstan is the older "Киргизия".
  EXPECT_EQ(CountryNames("KG"), "Kyrgyzstan\nКиргизия");
  EXPECT_EQ(CountryNames("states/ru"), "Russia\nРоссия");
  EXPECT_EQ(CountryNames("RS"), "Serbia\nСербия");
}

TEST(CountryNamesTest, IsEmptyForWhatIsNoCountryCode) {
  // ICU names ZZ "Unknown Region" and gives XX back as it is.
  EXPECT_EQ(CountryNames("states/zz"), "");
  EXPECT_EQ(CountryNames("XX"), "");
  EXPECT_EQ(CountryNames("EU"), "");
  EXPECT_EQ(CountryNames("xx-bad"), "");
  EXPECT_EQ(CountryNames("states/kaz"), "");
  EXPECT_EQ(CountryNames("persons/kz"), "");
  EXPECT_EQ(CountryNames("k1"), "");
  EXPECT_EQ(CountryNames("states/"), "");
  EXPECT_EQ(CountryNames(""), "");
}

}  // namespace
}  // namespace cstopa::common
