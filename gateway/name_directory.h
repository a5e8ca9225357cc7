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
//   names.AppendReferences(&found, kReferencesFieldNumber, &view_bytes);
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
#include "absl/strings/string_view.h"
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
  // Each name's serialized `NamedResource` (the name and its display
  // names), as views carry it.
  using Names = absl::flat_hash_map<std::string, std::string>;

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

  // Appends to `view` (a serialized view) one `NamedResource` under
  // `field_number` for each distinct name among `names` that the latest
  // load knows, sorted by name (`names` is sorted and deduplicated).
  void AppendReferences(std::vector<absl::string_view>* names, int field_number,
                        std::string* view) const;

 private:
  // Every page of one List method into `names`. `call(ctx, request,
  // response)` makes the call; `items(response)` lists the records.
  template <typename Request, typename Response, typename Call, typename Items>
  absl::Status LoadAll(Request request, Call call, Items items, Names* names);

  const std::shared_ptr<grpc::Channel> membership_;
  const absl::Duration period_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Names> names_ ABSL_GUARDED_BY(mu_);
  // Changes applied while a load is in progress, re-applied on top of it
  // (nullopt: deleted).
  bool loading_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, std::optional<std::string>> pending_
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
