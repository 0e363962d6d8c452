// Which pipelines a reload starts, stops, restarts or leaves running.
#include "runtime/reload_plan.h"

#include <catch2/catch.hpp>

namespace sluice {
namespace {

Config Base() {
  Config c;
  c.file = "sluice.yaml";
  c.sources.push_back({"shop", "postgres", {{"dsn", "host=db"}}, {}});
  c.sinks.push_back({"out", "stdout", {}, {}});
  c.sinks.push_back({"cache", "redis", {{"url", "redis://r"}}, {}});
  for (const char* name : {"orders", "users", "items"}) {
    PipelineConfig p;
    p.name = name;
    p.source = "shop";
    p.tables = {{"public", name}};
    p.sinks = {{"out", "", {}, {}}};
    c.pipelines.push_back(p);
  }
  c.pipelines[2].sinks = {{"cache", "items", {}, {}}};
  return c;
}

}  // namespace

TEST_CASE("ReloadPlan: only what a pipeline runs with counts", "[unit][reload]") {
  Config running = Base();
  Config next = Base();
  next.pipelines[0].where = {"sluice.yaml", 40, 3};          // moved in the file
  next.pipelines[0].readiness.ready_during_snapshot = true;  // taken at once
  next.shutdown_timeout = std::chrono::seconds(5);
  next.pipelines[1].transforms.push_back({});      // users: a transform added
  next.sinks[1].options["url"] = "redis://other";  // items: its sink's entry changed
  PipelineConfig added;
  added.name = "audit";
  added.source = "shop";
  added.tables = {{"public", "audit"}};
  added.sinks = {{"out", "", {}, {}}};
  next.pipelines.push_back(added);
  next.http_listen = "127.0.0.1:9999";

  ReloadPlan plan = PlanReload(running, next);
  CHECK(plan.unchanged == std::vector<std::string>{"orders"});
  CHECK(plan.changed == std::vector<std::string>{"users", "items"});
  CHECK(plan.added == std::vector<std::string>{"audit"});
  CHECK(plan.removed.empty());
  CHECK(plan.needs_restart == std::vector<std::string>{"http.listen"});

  ReloadPlan back = PlanReload(next, running);
  CHECK(back.removed == std::vector<std::string>{"audit"});
  CHECK(back.changed == std::vector<std::string>{"users", "items"});
}

TEST_CASE("ReloadPlan: source options, batch limits and the source entry restart a pipeline",
          "[unit][reload]") {
  Config running = Base();
  Config next = Base();
  next.pipelines[0].source_options["slot"] = "mine";
  CHECK(PlanReload(running, next).changed == std::vector<std::string>{"orders"});
  next = Base();
  next.sources[0].options["dsn"] = "host=other";
  CHECK(PlanReload(running, next).changed.size() == 3);
  next = Base();
  next.batch_max_changes = 7;
  CHECK(PlanReload(running, next).unchanged.empty());
  CHECK(PlanReload(running, Base()).unchanged.size() == 3);
}

}  // namespace sluice
