// Tests of pg_codec.h: everything between the SQL layer's values and
// PostgreSQL's wire forms, without a server. Results are built by hand with
// libpq's PQmakeEmptyPGresult, as a server would send them in binary format.
#include "services/common/store/internal/pg_codec.h"

#include <libpq-fe.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cstopa::common::pg {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// ---------------------------------------------------------------------------
// Statement text.

TEST(RewritePlaceholdersTest, NumbersEachPlaceholder) {
  int n = -1;
  EXPECT_EQ(RewritePlaceholders("SELECT a FROM t WHERE b = ? AND c > ?", &n),
            "SELECT a FROM t WHERE b = $1 AND c > $2");
  EXPECT_EQ(n, 2);
  EXPECT_EQ(RewritePlaceholders("SELECT 1", &n), "SELECT 1");
  EXPECT_EQ(n, 0);
  EXPECT_EQ(RewritePlaceholders("?", &n), "$1");
  EXPECT_EQ(n, 1);
}

TEST(RewritePlaceholdersTest, SkipsQuotesCommentsAndDollarQuotes) {
  int n = -1;
  EXPECT_EQ(RewritePlaceholders("SELECT '?', 'it''s ?', ? FROM t", &n),
            "SELECT '?', 'it''s ?', $1 FROM t");
  EXPECT_EQ(n, 1);
  EXPECT_EQ(RewritePlaceholders("SELECT \"odd?col\" FROM t WHERE x = ?", &n),
            "SELECT \"odd?col\" FROM t WHERE x = $1");
  EXPECT_EQ(n, 1);
  EXPECT_EQ(RewritePlaceholders("SELECT E'a\\'?', ? -- why?\n, ? /* ? */", &n),
            "SELECT E'a\\'?', $1 -- why?\n, $2 /* ? */");
  EXPECT_EQ(n, 2);
  EXPECT_EQ(RewritePlaceholders("SELECT $$ ? $$, $q$ '?' $q$, ?", &n),
            "SELECT $$ ? $$, $q$ '?' $q$, $1");
  EXPECT_EQ(n, 1);
  // Unterminated: copied as is, nothing past the quote is rewritten.
  EXPECT_EQ(RewritePlaceholders("SELECT ?, 'abc ?", &n), "SELECT $1, 'abc ?");
  EXPECT_EQ(n, 1);
}

