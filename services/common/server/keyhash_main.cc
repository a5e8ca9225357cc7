// cstopa_keyhash: makes API keys and the key-file lines that grant them.
//
//   $ cstopa_keyhash --role admin --label "ops team"
//   key: 9b1f0c...
//   sha256:5d41... admin ops team
//
// Give the key to its holder and add the second line to the server's key
// file (see services/common/api/auth.h). With KEY, only the line is printed.
#include <openssl/rand.h>

#include <cstdio>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/api/auth.h"

namespace {

constexpr int kExitUsage = 2;
constexpr size_t kKeyBytes = 32;

constexpr char kUsage[] =
    "usage: cstopa_keyhash [--role editor|admin] [--label LABEL] [KEY]\n"
    "\n"
    "Prints the API key file line for KEY. Without KEY, generates a random\n"
    "key, prints it as `key: <key>`, then prints its line. The role defaults\n"
    "to editor. Generated keys are 32 random bytes in hex. Keys passed as KEY\n"
    "end up in shell history; prefer generating them. Put -- before a KEY\n"
    "that starts with -.\n";

int Usage(absl::string_view problem) {
  std::fprintf(stderr, "cstopa_keyhash: %.*s\n\n%s",
               static_cast<int>(problem.size()), problem.data(), kUsage);
  return kExitUsage;
}

// Printable ASCII without spaces: what fits in `authorization: Bearer <key>`.
bool IsValidKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

// Labels share a line with the hash, so no line breaks or other controls.
bool IsValidLabel(absl::string_view label) {
  for (char c : label) {
    if (static_cast<unsigned char>(c) < ' ' || c == '\x7f') return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string role = "editor";
  std::string label;
  std::string key;
  bool have_key = false;

  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    auto value_of = [&](absl::string_view flag, std::string& out) -> int {
      // "--flag value" or "--flag=value"; returns 1 if `arg` is this flag,
      // 0 if not, -1 if its value is missing.
      if (arg == flag) {
        if (i + 1 >= argc) return -1;
        out = argv[++i];
        return 1;
      }
      if (absl::StartsWith(arg, absl::StrCat(flag, "="))) {
        out = std::string(arg.substr(flag.size() + 1));
        return 1;
      }
      return 0;
    };

    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    int matched = value_of("--role", role);
    if (matched == 0) matched = value_of("--label", label);
    if (matched < 0) return Usage(absl::StrCat(arg, " needs a value"));
    if (matched > 0) continue;
    if (arg == "--") {
      if (i + 2 != argc) return Usage("expected one KEY after --");
      key = argv[++i];
      have_key = true;
      continue;
    }
    if (absl::StartsWith(arg, "-") && arg.size() > 1) {
      return Usage(absl::StrCat("unknown option ", arg));
    }
    if (have_key) return Usage("more than one KEY");
    key = std::string(arg);
    have_key = true;
  }

  if (role != "editor" && role != "admin") {
    return Usage("--role must be editor or admin");
  }
  if (!IsValidLabel(label)) {
    return Usage("--label must not contain line breaks or control characters");
  }
  if (have_key && !IsValidKey(key)) {
    return Usage("KEY must be non-empty printable ASCII without spaces");
  }

  if (!have_key) {
    unsigned char bytes[kKeyBytes];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      std::fputs("cstopa_keyhash: cannot get random bytes\n", stderr);
      return 1;
    }
    // Hex: safe in shells, URLs and metadata, and selectable with a click.
    key = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
    std::printf("key: %s\n", key.c_str());
  }

  std::string line = absl::StrCat(cstopa::common::HashApiKey(key), " ", role);
  // The key file trims labels, so trim here too to print what will be read.
  absl::string_view trimmed = label;
  while (!trimmed.empty() && (trimmed.front() == ' ')) trimmed.remove_prefix(1);
  while (!trimmed.empty() && (trimmed.back() == ' ')) trimmed.remove_suffix(1);
  if (!trimmed.empty()) absl::StrAppend(&line, " ", trimmed);
  std::printf("%s\n", line.c_str());
  return 0;
}
