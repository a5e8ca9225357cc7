#include "cli/table.h"

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cstopa::cli {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

TEST(DisplayWidthTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(DisplayWidth("kz"), 2u);
  EXPECT_EQ(DisplayWidth("Казахстан"), 9u);  // 18 bytes
  EXPECT_EQ(DisplayWidth("Кыргызская Республика"), 21u);
  EXPECT_EQ(DisplayWidth("\xE2\x80\xA6"), 1u);  // "…"
}

TEST(DisplayWidthTest, EscapeSequencesTakeNoWidth) {
  EXPECT_EQ(DisplayWidth("\x1b[1mмодельный\x1b[0m закон"), 15u);
}

TEST(TruncateTest, KeepsTextThatFits) {
  EXPECT_EQ(TruncateToWidth("Казахстан", 9), "Казахстан");
  EXPECT_EQ(TruncateToWidth("Казахстан", 20), "Казахстан");
}

TEST(TruncateTest, CutsCyrillicAtCodePointsWithEllipsis) {
  std::string cut = TruncateToWidth("Российская Федерация", 10);
  EXPECT_EQ(cut, "Российска\xE2\x80\xA6");  // 9 letters and "…"
  EXPECT_EQ(DisplayWidth(cut), 10u);
  EXPECT_EQ(TruncateToWidth("Армения", 1), "\xE2\x80\xA6");
  EXPECT_EQ(TruncateToWidth("Армения", 0), "");
}

TEST(TruncateTest, ResetsBoldAfterACut) {
  std::string cut = TruncateToWidth("\x1b[1mбезопасность\x1b[0m", 5);
  EXPECT_EQ(cut, "\x1b[1mбезо\xE2\x80\xA6\x1b[0m");
  EXPECT_EQ(DisplayWidth(cut), 5u);
}

TEST(TableTest, AlignsColumnsByCodePoints) {
  Table t({"ID", "NAME", "SEATS"});
  t.SetAlign(2, Align::kRight);
  t.AddRow({"kz", "Казахстан", "12"});
  t.AddRow({"ru", "Российская Федерация", "126"});
  EXPECT_THAT(Lines(t.Render(100)),
              ElementsAre("ID  NAME                  SEATS",
                          "kz  Казахстан                12",
                          "ru  Российская Федерация    126"));
}

TEST(TableTest, NoTrailingSpacesAndMissingCellsAreEmpty) {
  Table t({"A", "B"});
  t.AddRow({"long value"});
  t.AddRow({"x", "y"});
  EXPECT_THAT(Lines(t.Render(100)),
              ElementsAre("A           B", "long value", "x           y"));
}

TEST(TableTest, NewlinesInCellsStayOnOneLine) {
  Table t({"TITLE"});
  t.AddRow({"first\nsecond"});
  EXPECT_THAT(Lines(t.Render(100)), ElementsAre("TITLE", "first second"));
}

TEST(TableTest, NarrowsTheWidestColumnToFit) {
  Table t({"ID", "STATUS", "TITLE"});
  t.AddRow({"kz", "member",
            "Модельный закон о противодействии терроризму и экстремизму"});
  t.AddRow({"by", "member", "Short"});
  const std::vector<size_t> natural = t.ColumnWidths(1000);
  EXPECT_THAT(natural, ElementsAre(2, 6, 58));
  for (const std::string& line : Lines(t.Render(40))) {
    EXPECT_LE(DisplayWidth(line), 40u) << line;
  }
  // The short columns keep their width; the title gives up the rest.
  EXPECT_THAT(t.ColumnWidths(40), ElementsAre(2, 6, 28));
  std::vector<std::string> lines = Lines(t.Render(40));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1], "kz  member  Модельный закон о противоде\xE2\x80\xA6");
  EXPECT_EQ(lines[2], "by  member  Short");
}

TEST(TableTest, ShrinksSeveralWideColumnsEvenly) {
  Table t({"A", "B"});
  t.AddRow({std::string(30, 'a'), std::string(20, 'b')});
  // 50 columns of text and 2 of separator into 32: the wider gives first,
  // until both are equal.
  EXPECT_THAT(t.ColumnWidths(32), ElementsAre(15, 15));
}

TEST(TableTest, KeepsAMinimumWidthWhenTheTerminalIsTiny) {
  Table t({"NAME", "TITLE"});
  t.AddRow({"Казахстан", "Модельный закон"});
  // 6 columns each fit 14 columns; 3 each are the least.
  EXPECT_THAT(t.ColumnWidths(14), ElementsAre(6, 6));
  EXPECT_EQ(Lines(t.Render(14))[1], "Казах\xE2\x80\xA6  Модел\xE2\x80\xA6");
  EXPECT_THAT(t.ColumnWidths(10), ElementsAre(4, 4));
  EXPECT_THAT(t.ColumnWidths(5), ElementsAre(3, 3));
  EXPECT_EQ(Lines(t.Render(5))[1], "Ка\xE2\x80\xA6  Мо\xE2\x80\xA6");
}

TEST(WrapTextTest, BreaksAtSpacesByCodePoints) {
  EXPECT_THAT(
      WrapText("модельный закон о кибербезопасности", 16),
      ElementsAre("модельный закон", "о", "кибербезопаснос\xE2\x80\xA6"));
  EXPECT_THAT(WrapText("a b c", 10), ElementsAre("a b c"));
}

TEST(TerminalWidthTest, UsesColumnsWhenNotATerminal) {
  if (isatty(STDOUT_FILENO)) GTEST_SKIP() << "stdout is a terminal";
  setenv("COLUMNS", "42", 1);
  EXPECT_EQ(TerminalWidth(), 42u);
  setenv("COLUMNS", "nonsense", 1);
  EXPECT_EQ(TerminalWidth(), 100u);
  unsetenv("COLUMNS");
  EXPECT_EQ(TerminalWidth(), 100u);
}

}  // namespace
}  // namespace cstopa::cli
