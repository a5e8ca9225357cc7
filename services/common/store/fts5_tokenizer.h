// SQLite FTS5 tokenizers that cut text into words and keys as
// text/search_text.h says, so that an FTS5 table finds word forms
// ("терроризма" finds "терроризму") and, transliterated, names across
// scripts ("Rogalev" finds "Рогалев"):
//
//   cstopa_stem      TextMode::kStem: folded and stemmed keys
//   cstopa_translit  TextMode::kTransliterate: the same keys in Latin letters
//
// Each word is indexed under its first key and, at the same position
// (FTS5_TOKEN_COLOCATED), under the others; a query word is tokenized the
// same way, so it matches when any key is shared. The last word of a prefix
// query ("Roga"*) gives only its folded form (TextAnalyzer::Keys with
// prefix). The SQLite store registers both on every connection it opens:
//
//   CREATE VIRTUAL TABLE people_fts USING fts5(name,
//       tokenize='cstopa_translit');
//   SELECT rowid FROM people_fts WHERE people_fts MATCH '"Roga"*';
//
// A table using them cannot be read or written by a connection without them
// (e.g. the sqlite3 shell): "no such tokenizer".
#ifndef CSTOPA_SERVICES_COMMON_STORE_FTS5_TOKENIZER_H_
#define CSTOPA_SERVICES_COMMON_STORE_FTS5_TOKENIZER_H_

#include <sqlite3.h>

#include "absl/status/status.h"

namespace cstopa::common {

// Registers cstopa_stem and cstopa_translit on `db`. INTERNAL when the
// connection has no FTS5 or a tokenizer could not be registered.
absl::Status RegisterFts5Tokenizers(sqlite3* db);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_STORE_FTS5_TOKENIZER_H_
