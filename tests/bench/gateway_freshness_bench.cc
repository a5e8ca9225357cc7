// gateway_freshness_bench: how soon a write shows in the gateway's views,
// with the view cache on.
//
//   gateway_freshness_bench --gateway=127.0.0.1:50050
//       --membership=127.0.0.1:50051 --api_key_file=KEY
//       [--updates=200] [--interval_ms=10] [--state=kg]
//
// With --updates=0 it only waits (up to 30 s) until the gateway follows
// every service's change stream: exit 0 when it does, 1 when not.
//
// Waits until the gateway follows every service's change stream, reads the
// state's profile once (so it is cached), then --updates times: renames
// the state through the membership service and, from the moment the
// UpdateState call is acknowledged, reads the profile from the gateway
// again and again until it shows the new name. Prints one JSON line:
// p50/p99/max of that delay in milliseconds, and how many of the reads
// along the way came from the cache (the stale ones must all have: a view
// built from the backends after the write shows it). Exits 1 if an update
// fails or a view does not show it within 30 s.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/gateway/v1/gateway.grpc.pb.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "services/common/server/config.h"

namespace {

namespace gw = cstopa::gateway::v1;
namespace mem = cstopa::membership::v1;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void Deadline(grpc::ClientContext* ctx, absl::Duration d) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
}

std::string EnglishName(const mem::State& state) {
  for (const auto& t : state.display_name())
    if (t.language_code() == "en") return t.text();
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  cstopa::common::FlagSet flags(
      "gateway_freshness_bench",
      "Measures the delay from a write to the first gateway view showing it.");
  flags.Add("gateway", "", "127.0.0.1:50050", "gateway_server address");
  flags.Add("membership", "", "127.0.0.1:50051", "membership_server address");
  flags.Add("api_key_file", "", "", "file holding an editor API key");
  flags.Add("updates", "", "200", "how many updates");
  flags.Add("interval_ms", "", "10", "pause between updates");
  flags.Add("state", "", "kg", "the state whose profile is read");
  if (absl::Status s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << s.message() << "\n";
    return s.code() == absl::StatusCode::kCancelled ? 0 : 2;
  }
  auto updates = flags.GetInt("updates");
  auto interval = flags.GetInt("interval_ms");
  std::ifstream key_in(flags.Get("api_key_file"));
  std::stringstream key_buf;
  key_buf << key_in.rdbuf();
  const std::string key(absl::StripAsciiWhitespace(key_buf.str()));
  if (!updates.ok() || *updates < 0 || !interval.ok() || *interval < 0 ||
      key.empty()) {
    std::cerr << "gateway_freshness_bench: --api_key_file (non-empty), "
                 "--updates (>= 0) and --interval_ms (>= 0) are required\n";
    return 2;
  }
  auto gateway = gw::GatewayService::NewStub(grpc::CreateChannel(
      flags.Get("gateway"), grpc::InsecureChannelCredentials()));
  auto membership = mem::MembershipService::NewStub(grpc::CreateChannel(
      flags.Get("membership"), grpc::InsecureChannelCredentials()));
  const std::string state = absl::StrCat("states/", flags.Get("state"));

  // The gateway follows every stream.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  for (bool all = false; !all;) {
    if (absl::Now() > give_up) {
      std::cerr << "gateway_freshness_bench: the gateway does not follow "
                   "every change stream\n";
      return 1;
    }
    grpc::ClientContext ctx;
    Deadline(&ctx, absl::Seconds(5));
    gw::ListBackendsResponse backends;
    all = gateway->ListBackends(&ctx, {}, &backends).ok() &&
          backends.backends_size() == 4;
    for (const auto& b : backends.backends())
      all = all && b.stream().following();
    if (!all) absl::SleepFor(absl::Milliseconds(50));
  }
  if (*updates == 0) return 0;

  auto read = [&](gw::StateProfile* view) {
    grpc::ClientContext ctx;
    Deadline(&ctx, absl::Seconds(5));
    gw::GetStateProfileRequest req;
    req.set_name(state + "/profile");
    return gateway->GetStateProfile(&ctx, req, view);
  };
  gw::StateProfile view;
  if (grpc::Status s = read(&view); !s.ok()) {
    std::cerr << "gateway_freshness_bench: GetStateProfile: "
              << s.error_message() << "\n";
    return 1;
  }

  std::vector<double> delay_ms;
  int64_t reads = 0, cached_reads = 0, stale_live = 0;
  const std::string run = absl::StrCat(absl::ToUnixMillis(absl::Now()));
  for (int64_t i = 0; i < *updates; ++i) {
    const std::string name = absl::StrCat("Freshness ", run, " #", i);
    mem::UpdateStateRequest req;
    req.mutable_state()->set_name(state);
    auto* text = req.mutable_state()->add_display_name();
    text->set_language_code("en");
    text->set_text(name);
    req.mutable_update_mask()->add_paths("display_name");
    grpc::ClientContext ctx;
    Deadline(&ctx, absl::Seconds(10));
    ctx.AddMetadata("authorization", "Bearer " + key);
    mem::State out;
    if (grpc::Status s = membership->UpdateState(&ctx, req, &out); !s.ok()) {
      std::cerr << "gateway_freshness_bench: UpdateState: " << s.error_message()
                << "\n";
      return 1;
    }
    const absl::Time acked = absl::Now();
    while (true) {
      gw::StateProfile v;
      if (grpc::Status s = read(&v); !s.ok()) {
        std::cerr << "gateway_freshness_bench: GetStateProfile: "
                  << s.error_message() << "\n";
        return 1;
      }
      ++reads;
      if (v.freshness().from_cache()) ++cached_reads;
      if (EnglishName(v.state()) == name) {
        delay_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - acked));
        break;
      }
      if (!v.freshness().from_cache()) ++stale_live;
      if (absl::Now() - acked > absl::Seconds(30)) {
        std::cerr << "gateway_freshness_bench: update " << i
                  << " not in a view after 30 s\n";
        return 1;
      }
    }
    absl::SleepFor(absl::Milliseconds(*interval));
  }
  std::cout << absl::StrFormat(
      "{\"scenario\":\"gateway_freshness\",\"updates\":%d,\"p50_ms\":%.3f,"
      "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"reads\":%d,\"cached_reads\":%d,"
      "\"stale_views_built_live\":%d}\n",
      *updates, Percentile(delay_ms, 0.5), Percentile(delay_ms, 0.99),
      Percentile(delay_ms, 1.0), reads, cached_reads, stale_live);
  return 0;
}
