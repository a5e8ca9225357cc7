// cstopa_loadgen: a closed-loop load generator on the gRPC callback API.
//
// For each scenario it opens --channels separate connections and keeps
// --outstanding calls in flight on each: every completion records its latency
// and starts the next call, until the warm-up and the measured duration have
// passed; then it waits (bounded) for the calls still in flight. It prints one
// JSON line per run and a table: requests per second, p50/p99 latency, errors
// and the throughput as a ratio to the bare echo server's.
//
//   cstopa_loadgen --echo_target=127.0.0.1:41001 --target=127.0.0.1:41002
//   cstopa_loadgen --target=... --api_key_file=key.txt --persons=200
//                  --roles=200 --scenarios=GetState,ListPersons
//
// Scenarios: echo (EchoService.Echo on --echo_target), GetState (--state),
// ListPersons (--page_size), ListRoles (--roles_filter, --page_size), and any
// named with --custom (a serialized request file sent to a method, for the
// other services). A scenario may be listed twice; the echo baseline is the
// mean of the echo runs.
// Any non-OK response counts as an error.
//
// With --persons or --roles (and --api_key_file holding an editor key) it first
// creates that many persons and roles, so that a page of 50 is full, and the
// state --state if it is missing. Writes that find the record already there
// are fine, so it can run twice against the same store.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "cstopa/type/v1/types.pb.h"
#include "echo.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "services/common/server/config.h"
#include "tests/bench/latency_histogram.h"

namespace cstopa::bench {
namespace {

namespace mv1 = cstopa::membership::v1;
using cstopa::bench::v1::EchoRequest;
using cstopa::bench::v1::EchoResponse;
using cstopa::bench::v1::EchoService;
using Clock = std::chrono::steady_clock;

// The body the created roles belong to.
constexpr absl::string_view kBenchBody = "bodies/bench-assembly";

struct LoadOptions {
  int channels = 4;
  int outstanding = 32;  // per channel
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(5);
  absl::Duration call_timeout = absl::Seconds(10);
  // How long to wait for the calls in flight when the duration ends. Longer
  // than call_timeout, so only a stuck gRPC runs into it.
  absl::Duration drain_timeout = absl::Seconds(20);
};

// The outcome of one run of one scenario.
struct RunResult {
  std::string scenario;
  int64_t ok = 0;            // OK completions within the measured window
  int64_t errors = 0;        // non-OK completions over the whole run
  double seconds = 0;        // length of the measured window
  LatencyHistogram latency;  // of the OK completions in the window, in ns
  std::string first_error;
  int items = 0;              // resources in one response (lists)
  size_t response_bytes = 0;  // size of one response
  double ratio_to_echo = -1;  // < 0: no echo run to compare with

  double rps() const { return seconds > 0 ? ok / seconds : 0; }
};

std::string StatusText(const grpc::Status& status) {
  return absl::StrCat(absl::StatusCodeToString(
                          static_cast<absl::StatusCode>(status.error_code())),
                      ": ", status.error_message());
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// `n` channels to `target`, each with its own subchannel pool (and a distinct
// channel argument), so that each is a separate TCP connection. Waits until
// every one is connected.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> OpenChannels(
    const std::string& target, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("cstopa.bench.channel_index", i);
    auto channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::seconds(10))) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", target, " within 10 s"));
    }
    channels.push_back(std::move(channel));
  }
  return channels;
}

// Keeps options.outstanding calls in flight on each channel. `start` issues
// one call on a channel; every call gets its own ClientContext.
template <typename Request, typename Response>
class ClosedLoop {
 public:
  using StartFn = std::function<void(
      size_t channel, grpc::ClientContext* context, const Request* request,
      Response* response, std::function<void(grpc::Status)> done)>;

