#include "gateway/gateway_service.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cstopa/gateway/v1/gateway.grpc.pb.h"
#include "gateway/change_follower.h"
#include "gateway/fan_out.h"
#include "gateway/http/http_api.h"
#include "gateway/name_directory.h"
#include "gateway/search_fusion.h"
#include "gateway/view_bytes.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/base/dates.h"
#include "services/common/base/errors.h"
#include "services/common/client/channel.h"
#include "services/common/http/http_server.h"
#include "services/common/query/validation.h"
#include "services/common/resources/resource.h"
#include "services/common/server/config.h"
#include "services/common/server/local_binding.h"

namespace cstopa::gateway {
namespace {

namespace gw = ::cstopa::gateway::v1;
namespace mem = ::cstopa::membership::v1;
namespace leg = ::cstopa::legislation::v1;
namespace ev = ::cstopa::events::v1;
namespace mon = ::cstopa::monitoring::v1;

// How many events and missions a view shows at most.
constexpr int kStateEvents = 10;
constexpr int kPersonEvents = 50;
constexpr int kDashboardEvents = 5;
constexpr int kMissions = 1000;  // the services' largest page
// A view whose backends would get less time than this is not started.
constexpr absl::Duration kMinBackendBudget = absl::Milliseconds(5);

// The ID in `name` of the shape "<collection>/{id}/profile", or an
// INVALID_ARGUMENT for `field`.
absl::StatusOr<std::string> ProfileId(const std::string& name,
                                      absl::string_view collection) {
  absl::string_view rest = name;
  if (absl::ConsumePrefix(&rest, collection) &&
      absl::ConsumePrefix(&rest, "/") &&
      absl::ConsumeSuffix(&rest, "/profile") && common::ValidId(rest)) {
    return std::string(rest);
  }
  return common::InvalidArgument(
      "name", name.empty()
                  ? "is required"
                  : absl::StrCat("must be ", collection, "/{id}/profile"));
}

// The last microsecond of `day` (YYYYMMDD) as an RFC 3339 timestamp.
std::string LastMicrosecond(int64_t day) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT23:59:59.999999Z",
                static_cast<int>(day / 10000),
                static_cast<int>(day / 100 % 100), static_cast<int>(day % 100));
  return buf;
}

// Events filters: known to have started by the end of `day`, or starting
// after it. An event whose start no source states (the events service keeps
// it at the first instant of year 1) has started by `day` only when it is
// known to have ended by then: a meeting a news item reports as held, stored
// with `ended_by` the item's date, is among the latest events once that
// date is past, and never before.
std::string StartedBy(int64_t day) {
  constexpr char kUnknown[] = "0001-01-01T00:00:00Z";
  const std::string end = LastMicrosecond(day);
  return absl::StrCat("((start_time <= ", end, " AND start_time > ", kUnknown,
                      ") OR (end_time <= ", end, " AND end_time > ", kUnknown,
                      "))");
}
std::string StartsAfter(int64_t day) {
  return absl::StrCat("start_time > ", LastMicrosecond(day));
}

// The view's error when no section could be filled: the sections' common
// code, else UNAVAILABLE; the message names every section's error.
absl::Status NothingFilled(const std::vector<gw::SectionStatus>& sections) {
  constexpr int kUnavailable = static_cast<int>(absl::StatusCode::kUnavailable);
  std::vector<std::string> why;
  int code = sections.empty() ? kUnavailable : sections[0].status().code();
  for (const gw::SectionStatus& s : sections) {
    if (s.status().code() != code) code = kUnavailable;
    why.push_back(absl::StrCat(s.section(), " (", s.service(),
                               "): ", s.status().message()));
  }
  return absl::Status(static_cast<absl::StatusCode>(code),
                      absl::StrCat("no section of the view could be filled: ",
                                   absl::StrJoin(why, "; ")));
}

// Why a view cannot be answered from its sections, or OK: when
// `main_decides`, the first section (the record the view is of) saying that
// the record does not exist or the request is wrong, with the backend's
// details; else no section filled at all.
absl::Status Refusal(const std::vector<gw::SectionStatus>& sections,
                     bool main_decides) {
  if (main_decides && !sections.empty()) {
    const int code = sections[0].status().code();
    if (code == static_cast<int>(absl::StatusCode::kNotFound) ||
        code == static_cast<int>(absl::StatusCode::kInvalidArgument)) {
      return common::FromRpcStatus(sections[0].status());
    }
  }
  for (const gw::SectionStatus& s : sections)
    if (s.complete()) return absl::OkStatus();
  return NothingFilled(sections);
}

// A view built from the backends: its serialized response (or the error
// it ended with), and whether every section is complete (only complete
// views are cached).
struct Built {
  Built(absl::Status status) : answer(std::move(status)) {}  // NOLINT
  Built(std::string bytes, bool all_complete)
      : answer(std::move(bytes)), complete(all_complete) {}
  Coalescer::Answer answer;
  bool complete = false;
};

// A view assembled from its backends' answers as bytes (view_bytes.h):
// each complete section's answer spliced in, then the view's own fields,
// its sections and the membership resources it names.
class ViewBytes {
 public:
  ViewBytes(std::vector<gw::SectionStatus>& sections, Backends* backends)
      : sections_(sections), backends_(backends) {
    bytes_.reserve(16 * 1024);
  }

  // Splices the answer of section `i` when it is complete; an answer that
  // is not well formed leaves the section incomplete, INTERNAL, and counts
  // as a failure in its backend's circuit breaker.
  void Add(size_t i, const Splice& splice,
           common::CallResult<std::string>* result) {
    gw::SectionStatus& section = sections_[i];
    if (!section.complete() || result == nullptr) return;
    if (splice.AppendTo(result->response(), &bytes_, &names_)) return;
    absl::Status bad = absl::InternalError(absl::StrCat(
        "the ", section.service(), " service's answer does not decode"));
    for (const auto& backend : backends_->all())
      if (backend->service() == section.service())
        backend->breaker().Record(bad, absl::Now());
    common::EnsureErrorInfo(
        bad, common::ErrorDomainOf(gw::GatewayService::service_full_name()));
    section.set_complete(false);
    *section.mutable_status() = common::ToRpcStatus(bad);
  }

  // The view: `own` (its name, date...) with the sections, then the
  // spliced answers and the references.
  template <typename View>
  Built Finish(View& own, const NameDirectory* names) && {
    bool all_complete = true;
    for (gw::SectionStatus& s : sections_) {
      all_complete = all_complete && s.complete();
      *own.add_sections() = std::move(s);
    }
    own.AppendToString(&bytes_);
    if (names != nullptr) {
      names->AppendReferences(&names_, View::kReferencesFieldNumber, &bytes_);
    }
    return Built(std::move(bytes_), all_complete);
  }

