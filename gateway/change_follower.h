// Following one service's change stream (its Watch... method) for as long
// as the gateway runs: the stream is opened from now, each message is
// handed to a Listener, and when the stream ends (the service restarts,
// drains, finds the follower too slow, or cannot be reached) the listener
// hears Lost and the stream is opened again after a backoff (0.1 s doubling
// to 5 s, back to 0.1 s once a stream was followed). The stream's first
// message (a checkpoint at the head of the service's change log) is when
// the follower has caught up: Following.
//
// The stream is always opened from now, never resumed: the cache drops the
// service's views on Lost, so nothing is owed from the gap, and a resumed
// stream would need a way to tell when it has caught up.
//
// One thread per followed stream, blocked in the stream's Read (the gRPC
// sync client); never one per call.
//
//   ChangeFollower follower(
//       "events",
//       FollowStream<events::v1::WatchEventsResponse>(
//           [stub](grpc::ClientContext* ctx) {
//             return stub->WatchEvents(ctx, events::v1::WatchEventsRequest());
//           }),
//       &listener);
//   follower.Start();
#ifndef CSTOPA_GATEWAY_CHANGE_FOLLOWER_H_
#define CSTOPA_GATEWAY_CHANGE_FOLLOWER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/sync_stream.h"

namespace cstopa::gateway {

// One message of a Watch... stream, as a follower reads it.
struct StreamMessage {
  bool checkpoint = false;
  int64_t sequence = 0;
  std::string name;        // the changed resource; "" on a checkpoint
  bool deleted = false;    // the change was a delete
  absl::Time commit_time;  // of the change
  const google::protobuf::Message* response = nullptr;  // the whole message
};

// How soon a lost stream is opened again: after min_backoff, doubling on
// each failure up to max_backoff.
struct FollowerOptions {
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

class ChangeFollower {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // The stream is open and caught up at `sequence`.
    virtual void Following(const std::string& service, int64_t sequence) = 0;
    // One change (never a checkpoint).
    virtual void Changed(const std::string& service,
                         const StreamMessage& change) = 0;
    // The stream ended, or could not be opened.
    virtual void Lost(const std::string& service, const absl::Status& why) = 0;
  };

  // Opens the stream on `ctx`, calls `on_message` for each message in
  // order, and returns the stream's final status.
  using Stream = std::function<absl::Status(
      grpc::ClientContext* ctx,
      absl::FunctionRef<void(const StreamMessage&)> on_message)>;

  using Options = FollowerOptions;

  ChangeFollower(std::string service, Stream stream, Listener* listener,
                 Options options = {});
  // Cancels the stream and joins the thread.
  ~ChangeFollower();

  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  void Start();

 private:
  void Run();

  const std::string service_;
  const Stream stream_;
  Listener* const listener_;
  const Options options_;
  absl::Notification stop_;
  absl::Mutex mu_;
  grpc::ClientContext* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

// The ChangeType values every service's stream numbers alike.
inline constexpr int kChangeTypeDeleted = 3;
inline constexpr int kChangeTypeCheckpoint = 4;

// A Stream over a Watch... method whose response has the fields every
// service's stream has: change_type, sequence, name and commit_time.
// `open(ctx)` starts the call (the stub's sync method).
template <typename Response, typename Open>
ChangeFollower::Stream FollowStream(Open open) {
  return [open = std::move(open)](
             grpc::ClientContext* ctx,
             absl::FunctionRef<void(const StreamMessage&)> on_message)
             -> absl::Status {
    std::unique_ptr<grpc::ClientReaderInterface<Response>> reader = open(ctx);
    Response response;
    while (reader->Read(&response)) {
      StreamMessage m;
      m.checkpoint =
          static_cast<int>(response.change_type()) == kChangeTypeCheckpoint;
      m.sequence = response.sequence();
      m.name = response.name();
      m.deleted =
          static_cast<int>(response.change_type()) == kChangeTypeDeleted;
      m.commit_time = absl::FromUnixMicros(
          google::protobuf::util::TimeUtil::TimestampToMicroseconds(
              response.commit_time()));
      m.response = &response;
      on_message(m);
    }
    const grpc::Status s = reader->Finish();
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  };
}

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_CHANGE_FOLLOWER_H_
