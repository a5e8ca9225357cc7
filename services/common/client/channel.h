// Channels from one service of the suite to another (the gateway to the
// backends, a tool or test to a server): one place that decides how the
// suite's clients connect, balance, retry and identify their calls.
//
// NewChannel(target, options) checks the target and returns a channel with:
//  * round_robin load balancing over every address the target resolves to
//    (a headless Kubernetes service's dns:/// name gives one per replica);
//  * a service config that retries READS on UNAVAILABLE and CANCELLED (a
//    server that shuts down cancels the calls it still runs), with bounded
//    attempts and exponential backoff, within the call's deadline. Reads are
//    the methods of `options.services` that IsReadMethod() names (Get*,
//    BatchGet*, List*, Search*, Summarize*, Watch*), plus
//    `options.read_methods`. Writes are never retried by the config: a
//    Create whose answer was lost may have been applied. (gRPC itself still
//    replays any call, a write too, that provably never reached the server:
//    "transparent retries".) Retry throttling stops retries while most calls
//    to the server fail, so a struggling backend is not sent more load;
//  * TLS (a CA to trust, optionally a client certificate for mutual TLS) or
//    plaintext; HTTP/2 keepalive when asked for;
//  * the client interceptor (client/interceptor.h) that gives every call an
//    `x-request-id` and a W3C `traceparent`.
//
// A channel is long-lived and shared: make one per backend when the process
// starts and use it for every call (it is thread-safe, reconnects by itself
// and multiplexes calls over its connections). ChannelPool keeps one per
// target for code that learns its targets late.
//
//   ChannelOptions options;
//   options.services =
//   {membership::v1::MembershipService::service_full_name()};
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
//       NewChannel("dns:///membership:8080", options);
//   if (!channel.ok()) return channel.status();  // a bad target, say
//   auto stub = membership::v1::MembershipService::NewStub(*channel);
#ifndef CSTOPA_SERVICES_COMMON_CLIENT_CHANNEL_H_
#define CSTOPA_SERVICES_COMMON_CLIENT_CHANNEL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "services/common/api/call.h"

namespace cstopa::common {

// How reads are retried (gRPC's retryPolicy). Attempt n waits a random time
// up to min(initial_backoff * multiplier^(n-1), max_backoff) first.
struct RetryPolicy {
  // Attempts in all, the first included; 1 turns retries off. gRPC allows
  // at most 5.
  int max_attempts = 3;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(1);
  double backoff_multiplier = 2;
};

// TLS for a channel. PEM contents, not file names.
struct TlsOptions {
  // The CAs that sign the server's certificate; "" trusts gRPC's default
  // roots (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH or the system's).
  std::string root_certs;
  // For mutual TLS: this client's certificate chain and its private key
  // (both or neither).
  std::string cert_chain;
  std::string private_key;
  // The name to check the server's certificate against, when it is not the
  // target's host (tests, or a certificate for a service name).
  std::string server_name_override;
};

// HTTP/2 keepalive pings, to notice a dead connection (a peer gone without a
// FIN) while calls wait on it. A gRPC server with default settings refuses
// pings more often than every 5 minutes on a connection without calls in
// flight, and closes connections that keep sending them: keep `time` at
// 5 minutes or more unless the servers allow more.
struct KeepaliveOptions {
  absl::Duration time = absl::Minutes(5);      // idle time before a ping
  absl::Duration timeout = absl::Seconds(20);  // wait for the ping's answer
  bool without_calls = false;  // ping even when no call is in flight
};

struct ChannelOptions {
  // Full names of the services called over the channel, e.g.
  // "cstopa.membership.v1.MembershipService" (the generated
  // `Service::service_full_name()`). Their reads (IsReadMethod) are
  // retried. Each must be linked into the program (its .pb.cc), since the
  // method names come from its descriptor.
  std::vector<std::string> services;
  // More methods to retry like reads, as "package.Service/Method" (e.g.
  // "grpc.health.v1.Health/Check").
  std::vector<std::string> read_methods;
  RetryPolicy retry;
  // nullopt: plaintext.
  std::optional<TlsOptions> tls;
  // nullopt: no keepalive pings (gRPC's default).
  std::optional<KeepaliveOptions> keepalive;
  // Installs the request id and trace context interceptor
  // (client/interceptor.h). Off only for tests of raw metadata.
  bool propagate_ids = true;
};

// OK when gRPC can dial `target`, else INVALID_ARGUMENT saying what is wrong.
// Accepted forms (a port is always required, except for unix sockets):
//   host:port, [v6 address]:port     the default (dns) resolver
//   dns:///host:port, dns://authority/host:port, dns:host:port
//   ipv4:addr:port[,addr:port...]    ipv6:[addr]:port[,[addr]:port...]
//   unix:relative/path, unix:///absolute/path, unix-abstract:name
absl::Status ValidateTarget(absl::string_view target);

// The gRPC service config (JSON) NewChannel gives a channel with `options`:
// round_robin, and the retry policy on the read methods. INVALID_ARGUMENT
// for an unknown service, a malformed method name or a bad retry policy.
absl::StatusOr<std::string> ServiceConfigJson(const ChannelOptions& options);

// A channel to `target` (see the file comment). INVALID_ARGUMENT for a bad
// target, unknown service or inconsistent TLS options; never a channel that
// would fail every call.
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(
    absl::string_view target, const ChannelOptions& options = {});

// One channel per target, made on first use with the same options and kept
// for the pool's life. Thread-safe.
class ChannelPool {
 public:
  explicit ChannelPool(ChannelOptions options);

  ChannelPool(const ChannelPool&) = delete;
  ChannelPool& operator=(const ChannelPool&) = delete;

  // The channel to `target`; NewChannel's errors (not remembered: a later
  // call tries again).
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Get(absl::string_view target);

 private:
  const ChannelOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_CLIENT_CHANNEL_H_
