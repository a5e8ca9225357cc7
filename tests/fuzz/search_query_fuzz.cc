// libFuzzer target for the search-text parsers: any input goes through both
//   - the legislation service's ParseSearchQuery (the documents search), and
//   - common::ParseSearchWords (search_text.h: the whole-record search),
// and each must either refuse it with INVALID_ARGUMENT or make words whose
// FTS5 expression SQLite accepts as plain words. Each expression is run
// against a real FTS5 table (the new one tokenized by cstopa_translit): it
// must never be a syntax error, and a row that holds none of the words must
// never match (no operator survives, nothing "matches all"). For the new
// words also: the PostgreSQL tsquery text holds only what TsQueryText
// promises in kTransliterate mode, and the marked snippet of the input is
// HTML whose only markup is balanced <mark> tags.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "services/common/store/fts5_tokenizer.h"
#include "services/common/text/search_text.h"
#include "services/legislation/search_query.h"

namespace {

// An in-memory FTS5 table with a row no query word can match (words of the
// parsers are at least one letter or digit; this row has none).
sqlite3* OpenDb(bool cstopa_tokenizers) {
  sqlite3* d = nullptr;
  if (sqlite3_open(":memory:", &d) != SQLITE_OK) std::abort();
  if (cstopa_tokenizers && !cstopa::common::RegisterFts5Tokenizers(d).ok())
    std::abort();
  const char* sql = cstopa_tokenizers
                        ? "CREATE VIRTUAL TABLE t USING fts5(body, tokenize = "
                          "'cstopa_translit');"
                          "INSERT INTO t(body) VALUES ('.');"
                        : "CREATE VIRTUAL TABLE t USING fts5(body, tokenize = "
                          "'unicode61 remove_diacritics 2');"
                          "INSERT INTO t(body) VALUES ('.');";
  if (sqlite3_exec(d, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
    std::abort();
  return d;
}

sqlite3* LegislationDb() {
  static sqlite3* db = OpenDb(/*cstopa_tokenizers=*/false);
  return db;
}

sqlite3* TranslitDb() {
  static sqlite3* db = OpenDb(/*cstopa_tokenizers=*/true);
  return db;
}

cstopa::common::TextAnalyzer& Analyzer() {
  static cstopa::common::TextAnalyzer* analyzer = [] {
    auto a = cstopa::common::TextAnalyzer::Create(
        cstopa::common::TextMode::kTransliterate);
    if (!a.ok()) std::abort();
    return a->release();
  }();
  return *analyzer;
}

// Runs `expr` as `MATCH ?` on `db`'s table: aborts unless SQLite accepts it
// and it matches no row (the table's only row has no word).
void ExpectMatchesNothing(sqlite3* db, const std::string& expr) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t WHERE t MATCH ?", -1,
                         &stmt, nullptr) != SQLITE_OK)
    std::abort();
  sqlite3_bind_text(stmt, 1, expr.data(), static_cast<int>(expr.size()),
                    SQLITE_TRANSIENT);
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) std::abort();  // a syntax error in the expression
  if (sqlite3_column_int(stmt, 0) != 0) std::abort();  // matched everything
  sqlite3_finalize(stmt);
}

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Whether `s` is TsQueryText's kTransliterate form: terms joined by " & ",
// a term being one operand or "(" operands joined by " | " ")", an operand
// a key of [a-z0-9] followed by ":*" only in the prefix word's term (which
// also holds its whole keys). Only the last term may be a prefix one.
bool IsTsQueryText(absl::string_view s, bool last_is_prefix) {
  size_t i = 0;
  auto operand = [&](bool* prefix) {
    const size_t start = i;
    while (i < s.size() && IsKeyChar(s[i])) ++i;
    if (i == start) return false;
    *prefix = s.substr(i, 2) == ":*";
    if (*prefix) i += 2;
    return true;
  };
  bool first_term = true;
  while (true) {
    if (!first_term) {
      if (s.substr(i, 3) != " & ") return false;
      i += 3;
    }
    first_term = false;
    bool prefix = false;
    if (i < s.size() && s[i] == '(') {
      ++i;
      if (!operand(&prefix)) return false;
      int operands = 1;
      while (s.substr(i, 3) == " | ") {
        i += 3;
        bool p = false;
        if (!operand(&p)) return false;
        prefix = prefix || p;  // the prefix word's term: prefix or whole
        ++operands;
      }
      if (operands < 2 || i >= s.size() || s[i] != ')') return false;
      ++i;
    } else if (!operand(&prefix)) {
      return false;
    }
    if (i == s.size()) return !prefix || last_is_prefix;
    if (prefix) return false;  // a prefix term before the last
  }
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated
    for (size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// Aborts unless `snippet` is HTML whose only markup is <mark></mark> pairs,
// never nested, each closed.
void ExpectMarkedHtml(absl::string_view snippet) {
  bool open = false;
  size_t i = 0;
  while (i < snippet.size()) {
    if (snippet.substr(i, 6) == "<mark>") {
      if (open) std::abort();  // nested
      open = true;
      i += 6;
    } else if (snippet.substr(i, 7) == "</mark>") {
      if (!open) std::abort();  // closes nothing
      open = false;
      i += 7;
    } else if (snippet[i] == '<' || snippet[i] == '>') {
      std::abort();  // markup other than the marks
    } else {
      ++i;
    }
  }
  if (open) std::abort();
  const std::string text =
      absl::StrReplaceAll(snippet, {{"<mark>", ""}, {"</mark>", ""}});
  if (text.find_first_of("<>") != std::string::npos) std::abort();
}

void LegislationParser(absl::string_view query) {
  auto words = cstopa::legislation::ParseSearchQuery(query);
  if (!words.ok()) {
    if (words.status().code() != absl::StatusCode::kInvalidArgument)
      std::abort();
    return;
  }
  if (words->empty() || words->size() > cstopa::legislation::kMaxSearchWords)
    std::abort();
  ExpectMatchesNothing(LegislationDb(),
                       cstopa::legislation::Fts5Expression(*words));
}

void SearchWordsParser(absl::string_view query) {
  namespace common = cstopa::common;
  auto words = common::ParseSearchWords(query);
  if (!words.ok()) {
    if (words.status().code() != absl::StatusCode::kInvalidArgument)
      std::abort();
    return;
  }
  if (words->words.empty() || words->words.size() > common::kMaxQueryWords)
    std::abort();
  ExpectMatchesNothing(TranslitDb(), common::Fts5MatchExpression(*words));

  common::TextAnalyzer& analyzer = Analyzer();
  const std::string tsquery = common::TsQueryText(*words, analyzer);
  // Empty when no word has a key (e.g. letters ICU cannot write in ASCII).
  if (!tsquery.empty() && !IsTsQueryText(tsquery, words->last_is_prefix))
    std::abort();

  // The query's own text holds every word: its first word with a key is
  // marked, so the snippet is empty only when no word has a key.
  const std::string snippet = common::MarkedSnippet(query, *words, analyzer);
  ExpectMarkedHtml(snippet);
  if (tsquery.empty() != snippet.empty()) std::abort();
  if (!snippet.empty() && snippet.find("<mark>") == std::string::npos)
    std::abort();
  // The query is UTF-8 (else refused) and the passage is cut between code
  // points.
  if (!IsValidUtf8(snippet)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view query(reinterpret_cast<const char*>(data), size);
  LegislationParser(query);
  SearchWordsParser(query);
  return 0;
}
