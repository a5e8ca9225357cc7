#include "services/common/store/internal/pg_libpq_connection.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cstopa::common::pg {
namespace {

constexpr size_t kStatementCacheSize = 256;
// How long a statement cancelled at its deadline may take to answer before
// the connection is closed.
constexpr absl::Duration kCancelGrace = absl::Seconds(5);

void IgnoreNotice(void*, const char*) {}

void SendCancel(PGconn* conn) {
  if (PGcancel* cancel = PQgetCancel(conn)) {
    char err[256];
    (void)PQcancel(cancel, err, sizeof(err));
    PQfreeCancel(cancel);
  }
}

}  // namespace

absl::Status PgError(PGconn* conn, const PGresult* res,
                     absl::string_view what) {
  ErrorReport report;
  if (res != nullptr) {
    if (const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE)) {
      report.sqlstate = state;
    }
    if (const char* c = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME)) {
      report.constraint = c;
    }
  }
  const char* primary = res != nullptr
                            ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                            : nullptr;
  if (primary != nullptr) {
    report.message = primary;
  } else if (res != nullptr && *PQresultErrorMessage(res) != '\0') {
    report.message = PQresultErrorMessage(res);
  } else if (conn != nullptr) {
    report.message = PQerrorMessage(conn);
  }
  const bool lost = conn == nullptr || PQstatus(conn) == CONNECTION_BAD;
  return ErrorStatus(report, what, lost);
}

// ---------------------------------------------------------------------------
// The session.

absl::Status LibpqConnection::Connect() {
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
    return absl::UnavailableError(absl::StrCat("postgresql: cannot connect to ",
                                               opts_->display, ": ", msg));
  }
  PQsetNoticeProcessor(conn_, &IgnoreNotice, nullptr);
  absl::Status s =
      Exec(absl::StrCat("SET search_path TO ", QuoteIdentifier(opts_->schema)),
           "set search_path");
  if (!s.ok()) Close();
  return s;
}

absl::Status LibpqConnection::EnsureConnected() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) {
    return absl::OkStatus();
  }
  return Connect();
}

void LibpqConnection::Close() {
  answer_.reset();
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  cache_.clear();  // statements die with the session
}

absl::Status LibpqConnection::Exec(const std::string& sql,
                                   absl::string_view what) {
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

// ---------------------------------------------------------------------------
// Prepared statements.

absl::StatusOr<const LibpqConnection::Statement*> LibpqConnection::Prepare(
    absl::string_view sql) {
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
  const int n = PQnparams(described.get());
  stmt.param_types.reserve(n);
  for (int i = 0; i < n; ++i) {
    stmt.param_types.push_back(PQparamtype(described.get(), i));
  }
  auto [pos, inserted] = cache_.emplace(std::string(sql), std::move(stmt));
  return &pos->second;
}

absl::StatusOr<const LibpqConnection::Statement*> LibpqConnection::Bind(
    absl::string_view sql, const SqlValues& params, EncodedParams* encoded) {
  if (conn_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("postgresql: not connected to ", opts_->display));
  }
  auto found = Prepare(sql);
  if (!found.ok()) return found.status();
  if (auto s = EncodeParams(params, (*found)->param_types, encoded); !s.ok()) {
    return s;
  }
  return found;
}

absl::StatusOr<Result> LibpqConnection::Checked(absl::string_view sql,
                                                Result res) {
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

// ---------------------------------------------------------------------------
// Waiting for the answer (transactions).

absl::StatusOr<Result> LibpqConnection::Run(absl::string_view sql,
                                            const SqlValues& params) {
  EncodedParams encoded;
  auto found = Bind(sql, params, &encoded);
  if (!found.ok()) return found.status();
  Result res;
  if (deadline_ == absl::InfiniteFuture()) {
    res.reset(PQexecPrepared(conn_, (*found)->name.c_str(),
                             static_cast<int>(encoded.values.size()),
                             encoded.values.data(), encoded.lengths.data(),
                             encoded.formats.data(), /*resultFormat=*/1));
  } else {
    auto got = RunUntilDeadline(**found, encoded);
    if (!got.ok()) return got.status();
    res = std::move(*got);
  }
  return Checked(sql, std::move(res));
}

// Sends the prepared statement and waits for its result until the deadline;
// then asks the server to cancel it (SQLSTATE 57014, which maps to
// DEADLINE_EXCEEDED) and waits a little longer for the reply. A server that
// does not answer even then costs the connection.
absl::StatusOr<Result> LibpqConnection::RunUntilDeadline(
    const Statement& stmt, const EncodedParams& encoded) {
  if (!PQsendQueryPrepared(conn_, stmt.name.c_str(),
                           static_cast<int>(encoded.values.size()),
                           encoded.values.data(), encoded.lengths.data(),
                           encoded.formats.data(), /*resultFormat=*/1)) {
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
      SendCancel(conn_);
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

// ---------------------------------------------------------------------------
// Not waiting for the answer (the I/O loop).

bool LibpqConnection::IdleConnectionAlive() {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return false;
  // The closing message or EOF of a server that dropped the session is
  // waiting to be read: one poll, no round trip.
  pollfd pfd{PQsocket(conn_), POLLIN, 0};
  if (poll(&pfd, 1, 0) <= 0) return true;
  if (!PQconsumeInput(conn_)) return false;
  return PQstatus(conn_) == CONNECTION_OK && !PQisBusy(conn_);
}

absl::Status LibpqConnection::Send(const std::string& sql,
                                   const SqlValues& params) {
  answer_.reset();
  sent_sql_ = sql;
  if (!IdleConnectionAlive()) {
    if (absl::Status s = Connect(); !s.ok()) return s;
  }
  EncodedParams encoded;
  auto found = Bind(sql, params, &encoded);
  if (!found.ok()) return found.status();
  if (!PQsendQueryPrepared(conn_, (*found)->name.c_str(),
                           static_cast<int>(encoded.values.size()),
                           encoded.values.data(), encoded.lengths.data(),
                           encoded.formats.data(), /*resultFormat=*/1)) {
    return PgError(conn_, nullptr, "query");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> LibpqConnection::Receive() {
  if (conn_ == nullptr || !PQconsumeInput(conn_)) {
    return PgError(conn_, nullptr, "query");
  }
  while (!PQisBusy(conn_)) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) return true;  // the answer is complete
    // The first result is the statement's; any later one is dropped.
    if (answer_ == nullptr) {
      answer_.reset(r);
    } else {
      PQclear(r);
    }
  }
  return false;
}

absl::Status LibpqConnection::AnswerStatus() {
  auto checked = Checked(sent_sql_, std::move(answer_));
  if (!checked.ok()) return checked.status();
  answer_ = std::move(*checked);
  return absl::OkStatus();
}

absl::Status LibpqConnection::ForEachRow(
    absl::FunctionRef<absl::Status(const SqlRow&)> on_row) {
  Result res = std::move(answer_);
  if (res == nullptr) return absl::InternalError("postgresql: no answer");
  auto kinds = ColumnKinds(res.get());
  if (!kinds.ok()) return kinds.status();
  PgRow row(res.get(), &*kinds);
  const int rows = PQntuples(res.get());
  for (int r = 0; r < rows; ++r) {
    row.set_row(r);
    if (absl::Status s = on_row(row); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void LibpqConnection::Cancel() {
  if (conn_ != nullptr) SendCancel(conn_);
}

}  // namespace cstopa::common::pg
