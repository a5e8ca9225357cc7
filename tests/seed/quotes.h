// How the seed check (seed_check.cc) finds a record's quote in its source.
//
// Both texts are compared after NormalizeForQuotes: markup (<tags>, and
// Markdown's "**" and "__") removed and every run of white space (line
// breaks and no-break spaces included) read as one space. A
// quote of passages joined by " ... " (or "…") finds each in order.
//
//   std::string text = NormalizeForQuotes(ReadTheSeedFile());
//   std::string missing;
//   if (!QuoteOccurs(text, "Viktor Kogut ... Belarus", &missing))
//     std::cout << "not found: " << missing;
#ifndef CSTOPA_TESTS_SEED_QUOTES_H_
#define CSTOPA_TESTS_SEED_QUOTES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace cstopa::seed_check {

// `text` without <tags>, "**" or "__", its white space runs (no-break
// spaces too) as single spaces, trimmed.
std::string NormalizeForQuotes(absl::string_view text);

// Whether every passage of `quote` occurs in `normalized_source` (the
// output of NormalizeForQuotes), in order. On false, `missing` is the first
// passage not found (normalized). A quote with no passage is not found.
bool QuoteOccurs(absl::string_view normalized_source, absl::string_view quote,
                 std::string* missing);

}  // namespace cstopa::seed_check

#endif  // CSTOPA_TESTS_SEED_QUOTES_H_
