// What the connection pool (pg_pool.h) and the I/O loop (pg_async_io.h) need
// of a connection to PostgreSQL, as an interface: the real one is
// LibpqConnection (pg_libpq_connection.h); tests drive the pool and the loop
// with fakes.
//
// A connection is used by one thread at a time: whoever holds it from the
// pool, or the I/O loop while a statement it sent is in flight.
#ifndef CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_CONNECTION_H_
#define CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_CONNECTION_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/base/sql_value.h"
#include "services/common/store/sql.h"

namespace cstopa::common::pg {

class Connection {
 public:
  virtual ~Connection() = default;

  // --- For the pool.

  // Opens a new session (closing any old one). UNAVAILABLE when the server
  // cannot be reached.
  virtual absl::Status Connect() = 0;
  // Reopens the session if it is gone (a server restart, a network failure).
  virtual absl::Status EnsureConnected() = 0;
  // True when the session can go to its next user as is: connected and not
  // inside a transaction. The pool closes a connection given back otherwise.
  virtual bool Reusable() const = 0;
  // Ends the session (the next user reconnects).
  virtual void Close() = 0;

  // --- For the I/O loop: one statement sent without waiting, its answer
  // read as it arrives.

  // Sends `sql` (with `?` placeholders) bound to `params` without waiting
  // for the answer. The connection was idle: if the server closed it
  // meanwhile, it is reopened first (nothing was sent yet).
  virtual absl::Status Send(const std::string& sql,
                            const SqlValues& params) = 0;
  // The socket that becomes readable as the answer arrives (-1 when closed).
  virtual int socket() const = 0;
  // Reads what arrived: true once the answer is complete, false while more
  // is to come; an error (UNAVAILABLE) when the connection failed.
  virtual absl::StatusOr<bool> Receive() = 0;
  // Once Receive returned true: OK when the statement succeeded, the
  // server's error otherwise (mapped as pg_codec.h's ErrorStatus says).
  virtual absl::Status AnswerStatus() = 0;
  // Once AnswerStatus returned OK: runs `on_row` over the answer's rows,
  // stopping at the first error it returns, which is returned; an error too
  // when the rows cannot be read (a column type the SQL layer does not
  // read). Frees the answer.
  virtual absl::Status ForEachRow(
      absl::FunctionRef<absl::Status(const SqlRow&)> on_row) = 0;
  // Asks the server to cancel the statement in flight; its answer (an
  // error) still has to be read. Blocks until the request is sent.
  virtual void Cancel() = 0;
};

}  // namespace cstopa::common::pg

#endif  // CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_CONNECTION_H_
