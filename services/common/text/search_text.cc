#include "services/common/text/search_text.h"

#include <libstemmer.h>
#include <unicode/locid.h>
#include <unicode/translit.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

// The transform that writes a key in Latin letters. ICU's plain "Any-Latin"
// uses ISO 9 for Cyrillic, which Latin-ASCII then strips of its diacritics:
// "Шойгу" becomes "sojgu", "Цой" "coj", "Юрий" "urij", which nobody types.
// Russian-Latin/BGN (BGN/PCGN, the romanization of English-language maps and
// news) gives "shoygu", "tsoy", "yuriy", "kyrgyzskoy" and still "rogalev",
// so Latin spellings as people write them share keys with the Cyrillic
// ones; Any-Latin then takes every other script, Latin-ASCII the accents.
// The soft and hard signs become ' and " and fall out with everything else
// outside [a-z0-9].
constexpr char kTransliteration[] = "Russian-Latin/BGN; Any-Latin; Latin-ASCII";

bool IsMark(UChar32 c) {
  int8_t type = u_charType(c);
  return type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
         type == U_COMBINING_SPACING_MARK;
}

// Calls `word(begin, end)` for each word of `text` (a run of letters, digits
// and combining marks holding at least one letter or digit; anything else,
// invalid UTF-8 included, separates words) until it returns false.
template <typename F>
void ForEachWord(absl::string_view text, F word) {
  const char* s = text.data();
  const int64_t n = static_cast<int64_t>(text.size());
  int64_t i = 0;
  int64_t begin = -1;  // of the current run, -1 outside one
  bool has_alnum = false;
  while (i < n) {
    int64_t at = i;
    UChar32 c;
    bool alnum = false;
    bool part = false;
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // fast path: ASCII
      alnum = absl::ascii_isalnum(static_cast<unsigned char>(s[i]));
      part = alnum;
      ++i;
    } else {
      U8_NEXT(s, i, n, c);
      if (c >= 0) {
        alnum = u_isalnum(c);
        part = alnum || IsMark(c);
      }
    }
    if (part) {
      if (begin < 0) {
        begin = at;
        has_alnum = false;
      }
      has_alnum = has_alnum || alnum;
      continue;
    }
    if (begin >= 0) {
      if (has_alnum &&
          !word(static_cast<size_t>(begin), static_cast<size_t>(at))) {
        return;
      }
      begin = -1;
    }
  }
  if (begin >= 0 && has_alnum) word(static_cast<size_t>(begin), text.size());
}

bool IsAscii(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x80;
  });
}