 private:
  std::vector<gw::SectionStatus>& sections_;
  Backends* const backends_;
  std::string bytes_;
  std::vector<absl::string_view> names_;  // into the answers
};

// Every view has its `freshness` under the same field number, so the bytes
// of that field can be appended to any view's serialized form (a message
// field that occurs twice is merged: the later occurrence's fields win).
static_assert(static_cast<int>(gw::StateProfile::kFreshnessFieldNumber) ==
              static_cast<int>(gw::SearchResponse::kFreshnessFieldNumber));
static_assert(static_cast<int>(gw::StateProfile::kFreshnessFieldNumber) ==
              static_cast<int>(gw::PersonProfile::kFreshnessFieldNumber));
static_assert(static_cast<int>(gw::StateProfile::kFreshnessFieldNumber) ==
              static_cast<int>(gw::AssemblyDashboard::kFreshnessFieldNumber));

// The `freshness` of a view built from the backends, begun at `stamp`.
std::string FreshnessBytes(const ViewCache::Stamp& stamp, uint32_t services) {
  gw::StateProfile carrier;
  gw::ViewFreshness* f = carrier.mutable_freshness();
  for (int i = 0; i < kServiceCount; ++i) {
    if ((services & ServiceBit(i)) == 0) continue;
    gw::StreamPosition* p = f->add_positions();
    p->set_service(ServiceName(i));
    p->set_following(stamp.following[i]);
    if (stamp.following[i]) p->set_sequence(stamp.sequence[i]);
  }
  return carrier.SerializeAsString();
}

// Appended to a cached view's bytes: `freshness.from_cache` = true.
const std::string& FromCacheBytes() {
  static const std::string* const bytes = [] {
    gw::StateProfile carrier;
    carrier.mutable_freshness()->set_from_cache(true);
    return new std::string(carrier.SerializeAsString());
  }();
  return *bytes;
}

// 32 random bytes.
std::string RandomSecret() {
  std::string secret(32, '\0');
  std::random_device device;
  for (char& c : secret) c = static_cast<char>(device() & 0xff);
  return secret;
}

// The start function of a FanOut call of `Method` on `stub` (a
// std::unique_ptr member of the handler).
#define CSTOPA_ASYNC(stub, Method)                                        \
  [s = stub.get()](grpc::ClientContext* ctx, const auto* req, auto* resp, \
                   std::function<void(grpc::Status)> done) {              \
    s->async()->Method(ctx, req, resp, std::move(done));                  \
  }

}  // namespace

GatewayHandler::GatewayHandler(Backends* backends, GatewayOptions options,
                               const NameDirectory* names, ViewCache* cache)
    : backends_(backends),
      options_(options),
      names_(names),
      cache_(cache),
      membership_(
          mem::MembershipService::NewStub(backends->membership().channel())),
      legislation_(
          leg::LegislationService::NewStub(backends->legislation().channel())),
      events_(ev::EventsService::NewStub(backends->events().channel())),
      monitoring_(
          mon::MonitoringService::NewStub(backends->monitoring().channel())),
      coalescer_(options.coalesce),
      own_tokens_(
          options.page_tokens != nullptr
              ? nullptr
              : std::make_unique<common::PageTokenCodec>(RandomSecret())),
      tokens_(options.page_tokens != nullptr ? options.page_tokens
                                             : own_tokens_.get()) {}

absl::Time GatewayHandler::ViewDeadline(absl::Time caller_deadline) const {
  if (caller_deadline != absl::InfiniteFuture()) return caller_deadline;
  return absl::Now() + options_.default_deadline;
}

absl::Time GatewayHandler::BackendDeadline(absl::Time deadline) const {
  const absl::Duration left = deadline - absl::Now();
  return deadline - std::max(absl::ZeroDuration(),
                             std::min(options_.backend_margin, left / 5));
}

namespace {

// Serving a view: from the cache, else coalesced with an identical view in
// flight, else fanned out; a complete view built from the backends is
// cached. `build` makes the fan-out for the view and calls its `answer`
// with what it built. `services`: the services the view needs.
template <typename Call, typename Build>
void ServeView(Coalescer& coalescer, ViewCache* cache, uint32_t services,
               Call call, const std::string& key, absl::Time deadline,
               absl::Time backend_deadline, Build build) {
  if (cache != nullptr) {
    if (std::shared_ptr<const std::string> hit = cache->Lookup(key)) {
      std::string bytes;
      bytes.reserve(hit->size() + FromCacheBytes().size());
      bytes.append(*hit).append(FromCacheBytes());
      return call.FinishSerialized(std::move(bytes));
    }
  }
  const absl::Time now = absl::Now();
  if (backend_deadline - now < kMinBackendBudget) {
    return call.Finish(absl::DeadlineExceededError(
        deadline <= now ? "the call's deadline had passed when it arrived"
                        : "the call's deadline leaves the backends no time "
                          "to answer"));
  }
  // Read before any backend call starts: see ViewCache::Insert.
  const ViewCache::Stamp stamp =
      cache != nullptr ? cache->Read() : ViewCache::Stamp();
  // Views are built, shared and cached with their texts in stored order;
  // the server's face puts each caller's `accept-language` first in the
  // answer it sends (api/language.h).
  common::Caller caller = call.caller();
  caller.accept_language.clear();
  Coalescer::Waiter waiter =
      [call = std::move(call)](const Coalescer::Answer& answer) mutable {
        if (answer.ok()) {
          call.FinishSerialized(*answer);
        } else {
          call.Finish(answer.status());
        }
      };
  const Coalescer::Role role =
      coalescer.Join(key, now, backend_deadline, waiter);
  if (role == Coalescer::Role::kJoined) return;
  build(caller, [&coalescer, cache, services, stamp, key, role,
                 waiter = std::move(waiter)](Built built) mutable {
    if (built.answer.ok()) {
      built.answer->append(FreshnessBytes(stamp, services));
      if (built.complete && cache != nullptr)
        cache->Insert(key, *built.answer, services, stamp);
    }
    // The joined requests first: once the leader's own call is finished the
    // server may be stopping, and the handler (the coalescer) with it.
    if (role == Coalescer::Role::kLeader) coalescer.Complete(key, built.answer);
    std::move(waiter)(built.answer);
  });
}

using Answer = absl::AnyInvocable<void(Built) &&>;

}  // namespace

