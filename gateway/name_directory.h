// The display names of the membership service's records (states, bodies,
// parliaments, delegations, persons, partners), kept by the gateway so that
// a view can name every such resource it mentions without a second round of
// backend calls: an event's organizer and participants, an operation's
// commanding and contributing states, a treaty's parties.
//
// A background thread loads the names at start and again every `period`
// (after a failure, again within a second), with the membership service's
// List methods; views read the latest complete load. Between loads, the
// gateway applies each membership change it hears of (Apply, from the
// membership change stream), so a renamed record is named anew at once; a
// load also starts at once when the stream is followed again after a gap
// (RefreshSoon). A view made before the first load has no names.
//
//   NameDirectory names(membership_channel, absl::Seconds(30));
//   names.Start();
//   ...
//   names.Resolve(view, view.mutable_references());
#ifndef CSTOPA_GATEWAY_NAME_DIRECTORY_H_
#define CSTOPA_GATEWAY_NAME_DIRECTORY_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cstopa/gateway/v1/gateway.pb.h"
#include "cstopa/type/v1/types.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace cstopa::gateway {

class NameDirectory {
 public:
  using Texts =
      google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>;
  using Names = absl::flat_hash_map<std::string, Texts>;

  NameDirectory(std::shared_ptr<grpc::Channel> membership,
                absl::Duration period);
  // Stops the background thread, cancelling a load in progress.
  ~NameDirectory();

  NameDirectory(const NameDirectory&) = delete;
  NameDirectory& operator=(const NameDirectory&) = delete;

  // Starts the background thread (its first load begins at once).
  void Start();

  // Loads every name now, on this thread (blocking, bounded by a deadline);
  // on success the views see the new names. The background thread calls it.
  absl::Status Refresh();

  // Starts a load now instead of at the end of the period.
  void RefreshSoon();

  // A membership record changed: `resource` is the record as the change
  // left it (its `display_name` is read), or null when it was deleted.
  // Records whose names views do not resolve are ignored. A load in
  // progress keeps the change too.
  void Apply(const std::string& name,
             const google::protobuf::Message* resource);

  // The latest load (empty before the first), with the changes since.
  std::shared_ptr<const Names> Get() const;

  // Adds to `out`, sorted by name, every membership resource named in a
  // string field of `view` (at any depth) that the latest load knows.
  void Resolve(
      const google::protobuf::Message& view,
      google::protobuf::RepeatedPtrField<v1::NamedResource>* out) const;

 private:
  // Every page of one List method into `names`. `call(ctx, request,
  // response)` makes the call; `items(response)` lists the records.
  template <typename Request, typename Response, typename Call, typename Items>
  absl::Status LoadAll(Request request, Call call, Items items, Names* names);

  // Where names can be in a message type: its string fields, and its
  // message fields whose type can hold strings (with their own plan).
  struct Plan {
    std::vector<
        std::pair<const google::protobuf::FieldDescriptor*, const Plan*>>
        fields;
    bool done = false;  // false while it is being made (a recursive type)
  };
  // The plan of `type` (made once per type, kept for the process's life).
  const Plan* PlanFor(const google::protobuf::Descriptor* type) const;
  const Plan* PlanLocked(const google::protobuf::Descriptor* type) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(plans_mu_);

  const std::shared_ptr<grpc::Channel> membership_;
  const absl::Duration period_;
  mutable absl::Mutex plans_mu_;
  mutable absl::flat_hash_map<const google::protobuf::Descriptor*,
                              std::unique_ptr<Plan>>
      plans_ ABSL_GUARDED_BY(plans_mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const Names> names_ ABSL_GUARDED_BY(mu_);
  // Changes applied while a load is in progress, re-applied on top of it
  // (nullopt: deleted).
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::optional<Texts>> pending_
      ABSL_GUARDED_BY(mu_);
  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(wake_mu_) = false;
  absl::Notification stop_;
  absl::Mutex call_mu_;
  grpc::ClientContext* current_ ABSL_GUARDED_BY(call_mu_) = nullptr;
  std::thread thread_;
};

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_NAME_DIRECTORY_H_
