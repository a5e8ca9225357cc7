#include "services/common/api/auth.h"

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"

namespace cstopa::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kAbcHash =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// Keys used below, and a key file granting them.
constexpr absl::string_view kEditorKey = "editor-key-0123456789";
constexpr absl::string_view kAdminKey = "admin-key-9876543210";

std::string KeyFile() {
  // Line 1 comment, 2 blank, 3 editor, 4 comment, 5 admin.
  return absl::StrCat("# cstopa API keys\n\n", HashApiKey(kEditorKey),
                      " editor Clerk's office\n   # indented comment\n",
                      HashApiKey(kAdminKey), "\tadmin\tops  team \n");
}

ApiKeyStore Store() {
  auto store = ApiKeyStore::Parse(KeyFile());
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : ApiKeyStore();
}

std::string Reason(const absl::Status& status) {
  auto info = GetErrorInfo(status);
  return info.has_value() ? info->reason() : "<no ErrorInfo>";
}

// --- HashApiKey -------------------------------------------------------------

TEST(HashApiKeyTest, KnownVectors) {
  EXPECT_EQ(HashApiKey("abc"), kAbcHash);
  EXPECT_EQ(HashApiKey(""),
            "sha256:"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(HashApiKeyTest, FormatIsPrefixAndLowercaseHex) {
  const std::string hash = HashApiKey("anything");
  ASSERT_EQ(hash.size(), 7u + 64u);
  EXPECT_EQ(hash.substr(0, 7), "sha256:");
  for (char c : hash.substr(7)) {
    EXPECT_TRUE(absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f')) << hash;
  }
}

TEST(RoleNameTest, Names) {
  EXPECT_EQ(RoleName(Role::kNone), "none");
  EXPECT_EQ(RoleName(Role::kEditor), "editor");
  EXPECT_EQ(RoleName(Role::kAdmin), "admin");
}

// --- Parse and Lookup -------------------------------------------------------

TEST(ApiKeyStoreTest, DefaultIsEmpty) {
  ApiKeyStore store;
  EXPECT_EQ(store.size(), 0u);
  EXPECT_FALSE(store.Lookup(kEditorKey).has_value());
}

TEST(ApiKeyStoreTest, ParsesValidFile) {
  ApiKeyStore store = Store();
  EXPECT_EQ(store.size(), 2u);

  auto editor = store.Lookup(kEditorKey);
  ASSERT_TRUE(editor.has_value());
  EXPECT_EQ(editor->role, Role::kEditor);
  EXPECT_EQ(editor->label, "Clerk's office");

  auto admin = store.Lookup(kAdminKey);
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->role, Role::kAdmin);
  EXPECT_EQ(admin->label, "ops  team");  // inner spacing kept, ends trimmed

  EXPECT_FALSE(store.Lookup("abc").has_value());
  EXPECT_FALSE(store.Lookup("").has_value());
  // The hash is not a key.
  EXPECT_FALSE(store.Lookup(HashApiKey(kEditorKey)).has_value());
}

TEST(ApiKeyStoreTest, EmptyAndCommentOnlyFilesHaveNoKeys) {
  for (absl::string_view content : {"", "\n\n", "# nothing yet\n", "  \t\n"}) {
    auto store = ApiKeyStore::Parse(content);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ(store->size(), 0u);
  }
}

TEST(ApiKeyStoreTest, DefaultLabelIsHashPrefix) {
  auto store = ApiKeyStore::Parse(absl::StrCat(kAbcHash, " editor"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto p = store->Lookup("abc");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->label, "sha256:ba7816bf");
}

TEST(ApiKeyStoreTest, AcceptsUppercaseHexAndCrlf) {
  std::string upper = absl::StrCat(
      "sha256:", absl::AsciiStrToUpper(kAbcHash.substr(7)), " admin x\r\n");
  auto store = ApiKeyStore::Parse(upper);
  ASSERT_TRUE(store.ok()) << store.status();
  auto p = store->Lookup("abc");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->role, Role::kAdmin);
  EXPECT_EQ(p->label, "x");
}

TEST(ApiKeyStoreTest, NoTrailingNewlineNeeded) {
  auto store = ApiKeyStore::Parse(absl::StrCat(kAbcHash, " editor"));
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(store->size(), 1u);
}

TEST(ApiKeyStoreTest, MalformedLinesNameTheLineAndNeverTheHash) {
  const std::string good = absl::StrCat(kAbcHash, " editor ok\n");
  const std::string other = HashApiKey("other");
  struct Case {
    std::string bad_line;
    std::string expected;  // part of the message
  };
  const Case cases[] = {
      {"raw-api-key editor", "expected `sha256:"},
      {"sha256: editor", "64 hex digits"},
      {absl::StrCat(other.substr(0, 70), " editor"), "64 hex digits"},
      {absl::StrCat(other, "0 editor"), "64 hex digits"},
      {absl::StrCat("sha256:", std::string(63, 'a'), "g editor"),
       "64 hex digits"},
      {absl::StrCat("SHA256:", other.substr(7), " editor"),
       "expected `sha256:"},
      {other, "role is missing"},
      {absl::StrCat(other, " owner"), "`editor` or `admin`"},
      {absl::StrCat(other, " Editor"), "`editor` or `admin`"},
      {absl::StrCat(kAbcHash, " admin again"), "already on line 2"},
  };
  for (const Case& c : cases) {
    // Line 1 comment, line 2 valid, line 3 the bad one, line 4 valid.
    const std::string content = absl::StrCat("# keys\n", good, c.bad_line, "\n",
                                             HashApiKey("z"), " admin\n");
    auto store = ApiKeyStore::Parse(content);
    ASSERT_FALSE(store.ok()) << c.bad_line;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Reason(store.status()), "INVALID_KEY_FILE");
    EXPECT_THAT(store.status().message(), HasSubstr("key file line 3: "))
        << c.bad_line;
    EXPECT_THAT(store.status().message(), HasSubstr(c.expected)) << c.bad_line;
    EXPECT_THAT(store.status().message(), Not(HasSubstr(other.substr(7, 16))));
    EXPECT_THAT(store.status().message(), Not(HasSubstr("raw-api-key")));
    auto info = GetErrorInfo(store.status());
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->metadata().at("line"), "3");
  }
}

