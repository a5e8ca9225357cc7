// Serving `Watch...` server streams from a ChangeFeed (change_feed.h): what
// every service with a watchable collection needs around its feed, so that
// its handler method is one line and its write path two.
//
// A service logs each write of its resources to its feed and wakes the feed
// after commit:
//
//   set_.set_write_hook(common::FeedWriteHook(&feed_));
//   set_.set_after_commit([this] { feed_.Notify(); });
//
// serves the stream from the feed, with a function that fills one response
// from one change (or checkpoint) and the token that resumes after it:
//
//   void FillWatchEventsResponse(const common::Change& change,
//                                const std::string& token,
//                                v1::WatchEventsResponse* out) {
//     out->set_change_type(static_cast<v1::ChangeType>(change.kind));
//     if (change.kind != common::ChangeKind::kCheckpoint)
//       (void)out->mutable_event()->ParseFromString(change.data);
//     out->set_resume_token(token);
//     out->set_sequence(change.seq);
//   }
//   void EventsHandler::WatchEvents(WatchEventsCall call) {
//     common::ServeWatch(&r_->feed(), r_->set().db(), std::move(call),
//                        FillWatchEventsResponse);
//   }
//
// and ends its streams when the server starts draining:
//
//   void EventsHandler::BeginDrain() { common::DrainWatches(&r_->feed()); }
//
// What a stream does (the feed decides what to send and when; see
// change_feed.h for ordering, catch-up, slow watchers and retention):
// - It starts after the request's `resume_token` (the Request type's
//   `resume_token()`, by convention), or from now when empty. A damaged or
//   expired token, or a store that cannot be read, ends it at once with the
//   feed's error. The first message is a checkpoint (so the client always
//   holds a token); a quiet stream gets one every checkpoint_interval.
// - One message is in flight at a time: the next change is asked for
//   (ChangeFeed::Ready) only once the last one was written, so the server
//   holds at most one message per stream whatever the client's pace.
// - The client cancelling (or its deadline passing) leaves the feed at once;
//   a write still outstanding then ends the stream when it completes, with
//   CANCELLED. A write that fails (the client went away) does the same.
// - When the feed ends the stream (drain, a watcher too slow, the changes
//   after its position expired) it ends with the feed's status, once no
//   write is outstanding.
// - Nothing waits on the calling (gRPC) thread: the stream registers with
//   the feed, which reads the store, on one of the store's threads.
#ifndef CSTOPA_SERVICES_COMMON_RESOURCES_WATCH_H_
#define CSTOPA_SERVICES_COMMON_RESOURCES_WATCH_H_

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
#include "google/protobuf/repeated_ptr_field.h"
#include "services/common/api/call.h"
#include "services/common/query/validation.h"
#include "services/common/store/change_feed.h"
#include "services/common/store/resource_store.h"
#include "services/common/store/sql.h"

namespace cstopa::common {

// Fills `response` (cleared) for `change`, a change or a checkpoint (kind
// kCheckpoint: no name or data, seq the position of the last change before
// it), with `token`, the token that resumes after it. Runs on the feed's
// thread; must not block.
template <typename Response>
using WatchFill = std::function<void(
    const Change& change, const std::string& token, Response* response)>;

// Fills the Watch... response `out` (cleared) from `change` and `token`, by
// the field names every service's stream has: `change_type` (an enum
// numbered as ChangeKind), `resume_token`, `sequence` and, for a change,
// `name`, `commit_time` and the record as the change left it: the message
// field whose type's google.api.resource pattern ends in the change's
// collection (`event`, or the member of a `resource` oneof). Returns that
// record, for a service to fill computed fields in; null on a checkpoint.
google::protobuf::Message* FillWatchResponse(const Change& change,
                                             const std::string& token,
                                             google::protobuf::Message* out);

// The write hook (ResourceSet::set_write_hook, ResourceStore::set_write_hook)
// that logs every write to `feed` in the write's transaction: the kind, the
// resource's name, the resource as stored and its update_time as the commit
// time. `feed` must outlive the hook.
WriteHook FeedWriteHook(ChangeFeed* feed);

// The collection IDs a request's `collections` field asks for, checked
// against `known` (the service's): a violation on `collections[i]` for one
// that is unknown or listed twice; returns the others, in the order asked.
// `owner` names whose collections they are in the message ("stream").
std::vector<std::string> CheckCollections(
    const google::protobuf::RepeatedPtrField<std::string>& asked,
    const std::vector<std::string>& known, absl::string_view owner,
    Violations& v);

// Checks a Watch request's filter fields against the collections a service
// streams (`known`, as in names: "states", "actionPlans"): INVALID_ARGUMENT
// (field violations on `collections` or `name`) for an unknown or repeated
// collection, or a `name` that is not a well-formed name of one of them.
absl::StatusOr<ChangeFilter> MakeChangeFilter(
    const google::protobuf::RepeatedPtrField<std::string>& collections,
    const std::string& name, const std::vector<std::string>& known);

// Ends every stream of `feed` with UNAVAILABLE, reason SERVER_SHUTTING_DOWN
// (each once its outstanding message is written), and refuses new ones:
// clients reconnect, to another replica, with their last token. For a
// handler's BeginDrain (server/server.h); does not block.
void DrainWatches(ChangeFeed* feed);

namespace watch_internal {

// One stream: a feed watcher writing to a ServerStreamState, one message at
// a time. Owned by shared pointers: the callbacks it hands the stream and
// the store, and itself while the feed may call it.
class WatchStream : public ChangeFeed::Watcher,
                    public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(ChangeFeed* feed, ServerStreamState* stream, ChangeFilter filter);
  ~WatchStream() override;

