#include "services/events/events_service.h"

#include <atomic>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "events/seed/events_seed.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/base/dates.h"
#include "services/common/base/errors.h"
#include "services/common/server/grpc_glue.h"
#include "services/common/query/validation.h"

namespace cstopa::events {
namespace {

using common::Caller;
using common::Refs;
using common::Violations;
using google::protobuf::util::TimeUtil;

// 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, as google.protobuf.Timestamp.
bool ValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= -62135596800LL && t.seconds() <= 253402300799LL &&
         t.nanos() >= 0 && t.nanos() <= 999999999;
}

int64_t LocalDay(const google::protobuf::Timestamp& t, absl::TimeZone tz) {
  absl::CivilDay d = absl::ToCivilDay(
      absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t)), tz);
  return d.year() * 10000 + d.month() * 100 + d.day();
}

void CheckTimeOnDate(Violations& v, const std::string& field,
                     const google::protobuf::Timestamp& t,
                     const google::type::Date& d, absl::TimeZone tz,
                     const std::string& date_field) {
  int64_t day = LocalDay(t, tz);
  if (day < common::EarliestDay(d, true) || day > common::LatestDay(d, true))
    v.Add(field, absl::StrCat("falls on ", day / 10000, "-", day / 100 % 100,
                              "-", day % 100,
                              " in the event's time zone, "
                              "outside ",
                              date_field));
}

constexpr char kShutdownMessage[] =
    "the server is shutting down; reconnect (to another replica) with the "
    "last resume_token received";

}  // namespace

void ValidateEvent(const v1::Event& e, const std::string& p, Violations& v,
                   Refs& refs) {
  common::CheckEnum(v, p + "kind", v1::EventKind_descriptor(), e.kind(), true);
  common::CheckTexts(v, p + "title", e.title(), true);
  common::CheckTexts(v, p + "summary", e.summary(), false);

  // Time: zone, exact bounds, days, and that they agree.
  absl::TimeZone tz = absl::UTCTimeZone();
  bool tz_ok = true;
  if (!e.time_zone().empty()) {
    if (e.time_zone().size() > 64 || !absl::LoadTimeZone(e.time_zone(), &tz)) {
      v.Add(p + "time_zone",
            absl::StrCat("`", e.time_zone(),
                         "` is not an IANA time zone such as Europe/Moscow"));
      tz_ok = false;
    }
  }
  bool start_ok = !e.has_start_time() || ValidTimestamp(e.start_time());
  bool end_ok = !e.has_end_time() || ValidTimestamp(e.end_time());
  if (!start_ok)
    v.Add(p + "start_time", "must lie between years 0001 and 9999");
  if (!end_ok) v.Add(p + "end_time", "must lie between years 0001 and 9999");
  if (start_ok && end_ok && e.has_start_time() && e.has_end_time() &&
      TimeUtil::TimestampToMicroseconds(e.end_time()) <
          TimeUtil::TimestampToMicroseconds(e.start_time()))
    v.Add(p + "end_time", "ends before start_time");
  size_t before = v.size();
  common::CheckRange(v, p + "dates", e.dates());
  if (v.size() == before && tz_ok) {
    if (start_ok && e.has_start_time() && e.dates().has_start_date())
      CheckTimeOnDate(v, p + "start_time", e.start_time(),
                      e.dates().start_date(), tz, "dates.start_date");
    if (end_ok && e.has_end_time() && e.dates().has_end_date())
      CheckTimeOnDate(v, p + "end_time", e.end_time(), e.dates().end_date(), tz,
                      "dates.end_date");
  }

  common::CheckTexts(v, p + "place.locality", e.place().locality(), false);
  common::CheckName(v, p + "place.state", e.place().state(), {"states"}, false);
  common::CheckRegionCode(v, p + "place.region_code", e.place().region_code());
  common::CheckName(v, p + "organizer", e.organizer(), {"bodies"}, false);

  common::CheckCount(v, p + "participants", e.participants_size());
  for (int i = 0; i < e.participants_size(); ++i) {
    const v1::Participant& x = e.participants(i);
    std::string f = absl::StrCat(p, "participants[", i, "]");
    common::CheckEnum(v, f + ".kind", v1::ParticipantKind_descriptor(),
                      x.kind(), true);
    const char* collection = nullptr;
    if (x.kind() == v1::PARTICIPANT_KIND_STATE) collection = "states";
    if (x.kind() == v1::PARTICIPANT_KIND_PERSON) collection = "persons";
    if (x.kind() == v1::PARTICIPANT_KIND_ORGANIZATION) collection = "bodies";
    if (collection != nullptr)
      common::CheckName(v, f + ".participant", x.participant(), {collection},
                        false);
    if (x.participant().empty() && x.display_name().empty())
      v.Add(f + ".display_name",
            "is required when `participant` is empty (a party the suite has "
            "no record of)");
    common::CheckTexts(v, f + ".display_name", x.display_name(), false);
    common::CheckTexts(v, f + ".capacity", x.capacity(), false);
    common::CheckEnum(v, f + ".attendance_mode",
                      v1::AttendanceMode_descriptor(), x.attendance_mode(),
                      false);
  }
  common::CheckCount(v, p + "documents", e.documents_size());
  for (int i = 0; i < e.documents_size(); ++i) {
    if (!common::ValidName(e.documents(i), {"documents"}) &&
        !common::ValidName(e.documents(i), {"treaties"}))
      v.Add(absl::StrCat(p, "documents[", i, "]"),
            absl::StrCat("`", e.documents(i),
                         "` is not documents/{document} or treaties/{treaty}"));
  }
  common::CheckName(v, p + "parent_event", e.parent_event(), {"events"}, false);
  if (!e.parent_event().empty() && e.parent_event() == e.name())
    v.Add(p + "parent_event", "an event cannot be its own parent");
  refs.push_back({p + "parent_event", e.parent_event()});
  common::CheckProvenance(v, p + "provenance", e.provenance());
}