void GatewayHandler::GetStateProfile(GetStateProfileCall call) {
  const gw::GetStateProfileRequest& req = call.request();
  auto id = ProfileId(req.name(), "states");
  if (!id.ok()) return call.Finish(id.status());
  auto day = common::AsOfDay(req.as_of(), req.has_as_of(), "as_of",
                             common::TodayUtc());
  if (!day.ok()) return call.Finish(day.status());
  const std::string state = absl::StrCat("states/", *id);
  const absl::Time deadline = ViewDeadline(call.deadline());
  const absl::Time backend_deadline = BackendDeadline(deadline);
  const std::string key = absl::StrCat("state ", *id, " ", *day);
  ServeView(
      coalescer_, cache_, kAllServices, std::move(call), key, deadline,
      backend_deadline,
      [this, state, day = *day, backend_deadline](const common::Caller& caller,
                                                  Answer answer) {
        FanOut fan(caller, backend_deadline);
        const google::type::Date as_of = common::DayToDate(day);

        mem::SummarizeStateRequest m;
        m.set_name(state);
        *m.mutable_as_of() = as_of;
        auto* summary = fan.AddBytes<mem::StateSummary>(
            "membership", &backends_->membership(), std::move(m),
            CSTOPA_ASYNC(membership_, SummarizeState));

        leg::SummarizeStateLegislationRequest l;
        l.set_state(state);
        auto* legislation = fan.AddBytes<leg::StateLegislationSummary>(
            "legislation", &backends_->legislation(), std::move(l),
            CSTOPA_ASYNC(legislation_, SummarizeStateLegislation));

        ev::ListEventsRequest e;
        e.set_page_size(kStateEvents);
        e.set_filter(
            absl::StrCat("state = \"", state, "\" AND ", StartedBy(day)));
        auto* events = fan.AddBytes<ev::ListEventsResponse>(
            "events", &backends_->events(), std::move(e),
            CSTOPA_ASYNC(events_, ListEvents));

        mon::ListMissionsRequest mi;
        mi.set_page_size(kMissions);
        mi.set_filter(absl::StrCat("state = \"", state, "\""));
        auto* missions = fan.AddBytes<mon::ListMissionsResponse>(
            "missions", &backends_->monitoring(), std::move(mi),
            CSTOPA_ASYNC(monitoring_, ListMissions));

        mon::ListOperationsRequest op;
        op.set_page_size(kMissions);
        op.set_filter(absl::StrCat("state = \"", state,
                                   "\" OR contingent_state = \"", state, "\""));
        auto* operations = fan.AddBytes<mon::ListOperationsResponse>(
            "operations", &backends_->monitoring(), std::move(op),
            CSTOPA_ASYNC(monitoring_, ListOperations));

        std::move(fan).Start(
            [names = names_, backends = backends_, state, day, summary,
             legislation, events, missions, operations,
             answer = std::move(answer)](
                std::vector<gw::SectionStatus> sections) mutable {
              static const Splice* const kSummary =
                  new Splice(mem::StateSummary::descriptor(),
                             gw::StateProfile::descriptor(),
                             {{"state", "state"},
                              {"parliaments", "parliaments"},
                              {"delegations", "delegations"},
                              {"roles", "posts"},
                              {"not_known_roles", "posts_not_known"}});
              static const Splice* const kLegislation =
                  new Splice(leg::StateLegislationSummary::descriptor(),
                             gw::StateProfile::descriptor(),
                             {{"treaties", "treaties"},
                              {"implementations", "implementations"}});
              static const Splice* const kEvents =
                  new Splice(ev::ListEventsResponse::descriptor(),
                             gw::StateProfile::descriptor(),
                             {{"events", "recent_events"}});
              static const Splice* const kMissions = new Splice(
                  mon::ListMissionsResponse::descriptor(),
                  gw::StateProfile::descriptor(), {{"missions", "missions"}});
              static const Splice* const kOperations =
                  new Splice(mon::ListOperationsResponse::descriptor(),
                             gw::StateProfile::descriptor(),
                             {{"operations", "operations"}});
              ViewBytes view(sections, backends);
              view.Add(0, *kSummary, summary);
              view.Add(1, *kLegislation, legislation);
              view.Add(2, *kEvents, events);
              view.Add(3, *kMissions, missions);
              view.Add(4, *kOperations, operations);
              if (absl::Status refused = Refusal(sections, true); !refused.ok())
                return std::move(answer)(std::move(refused));
              gw::StateProfile own;
              own.set_name(absl::StrCat(state, "/profile"));
              *own.mutable_as_of_date() = common::DayToDate(day);
              std::move(answer)(std::move(view).Finish(own, names));
            });
      });
}

void GatewayHandler::GetPersonProfile(GetPersonProfileCall call) {
  const gw::GetPersonProfileRequest& req = call.request();
  auto id = ProfileId(req.name(), "persons");
  if (!id.ok()) return call.Finish(id.status());
  const std::string person = absl::StrCat("persons/", *id);
  const absl::Time deadline = ViewDeadline(call.deadline());
  const absl::Time backend_deadline = BackendDeadline(deadline);
  const std::string key = absl::StrCat("person ", *id);
  ServeView(
      coalescer_, cache_,
      ServiceBit(kMembershipIndex) | ServiceBit(kEventsIndex) |
          ServiceBit(kMonitoringIndex),
      std::move(call), key, deadline, backend_deadline,
      [this, person, backend_deadline](const common::Caller& caller,
                                       Answer answer) {
        FanOut fan(caller, backend_deadline);
        mem::SummarizePersonRequest m;
        m.set_name(person);
        auto* summary = fan.AddBytes<mem::PersonSummary>(
            "membership", &backends_->membership(), std::move(m),
            CSTOPA_ASYNC(membership_, SummarizePerson));

        ev::ListEventsRequest e;
        e.set_page_size(kPersonEvents);
        e.set_filter(absl::StrCat("participant = \"", person, "\""));
        auto* events = fan.AddBytes<ev::ListEventsResponse>(
            "events", &backends_->events(), std::move(e),
            CSTOPA_ASYNC(events_, ListEvents));

        mon::ListMissionsRequest mi;
        mi.set_page_size(kMissions);
        mi.set_filter(absl::StrCat("observer = \"", person, "\""));
        auto* missions = fan.AddBytes<mon::ListMissionsResponse>(
            "missions", &backends_->monitoring(), std::move(mi),
            CSTOPA_ASYNC(monitoring_, ListMissions));

        std::move(fan).Start(
            [names = names_, backends = backends_, person, summary, events,
             missions, answer = std::move(answer)](
                std::vector<gw::SectionStatus> sections) mutable {
              static const Splice* const kSummary =
                  new Splice(mem::PersonSummary::descriptor(),
                             gw::PersonProfile::descriptor(),
                             {{"person", "person"},
                              {"state_display_name", "state_display_name"},
                              {"roles", "roles"}});
              static const Splice* const kEvents = new Splice(
                  ev::ListEventsResponse::descriptor(),
                  gw::PersonProfile::descriptor(), {{"events", "events"}});
              static const Splice* const kMissions = new Splice(
                  mon::ListMissionsResponse::descriptor(),
                  gw::PersonProfile::descriptor(), {{"missions", "missions"}});
              ViewBytes view(sections, backends);
              view.Add(0, *kSummary, summary);
              view.Add(1, *kEvents, events);
              view.Add(2, *kMissions, missions);
              if (absl::Status refused = Refusal(sections, true); !refused.ok())
                return std::move(answer)(std::move(refused));
              gw::PersonProfile own;
              own.set_name(absl::StrCat(person, "/profile"));
              std::move(answer)(std::move(view).Finish(own, names));
            });
      });
}

