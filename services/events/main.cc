// events_server: wiring only. See services/common/server/server.h for flags
// and behaviour, events_service.h for the API.
#include "services/events/events_service.h"

int main(int argc, char** argv) {
  return cstopa::common::RunService(argc, argv,
                                    cstopa::events::EventsService());
}
