// Integration tests of membership_server: the real binary, started as a child
// process on port 0 with its own store, driven over gRPC and HTTP.
//
// Every test starts its own server (see server_process.h), so tests are
// independent and may run in any order. The *Postgres* tests (replicas on
// one PostgreSQL database) run as membership_postgres_integration_test, with
// the `postgres` fixture (membership.cmake).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cstopa/membership/v1/membership.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "services/common/testing/test_postgres.h"
#include "tests/integration/client_helpers.h"
#include "tests/integration/membership_calls.h"
#include "tests/integration/scratch_postgres.h"
#include "tests/integration/server_process.h"
#include "tests/integration/watch_conformance.h"

#ifndef CSTOPA_MEMBERSHIP_SERVER
#error "CSTOPA_MEMBERSHIP_SERVER must name the membership_server binary"
#endif

namespace cstopa::itest {
namespace {

namespace v1 = ::cstopa::membership::v1;

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kServiceName[] = "cstopa.membership.v1.MembershipService";
constexpr int kDrainSeconds = 3;

// ---------------------------------------------------------------------------
// Helpers (and client_helpers.h, membership_calls.h)
// ---------------------------------------------------------------------------

google::type::Date Day(int y, int m, int d) {
  google::type::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

ServerProcess::Options MembershipOptions() {
  ServerProcess::Options options;
  options.binary = CSTOPA_MEMBERSHIP_SERVER;
  options.drain_seconds = kDrainSeconds;
  return options;
}

// The values of metadata `key`, from a multimap of string_refs.
std::vector<std::string> Values(
    const std::multimap<grpc::string_ref, grpc::string_ref>& md,
    absl::string_view key) {
  std::vector<std::string> out;
  auto range = md.equal_range(grpc::string_ref(key.data(), key.size()));
  for (auto it = range.first; it != range.second; ++it)
    out.emplace_back(it->second.data(), it->second.size());
  return out;
}

class MembershipIntegrationTest : public ::testing::Test {
 protected:
  // Starts the server; tests ASSERT_NO_FATAL_FAILURE(StartServer()).
  void StartServer(ServerProcess::Options options = MembershipOptions()) {
    server_ = std::make_unique<ServerProcess>(std::move(options));
    absl::Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s;
    Connect();
  }

  void Connect() {
    channel_ = server_->channel();
    stub_ = v1::MembershipService::NewStub(channel_);
  }

  void TearDown() override {
    if (HasFailure() && server_ != nullptr) {
      std::cerr << "---- server stderr (tail) ----\n"
                << server_->ReadStderr(6000) << "---- end ----\n";
    }
    stub_.reset();
    channel_.reset();
    server_.reset();
  }

  // membership_calls.h on this test's server.
  std::vector<std::string> AllPersonNames(bool show_deleted = false) {
    return itest::AllPersonNames(stub_.get(), show_deleted);
  }
  grpc::Status CreatePerson(absl::string_view id, const v1::Person& person,
                            v1::Person* out,
                            absl::string_view key = kEditorKey) {
    return itest::CreatePerson(stub_.get(), id, person, out, key);
  }
  grpc::Status GetPerson(absl::string_view name, v1::Person* out) {
    return itest::GetPerson(stub_.get(), name, out);
  }
  int CountStates() { return itest::CountStates(stub_.get()); }

  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::MembershipService::Stub> stub_;
};

// ---------------------------------------------------------------------------
// 1. CRUD with etags
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, CrudWithEtags) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string name = "persons/itest-crud";

  v1::Person person = NewPerson("Integration Crud");
  person.set_state("states/kz");
  v1::Person created;
  grpc::Status s = CreatePerson("itest-crud", person, &created);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(created.name(), name);
  EXPECT_EQ(created.state(), "states/kz");
  EXPECT_FALSE(created.etag().empty());
  EXPECT_TRUE(created.has_create_time());
  EXPECT_FALSE(created.has_delete_time());

  v1::Person got;
  s = GetPerson(name, &got);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(got.name(), name);
  ASSERT_EQ(got.display_name_size(), 1);
  EXPECT_EQ(got.display_name(0).text(), "Integration Crud");
  EXPECT_EQ(got.etag(), created.etag());
  const std::string first_etag = got.etag();

  // Someone else changes the record (unconditionally): our etag is now stale.
  v1::Person theirs;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::UpdatePersonRequest req;
    req.mutable_person()->set_name(name);
    *req.mutable_person()->add_display_name() = got.display_name(0);
    req.mutable_person()->mutable_display_name(0)->set_text("Their Edit");
    req.mutable_update_mask()->add_paths("display_name");
    s = stub_->UpdatePerson(&ctx, req, &theirs);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_NE(theirs.etag(), first_etag);
    EXPECT_EQ(theirs.display_name(0).text(), "Their Edit");
    EXPECT_EQ(theirs.state(), "states/kz");  // not in the mask: kept
  }

