#include "gateway/fan_out.h"

#include <string>

#include "absl/time/clock.h"
#include "cstopa/gateway/v1/gateway.grpc.pb.h"
#include "google/rpc/status.pb.h"
#include "services/common/base/errors.h"

namespace cstopa::gateway {

void FanOut::Start(
    absl::AnyInvocable<void(std::vector<v1::SectionStatus> sections) &&>
        done) && {
  std::move(calls_).Start([parts = std::move(parts_), fair = fair_budget_,
                           done = std::move(done)]() mutable {
    const absl::Time now = absl::Now();
    const std::string domain =
        common::ErrorDomainOf(v1::GatewayService::service_full_name());
    std::vector<v1::SectionStatus> sections;
    sections.reserve(parts.size());
    for (const Part& part : parts) {
      v1::SectionStatus& s = sections.emplace_back();
      s.set_section(part.section);
      s.set_service(part.backend->service());
      if (part.status == nullptr) {
        absl::Status refused = absl::UnavailableError(
            absl::StrCat(part.backend->service(),
                         " was not called: its circuit breaker is open until ",
                         absl::FormatTime(absl::RFC3339_sec, part.retry_time,
                                          absl::UTCTimeZone())));
        common::EnsureErrorInfo(refused, domain);
        *s.mutable_status() = common::ToRpcStatus(refused);
        continue;
      }
      if (!fair && absl::IsDeadlineExceeded(*part.status)) {
        part.backend->breaker().Forget();
      } else {
        part.backend->breaker().Record(*part.status, now);
      }
      s.set_complete(part.status->ok());
      // A backend's own error keeps its domain and reason; one the gateway
      // saw happen (no answer in time, no connection) is the gateway's.
      absl::Status status = *part.status;
      common::EnsureErrorInfo(status, domain);
      *s.mutable_status() = common::ToRpcStatus(status);
    }
    std::move(done)(std::move(sections));
  });
  // Each backend's reads leave together (ParallelCalls::Start ran every
  // start function before it returned).
  for (auto& [batcher, calls] : waiting_) batcher->Start(std::move(calls));
  waiting_.clear();
}

}  // namespace cstopa::gateway
