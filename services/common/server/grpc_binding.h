// The gRPC face of a handler: what the generated `New<Service>Grpc`
// functions (protoc-gen-cstopa) are made of. Nobody writes these by hand.
//
// Every RPC is registered as a raw callback method, so that one path decodes
// every request: the bytes are parsed on a per-call arena, and a request that
// is not a valid message (a string field that is not UTF-8, say) ends with
// INVALID_ARGUMENT and a BadRequest naming the field, whatever the method.
// The handler then gets a UnaryCall (or ServerStreamCall, api/call.h); when
// it finishes, the response is serialized here, or sent as the bytes it
// gave (UnaryCall::FinishSerialized). No thread waits for a handler.
// Every error leaves with an ErrorInfo in the service's own domain
// (ErrorDomainOf its full name, e.g. "membership.cstopa.org"; base/errors.h),
// unless it names another one already.
//
//   class FooServiceGrpc final : public GrpcServiceBase {  // generated
//    public:
//     explicit FooServiceGrpc(FooServiceHandler* h) {
//       AddUnary("/pkg.FooService/GetFoo", h, &FooServiceHandler::GetFoo);
//     }
//   };
#ifndef CSTOPA_SERVICES_COMMON_SERVER_GRPC_BINDING_H_
#define CSTOPA_SERVICES_COMMON_SERVER_GRPC_BINDING_H_

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/message.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/impl/rpc_service_method.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/string_ref.h"
#include "services/common/api/call.h"

namespace cstopa::common {

// The request id and the server's span of one call.
struct CallIds {
  std::string request_id;   // the client's valid x-request-id, or a new one
  std::string traceparent;  // the server's span, as a W3C traceparent
  std::string trace_id;
  std::string span_id;
};

// The telemetry of the calls the binding serves: the runner's
// (server/interceptors.h), which does the same for every other call (health,
// reflection, unknown methods) as a gRPC interceptor. Here it runs inside
// the call's own reactor: a gRPC interceptor costs a quarter of a small
// call's time. Thread-safe.
class CallObserver {
 public:
  virtual ~CallObserver() = default;
  // At a call's start, from the client's metadata.
  virtual CallIds Begin(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) = 0;
  // Once per call, with the code the client saw where the server can tell.
  virtual void End(const char* method, const CallIds& ids, std::string peer,
                   int code, absl::string_view message, double seconds) = 0;
  // When the call is over (its reactor is done), after End.
  virtual void Closed() {}
};

// The caller as the server context shows it: `authorization` metadata and
// the deadline.
Caller CallerOf(grpc::CallbackServerContext* ctx);

// Parses `buffer` into `out`. On failure, the INVALID_ARGUMENT to answer
// with: reason INVALID_REQUEST, and a field violation naming each string
// field that is not UTF-8 (e.g. "state.display_name[0].text").
absl::Status DecodeRequest(const grpc::ByteBuffer& buffer,
                           google::protobuf::Message* out);

// The code (and message) a client saw of a call, where the server can tell:
// the status sent, unless the call's `deadline` (time_point::max() without
// one) had passed by then, for the client (whose deadline is a little
// earlier) has given up and sees DEADLINE_EXCEEDED; a CANCELLED sent within
// 100 ms of the deadline answers the deadline too. OutcomeOfClose: a call
// that closed before its status was sent, CANCELLED, or DEADLINE_EXCEEDED
// within 100 ms of the deadline (the client's cancellation at its own
// deadline may arrive first). Shared by the binding and the interceptor.
struct CallOutcome {
  int code;
  std::string message;
};
CallOutcome OutcomeOfStatus(int code, absl::string_view message,
                            std::chrono::system_clock::time_point deadline);
CallOutcome OutcomeOfClose(std::chrono::system_clock::time_point deadline);

namespace grpc_binding_internal {

// One call's telemetry in its reactor (nothing without an observer): the
// ids into the caller and the response metadata (`x-request-id` and
// `traceparent`: in the initial metadata, and in the trailers of an error,
// which may be sent trailers-only); the outcome once,
// whichever of the status, a cancellation or the end comes first, as the
// client saw it (OutcomeOfStatus, OutcomeOfClose).
class CallTelemetry {
 public:
  void Begin(CallObserver* observer, const char* method,
             grpc::CallbackServerContext* ctx, Caller* caller);
  void Sent(int code, absl::string_view message);
  void Cancelled();
  void Done();

 private:
  void End(int code, absl::string_view message);

  CallObserver* observer_ = nullptr;
  const char* method_ = nullptr;
  grpc::CallbackServerContext* ctx_ = nullptr;
  CallIds ids_;
  std::string peer_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<bool> ended_{false};
};

// The non-template part of one unary call: reactor, arena, caller.
class UnaryReactor : public grpc::ServerUnaryReactor, public UnaryCallState {
 public:
  UnaryReactor(grpc::CallbackServerContext* ctx, grpc::ByteBuffer* response,
               const std::string* error_domain, CallObserver* observer,
               const char* method);
  virtual ~UnaryReactor() = default;

  const Caller& caller() const override { return caller_; }
  void Finish(absl::Status status) override;
  void FinishSerialized(std::string bytes) override;
  void OnCancel() override { telemetry_.Cancelled(); }
  void OnDone() override {
    telemetry_.Done();
    delete this;
  }

 protected:
  google::protobuf::Arena* arena() { return &arena_; }
  void set_response(google::protobuf::Message* m) { response_ = m; }

 private:
  static google::protobuf::ArenaOptions ArenaOptionsFor(char* block,
                                                        size_t size);

