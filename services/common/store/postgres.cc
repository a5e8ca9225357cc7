#include "services/common/store/postgres.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

constexpr int kDefaultPoolSize = 8;
constexpr int kMaxPoolSize = 64;
constexpr int kDefaultPoolTimeoutMs = 5000;
constexpr int kMaxPoolTimeoutMs = 600000;
constexpr size_t kStatementCacheSize = 256;
constexpr size_t kMaxSchemaNameLength = 63;  // NAMEDATALEN - 1
// How long a cancelled statement may take to answer before its connection
// is closed.
constexpr absl::Duration kCancelGrace = absl::Seconds(5);

absl::Status DeadlinePassed() {
  return absl::DeadlineExceededError(
      "the call's deadline passed before the store finished");
}

// Type OIDs (src/include/catalog/pg_type.dat); stable across releases.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kCharOid = 18;
constexpr Oid kNameOid = 19;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kOidOid = 26;
constexpr Oid kJsonOid = 114;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kUnknownOid = 705;
constexpr Oid kBpcharOid = 1042;
constexpr Oid kVarcharOid = 1043;
constexpr Oid kJsonbOid = 3802;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// ---------------------------------------------------------------------------
// Errors.

absl::Status PgError(PGconn* conn, const PGresult* res,
                     absl::string_view what) {
  const char* state =
      res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res != nullptr
                            ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                            : nullptr;
  std::string msg;
  if (primary != nullptr) {
    msg = primary;
  } else if (res != nullptr && *PQresultErrorMessage(res) != '\0') {
    msg = PQresultErrorMessage(res);
  } else if (conn != nullptr) {
    msg = PQerrorMessage(conn);
  }
  absl::StripAsciiWhitespace(&msg);
  // libpq's own messages span lines ("server closed the connection
  // unexpectedly\n\tThis probably means ..."): keep one line.
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  std::replace(msg.begin(), msg.end(), '\t', ' ');
  if (msg.empty()) msg = "unknown error";
  std::string sqlstate = state != nullptr ? state : "";
  std::string text = absl::StrCat("postgresql ", what, ": ", msg);
  if (res != nullptr) {
    if (const char* c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME)) {
      absl::StrAppend(&text, " (constraint ", c, ")");
    }
  }
  if (!sqlstate.empty()) absl::StrAppend(&text, " [SQLSTATE ", sqlstate, "]");
  absl::StatusCode code = StatusCodeForSqlState(sqlstate);
  // A lost connection, whatever the message, is the server's unavailability.
  if (conn == nullptr || PQstatus(conn) == CONNECTION_BAD) {
    code = absl::StatusCode::kUnavailable;
  }
  return absl::Status(code, text);
}

// ---------------------------------------------------------------------------
// Result columns.

enum class ColumnKind {
  kInt8,
  kInt4,
  kInt2,
  kOid,
  kBool,
  kFloat8,
  kFloat4,
  kBytes,
  kJsonb
};

absl::StatusOr<std::vector<ColumnKind>> ColumnKinds(const PGresult* res) {
  int n = PQnfields(res);
  std::vector<ColumnKind> kinds;
  kinds.reserve(n);
  for (int i = 0; i < n; ++i) {
    Oid type = PQftype(res, i);
    switch (type) {
      case kInt8Oid:
        kinds.push_back(ColumnKind::kInt8);
        break;
      case kInt4Oid:
        kinds.push_back(ColumnKind::kInt4);
        break;
      case kInt2Oid:
        kinds.push_back(ColumnKind::kInt2);
        break;
      case kOidOid:
        kinds.push_back(ColumnKind::kOid);
        break;
      case kBoolOid:
        kinds.push_back(ColumnKind::kBool);
        break;
      case kFloat8Oid:
        kinds.push_back(ColumnKind::kFloat8);
        break;
      case kFloat4Oid:
        kinds.push_back(ColumnKind::kFloat4);
        break;
      case kTextOid:
      case kVarcharOid:
      case kBpcharOid:
      case kNameOid:
      case kCharOid:
      case kUnknownOid:
      case kByteaOid:
      case kJsonOid:
        kinds.push_back(ColumnKind::kBytes);
        break;
      case kJsonbOid:
        kinds.push_back(ColumnKind::kJsonb);
        break;
      default:
        return absl::InternalError(absl::StrCat(
            "postgresql: result column ", i + 1, " (", PQfname(res, i),
            ") has a type (OID ", type,
            ") the SQL layer does not read; cast it to bigint, double "
            "precision, text or bytea in the query"));
    }
  }
  return kinds;
}

uint64_t LoadBigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

int FixedLength(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::kInt8:
    case ColumnKind::kFloat8:
      return 8;
    case ColumnKind::kInt4:
    case ColumnKind::kOid:
    case ColumnKind::kFloat4:
      return 4;
    case ColumnKind::kInt2:
      return 2;
    case ColumnKind::kBool:
      return 1;
    default:
      return -1;
  }
}

bool IsNumeric(ColumnKind kind) {
  return kind != ColumnKind::kBytes && kind != ColumnKind::kJsonb;
}

// The value of a binary-format cell; `kind` is its column's.
SqlValue Decode(const PGresult* res, int row, int col, ColumnKind kind) {
  if (PQgetisnull(res, row, col)) return std::monostate{};
  const char* p = PQgetvalue(res, row, col);
  int len = PQgetlength(res, row, col);
  if (IsNumeric(kind) && len != FixedLength(kind)) return std::monostate{};
  switch (kind) {
    case ColumnKind::kInt8:
      return static_cast<int64_t>(LoadBigEndian(p, 8));
    case ColumnKind::kInt4:
      return int64_t{
          static_cast<int32_t>(static_cast<uint32_t>(LoadBigEndian(p, 4)))};
    case ColumnKind::kInt2:
      return int64_t{
          static_cast<int16_t>(static_cast<uint16_t>(LoadBigEndian(p, 2)))};
    case ColumnKind::kOid:
      return static_cast<int64_t>(LoadBigEndian(p, 4));
    case ColumnKind::kBool:
      return int64_t{p[0] != 0 ? 1 : 0};
    case ColumnKind::kFloat8: {
      uint64_t bits = LoadBigEndian(p, 8);
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return d;
    }
    case ColumnKind::kFloat4: {
      uint32_t bits = static_cast<uint32_t>(LoadBigEndian(p, 4));
      float f;
      std::memcpy(&f, &bits, sizeof f);
      return static_cast<double>(f);
    }
    case ColumnKind::kJsonb:
      // Binary jsonb is a version byte (1) and the text.
      if (len > 0) return std::string(p + 1, len - 1);
      return std::string();
    case ColumnKind::kBytes:
      break;
  }
  return std::string(p, len);
}

// The raw bytes of a text-like cell, without a copy.
absl::string_view CellBytes(const PGresult* res, int row, int col,
                            ColumnKind kind) {
  if (PQgetisnull(res, row, col)) return absl::string_view();
  const char* p = PQgetvalue(res, row, col);
  size_t len = static_cast<size_t>(PQgetlength(res, row, col));
  if (kind == ColumnKind::kJsonb && len > 0) return {p + 1, len - 1};
  return {p, len};
}

