#include "services/common/api/auth.h"

#include <openssl/sha.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

constexpr absl::string_view kHashPrefix = "sha256:";
constexpr size_t kHashHexDigits = 64;
constexpr absl::string_view kLineFormat =
    "`sha256:<64 hex digits> <editor|admin> [label]`";

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Splits off the first blank-separated field of `s` (which has no leading
// blanks) and strips the blanks after it.
absl::string_view NextField(absl::string_view& s) {
  size_t end = 0;
  while (end < s.size() && !IsBlank(s[end])) ++end;
  absl::string_view field = s.substr(0, end);
  s.remove_prefix(end);
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  return field;
}

std::optional<Role> ParseRole(absl::string_view name) {
  if (name == "editor") return Role::kEditor;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

// `source` is "key file" or "key file <path>"; `path` is empty for Parse().
absl::Status ParseKeyFile(absl::string_view content, absl::string_view source,
                          absl::string_view path,
                          std::map<std::string, Principal>& out) {
  std::map<std::string, int> line_of_hash;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    auto error = [&](absl::string_view what) -> absl::Status {
      std::map<std::string, std::string> metadata = {
          {"line", absl::StrCat(line_number)}};
      if (!path.empty()) metadata["path"] = std::string(path);
      return ErrorWithInfo(
          absl::StatusCode::kInvalidArgument, "INVALID_KEY_FILE",
          absl::StrCat(source, " line ", line_number, ": ", what), metadata);
    };

    line = absl::StripAsciiWhitespace(line);  // also drops a CR of CRLF
    if (line.empty() || line.front() == '#') continue;

    absl::string_view rest = line;
    absl::string_view hash = NextField(rest);
    absl::string_view role_name = NextField(rest);
    absl::string_view label = rest;  // already stripped at both ends

    if (!absl::StartsWith(hash, kHashPrefix)) {
      return error(absl::StrCat(
          "expected ", kLineFormat,
          " (a key's hash, never the key itself; cstopa_keyhash prints the "
          "line to add)"));
    }
    absl::string_view hex = hash.substr(kHashPrefix.size());
    bool all_hex = hex.size() == kHashHexDigits;
    for (char c : hex) all_hex = all_hex && absl::ascii_isxdigit(c);
    if (!all_hex) {
      return error(absl::StrCat("the key hash must be ", kHashHexDigits,
                                " hex digits after `sha256:`"));
    }
    if (role_name.empty()) {
      return error(absl::StrCat("the role is missing; expected ", kLineFormat));
    }
    std::optional<Role> role = ParseRole(role_name);
    if (!role.has_value()) {
      return error("the role must be `editor` or `admin`");
    }

    std::string normalized =
        absl::StrCat(kHashPrefix, absl::AsciiStrToLower(hex));
    auto [it, inserted] = line_of_hash.emplace(normalized, line_number);
    if (!inserted) {
      return error(
          absl::StrCat("the same key is already on line ", it->second));
    }
    Principal principal;
    principal.role = *role;
    principal.label = label.empty()
                          ? normalized.substr(0, kHashPrefix.size() + 8)
                          : std::string(label);
    out.emplace(std::move(normalized), std::move(principal));
  }
  return absl::OkStatus();
}

absl::Status Unauthenticated(absl::string_view reason,
                             absl::string_view message, Role required) {
  return ErrorWithInfo(absl::StatusCode::kUnauthenticated, reason, message,
                       {{"required_role", std::string(RoleName(required))}});
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kEditor:
      return "editor";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::string HashApiKey(absl::string_view key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(),
         digest);
  return absl::StrCat(
      kHashPrefix, absl::BytesToHexString(absl::string_view(
                       reinterpret_cast<const char*>(digest), sizeof(digest))));
}

absl::StatusOr<ApiKeyStore> ApiKeyStore::Parse(absl::string_view content) {
  ApiKeyStore store;
  absl::Status status = ParseKeyFile(content, "key file", "", store.by_hash_);
  if (!status.ok()) return status;
  return store;
}

absl::StatusOr<ApiKeyStore> ApiKeyStore::LoadFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    return absl::ErrnoToStatus(error,
                               absl::StrCat("cannot open key file ", path));
  }
  std::string content;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    content.append(buffer, n);
  }
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return absl::ErrnoToStatus(error,
                               absl::StrCat("cannot read key file ", path));
  }

  ApiKeyStore store;
  absl::Status status = ParseKeyFile(content, absl::StrCat("key file ", path),
                                     path, store.by_hash_);
  if (!status.ok()) return status;
  return store;
}

std::optional<Principal> ApiKeyStore::Lookup(absl::string_view key) const {
  auto it = by_hash_.find(HashApiKey(key));
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Principal> Authorize(
    const ApiKeyStore& keys,
    const std::optional<absl::string_view>& authorization, Role required) {
  if (!authorization.has_value()) {
    return Unauthenticated(
        "MISSING_CREDENTIALS",
        absl::StrCat("this method needs an API key with the ",
                     RoleName(required),
                     " role: send the metadata `authorization: Bearer <api "
                     "key>`"),
        required);
  }

  // `Bearer <key>`: scheme, blanks, then one blank-free token.
  absl::string_view value = absl::StripAsciiWhitespace(*authorization);
  absl::string_view rest = value;
  absl::string_view scheme = NextField(rest);
  absl::string_view key = rest;
  bool well_formed = absl::EqualsIgnoreCase(scheme, "Bearer") && !key.empty();
  for (char c : key) well_formed = well_formed && !absl::ascii_isspace(c);
  if (!well_formed) {
    return Unauthenticated(
        "MALFORMED_CREDENTIALS",
        "the `authorization` metadata must have the form `Bearer <api key>`",
        required);
  }

  std::optional<Principal> principal = keys.Lookup(key);
  if (!principal.has_value()) {
    return Unauthenticated(
        "INVALID_API_KEY",
        "the API key is not valid (unknown or revoked); check the key or ask "
        "an administrator for a new one",
        required);
  }
  if (static_cast<int>(principal->role) < static_cast<int>(required)) {
    return ErrorWithInfo(
        absl::StatusCode::kPermissionDenied, "INSUFFICIENT_ROLE",
        absl::StrCat("this method needs the ", RoleName(required),
                     " role; the API key of `", principal->label, "` has the ",
                     RoleName(principal->role), " role"),
        {{"required_role", std::string(RoleName(required))},
         {"role", std::string(RoleName(principal->role))}});
  }
  return *std::move(principal);
}

}  // namespace cstopa::common
