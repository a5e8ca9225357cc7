#include "services/common/store/fts5_tokenizer.h"

#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/text/search_text.h"

namespace cstopa::common {
namespace {

// What xCreate is given for each tokenizer: the mode of its analyzers.
constexpr TextMode kStemMode = TextMode::kStem;
constexpr TextMode kTransliterateMode = TextMode::kTransliterate;

// One tokenizer instance (one per FTS5 table and connection): its own
// analyzer, used only by the connection's thread at a time.
struct Tokenizer {
  std::unique_ptr<TextAnalyzer> analyzer;
};

int Create(void* context, const char** /*args*/, int /*arg_count*/,
           Fts5Tokenizer** out) {
  *out = nullptr;
  auto analyzer = TextAnalyzer::Create(*static_cast<const TextMode*>(context));
  if (!analyzer.ok()) return SQLITE_ERROR;
  auto* tokenizer = new (std::nothrow) Tokenizer{*std::move(analyzer)};
  if (tokenizer == nullptr) return SQLITE_NOMEM;
  *out = reinterpret_cast<Fts5Tokenizer*>(tokenizer);
  return SQLITE_OK;
}

void Delete(Fts5Tokenizer* tokenizer) {
  delete reinterpret_cast<Tokenizer*>(tokenizer);
}

int Tokenize(Fts5Tokenizer* fts5_tokenizer, void* context, int flags,
             const char* text, int text_size,
             int (*token)(void* context, int flags, const char* key,
                          int key_size, int begin, int end)) {
  auto* tokenizer = reinterpret_cast<Tokenizer*>(fts5_tokenizer);
  absl::string_view input(text, text_size > 0 ? text_size : 0);
  // Read in full first: the last word of a prefix query has other keys.
  std::vector<TextToken> tokens;
  tokenizer->analyzer->Tokenize(
      input, [&](const TextToken& t) { tokens.push_back(t); });
  if ((flags & FTS5_TOKENIZE_PREFIX) != 0 && !tokens.empty()) {
    TextToken& last = tokens.back();
    last.keys = tokenizer->analyzer->Keys(
        input.substr(last.begin, last.end - last.begin), /*prefix=*/true);
  }
  for (const TextToken& t : tokens) {
    for (size_t k = 0; k < t.keys.size(); ++k) {
      const std::string& key = t.keys[k];
      int rc = token(context, k == 0 ? 0 : FTS5_TOKEN_COLOCATED, key.data(),
                     static_cast<int>(key.size()), static_cast<int>(t.begin),
                     static_cast<int>(t.end));
      if (rc != SQLITE_OK) return rc;
    }
  }
  return SQLITE_OK;
}

// The connection's fts5_api (SQLite's documented way to get it).
fts5_api* Fts5Api(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return nullptr;
  }
  sqlite3_bind_pointer(stmt, 1, &api, "fts5_api_ptr", nullptr);
  sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return api;
}

}  // namespace

absl::Status RegisterFts5Tokenizers(sqlite3* db) {
  fts5_api* api = Fts5Api(db);
  if (api == nullptr) {
    return absl::InternalError(
        absl::StrCat("SQLite has no FTS5: ", sqlite3_errmsg(db)));
  }
  fts5_tokenizer methods = {Create, Delete, Tokenize};
  for (const auto& [name, mode] :
       {std::pair<const char*, const TextMode*>{"cstopa_stem", &kStemMode},
        {"cstopa_translit", &kTransliterateMode}}) {
    int rc = api->xCreateTokenizer(api, name, const_cast<TextMode*>(mode),
                                   &methods, nullptr);
    if (rc != SQLITE_OK) {
      return absl::InternalError(absl::StrCat("registering the FTS5 tokenizer ",
                                              name, ": ", sqlite3_errstr(rc)));
    }
  }
  return absl::OkStatus();
}

}  // namespace cstopa::common
