#include "services/legislation/search_query.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/errors.h"

namespace cstopa::legislation {
namespace {

// Decodes one UTF-8 code point at `s[*i]`, advancing `*i`; -1 if invalid.
int32_t NextCodePoint(absl::string_view s, size_t* i) {
  unsigned char c = static_cast<unsigned char>(s[*i]);
  int len = c < 0x80           ? 1
            : (c >> 5) == 0x6  ? 2
            : (c >> 4) == 0xE  ? 3
            : (c >> 3) == 0x1E ? 4
                               : 0;
  if (len == 0 || *i + len > s.size()) return -1;
  int32_t cp = len == 1   ? c
               : len == 2 ? (c & 0x1F)
               : len == 3 ? (c & 0x0F)
                          : (c & 0x07);
  for (int k = 1; k < len; ++k) {
    unsigned char cc = static_cast<unsigned char>(s[*i + k]);
    if ((cc >> 6) != 0x2) return -1;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
      (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return -1;
  *i += len;
  return cp;
}

// Whether a code point is part of a word: letters and digits of any script.
// An approximation of the Unicode categories L* and N* that needs no tables:
// ASCII letters and digits, and everything outside the blocks of
// punctuation, symbols, spaces and controls.
bool IsWordChar(int32_t cp) {
  if (cp < 0x80) return absl::ascii_isalnum(static_cast<unsigned char>(cp));
  if (cp < 0xC0) return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
  if (cp == 0xD7 || cp == 0xF7) return false;      // x and division signs
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, symbols
  if (cp >= 0x2E00 && cp <= 0x2E7F) return false;  // more punctuation
  if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
  if (cp >= 0xFE10 && cp <= 0xFE6F) return false;  // forms, small forms
  if (cp >= 0xFF00 && cp <= 0xFF0F) return false;  // fullwidth punct.
  if (cp >= 0xFF1A && cp <= 0xFF20) return false;
  if (cp >= 0xFF3B && cp <= 0xFF40) return false;
  if (cp >= 0xFF5B && cp <= 0xFF65) return false;
  if (cp >= 0xFFF0 && cp <= 0xFFFF) return false;    // specials
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return false;  // emoji, pictographs
  if (cp >= 0xE000 && cp <= 0xF8FF) return false;    // private use
  return true;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseSearchQuery(
    absl::string_view query, const std::string& field) {
  auto bad = [&](std::string why) {
    return common::InvalidArgument("INVALID_SEARCH_QUERY",
                                   {{field, std::move(why)}});
  };
  if (query.empty()) return bad("is required: the words to search for");
  if (query.size() > kMaxSearchQueryBytes)
    return bad(absl::StrCat("is ", query.size(), " bytes long; at most ",
                            kMaxSearchQueryBytes));
  std::vector<std::string> words;
  std::string current;
  size_t i = 0;
  while (i < query.size()) {
    size_t start = i;
    int32_t cp = NextCodePoint(query, &i);
    if (cp < 0) return bad("is not valid UTF-8");
    if (cp == 0) return bad("contains a NUL character");
    if (IsWordChar(cp)) {
      current.append(query.data() + start, i - start);
    } else if (!current.empty()) {
      words.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  if (words.empty())
    return bad(
        "has no word to search for (letters or digits); punctuation and "
        "operators are not search syntax");
  if (words.size() > kMaxSearchWords)
    return bad(absl::StrCat("has ", words.size(), " words; at most ",
                            kMaxSearchWords));
  return words;
}

std::string Fts5Expression(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : w) {
      if (c == '"') out += '"';  // never happens for words; kept for safety
      out += c;
    }
    out += '"';
  }
  return out;
}

}  // namespace cstopa::legislation
