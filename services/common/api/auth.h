// Bearer API keys and the roles they grant.
//
// Writes need an API key sent as gRPC metadata `authorization: Bearer <key>`.
// The server reads a key file that lists, one per line, the SHA-256 of each
// key with the role it grants, so the file itself holds no secret. Keys are
// made with the `cstopa_keyhash` tool, which prints the line to add.
//
//   # keys.txt: `sha256:<64 hex digits of SHA-256(key)> <role> [label]`
//   sha256:9f86d081884c7d65...2cd15d6c15b0f00a08 admin ops team
//
//   auto keys = ApiKeyStore::LoadFile("/etc/cstopa/keys.txt");
//   if (!keys.ok()) return keys.status();
//   ...
//   // In a mutating handler:
//   auto who = Authorize(*keys, authorization_metadata, Role::kEditor);
//   if (!who.ok()) return who.status();  // UNAUTHENTICATED / PERMISSION_DENIED
//   // who->label names the caller in logs and audit records.
#ifndef CSTOPA_SERVICES_COMMON_API_AUTH_H_
#define CSTOPA_SERVICES_COMMON_API_AUTH_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cstopa::common {

// What a key may do. Ordered: a higher role implies every lower one (admin
// implies editor).
enum class Role { kNone = 0, kEditor = 1, kAdmin = 2 };

// "none", "editor" or "admin" (the key file's spelling).
absl::string_view RoleName(Role role);

// Who made a request: the key's label from the key file, and its role.
struct Principal {
  std::string label;
  Role role = Role::kNone;
};

// "sha256:" followed by the lowercase hex SHA-256 of `key`: the form in
// which the key file stores keys.
std::string HashApiKey(absl::string_view key);

// The API keys the server accepts, by hash.
//
// Key file format, one key per line:
//
//   sha256:<64 hex digits> <role> [label...]
//
// The role is `editor` or `admin`; the label (the rest of the line, which
// may contain spaces) names the key's holder in logs and audit records and
// defaults to "sha256:" and the first 8 hex digits of the hash. Fields are
// separated by spaces or tabs. Blank lines and lines whose first non-blank
// character is '#' are ignored. Hex digits may be in either case; a key may
// appear only once.
//
// Immutable once built, so safe to share between threads.
class ApiKeyStore {
 public:
  // No keys: every request that needs a key is refused.
  ApiKeyStore() = default;

  // The keys in key file `content`. Any malformed line makes the whole file
  // INVALID_ARGUMENT (reason "INVALID_KEY_FILE"); the message names the line
  // number and what is wrong, never the line's hash.
  static absl::StatusOr<ApiKeyStore> Parse(absl::string_view content);

  // Parse() of the file at `path`. NOT_FOUND if there is no such file, the
  // errno-derived code if it cannot be read, INVALID_ARGUMENT if it is
  // malformed; every message includes `path`.
  static absl::StatusOr<ApiKeyStore> LoadFile(const std::string& path);

  // The holder of `key` (the raw key, not its hash), if the key is known.
  std::optional<Principal> Lookup(absl::string_view key) const;

  // The number of keys.
  size_t size() const { return by_hash_.size(); }

 private:
  std::map<std::string, Principal> by_hash_;  // HashApiKey() -> holder
};

// Checks the `authorization` metadata of a request against `keys` and the
// `required` role, and returns the caller.
//
// `authorization` is the metadata value, or nullopt if the request has none.
// The value must be `Bearer <key>` (the scheme is case-insensitive; spaces
// around the key are ignored). Failures carry an ErrorInfo reason:
//   nullopt                     UNAUTHENTICATED    MISSING_CREDENTIALS
//   not `Bearer <key>`          UNAUTHENTICATED    MALFORMED_CREDENTIALS
//   key not in `keys`           UNAUTHENTICATED    INVALID_API_KEY
//   role lower than `required`  PERMISSION_DENIED  INSUFFICIENT_ROLE
// A valid key is always required, even when `required` is Role::kNone.
// Error messages never contain the key.
absl::StatusOr<Principal> Authorize(
    const ApiKeyStore& keys,
    const std::optional<absl::string_view>& authorization, Role required);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_API_AUTH_H_
