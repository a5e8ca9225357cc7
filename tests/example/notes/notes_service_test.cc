// The example service's handler, through its blocking face, on SQLite and on
// the throwaway PostgreSQL: what every declared resource gets from the
// platform's standard methods.
#include "tests/example/notes/notes_service.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/testing/handler_test_kit.h"
#include "services/common/testing/test_postgres.h"

namespace cstopa::notes {
namespace {

using common::testing::AdminCaller;
using common::testing::EditorCaller;
using common::testing::FieldsOf;
using common::testing::ReasonOf;
using ::testing::ElementsAre;

class NotesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (common::BackendMissing(GetParam()))
      GTEST_SKIP() << "no PostgreSQL test server in this build";
    auto db = common::OpenTestDatabase(GetParam(), NotesSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<NotesResources>(db_.get(), &tokens_, &keys_);
    handler_ = std::make_unique<NotesHandler>(resources_.get());
    notes_ = std::make_unique<v1::NotesServiceBlocking>(handler_.get());
  }

  absl::Status Create(const std::string& id, const std::string& title,
                      v1::Note* out, const std::string& see_also = "") {
    v1::CreateNoteRequest req;
    req.set_note_id(id);
    req.mutable_note()->set_title(title);
    req.mutable_note()->set_see_also(see_also);
    return notes_->CreateNote(EditorCaller(), req, out);
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<NotesResources> resources_;
  std::unique_ptr<NotesHandler> handler_;
  std::unique_ptr<v1::NotesServiceBlocking> notes_;
};

TEST_P(NotesTest, CreateThenGetReturnsTheStoredNoteWithTimesAndEtag) {
  v1::Note created;
  ASSERT_TRUE(Create("first", "First", &created).ok());
  EXPECT_EQ(created.name(), "notes/first");
  EXPECT_TRUE(created.has_create_time());
  EXPECT_FALSE(created.etag().empty());
  v1::GetNoteRequest get;
  get.set_name("notes/first");
  v1::Note got;
  ASSERT_TRUE(notes_->GetNote({}, get, &got).ok());
  EXPECT_EQ(got.title(), "First");
  EXPECT_EQ(got.etag(), created.etag());
}

TEST_P(NotesTest, BadInputIsInvalidArgumentNamingEveryField) {
  v1::CreateNoteRequest req;
  req.set_note_id("Not An Id");
  req.mutable_note()->add_tags("ok");
  req.mutable_note()->add_tags("NOT OK");
  v1::Note out;
  absl::Status s = notes_->CreateNote(EditorCaller(), req, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FieldsOf(s),
              ElementsAre("note_id", "note.title", "note.tags[1]"));
  v1::GetNoteRequest get;
  get.set_name("note/x");
  s = notes_->GetNote({}, get, &out);
  EXPECT_EQ(ReasonOf(s), "INVALID_NAME");
  EXPECT_THAT(FieldsOf(s), ElementsAre("name"));
}

TEST_P(NotesTest, WritesNeedTheirRole) {
  v1::CreateNoteRequest req;
  req.set_note_id("x");
  req.mutable_note()->set_title("X");
  v1::Note out;
  EXPECT_EQ(notes_->CreateNote({}, req, &out).code(),
            absl::StatusCode::kUnauthenticated);
  ASSERT_TRUE(notes_->CreateNote(EditorCaller(), req, &out).ok());
  v1::DeleteNoteRequest del;
  del.set_name("notes/x");
  EXPECT_EQ(notes_->DeleteNote(EditorCaller(), del, &out).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(notes_->DeleteNote(AdminCaller(), del, &out).ok());
}

TEST_P(NotesTest, ReferencesMustExistWhenMadeNotBefore) {
  v1::Note out;
  absl::Status s = Create("b", "B", &out, "notes/a");
  EXPECT_EQ(ReasonOf(s), "UNKNOWN_REFERENCE");
  EXPECT_THAT(FieldsOf(s), ElementsAre("note.see_also"));
  ASSERT_TRUE(Create("a", "A", &out).ok());
  ASSERT_TRUE(Create("b", "B", &out, "notes/a").ok());
  // A reference the note already had may point at a deleted note since.
  v1::DeleteNoteRequest del;
  del.set_name("notes/a");
  ASSERT_TRUE(notes_->DeleteNote(AdminCaller(), del, &out).ok());
  v1::UpdateNoteRequest update;
  update.mutable_note()->set_name("notes/b");
  update.mutable_note()->set_title("B2");
  update.mutable_update_mask()->add_paths("title");
  EXPECT_TRUE(notes_->UpdateNote(EditorCaller(), update, &out).ok());
}

TEST_P(NotesTest, UpdateWithAStaleEtagIsRefused) {
  v1::Note created;
  ASSERT_TRUE(Create("n", "N", &created).ok());
  v1::UpdateNoteRequest update;
  update.mutable_note()->set_name("notes/n");
  update.mutable_note()->set_title("N2");
  update.mutable_note()->set_etag(created.etag());
  v1::Note updated;
  ASSERT_TRUE(notes_->UpdateNote(EditorCaller(), update, &updated).ok());
  EXPECT_NE(updated.etag(), created.etag());
  absl::Status s = notes_->UpdateNote(EditorCaller(), update, &updated);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ReasonOf(s), "ETAG_MISMATCH");
}

TEST_P(NotesTest, ListPagesFilterAndSkipDeleted) {
  v1::Note out;
  for (int i = 0; i < 7; ++i) {
    v1::CreateNoteRequest req;
    req.set_note_id(absl::StrCat("n", i));
    req.mutable_note()->set_title(absl::StrCat("Note ", i));
    if (i % 2 == 0) req.mutable_note()->add_tags("even");
    ASSERT_TRUE(notes_->CreateNote(EditorCaller(), req, &out).ok());
  }
  v1::DeleteNoteRequest del;
  del.set_name("notes/n0");
  ASSERT_TRUE(notes_->DeleteNote(AdminCaller(), del, &out).ok());

  v1::ListNotesRequest list;
  list.set_filter("tags:\"even\"");
  list.set_page_size(2);
  std::vector<std::string> names;
  do {
    v1::ListNotesResponse page;
    ASSERT_TRUE(notes_->ListNotes({}, list, &page).ok());
    for (const v1::Note& n : page.notes()) names.push_back(n.name());
    list.set_page_token(page.next_page_token());
  } while (!list.page_token().empty());
  EXPECT_THAT(names, ElementsAre("notes/n2", "notes/n4", "notes/n6"));

  list.Clear();
  list.set_filter("title = \"");
  v1::ListNotesResponse bad;
  EXPECT_EQ(ReasonOf(notes_->ListNotes({}, list, &bad)), "INVALID_FILTER");
}

// Many clients asking for the same page at once: on PostgreSQL the reads
// that wait together share one statement and one built page; each must
// still get the whole page and a next page token of its own that works.
TEST_P(NotesTest, IdenticalListsAskedTogetherEachGetTheWholePage) {
  // The store's sharing is what is tested: no answer from the read cache.
  db_->read_cache().set_options({.max_bytes = 0});
  v1::Note out;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        Create(absl::StrCat("n", i), absl::StrCat("Note ", i), &out).ok());
  }
  v1::ListNotesRequest list;
  list.set_page_size(3);
  v1::ListNotesResponse expected;
  ASSERT_TRUE(notes_->ListNotes({}, list, &expected).ok());
  ASSERT_EQ(expected.notes_size(), 3);
  ASSERT_FALSE(expected.next_page_token().empty());