  // Registers with the feed after `resume_token`, on a store thread of `db`.
  static void Start(std::shared_ptr<WatchStream> self, Database* db,
                    std::string resume_token, absl::Time deadline);

  void OnChange(const Change& change, const std::string& token) override;
  void OnEnd(const absl::Status& status) override;

 protected:
  // The response for `change`, valid until the next call.
  virtual const google::protobuf::Message& Fill(const Change& change,
                                                const std::string& token) = 0;

 private:
  void Register(absl::Status hop, const std::string& resume_token);
  void Written(bool ok);
  void Cancelled();
  // Leaves the feed (when registered and not yet left), then finishes the
  // stream with CANCELLED unless a write is outstanding or it is finished.
  void LeaveAndFinishCancelled();
  // Ends the stream with `status`, once.
  void FinishOnce(absl::Status status);

  ChangeFeed* const feed_;
  ServerStreamState* const stream_;
  const ChangeFilter filter_;
  absl::Mutex mu_;
  uint64_t id_ ABSL_GUARDED_BY(mu_) = 0;
  bool registering_ ABSL_GUARDED_BY(mu_) = true;     // id_ not known yet
  bool watching_ ABSL_GUARDED_BY(mu_) = false;       // the feed may call us
  bool writing_ ABSL_GUARDED_BY(mu_) = false;        // a write is outstanding
  bool ready_pending_ ABSL_GUARDED_BY(mu_) = false;  // written before id_
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_ ABSL_GUARDED_BY(mu_);  // OnEnd's status, while registering
  // Keeps the stream alive while the feed holds its raw pointer.
  std::shared_ptr<WatchStream> self_ ABSL_GUARDED_BY(mu_);
};

template <typename Response>
class TypedWatchStream final : public WatchStream {
 public:
  TypedWatchStream(ChangeFeed* feed, ServerStreamState* stream,
                   ChangeFilter filter, WatchFill<Response> fill)
      : WatchStream(feed, stream, std::move(filter)), fill_(std::move(fill)) {}

 private:
  const google::protobuf::Message& Fill(const Change& change,
                                        const std::string& token) override {
    response_.Clear();
    fill_(change, token, &response_);
    return response_;
  }

  WatchFill<Response> fill_;
  Response response_;  // written (serialized) before the next Fill
};

}  // namespace watch_internal

// Serves the `Watch...` stream `call` from `feed`, as the file comment
// describes; `fill` (anything a WatchFill<Response> can hold) makes each
// message. `db` is the feed's database (the stream registers on one of its
// store threads). `feed` and `db` must outlive the stream: a server drains
// its streams (DrainWatches) before it destroys them. With `filter` (from
// MakeChangeFilter over the request's filter fields) the stream carries
// only the changes it matches; an error ends the call with it at once.
template <typename Request, typename Response, typename Fill>
void ServeWatch(ChangeFeed* feed, Database* db,
                ServerStreamCall<Request, Response> call, Fill fill,
                absl::StatusOr<ChangeFilter> filter = ChangeFilter{}) {
  if (!filter.ok()) return call.Finish(filter.status());
  std::string token = call.request().resume_token();
  const absl::Time deadline = call.caller().deadline;
  ServerStreamState* stream = call.Release();
  watch_internal::WatchStream::Start(
      std::make_shared<watch_internal::TypedWatchStream<Response>>(
          feed, stream, *std::move(filter),
          WatchFill<Response>(std::move(fill))),
      db, std::move(token), deadline);
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_RESOURCES_WATCH_H_