namespace {

// What a page token of a search is bound to.
std::string SearchFingerprint(const gw::SearchRequest& req) {
  return absl::StrCat("gateway search\n", req.query().size(), ":", req.query(),
                      "\n", req.filter());
}

// A service's `Search` request for one page of the gateway's.
template <typename Request>
Request ServiceSearch(const gw::SearchRequest& req, int32_t page_size,
                      int64_t skip) {
  Request r;
  r.set_query(req.query());
  r.set_filter(req.filter());
  r.set_page_size(page_size);
  r.set_skip(static_cast<int32_t>(skip));
  return r;
}

// One service's answer as a Ranking, its counts added to `view`'s.
// Returns the service's total (0 when it did not answer).
template <typename Response>
int64_t TakeHits(common::CallResult<Response>* result, bool complete,
                 int64_t offset, Ranking* ranking,
                 std::map<std::string, int64_t>* counts) {
  ranking->offset = offset;
  if (!complete || result == nullptr) return 0;
  Response& r = result->response();
  for (auto& hit : *r.mutable_hits()) ranking->hits.push_back(std::move(hit));
  for (const auto& c : r.type_counts()) (*counts)[c.type()] += c.count();
  return r.total_size();
}

}  // namespace

void GatewayHandler::Search(SearchCall call) {
  const gw::SearchRequest& req = call.request();
  if (auto words = common::ParseSearchWords(req.query(), "query"); !words.ok())
    return call.Finish(words.status());
  auto page_size = common::SearchPageSize(req.page_size());
  if (!page_size.ok()) return call.Finish(page_size.status());
  const int32_t size = *page_size;
  // Per service, how many of its hits earlier pages took.
  std::vector<int64_t> offsets(kServiceCount, 0);
  const std::string fingerprint = SearchFingerprint(req);
  if (!req.page_token().empty()) {
    auto cursor = tokens_->Decode(req.page_token(), fingerprint);
    if (!cursor.ok()) return call.Finish(cursor.status());
    bool valid = cursor->last_values.size() == offsets.size();
    for (size_t i = 0; valid && i < offsets.size(); ++i) {
      const int64_t* v = std::get_if<int64_t>(&cursor->last_values[i]);
      valid = v != nullptr && *v >= 0 && *v <= common::kMaxSearchDepth;
      if (valid) offsets[i] = *v;
    }
    if (!valid)
      return call.Finish(common::InvalidArgument(
          "INVALID_PAGE_TOKEN",
          {{"page_token", "is not a page token of this search"}}));
  }
  const absl::Time deadline = ViewDeadline(call.deadline());
  const absl::Time backend_deadline = BackendDeadline(deadline);
  const std::string key = absl::StrCat(
      "search ", size, " ", absl::StrJoin(offsets, ","), " ", fingerprint);
  ServeView(
      coalescer_, cache_, kAllServices, std::move(call), key, deadline,
      backend_deadline,
      [this, request = req, size, offsets, fingerprint, backend_deadline](
          const common::Caller& caller, Answer answer) {
        FanOut fan(caller, backend_deadline);
        auto* membership = fan.Add<mem::SearchResponse>(
            "membership", &backends_->membership(),
            ServiceSearch<mem::SearchRequest>(request, size,
                                              offsets[kMembershipIndex]),
            CSTOPA_ASYNC(membership_, Search));
        auto* legislation = fan.Add<leg::SearchResponse>(
            "legislation", &backends_->legislation(),
            ServiceSearch<leg::SearchRequest>(request, size,
                                              offsets[kLegislationIndex]),
            CSTOPA_ASYNC(legislation_, Search));
        auto* events = fan.Add<ev::SearchResponse>(
            "events", &backends_->events(),
            ServiceSearch<ev::SearchRequest>(request, size,
                                             offsets[kEventsIndex]),
            CSTOPA_ASYNC(events_, Search));
        auto* monitoring = fan.Add<mon::SearchResponse>(
            "monitoring", &backends_->monitoring(),
            ServiceSearch<mon::SearchRequest>(request, size,
                                              offsets[kMonitoringIndex]),
            CSTOPA_ASYNC(monitoring_, Search));
        std::move(fan).Start(
            [tokens = tokens_, size, offsets, fingerprint, membership,
             legislation, events, monitoring, answer = std::move(answer)](
                std::vector<gw::SectionStatus> sections) mutable {
              // A bad filter or token is refused alike by every service:
              // membership's answer decides.
              if (absl::Status refused = Refusal(sections, true); !refused.ok())
                return std::move(answer)(std::move(refused));
              std::vector<Ranking> rankings(kServiceCount);
              std::map<std::string, int64_t> counts;
              std::vector<int64_t> totals = {
                  TakeHits(membership, sections[kMembershipIndex].complete(),
                           offsets[kMembershipIndex],
                           &rankings[kMembershipIndex], &counts),
                  TakeHits(legislation, sections[kLegislationIndex].complete(),
                           offsets[kLegislationIndex],
                           &rankings[kLegislationIndex], &counts),
                  TakeHits(events, sections[kEventsIndex].complete(),
                           offsets[kEventsIndex], &rankings[kEventsIndex],
                           &counts),
                  TakeHits(monitoring, sections[kMonitoringIndex].complete(),
                           offsets[kMonitoringIndex],
                           &rankings[kMonitoringIndex], &counts)};
              int64_t total = 0;
              for (int64_t t : totals) total += t;
              FusedPage page = FuseRankings(rankings, size);
              gw::SearchResponse view;
              for (auto& hit : page.hits) *view.add_hits() = std::move(hit);
              std::vector<std::pair<std::string, int64_t>> sorted(
                  counts.begin(), counts.end());
              std::sort(sorted.begin(), sorted.end(),
                        [](const auto& a, const auto& b) {
                          return a.second != b.second ? a.second > b.second
                                                      : a.first < b.first;
                        });
              for (const auto& [type, count] : sorted) {
                auto* c = view.add_type_counts();
                c->set_type(type);
                c->set_count(count);
              }
              view.set_total_size(total);
              common::PageCursor next;
              bool has_next = false;
              for (int i = 0; i < kServiceCount; ++i) {
                const int64_t at = offsets[i] + page.taken[i];
                next.last_values.push_back(at);
                // A service that answered and has hits left, short of the
                // reachable depth. (One that did not answer keeps its
                // place for a later page.)
                if (at < std::min<int64_t>(totals[i], common::kMaxSearchDepth))
                  has_next = true;
              }
              if (has_next)
                view.set_next_page_token(tokens->Encode(next, fingerprint));
              bool all_complete = true;
              for (gw::SectionStatus& section : sections) {
                all_complete = all_complete && section.complete();
                *view.add_sections() = std::move(section);
              }
              std::move(answer)(Built(view.SerializeAsString(), all_complete));
            });
      });
}

