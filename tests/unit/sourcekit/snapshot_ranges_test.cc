#include "sourcekit/snapshot_ranges.h"

#include <catch2/catch.hpp>

namespace sluice {
namespace {

SnapshotRecord WithPlan() {
  SnapshotRecord record;
  record.tables_done = {"public.a"};
  TablePlan plan;
  plan.key = {"id"};
  plan.bounds = {{"100"}, {"200"}};  // three ranges
  record.plans["public.b"] = plan;
  return record;
}

}  // namespace

TEST_CASE("SnapshotRanges: the last range finishes the table and drops its plan",
          "[unit][sourcekit]") {
  SnapshotRecord st = WithPlan();
  MarkRangeDone(&st, "public.b", 0, 10);
  MarkRangeDone(&st, "public.b", 2, 5);
  CHECK(st.tables_done.count("public.b") == 0);
  MarkRangeDone(&st, "public.b", 2, 5);  // recorded twice: still two of three
  CHECK(st.plans.at("public.b").done.size() == 2);
  MarkRangeDone(&st, "public.b", 1, 7);
  CHECK(st.tables_done.count("public.b") == 1);
  CHECK(st.plans.count("public.b") == 0);
  MarkRangeDone(&st, "public.b", 1, 7);  // a finished table stays finished
  CHECK(st.plans.count("public.b") == 0);
}

TEST_CASE("SnapshotRanges: tokens cover the ranges handed on, in order", "[unit][sourcekit]") {
  HandedOnRanges handed;
  CHECK(handed.Add({"public.b", 2, 5}) == 1);
  CHECK(handed.Add({"public.c", 0, 9}) == 2);
  CHECK(handed.Add({"public.b", 0, 10}) == 3);
  auto first_two = handed.Between(0, 2);
  REQUIRE(first_two.size() == 2);
  CHECK(first_two[0].table == "public.b");
  CHECK(first_two[1].table == "public.c");
  CHECK(handed.Between(2, 2).empty());
  CHECK(handed.Between(1, 99).size() == 2);  // clamped to what was handed on
  CHECK(handed.Of("public.b") == std::map<size_t, int64_t>{{0, 10}, {2, 5}});
}

TEST_CASE("SnapshotRanges: what is left to read skips recorded and handed-on ranges",
          "[unit][sourcekit]") {
  SnapshotRecord st = WithPlan();
  MarkRangeDone(&st, "public.b", 1, 7);
  HandedOnRanges handed;
  CHECK(NeedsReading(st, handed, "public.b"));
  CHECK_FALSE(NeedsReading(st, handed, "public.a"));  // done
  CHECK(NeedsReading(st, handed, "public.new"));      // no plan yet
  handed.Add({"public.b", 0, 10});
  RangesLeft left = LeftOf(st.plans.at("public.b"), handed.Of("public.b"));
  CHECK(left.to_read == std::vector<size_t>{2});
  CHECK(left.rows == 17);
  CHECK(left.ranges_done == 2);
  handed.Add({"public.b", 2, 5});
  CHECK_FALSE(NeedsReading(st, handed, "public.b"));  // on its way to the sinks
}

TEST_CASE("SnapshotRanges: the record survives a state document", "[unit][sourcekit]") {
  SnapshotRecord st = WithPlan();
  MarkRangeDone(&st, "public.b", 1, 42);
  nlohmann::json doc = {{"other", 1}};
  WriteSnapshotRecord(st, &doc);
  SnapshotRecord back = ReadSnapshotRecord(nlohmann::json::parse(doc.dump()));
  CHECK(back.tables_done == st.tables_done);
  REQUIRE(back.plans.count("public.b") == 1);
  CHECK(back.plans.at("public.b").bounds == st.plans.at("public.b").bounds);
  CHECK(back.plans.at("public.b").done == std::map<size_t, int64_t>{{1, 42}});
  CHECK(ReadSnapshotRecord(nlohmann::json::object()).plans.empty());
  auto bad =
      nlohmann::json::parse(R"({"snapshot":{"t":{"key":["id"],"bounds":[],"done":{"3":1}}}})");
  CHECK_THROWS(ReadSnapshotRecord(bad));
}

}  // namespace sluice
