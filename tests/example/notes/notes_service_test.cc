// The example service's handler, through its blocking face, on SQLite and on
// the throwaway PostgreSQL: what every declared resource gets from the
// platform's standard methods.
#include "tests/example/notes/notes_service.h"

#include <memory>
#include <string>
#include <vector>

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
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
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