  // Update with the stale etag.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::UpdatePersonRequest req;
    *req.mutable_person() = got;
    req.mutable_person()->mutable_display_name(0)->set_text("Our Edit");
    req.mutable_person()->set_etag(first_etag);
    req.mutable_update_mask()->add_paths("display_name");
    v1::Person out;
    s = stub_->UpdatePerson(&ctx, req, &out);
    Details d = ExpectError(s, grpc::StatusCode::ABORTED, "ETAG_MISMATCH");
    EXPECT_EQ(d.info->domain(), "membership.cstopa.org");
  }

  // Update with the right etag.
  v1::Person updated;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::UpdatePersonRequest req;
    *req.mutable_person() = theirs;
    req.mutable_person()->mutable_display_name(0)->set_text("Our Edit");
    req.mutable_update_mask()->add_paths("display_name");
    s = stub_->UpdatePerson(&ctx, req, &updated);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(updated.display_name(0).text(), "Our Edit");
    EXPECT_NE(updated.etag(), theirs.etag());
    EXPECT_NE(updated.etag(), first_etag);
  }

  // Delete (admin key, conditional on the current etag).
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, kAdminKey);
    v1::DeletePersonRequest req;
    req.set_name(name);
    req.set_etag(updated.etag());
    v1::Person deleted;
    s = stub_->DeletePerson(&ctx, req, &deleted);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(deleted.name(), name);
    EXPECT_TRUE(deleted.has_delete_time());
  }

  v1::Person gone;
  s = GetPerson(name, &gone);
  ExpectError(s, grpc::StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");

  EXPECT_THAT(AllPersonNames(false), Not(Contains(name)));
  {
    // show_deleted finds it, with its delete_time.
    bool found = false;
    v1::ListPersonsRequest req;
    req.set_page_size(1000);
    req.set_show_deleted(true);
    for (int page = 0; page < 100 && !found; ++page) {
      grpc::ClientContext ctx;
      Prepare(&ctx);
      v1::ListPersonsResponse resp;
      s = stub_->ListPersons(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << Describe(s);
      for (const auto& p : resp.persons()) {
        if (p.name() != name) continue;
        found = true;
        EXPECT_TRUE(p.has_delete_time());
        EXPECT_EQ(p.display_name(0).text(), "Our Edit");
      }
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    EXPECT_TRUE(found) << name << " missing from ListPersons(show_deleted)";
  }

  // The ID stays taken.
  v1::Person again;
  s = CreatePerson("itest-crud", person, &again);
  ExpectError(s, grpc::StatusCode::ALREADY_EXISTS, "RESOURCE_ALREADY_EXISTS");
}

// ---------------------------------------------------------------------------
// 2. Pagination while inserting
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, PaginationIsStableWhileInserting) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::vector<std::string> initial = AllPersonNames();
  ASSERT_GE(initial.size(), 4u) << "the seed should have persons";

  std::vector<std::string> seen;
  std::set<std::string> inserted_after_cursor;
  int inserted = 0;
  v1::ListPersonsRequest req;
  req.set_page_size(2);
  int pages = 0;
  for (; pages < 500; ++pages) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListPersonsResponse resp;
    grpc::Status s = stub_->ListPersons(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << Describe(s) << " on page " << pages;
    ASSERT_LE(resp.persons_size(), 2);
    for (const auto& p : resp.persons()) seen.push_back(p.name());
    if (resp.next_page_token().empty()) break;
    ASSERT_GT(resp.persons_size(), 0) << "empty page with a next_page_token";
    const std::string cursor = resp.persons(resp.persons_size() - 1).name();

    // Between pages, insert one person sorting before the cursor and one
    // sorting after it (for the first pages only, so the walk ends).
    if (pages < 12) {
      for (absl::string_view prefix : {"aaa", "zzz"}) {
        std::string id = absl::StrCat(prefix, "-itest-page-", pages);
        v1::Person out;
        s = CreatePerson(id, NewPerson(absl::StrCat("Inserted ", id)), &out);
        ASSERT_TRUE(s.ok()) << Describe(s);
        ++inserted;
        if (out.name() > cursor) inserted_after_cursor.insert(out.name());
      }
    }
    req.set_page_token(resp.next_page_token());
  }
  ASSERT_LT(pages, 500) << "the walk did not end";
  EXPECT_GT(inserted, 0);

  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size())
      << "duplicates in the walk: " << absl::StrJoin(seen, ", ");
  for (const std::string& name : initial)
    EXPECT_TRUE(unique.count(name)) << name << " was never returned";
  // Keyset pagination also returns what was inserted after the cursor.
  for (const std::string& name : inserted_after_cursor)
    EXPECT_TRUE(unique.count(name)) << name << " (inserted after the cursor) "
                                    << "was never returned";
  // The walk is in name order.
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

// ---------------------------------------------------------------------------
// 3. As-of queries
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, AsOfRolesAndSeats) {
  ASSERT_NO_FATAL_FAILURE(StartServer());

  std::set<std::string> holders;
  int roles = 0;
  v1::ListRolesRequest req;
  req.set_filter("role_type = ROLE_TYPE_PLENIPOTENTIARY_REPRESENTATIVE");
  *req.mutable_as_of() = Day(2022, 5, 1);
  req.set_page_size(100);
  for (int page = 0; page < 50; ++page) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListRolesResponse resp;
    grpc::Status s = stub_->ListRoles(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << Describe(s);
    for (const auto& r : resp.roles()) {
      ++roles;
      holders.insert(r.person());
      EXPECT_EQ(r.role_type(), v1::ROLE_TYPE_PLENIPOTENTIARY_REPRESENTATIVE);
    }
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(holders,
            (std::set<std::string>{
                "persons/viktor-kogut", "persons/viktor-rogalev",
                "persons/shabdanbek-alishev", "persons/mikhail-krotov"}));
  EXPECT_EQ(roles, 4);

  v1::GetDelegationRequest dreq;
  dreq.set_name("parliaments/kg-jogorku-kenesh/delegations/csto-pa");
  *dreq.mutable_as_of() = Day(2022, 5, 1);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::Delegation then;
    grpc::Status s = stub_->GetDelegation(&ctx, dreq, &then);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(then.total_seats(), 6);
    EXPECT_EQ(then.as_of_date().year(), 2022);
    EXPECT_EQ(then.as_of_date().month(), 5);
    EXPECT_EQ(then.as_of_date().day(), 1);
  }
  dreq.clear_as_of();
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::Delegation now;
    grpc::Status s = stub_->GetDelegation(&ctx, dreq, &now);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(now.total_seats(), 7);
  }
}

