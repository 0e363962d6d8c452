#include "support/applied_state.h"

#include <sstream>
#include <tuple>

#include "support/test_env.h"

namespace sluice::test {

std::string AsText(const nlohmann::json& v) {
  if (v.is_null()) return "NULL";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "t" : "f";
  return v.dump();
}

namespace {

// (lsn as 64-bit, seq) from a line.
std::pair<uint64_t, uint64_t> PositionOf(const nlohmann::json& c) {
  std::string lsn = c.at("lsn").get<std::string>();
  auto slash = lsn.find('/');
  uint64_t hi = std::stoull(lsn.substr(0, slash), nullptr, 16);
  uint64_t lo = std::stoull(lsn.substr(slash + 1), nullptr, 16);
  return {(hi << 32) | lo, c.at("seq").get<uint64_t>()};
}

}  // namespace

AppliedState ApplyJsonLines(const std::string& path) {
  AppliedState st;
  std::string text = ReadFile(path);
  std::map<std::string, std::map<std::string, std::pair<uint64_t, uint64_t>>> applied_at;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;  // torn final line
    std::string line = text.substr(start, nl - start);
    start = nl + 1;
    if (line.empty()) continue;
    auto c = nlohmann::json::parse(line, nullptr, false);
    if (c.is_discarded()) continue;  // torn by a crash, never reported durable
    ++st.lines;
    st.changes.push_back(c);
    std::string table = c["schema"].get<std::string>() + "." + c["table"].get<std::string>();
    std::string op = c["op"].get<std::string>();
    auto pos = PositionOf(c);
    auto& rows = st.tables[table];
    auto& at = applied_at[table];
    if (op == "read") ++st.reads;
    if (op == "truncate") {
      rows.clear();
      continue;
    }
    if (c.contains("old_key")) {
      std::string old = c["old_key"].dump();
      if (!at.count(old) || at[old] <= pos) {
        rows.erase(old);
        at[old] = pos;
      }
    }
    std::string key = c["key"].dump();
    if (at.count(key) && pos < at[key]) continue;  // older than what we hold: idempotent skip
    at[key] = pos;
    if (op == "delete") {
      rows.erase(key);
      continue;
    }
    std::map<std::string, std::string> row =
        rows.count(key) ? rows[key] : std::map<std::string, std::string>{};
    for (auto& [col, v] : c["after"].items()) row[col] = AsText(v);
    rows[key] = row;
  }
  return st;
}

std::map<std::string, std::map<std::string, std::string>> TableAsText(
    TestDb& db, const std::string& table, const std::vector<std::string>& columns,
    const std::vector<std::string>& key_columns) {
  std::string cols;
  for (const auto& c : columns) cols += (cols.empty() ? "" : ", ") + c + "::text";
  std::string keys;
  for (const auto& k : key_columns) keys += (keys.empty() ? "" : ", ") + k;
  auto rows = db.Query("SELECT " + cols + " FROM " + table + " ORDER BY " + keys);
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& r : rows) {
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < columns.size(); ++i) row[columns[i]] = r[i];
    nlohmann::json key = nlohmann::json::object();
    for (const auto& k : key_columns) {
      size_t idx = 0;
      while (columns[idx] != k) ++idx;
      // Keys in the stdout line keep their JSON type: integers are numbers.
      const std::string& v = r[idx];
      bool numeric = !v.empty() && v.find_first_not_of("-0123456789") == std::string::npos;
      key[k] = numeric ? nlohmann::json::parse(v) : nlohmann::json(v);
    }
    out[key.dump()] = row;
  }
  return out;
}

}  // namespace sluice::test