TEST(StatusCodeForSqlStateTest, MapsTheStatesCallersActOn) {
  EXPECT_EQ(StatusCodeForSqlState("23505"), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusCodeForSqlState("40001"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("40P01"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("57014"),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusCodeForSqlState("08006"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("57P01"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("57P03"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("42601"), absl::StatusCode::kInternal);
  EXPECT_EQ(StatusCodeForSqlState("08P01"), absl::StatusCode::kInternal);
}

TEST(RewritePlaceholdersTest, EdgesOfQuotesAndDollars) {
  int n = -1;
  // An identifier ending in E is not an escape-string prefix.
  EXPECT_EQ(RewritePlaceholders("SELECT NAME'a\\', ?", &n),
            "SELECT NAME'a\\', $1");
  EXPECT_EQ(n, 1);
  // $1 in the text is no dollar quote; a$b$ is part of an identifier.
  EXPECT_EQ(RewritePlaceholders("SELECT $1, a$b$, ?", &n),
            "SELECT $1, a$b$, $1");
  EXPECT_EQ(n, 1);
  // Unterminated comments and identifiers swallow the rest.
  EXPECT_EQ(RewritePlaceholders("SELECT ? /* ?", &n), "SELECT $1 /* ?");
  EXPECT_EQ(RewritePlaceholders("SELECT ? \"a?", &n), "SELECT $1 \"a?");
  EXPECT_EQ(RewritePlaceholders("SELECT ? -- ?", &n), "SELECT $1 -- ?");
  EXPECT_EQ(n, 1);
  // Ten and more.
  EXPECT_EQ(RewritePlaceholders("?,?,?,?,?,?,?,?,?,?,?", &n),
            "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11");
  EXPECT_EQ(n, 11);
}

TEST(QuoteIdentifierTest, Quotes) {
  EXPECT_EQ(QuoteIdentifier("membership"), "\"membership\"");
  EXPECT_EQ(QuoteIdentifier("select"), "\"select\"");
}

// ---------------------------------------------------------------------------
// Parameters.

TEST(EncodeParamsTest, EachKindInItsForm) {
  const std::string bytes("a\0b", 3);
  const SqlValues params = {std::monostate{},  int64_t{-42}, 0.1, bytes,
                            std::string("41"), bytes};
  const std::vector<Oid> types = {kTextOid,  kInt8Oid, kFloat8Oid,
                                  kByteaOid, kInt8Oid, kTextOid};
  EncodedParams out;
  ASSERT_TRUE(EncodeParams(params, types, &out).ok());
  ASSERT_EQ(out.values.size(), 6u);
  // NULL.
  EXPECT_EQ(out.values[0], nullptr);
  // Numbers as text, in their shortest exact form.
  EXPECT_STREQ(out.values[1], "-42");
  EXPECT_EQ(out.formats[1], 0);
  EXPECT_STREQ(out.values[2], "0.1");
  EXPECT_EQ(out.formats[2], 0);
  // A string for bytea: its raw bytes, NUL included, in binary.
  EXPECT_EQ(std::string(out.values[3], out.lengths[3]), bytes);
  EXPECT_EQ(out.formats[3], 1);
  // A string for a bigint parameter: as text, for the server to convert.
  EXPECT_STREQ(out.values[4], "41");
  EXPECT_EQ(out.formats[4], 0);
  // Text too travels in binary (its binary form is its bytes).
  EXPECT_EQ(out.formats[5], 1);
  EXPECT_EQ(out.lengths[5], 3);
}

TEST(EncodeParamsTest, BinaryStringTypes) {
  for (Oid type : {kByteaOid, kTextOid, kVarcharOid, kBpcharOid, kJsonOid}) {
    EncodedParams out;
    ASSERT_TRUE(EncodeParams({std::string("x")}, {type}, &out).ok());
    EXPECT_EQ(out.formats[0], 1) << type;
  }
  for (Oid type : {kInt8Oid, kInt4Oid, kBoolOid, kJsonbOid, kUnknownOid,
                   Oid{1700} /* numeric */}) {
    EncodedParams out;
    ASSERT_TRUE(EncodeParams({std::string("1")}, {type}, &out).ok());
    EXPECT_EQ(out.formats[0], 0) << type;
  }
}

TEST(EncodeParamsTest, CountMismatchIsInternal) {
  EncodedParams out;
  absl::Status s = EncodeParams({int64_t{1}}, {kInt8Oid, kInt8Oid}, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(s), HasSubstr("expects 2 parameters, got 1"));
}

TEST(DoubleToStringTest, ShortestExactForms) {
  EXPECT_EQ(DoubleToString(0.1), "0.1");
  EXPECT_EQ(DoubleToString(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(DoubleToString(1e300), "1e+300");
  EXPECT_EQ(DoubleToString(-0.0), "-0");
  EXPECT_EQ(DoubleToString(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(DoubleToString(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(TextArrayLiteralTest, QuotesEveryElement) {
  EXPECT_EQ(TextArrayLiteral({}), "{}");
  EXPECT_EQ(TextArrayLiteral({"a"}), "{\"a\"}");
  EXPECT_EQ(TextArrayLiteral({"a", "b"}), "{\"a\",\"b\"}");
}

TEST(TextArrayLiteralTest, EscapesQuotesAndBackslashes) {
  EXPECT_EQ(TextArrayLiteral({"b\"q"}), "{\"b\\\"q\"}");
  EXPECT_EQ(TextArrayLiteral({"c\\d"}), "{\"c\\\\d\"}");
  EXPECT_EQ(TextArrayLiteral({"\\\""}), "{\"\\\\\\\"\"}");
}

TEST(TextArrayLiteralTest, SeparatorsNullAndEmptyAreElements) {
  // Inside quotes, commas, braces and spaces are plain characters; "NULL"
  // quoted is the word, not a NULL element; "" is the empty string.
  EXPECT_EQ(TextArrayLiteral({"e,f", "{g}", "h i", "NULL", ""}),
            "{\"e,f\",\"{g}\",\"h i\",\"NULL\",\"\"}");
  // Non-ASCII bytes pass through untouched.
  EXPECT_EQ(TextArrayLiteral({"\xd0\x96"}), "{\"\xd0\x96\"}");
}

// ---------------------------------------------------------------------------
// Results.

std::string BigEndian(uint64_t v, int n) {
  std::string out(n, '\0');
  for (int i = n - 1; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v);
  return out;
}

TEST(DecodeCellTest, Integers) {
  EXPECT_EQ(DecodeCell(ColumnKind::kInt8, BigEndian(uint64_t(-5), 8)),
            SqlValue(int64_t{-5}));
  EXPECT_EQ(DecodeCell(ColumnKind::kInt8, BigEndian(uint64_t{1} << 63, 8)),
            SqlValue(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(DecodeCell(ColumnKind::kInt4, BigEndian(0x80000000u, 4)),
            SqlValue(int64_t{-2147483647 - 1}));
  EXPECT_EQ(DecodeCell(ColumnKind::kInt2, BigEndian(0x8000u, 2)),
            SqlValue(int64_t{-32768}));
  // An OID is unsigned.
  EXPECT_EQ(DecodeCell(ColumnKind::kOid, BigEndian(0xffffffffu, 4)),
            SqlValue(int64_t{4294967295}));
  EXPECT_EQ(DecodeCell(ColumnKind::kBool, std::string(1, '\1')),
            SqlValue(int64_t{1}));
  EXPECT_EQ(DecodeCell(ColumnKind::kBool, std::string(1, '\0')),
            SqlValue(int64_t{0}));
}

TEST(DecodeCellTest, FloatsExactly) {
  const double third = 1.0 / 3.0;
  uint64_t bits;
  std::memcpy(&bits, &third, sizeof bits);
  EXPECT_EQ(DecodeCell(ColumnKind::kFloat8, BigEndian(bits, 8)),
            SqlValue(third));
  const float half = 0.5f;
  uint32_t fbits;
  std::memcpy(&fbits, &half, sizeof fbits);
  EXPECT_EQ(DecodeCell(ColumnKind::kFloat4, BigEndian(fbits, 4)),
            SqlValue(0.5));
}

TEST(DecodeCellTest, TextBytesAndJsonb) {
  const std::string binary("a\0b\xff", 4);
  EXPECT_EQ(DecodeCell(ColumnKind::kBytes, binary), SqlValue(binary));
  EXPECT_EQ(DecodeCell(ColumnKind::kBytes, ""), SqlValue(std::string()));
  // Binary jsonb: version byte 1, then the text.
  EXPECT_EQ(DecodeCell(ColumnKind::kJsonb, "\1{\"a\": 1}"),
            SqlValue(std::string("{\"a\": 1}")));
  EXPECT_EQ(DecodeCell(ColumnKind::kJsonb, ""), SqlValue(std::string()));
  EXPECT_EQ(CellText(ColumnKind::kJsonb, "\1[]"), "[]");
  EXPECT_EQ(CellText(ColumnKind::kBytes, "\1[]"), "\1[]");
}

TEST(DecodeCellTest, NumberOfTheWrongLengthIsNull) {
  EXPECT_EQ(DecodeCell(ColumnKind::kInt8, "abc"), SqlValue(std::monostate{}));
  EXPECT_EQ(DecodeCell(ColumnKind::kInt4, ""), SqlValue(std::monostate{}));
}

TEST(KindOfColumnTest, KnownTypesAndAHelpfulError) {
  EXPECT_EQ(*KindOfColumn(kInt8Oid, 0, "a"), ColumnKind::kInt8);
  EXPECT_EQ(*KindOfColumn(kVarcharOid, 0, "a"), ColumnKind::kBytes);
  EXPECT_EQ(*KindOfColumn(kJsonbOid, 0, "a"), ColumnKind::kJsonb);
  auto numeric = KindOfColumn(1700, 2, "total");
  ASSERT_FALSE(numeric.ok());
  EXPECT_EQ(numeric.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(numeric.status()), HasSubstr("column 3 (total)"));
  EXPECT_THAT(Message(numeric.status()), HasSubstr("OID 1700"));
  EXPECT_THAT(Message(numeric.status()), HasSubstr("cast it"));
}

TEST(ToIntTest, EveryKind) {
  EXPECT_EQ(ToInt(int64_t{7}), 7);
  EXPECT_EQ(ToInt(2.9), 2);
  EXPECT_EQ(ToInt(-2.9), -2);
  EXPECT_EQ(ToInt(1e300), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(ToInt(-1e300), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ToInt(std::nan("")), 0);
  EXPECT_EQ(ToInt(std::string("-12")), -12);
  EXPECT_EQ(ToInt(std::string("x")), 0);
  EXPECT_EQ(ToInt(std::monostate{}), 0);
}

// A binary-format result with the given column types, filled by hand.
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

Result MakeResult(const std::vector<Oid>& types) {
  Result res(PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK));
  std::vector<PGresAttDesc> attrs(types.size());
  std::vector<std::string> names(types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    names[i] = "c" + std::to_string(i);
    attrs[i].name = names[i].data();
    attrs[i].format = 1;
    attrs[i].typid = types[i];
    attrs[i].typlen = -1;
    attrs[i].atttypmod = -1;
  }
  EXPECT_TRUE(PQsetResultAttrs(res.get(), static_cast<int>(attrs.size()),
                               attrs.data()));
  return res;
}

void Set(PGresult* res, int row, int col, std::string value) {
  ASSERT_TRUE(
      PQsetvalue(res, row, col, value.data(), static_cast<int>(value.size())));
}

void SetNull(PGresult* res, int row, int col) {
  ASSERT_TRUE(PQsetvalue(res, row, col, nullptr, -1));
}

TEST(PgRowTest, ReadsCellsAsTheSqlLayerDoes) {
  Result res = MakeResult(
      {kInt8Oid, kInt2Oid, kTextOid, kFloat8Oid, kJsonbOid, kInt8Oid});
  const double quarter = 0.25;
  uint64_t bits;
  std::memcpy(&bits, &quarter, sizeof bits);
  Set(res.get(), 0, 0, BigEndian(uint64_t(-9), 8));
  Set(res.get(), 0, 1, BigEndian(uint16_t(-3), 2));
  Set(res.get(), 0, 2, "héllo");
  Set(res.get(), 0, 3, BigEndian(bits, 8));
  Set(res.get(), 0, 4, "\1{}");
  SetNull(res.get(), 0, 5);
  auto kinds = ColumnKinds(res.get());
  ASSERT_TRUE(kinds.ok()) << kinds.status();
  PgRow row(res.get(), &*kinds);
  row.set_row(0);
  EXPECT_EQ(row.size(), 6);
  EXPECT_EQ(row.Int(0), -9);
  EXPECT_EQ(row.Int(1), -3);
  // Numbers read as text give their decimal form.
  EXPECT_EQ(row.Bytes(0), "-9");
  EXPECT_EQ(row.Bytes(1), "-3");
  EXPECT_EQ(row.Bytes(3), "0.25");
  EXPECT_EQ(row.Bytes(2), "héllo");
  EXPECT_EQ(row.Value(2), SqlValue(std::string("héllo")));
  EXPECT_EQ(row.Value(3), SqlValue(0.25));
  EXPECT_EQ(row.Int(3), 0);  // 0.25 truncated
  EXPECT_EQ(row.Bytes(4), "{}");
  // NULL reads as 0, "" and monostate.
  EXPECT_TRUE(row.IsNull(5));
  EXPECT_FALSE(row.IsNull(0));
  EXPECT_EQ(row.Int(5), 0);
  EXPECT_EQ(row.Bytes(5), "");
  EXPECT_EQ(row.Value(5), SqlValue(std::monostate{}));
  // Out of range reads as NULL.
  EXPECT_TRUE(row.IsNull(6));
  EXPECT_TRUE(row.IsNull(-1));
  EXPECT_EQ(row.Int(6), 0);
  EXPECT_EQ(row.Bytes(-1), "");
  EXPECT_EQ(row.Value(6), SqlValue(std::monostate{}));
}

TEST(PgRowTest, StepsThroughRows) {
  Result res = MakeResult({kInt4Oid});
  for (int r = 0; r < 3; ++r) Set(res.get(), r, 0, BigEndian(r * 10, 4));
  auto kinds = ColumnKinds(res.get());
  ASSERT_TRUE(kinds.ok());
  PgRow row(res.get(), &*kinds);
  std::vector<int64_t> seen;
  for (int r = 0; r < PQntuples(res.get()); ++r) {
    row.set_row(r);
    seen.push_back(row.Int(0));
  }
  EXPECT_THAT(seen, ElementsAre(0, 10, 20));
}

TEST(ColumnKindsTest, RefusesAResultWithAnUnreadColumn) {
  Result res = MakeResult({kInt8Oid, 1184 /* timestamptz */});
  auto kinds = ColumnKinds(res.get());
  ASSERT_FALSE(kinds.ok());
  EXPECT_THAT(Message(kinds.status()), HasSubstr("column 2 (c1)"));
}

// ---------------------------------------------------------------------------
// Errors.

TEST(ErrorStatusTest, OneLineWithConstraintAndState) {
  absl::Status s = ErrorStatus(
      {"23505", "duplicate key value\nviolates", "t_pkey"}, "query", false);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Message(s),
            "postgresql query: duplicate key value violates (constraint "
            "t_pkey) [SQLSTATE 23505]");
}

TEST(ErrorStatusTest, LibpqMessagesAndLostConnections) {
  // libpq's own text: tabs and line breaks flattened, no state.
  absl::Status s = ErrorStatus(
      {"", "server closed the connection unexpectedly\n\tThis probably\n", ""},
      "query", /*connection_lost=*/true);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Message(s),
            "postgresql query: server closed the connection unexpectedly  "
            "This probably");
  // A lost connection is UNAVAILABLE whatever the state says.
  EXPECT_EQ(ErrorStatus({"42601", "syntax", ""}, "query", true).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorStatus({}, "commit", false).message(),
            "postgresql commit: unknown error");
}

}  // namespace
}  // namespace cstopa::common::pg
