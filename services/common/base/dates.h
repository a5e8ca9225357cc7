// Calendar days as YYYYMMDD integers, the form the stores keep dates in so
// that "as of" and date-range filters are integer comparisons.
//
// A partial date (a year, or a year and month; see google.type.Date) covers
// every day it could mean: its earliest day opens a range, its latest closes
// one, so a fact dated "2022" holds on every day of 2022.
//
//   int64_t from = EarliestDay(range.start_date(), range.has_start_date());
//   if (RangeHolds(range, 20240522)) ...
#ifndef CSTOPA_SERVICES_COMMON_BASE_DATES_H_
#define CSTOPA_SERVICES_COMMON_BASE_DATES_H_

#include <cstdint>

#include "cstopa/type/v1/types.pb.h"
#include "google/type/date.pb.h"

namespace cstopa::common {

// The earliest day `d` can mean; 0 when absent (`present` false) or yearless.
int64_t EarliestDay(const google::type::Date& d, bool present);
// The latest day `d` can mean; 99991231 when absent or yearless.
int64_t LatestDay(const google::type::Date& d, bool present);
// Whether `range` holds on `day`, reading partial bounds widely and absent
// bounds as open.
bool RangeHolds(const cstopa::type::v1::DateRange& range, int64_t day);
// YYYYMMDD back to a full google.type.Date.
google::type::Date DayToDate(int64_t day);
// Days in `month` (1-12) of `year`, leap years included.
int DaysInMonth(int year, int month);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_BASE_DATES_H_