void GatewayHandler::GetAssemblyDashboard(GetAssemblyDashboardCall call) {
  const gw::GetAssemblyDashboardRequest& req = call.request();
  if (req.name() != "dashboard") {
    return call.Finish(common::InvalidArgument(
        "name", req.name().empty() ? "is required" : "must be dashboard"));
  }
  auto day = common::AsOfDay(req.as_of(), req.has_as_of(), "as_of",
                             common::TodayUtc());
  if (!day.ok()) return call.Finish(day.status());
  const absl::Time deadline = ViewDeadline(call.deadline());
  const absl::Time backend_deadline = BackendDeadline(deadline);
  const std::string key = absl::StrCat("dashboard ", *day);
  ServeView(
      coalescer_, cache_, kAllServices, std::move(call), key, deadline,
      backend_deadline,
      [this, day = *day, backend_deadline](const common::Caller& caller,
                                           Answer answer) {
        FanOut fan(caller, backend_deadline);
        mem::SummarizeMembershipRequest m;
        *m.mutable_as_of() = common::DayToDate(day);
        auto* membership = fan.AddBytes<mem::MembershipSummary>(
            "membership", &backends_->membership(), std::move(m),
            CSTOPA_ASYNC(membership_, SummarizeMembership));

        auto* legislation = fan.AddBytes<leg::LegislationSummary>(
            "legislation", &backends_->legislation(),
            leg::SummarizeLegislationRequest(),
            CSTOPA_ASYNC(legislation_, SummarizeLegislation));

        auto* missions = fan.AddBytes<mon::SummarizeMissionsResponse>(
            "missions", &backends_->monitoring(),
            mon::SummarizeMissionsRequest(),
            CSTOPA_ASYNC(monitoring_, SummarizeMissions));

        ev::ListEventsRequest latest;
        latest.set_page_size(kDashboardEvents);
        latest.set_filter(StartedBy(day));
        auto* latest_events = fan.AddBytes<ev::ListEventsResponse>(
            "latest_events", &backends_->events(), std::move(latest),
            CSTOPA_ASYNC(events_, ListEvents));

        ev::ListEventsRequest next;
        next.set_page_size(kDashboardEvents);
        next.set_filter(StartsAfter(day));
        next.set_order_by("start_time");
        auto* next_events = fan.AddBytes<ev::ListEventsResponse>(
            "next_events", &backends_->events(), std::move(next),
            CSTOPA_ASYNC(events_, ListEvents));

        std::move(fan).Start(
            [names = names_, backends = backends_, day, membership, legislation,
             missions, latest_events, next_events, answer = std::move(answer)](
                std::vector<gw::SectionStatus> sections) mutable {
              static const Splice* const kMembership =
                  new Splice(mem::MembershipSummary::descriptor(),
                             gw::AssemblyDashboard::descriptor(),
                             {{"states", "states"},
                              {"total_seats", "total_seats"},
                              {"partners", "partners"}});
              static const Splice* const kLegislation =
                  new Splice(leg::LegislationSummary::descriptor(),
                             gw::AssemblyDashboard::descriptor(),
                             {{"adoptions", "adoptions"},
                              {"action_plans", "action_plans"},
                              {"treaties", "treaties"},
                              {"stated_figures", "stated_figures"}});
              static const Splice* const kMissions =
                  new Splice(mon::SummarizeMissionsResponse::descriptor(),
                             gw::AssemblyDashboard::descriptor(),
                             {{"years", "missions_per_year"},
                              {"total_mission_count", "total_missions"}});
              static const Splice* const kLatest =
                  new Splice(ev::ListEventsResponse::descriptor(),
                             gw::AssemblyDashboard::descriptor(),
                             {{"events", "latest_events"}});
              static const Splice* const kNext =
                  new Splice(ev::ListEventsResponse::descriptor(),
                             gw::AssemblyDashboard::descriptor(),
                             {{"events", "next_events"}});
              ViewBytes view(sections, backends);
              view.Add(0, *kMembership, membership);
              view.Add(1, *kLegislation, legislation);
              view.Add(2, *kMissions, missions);
              view.Add(3, *kLatest, latest_events);
              view.Add(4, *kNext, next_events);
              if (absl::Status refused = Refusal(sections, false);
                  !refused.ok())
                return std::move(answer)(std::move(refused));
              gw::AssemblyDashboard own;
              own.set_name("dashboard");
              *own.mutable_as_of_date() = common::DayToDate(day);
              std::move(answer)(std::move(view).Finish(own, names));
            });
      });
}

std::string GatewayHandler::MetricsText() const {
  return absl::StrCat(
      cache_ != nullptr ? cache_->MetricsText() : std::string(),
      "# HELP cstopa_gateway_views_joined_total View requests answered from "
      "a fan-out already in flight for an identical view.\n"
      "# TYPE cstopa_gateway_views_joined_total counter\n"
      "cstopa_gateway_views_joined_total ",
      coalescer_.joined(), "\n");
}

void GatewayHandler::ListBackends(ListBackendsCall call) {
  using google::protobuf::util::TimeUtil;
  for (const auto& b : backends_->all()) {
    const Breaker::Snapshot s = b->breaker().Get();
    gw::Backend* out = call.response()->add_backends();
    out->set_service(b->service());
    out->set_target(b->target());
    out->set_connectivity(b->Connectivity());
    if (s.state != Breaker::State::kClosed) {
      out->set_state(gw::BACKEND_STATE_OPEN);
      *out->mutable_retry_time() =
          TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(s.retry_time));
    } else if (s.consecutive_failures > 0) {
      out->set_state(gw::BACKEND_STATE_FAILING);
    } else {
      out->set_state(gw::BACKEND_STATE_READY);
    }
    if (!s.last_error.ok()) {
      *out->mutable_last_error() = common::ToRpcStatus(s.last_error);
      *out->mutable_last_error_time() = TimeUtil::NanosecondsToTimestamp(
          absl::ToUnixNanos(s.last_error_time));
    }
    out->set_call_count(s.calls);
    out->set_failure_count(s.failures);
    if (cache_ != nullptr) {
      const int index = static_cast<int>(&b - &backends_->all()[0]);
      const ViewCache::StreamState st = cache_->Stream(index);
      gw::ChangeStreamState* stream = out->mutable_stream();
      stream->set_following(st.following);
      stream->set_sequence(st.sequence);
      stream->set_change_count(st.changes);
      if (st.last_commit_time != absl::InfinitePast())
        *stream->mutable_last_commit_time() = TimeUtil::NanosecondsToTimestamp(
            absl::ToUnixNanos(st.last_commit_time));
      if (!st.last_error.ok())
        *stream->mutable_last_error() = common::ToRpcStatus(st.last_error);
    }
  }
  call.Finish(absl::OkStatus());
}

