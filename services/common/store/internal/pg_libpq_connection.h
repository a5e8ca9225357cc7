// One session with a PostgreSQL server through libpq: the Connection the
// pool and the I/O loop use, plus what transactions run on it (Exec, Run).
//
// Statements are prepared once per session (their `?` placeholders
// rewritten to $n) and kept in a bounded cache; the server infers parameter
// types and parameters are encoded for them (pg_codec.h). Results come in
// binary format. Used by one thread at a time.
#ifndef CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_LIBPQ_CONNECTION_H_
#define CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_LIBPQ_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/store/internal/pg_codec.h"
#include "services/common/store/internal/pg_connection.h"
#include "services/common/store/internal/pg_url.h"

namespace cstopa::common::pg {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// The status for a failure of `conn` (or of `res`, a result of it) while
// doing `what`: the server's report when there is one, libpq's otherwise.
absl::Status PgError(PGconn* conn, const PGresult* res, absl::string_view what);

class LibpqConnection : public Connection {
 public:
  // `opts` must outlive the connection.
  explicit LibpqConnection(const Options* opts) : opts_(opts) {}
  ~LibpqConnection() override { Close(); }
  LibpqConnection(const LibpqConnection&) = delete;
  LibpqConnection& operator=(const LibpqConnection&) = delete;

  // Connection. Connect also sets the search path to the service's schema.
  absl::Status Connect() override;
  absl::Status EnsureConnected() override;
  bool Reusable() const override {
    return transaction_status() == PQTRANS_IDLE;
  }
  void Close() override;
  absl::Status Send(const std::string& sql, const SqlValues& params) override;
  int socket() const override {
    return conn_ == nullptr ? -1 : PQsocket(conn_);
  }
  absl::StatusOr<bool> Receive() override;
  absl::Status AnswerStatus() override;
  absl::Status ForEachRow(
      absl::FunctionRef<absl::Status(const SqlRow&)> on_row) override;
  void Cancel() override;

  // True when the session is gone (never opened, closed, or lost).
  bool broken() const {
    return conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD;
  }
  PGTransactionStatusType transaction_status() const {
    return conn_ == nullptr ? PQTRANS_UNKNOWN : PQtransactionStatus(conn_);
  }

  // Runs `sql` (one or more statements, no parameters) with the simple
  // query protocol; `what` names it in errors.
  absl::Status Exec(const std::string& sql, absl::string_view what);

  // Statements run by Run are cancelled on the server once `deadline`
  // passes (the call's deadline; InfiniteFuture: no limit).
  void set_deadline(absl::Time deadline) { deadline_ = deadline; }

  // Runs one statement with `?` placeholders through the statement cache
  // and waits for its result: rows or a command's success, or the error.
  absl::StatusOr<Result> Run(absl::string_view sql, const SqlValues& params);

 private:
  struct Statement {
    std::string name;
    std::vector<Oid> param_types;  // as the server inferred them
  };

  absl::StatusOr<const Statement*> Prepare(absl::string_view sql);
  // The prepared statement for `sql`, with `params` encoded for it.
  absl::StatusOr<const Statement*> Bind(absl::string_view sql,
                                        const SqlValues& params,
                                        EncodedParams* encoded);
  absl::StatusOr<Result> RunUntilDeadline(const Statement& stmt,
                                          const EncodedParams& encoded);
  // `res` when it holds rows or a command's success; its error otherwise.
  absl::StatusOr<Result> Checked(absl::string_view sql, Result res);
  // False when the server closed this idle connection.
  bool IdleConnectionAlive();

  const Options* opts_;
  PGconn* conn_ = nullptr;
  absl::Time deadline_ = absl::InfiniteFuture();
  absl::flat_hash_map<std::string, Statement> cache_;
  int64_t next_statement_ = 0;
  // The statement sent by Send and the first result of its answer.
  std::string sent_sql_;
  Result answer_;
};

}  // namespace cstopa::common::pg

#endif  // CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_LIBPQ_CONNECTION_H_
