#include "services/common/resources/standard_methods.h"

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "services/common/base/dates.h"

namespace cstopa::common {

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
