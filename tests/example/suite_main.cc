// example_suite_server: the notes and membership services in one process,
// each on its own store (--notes_store, --membership_store): how the runner
// hosts several services (services/common/server/server.h).
#include "services/membership/membership_service.h"
#include "tests/example/notes/notes_service.h"

int main(int argc, char** argv) {
  return cstopa::common::RunServices(
      argc, argv, "example_suite_server",
      {cstopa::notes::NotesService(),
       cstopa::membership::MembershipService()});
}
