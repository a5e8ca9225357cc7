#include "services/common/query/filter.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

using ::google::protobuf::FieldDescriptorProto;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const std::vector<FilterField>& Fields() {
  static const auto* const kFields = new std::vector<FilterField>{
      {"name", "name", FilterFieldType::kString},
      {"tags", "tags", FilterFieldType::kTextList},
      {"n", "n", FilterFieldType::kInt},
      {"flag", "flag", FilterFieldType::kBool},
      {"kind", "kind", FilterFieldType::kEnum,
       FieldDescriptorProto::Type_descriptor()},
      {"ts", "ts", FilterFieldType::kTimestamp},
      {"day", "day", FilterFieldType::kDate},
  };
  return *kFields;
}

// Row 5 is all NULL. Kinds: TYPE_STRING = 9, TYPE_INT64 = 3,
// TYPE_MESSAGE = 11. Times: 2024-01-02T03:04:05Z, 2024-06-01T00:00:00Z,
// 2023-12-31T23:00:00Z, 1969-12-31T23:59:59.5Z.
constexpr absl::string_view kSchema = R"sql(
CREATE TABLE t (id INTEGER, name TEXT, tags TEXT, n INTEGER, flag INTEGER,
                kind INTEGER, ts INTEGER, day INTEGER);
INSERT INTO t VALUES
  (1, 'Alice', char(10) || 'red' || char(10) || 'blue' || char(10),
   1, 1, 9, 1704164645000000, 20220501),
  (2, 'bob', char(10) || 'green' || char(10),
   5, 0, 3, 1717200000000000, 20230115),
  (3, 'x'' OR 1=1 --', char(10) || 'Dark Red' || char(10),
   -3, 0, 11, 1704063600000000, NULL),
  (4, '"100%" sure_thing\', char(10) || '50%' || char(10),
   10, 1, 9, -500000, 20220430),
  (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
)sql";

class FilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, std::string(kSchema).c_str(), nullptr, nullptr,
                           &error),
              SQLITE_OK)
        << error;
  }
  void TearDown() override { sqlite3_close(db_); }

  // The ids of the rows `filter` selects, or {-1} if it does not compile.
  std::vector<int> Match(absl::string_view filter) {
    absl::StatusOr<SqlCondition> cond = CompileFilter(filter, Fields());
    EXPECT_TRUE(cond.ok()) << filter << ": " << cond.status();
    if (!cond.ok()) return {-1};
    EXPECT_EQ(std::count(cond->sql.begin(), cond->sql.end(), '?'),
              static_cast<std::ptrdiff_t>(cond->params.size()))
        << cond->sql;
    std::string sql = "SELECT id FROM t";
    if (!cond->sql.empty()) absl::StrAppend(&sql, " WHERE ", cond->sql);
    sql += " ORDER BY id";
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr),
              SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    if (stmt == nullptr) return {-1};
    for (size_t i = 0; i < cond->params.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, int64_t>) {
              sqlite3_bind_int64(stmt, index, v);
            } else if constexpr (std::is_same_v<T, double>) {
              sqlite3_bind_double(stmt, index, v);
            } else if constexpr (std::is_same_v<T, std::string>) {
              sqlite3_bind_text(stmt, index, v.data(),
                                static_cast<int>(v.size()), SQLITE_TRANSIENT);
            } else {
              sqlite3_bind_null(stmt, index);
            }
          },
          cond->params[i]);
    }
    std::vector<int> ids;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      ids.push_back(sqlite3_column_int(stmt, 0));
    }
    EXPECT_EQ(rc, SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    return ids;
  }

  sqlite3* db_ = nullptr;
};

// The description of the "filter" violation in the INVALID_FILTER error that
// CompileFilter returns for `filter`.
std::string Violation(absl::string_view filter) {
  absl::StatusOr<SqlCondition> cond = CompileFilter(filter, Fields());
  EXPECT_FALSE(cond.ok()) << filter << " compiled to " << cond->sql;
  if (cond.ok()) return "";
  const absl::Status& status = cond.status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  auto info = GetErrorInfo(status);
  EXPECT_TRUE(info.has_value()) << status;
  if (info) {
    EXPECT_EQ(info->reason(), "INVALID_FILTER");
  }
  auto bad = GetBadRequest(status);
  EXPECT_TRUE(bad.has_value()) << status;
  if (!bad || bad->field_violations_size() != 1) {
    ADD_FAILURE() << "expected one field violation: " << status;
    return "";
  }
  EXPECT_EQ(bad->field_violations(0).field(), "filter");
  return bad->field_violations(0).description();
}