// ---------------------------------------------------------------------------
// 4. Error codes and their details
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, ErrorsCarryDetails) {
  ASSERT_NO_FATAL_FAILURE(StartServer());

  auto list = [&](const v1::ListPersonsRequest& req) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListPersonsResponse resp;
    return stub_->ListPersons(&ctx, req, &resp);
  };

  {
    SCOPED_TRACE("bad filter");
    v1::ListPersonsRequest req;
    req.set_filter("state = (");
    Details d = ExpectError(list(req), grpc::StatusCode::INVALID_ARGUMENT, "");
    EXPECT_TRUE(d.bad_request.has_value());
    EXPECT_THAT(d.bad_fields, Contains("filter"));
  }
  {
    SCOPED_TRACE("unknown filter field");
    v1::ListPersonsRequest req;
    req.set_filter("colour = \"red\"");
    Details d = ExpectError(list(req), grpc::StatusCode::INVALID_ARGUMENT, "");
    EXPECT_THAT(d.bad_fields, Contains("filter"));
  }
  {
    SCOPED_TRACE("negative page_size");
    v1::ListPersonsRequest req;
    req.set_page_size(-1);
    Details d = ExpectError(list(req), grpc::StatusCode::INVALID_ARGUMENT, "");
    EXPECT_THAT(d.bad_fields, Contains("page_size"));
  }
  {
    SCOPED_TRACE("bad page token");
    v1::ListPersonsRequest req;
    req.set_page_token("not-a-page-token");
    Details d = ExpectError(list(req), grpc::StatusCode::INVALID_ARGUMENT, "");
    EXPECT_THAT(d.bad_fields, Contains("page_token"));
  }
  {
    SCOPED_TRACE("page token of another query");
    v1::ListPersonsRequest req;
    req.set_page_size(1);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::ListPersonsResponse first;
    grpc::Status s = stub_->ListPersons(&ctx, req, &first);
    ASSERT_TRUE(s.ok()) << Describe(s);
    ASSERT_FALSE(first.next_page_token().empty());
    req.set_page_token(first.next_page_token());
    req.set_filter("state = \"states/ru\"");
    Details d = ExpectError(list(req), grpc::StatusCode::INVALID_ARGUMENT, "");
    EXPECT_THAT(d.bad_fields, Contains("page_token"));
  }
  {
    SCOPED_TRACE("NOT_FOUND");
    v1::Person out;
    ExpectError(GetPerson("persons/no-such-person", &out),
                grpc::StatusCode::NOT_FOUND, "RESOURCE_NOT_FOUND");
  }
  {
    SCOPED_TRACE("ALREADY_EXISTS");
    v1::Person out;
    grpc::Status s = CreatePerson("itest-dup", NewPerson("Dup"), &out);
    ASSERT_TRUE(s.ok()) << Describe(s);
    ExpectError(CreatePerson("itest-dup", NewPerson("Dup"), &out),
                grpc::StatusCode::ALREADY_EXISTS, "RESOURCE_ALREADY_EXISTS");
  }
  {
    SCOPED_TRACE("ABORTED");
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::UpdatePersonRequest req;
    *req.mutable_person() = NewPerson("Dup Again");
    req.mutable_person()->set_name("persons/itest-dup");
    req.mutable_person()->set_etag("not-the-etag");
    v1::Person out;
    ExpectError(stub_->UpdatePerson(&ctx, req, &out), grpc::StatusCode::ABORTED,
                "ETAG_MISMATCH");
  }
  {
    SCOPED_TRACE("UNAUTHENTICATED: no key");
    v1::Person out;
    ExpectError(CreatePerson("itest-nokey", NewPerson("No Key"), &out, ""),
                grpc::StatusCode::UNAUTHENTICATED, "MISSING_CREDENTIALS");
  }
  {
    SCOPED_TRACE("UNAUTHENTICATED: unknown key");
    v1::Person out;
    ExpectError(
        CreatePerson("itest-badkey", NewPerson("Bad Key"), &out, "wrong-key"),
        grpc::StatusCode::UNAUTHENTICATED, "INVALID_API_KEY");
  }
  {
    SCOPED_TRACE("PERMISSION_DENIED: editor key on a delete");
    grpc::ClientContext ctx;
    Prepare(&ctx, kEditorKey);
    v1::DeletePersonRequest req;
    req.set_name("persons/itest-dup");
    v1::Person out;
    ExpectError(stub_->DeletePerson(&ctx, req, &out),
                grpc::StatusCode::PERMISSION_DENIED, "INSUFFICIENT_ROLE");
    // And the record is still there.
    v1::Person still;
    grpc::Status s = GetPerson("persons/itest-dup", &still);
    EXPECT_TRUE(s.ok()) << Describe(s);
  }
}

// ---------------------------------------------------------------------------
// 5. Health
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, HealthCheckServing) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto health = grpc::health::v1::Health::NewStub(channel_);
  for (const char* service : {"", kServiceName}) {
    SCOPED_TRACE(absl::StrCat("service \"", service, "\""));
    HealthStatus resp;
    grpc::Status s = CheckHealth(health.get(), service, &resp);
    ASSERT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(resp.status(), HealthStatus::SERVING);
  }
}

// ---------------------------------------------------------------------------
// 6. Reflection
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, ReflectionListsServices) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto reflection =
      grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  grpc::ClientContext ctx;
  Prepare(&ctx);
  auto stream = reflection->ServerReflectionInfo(&ctx);
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(stream->WritesDone());
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << Describe(s);
  ASSERT_TRUE(resp.has_list_services_response()) << resp.ShortDebugString();
  std::vector<std::string> services;
  for (const auto& svc : resp.list_services_response().service())
    services.push_back(svc.name());
  EXPECT_THAT(services, Contains(kServiceName));
  EXPECT_THAT(services, Contains("grpc.health.v1.Health"));
}

// ---------------------------------------------------------------------------
// 7. Request id and trace context
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, RequestIdAndTraceparentComeBack) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string request_id = "itest-request-7f3a9c";
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  // Once on a successful call, once on a failing one.
  for (const char* state : {"states/kz", "states/zz"}) {
    SCOPED_TRACE(state);
    grpc::ClientContext ctx;
    Prepare(&ctx);
    ctx.AddMetadata("x-request-id", request_id);
    ctx.AddMetadata("traceparent",
                    absl::StrCat("00-", trace_id, "-00f067aa0ba902b7-01"));
    v1::GetStateRequest req;
    req.set_name(state);
    v1::State resp;
    grpc::Status s = stub_->GetState(&ctx, req, &resp);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::OK ||
                s.error_code() == grpc::StatusCode::NOT_FOUND)
        << Describe(s);

    std::vector<std::string> ids =
        Values(ctx.GetServerInitialMetadata(), "x-request-id");
    std::vector<std::string> trailing_ids =
        Values(ctx.GetServerTrailingMetadata(), "x-request-id");
    ids.insert(ids.end(), trailing_ids.begin(), trailing_ids.end());
    EXPECT_THAT(ids, Contains(request_id))
        << "x-request-id not echoed in initial or trailing metadata";

    std::vector<std::string> parents =
        Values(ctx.GetServerInitialMetadata(), "traceparent");
    std::vector<std::string> trailing_parents =
        Values(ctx.GetServerTrailingMetadata(), "traceparent");
    parents.insert(parents.end(), trailing_parents.begin(),
                   trailing_parents.end());
    ASSERT_THAT(parents, Not(IsEmpty())) << "no traceparent came back";
    for (const std::string& tp : parents) {
      std::vector<std::string> parts = absl::StrSplit(tp, '-');
      ASSERT_EQ(parts.size(), 4u) << tp;
      EXPECT_EQ(parts[0], "00") << tp;
      EXPECT_EQ(parts[1], trace_id) << tp;
      EXPECT_EQ(parts[2].size(), 16u) << tp;
      EXPECT_NE(parts[2], "00f067aa0ba902b7") << "no span of the server's own";
    }
  }
}

