#include "services/common/base/dates.h"

#include "absl/time/civil_time.h"

namespace cstopa::common {

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
    return 29;
  return kDays[(month - 1) % 12];
}

int64_t EarliestDay(const google::type::Date& d, bool present) {
  if (!present || d.year() == 0) return 0;
  int month = d.month() == 0 ? 1 : d.month();
  int day = d.day() == 0 ? 1 : d.day();
  return int64_t{d.year()} * 10000 + month * 100 + day;
}

int64_t LatestDay(const google::type::Date& d, bool present) {
  if (!present || d.year() == 0) return 99991231;
  int month = d.month() == 0 ? 12 : d.month();
  int day = d.day() == 0 ? DaysInMonth(d.year(), month) : d.day();
  return int64_t{d.year()} * 10000 + month * 100 + day;
}

bool DateGiven(bool present, const google::type::Date& d) {
  return present && d.year() > 0;
}

namespace {

constexpr int64_t kNever = 99991231;

// The day after `day` (YYYYMMDD).
int64_t NextDay(int64_t day) {
  const absl::CivilDay next =
      absl::CivilDay(day / 10000, day / 100 % 100, day % 100) + 1;
  return next.year() * 10000 + next.month() * 100 + next.day();
}

}  // namespace

int64_t FirstDayHeld(const cstopa::type::v1::DateRange& r) {
  if (DateGiven(r.has_start_date(), r.start_date()))
    return EarliestDay(r.start_date(), true);
  if (DateGiven(r.has_known_from(), r.known_from()))
    return EarliestDay(r.known_from(), true);
  if (DateGiven(r.has_start_after(), r.start_after())) return kNever + 1;
  return 0;
}

int64_t LastDayHeld(const cstopa::type::v1::DateRange& r) {
  if (DateGiven(r.has_end_date(), r.end_date()))
    return LatestDay(r.end_date(), true);
  if (DateGiven(r.has_known_until(), r.known_until()))
    return LatestDay(r.known_until(), true);
  if (DateGiven(r.has_ended_by(), r.ended_by())) {
    // Ended on an unstated day: known to hold only on a stated first day
    // (a fact that began on a day held on it), if the start is one.
    if (DateGiven(r.has_start_date(), r.start_date()) &&
        EarliestDay(r.start_date(), true) == LatestDay(r.start_date(), true))
      return EarliestDay(r.start_date(), true);
    return -1;
  }
  return kNever;
}

int64_t EarliestPossibleDay(const cstopa::type::v1::DateRange& r) {
  if (DateGiven(r.has_start_date(), r.start_date()))
    return EarliestDay(r.start_date(), true);
  if (DateGiven(r.has_start_after(), r.start_after()))
    return NextDay(LatestDay(r.start_after(), true));
  return 0;
}

int64_t LatestPossibleDay(const cstopa::type::v1::DateRange& r) {
  if (DateGiven(r.has_end_date(), r.end_date()))
    return LatestDay(r.end_date(), true);
  if (DateGiven(r.has_ended_by(), r.ended_by()))
    return LatestDay(r.ended_by(), true);
  return kNever;
}

DayFact RangeOn(const cstopa::type::v1::DateRange& range, int64_t day) {
  if (day < EarliestPossibleDay(range) || day > LatestPossibleDay(range))
    return DayFact::kNotHeld;
  if (FirstDayHeld(range) <= day && day <= LastDayHeld(range))
    return DayFact::kHeld;
  return DayFact::kNotKnown;
}

bool RangeHolds(const cstopa::type::v1::DateRange& range, int64_t day) {
  return FirstDayHeld(range) <= day && day <= LastDayHeld(range);
}

cstopa::type::v1::AsOfKnowledge KnowledgeOf(bool any_held, bool any_not_known) {
  return !any_held && any_not_known
             ? cstopa::type::v1::AS_OF_KNOWLEDGE_NOT_KNOWN
             : cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN;
}

google::type::Date DayToDate(int64_t day) {
  google::type::Date d;
  d.set_year(static_cast<int32_t>(day / 10000));
  d.set_month(static_cast<int32_t>(day / 100 % 100));
  d.set_day(static_cast<int32_t>(day % 100));
  return d;
}

}  // namespace cstopa::common