EventsHandler::EventsHandler(EventsStore* store,
                             const common::ApiKeyStore* keys)
    : store_(store), keys_(keys) {}

absl::Status EventsHandler::CheckReferences(const Refs& refs) {
  Violations v;
  for (const auto& [field, name] : refs) {
    if (name.empty()) continue;
    v1::Event parent;
    absl::Status s = store_->events().Get(name, false, &parent);
    if (s.code() == absl::StatusCode::kNotFound) {
      v.Add(field, absl::StrCat("refers to ", name, ", which does not exist"));
    } else if (!s.ok()) {
      return s;
    }
  }
  return v.ToStatus("UNKNOWN_REFERENCE");
}

absl::Status EventsHandler::GetEvent(const Caller& c,
                                     const v1::GetEventRequest& req,
                                     v1::Event* out) {
  return common::AwaitMethod(this, &EventsHandler::GetEventAsync, c, req, out);
}

void EventsHandler::GetEventAsync(const Caller& c,
                                  const v1::GetEventRequest& req,
                                  v1::Event* out, common::StatusCallback done) {
  common::GetResourceAsync(c.deadline, store_->events(), req.name(), {"events"},
                           out, std::move(done));
}

absl::Status EventsHandler::BatchGetEvents(const Caller& c,
                                           const v1::BatchGetEventsRequest& req,
                                           v1::BatchGetEventsResponse* out) {
  return common::BatchGetResources(c.deadline, store_->events(), req.names(),
                                   {"events"}, out->mutable_events());
}

absl::Status EventsHandler::ListEvents(const Caller& c,
                                       const v1::ListEventsRequest& req,
                                       v1::ListEventsResponse* out) {
  return common::DecodeList(ListEventsEncoded(c, req), out);
}