  // Whether the reads overlap depends on the scheduler (on a loaded
  // machine the threads may run one after another), so on PostgreSQL
  // bursts are asked until one was shared; every answer must be right.
  constexpr int kClients = 40;
  const int bursts = GetParam() == "postgresql" ? 50 : 1;
  double per_statement = 0;
  for (int burst = 0; burst < bursts && per_statement <= 1.0; ++burst) {
    std::vector<v1::ListNotesResponse> pages(kClients);
    std::vector<absl::Status> results(kClients);
    absl::Notification go;
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&, i] {
        go.WaitForNotification();
        results[i] = notes_->ListNotes({}, list, &pages[i]);
      });
    }
    go.Notify();
    for (auto& t : clients) t.join();
    for (int i = 0; i < kClients; ++i) {
      ASSERT_TRUE(results[i].ok()) << results[i];
      ASSERT_EQ(pages[i].notes_size(), 3) << "client " << i;
      for (int k = 0; k < 3; ++k)
        EXPECT_EQ(pages[i].notes(k).name(), expected.notes(k).name());
      v1::ListNotesRequest next = list;
      next.set_page_token(pages[i].next_page_token());
      v1::ListNotesResponse rest;
      ASSERT_TRUE(notes_->ListNotes({}, next, &rest).ok()) << "client " << i;
      ASSERT_EQ(rest.notes_size(), 2);
      EXPECT_EQ(rest.notes(0).name(), "notes/n3");
      EXPECT_TRUE(rest.next_page_token().empty());
    }
    for (const auto& g : db_->Gauges()) {
      if (g.name == "cstopa_store_reads_per_statement") per_statement = g.value;
    }
  }
  // The reads did wait together: some statement answered several.
  if (GetParam() == "postgresql") {
    EXPECT_GT(per_statement, 1.0);
  }
}

TEST_P(NotesTest, ACallPastItsDeadlineFailsWithDeadlineExceeded) {
  common::Caller late = EditorCaller();
  late.deadline = absl::Now() - absl::Seconds(1);
  v1::Note out;
  v1::CreateNoteRequest req;
  req.set_note_id("late");
  req.mutable_note()->set_title("Late");
  EXPECT_EQ(notes_->CreateNote(late, req, &out).code(),
            absl::StatusCode::kDeadlineExceeded);
  v1::ListNotesRequest list;
  v1::ListNotesResponse resp;
  EXPECT_EQ(notes_->ListNotes(late, list, &resp).code(),
            absl::StatusCode::kDeadlineExceeded);
}

INSTANTIATE_TEST_SUITE_P(Backends, NotesTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cstopa::notes