  ClosedLoop(const LoadOptions& options, size_t channels,
             const Request& request, StartFn start)
      : options_(options), start_(std::move(start)) {
    const size_t n = channels * static_cast<size_t>(options.outstanding);
    for (size_t i = 0; i < n; ++i) {
      auto slot = std::make_unique<Slot>();
      slot->channel = i % channels;
      slot->request = request;
      slots_.push_back(std::move(slot));
    }
  }

  ClosedLoop(const ClosedLoop&) = delete;
  ClosedLoop& operator=(const ClosedLoop&) = delete;

  // Runs warm-up and measurement and waits for the calls in flight. Returns
  // false if they did not finish within options.drain_timeout; the loop must
  // then not be destroyed.
  bool Run(RunResult* result) {
    {
      absl::MutexLock lock(&mu_);
      active_ = static_cast<int>(slots_.size());
    }
    for (auto& slot : slots_) Issue(slot.get());
    absl::SleepFor(options_.warmup);
    const Clock::time_point begin = Clock::now();
    phase_.store(kMeasure, std::memory_order_release);
    absl::SleepFor(options_.duration);
    phase_.store(kDone, std::memory_order_release);
    const Clock::time_point end = Clock::now();
    result->seconds = std::chrono::duration<double>(end - begin).count();

    mu_.Lock();
    const bool drained = mu_.AwaitWithTimeout(
        absl::Condition(
            +[](int* active) { return *active == 0; }, &active_),
        options_.drain_timeout);
    if (!drained) {
      result->first_error = absl::StrCat(
          active_, " calls still in flight ",
          absl::FormatDuration(options_.drain_timeout), " after the end");
      mu_.Unlock();
      return false;
    }
    if (result->first_error.empty()) result->first_error = first_error_;
    mu_.Unlock();
    for (const auto& slot : slots_) {
      result->ok += slot->ok;
      result->errors += slot->errors;
      result->latency.Merge(slot->latency);
    }
    return true;
  }

 private:
  enum Phase { kWarmup, kMeasure, kDone };

  // One outstanding call, reissued as soon as it completes. Only the
  // callback of its current call touches it, so it needs no lock.
  struct Slot {
    size_t channel = 0;
    Request request;
    Response response;
    std::unique_ptr<grpc::ClientContext> context;
    Clock::time_point started;
    LatencyHistogram latency;
    int64_t ok = 0;
    int64_t errors = 0;
  };

  void Issue(Slot* slot) {
    // A ClientContext serves one call only. Replacing it here, from the
    // previous call's callback, is allowed: gRPC is done with it by then.
    slot->context = std::make_unique<grpc::ClientContext>();
    slot->context->set_deadline(
        absl::ToChronoTime(absl::Now() + options_.call_timeout));
    slot->response.Clear();
    slot->started = Clock::now();
    start_(slot->channel, slot->context.get(), &slot->request, &slot->response,
           [this, slot](grpc::Status status) { OnDone(slot, status); });
  }

  void OnDone(Slot* slot, const grpc::Status& status) {
    const auto elapsed = Clock::now() - slot->started;
    const int phase = phase_.load(std::memory_order_acquire);
    if (status.ok()) {
      if (phase == kMeasure) {
        slot->latency.Record(
            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed)
                .count());
        ++slot->ok;
      }
    } else if (++slot->errors == 1) {
      absl::MutexLock lock(&mu_);
      if (first_error_.empty()) first_error_ = StatusText(status);
    }
    if (phase == kDone) {
      absl::MutexLock lock(&mu_);
      --active_;
      return;
    }
    Issue(slot);
  }

  const LoadOptions options_;
  const StartFn start_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<int> phase_{kWarmup};
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

// Resources in one response, for the report.
int ItemCount(const google::protobuf::Message&) { return 1; }
int ItemCount(const mv1::ListPersonsResponse& r) { return r.persons_size(); }
int ItemCount(const mv1::ListRolesResponse& r) { return r.roles_size(); }

