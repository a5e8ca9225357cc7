// The settings of a PostgreSQL store, read from its URL (see postgres.h for
// the URL's form and its parameters), and the check of a service's schema
// name. Internal to the PostgreSQL back end; tested in pg_url_test.cc.
#ifndef CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_URL_H_
#define CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_URL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cstopa::common::pg {

inline constexpr int kDefaultPoolSize = 8;
inline constexpr int kMaxPoolSize = 64;
inline constexpr int kDefaultPoolTimeoutMs = 5000;
inline constexpr int kMaxPoolTimeoutMs = 600000;

struct Options {
  // libpq keywords and values for PQconnectdbParams (with expand_dbname), in
  // order: our defaults first, then "dbname" holding the URL without our
  // own parameters, which libpq expands over the defaults.
  std::vector<std::pair<std::string, std::string>> params;
  int pool_size = kDefaultPoolSize;
  absl::Duration pool_timeout = absl::Milliseconds(kDefaultPoolTimeoutMs);
  // user@host:port/dbname, for messages (never the password).
  std::string display;
  // The service's schema (its tables' home and every session's search_path).
  std::string schema;
};

// OK when `name` can be a service's schema: [a-z_][a-z0-9_]*, at most 63
// characters (PostgreSQL's NAMEDATALEN - 1), not starting with pg_ (reserved
// for the system). INVALID_ARGUMENT saying so otherwise.
absl::Status CheckServiceName(absl::string_view name);

// The settings of `url` (postgresql:// or postgres://) for the service whose
// schema is `schema`. pool_size and pool_timeout_ms are taken out; the rest
// is checked by libpq now, so that a typo fails at start with
// INVALID_ARGUMENT instead of UNAVAILABLE at every connection.
absl::StatusOr<Options> ParseUrl(const std::string& url,
                                 const std::string& schema);

}  // namespace cstopa::common::pg

#endif  // CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_URL_H_
