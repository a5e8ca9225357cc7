// ExportMembership on SQLite (a file, as a server runs it) and, where the
// test command started one, on PostgreSQL: every record once, from one
// snapshot, then the token a mirror watches from; the export's limits.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "membership/seed/membership_seed.pb.h"
#include "services/common/base/errors.h"
#include "services/common/store/change_feed.h"
#include "services/common/testing/export_test_kit.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/common/testing/test_postgres.h"
#include "services/membership/embedded_files.h"
#include "services/membership/membership_resources.h"
#include "services/membership/membership_service.h"

namespace cstopa::membership {
namespace {

// The collections in the order the export sends them.
const std::vector<std::string>& Order() {
  static const std::vector<std::string>* const order =
      new std::vector<std::string>{"states",  "parliaments", "delegations",
                                   "persons", "roles",       "bodies",
                                   "partners"};
  return *order;
}

// The name of the record a message carries ("" for none).
std::string RecordName(const v1::ExportMembershipResponse& m) {
  switch (m.resource_case()) {
    case v1::ExportMembershipResponse::kState:
      return m.state().name();
    case v1::ExportMembershipResponse::kParliament:
      return m.parliament().name();
    case v1::ExportMembershipResponse::kDelegation:
      return m.delegation().name();
    case v1::ExportMembershipResponse::kPerson:
      return m.person().name();
    case v1::ExportMembershipResponse::kRole:
      return m.role().name();
    case v1::ExportMembershipResponse::kBody:
      return m.body().name();
    case v1::ExportMembershipResponse::kPartner:
      return m.partner().name();
    case v1::ExportMembershipResponse::RESOURCE_NOT_SET:
      break;
  }
  return "";
}

class ExportTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL test server in this build";
    absl::StatusOr<std::unique_ptr<common::Database>> db;
    if (GetParam() == "sqlite") {
      // A file: an in-memory store has one connection, which an export's
      // read would share with the writes this test makes meanwhile.
      std::string test =
          ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(test.begin(), test.end(), '/', '_');
      const std::string path =
          absl::StrCat(::testing::TempDir(), "/membership_export_", getpid(),
                       "_", test, ".db");
      std::remove(path.c_str());
      std::remove((path + "-wal").c_str());
      std::remove((path + "-shm").c_str());
      db = common::OpenDatabase(absl::StrCat("sqlite://", path),
                                MembershipSchema());
    } else {
      db = common::OpenTestDatabase(GetParam(), MembershipSchema());
    }
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<MembershipResources>(
        db_.get(), &tokens_, &keys_, [] { return int64_t{20261122}; });
    UseOptions({});
    ASSERT_TRUE(handler_->LoadSeed(kMembershipSeed).ok());
  }

  // A new handler over the same store, its exports bounded by `options`.
  void UseOptions(common::ExportOptions options) {
    api_.reset();
    handler_ = std::make_unique<MembershipHandler>(resources_.get(), options);
    api_ = std::make_unique<v1::MembershipServiceBlocking>(handler_.get());
  }

  using Exported =
      common::testing::ExportedRecords<v1::ExportMembershipResponse>;

  // Runs an export to its end; `on_record` sees each record's index as it
  // comes (returning false cancels).
  Exported Export(const v1::ExportMembershipRequest& req,
                  std::function<bool(size_t)> on_record = nullptr) {
    return common::testing::ExportAll<v1::ExportMembershipResponse>(
        [&](const auto& on_message) {
          return api_->ExportMembership({}, req, on_message);
        },
        std::move(on_record));
  }

  // The first `n` changes after `token` (checkpoints left out).
  std::vector<v1::WatchMembershipResponse> ChangesAfter(
      const std::string& token, size_t n) {
    return common::testing::ChangesAfter<v1::WatchMembershipResponse>(
        [&](const auto& on_message) {
          v1::WatchMembershipRequest req;
          req.set_resume_token(token);
          return api_->WatchMembership({}, req, on_message);
        },
        n);
  }