// The measured closed loop of one scenario on `channels`: `bytes` (a
// serialized request) sent to `method` through generic stubs. Adds to
// `result`.
void RunLoop(const std::string& scenario,
             const std::vector<std::shared_ptr<grpc::Channel>>& channels,
             const std::string& method, const LoadOptions& options,
             const std::string& bytes, RunResult* result) {
  std::vector<std::unique_ptr<grpc::GenericStub>> generic;
  for (const auto& channel : channels)
    generic.push_back(std::make_unique<grpc::GenericStub>(channel));
  grpc::Slice slice(bytes);
  const grpc::ByteBuffer request_bytes(&slice, 1);
  auto loop = std::make_unique<ClosedLoop<grpc::ByteBuffer, grpc::ByteBuffer>>(
      options, generic.size(), request_bytes,
      [&generic, method](size_t channel, grpc::ClientContext* context,
                         const grpc::ByteBuffer* req, grpc::ByteBuffer* resp,
                         std::function<void(grpc::Status)> done) {
        generic[channel]->UnaryCall(context, method, grpc::StubOptions(), req,
                                    resp, std::move(done));
      });
  RunResult run;
  if (!loop->Run(&run)) {
    // Calls still reference the loop, the stubs and the channels: give up
    // without destroying them.
    std::cerr << "cstopa_loadgen: " << scenario << ": " << run.first_error
              << "\n";
    std::fflush(nullptr);
    std::_Exit(1);
  }
  result->ok = run.ok;
  result->errors += run.errors;
  result->seconds = run.seconds;
  result->latency = std::move(run.latency);
  if (result->first_error.empty()) result->first_error = run.first_error;
}

// A scenario given on the command line (--custom): a serialized request sent
// to a method of the --target server. The report counts response bytes; the
// items of a response are unknown here (reported as 1).
absl::StatusOr<RunResult> MeasureRaw(const std::string& scenario,
                                     const std::string& target,
                                     const std::string& method,
                                     const LoadOptions& options,
                                     const std::string& bytes) {
  auto channels = OpenChannels(target, options.channels);
  if (!channels.ok()) return channels.status();
  RunResult result;
  result.scenario = scenario;
  {
    grpc::GenericStub stub((*channels)[0]);
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + options.call_timeout));
    grpc::Slice slice(bytes);
    const grpc::ByteBuffer req(&slice, 1);
    grpc::ByteBuffer resp;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &req, &resp,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    if (status.ok()) {
      result.items = 1;
      result.response_bytes = resp.Length();
    } else {
      ++result.errors;
      result.first_error = StatusText(status);
    }
  }
  RunLoop(scenario, *channels, method, options, bytes, &result);
  return result;
}

// Runs one scenario: `call(async_stub, context, request, response, done)`
// issues one call of the method under test.
//
// The measured loop sends the request pre-serialized and does not parse the
// responses (as h2load would), through a generic stub on the same channels:
// it measures the server, not the load generator's protobuf parsing, which
// would otherwise take a share of the same two cores that grows with the
// response size.
template <typename Service, typename Request, typename Response, typename Call>
absl::StatusOr<RunResult> Measure(const std::string& scenario,
                                  const std::string& target,
                                  const std::string& method,
                                  const LoadOptions& options,
                                  const Request& request, Call call) {
  auto channels = OpenChannels(target, options.channels);
  if (!channels.ok()) return channels.status();
  std::vector<std::unique_ptr<typename Service::Stub>> stubs;
  for (const auto& channel : *channels)
    stubs.push_back(Service::NewStub(channel));

  RunResult result;
  result.scenario = scenario;

  // One call first, to report what a response holds (items, bytes).
  {
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(absl::Now() + options.call_timeout));
    Response response;
    grpc::Status status;
    absl::Notification done;
    call(stubs[0]->async(), &context, &request, &response, [&](grpc::Status s) {
      status = std::move(s);
      done.Notify();
    });
    done.WaitForNotification();
    if (status.ok()) {
      result.items = ItemCount(response);
      result.response_bytes = response.ByteSizeLong();
    } else {
      ++result.errors;
      result.first_error = StatusText(status);
    }
  }

  RunLoop(scenario, *channels, method, options, request.SerializeAsString(),
          &result);
  return result;
}

