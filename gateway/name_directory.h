// The display names of the membership service's records (states, bodies,
// parliaments, delegations, persons, partners), kept by the gateway so that
// a view can name every such resource it mentions without a second round of
// backend calls: an event's organizer and participants, an operation's
// commanding and contributing states, a treaty's parties.
//
// A background thread loads the names at start and again every `period`
// (after a failure, again within a second), with the membership service's
// List methods; views read the latest complete load. Names are therefore up
// to `period` old, and a view made before the first load has none.
//
//   NameDirectory names(membership_channel, absl::Seconds(30));
//   names.Start();
//   ...
//   names.Resolve(view, view.mutable_references());
#ifndef CSTOPA_GATEWAY_NAME_DIRECTORY_H_
#define CSTOPA_GATEWAY_NAME_DIRECTORY_H_

#include <memory>
#include <string>
#include <thread>

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

  // The latest load (empty before the first).
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

  const std::shared_ptr<grpc::Channel> membership_;
  const absl::Duration period_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Names> names_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  absl::Mutex call_mu_;
  grpc::ClientContext* current_ ABSL_GUARDED_BY(call_mu_) = nullptr;
  std::thread thread_;
};

}  // namespace cstopa::gateway

#endif  // CSTOPA_GATEWAY_NAME_DIRECTORY_H_
