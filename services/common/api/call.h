// What a handler sees of one RPC: the request, the response to fill, who is
// calling, and how to end the call. Every RPC of every service has exactly one
// handler method, declared by the service's generated handler interface
// (protoc-gen-cstopa, see tools/protoc-gen-cstopa) and taking its call by
// value:
//
//   void MembershipHandler::GetState(GetStateCall call) {
//     if (call.request().name().empty()) {
//       return call.Finish(InvalidArgument("name", "is required"));
//     }
//     ... fill *call.response() ...
//     call.Finish(absl::OkStatus());
//   }
//
// A call may be finished later, from any thread (a store thread, say): move
// it into the callback that finishes it. It must be finished exactly once; a
// call dropped without an answer ends with INTERNAL instead of hanging the
// client. The request and response stay valid until the call is finished.
//
// The same calls are made by the gRPC face of a handler (server/
// grpc_binding.h) and, in tests and tools, by its blocking face
// (api/blocking.h): handlers know nothing of gRPC.
#ifndef CSTOPA_SERVICES_COMMON_API_CALL_H_
#define CSTOPA_SERVICES_COMMON_API_CALL_H_

#include <optional>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace google::protobuf {
class Message;
class MethodDescriptor;
}  // namespace google::protobuf

namespace cstopa::common {

// Whether `method` (a bare RPC name such as "GetPerson") reads only, by the
// suite's naming rule (AIP): it starts with Get, BatchGet, List, Search,
// Summarize or Watch followed by an upper-case letter, or it is a service's
// own `Search` across its collections. Clients retry such
// calls (client/channel.h); servers batch them (server/batch_handler.h).
bool IsReadMethod(absl::string_view method);
// A read (IsReadMethod) that is unary: what a BatchService batches.
bool IsUnaryReadMethod(const google::protobuf::MethodDescriptor& method);

// Who is calling, and until when.
struct Caller {
  // Value of the `authorization` metadata, if sent.
  std::optional<std::string> authorization;
  // The call's deadline; store work past it fails with DEADLINE_EXCEEDED
  // (on PostgreSQL the running statement is cancelled).
  absl::Time deadline = absl::InfiniteFuture();
  // The call's request id (`x-request-id`: the client's, or one the server
  // made) and the server's W3C `traceparent` for it (the client's trace id,
  // or a new trace), as the telemetry interceptor sets them; "" without it.
  // client/call_context.h carries them on to the calls a handler makes, so
  // that one request has one id and one trace across the services.
  std::string request_id = "";
  std::string traceparent = "";
  // The `accept-language` metadata, "" without it: the order of the texts
  // of every LocalizedText list of the response (api/language.h).
  std::string accept_language = "";
};

// The platform's side of a unary call (implemented by the gRPC face and by
// the blocking face); handlers use UnaryCall.
class UnaryCallState {
 public:
  virtual const Caller& caller() const = 0;
  // Ends the call with `status`; when OK the response message is sent.
  virtual void Finish(absl::Status status) = 0;
  // Ends the call OK with the response already serialized in `bytes` (the
  // response message is not read): lists send stored rows without decoding
  // them.
  virtual void FinishSerialized(std::string bytes) = 0;

 protected:
  ~UnaryCallState() = default;
};

// One unary call, as its handler gets it. Move-only.
template <typename Request, typename Response>
class UnaryCall {
 public:
  using RequestType = Request;
  using ResponseType = Response;

