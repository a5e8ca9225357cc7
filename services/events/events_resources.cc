// The events resource declared (services/common/resources/resource.h): its
// filter and order columns (the effective time bounds, states, participants,
// documents, titles), its validation, and the change feed every write logs
// to.
#include "services/events/events_resources.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/base/dates.h"
#include "services/common/query/validation.h"
#include "services/common/resources/watch.h"
#include "services/common/store/columns.h"
#include "services/common/text/search_text.h"
#include "services/events/embedded_files.h"

namespace cstopa::events {
namespace {

using common::ColumnSpec;
using common::FilterFieldType;
using common::Refs;
using common::SqlValue;
using common::Violations;
using google::protobuf::Message;
using google::protobuf::util::TimeUtil;

absl::TimeZone ZoneOf(const v1::Event& e) {
  absl::TimeZone tz = absl::UTCTimeZone();
  if (!e.time_zone().empty() && !absl::LoadTimeZone(e.time_zone(), &tz))
    tz = absl::UTCTimeZone();
  return tz;
}

// 00:00 of the YYYYMMDD `day` in `tz`, in microseconds.
int64_t DayStart(int64_t day, absl::TimeZone tz) {
  absl::CivilDay d(day / 10000, day / 100 % 100, day % 100);
  return absl::ToUnixMicros(absl::FromCivil(d, tz));
}

int64_t DayEnd(int64_t day, absl::TimeZone tz) {
  absl::CivilDay d(day / 10000, day / 100 % 100, day % 100);
  return absl::ToUnixMicros(absl::FromCivil(d + 1, tz)) - 1;
}

// "\nv1\nv2\n" (FilterFieldType::kTextList) of non-empty values.
std::string JoinValues(const std::vector<std::string>& values) {
  std::string out = "\n";
  for (const std::string& v : values) {
    if (v.empty()) continue;
    out += v;
    out += '\n';
  }
  return out;
}

template <typename F>
ColumnSpec ListColumn(const char* name, F get) {
  return {name, FilterFieldType::kTextList, nullptr,
          [get](const Message& m) -> SqlValue {
            return JoinValues(get(static_cast<const v1::Event&>(m)));
          }};
}

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

// Adds a violation unless the local day of `t` lies in [first, last]
// (YYYYMMDD), saying it falls `outside` them.
void CheckTimeWithin(Violations& v, const std::string& field,
                     const google::protobuf::Timestamp& t, absl::TimeZone tz,
                     int64_t first, int64_t last, const std::string& outside) {
  int64_t day = LocalDay(t, tz);
  if (day < first || day > last)
    v.Add(field,
          absl::StrCat("falls on ", day / 10000, "-", day / 100 % 100, "-",
                       day % 100, " in the event's time zone, ", outside));
}

void CheckTimeOnDate(Violations& v, const std::string& field,
                     const google::protobuf::Timestamp& t,
                     const google::type::Date& d, absl::TimeZone tz,
                     const std::string& date_field) {
  CheckTimeWithin(v, field, t, tz, common::EarliestDay(d, true),
                  common::LatestDay(d, true), "outside " + date_field);
}

// The exact times of an event whose start or end day no source states must
// still fit what `dates` says of them (types.proto, DateRange): a start
// after `start_after`, on or before `known_from`, `known_until` and
// `ended_by`; an end on or after `known_from` and `known_until`, on or
// before `ended_by`. (With start_date or end_date, CheckTimeOnDate.)
void CheckTimesAgainstUnstatedBounds(Violations& v, const std::string& p,
                                     const v1::Event& e, absl::TimeZone tz,
                                     bool start_ok, bool end_ok) {
  const cstopa::type::v1::DateRange& r = e.dates();
  const int64_t first_possible = common::EarliestPossibleDay(r);
  const int64_t last_possible = common::LatestPossibleDay(r);
  if (start_ok && e.has_start_time() && !r.has_start_date()) {
    int64_t last = last_possible;
    if (common::DateGiven(r.has_known_from(), r.known_from()))
      last = std::min(last, common::LatestDay(r.known_from(), true));
    if (common::DateGiven(r.has_known_until(), r.known_until()))
      last = std::min(last, common::LatestDay(r.known_until(), true));
    CheckTimeWithin(v, p + "start_time", e.start_time(), tz, first_possible,
                    last,
                    "outside the days dates allows for the start (after "
                    "start_after, by known_from, known_until and ended_by)");
  }
  if (end_ok && e.has_end_time() && !r.has_end_date()) {
    int64_t first = first_possible;
    if (common::DateGiven(r.has_known_from(), r.known_from()))
      first = std::max(first, common::EarliestDay(r.known_from(), true));
    if (common::DateGiven(r.has_known_until(), r.known_until()))
      first = std::max(first, common::EarliestDay(r.known_until(), true));
    CheckTimeWithin(v, p + "end_time", e.end_time(), tz, first, last_possible,
                    "outside the days dates allows for the end (from "
                    "known_from and known_until, by ended_by)");
  }
}

// What Search finds of an event: its titles, summaries, place and
// participants in every language, and the names in English and Russian
// (common::CountryNames) of the state of its place and of the states taking
// part, each once, so that "Kazakhstan" and "Казахстан" find an event that
// names the state only by `states/kz` or KZ; dated by its first day (else
// the local day of its start time).
common::SearchEntry SearchEntryOf(const v1::Event& e) {
  common::SearchEntry entry;
  entry.title = common::PreferredText(e.title());
  common::AppendTexts(e.title(), &entry.text);
  common::AppendTexts(e.summary(), &entry.text);
  common::AppendTexts(e.place().locality(), &entry.text);
  std::vector<std::string> states = {e.place().state(),
                                     e.place().region_code()};
  for (const v1::Participant& p : e.participants()) {
    common::AppendTexts(p.display_name(), &entry.text);
    common::AppendTexts(p.capacity(), &entry.text);
    if (p.kind() == v1::PARTICIPANT_KIND_STATE)
      states.push_back(p.participant());
  }
  std::set<std::string> seen;
  for (const std::string& state : states) {
    std::string names = common::CountryNames(state);
    if (names.empty() || !seen.insert(names).second) continue;
    if (!entry.text.empty()) entry.text.push_back('\n');
    entry.text.append(names);
  }
  if (e.dates().has_start_date()) {
    entry.date = common::SearchDate(e.dates().start_date());
  } else if (e.has_start_time()) {
    entry.date = LocalDay(e.start_time(), ZoneOf(e));
  }
  return entry;
}

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
    CheckTimesAgainstUnstatedBounds(v, p, e, tz, start_ok, end_ok);
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

common::ResourceDecl<v1::Event> EventDecl() {
  common::ResourceDecl<v1::Event> d;
  d.pattern = "events/{event}";
  d.columns = {
      common::EnumColumn<v1::Event>(
          "kind", v1::EventKind_descriptor(),
          [](const v1::Event& e) { return e.kind(); }),
      {"start_time", FilterFieldType::kTimestamp, nullptr,
       [](const Message& m) -> SqlValue {
         return EffectiveStart(static_cast<const v1::Event&>(m));
       },
       true},
      {"end_time", FilterFieldType::kTimestamp, nullptr,
       [](const Message& m) -> SqlValue {
         return EffectiveEnd(static_cast<const v1::Event&>(m));
       },
       true},
      common::StringColumn<v1::Event>(
          "organizer", [](const v1::Event& e) { return e.organizer(); }, true),
      common::StringColumn<v1::Event>(
          "parent_event", [](const v1::Event& e) { return e.parent_event(); },
          true),
      ListColumn("state",
                 [](const v1::Event& e) {
                   std::vector<std::string> out = {e.place().state()};
                   for (const auto& p : e.participants())
                     if (p.kind() == v1::PARTICIPANT_KIND_STATE)
                       out.push_back(p.participant());
                   return out;
                 }),
      ListColumn("participant",
                 [](const v1::Event& e) {
                   std::vector<std::string> out;
                   for (const auto& p : e.participants()) {
                     out.push_back(p.participant());
                     for (const auto& t : p.display_name())
                       out.push_back(t.text());
                   }
                   return out;
                 }),
      ListColumn("document",
                 [](const v1::Event& e) {
                   return std::vector<std::string>(e.documents().begin(),
                                                   e.documents().end());
                 }),
      ListColumn("title", [](const v1::Event& e) {
        std::vector<std::string> out;
        for (const auto& t : e.title()) out.push_back(t.text());
        return out;
      })};
  d.validate = ValidateEvent;
  d.search = [](const v1::Event& e) -> std::optional<common::SearchEntry> {
    return SearchEntryOf(e);
  };
  // Newest first unless the client orders otherwise.
  d.default_order_by = "start_time desc";
  return d;
}

const common::SchemaSpec& EventsSchema() {
  static const common::SchemaSpec* schema =
      new common::SchemaSpec{"events", EmbeddedMigrations()};
  return *schema;
}

// The effective bounds are what the `start_time` and `end_time` filter and
// order columns hold. List filters ask "could the event overlap [A, B]"
// (`start_time <= B AND end_time >= A`), so each bound is the earliest
// possible start and the latest possible end that `dates` allows
// (common::EarliestPossibleDay / LatestPossibleDay), read in the event's
// zone:
//   start: start_time; else 00:00 of the earliest possible first day
//          (dates.start_date's earliest day, or the day after start_after);
//          else kUnknownTime (no start is stated or bounded: `known_from`
//          alone does not bound it from below).
//   end:   end_time; else the last microsecond of dates.end_date's latest
//          day; else of `ended_by` (the day by which it had ended); else,
//          as for every event without a stated end, of the last day it is
//          known to have taken place on: `known_until`, else the start day
//          (dates.start_date, the local day of start_time, else the
//          earliest possible day after start_after), else `known_from`;
//          else kUnknownTime.
//
// An event whose start is unknown but whose end is bounded (a meeting a news
// item reports as held, stored with `ended_by` the item's date) therefore
// starts at kUnknownTime and ends on its `ended_by` day. It is neither lost
// nor placed by a day it was not held on:
//   - overlap filters find it for every range reaching back to on or
//     before its `ended_by` day (it may have taken place on any such day),
//     and never for a range wholly after that day;
//   - `start_time >= X` never matches it (its start is not known to be on
//     or after any day), `start_time <= X` always does;
//   - ordered by `start_time` it sorts with the undated events: last in the
//     default `start_time desc`, first in `start_time`; ordered by
//     `end_time` it sorts by its `ended_by` day.
int64_t EffectiveStart(const v1::Event& e) {
  if (e.has_start_time())
    return TimeUtil::TimestampToMicroseconds(e.start_time());
  const int64_t first = common::EarliestPossibleDay(e.dates());
  // 0: neither start_date nor start_after.
  if (first > 0) return DayStart(first, ZoneOf(e));
  return kUnknownTime;
}

int64_t EffectiveEnd(const v1::Event& e) {
  if (e.has_end_time()) return TimeUtil::TimestampToMicroseconds(e.end_time());
  const absl::TimeZone tz = ZoneOf(e);
  const cstopa::type::v1::DateRange& r = e.dates();
  // end_date, else ended_by: the latest day it could have ended on.
  if (common::DateGiven(r.has_end_date(), r.end_date()) ||
      common::DateGiven(r.has_ended_by(), r.ended_by()))
    return DayEnd(common::LatestPossibleDay(r), tz);
  if (common::DateGiven(r.has_known_until(), r.known_until()))
    return DayEnd(common::LatestDay(r.known_until(), true), tz);
  if (common::DateGiven(r.has_start_date(), r.start_date()))
    return DayEnd(common::LatestDay(r.start_date(), true), tz);
  if (e.has_start_time()) {
    absl::CivilDay d = absl::ToCivilDay(
        absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(e.start_time())),
        tz);
    return absl::ToUnixMicros(absl::FromCivil(d + 1, tz)) - 1;
  }
  if (common::DateGiven(r.has_start_after(), r.start_after()))
    return DayEnd(common::EarliestPossibleDay(r), tz);
  if (common::DateGiven(r.has_known_from(), r.known_from()))
    return DayEnd(common::LatestDay(r.known_from(), true), tz);
  return kUnknownTime;
}

common::ChangeFeedOptions EventsFeedOptions() {
  common::ChangeFeedOptions o;
  o.table = "event_changes";
  o.lock_key = 0x63737470'65766e74LL;  // "cstpevnt"
  o.token_scope = "cstopa.events.v1.EventsService/WatchEvents";
  return o;
}

EventsResources::EventsResources(common::Database* db,
                                 const common::PageTokenCodec* tokens,
                                 const common::ApiKeyStore* keys,
                                 common::ChangeFeedOptions feed)
    : set_(db, tokens, keys),
      feed_(db, tokens, std::move(feed)),
      events_(&set_, EventDecl()) {
  // Each write logs its change in its own transaction, then wakes the feed.
  set_.set_write_hook(common::FeedWriteHook(&feed_));
  set_.set_after_commit([this] { feed_.Notify(); });
}

}  // namespace cstopa::events
