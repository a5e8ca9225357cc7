#include "services/common/base/dates.h"

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

bool RangeHolds(const cstopa::type::v1::DateRange& range, int64_t day) {
  return EarliestDay(range.start_date(), range.has_start_date()) <= day &&
         day <= LatestDay(range.end_date(), range.has_end_date());
}

google::type::Date DayToDate(int64_t day) {
  google::type::Date d;
  d.set_year(static_cast<int32_t>(day / 10000));
  d.set_month(static_cast<int32_t>(day / 100 % 100));
  d.set_day(static_cast<int32_t>(day % 100));
  return d;
}

}  // namespace cstopa::common
