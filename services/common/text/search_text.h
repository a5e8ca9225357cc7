// Words for full-text search, the same on every store: how a text and a
// query are cut into words and what key each word is found by.
//
// A word is a run of letters, digits and combining marks in any script
// (anything else, invalid UTF-8 included, separates words). Its keys:
//   - its case-folded form (ICU full case folding), and
//   - its stem: Snowball's Russian stemmer for a word with Cyrillic letters,
//     the English one for a word with Latin letters (Debian's libstemmer),
//     other words as they are;
// and in TextMode::kTransliterate both keys are then written in Latin
// letters by ICU ("Any-Latin; Latin-ASCII"), keeping only [a-z0-9], so that
// "Рогалев" and "Rogalev", "Кыргызстан" and "Kyrgyzstan" share keys. A word
// of a text is indexed under both keys (the same position); a word of a
// query matches a word of a text when any of their keys are equal. The last
// word of a type-ahead query is a prefix: its folded (and transliterated)
// form matches every indexed key that starts with it ("Roga" finds
// Rogalev), and, in case the word was typed whole, its keys match as any
// other word's do ("терроризма" with no space after it still finds
// "терроризму" by its stem).
//
// SQLite's FTS5 gets these keys from the tokenizer in store/fts5_tokenizer.h;
// PostgreSQL stores them (NormalizedText) in a tsvector of the 'simple'
// configuration. Both therefore find the same rows.
//
//   auto analyzer = TextAnalyzer::Create(TextMode::kTransliterate);
//   (*analyzer)->Tokenize("Виктор Рогалев", [](const TextToken& t) {...});
//   // t.keys: {"viktor"}, then {"rogalev", "rogal"} (folded, then stem)
//
// A TextAnalyzer is not thread-safe (ICU transliterators and Snowball
// stemmers keep state): one per thread or per connection, or borrowed from
// a TextAnalyzerPool.
#ifndef CSTOPA_SERVICES_COMMON_TEXT_SEARCH_TEXT_H_
#define CSTOPA_SERVICES_COMMON_TEXT_SEARCH_TEXT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace cstopa::common {

enum class TextMode {
  // Keys in the word's own script: folded and stemmed (what PostgreSQL's
  // 'russian' || 'simple' configurations give).
  kStem,
  // The same keys written in Latin letters: names match across scripts.
  kTransliterate,
};

// Longer words are cut to this many bytes before their keys are made.
inline constexpr size_t kMaxWordBytes = 64;

// One word of a text.
struct TextToken {
  size_t begin = 0;  // byte offsets of the word in the text
  size_t end = 0;
  // The folded key first, then the stem when it differs; never empty (a
  // word whose keys would all be empty, e.g. one of combining marks only,
  // is not a token).
  std::vector<std::string> keys;
};

class TextAnalyzer {
 public:
  // INTERNAL if ICU's transliterator or a Snowball stemmer is missing.
  static absl::StatusOr<std::unique_ptr<TextAnalyzer>> Create(TextMode mode);
  virtual ~TextAnalyzer() = default;

  TextMode mode() const { return mode_; }

  // Calls `emit` for each word of `text`, in order.
  virtual void Tokenize(absl::string_view text,
                        absl::FunctionRef<void(const TextToken&)> emit) = 0;

  // The keys of one word (as Tokenize gives them); with `prefix`, only its
  // folded form (a prefix: the word may have been typed in part, and a stem
  // would cut it). Empty when `word` has no key.
  virtual std::vector<std::string> Keys(absl::string_view word,
                                        bool prefix) = 0;

  // Every key of every word of `text`, space-separated, in order: what
  // PostgreSQL indexes with to_tsvector('simple', ...).
  std::string NormalizedText(absl::string_view text);

 protected:
  explicit TextAnalyzer(TextMode mode) : mode_(mode) {}

 private:
  TextMode mode_;
};

// Analyzers shared by threads: Borrow() hands one out (making a new one
// when all are lent) and takes it back when the handle goes.
//
//   TextAnalyzerPool pool(TextMode::kTransliterate);
//   auto a = pool.Borrow();
//   if (!a.ok()) return a.status();
//   (*a)->Tokenize(text, ...);
class TextAnalyzerPool {
 public:
  explicit TextAnalyzerPool(TextMode mode) : mode_(mode) {}

