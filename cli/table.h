// Aligned text tables for the terminal, and the UTF-8 measures they need.
//
// Widths are counted in Unicode code points, not bytes, so that Cyrillic
// names line up ("Казахстан" is 9 columns, 18 bytes); ANSI escape sequences
// (such as bold) take no width. Wide (CJK) and combining characters are not
// special-cased: the record holds Latin and Cyrillic text.
//
//   Table t({"ID", "NAME", "SEATS"});
//   t.SetAlign(2, Align::kRight);
//   t.AddRow({"kz", "Казахстан", "12"});
//   t.AddRow({"ru", "Российская Федерация", "26"});
//   std::cout << t.Render(/*max_width=*/TerminalWidth());
//
// prints
//
//   ID  NAME                  SEATS
//   kz  Казахстан                12
//   ru  Российская Федерация     26
//
// When the natural width does not fit, the widest columns are narrowed
// first and their long cells end in "…".
#ifndef CSTOPA_CLI_TABLE_H_
#define CSTOPA_CLI_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace cstopa::cli {

// The number of columns `text` takes: its code points, less any ANSI escape
// sequence (ESC '[' ... final byte).
size_t DisplayWidth(absl::string_view text);

// `text` cut to at most `width` columns: unchanged when it fits, else its
// first width-1 code points and "…". Escape sequences are kept, and a reset
// ("\x1b[0m") is added after a cut when the text had any.
std::string TruncateToWidth(absl::string_view text, size_t width);

// `text` broken at spaces into lines of at most `width` columns (a word
// longer than that is cut with "…"). Newlines in `text` start a new line.
std::vector<std::string> WrapText(absl::string_view text, size_t width);

// Tabs, newlines and other control characters (but ESC) as single spaces,
// so that a cell stays on one line.
std::string OneLine(absl::string_view text);

// The width to fit output to: the terminal's when stdout is a terminal
// (ioctl TIOCGWINSZ), else $COLUMNS when it is a positive number, else 100.
size_t TerminalWidth();

enum class Align { kLeft, kRight };

class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // Right-aligns (numbers) or left-aligns (the default) a column.
  void SetAlign(size_t column, Align align);
  // A row; missing cells are empty, extra ones are dropped.
  void AddRow(std::vector<std::string> cells);

  size_t row_count() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }

  // The header line, then one line per row, each ending in '\n'. Columns are
  // separated by two spaces and no line ends in spaces. The columns' natural
  // widths (widest cell) are kept when they fit `max_width`; otherwise the
  // widest columns are narrowed, one column at a time, down to no less than
  // min(natural width, 6), then if need be min(natural width, 3) (so a very
  // narrow terminal may still get longer lines), and cells longer than
  // their column end in "…".
  std::string Render(size_t max_width) const;

  // The width of each column Render(max_width) uses.
  std::vector<size_t> ColumnWidths(size_t max_width) const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cstopa::cli

#endif  // CSTOPA_CLI_TABLE_H_