namespace {

// The record a change left (the one message field of a Watch... response
// other than its commit time), or null.
const google::protobuf::Message* ChangedRecord(
    const google::protobuf::Message& response) {
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  response.GetReflection()->ListFields(response, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
        !f->is_repeated() &&
        f->message_type() != google::protobuf::Timestamp::descriptor())
      return &response.GetReflection()->GetMessage(response, f);
  }
  return nullptr;
}

// Hands what the change streams say to the cache, and membership's changes
// to the name directory first (so a view built after a rename names the
// record anew).
class StreamHub final : public ChangeFollower::Listener {
 public:
  StreamHub(ViewCache* cache, NameDirectory* names)
      : cache_(cache), names_(names) {}

  void Following(const std::string& service, int64_t sequence) override {
    const int i = Index(service);
    // Changes during a gap in membership's stream reach the names by a load.
    if (i == kMembershipIndex && followed_membership_.exchange(true))
      names_->RefreshSoon();
    cache_->Following(i, sequence);
  }
  void Changed(const std::string& service,
               const StreamMessage& change) override {
    const int i = Index(service);
    if (i == kMembershipIndex) {
      names_->Apply(change.name,
                    change.deleted ? nullptr : ChangedRecord(*change.response));
    }
    cache_->Changed(i, change.sequence, change.commit_time);
  }
  void Lost(const std::string& service, const absl::Status& why) override {
    cache_->Lost(Index(service), why);
  }

 private:
  static int Index(const std::string& service) {
    for (int i = 0; i < kServiceCount; ++i)
      if (service == ServiceName(i)) return i;
    return kMembershipIndex;  // not reached: the followers are ours
  }
  ViewCache* const cache_;
  NameDirectory* const names_;
  std::atomic<bool> followed_membership_{false};
};

// The gateway as a ServiceInstance: its backends, view cache and the
// streams that keep it true, name directory, handler and gRPC face.
// The view cache as the HTTP front door's read cache: a service's answers
// are kept under the service, and dropped with its views.
class ViewReadCache final : public http::ReadCache {
 public:
  explicit ViewReadCache(ViewCache* cache) : cache_(cache) {}

  Stamp Begin() override {
    return std::make_shared<const ViewCache::Stamp>(cache_->Read());
  }
  std::shared_ptr<const std::string> Lookup(const std::string& key) override {
    return cache_->Lookup(key);
  }
  void Insert(absl::string_view service, const std::string& key,
              std::string bytes, const Stamp& stamp) override {
    const int index = IndexOf(service);
    if (index < 0 || stamp == nullptr) return;
    cache_->Insert(key, std::move(bytes), ServiceBit(index),
                   *static_cast<const ViewCache::Stamp*>(stamp.get()));
  }
  void Wrote(absl::string_view service) override {
    const int index = IndexOf(service);
    if (index >= 0) cache_->Wrote(index);
  }

 private:
  static int IndexOf(absl::string_view service) {
    if (service == mem::MembershipService::service_full_name())
      return kMembershipIndex;
    if (service == leg::LegislationService::service_full_name())
      return kLegislationIndex;
    if (service == ev::EventsService::service_full_name()) return kEventsIndex;
    if (service == mon::MonitoringService::service_full_name())
      return kMonitoringIndex;
    return -1;
  }

  ViewCache* const cache_;
};

class GatewayInstance final : public common::ServiceInstance {
 public:
  // Where and how the HTTP/JSON front door serves (http/http_api.h);
  // an empty `listen` serves none.
  struct HttpFlags {
    std::string listen;
    int threads = 2;
    size_t max_body_bytes = 1 << 20;
    http::HttpApiOptions api;
  };

  GatewayInstance(std::unique_ptr<Backends> backends, GatewayOptions options,
                  absl::Duration names_refresh, ViewCache::Options cache,
                  HttpFlags http)
      : http_flags_(std::move(http)),
        backends_(std::move(backends)),
        cache_(cache),
        names_(backends_->membership().channel(), names_refresh),
        hub_(&cache_, &names_),
        handler_(backends_.get(), options, &names_, &cache_),
        service_(v1::NewGatewayServiceGrpc(&handler_)),
        membership_(
            mem::MembershipService::NewStub(backends_->membership().channel())),
        legislation_(leg::LegislationService::NewStub(
            backends_->legislation().channel())),
        events_(ev::EventsService::NewStub(backends_->events().channel())),
        monitoring_(mon::MonitoringService::NewStub(
            backends_->monitoring().channel())) {
    names_.Start();
    Follow<mem::WatchMembershipResponse>(
        kMembershipIndex, [stub = membership_.get()](grpc::ClientContext* c) {
          return stub->WatchMembership(c, mem::WatchMembershipRequest());
        });
    Follow<leg::WatchLegislationResponse>(
        kLegislationIndex, [stub = legislation_.get()](grpc::ClientContext* c) {
          return stub->WatchLegislation(c, leg::WatchLegislationRequest());
        });
    Follow<ev::WatchEventsResponse>(
        kEventsIndex, [stub = events_.get()](grpc::ClientContext* c) {
          return stub->WatchEvents(c, ev::WatchEventsRequest());
        });
    Follow<mon::WatchMonitoringResponse>(
        kMonitoringIndex, [stub = monitoring_.get()](grpc::ClientContext* c) {
          return stub->WatchMonitoring(c, mon::WatchMonitoringRequest());
        });
  }

  grpc::Service* grpc_service() override { return service_.get(); }
  absl::Status LoadSeed(const std::string&) override {
    return absl::OkStatus();
  }
  std::string MetricsText() const override {
    return backends_->MetricsText() + handler_.MetricsText() +
           (http_api_ ? http_api_->MetricsText() : "");
  }

