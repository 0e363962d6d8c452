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

}  // namespace
}  // namespace sluice::pg
