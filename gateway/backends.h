// The gateway's backends: one long-lived channel per backend service, and a
// circuit breaker per backend so that one that fails is not hammered.
//
// A Breaker counts consecutive failed calls (codes that say the backend, not
// the request, is at fault: UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL,
// UNKNOWN, RESOURCE_EXHAUSTED, DATA_LOSS, CANCELLED, UNIMPLEMENTED; a
// DEADLINE_EXCEEDED only when the call had a fair budget, see fan_out.h).
// After
// `failures_to_open` in a row it opens: calls are refused (the view reports
// the section UNAVAILABLE without calling) for `open_for`, which doubles on
// every failed probe up to `max_open_for`. When that time is up one call is
// let through as a probe; its success closes the breaker, its failure opens
// it again.
//
//   Backend* b = backends.Find("membership");
//   if (!b->breaker().Admit(absl::Now())) { /* report UNAVAILABLE */ }
//   ... make the call on b->channel() ...
//   b->breaker().Record(status, absl::Now());
#ifndef CSTOPA_GATEWAY_BACKENDS_H_
#define CSTOPA_GATEWAY_BACKENDS_H_

#include <cstdint>
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
#include "google/protobuf/descriptor.h"
#include "grpcpp/channel.h"
#include "services/common/client/call_batcher.h"
#include "services/common/client/channel.h"

namespace cstopa::gateway {

struct BreakerOptions {
  // Consecutive failures that open the breaker.
  int failures_to_open = 3;
  // How long it stays open first, and at most after repeated failed probes.
  absl::Duration open_for = absl::Milliseconds(500);
  absl::Duration max_open_for = absl::Seconds(8);
};

// Whether `status` of a backend call counts against the backend (see the
// file comment); OK and the request's own errors (NOT_FOUND,
// INVALID_ARGUMENT, ...) do not.
bool IsBackendFailure(const absl::Status& status);

// A circuit breaker (see the file comment). Thread-safe.
class Breaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  struct Snapshot {
    State state = State::kClosed;
    int consecutive_failures = 0;
    absl::Status last_error;  // OK when no call has failed
    absl::Time last_error_time = absl::InfinitePast();
    absl::Time retry_time = absl::InfinitePast();  // when open
    int64_t calls = 0;
    int64_t failures = 0;
    int64_t refused = 0;  // calls not made because the breaker was open
    int64_t opened = 0;   // times the breaker opened
  };

  explicit Breaker(BreakerOptions options = {});

  // Whether a call may be made at `now`. While open, false until the open
  // time is up; then true once (the probe), false again until the probe's
  // Record.
  bool Admit(absl::Time now);
  // The result of a call Admit let through.
  void Record(const absl::Status& status, absl::Time now);
  // A call Admit let through whose result says nothing of the backend (it
  // ran out of the caller's time, not of a fair budget): counted as a call
  // only; a probe's place goes to the next call.
  void Forget();
  // The time an open breaker admits its probe (InfinitePast when closed).
  absl::Time RetryTime() const;

  Snapshot Get() const;

 private:
  const BreakerOptions options_;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  bool probe_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration next_open_for_ ABSL_GUARDED_BY(mu_);
  Snapshot stats_ ABSL_GUARDED_BY(mu_);
};

// One backend service: its name, target, channel, breaker and, when its
// reads are batched, its batcher.
class Backend {
 public:
  // With `batches` > 0 the backend's unary reads go through a CallBatcher
  // (client/call_batcher.h) with that many batches in flight; `grpc_service`
  // is the backend's full service name.
  Backend(std::string service, std::string target,
          std::shared_ptr<grpc::Channel> channel, BreakerOptions breaker,
          const std::string& grpc_service = "", int batches = 0);

  const std::string& service() const { return service_; }
  const std::string& target() const { return target_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  // The batcher of the backend's reads; null when they are not batched.
  common::CallBatcher* batcher() { return batcher_.get(); }
  // The path ("/pkg.Service/Method") of the unary read whose request is
  // `request_type`, when it is batched; null otherwise (a request type that
  // two methods share is never batched).
  const std::string* BatchedMethod(
      const google::protobuf::Descriptor* request_type) const;
  Breaker& breaker() { return breaker_; }
  const Breaker& breaker() const { return breaker_; }

  // The channel's connectivity as a word ("IDLE", "READY", ...), without
  // making it connect.
  std::string Connectivity() const;

 private:
  const std::string service_;
  const std::string target_;
  const std::shared_ptr<grpc::Channel> channel_;
  Breaker breaker_;
  std::unique_ptr<common::CallBatcher> batcher_;
  absl::flat_hash_map<const google::protobuf::Descriptor*, std::string>
      batched_;
};

// The four backends, made once when the gateway starts.
struct BackendTargets {
  std::string membership;
  std::string legislation;
  std::string events;
  std::string monitoring;
};

class Backends {
 public:
  // Channels to every target (client/channel.h: round_robin, reads retried
  // on UNAVAILABLE, request ids and trace context), over TLS when `tls` is
  // set (mutual TLS when it has a client certificate). INVALID_ARGUMENT for
  // a bad target or inconsistent TLS options.
  // `batches`: see Backend (0: every call a gRPC call of its own).
  static absl::StatusOr<std::unique_ptr<Backends>> Connect(
      const BackendTargets& targets, BreakerOptions breaker = {},
      std::optional<common::TlsOptions> tls = std::nullopt, int batches = 0);

  Backend& membership() { return *all_[0]; }
  Backend& legislation() { return *all_[1]; }
  Backend& events() { return *all_[2]; }
  Backend& monitoring() { return *all_[3]; }
  const std::vector<std::unique_ptr<Backend>>& all() const { return all_; }

  // Prometheus text for every backend: readiness, breaker state, calls and
  // failures (see the README).
  std::string MetricsText() const;

 private:
  std::vector<std::unique_ptr<Backend>> all_;
};

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_BACKENDS_H_
