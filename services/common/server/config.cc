#include "services/common/server/config.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cstopa::common {

FlagSet::FlagSet(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void FlagSet::Add(const std::string& name, const std::string& env,
                  const std::string& default_value, const std::string& help) {
  Flag f;
  f.env = env;
  f.help = help;
  f.default_value = default_value;
  f.value = default_value;
  if (!env.empty()) {
    if (const char* v = std::getenv(env.c_str()); v != nullptr) f.value = v;
  }
  if (flags_.emplace(name, f).second) order_.push_back(name);
}

absl::Status FlagSet::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError(Usage());
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument `", arg, "`; see --help"));
    }
    std::string body = arg.substr(2), name, value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    } else {
      name = body;
    }
    auto it = flags_.find(name);
    bool is_bool = false;
    if (it == flags_.end() && absl::StartsWith(name, "no") && !has_value) {
      auto neg = flags_.find(name.substr(2));
      if (neg != flags_.end() && (neg->second.default_value == "true" ||
                                  neg->second.default_value == "false")) {
        neg->second.value = "false";
        neg->second.set_on_command_line = true;
        continue;
      }
    }
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, "; see --help"));
    }
    is_bool = it->second.default_value == "true" ||
              it->second.default_value == "false";
    if (!has_value) {
      if (is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
    }
    it->second.value = value;
    it->second.set_on_command_line = true;
  }
  return absl::OkStatus();
}

std::string FlagSet::Get(const std::string& name) const {
  auto it = flags_.find(name);
  return it == flags_.end() ? "" : it->second.value;
}

absl::StatusOr<int64_t> FlagSet::GetInt(const std::string& name) const {
  int64_t v;
  if (!absl::SimpleAtoi(Get(name), &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be an integer, not `", Get(name), "`"));
  }
  return v;
}

absl::StatusOr<bool> FlagSet::GetBool(const std::string& name) const {
  bool v;
  if (!absl::SimpleAtob(Get(name), &v)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, " must be true or false, not `", Get(name), "`"));
  }
  return v;
}

std::string FlagSet::Usage() const {
  std::string out =
      absl::StrCat("usage: ", program_, " [flags]\n", summary_,
                   "\n\nflags (environment variable, default):\n");
  for (const std::string& name : order_) {
    const Flag& f = flags_.at(name);
    absl::StrAppend(&out, "  --", name, "  (", f.env.empty() ? "-" : f.env,
                    ", \"", f.default_value, "\")\n      ", f.help, "\n");
  }
  return out;
}

absl::Status ValidateListenAddress(const std::string& flag,
                                   const std::string& address) {
  size_t colon = address.rfind(':');
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, "=", address, " is not a listen address (", why,
        "); use host:port, e.g. 127.0.0.1:50051, [::1]:0 or 0.0.0.0:50051"));
  };
  if (colon == std::string::npos || colon == 0) return bad("no host:port");
  std::string host = address.substr(0, colon);
  if (absl::StartsWith(host, "[") != absl::EndsWith(host, "]"))
    return bad("unbalanced brackets");
  int port;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535)
    return bad("port must be 0-65535");
  return absl::OkStatus();
}

}  // namespace cstopa::common
