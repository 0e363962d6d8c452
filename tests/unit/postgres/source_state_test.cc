// SourceState: the slot and the snapshot's progress by key range survive the round trip
// through the state file; older and corrupt files.
#include "connectors/postgres/source_state.h"

#include <catch2/catch.hpp>

namespace sluice::pg {
namespace {

SourceState WithPlan() {
  SourceState st;
  st.slot = "sluice_db_p";
  st.slot_created = true;
  st.snapshot_lsn = "0/16B3748";
  st.snapshot.tables_done = {"public.a"};
  TablePlan plan;
  plan.key = {"id", "kind"};
  plan.bounds = {{"100", "x"}, {"200", "it's"}};
  st.snapshot.plans["public.b"] = plan;
  return st;
}

TEST_CASE("SourceState: serialise and parse keep plans, bounds and finished ranges",
          "[unit][postgres]") {
  SourceState st = WithPlan();
  MarkRangeDone(&st.snapshot, "public.b", 1, 42);
  auto back = ParseState(SerializeState(st), "f");
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(back->slot == "sluice_db_p");
  CHECK(back->slot_created);
  CHECK(back->snapshot_lsn == "0/16B3748");
  CHECK(back->snapshot.tables_done == std::set<std::string>{"public.a"});
  REQUIRE(back->snapshot.plans.count("public.b") == 1);
  const TablePlan& plan = back->snapshot.plans.at("public.b");
  CHECK(plan.key == std::vector<std::string>{"id", "kind"});
  CHECK(plan.bounds == st.snapshot.plans.at("public.b").bounds);
  CHECK(plan.ranges() == 3);
  CHECK(plan.done == std::map<size_t, int64_t>{{1, 42}});
  CHECK(plan.rows_done() == 42);
}

TEST_CASE("SourceState: older files and corrupt files", "[unit][postgres]") {
  auto old = ParseState(R"({"slot":"s","slot_created":true,"tables_done":["public.t"]})", "f");
  REQUIRE(old.ok());
  CHECK(old->snapshot.tables_done.count("public.t") == 1);
  CHECK(old->snapshot.plans.empty());
  auto torn =
      ParseState(R"({"slot":"s","snapshot":{"public.t":{"key":["id"],)", "/x/postgres.json");
  CHECK(torn.status().code() == StatusCode::kDataLoss);
  CHECK(torn.status().message().find("/x/postgres.json") != std::string::npos);
  auto bad_range = ParseState(
      R"({"snapshot":{"public.t":{"key":["id"],"bounds":[["5"]],"done":{"7":1}}}})", "f");
  CHECK(bad_range.status().code() == StatusCode::kDataLoss);
}

}  // namespace
}  // namespace sluice::pg