std::string DoubleToString(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

int64_t ToInt(const SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) return 0;
    if (*d >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
    if (*d <= -9.2233720368547758e18)
      return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(*d);
  }
  if (const auto* s = std::get_if<std::string>(&v)) {
    int64_t n = 0;
    return absl::SimpleAtoi(*s, &n) ? n : 0;
  }
  return 0;
}

class PgRow : public SqlRow {
 public:
  PgRow(const PGresult* res, const std::vector<ColumnKind>* kinds)
      : res_(res), kinds_(kinds) {}

  void set_row(int row) { row_ = row; }

  int size() const override { return static_cast<int>(kinds_->size()); }
  bool IsNull(int col) const override {
    return !Valid(col) || PQgetisnull(res_, row_, col);
  }
  int64_t Int(int col) const override {
    if (!Valid(col)) return 0;
    ColumnKind kind = (*kinds_)[col];
    if (kind == ColumnKind::kInt8 && !PQgetisnull(res_, row_, col) &&
        PQgetlength(res_, row_, col) == 8) {
      return static_cast<int64_t>(
          LoadBigEndian(PQgetvalue(res_, row_, col), 8));
    }
    return ToInt(Decode(res_, row_, col, kind));
  }
  absl::string_view Bytes(int col) const override {
    if (!Valid(col)) return absl::string_view();
    ColumnKind kind = (*kinds_)[col];
    if (!IsNumeric(kind)) return CellBytes(res_, row_, col, kind);
    // A number read as text: its decimal form, kept until the next call.
    if (scratch_.size() < kinds_->size()) scratch_.resize(kinds_->size());
    SqlValue v = Decode(res_, row_, col, kind);
    if (const auto* i = std::get_if<int64_t>(&v)) {
      scratch_[col] = absl::StrCat(*i);
    } else if (const auto* d = std::get_if<double>(&v)) {
      scratch_[col] = DoubleToString(*d);
    } else {
      scratch_[col].clear();
    }
    return scratch_[col];
  }
  SqlValue Value(int col) const override {
    if (!Valid(col)) return std::monostate{};
    return Decode(res_, row_, col, (*kinds_)[col]);
  }

 private:
  bool Valid(int col) const {
    return col >= 0 && col < static_cast<int>(kinds_->size());
  }

  const PGresult* res_;
  const std::vector<ColumnKind>* kinds_;
  int row_ = 0;
  mutable std::vector<std::string> scratch_;
};

// ---------------------------------------------------------------------------
// Connection settings.

struct Options {
  // libpq keywords and values, in order (the URL last, expanded).
  std::vector<std::pair<std::string, std::string>> params;
  int pool_size = kDefaultPoolSize;
  absl::Duration pool_timeout = absl::Milliseconds(kDefaultPoolTimeoutMs);
  // user@host:port/dbname, for messages (never the password).
  std::string display;
  // The service's schema.
  std::string schema;
};

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
  size_t q = url.find('?');
  std::string conninfo = url.substr(0, q);
  std::vector<std::string> kept;
  if (q != std::string::npos) {
    for (absl::string_view kv : absl::StrSplit(
             absl::string_view(url).substr(q + 1), '&', absl::SkipEmpty())) {
      std::pair<absl::string_view, absl::string_view> p =
          absl::StrSplit(kv, absl::MaxSplits('=', 1));
      if (p.first == "pool_size") {
        int n = 0;
        if (!absl::SimpleAtoi(p.second, &n) || n < 1 || n > kMaxPoolSize) {
          return InvalidArgument(
              "store", absl::StrCat("pool_size must be an integer in 1..",
                                    kMaxPoolSize, ", not `", p.second, "`"));
        }
        opts.pool_size = n;
      } else if (p.first == "pool_timeout_ms") {
        int n = 0;
        if (!absl::SimpleAtoi(p.second, &n) || n < 1 || n > kMaxPoolTimeoutMs) {
          return InvalidArgument(
              "store",
              absl::StrCat("pool_timeout_ms must be an integer in 1..",
                           kMaxPoolTimeoutMs, ", not `", p.second, "`"));
        }
        opts.pool_timeout = absl::Milliseconds(n);
      } else {
        kept.emplace_back(kv);
      }
    }
  }
  if (!kept.empty()) absl::StrAppend(&conninfo, "?", absl::StrJoin(kept, "&"));

  // Let libpq check the rest now: a typo is INVALID_ARGUMENT at start, not
  // UNAVAILABLE at every connection.
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
  // tcp_user_timeout bounds the wait for a peer that vanished while data was
  // in flight (keepalives cover idle connections).
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

std::string QuoteIdentifier(absl::string_view name) {
  // Only validated names ([a-z_][a-z0-9_]*) reach here; quoting is belt and
  // braces (and keeps reserved words usable as service names).
  return absl::StrCat("\"", name, "\"");
}

// A stable 64-bit FNV-1a hash: the same in every process and build, so that
// all replicas take the same advisory lock.
int64_t LockKey(absl::string_view schema) {
  uint64_t h = 14695981039346656037ull;
  for (char ch : absl::StrCat("cstopa.migrations:", schema)) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ull;
  }
  return static_cast<int64_t>(h);
}

void IgnoreNotice(void*, const char*) {}

// Parameter types sent in binary format when the value is a std::string:
// their binary form is the raw bytes (NULs included, for bytea).
bool BinaryForString(Oid type) {
  return type == kByteaOid || type == kTextOid || type == kVarcharOid ||
         type == kBpcharOid || type == kJsonOid;
}

// ---------------------------------------------------------------------------
// One connection with its prepared-statement cache. Used by one thread at a
// time (the pool hands it out).

class Connection {
 public:
  explicit Connection(const Options* opts) : opts_(opts) {}
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Opens a new session (closing any old one), with the search path set.
  absl::Status Connect() {
    Close();
    std::vector<const char*> keys, values;
    for (const auto& [k, v] : opts_->params) {
      keys.push_back(k.c_str());
      values.push_back(v.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
    if (conn_ == nullptr) {
      return absl::UnavailableError("postgresql: out of memory connecting");
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(conn_);
      absl::StripAsciiWhitespace(&msg);
      std::replace(msg.begin(), msg.end(), '\n', ' ');
      Close();
      return absl::UnavailableError(absl::StrCat(
          "postgresql: cannot connect to ", opts_->display, ": ", msg));
    }
    PQsetNoticeProcessor(conn_, &IgnoreNotice, nullptr);
    absl::Status s = Exec(
        absl::StrCat("SET search_path TO ", QuoteIdentifier(opts_->schema)),
        "set search_path");
    if (!s.ok()) Close();
    return s;
  }

  // Reopens the session if it is gone (server restart, network failure).
  absl::Status EnsureConnected() {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) {
      return absl::OkStatus();
    }
    return Connect();
  }

  bool broken() const {
    return conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD;
  }

  void Close() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
    cache_.clear();  // statements die with the session
  }

  PGTransactionStatusType transaction_status() const {
    return conn_ == nullptr ? PQTRANS_UNKNOWN : PQtransactionStatus(conn_);
  }

