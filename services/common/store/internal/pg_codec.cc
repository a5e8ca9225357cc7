#include "services/common/store/internal/pg_codec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cstopa::common::pg {
namespace {

bool IsIdentifierChar(char ch) {
  return absl::ascii_isalnum(ch) || ch == '_' ||
         static_cast<unsigned char>(ch) >= 0x80;
}

// Parameter types sent in binary format when the value is a std::string:
// their binary form is the raw bytes (NULs included, for bytea).
bool BinaryForString(Oid type) {
  return type == kByteaOid || type == kTextOid || type == kVarcharOid ||
         type == kBpcharOid || type == kJsonOid;
}

uint64_t LoadBigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// The length of a binary cell of a numeric kind; -1 for the others.
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

}  // namespace

// ---------------------------------------------------------------------------
// Statement text.

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

std::string QuoteIdentifier(absl::string_view name) {
  return absl::StrCat("\"", name, "\"");
}

// ---------------------------------------------------------------------------
// Parameters.

absl::Status EncodeParams(const SqlValues& params,
                          const std::vector<Oid>& types, EncodedParams* out) {
  const size_t n = types.size();
  if (params.size() != n) {
    return absl::InternalError(absl::StrCat("postgresql: statement expects ", n,
                                            " parameters, got ",
                                            params.size()));
  }
  out->values.assign(n, nullptr);
  out->lengths.assign(n, 0);
  out->formats.assign(n, 0);
  out->numbers.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const SqlValue& v = params[i];
    if (const auto* x = std::get_if<int64_t>(&v)) {
      out->numbers[i] = absl::StrCat(*x);
      out->values[i] = out->numbers[i].c_str();
    } else if (const auto* d = std::get_if<double>(&v)) {
      out->numbers[i] = DoubleToString(*d);  // shortest exact form
      out->values[i] = out->numbers[i].c_str();
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      out->values[i] = s->c_str();
      out->lengths[i] = static_cast<int>(s->size());
      out->formats[i] = BinaryForString(types[i]) ? 1 : 0;
    }
  }
  return absl::OkStatus();
}

std::string DoubleToString(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::string TextArrayLiteral(const std::vector<absl::string_view>& items) {
  std::string out = "{";
  for (absl::string_view item : items) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    for (char ch : item) {
      if (ch == '"' || ch == '\\') out.push_back('\\');
      out.push_back(ch);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

// ---------------------------------------------------------------------------
// Results.

absl::StatusOr<ColumnKind> KindOfColumn(Oid type, int index,
                                        absl::string_view name) {
  switch (type) {
    case kInt8Oid:
      return ColumnKind::kInt8;
    case kInt4Oid:
      return ColumnKind::kInt4;
    case kInt2Oid:
      return ColumnKind::kInt2;
    case kOidOid:
      return ColumnKind::kOid;
    case kBoolOid:
      return ColumnKind::kBool;
    case kFloat8Oid:
      return ColumnKind::kFloat8;
    case kFloat4Oid:
      return ColumnKind::kFloat4;
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kNameOid:
    case kCharOid:
    case kUnknownOid:
    case kByteaOid:
    case kJsonOid:
      return ColumnKind::kBytes;
    case kJsonbOid:
      return ColumnKind::kJsonb;
    default:
      return absl::InternalError(absl::StrCat(
          "postgresql: result column ", index + 1, " (", name,
          ") has a type (OID ", type,
          ") the SQL layer does not read; cast it to bigint, double "
          "precision, text or bytea in the query"));
  }
}

absl::StatusOr<std::vector<ColumnKind>> ColumnKinds(const PGresult* res) {
  const int n = PQnfields(res);
  std::vector<ColumnKind> kinds;
  kinds.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto kind = KindOfColumn(PQftype(res, i), i, PQfname(res, i));
    if (!kind.ok()) return kind.status();
    kinds.push_back(*kind);
  }
  return kinds;
}

SqlValue DecodeCell(ColumnKind kind, absl::string_view bytes) {
  const char* p = bytes.data();
  const int len = static_cast<int>(bytes.size());
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
    case ColumnKind::kBytes:
      break;
  }
  return std::string(CellText(kind, bytes));
}

absl::string_view CellText(ColumnKind kind, absl::string_view bytes) {
  if (kind == ColumnKind::kJsonb && !bytes.empty()) bytes.remove_prefix(1);
  return bytes;
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

absl::string_view PgRow::Cell(int col) const {
  return absl::string_view(PQgetvalue(res_, row_, col),
                           static_cast<size_t>(PQgetlength(res_, row_, col)));
}

bool PgRow::IsNull(int col) const {
  return !Valid(col) || PQgetisnull(res_, row_, col);
}

int64_t PgRow::Int(int col) const {
  if (IsNull(col)) return 0;
  const ColumnKind kind = (*kinds_)[col];
  absl::string_view cell = Cell(col);
  if (kind == ColumnKind::kInt8 && cell.size() == 8) {  // the common case
    return static_cast<int64_t>(LoadBigEndian(cell.data(), 8));
  }
  return ToInt(DecodeCell(kind, cell));
}

absl::string_view PgRow::Bytes(int col) const {
  if (IsNull(col)) return absl::string_view();
  const ColumnKind kind = (*kinds_)[col];
  if (!IsNumeric(kind)) return CellText(kind, Cell(col));
  if (scratch_.size() < kinds_->size()) scratch_.resize(kinds_->size());
  SqlValue v = DecodeCell(kind, Cell(col));
  if (const auto* i = std::get_if<int64_t>(&v)) {
    scratch_[col] = absl::StrCat(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    scratch_[col] = DoubleToString(*d);
  } else {
    scratch_[col].clear();
  }
  return scratch_[col];
}

SqlValue PgRow::Value(int col) const {
  if (IsNull(col)) return std::monostate{};
  return DecodeCell((*kinds_)[col], Cell(col));
}

// ---------------------------------------------------------------------------
// Errors.

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

absl::Status ErrorStatus(const ErrorReport& report, absl::string_view what,
                         bool connection_lost) {
  std::string msg = report.message;
  absl::StripAsciiWhitespace(&msg);
  // libpq's own messages span lines ("server closed the connection
  // unexpectedly\n\tThis probably means ..."): keep one line.
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  std::replace(msg.begin(), msg.end(), '\t', ' ');
  if (msg.empty()) msg = "unknown error";
  std::string text = absl::StrCat("postgresql ", what, ": ", msg);
  if (!report.constraint.empty()) {
    absl::StrAppend(&text, " (constraint ", report.constraint, ")");
  }
  if (!report.sqlstate.empty()) {
    absl::StrAppend(&text, " [SQLSTATE ", report.sqlstate, "]");
  }
  // A lost connection, whatever the message, is the server's unavailability.
  const absl::StatusCode code = connection_lost
                                    ? absl::StatusCode::kUnavailable
                                    : StatusCodeForSqlState(report.sqlstate);
  return absl::Status(code, text);
}

absl::Status DeadlinePassed() {
  return absl::DeadlineExceededError(
      "the call's deadline passed before the store finished");
}

}  // namespace cstopa::common::pg