  absl::Status CreatePerson(const std::string& id) {
    v1::CreatePersonRequest req;
    req.set_person_id(id);
    auto* t = req.mutable_person()->add_display_name();
    t->set_language_code("en");
    t->set_text(absl::StrCat("Person ", id));
    v1::Person out;
    return api_->CreatePerson(common::testing::EditorCaller(), req, &out);
  }

  absl::Status DeletePerson(const std::string& name) {
    v1::DeletePersonRequest req;
    req.set_name(name);
    v1::Person out;
    return api_->DeletePerson(common::testing::AdminCaller(), req, &out);
  }

  static int SeededRecords() {
    seed::MembershipSeed seed;
    EXPECT_TRUE(
        google::protobuf::TextFormat::ParseFromString(kMembershipSeed, &seed));
    return seed.states_size() + seed.bodies_size() + seed.parliaments_size() +
           seed.delegations_size() + seed.persons_size() + seed.roles_size() +
           seed.partners_size();
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<MembershipResources> resources_;
  std::unique_ptr<MembershipHandler> handler_;
  std::unique_ptr<v1::MembershipServiceBlocking> api_;
};

TEST_P(ExportTest, EveryRecordOnceByCollectionThenTheTokenToWatchFrom) {
  Exported e = Export({});
  common::testing::ExpectEveryRecordOnceInOrder(e, Order(), SeededRecords());
  for (const auto& m : e.records) EXPECT_EQ(m.name(), RecordName(m));
  // Each record as Get answers it, computed fields for today included.
  v1::GetStateRequest get;
  get.set_name("states/kg");
  v1::State kg;
  ASSERT_TRUE(api_->GetState({}, get, &kg).ok());
  bool found = false;
  for (const auto& m : e.records) {
    if (m.has_state() && m.state().name() == "states/kg") {
      found = true;
      EXPECT_EQ(m.state().SerializeAsString(), kg.SerializeAsString());
    }
  }
  EXPECT_TRUE(found);

  // A mirror watching from the token gets the writes after the export,
  // and nothing before them.
  ASSERT_TRUE(CreatePerson("after-export").ok());
  auto changes = ChangesAfter(e.last.resume_token(), 1);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].name(), "persons/after-export");
  EXPECT_EQ(changes[0].change_type(), v1::CHANGE_TYPE_CREATED);
}

TEST_P(ExportTest, WritesDuringTheExportAreNotInItAndFollowItsToken) {
  // Read ahead by one message only: the export's read is still going when
  // the writes commit.
  UseOptions({.max_buffered_bytes = 1});
  bool wrote = false;
  Exported e = Export({}, [&](size_t i) {
    if (i == 0) {
      EXPECT_TRUE(CreatePerson("during-export").ok());
      EXPECT_TRUE(DeletePerson("persons/vyacheslav-volodin").ok());
      wrote = true;
    }
    return true;
  });
  ASSERT_TRUE(wrote);
  ASSERT_TRUE(e.status.ok()) << e.status;
  EXPECT_EQ(static_cast<int>(e.records.size()), SeededRecords());
  bool volodin = false;
  for (const auto& m : e.records) {
    EXPECT_NE(m.name(), "persons/during-export");
    if (m.name() == "persons/vyacheslav-volodin") {
      volodin = true;
      EXPECT_FALSE(m.person().has_delete_time());
    }
  }
  EXPECT_TRUE(volodin) << "the snapshot was taken before the delete";
  auto changes = ChangesAfter(e.last.resume_token(), 2);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].name(), "persons/during-export");
  EXPECT_EQ(changes[1].name(), "persons/vyacheslav-volodin");
  EXPECT_EQ(changes[1].change_type(), v1::CHANGE_TYPE_DELETED);
}

