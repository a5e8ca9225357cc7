#include "services/common/standard_methods.h"

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "services/common/dates.h"

namespace cstopa::common {

absl::Status RequireRole(const ApiKeyStore& keys, const Caller& caller,
                         Role role) {
  std::optional<absl::string_view> auth;
  if (caller.authorization) auth = *caller.authorization;
  return Authorize(keys, auth, role).status();
}

int64_t TodayUtc() {
  absl::CivilDay d = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return d.year() * 10000 + d.month() * 100 + d.day();
}

absl::StatusOr<int64_t> AsOfDay(const google::type::Date& as_of, bool present,
                                const char* field, int64_t today) {
  if (!present) return today;
  if (as_of.year() == 0 || as_of.month() == 0 || as_of.day() == 0) {
    return InvalidArgument(field, "must be a full date (year, month and day)");
  }
  Violations v;
  CheckDate(v, field, as_of);
  if (auto s = v.ToStatus(); !s.ok()) return s;
  return EarliestDay(as_of, true);
}

absl::Status Await(absl::FunctionRef<void(StatusCallback)> start) {
  absl::Notification finished;
  absl::Status result;
  start([&](absl::Status s) {
    result = std::move(s);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

}  // namespace cstopa::common