  class Handle {
   public:
    Handle(Handle&& other) noexcept
        : pool_(other.pool_), analyzer_(std::move(other.analyzer_)) {}
    Handle& operator=(Handle&&) = delete;
    ~Handle();
    TextAnalyzer* operator->() const { return analyzer_.get(); }
    TextAnalyzer& operator*() const { return *analyzer_; }

   private:
    friend class TextAnalyzerPool;
    Handle(TextAnalyzerPool* pool, std::unique_ptr<TextAnalyzer> a)
        : pool_(pool), analyzer_(std::move(a)) {}
    TextAnalyzerPool* pool_;
    std::unique_ptr<TextAnalyzer> analyzer_;
  };

  absl::StatusOr<Handle> Borrow();
  TextMode mode() const { return mode_; }

 private:
  const TextMode mode_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<TextAnalyzer>> idle_ ABSL_GUARDED_BY(mu_);
};

// A search as typed, split into words (as TextAnalyzer splits a text; no
// operator or quote of any query language survives).
struct SearchWords {
  std::vector<std::string> words;
  // Whether the last word is a prefix: the query did not end with a
  // separator (someone still typing "Roga" means Rogalev).
  bool last_is_prefix = false;
};

// Longer queries are refused.
inline constexpr size_t kMaxQueryBytes = 500;
// Queries with more words are refused.
inline constexpr size_t kMaxQueryWords = 16;

// The words of `query`. INVALID_ARGUMENT with a field violation on `field`
// (reason INVALID_SEARCH_QUERY) when the query is empty, longer than
// kMaxQueryBytes, not UTF-8, has no word at all (e.g. "*"), or has more
// than kMaxQueryWords words.
absl::StatusOr<SearchWords> ParseSearchWords(absl::string_view query,
                                             absl::string_view field = "query");

// The FTS5 MATCH expression requiring every word (each a quoted string, any
// " doubled, joined by AND; a last word that is a prefix as ("w"* OR "w"):
// a prefix of a word, or the word in any form). The tokenizer of
// store/fts5_tokenizer.h turns each into its keys.
std::string Fts5MatchExpression(const SearchWords& words);

// The PostgreSQL tsquery text (for to_tsquery('simple', $1)) requiring every
// word: each word's keys OR'ed, the words AND'ed; a prefix word's folded key
// with :* OR'ed with its keys. Keys are [a-z0-9] in kTransliterate mode; in
// kStem mode each key is quoted as a tsquery lexeme. Empty when no word has a
// key.
std::string TsQueryText(const SearchWords& words, TextAnalyzer& analyzer);

// Appends `s` to `out` as HTML text (& < > " ' as entities): a snippet's
// only markup is its <mark> tags, whatever the stored text holds.
void AppendHtmlEscaped(absl::string_view s, std::string* out);

// A passage of `text` around the first word that matches the query, at most
// `max_words` words long, with each matching word wrapped in <mark></mark>
// and "…" where the passage cuts the text; empty when no word matches. The
// passage is HTML: its text escaped (& < > " '), the marks its only markup.
// A word matches as in the index: a shared key, or for a prefix word a key
// that starts with it.
std::string MarkedSnippet(absl::string_view text, const SearchWords& words,
                          TextAnalyzer& analyzer, int max_words = 24);

// A state's names for the search index, so that "Kazakhstan" and
// "Казахстан" find a record that names the state only by `states/kz` or
// region code KZ: for a state resource name (`states/{state}`, its id the
// state's ISO 3166-1 alpha-2 code) or such a code in either case, the
// country's name in English, then in Russian, as ICU's locale data gives
// them, joined by "\n". Empty for anything else: not two letters, or a code
// ICU does not list as an ISO 3166 country (ZZ, XX, EU).
//
//   CountryNames("states/kz");  // "Kazakhstan\nКазахстан"
//   CountryNames("KG");         // "Kyrgyzstan\nКиргизия"
//   CountryNames("states/zz");  // ""
std::string CountryNames(absl::string_view code);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_TEXT_SEARCH_TEXT_H_
