#include "services/common/store/internal/pg_url.h"

#include <libpq-fe.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/base/errors.h"

namespace cstopa::common::pg {
namespace {

constexpr size_t kMaxSchemaNameLength = 63;  // NAMEDATALEN - 1

// `value` as an integer in [1, max], or INVALID_ARGUMENT naming `key`.
absl::StatusOr<int> BoundedInt(absl::string_view key, absl::string_view value,
                               int max) {
  int n = 0;
  if (!absl::SimpleAtoi(value, &n) || n < 1 || n > max) {
    return InvalidArgument(
        "store", absl::StrCat(key, " must be an integer in 1..", max, ", not `",
                              value, "`"));
  }
  return n;
}

}  // namespace

absl::Status CheckServiceName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxSchemaNameLength &&
            (absl::ascii_islower(name[0]) || name[0] == '_') &&
            !absl::StartsWith(name, "pg_");
  for (char ch : name) {
    ok =
        ok && (absl::ascii_islower(ch) || absl::ascii_isdigit(ch) || ch == '_');
  }
  if (ok) return absl::OkStatus();
  return InvalidArgument(
      "service",
      absl::StrCat("`", name,
                   "` is not a PostgreSQL schema name for a service: use "
                   "[a-z_][a-z0-9_]*, at most 63 characters, not starting "
                   "with pg_"));
}

absl::StatusOr<Options> ParseUrl(const std::string& url,
                                 const std::string& schema) {
  if (!absl::StartsWith(url, "postgresql://") &&
      !absl::StartsWith(url, "postgres://")) {
    return InvalidArgument("store",
                           "a PostgreSQL URL starts with postgresql://");
  }
  Options opts;
  opts.schema = schema;

  // Our parameters out of the query string; the others stay for libpq.
  const size_t q = url.find('?');
  std::string conninfo = url.substr(0, q);
  std::vector<std::string> kept;
  if (q != std::string::npos) {
    for (absl::string_view kv : absl::StrSplit(
             absl::string_view(url).substr(q + 1), '&', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> p =
          absl::StrSplit(kv, absl::MaxSplits('=', 1));
      if (p.first == "pool_size") {
        auto n = BoundedInt(p.first, p.second, kMaxPoolSize);
        if (!n.ok()) return n.status();
        opts.pool_size = *n;
      } else if (p.first == "pool_timeout_ms") {
        auto n = BoundedInt(p.first, p.second, kMaxPoolTimeoutMs);
        if (!n.ok()) return n.status();
        opts.pool_timeout = absl::Milliseconds(*n);
      } else {
        kept.emplace_back(kv);
      }
    }
  }
  if (!kept.empty()) absl::StrAppend(&conninfo, "?", absl::StrJoin(kept, "&"));

  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &err);
  if (parsed == nullptr) {
    std::string msg = err != nullptr ? err : "malformed URL";
    PQfreemem(err);
    absl::StripAsciiWhitespace(&msg);
    return InvalidArgument("store", absl::StrCat("bad PostgreSQL URL: ", msg));
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    absl::string_view k = o->keyword;
    if (k == "user") user = o->val;
    if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") dbname = o->val;
  }
  PQconninfoFree(parsed);
  opts.display =
      absl::StrCat(user.empty() ? "" : absl::StrCat(user, "@"),
                   host.empty() ? "localhost" : host,
                   port.empty() ? "" : absl::StrCat(":", port), "/", dbname);

  // Defaults first: the URL, expanded after them, overrides any of them.
  // connect_timeout and the keepalives bound every wait on a dead server;
  // tcp_user_timeout bounds the wait for a peer that vanished while data
  // was in flight (keepalives cover idle connections).
  opts.params = {{"connect_timeout", "5"},
                 {"keepalives", "1"},
                 {"keepalives_idle", "30"},
                 {"keepalives_interval", "10"},
                 {"keepalives_count", "3"},
                 {"tcp_user_timeout", "30000"},
                 {"client_encoding", "UTF8"},
                 {"fallback_application_name", absl::StrCat("cstopa_", schema)},
                 {"dbname", std::move(conninfo)}};
  return opts;
}

}  // namespace cstopa::common::pg
