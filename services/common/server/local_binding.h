// A handler's in-process face: its unary RPCs called with serialized
// requests and answered with serialized responses, without gRPC. The
// gateway's HTTP/JSON front door calls the gateway's own views this way, so
// a view answered from the cache costs no gRPC call and no thread hop.
//
// protoc-gen-cstopa generates New<Service>Local(handler) for every service
// (next to New<Service>Grpc); the call's Caller says who calls and until
// when, as the gRPC face would have filled it from the metadata:
//
//   std::unique_ptr<common::LocalService> local =
//       v1::NewGatewayServiceLocal(&handler);
//   common::Caller caller;
//   caller.deadline = absl::Now() + absl::Seconds(2);
//   local->CallUnary("/cstopa.gateway.v1.GatewayService/GetStateProfile",
//                    caller, request_bytes,
//                    [](absl::Status status, std::string response) { ... });
//
// `done` runs exactly once, on whatever thread the handler finishes the
// call (possibly inside CallUnary). An OK status comes with the response's
// bytes, its texts ordered by the caller's accept-language as the gRPC face
// orders them; an error comes with no bytes, its details as the handler
// made them (the edge adds the ErrorInfo domain, common::ToGrpcStatus).
// Undecodable request bytes are INVALID_ARGUMENT, as over gRPC.
#ifndef CSTOPA_SERVICES_COMMON_SERVER_LOCAL_BINDING_H_
#define CSTOPA_SERVICES_COMMON_SERVER_LOCAL_BINDING_H_

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/common/api/call.h"

namespace cstopa::common {

class LocalService {
 public:
  using Done = absl::AnyInvocable<void(absl::Status, std::string)>;

  virtual ~LocalService() = default;

  // Calls the unary RPC `path` ("/pkg.Service/Method"). False, with `done`
  // not called, when `path` is not a unary RPC of this service.
  virtual bool CallUnary(absl::string_view path, const Caller& caller,
                         absl::string_view request, Done& done) = 0;
};

namespace local_binding_internal {

// The platform's side of one local unary call (api/call.h); deletes itself
// when the call ends.
class LocalUnaryState : public UnaryCallState {
 public:
  LocalUnaryState(const Caller& caller, LocalService::Done done)
      : caller_(caller), done_(std::move(done)) {}
  virtual ~LocalUnaryState() = default;

  const Caller& caller() const override { return caller_; }
  void Finish(absl::Status status) override;
  void FinishSerialized(std::string bytes) override;

 protected:
  // The response message (for ordering texts by language).
  virtual google::protobuf::Message* response() = 0;

 private:
  const Caller caller_;
  LocalService::Done done_;
};

template <typename Request, typename Response>
class TypedLocalUnaryState final : public LocalUnaryState {
 public:
  using LocalUnaryState::LocalUnaryState;
  Request request;
  Response response_message;

 private:
  google::protobuf::Message* response() override { return &response_message; }
};

// INVALID_ARGUMENT for request bytes that do not decode as `type`.
absl::Status Undecodable(absl::string_view bytes,
                         const google::protobuf::Message& type);

}  // namespace local_binding_internal

// What generated New<Service>Local faces build on.
class LocalServiceBase : public LocalService {
 public:
  bool CallUnary(absl::string_view path, const Caller& caller,
                 absl::string_view request, Done& done) override {
    auto it = methods_.find(path);
    if (it == methods_.end()) return false;
    it->second(caller, request, std::move(done));
    return true;
  }

 protected:
  // Registers the unary RPC `path` as a call of handler->*method.
  template <typename Handler, typename Request, typename Response>
  void AddUnary(const char* path, Handler* handler,
                void (Handler::*method)(UnaryCall<Request, Response>)) {
    methods_[path] = [handler, method](const Caller& caller,
                                       absl::string_view bytes, Done done) {
      using State =
          local_binding_internal::TypedLocalUnaryState<Request, Response>;
      auto* state = new State(caller, std::move(done));
      if (!state->request.ParseFromArray(bytes.data(),
                                         static_cast<int>(bytes.size()))) {
        state->Finish(
            local_binding_internal::Undecodable(bytes, state->request));
        return;
      }
      (handler->*method)(UnaryCall<Request, Response>(
          &state->request, &state->response_message, state));
    };
  }

 private:
  std::map<std::string,
           std::function<void(const Caller&, absl::string_view, Done)>,
           std::less<>>
      methods_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_LOCAL_BINDING_H_
