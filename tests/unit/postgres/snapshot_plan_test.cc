#include "connectors/postgres/snapshot_plan.h"

#include <catch2/catch.hpp>

namespace sluice::pg {
namespace {

TEST_CASE("SnapshotPlan: large tables are split from a sample, small ones exactly",
          "[unit][postgres][snapshot]") {
  SECTION("a million rows in ranges of 100000: 1% of the blocks") {
    CHECK(SamplePercent(1000000, 100000) == Approx(1.0));
  }
  SECTION("ranges so short that the sample would read much of the table: exact") {
    CHECK(SamplePercent(1000000, 1500) == 0);
    CHECK(SamplePercent(100000, 1000) == 0);
  }
  SECTION("a table of a few ranges: exact") {
    CHECK(SamplePercent(300000, 100000) == 0);
    CHECK(SamplePercent(400000, 100000) > 0);
  }
  SECTION("no estimate (never analyzed): exact") {
    CHECK(SamplePercent(-1, 100000) == 0);
    CHECK(SamplePercent(0, 100000) == 0);
  }
}

TEST_CASE("SnapshotPlan: bounds from a histogram, when it has buckets enough",
          "[unit][postgres][snapshot]") {
  std::vector<std::string> histogram;  // "0" .. "100": 100 equal-frequency buckets
  for (int i = 0; i <= 100; ++i) histogram.push_back(std::to_string(i));
  SECTION("every tenth bound for ten ranges") {
    CHECK(HistogramBounds(histogram, 10) ==
          std::vector<std::string>{"10", "20", "30", "40", "50", "60", "70", "80", "90"});
  }
  SECTION("the nearest bound when the buckets do not divide evenly") {
    CHECK(HistogramBounds(histogram, 3) == std::vector<std::string>{"33", "67"});
  }
  SECTION("at least two buckets a range, or nothing") {
    CHECK(HistogramBounds(histogram, 50).size() == 49);
    CHECK(HistogramBounds(histogram, 51).empty());
  }
  SECTION("one range needs no bound") {
    CHECK(HistogramBounds(histogram, 1).empty());
    CHECK(HistogramBounds(histogram, 0).empty());
    CHECK(HistogramBounds({}, 4).empty());
  }
}

}  // namespace
}  // namespace sluice::pg
