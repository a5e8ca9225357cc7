#include "services/common/query/paging.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kFingerprint =
    "members|parent=assemblies/a1|filter=state = \"ACTIVE\"|order_by=name|"
    "show_deleted=false|as_of=";

PageCursor SampleCursor() {
  PageCursor c;
  c.last_values = {std::monostate{}, int64_t{42}, 2.5,
                   std::string("Zoë Müller")};
  c.last_name = "assemblies/a1/members/m7";
  return c;
}

// Asserts `status` is the page-token error and returns its description.
std::string PageTokenViolation(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  auto info = GetErrorInfo(status);
  EXPECT_TRUE(info.has_value()) << status;
  if (info) {
    EXPECT_EQ(info->reason(), "INVALID_PAGE_TOKEN");
  }
  auto bad = GetBadRequest(status);
  EXPECT_TRUE(bad.has_value()) << status;
  if (!bad || bad->field_violations_size() != 1) {
    ADD_FAILURE() << "expected one field violation: " << status;
    return "";
  }
  EXPECT_EQ(bad->field_violations(0).field(), "page_token");
  return bad->field_violations(0).description();
}

std::string Raw(absl::string_view token) {
  std::string raw;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(token, &raw));
  return raw;
}

// --- NormalizePageSize ------------------------------------------------------

TEST(NormalizePageSizeTest, Table) {
  struct Case {
    int32_t requested;
    int32_t expected;
  };
  const Case cases[] = {
      {0, kDefaultPageSize},
      {1, 1},
      {49, 49},
      {50, 50},
      {999, 999},
      {kMaxPageSize, kMaxPageSize},
      {kMaxPageSize + 1, kMaxPageSize},
      {std::numeric_limits<int32_t>::max(), kMaxPageSize},
  };
  for (const Case& c : cases) {
    auto got = NormalizePageSize(c.requested);
    ASSERT_TRUE(got.ok()) << c.requested << ": " << got.status();
    EXPECT_EQ(*got, c.expected) << c.requested;
  }
  EXPECT_EQ(kDefaultPageSize, 50);
  EXPECT_EQ(kMaxPageSize, 1000);
}

TEST(NormalizePageSizeTest, NegativeIsInvalidArgumentOnPageSize) {
  for (int32_t requested : {-1, -50, std::numeric_limits<int32_t>::min()}) {
    auto got = NormalizePageSize(requested);
    ASSERT_FALSE(got.ok()) << requested;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(),
                HasSubstr("page_size: must not be negative"));
    auto bad = GetBadRequest(got.status());
    ASSERT_TRUE(bad.has_value());
    ASSERT_EQ(bad->field_violations_size(), 1);
    EXPECT_EQ(bad->field_violations(0).field(), "page_size");
  }
}

// --- Round trips ------------------------------------------------------------

TEST(PageTokenCodecTest, RoundTripsEveryValueKind) {
  PageTokenCodec codec("0123456789abcdef0123456789abcdef");
  const std::string with_nuls("a\0b\0\0c", 6);
  const PageCursor cursors[] = {
      PageCursor{},
      SampleCursor(),
      PageCursor{{std::monostate{}}, ""},
      PageCursor{{int64_t{0}, int64_t{-1}, int64_t{1}, int64_t{-64},
                  int64_t{64}, std::numeric_limits<int64_t>::min(),
                  std::numeric_limits<int64_t>::max(), int64_t{1} << 40,
                  -(int64_t{1} << 40)},
                 "n"},
      PageCursor{
          {0.0, -0.0, 1e-300, -1e300, std::numeric_limits<double>::infinity(),
           -std::numeric_limits<double>::infinity(),
           std::numeric_limits<double>::denorm_min()},
          "doubles"},
      PageCursor{{with_nuls, std::string(""), std::string("日本語 ✓"),
                  std::string(300, 'x')},
                 with_nuls},
  };
  for (const PageCursor& cursor : cursors) {
    const std::string token = codec.Encode(cursor, kFingerprint);
    EXPECT_FALSE(token.empty());
    EXPECT_EQ(token.find_first_not_of(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                  "0123456789-_"),
              std::string::npos)
        << token;
    auto decoded = codec.Decode(token, kFingerprint);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, cursor);
  }
}

TEST(PageTokenCodecTest, NegativeZeroAndNanKeepTheirBits) {
  PageTokenCodec codec("secret");
  PageCursor cursor{{-0.0, std::numeric_limits<double>::quiet_NaN()}, "x"};
  auto decoded = codec.Decode(codec.Encode(cursor, kFingerprint), kFingerprint);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->last_values.size(), 2u);
  EXPECT_TRUE(std::signbit(std::get<double>(decoded->last_values[0])));
  EXPECT_TRUE(std::isnan(std::get<double>(decoded->last_values[1])));
}