// Blocking calls with the editor key, for the setup.
class Writer {
 public:
  Writer(std::shared_ptr<grpc::Channel> channel, std::string key)
      : stub_(mv1::MembershipService::NewStub(std::move(channel))),
        key_(std::move(key)) {}

  // Runs `rpc(stub, context)` with the key; OK and ALREADY_EXISTS count as
  // success (the latter sets *existed).
  template <typename Rpc>
  grpc::Status Create(Rpc rpc, bool* existed) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", key_));
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    grpc::Status status = rpc(stub_.get(), &context);
    *existed = status.error_code() == grpc::StatusCode::ALREADY_EXISTS;
    return *existed ? grpc::Status::OK : status;
  }

  mv1::MembershipService::Stub* stub() { return stub_.get(); }

 private:
  std::unique_ptr<mv1::MembershipService::Stub> stub_;
  std::string key_;
};

void AddText(
    google::protobuf::RepeatedPtrField<cstopa::type::v1::LocalizedText>* texts,
    std::string text) {
  auto* t = texts->Add();
  t->set_language_code("en");
  t->set_text(std::move(text));
}

void AddProvenance(
    google::protobuf::RepeatedPtrField<cstopa::type::v1::Provenance>* p) {
  p->Add()->set_note("created by cstopa_loadgen for the benchmark");
}

