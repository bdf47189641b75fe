// Progress reporting: durations format as H:MM:SS; counting works on a single rank.
#include <gtest/gtest.h>

#include "grlm/core/progress.hpp"
#include "test_support.hpp"

namespace grlm {
namespace {

TEST(Progress, DurationsFormatAsHoursMinutesSeconds) {
  EXPECT_EQ(Progress::format_duration(0), "0:00:00");
  EXPECT_EQ(Progress::format_duration(59.6), "0:01:00");
  EXPECT_EQ(Progress::format_duration(3725), "1:02:05");
  EXPECT_EQ(Progress::format_duration(-3), "0:00:00");
}

TEST(Progress, CountsAndFinishesOnOneRank) {
  Progress progress(test::runtime(), "count", 100, "items", 0.0);
  for (int i = 0; i < 100; ++i) progress.add(1);
  EXPECT_EQ(progress.finish(), 100u);
  EXPECT_EQ(progress.finish(), 100u);  // a second finish changes nothing
}

}  // namespace
}  // namespace grlm