TEST(PageTokenCodecTest, EncodingIsDeterministicAndQueryBound) {
  PageTokenCodec codec("secret");
  const PageCursor cursor = SampleCursor();
  EXPECT_EQ(codec.Encode(cursor, kFingerprint),
            codec.Encode(cursor, kFingerprint));
  EXPECT_NE(codec.Encode(cursor, kFingerprint),
            codec.Encode(cursor, "another query"));
}

TEST(PageTokenCodecTest, EmptyFingerprintWorks) {
  PageTokenCodec codec("secret");
  auto decoded = codec.Decode(codec.Encode(SampleCursor(), ""), "");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, SampleCursor());
}

TEST(PageTokenCodecTest, EmptySecretStillRoundTrips) {
  // Configuration should refuse an empty secret, but the codec copes.
  PageTokenCodec codec("");
  auto decoded =
      codec.Decode(codec.Encode(SampleCursor(), kFingerprint), kFingerprint);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE(
      PageTokenCodec("x")
          .Decode(codec.Encode(SampleCursor(), kFingerprint), kFingerprint)
          .ok());
}

TEST(PageTokenCodecTest, CopiesShareTheSecret) {
  PageTokenCodec codec("secret");
  PageTokenCodec copy = codec;
  EXPECT_TRUE(
      copy.Decode(codec.Encode(SampleCursor(), kFingerprint), kFingerprint)
          .ok());
}

// --- Tampering --------------------------------------------------------------

TEST(PageTokenCodecTest, EveryBitFlipOfTheBytesIsRejected) {
  PageTokenCodec codec("secret");
  const std::string raw = Raw(codec.Encode(SampleCursor(), kFingerprint));
  ASSERT_GT(raw.size(), 30u);
  for (size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = raw;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      auto decoded =
          codec.Decode(absl::WebSafeBase64Escape(flipped), kFingerprint);
      ASSERT_FALSE(decoded.ok()) << "byte " << i << " bit " << bit;
      PageTokenViolation(decoded.status());
    }
  }
}

TEST(PageTokenCodecTest, EveryBitFlipOfTheTextIsRejected) {
  PageTokenCodec codec("secret");
  const std::string token = codec.Encode(SampleCursor(), kFingerprint);
  for (size_t i = 0; i < token.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = token;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      auto decoded = codec.Decode(flipped, kFingerprint);
      ASSERT_FALSE(decoded.ok()) << "char " << i << " bit " << bit;
      PageTokenViolation(decoded.status());
    }
  }
}

TEST(PageTokenCodecTest, PayloadTamperingSaysNotIssued) {
  PageTokenCodec codec("secret");
  std::string raw = Raw(codec.Encode(SampleCursor(), kFingerprint));
  raw[12] = static_cast<char>(raw[12] ^ 0x01);  // inside the payload
  auto decoded = codec.Decode(absl::WebSafeBase64Escape(raw), kFingerprint);
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(PageTokenViolation(decoded.status()),
              HasSubstr("not a page token this service issued"));
  EXPECT_THAT(decoded.status().message(), HasSubstr("page_token: "));
}

TEST(PageTokenCodecTest, TruncatedAndExtendedTokensAreRejected) {
  PageTokenCodec codec("secret");
  const std::string token = codec.Encode(SampleCursor(), kFingerprint);
  for (size_t n = 0; n < token.size(); ++n) {
    auto decoded = codec.Decode(token.substr(0, n), kFingerprint);
    ASSERT_FALSE(decoded.ok()) << "prefix of length " << n;
    PageTokenViolation(decoded.status());
  }
  for (absl::string_view suffix : {"A", "AA", "AAA", "AAAA", "=", "==", "x"}) {
    auto decoded = codec.Decode(token + std::string(suffix), kFingerprint);
    ASSERT_FALSE(decoded.ok()) << suffix;
    PageTokenViolation(decoded.status());
  }
  // Bytes appended or dropped before encoding (valid base64, bad MAC).
  const std::string raw = Raw(token);
  for (const std::string& changed :
       {raw + std::string(1, '\0'), raw + "xyz", raw.substr(0, raw.size() - 1),
        raw.substr(1)}) {
    auto decoded =
        codec.Decode(absl::WebSafeBase64Escape(changed), kFingerprint);
    ASSERT_FALSE(decoded.ok());
    PageTokenViolation(decoded.status());
  }
}

