#include "services/common/server/config.h"

#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cstopa::common {
namespace {

using ::testing::HasSubstr;

// Environment variables only these tests use, so that nothing else in the
// environment interferes and nothing leaks into other tests.
constexpr char kEnvListen[] = "CSTOPA_CONFIG_TEST_LISTEN_4F2A91";
constexpr char kEnvLevel[] = "CSTOPA_CONFIG_TEST_LEVEL_4F2A91";
constexpr char kEnvVerbose[] = "CSTOPA_CONFIG_TEST_VERBOSE_4F2A91";

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    setenv(name, value, /*overwrite=*/1);
  }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// argv for FlagSet::Parse: the program name, then `args`. The strings are
// owned by the object.
class Argv {
 public:
  explicit Argv(std::vector<std::string> args) {
    strings_.push_back("config_test");
    for (std::string& a : args) strings_.push_back(std::move(a));
    for (std::string& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(strings_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

absl::Status Parse(FlagSet& flags, std::vector<std::string> args) {
  Argv argv(std::move(args));
  return flags.Parse(argv.argc(), argv.argv());
}

// GetBool as "true", "false" or the error, for EXPECT_EQ.
std::string BoolValue(const FlagSet& flags, const std::string& name) {
  absl::StatusOr<bool> v = flags.GetBool(name);
  if (!v.ok()) return v.status().ToString();
  return *v ? "true" : "false";
}

// The flags used by most tests. Declared after the test has set up the
// environment, since Add() reads it.
std::unique_ptr<FlagSet> MakeFlags() {
  auto flags = std::make_unique<FlagSet>("config_test", "Tests flags.");
  flags->Add("listen", kEnvListen, "127.0.0.1:50051", "where to listen");
  flags->Add("level", kEnvLevel, "3", "how much");
  flags->Add("verbose", kEnvVerbose, "false", "talk more");
  flags->Add("color", "", "true", "use colours");
  flags->Add("name", "", "", "a name without an environment variable");
  return flags;
}

class FlagSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* env : {kEnvListen, kEnvLevel, kEnvVerbose}) unsetenv(env);
  }
  void TearDown() override { SetUp(); }
};

TEST_F(FlagSetTest, DefaultsWithoutEnvironmentOrCommandLine) {
  auto flags = MakeFlags();
  ASSERT_TRUE(Parse(*flags, {}).ok());
  EXPECT_EQ(flags->Get("listen"), "127.0.0.1:50051");
  EXPECT_EQ(flags->Get("level"), "3");
  EXPECT_EQ(flags->Get("verbose"), "false");
  EXPECT_EQ(flags->Get("color"), "true");
  EXPECT_EQ(flags->Get("name"), "");
}

TEST_F(FlagSetTest, EnvironmentBeatsDefault) {
  ScopedEnv listen(kEnvListen, "0.0.0.0:7000");
  ScopedEnv level(kEnvLevel, "9");
  auto flags = MakeFlags();
  ASSERT_TRUE(Parse(*flags, {}).ok());
  EXPECT_EQ(flags->Get("listen"), "0.0.0.0:7000");
  absl::StatusOr<int64_t> v = flags->GetInt("level");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 9);
}

TEST_F(FlagSetTest, CommandLineBeatsEnvironment) {
  ScopedEnv listen(kEnvListen, "0.0.0.0:7000");
  ScopedEnv level(kEnvLevel, "9");
  ScopedEnv verbose(kEnvVerbose, "true");
  auto flags = MakeFlags();
  ASSERT_TRUE(
      Parse(*flags, {"--listen=10.0.0.1:8000", "--level", "12", "--noverbose"})
          .ok());
  EXPECT_EQ(flags->Get("listen"), "10.0.0.1:8000");
  EXPECT_EQ(flags->Get("level"), "12");
  absl::StatusOr<bool> b = flags->GetBool("verbose");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(*b);
}

TEST_F(FlagSetTest, EnvironmentIsUsedOnlyForItsOwnFlag) {
  ScopedEnv level(kEnvLevel, "9");
  auto flags = MakeFlags();
  ASSERT_TRUE(Parse(*flags, {"--listen=[::1]:1"}).ok());
  EXPECT_EQ(flags->Get("listen"), "[::1]:1");
  EXPECT_EQ(flags->Get("level"), "9");
  EXPECT_EQ(flags->Get("verbose"), "false");
}

TEST_F(FlagSetTest, SeparateAndJoinedValues) {
  auto flags = MakeFlags();
  ASSERT_TRUE(
      Parse(*flags, {"--listen", "127.0.0.1:1", "--name=a=b", "--level", "-4"})
          .ok());
  EXPECT_EQ(flags->Get("listen"), "127.0.0.1:1");
  EXPECT_EQ(flags->Get("name"), "a=b");  // only the first '=' splits
  absl::StatusOr<int64_t> v = flags->GetInt("level");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, -4);  // a value that looks like a short option is taken

  auto joined = MakeFlags();
  ASSERT_TRUE(Parse(*joined, {"--listen=127.0.0.1:2", "--name="}).ok());
  EXPECT_EQ(joined->Get("listen"), "127.0.0.1:2");
  EXPECT_EQ(joined->Get("name"), "");
}

TEST_F(FlagSetTest, LaterOccurrenceWins) {
  auto flags = MakeFlags();
  ASSERT_TRUE(Parse(*flags, {"--level=1", "--level", "2"}).ok());
  EXPECT_EQ(flags->Get("level"), "2");
}

