#include "services/common/client/echo_test_server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/client/error_details.h"
#include "services/common/client/parallel_calls.h"
#include "services/common/server/interceptors.h"
#include "services/common/server/metrics.h"

namespace cstopa::common::testing {
namespace {

// gRPC 1.51 runs the callback API of every channel and server from one
// process-wide queue (where its iomgr has no background threads, as here),
// reference counted by its users: when the last goes the queue is torn
// down, and a channel or server made meanwhile races the teardown (a double
// free under ASan). These tests make and drop servers and channels case by
// case, so one channel that has made a callback call keeps the queue for the
// whole binary. (A real process keeps its channels for its life anyway.)
class CallbackQueueAnchor : public ::testing::Environment {
 public:
  void SetUp() override {
    // Nothing listens on port 1: the call fails at once, but it has taken
    // its channel's reference on the queue.
    channel_ = grpc::CreateChannel("127.0.0.1:1",
                                   grpc::InsecureChannelCredentials());
    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    grpc::Slice empty;
    grpc::ByteBuffer request(&empty, 1), response;
    absl::Notification done;
    stub.UnaryCall(&ctx, "/cstopa.clienttest.Anchor/Anchor",
                   grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status) { done.Notify(); });
    done.WaitForNotification();
  }
  void TearDown() override { channel_.reset(); }

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

::testing::Environment* const kCallbackQueueAnchor =
    ::testing::AddGlobalTestEnvironment(new CallbackQueueAnchor);

std::string FirstValue(const grpc::ServerContext& context,
                       const std::string& key) {
  auto it = context.client_metadata().find(key);
  if (it == context.client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

int EchoBackend::Attempts(const std::string& method, const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = attempts_.find({method, key});
  return it == attempts_.end() ? 0 : it->second;
}

grpc::Status EchoBackend::Answer(const std::string& method,
                                 grpc::ServerContext* context,
                                 const clienttest::EchoRequest& request,
                                 clienttest::EchoResponse* response) {
  int attempt;
  {
    absl::MutexLock lock(&mu_);
    attempt = ++attempts_[{method, request.key()}];
  }
  // Waits without holding anything; ends early when the client gives up.
  const absl::Time until =
      absl::Now() + absl::Milliseconds(request.delay_ms());
  while (absl::Now() < until && !context->IsCancelled()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  }
  if (attempt <= request.fail_attempts()) {
    const auto code = static_cast<absl::StatusCode>(request.fail_code());
    return ToGrpcStatus(
        code == absl::StatusCode::kNotFound
            ? NotFound(absl::StrCat("echoes/", request.key()))
            : absl::Status(code, absl::StrCat("attempt ", attempt,
                                              " fails as asked")));
  }
  response->set_message(request.message());
  response->set_attempt(attempt);
  response->set_request_id(FirstValue(*context, kRequestIdKey));
  response->set_traceparent(FirstValue(*context, kTraceparentKey));
  response->set_accept_language(FirstValue(*context, "accept-language"));
  std::vector<std::string> authorization;
  auto range = context->client_metadata().equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it) {
    authorization.emplace_back(it->second.data(), it->second.size());
  }
  response->set_authorization(absl::StrJoin(authorization, ","));
  return grpc::Status::OK;
}

FanOutFront::FanOutFront(std::shared_ptr<grpc::Channel> backend)
    : backend_(clienttest::EchoService::NewStub(std::move(backend))) {}

void FanOutFront::GetFanOut(GetFanOutCall call) {
  ParallelCalls calls(call.caller(),
                      call.deadline() -
                          absl::Milliseconds(call.request().reserve_ms()));
  std::vector<CallResult<clienttest::EchoResponse>*> results;
  for (const clienttest::EchoRequest& request : call.request().calls()) {
    results.push_back(calls.Add<clienttest::EchoResponse>(
        request, [this](grpc::ClientContext* ctx,
                        const clienttest::EchoRequest* req,
                        clienttest::EchoResponse* resp,
                        std::function<void(grpc::Status)> done) {
          backend_->async()->GetEcho(ctx, req, resp, std::move(done));
        }));
  }
  std::move(calls).Start([call = std::move(call), results]() mutable {
    for (CallResult<clienttest::EchoResponse>* result : results) {
      std::optional<google::rpc::ErrorInfo> info =
          GetErrorInfo(result->status());
      call.response()->add_results(
          result->ok()
              ? absl::StrCat("OK ", result->response().message())
              : absl::StrCat(GrpcCodeName(static_cast<int>(
                                 result->status().code())),
                             " ", info ? info->reason() : "(no ErrorInfo)"));
      *call.response()->add_responses() = std::move(result->response());
    }
    call.Finish(absl::OkStatus());
  });
}

TestServer::TestServer(std::vector<grpc::Service*> services, bool telemetry,
                       const std::string& unix_socket) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port_);
  if (!unix_socket.empty()) {
    builder.AddListeningPort(absl::StrCat("unix:", unix_socket),
                             grpc::InsecureServerCredentials());
  }
  for (grpc::Service* service : services) builder.RegisterService(service);
  if (telemetry) {
    std::vector<std::unique_ptr<
        grpc::experimental::ServerInterceptorFactoryInterface>>
        creators;
    creators.push_back(std::make_unique<TelemetryInterceptorFactory>(
        "client-test", /*metrics=*/nullptr, /*log=*/nullptr));
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  server_ = builder.BuildAndStart();
}

TestServer::~TestServer() {
  if (server_ == nullptr) return;
  // Calls still running (a slow echo) are cancelled at the deadline.
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::seconds(2));
  server_->Wait();
}

std::string TestServer::target() const {
  return absl::StrCat("127.0.0.1:", port_);
}

}  // namespace cstopa::common::testing
