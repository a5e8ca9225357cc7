// How values travel between the SQL layer (sql.h) and PostgreSQL, with no
// connection involved: the text of statements (`?` placeholders to $n),
// parameters in libpq's form, the text arrays of batched reads, the values
// of binary-format results, and status codes for server errors.
//
// Internal to the PostgreSQL back end (postgres.cc and its parts); each
// function is a pure computation, tested in pg_codec_test.cc.
#ifndef CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_CODEC_H_
#define CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_CODEC_H_

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/common/base/sql_value.h"
#include "services/common/store/sql.h"

namespace cstopa::common::pg {

// ---------------------------------------------------------------------------
// Statement text.

// `sql` with each `?` placeholder replaced by $1, $2, ...; their number is
// stored in `*count`. A `?` inside a quoted literal ('...', E'...'), a quoted
// identifier, a comment or a dollar-quoted string is not a placeholder (so
// PostgreSQL's `?`, `?|`, `?&` jsonb operators cannot be used).
std::string RewritePlaceholders(absl::string_view sql, int* count);

// `name` as a quoted SQL identifier. Only validated names reach here
// ([a-z_][a-z0-9_]*); quoting keeps reserved words usable as service names.
std::string QuoteIdentifier(absl::string_view name);

// ---------------------------------------------------------------------------
// Parameters.

// Type OIDs (src/include/catalog/pg_type.dat); stable across releases.
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kCharOid = 18;
inline constexpr Oid kNameOid = 19;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kInt2Oid = 21;
inline constexpr Oid kInt4Oid = 23;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kOidOid = 26;
inline constexpr Oid kJsonOid = 114;
inline constexpr Oid kFloat4Oid = 700;
inline constexpr Oid kFloat8Oid = 701;
inline constexpr Oid kUnknownOid = 705;
inline constexpr Oid kBpcharOid = 1042;
inline constexpr Oid kVarcharOid = 1043;
inline constexpr Oid kJsonbOid = 3802;

// Parameters in the form PQexecPrepared and PQsendQueryPrepared take.
// `values` point into `numbers` and into the SqlValues encoded, which must
// outlive their use.
struct EncodedParams {
  std::vector<const char*> values;  // null: SQL NULL
  std::vector<int> lengths;         // of binary values
  std::vector<int> formats;         // 0 text, 1 binary
  std::vector<std::string> numbers;
};

// `params` for a prepared statement whose parameter types the server
// inferred as `types`. Numbers travel as text (the server converts them to
// the parameter's type, so a bigint may be bound where numeric is expected);
// strings travel as their raw bytes in binary format where that is their
// binary form (bytea, text, varchar, char(n), json: NULs and all), as text
// otherwise (so "41" binds to a bigint parameter, as SQLite would coerce
// it). INTERNAL when the counts differ.
absl::Status EncodeParams(const SqlValues& params,
                          const std::vector<Oid>& types, EncodedParams* out);

// The shortest text that reads back as exactly `d` ("0.1", "1e+300", "inf").
std::string DoubleToString(double d);

// `items` as a PostgreSQL array literal of text, for `= ANY(?)`: every
// element quoted, `"` and `\` escaped, so that commas, braces, spaces, the
// word NULL and the empty string are all elements like any other:
//   {"a","b\"c","NULL",""}
std::string TextArrayLiteral(const std::vector<absl::string_view>& items);

// ---------------------------------------------------------------------------
// Results (always requested in binary format).

// How a result column's cells are read.
enum class ColumnKind {
  kInt8,
  kInt4,
  kInt2,
  kOid,
  kBool,
  kFloat8,
  kFloat4,
  kBytes,  // text, varchar, char(n), name, "char", bytea, json, unknown
  kJsonb,  // a version byte, then the text
};

// The kind of a column of type `type`; INTERNAL for types the SQL layer does
// not read, naming the column (`index` from 0, `name`) and how to fix the
// query.
absl::StatusOr<ColumnKind> KindOfColumn(Oid type, int index,
                                        absl::string_view name);

// The kinds of every column of `res`.
absl::StatusOr<std::vector<ColumnKind>> ColumnKinds(const PGresult* res);

// The value of a non-NULL binary cell of `kind`: int64_t for the integer
// kinds and booleans (0/1), double for the floating ones, std::string
// otherwise. A number of the wrong length (which no server sends) reads as
// NULL.
SqlValue DecodeCell(ColumnKind kind, absl::string_view bytes);

// The bytes of a text-like cell without a copy (jsonb without its version
// byte).
absl::string_view CellText(ColumnKind kind, absl::string_view bytes);

// `v` as an integer, as SqlRow::Int reads it: doubles truncated (saturating,
// 0 for NaN), decimal text parsed (0 when it is not a number), NULL as 0.
int64_t ToInt(const SqlValue& v);

// One row of a binary-format result, as the SQL layer reads it. Reading a
// column out of range reads NULL.
class PgRow : public SqlRow {
 public:
  // `res` and `kinds` (ColumnKinds(res)) must outlive the row.
  PgRow(const PGresult* res, const std::vector<ColumnKind>* kinds)
      : res_(res), kinds_(kinds) {}

  void set_row(int row) { row_ = row; }

  int size() const override { return static_cast<int>(kinds_->size()); }
  bool IsNull(int col) const override;
  int64_t Int(int col) const override;
  // A number reads as its decimal text, kept until the next call.
  absl::string_view Bytes(int col) const override;
  SqlValue Value(int col) const override;

 private:
  bool Valid(int col) const {
    return col >= 0 && col < static_cast<int>(kinds_->size());
  }
  absl::string_view Cell(int col) const;

  const PGresult* res_;
  const std::vector<ColumnKind>* kinds_;
  int row_ = 0;
  mutable std::vector<std::string> scratch_;
};

// ---------------------------------------------------------------------------
// Errors.

// The status code for a PostgreSQL SQLSTATE: unique violations
// ALREADY_EXISTS, serialization failures and deadlocks ABORTED, statement
// timeouts and cancels DEADLINE_EXCEEDED, connection failures UNAVAILABLE,
// everything else INTERNAL.
absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate);

// What an error report of the server (or of libpq) says.
struct ErrorReport {
  std::string sqlstate;    // empty for libpq's own errors
  std::string message;     // the primary message, or libpq's text
  std::string constraint;  // the constraint violated, if any
};

// The status for `report`, met while doing `what` ("query", "commit", ...):
// "postgresql <what>: <message> (constraint c) [SQLSTATE s]" on one line,
// with StatusCodeForSqlState's code, or UNAVAILABLE whatever the state when
// `connection_lost`.
absl::Status ErrorStatus(const ErrorReport& report, absl::string_view what,
                         bool connection_lost);

// DEADLINE_EXCEEDED: the call's deadline passed before the store finished.
absl::Status DeadlinePassed();

}  // namespace cstopa::common::pg

#endif  // CSTOPA_SERVICES_COMMON_STORE_INTERNAL_PG_CODEC_H_
