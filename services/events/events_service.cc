#include "services/events/events_service.h"

#include <memory>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "events/seed/events_seed.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"
#include "services/events/embedded_files.h"

namespace cstopa::events {
namespace {

// The feed's change kinds are numbered as the API's change types.
static_assert(static_cast<int>(common::ChangeKind::kCheckpoint) ==
              v1::CHANGE_TYPE_CHECKPOINT);
static_assert(static_cast<int>(common::ChangeKind::kCreated) ==
              v1::CHANGE_TYPE_CREATED);
static_assert(static_cast<int>(common::ChangeKind::kUpdated) ==
              v1::CHANGE_TYPE_UPDATED);
static_assert(static_cast<int>(common::ChangeKind::kDeleted) ==
              v1::CHANGE_TYPE_DELETED);

}  // namespace

EventsHandler::EventsHandler(EventsResources* resources) : r_(resources) {}

void EventsHandler::GetEvent(GetEventCall call) {
  r_->events().Get(std::move(call));
}

void EventsHandler::BatchGetEvents(BatchGetEventsCall call) {
  r_->events().BatchGet(std::move(call));
}

void EventsHandler::ListEvents(ListEventsCall call) {
  r_->events().List(std::move(call));
}

void EventsHandler::CreateEvent(CreateEventCall call) {
  r_->events().Create(std::move(call));
}

void EventsHandler::UpdateEvent(UpdateEventCall call) {
  r_->events().Update(std::move(call));
}

void EventsHandler::DeleteEvent(DeleteEventCall call) {
  r_->events().Delete(std::move(call));
}

void EventsHandler::UndeleteEvent(UndeleteEventCall call) {
  r_->events().Undelete(std::move(call));
}

void EventsHandler::WatchEvents(WatchEventsCall call) {
  const v1::WatchEventsRequest& req = call.request();
  auto filter =
      common::MakeChangeFilter(req.collections(), req.name(), {"events"});
  common::ServeWatch(&r_->feed(), r_->set().db(), std::move(call),
                     FillWatchEventsResponse, std::move(filter));
}

void EventsHandler::ExportEvents(ExportEventsCall call) {
  common::ServeExport(&r_->set(), &r_->feed(), &exports_, std::move(call));
}

void EventsHandler::ImportEvents(ImportEventsCall call) {
  common::ServeImport(&r_->set(), std::move(call));
}

void EventsHandler::Search(SearchCall call) {
  r_->set().search_index().Serve(std::move(call));
}

absl::Status EventsHandler::LoadSeed(const std::string& text) {
  seed::EventsSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid EventsSeed in text format");
  for (auto& e : *seed.mutable_events()) common::ClearOutputOnly(&e);
  absl::Status s = r_->events().Seed(seed.events(), "events");
  r_->feed().Notify();  // the inserts were logged: watchers see them now
  return s;
}

void EventsHandler::BeginDrain() {
  common::DrainWatches(&r_->feed());
  exports_.StopAll();
}

void FillWatchEventsResponse(const common::Change& change,
                             const std::string& token,
                             v1::WatchEventsResponse* out) {
  common::FillWatchResponse(change, token, out);
}

common::ServiceDefinition EventsService() {
  common::ServiceDefinition def;
  def.name = "events";
  def.grpc_service_name = "cstopa.events.v1.EventsService";
  def.default_port = 50053;
  def.default_admin_port = 9053;
  def.schema = EventsSchema();
  def.builtin_seed = kEventsSeed;
  auto create =
      common::HandlerInstance<EventsResources, EventsHandler>::Factory(
          &v1::NewEventsServiceGrpc);
  def.create = [create](const common::ServiceContext& ctx)
      -> absl::StatusOr<std::unique_ptr<common::ServiceInstance>> {
    // Events carry IANA time zones (validated, and used to turn days into
    // instants): without the zone database nothing would validate.
    absl::TimeZone probe;
    if (!absl::LoadTimeZone("Europe/Moscow", &probe))
      return absl::FailedPreconditionError(
          "the IANA time zone database is missing: install tzdata "
          "(/usr/share/zoneinfo) or point TZDIR at a copy");
    return create(ctx);
  };
  return def;
}

}  // namespace cstopa::events
