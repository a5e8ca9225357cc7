// Turning a user's search text into words that are safe to search for.
//
// The text is never handed to a query language as it is: it is split into
// words (runs of letters and digits in any script; ASCII punctuation,
// quotes, operators, spaces and Unicode punctuation and symbols separate
// words), and each back end gets the words as data:
//   - SQLite FTS5: each word becomes a string literal ("word", with any "
//     doubled), joined by spaces, which FTS5 reads as "all of these words";
//     no FTS5 operator (AND, OR, NOT, NEAR, *, ^, :, parentheses) survives.
//   - PostgreSQL: each word is a bound parameter of plainto_tsquery.
//
//   auto words = ParseSearchQuery("\") OR 1=1 --");  // {"OR", "1", "1"}
//   std::string fts = Fts5Expression(*words);        // "\"OR\" \"1\" \"1\""
#ifndef CSTOPA_SERVICES_LEGISLATION_SEARCH_QUERY_H_
#define CSTOPA_SERVICES_LEGISLATION_SEARCH_QUERY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cstopa::legislation {

// Longer queries are rejected.
inline constexpr size_t kMaxSearchQueryBytes = 500;
// Queries with more words are rejected.
inline constexpr size_t kMaxSearchWords = 16;

// The words of `query`, in order (duplicates kept). INVALID_ARGUMENT with a
// field violation on `field` when the query is empty, longer than
// kMaxSearchQueryBytes, not UTF-8, has no word at all (e.g. "*"), or has
// more than kMaxSearchWords words.
absl::StatusOr<std::vector<std::string>> ParseSearchQuery(
    absl::string_view query, const std::string& field = "query");

// The FTS5 MATCH expression that requires every word: each a quoted string.
std::string Fts5Expression(const std::vector<std::string>& words);

// `text` with ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic capitals
// folded to lower case (what the search matches without regard to).
std::string FoldCase(absl::string_view text);

// A passage of `text` around the first of `words` it contains, at most
// `max_words` words long, with every occurrence wrapped in <mark></mark> and
// "…" where the passage cuts the text. Empty when none occurs. Words are
// compared after FoldCase, and also match forms of themselves as a stemmer
// would (a shared start of at least 4 letters, all but the last 2 of the
// shorter word: "terrorism" marks "terrorist", "закон" marks "закона").
// The passage is HTML: its text escaped (& < > " '), the <mark> tags its
// only markup, so a stored "<script>" reaches a browser as text.
std::string Snippet(absl::string_view text,
                    const std::vector<std::string>& words, int max_words = 24);

// The words of a search, folded once for Snippet over many texts (the
// snippets of a page of results):
//
//   SnippetWords w(query.words);
//   for (...) s = Snippet(text, w);
class SnippetWords {
 public:
  explicit SnippetWords(const std::vector<std::string>& words);

  // Whether `folded`, a word of a text after FoldCase made of `code_points`
  // code points, is one of the words or a form of one (as Snippet marks).
  bool Matches(absl::string_view folded, size_t code_points) const;

 private:
  struct Word {
    std::string folded;
    std::vector<size_t> starts;  // byte offset of each code point
  };
  std::vector<Word> words_;
};

// The same as Snippet above, with the words prepared. Reads the text only up
// to the end of the passage.
std::string Snippet(absl::string_view text, const SnippetWords& words,
                    int max_words = 24);

}  // namespace cstopa::legislation

#endif  // CSTOPA_SERVICES_LEGISLATION_SEARCH_QUERY_H_
