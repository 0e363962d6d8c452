// The stdout sink's read path for `sluice verify`, when it writes to a file: the file is
// replayed the way an idempotent consumer applies it (per key, the line with the newest
// position wins; a truncate removes what came before it), keeping for each key only its
// position and where its line starts. Memory grows with the number of keys in the file,
// not with its size.
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/scan.h"
#include "sinks/stdout/stdout_sink.h"
#include "util/change_json.h"

namespace sluice {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string ValueText(const ordered_json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// The key object's values in order, as JoinedKey joins them.
std::string JoinKey(const ordered_json& key) {
  std::vector<std::string> values;
  for (const auto& v : key) values.push_back(ValueText(v));
  return JoinedKey(values);
}

// Bit i set: the key's value i is a JSON literal (number or boolean), not a string.
uint8_t LiteralMask(const ordered_json& key) {
  uint8_t mask = 0;
  size_t i = 0;
  for (const auto& v : key) {
    if (i < 8 && !v.is_string()) mask |= static_cast<uint8_t>(1u << i);
    ++i;
  }
  return mask;
}

ValueKind KindOfLiteral(const std::string& text) {
  if (text == "true" || text == "false") return ValueKind::kBool;
  if (text.find_first_of(".eE") != std::string::npos) return ValueKind::kFloat;
  return ValueKind::kInt;
}

Position LinePosition(const ordered_json& line) {
  auto lsn = Lsn::Parse(line.value("lsn", ""));
  return Position{lsn.value_or(Lsn()), line.value("seq", uint64_t{0})};
}

class FileReader : public SinkReader {
 public:
  explicit FileReader(std::string path) : path_(std::move(path)) {}

  Result<std::vector<Probe>> Compare(const std::vector<Change>& expected) override {
    SLUICE_RETURN_IF_ERROR(Load());
    std::vector<Probe> out(expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const Change& c = expected[i];
      const Entry* e = Find(*c.table, JoinedKey(c.key));
      if (e && e->position >= c.position) {
        out[i].verdict = Verdict::kNewer;
        continue;
      }
      if (!e || e->deleted) {
        out[i].verdict = Verdict::kMissing;
        continue;
      }
      auto stored = LineAt(e->offset);
      if (!stored.ok()) return stored.status();
      std::string line;
      AppendChangeJson(c, &line);
      json want = json::parse(line)["after"];
      json have = (*stored)["after"];
      if (have != want) {
        out[i].verdict = Verdict::kDifferent;
        out[i].detail = "line at byte " + std::to_string(e->offset) + " holds " + have.dump();
      }
    }
    return out;
  }

  Status Entries(const TableId& table, const std::vector<std::string>& key_columns, Position before,
                 const std::function<Status(std::vector<HeldEntry>&&)>& page) override {
    SLUICE_RETURN_IF_ERROR(Load());
    auto t = tables_.find(table.ToString());
    if (t == tables_.end()) return Status::Ok();
    std::vector<HeldEntry> entries;
    for (const auto& [key, e] : t->second) {
      if (e.deleted || e.position >= before) continue;
      HeldEntry h;
      size_t start = 0;
      for (size_t end; (end = key.find('\x1f', start)) != std::string::npos; start = end + 1) {
        h.key.push_back(key.substr(start, end - start));
      }
      if (h.key.size() != key_columns.size()) h.key.clear();
      for (size_t i = 0; i < h.key.size() && i < 8; ++i) {
        h.key_kinds.push_back((e.literals >> i) & 1u ? KindOfLiteral(h.key[i])
                                                     : ValueKind::kString);
      }
      if (h.key_kinds.size() != h.key.size()) h.key_kinds.clear();
      h.name = "line at byte " + std::to_string(e.offset);
      entries.push_back(std::move(h));
      if (entries.size() >= 500) SLUICE_RETURN_IF_ERROR(page(std::exchange(entries, {})));
    }
    if (!entries.empty()) return page(std::move(entries));
    return Status::Ok();
  }

 private:
  struct Entry {
    Position position;
    uint64_t offset = 0;
    bool deleted = false;
    uint8_t literals = 0;  // LiteralMask of the line's key
  };

  const Entry* Find(const TableId& table, const std::string& key) const {
    auto t = tables_.find(table.ToString());
    if (t == tables_.end()) return nullptr;
    auto e = t->second.find(key);
    return e == t->second.end() ? nullptr : &e->second;
  }

  // Replays the file once (verify reads after the pipeline confirmed past its point, so
  // later lines are newer than what it compares).
  Status Load() {
    if (loaded_) return Status::Ok();
    std::ifstream in(path_);
    if (!in) return Status::NotFound("cannot read " + path_);
    std::string line;
    uint64_t offset = 0;
    while (std::getline(in, line)) {
      uint64_t at = offset;
      offset += line.size() + 1;
      if (in.eof()) break;  // a torn last line was never reported durable
      ordered_json j = ordered_json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;  // a torn line a crash left
      std::string table =
          j.value("source", "") + "." + j.value("schema", "") + "." + j.value("table", "");
      Position pos = LinePosition(j);
      auto& keys = tables_[table];
      std::string op = j.value("op", "");
      if (op == "truncate") {
        for (auto& [k, e] : keys) {
          if (e.position < pos) e = Entry{pos, at, true, e.literals};
        }
        continue;
      }
      auto apply = [&](const ordered_json& key, bool deleted) {
        Entry entry{pos, at, deleted, LiteralMask(key)};
        auto [it, fresh] = keys.try_emplace(JoinKey(key), entry);
        if (!fresh && !(pos < it->second.position)) it->second = entry;
      };
      if (j.contains("old_key")) apply(j["old_key"], true);
      apply(j["key"], op == "delete");
    }
    loaded_ = true;
    return Status::Ok();
  }

  Result<json> LineAt(uint64_t offset) {
    std::ifstream in(path_);
    in.seekg(static_cast<std::streamoff>(offset));
    std::string line;
    if (!std::getline(in, line)) return Status::Internal("cannot read " + path_ + " again");
    return json::parse(line, nullptr, false);
  }

  std::string path_;
  bool loaded_ = false;
  // "source.schema.table" -> joined key -> the line that holds it now.
  std::unordered_map<std::string, std::unordered_map<std::string, Entry>> tables_;
};

}  // namespace

Result<std::unique_ptr<SinkReader>> StdoutSink::Reader() {
  if (options_.path.empty()) {
    return Status::NotFound("it writes to standard output, which cannot be read back");
  }
  return std::unique_ptr<SinkReader>(std::make_unique<FileReader>(options_.path));
}

}  // namespace sluice