absl::StatusOr<std::string> EventsHandler::ListEventsEncoded(
    const Caller& c, const v1::ListEventsRequest& req) {
  if (req.order_by().empty()) {  // newest first
    v1::ListEventsRequest with_order = req;
    with_order.set_order_by("start_time desc");
    return common::ListResourcesEncoded(c.deadline, store_->events(),
                                        with_order, "");
  }
  return common::ListResourcesEncoded(c.deadline, store_->events(), req, "");
}

absl::Status EventsHandler::CreateEvent(const Caller& c,
                                        const v1::CreateEventRequest& req,
                                        v1::Event* out) {
  if (auto s = common::RequireRole(*keys_, c, common::Role::kEditor); !s.ok())
    return s;
  v1::Event body = req.event();
  body.set_name("events/" + req.event_id());  // for the own-parent check
  absl::Status s = common::CreateResource(
      c.deadline, store_->events(), "events/" + req.event_id(), "event_id",
      req.event_id(), "event", body, ValidateEvent,
      [this](const Refs& r) { return CheckReferences(r); }, out);
  if (s.ok()) store_->feed().Notify();
  return s;
}

absl::Status EventsHandler::UpdateEvent(const Caller& c,
                                        const v1::UpdateEventRequest& req,
                                        v1::Event* out) {
  if (auto s = common::RequireRole(*keys_, c, common::Role::kEditor); !s.ok())
    return s;
  absl::Status s = common::UpdateResource(
      c.deadline, store_->events(), req.event(), req.update_mask(), "event",
      {"events"}, ValidateEvent,
      [this](const Refs& r) { return CheckReferences(r); }, out);
  if (s.ok()) store_->feed().Notify();
  return s;
}

absl::Status EventsHandler::DeleteEvent(const Caller& c,
                                        const v1::DeleteEventRequest& req,
                                        v1::Event* out) {
  if (auto s = common::RequireRole(*keys_, c, common::Role::kAdmin); !s.ok())
    return s;
  absl::Status s = common::DeleteResource(
      c.deadline, store_->events(), req.name(), req.etag(), {"events"}, out);
  if (s.ok()) store_->feed().Notify();
  return s;
}

absl::Status EventsHandler::LoadSeed(const std::string& text) {
  seed::EventsSeed seed;
  if (!google::protobuf::TextFormat::ParseFromString(text, &seed))
    return absl::InvalidArgumentError(
        "the seed file is not a valid EventsSeed in text format");
  for (auto& e : *seed.mutable_events()) common::ClearOutputOnly(&e);
  absl::Status s = common::SeedResources(store_->events(), seed.events(),
                                         "events", {"events"}, ValidateEvent);
  store_->feed().Notify();
  return s;
}

// ---------------------------------------------------------------------------
// gRPC wiring
// ---------------------------------------------------------------------------

