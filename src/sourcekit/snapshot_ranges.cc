#include "sourcekit/snapshot_ranges.h"

#include <algorithm>
#include <stdexcept>

namespace sluice {

int64_t TablePlan::rows_done() const {
  int64_t n = 0;
  for (const auto& [range, rows] : done) n += rows;
  return n;
}

void MarkRangeDone(SnapshotRecord* record, const std::string& table, size_t range, int64_t rows) {
  if (record->tables_done.count(table)) return;
  auto it = record->plans.find(table);
  if (it == record->plans.end()) return;
  it->second.done[range] = rows;
  if (it->second.done.size() < it->second.ranges()) return;
  record->tables_done.insert(table);
  record->plans.erase(it);
}

void WriteSnapshotRecord(const SnapshotRecord& record, nlohmann::json* doc) {
  (*doc)["tables_done"] = record.tables_done;
  nlohmann::json plans = nlohmann::json::object();
  for (const auto& [table, plan] : record.plans) {
    nlohmann::json done = nlohmann::json::object();
    for (const auto& [range, rows] : plan.done) done[std::to_string(range)] = rows;
    plans[table] = {{"key", plan.key},
                    {"ranges", plan.ranges()},
                    {"bounds", plan.bounds},
                    {"done", std::move(done)}};
  }
  (*doc)["snapshot"] = std::move(plans);
}

namespace {

TablePlan ReadPlan(const nlohmann::json& j) {
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

SnapshotRecord ReadSnapshotRecord(const nlohmann::json& doc) {
  SnapshotRecord record;
  for (const auto& t : doc.value("tables_done", nlohmann::json::array())) {
    record.tables_done.insert(t.get<std::string>());
  }
  const nlohmann::json plans = doc.value("snapshot", nlohmann::json::object());
  for (const auto& [table, plan] : plans.items()) record.plans[table] = ReadPlan(plan);
  return record;
}

uint64_t HandedOnRanges::Add(HandedOnRange range) {
  ranges_.push_back(std::move(range));
  return ranges_.size();
}

std::vector<HandedOnRange> HandedOnRanges::Between(uint64_t from, uint64_t to) const {
  to = std::min<uint64_t>(to, ranges_.size());
  if (to <= from) return {};
  return {ranges_.begin() + static_cast<std::ptrdiff_t>(from),
          ranges_.begin() + static_cast<std::ptrdiff_t>(to)};
}

std::map<size_t, int64_t> HandedOnRanges::Of(const std::string& table) const {
  std::map<size_t, int64_t> out;
  for (const HandedOnRange& r : ranges_) {
    if (r.table == table) out[r.range] = r.rows;
  }
  return out;
}

bool NeedsReading(const SnapshotRecord& record, const HandedOnRanges& handed_on,
                  const std::string& table) {
  if (record.tables_done.count(table)) return false;
  auto plan = record.plans.find(table);
  if (plan == record.plans.end()) return true;
  return !LeftOf(plan->second, handed_on.Of(table)).to_read.empty();
}

RangesLeft LeftOf(const TablePlan& plan, const std::map<size_t, int64_t>& handed_on) {
  RangesLeft left;
  left.rows = plan.rows_done();
  left.ranges_done = plan.done.size();
  for (size_t r = 0; r < plan.ranges(); ++r) {
    if (plan.done.count(r)) continue;
    if (auto it = handed_on.find(r); it != handed_on.end()) {
      left.rows += it->second;
      ++left.ranges_done;
      continue;
    }
    left.to_read.push_back(r);
  }
  return left;
}

}  // namespace sluice