// `word` cut to kMaxWordBytes on a code-point boundary (words are valid
// UTF-8, ForEachWord's runs being made of whole code points).
absl::string_view CutWord(absl::string_view word) {
  if (word.size() <= kMaxWordBytes) return word;
  size_t cut = kMaxWordBytes;
  while (cut > 0 && (static_cast<unsigned char>(word[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return word.substr(0, cut);
}

// Keeps only [a-z0-9] of `s` (already lower case).
std::string KeepAsciiAlnum(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out.push_back(c);
  }
  return out;
}

class IcuTextAnalyzer : public TextAnalyzer {
 public:
  IcuTextAnalyzer(TextMode mode, sb_stemmer* russian, sb_stemmer* english,
                  std::unique_ptr<icu::Transliterator> latin)
      : TextAnalyzer(mode),
        russian_(russian),
        english_(english),
        latin_(std::move(latin)) {}
  ~IcuTextAnalyzer() override {
    sb_stemmer_delete(russian_);
    sb_stemmer_delete(english_);
  }

  void Tokenize(absl::string_view text,
                absl::FunctionRef<void(const TextToken&)> emit) override {
    TextToken token;
    ForEachWord(text, [&](size_t begin, size_t end) {
      token.keys = WordKeys(text.substr(begin, end - begin), false);
      if (!token.keys.empty()) {
        token.begin = begin;
        token.end = end;
        emit(token);
      }
      return true;
    });
  }

  // The keys of the first word of `word` (its only one, as callers pass it).
  std::vector<std::string> Keys(absl::string_view word, bool prefix) override {
    std::vector<std::string> keys;
    ForEachWord(word, [&](size_t begin, size_t end) {
      keys = WordKeys(word.substr(begin, end - begin), prefix);
      return keys.empty();  // on to the next word while this one has none
    });
    return keys;
  }

 private:
  // Words outside ASCII go through ICU (case folding, script detection,
  // transliteration), which costs microseconds a word; the same words come
  // back in every text and query, so their keys are kept (a bounded memo,
  // dropped whole when full).
  std::vector<std::string> WordKeys(absl::string_view word, bool prefix) {
    word = CutWord(word);
    if (IsAscii(word)) return ComputeKeys(word, prefix);
    std::string memo_key = absl::StrCat(prefix ? "p" : "w", word);
    if (auto it = memo_.find(memo_key); it != memo_.end()) return it->second;
    std::vector<std::string> keys = ComputeKeys(word, prefix);
    if (memo_.size() >= kMaxMemo) memo_.clear();
    memo_.emplace(std::move(memo_key), keys);
    return keys;
  }

  static constexpr size_t kMaxMemo = 16384;

  std::vector<std::string> ComputeKeys(absl::string_view word, bool prefix) {
    std::string folded;
    sb_stemmer* stemmer = nullptr;
    if (IsAscii(word)) {
      folded = absl::AsciiStrToLower(word);
      if (std::any_of(folded.begin(), folded.end(), absl::ascii_isalpha)) {
        stemmer = english_;
      }
    } else {
      icu::UnicodeString u = icu::UnicodeString::fromUTF8(
          icu::StringPiece(word.data(), static_cast<int32_t>(word.size())));
      bool cyrillic = false;
      bool latin = false;
      for (int32_t i = 0; i < u.length(); i = u.moveIndex32(i, 1)) {
        UErrorCode status = U_ZERO_ERROR;
        UScriptCode script = uscript_getScript(u.char32At(i), &status);
        if (U_FAILURE(status)) continue;
        cyrillic = cyrillic || script == USCRIPT_CYRILLIC;
        latin = latin || script == USCRIPT_LATIN;
      }
      stemmer = cyrillic ? russian_ : latin ? english_ : nullptr;
      u.foldCase(U_FOLD_CASE_DEFAULT);
      u.toUTF8String(folded);
    }
    std::vector<std::string> keys;
    keys.push_back(folded);
    if (!prefix && stemmer != nullptr) {
      const sb_symbol* stem = sb_stemmer_stem(
          stemmer, reinterpret_cast<const sb_symbol*>(folded.data()),
          static_cast<int>(folded.size()));
      // NULL only when out of memory: the folded key alone then.
      if (stem != nullptr) {
        keys.emplace_back(reinterpret_cast<const char*>(stem),
                          static_cast<size_t>(sb_stemmer_length(stemmer)));
      }
    }
    if (mode() == TextMode::kTransliterate) {
      for (std::string& key : keys) key = Latin(key);
    }
    std::vector<std::string> out;
    for (std::string& key : keys) {
      if (!key.empty() && std::find(out.begin(), out.end(), key) == out.end())
        out.push_back(std::move(key));
    }
    return out;
  }

  // `key` in Latin letters, only [a-z0-9] kept.
  std::string Latin(absl::string_view key) {
    if (IsAscii(key)) return KeepAsciiAlnum(key);  // nothing to transliterate
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(
        icu::StringPiece(key.data(), static_cast<int32_t>(key.size())));
    latin_->transliterate(u);
    // The key is folded, but a transform may still write a capital (BGN
    // writes some letters of other alphabets so): lower case before
    // filtering, so that no letter is lost.
    u.toLower(icu::Locale::getRoot());
    std::string ascii;
    u.toUTF8String(ascii);
    return KeepAsciiAlnum(ascii);
  }

  sb_stemmer* const russian_;
  sb_stemmer* const english_;
  const std::unique_ptr<icu::Transliterator> latin_;
  absl::flat_hash_map<std::string, std::vector<std::string>> memo_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TextAnalyzer>> TextAnalyzer::Create(
    TextMode mode) {
  sb_stemmer* russian = sb_stemmer_new("russian", "UTF_8");
  sb_stemmer* english = sb_stemmer_new("english", "UTF_8");
  if (russian == nullptr || english == nullptr) {
    if (russian != nullptr) sb_stemmer_delete(russian);
    if (english != nullptr) sb_stemmer_delete(english);
    return absl::InternalError(
        "libstemmer has no russian or english stemmer for UTF_8");
  }
  std::unique_ptr<icu::Transliterator> latin;
  if (mode == TextMode::kTransliterate) {
    UErrorCode status = U_ZERO_ERROR;
    UParseError parse_error;
    latin.reset(icu::Transliterator::createInstance(
        icu::UnicodeString::fromUTF8(kTransliteration), UTRANS_FORWARD,
        parse_error, status));
    if (U_FAILURE(status) || latin == nullptr) {
      sb_stemmer_delete(russian);
      sb_stemmer_delete(english);
      return absl::InternalError(absl::StrCat("ICU transliterator \"",
                                              kTransliteration,
                                              "\": ", u_errorName(status)));
    }
  }
  return std::make_unique<IcuTextAnalyzer>(mode, russian, english,
                                           std::move(latin));
}

std::string TextAnalyzer::NormalizedText(absl::string_view text) {
  std::string out;
  Tokenize(text, [&](const TextToken& token) {
    for (const std::string& key : token.keys) {
      if (!out.empty()) out.push_back(' ');
      out += key;
    }
  });
  return out;
}

TextAnalyzerPool::Handle::~Handle() {
  if (analyzer_ == nullptr) return;  // moved from
  absl::MutexLock lock(&pool_->mu_);
  pool_->idle_.push_back(std::move(analyzer_));
}

absl::StatusOr<TextAnalyzerPool::Handle> TextAnalyzerPool::Borrow() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<TextAnalyzer> a = std::move(idle_.back());
      idle_.pop_back();
      return Handle(this, std::move(a));
    }
  }
  // Made outside the lock: ICU's transliterator takes a while to build.
  auto a = TextAnalyzer::Create(mode_);
  if (!a.ok()) return a.status();
  return Handle(this, *std::move(a));
}

absl::StatusOr<SearchWords> ParseSearchWords(absl::string_view query,
                                             absl::string_view field) {
  auto bad = [&](std::string why) {
    return InvalidArgument("INVALID_SEARCH_QUERY",
                           {{std::string(field), std::move(why)}});
  };
  if (query.empty()) return bad("is required: the words to search for");
  if (query.size() > kMaxQueryBytes) {
    return bad(absl::StrCat("is ", query.size(), " bytes long; at most ",
                            kMaxQueryBytes));
  }
  {
    const int64_t n = static_cast<int64_t>(query.size());
    int64_t i = 0;
    while (i < n) {
      UChar32 c;
      U8_NEXT(query.data(), i, n, c);
      if (c < 0) return bad("is not valid UTF-8");
    }
  }
  SearchWords out;
  size_t last_end = 0;
  ForEachWord(query, [&](size_t begin, size_t end) {
    out.words.emplace_back(query.substr(begin, end - begin));
    last_end = end;
    return true;
  });
  if (out.words.empty()) {
    return bad(
        "has no word to search for (letters or digits); punctuation and "
        "operators are not search syntax");
  }
  if (out.words.size() > kMaxQueryWords) {
    return bad(absl::StrCat("has ", out.words.size(), " words; at most ",
                            kMaxQueryWords));
  }
  out.last_is_prefix = last_end == query.size();
  return out;
}

std::string Fts5MatchExpression(const SearchWords& words) {
  // Each word a quoted string (any " doubled: never in a word, kept for
  // safety). The last word of a type-ahead query is either a prefix of a
  // word ("Roga"*: its folded key) or the whole word in any form ("Roga":
  // all its keys, the stem too), so a word typed whole still finds its
  // other forms.
  auto quoted = [](const std::string& word) {
    std::string q = "\"";
    for (char c : word) {
      if (c == '"') q.push_back('"');
      q.push_back(c);
    }
    q.push_back('"');
    return q;
  };
  std::string out;
  for (size_t i = 0; i < words.words.size(); ++i) {
    if (i > 0) out += " AND ";
    const std::string q = quoted(words.words[i]);
    if (words.last_is_prefix && i + 1 == words.words.size()) {
      absl::StrAppend(&out, "(", q, "* OR ", q, ")");
    } else {
      out += q;
    }
  }
  return out;
}

namespace {

// `key` as a tsquery operand: bare in kTransliterate mode ([a-z0-9] only),
// else quoted with ' and \ escaped.
std::string TsQueryOperand(const std::string& key, TextMode mode) {
  if (mode == TextMode::kTransliterate) return key;
  std::string out = "'";
  for (char c : key) {
    if (c == '\'' || c == '\\') out.push_back(c == '\'' ? '\'' : '\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace

std::string TsQueryText(const SearchWords& words, TextAnalyzer& analyzer) {
  std::string out;
  for (size_t i = 0; i < words.words.size(); ++i) {
    const bool prefix = words.last_is_prefix && i + 1 == words.words.size();
    // A prefix word: its folded key as a prefix, or any of its keys whole
    // (as Fts5MatchExpression).
    std::vector<std::string> operands;
    if (prefix) {
      for (std::string& key : analyzer.Keys(words.words[i], true))
        operands.push_back(TsQueryOperand(key, analyzer.mode()) + ":*");
    }
    for (std::string& key : analyzer.Keys(words.words[i], false))
      operands.push_back(TsQueryOperand(key, analyzer.mode()));
    if (operands.empty()) continue;
    if (!out.empty()) out += " & ";
    if (operands.size() > 1) out.push_back('(');
    for (size_t k = 0; k < operands.size(); ++k) {
      if (k > 0) out += " | ";
      out += operands[k];
    }
    if (operands.size() > 1) out.push_back(')');
  }
  return out;
}

void AppendHtmlEscaped(absl::string_view s, std::string* out) {
  size_t plain = 0;  // start of the run not yet appended
  for (size_t i = 0; i < s.size(); ++i) {
    const char* entity = nullptr;
    switch (s[i]) {
      case '&':
        entity = "&amp;";
        break;
      case '<':
        entity = "&lt;";
        break;
      case '>':
        entity = "&gt;";
        break;
      case '"':
        entity = "&quot;";
        break;
      case '\'':
        entity = "&#39;";
        break;
      default:
        continue;
    }
    out->append(s.data() + plain, i - plain);
    out->append(entity);
    plain = i + 1;
  }
  out->append(s.data() + plain, s.size() - plain);
}

namespace {

// The keys of a query, to tell the words of a text that match it.
class QueryKeys {
 public:
  QueryKeys(const SearchWords& words, TextAnalyzer& analyzer) {
    for (size_t i = 0; i < words.words.size(); ++i) {
      if (words.last_is_prefix && i + 1 == words.words.size()) {
        for (std::string& key : analyzer.Keys(words.words[i], true))
          prefixes_.push_back(std::move(key));
      }
      for (std::string& key : analyzer.Keys(words.words[i], false))
        exact_.push_back(std::move(key));
    }
  }

  bool empty() const { return exact_.empty() && prefixes_.empty(); }

  bool Matches(const std::vector<std::string>& keys) const {
    for (const std::string& key : keys) {
      for (const std::string& q : exact_) {
        if (key == q) return true;
      }
      for (const std::string& q : prefixes_) {
        if (absl::string_view(key).substr(0, q.size()) == q) return true;
      }
    }
    return false;
  }

 private:
  std::vector<std::string> exact_;
  std::vector<std::string> prefixes_;
};

struct SnippetWord {
  size_t begin, end;  // byte offsets in the text
  bool match;
};

}  // namespace

std::string MarkedSnippet(absl::string_view text, const SearchWords& words,
                          TextAnalyzer& analyzer, int max_words) {
  max_words = std::max(1, max_words);
  QueryKeys query(words, analyzer);
  if (query.empty()) return "";
  // The words (those with keys, as Tokenize gives them) up to the first that
  // matches, then up to the end of the passage and one more, which tells
  // that the passage cuts the text; the words past it are not read.
  std::vector<SnippetWord> all;
  int first = -1;
  int64_t end = 0;  // exclusive end of the passage, once `first` is known
  ForEachWord(text, [&](size_t begin, size_t stop) {
    absl::string_view word = text.substr(begin, stop - begin);
    std::vector<std::string> keys = analyzer.Keys(word, /*prefix=*/false);
    if (keys.empty()) return true;  // not a word of the index
    bool shown = first < 0 || static_cast<int64_t>(all.size()) < end;
    all.push_back({begin, stop, shown && query.Matches(keys)});
    if (first < 0) {
      if (!all.back().match) return true;
      first = static_cast<int>(all.size()) - 1;
      end = int64_t{std::max(0, first - max_words / 3)} + max_words;
    }
    return static_cast<int64_t>(all.size()) <= end;
  });
  if (first < 0) return "";
  int n = static_cast<int>(all.size());
  int to = static_cast<int>(std::min<int64_t>(n, end));  // exclusive
  int from = std::max(0, std::min(first - max_words / 3, to - max_words));
  std::string out;
  if (from > 0) out += "…";
  // From the start of the text when nothing is cut before the passage.
  size_t pos = from == 0 ? 0 : all[from].begin;
  for (int k = from; k < to; ++k) {
    AppendHtmlEscaped(text.substr(pos, all[k].begin - pos), &out);
    absl::string_view word =
        text.substr(all[k].begin, all[k].end - all[k].begin);
    if (all[k].match) out += "<mark>";
    AppendHtmlEscaped(word, &out);
    if (all[k].match) out += "</mark>";
    pos = all[k].end;
  }
  if (to < n) {
    out += "…";
  } else {
    AppendHtmlEscaped(text.substr(pos), &out);
  }
  return out;
}

namespace {

// Whether ICU lists `region` (upper case) as an ISO 3166 country: not ZZ,
// XX or EU, whose names ICU makes up or gives as the code.
bool IsIsoCountry(const std::string& region) {
  for (const char* const* c = icu::Locale::getISOCountries(); *c != nullptr;
       ++c) {
    if (region == *c) return true;
  }
  return false;
}

// The name of `region` (an ISO 3166 code ICU lists) in `language`; empty
// when ICU has none (it then gives the code back).
std::string CountryName(const std::string& region, const char* language) {
  icu::UnicodeString name;
  icu::Locale("", region.c_str())
      .getDisplayCountry(icu::Locale(language), name);
  std::string out;
  name.toUTF8String(out);
  return out == region ? std::string() : out;
}

}  // namespace

std::string CountryNames(absl::string_view code) {
  absl::ConsumePrefix(&code, "states/");
  if (code.size() != 2 || !absl::ascii_isalpha(code[0]) ||
      !absl::ascii_isalpha(code[1])) {
    return "";
  }
  const std::string region = absl::AsciiStrToUpper(code);
  if (!IsIsoCountry(region)) return "";
  std::string out;
  for (const char* language : {"en", "ru"}) {
    std::string name = CountryName(region, language);
    if (name.empty()) continue;
    if (!out.empty()) out += '\n';
    out += name;
  }
  return out;
}

}  // namespace cstopa::common