// ---------------------------------------------------------------------------
// 8. Admin HTTP
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, AdminMetricsAndHealthz) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_GT(server_->admin_port(), 0);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::GetStateRequest req;
    req.set_name("states/kz");
    v1::State resp;
    grpc::Status s = stub_->GetState(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }

  // The call is counted when the server finishes it, which may be a moment
  // after the client has the response: poll until it is.
  std::string metrics;
  std::string getstate_line;
  absl::Status fetched;
  WaitFor(
      [&] {
        absl::StatusOr<std::string> r =
            HttpGet(server_->admin_port(), "/metrics");
        fetched = r.status();
        if (!r.ok()) return true;  // fails below
        metrics = *r;
        for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
          if (absl::StartsWith(line, "grpc_server_handled_total{") &&
              absl::StrContains(line, "grpc_method=\"GetState\"") &&
              absl::StrContains(line, "grpc_code=\"OK\"")) {
            getstate_line = std::string(line);
          }
        }
        return !getstate_line.empty();
      },
      kHangTimeout, absl::Milliseconds(50));
  ASSERT_TRUE(fetched.ok()) << fetched;
  EXPECT_TRUE(absl::StartsWith(metrics, "HTTP/1.")) << metrics.substr(0, 200);
  EXPECT_THAT(metrics.substr(0, metrics.find('\n')), HasSubstr(" 200"));
  EXPECT_FALSE(getstate_line.empty())
      << "no grpc_server_handled_total line for GetState in:\n"
      << metrics;
  EXPECT_THAT(getstate_line,
              HasSubstr(absl::StrCat("grpc_service=\"", kServiceName, "\"")));

  absl::StatusOr<std::string> healthz =
      HttpGet(server_->admin_port(), "/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_THAT(healthz->substr(0, healthz->find('\n')), HasSubstr(" 200"))
      << *healthz;
}