TEST_F(FilterTest, EmptyOrBlankMatchesEverything) {
  for (absl::string_view blank : {"", "   ", " \t\n "}) {
    absl::StatusOr<SqlCondition> cond = CompileFilter(blank, Fields());
    ASSERT_TRUE(cond.ok()) << cond.status();
    EXPECT_EQ(cond->sql, "");
    EXPECT_THAT(cond->params, IsEmpty());
  }
  EXPECT_THAT(Match(""), ElementsAre(1, 2, 3, 4, 5));
}

TEST_F(FilterTest, StringOperators) {
  EXPECT_THAT(Match("name = bob"), ElementsAre(2));
  EXPECT_THAT(Match("name = BOB"), IsEmpty());
  EXPECT_THAT(Match("name != bob"), ElementsAre(1, 3, 4, 5));  // NULL too
  EXPECT_THAT(Match("name < b"), ElementsAre(1, 4));  // bytewise: "A", "\""
  EXPECT_THAT(Match("name <= bob"), ElementsAre(1, 2, 4));
  EXPECT_THAT(Match("name > bob"), ElementsAre(3));
  EXPECT_THAT(Match("name >= bob"), ElementsAre(2, 3));
  EXPECT_THAT(Match("name : LIC"), ElementsAre(1));
  EXPECT_THAT(Match("name:o"), ElementsAre(2, 3));
  EXPECT_THAT(Match("name : ''"), ElementsAre(1, 2, 3, 4));
}

TEST_F(FilterTest, LikeWildcardsMatchLiterally) {
  EXPECT_THAT(Match("name : \"%\""), ElementsAre(4));
  EXPECT_THAT(Match("name : _"), ElementsAre(4));
  EXPECT_THAT(Match("name : '\\\\'"), ElementsAre(4));
  EXPECT_THAT(Match("name : 'e_t'"), ElementsAre(4));  // "sure_thing"
  EXPECT_THAT(Match("name : 'r%t'"), IsEmpty());       // no "sure...t"
  EXPECT_THAT(Match("tags : '%'"), ElementsAre(4));
  EXPECT_THAT(Match("tags = '%'"), IsEmpty());
}

