#include "services/common/base/gzip.h"

#include <string>

#include "gtest/gtest.h"

namespace cstopa::common {
namespace {

std::string Text() {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  return text;
}

TEST(GzipTest, WrittenInPiecesReadsBackWhole) {
  const std::string text = Text();
  GzipStream gzip(6);
  for (size_t at = 0; at < text.size(); at += 1000)
    ASSERT_TRUE(gzip.Write(absl::string_view(text).substr(at, 1000), false));
  ASSERT_TRUE(gzip.Write("", /*finish=*/true));
  const std::string zipped = gzip.output();
  EXPECT_LT(zipped.size(), text.size() / 3);
  EXPECT_TRUE(LooksGzipped(zipped));
  EXPECT_EQ(Gunzip(zipped), text);
  EXPECT_EQ(Gzip(text, 1).has_value(), true);
  EXPECT_EQ(Gunzip(*Gzip(text, 1)), text);
}

TEST(GzipTest, ReadInPiecesAsItComes) {
  const std::string text = Text();
  const std::string zipped = *Gzip(text, 6);
  Gunzipper gunzip;
  std::string out;
  for (size_t at = 0; at < zipped.size(); at += 7) {
    ASSERT_TRUE(gunzip.Feed(
        absl::string_view(zipped).substr(at, 7),
        [&out](absl::string_view t) { out.append(t.data(), t.size()); }));
  }
  EXPECT_TRUE(gunzip.ended());
  EXPECT_EQ(out, text);
}

TEST(GzipTest, CutShortOrNotGzipIsSaid) {
  const std::string zipped = *Gzip(Text(), 6);
  EXPECT_EQ(Gunzip(zipped.substr(0, zipped.size() / 2)), std::nullopt);
  Gunzipper cut;
  ASSERT_TRUE(
      cut.Feed(zipped.substr(0, zipped.size() / 2), [](absl::string_view) {}));
  EXPECT_FALSE(cut.ended());
  EXPECT_FALSE(LooksGzipped("{\"format\":1}"));
  EXPECT_EQ(Gunzip("{\"format\":1}\n"), std::nullopt);
  Gunzipper plain;
  EXPECT_FALSE(plain.Feed("not gzip at all", [](absl::string_view) {}));
}

}  // namespace
}  // namespace cstopa::common