// ---------------------------------------------------------------------------
// 9. SIGTERM under load
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, SigtermDrainsWithoutFailingCalls) {
  // The access log tells, for a failed call, whether the server accepted it.
  ServerProcess::Options options = MembershipOptions();
  options.access_log = "dir";
  ASSERT_NO_FATAL_FAILURE(StartServer(options));
  constexpr int kThreads = 8;

  std::atomic<bool> stop{false};
  std::atomic<bool> signalled{false};
  std::atomic<int64_t> signalled_at_ns{0};
  std::atomic<bool> exited{false};
  std::atomic<int> calls_after_exit{0};  // sent once the server was gone
  absl::Mutex mu;
  std::map<std::string, int> before, after;  // code name -> count
  std::vector<std::string> bad;              // unexpected failures
  std::vector<std::string> bad_ids;          // their x-request-ids
  // Persons whose CreatePerson returned OK, in the order of the answers.
  std::vector<std::string> acknowledged;

  // Every fourth worker writes (CreatePerson, a new ID each call); the
  // others read.
  auto is_writer = [](int id) { return id % 4 == 3; };
  auto worker = [&](int id) {
    auto stub = v1::MembershipService::NewStub(channel_);
    for (int i = 0; !stop.load(); ++i) {
      grpc::ClientContext ctx;
      const bool write = is_writer(id);
      Prepare(&ctx, write ? kEditorKey : "", absl::Seconds(kDrainSeconds + 5));
      const std::string request_id = absl::StrCat("sigterm-", id, "-", i);
      ctx.AddMetadata("x-request-id", request_id);
      grpc::Status s;
      const char* method;
      std::string created;
      bool sent_after_signal = signalled.load();
      const bool sent_after_exit = exited.load();
      const absl::Time started = absl::Now();
      if (write) {
        method = "CreatePerson";
        v1::CreatePersonRequest req;
        req.set_person_id(absl::StrCat("sigterm-w", id, "-", i));
        *req.mutable_person() = NewPerson(absl::StrCat("Writer ", id, " ", i));
        v1::Person resp;
        s = stub->CreatePerson(&ctx, req, &resp);
        if (s.ok()) created = resp.name();
      } else if ((i + id) % 2 == 0) {
        method = "GetState";
        v1::GetStateRequest req;
        req.set_name("states/kz");
        v1::State resp;
        s = stub->GetState(&ctx, req, &resp);
      } else {
        method = "ListPersons";
        v1::ListPersonsRequest req;
        req.set_page_size(100);
        v1::ListPersonsResponse resp;
        s = stub->ListPersons(&ctx, req, &resp);
      }
      const absl::Time ended = absl::Now();
      if (sent_after_exit) ++calls_after_exit;
      absl::MutexLock lock(&mu);
      (sent_after_signal ? after : before)[CodeName(s.error_code())]++;
      if (!created.empty()) acknowledged.push_back(created);
      if (!s.ok() && s.error_code() != grpc::StatusCode::UNAVAILABLE) {
        // Times relative to SIGTERM (negative: before it).
        const absl::Time sig = absl::FromUnixNanos(signalled_at_ns.load());
        bad.push_back(absl::StrCat(method, " x-request-id=", request_id,
                                   " started ",
                                   absl::FormatDuration(started - sig),
                                   " ended ", absl::FormatDuration(ended - sig),
                                   " relative to SIGTERM -> ", Describe(s)));
        bad_ids.push_back(request_id);
      }
    }
  };

  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, i);
  // Under load: every worker has had calls answered, reads and writes.
  WaitFor([&] {
    absl::MutexLock lock(&mu);
    return before["OK"] >= 2 * kThreads && !acknowledged.empty();
  });

  absl::Time signalled_at = absl::Now();
  signalled_at_ns = absl::ToUnixNanos(signalled_at);
  signalled = true;
  absl::Status sig = server_->Signal(SIGTERM);
  // The server stops within its drain deadline; the bound, well past it,
  // catches a hang.
  absl::StatusOr<ExitInfo> exit =
      sig.ok() ? server_->WaitForExit(absl::Seconds(kDrainSeconds + 20))
               : absl::StatusOr<ExitInfo>(sig);
  absl::Duration took = absl::Now() - signalled_at;
  // Let every client see the server gone, then stop them. Each call has a
  // deadline, so the wait and the joins are bounded.
  exited = true;
  WaitFor([&] { return calls_after_exit.load() >= kThreads; });
  stop = true;
  for (auto& t : threads) t.join();

  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited && exit->code == 0)
      << "server " << exit->ToString() << " after SIGTERM";

  absl::MutexLock lock(&mu);
  auto render = [](const std::map<std::string, int>& m) {
    return absl::StrJoin(m, ", ", absl::PairFormatter("="));
  };
  std::cerr << "calls sent before SIGTERM: " << render(before)
            << "\ncalls sent after SIGTERM: " << render(after)
            << "\nserver stopped " << absl::FormatDuration(took)
            << " after SIGTERM\n";
  EXPECT_GT(before["OK"], 0) << "no call succeeded before SIGTERM";
  // A call the server accepted (it reached a handler, so it is in the access
  // log) must succeed. gRPC 1.51's Server::Shutdown fails calls that arrived
  // but were not yet matched to a handler with CANCELLED rather than
  // UNAVAILABLE (grpc/grpc#41785); such a call was never executed, so it is
  // as safe to retry as an UNAVAILABLE one. Those are the only failures
  // allowed besides UNAVAILABLE, and only when the access log proves that the
  // server never started them.
  const std::string log = server_->ReadAccessLog();
  std::vector<std::string> accepted_failures;
  int refused_cancelled = 0;
  for (size_t i = 0; i < bad_ids.size(); ++i) {
    std::string line;
    for (absl::string_view l : absl::StrSplit(log, '\n')) {
      if (absl::StrContains(
              l, absl::StrCat("\"request_id\":\"", bad_ids[i], "\""))) {
        line = std::string(l);
      }
    }
    if (line.empty() && absl::StrContains(bad[i], "CANCELLED")) {
      ++refused_cancelled;
      continue;
    }
    accepted_failures.push_back(
        absl::StrCat(bad[i], "\n    server side: ",
                     line.empty() ? "(not in the access log)" : line));
  }
  std::cerr << "refused before reaching a handler with CANCELLED: "
            << refused_cancelled << "\n";
  EXPECT_THAT(accepted_failures, IsEmpty())
      << "calls failed with codes other than UNAVAILABLE:\n"
      << absl::StrJoin(accepted_failures, "\n");
  // Every call the server logged finished OK.
  int logged = 0;
  for (absl::string_view l : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    if (!absl::StrContains(l, "\"request_id\":\"sigterm-")) continue;
    ++logged;
    EXPECT_THAT(std::string(l), HasSubstr("\"code\":\"OK\"")) << l;
  }
  EXPECT_GT(logged, 0);
  for (const char* forbidden : {"INTERNAL", "DEADLINE_EXCEEDED", "UNKNOWN"}) {
    EXPECT_EQ(before[forbidden] + after[forbidden], 0) << forbidden;
  }

  // Every write that was acknowledged is stored: restart on the same store
  // and read back a sample, weighted towards the last answers (those closest
  // to the shutdown).
  std::cerr << "writes acknowledged: " << acknowledged.size() << "\n";
  ASSERT_FALSE(acknowledged.empty()) << "no CreatePerson succeeded";
  std::vector<std::string> sample;
  const size_t n = acknowledged.size();
  const size_t tail = std::min<size_t>(10, n);
  for (size_t i = n - tail; i < n; ++i) sample.push_back(acknowledged[i]);
  const size_t rest = n - tail;
  const size_t spread = std::min<size_t>(10, rest);
  for (size_t k = 0; k < spread; ++k)
    sample.push_back(acknowledged[k * rest / spread]);
  absl::Status restarted = server_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  Connect();
  for (const std::string& name : sample) {
    v1::Person got;
    grpc::Status s = GetPerson(name, &got);
    EXPECT_TRUE(s.ok()) << "acknowledged write " << name
                        << " is missing after the restart: " << Describe(s);
  }
}

// ---------------------------------------------------------------------------
// 10. kill -9 durability
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, AcknowledgedWriteSurvivesSigkill) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const size_t persons_before = AllPersonNames().size();
  ASSERT_EQ(CountStates(), 6);

  v1::Person created;
  grpc::Status s =
      CreatePerson("itest-durable", NewPerson("Durable Person"), &created);
  ASSERT_TRUE(s.ok()) << Describe(s);

  ASSERT_TRUE(server_->Signal(SIGKILL).ok());
  absl::StatusOr<ExitInfo> exit = server_->WaitForExit(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_FALSE(exit->exited);
  EXPECT_EQ(exit->signal, SIGKILL);

  absl::Status restarted = server_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  Connect();

  v1::Person got;
  s = GetPerson("persons/itest-durable", &got);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(got.etag(), created.etag());
  EXPECT_EQ(got.display_name(0).text(), "Durable Person");

  // The seed was not loaded twice.
  EXPECT_EQ(CountStates(), 6);
  EXPECT_EQ(AllPersonNames().size(), persons_before + 1);
}

