// Serving `Export...` server streams: every record of a service, read from
// one consistent snapshot, then the change-stream token of that snapshot, so
// that a mirror exports once and then watches from there, missing nothing
// and seeing nothing twice.
//
// A service serves its export in one line:
//
//   void MembershipHandler::ExportMembership(ExportMembershipCall call) {
//     common::ServeExport(&r_->set(), &r_->feed(), &exports_,
//                         std::move(call));
//   }
//
// The Request and Response types follow a convention (checked by
// reflection):
// - Request: `bool show_deleted` (deleted records too, each with its
//   `delete_time`) and `repeated string collections` (only these collection
//   IDs, e.g. "states"; empty: every collection).
// - Response: `string name` and a message field for each collection whose
//   type's google.api.resource pattern ends in that collection (as in the
//   Watch responses, usually a `resource` oneof); the last message has
//   neither, and carries `string resume_token` (the WatchX token that
//   resumes after the snapshot) and `int64 record_count` (records sent).
//
// What a stream does:
// - Collections in the order the service registered them, each in name
//   order. The rows are read in pages of kExportPageRows inside one read
//   transaction (REPEATABLE READ on PostgreSQL; a read transaction in
//   SQLite's WAL mode), so the records and the token are one snapshot
//   whatever is written meanwhile.
// - Memory does not grow with the record count: the reading thread stops
//   once ExportOptions::max_buffered_bytes of messages wait for the client,
//   and goes on as they are written.
// - The transaction holds one of the store's reader threads until the
//   export ends; at most ExportOptions::max_concurrent exports run at once
//   per service (others: RESOURCE_EXHAUSTED, retry later). A client that
//   takes no message for ExportOptions::stall_timeout ends its export with
//   RESOURCE_EXHAUSTED, so that no client holds a thread for ever. On an
//   in-memory SQLite store (one connection for reads and writes) writes
//   wait for a running export; a file or PostgreSQL store has readers of
//   its own.
// - Cancelling (or the deadline) ends the read at the next record.
#ifndef CSTOPA_SERVICES_COMMON_RESOURCES_EXPORT_H_
#define CSTOPA_SERVICES_COMMON_RESOURCES_EXPORT_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "services/common/api/call.h"
#include "services/common/resources/resource.h"
#include "services/common/store/change_feed.h"

namespace cstopa::common {

// Rows read per statement inside an export's transaction.
inline constexpr int kExportPageRows = 256;

struct ExportOptions {
  // Messages read ahead of the client, at most (about; one message more).
  int64_t max_buffered_bytes = int64_t{1} << 20;
  // Exports of one service at once.
  int max_concurrent = 2;
  // How long a full buffer may wait for the client before the export ends.
  absl::Duration stall_timeout = absl::Seconds(60);
};

// The exports of one service: those running, and their options. One per
// service (a handler member). It holds its streams weakly: a stream still
// ending after the handler is gone holds nothing of it.
class Exports {
 public:
  // A running export, as Exports sees it.
  class Stream {
   public:
    virtual ~Stream() = default;
    // Ends the export with `status` (its read stops at its next record).
    virtual void Stop(const absl::Status& status) = 0;
  };

  explicit Exports(ExportOptions options = {}) : options_(options) {}
  const ExportOptions& options() const { return options_; }

  // Counts `stream` among the running exports until it is destroyed. OK, or
  // RESOURCE_EXHAUSTED when max_concurrent run, or UNAVAILABLE
  // (SERVER_SHUTTING_DOWN) after StopAll.
  absl::Status Admit(const std::shared_ptr<Stream>& stream);
  // Ends every running export with UNAVAILABLE (reason
  // SERVER_SHUTTING_DOWN) and refuses new ones: for a handler's BeginDrain,
  // so that no export's read is still running when the server stops.
  void StopAll();

 private:
  const ExportOptions options_;
  absl::Mutex mu_;
  std::vector<std::weak_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

namespace export_internal {

// The checked request: which collections (by their last collection ID), in
// the set's order, and whether deleted records are included.
struct ExportPlan {
  std::vector<const ResourceSet::Collection*> collections;
  bool show_deleted = false;
};

// Reads the request's `show_deleted` and `collections` (INVALID_ARGUMENT,
// reason INVALID_ARGUMENT, naming an unknown or repeated collection).
absl::StatusOr<ExportPlan> PlanExport(const ResourceSet& set,
                                      const google::protobuf::Message& request);

// Starts the stream: admits it to `exports` (or ends `stream` with the
// refusal), then reads on a store thread of `set`'s database. `response`
// is an empty Response the stream fills its messages in.
void StartExport(ResourceSet* set, ChangeFeed* feed, Exports* exports,
                 ExportPlan plan, ServerStreamState* stream,
                 std::unique_ptr<google::protobuf::Message> response);

}  // namespace export_internal

// Serves the `Export...` stream `call` as the file comment describes: the
// records of `set`, each with the fields its declaration computes for
// today (as Get without `as_of` answers it), then the token of `feed` (the
// service's change feed, over the same database). `exports` counts the
// service's running exports.
template <typename Request, typename Response>
void ServeExport(ResourceSet* set, ChangeFeed* feed, Exports* exports,
                 ServerStreamCall<Request, Response> call) {
  absl::StatusOr<export_internal::ExportPlan> plan =
      export_internal::PlanExport(*set, call.request());
  if (!plan.ok()) return call.Finish(plan.status());
  export_internal::StartExport(set, feed, exports, *std::move(plan),
                               call.Release(), std::make_unique<Response>());
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_RESOURCES_EXPORT_H_
