#include "services/legislation/search_query.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/base/errors.h"
#include "services/common/text/search_text.h"

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

namespace {

void AppendUtf8(int32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int32_t Lower(int32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp < 0xC0) return cp;
  if (cp <= 0xDE && cp != 0xD7) return cp + 32;  // Latin-1
  if (cp >= 0x100 && cp <= 0x17F && cp % 2 == 0 && cp != 0x130 && cp != 0x138)
    return cp + 1;                                                // Latin Ext-A
  if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;  // Greek
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;                 // Ѐ-Џ
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;                 // А-Я
  if (cp >= 0x460 && cp <= 0x4FF && cp % 2 == 0) return cp + 1;
  return cp;
}

struct Word {
  size_t begin, end;  // byte offsets in the text
};

// Walks the words of a text: maximal runs of word characters (IsWordChar);
// an invalid byte separates words like a space does.
class WordScanner {
 public:
  explicit WordScanner(absl::string_view text) : text_(text) {}

  // The next word, false at the end of the text. When `folded` is set, also
  // the word after FoldCase and the number of its code points.
  bool Next(Word* word, std::string* folded, size_t* code_points) {
    int32_t cp = 0;
    size_t at = 0;
    while (true) {  // to the first character of a word
      if (i_ >= text_.size()) return false;
      at = i_;
      cp = Decode();
      if (cp >= 0 && IsWordChar(cp)) break;
    }
    word->begin = at;
    if (folded != nullptr) {
      folded->clear();
      *code_points = 0;
    }
    while (true) {
      if (folded != nullptr) {
        AppendUtf8(Lower(cp), folded);
        ++*code_points;
      }
      at = i_;
      if (i_ >= text_.size()) break;
      cp = Decode();
      if (cp < 0 || !IsWordChar(cp)) break;
    }
    word->end = at;
    return true;
  }

 private:
  // The code point at i_, advancing; -1 (one byte on) for an invalid byte.
  int32_t Decode() {
    unsigned char c = static_cast<unsigned char>(text_[i_]);
    if (c < 0x80) {
      ++i_;
      return c;
    }
    size_t at = i_;
    int32_t cp = NextCodePoint(text_, &i_);
    if (cp < 0) i_ = at + 1;
    return cp;
  }

  absl::string_view text_;
  size_t i_ = 0;
};

// The byte offset of code point `n` of UTF-8 `s` (code points counted as the
// bytes that do not continue one), or s.size() when it has no more.
size_t CodePointOffset(absl::string_view s, size_t n) {
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == 0) return i;
      --n;
    }
  }
  return s.size();
}

}  // namespace

std::string FoldCase(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t at = i;
    int32_t cp = NextCodePoint(text, &i);
    if (cp < 0) {
      out.push_back(text[at]);
      i = at + 1;
      continue;
    }
    AppendUtf8(Lower(cp), &out);
  }
  return out;
}

SnippetWords::SnippetWords(const std::vector<std::string>& words) {
  words_.reserve(words.size());
  for (const std::string& w : words) {
    Word word;
    word.folded = FoldCase(w);
    for (size_t i = 0; i < word.folded.size(); ++i) {
      if ((static_cast<unsigned char>(word.folded[i]) & 0xC0) != 0x80)
        word.starts.push_back(i);
    }
    words_.push_back(std::move(word));
  }
}

// Equal words, or forms of one word (what a stemmer would match): both at
// least 4 code points long and sharing all but at most the last 2 code
// points of the shorter one, and at least 4.
bool SnippetWords::Matches(absl::string_view folded, size_t code_points) const {
  for (const Word& q : words_) {
    if (folded == q.folded) return true;
    // Every shared start below covers the first byte.
    if (folded.empty() || q.folded.empty() || folded[0] != q.folded[0])
      continue;
    size_t shorter = std::min(code_points, q.starts.size());
    if (shorter < 4) continue;
    size_t need = std::max<size_t>(4, shorter - 2);
    size_t bytes = need < q.starts.size() ? q.starts[need] : q.folded.size();
    size_t bytes_text =
        need < code_points ? CodePointOffset(folded, need) : folded.size();
    if (bytes == bytes_text &&
        folded.substr(0, bytes) == absl::string_view(q.folded).substr(0, bytes))
      return true;
  }
  return false;
}

std::string Snippet(absl::string_view text,
                    const std::vector<std::string>& words, int max_words) {
  return Snippet(text, SnippetWords(words), max_words);
}

using common::AppendHtmlEscaped;

std::string Snippet(absl::string_view text, const SnippetWords& words,
                    int max_words) {
  WordScanner scan(text);
  std::vector<Word> all;  // the words up to the end of the passage
  std::vector<bool> match;
  std::string folded;
  size_t code_points = 0;
  Word w;
  int first = -1;
  while (scan.Next(&w, &folded, &code_points)) {
    all.push_back(w);
    match.push_back(false);
    if (words.Matches(folded, code_points)) {
      first = static_cast<int>(all.size()) - 1;
      match.back() = true;
      break;
    }
  }
  if (first < 0) return "";
  int from = std::max(0, first - max_words / 3);
  // Words from `from` to `end` (exclusive) may show; one more tells that the
  // passage cuts the text. Past that, the words do not matter: n (the number
  // of words read) stands for the whole count in what follows.
  int64_t end = int64_t{from} + max_words;
  while (static_cast<int64_t>(all.size()) <= end) {
    bool shown = static_cast<int64_t>(all.size()) < end;
    if (!scan.Next(&w, shown ? &folded : nullptr, &code_points)) break;
    all.push_back(w);
    match.push_back(shown && words.Matches(folded, code_points));
  }
  int n = static_cast<int>(all.size());
  int to = static_cast<int>(std::min<int64_t>(n, end));  // exclusive
  from = std::max(0, std::min(from, to - max_words));
  std::string out;
  if (from > 0) out += "…";
  // From the start of the text when nothing is cut before the passage.
  size_t pos = from == 0 ? 0 : all[from].begin;
  for (int k = from; k < to; ++k) {
    AppendHtmlEscaped(text.substr(pos, all[k].begin - pos), &out);
    absl::string_view word =
        text.substr(all[k].begin, all[k].end - all[k].begin);
    if (match[k]) out += "<mark>";
    AppendHtmlEscaped(word, &out);
    if (match[k]) out += "</mark>";
    pos = all[k].end;
  }
  if (to < n) {
    out += "…";
  } else {
    AppendHtmlEscaped(text.substr(pos), &out);
  }
  return out;
}

}  // namespace cstopa::legislation