// ---------------------------------------------------------------------------
// 11. Lame duck: health says NOT_SERVING while calls are still served
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, HealthIsNotServingDuringLameDuck) {
  constexpr absl::Duration kLameDuck = absl::Seconds(2);
  constexpr int kDrain = 5;
  ServerProcess::Options options = MembershipOptions();
  options.drain_seconds = kDrain;
  options.extra_args = {"--lame_duck_seconds=2"};
  ASSERT_NO_FATAL_FAILURE(StartServer(options));
  auto health = grpc::health::v1::Health::NewStub(channel_);
  auto check = [&](const std::string& service, HealthStatus* out) {
    return CheckHealth(health.get(), service, out);
  };
  auto get_state = [&] {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    v1::GetStateRequest req;
    req.set_name("states/kz");
    v1::State resp;
    return stub_->GetState(&ctx, req, &resp);
  };
  {
    HealthStatus resp;
    grpc::Status s = check("", &resp);
    ASSERT_TRUE(s.ok()) << Describe(s);
    ASSERT_EQ(resp.status(), HealthStatus::SERVING);
    s = get_state();
    ASSERT_TRUE(s.ok()) << Describe(s);
  }

  const absl::Time signalled_at = absl::Now();
  ASSERT_TRUE(server_->Signal(SIGTERM).ok());

  // The server flips health as soon as it takes the signal; poll for it
  // (until it answers NOT_SERVING, or stops answering).
  HealthStatus overall;
  grpc::Status s;
  WaitFor([&] {
    s = check("", &overall);
    return !s.ok() || overall.status() == HealthStatus::NOT_SERVING;
  });
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(overall.status(), HealthStatus::NOT_SERVING)
      << "health still " << HealthStatus::ServingStatus_Name(overall.status())
      << " " << absl::FormatDuration(absl::Now() - signalled_at)
      << " after SIGTERM";
  HealthStatus service;
  grpc::Status service_status = check(kServiceName, &service);
  grpc::Status served = get_state();
  absl::StatusOr<std::string> healthz =
      HttpGet(server_->admin_port(), "/healthz");
  // All of the above must have happened inside the lame-duck window, or
  // the test proves nothing about it. Once the window closes the server
  // refuses new calls, so a health check answered after them proves it.
  HealthStatus closing;
  grpc::Status closing_status = check("", &closing);
  const absl::Duration checked_after = absl::Now() - signalled_at;

  ASSERT_TRUE(service_status.ok()) << Describe(service_status);
  EXPECT_EQ(service.status(), HealthStatus::NOT_SERVING)
      << HealthStatus::ServingStatus_Name(service.status());
  EXPECT_TRUE(served.ok()) << "GetState during the lame-duck period: "
                           << Describe(served);
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_THAT(healthz->substr(0, healthz->find('\n')), HasSubstr(" 503"))
      << *healthz;
  ASSERT_TRUE(closing_status.ok() &&
              closing.status() == HealthStatus::NOT_SERVING)
      << "the lame-duck window closed before the checks ended ("
      << absl::FormatDuration(checked_after)
      << " after SIGTERM): they tell nothing about it; last health check: "
      << (closing_status.ok()
              ? HealthStatus::ServingStatus_Name(closing.status())
              : Describe(closing_status));

  // Close the client connection: the server's shutdown waits for it, and an
  // idle client channel notices the server's GOAWAY only when gRPC's backup
  // poller runs (every 5 s by default), which would stretch the exit.
  health.reset();
  stub_.reset();
  channel_.reset();
  // Nothing is in flight, so the server stops right after the lame-duck
  // period; the bound (well past the drain deadline) catches a hang.
  absl::StatusOr<ExitInfo> exit = server_->WaitForExit(
      kLameDuck + absl::Seconds(kDrain) + absl::Seconds(15));
  const absl::Duration took = absl::Now() - signalled_at;
  std::cerr << "health NOT_SERVING and calls served until "
            << absl::FormatDuration(checked_after) << " after SIGTERM; exit "
            << absl::FormatDuration(took) << " after it\n";
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited && exit->code == 0) << exit->ToString();
  // The server kept its listener for the whole lame-duck period.
  EXPECT_GE(took, kLameDuck - absl::Milliseconds(50))
      << "exited " << absl::FormatDuration(took) << " after SIGTERM";
}

// ---------------------------------------------------------------------------
// 12. Message size limit
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, OversizedRequestIsResourceExhausted) {
  ServerProcess::Options options = MembershipOptions();
  options.extra_args = {"--max_message_bytes=4096"};
  ASSERT_NO_FATAL_FAILURE(StartServer(options));

  v1::Person out;
  grpc::Status s =
      CreatePerson("itest-huge", NewPerson(std::string(10 * 1024, 'x')), &out);
  // gRPC's own limit, before any handler: not the handler's
  // INVALID_ARGUMENT for a too-long text.
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << Describe(s);
  v1::Person got;
  s = GetPerson("persons/itest-huge", &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND)
      << "the oversized person was stored: " << Describe(s);

  v1::Person small;
  s = CreatePerson("itest-small", NewPerson("Small Person"), &small);
  ASSERT_TRUE(s.ok()) << Describe(s);
  s = GetPerson("persons/itest-small", &got);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(got.display_name(0).text(), "Small Person");
}

// ---------------------------------------------------------------------------
// 13. Environment fallback
// ---------------------------------------------------------------------------

bool FileExists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0;
}

TEST_F(MembershipIntegrationTest, StoreComesFromEnvironmentWithoutFlag) {
  ServerProcess::Options options = MembershipOptions();
  options.store_flag = false;
  options.env = {{"CSTOPA_STORE", "sqlite:///{dir}/env.db"}};
  ASSERT_NO_FATAL_FAILURE(StartServer(options));
  const std::string env_db = server_->dir() + "/env.db";
  EXPECT_TRUE(FileExists(env_db)) << env_db << " was not created";
  EXPECT_FALSE(FileExists(server_->store_path()));

  // And it is the store in use: a write survives a restart.
  v1::Person out;
  grpc::Status s = CreatePerson("itest-env", NewPerson("From Env"), &out);
  ASSERT_TRUE(s.ok()) << Describe(s);
  absl::Status restarted = server_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  Connect();
  v1::Person got;
  s = GetPerson("persons/itest-env", &got);
  EXPECT_TRUE(s.ok()) << Describe(s);
  EXPECT_FALSE(FileExists(server_->store_path()));
}

