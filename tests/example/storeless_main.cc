// example_storeless_server: a service that owns no store, as the gateway
// will: the runner gives it no --store or --seed flag and no database. (It
// keeps its notes in a private in-memory database of its own, only so that
// there is something to serve.)
#include <memory>

#include "tests/example/notes/notes_service.h"

namespace {

class StorelessNotes : public cstopa::common::ServiceInstance {
 public:
  static absl::StatusOr<std::unique_ptr<ServiceInstance>> Create(
      const cstopa::common::ServiceContext& ctx) {
    if (ctx.db != nullptr)
      return absl::InternalError("a service without a store got one");
    auto db = cstopa::common::OpenDatabase("sqlite::memory:",
                                           cstopa::notes::NotesSchema());
    if (!db.ok()) return db.status();
    return std::unique_ptr<ServiceInstance>(
        new StorelessNotes(std::move(*db), ctx));
  }
  grpc::Service* grpc_service() override { return service_.get(); }
  absl::Status LoadSeed(const std::string&) override {
    return absl::InternalError("a service without a store has no seed");
  }

 private:
  StorelessNotes(std::unique_ptr<cstopa::common::Database> db,
                 const cstopa::common::ServiceContext& ctx)
      : db_(std::move(db)),
        resources_(db_.get(), ctx.page_tokens, ctx.api_keys),
        handler_(&resources_),
        service_(cstopa::notes::v1::NewNotesServiceGrpc(&handler_)) {}

  std::unique_ptr<cstopa::common::Database> db_;
  cstopa::notes::NotesResources resources_;
  cstopa::notes::NotesHandler handler_;
  std::unique_ptr<grpc::Service> service_;
};

}  // namespace

int main(int argc, char** argv) {
  cstopa::common::ServiceDefinition def = cstopa::notes::NotesService();
  def.schema = {};  // no store
  def.create = StorelessNotes::Create;
  return cstopa::common::RunServices(argc, argv, "example_storeless_server",
                                     {def});
}
