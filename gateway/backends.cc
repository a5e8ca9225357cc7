#include "gateway/backends.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cstopa/events/v1/events.grpc.pb.h"
#include "cstopa/legislation/v1/legislation.grpc.pb.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "cstopa/monitoring/v1/monitoring.grpc.pb.h"
#include "services/common/client/channel.h"

namespace cstopa::gateway {

bool IsBackendFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnimplemented:
      return true;
    default:
      return false;
  }
}

Breaker::Breaker(BreakerOptions options)
    : options_(options), next_open_for_(options.open_for) {}

bool Breaker::Admit(absl::Time now) {
  absl::MutexLock lock(&mu_);
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (now < stats_.retry_time) {
        ++stats_.refused;
        return false;
      }
      state_ = State::kHalfOpen;
      probe_in_flight_ = true;
      return true;
    case State::kHalfOpen:
      if (probe_in_flight_) {
        ++stats_.refused;
        return false;
      }
      probe_in_flight_ = true;
      return true;
  }
  return true;
}

void Breaker::Record(const absl::Status& status, absl::Time now) {
  absl::MutexLock lock(&mu_);
  ++stats_.calls;
  if (!IsBackendFailure(status)) {
    stats_.consecutive_failures = 0;
    if (state_ != State::kClosed) {
      state_ = State::kClosed;
      probe_in_flight_ = false;
      next_open_for_ = options_.open_for;
      stats_.retry_time = absl::InfinitePast();
    }
    return;
  }
  ++stats_.failures;
  ++stats_.consecutive_failures;
  stats_.last_error = status;
  stats_.last_error_time = now;
  const bool probe_failed = state_ == State::kHalfOpen;
  if (probe_failed ||
      (state_ == State::kClosed &&
       stats_.consecutive_failures >= options_.failures_to_open)) {
    state_ = State::kOpen;
    probe_in_flight_ = false;
    ++stats_.opened;
    stats_.retry_time = now + next_open_for_;
    next_open_for_ = std::min(next_open_for_ * 2, options_.max_open_for);
  }
}

void Breaker::Forget() {
  absl::MutexLock lock(&mu_);
  ++stats_.calls;
  if (state_ == State::kHalfOpen) probe_in_flight_ = false;
}

absl::Time Breaker::RetryTime() const {
  absl::MutexLock lock(&mu_);
  return state_ == State::kClosed ? absl::InfinitePast() : stats_.retry_time;
}

Breaker::Snapshot Breaker::Get() const {
  absl::MutexLock lock(&mu_);
  Snapshot s = stats_;
  s.state = state_;
  return s;
}

Backend::Backend(std::string service, std::string target,
                 std::shared_ptr<grpc::Channel> channel, BreakerOptions breaker,
                 const std::string& grpc_service, int batches)
    : service_(std::move(service)),
      target_(std::move(target)),
      channel_(std::move(channel)),
      breaker_(breaker) {
  const google::protobuf::ServiceDescriptor* descriptor =
      batches > 0 ? google::protobuf::DescriptorPool::generated_pool()
                        ->FindServiceByName(grpc_service)
                  : nullptr;
  if (descriptor == nullptr) return;
  absl::flat_hash_map<const google::protobuf::Descriptor*, int> uses;
  for (int i = 0; i < descriptor->method_count(); ++i)
    ++uses[descriptor->method(i)->input_type()];
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* m = descriptor->method(i);
    if (!common::IsUnaryReadMethod(*m) || uses[m->input_type()] != 1) continue;
    batched_[m->input_type()] =
        absl::StrCat("/", descriptor->full_name(), "/", m->name());
  }
  common::CallBatcher::Options options;
  options.max_in_flight = batches;
  batcher_ = std::make_unique<common::CallBatcher>(channel_, options);
}

const std::string* Backend::BatchedMethod(
    const google::protobuf::Descriptor* request_type) const {
  auto it = batched_.find(request_type);
  return it == batched_.end() ? nullptr : &it->second;
}

