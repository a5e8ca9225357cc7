#include "services/common/client/channel.h"

#include <arpa/inet.h>

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "grpc/grpc.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/validate_service_config.h"
#include "services/common/client/call_context.h"

namespace cstopa::common {
namespace {

// gRPC refuses retry policies with more attempts (it would cap them).
constexpr int kMaxAttempts = 5;

absl::Status BadTarget(absl::string_view target, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad gRPC target \"", target, "\": ", why));
}

// "" when `port` is a TCP port one can dial, else what is wrong with it.
std::string PortProblem(absl::string_view port) {
  int value = 0;
  if (port.empty()) return "no port after the ':'";
  if (port.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(port, &value)) {
    return absl::StrCat("port \"", port, "\" is not a number");
  }
  if (value < 1 || value > 65535) {
    return absl::StrCat("port ", port, " is not between 1 and 65535");
  }
  return "";
}

// `host_port` as the dns resolver takes it: name:port, v4:port, [v6]:port.
std::string HostPortProblem(absl::string_view host_port) {
  if (host_port.empty()) return "no host:port";
  if (host_port[0] == '[') {
    size_t close = host_port.find(']');
    if (close == absl::string_view::npos) return "no ']' after the '['";
    std::string address(host_port.substr(1, close - 1));
    in6_addr v6;
    if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) {
      return absl::StrCat("\"", address, "\" is not an IPv6 address");
    }
    absl::string_view rest = host_port.substr(close + 1);
    if (!absl::ConsumePrefix(&rest, ":")) return "no ':port' after the ']'";
    return PortProblem(rest);
  }
  size_t colon = host_port.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::StrCat("no port (write ", host_port, ":<port>)");
  }
  absl::string_view host = host_port.substr(0, colon);
  if (host.empty()) return "no host before the ':'";
  if (host.find(':') != absl::string_view::npos) {
    return "an IPv6 address must be in brackets: [address]:port";
  }
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '.' && c != '_') {
      return absl::StrCat("host \"", host, "\" has the character '",
                          std::string(1, c), "'");
    }
  }
  return PortProblem(host_port.substr(colon + 1));
}

// The ipv4:/ipv6: resolvers' comma-separated literal addresses.
std::string AddressListProblem(absl::string_view list, int family) {
  if (list.empty()) return "no address";
  for (absl::string_view entry : absl::StrSplit(list, ',')) {
    std::string address;
    absl::string_view port;
    if (family == AF_INET6) {
      if (!absl::StartsWith(entry, "[")) {
        return absl::StrCat("\"", entry, "\" is not [address]:port");
      }
      size_t close = entry.find(']');
      if (close == absl::string_view::npos ||
          entry.substr(close + 1, 1) != ":") {
        return absl::StrCat("\"", entry, "\" is not [address]:port");
      }
      address = std::string(entry.substr(1, close - 1));
      port = entry.substr(close + 2);
    } else {
      size_t colon = entry.rfind(':');
      if (colon == absl::string_view::npos) {
        return absl::StrCat("\"", entry, "\" has no port");
      }
      address = std::string(entry.substr(0, colon));
      port = entry.substr(colon + 1);
    }
    unsigned char buffer[sizeof(in6_addr)];
    if (inet_pton(family, address.c_str(), buffer) != 1) {
      return absl::StrCat("\"", address, "\" is not an IPv",
                          family == AF_INET6 ? "6" : "4", " address");
    }
    if (std::string p = PortProblem(port); !p.empty()) return p;
  }
  return "";
}

// A name that can stand in the service config's JSON unescaped, as proto
// service and method names can.
bool IsProtoName(absl::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '.') {
      return false;
    }
  }
  return true;
}

// gRPC's JSON duration: decimal seconds with an "s".
std::string JsonDuration(absl::Duration d) {
  return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(d));
}

}  // namespace

absl::Status ValidateTarget(absl::string_view target) {
  std::string problem;
  absl::string_view rest = target;
  if (target.empty()) {
    problem = "it is empty";
  } else if (absl::ConsumePrefix(&rest, "unix:")) {
    // unix:path or unix:///absolute/path (an authority is not allowed).
    if (absl::ConsumePrefix(&rest, "//") && !absl::StartsWith(rest, "/")) {
      problem = "a unix socket URI is unix:///absolute/path";
    } else if (rest.empty()) {
      problem = "no socket path";
    }
  } else if (absl::ConsumePrefix(&rest, "unix-abstract:")) {
    if (rest.empty()) problem = "no socket name";
  } else if (absl::ConsumePrefix(&rest, "ipv4:")) {
    problem = AddressListProblem(rest, AF_INET);
  } else if (absl::ConsumePrefix(&rest, "ipv6:")) {
    problem = AddressListProblem(rest, AF_INET6);
  } else if (absl::ConsumePrefix(&rest, "dns:")) {
    if (absl::ConsumePrefix(&rest, "//")) {
      // dns://[authority]/host:port: the authority names a DNS server.
      size_t slash = rest.find('/');
      if (slash == absl::string_view::npos) {
        problem = "a dns URI is dns:///host:port";
      } else {
        rest.remove_prefix(slash + 1);
      }
    }
    if (problem.empty()) problem = HostPortProblem(rest);
  } else if (size_t scheme = target.find("://");
             scheme != absl::string_view::npos) {
    problem = absl::StrCat("unknown scheme \"", target.substr(0, scheme),
                           "\" (use dns:///, ipv4:, ipv6:, unix: or "
                           "host:port)");
  } else {
    problem = HostPortProblem(target);
  }
  if (problem.empty()) return absl::OkStatus();
  return BadTarget(target, problem);
}