  // Runs `sql` (one or more statements, no parameters) with the simple
  // query protocol.
  absl::Status Exec(const std::string& sql, absl::string_view what) {
    if (conn_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "postgresql ", what, ": not connected to ", opts_->display));
    }
    Result res(PQexec(conn_, sql.c_str()));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      return absl::OkStatus();
    }
    return PgError(conn_, res.get(), what);
  }

  // Runs one statement with `?` placeholders through the statement cache;
  // the result is in binary format.
  // Statements run on this connection are cancelled on the server once
  // `deadline` passes (the call's deadline; InfiniteFuture: no limit).
  void set_deadline(absl::Time deadline) { deadline_ = deadline; }

  absl::StatusOr<Result> Run(absl::string_view sql, const SqlValues& params) {
    Bound bound;
    auto found = Bind(sql, params, &bound);
    if (!found.ok()) return found.status();
    const Statement& stmt = **found;
    Result res;
    if (deadline_ == absl::InfiniteFuture()) {
      res.reset(PQexecPrepared(conn_, stmt.name.c_str(),
                               static_cast<int>(bound.values.size()),
                               bound.values.data(), bound.lengths.data(),
                               bound.formats.data(), /*resultFormat=*/1));
    } else {
      auto got =
          RunUntil(stmt.name, bound.values, bound.lengths, bound.formats);
      if (!got.ok()) return got.status();
      res = std::move(*got);
    }
    return Checked(sql, std::move(res));
  }

  // Sends one statement (as Run) without waiting for its answer; the caller
  // then reads it with Consume/Busy/TakeResult and passes it to Checked.
  absl::Status Send(absl::string_view sql, const SqlValues& params) {
    Bound bound;
    auto found = Bind(sql, params, &bound);
    if (!found.ok()) return found.status();
    if (!PQsendQueryPrepared(conn_, (*found)->name.c_str(),
                             static_cast<int>(bound.values.size()),
                             bound.values.data(), bound.lengths.data(),
                             bound.formats.data(), /*resultFormat=*/1)) {
      return PgError(conn_, nullptr, "query");
    }
    return absl::OkStatus();
  }

  // `res` when it holds rows or a command's success; its error otherwise.
  absl::StatusOr<Result> Checked(absl::string_view sql, Result res) {
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return res;
    absl::Status error = PgError(conn_, res.get(), "query");
    const char* state =
        res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
    // "cached plan must not change result type" after a schema change by
    // another process: prepare it afresh next time (the old name is left to
    // the next DEALLOCATE ALL).
    if (state != nullptr && absl::string_view(state) == "0A000") {
      cache_.erase(std::string(sql));
    }
    return error;
  }

  // For the asynchronous path (PgDatabase's I/O thread).
  int socket() const { return conn_ == nullptr ? -1 : PQsocket(conn_); }
  // Reads what the server sent; false when the connection failed.
  bool Consume() { return conn_ != nullptr && PQconsumeInput(conn_) != 0; }
  // True while the answer to the statement sent is incomplete.
  bool Busy() { return PQisBusy(conn_) != 0; }
  // The next result of the statement sent; null after the last one.
  PGresult* NextResult() { return PQgetResult(conn_); }
  // The error of a failed Consume.
  absl::Status ConnectionError() { return PgError(conn_, nullptr, "query"); }

  // False when the server closed this idle connection (a restart, an idle
  // timeout, a terminated backend): its closing message or EOF is waiting
  // to be read. One poll, no round trip.
  bool IdleConnectionAlive() {
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return false;
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    if (poll(&pfd, 1, 0) <= 0) return true;
    if (!PQconsumeInput(conn_)) return false;
    return PQstatus(conn_) == CONNECTION_OK && !PQisBusy(conn_);
  }

  // Asks the server to cancel the running statement (a new short
  // connection to the server; blocks until it is sent).
  void Cancel() {
    if (conn_ == nullptr) return;
    if (PGcancel* cancel = PQgetCancel(conn_)) {
      char err[256];
      (void)PQcancel(cancel, err, sizeof(err));
      PQfreeCancel(cancel);
    }
  }

 private:
  // Sends the prepared statement and waits for its result until the
  // deadline; then asks the server to cancel it (SQLSTATE 57014, which maps
  // to DEADLINE_EXCEEDED) and waits a little longer for the reply. A server
  // that does not answer even then costs the connection.
  absl::StatusOr<Result> RunUntil(const std::string& name,
                                  const std::vector<const char*>& values,
                                  const std::vector<int>& lengths,
                                  const std::vector<int>& formats) {
    if (!PQsendQueryPrepared(conn_, name.c_str(),
                             static_cast<int>(values.size()), values.data(),
                             lengths.data(), formats.data(),
                             /*resultFormat=*/1)) {
      return PgError(conn_, nullptr, "query");
    }
    bool cancelled = false;
    absl::Time limit = deadline_;
    while (PQisBusy(conn_)) {
      absl::Time now = absl::Now();
      if (now >= limit) {
        if (cancelled) {
          Close();
          return absl::DeadlineExceededError(
              "postgresql: the server did not answer a cancel request; "
              "the connection was closed");
        }
        if (PGcancel* cancel = PQgetCancel(conn_)) {
          char err[256];
          (void)PQcancel(cancel, err, sizeof(err));
          PQfreeCancel(cancel);
        }
        cancelled = true;
        limit = now + kCancelGrace;
        continue;
      }
      pollfd pfd{PQsocket(conn_), POLLIN, 0};
      int ms = static_cast<int>(
          std::min<int64_t>(absl::ToInt64Milliseconds(limit - now) + 1, 1000));
      if (poll(&pfd, 1, ms) < 0 && errno != EINTR) {
        return absl::UnavailableError("postgresql: poll failed");
      }
      if (!PQconsumeInput(conn_)) return PgError(conn_, nullptr, "query");
    }
    Result res(PQgetResult(conn_));
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    return res;
  }

  struct Statement {
    std::string name;
    std::vector<Oid> param_types;  // as the server inferred them
  };

  // Parameters in libpq's form; `values` point into `numbers` and into the
  // SqlValues bound.
  struct Bound {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    std::vector<std::string> numbers;
  };

  // The prepared statement for `sql` and `params` bound to it.
  absl::StatusOr<const Statement*> Bind(absl::string_view sql,
                                        const SqlValues& params, Bound* b) {
    if (conn_ == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("postgresql: not connected to ", opts_->display));
    }
    auto found = Prepare(sql);
    if (!found.ok()) return found.status();
    const Statement& stmt = **found;
    const size_t n = stmt.param_types.size();
    if (params.size() != n) {
      return absl::InternalError(absl::StrCat("postgresql: statement expects ",
                                              n, " parameters, got ",
                                              params.size()));
    }
    b->values.assign(n, nullptr);
    b->lengths.assign(n, 0);
    b->formats.assign(n, 0);
    b->numbers.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const SqlValue& v = params[i];
      if (const auto* x = std::get_if<int64_t>(&v)) {
        b->numbers[i] = absl::StrCat(*x);
        b->values[i] = b->numbers[i].c_str();
      } else if (const auto* d = std::get_if<double>(&v)) {
        b->numbers[i] = DoubleToString(*d);  // shortest exact form
        b->values[i] = b->numbers[i].c_str();
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        b->values[i] = s->c_str();
        b->lengths[i] = static_cast<int>(s->size());
        b->formats[i] = BinaryForString(stmt.param_types[i]) ? 1 : 0;
      }
    }
    return found;
  }

  absl::StatusOr<const Statement*> Prepare(absl::string_view sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return &it->second;
    if (cache_.size() >= kStatementCacheSize) {
      // Bounded: filters make SQL text vary; start over.
      if (auto s = Exec("DEALLOCATE ALL", "deallocate"); !s.ok()) return s;
      cache_.clear();
    }
    int count = 0;
    std::string text = RewritePlaceholders(sql, &count);
    Statement stmt;
    stmt.name = absl::StrCat("cstopa_", next_statement_++);
    Result prepared(PQprepare(conn_, stmt.name.c_str(), text.c_str(), 0,
                              /*paramTypes=*/nullptr));
    if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
      absl::Status s = PgError(conn_, prepared.get(), "prepare");
      constexpr size_t kMaxShown = 300;
      return absl::Status(
          s.code(), absl::StrCat(s.message(), " in `", sql.substr(0, kMaxShown),
                                 sql.size() > kMaxShown ? "...`" : "`"));
    }
    Result described(PQdescribePrepared(conn_, stmt.name.c_str()));
    if (!described || PQresultStatus(described.get()) != PGRES_COMMAND_OK) {
      return PgError(conn_, described.get(), "describe");
    }
    int n = PQnparams(described.get());
    stmt.param_types.reserve(n);
    for (int i = 0; i < n; ++i) {
      stmt.param_types.push_back(PQparamtype(described.get(), i));
    }
    auto [pos, inserted] = cache_.emplace(std::string(sql), std::move(stmt));
    return &pos->second;
  }

  const Options* opts_;
  PGconn* conn_ = nullptr;
  absl::Time deadline_ = absl::InfiniteFuture();
  absl::flat_hash_map<std::string, Statement> cache_;
  int64_t next_statement_ = 0;
};