  // The HTTP/JSON front door, once gRPC serves: the four services through
  // the backends' channels, the gateway's own views in-process (its handler's
  // local face).
  absl::StatusOr<std::map<std::string, int>> StartServing(
      const Serving& serving) override {
    if (http_flags_.listen.empty()) return std::map<std::string, int>();
    std::map<std::string, std::shared_ptr<grpc::Channel>> channels = {
        {mem::MembershipService::service_full_name(),
         backends_->membership().channel()},
        {leg::LegislationService::service_full_name(),
         backends_->legislation().channel()},
        {ev::EventsService::service_full_name(), backends_->events().channel()},
        {mon::MonitoringService::service_full_name(),
         backends_->monitoring().channel()}};
    // The gateway's own views are called in-process: no gRPC hop, and a
    // cached view is answered on the HTTP thread.
    local_ = v1::NewGatewayServiceLocal(&handler_);
    http::HttpApiOptions api_options = http_flags_.api;
    api_options.read_cache = &read_cache_;
    auto api = http::HttpApi::Create(
        std::move(channels), api_options, serving.access_log,
        {{v1::GatewayService::service_full_name(), local_.get()}});
    if (!api.ok()) return api.status();
    http_api_ = *std::move(api);
    cstopa::http::HttpServerOptions options;
    options.threads = http_flags_.threads;
    options.max_body_bytes = http_flags_.max_body_bytes;
    options.error_body = &http::HttpApi::ServerErrorBody;
    auto server = cstopa::http::HttpServer::Start(
        http_flags_.listen, options,
        [api = http_api_.get()](
            std::shared_ptr<cstopa::http::HttpExchange> exchange) {
          api->Handle(std::move(exchange));
        });
    if (!server.ok()) return server.status();
    http_server_ = *std::move(server);
    return std::map<std::string, int>{{"http_port", http_server_->port()}};
  }

  void StopServing(absl::Duration grace) override {
    const absl::Time deadline = absl::Now() + grace;
    if (http_server_) http_server_->Shutdown(grace);
    // Calls made for requests the server no longer waits for end before
    // the HttpApi (and the log it writes to) go.
    if (http_api_) http_api_->Stop(deadline);
  }

 private:
  template <typename Response, typename Open>
  void Follow(int index, Open open) {
    followers_.push_back(std::make_unique<ChangeFollower>(
        ServiceName(index), FollowStream<Response>(std::move(open)), &hub_));
    followers_.back()->Start();
  }

  const HttpFlags http_flags_;
  std::unique_ptr<Backends> backends_;
  ViewCache cache_;
  NameDirectory names_;
  StreamHub hub_;
  GatewayHandler handler_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<mem::MembershipService::Stub> membership_;
  std::unique_ptr<leg::LegislationService::Stub> legislation_;
  std::unique_ptr<ev::EventsService::Stub> events_;
  std::unique_ptr<mon::MonitoringService::Stub> monitoring_;
  // Last: stopped before anything they report to is destroyed.
  std::vector<std::unique_ptr<ChangeFollower>> followers_;
  ViewReadCache read_cache_{&cache_};
  std::unique_ptr<common::LocalService> local_;
  std::unique_ptr<http::HttpApi> http_api_;
  std::unique_ptr<cstopa::http::HttpServer> http_server_;
};

absl::Status CheckTarget(const std::string& value) {
  return common::ValidateTarget(value);
}

// A whole number of `unit` in [min, max].
std::function<absl::Status(const std::string&)> Whole(int64_t min, int64_t max,
                                                      const char* unit) {
  return [min, max, unit](const std::string& value) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(value, &n) || n < min || n > max) {
      return absl::InvalidArgumentError(absl::StrCat("\"", value,
                                                     "\" is not a whole number "
                                                     "of ",
                                                     unit, " in ", min, "..",
                                                     max));
    }
    return absl::OkStatus();
  };
}
std::function<absl::Status(const std::string&)> Millis(int64_t min,
                                                       int64_t max) {
  return Whole(min, max, "ms");
}

absl::Status CheckRefresh(const std::string& value) {
  int64_t ms = 0;
  if (!absl::SimpleAtoi(value, &ms) || ms < 100 || ms > 86400000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", value, "\" is not a whole number of ms in 100..86400000"));
  }
  return absl::OkStatus();
}

// TLS to the backends from the --backend_tls_* flags; nullopt for
// plaintext.
absl::StatusOr<std::optional<common::TlsOptions>> BackendTls(
    const std::map<std::string, std::string>& flags) {
  const std::string& ca = flags.at("backend_tls_ca_file");
  const std::string& cert = flags.at("backend_tls_cert_file");
  const std::string& key = flags.at("backend_tls_key_file");
  if (ca.empty()) {
    if (!cert.empty() || !key.empty() ||
        !flags.at("backend_tls_server_name").empty()) {
      return absl::InvalidArgumentError(
          "--backend_tls_cert_file, --backend_tls_key_file and "
          "--backend_tls_server_name need --backend_tls_ca_file");
    }
    return std::optional<common::TlsOptions>();
  }
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError(
        "--backend_tls_cert_file and --backend_tls_key_file go together");
  }
  common::TlsOptions tls;
  for (auto [flag, path, out] :
       {std::tuple<const char*, const std::string*, std::string*>{
            "backend_tls_ca_file", &ca, &tls.root_certs},
        {"backend_tls_cert_file", &cert, &tls.cert_chain},
        {"backend_tls_key_file", &key, &tls.private_key}}) {
    if (path->empty()) continue;
    auto text = common::ReadFile(*path);
    if (!text.ok() || text->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": cannot read ", *path));
    }
    *out = std::move(*text);
  }
  tls.server_name_override = flags.at("backend_tls_server_name");
  return std::optional<common::TlsOptions>(std::move(tls));
}

absl::Status CheckBool(const std::string& value) {
  if (value == "true" || value == "false") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("\"", value, "\" is not true or false"));
}

}  // namespace

