// The example service: one resource, notes (tests/example/proto/cstopa/
// notes/v1/notes.proto), declared once and served by the platform's
// standard methods. docs/new-service.md builds it step by step.
//
//   NotesResources resources(db, &page_tokens, &api_keys);
//   NotesHandler handler(&resources);
//   v1::NotesServiceBlocking notes(&handler);  // or v1::NewNotesServiceGrpc
#ifndef CSTOPA_TESTS_EXAMPLE_NOTES_NOTES_SERVICE_H_
#define CSTOPA_TESTS_EXAMPLE_NOTES_NOTES_SERVICE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "cstopa/notes/v1/notes.cstopa.h"
#include "services/common/resources/resource.h"
#include "services/common/server/server.h"

namespace cstopa::notes {

// The schema (migrations/) of the notes store.
const common::SchemaSpec& NotesSchema();

// The declaration of the Note resource.
common::ResourceDecl<v1::Note> NoteDecl();

// The service's resources over its store.
class NotesResources {
 public:
  NotesResources(common::Database* db, const common::PageTokenCodec* tokens,
                 const common::ApiKeyStore* keys,
                 std::function<int64_t()> today = nullptr);

  common::Resource<v1::Note>& notes() { return notes_; }

 private:
  common::ResourceSet set_;
  common::Resource<v1::Note> notes_;
};

// The handler: one method per RPC of cstopa.notes.v1.NotesService.
class NotesHandler : public v1::NotesServiceHandler {
 public:
  explicit NotesHandler(NotesResources* resources) : r_(resources) {}

  void GetNote(GetNoteCall call) override;
  void ListNotes(ListNotesCall call) override;
  void CreateNote(CreateNoteCall call) override;
  void UpdateNote(UpdateNoteCall call) override;
  void DeleteNote(DeleteNoteCall call) override;

  // The service has no seed data.
  absl::Status LoadSeed(const std::string&) { return absl::OkStatus(); }

 private:
  NotesResources* r_;
};

// The service as the runner starts it.
common::ServiceDefinition NotesService();

}  // namespace cstopa::notes

#endif  // CSTOPA_TESTS_EXAMPLE_NOTES_NOTES_SERVICE_H_
