// Dated facts on a day: held, not held, or not known (DateRange semantics).
#include "services/common/base/dates.h"

#include "gtest/gtest.h"

namespace cstopa::common {
namespace {

using cstopa::type::v1::DateRange;

google::type::Date D(int y, int m = 0, int d = 0) {
  google::type::Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

TEST(RangeOnTest, StatedBoundsReadPartialDatesWidely) {
  DateRange r;
  *r.mutable_start_date() = D(2022);
  *r.mutable_end_date() = D(2024, 5);
  EXPECT_EQ(RangeOn(r, 20211231), DayFact::kNotHeld);
  EXPECT_EQ(RangeOn(r, 20220101), DayFact::kHeld);
  EXPECT_EQ(RangeOn(r, 20240531), DayFact::kHeld);
  EXPECT_EQ(RangeOn(r, 20240601), DayFact::kNotHeld);
  // Absent bounds are open: held on every day.
  EXPECT_EQ(RangeOn(DateRange(), 10101), DayFact::kHeld);
  EXPECT_TRUE(RangeHolds(DateRange(), 99991231));
}

TEST(RangeOnTest, BeforeTheFirstSourceOfAnUnstatedStartIsNotKnown) {
  // First attested by a source of 19 May 2022; no source says since when.
  DateRange r;
  *r.mutable_known_from() = D(2022, 5, 19);
  EXPECT_EQ(RangeOn(r, 20220518), DayFact::kNotKnown);
  EXPECT_FALSE(RangeHolds(r, 20220518));
  EXPECT_EQ(RangeOn(r, 20220519), DayFact::kHeld);
  EXPECT_EQ(RangeOn(r, 20261207), DayFact::kHeld);  // still in effect
  EXPECT_EQ(FirstDayHeld(r), 20220519);
  EXPECT_EQ(EarliestPossibleDay(r), 0);
}

TEST(RangeOnTest, AChairmanshipAttestedOnOneDayAndOneThatPassesLater) {
  // Seed 004 (29 August 2025): Kyrgyzstan holds it; it will pass to Russia.
  DateRange holder;
  *holder.mutable_known_from() = D(2025, 8, 29);
  *holder.mutable_known_until() = D(2025, 8, 29);
  DateRange next;
  *next.mutable_start_after() = D(2025, 8, 29);
  EXPECT_EQ(RangeOn(holder, 20250828), DayFact::kNotKnown);
  EXPECT_EQ(RangeOn(holder, 20250829), DayFact::kHeld);
  EXPECT_EQ(RangeOn(holder, 20250830), DayFact::kNotKnown);
  EXPECT_EQ(RangeOn(next, 20250829), DayFact::kNotHeld);
  EXPECT_EQ(RangeOn(next, 20250830), DayFact::kNotKnown);
  EXPECT_EQ(RangeOn(next, 20301231), DayFact::kNotKnown);
  // Never two holders known on one day.
  for (int64_t day : {20240101, 20250829, 20250830, 20260101})
    EXPECT_FALSE(RangeHolds(holder, day) && RangeHolds(next, day)) << day;
}

TEST(RangeOnTest, AMeetingReportedAsOverEndedByTheReport) {
  // "Has concluded", reported on 29 August 2025, held in 2025.
  DateRange r;
  *r.mutable_start_date() = D(2025);
  *r.mutable_ended_by() = D(2025, 8, 29);
  EXPECT_EQ(RangeOn(r, 20241231), DayFact::kNotHeld);
  EXPECT_EQ(RangeOn(r, 20250301), DayFact::kNotKnown);
  EXPECT_EQ(RangeOn(r, 20250829), DayFact::kNotKnown);
  EXPECT_EQ(RangeOn(r, 20250830), DayFact::kNotHeld);
  EXPECT_EQ(LatestPossibleDay(r), 20250829);
  // A partial start_after's whole period is before the start.
  DateRange later;
  *later.mutable_start_after() = D(2025);
  EXPECT_EQ(RangeOn(later, 20251231), DayFact::kNotHeld);
  EXPECT_EQ(RangeOn(later, 20260101), DayFact::kNotKnown);
}

TEST(RangeOnTest, AStatedFirstDayHoldsThoughTheEndIsOnlyBounded) {
  // Arrived on 6 January 2022, withdrawn by the end of the month.
  DateRange r;
  *r.mutable_start_date() = D(2022, 1, 6);
  *r.mutable_ended_by() = D(2022, 1);
  EXPECT_EQ(RangeOn(r, 20220105), DayFact::kNotHeld);
  EXPECT_EQ(RangeOn(r, 20220106), DayFact::kHeld);
  EXPECT_EQ(RangeOn(r, 20220107), DayFact::kNotKnown);
  EXPECT_EQ(RangeOn(r, 20220201), DayFact::kNotHeld);
}

TEST(RangeOnTest, AFigureAttestedTwiceIsNotKnownBetweenItsSources) {
  // 6 seats in a source of May 2022, 7 in one of 2024: the 6 ended by 2024.
  DateRange six;
  *six.mutable_known_from() = D(2022, 5, 19);
  *six.mutable_known_until() = D(2022, 5, 19);
  *six.mutable_ended_by() = D(2024);
  EXPECT_EQ(RangeOn(six, 20220519), DayFact::kHeld);
  EXPECT_EQ(RangeOn(six, 20230601), DayFact::kNotKnown);
  EXPECT_EQ(RangeOn(six, 20250101), DayFact::kNotHeld);
  EXPECT_EQ(LastDayHeld(six), 20220519);
}

TEST(KnowledgeOfTest, NotKnownOnlyWhenNothingHeldAndSomethingUnknown) {
  using cstopa::type::v1::AS_OF_KNOWLEDGE_KNOWN;
  using cstopa::type::v1::AS_OF_KNOWLEDGE_NOT_KNOWN;
  EXPECT_EQ(KnowledgeOf(true, true), AS_OF_KNOWLEDGE_KNOWN);
  EXPECT_EQ(KnowledgeOf(false, false), AS_OF_KNOWLEDGE_KNOWN);
  EXPECT_EQ(KnowledgeOf(false, true), AS_OF_KNOWLEDGE_NOT_KNOWN);
}

}  // namespace
}  // namespace cstopa::common
