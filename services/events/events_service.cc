#include "services/events/events_service.h"

#include <memory>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "events/seed/events_seed.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/query/validation.h"
#include "services/common/store/watch.h"
#include "services/events/embedded_files.h"

namespace cstopa::events {
namespace {

// The feed's change kinds are numbered as the API's change types.
static_assert(static_cast<int>(common::ChangeKind::kCheckpoint) ==
              v1::CHANGE_TYPE_UNSPECIFIED);
static_assert(static_cast<int>(common::ChangeKind::kCreated) ==
              v1::CHANGE_TYPE_CREATED);
static_assert(static_cast<int>(common::ChangeKind::kUpdated) ==
              v1::CHANGE_TYPE_UPDATED);
static_assert(static_cast<int>(common::ChangeKind::kDeleted) ==
              v1::CHANGE_TYPE_DELETED);

// A call handed on with an edited copy of its request (a standard method
// reads the request, and the client's is const): finishing the new call
// answers the client's. Deletes itself then.
template <typename Request, typename Response>
class EditedCall final : public common::UnaryCallState {
 public:
  static common::UnaryCall<Request, Response> Of(
      common::UnaryCall<Request, Response> call,
      absl::FunctionRef<void(Request*)> edit) {
    auto* self = new EditedCall(std::move(call));
    edit(&self->request_);
    return common::UnaryCall<Request, Response>(&self->request_,
                                                self->call_.response(), self);
  }

  const common::Caller& caller() const override { return call_.caller(); }
  void Finish(absl::Status status) override {
    call_.Finish(std::move(status));
    delete this;
  }
  void FinishSerialized(std::string bytes) override {
    call_.FinishSerialized(std::move(bytes));
    delete this;
  }

 private:
  explicit EditedCall(common::UnaryCall<Request, Response> call)
      : call_(std::move(call)), request_(call_.request()) {}

  common::UnaryCall<Request, Response> call_;
  Request request_;
};

}  // namespace

EventsHandler::EventsHandler(EventsResources* resources) : r_(resources) {}

void EventsHandler::GetEvent(GetEventCall call) {
  r_->events().Get(std::move(call));
}

void EventsHandler::BatchGetEvents(BatchGetEventsCall call) {
  r_->events().BatchGet(std::move(call));
}

void EventsHandler::ListEvents(ListEventsCall call) {
  if (!call.request().order_by().empty())
    return r_->events().List(std::move(call));
  // Newest first unless the client orders otherwise.
  r_->events().List(
      EditedCall<v1::ListEventsRequest, v1::ListEventsResponse>::Of(
          std::move(call), [](v1::ListEventsRequest* r) {
            r->set_order_by("start_time desc");
          }));
}

void EventsHandler::CreateEvent(CreateEventCall call) {
  const v1::CreateEventRequest& req = call.request();
  if (req.event().parent_event() != "events/" + req.event_id())
    return r_->events().Create(std::move(call));
  // Validation sees the body as sent, without its name: named, an event
  // that is its own parent is refused as such, not as an unknown reference.
  r_->events().Create(EditedCall<v1::CreateEventRequest, v1::Event>::Of(
      std::move(call), [](v1::CreateEventRequest* r) {
        r->mutable_event()->set_name("events/" + r->event_id());
      }));
}

void EventsHandler::UpdateEvent(UpdateEventCall call) {
  r_->events().Update(std::move(call));
}

void EventsHandler::DeleteEvent(DeleteEventCall call) {
  r_->events().Delete(std::move(call));
}

void EventsHandler::WatchEvents(WatchEventsCall call) {
  common::ServeWatch(&r_->feed(), r_->set().db(), std::move(call),
                     FillWatchEventsResponse);
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

void EventsHandler::BeginDrain() { common::DrainWatches(&r_->feed()); }

void FillWatchEventsResponse(const common::Change& change,
                             const std::string& token,
                             v1::WatchEventsResponse* out) {
  out->set_change_type(static_cast<v1::ChangeType>(change.kind));
  if (change.kind != common::ChangeKind::kCheckpoint) {
    (void)out->mutable_event()->ParseFromString(change.data);
    *out->mutable_commit_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
            change.commit_time);
  }
  out->set_resume_token(token);
  out->set_sequence(change.seq);
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