TEST_P(ExportTest, DeletedRecordsOnlyWithShowDeleted) {
  ASSERT_TRUE(DeletePerson("persons/vyacheslav-volodin").ok());
  Exported live = Export({});
  ASSERT_TRUE(live.status.ok()) << live.status;
  for (const auto& m : live.records)
    EXPECT_NE(m.name(), "persons/vyacheslav-volodin");
  v1::ExportMembershipRequest req;
  req.set_show_deleted(true);
  Exported all = Export(req);
  ASSERT_TRUE(all.status.ok()) << all.status;
  EXPECT_EQ(all.records.size(), live.records.size() + 1);
  bool found = false;
  for (const auto& m : all.records) {
    if (m.name() != "persons/vyacheslav-volodin") continue;
    found = true;
    EXPECT_TRUE(m.person().has_delete_time());
  }
  EXPECT_TRUE(found);
}

TEST_P(ExportTest, CollectionsChooseWhatIsSentAndUnknownOnesAreRefused) {
  v1::ExportMembershipRequest req;
  req.add_collections("roles");
  req.add_collections("persons");
  Exported e = Export(req);
  ASSERT_TRUE(e.status.ok()) << e.status;
  ASSERT_FALSE(e.records.empty());
  bool roles_started = false;
  for (const auto& m : e.records) {
    const absl::string_view c = common::CollectionOf(m.name());
    ASSERT_TRUE(c == "persons" || c == "roles") << m.name();
    // In the service's order, whatever the request's.
    if (c == "roles") roles_started = true;
    EXPECT_FALSE(roles_started && c == "persons") << m.name();
  }
  EXPECT_TRUE(roles_started);

  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"people"}, {"persons", "persons"}, {"revisions"}}) {
    v1::ExportMembershipRequest r;
    for (const auto& c : bad) r.add_collections(c);
    Exported refused = Export(r);
    EXPECT_EQ(refused.status.code(), absl::StatusCode::kInvalidArgument)
        << refused.status;
    EXPECT_TRUE(refused.records.empty());
    auto request = common::GetBadRequest(refused.status);
    ASSERT_TRUE(request.has_value());
    ASSERT_EQ(request->field_violations_size(), 1);
    EXPECT_EQ(request->field_violations(0).field(),
              absl::StrCat("collections[", bad.size() - 1, "]"));
  }
}

TEST_P(ExportTest, ExportsBeyondTheLimitAreRefusedAndACancelledOneEnds) {
  UseOptions({.max_buffered_bytes = 1, .max_concurrent = 1});
  absl::Status second;
  Exported first = Export({}, [&](size_t i) {
    if (i == 0) second = Export({}).status;
    return i < 2;  // the client leaves after three records
  });
  EXPECT_EQ(first.status.code(), absl::StatusCode::kCancelled) << first.status;
  EXPECT_EQ(first.records.size(), 3u);
  EXPECT_EQ(second.code(), absl::StatusCode::kResourceExhausted) << second;
  auto info = common::GetErrorInfo(second);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "RESOURCE_EXHAUSTED");
  // The cancelled export's read ends at its next record and gives its slot
  // back: a new export soon runs to its end.
  absl::Status next;
  for (int attempt = 0; attempt < 500; ++attempt) {
    next = Export({}).status;
    if (next.code() != absl::StatusCode::kResourceExhausted) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(next.ok()) << next;
}