TEST_F(MembershipIntegrationTest, StoreFlagBeatsEnvironment) {
  ServerProcess::Options options = MembershipOptions();
  options.env = {{"CSTOPA_STORE", "sqlite:///{dir}/env.db"}};
  ASSERT_NO_FATAL_FAILURE(StartServer(options));
  EXPECT_TRUE(FileExists(server_->store_path()));
  EXPECT_FALSE(FileExists(server_->dir() + "/env.db"));
}

// ---------------------------------------------------------------------------
// 14. Flag validation
// ---------------------------------------------------------------------------

TEST_F(MembershipIntegrationTest, BadListenFlagExitsWithCode2) {
  ServerProcess::Options options = MembershipOptions();
  options.listen = "nonsense";
  server_ = std::make_unique<ServerProcess>(options);
  absl::Status launched = server_->Launch();
  ASSERT_TRUE(launched.ok()) << launched;
  absl::StatusOr<ExitInfo> exit = server_->WaitForExit(absl::Seconds(10));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited && exit->code == 2) << exit->ToString();
  EXPECT_THAT(server_->ReadStderr(), HasSubstr("--listen"));
}

// ---------------------------------------------------------------------------
// 15. WatchMembership: the suite's watch conformance (watch_conformance.h)
//     and the filters over gRPC; on PostgreSQL (tests named *Postgres*,
//     registered separately with the `postgres` fixture) across replicas.
// ---------------------------------------------------------------------------

std::unique_ptr<grpc::ClientReaderInterface<v1::WatchMembershipResponse>>
OpenWatch(const std::shared_ptr<grpc::Channel>& channel,
          grpc::ClientContext* ctx, const v1::WatchMembershipRequest& req) {
  return v1::MembershipService::NewStub(channel)->WatchMembership(ctx, req);
}

// Write i of the conformance cases, through several collections: a person,
// a body, a partner, a state, then an update of the block's person four
// writes back (same block: kWatchWriteBlock is a multiple of 5). IDs carry
// the run's tag, for databases shared between runs.
std::string WatchWrite(int i, const std::shared_ptr<grpc::Channel>& channel) {
  static_assert(kWatchWriteBlock % 5 == 0);
  auto stub = v1::MembershipService::NewStub(channel);
  const std::string id = absl::StrCat("w", RunTag(), "-", i);
  auto en = [](const std::string& text) {
    cstopa::type::v1::LocalizedText t;
    t.set_language_code("en");
    t.set_text(text);
    return t;
  };
  grpc::ClientContext ctx;
  Prepare(&ctx, kEditorKey);
  grpc::Status s;
  std::string name;
  switch (i % 5) {
    case 0: {
      v1::CreatePersonRequest req;
      req.set_person_id(id);
      *req.mutable_person()->add_display_name() = en("Person " + id);
      v1::Person out;
      s = stub->CreatePerson(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 1: {
      v1::CreateBodyRequest req;
      req.set_body_id(id);
      *req.mutable_body()->add_display_name() = en("Body " + id);
      req.mutable_body()->set_kind(v1::BODY_KIND_ASSEMBLY);
      v1::Body out;
      s = stub->CreateBody(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 2: {
      v1::CreatePartnerRequest req;
      req.set_partner_id(id);
      *req.mutable_partner()->add_display_name() = en("Partner " + id);
      v1::Partner out;
      s = stub->CreatePartner(&ctx, req, &out);
      name = out.name();
      break;
    }
    case 3: {
      v1::CreateStateRequest req;
      req.set_state_id(id);
      *req.mutable_state()->add_display_name() = en("State " + id);
      v1::State out;
      s = stub->CreateState(&ctx, req, &out);
      name = out.name();
      break;
    }
    default: {
      v1::UpdatePersonRequest req;
      req.mutable_person()->set_name(
          absl::StrCat("persons/w", RunTag(), "-", i - 4));
      *req.mutable_person()->add_display_name() = en("Renamed " + id);
      v1::Person out;
      s = stub->UpdatePerson(&ctx, req, &out);
      name = out.name();
      break;
    }
  }
  EXPECT_TRUE(s.ok()) << "write " << i << ": " << Describe(s);
  return s.ok() ? name : "";
}

WatchClient<v1::WatchMembershipResponse> MembershipWatchClient() {
  WatchClient<v1::WatchMembershipResponse> client;
  client.open = [](const std::shared_ptr<grpc::Channel>& channel,
                   grpc::ClientContext* ctx, const std::string& token) {
    v1::WatchMembershipRequest req;
    req.set_resume_token(token);
    return OpenWatch(channel, ctx, req);
  };
  client.write = WatchWrite;
  return client;
}

// The messages of the failures `check` reports, caught (not the test's).
std::vector<std::string> FailuresOf(const std::function<void()>& check) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::
            INTERCEPT_ONLY_CURRENT_THREAD,
        &results);
    check();
  }
  std::vector<std::string> out;
  for (int i = 0; i < results.size(); ++i)
    out.push_back(results.GetTestPartResult(i).message());
  return out;
}

// The harness's stream check fails on what it must catch (no server).
TEST(WatchConformanceTest, StreamCheckCatchesLossDuplicatesGapsAndReorder) {
  // Writes 0..3 (one block): persons a, b, a (updated), c.
  const std::map<int, std::string> written = {
      {0, "persons/a"}, {1, "persons/b"}, {2, "persons/a"}, {3, "persons/c"}};
  auto stream = [](std::vector<std::string> names) {
    std::vector<v1::WatchMembershipResponse> out;
    for (size_t i = 0; i < names.size(); ++i) {
      v1::WatchMembershipResponse m;
      m.set_change_type(v1::CHANGE_TYPE_CREATED);
      m.set_name(names[i]);
      m.set_sequence(static_cast<int64_t>(10 + i));
      m.set_resume_token(absl::StrCat("t", i));
      m.mutable_commit_time()->set_seconds(1);
      out.push_back(m);
    }
    return out;
  };
  auto check = [&](const std::vector<v1::WatchMembershipResponse>& got) {
    return FailuresOf([&] { ExpectStreamHoldsWrites(got, written); });
  };
  EXPECT_THAT(
      check(stream({"persons/a", "persons/b", "persons/a", "persons/c"})),
      IsEmpty());
  EXPECT_THAT(check(stream({"persons/a", "persons/b", "persons/c"})),
              Contains(HasSubstr("missing from the stream")));
  EXPECT_THAT(check(stream({"persons/a", "persons/b", "persons/a", "persons/c",
                            "persons/c"})),
              Contains(HasSubstr("changes of it")));
  EXPECT_THAT(
      check(stream({"persons/a", "persons/c", "persons/a", "persons/b"})),
      Contains(HasSubstr("earlier write of its block")));
  auto gap = stream({"persons/a", "persons/b", "persons/a", "persons/c"});
  gap[2].set_sequence(20);
  gap[3].set_sequence(21);
  EXPECT_THAT(check(gap), Contains(HasSubstr("gap or reorder")));
}

TEST_F(MembershipIntegrationTest, ThreeWatchersSeeEachWriteOnceInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ExpectConcurrentWatchersSeeEachWriteOnceInOrder(server_.get(),
                                                  MembershipWatchClient());
}

TEST_F(MembershipIntegrationTest, WatchResumesAfterARestartWithoutLoss) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ExpectResumeAfterRestartSeesMissedWrites(server_.get(),
                                           MembershipWatchClient());
}

