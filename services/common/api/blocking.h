// The blocking face of handlers: call a handler method and wait for its
// answer, without a server. For tests and tools; the generated
// `<Service>Blocking` classes (protoc-gen-cstopa) wrap these per method.
//
//   v1::MembershipServiceBlocking membership(&handler);
//   v1::State state;
//   absl::Status s = membership.GetState(caller, request, &state);
//
// Never call these on a store thread (from a store callback): the store
// would wait for itself.
#ifndef CSTOPA_SERVICES_COMMON_API_BLOCKING_H_
#define CSTOPA_SERVICES_COMMON_API_BLOCKING_H_

#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/message.h"
#include "services/common/api/call.h"

namespace cstopa::common {
namespace blocking_internal {

// A unary call whose answer one thread waits for.
class UnaryWaiter final : public UnaryCallState {
 public:
  UnaryWaiter(Caller caller, google::protobuf::Message* response)
      : caller_(std::move(caller)), response_(response) {}
  const Caller& caller() const override { return caller_; }
  void Finish(absl::Status status) override;
  void FinishSerialized(std::string bytes) override;
  // Blocks until the call is finished; its status.
  absl::Status Wait();

 private:
  Caller caller_;
  google::protobuf::Message* response_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

// A server stream whose messages one thread reads as they come.
class StreamWaiter final : public ServerStreamState {
 public:
  StreamWaiter(Caller caller, const google::protobuf::Message& prototype)
      : caller_(std::move(caller)), prototype_(prototype) {}
  const Caller& caller() const override { return caller_; }
  void Write(const google::protobuf::Message& message,
             absl::AnyInvocable<void(bool)> written) override;
  void Finish(absl::Status status) override;
  void SetOnCancel(absl::AnyInvocable<void()> on_cancel) override;
  // Hands each message to `on_message` until the stream ends (its status)
  // or `on_message` returns false (the stream is cancelled; the status the
  // handler then ends it with).
  absl::Status Run(
      absl::FunctionRef<bool(const google::protobuf::Message&)> on_message);

 private:
  Caller caller_;
  const google::protobuf::Message& prototype_;
  absl::Mutex mu_;
  std::deque<std::pair<std::string, absl::AnyInvocable<void(bool)>>> queue_
      ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  absl::AnyInvocable<void()> on_cancel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace blocking_internal

// Calls handler->*method with `request` and waits: the call's status, with
// *response filled when OK.
template <typename Handler, typename Request, typename Response>
absl::Status CallBlocking(Handler* handler,
                          void (Handler::*method)(UnaryCall<Request, Response>),
                          const Caller& caller, const Request& request,
                          Response* response) {
  blocking_internal::UnaryWaiter waiter(caller, response);
  (handler->*method)(UnaryCall<Request, Response>(&request, response, &waiter));
  return waiter.Wait();
}

// Opens the stream handler->*method and calls `on_message` with each message
// on this thread, until the handler ends the stream or `on_message` returns
// false (which cancels it); returns the status the stream ended with.
template <typename Handler, typename Request, typename Response>
absl::Status StreamBlocking(
    Handler* handler,
    void (Handler::*method)(ServerStreamCall<Request, Response>),
    const Caller& caller, const Request& request,
    absl::FunctionRef<bool(const Response&)> on_message) {
  blocking_internal::StreamWaiter waiter(caller, Response::default_instance());
  (handler->*method)(ServerStreamCall<Request, Response>(&request, &waiter));
  return waiter.Run([&](const google::protobuf::Message& m) {
    return on_message(static_cast<const Response&>(m));
  });
}

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_API_BLOCKING_H_
