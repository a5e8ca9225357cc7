// monitoring_bench: the monitoring handler over a store filled with
// generated missions, called through its blocking face (no gRPC in
// between), so the figures are the store's and the handler's own, plus the
// hand-over to a store thread every call makes. Reports, per scenario, calls
// per second and latency percentiles:
//   summarize_all        SummarizeMissions over every mission
//   summarize_state      SummarizeMissions for one state and a 5-year range
//   list_filtered_page1  ListMissions `year = 2021`, first page of 50
//   list_page_1          ListMissions ordered by year desc, first page
//   list_page_100_plus   the same query, pages 100 and later (keyset paging:
//                        should cost what page 1 costs)
//   get                  GetMission of a random mission
//   create               CreateMission (editor key)
//
//   monitoring_bench [--missions N] [--iterations K] [--store URL]
//
// The store defaults to a SQLite file in a fresh temporary directory; pass a
// postgresql:// URL to measure PostgreSQL (the schema "monitoring" there is
// used as it is: start from an empty one). On PostgreSQL the table is
// vacuumed and analyzed after the load, as autovacuum would soon do.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/api/auth.h"
#include "services/monitoring/monitoring_resources.h"
#include "services/monitoring/monitoring_service.h"
#include "tests/bench/latency_histogram.h"

namespace cstopa::monitoring {
namespace {

constexpr char kEditorKey[] = "bench-editor-key";
const char* const kStates[] = {"states/am", "states/by", "states/kz",
                               "states/kg", "states/ru", "states/tj"};

struct Options {
  int missions = 100000;
  int iterations = 200;
  std::string store;
};

int Fail(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "monitoring_bench: %s: %s\n", what.c_str(),
               s.ToString().c_str());
  return 1;
}

// Runs `fn` `n` times; prints calls/s and latency quantiles.
absl::Status Measure(const char* name, int n,
                     const std::function<absl::Status(int)>& fn) {
  bench::LatencyHistogram h;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (absl::Status s = fn(i); !s.ok()) return s;
    h.Record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::steady_clock::now() - t0)
                 .count());
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("%-20s %8d calls %10.0f calls/s  p50 %8.3f ms  p99 %8.3f ms\n",
              name, n, n / secs, h.Quantile(0.5) / 1e6, h.Quantile(0.99) / 1e6);
  return absl::OkStatus();
}