// Creates `state` if missing, `persons` persons and `roles` roles (half of
// them ROLE_TYPE_MEMBER) in bodies/bench-assembly.
absl::Status Setup(const std::string& target, const std::string& key,
                   const std::string& state, int persons, int roles) {
  auto channels = OpenChannels(target, 1);
  if (!channels.ok()) return channels.status();
  Writer writer((*channels)[0], key);
  const absl::Time t0 = absl::Now();
  auto failed = [](absl::string_view what, const grpc::Status& s) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("setup: ", what, ": ", s.error_message()));
  };
  bool existed = false;

  // The state GetState reads, and the persons point to.
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    mv1::GetStateRequest req;
    req.set_name(state);
    mv1::State resp;
    grpc::Status s = writer.stub()->GetState(&context, req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      const std::string id = state.substr(state.find('/') + 1);
      mv1::CreateStateRequest create;
      create.set_state_id(id);
      AddText(create.mutable_state()->mutable_display_name(),
              id == "kz" ? "Kazakhstan" : absl::StrCat("State ", id));
      if (id.size() == 2) {
        create.mutable_state()->set_region_code(absl::AsciiStrToUpper(id));
      }
      AddProvenance(create.mutable_state()->mutable_provenance());
      s = writer.Create(
          [&](mv1::MembershipService::Stub* stub, grpc::ClientContext* c) {
            mv1::State out;
            return stub->CreateState(c, create, &out);
          },
          &existed);
    }
    if (!s.ok()) return failed(state, s);
  }

  int persons_existed = 0;
  for (int i = 0; i < persons; ++i) {
    mv1::CreatePersonRequest req;
    req.set_person_id(absl::StrFormat("bench-person-%04d", i));
    AddText(req.mutable_person()->mutable_display_name(),
            absl::StrFormat("Bench Person %04d", i));
    req.mutable_person()->set_state(state);
    AddProvenance(req.mutable_person()->mutable_provenance());
    grpc::Status s = writer.Create(
        [&](mv1::MembershipService::Stub* stub, grpc::ClientContext* c) {
          mv1::Person out;
          return stub->CreatePerson(c, req, &out);
        },
        &existed);
    if (!s.ok()) return failed(req.person_id(), s);
    persons_existed += existed;
  }

  int roles_existed = 0;
  if (roles > 0) {
    mv1::CreateBodyRequest body;
    body.set_body_id(std::string(kBenchBody.substr(kBenchBody.find('/') + 1)));
    AddText(body.mutable_body()->mutable_display_name(), "Benchmark assembly");
    body.mutable_body()->set_kind(mv1::BODY_KIND_ASSEMBLY);
    AddProvenance(body.mutable_body()->mutable_provenance());
    grpc::Status s = writer.Create(
        [&](mv1::MembershipService::Stub* stub, grpc::ClientContext* c) {
          mv1::Body out;
          return stub->CreateBody(c, body, &out);
        },
        &existed);
    if (!s.ok()) return failed(kBenchBody, s);
  }
  static constexpr mv1::RoleType kOtherTypes[] = {mv1::ROLE_TYPE_CHAIR,
                                                  mv1::ROLE_TYPE_DEPUTY_CHAIR,
                                                  mv1::ROLE_TYPE_SECRETARY};
  for (int i = 0; i < roles; ++i) {
    mv1::CreateRoleRequest req;
    req.set_role_id(absl::StrFormat("bench-role-%04d", i));
    mv1::Role* role = req.mutable_role();
    if (persons > 0) {
      role->set_person(
          absl::StrFormat("persons/bench-person-%04d", i % persons));
    }
    role->set_organization(std::string(kBenchBody));
    role->set_role_type(i % 2 == 0 ? mv1::ROLE_TYPE_MEMBER
                                   : kOtherTypes[(i / 2) % 3]);
    AddText(role->mutable_title(), i % 2 == 0 ? "Member" : "Officer");
    auto* start = role->mutable_period()->mutable_start_date();
    start->set_year(2024);
    start->set_month(1);
    start->set_day(1);
    AddProvenance(role->mutable_provenance());
    grpc::Status s = writer.Create(
        [&](mv1::MembershipService::Stub* stub, grpc::ClientContext* c) {
          mv1::Role out;
          return stub->CreateRole(c, req, &out);
        },
        &existed);
    if (!s.ok()) return failed(req.role_id(), s);
    roles_existed += existed;
  }
  std::cerr << absl::StrFormat(
      "cstopa_loadgen: setup: %d persons (%d already there), %d roles (%d "
      "already there) in %.1f s\n",
      persons, persons_existed, roles, roles_existed,
      absl::ToDoubleSeconds(absl::Now() - t0));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string key(absl::StripAsciiWhitespace(ss.str()));
  if (key.empty()) return absl::InvalidArgumentError(path + " is empty");
  return key;
}

std::string JsonLine(const RunResult& r, const LoadOptions& options) {
  std::string line = absl::StrFormat(
      "{\"scenario\":%s,\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"errors\":%d,\"ok_calls\":%d,\"seconds\":%.3f,\"items\":%d,"
      "\"response_bytes\":%d,\"channels\":%d,\"outstanding\":%d,"
      "\"ratio_to_echo\":",
      JsonString(r.scenario), r.rps(), r.latency.Quantile(0.5) / 1e6,
      r.latency.Quantile(0.99) / 1e6, r.errors, r.ok, r.seconds, r.items,
      r.response_bytes, options.channels, options.outstanding);
  absl::StrAppend(&line, r.ratio_to_echo < 0
                             ? std::string("null")
                             : absl::StrFormat("%.3f", r.ratio_to_echo));
  if (!r.first_error.empty()) {
    absl::StrAppend(&line, ",\"first_error\":", JsonString(r.first_error));
  }
  return line + "}";
}

absl::StatusOr<absl::Duration> Seconds(const cstopa::common::FlagSet& flags,
                                       const std::string& name, bool zero_ok) {
  double v;
  if (!absl::SimpleAtod(flags.Get(name), &v) || v < 0 || v > 86400 ||
      (!zero_ok && v == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, " must be a number of seconds", zero_ok ? "" : " above 0",
        ", not `", flags.Get(name), "`"));
  }
  return absl::Seconds(v);
}