absl::StatusOr<std::string> ServiceConfigJson(const ChannelOptions& options) {
  const RetryPolicy& retry = options.retry;
  // (service, method) pairs, sorted and unique: gRPC rejects a config that
  // names a method twice.
  std::set<std::pair<std::string, std::string>> reads;
  for (const std::string& name : options.services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            name);
    if (service == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown gRPC service \"", name,
                       "\": give its full name, and link its generated code"));
    }
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string& method = service->method(i)->name();
      if (IsReadMethod(method)) reads.emplace(service->full_name(), method);
    }
  }
  for (const std::string& full : options.read_methods) {
    absl::string_view name = full;
    absl::ConsumePrefix(&name, "/");
    std::pair<std::string, std::string> parts =
        absl::StrSplit(name, absl::MaxSplits('/', 1));
    if (!IsProtoName(parts.first) || !IsProtoName(parts.second)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "read method \"", full, "\" is not \"package.Service/Method\""));
    }
    reads.insert(std::move(parts));
  }

  std::string config = R"({"loadBalancingConfig":[{"round_robin":{}}])";
  if (retry.max_attempts > 1 && !reads.empty()) {
    if (retry.max_attempts > kMaxAttempts) {
      return absl::InvalidArgumentError(
          absl::StrCat("retry.max_attempts is ", retry.max_attempts,
                       "; gRPC allows at most ", kMaxAttempts));
    }
    if (retry.initial_backoff < absl::Milliseconds(1) ||
        retry.max_backoff < retry.initial_backoff ||
        !(retry.backoff_multiplier > 0)) {
      return absl::InvalidArgumentError(
          "the retry backoff must be at least 1ms, max_backoff at least "
          "initial_backoff, and the multiplier positive");
    }
    std::vector<std::string> names;
    for (const auto& [service, method] : reads) {
      names.push_back(absl::StrCat(R"({"service":")", service,
                                   R"(","method":")", method, R"("})"));
    }
    absl::StrAppend(
        &config, R"(,"methodConfig":[{"name":[)", absl::StrJoin(names, ","),
        R"(],"retryPolicy":{"maxAttempts":)", retry.max_attempts,
        R"(,"initialBackoff":")", JsonDuration(retry.initial_backoff),
        R"(","maxBackoff":")", JsonDuration(retry.max_backoff),
        R"(","backoffMultiplier":)",
        absl::StrFormat("%g", retry.backoff_multiplier),
        // CANCELLED too: a server that shuts down cancels the calls still
        // running on it (a call this client cancels is never retried).
        R"(,"retryableStatusCodes":["UNAVAILABLE","CANCELLED"]}}])",
        // Retries stop while more than half of the token bucket is spent
        // (each failure takes 1, each success gives back 0.1): a backend
        // that fails most calls is not sent three times the load.
        R"(,"retryThrottling":{"maxTokens":10,"tokenRatio":0.1})");
  }
  config += "}";
  return config;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(
    absl::string_view target, const ChannelOptions& options) {
  if (absl::Status s = ValidateTarget(target); !s.ok()) return s;
  absl::StatusOr<std::string> config = ServiceConfigJson(options);
  if (!config.ok()) return config.status();
  // A config gRPC rejects would make a channel that fails every call.
  if (std::string invalid =
          grpc::experimental::ValidateServiceConfigJSON(*config);
      !invalid.empty()) {
    return absl::InternalError(
        absl::StrCat("the service config is invalid: ", invalid));
  }

  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(*config);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // Ours alone: never one from a DNS TXT record.
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  if (options.keepalive.has_value()) {
    const KeepaliveOptions& k = *options.keepalive;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                static_cast<int>(absl::ToInt64Milliseconds(k.time)));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                static_cast<int>(absl::ToInt64Milliseconds(k.timeout)));
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                k.without_calls ? 1 : 0);
    // By default a client stops pinging after 2 pings without data; a long
    // quiet Watch stream is exactly where keepalive matters.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }

  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls.has_value()) {
    const TlsOptions& tls = *options.tls;
    if (tls.cert_chain.empty() != tls.private_key.empty()) {
      return absl::InvalidArgumentError(
          "TLS: a client certificate needs its private key and the other way "
          "round");
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls.root_certs;
    ssl.pem_cert_chain = tls.cert_chain;
    ssl.pem_private_key = tls.private_key;
    credentials = grpc::SslCredentials(ssl);
    if (!tls.server_name_override.empty()) {
      args.SetSslTargetNameOverride(tls.server_name_override);
    }
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }

  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (options.propagate_ids) {
    interceptors.push_back(std::make_unique<CallIdsInterceptorFactory>());
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      std::string(target), credentials, args, std::move(interceptors));
}

ChannelPool::ChannelPool(ChannelOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelPool::Get(
    absl::string_view target) {
  absl::MutexLock lock(&mu_);
  auto it = channels_.find(target);
  if (it != channels_.end()) return it->second;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewChannel(target, options_);
  if (channel.ok()) channels_.emplace(std::string(target), *channel);
  return channel;
}

}  // namespace cstopa::common
