// Calendar days as YYYYMMDD integers, the form the stores keep dates in so
// that "as of" and date-range filters are integer comparisons.
//
// A partial date (a year, or a year and month; see google.type.Date) covers
// every day it could mean: its earliest day opens a range, its latest closes
// one, so a fact dated "2022" holds on every day of 2022.
//
// A DateRange whose start or end no source states keeps what is known of it
// instead (known_from, start_after, known_until, ended_by; see types.proto):
// on a day it then held, did not hold, or the sources do not say.
//
//   int64_t from = EarliestDay(range.start_date(), range.has_start_date());
//   if (RangeHolds(range, 20240522)) ...
//   if (RangeOn(range, 20210101) == DayFact::kNotKnown) ...
#ifndef CSTOPA_SERVICES_COMMON_BASE_DATES_H_
#define CSTOPA_SERVICES_COMMON_BASE_DATES_H_

#include <cstdint>

#include "cstopa/type/v1/types.pb.h"
#include "google/type/date.pb.h"

namespace cstopa::common {

// Whether `d` is given: present, with a year at least (a zero year means
// none).
bool DateGiven(bool present, const google::type::Date& d);
// The earliest day `d` can mean; 0 when absent (`present` false) or yearless.
int64_t EarliestDay(const google::type::Date& d, bool present);
// The latest day `d` can mean; 99991231 when absent or yearless.
int64_t LatestDay(const google::type::Date& d, bool present);
// What the sources say of `range` on `day` (the semantics of every "as of"
// answer; see DateRange in types.proto).
enum class DayFact { kHeld, kNotHeld, kNotKnown };
DayFact RangeOn(const cstopa::type::v1::DateRange& range, int64_t day);
// Whether `range` is known to hold on `day`, reading partial bounds widely
// and absent bounds as open: RangeOn(range, day) == DayFact::kHeld.
bool RangeHolds(const cstopa::type::v1::DateRange& range, int64_t day);
// The days `range` is known to hold are exactly [FirstDayHeld, LastDayHeld]
// (none when the first is after the last): the columns that "as of" list
// filters compare. 0 and 99991231 stand for open ends.
int64_t FirstDayHeld(const cstopa::type::v1::DateRange& range);
int64_t LastDayHeld(const cstopa::type::v1::DateRange& range);
// The days `range` could have held on (HELD or NOT_KNOWN) are exactly
// [EarliestPossibleDay, LatestPossibleDay]: what date-range filters that
// ask "might it overlap" compare.
int64_t EarliestPossibleDay(const cstopa::type::v1::DateRange& range);
int64_t LatestPossibleDay(const cstopa::type::v1::DateRange& range);
// The AsOfKnowledge of an answer built from facts on one day: KNOWN unless
// one of them is kNotKnown and none of the same kind holds (the caller
// decides what "the same kind" is; this folds a sequence of facts).
cstopa::type::v1::AsOfKnowledge KnowledgeOf(bool any_held, bool any_not_known);
// YYYYMMDD back to a full google.type.Date.
google::type::Date DayToDate(int64_t day);
// Days in `month` (1-12) of `year`, leap years included.
int DaysInMonth(int year, int month);

}  // namespace cstopa::common

#endif  // CSTOPA_SERVICES_COMMON_BASE_DATES_H_