namespace {

// One WatchEvents stream: a feed watcher writing one message at a time.
// Deletes itself in OnDone.
class WatchReactor final
    : public grpc::ServerWriteReactor<v1::WatchEventsResponse>,
      public common::ChangeFeed::Watcher {
 public:
  WatchReactor(common::ChangeFeed* feed, const std::string& token)
      : feed_(feed) {
    auto id = feed_->Watch(token, this);
    if (!id.ok()) {
      FinishOnce(common::ToGrpcStatus(id.status()));
      return;
    }
    id_.store(*id);
  }

  // Feed thread; never while a write is outstanding.
  void OnChange(const common::Change& change,
                const std::string& token) override {
    response_.Clear();
    switch (change.kind) {
      case common::ChangeKind::kCreated:
        response_.set_change_type(v1::CHANGE_TYPE_CREATED);
        break;
      case common::ChangeKind::kUpdated:
        response_.set_change_type(v1::CHANGE_TYPE_UPDATED);
        break;
      case common::ChangeKind::kDeleted:
        response_.set_change_type(v1::CHANGE_TYPE_DELETED);
        break;
      case common::ChangeKind::kCheckpoint:
        break;
    }
    if (change.kind != common::ChangeKind::kCheckpoint) {
      (void)response_.mutable_event()->ParseFromString(change.data);
      *response_.mutable_commit_time() =
          TimeUtil::MicrosecondsToTimestamp(change.commit_time);
    }
    response_.set_resume_token(token);
    response_.set_sequence(change.seq);
    writing_.store(true);
    StartWrite(&response_);
  }

  void OnEnd(const absl::Status& status) override {
    FinishOnce(common::ToGrpcStatus(status));
  }

  void OnWriteDone(bool ok) override {
    writing_.store(false);
    if (!ok || cancelled_.load()) {
      feed_->Cancel(id_.load());
      FinishOnce(grpc::Status::CANCELLED);
      return;
    }
    feed_->Ready(id_.load());
  }

  void OnCancel() override {
    cancelled_.store(true);
    feed_->Cancel(id_.load());  // no OnChange after this returns
    // A write still outstanding finishes in OnWriteDone.
    if (!writing_.load()) FinishOnce(grpc::Status::CANCELLED);
  }

  void OnDone() override { delete this; }

 private:
  void FinishOnce(const grpc::Status& status) {
    if (!finished_.exchange(true)) Finish(status);
  }

  common::ChangeFeed* feed_;
  std::atomic<uint64_t> id_{0};
  std::atomic<bool> writing_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> finished_{false};
  v1::WatchEventsResponse response_;
};

}  // namespace

EventsGrpcService::EventsGrpcService(EventsHandler* handler)
    : handler_(handler) {}

#define CSTOPA_EVENTS_RPC(Method, Request, Response)                       \
  grpc::ServerUnaryReactor* EventsGrpcService::Method(                     \
      grpc::CallbackServerContext* ctx, const v1::Request* request,        \
      v1::Response* response) {                                            \
    return common::FinishUnary(                                            \
        ctx, handler_->Method(common::CallerOf(ctx), *request, response)); \
  }
grpc::ServerUnaryReactor* EventsGrpcService::GetEvent(
    grpc::CallbackServerContext* ctx, const v1::GetEventRequest* request,
    v1::Event* response) {
  return common::StartAsync(ctx, handler_, &EventsHandler::GetEventAsync,
                            request, response);
}
CSTOPA_EVENTS_RPC(BatchGetEvents, BatchGetEventsRequest, BatchGetEventsResponse)
CSTOPA_EVENTS_RPC(CreateEvent, CreateEventRequest, Event)
CSTOPA_EVENTS_RPC(UpdateEvent, UpdateEventRequest, Event)
CSTOPA_EVENTS_RPC(DeleteEvent, DeleteEventRequest, Event)
#undef CSTOPA_EVENTS_RPC

grpc::ServerUnaryReactor* EventsGrpcService::ListEvents(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  v1::ListEventsRequest decoded;
  if (!common::ParseRequest(*request, &decoded))
    return common::FinishUnary(
        ctx, absl::InvalidArgumentError(
                 "the request is not a valid ListEventsRequest"));
  return common::FinishEncoded(
      ctx, handler_->ListEventsEncoded(common::CallerOf(ctx), decoded),
      response);
}

grpc::ServerWriteReactor<v1::WatchEventsResponse>*
EventsGrpcService::WatchEvents(grpc::CallbackServerContext* /*ctx*/,
                               const v1::WatchEventsRequest* request) {
  return new WatchReactor(&handler_->store()->feed(), request->resume_token());
}

void EventsGrpcService::BeginShutdown() {
  handler_->store()->feed().Shutdown(
      common::ErrorWithInfo(absl::StatusCode::kUnavailable,
                            "SERVER_SHUTTING_DOWN", kShutdownMessage));
}

}  // namespace cstopa::events
