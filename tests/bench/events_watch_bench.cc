// events_watch_bench: the delay from a write to its arrival at a watcher.
//
//   events_watch_bench --target=127.0.0.1:50053 --api_key_file=KEY
//       --writes=1000 [--interval_ms=5] [--watch_target=HOST:PORT]
//
// With --watch_target (another replica on the same PostgreSQL database) the
// stream is opened there, so the delay includes finding another replica's
// writes by polling (every 50 ms).
//
// Opens one WatchEvents stream (from now), waits for its first checkpoint,
// then creates --writes events, one every --interval_ms (a steady pace, not
// a burst), each with a unique ID. For each it records when the CreateEvent
// call was issued and when the stream delivered the change, and prints one
// JSON line: p50/p99/max of that delay in milliseconds, and p50/p99 of the
// CreateEvent calls themselves. Exits 1 if a write fails or a change does
// not arrive within 30 s of the last write.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/events/v1/events.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/common/server/config.h"

namespace {

namespace v1 = cstopa::events::v1;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  cstopa::common::FlagSet flags(
      "events_watch_bench", "Measures the delay from a write to a watcher.");
  flags.Add("target", "", "127.0.0.1:50053", "events_server address");
  flags.Add("api_key_file", "", "", "file holding an editor API key");
  flags.Add("watch_target", "", "",
            "replica to watch (default: --target, the one written to)");
  flags.Add("writes", "", "1000", "how many writes");
  flags.Add("interval_ms", "", "5", "pause between write starts");
  if (absl::Status s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << s.message() << "\n";
    return s.code() == absl::StatusCode::kCancelled ? 0 : 2;
  }
  auto writes = flags.GetInt("writes");
  auto interval = flags.GetInt("interval_ms");
  std::ifstream key_in(flags.Get("api_key_file"));
  std::stringstream key_buf;
  key_buf << key_in.rdbuf();
  const std::string key(absl::StripAsciiWhitespace(key_buf.str()));
  if (!writes.ok() || *writes < 1 || !interval.ok() || *interval < 0 ||
      key.empty()) {
    std::cerr << "events_watch_bench: --api_key_file (non-empty), --writes "
                 "(> 0) and --interval_ms (>= 0) are required\n";
    return 2;
  }
  auto channel = grpc::CreateChannel(flags.Get("target"),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::EventsService::NewStub(channel);
  const std::string watch_target = flags.Get("watch_target").empty()
                                       ? flags.Get("target")
                                       : flags.Get("watch_target");
  auto watch_stub = v1::EventsService::NewStub(
      grpc::CreateChannel(watch_target, grpc::InsecureChannelCredentials()));

  absl::Mutex mu;
  std::map<std::string, absl::Time> arrived;  // event name -> arrival
  bool started = false, ended = false;
  grpc::Status stream_status;
  grpc::ClientContext watch_ctx;
  std::thread reader([&] {
    v1::WatchEventsRequest req;
    auto stream = watch_stub->WatchEvents(&watch_ctx, req);
    v1::WatchEventsResponse msg;
    while (stream->Read(&msg)) {
      absl::Time now = absl::Now();
      absl::MutexLock lock(&mu);
      started = true;
      if (msg.change_type() != v1::CHANGE_TYPE_CHECKPOINT)
        arrived.emplace(msg.event().name(), now);
    }
    grpc::Status s = stream->Finish();
    absl::MutexLock lock(&mu);
    stream_status = s;
    ended = true;
  });
  {
    absl::MutexLock lock(&mu);
    auto ready = [&]() { return started || ended; };
    mu.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(10));
    if (!started) {
      std::cerr << "events_watch_bench: the stream did not start: "
                << stream_status.error_message() << "\n";
      watch_ctx.TryCancel();
      mu.Unlock();
      reader.join();
      mu.Lock();
      return 1;
    }
  }

  const std::string run =
      absl::StrCat(getpid(), "-", absl::ToUnixMillis(absl::Now()) % 1000000);
  std::vector<std::pair<std::string, absl::Time>> sent;
  std::vector<double> call_ms;
  const absl::Time begin = absl::Now();
  for (int64_t i = 0; i < *writes; ++i) {
    absl::Time due = begin + absl::Milliseconds(*interval * i);
    if (absl::Now() < due) absl::SleepFor(due - absl::Now());
    v1::CreateEventRequest req;
    req.set_event_id(absl::StrCat("watch-bench-", run, "-", i));
    req.mutable_event()->set_kind(v1::EVENT_KIND_NEWS);
    auto* t = req.mutable_event()->add_title();
    t->set_language_code("en");
    t->set_text(absl::StrCat("Watch benchmark write ", i));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    ctx.AddMetadata("authorization", "Bearer " + key);
    v1::Event out;
    absl::Time issued = absl::Now();
    grpc::Status s = stub->CreateEvent(&ctx, req, &out);
    call_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - issued));
    if (!s.ok()) {
      std::cerr << "events_watch_bench: CreateEvent: " << s.error_message()
                << "\n";
      watch_ctx.TryCancel();
      reader.join();
      return 1;
    }
    sent.emplace_back("events/" + req.event_id(), issued);
  }
  bool all = false;
  {
    absl::MutexLock lock(&mu);
    auto done = [&]() {
      if (ended) return true;
      for (const auto& [name, t] : sent)
        if (arrived.find(name) == arrived.end()) return false;
      return true;
    };
    mu.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30));
    all = !ended || arrived.size() >= sent.size();
    for (const auto& [name, t] : sent)
      all &= arrived.find(name) != arrived.end();
  }
  watch_ctx.TryCancel();
  reader.join();
  std::vector<double> delay_ms;
  for (const auto& [name, t] : sent) {
    auto it = arrived.find(name);
    if (it != arrived.end())
      delay_ms.push_back(absl::ToDoubleMilliseconds(it->second - t));
  }
  std::cout << absl::StrFormat(
      "{\"scenario\":\"watch_delay\",\"same_replica\":%s,\"writes\":%d,"
      "\"received\":%d,"
      "\"interval_ms\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
      "\"write_p50_ms\":%.2f,\"write_p99_ms\":%.2f}\n",
      watch_target == flags.Get("target") ? "true" : "false", *writes,
      delay_ms.size(), *interval, Percentile(delay_ms, 0.5),
      Percentile(delay_ms, 0.99), Percentile(delay_ms, 1.0),
      Percentile(call_ms, 0.5), Percentile(call_ms, 0.99));
  if (!all) {
    std::cerr << "events_watch_bench: " << sent.size() - delay_ms.size()
              << " changes did not arrive\n";
    return 1;
  }
  return 0;
}