class PgTransaction : public SqlTransaction {
 public:
  explicit PgTransaction(Connection* c) : c_(c) {}

  absl::Status QueryEach(
      absl::string_view sql, const SqlValues& params,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) override {
    auto res = c_->Run(sql, params);
    if (!res.ok()) return res.status();
    auto kinds = ColumnKinds(res->get());
    if (!kinds.ok()) return kinds.status();
    PgRow row(res->get(), &*kinds);
    const int rows = PQntuples(res->get());
    for (int r = 0; r < rows; ++r) {
      row.set_row(r);
      if (absl::Status s = fn(row); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<SqlValues>> Query(
      absl::string_view sql, const SqlValues& params) override {
    auto res = c_->Run(sql, params);
    if (!res.ok()) return res.status();
    auto kinds = ColumnKinds(res->get());
    if (!kinds.ok()) return kinds.status();
    const int rows = PQntuples(res->get());
    const int cols = static_cast<int>(kinds->size());
    std::vector<SqlValues> out;
    out.reserve(rows);
    for (int r = 0; r < rows; ++r) {
      SqlValues row;
      row.reserve(cols);
      for (int c = 0; c < cols; ++c) {
        row.push_back(Decode(res->get(), r, c, (*kinds)[c]));
      }
      out.push_back(std::move(row));
    }
    return out;
  }

  absl::StatusOr<int64_t> Execute(absl::string_view sql,
                                  const SqlValues& params) override {
    auto res = c_->Run(sql, params);
    if (!res.ok()) return res.status();
    int64_t n = 0;
    const char* tuples = PQcmdTuples(res->get());
    if (tuples != nullptr && *tuples != '\0' && !absl::SimpleAtoi(tuples, &n)) {
      n = 0;
    }
    return n;
  }

 private:
  Connection* c_;
};

// ---------------------------------------------------------------------------
// The database: a bounded, lazily filled pool of connections.

class PgDatabase : public Database {
 public:
  explicit PgDatabase(Options opts) : opts_(std::move(opts)) {}
  ~PgDatabase() override {
    StopStoreThreads();
    StopIo();
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  absl::Status Migrate(const SchemaSpec& schema) {
    for (const Migration& m : schema.migrations) {
      if (m.postgres_sql.empty()) {
        return absl::InternalError(absl::StrCat(
            "migration ", m.version, " (", m.name, ") of ", schema.service,
            " has no PostgreSQL version (Migration::postgres_sql)"));
      }
    }
    auto c = Acquire();
    if (!c.ok()) return c.status();
    const std::string table =
        absl::StrCat(QuoteIdentifier(opts_.schema), ".schema_migrations");
    absl::Status s = RunTransaction(*c, "BEGIN", [&](SqlTransaction& tx) {
      // Replicas starting together queue here; each then sees the versions
      // the others committed (READ COMMITTED: a fresh snapshot per
      // statement).
      auto locked = tx.Execute("SELECT pg_advisory_xact_lock(?)",
                               {LockKey(opts_.schema)});
      if (!locked.ok()) return locked.status();
      // Checked first so that a role without CREATE on the database can
      // use a schema made for it.
      auto exists = tx.Query("SELECT 1 FROM pg_namespace WHERE nspname = ?",
                             {opts_.schema});
      if (!exists.ok()) return exists.status();
      if (exists->empty()) {
        if (auto e = (*c)->Exec(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ",
                                             QuoteIdentifier(opts_.schema)),
                                "create schema");
            !e.ok())
          return e;
      }
      if (auto e = (*c)->Exec(
              absl::StrCat("CREATE TABLE IF NOT EXISTS ", table,
                           " (version bigint PRIMARY KEY, name text NOT NULL, "
                           "applied_at timestamptz NOT NULL DEFAULT now())"),
              "create schema_migrations");
          !e.ok())
        return e;
      auto rows = tx.Query(absl::StrCat("SELECT version FROM ", table), {});
      if (!rows.ok()) return rows.status();
      absl::flat_hash_set<int64_t> applied;
      for (const SqlValues& r : *rows) applied.insert(ToInt(r[0]));
      for (const Migration& m : schema.migrations) {
        if (applied.contains(m.version)) continue;
        if (auto e = (*c)->Exec(m.postgres_sql, "migration"); !e.ok()) {
          return absl::Status(
              e.code() == absl::StatusCode::kUnavailable
                  ? absl::StatusCode::kUnavailable
                  : absl::StatusCode::kInternal,
              absl::StrCat("migration ", m.version, " (", m.name, ") of ",
                           schema.service, " failed: ", e.message()));
        }
        auto ins = tx.Execute(absl::StrCat("INSERT INTO ", table,
                                           " (version, name) VALUES (?, ?)"),
                              {int64_t{m.version}, m.name});
        if (!ins.ok()) return ins.status();
      }
      return absl::OkStatus();
    });
    Release(*c);
    return s;
  }

  using Database::QueryOnce;
  using Database::Read;
  using Database::Write;

  absl::Status Read(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    if (absl::Now() >= deadline) {
      return DeadlinePassed();
    }
    const std::thread::id self = std::this_thread::get_id();
    // A read from inside a transaction on this thread joins it: it sees the
    // write's own changes and cannot wait for a second connection.
    if (Connection* c = Joined(self, nullptr)) {
      PgTransaction tx(c);
      return fn(tx);
    }
    auto c = Acquire();
    if (!c.ok()) return c.status();
    SetActive(self, *c, /*writing=*/false);
    (*c)->set_deadline(deadline);
    absl::Status s = RunTransaction(
        *c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", fn);
    (*c)->set_deadline(absl::InfiniteFuture());
    ClearActive(self);
    Release(*c);
    return s;
  }

  absl::Status Write(
      absl::Time deadline,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    if (absl::Now() >= deadline) {
      return DeadlinePassed();
    }
    const std::thread::id self = std::this_thread::get_id();
    bool writing = false;
    if (Joined(self, &writing) != nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("postgresql: Write called inside a ",
                       writing ? "Write" : "Read", " on the same thread"));
    }
    auto c = Acquire();
    if (!c.ok()) return c.status();
    SetActive(self, *c, /*writing=*/true);
    (*c)->set_deadline(deadline);
    absl::Status s = RunTransaction(*c, "BEGIN", fn);
    (*c)->set_deadline(absl::InfiniteFuture());
    ClearActive(self);
    Release(*c);
    return s;
  }

  absl::Status QueryOnce(
      absl::string_view sql, const SqlValues& params, absl::Time deadline,
      absl::FunctionRef<absl::Status(const SqlRow&)> fn) override {
    if (absl::Now() >= deadline) {
      return DeadlinePassed();
    }
    if (Connection* c = Joined(std::this_thread::get_id(), nullptr)) {
      PgTransaction tx(c);
      return tx.QueryEach(sql, params, fn);
    }
    auto c = Acquire();
    if (!c.ok()) return c.status();
    // Autocommit: the statement is its own snapshot.
    (*c)->set_deadline(deadline);
    PgTransaction tx(*c);
    bool called = false;
    auto counting = [&](const SqlRow& row) {
      called = true;
      return fn(row);
    };
    absl::Status s = tx.QueryEach(sql, params, counting);
    if (!s.ok() && !called && (*c)->broken()) {
      // A connection the server dropped while idle: a read can be retried.
      s = (*c)->Connect();
      if (s.ok()) s = tx.QueryEach(sql, params, counting);
    }
    (*c)->set_deadline(absl::InfiniteFuture());
    Release(*c);
    return s;
  }

  void QueryOnceAsync(std::string sql, SqlValues params, absl::Time deadline,
                      RowCallback on_row, StatusCallback done) override {
    auto q = std::make_unique<AsyncQuery>();
    q->sql = std::move(sql);
    q->params = std::move(params);
    q->deadline = deadline;
    q->on_row = std::move(on_row);
    q->done = std::move(done);
    Submit(std::move(q));
  }

  void QueryKeyAsync(const KeyedQuery* query, std::string key,
                     absl::Time deadline, RowCallback on_row,
                     StatusCallback done) override {
    auto q = std::make_unique<AsyncQuery>();
    q->keyed = query;
    q->key = std::move(key);
    q->deadline = deadline;
    q->on_row = std::move(on_row);
    q->done = std::move(done);
    Submit(std::move(q));
  }

  absl::Status Ping() override {
    absl::Status s;
    if (Connection* joined = Joined(std::this_thread::get_id(), nullptr)) {
      s = joined->Exec("SELECT 1", "ping");
    } else {
      auto c = Acquire();
      if (!c.ok()) return c.status();
      s = (*c)->Exec("SELECT 1", "ping");
      if (!s.ok() && (*c)->broken()) {
        s = (*c)->Connect();
        if (s.ok()) s = (*c)->Exec("SELECT 1", "ping");
      }
      Release(*c);
    }
    if (s.ok() || s.code() == absl::StatusCode::kUnavailable) return s;
    return absl::UnavailableError(s.message());
  }

  // Transactions run on pool_size threads each for reads and writes: as
  // many as there are connections for them.
  void StartThreads(int n) { StartStoreThreads("pg", n, n); }

  std::vector<StoreGauge> Gauges() override {
    std::vector<StoreGauge> out = StoreThreadGauges();
    absl::MutexLock lock(&mu_);
    const double open = static_cast<double>(all_.size());
    std::vector<StoreGauge> pool = {
        {"cstopa_store_pool_size",
         "Connections to PostgreSQL the pool may open (pool_size).",
         static_cast<double>(opts_.pool_size)},
        {"cstopa_store_connections", "Connections to PostgreSQL opened.", open},
        {"cstopa_store_connections_busy",
         "Connections to PostgreSQL in use by a call or a statement.",
         open - static_cast<double>(idle_.size())},
        {"cstopa_store_reads_waiting",
         "Asynchronous reads (Gets) waiting for a free connection.",
         static_cast<double>(pending_.size())},
        {"cstopa_store_reads_per_statement",
         "Asynchronous reads answered per statement sent, since the start "
         "(above 1: reads waiting together were sent as one statement).",
         async_statements_ == 0 ? 0.0
                                : static_cast<double>(async_reads_) /
                                      static_cast<double>(async_statements_)},
    };
    out.insert(out.end(), pool.begin(), pool.end());
    return out;
  }

  absl::string_view dialect() const override { return "postgresql"; }

 private:
  struct Active {
    std::thread::id thread;
    Connection* connection;
    bool writing;
  };

  static absl::Status RunTransaction(
      Connection* c, const std::string& begin,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) {
    absl::Status s = c->Exec(begin, "begin");
    if (!s.ok() && c->broken()) {
      // The server dropped this idle connection (restart, idle timeout):
      // nothing has run yet, so reconnect and begin again.
      s = c->Connect();
      if (s.ok()) s = c->Exec(begin, "begin");
    }
    if (!s.ok()) return s;
    PgTransaction tx(c);
    s = fn(tx);
    if (s.ok()) {
      if (c->transaction_status() == PQTRANS_INERROR) {
        // COMMIT would silently roll back.
        s = absl::InternalError(
            "postgresql: a statement failed and its error was ignored; "
            "the transaction was rolled back");
      } else {
        s = c->Exec("COMMIT", "commit");
        if (s.ok()) return s;
      }
    }
    PGTransactionStatusType ts = c->transaction_status();
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
      (void)c->Exec("ROLLBACK", "rollback");
    }
    return s;
  }

  // Takes an idle connection into `*c`, or reserves a slot for a new one
  // (`*open`, then OpenConnection); false when all pool_size are in use.
  bool ClaimConnection(Connection** c, bool* open)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!idle_.empty()) {
      *c = idle_.back();
      idle_.pop_back();
      return true;
    }
    if (static_cast<int>(all_.size()) + opening_ < opts_.pool_size) {
      ++opening_;
      *open = true;
      return true;
    }
    return false;
  }