  UnaryCall(const Request* request, Response* response, UnaryCallState* state)
      : request_(request), response_(response), state_(state) {}
  UnaryCall(UnaryCall&& other) noexcept
      : request_(other.request_),
        response_(other.response_),
        state_(std::exchange(other.state_, nullptr)) {}
  UnaryCall& operator=(UnaryCall&& other) noexcept {
    if (this != &other) {
      Abandon();
      request_ = other.request_;
      response_ = other.response_;
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  UnaryCall(const UnaryCall&) = delete;
  UnaryCall& operator=(const UnaryCall&) = delete;
  ~UnaryCall() { Abandon(); }

  const Request& request() const { return *request_; }
  Response* response() const { return response_; }
  const Caller& caller() const { return state_->caller(); }
  absl::Time deadline() const { return state_->caller().deadline; }
  // False once finished (or moved from).
  bool active() const { return state_ != nullptr; }

  // Ends the call: OK sends *response(), an error sends the error (with its
  // details). Once; later calls are ignored.
  void Finish(absl::Status status) {
    if (UnaryCallState* s = std::exchange(state_, nullptr))
      s->Finish(std::move(status));
  }
  // Ends the call OK with the serialized response.
  void FinishSerialized(std::string bytes) {
    if (UnaryCallState* s = std::exchange(state_, nullptr))
      s->FinishSerialized(std::move(bytes));
  }

 private:
  void Abandon() {
    if (UnaryCallState* s = std::exchange(state_, nullptr))
      s->Finish(absl::InternalError("the handler ended without an answer"));
  }

  const Request* request_;
  Response* response_;
  UnaryCallState* state_;
};

// The platform's side of a server-streaming call; handlers use
// ServerStreamCall.
class ServerStreamState {
 public:
  virtual const Caller& caller() const = 0;
  // Sends `message` (serialized before this returns). `written` runs once:
  // true when the message went out and the next may be written, false when
  // the stream is broken (the client went away). One write at a time.
  virtual void Write(const google::protobuf::Message& message,
                     absl::AnyInvocable<void(bool)> written) = 0;
  // Ends the stream with `status`. Once; no write may be outstanding.
  virtual void Finish(absl::Status status) = 0;
  // `on_cancel` runs at most once, from any thread, when the client cancels
  // or the deadline passes before Finish. A write outstanding then still
  // gets its `written(false)`.
  virtual void SetOnCancel(absl::AnyInvocable<void()> on_cancel) = 0;

 protected:
  ~ServerStreamState() = default;
};

// One server-streaming call, as its handler gets it. Move-only; a handle
// to the stream, valid until Finish.
template <typename Request, typename Response>
class ServerStreamCall {
 public:
  using RequestType = Request;
  using ResponseType = Response;

  ServerStreamCall(const Request* request, ServerStreamState* state)
      : request_(request), state_(state) {}
  ServerStreamCall(ServerStreamCall&& other) noexcept
      : request_(other.request_),
        state_(std::exchange(other.state_, nullptr)) {}
  ServerStreamCall& operator=(ServerStreamCall&& other) noexcept {
    if (this != &other) {
      Abandon();
      request_ = other.request_;
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  ServerStreamCall(const ServerStreamCall&) = delete;
  ServerStreamCall& operator=(const ServerStreamCall&) = delete;
  ~ServerStreamCall() { Abandon(); }

  const Request& request() const { return *request_; }
  const Caller& caller() const { return state_->caller(); }
  bool active() const { return state_ != nullptr; }

  // See ServerStreamState.
  void Write(const Response& message, absl::AnyInvocable<void(bool)> written) {
    state_->Write(message, std::move(written));
  }
  void SetOnCancel(absl::AnyInvocable<void()> on_cancel) {
    state_->SetOnCancel(std::move(on_cancel));
  }
  void Finish(absl::Status status) {
    if (ServerStreamState* s = std::exchange(state_, nullptr))
      s->Finish(std::move(status));
  }

  // The platform's side, for helpers that keep a stream beyond the handle's
  // scope (see store/watch.h). The stream stays valid until Finish.
  ServerStreamState* Release() { return std::exchange(state_, nullptr); }

 private:
  void Abandon() {
    if (ServerStreamState* s = std::exchange(state_, nullptr))
      s->Finish(absl::InternalError("the handler ended without an answer"));
  }

  const Request* request_;
  ServerStreamState* state_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_API_CALL_H_
