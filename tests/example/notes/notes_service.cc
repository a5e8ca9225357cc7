#include "tests/example/notes/notes_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/query/validation.h"
#include "services/common/store/columns.h"
#include "tests/example/notes/embedded_files.h"

namespace cstopa::notes {

const common::SchemaSpec& NotesSchema() {
  static const common::SchemaSpec* schema =
      new common::SchemaSpec{"notes", EmbeddedMigrations()};
  return *schema;
}

common::ResourceDecl<v1::Note> NoteDecl() {
  common::ResourceDecl<v1::Note> d;
  d.pattern = "notes/{note}";
  d.columns = {
      common::StringColumn<v1::Note>(
          "title", [](const v1::Note& n) { return n.title(); },
          /*orderable=*/true),
      {"tags", common::FilterFieldType::kTextList, nullptr,
       [](const google::protobuf::Message& m) -> common::SqlValue {
         std::string joined = "\n";
         for (const std::string& t : static_cast<const v1::Note&>(m).tags())
           absl::StrAppend(&joined, t, "\n");
         return joined;
       }},
  };
  d.validate = [](const v1::Note& n, const std::string& prefix,
                  common::Violations& v, common::Refs& refs) {
    if (n.title().empty()) v.Add(prefix + "title", "is required");
    if (n.title().size() > 200) v.Add(prefix + "title", "is over 200 bytes");
    if (n.text().size() > 10000) v.Add(prefix + "text", "is over 10000 bytes");
    common::CheckCount(v, prefix + "tags", n.tags_size());
    for (int i = 0; i < n.tags_size(); ++i) {
      if (!common::ValidId(n.tags(i)))
        v.Add(absl::StrCat(prefix, "tags[", i, "]"),
              absl::StrCat("`", n.tags(i), "` ", common::kIdRule));
    }
    common::CheckName(v, prefix + "see_also", n.see_also(), {"notes"}, false);
    refs.push_back({prefix + "see_also", n.see_also()});
  };
  return d;
}

NotesResources::NotesResources(common::Database* db,
                               const common::PageTokenCodec* tokens,
                               const common::ApiKeyStore* keys,
                               std::function<int64_t()> today)
    : set_(db, tokens, keys, std::move(today)), notes_(&set_, NoteDecl()) {}

void NotesHandler::GetNote(GetNoteCall call) {
  r_->notes().Get(std::move(call));
}
void NotesHandler::ListNotes(ListNotesCall call) {
  r_->notes().List(std::move(call));
}
void NotesHandler::CreateNote(CreateNoteCall call) {
  r_->notes().Create(std::move(call));
}
void NotesHandler::UpdateNote(UpdateNoteCall call) {
  r_->notes().Update(std::move(call));
}
void NotesHandler::DeleteNote(DeleteNoteCall call) {
  r_->notes().Delete(std::move(call));
}

common::ServiceDefinition NotesService() {
  common::ServiceDefinition def;
  def.name = "notes";
  def.grpc_service_name = "cstopa.notes.v1.NotesService";
  def.default_port = 50099;
  def.default_admin_port = 9099;
  def.schema = NotesSchema();
  def.create = common::HandlerInstance<NotesResources, NotesHandler>::Factory(
      &v1::NewNotesServiceGrpc);
  return def;
}

}  // namespace cstopa::notes
