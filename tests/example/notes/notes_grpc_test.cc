// The gRPC face the platform derives for a handler (server/grpc_binding.h),
// held to its promises through a real server on port 0: every request is
// decoded on one path, so a request that is not valid protobuf or UTF-8 is
// INVALID_ARGUMENT naming the field, on every method; answers carry their
// error details; lists sent as stored bytes decode; a handler that drops a
// call still answers.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cstopa/notes/v1/notes.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/common/testing/handler_test_kit.h"
#include "tests/example/notes/notes_service.h"

namespace cstopa::notes {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Appends a length-delimited field to a hand-made message.
void AddBytes(int field, const std::string& bytes, std::string* out) {
  out->push_back(static_cast<char>((field << 3) | 2));
  out->push_back(static_cast<char>(bytes.size()));  // < 128 here
  out->append(bytes);
}

// The google.rpc.Status a gRPC error carries in its details.
google::rpc::Status DetailsOf(const grpc::Status& s) {
  google::rpc::Status status;
  EXPECT_TRUE(status.ParseFromString(s.error_details()));
  return status;
}

std::vector<std::string> ViolatedFields(const grpc::Status& s) {
  std::vector<std::string> out;
  const google::rpc::Status details = DetailsOf(s);
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) out.push_back(v.field());
    }
  }
  return out;
}

// A handler whose GetNote forgets to answer.
class ForgetfulHandler : public NotesHandler {
 public:
  using NotesHandler::NotesHandler;
  void GetNote(GetNoteCall call) override {}
};

class NotesGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = common::OpenDatabase("sqlite::memory:", NotesSchema());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    resources_ = std::make_unique<NotesResources>(db_.get(), &tokens_, &keys_);
    handler_ = std::make_unique<ForgetfulHandler>(resources_.get());
    service_ = v1::NewNotesServiceGrpc(handler_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::NotesService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  // Calls `method` with `bytes` as the request, as a client with its own
  // encoder would.
  grpc::Status CallRaw(const std::string& method, const std::string& bytes) {
    grpc::GenericStub generic(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::Status result;
    absl::Notification done;
    generic.UnaryCall(&ctx, absl::StrCat("/cstopa.notes.v1.NotesService/", method),
                      grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) {
                        result = std::move(s);
                        done.Notify();
                      });
    done.WaitForNotification();
    return result;
  }

  grpc::Status Create(const std::string& id, v1::Note* out) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization",
                    absl::StrCat("Bearer ", common::testing::kEditorKey));
    v1::CreateNoteRequest req;
    req.set_note_id(id);
    req.mutable_note()->set_title(id);
    return stub_->CreateNote(&ctx, req, out);
  }

  std::unique_ptr<common::Database> db_;
  common::ApiKeyStore keys_ = common::testing::TestApiKeys();
  common::PageTokenCodec tokens_{"test-secret"};
  std::unique_ptr<NotesResources> resources_;
  std::unique_ptr<NotesHandler> handler_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NotesService::Stub> stub_;
};

TEST_F(NotesGrpcTest, AStringThatIsNotUtf8IsInvalidArgumentNamingTheField) {
  std::string note;
  AddBytes(2, "bad \xff\xfe title", &note);  // Note.title
  std::string request;
  AddBytes(1, "x", &request);  // note_id
  AddBytes(2, note, &request);  // note
  grpc::Status s = CallRaw("CreateNote", request);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("note.title"));
  EXPECT_THAT(ViolatedFields(s), ElementsAre("note.title"));
}

TEST_F(NotesGrpcTest, EveryKindOfMethodDecodesTheSameWay) {
  std::string filter;
  AddBytes(3, "title = \"\xc3\x28\"", &filter);  // ListNotesRequest.filter
  grpc::Status list = CallRaw("ListNotes", filter);
  EXPECT_EQ(list.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(list), ElementsAre("filter"));

  // Not even the wire format: a truncated field.
  grpc::Status garbage = CallRaw("GetNote", std::string("\x0a\x10short", 7));
  EXPECT_EQ(garbage.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(garbage.error_message(),
              HasSubstr("not a valid cstopa.notes.v1.GetNoteRequest"));
}

TEST_F(NotesGrpcTest, ErrorsCarryTheirDetails) {
  grpc::ClientContext ctx;
  v1::DeleteNoteRequest req;
  req.set_name("notes/x");
  v1::Note out;
  grpc::Status s = stub_->DeleteNote(&ctx, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  bool has_info = false;
  const google::rpc::Status details = DetailsOf(s);
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) {
      has_info = true;
      EXPECT_EQ(info.domain(), "notes.cstopa.org");  // the service's own
      EXPECT_FALSE(info.reason().empty());
    }
  }
  EXPECT_TRUE(has_info);
}

TEST_F(NotesGrpcTest, ListsSentAsStoredBytesDecodeWithTheirToken) {
  v1::Note out;
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(Create(id, &out).ok());
  v1::ListNotesRequest req;
  req.set_page_size(2);
  grpc::ClientContext ctx;
  v1::ListNotesResponse page;
  ASSERT_TRUE(stub_->ListNotes(&ctx, req, &page).ok());
  ASSERT_EQ(page.notes_size(), 2);
  EXPECT_EQ(page.notes(0).name(), "notes/a");
  EXPECT_EQ(page.notes(1).title(), "b");
  ASSERT_FALSE(page.next_page_token().empty());
  // The token decodes and continues where the page stopped.
  req.set_page_token(page.next_page_token());
  grpc::ClientContext next_ctx;
  v1::ListNotesResponse next;
  grpc::Status s = stub_->ListNotes(&next_ctx, req, &next);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(next.notes_size(), 1);
  EXPECT_EQ(next.notes(0).name(), "notes/c");
  EXPECT_TRUE(next.next_page_token().empty());
}

TEST_F(NotesGrpcTest, AHandlerThatDropsItsCallStillAnswers) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::GetNoteRequest req;
  req.set_name("notes/a");
  v1::Note out;
  grpc::Status s = stub_->GetNote(&ctx, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(s.error_message(), HasSubstr("without an answer"));
}

}  // namespace
}  // namespace cstopa::notes
