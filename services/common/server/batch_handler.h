// The server's side of cstopa.batch.v1.BatchService: several read calls of
// this server's services in one gRPC call (proto/cstopa/batch/v1/
// batch.proto says why). Each call runs through its service's in-process
// face (local_binding.h) exactly as a call of its own would: the same
// handler, the batch caller's credentials, the call's own request id, trace,
// language and deadline (the earlier of its timeout and the batch's); each
// is observed as a call of its own (one access-log line and the method's
// metrics, under its own method name).
//
//   BatchHandler batch;
//   batch.AddService(membership_local.get(), membership_grpc->method_paths());
//   batch.set_observer(observer);  // before serving
//   std::unique_ptr<grpc::Service> face =
//       batch::v1::NewBatchServiceGrpc(&batch);
//
// The batch answers when its last call has: it does not block a thread, and
// calls that finish on other threads (PostgreSQL's) are collected as they
// come.
#ifndef CSTOPA_SERVICES_COMMON_SERVER_BATCH_HANDLER_H_
#define CSTOPA_SERVICES_COMMON_SERVER_BATCH_HANDLER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cstopa/batch/v1/batch.cstopa.h"
#include "services/common/server/grpc_binding.h"
#include "services/common/server/local_binding.h"

namespace cstopa::common {

class BatchHandler final : public batch::v1::BatchServiceHandler {
 public:
  // The most calls one batch may carry.
  static constexpr int kMaxCalls = 256;

  // Makes the unary read methods (IsReadMethod, client/channel.h) among
  // `paths` ("/pkg.Service/Method") callable through `service`, which must
  // outlive this handler. Before serving.
  void AddService(LocalService* service, const std::vector<std::string>& paths);
  // The telemetry each batched call reports to (not owned; null: none).
  // Before serving.
  void set_observer(CallObserver* observer) { observer_ = observer; }
  // The most bytes of answers one batch carries (the server's largest
  // message, less room for framing). A call whose answer would pass it is
  // answered RESOURCE_EXHAUSTED instead, to be sent again alone (each
  // answer alone fits: list pages are bounded by the same limit). Before
  // serving; 0 (the default): no bound.
  void set_max_answer_bytes(int64_t bytes) { max_answer_bytes_ = bytes; }
  // Whether no method was added (the server then need not serve it).
  bool empty() const { return methods_.empty(); }

  void CallBatch(CallBatchCall call) override;

 private:
  struct Method {
    LocalService* service;
    const std::string* path;  // stable: in paths_
    std::string domain;       // the service's error domain
  };
  absl::flat_hash_map<std::string, Method> methods_;
  std::deque<std::string> paths_;
  CallObserver* observer_ = nullptr;
  int64_t max_answer_bytes_ = 0;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_BATCH_HANDLER_H_