TEST(PageTokenCodecTest, EmptyAndGarbageTokensAreRejected) {
  PageTokenCodec codec("secret");
  for (absl::string_view token :
       {absl::string_view(""), absl::string_view("a"),
        absl::string_view("not a token"), absl::string_view("!!!!"),
        absl::string_view("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        absl::string_view("////////////////////////////////////////"),
        absl::string_view("++++++++++++++++++++++++++++++++++++++++"),
        absl::string_view("\0\0\0\0", 4)}) {
    auto decoded = codec.Decode(token, kFingerprint);
    ASSERT_FALSE(decoded.ok()) << token;
    EXPECT_THAT(PageTokenViolation(decoded.status()),
                HasSubstr("not a page token this service issued"));
  }
}

TEST(PageTokenCodecTest, StandardBase64AndPaddingAreRejected) {
  PageTokenCodec codec("secret");
  const std::string token = codec.Encode(SampleCursor(), kFingerprint);
  std::string padded = token;
  while (padded.size() % 4 != 0) padded.push_back('=');
  if (padded != token) {
    EXPECT_FALSE(codec.Decode(padded, kFingerprint).ok());
  }
  std::string standard;
  absl::Base64Escape(Raw(token), &standard);
  if (standard != token) {
    EXPECT_FALSE(codec.Decode(standard, kFingerprint).ok());
  }
}

TEST(PageTokenCodecTest, OverlongTokensAreRejectedUnread) {
  PageTokenCodec codec("secret");
  auto decoded =
      codec.Decode(std::string(kMaxPageTokenLength + 1, 'A'), kFingerprint);
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(PageTokenViolation(decoded.status()), HasSubstr("longer than"));

  // A valid token just over the limit is rejected too.
  PageCursor big{{std::string(3100, 'k')}, "n"};
  const std::string token = codec.Encode(big, kFingerprint);
  ASSERT_GT(token.size(), kMaxPageTokenLength);
  EXPECT_FALSE(codec.Decode(token, kFingerprint).ok());
  // ...and one under it is accepted.
  PageCursor fits{{std::string(3000, 'k')}, "n"};
  const std::string ok_token = codec.Encode(fits, kFingerprint);
  ASSERT_LE(ok_token.size(), kMaxPageTokenLength);
  EXPECT_TRUE(codec.Decode(ok_token, kFingerprint).ok());
}

TEST(PageTokenCodecTest, UnknownVersionIsRejected) {
  PageTokenCodec codec("secret");
  std::string raw = Raw(codec.Encode(SampleCursor(), kFingerprint));
  raw[0] = 2;
  auto decoded = codec.Decode(absl::WebSafeBase64Escape(raw), kFingerprint);
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(PageTokenViolation(decoded.status()), HasSubstr("version"));
}

// --- Other queries and other secrets ----------------------------------------

TEST(PageTokenCodecTest, TokenOfAnotherQuerySaysSo) {
  PageTokenCodec codec("secret");
  const std::string token = codec.Encode(SampleCursor(), kFingerprint);
  auto decoded = codec.Decode(token, "members|filter=|order_by=name");
  ASSERT_FALSE(decoded.ok());
  const std::string description = PageTokenViolation(decoded.status());
  EXPECT_THAT(description, HasSubstr("belongs to a different query"));
  EXPECT_THAT(description, HasSubstr("filter, order_by"));
  EXPECT_THAT(description, HasSubstr("start again without page_token"));
  EXPECT_THAT(std::string(decoded.status().message()),
              HasSubstr("different query"));
}

TEST(PageTokenCodecTest, TokenOfAnotherSecretIsNotIssued) {
  PageTokenCodec ours("our secret");
  PageTokenCodec theirs("their secret");
  const std::string token = theirs.Encode(SampleCursor(), kFingerprint);
  auto decoded = ours.Decode(token, kFingerprint);
  ASSERT_FALSE(decoded.ok());
  const std::string description = PageTokenViolation(decoded.status());
  EXPECT_THAT(description, HasSubstr("not a page token this service issued"));
  EXPECT_THAT(description, testing::Not(HasSubstr("different query")));
}

TEST(PageTokenCodecTest, ForgedMacWithKnownLayoutIsRejected) {
  // A client that knows the layout and rebuilds a token with its own payload
  // and a zero MAC, reusing the genuine fingerprint prefix.
  PageTokenCodec codec("secret");
  std::string raw = Raw(codec.Encode(SampleCursor(), kFingerprint));
  std::string forged = raw.substr(0, 9);          // version + prefix
  forged += std::string("\x01\x01\x00\x01n", 5);  // [int 0], name "n"
  forged += std::string(16, '\0');
  auto decoded = codec.Decode(absl::WebSafeBase64Escape(forged), kFingerprint);
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(PageTokenViolation(decoded.status()),
              HasSubstr("not a page token this service issued"));
}

}  // namespace
}  // namespace cstopa::common