TEST_P(ExportTest, AClientThatStallsEndsItsExport) {
  UseOptions(
      {.max_buffered_bytes = 1, .stall_timeout = absl::Milliseconds(20)});
  // The reader waits for room once two messages are out; the client then
  // takes none for far longer than the stall timeout. (Tried a few times:
  // on a loaded machine the reader might not reach its wait in time.)
  absl::Status status;
  for (int attempt = 0; attempt < 5; ++attempt) {
    status = Export({}, [&](size_t i) {
               if (i == 0) absl::SleepFor(absl::Milliseconds(400));
               return true;
             }).status;
    if (status.code() == absl::StatusCode::kResourceExhausted) break;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  auto info = common::GetErrorInfo(status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "RESOURCE_EXHAUSTED");
}

// ImportMembership -------------------------------------------------------

// An empty store of the same back end, to import into.
struct EmptyStore {
  std::unique_ptr<common::Database> db;
  std::unique_ptr<MembershipResources> resources;
  std::unique_ptr<MembershipHandler> handler;
  std::unique_ptr<v1::MembershipServiceBlocking> api;
};

// The records of an export as an import request (the Record message has
// the export's oneof, under the same field numbers).
v1::ImportMembershipRequest AsImport(
    const std::vector<v1::ExportMembershipResponse>& records) {
  v1::ImportMembershipRequest req;
  for (const auto& m : records) {
    v1::MembershipRecord* r = req.add_records();
    EXPECT_TRUE(r->ParseFromString(m.SerializeAsString()));
    r->DiscardUnknownFields();  // the export's name, token and count
  }
  return req;
}

// The records without their etags (a store's version tokens: an imported
// record is its store's revision 1).
std::vector<std::string> WithoutEtags(
    const std::vector<v1::ExportMembershipResponse>& records) {
  std::vector<std::string> out;
  for (v1::ExportMembershipResponse m : records) {
    const google::protobuf::Descriptor* d = m.GetDescriptor();
    for (int i = 0; i < d->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* f = d->field(i);
      if (f->message_type() == nullptr || !m.GetReflection()->HasField(m, f))
        continue;
      google::protobuf::Message* record =
          m.GetReflection()->MutableMessage(&m, f);
      record->GetReflection()->ClearField(
          record, record->GetDescriptor()->FindFieldByName("etag"));
    }
    out.push_back(m.ShortDebugString());
  }
  return out;
}

class ImportTest : public ExportTest {
 protected:
  void SetUp() override {
    ExportTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto db = common::OpenTestDatabase(GetParam(), MembershipSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    target_.db = std::move(*db);
    target_.resources = std::make_unique<MembershipResources>(
        target_.db.get(), &tokens_, &keys_, [] { return int64_t{20261122}; });
    target_.handler =
        std::make_unique<MembershipHandler>(target_.resources.get());
    target_.api =
        std::make_unique<v1::MembershipServiceBlocking>(target_.handler.get());
  }

  Exported ExportTarget() {
    v1::ExportMembershipRequest req;
    req.set_show_deleted(true);
    return common::testing::ExportAll<v1::ExportMembershipResponse>(
        [&](const auto& on_message) {
          return target_.api->ExportMembership({}, req, on_message);
        });
  }

  absl::Status Import(const v1::ImportMembershipRequest& req,
                      v1::ImportMembershipResponse* out) {
    return target_.api->ImportMembership(common::testing::AdminCaller(), req,
                                         out);
  }

  EmptyStore target_;
};

TEST_P(ImportTest,
       ARoundTripGivesTheSameRecordsAndASecondImportChangesNothing) {
  ASSERT_TRUE(DeletePerson("persons/vyacheslav-volodin").ok());
  v1::ExportMembershipRequest all;
  all.set_show_deleted(true);
  Exported source = Export(all);
  ASSERT_TRUE(source.status.ok()) << source.status;
  const v1::ImportMembershipRequest req = AsImport(source.records);
  const int n = req.records_size();

  // A check first: it counts, and stores nothing.
  v1::ImportMembershipRequest check = req;
  check.set_validate_only(true);
  v1::ImportMembershipResponse counted;
  ASSERT_TRUE(Import(check, &counted).ok());
  EXPECT_EQ(counted.created_count(), n);
  EXPECT_EQ(counted.skipped_count(), 0);
  EXPECT_TRUE(ExportTarget().records.empty());

  v1::ImportMembershipResponse done;
  ASSERT_TRUE(Import(req, &done).ok());
  EXPECT_EQ(done.created_count(), n);
  EXPECT_EQ(done.skipped_count(), 0);
  Exported copy = ExportTarget();
  ASSERT_TRUE(copy.status.ok()) << copy.status;
  EXPECT_EQ(WithoutEtags(copy.records), WithoutEtags(source.records));

  v1::ImportMembershipResponse again;
  ASSERT_TRUE(Import(req, &again).ok());
  EXPECT_EQ(again.created_count(), 0);
  EXPECT_EQ(again.skipped_count(), n);
  EXPECT_EQ(again.skipped_names_size(), n);
  Exported after = ExportTarget();
  EXPECT_EQ(WithoutEtags(after.records), WithoutEtags(copy.records));
  // Nothing was written the second time: the records are byte for byte
  // the first import's.
  for (size_t i = 0; i < after.records.size() && i < copy.records.size(); ++i)
    EXPECT_EQ(after.records[i].SerializeAsString(),
              copy.records[i].SerializeAsString());

  // The imported records are indexed for search (the deleted one is not).
  v1::SearchRequest search;
  search.set_query("Volodin");
  v1::SearchResponse found;
  ASSERT_TRUE(target_.api->Search({}, search, &found).ok());
  EXPECT_EQ(found.hits_size(), 0) << "a deleted record is not found";
  search.set_query("Rogalev");
  ASSERT_TRUE(target_.api->Search({}, search, &found).ok());
  EXPECT_GT(found.hits_size(), 0);
}

TEST_P(ImportTest, RefusedRecordsAreNamedByPathAndNothingIsStored) {
  v1::ImportMembershipRequest req;
  auto* ok = req.add_records()->mutable_person();
  ok->set_name("persons/fine");
  auto* t = ok->add_display_name();
  t->set_language_code("en");
  t->set_text("Fine");
  req.add_records();  // no record in it
  *req.add_records()->mutable_person() = *ok;
  req.mutable_records(2)->mutable_person()->set_name("persons/Not An Id");
  *req.add_records()->mutable_person() = *ok;  // the same name again
  auto* nameless = req.add_records()->mutable_person();
  nameless->set_name("persons/no-name");  // no display_name
  v1::ImportMembershipResponse out;
  absl::Status s = Import(req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(common::testing::FieldsOf(s),
              ::testing::UnorderedElementsAre(
                  "records[1]", "records[2].person.name",
                  "records[3].person.name", "records[4].person.display_name"));
  EXPECT_TRUE(ExportTarget().records.empty());

  // A reference to a record neither imported nor stored.
  v1::ImportMembershipRequest orphan;
  *orphan.add_records()->mutable_person() = *ok;
  auto* role = orphan.add_records()->mutable_role();
  role->set_name("roles/orphan");
  role->set_person("persons/nobody");
  role->set_organization("bodies/nowhere");
  role->set_role_type(v1::ROLE_TYPE_MEMBER);
  s = Import(orphan, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(common::testing::ReasonOf(s), "UNKNOWN_REFERENCE");
  EXPECT_THAT(common::testing::FieldsOf(s),
              ::testing::UnorderedElementsAre("records[1].role.person",
                                              "records[1].role.organization"));
  EXPECT_TRUE(ExportTarget().records.empty()) << "the person was rolled back";
}

TEST_P(ImportTest, OnlyAnAdminImports) {
  v1::ImportMembershipRequest req;
  auto* p = req.add_records()->mutable_person();
  p->set_name("persons/fine");
  v1::ImportMembershipResponse out;
  EXPECT_EQ(
      target_.api->ImportMembership(common::testing::EditorCaller(), req, &out)
          .code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(target_.api->ImportMembership({}, req, &out).code(),
            absl::StatusCode::kUnauthenticated);
}

INSTANTIATE_TEST_SUITE_P(Backends, ImportTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST_P(ExportTest, ADrainEndsRunningExportsAndRefusesNewOnes) {
  UseOptions({.max_buffered_bytes = 1});
  Exported running = Export({}, [&](size_t i) {
    if (i == 0) handler_->BeginDrain();
    return true;
  });
  EXPECT_EQ(running.status.code(), absl::StatusCode::kUnavailable)
      << running.status;
  EXPECT_EQ(common::testing::ReasonOf(running.status), "SERVER_SHUTTING_DOWN");
  EXPECT_LT(running.records.size(), static_cast<size_t>(SeededRecords()));
  Exported refused = Export({});
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(refused.records.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, ExportTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::membership