int Run(const Options& o) {
  std::string url = o.store;
  std::string dir;
  if (url.empty()) {
    char tmpl[] = "/tmp/monitoring-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr)
      return Fail("mkdtemp", absl::InternalError(""));
    dir = tmpl;
    url = absl::StrCat("sqlite://", dir, "/m.db");
  }
  auto db = common::OpenDatabase(url, MonitoringSchema());
  if (!db.ok()) return Fail("open " + url, db.status());
  // Declared before the resources, so run after them: their change feed's
  // poller reads the database until the resources are gone.
  struct RemoveTemporaryStore {
    std::unique_ptr<common::Database>& db;
    const std::string& dir;
    ~RemoveTemporaryStore() {
      if (dir.empty()) return;
      db.reset();
      for (const char* f : {"/m.db", "/m.db-wal", "/m.db-shm"})
        unlink((dir + f).c_str());
      rmdir(dir.c_str());
    }
  } remove_temporary_store{*db, dir};
  common::PageTokenCodec tokens("bench");
  auto keys = common::ApiKeyStore::Parse(common::HashApiKey(kEditorKey) +
                                         " editor bench\n");
  if (!keys.ok()) return Fail("keys", keys.status());
  MonitoringResources resources(db->get(), &tokens, &*keys);
  MonitoringHandler handler(&resources);
  v1::MonitoringServiceBlocking monitoring(&handler);
  common::Caller editor;
  editor.authorization = std::string("Bearer ") + kEditorKey;

  // Generated missions, inserted in batches of 1000 (one transaction each).
  std::mt19937 rng(42);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<v1::Mission> batch;
  for (int i = 0; i < o.missions; ++i) {
    v1::Mission m;
    m.set_name(absl::StrCat("missions/gen-", i));
    if (i % 50 == 0) {
      m.set_region_code("RS");
    } else {
      m.set_state(kStates[rng() % 6]);
    }
    int year = 2000 + static_cast<int>(rng() % 26);
    m.mutable_period()->mutable_start_date()->set_year(year);
    m.mutable_period()->mutable_end_date()->set_year(year);
    m.set_election_kind(static_cast<v1::ElectionKind>(rng() % 5));
    batch.push_back(std::move(m));
    if (batch.size() == 1000 || i + 1 == o.missions) {
      std::vector<const google::protobuf::Message*> ptrs;
      for (const auto& b : batch) ptrs.push_back(&b);
      auto n = resources.missions().store().InsertMissing(ptrs);
      if (!n.ok()) return Fail("insert", n.status());
      batch.clear();
    }
  }
  if ((*db)->dialect() == "postgresql") {
    // What autovacuum does within a minute of a bulk load (planner
    // statistics, and the visibility map that index-only scans need): the
    // first minute's plans are not the steady state's.
    absl::Status st = (*db)->QueryOnce(
        "VACUUM ANALYZE missions", {},
        [](const common::SqlRow&) { return absl::OkStatus(); });
    if (!st.ok()) return Fail("vacuum", st);
  }
  std::printf(
      "store %s: %d missions generated in %.1f s\n",
      o.store.empty() ? "sqlite (temporary file)" : o.store.c_str(), o.missions,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count());

  absl::Status s = Measure("summarize_all", o.iterations, [&](int) {
    v1::SummarizeMissionsResponse r;
    absl::Status st = monitoring.SummarizeMissions({}, {}, &r);
    if (st.ok() && r.total_mission_count() != o.missions)
      return absl::InternalError("summary does not count every mission");
    return st;
  });
  if (!s.ok()) return Fail("summarize_all", s);
  s = Measure("summarize_state", o.iterations, [&](int i) {
    v1::SummarizeMissionsRequest req;
    req.set_state(kStates[i % 6]);
    req.set_start_year(2010);
    req.set_end_year(2014);
    v1::SummarizeMissionsResponse r;
    return monitoring.SummarizeMissions({}, req, &r);
  });
  if (!s.ok()) return Fail("summarize_state", s);
  s = Measure("list_filtered_page1", o.iterations, [&](int) {
    v1::ListMissionsRequest req;
    req.set_filter("year = 2021");
    v1::ListMissionsResponse r;
    return monitoring.ListMissions({}, req, &r);
  });
  if (!s.ok()) return Fail("list_filtered_page1", s);

  // Keyset paging: page 1, then pages 100 and later of the same query.
  v1::ListMissionsRequest paged;
  paged.set_order_by("year desc");
  paged.set_page_size(50);
  s = Measure("list_page_1", o.iterations, [&](int) {
    v1::ListMissionsResponse r;
    return monitoring.ListMissions({}, paged, &r);
  });
  if (!s.ok()) return Fail("list_page_1", s);
  for (int page = 1; page < 100; ++page) {
    v1::ListMissionsResponse r;
    if (auto st = monitoring.ListMissions({}, paged, &r); !st.ok())
      return Fail("paging", st);
    paged.set_page_token(r.next_page_token());
  }
  s = Measure("list_page_100_plus",
              std::min(o.iterations, o.missions / 50 - 100), [&](int) {
                v1::ListMissionsResponse r;
                absl::Status st = monitoring.ListMissions({}, paged, &r);
                if (st.ok()) paged.set_page_token(r.next_page_token());
                return st;
              });
  if (!s.ok()) return Fail("list_page_100_plus", s);

  s = Measure("get", o.iterations, [&](int) {
    v1::GetMissionRequest req;
    req.set_name(absl::StrCat("missions/gen-", rng() % o.missions));
    v1::Mission m;
    return monitoring.GetMission({}, req, &m);
  });
  if (!s.ok()) return Fail("get", s);
  s = Measure("create", o.iterations, [&](int i) {
    v1::CreateMissionRequest req;
    req.set_mission_id(absl::StrCat("new-", i));
    req.mutable_mission()->set_state("states/kz");
    req.mutable_mission()->mutable_period()->mutable_start_date()->set_year(
        2025);
    v1::Mission m;
    return monitoring.CreateMission(editor, req, &m);
  });
  if (!s.ok()) return Fail("create", s);
  return 0;
}

}  // namespace
}  // namespace cstopa::monitoring

int main(int argc, char** argv) {
  cstopa::monitoring::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value = i + 1 < argc ? argv[i + 1] : "";
    bool ok = true;
    if (arg == "--missions") {
      ok = absl::SimpleAtoi(value, &o.missions) && o.missions >= 200;
      ++i;
    } else if (arg == "--iterations") {
      ok = absl::SimpleAtoi(value, &o.iterations) && o.iterations > 0;
      ++i;
    } else if (arg == "--store") {
      o.store = value;
      ++i;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: monitoring_bench [--missions N>=200] "
                   "[--iterations K>0] [--store URL]\n");
      return 2;
    }
  }
  return cstopa::monitoring::Run(o);
}
