// Store tests: date arithmetic of "as of" queries, the generic resource
// store (as the membership tables use it) and the change log every write
// adds to, on SQLite and PostgreSQL.
#include "services/membership/membership_resources.h"

#include <atomic>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/store/change_feed.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::membership {
namespace {

google::type::Date D(int y, int m = 0, int d = 0) {
  google::type::Date date;
  date.set_year(y);
  date.set_month(m);
  date.set_day(d);
  return date;
}

TEST(DatesTest, PartialDatesWidenToTheirEarliestAndLatestDay) {
  EXPECT_EQ(EarliestDay(D(2022), true), 20220101);
  EXPECT_EQ(LatestDay(D(2022), true), 20221231);
  EXPECT_EQ(EarliestDay(D(2024, 2), true), 20240201);
  EXPECT_EQ(LatestDay(D(2024, 2), true), 20240229);  // leap year
  EXPECT_EQ(LatestDay(D(2023, 2), true), 20230228);
  EXPECT_EQ(LatestDay(D(2100, 2), true), 21000228);  // not a leap year
  EXPECT_EQ(EarliestDay(D(2022, 5, 19), true), 20220519);
  EXPECT_EQ(EarliestDay(D(0), false), 0);
  EXPECT_EQ(LatestDay(D(0), false), 99991231);
}

TEST(DatesTest, RangeHoldsUsesTheWidestReading) {
  cstopa::type::v1::DateRange r;
  *r.mutable_start_date() = D(2022);
  *r.mutable_end_date() = D(2024, 5);
  EXPECT_FALSE(RangeHolds(r, 20211231));
  EXPECT_TRUE(RangeHolds(r, 20220101));
  EXPECT_TRUE(RangeHolds(r, 20240531));
  EXPECT_FALSE(RangeHolds(r, 20240601));
  cstopa::type::v1::DateRange open;  // unknown start, still holds
  EXPECT_TRUE(RangeHolds(open, 19000101));
  EXPECT_TRUE(RangeHolds(open, 99990101));
}

// Runs on SQLite and, where the test command started one, on PostgreSQL (in
// a schema of its own per test).
class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL server for tests";
    auto db = common::OpenTestDatabase(GetParam(), MembershipSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ =
        std::make_unique<MembershipResources>(db_.get(), &tokens_, &keys_);
  }

  v1::Person NewPerson(const std::string& id, const std::string& text) {
    v1::Person p;
    p.set_name("persons/" + id);
    auto* n = p.add_display_name();
    n->set_language_code("en");
    n->set_text(text);
    return p;
  }

