// bench_echo_server: a bare unary echo service on the gRPC callback API, with
// none of the services' interceptors, store or auth. The benchmark measures it
// in the same run as the real services, so that their throughput can be given
// as a ratio to what gRPC alone manages on the same machine.
//
//   bench_echo_server --listen=127.0.0.1:0 --port_file=/tmp/echo.json
//
// Writes {"grpc_port":N,"admin_port":0} to --port_file once serving (the same
// format as the services' port file) and stops on SIGTERM or SIGINT.
//
// With --fan_out_targets=host:port,... it is instead a bare fan-out: each
// Echo calls Echo once on every target at once (callback API, one shared
// channel per target) and answers when all have: what a gateway's view
// costs with no work of its own, for the benchmark to set beside the views.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/common/server/config.h"

namespace {

using cstopa::bench::v1::EchoRequest;
using cstopa::bench::v1::EchoResponse;
using cstopa::bench::v1::EchoService;

class EchoServiceImpl final : public EchoService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const EchoRequest* request,
                                 EchoResponse* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// Each Echo fans out to every target and answers when all have answered
// (the first error, if any).
class FanOutEchoImpl final : public EchoService::CallbackService {
 public:
  explicit FanOutEchoImpl(const std::vector<std::string>& targets) {
    for (const std::string& t : targets) {
      stubs_.push_back(EchoService::NewStub(
          grpc::CreateChannel(t, grpc::InsecureChannelCredentials())));
    }
  }

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const EchoRequest* request,
                                 EchoResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto* fan = new Fan(stubs_.size(), reactor);
    response->set_payload(request->payload());
    for (size_t i = 0; i < stubs_.size(); ++i) {
      Fan::Call& c = fan->calls[i];
      stubs_[i]->async()->Echo(&c.context, request, &c.response,
                               [fan](grpc::Status s) { fan->Done(s); });
    }
    return reactor;
  }

 private:
  struct Fan {
    struct Call {
      grpc::ClientContext context;
      EchoResponse response;
    };
    Fan(size_t n, grpc::ServerUnaryReactor* r)
        : calls(n), pending(n), reactor(r) {}
    void Done(const grpc::Status& s) {
      if (!s.ok()) {
        bool expected = false;
        if (failed.compare_exchange_strong(expected, true)) status = s;
      }
      if (pending.fetch_sub(1) != 1) return;
      reactor->Finish(failed ? status : grpc::Status::OK);
      delete this;
    }
    std::vector<Call> calls;
    std::atomic<size_t> pending;
    std::atomic<bool> failed{false};
    grpc::Status status;
    grpc::ServerUnaryReactor* reactor;
  };
  std::vector<std::unique_ptr<EchoService::Stub>> stubs_;
};

bool WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << content;
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  cstopa::common::FlagSet flags("bench_echo_server",
                                "Serves cstopa.bench.v1.EchoService over gRPC "
                                "(the benchmark's baseline).");
  flags.Add("listen", "", "127.0.0.1:0",
            "gRPC listen address host:port (port 0 picks a free port)");
  flags.Add("port_file", "", "",
            "after start, write {\"grpc_port\":N,\"admin_port\":0} here");
  flags.Add("max_concurrent_streams", "", "200",
            "concurrent calls per client connection (as the services)");
  flags.Add("fan_out_targets", "", "",
            "comma-separated host:port list: each Echo calls Echo on every "
            "one at once and answers when all have (a bare fan-out)");
  if (auto s = flags.Parse(argc, argv); !s.ok()) {
    if (absl::IsCancelled(s)) {
      std::cout << s.message();
      return 0;
    }
    std::cerr << "bench_echo_server: " << s.message() << "\n";
    return 2;
  }
  const std::string listen = flags.Get("listen");
  if (auto s = cstopa::common::ValidateListenAddress("listen", listen);
      !s.ok()) {
    std::cerr << "bench_echo_server: " << s.message() << "\n";
    return 2;
  }
  auto streams = flags.GetInt("max_concurrent_streams");
  if (!streams.ok() || *streams <= 0 || *streams > (1 << 30)) {
    std::cerr << "bench_echo_server: --max_concurrent_streams must be a "
                 "positive integer\n";
    return 2;
  }

  // Block the stop signals before gRPC starts its threads, so that every
  // thread inherits the mask and only sigwait() below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  EchoServiceImpl echo;
  std::unique_ptr<FanOutEchoImpl> fan_out;
  const std::string targets = flags.Get("fan_out_targets");
  if (!targets.empty()) {
    fan_out = std::make_unique<FanOutEchoImpl>(
        absl::StrSplit(targets, ',', absl::SkipEmpty()));
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  if (fan_out != nullptr) {
    builder.RegisterService(fan_out.get());
  } else {
    builder.RegisterService(&echo);
  }
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(*streams));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "bench_echo_server: cannot listen on " << listen << "\n";
    return 1;
  }
  std::cerr << "bench_echo_server: serving on port " << port << "\n";
  const std::string port_file = flags.Get("port_file");
  if (!port_file.empty() &&
      !WriteFileAtomically(port_file, absl::StrCat("{\"grpc_port\":", port,
                                                   ",\"admin_port\":0}\n"))) {
    std::cerr << "bench_echo_server: cannot write " << port_file << "\n";
    server->Shutdown();
    return 1;
  }

  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  std::cerr << "bench_echo_server: stopped\n";
  return 0;
}
