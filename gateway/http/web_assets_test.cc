#include "gateway/http/web_assets.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace cstopa::gateway::http {
namespace {

TEST(WebAssetsTest, TableIsSortedWithTypesAndStrongEtags) {
  const absl::Span<const WebAsset> all = WebAssets();
  ASSERT_FALSE(all.empty()) << "web/ embedded nothing";
  std::set<std::string> etags;
  for (size_t i = 0; i < all.size(); ++i) {
    const WebAsset& a = all[i];
    SCOPED_TRACE(std::string(a.path));
    EXPECT_TRUE(absl::StartsWith(a.path, "/"));
    if (i > 0) {
      EXPECT_LT(all[i - 1].path, a.path);
    }
    EXPECT_FALSE(a.content_type.empty());
    // A strong ETag: quoted, no W/, 24 hex digits of the SHA-256.
    ASSERT_EQ(a.etag.size(), 26u);
    EXPECT_EQ(a.etag.front(), '"');
    EXPECT_EQ(a.etag.back(), '"');
    EXPECT_EQ(FindWebAsset(a.path), &a);
    // No hidden files or editor backups.
    EXPECT_EQ(a.path.find("/."), absl::string_view::npos);
    EXPECT_FALSE(absl::EndsWith(a.path, "~"));
    if (absl::EndsWith(a.path, ".html")) {
      EXPECT_EQ(a.content_type, "text/html; charset=utf-8");
    } else if (absl::EndsWith(a.path, ".js") ||
               absl::EndsWith(a.path, ".mjs")) {
      EXPECT_EQ(a.content_type, "text/javascript; charset=utf-8");
    } else if (absl::EndsWith(a.path, ".css")) {
      EXPECT_EQ(a.content_type, "text/css; charset=utf-8");
    } else if (absl::EndsWith(a.path, ".json")) {
      EXPECT_EQ(a.content_type, "application/json");
    } else if (absl::EndsWith(a.path, ".svg")) {
      EXPECT_EQ(a.content_type, "image/svg+xml");
    } else if (absl::EndsWith(a.path, ".png")) {
      EXPECT_EQ(a.content_type, "image/png");
    } else if (absl::EndsWith(a.path, ".ico")) {
      EXPECT_EQ(a.content_type, "image/x-icon");
    } else if (absl::EndsWith(a.path, ".woff2")) {
      EXPECT_EQ(a.content_type, "font/woff2");
    } else if (absl::EndsWith(a.path, ".txt")) {
      EXPECT_EQ(a.content_type, "text/plain; charset=utf-8");
    }
  }
}

TEST(WebAssetsTest, IndexIsAnHtmlPageWithAModule) {
  const WebAsset* index = FindWebAsset("/index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(absl::StrContains(absl::AsciiStrToLower(index->bytes), "<html"));
}

TEST(WebAssetsTest, FilesByExactPath) {
  EXPECT_EQ(FindWebAsset("/"), nullptr);
  EXPECT_EQ(FindWebAsset("index.html"), nullptr);
  EXPECT_EQ(FindWebAsset("/index.html/"), nullptr);
  EXPECT_EQ(FindWebAsset("/INDEX.HTML"), nullptr);
  for (const WebAsset& a : WebAssets()) EXPECT_EQ(ResolveWebPath(a.path), &a);
}

TEST(WebAssetsTest, PagePathsGetTheIndex) {
  const WebAsset* index = FindWebAsset("/index.html");
  ASSERT_NE(index, nullptr);
  for (const char* page :
       {"/", "/states/kz", "/persons/viktor-rogalev", "/search", "/live",
        "/documents/x", "/treaties/y", "/states/", "/acts/act.2024",
        "/persons/a.", "/%D0%B0%D0%B1"}) {
    EXPECT_EQ(ResolveWebPath(page), index) << page;
  }
}

TEST(WebAssetsTest, MissingFilesAreNotPages) {
  for (const char* file :
       {"/nope.js", "/pages/nope.js", "/style2.css", "/favicon.ico.bak",
        "/a/b/c.png", "/.env", "/index.html.gz"}) {
    EXPECT_EQ(ResolveWebPath(file), nullptr) << file;
  }
}

TEST(WebAssetsTest, FileExtensions) {
  EXPECT_TRUE(HasFileExtension("/app.js"));
  EXPECT_TRUE(HasFileExtension("/pages/home.js"));
  EXPECT_TRUE(HasFileExtension("/font.woff2"));
  EXPECT_TRUE(HasFileExtension("/.env"));
  EXPECT_FALSE(HasFileExtension("/"));
  EXPECT_FALSE(HasFileExtension("/states/kz"));
  EXPECT_FALSE(HasFileExtension("/pages.d/home"));
  EXPECT_FALSE(HasFileExtension("/acts/act.2024"));
  EXPECT_FALSE(HasFileExtension("/a."));
  EXPECT_FALSE(HasFileExtension("/a.b-c"));
  EXPECT_FALSE(HasFileExtension("/a.abcdefghijk"));
}

TEST(WebAssetsTest, ApiPathsAreNotPages) {
  for (const char* api :
       {"/v1", "/v1/", "/v1/states/kz", "/v1/openapi.json", "/v2/states/kz",
        "/v10/x", "/cstopa.membership.v1.MembershipService/GetPerson",
        "/cstopa.gateway.v1.GatewayService/", "relative"}) {
    EXPECT_TRUE(IsApiPath(api)) << api;
  }
  for (const char* page :
       {"/", "/index.html", "/app.js", "/pages/home.js", "/vendor/x.js", "/v",
        "/vx/y", "/videos", "/states/kz", "/favicon.ico", "/search"}) {
    EXPECT_FALSE(IsApiPath(page)) << page;
  }
}

TEST(WebAssetsTest, TextTypes) {
  EXPECT_TRUE(IsTextType("text/html; charset=utf-8"));
  EXPECT_TRUE(IsTextType("text/javascript; charset=utf-8"));
  EXPECT_TRUE(IsTextType("application/json"));
  EXPECT_TRUE(IsTextType("image/svg+xml"));
  EXPECT_FALSE(IsTextType("image/png"));
  EXPECT_FALSE(IsTextType("font/woff2"));
  EXPECT_FALSE(IsTextType("application/octet-stream"));
}

}  // namespace
}  // namespace cstopa::gateway::http
