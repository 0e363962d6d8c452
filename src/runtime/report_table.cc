// `sluice status`: the /status JSON as a fixed-width table, one row per pipeline and sink,
// followed by the reasons a pipeline is not ready.
#include <algorithm>
#include <cstdio>

#include "runtime/report.h"

namespace sluice {

namespace {

using TextRow = std::vector<std::string>;

std::string Number(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_string()) return v.get<std::string>();
  double d = v.get<double>();
  char buf[32];
  if (d == static_cast<double>(static_cast<int64_t>(d))) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", d);
  }
  return buf;
}

double ChangeCount(const nlohmann::json& changes) {
  double n = 0;
  for (const auto& [op, count] : changes.items()) n += count.get<double>();
  return n;
}

std::string Render(const std::vector<TextRow>& rows) {
  std::vector<size_t> width;
  for (const TextRow& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const TextRow& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string StatusTable(const nlohmann::json& status) {
  std::vector<TextRow> rows = {{"PIPELINE", "PHASE", "READY", "LAG_S", "LAG_BYTES", "CONFIRMED",
                                "SINK", "UP", "CHANGES", "ERRORS", "RETRIES", "DEAD", "QUEUED"}};
  std::string notes;
  for (const auto& p : status.value("pipelines", nlohmann::json::array())) {
    const std::string name = p.value("name", "");
    TextRow head = {name,
                    p.value("phase", ""),
                    Number(p["ready"]),
                    Number(p["lag_seconds"]),
                    Number(p["lag_bytes"]),
                    p.value("confirmed_lsn", "").empty() ? "-" : p.value("confirmed_lsn", "")};
    bool first = true;
    for (const auto& s : p.value("sinks", nlohmann::json::array())) {
      TextRow row = first ? head : TextRow(head.size(), "");
      first = false;
      for (const auto& v :
           {nlohmann::json(s.value("name", "")), s["up"], nlohmann::json(ChangeCount(s["changes"])),
            s["errors"], s["retries"], s["dead_letters"], s["queue_batches"]}) {
        row.push_back(Number(v));
      }
      rows.push_back(std::move(row));
    }
    if (first) rows.push_back(head);
    for (const auto& reason : p.value("not_ready", nlohmann::json::array())) {
      notes += name + ": " + reason.get<std::string>() + "\n";
    }
  }
  std::string out = Render(rows);
  if (!notes.empty()) out += "\nnot ready:\n" + notes;
  return out;
}

}  // namespace sluice
