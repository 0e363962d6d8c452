// AppliedState: replays the stdout sink's JSON lines the way an idempotent consumer does
// (per key, a change applies only if its position is not older than the one applied), so a
// test can compare the result with the table.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice::test {

struct AppliedState {
  // "schema.table" -> key (JSON text of the key object) -> row (every value as text).
  std::map<std::string, std::map<std::string, std::map<std::string, std::string>>> tables;
  size_t lines = 0;
  size_t reads = 0;                     // snapshot rows seen
  std::vector<nlohmann::json> changes;  // every parsed line, in file order
};

// Parses the file; a torn final line (no newline) is ignored, as are torn lines a crash
// left in the middle (they were never reported durable, and their data comes again).
AppliedState ApplyJsonLines(const std::string& path);

// A value as text the way the database prints it for simple types: strings as is, numbers
// as their JSON text, null as "NULL".
std::string AsText(const nlohmann::json& v);

// Rows of `table` from the database side, by `SELECT <cols> ... ORDER BY key`, each value as
// text; keyed like AppliedState (key object JSON, built from `key_columns`).
std::map<std::string, std::map<std::string, std::string>> TableAsText(
    class TestDb& db, const std::string& table, const std::vector<std::string>& columns,
    const std::vector<std::string>& key_columns);

}  // namespace sluice::test