  std::unique_ptr<common::Database> db_;
  common::PageTokenCodec tokens_{"k"};
  // Whether a live resource `name` of any membership collection exists.
  bool Exists(const std::string& name) {
    bool found = false;
    absl::Status s = db_->Read([&](common::SqlTransaction& tx) -> absl::Status {
      const common::ResourceStore* store = resources_->set().StoreFor(name);
      if (store == nullptr) return absl::OkStatus();
      auto live = store->Exists(tx, name, /*hold=*/false);
      if (!live.ok()) return live.status();
      found = *live;
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return found;
  }

  common::ApiKeyStore keys_;
  std::unique_ptr<MembershipResources> resources_;
};

TEST_P(StoreTest, CreateSetsTimesAndEtagAndRefusesReuse) {
  v1::Person p = NewPerson("a", "A");
  ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
  EXPECT_TRUE(p.has_create_time());
  EXPECT_EQ(p.create_time().seconds(), p.update_time().seconds());
  // A strong etag, quoted (AIP-154, RFC 7232).
  EXPECT_THAT(p.etag(), ::testing::MatchesRegex("\"[0-9a-f]{16}\""));
  v1::Person again = NewPerson("a", "A2");
  EXPECT_EQ(resources_->persons().store().Create(&again).code(),
            absl::StatusCode::kAlreadyExists);
}

// The write hook sees every write, as stored, inside its transaction: an
// error from it undoes the write.
TEST_P(StoreTest, WriteHookSeesEveryWriteAndCanAbortIt) {
  std::vector<std::pair<common::WriteKind, std::string>> seen;
  bool fail = false;
  resources_->persons().store().set_write_hook(
      [&](common::SqlTransaction&, common::WriteKind kind,
          const google::protobuf::Message& m) -> absl::Status {
        const auto& p = static_cast<const v1::Person&>(m);
        EXPECT_FALSE(p.etag().empty());
        seen.push_back({kind, p.name()});
        if (fail) return absl::AbortedError("hook refused");
        return absl::OkStatus();
      });
  v1::Person p = NewPerson("a", "A");
  ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
  v1::Person out;
  ASSERT_TRUE(resources_->persons()
                  .store()
                  .Update(
                      "persons/a", "",
                      [](google::protobuf::Message* m) {
                        static_cast<v1::Person*>(m)->set_state("states/kz");
                        return absl::OkStatus();
                      },
                      &out)
                  .ok());
  ASSERT_TRUE(resources_->persons().store().Delete("persons/a", "", &out).ok());
  v1::Person seeded = NewPerson("s", "S");
  ASSERT_TRUE(resources_->persons().store().InsertMissing({&seeded}).ok());
  ASSERT_TRUE(
      resources_->persons().store().InsertMissing({&seeded}).ok());  // no-op
  using K = common::WriteKind;
  EXPECT_THAT(seen, ::testing::ElementsAre(
                        std::pair(K::kCreate, std::string("persons/a")),
                        std::pair(K::kUpdate, std::string("persons/a")),
                        std::pair(K::kDelete, std::string("persons/a")),
                        std::pair(K::kCreate, std::string("persons/s"))));
  fail = true;
  v1::Person b = NewPerson("b", "B");
  EXPECT_EQ(resources_->persons().store().Create(&b).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(resources_->persons().store().Get("persons/b", true, &out).code(),
            absl::StatusCode::kNotFound);
}

// Every write of every collection logs one row to membership_changes in
// its own transaction: the kind, the name, the resource as stored, in
// commit order with dense sequence numbers; a refused write logs nothing.
TEST_P(StoreTest, EveryCollectionsWritesAreLoggedToTheFeedOnce) {
  auto with_name = [](auto m, const std::string& name) {
    m.set_name(name);
    return m;
  };
  v1::State state = with_name(v1::State(), "states/xw");
  v1::Parliament parliament = with_name(v1::Parliament(), "parliaments/xp");
  v1::Delegation delegation =
      with_name(v1::Delegation(), "parliaments/xp/delegations/xd");
  v1::Person person = NewPerson("xa", "XA");
  v1::Role role = with_name(v1::Role(), "roles/xr");
  v1::Body body = with_name(v1::Body(), "bodies/xb");
  v1::Partner partner = with_name(v1::Partner(), "partners/xq");
  ASSERT_TRUE(resources_->states().store().Create(&state).ok());
  ASSERT_TRUE(resources_->parliaments().store().Create(&parliament).ok());
  ASSERT_TRUE(resources_->delegations().store().Create(&delegation).ok());
  ASSERT_TRUE(resources_->persons().store().Create(&person).ok());
  ASSERT_TRUE(resources_->roles().store().Create(&role).ok());
  ASSERT_TRUE(resources_->bodies().store().Create(&body).ok());
  ASSERT_TRUE(resources_->partners().store().InsertMissing({&partner}).ok());
  v1::Person out;
  ASSERT_TRUE(resources_->persons()
                  .store()
                  .Update(
                      "persons/xa", "",
                      [](google::protobuf::Message* m) {
                        static_cast<v1::Person*>(m)->set_state("states/xw");
                        return absl::OkStatus();
                      },
                      &out)
                  .ok());
  // Refused: a stale etag, an existing name, a second delete.
  EXPECT_EQ(
      resources_->persons()
          .store()
          .Update(
              "persons/xa", "stale-etag",
              [](google::protobuf::Message*) { return absl::OkStatus(); }, &out)
          .code(),
      absl::StatusCode::kAborted);
  v1::Person again = NewPerson("xa", "Again");
  EXPECT_EQ(resources_->persons().store().Create(&again).code(),
            absl::StatusCode::kAlreadyExists);
  v1::Role gone;
  ASSERT_TRUE(resources_->roles().store().Delete("roles/xr", "", &gone).ok());
  EXPECT_EQ(resources_->roles().store().Delete("roles/xr", "", &gone).code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(resources_->partners().store().InsertMissing({&partner}).ok());

  struct Row {
    int64_t seq, kind;
    std::string name, data;
  };
  std::vector<Row> rows;
  absl::Status s = db_->Read([&](common::SqlTransaction& tx) {
    return tx.QueryEach(
        "SELECT seq, kind, name, data FROM membership_changes ORDER BY seq", {},
        [&](const common::SqlRow& r) {
          rows.push_back({r.Int(0), r.Int(1), std::string(r.Bytes(2)),
                          std::string(r.Bytes(3))});
          return absl::OkStatus();
        });
  });
  ASSERT_TRUE(s.ok()) << s;
  std::vector<std::pair<int64_t, std::string>> logged;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].seq, static_cast<int64_t>(i + 1));
    logged.emplace_back(rows[i].kind, rows[i].name);
  }
  const int64_t kCreated = static_cast<int64_t>(common::ChangeKind::kCreated);
  const int64_t kUpdated = static_cast<int64_t>(common::ChangeKind::kUpdated);
  const int64_t kDeleted = static_cast<int64_t>(common::ChangeKind::kDeleted);
  EXPECT_THAT(
      logged,
      ::testing::ElementsAre(
          std::pair(kCreated, std::string("states/xw")),
          std::pair(kCreated, std::string("parliaments/xp")),
          std::pair(kCreated, std::string("parliaments/xp/delegations/xd")),
          std::pair(kCreated, std::string("persons/xa")),
          std::pair(kCreated, std::string("roles/xr")),
          std::pair(kCreated, std::string("bodies/xb")),
          std::pair(kCreated, std::string("partners/xq")),
          std::pair(kUpdated, std::string("persons/xa")),
          std::pair(kDeleted, std::string("roles/xr"))));
  ASSERT_EQ(rows.size(), 9u);
  v1::Person logged_update;
  ASSERT_TRUE(logged_update.ParseFromString(rows[7].data));
  EXPECT_EQ(logged_update.state(), "states/xw");
  EXPECT_EQ(logged_update.etag(), out.etag());
  v1::Role logged_delete;
  ASSERT_TRUE(logged_delete.ParseFromString(rows[8].data));
  EXPECT_TRUE(logged_delete.has_delete_time());
}

// Many Gets at once, from many threads (on PostgreSQL through several pooled
// connections): each caller gets exactly its own resource, deleted ones only
// when asked for, missing ones NOT_FOUND.
TEST_P(StoreTest, ConcurrentGetsEachGetTheirOwnAnswer) {
  constexpr int kPersons = 40;
  for (int i = 0; i < kPersons; ++i) {
    v1::Person p = NewPerson(absl::StrCat("p", i), absl::StrCat("Person ", i));
    ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
  }
  v1::Person gone;
  for (int i = 0; i < kPersons; i += 7)
    ASSERT_TRUE(resources_->persons()
                    .store()
                    .Delete(absl::StrCat("persons/p", i), "", &gone)
                    .ok());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int n = 0; n < 150; ++n) {
        const int i = static_cast<int>(rng() % (kPersons + 5));  // some missing
        const bool allow_deleted = rng() % 2 == 0;
        const std::string name = absl::StrCat("persons/p", i);
        v1::Person out;
        absl::Status s =
            resources_->persons().store().Get(name, allow_deleted, &out);
        const bool exists = i < kPersons;
        const bool deleted = exists && i % 7 == 0;
        if (!exists || (deleted && !allow_deleted)) {
          if (s.code() != absl::StatusCode::kNotFound) ++wrong;
        } else if (!s.ok() || out.name() != name ||
                   out.display_name(0).text() != absl::StrCat("Person ", i) ||
                   out.has_delete_time() != deleted) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_P(StoreTest, AsyncGetsStartedTogetherEachFinishOnceWithTheirAnswer) {
  // More Gets at once than PostgreSQL's pool has connections (8): the rest
  // queue without a thread each and are sent as connections free up.
  constexpr int kPersons = 30, kGets = 300;
  for (int i = 0; i < kPersons; ++i) {
    v1::Person p = NewPerson(absl::StrCat("p", i), absl::StrCat("Person ", i));
    ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
  }
  v1::Person gone;
  ASSERT_TRUE(
      resources_->persons().store().Delete("persons/p3", "", &gone).ok());
  std::vector<v1::Person> out(kGets);
  std::vector<absl::Status> results(kGets);
  std::vector<int> calls(kGets, 0);
  absl::Mutex mu;
  int finished = 0;
  for (int n = 0; n < kGets; ++n) {
    const int i = n % (kPersons + 2);  // p30, p31 do not exist
    resources_->persons().store().GetAsync(
        absl::StrCat("persons/p", i), false, &out[n],
        absl::Now() + absl::Seconds(30), [&, n](absl::Status s) {
          absl::MutexLock lock(&mu);
          results[n] = std::move(s);
          ++calls[n];
          ++finished;
        });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(
        mu.AwaitWithTimeout(absl::Condition(
                                +[](int* f) { return *f >= kGets; }, &finished),
                            absl::Seconds(60)));
  }
  for (int n = 0; n < kGets; ++n) {
    const int i = n % (kPersons + 2);
    EXPECT_EQ(calls[n], 1) << n;
    if (i >= kPersons || i == 3) {
      EXPECT_EQ(results[n].code(), absl::StatusCode::kNotFound) << results[n];
    } else {
      ASSERT_TRUE(results[n].ok()) << n << ": " << results[n];
      EXPECT_EQ(out[n].name(), absl::StrCat("persons/p", i));
      EXPECT_EQ(out[n].display_name(0).text(), absl::StrCat("Person ", i));
    }
  }
  // A deadline already past fails without reaching the store.
  v1::Person late;
  absl::Status past;
  absl::Notification past_done;
  resources_->persons().store().GetAsync("persons/p1", false, &late,
                                         absl::Now() - absl::Seconds(1),
                                         [&](absl::Status s) {
                                           past = std::move(s);
                                           past_done.Notify();
                                         });
  ASSERT_TRUE(past_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(past.code(), absl::StatusCode::kDeadlineExceeded) << past;
}

TEST_P(StoreTest, UpdateChangesEtagAndUpdateTimeAndChecksEtag) {
  v1::Person p = NewPerson("a", "A");
  ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
  v1::Person out;
  ASSERT_TRUE(resources_->persons()
                  .store()
                  .Update(
                      "persons/a", p.etag(),
                      [](google::protobuf::Message* m) {
                        static_cast<v1::Person*>(m)->set_state("states/kz");
                        return absl::OkStatus();
                      },
                      &out)
                  .ok());
  EXPECT_NE(out.etag(), p.etag());
  EXPECT_GT(
      out.update_time().seconds() * 1000000000LL + out.update_time().nanos(),
      p.update_time().seconds() * 1000000000LL + p.update_time().nanos());
  EXPECT_EQ(out.create_time().seconds(), p.create_time().seconds());
  absl::Status stale = resources_->persons().store().Update(
      "persons/a", p.etag(),
      [](google::protobuf::Message*) { return absl::OkStatus(); }, &out);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  // A failing mutation writes nothing.
  v1::Person before;
  ASSERT_TRUE(
      resources_->persons().store().Get("persons/a", false, &before).ok());
  absl::Status aborted = resources_->persons().store().Update(
      "persons/a", "",
      [](google::protobuf::Message* m) {
        static_cast<v1::Person*>(m)->set_state("states/ru");
        return absl::InvalidArgumentError("no");
      },
      &out);
  EXPECT_FALSE(aborted.ok());
  v1::Person after;
  ASSERT_TRUE(
      resources_->persons().store().Get("persons/a", false, &after).ok());
  EXPECT_EQ(after.state(), "states/kz");
  EXPECT_EQ(after.etag(), before.etag());
}

TEST_P(StoreTest, SoftDeleteHidesButKeepsTheRow) {
  v1::Person p = NewPerson("a", "A");
  ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
  v1::Person out;
  ASSERT_TRUE(resources_->persons().store().Delete("persons/a", "", &out).ok());
  EXPECT_TRUE(out.has_delete_time());
  EXPECT_EQ(resources_->persons().store().Get("persons/a", false, &out).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(resources_->persons().store().Get("persons/a", true, &out).ok());
  EXPECT_EQ(resources_->persons().store().Delete("persons/a", "", &out).code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StoreTest, InsertMissingIsIdempotentAndLeavesEditsAlone) {
  v1::Person a = NewPerson("a", "A"), b = NewPerson("b", "B");
  auto n = resources_->persons().store().InsertMissing({&a, &b});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
  v1::Person out;
  ASSERT_TRUE(
      resources_->persons()
          .store()
          .Update(
              "persons/a", "",
              [](google::protobuf::Message* m) {
                static_cast<v1::Person*>(m)->mutable_display_name(0)->set_text(
                    "Edited");
                return absl::OkStatus();
              },
              &out)
          .ok());
  n = resources_->persons().store().InsertMissing({&a, &b});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  ASSERT_TRUE(resources_->persons().store().Get("persons/a", false, &out).ok());
  EXPECT_EQ(out.display_name(0).text(), "Edited");
}

TEST_P(StoreTest, ListPagesInDescendingOrderWithoutGapsOrRepeats) {
  for (int i = 0; i < 25; ++i) {
    v1::Person p = NewPerson("p" + std::to_string(100 + i), "P");
    p.set_state(i % 2 ? "states/kz" : "states/ru");
    ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
  }
  common::ListQuery q;
  q.order_by = "state desc, name desc";
  q.page_size = 4;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 20; ++pages) {
    v1::ListPersonsResponse resp;
    auto next = resources_->persons().store().List(
        q, [&]() { return resp.add_persons(); });
    ASSERT_TRUE(next.ok()) << next.status();
    for (const auto& p : resp.persons())
      seen.push_back(p.state() + "|" + p.name());
    if (next->empty()) break;
    q.page_token = *next;
  }
  ASSERT_EQ(seen.size(), 25u);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i - 1], seen[i]);
}

TEST_P(StoreTest, ExistsKnowsEveryCollection) {
  v1::Person p = NewPerson("a", "A");
  ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
  EXPECT_TRUE(Exists("persons/a"));
  EXPECT_FALSE(Exists("persons/b"));
  EXPECT_FALSE(Exists("bodies/a"));
  EXPECT_FALSE(Exists("unknown/a"));
}

TEST_P(StoreTest, OfTwoConcurrentUpdatesFromOneEtagExactlyOneWins) {
  for (int round = 0; round < 10; ++round) {
    const std::string id = absl::StrCat("race-", round);
    v1::Person p = NewPerson(id, "Racer");
    ASSERT_TRUE(resources_->persons().store().Create(&p).ok());
    std::atomic<int> ok{0}, stale{0}, other{0};
    std::vector<std::thread> threads;
    for (const char* state : {"states/kz", "states/ru"}) {
      threads.emplace_back([&, state] {
        v1::Person out;
        absl::Status s = resources_->persons().store().Update(
            p.name(), p.etag(),
            [state](google::protobuf::Message* m) {
              static_cast<v1::Person*>(m)->set_state(state);
              return absl::OkStatus();
            },
            &out);
        if (s.ok()) {
          ++ok;
        } else if (s.code() == absl::StatusCode::kAborted) {
          ++stale;
        } else {
          ++other;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 1) << "round " << round;
    EXPECT_EQ(stale, 1) << "round " << round;
    EXPECT_EQ(other, 0) << "round " << round;
  }
}

// Names resolved in statements of at most kMaxNamesPerRead names each;
// unknown, deleted and foreign names are left out, names already known are
// not read again.
TEST_P(StoreTest, ResolveNamesReadsLiveRecordsInBoundedStatements) {
  v1::Person a = NewPerson("a", "A");
  v1::Person b = NewPerson("b", "B");
  ASSERT_TRUE(resources_->persons().store().Create(&a).ok());
  ASSERT_TRUE(resources_->persons().store().Create(&b).ok());
  v1::Person deleted;
  ASSERT_TRUE(
      resources_->persons().store().Delete("persons/b", "", &deleted).ok());
  std::set<std::string> names = {"persons/a", "persons/b", "treaties/x",
                                 "bodies/none", "states/kz"};
  for (int i = 0; i < 2 * MembershipResources::kMaxNamesPerRead + 1; ++i)
    names.insert(absl::StrCat("persons/missing-", i));
  Directory dir;
  v1::State known;
  known.set_name("states/kz");
  dir.states.emplace(known.name(), known);  // not read: kz is not stored
  absl::Notification done;
  absl::Status result;
  resources_->ResolveNames(names, absl::InfiniteFuture(), &dir,
                           [&](absl::Status s) {
                             result = std::move(s);
                             done.Notify();
                           });
  done.WaitForNotification();
  ASSERT_TRUE(result.ok()) << result;
  EXPECT_EQ(dir.persons.size(), 1u);
  ASSERT_NE(dir.DisplayNameOf("persons/a"), nullptr);
  EXPECT_EQ(dir.DisplayNameOf("persons/a")->Get(0).text(), "A");
  EXPECT_EQ(dir.DisplayNameOf("persons/b"), nullptr);
  EXPECT_TRUE(dir.bodies.empty());
  EXPECT_EQ(dir.states.size(), 1u);
}

TEST(ReadJoinTest, RunsOnceAfterEveryReadWithTheFirstErrorAdded) {
  ReadJoin join;
  common::StatusCallback first = join.Add();
  common::StatusCallback second = join.Add();
  common::StatusCallback third = join.Add();
  int runs = 0;
  absl::Status result;
  std::thread late([&third] { third(absl::NotFoundError("third")); });
  late.join();
  second(absl::DeadlineExceededError("second"));
  std::move(join).Start([&](absl::Status s) {
    ++runs;
    result = std::move(s);
  });
  EXPECT_EQ(runs, 0);  // the first read has not ended
  first(absl::OkStatus());
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(result.code(), absl::StatusCode::kDeadlineExceeded);

  ReadJoin none;
  bool ran = false;
  std::move(none).Start([&](absl::Status s) { ran = s.ok(); });
  EXPECT_TRUE(ran);
}

TEST(DirectoryTest, ChamberOfAParliamentOrOfADelegationsParent) {
  Directory dir;
  v1::Parliament p;
  p.set_name("parliaments/kz-parliament");
  v1::Chamber* c = p.add_chambers();
  c->set_chamber_id("senate");
  c->add_display_name()->set_text("Senate");
  dir.parliaments.emplace(p.name(), p);
  ASSERT_NE(dir.ChamberNameOf("parliaments/kz-parliament", "senate"), nullptr);
  EXPECT_EQ(dir.ChamberNameOf("parliaments/kz-parliament/delegations/csto-pa",
                              "senate")
                ->Get(0)
                .text(),
            "Senate");
  EXPECT_EQ(dir.ChamberNameOf("parliaments/kz-parliament", "mazhilis"),
            nullptr);
  EXPECT_EQ(dir.ChamberNameOf("parliaments/kz-parliament", ""), nullptr);
  EXPECT_EQ(dir.ChamberNameOf("bodies/csto-pa", "senate"), nullptr);
  EXPECT_EQ(ParliamentOf("bodies/csto-pa"), "");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::membership
