// The seed check's matching of quotes against their sources.
#include "tests/seed/quotes.h"

#include <string>

#include "gtest/gtest.h"

namespace cstopa::seed_check {
namespace {

TEST(NormalizeForQuotesTest, LineBreaksAndMarkupReadAsOneSpace) {
  EXPECT_EQ(NormalizeForQuotes("  Chairman of the State Duma of the Federal\n"
                               "Assembly\t of <b>the</b>  Russian<br/>"
                               "Federation \n"),
            "Chairman of the State Duma of the Federal Assembly of the "
            "Russian Federation");
  // Markdown's bold marks and no-break spaces (seed 004 has them).
  EXPECT_EQ(NormalizeForQuotes(">90 **MODEL ACTS** adopted in\xC2\xA0" "2006"),
            ">90 MODEL ACTS adopted in 2006");
  // A '<' that opens no tag is text; a single '*' or '_' is text.
  EXPECT_EQ(NormalizeForQuotes("a_b * c"), "a_b * c");
  EXPECT_EQ(NormalizeForQuotes("a < b and 3<4"), "a < b and 3<4");
}

TEST(QuoteOccursTest, FindsPassagesInOrderAcrossLineBreaks) {
  const std::string source = NormalizeForQuotes(
      "On April 5-6 in Moscow, on the basis of the CSTO Joint Staff,\n"
      "representatives held consultations.\n\nKyrgyzstan joined by video.");
  std::string missing;
  EXPECT_TRUE(QuoteOccurs(source, "on the basis of the CSTO Joint Staff, "
                                  "representatives held",
                          &missing));
  EXPECT_TRUE(QuoteOccurs(source,
                          "On April 5-6 in Moscow ... Kyrgyzstan joined",
                          &missing));
  EXPECT_TRUE(QuoteOccurs(source, "April 5-6\xE2\x80\xA6 by video", &missing));
}

TEST(QuoteOccursTest, NamesTheFirstPassageNotFound) {
  const std::string source =
      NormalizeForQuotes("Kyrgyzstan 6 seats in 2022. Belarus 7 seats.");
  std::string missing;
  // Altered words, passages out of order, and an empty quote all fail.
  EXPECT_FALSE(QuoteOccurs(source, "Kyrgyzstan 7 seats", &missing));
  EXPECT_EQ(missing, "Kyrgyzstan 7 seats");
  EXPECT_FALSE(QuoteOccurs(source, "Belarus 7 ... Kyrgyzstan 6", &missing));
  EXPECT_EQ(missing, "Kyrgyzstan 6");
  EXPECT_FALSE(QuoteOccurs(source, " ... ", &missing));
  // Case counts: a quote is word for word.
  EXPECT_FALSE(QuoteOccurs(source, "kyrgyzstan 6", &missing));
}

}  // namespace
}  // namespace cstopa::seed_check