  // Most calls fit their messages in this block: no allocation beyond the
  // reactor's own.
  alignas(16) char initial_block_[2048];
  google::protobuf::Arena arena_;
  grpc::ByteBuffer* response_buffer_;
  google::protobuf::Message* response_ = nullptr;
  Caller caller_;
  const std::string* error_domain_;
  CallTelemetry telemetry_;
};

template <typename Handler, typename Request, typename Response>
class TypedUnaryReactor final : public UnaryReactor {
 public:
  using Method = void (Handler::*)(UnaryCall<Request, Response>);
  TypedUnaryReactor(grpc::CallbackServerContext* ctx,
                    grpc::ByteBuffer* response, const std::string* error_domain,
                    CallObserver* observer, const char* method)
      : UnaryReactor(ctx, response, error_domain, observer, method) {}

  void Start(const grpc::ByteBuffer& request, Handler* handler, Method method) {
    Request* req = google::protobuf::Arena::CreateMessage<Request>(arena());
    if (absl::Status s = DecodeRequest(request, req); !s.ok()) {
      Finish(std::move(s));
      return;
    }
    Response* resp = google::protobuf::Arena::CreateMessage<Response>(arena());
    set_response(resp);
    (handler->*method)(UnaryCall<Request, Response>(req, resp, this));
  }
};

// The non-template part of one server stream.
class StreamReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                      public ServerStreamState {
 public:
  StreamReactor(grpc::CallbackServerContext* ctx,
                const std::string* error_domain, CallObserver* observer,
                const char* method);
  virtual ~StreamReactor() = default;

  const Caller& caller() const override { return caller_; }
  void Write(const google::protobuf::Message& message,
             absl::AnyInvocable<void(bool)> written) override;
  void Finish(absl::Status status) override;
  void SetOnCancel(absl::AnyInvocable<void()> on_cancel) override;

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override {
    telemetry_.Done();
    delete this;
  }

 protected:
  google::protobuf::Arena* arena() { return &arena_; }

 private:
  google::protobuf::Arena arena_;
  Caller caller_;
  const std::string* error_domain_;
  grpc::ByteBuffer buffer_;
  absl::AnyInvocable<void(bool)> written_;
  std::atomic<bool> finished_{false};
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::AnyInvocable<void()> on_cancel_ ABSL_GUARDED_BY(mu_);
  CallTelemetry telemetry_;
};

template <typename Handler, typename Request, typename Response>
class TypedStreamReactor final : public StreamReactor {
 public:
  using Method = void (Handler::*)(ServerStreamCall<Request, Response>);
  TypedStreamReactor(grpc::CallbackServerContext* ctx,
                     const std::string* error_domain, CallObserver* observer,
                     const char* method)
      : StreamReactor(ctx, error_domain, observer, method) {}

  void Start(const grpc::ByteBuffer& request, Handler* handler, Method method) {
    Request* req = google::protobuf::Arena::CreateMessage<Request>(arena());
    if (absl::Status s = DecodeRequest(request, req); !s.ok()) {
      Finish(std::move(s));
      return;
    }
    (handler->*method)(ServerStreamCall<Request, Response>(req, this));
  }
};

}  // namespace grpc_binding_internal

// Base of the generated gRPC faces.
class GrpcServiceBase : public grpc::Service {
 public:
  // The telemetry of every call of this service (not owned; null: none).
  // Set before the server starts.
  void set_observer(CallObserver* observer) { observer_ = observer; }
  // The paths of the methods registered ("/pkg.Service/Method").
  const std::vector<std::string>& method_paths() const { return paths_; }

 protected:
  // Registers the unary RPC `path` ("/pkg.Service/Method", a string that
  // lives forever) as a call of handler->*method.
  template <typename Handler, typename Request, typename Response>
  void AddUnary(const char* path, Handler* handler,
                void (Handler::*method)(UnaryCall<Request, Response>)) {
    using Reactor =
        grpc_binding_internal::TypedUnaryReactor<Handler, Request, Response>;
    const std::string* domain = ErrorDomainFor(path);
    paths_.emplace_back(path);
    AddMethod(new grpc::internal::RpcServiceMethod(
        path, grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
    MarkMethodRawCallback(
        next_index_++,
        new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer,
                                                 grpc::ByteBuffer>(
            [this, handler, method, domain, path](
                grpc::CallbackServerContext* ctx,
                const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
              auto* reactor =
                  new Reactor(ctx, response, domain, observer_, path);
              reactor->Start(*request, handler, method);
              return reactor;
            }));
  }

  // Registers the server-streaming RPC `path` as a call of handler->*method.
  template <typename Handler, typename Request, typename Response>
  void AddServerStream(
      const char* path, Handler* handler,
      void (Handler::*method)(ServerStreamCall<Request, Response>)) {
    using Reactor =
        grpc_binding_internal::TypedStreamReactor<Handler, Request, Response>;
    const std::string* domain = ErrorDomainFor(path);
    paths_.emplace_back(path);
    AddMethod(new grpc::internal::RpcServiceMethod(
        path, grpc::internal::RpcMethod::SERVER_STREAMING, nullptr));
    MarkMethodRawCallback(
        next_index_++,
        new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer,
                                                           grpc::ByteBuffer>(
            [this, handler, method, domain, path](
                grpc::CallbackServerContext* ctx,
                const grpc::ByteBuffer* request) {
              auto* reactor = new Reactor(ctx, domain, observer_, path);
              reactor->Start(*request, handler, method);
              return reactor;
            }));
  }

 private:
  // The error domain of the service whose method `path` is
  // ("/pkg.Service/Method"), kept here for the service's lifetime.
  const std::string* ErrorDomainFor(const char* path);

  int next_index_ = 0;
  std::string error_domain_;
  CallObserver* observer_ = nullptr;
  std::vector<std::string> paths_;
};

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_SERVER_GRPC_BINDING_H_