common::ServiceDefinition GatewayService() {
  common::ServiceDefinition def;
  def.name = "gateway";
  def.grpc_service_name = v1::GatewayService::service_full_name();
  def.default_port = 50050;
  def.default_admin_port = 9050;
  struct Backend {
    const char* name;
    int port;
  };
  for (const Backend& b :
       {Backend{"membership", 50051}, Backend{"legislation", 50052},
        Backend{"events", 50053}, Backend{"monitoring", 50054}}) {
    std::string upper = b.name;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    def.extra_flags.push_back(
        {absl::StrCat(b.name, "_target"),
         absl::StrCat("CSTOPA_", upper, "_TARGET"),
         absl::StrCat("ipv4:127.0.0.1:", b.port),
         absl::StrCat("gRPC target URI of the ", b.name,
                      " service: ipv4:127.0.0.1:p1,127.0.0.1:p2 for "
                      "replicas on one machine, dns:///",
                      b.name,
                      ":8080 on a cluster (round_robin over every address)"),
         CheckTarget});
  }
  def.extra_flags.push_back(
      {"default_deadline_ms", "CSTOPA_DEFAULT_DEADLINE_MS", "2000",
       "deadline of a view whose caller sets none", Millis(10, 600000)});
  def.extra_flags.push_back(
      {"backend_margin_ms", "CSTOPA_BACKEND_MARGIN_MS", "50",
       "time kept between the backends' deadline and the caller's (at most "
       "a fifth of the time left)",
       Millis(0, 60000)});
  def.extra_flags.push_back(
      {"breaker_open_ms", "CSTOPA_BREAKER_OPEN_MS", "500",
       "how long a backend's circuit breaker first stays open after 3 "
       "failures in a row (doubling on each failed probe, up to 16 times "
       "this)",
       Millis(10, 600000)});
  def.extra_flags.push_back(
      {"names_refresh_ms", "CSTOPA_NAMES_REFRESH_MS", "30000",
       "how often the display names of membership records that views "
       "mention (the views' `references`) are loaded again",
       CheckRefresh});
  const auto any = [](const std::string&) { return absl::OkStatus(); };
  def.extra_flags.push_back(
      {"backend_tls_ca_file", "CSTOPA_BACKEND_TLS_CA_FILE", "",
       "PEM CA bundle the backends' certificates are checked against; when "
       "set, the gateway calls every backend over TLS (empty: plaintext)",
       any});
  def.extra_flags.push_back(
      {"backend_tls_cert_file", "CSTOPA_BACKEND_TLS_CERT_FILE", "",
       "PEM certificate chain the gateway presents to the backends (mutual "
       "TLS); needs --backend_tls_key_file and --backend_tls_ca_file",
       any});
  def.extra_flags.push_back(
      {"backend_tls_key_file", "CSTOPA_BACKEND_TLS_KEY_FILE", "",
       "PEM private key of --backend_tls_cert_file", any});
  def.extra_flags.push_back(
      {"backend_tls_server_name", "CSTOPA_BACKEND_TLS_SERVER_NAME", "",
       "name to check the backends' certificates against instead of the "
       "target's host",
       any});
  def.extra_flags.push_back(
      {"backend_batches", "CSTOPA_BACKEND_BATCHES", "2",
       "batches of reads in flight per backend before further reads wait and "
       "leave together as one call (cstopa.batch.v1.BatchService); 0: every "
       "backend call is a gRPC call of its own",
       Whole(0, 64, "batches")});
  def.extra_flags.push_back({"coalesce", "CSTOPA_COALESCE", "true",
                             "identical views in flight together share one "
                             "set of backend calls",
                             CheckBool});
  def.extra_flags.push_back(
      {"view_cache", "CSTOPA_VIEW_CACHE", "true",
       "keep complete views in memory, dropped when a service they need "
       "changes (the gateway follows every service's change stream)",
       CheckBool});
  def.extra_flags.push_back({"view_cache_mb", "CSTOPA_VIEW_CACHE_MB", "64",
                             "memory the cached views may take, in MiB "
                             "(least recently used views go first)",
                             Whole(1, 65536, "MiB")});
  def.extra_flags.push_back(
      {"http_listen", "CSTOPA_HTTP_LISTEN", "",
       "host:port of the HTTP/JSON API (every RPC at its google.api.http "
       "route, Server-Sent Events for streams, GET /v1/openapi.json), e.g. "
       "127.0.0.1:8080 (what ./scripts/start.sh and the container image "
       "use); empty (the default) serves no HTTP",
       [](const std::string& value) {
         return value.empty()
                    ? absl::OkStatus()
                    : common::ValidateListenAddress("http_listen", value);
       }});
  def.extra_flags.push_back({"http_threads", "CSTOPA_HTTP_THREADS", "2",
                             "event loops serving HTTP connections",
                             Whole(1, 64, "threads")});
  def.extra_flags.push_back(
      {"http_max_body_bytes", "CSTOPA_HTTP_MAX_BODY_BYTES", "1048576",
       "largest HTTP request body (larger ones get 413); an import sends a "
       "service's records in one body, so raise it (up to the services' "
       "--max_message_bytes) to import more than about 1 MiB of one service",
       Whole(1024, 1 << 30, "bytes")});
  def.extra_flags.push_back(
      {"http_cors_origins", "CSTOPA_HTTP_CORS_ORIGINS", "",
       "comma-separated origins (https://example.org) whose pages may call "
       "the HTTP API from a browser, or * for any; empty: none",
       any});
  def.extra_flags.push_back(
      {"http_deadline_ms", "CSTOPA_HTTP_DEADLINE_MS", "10000",
       "deadline of a call made for an HTTP request (streams have none)",
       Millis(10, 600000)});
  def.extra_flags.push_back(
      {"web", "CSTOPA_WEB", "true",
       "serve the public web pages (embedded from web/ at build time) on "
       "the HTTP front door at / and every path outside the API; false: "
       "those paths are 404",
       CheckBool});
  def.create = [](const common::ServiceContext& ctx)
      -> absl::StatusOr<std::unique_ptr<common::ServiceInstance>> {
    auto flag = [&](const char* name) { return ctx.flags.at(name); };
    auto millis = [&](const char* name) {
      int64_t ms = 0;
      (void)absl::SimpleAtoi(flag(name), &ms);
      return absl::Milliseconds(ms);
    };
    BreakerOptions breaker;
    breaker.open_for = millis("breaker_open_ms");
    breaker.max_open_for = breaker.open_for * 16;
    auto tls = BackendTls(ctx.flags);
    if (!tls.ok()) return tls.status();
    int64_t batches = 0;
    (void)absl::SimpleAtoi(flag("backend_batches"), &batches);
    auto backends = Backends::Connect(
        {flag("membership_target"), flag("legislation_target"),
         flag("events_target"), flag("monitoring_target")},
        breaker, std::move(*tls), static_cast<int>(batches));
    if (!backends.ok()) return backends.status();
    GatewayOptions options;
    options.page_tokens = ctx.page_tokens;
    options.default_deadline = millis("default_deadline_ms");
    options.backend_margin = millis("backend_margin_ms");
    options.coalesce = flag("coalesce") == "true";
    ViewCache::Options cache;
    cache.enabled = flag("view_cache") == "true";
    int64_t mb = 64;
    (void)absl::SimpleAtoi(flag("view_cache_mb"), &mb);
    cache.max_bytes = static_cast<size_t>(mb) << 20;
    GatewayInstance::HttpFlags http;
    http.listen = flag("http_listen");
    int64_t threads = 2;
    (void)absl::SimpleAtoi(flag("http_threads"), &threads);
    http.threads = static_cast<int>(threads);
    int64_t max_body = 1 << 20;
    (void)absl::SimpleAtoi(flag("http_max_body_bytes"), &max_body);
    http.max_body_bytes = static_cast<size_t>(max_body);
    for (absl::string_view origin :
         absl::StrSplit(flag("http_cors_origins"), ',', absl::SkipWhitespace()))
      http.api.cors_origins.emplace_back(absl::StripAsciiWhitespace(origin));
    http.api.deadline = millis("http_deadline_ms");
    http.api.web_pages = flag("web") == "true";
    return std::make_unique<GatewayInstance>(std::move(*backends), options,
                                             millis("names_refresh_ms"), cache,
                                             std::move(http));
  };
  return def;
}

}  // namespace cstopa::gateway
