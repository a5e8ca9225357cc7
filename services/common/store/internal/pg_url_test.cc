// Tests of pg_url.h: the store URL's settings and their validation messages.
#include "services/common/store/internal/pg_url.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cstopa::common::pg {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// The value of libpq keyword `key` in `opts` ("" when absent).
std::string Param(const Options& opts, const std::string& key) {
  for (const auto& [k, v] : opts.params) {
    if (k == key) return v;
  }
  return "";
}

TEST(ParseUrlTest, DefaultsAndDisplay) {
  auto opts = ParseUrl("postgresql://app:secret@db.local:5433/cstopa", "svc");
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->pool_size, 8);
  EXPECT_EQ(opts->pool_timeout, absl::Seconds(5));
  EXPECT_EQ(opts->schema, "svc");
  // For messages: never the password.
  EXPECT_EQ(opts->display, "app@db.local:5433/cstopa");
  EXPECT_EQ(Param(*opts, "connect_timeout"), "5");
  EXPECT_EQ(Param(*opts, "keepalives"), "1");
  EXPECT_EQ(Param(*opts, "tcp_user_timeout"), "30000");
  EXPECT_EQ(Param(*opts, "client_encoding"), "UTF8");
  EXPECT_EQ(Param(*opts, "fallback_application_name"), "cstopa_svc");
  // The URL comes last, so that libpq expands it over the defaults.
  ASSERT_FALSE(opts->params.empty());
  EXPECT_THAT(opts->params.back(),
              Pair("dbname", "postgresql://app:secret@db.local:5433/cstopa"));
}

TEST(ParseUrlTest, DisplayWithoutUserOrPort) {
  auto opts = ParseUrl("postgres:///cstopa", "svc");
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->display, "localhost/cstopa");
  opts = ParseUrl("postgresql://10.0.0.1/x", "svc");
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->display, "10.0.0.1/x");
}

TEST(ParseUrlTest, OurParametersAreTakenOutTheRestKept) {
  auto opts = ParseUrl(
      "postgresql://u@h/db?sslmode=disable&pool_size=16&"
      "pool_timeout_ms=250&connect_timeout=2",
      "svc");
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->pool_size, 16);
  EXPECT_EQ(opts->pool_timeout, absl::Milliseconds(250));
  EXPECT_EQ(opts->params.back().second,
            "postgresql://u@h/db?sslmode=disable&connect_timeout=2");
  // Only ours: no query string left.
  opts = ParseUrl("postgresql://u@h/db?pool_size=1", "svc");
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->pool_size, 1);
  EXPECT_EQ(opts->params.back().second, "postgresql://u@h/db");
}

TEST(ParseUrlTest, PoolBoundsAreCheckedWithAMessage) {
  for (const char* bad : {"pool_size=0", "pool_size=65", "pool_size=x",
                          "pool_size=", "pool_size=1.5"}) {
    auto opts = ParseUrl(std::string("postgresql://u@h/db?") + bad, "svc");
    ASSERT_FALSE(opts.ok()) << bad;
    EXPECT_EQ(opts.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(opts.status()),
                HasSubstr("pool_size must be an integer in 1..64"))
        << bad;
  }
  EXPECT_TRUE(ParseUrl("postgresql://u@h/db?pool_size=64", "svc").ok());
  for (const char* bad : {"pool_timeout_ms=0", "pool_timeout_ms=600001"}) {
    auto opts = ParseUrl(std::string("postgresql://u@h/db?") + bad, "svc");
    ASSERT_FALSE(opts.ok()) << bad;
    EXPECT_THAT(Message(opts.status()),
                HasSubstr("pool_timeout_ms must be an integer in 1..600000"));
  }
  EXPECT_TRUE(
      ParseUrl("postgresql://u@h/db?pool_timeout_ms=600000", "svc").ok());
}

TEST(ParseUrlTest, LibpqRefusesUnknownParameters) {
  auto opts = ParseUrl("postgresql://u@h/db?no_such_param=1", "svc");
  ASSERT_FALSE(opts.ok());
  EXPECT_EQ(opts.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(opts.status()), HasSubstr("bad PostgreSQL URL"));
  EXPECT_THAT(Message(opts.status()), HasSubstr("no_such_param"));
}

TEST(ParseUrlTest, OtherSchemesAreRefused) {
  for (const char* url :
       {"mysql://u@h/db", "sqlite:///x.db", "postgresql:/x", ""}) {
    auto opts = ParseUrl(url, "svc");
    ASSERT_FALSE(opts.ok()) << url;
    EXPECT_EQ(opts.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(opts.status()), HasSubstr("postgresql://"));
  }
}

TEST(CheckServiceNameTest, SchemaNames) {
  for (const char* ok : {"membership", "_x", "a1_b2", "t_0123abcd"}) {
    EXPECT_TRUE(CheckServiceName(ok).ok()) << ok;
  }
  EXPECT_TRUE(CheckServiceName(std::string(63, 'a')).ok());
  for (const std::string& bad :
       {std::string(""), std::string("Upper"), std::string("1abc"),
        std::string("a-b"), std::string("pg_x"), std::string("a b"),
        std::string(64, 'a'), std::string("\xc3\xa9")}) {
    absl::Status s = CheckServiceName(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(Message(s), HasSubstr("[a-z_][a-z0-9_]*")) << bad;
  }
}

}  // namespace
}  // namespace cstopa::common::pg