TEST(ApiKeyStoreTest, LineNumbersCountBlankAndCommentLines) {
  auto store = ApiKeyStore::Parse("\n# a\n\n  \nbogus\n");
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("line 5:"));
}

// --- LoadFile ---------------------------------------------------------------

class LoadFileTest : public testing::Test {
 protected:
  void TearDown() override { std::remove(path_.c_str()); }

  void Write(absl::string_view content) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << content;
  }

  const std::string path_ =
      absl::StrCat(testing::TempDir(), "auth_test_keys_",
                   testing::UnitTest::GetInstance()->random_seed(), ".txt");
};

TEST_F(LoadFileTest, LoadsValidFile) {
  Write(KeyFile());
  auto store = ApiKeyStore::LoadFile(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(store->size(), 2u);
  EXPECT_TRUE(store->Lookup(kAdminKey).has_value());
}

TEST_F(LoadFileTest, MissingFileIsNotFoundWithPath) {
  auto store = ApiKeyStore::LoadFile(path_ + ".missing");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr(path_ + ".missing"));
}

TEST_F(LoadFileTest, DirectoryIsAnErrorWithPath) {
  auto store = ApiKeyStore::LoadFile(testing::TempDir());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(testing::TempDir()));
}

TEST_F(LoadFileTest, MalformedFileIsInvalidArgumentWithPathAndLine) {
  Write(absl::StrCat(KeyFile(), "oops\n"));
  auto store = ApiKeyStore::LoadFile(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat("key file ", path_, " line 6: ")));
  EXPECT_EQ(Reason(store.status()), "INVALID_KEY_FILE");
  EXPECT_EQ(GetErrorInfo(store.status())->metadata().at("path"), path_);
}

// --- Authorize --------------------------------------------------------------

TEST(AuthorizeTest, MissingCredentials) {
  ApiKeyStore store = Store();
  auto who = Authorize(store, std::nullopt, Role::kEditor);
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Reason(who.status()), "MISSING_CREDENTIALS");
  EXPECT_THAT(who.status().message(),
              HasSubstr("authorization: Bearer <api key>"));
}

