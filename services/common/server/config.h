// Command-line flags with environment-variable fallbacks, for every binary.
//
// Precedence: `--flag=value` on the command line, then the environment
// variable, then the default. Unknown flags and malformed values stop the
// program at start-up with a message that names the flag and what is wrong.
//
//   FlagSet flags("membership_server", "Serves the membership API.");
//   flags.Add("listen", "CSTOPA_LISTEN", "127.0.0.1:50051", "gRPC address");
//   if (auto s = flags.Parse(argc, argv); !s.ok()) { ...print and exit 2... }
//   std::string listen = flags.Get("listen");
#ifndef CSTOPA_SERVICES_COMMON_SERVER_CONFIG_H_
#define CSTOPA_SERVICES_COMMON_SERVER_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cstopa::common {

class FlagSet {
 public:
  FlagSet(std::string program, std::string summary);

  // Declares a flag. `env` may be empty (no fallback).
  void Add(const std::string& name, const std::string& env,
           const std::string& default_value, const std::string& help);

  // Parses `--name=value`, `--name value` and, for flags whose default is
  // "true"/"false", a bare `--name` / `--noname`. `--help` yields a
  // CANCELLED status whose message is the usage text.
  absl::Status Parse(int argc, char** argv);

  std::string Get(const std::string& name) const;
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  absl::StatusOr<bool> GetBool(const std::string& name) const;

  std::string Usage() const;

 private:
  struct Flag {
    std::string env, value, help, default_value;
    bool set_on_command_line = false;
  };
  std::string program_, summary_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
};

// Checks a "host:port" listen address (IPv4, [IPv6] or a host name; port
// 0-65535). Returns INVALID_ARGUMENT naming `flag` otherwise.
absl::Status ValidateListenAddress(const std::string& flag,
                                   const std::string& address);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_CONFIG_H_