  bool CanAcquire() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() ||
           static_cast<int>(all_.size()) + opening_ < opts_.pool_size;
  }

  // A connection of the pool, connected; waits (up to pool_timeout) while
  // all pool_size are in use.
  absl::StatusOr<Connection*> Acquire() {
    Connection* c = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithTimeout(absl::Condition(this, &PgDatabase::CanAcquire),
                                opts_.pool_timeout)) {
        return PoolExhausted();
      }
      if (!idle_.empty()) {
        c = idle_.back();
        idle_.pop_back();
      } else {
        ++opening_;
      }
    }
    if (c == nullptr) return OpenConnection();
    if (absl::Status s = c->EnsureConnected(); !s.ok()) {
      Release(c);
      return s;
    }
    return c;
  }

  void Release(Connection* c) {
    // Never hand out a connection in the middle of a transaction.
    if (c->transaction_status() != PQTRANS_IDLE) c->Close();
    absl::MutexLock lock(&mu_);
    idle_.push_back(c);
    // A queued asynchronous query can have it.
    if (!pending_.empty() && std::this_thread::get_id() != io_thread_id_) {
      WakeIo();
    }
  }

  // A new connection for a slot reserved by ++opening_.
  absl::StatusOr<Connection*> OpenConnection() {
    auto fresh = std::make_unique<Connection>(&opts_);
    absl::Status s = fresh->Connect();
    absl::MutexLock lock(&mu_);
    --opening_;
    if (!s.ok()) return s;
    Connection* c = fresh.get();
    all_.push_back(std::move(fresh));
    return c;
  }

  // -------------------------------------------------------------------------
  // Asynchronous queries (QueryOnceAsync, QueryKeyAsync). A query is sent
  // by the thread that asks when a connection is free; otherwise it waits in
  // pending_ and the I/O thread sends it when a connection frees up, with
  // the other waiting reads of the same KeyedQuery as one statement. The one
  // I/O thread waits (epoll) on the sockets of the connections with a
  // statement in flight, on an eventfd that wakes it, and on the earliest
  // deadline; it reads the answers and runs the callbacks.

  struct AsyncQuery {
    std::string sql;   // unless keyed
    SqlValues params;  // unless keyed
    const KeyedQuery* keyed = nullptr;
    std::string key;  // if keyed
    absl::Time deadline = absl::InfiniteFuture();
    absl::Time queued = absl::InfiniteFuture();  // when it started waiting
    bool alone = false;  // never batched (its batch failed once)
    RowCallback on_row;
    StatusCallback done;
  };

  // One statement in flight on a connection and the queries it answers.
  struct Flight {
    Connection* conn = nullptr;
    int fd = -1;
    std::string sql;  // as sent
    bool batch = false;
    // Null once a query was answered early (its deadline passed).
    std::vector<std::unique_ptr<AsyncQuery>> queries;
    Result result;  // the first result read
    bool cancel_sent = false;
    absl::Time give_up = absl::InfiniteFuture();  // after the cancel

    // When the next query's deadline passes or, with none left waiting,
    // when to stop waiting for the cancelled statement.
    absl::Time NextTime() const {
      if (cancel_sent) return give_up;
      absl::Time next = absl::InfiniteFuture();
      for (const auto& q : queries) {
        if (q != nullptr) next = std::min(next, q->deadline);
      }
      return next;
    }
  };

  // Most reads one batched statement answers.
  static constexpr size_t kMaxBatch = 64;

  void Submit(std::unique_ptr<AsyncQuery> q) {
    if (absl::Now() >= q->deadline) {
      q->done(DeadlinePassed());
      return;
    }
    if (Joined(std::this_thread::get_id(), nullptr) != nullptr) {
      // Inside a transaction on this thread: on its connection, now.
      if (q->keyed != nullptr) {
        Database::QueryKeyAsync(q->keyed, std::move(q->key), q->deadline,
                                std::move(q->on_row), std::move(q->done));
      } else {
        Database::QueryOnceAsync(std::move(q->sql), std::move(q->params),
                                 q->deadline, std::move(q->on_row),
                                 std::move(q->done));
      }
      return;
    }
    if (absl::Status s = StartIo(); !s.ok()) {
      q->done(std::move(s));
      return;
    }
    Connection* c = nullptr;
    bool open = false;
    {
      absl::MutexLock lock(&mu_);
      // Queries already waiting go first.
      if (!pending_.empty() || !ClaimConnection(&c, &open)) {
        q->queued = absl::Now();
        pending_.push_back(std::move(q));
        WakeIo();  // to time the wait
        return;
      }
    }
    if (open) {
      auto opened = OpenConnection();
      if (!opened.ok()) {
        q->done(opened.status());
        return;
      }
      c = *opened;
    }
    std::vector<std::unique_ptr<AsyncQuery>> one;
    one.push_back(std::move(q));
    Launch(c, std::move(one));
  }

  absl::Status StartIo() {
    absl::MutexLock lock(&mu_);
    if (io_thread_.joinable()) return absl::OkStatus();
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake-up
    if (epoll_fd_ < 0 || wake_fd_ < 0 ||
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
      std::string err = std::generic_category().message(errno);
      if (epoll_fd_ >= 0) close(epoll_fd_);
      if (wake_fd_ >= 0) close(wake_fd_);
      epoll_fd_ = wake_fd_ = -1;
      return absl::InternalError(
          absl::StrCat("postgresql: cannot start the I/O thread: ", err));
    }
    io_thread_ = std::thread([this] { IoLoop(); });
    // Named for profiles and thread listings (at most 15 characters).
    pthread_setname_np(io_thread_.native_handle(), "pg_io");
    io_thread_id_ = io_thread_.get_id();
    return absl::OkStatus();
  }

  void StopIo() {
    {
      absl::MutexLock lock(&mu_);
      if (!io_thread_.joinable()) return;
      io_stop_ = true;
      WakeIo();
    }
    io_thread_.join();
    close(epoll_fd_);
    close(wake_fd_);
  }

  void WakeIo() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (wake_fd_ < 0) return;
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  // `values` as a PostgreSQL array literal of text: {"a","b\"c"}.
  static std::string TextArray(
      const std::vector<std::unique_ptr<AsyncQuery>>& queries) {
    std::string out = "{";
    for (const auto& q : queries) {
      if (out.size() > 1) out.push_back(',');
      out.push_back('"');
      for (char ch : q->key) {
        if (ch == '"' || ch == '\\') out.push_back('\\');
        out.push_back(ch);
      }
      out.push_back('"');
    }
    out.push_back('}');
    return out;
  }

  // Sends the statement answering `queries` (one query, or several reads
  // of one KeyedQuery) on `c`, idle and taken from the pool, and hands it
  // to the I/O thread; on failure returns the connection and reports.
  void Launch(Connection* c, std::vector<std::unique_ptr<AsyncQuery>> queries) {
    auto f = std::make_unique<Flight>();
    f->conn = c;
    f->batch = queries.size() > 1;
    const AsyncQuery& first = *queries[0];
    SqlValues keyed_params;  // the key, or the array of keys
    if (f->batch) {
      f->sql = first.keyed->batch_sql;
      keyed_params.push_back(TextArray(queries));
    } else if (first.keyed != nullptr) {
      f->sql = first.keyed->sql;
      keyed_params.push_back(first.key);
    } else {
      f->sql = first.sql;
    }
    const SqlValues& params =
        first.keyed != nullptr ? keyed_params : first.params;
    absl::Status s;
    // The server may have closed the connection while it was idle: nothing
    // has been sent yet, so reconnect.
    if (!c->IdleConnectionAlive()) s = c->Connect();
    if (s.ok()) s = c->Send(f->sql, params);
    if (!s.ok()) {
      Release(c);
      for (auto& q : queries) q->done(s);
      return;
    }
    f->queries = std::move(queries);
    f->fd = c->socket();
    Flight* raw = f.get();
    int watch_error = 0;
    {
      absl::MutexLock lock(&mu_);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = raw;
      // Under mu_: the I/O thread cannot see the answer before the flight
      // is in in_flight_.
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, raw->fd, &ev) == 0) {
        // The I/O thread must wake up for this deadline if it would not.
        if (raw->NextTime() < io_wakes_at_) WakeIo();
        ++async_statements_;
        async_reads_ += raw->queries.size();
        in_flight_.emplace(raw, std::move(f));
        return;
      }
      watch_error = errno;
    }
    c->Close();  // a statement is in flight on it
    Release(c);
    absl::Status error = absl::InternalError(
        absl::StrCat("postgresql: cannot watch a connection: ",
                     std::generic_category().message(watch_error)));
    for (auto& q : f->queries) q->done(error);
  }

  void IoLoop() {
    constexpr int kMaxEvents = 64;
    epoll_event events[kMaxEvents];
    while (true) {
      int timeout_ms = -1;
      {
        absl::MutexLock lock(&mu_);
        if (io_stop_) break;
        timeout_ms = IoTimeoutMs();
      }
      int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout_ms);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr) {
          uint64_t count;
          (void)!read(wake_fd_, &count, sizeof count);
          continue;
        }
        OnReadable(static_cast<Flight*>(events[i].data.ptr));
      }
      ExpireAndStart();
    }
    // Closing: whatever is left fails.
    std::vector<std::unique_ptr<Flight>> flights;
    std::deque<std::unique_ptr<AsyncQuery>> waiting;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [raw, f] : in_flight_) flights.push_back(std::move(f));
      in_flight_.clear();
      waiting.swap(pending_);
    }
    const absl::Status closing =
        absl::UnavailableError("postgresql: the store is closing");
    for (auto& f : flights) {
      (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, f->fd, nullptr);
      f->conn->Close();
      Release(f->conn);
      for (auto& q : f->queries) {
        if (q != nullptr) q->done(closing);
      }
    }
    for (auto& q : waiting) q->done(closing);
  }

  // Milliseconds until the next deadline of a query (-1: none).
  int IoTimeoutMs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [raw, f] : in_flight_)
      next = std::min(next, f->NextTime());
    for (const auto& q : pending_) {
      next = std::min({next, q->deadline, q->queued + opts_.pool_timeout});
    }
    io_wakes_at_ = next;
    if (next == absl::InfiniteFuture()) return -1;
    absl::Duration left = next - absl::Now();
    if (left <= absl::ZeroDuration()) return 0;
    return static_cast<int>(std::min<int64_t>(
        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
        60000));
  }

  // Reads what arrived for `f`; reports once its answer is complete.
  void OnReadable(Flight* f) {
    Connection* c = f->conn;
    if (!c->Consume()) {
      Finish(f, c->ConnectionError());
      return;
    }
    while (!c->Busy()) {
      PGresult* r = c->NextResult();
      if (r == nullptr) {
        Finish(f, absl::OkStatus());
        return;
      }
      if (f->result == nullptr) {
        f->result.reset(r);
      } else {
        PQclear(r);
      }
    }
  }

  // A row of a batched statement as the row of its key's own statement
  // (without the leading key column).
  class KeyedRow : public SqlRow {
   public:
    explicit KeyedRow(const SqlRow* row) : row_(row) {}
    int size() const override { return row_->size() - 1; }
    bool IsNull(int column) const override { return row_->IsNull(column + 1); }
    int64_t Int(int column) const override { return row_->Int(column + 1); }
    absl::string_view Bytes(int column) const override {
      return row_->Bytes(column + 1);
    }
    SqlValue Value(int column) const override {
      return row_->Value(column + 1);
    }

   private:
    const SqlRow* row_;
  };

  // Ends a flight: runs the row callbacks over its result (when `status`,
  // the connection's, is OK), returns the connection to the pool, then
  // reports to each query still waiting.
  void Finish(Flight* raw, absl::Status status) {
    (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, raw->fd, nullptr);
    std::unique_ptr<Flight> f;
    {
      absl::MutexLock lock(&mu_);
      auto it = in_flight_.find(raw);
      if (it == in_flight_.end()) return;
      f = std::move(it->second);
      in_flight_.erase(it);
    }
    std::vector<absl::Status> results(f->queries.size(), status);
    const bool delivered = !status.ok() || Deliver(*f, results);
    Release(f->conn);
    if (!delivered) {
      // The batched statement failed as a statement (a key the server
      // refused, say): one read must not fail the others, so each is sent
      // again on its own, first in line.
      absl::MutexLock lock(&mu_);
      for (auto it = f->queries.rbegin(); it != f->queries.rend(); ++it) {
        if (*it == nullptr) continue;
        (*it)->alone = true;
        pending_.push_front(std::move(*it));
      }
      return;  // ExpireAndStart sends them
    }
    for (size_t i = 0; i < f->queries.size(); ++i) {
      if (f->queries[i] != nullptr) f->queries[i]->done(std::move(results[i]));
    }
  }

  // Runs the row callbacks of `f`'s queries over its result, leaving each
  // query's outcome in `results`. False when a batched statement failed as
  // a statement (not for want of a connection or time): then nothing ran.
  static bool Deliver(Flight& f, std::vector<absl::Status>& results) {
    auto res = f.conn->Checked(f.sql, std::move(f.result));
    if (!res.ok() && f.batch &&
        res.status().code() != absl::StatusCode::kUnavailable &&
        res.status().code() != absl::StatusCode::kDeadlineExceeded) {
      return false;
    }
    absl::StatusOr<std::vector<ColumnKind>> kinds =
        res.ok() ? ColumnKinds(res->get()) : res.status();
    if (!kinds.ok()) {
      for (absl::Status& r : results) r = kinds.status();
      return true;
    }
    PgRow row(res->get(), &*kinds);
    const int rows = PQntuples(res->get());
    if (!f.batch) {
      AsyncQuery* q = f.queries[0].get();
      for (int r = 0; r < rows && q != nullptr; ++r) {
        row.set_row(r);
        if (absl::Status s = q->on_row(row); !s.ok()) {
          results[0] = std::move(s);
          break;
        }
      }
      return true;
    }
    // Which queries read each key (a key may be asked for more than once).
    absl::flat_hash_map<absl::string_view, std::vector<size_t>> by_key;
    for (size_t i = 0; i < f.queries.size(); ++i) {
      if (f.queries[i] != nullptr) by_key[f.queries[i]->key].push_back(i);
    }
    KeyedRow keyed(&row);
    for (int r = 0; r < rows; ++r) {
      row.set_row(r);
      auto it = by_key.find(row.Bytes(0));
      if (it == by_key.end()) continue;
      for (size_t i : it->second) {
        if (!results[i].ok()) continue;
        results[i] = f.queries[i]->on_row(keyed);
      }
    }
    return true;
  }

  // Answers queries whose deadline passed (their statement keeps running
  // for the others; one with nobody left waiting is cancelled on the
  // server, and its connection closed if the cancel is not answered),
  // fails waiting queries past their deadline or the pool timeout, and
  // sends waiting queries on free connections.
  void ExpireAndStart() {
    const absl::Time now = absl::Now();
    std::vector<Flight*> due;
    std::vector<std::pair<std::unique_ptr<AsyncQuery>, absl::Status>> failed;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [raw, f] : in_flight_) {
        if (now >= f->NextTime()) due.push_back(raw);
      }
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (now >= (*it)->deadline) {
          failed.emplace_back(std::move(*it), DeadlinePassed());
        } else if (now >= (*it)->queued + opts_.pool_timeout) {
          failed.emplace_back(std::move(*it), PoolExhausted());
        } else {
          ++it;
          continue;
        }
        it = pending_.erase(it);
      }
    }
    for (Flight* f : due) {
      if (f->cancel_sent) {
        (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, f->fd, nullptr);
        f->conn->Close();
        Finish(f, absl::DeadlineExceededError(
                      "postgresql: the server did not answer a cancel "
                      "request; the connection was closed"));
        continue;
      }
      bool waiting = false;
      for (auto& q : f->queries) {
        if (q != nullptr && now >= q->deadline) {
          failed.emplace_back(std::move(q), DeadlinePassed());
          q = nullptr;
        }
        waiting |= q != nullptr;
      }
      if (!waiting) {
        // Answered with SQLSTATE 57014, which nobody reads now.
        f->conn->Cancel();
        f->cancel_sent = true;
        f->give_up = now + kCancelGrace;
      }
    }
    for (auto& [q, status] : failed) q->done(std::move(status));
    StartPending();
  }

  // Sends waiting queries while connections are free: each with the other
  // waiting reads of its KeyedQuery.
  void StartPending() {
    while (true) {
      std::vector<std::unique_ptr<AsyncQuery>> batch;
      Connection* c = nullptr;
      bool open = false;
      {
        absl::MutexLock lock(&mu_);
        if (pending_.empty() || !ClaimConnection(&c, &open)) return;
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
        if (const KeyedQuery* keyed = batch[0]->keyed;
            keyed != nullptr && !batch[0]->alone) {
          for (auto it = pending_.begin();
               it != pending_.end() && batch.size() < kMaxBatch;) {
            if ((*it)->keyed == keyed && !(*it)->alone) {
              batch.push_back(std::move(*it));
              it = pending_.erase(it);
            } else {
              ++it;
            }
          }
        }
      }
      if (open) {
        auto opened = OpenConnection();
        if (!opened.ok()) {
          // The server cannot be reached: the waiting queries would wait for
          // the same answer one connect_timeout after another.
          std::deque<std::unique_ptr<AsyncQuery>> rest;
          {
            absl::MutexLock lock(&mu_);
            rest.swap(pending_);
          }
          for (auto& q : batch) q->done(opened.status());
          for (auto& q : rest) q->done(opened.status());
          return;
        }
        c = *opened;
      }
      Launch(c, std::move(batch));
    }
  }

  absl::Status PoolExhausted() const {
    return absl::UnavailableError(absl::StrCat(
        "postgresql: connection pool exhausted: all ", opts_.pool_size,
        " connections to ", opts_.display, " stayed busy for ",
        absl::FormatDuration(opts_.pool_timeout),
        " (raise pool_size in the store URL?)"));
  }

  // The connection of the transaction running on `thread`, if any.
  Connection* Joined(std::thread::id thread, bool* writing) {
    absl::MutexLock lock(&mu_);
    for (const Active& a : active_) {
      if (a.thread == thread) {
        if (writing != nullptr) *writing = a.writing;
        return a.connection;
      }
    }
    return nullptr;
  }

  void SetActive(std::thread::id thread, Connection* c, bool writing) {
    absl::MutexLock lock(&mu_);
    active_.push_back({thread, c, writing});
  }

  void ClearActive(std::thread::id thread) {
    absl::MutexLock lock(&mu_);
    active_.erase(
        std::remove_if(active_.begin(), active_.end(),
                       [&](const Active& a) { return a.thread == thread; }),
        active_.end());
  }

  const Options opts_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> all_ ABSL_GUARDED_BY(mu_);
  std::vector<Connection*> idle_ ABSL_GUARDED_BY(mu_);
  int opening_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Active> active_ ABSL_GUARDED_BY(mu_);

  // Asynchronous queries; the I/O thread starts with the first one.
  std::thread io_thread_;
  std::thread::id io_thread_id_;  // set before any query can wait
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool io_stop_ ABSL_GUARDED_BY(mu_) = false;
  // When the I/O thread's wait ends by itself (it recomputes this before
  // every wait); a query due earlier must wake it.
  absl::Time io_wakes_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::deque<std::unique_ptr<AsyncQuery>> pending_ ABSL_GUARDED_BY(mu_);
  // Asynchronous statements sent and the reads they answered, for Gauges.
  uint64_t async_statements_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t async_reads_ ABSL_GUARDED_BY(mu_) = 0;
  // Statements in flight (keys, owned by the values), read by the I/O
  // thread; only it changes or removes one once it is here.
  absl::flat_hash_map<Flight*, std::unique_ptr<Flight>> in_flight_
      ABSL_GUARDED_BY(mu_);
};