TEST(AuthorizeTest, MalformedCredentials) {
  ApiKeyStore store = Store();
  const std::string key(kEditorKey);
  for (const std::string& value :
       {std::string(""), std::string("Bearer"), std::string("Bearer "), key,
        absl::StrCat("Basic ", key), absl::StrCat("Bearer:", key),
        absl::StrCat("Bearer ", key, " extra"), absl::StrCat("Token ", key)}) {
    auto who = Authorize(store, absl::string_view(value), Role::kEditor);
    ASSERT_FALSE(who.ok()) << value;
    EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(Reason(who.status()), "MALFORMED_CREDENTIALS") << value;
    EXPECT_THAT(who.status().message(), HasSubstr("Bearer <api key>"));
    EXPECT_THAT(who.status().message(), Not(HasSubstr(key)));
  }
}

TEST(AuthorizeTest, UnknownKey) {
  ApiKeyStore store = Store();
  auto who = Authorize(store, absl::string_view("Bearer not-a-known-key"),
                       Role::kEditor);
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Reason(who.status()), "INVALID_API_KEY");
  EXPECT_THAT(who.status().message(), Not(HasSubstr("not-a-known-key")));
}

TEST(AuthorizeTest, EmptyStoreRefusesEveryKey) {
  ApiKeyStore empty;
  const std::string header = absl::StrCat("Bearer ", kAdminKey);
  auto who = Authorize(empty, absl::string_view(header), Role::kEditor);
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(Reason(who.status()), "INVALID_API_KEY");
}

TEST(AuthorizeTest, EditorKeyForEditorMethod) {
  ApiKeyStore store = Store();
  const std::string header = absl::StrCat("Bearer ", kEditorKey);
  auto who = Authorize(store, absl::string_view(header), Role::kEditor);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->label, "Clerk's office");
  EXPECT_EQ(who->role, Role::kEditor);
}

TEST(AuthorizeTest, AdminSatisfiesEditorAndAdmin) {
  ApiKeyStore store = Store();
  const std::string header = absl::StrCat("Bearer ", kAdminKey);
  for (Role required : {Role::kNone, Role::kEditor, Role::kAdmin}) {
    auto who = Authorize(store, absl::string_view(header), required);
    ASSERT_TRUE(who.ok()) << RoleName(required) << ": " << who.status();
    EXPECT_EQ(who->role, Role::kAdmin);
    EXPECT_EQ(who->label, "ops  team");
  }
}

TEST(AuthorizeTest, EditorDoesNotSatisfyAdmin) {
  ApiKeyStore store = Store();
  const std::string header = absl::StrCat("Bearer ", kEditorKey);
  auto who = Authorize(store, absl::string_view(header), Role::kAdmin);
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(who.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Reason(who.status()), "INSUFFICIENT_ROLE");
  EXPECT_THAT(who.status().message(), HasSubstr("needs the admin role"));
  EXPECT_THAT(who.status().message(), Not(HasSubstr(kEditorKey)));
  auto info = GetErrorInfo(who.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->metadata().at("required_role"), "admin");
  EXPECT_EQ(info->metadata().at("role"), "editor");
}

TEST(AuthorizeTest, RoleNoneStillNeedsAValidKey) {
  ApiKeyStore store = Store();
  EXPECT_EQ(Reason(Authorize(store, std::nullopt, Role::kNone).status()),
            "MISSING_CREDENTIALS");
  EXPECT_EQ(
      Reason(Authorize(store, absl::string_view("Bearer nope"), Role::kNone)
                 .status()),
      "INVALID_API_KEY");
}

TEST(AuthorizeTest, SchemeIsCaseInsensitiveAndBlanksAreTolerated) {
  ApiKeyStore store = Store();
  const std::string key(kEditorKey);
  for (const std::string& value :
       {absl::StrCat("bearer ", key), absl::StrCat("BEARER ", key),
        absl::StrCat("BeArEr ", key), absl::StrCat("Bearer   ", key),
        absl::StrCat("Bearer\t", key), absl::StrCat(" Bearer ", key, " ")}) {
    auto who = Authorize(store, absl::string_view(value), Role::kEditor);
    EXPECT_TRUE(who.ok()) << value << ": " << who.status();
  }
}

TEST(AuthorizeTest, KeyIsCaseSensitive) {
  ApiKeyStore store = Store();
  const std::string header =
      absl::StrCat("Bearer ", absl::AsciiStrToUpper(kEditorKey));
  auto who = Authorize(store, absl::string_view(header), Role::kEditor);
  ASSERT_FALSE(who.ok());
  EXPECT_EQ(Reason(who.status()), "INVALID_API_KEY");
}

}  // namespace
}  // namespace cstopa::common
