// What the services' export tests share: running an `Export...` stream to
// its end through a blocking API, checking that every record came once in
// the service's collection order, and reading the changes a Watch stream
// sends after a token.
//
//   ExportedRecords<v1::ExportEventsResponse> e = ExportAll<
//       v1::ExportEventsResponse>([&](auto on_message) {
//     return api->ExportEvents({}, v1::ExportEventsRequest(), on_message);
//   });
//   ExpectEveryRecordOnceInOrder(e, {"events"}, seeded_count);
//   auto changes = ChangesAfter<v1::WatchEventsResponse>(
//       [&](auto on_message) {...}, 1);
#ifndef CSTOPA_SERVICES_COMMON_TESTING_EXPORT_TEST_KIT_H_
#define CSTOPA_SERVICES_COMMON_TESTING_EXPORT_TEST_KIT_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "services/common/store/change_feed.h"

namespace cstopa::common::testing {

// An export run to its end: the records, the last message (no record; its
// resume_token and record_count), and the stream's status.
template <typename Response>
struct ExportedRecords {
  std::vector<Response> records;
  Response last;
  absl::Status status;
};

// Runs `run` (which calls the Export method with the callback it is given)
// and sorts its messages. `on_record` (may be null) sees each record's index
// as it comes; returning false cancels the stream.
template <typename Response, typename Run>
ExportedRecords<Response> ExportAll(
    Run run, std::function<bool(size_t)> on_record = nullptr) {
  ExportedRecords<Response> out;
  bool last_seen = false;
  std::function<bool(const Response&)> on_message = [&](const Response& m) {
    if (m.resource_case() == Response::RESOURCE_NOT_SET) {
      EXPECT_FALSE(last_seen) << "two last messages";
      last_seen = true;
      out.last = m;
      return true;
    }
    EXPECT_FALSE(last_seen) << "a record after the last message";
    out.records.push_back(m);
    return on_record ? on_record(out.records.size() - 1) : true;
  };
  out.status = run(on_message);
  return out;
}

// Every record once, named as its `name`, in the collections of `order`
// (collection IDs, the service's order) each in name order; `expected`
// records in all, as the last message counts them, and a token.
template <typename Response>
void ExpectEveryRecordOnceInOrder(const ExportedRecords<Response>& e,
                                  const std::vector<std::string>& order,
                                  int expected) {
  ASSERT_TRUE(e.status.ok()) << e.status;
  EXPECT_EQ(static_cast<int>(e.records.size()), expected);
  EXPECT_EQ(e.last.record_count(), static_cast<int64_t>(e.records.size()));
  EXPECT_FALSE(e.last.resume_token().empty());
  EXPECT_TRUE(e.last.name().empty());
  std::set<std::string> seen;
  size_t at = 0;
  std::string previous;
  for (const Response& m : e.records) {
    EXPECT_TRUE(seen.insert(m.name()).second) << m.name() << " sent twice";
    const std::string c(CollectionOf(m.name()));
    while (at < order.size() && order[at] != c) ++at;
    ASSERT_LT(at, order.size()) << m.name() << " out of order";
    if (CollectionOf(previous) == c) {
      EXPECT_LT(previous, m.name());
    }
    previous = m.name();
  }
}

// The first `n` changes (checkpoints left out) of the Watch stream `run`
// opens (it calls the Watch method, resuming after a token, with the
// callback it is given); the stream is then cancelled.
template <typename WatchResponse, typename Run>
std::vector<WatchResponse> ChangesAfter(Run run, size_t n) {
  std::vector<WatchResponse> got;
  std::function<bool(const WatchResponse&)> on_message =
      [&](const WatchResponse& m) {
        // Each service's ChangeType is numbered as ChangeKind.
        if (static_cast<int>(m.change_type()) !=
            static_cast<int>(ChangeKind::kCheckpoint))
          got.push_back(m);
        return got.size() < n;
      };
  absl::Status s = run(on_message);
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  return got;
}

}  // namespace cstopa::common::testing

#endif  // CSTOPA_SERVICES_COMMON_TESTING_EXPORT_TEST_KIT_H_
