#include "connectors/postgres/source_state.h"

#include <nlohmann/json.hpp>

namespace sluice::pg {

int64_t TablePlan::rows_done() const {
  int64_t n = 0;
  for (const auto& [range, rows] : done) n += rows;
  return n;
}

void MarkRangeDone(SourceState* state, const std::string& table, size_t range, int64_t rows) {
  if (state->tables_done.count(table)) return;
  auto it = state->plans.find(table);
  if (it == state->plans.end()) return;
  it->second.done[range] = rows;
  if (it->second.done.size() < it->second.ranges()) return;
  state->tables_done.insert(table);
  state->plans.erase(it);
}

std::string SerializeState(const SourceState& state) {
  nlohmann::json j;
  j["slot"] = state.slot;
  j["slot_created"] = state.slot_created;
  j["snapshot_lsn"] = state.snapshot_lsn;
  j["tables_done"] = state.tables_done;
  nlohmann::json plans = nlohmann::json::object();
  for (const auto& [table, plan] : state.plans) {
    nlohmann::json done = nlohmann::json::object();
    for (const auto& [range, rows] : plan.done) done[std::to_string(range)] = rows;
    plans[table] = {{"key", plan.key},
                    {"ranges", plan.ranges()},
                    {"bounds", plan.bounds},
                    {"done", std::move(done)}};
  }
  j["snapshot"] = std::move(plans);
  return j.dump(2) + "\n";
}

namespace {

TablePlan ParsePlan(const nlohmann::json& j) {
  TablePlan plan;
  plan.key = j.at("key").get<std::vector<std::string>>();
  plan.bounds = j.at("bounds").get<std::vector<std::vector<std::string>>>();
  for (const auto& [range, rows] : j.at("done").items()) {
    size_t r = std::stoul(range);
    if (r >= plan.ranges()) throw std::out_of_range("range " + range + " out of bounds");
    plan.done[r] = rows.get<int64_t>();
  }
  return plan;
}

}  // namespace

Result<SourceState> ParseState(const std::string& text, const std::string& where) {
  SourceState st;
  try {
    auto j = nlohmann::json::parse(text);
    st.slot = j.value("slot", "");
    st.slot_created = j.value("slot_created", false);
    st.snapshot_lsn = j.value("snapshot_lsn", "");
    for (const auto& t : j.value("tables_done", nlohmann::json::array())) {
      st.tables_done.insert(t.get<std::string>());
    }
    const nlohmann::json plans = j.value("snapshot", nlohmann::json::object());
    for (const auto& [table, plan] : plans.items()) st.plans[table] = ParsePlan(plan);
  } catch (const std::exception& e) {  // nlohmann's exceptions, stoul's
    return Status::DataLoss("state file " + where + " is corrupt: " + e.what());
  }
  return st;
}

}  // namespace sluice::pg
