#include "tests/seed/quotes.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace cstopa::seed_check {

std::string NormalizeForQuotes(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    // A tag: '<' then a letter, '/' or '!', up to the next '>'.
    if (c == '<' && i + 1 < text.size() &&
        (absl::ascii_isalpha(static_cast<unsigned char>(text[i + 1])) ||
         text[i + 1] == '/' || text[i + 1] == '!')) {
      const size_t end = text.find('>', i);
      if (end != absl::string_view::npos) {
        i = end;
        space = true;  // a tag separates words as a space would
        continue;
      }
    }
    // Bold or italic marks of Markdown ("**", "__") are markup too.
    if ((c == '*' || c == '_') && i + 1 < text.size() && text[i + 1] == c) {
      ++i;
      continue;
    }
    // A no-break space (U+00A0) is a space.
    if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') {
      ++i;
      space = true;
      continue;
    }
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool QuoteOccurs(absl::string_view normalized_source, absl::string_view quote,
                 std::string* missing) {
  const std::string joined =
      absl::StrReplaceAll(quote, {{"\xE2\x80\xA6", " ... "}});  // "…"
  std::vector<std::string> passages;
  for (absl::string_view part : absl::StrSplit(joined, "...")) {
    std::string p = NormalizeForQuotes(part);
    if (!p.empty()) passages.push_back(std::move(p));
  }
  if (passages.empty()) {
    *missing = std::string(quote);
    return false;
  }
  size_t from = 0;
  for (const std::string& p : passages) {
    const size_t at = normalized_source.find(p, from);
    if (at == absl::string_view::npos) {
      *missing = p;
      return false;
    }
    from = at + p.size();
  }
  return true;
}

}  // namespace cstopa::seed_check
