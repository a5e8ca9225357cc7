// Servers for the client platform's tests, in-process on 127.0.0.1:0:
//  * EchoBackend, an EchoService (echo_test.proto) that fails, delays and
//    records as each request asks, and counts attempts per method and key;
//  * FanOutFront, a FanOutService handler (the platform's gRPC face) that
//    fans out to an EchoService from inside its handler with ParallelCalls;
//  * TestServer, a grpc::Server, with or without the suite's telemetry
//    interceptor.
//
//   EchoBackend backend;
//   TestServer server({&backend});
//   auto channel = NewChannel(server.target(), options);
#ifndef CSTOPA_SERVICES_COMMON_CLIENT_ECHO_TEST_SERVER_H_
#define CSTOPA_SERVICES_COMMON_CLIENT_ECHO_TEST_SERVER_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/channel.h"
#include "grpcpp/server.h"
#include "grpcpp/server_context.h"
#include "services/common/client/echo_test.cstopa.h"
#include "services/common/client/echo_test.grpc.pb.h"

namespace cstopa::common::testing {

class EchoBackend final : public clienttest::EchoService::Service {
 public:
  grpc::Status GetEcho(grpc::ServerContext* context,
                       const clienttest::EchoRequest* request,
                       clienttest::EchoResponse* response) override {
    return Answer("GetEcho", context, *request, response);
  }
  grpc::Status ListEchoes(grpc::ServerContext* context,
                          const clienttest::EchoRequest* request,
                          clienttest::EchoResponse* response) override {
    return Answer("ListEchoes", context, *request, response);
  }
  grpc::Status CreateEcho(grpc::ServerContext* context,
                          const clienttest::EchoRequest* request,
                          clienttest::EchoResponse* response) override {
    return Answer("CreateEcho", context, *request, response);
  }
  grpc::Status UpdateEcho(grpc::ServerContext* context,
                          const clienttest::EchoRequest* request,
                          clienttest::EchoResponse* response) override {
    return Answer("UpdateEcho", context, *request, response);
  }

  // Attempts of `method` ("GetEcho") with `key` so far.
  int Attempts(const std::string& method, const std::string& key);

 private:
  grpc::Status Answer(const std::string& method, grpc::ServerContext* context,
                      const clienttest::EchoRequest& request,
                      clienttest::EchoResponse* response);

  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, int> attempts_
      ABSL_GUARDED_BY(mu_);
};

// GetFanOut: one GetEcho on `backend` per request entry, all at once with
// ParallelCalls made for the incoming call (its deadline less reserve_ms);
// each result is "OK <message>" or "<CODE> <ErrorInfo reason>", and the
// responses are the backend's.
class FanOutFront final : public clienttest::FanOutServiceHandler {
 public:
  explicit FanOutFront(std::shared_ptr<grpc::Channel> backend);
  void GetFanOut(GetFanOutCall call) override;

 private:
  std::unique_ptr<clienttest::EchoService::Stub> backend_;
};

// A server on 127.0.0.1:0 (and on `unix_socket` when given); shut down
// when destroyed. With `telemetry`, the suite's server interceptor
// (server/interceptors.h), which hands handlers the call's ids; without it,
// handlers see the metadata exactly as the client sent it.
class TestServer {
 public:
  explicit TestServer(std::vector<grpc::Service*> services,
                      bool telemetry = false,
                      const std::string& unix_socket = "");
  ~TestServer();

  int port() const { return port_; }
  std::string target() const;  // "127.0.0.1:<port>"

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace cstopa::common::testing

#endif  // CSTOPA_SERVICES_COMMON_CLIENT_ECHO_TEST_SERVER_H_