std::string Backend::Connectivity() const {
  switch (channel_->GetState(/*try_to_connect=*/false)) {
    case GRPC_CHANNEL_IDLE:
      return "IDLE";
    case GRPC_CHANNEL_CONNECTING:
      return "CONNECTING";
    case GRPC_CHANNEL_READY:
      return "READY";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "TRANSIENT_FAILURE";
    case GRPC_CHANNEL_SHUTDOWN:
      return "SHUTDOWN";
  }
  return "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<Backends>> Backends::Connect(
    const BackendTargets& targets, BreakerOptions breaker,
    std::optional<common::TlsOptions> tls, int batches) {
  struct Spec {
    const char* service;
    const std::string* target;
    std::string grpc_service;
  };
  const Spec specs[] = {
      {"membership", &targets.membership,
       membership::v1::MembershipService::service_full_name()},
      {"legislation", &targets.legislation,
       legislation::v1::LegislationService::service_full_name()},
      {"events", &targets.events,
       events::v1::EventsService::service_full_name()},
      {"monitoring", &targets.monitoring,
       monitoring::v1::MonitoringService::service_full_name()},
  };
  auto backends = std::make_unique<Backends>();
  for (const Spec& spec : specs) {
    common::ChannelOptions options;
    options.services = {spec.grpc_service};
    // A batch holds reads only (the server refuses anything else), so it is
    // retried as they are.
    options.read_methods = {"cstopa.batch.v1.BatchService/CallBatch"};
    options.tls = tls;
    auto channel = common::NewChannel(*spec.target, options);
    if (!channel.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(tls ? "backend TLS or " : "", "--", spec.service,
                       "_target: ", channel.status().message()));
    }
    // Connect now rather than on the first view, so that the first views
    // do not wait for connections and readiness shows at once.
    (*channel)->GetState(/*try_to_connect=*/true);
    backends->all_.push_back(std::make_unique<Backend>(
        spec.service, *spec.target, std::move(*channel), breaker,
        spec.grpc_service, batches));
  }
  return backends;
}

std::string Backends::MetricsText() const {
  std::string up, open, calls, failures, refused, opened, batches, batched;
  for (const auto& b : all_) {
    const Breaker::Snapshot s = b->breaker().Get();
    const std::string label = absl::StrCat("{service=\"", b->service(), "\"}");
    const bool ready = b->Connectivity() == "READY" &&
                       s.state == Breaker::State::kClosed &&
                       s.consecutive_failures == 0;
    absl::StrAppend(&up, "cstopa_gateway_backend_up", label, " ", ready ? 1 : 0,
                    "\n");
    absl::StrAppend(&open, "cstopa_gateway_backend_breaker_open", label, " ",
                    s.state == Breaker::State::kClosed ? 0 : 1, "\n");
    absl::StrAppend(&calls, "cstopa_gateway_backend_calls_total", label, " ",
                    s.calls, "\n");
    absl::StrAppend(&failures, "cstopa_gateway_backend_failures_total", label,
                    " ", s.failures, "\n");
    absl::StrAppend(&refused, "cstopa_gateway_backend_refused_total", label,
                    " ", s.refused, "\n");
    absl::StrAppend(&opened, "cstopa_gateway_backend_breaker_opened_total",
                    label, " ", s.opened, "\n");
    if (b->batcher() != nullptr) {
      const common::CallBatcher::Stats stats = b->batcher()->stats();
      absl::StrAppend(&batches, "cstopa_gateway_backend_batches_total", label,
                      " ", stats.batches, "\n");
      absl::StrAppend(&batched, "cstopa_gateway_backend_batched_calls_total",
                      label, " ", stats.calls, "\n");
    }
  }
  return absl::StrCat(
      "# HELP cstopa_gateway_backend_up 1 when the backend's channel is "
      "connected and its last calls succeeded.\n"
      "# TYPE cstopa_gateway_backend_up gauge\n",
      up,
      "# HELP cstopa_gateway_backend_breaker_open 1 while the backend's "
      "circuit breaker is open or probing.\n"
      "# TYPE cstopa_gateway_backend_breaker_open gauge\n",
      open,
      "# HELP cstopa_gateway_backend_calls_total Backend calls made.\n"
      "# TYPE cstopa_gateway_backend_calls_total counter\n",
      calls,
      "# HELP cstopa_gateway_backend_failures_total Backend calls that "
      "failed for the backend's fault.\n"
      "# TYPE cstopa_gateway_backend_failures_total counter\n",
      failures,
      "# HELP cstopa_gateway_backend_refused_total Backend calls not made "
      "because the circuit breaker was open.\n"
      "# TYPE cstopa_gateway_backend_refused_total counter\n",
      refused,
      "# HELP cstopa_gateway_backend_breaker_opened_total Times the circuit "
      "breaker opened.\n"
      "# TYPE cstopa_gateway_backend_breaker_opened_total counter\n",
      opened,
      batches.empty()
          ? ""
          : absl::StrCat(
                "# HELP cstopa_gateway_backend_batches_total Batches of reads "
                "sent (cstopa.batch.v1.BatchService/CallBatch).\n"
                "# TYPE cstopa_gateway_backend_batches_total counter\n",
                batches,
                "# HELP cstopa_gateway_backend_batched_calls_total Reads "
                "sent in batches (calls / batches: the mean batch).\n"
                "# TYPE cstopa_gateway_backend_batched_calls_total counter\n",
                batched));
}

}  // namespace cstopa::gateway
