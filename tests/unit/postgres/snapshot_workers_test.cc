#include "connectors/postgres/snapshot_workers.h"

#include <sched.h>

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace sluice::pg {
namespace {

// The policy of the calling thread.
int Policy() { return sched_getscheduler(0); }

}  // namespace

TEST_CASE("BulkScheduling: SCHED_BATCH while alive, the default policy back after",
          "[unit][postgres]") {
  // On a thread of its own, so the test runner's thread keeps its policy whatever happens;
  // Catch's assertions stay on this thread.
  std::vector<int> seen;
  std::thread([&] {
    seen.push_back(Policy());
    {
      BulkScheduling bulk;
      seen.push_back(Policy());
    }
    seen.push_back(Policy());
  }).join();
  REQUIRE(seen == std::vector<int>{SCHED_OTHER, SCHED_BATCH, SCHED_OTHER});
}

TEST_CASE("BulkScheduling: a thread under another policy is left as it is", "[unit][postgres]") {
  std::vector<int> seen;
  std::thread([&] {
    sched_param param{};
    if (sched_setscheduler(0, SCHED_IDLE, &param) != 0) return;
    seen.push_back(Policy());
    {
      BulkScheduling bulk;
      seen.push_back(Policy());
    }
    seen.push_back(Policy());
  }).join();
  REQUIRE(seen == std::vector<int>{SCHED_IDLE, SCHED_IDLE, SCHED_IDLE});
}

}  // namespace sluice::pg