TEST_F(FilterTest, HostileValuesAreBoundParameters) {
  EXPECT_THAT(Match(R"(name = "x' OR 1=1 --")"), ElementsAre(3));
  EXPECT_THAT(Match(R"(name = 'x\' OR 1=1 --')"), ElementsAre(3));
  EXPECT_THAT(Match(R"(name = "x' OR 1=1")"), IsEmpty());
  EXPECT_THAT(Match(R"(name : "' OR 1=1 --")"), ElementsAre(3));
  EXPECT_THAT(Match(R"(name = "'; DROP TABLE t; --")"), IsEmpty());
  EXPECT_THAT(Match(""), ElementsAre(1, 2, 3, 4, 5));  // table still there

  absl::StatusOr<SqlCondition> cond =
      CompileFilter(R"(name = "x' OR 1=1 --" OR tags : "); --")", Fields());
  ASSERT_TRUE(cond.ok()) << cond.status();
  EXPECT_EQ(cond->sql,
            "((name = ?) OR (lower(tags) LIKE lower(?) ESCAPE '\\'))");
  EXPECT_THAT(cond->params, ElementsAre(SqlValue(std::string("x' OR 1=1 --")),
                                        SqlValue(std::string("%); --%"))));
}

TEST_F(FilterTest, QuotesAndEscapes) {
  EXPECT_THAT(Match("name = 'bob'"), ElementsAre(2));
  EXPECT_THAT(Match("name = \"bob\""), ElementsAre(2));
  EXPECT_THAT(Match(R"(name = "\"100%\" sure_thing\\")"), ElementsAre(4));
  EXPECT_THAT(Match(R"(name = '"100%" sure_thing\\')"), ElementsAre(4));
  EXPECT_THAT(Match(R"(name : "\"1")"), ElementsAre(4));
  EXPECT_THAT(Match(R"(name : 'x\'')"), ElementsAre(3));
  EXPECT_THAT(Match(R"(name = "AND")"), IsEmpty());  // quoted keyword is text

  absl::StatusOr<SqlCondition> cond =
      CompileFilter(R"(name = "a\nb")", Fields());
  ASSERT_TRUE(cond.ok()) << cond.status();
  EXPECT_THAT(cond->params, ElementsAre(SqlValue(std::string("a\nb"))));
}

TEST_F(FilterTest, TextList) {
  EXPECT_THAT(Match("tags = red"), ElementsAre(1));
  EXPECT_THAT(Match("tags = blue"), ElementsAre(1));
  EXPECT_THAT(Match("tags = RED"), IsEmpty());  // = is case-sensitive
  EXPECT_THAT(Match("tags = re"), IsEmpty());   // whole elements only
  EXPECT_THAT(Match("tags = 'Dark Red'"), ElementsAre(3));
  EXPECT_THAT(Match("tags != red"), ElementsAre(2, 3, 4, 5));
  EXPECT_THAT(Match("tags : RED"), ElementsAre(1, 3));
  EXPECT_THAT(Match("tags : ee"), ElementsAre(2));
  EXPECT_THAT(Match("NOT tags : red"), ElementsAre(2, 4, 5));
}

TEST_F(FilterTest, Int) {
  EXPECT_THAT(Match("n = 5"), ElementsAre(2));
  EXPECT_THAT(Match("n = '5'"), ElementsAre(2));
  EXPECT_THAT(Match("n = -3"), ElementsAre(3));
  EXPECT_THAT(Match("n != 5"), ElementsAre(1, 3, 4, 5));
  EXPECT_THAT(Match("n < 1"), ElementsAre(3));
  EXPECT_THAT(Match("n <= 1"), ElementsAre(1, 3));
  EXPECT_THAT(Match("n > 1"), ElementsAre(2, 4));
  EXPECT_THAT(Match("n>=-3"), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(Match("n < 9223372036854775807"), ElementsAre(1, 2, 3, 4));
}

TEST_F(FilterTest, Bool) {
  EXPECT_THAT(Match("flag = true"), ElementsAre(1, 4));
  EXPECT_THAT(Match("flag = false"), ElementsAre(2, 3));
  EXPECT_THAT(Match("flag != true"), ElementsAre(2, 3, 5));
  EXPECT_THAT(Match("flag != false"), ElementsAre(1, 4, 5));
}

TEST_F(FilterTest, EnumByName) {
  EXPECT_THAT(Match("kind = TYPE_STRING"), ElementsAre(1, 4));
  EXPECT_THAT(Match("kind = \"TYPE_MESSAGE\""), ElementsAre(3));
  EXPECT_THAT(Match("kind != TYPE_STRING"), ElementsAre(2, 3, 5));
  EXPECT_THAT(Match("kind = TYPE_BOOL"), IsEmpty());
}

TEST_F(FilterTest, Timestamp) {
  EXPECT_THAT(Match("ts = 2024-01-02T03:04:05Z"), ElementsAre(1));
  EXPECT_THAT(Match("ts = \"2024-01-02T04:04:05+01:00\""), ElementsAre(1));
  EXPECT_THAT(Match("ts = 2024-01-01T22:04:05-05:00"), ElementsAre(1));
  // Row 3 is 2023-12-31T23:00:00Z, the same instant as midnight at +01:00.
  EXPECT_THAT(Match("ts < 2024-01-01T00:00:00+01:00"), ElementsAre(4));
  EXPECT_THAT(Match("ts <= 2024-01-01T00:00:00+01:00"), ElementsAre(3, 4));
  EXPECT_THAT(Match("ts > 2024-01-02T03:04:04.999999Z"), ElementsAre(1, 2));
  EXPECT_THAT(Match("ts >= 2024-01-02T03:04:05.000001Z"), ElementsAre(2));
  EXPECT_THAT(Match("ts = 1970-01-01T00:59:59.5+01:00"), ElementsAre(4));
  EXPECT_THAT(Match("ts != 2024-01-02T03:04:05Z"), ElementsAre(2, 3, 4, 5));
}

TEST_F(FilterTest, Date) {
  EXPECT_THAT(Match("day = 2022-05-01"), ElementsAre(1));
  EXPECT_THAT(Match("day < 2022-05-01"), ElementsAre(4));
  EXPECT_THAT(Match("day <= 2022-05-01"), ElementsAre(1, 4));
  EXPECT_THAT(Match("day > 2022-05-01"), ElementsAre(2));
  EXPECT_THAT(Match("day >= '2022-05-01'"), ElementsAre(1, 2));
  EXPECT_THAT(Match("day != 2022-05-01"), ElementsAre(2, 3, 4, 5));
  EXPECT_THAT(Match("day = 2024-02-29"), IsEmpty());  // leap day is valid
}

TEST_F(FilterTest, NullFailsComparisonsAndNotIsTheComplement) {
  EXPECT_THAT(Match("day < 2023-01-01 OR day >= 2023-01-01"),
              ElementsAre(1, 2, 4));
  EXPECT_THAT(Match("NOT day < 2023-01-01"), ElementsAre(2, 3, 5));
  EXPECT_THAT(Match("-day < 2023-01-01"), ElementsAre(2, 3, 5));
  EXPECT_THAT(Match("NOT (day < 2023-01-01 OR n > 100)"), ElementsAre(2, 3, 5));
  EXPECT_THAT(Match("NOT NOT day < 2023-01-01"), ElementsAre(1, 4));
  EXPECT_THAT(Match("NOT name != bob"), ElementsAre(2));
}

TEST_F(FilterTest, Logic) {
  EXPECT_THAT(Match("n > 0 AND flag = true"), ElementsAre(1, 4));
  EXPECT_THAT(Match("n > 0 flag = true"), ElementsAre(1, 4));  // implicit AND
  EXPECT_THAT(Match("n = 1 OR n = 5"), ElementsAre(1, 2));
  EXPECT_THAT(Match("n = 1 OR n = 5 OR n = 10"), ElementsAre(1, 2, 4));
  EXPECT_THAT(Match("NOT n = 1"), ElementsAre(2, 3, 4, 5));
  EXPECT_THAT(Match("-n = 1"), ElementsAre(2, 3, 4, 5));
  EXPECT_THAT(Match("NOT(n = 1 OR n = 5)"), ElementsAre(3, 4, 5));
  EXPECT_THAT(Match("-(n = 1 OR n = 5) flag = true"), ElementsAre(4));
  EXPECT_THAT(Match("(n=1)OR(n=5)"), ElementsAre(1, 2));
  EXPECT_THAT(Match("((n > 0) AND ((flag = false)))"), ElementsAre(2));
  EXPECT_THAT(Match(" n = 1\tOR\nn = 5 "), ElementsAre(1, 2));
}

TEST_F(FilterTest, OrBindsTighterThanAnd) {
  // a AND b OR c == a AND (b OR c), not (a AND b) OR c.
  EXPECT_THAT(Match("n = 1 AND n = 5 OR flag = true"), ElementsAre(1));
  EXPECT_THAT(Match("(n = 1 AND n = 5) OR flag = true"), ElementsAre(1, 4));
  EXPECT_THAT(Match("n = 1 n = 5 OR flag = true"), ElementsAre(1));
  EXPECT_THAT(Match("n = 1 OR n = 5 AND flag = false"), ElementsAre(2));
  EXPECT_THAT(Match("n = 1 OR n = 5 flag = false"), ElementsAre(2));

  absl::StatusOr<SqlCondition> cond =
      CompileFilter("n = 1 AND n = 2 OR NOT n = 3", Fields());
  ASSERT_TRUE(cond.ok()) << cond.status();
  EXPECT_EQ(cond->sql, "((n = ?) AND ((n = ?) OR ((n = ?) IS NOT TRUE)))");
  EXPECT_THAT(cond->params,
              ElementsAre(SqlValue(int64_t{1}), SqlValue(int64_t{2}),
                          SqlValue(int64_t{3})));
}

TEST_F(FilterTest, LimitsAreInclusive) {
  std::string longest = "name = \"";
  longest.resize(kMaxFilterLength - 1, 'a');
  longest += '"';
  EXPECT_THAT(Match(longest), IsEmpty());

  std::string deepest = std::string(kMaxFilterDepth, '(') + "n = 1" +
                        std::string(kMaxFilterDepth, ')');
  EXPECT_THAT(Match(deepest), ElementsAre(1));
  std::string nots;
  for (int i = 0; i < kMaxFilterDepth; ++i) nots += "NOT ";
  EXPECT_THAT(Match(nots + "n = 1"), ElementsAre(1));  // even count

  std::string most = "n = 0";
  for (int i = 1; i < kMaxFilterComparisons; ++i) {
    absl::StrAppend(&most, " OR n = ", i);
  }
  EXPECT_THAT(Match(most), ElementsAre(1, 2, 4));
}

TEST(FilterErrorTest, ErrorsSayWhatWhereAndWhatIsExpected) {
  struct Case {
    absl::string_view filter;
    std::vector<std::string> parts;  // in the description
  };
  const Case kCases[] = {
      // Unknown or malformed fields; the known ones are listed.
      {"bogus = 1",
       {"unknown field \"bogus\" at offset 0",
        "name, tags, n, flag, kind, ts, day"}},
      {"n = 1 AND bogus = 2", {"unknown field \"bogus\" at offset 10"}},
      {"Name = bob", {"\"Name\" is not a field name at offset 0"}},
      {"n = 1 and n = 2", {"unknown field \"and\" at offset 6"}},
      {"n = 1 or n = 2", {"unknown field \"or\""}},
      {"name.first = x", {"missing operator after field name at offset 4"}},
      // Operators the type does not support.
      {"kind < TYPE_STRING",
       {"operator < does not apply to kind (an enum field) at offset 5",
        "expected one of = !="}},
      {"n : 1", {"operator : does not apply to n", "one of = != < > <= >="}},
      {"tags > a", {"operator > does not apply to tags", "one of = != :"}},
      {"flag >= true", {"operator >= does not apply to flag"}},
      {"day : 2022", {"operator : does not apply to day"}},
      {"ts : 2022", {"operator : does not apply to ts"}},
      // Bad values.
      {"n = abc",
       {"invalid value \"abc\" for n (an integer field) at offset 4",
        "64-bit decimal integer"}},
      {"n = 99999999999999999999", {"invalid value"}},
      {"n = 1.5", {"invalid value \"1.5\""}},
      {"n = +1", {"invalid value \"+1\""}},
      {"n = ' 1'", {"invalid value \" 1\""}},
      {"flag = 1", {"invalid value \"1\" for flag", "true or false"}},
      {"flag = TRUE", {"invalid value \"TRUE\""}},
      {"kind = TYPE_BOGUS",
       {"invalid value \"TYPE_BOGUS\" for kind", "TYPE_DOUBLE", "TYPE_STRING",
        "TYPE_SINT64"}},
      {"kind = 9", {"invalid value \"9\" for kind"}},
      {"ts = 2024-01-01", {"invalid value \"2024-01-01\" for ts", "RFC 3339"}},
      {"ts = 2024-13-01T00:00:00Z", {"invalid value"}},
      {"ts = 2024-01-01T00:00:00", {"invalid value"}},  // no offset
      {"ts = yesterday", {"invalid value"}},
      {"ts = infinite-future", {"invalid value"}},
      {"ts = 10000-01-01T00:00:00Z", {"invalid value"}},
      {"day = 2022-02-30",
       {"invalid value \"2022-02-30\" for day", "YYYY-MM-DD"}},
      {"day = 20220501", {"invalid value"}},
      {"day = 2022-5-1", {"invalid value"}},
      {"day = 0000-01-01", {"invalid value"}},
      {"tags = 'a\\nb'", {"invalid value", "without newlines"}},
      {"tags : 'a\\nb'", {"invalid value", "without newlines"}},
      // Missing or malformed values.
      {"n =", {"the filter ends at offset 3", "expected a value"}},
      {"n = )", {"unexpected ')' at offset 4", "expected a value"}},
      {"n = = 1", {"unexpected '=' at offset 4"}},
      {"n = AND", {"keyword AND instead of a value at offset 4"}},
      {"name = OR n = 1", {"keyword OR instead of a value"}},
      {"name = \"abc", {"unterminated text at offset 7", "closing '\"'"}},
      {"name = 'abc\\'", {"unterminated text at offset 7", "closing '''"}},
      {"name = \"a\\qb\"", {"unknown escape sequence at offset 9"}},
      // Missing operators.
      {"n", {"missing operator after field n at offset 1"}},
      {"n 1", {"missing operator after field n at offset 2"}},
      {"n == 1", {"unexpected '=' at offset 3"}},
      // Unbalanced parentheses and trailing input.
      {"(n = 1", {"'(' without a matching ')' at offset 0"}},
      {"((n = 1) OR (n = 2)", {"'(' without a matching ')' at offset 0"}},
      {"n = 1)", {"')' without a matching '(' at offset 5"}},
      {"(n = 1))", {"')' without a matching '(' at offset 7"}},
      {"()", {"unexpected ')' at offset 1", "expected a comparison"}},
      {"n = 1 \"junk\"", {"unexpected '\"' at offset 6"}},
      {"n = 1 *", {"unexpected '*' at offset 6"}},
      {"n = 1 42", {"\"42\" is not a field name at offset 6"}},
      // Keywords without operands.
      {"AND", {"AND without a left operand at offset 0"}},
      {"OR", {"OR without a left operand at offset 0"}},
      {"AND n = 1", {"AND without a left operand"}},
      {"n = 1 AND", {"AND without a right operand at offset 6"}},
      {"n = 1 OR", {"OR without a right operand at offset 6"}},
      {"(n = 1 OR)", {"OR without a right operand at offset 7"}},
      {"n = 1 AND OR n = 2", {"OR without a left operand at offset 10"}},
      {"NOT", {"the filter ends at offset 3", "expected a comparison"}},
      {"-", {"the filter ends at offset 1"}},
      // Bytes PostgreSQL would reject.
      {absl::string_view("name = \"a\0\"", 11),
       {"a NUL byte or invalid UTF-8 at offset 9"}},
      {"name = \"\xff\"", {"invalid UTF-8 at offset 8"}},
      {"name = \"\xc3\"", {"invalid UTF-8 at offset 8"}},
      {"name = \xc3\xa9\xed\xa0\x80", {"invalid UTF-8 at offset 9"}},
  };
  for (const Case& c : kCases) {
    const std::string description = Violation(c.filter);
    EXPECT_THAT(description, HasSubstr("; expected ")) << c.filter;
    for (const std::string& part : c.parts) {
      EXPECT_THAT(description, HasSubstr(part)) << c.filter;
    }
  }
}

TEST(FilterErrorTest, NonAsciiTextIsFine) {
  absl::StatusOr<SqlCondition> cond =
      CompileFilter("name = Zoë name : \"Müller\"", Fields());
  ASSERT_TRUE(cond.ok()) << cond.status();
  EXPECT_THAT(cond->params, ElementsAre(SqlValue(std::string("Zoë")),
                                        SqlValue(std::string("%Müller%"))));
}

TEST(FilterErrorTest, TooLong) {
  std::string filter = "name = \"";
  filter.resize(kMaxFilterLength, 'a');
  filter += '"';
  EXPECT_THAT(Violation(filter),
              AllOf(HasSubstr("2049 bytes long"), HasSubstr("at most 2048")));
}

TEST(FilterErrorTest, TooDeep) {
  std::string parens = std::string(kMaxFilterDepth + 1, '(') + "n = 1" +
                       std::string(kMaxFilterDepth + 1, ')');
  EXPECT_THAT(Violation(parens),
              HasSubstr("nesting deeper than 32 levels at offset 32"));
  std::string nots;
  for (int i = 0; i <= kMaxFilterDepth; ++i) nots += "NOT ";
  EXPECT_THAT(Violation(nots + "n = 1"),
              HasSubstr("nesting deeper than 32 levels at offset 128"));
  EXPECT_THAT(Violation(std::string(kMaxFilterDepth + 1, '-') + "n = 1"),
              HasSubstr("nesting deeper than 32 levels"));
  // Hostile depth far beyond the limit fails cleanly too.
  EXPECT_THAT(Violation(std::string(2000, '(')), HasSubstr("nesting deeper"));
}

TEST(FilterErrorTest, TooManyComparisons) {
  std::string filter = "n = 0";
  for (int i = 1; i <= kMaxFilterComparisons; ++i) {
    absl::StrAppend(&filter, " n != ", i);
  }
  EXPECT_THAT(Violation(filter), HasSubstr("more than 64 comparisons"));
}

TEST(FilterErrorTest, MisconfiguredEnumFieldIsInternal) {
  const FilterField fields[] = {{"e", "e", FilterFieldType::kEnum}};
  absl::StatusOr<SqlCondition> cond = CompileFilter("e = X", fields);
  EXPECT_EQ(cond.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(cond.status().message(), Not(IsEmpty()));
}

}  // namespace
}  // namespace cstopa::common