bool IsIdentifierChar(char ch) {
  return absl::ascii_isalnum(ch) || ch == '_' ||
         static_cast<unsigned char>(ch) >= 0x80;
}

}  // namespace

std::string RewritePlaceholders(absl::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  const size_t size = sql.size();
  size_t i = 0;
  while (i < size) {
    const char ch = sql[i];
    const char next = i + 1 < size ? sql[i + 1] : '\0';
    size_t end = i + 1;  // one past the token copied as is
    if (ch == '\'') {
      // 'it''s' reads as two adjacent literals, which is fine here;
      // E'it\'s' needs its backslash escapes honoured.
      bool escapes = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                     (i < 2 || !IsIdentifierChar(sql[i - 2]));
      while (end < size && sql[end] != '\'') {
        end += (escapes && sql[end] == '\\') ? 2 : 1;
      }
      end = std::min(end + 1, size);
    } else if (ch == '"') {
      size_t close = sql.find('"', i + 1);
      end = close == absl::string_view::npos ? size : close + 1;
    } else if (ch == '-' && next == '-') {
      size_t nl = sql.find('\n', i);
      end = nl == absl::string_view::npos ? size : nl + 1;
    } else if (ch == '/' && next == '*') {
      size_t close = sql.find("*/", i + 2);
      end = close == absl::string_view::npos ? size : close + 2;
    } else if (ch == '$' && (i == 0 || !IsIdentifierChar(sql[i - 1]))) {
      // $tag$ ... $tag$ (the tag may be empty); $1 is not one.
      size_t t = i + 1;
      if (t < size &&
          (absl::ascii_isalpha(sql[t]) || sql[t] == '_' || sql[t] == '$')) {
        while (t < size && sql[t] != '$' && IsIdentifierChar(sql[t])) ++t;
        if (t < size && sql[t] == '$') {
          absl::string_view tag = sql.substr(i, t - i + 1);
          size_t close = sql.find(tag, t + 1);
          end = close == absl::string_view::npos ? size : close + tag.size();
        }
      }
    } else if (ch == '?') {
      absl::StrAppend(&out, "$", ++n);
      ++i;
      continue;
    }
    out.append(sql.data() + i, end - i);
    i = end;
  }
  *count = n;
  return out;
}

absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate) {
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return absl::StatusCode::kAborted;
  }
  if (sqlstate == "57014") return absl::StatusCode::kDeadlineExceeded;
  // Class 08 (connection exception; not 08P01, a protocol violation: a bug),
  // 57P01-57P03 (admin or crash shutdown, cannot connect now), 53300 (too
  // many connections).
  if ((absl::StartsWith(sqlstate, "08") && sqlstate != "08P01") ||
      sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||
      sqlstate == "53300") {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kInternal;
}

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(
    const std::string& url, const SchemaSpec& schema) {
  if (auto s = CheckServiceName(schema.service); !s.ok()) return s;
  auto opts = ParseUrl(url, schema.service);
  if (!opts.ok()) return opts.status();
  const int threads = opts->pool_size;
  auto db = std::make_unique<PgDatabase>(*std::move(opts));
  if (auto s = db->Migrate(schema); !s.ok()) return s;
  db->StartThreads(threads);
  return db;
}

}  // namespace cstopa::common