TEST_F(FlagSetTest, BoolFlagsBareAndNegated) {
  auto flags = MakeFlags();
  ASSERT_TRUE(Parse(*flags, {"--verbose", "--nocolor"}).ok());
  absl::StatusOr<bool> verbose = flags->GetBool("verbose");
  absl::StatusOr<bool> color = flags->GetBool("color");
  ASSERT_TRUE(verbose.ok()) << verbose.status();
  ASSERT_TRUE(color.ok()) << color.status();
  EXPECT_TRUE(*verbose);
  EXPECT_FALSE(*color);

  // A bare bool flag does not swallow the next argument.
  auto next = MakeFlags();
  ASSERT_TRUE(Parse(*next, {"--verbose", "--level=5"}).ok());
  EXPECT_EQ(next->Get("verbose"), "true");
  EXPECT_EQ(next->Get("level"), "5");

  // Explicit values work too.
  auto explicit_values = MakeFlags();
  ASSERT_TRUE(
      Parse(*explicit_values, {"--verbose=true", "--color=false"}).ok());
  EXPECT_EQ(BoolValue(*explicit_values, "verbose"), "true");
  EXPECT_EQ(BoolValue(*explicit_values, "color"), "false");

  // --noflag beats the environment.
  ScopedEnv env(kEnvVerbose, "true");
  auto negated = MakeFlags();
  EXPECT_EQ(BoolValue(*negated, "verbose"), "true");
  ASSERT_TRUE(Parse(*negated, {"--noverbose"}).ok());
  EXPECT_EQ(BoolValue(*negated, "verbose"), "false");
}

TEST_F(FlagSetTest, NegationOnlyAppliesToBoolFlags) {
  auto flags = MakeFlags();
  absl::Status s = Parse(*flags, {"--nolevel"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("--nolevel"));
}

TEST_F(FlagSetTest, UnknownFlagIsInvalidArgumentNamingIt) {
  auto flags = MakeFlags();
  absl::Status s = Parse(*flags, {"--level=1", "--bogus_flag=3"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("--bogus_flag"));

  auto bare = MakeFlags();
  s = Parse(*bare, {"--bogus_flag"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("--bogus_flag"));
}

TEST_F(FlagSetTest, PositionalArgumentIsInvalidArgument) {
  auto flags = MakeFlags();
  absl::Status s = Parse(*flags, {"stray"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("stray"));
}

TEST_F(FlagSetTest, MissingValueIsInvalidArgumentNamingTheFlag) {
  auto flags = MakeFlags();
  absl::Status s = Parse(*flags, {"--level=1", "--listen"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr("--listen"));
}

TEST_F(FlagSetTest, HelpIsCancelledWithUsageListingEveryFlag) {
  auto flags = MakeFlags();
  absl::Status s = Parse(*flags, {"--level=1", "--help", "--bogus"});
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  const std::string usage(s.message());
  EXPECT_EQ(usage, flags->Usage());
  EXPECT_THAT(usage, HasSubstr("config_test"));
  EXPECT_THAT(usage, HasSubstr("Tests flags."));
  for (const char* flag :
       {"--listen", "--level", "--verbose", "--color", "--name"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
  for (const char* env : {kEnvListen, kEnvLevel, kEnvVerbose}) {
    EXPECT_THAT(usage, HasSubstr(env));
  }
  for (const char* help : {"where to listen", "how much", "talk more",
                           "use colours", "a name without"}) {
    EXPECT_THAT(usage, HasSubstr(help));
  }
  EXPECT_THAT(usage, HasSubstr("127.0.0.1:50051"));  // defaults shown
}

TEST_F(FlagSetTest, GetIntAndGetBoolErrorsNameTheFlag) {
  ScopedEnv level(kEnvLevel, "lots");
  auto flags = MakeFlags();
  ASSERT_TRUE(Parse(*flags, {"--listen=x", "--color=maybe"}).ok());

  absl::StatusOr<int64_t> from_env = flags->GetInt("level");
  EXPECT_EQ(from_env.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(from_env.status().message(), HasSubstr("--level"));
  EXPECT_THAT(from_env.status().message(), HasSubstr("lots"));

  absl::StatusOr<int64_t> not_int = flags->GetInt("listen");
  EXPECT_EQ(not_int.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_int.status().message(), HasSubstr("--listen"));

  absl::StatusOr<bool> not_bool = flags->GetBool("color");
  EXPECT_EQ(not_bool.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_bool.status().message(), HasSubstr("--color"));
  EXPECT_THAT(not_bool.status().message(), HasSubstr("maybe"));

  absl::StatusOr<bool> int_as_bool = flags->GetBool("level");
  EXPECT_EQ(int_as_bool.status().code(), absl::StatusCode::kInvalidArgument);

  auto overflow = MakeFlags();
  ASSERT_TRUE(Parse(*overflow, {"--level=99999999999999999999"}).ok());
  EXPECT_EQ(overflow->GetInt("level").status().code(),
            absl::StatusCode::kInvalidArgument);

  auto empty = MakeFlags();
  ASSERT_TRUE(Parse(*empty, {}).ok());
  EXPECT_EQ(empty->GetInt("name").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateListenAddressTest, AcceptsHostPort) {
  for (const char* address :
       {"127.0.0.1:0", "[::1]:50051", "0.0.0.0:65535", "localhost:80"}) {
    absl::Status s = ValidateListenAddress("listen", address);
    EXPECT_TRUE(s.ok()) << address << ": " << s;
  }
}

TEST(ValidateListenAddressTest, RejectsMalformedNamingTheFlag) {
  for (const char* address : {"nonsense", ":80", "host:70000", "[::1:80",
                              "host:-1", "host:", "host:http", ""}) {
    absl::Status s = ValidateListenAddress("admin_listen", address);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
        << "`" << address << "`: " << s;
    EXPECT_THAT(s.message(), HasSubstr("--admin_listen")) << address;
  }
}

}  // namespace
}  // namespace cstopa::common