absl::StatusOr<int> PositiveInt(const cstopa::common::FlagSet& flags,
                                const std::string& name, int min, int max) {
  auto v = flags.GetInt(name);
  if (!v.ok()) return v.status();
  if (*v < min || *v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be between ", min, " and ", max));
  }
  return static_cast<int>(*v);
}

int Main(int argc, char** argv) {
  cstopa::common::FlagSet flags(
      "cstopa_loadgen",
      "Closed-loop gRPC load generator (callback API) for the benchmark.");
  flags.Add("target", "", "", "membership server host:port");
  flags.Add("echo_target", "", "", "bench_echo_server host:port");
  flags.Add("scenarios", "", "echo,GetState,ListPersons,ListRoles,echo",
            "comma-separated runs: echo, GetState, ListPersons, ListRoles; "
            "the echo baseline is the mean of the echo runs");
  flags.Add("channels", "", "4", "connections per scenario");
  flags.Add("outstanding", "", "32", "calls in flight per connection");
  flags.Add("duration", "", "5", "measured seconds per scenario");
  flags.Add("warmup", "", "1", "seconds of load before measuring");
  flags.Add("call_timeout", "", "10", "deadline of each call, in seconds");
  flags.Add("payload_bytes", "", "100", "size of the echo payload");
  flags.Add("state", "", "states/kz", "the state GetState reads");
  flags.Add("page_size", "", "50", "page_size of ListPersons and ListRoles");
  flags.Add("roles_filter", "", "role_type = ROLE_TYPE_MEMBER",
            "filter of ListRoles");
  flags.Add("persons", "", "0",
            "first create this many persons (needs --api_key_file)");
  flags.Add("roles", "", "0",
            "first create this many roles, half of them members (needs "
            "--api_key_file)");
  flags.Add("api_key_file", "", "", "file holding an editor API key");
  flags.Add("custom", "", "",
            "more scenarios on --target, comma-separated "
            "NAME=/package.Service/Method@FILE (FILE: a serialized request); "
            "list NAME in --scenarios to run it");
  if (auto s = flags.Parse(argc, argv); !s.ok()) {
    if (absl::IsCancelled(s)) {
      std::cout << s.message();
      return 0;
    }
    std::cerr << "cstopa_loadgen: " << s.message() << "\n";
    return 2;
  }

  LoadOptions options;
  auto bad = [](const absl::Status& s) {
    std::cerr << "cstopa_loadgen: " << s.message() << "\n";
    return 2;
  };
  auto channels = PositiveInt(flags, "channels", 1, 1000);
  if (!channels.ok()) return bad(channels.status());
  options.channels = *channels;
  auto outstanding = PositiveInt(flags, "outstanding", 1, 10000);
  if (!outstanding.ok()) return bad(outstanding.status());
  options.outstanding = *outstanding;
  auto duration = Seconds(flags, "duration", false);
  if (!duration.ok()) return bad(duration.status());
  options.duration = *duration;
  auto warmup = Seconds(flags, "warmup", true);
  if (!warmup.ok()) return bad(warmup.status());
  options.warmup = *warmup;
  auto call_timeout = Seconds(flags, "call_timeout", false);
  if (!call_timeout.ok()) return bad(call_timeout.status());
  options.call_timeout = *call_timeout;
  options.drain_timeout = options.call_timeout + absl::Seconds(10);
  auto payload_bytes = PositiveInt(flags, "payload_bytes", 0, 1 << 20);
  if (!payload_bytes.ok()) return bad(payload_bytes.status());
  auto page_size = PositiveInt(flags, "page_size", 0, 1000);
  if (!page_size.ok()) return bad(page_size.status());
  auto persons = PositiveInt(flags, "persons", 0, 100000);
  if (!persons.ok()) return bad(persons.status());
  auto roles = PositiveInt(flags, "roles", 0, 100000);
  if (!roles.ok()) return bad(roles.status());

  const std::string target = flags.Get("target");
  const std::string echo_target = flags.Get("echo_target");
  // NAME -> (method, serialized request).
  std::map<std::string, std::pair<std::string, std::string>> custom;
  for (absl::string_view entry :
       absl::StrSplit(flags.Get("custom"), ',', absl::SkipWhitespace())) {
    std::vector<std::string> name_rest =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    std::vector<std::string> method_file =
        name_rest.size() == 2
            ? absl::StrSplit(name_rest[1], absl::MaxSplits('@', 1))
            : std::vector<std::string>{};
    if (method_file.size() != 2 || name_rest[0].empty() ||
        method_file[0].empty() || method_file[0][0] != '/') {
      return bad(absl::InvalidArgumentError(
          absl::StrCat("--custom entry `", entry,
                       "` is not NAME=/package.Service/Method@FILE")));
    }
    std::ifstream in(method_file[1], std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (!in) {
      return bad(absl::InvalidArgumentError(
          absl::StrCat("cannot read ", method_file[1])));
    }
    custom[name_rest[0]] = {method_file[0], bytes.str()};
  }
  std::vector<std::string> scenarios =
      absl::StrSplit(flags.Get("scenarios"), ',', absl::SkipWhitespace());
  for (std::string& s : scenarios) {
    s = std::string(absl::StripAsciiWhitespace(s));
    if (s == "echo") {
      if (echo_target.empty())
        return bad(absl::InvalidArgumentError("echo needs --echo_target"));
    } else if (s == "GetState" || s == "ListPersons" || s == "ListRoles" ||
               custom.count(s) > 0) {
      if (target.empty())
        return bad(absl::InvalidArgumentError(s + " needs --target"));
    } else {
      return bad(absl::InvalidArgumentError(
          absl::StrCat("unknown scenario `", s,
                       "`; use echo, GetState, ListPersons or ListRoles")));
    }
  }

  if (*persons > 0 || *roles > 0) {
    if (target.empty())
      return bad(absl::InvalidArgumentError("--persons needs --target"));
    if (flags.Get("api_key_file").empty()) {
      return bad(absl::InvalidArgumentError(
          "--persons and --roles need --api_key_file (an editor key)"));
    }
    auto key = ReadKey(flags.Get("api_key_file"));
    if (!key.ok()) return bad(key.status());
    if (auto s = Setup(target, *key, flags.Get("state"), *persons, *roles);
        !s.ok()) {
      std::cerr << "cstopa_loadgen: " << s.message() << "\n";
      return 1;
    }
  }

  EchoRequest echo_request;
  echo_request.set_payload(
      std::string(static_cast<size_t>(*payload_bytes), 'x'));
  mv1::GetStateRequest get_state;
  get_state.set_name(flags.Get("state"));
  mv1::ListPersonsRequest list_persons;
  list_persons.set_page_size(*page_size);
  mv1::ListRolesRequest list_roles;
  list_roles.set_page_size(*page_size);
  list_roles.set_filter(flags.Get("roles_filter"));

  std::cerr << absl::StrFormat(
      "cstopa_loadgen: %d channels x %d calls in flight, %s warm-up, %s "
      "measured per scenario\n",
      options.channels, options.outstanding,
      absl::FormatDuration(options.warmup),
      absl::FormatDuration(options.duration));
  std::vector<RunResult> results;
  for (const std::string& scenario : scenarios) {
    absl::StatusOr<RunResult> r;
    if (scenario == "echo") {
      r = Measure<EchoService, EchoRequest, EchoResponse>(
          scenario, echo_target, "/cstopa.bench.v1.EchoService/Echo", options,
          echo_request,
          [](auto* stub, grpc::ClientContext* c, const EchoRequest* req,
             EchoResponse* resp, std::function<void(grpc::Status)> done) {
            stub->Echo(c, req, resp, std::move(done));
          });
    } else if (scenario == "GetState") {
      r = Measure<mv1::MembershipService, mv1::GetStateRequest, mv1::State>(
          scenario, target, "/cstopa.membership.v1.MembershipService/GetState",
          options, get_state,
          [](auto* stub, grpc::ClientContext* c,
             const mv1::GetStateRequest* req, mv1::State* resp,
             std::function<void(grpc::Status)> done) {
            stub->GetState(c, req, resp, std::move(done));
          });
    } else if (scenario == "ListPersons") {
      r = Measure<mv1::MembershipService, mv1::ListPersonsRequest,
                  mv1::ListPersonsResponse>(
          scenario, target,
          "/cstopa.membership.v1.MembershipService/ListPersons", options,
          list_persons,
          [](auto* stub, grpc::ClientContext* c,
             const mv1::ListPersonsRequest* req, mv1::ListPersonsResponse* resp,
             std::function<void(grpc::Status)> done) {
            stub->ListPersons(c, req, resp, std::move(done));
          });
    } else if (auto it = custom.find(scenario); it != custom.end()) {
      r = MeasureRaw(scenario, target, it->second.first, options,
                     it->second.second);
    } else {
      r = Measure<mv1::MembershipService, mv1::ListRolesRequest,
                  mv1::ListRolesResponse>(
          scenario, target, "/cstopa.membership.v1.MembershipService/ListRoles",
          options, list_roles,
          [](auto* stub, grpc::ClientContext* c,
             const mv1::ListRolesRequest* req, mv1::ListRolesResponse* resp,
             std::function<void(grpc::Status)> done) {
            stub->ListRoles(c, req, resp, std::move(done));
          });
    }
    if (!r.ok()) {
      std::cerr << "cstopa_loadgen: " << scenario << ": "
                << r.status().message() << "\n";
      return 1;
    }
    std::cerr << absl::StrFormat(
        "cstopa_loadgen: %-11s %9.1f rps  p50 %.3f ms  p99 %.3f ms  %d "
        "errors%s\n",
        scenario, r->rps(), r->latency.Quantile(0.5) / 1e6,
        r->latency.Quantile(0.99) / 1e6, r->errors,
        r->first_error.empty() ? "" : absl::StrCat(" (", r->first_error, ")"));
    results.push_back(*std::move(r));
  }

  double echo_sum = 0;
  int echo_runs = 0;
  for (const RunResult& r : results) {
    if (r.scenario == "echo") {
      echo_sum += r.rps();
      ++echo_runs;
    }
  }
  const double echo_rps = echo_runs > 0 ? echo_sum / echo_runs : 0;
  if (echo_rps > 0) {
    for (RunResult& r : results) r.ratio_to_echo = r.rps() / echo_rps;
  }

  for (const RunResult& r : results) std::cout << JsonLine(r, options) << "\n";
  std::cout << "\n"
            << absl::StrFormat("%-12s %10s %9s %9s %7s %14s\n", "scenario",
                               "rps", "p50_ms", "p99_ms", "errors",
                               "ratio_to_echo");
  for (const RunResult& r : results) {
    std::cout << absl::StrFormat(
        "%-12s %10.1f %9.3f %9.3f %7d %14s\n", r.scenario, r.rps(),
        r.latency.Quantile(0.5) / 1e6, r.latency.Quantile(0.99) / 1e6, r.errors,
        r.ratio_to_echo < 0 ? std::string("-")
                            : absl::StrFormat("%.3f", r.ratio_to_echo));
  }
  if (echo_runs > 0) {
    std::cout << absl::StrFormat(
        "echo baseline: %.1f rps (mean of %d echo run%s)\n", echo_rps,
        echo_runs, echo_runs == 1 ? "" : "s");
  }
  std::cout.flush();
  return 0;
}

}  // namespace
}  // namespace cstopa::bench

int main(int argc, char** argv) { return cstopa::bench::Main(argc, argv); }
