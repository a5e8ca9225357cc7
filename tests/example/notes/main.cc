// notes_server: the example service, for trying the runner by hand.
#include "tests/example/notes/notes_service.h"

int main(int argc, char** argv) {
  return cstopa::common::RunService(argc, argv, cstopa::notes::NotesService());
}
