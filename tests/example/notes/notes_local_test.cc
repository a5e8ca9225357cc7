// The in-process face the platform derives for a handler
// (server/local_binding.h), held to the gRPC face's promises without a
// server: serialized requests in, serialized answers out, errors with their
// details, undecodable requests refused naming the field, stored-bytes
// pages passed through, a dropped call still answered, and only unary RPCs
// served.
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "cstopa/notes/v1/notes.cstopa.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "services/common/base/errors.h"
#include "services/common/server/local_binding.h"
#include "services/common/testing/handler_test_kit.h"
#include "tests/example/notes/notes_service.h"

namespace cstopa::notes {
namespace {

using ::testing::HasSubstr;

constexpr char kService[] = "/cstopa.notes.v1.NotesService/";

// What a local call answered.
struct Answer {
  absl::Status status;
  std::string bytes;
};

// A handler whose GetNote forgets to answer.
class ForgetfulHandler : public NotesHandler {
 public:
  using NotesHandler::NotesHandler;
  void GetNote(GetNoteCall call) override {}
};

class NotesLocalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = common::OpenDatabase("sqlite::memory:", NotesSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<NotesResources>(db_.get(), &tokens_, &keys_);
    handler_ = std::make_unique<NotesHandler>(resources_.get());
    local_ = v1::NewNotesServiceLocal(handler_.get());
  }

  // Calls `method` with `request` and waits (bounded) for the answer;
  // nullopt when the face does not serve `method` or nothing answered.
  std::optional<Answer> Call(common::LocalService& face,
                             const std::string& method,
                             const std::string& request,
                             const common::Caller& caller = {}) {
    struct Outcome {
      absl::Mutex mu;
      int calls = 0;
      Answer answer;
      absl::Notification done;
    };
    auto outcome = std::make_shared<Outcome>();
    common::LocalService::Done done = [outcome](absl::Status s, std::string b) {
      {
        absl::MutexLock lock(&outcome->mu);
        if (++outcome->calls > 1) {
          ADD_FAILURE() << "answered twice";
          return;
        }
        outcome->answer = Answer{std::move(s), std::move(b)};
      }
      outcome->done.Notify();
    };
    if (!face.CallUnary(absl::StrCat(kService, method), caller, request,
                        done)) {
      EXPECT_FALSE(outcome->done.HasBeenNotified());
      return std::nullopt;
    }
    if (!outcome->done.WaitForNotificationWithTimeout(absl::Seconds(10))) {
      ADD_FAILURE() << method << " did not answer";
      return std::nullopt;
    }
    absl::MutexLock lock(&outcome->mu);
    return outcome->answer;
  }

  common::Caller Editor() {
    common::Caller c;
    c.authorization = absl::StrCat("Bearer ", common::testing::kEditorKey);
    return c;
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<NotesResources> resources_;
  std::unique_ptr<NotesHandler> handler_;
  std::unique_ptr<common::LocalService> local_;
};

TEST_F(NotesLocalTest, AWriteAndAReadRoundTripAsBytes) {
  v1::CreateNoteRequest create;
  create.set_note_id("first");
  create.mutable_note()->set_title("First note");
  auto created =
      Call(*local_, "CreateNote", create.SerializeAsString(), Editor());
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(created->status.ok()) << created->status;
  v1::Note note;
  ASSERT_TRUE(note.ParseFromString(created->bytes));
  EXPECT_EQ(note.name(), "notes/first");

  v1::GetNoteRequest get;
  get.set_name("notes/first");
  auto got = Call(*local_, "GetNote", get.SerializeAsString());
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->status.ok()) << got->status;
  v1::Note read;
  ASSERT_TRUE(read.ParseFromString(got->bytes));
  EXPECT_EQ(read.title(), "First note");
}

TEST_F(NotesLocalTest, TheCallerIsTheHandlers) {
  v1::CreateNoteRequest create;
  create.set_note_id("anonymous");
  create.mutable_note()->set_title("x");
  auto refused = Call(*local_, "CreateNote", create.SerializeAsString());
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(refused->bytes.empty());
}

TEST_F(NotesLocalTest, ErrorsKeepTheirDetails) {
  v1::GetNoteRequest get;
  get.set_name("notes/missing");
  auto missing = Call(*local_, "GetNote", get.SerializeAsString());
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status.code(), absl::StatusCode::kNotFound);
  std::optional<google::rpc::ErrorInfo> info =
      common::GetErrorInfo(missing->status);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "RESOURCE_NOT_FOUND");
}

TEST_F(NotesLocalTest, UndecodableBytesAreInvalidArgumentNamingTheField) {
  // CreateNoteRequest.note (field 2) holding a title (field 2) that is not
  // UTF-8.
  std::string note = std::string("\x12\x04") + "\xff\xfe\xfd\xfc";
  std::string request =
      std::string("\x0a\x01x") + "\x12" + static_cast<char>(note.size()) + note;
  auto answer = Call(*local_, "CreateNote", request, Editor());
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(answer->status.message(), HasSubstr("note.title"));
}

TEST_F(NotesLocalTest, StoredPagesPassThroughAndDecode) {
  for (const char* id : {"a-note", "b-note", "c-note"}) {
    v1::CreateNoteRequest create;
    create.set_note_id(id);
    create.mutable_note()->set_title(id);
    ASSERT_TRUE(
        Call(*local_, "CreateNote", create.SerializeAsString(), Editor())
            ->status.ok());
  }
  v1::ListNotesRequest list;
  list.set_page_size(2);
  auto page = Call(*local_, "ListNotes", list.SerializeAsString());
  ASSERT_TRUE(page.has_value());
  ASSERT_TRUE(page->status.ok()) << page->status;
  v1::ListNotesResponse response;
  ASSERT_TRUE(response.ParseFromString(page->bytes));
  ASSERT_EQ(response.notes_size(), 2);
  EXPECT_EQ(response.notes(0).name(), "notes/a-note");
  EXPECT_FALSE(response.next_page_token().empty());
}

TEST_F(NotesLocalTest, ADroppedCallStillAnswers) {
  ForgetfulHandler forgetful(resources_.get());
  std::unique_ptr<common::LocalService> face =
      v1::NewNotesServiceLocal(&forgetful);
  v1::GetNoteRequest get;
  get.set_name("notes/any");
  auto answer = Call(*face, "GetNote", get.SerializeAsString());
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status.code(), absl::StatusCode::kInternal);
}

TEST_F(NotesLocalTest, OnlyItsOwnUnaryMethodsAreServed) {
  EXPECT_FALSE(Call(*local_, "NoSuchMethod", "").has_value());
  common::LocalService::Done done = [](absl::Status, std::string) {
    ADD_FAILURE() << "done ran for another service's method";
  };
  EXPECT_FALSE(local_->CallUnary(
      "/cstopa.membership.v1.MembershipService/GetState", {}, "", done));
}

}  // namespace
}  // namespace cstopa::notes
