#include "cli/table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace cstopa::cli {
namespace {

constexpr absl::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026 "…"
constexpr absl::string_view kReset = "\x1b[0m";

// The length in bytes of the escape sequence at text[i] (an ESC), or 0 when
// it is not a CSI sequence.
size_t EscapeLength(absl::string_view text, size_t i) {
  if (i + 1 >= text.size() || text[i + 1] != '[') return 0;
  size_t j = i + 2;
  while (j < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[j]);
    ++j;
    if (c >= 0x40 && c <= 0x7E) break;
  }
  return j - i;
}

// The length in bytes of the UTF-8 sequence that starts with `lead`.
size_t CodePointLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;  // a stray continuation byte or an invalid lead: one column
}

// Calls visible(piece) for each code point and escape(piece) for each
// escape sequence of `text`, in order, until one returns false.
template <typename Visible, typename Escape>
void Scan(absl::string_view text, Visible visible, Escape escape) {
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\x1b') {
      size_t n = EscapeLength(text, i);
      if (n > 0) {
        if (!escape(text.substr(i, n))) return;
        i += n;
        continue;
      }
    }
    size_t n = std::min(CodePointLength(static_cast<unsigned char>(text[i])),
                        text.size() - i);
    if (!visible(text.substr(i, n))) return;
    i += n;
  }
}

}  // namespace

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  Scan(
      text,
      [&](absl::string_view) {
        ++width;
        return true;
      },
      [](absl::string_view) { return true; });
  return width;
}

std::string TruncateToWidth(absl::string_view text, size_t width) {
  if (DisplayWidth(text) <= width) return std::string(text);
  if (width == 0) return "";
  std::string out;
  size_t used = 0;
  bool escaped = false;
  Scan(
      text,
      [&](absl::string_view piece) {
        if (used + 1 >= width) return false;
        out.append(piece.data(), piece.size());
        ++used;
        return true;
      },
      [&](absl::string_view piece) {
        out.append(piece.data(), piece.size());
        escaped = true;
        return true;
      });
  out.append(kEllipsis.data(), kEllipsis.size());
  if (escaped) out.append(kReset.data(), kReset.size());
  return out;
}

std::vector<std::string> WrapText(absl::string_view text, size_t width) {
  if (width == 0) width = 1;
  std::vector<std::string> lines;
  for (absl::string_view paragraph : absl::StrSplit(text, '\n')) {
    std::string line;
    size_t line_width = 0;
    bool any = false;
    for (absl::string_view word :
         absl::StrSplit(paragraph, ' ', absl::SkipEmpty())) {
      std::string w = TruncateToWidth(word, width);
      size_t ww = DisplayWidth(w);
      if (any && line_width + 1 + ww <= width) {
        line += ' ';
        line += w;
        line_width += 1 + ww;
        continue;
      }
      if (any) lines.push_back(std::move(line));
      line = std::move(w);
      line_width = ww;
      any = true;
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

std::string OneLine(absl::string_view text) {
  std::string out(text);
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != 0x1b) || u == 0x7f) c = ' ';
  }
  return out;
}

size_t TerminalWidth() {
  if (isatty(STDOUT_FILENO)) {
    struct winsize ws {};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
      return ws.ws_col;
    }
  }
  const char* columns = std::getenv("COLUMNS");
  int n = 0;
  if (columns != nullptr && absl::SimpleAtoi(columns, &n) && n > 0) {
    return static_cast<size_t>(n);
  }
  return 100;
}

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), align_(headers_.size(), Align::kLeft) {}

void Table::SetAlign(size_t column, Align align) {
  if (column < align_.size()) align_[column] = align;
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (std::string& cell : cells) cell = OneLine(cell);
  rows_.push_back(std::move(cells));
}

std::vector<size_t> Table::ColumnWidths(size_t max_width) const {
  const size_t n = headers_.size();
  std::vector<size_t> natural(n);
  for (size_t i = 0; i < n; ++i) {
    natural[i] = DisplayWidth(OneLine(headers_[i]));
    for (const auto& row : rows_) {
      natural[i] = std::max(natural[i], DisplayWidth(row[i]));
    }
  }
  std::vector<size_t> width = natural;
  if (n == 0) return width;
  const size_t separators = 2 * (n - 1);
  const size_t available = max_width > separators ? max_width - separators : 0;
  size_t total = 0;
  for (size_t w : width) total += w;
  // Narrow the widest column that may still give up a column: first down
  // to 6 columns each, then, if that is not enough, down to 3.
  for (size_t least : {size_t{6}, size_t{3}}) {
    while (total > available) {
      size_t pick = n;
      for (size_t i = 0; i < n; ++i) {
        if (width[i] <= std::min(natural[i], least)) continue;
        if (pick == n || width[i] > width[pick]) pick = i;
      }
      if (pick == n) break;
      --width[pick];
      --total;
    }
  }
  return width;
}

std::string Table::Render(size_t max_width) const {
  const std::vector<size_t> width = ColumnWidths(max_width);
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = TruncateToWidth(OneLine(cells[i]), width[i]);
      size_t pad = width[i] - std::min(width[i], DisplayWidth(cell));
      if (i > 0) text += "  ";
      if (align_[i] == Align::kRight) {
        text.append(pad, ' ');
        text += cell;
      } else {
        text += cell;
        if (i + 1 < cells.size()) text.append(pad, ' ');
      }
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text;
    out += '\n';
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
  return out;
}

}  // namespace cstopa::cli
