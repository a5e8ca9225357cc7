#include "services/events/events_store.h"

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "services/common/store/columns.h"
#include "services/common/base/dates.h"
#include "services/events/embedded_files.h"

namespace cstopa::events {
namespace {

using common::ColumnSpec;
using common::FilterFieldType;
using common::SqlValue;
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

const common::ResourceSpec& Spec() {
  static const common::ResourceSpec* spec = new common::ResourceSpec{
      "events",
      {common::EnumColumn<v1::Event>(
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
       })}};
  return *spec;
}

common::ChangeKind KindOf(common::WriteKind k) {
  switch (k) {
    case common::WriteKind::kCreate:
      return common::ChangeKind::kCreated;
    case common::WriteKind::kUpdate:
      return common::ChangeKind::kUpdated;
    case common::WriteKind::kDelete:
      return common::ChangeKind::kDeleted;
  }
  return common::ChangeKind::kUpdated;
}

}  // namespace

const common::SchemaSpec& EventsSchema() {
  static const common::SchemaSpec* schema = new common::SchemaSpec{
      "events",
      {{1, "init", std::string(kMigration0001Init),
        std::string(kMigration0001InitPostgres)},
       {2, "list_indexes", std::string(kMigration0002ListIndexes),
        std::string(kMigration0002ListIndexesPostgres)}}};
  return *schema;
}

int64_t EffectiveStart(const v1::Event& e) {
  if (e.has_start_time())
    return TimeUtil::TimestampToMicroseconds(e.start_time());
  if (e.dates().has_start_date() && e.dates().start_date().year() > 0)
    return DayStart(common::EarliestDay(e.dates().start_date(), true),
                    ZoneOf(e));
  return kUnknownTime;
}

int64_t EffectiveEnd(const v1::Event& e) {
  if (e.has_end_time()) return TimeUtil::TimestampToMicroseconds(e.end_time());
  absl::TimeZone tz = ZoneOf(e);
  if (e.dates().has_end_date() && e.dates().end_date().year() > 0)
    return DayEnd(common::LatestDay(e.dates().end_date(), true), tz);
  if (e.dates().has_start_date() && e.dates().start_date().year() > 0)
    return DayEnd(common::LatestDay(e.dates().start_date(), true), tz);
  if (e.has_start_time()) {
    absl::CivilDay d = absl::ToCivilDay(
        absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(e.start_time())),
        tz);
    return absl::ToUnixMicros(absl::FromCivil(d + 1, tz)) - 1;
  }
  return kUnknownTime;
}

common::ChangeFeedOptions EventsFeedOptions() {
  common::ChangeFeedOptions o;
  o.table = "event_changes";
  o.lock_key = 0x63737470'65766e74LL;  // "cstpevnt"
  o.token_scope = "cstopa.events.v1.EventsService/WatchEvents";
  return o;
}

EventsStore::EventsStore(common::Database* db,
                         const common::PageTokenCodec* tokens,
                         common::ChangeFeedOptions feed)
    : events_(db, &Spec(), tokens), feed_(db, tokens, std::move(feed)) {
  events_.set_write_hook([this](common::SqlTransaction& tx,
                                common::WriteKind kind, const Message& m) {
    const auto& e = static_cast<const v1::Event&>(m);
    return feed_.Append(tx, KindOf(kind), e.name(), e.SerializeAsString(),
                        TimeUtil::TimestampToMicroseconds(e.update_time()));
  });
}

}  // namespace cstopa::events