TEST_F(MembershipIntegrationTest, WatchRefusesADamagedToken) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ExpectDamagedResumeTokenIsInvalidArgument(server_.get(),
                                            MembershipWatchClient());
}

// The filters over gRPC: a stream of persons and states carries only their
// changes, with the right member; one of a single record only its; a bad
// filter ends the call with INVALID_ARGUMENT and its field.
TEST_F(MembershipIntegrationTest, FilteredWatchCarriesOnlyWhatItAsksFor) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  v1::WatchMembershipRequest some;
  some.add_collections("persons");
  some.add_collections("states");
  v1::WatchMembershipRequest one;
  one.set_name(absl::StrCat("partners/w", RunTag(), "-2"));
  auto open = [](v1::WatchMembershipRequest req) {
    return [req](const std::shared_ptr<grpc::Channel>& channel,
                 grpc::ClientContext* ctx,
                 const std::string&) { return OpenWatch(channel, ctx, req); };
  };
  WatchReader<v1::WatchMembershipResponse> w_some(open(some), channel_, "");
  WatchReader<v1::WatchMembershipResponse> w_one(open(one), channel_, "");
  ASSERT_TRUE(w_some.WaitStarted()) << Describe(w_some.status());
  ASSERT_TRUE(w_one.WaitStarted()) << Describe(w_one.status());
  // Writes 0..9: persons 0 and 5 (updated at 4 and 9), body 1 and 6,
  // partner 2 and 7, state 3 and 8.
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back(WatchWrite(i, channel_));
  std::vector<std::string> want;
  for (int i : {0, 3, 4, 5, 8, 9}) want.push_back(names[i]);
  ASSERT_TRUE(w_some.WaitForChanges(want.size())) << Describe(w_some.status());
  ASSERT_TRUE(w_one.WaitForChanges(1)) << Describe(w_one.status());
  // A last write the filters pass: nothing came between.
  const std::string last = WatchWrite(10, channel_);  // a person again
  want.push_back(last);
  ASSERT_TRUE(w_some.WaitForChanges(want.size())) << Describe(w_some.status());
  std::vector<std::string> got;
  for (const auto& m : w_some.changes()) {
    got.push_back(m.name());
    EXPECT_TRUE(m.has_person() || m.has_state()) << m.ShortDebugString();
  }
  EXPECT_EQ(got, want);
  auto only = w_one.changes();
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].name(), names[2]);
  EXPECT_EQ(only[0].change_type(), v1::CHANGE_TYPE_CREATED);
  EXPECT_EQ(only[0].partner().name(), names[2]);

  v1::WatchMembershipRequest bad;
  bad.add_collections("events");
  WatchReader<v1::WatchMembershipResponse> w_bad(open(bad), channel_, "");
  ASSERT_TRUE(w_bad.WaitDone());
  EXPECT_EQ(w_bad.messages(), 0);
  Details d = ExpectError(w_bad.status(), grpc::StatusCode::INVALID_ARGUMENT,
                          "INVALID_WATCH_FILTER");
  EXPECT_THAT(d.bad_fields, ElementsAre("collections[0]"));
}

class MembershipPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CSTOPA_TEST_POSTGRES_URL_OR_SKIP(base_);
    databases_ = std::make_unique<ScratchDatabases>(base_);
    // The shared database when none can be made: the tests watch from now
    // and their IDs carry the run's tag.
    url_ = databases_->New("cstopa_membership_itest");
  }
  void TearDown() override {
    if (HasFailure()) {
      for (auto& r : replicas_)
        std::cerr << "---- replica stderr (tail) ----\n"
                  << r->ReadStderr(4000) << "---- end ----\n";
    }
    replicas_.clear();
    databases_.reset();  // drops the database
  }
  ServerProcess* Replica() {
    ServerProcess::Options o = MembershipOptions();
    o.extra_args = {absl::StrCat("--store=", url_)};
    replicas_.push_back(std::make_unique<ServerProcess>(o));
    return replicas_.back().get();
  }

  std::string base_, url_;
  std::unique_ptr<ScratchDatabases> databases_;
  std::vector<std::unique_ptr<ServerProcess>> replicas_;
};

TEST_F(MembershipPostgresTest, AWatcherOnReplicaASeesWritesThroughB) {
  ServerProcess* a = Replica();
  ServerProcess* b = Replica();
  // Started together: migrations and seed race on one empty schema.
  ASSERT_TRUE(a->Launch().ok());
  ASSERT_TRUE(b->Launch().ok());
  ASSERT_TRUE(a->WaitForPortFile().ok()) << a->ReadStderr(4000);
  ASSERT_TRUE(b->WaitForPortFile().ok()) << b->ReadStderr(4000);
  ExpectReplicaWatcherSeesWritesThroughOther(a, b, MembershipWatchClient());
}

}  // namespace
}  // namespace cstopa::itest
