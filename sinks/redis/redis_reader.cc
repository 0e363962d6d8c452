// The redis sink's read path for `sluice verify`: the value users read (GET or HGETALL) and
// its position key, compared with what a change would leave; SCAN over a table's position
// keys for the entries Redis holds.
#include <hiredis/hiredis.h>

#include <map>
#include <nlohmann/json.hpp>

#include "core/scan.h"
#include "sinks/redis/redis_sink.h"
#include "util/json_diff.h"

namespace sluice::redis {

namespace {

using nlohmann::json;

std::string ReplyText(const redisReply* r) {
  if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)) return {};
  return std::string(r->str, r->len);
}

bool IsNil(const redisReply* r) { return !r || r->type == REDIS_REPLY_NIL; }

// The stored value as a JSON object: the JSON text itself, or the hash's fields as strings.
// Null when nothing is stored.
json StoredObject(Format format, const redisReply* r) {
  if (format == Format::kJson) {
    if (IsNil(r)) return nullptr;
    return json::parse(ReplyText(r), nullptr, false);
  }
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return nullptr;
  json out = json::object();
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    out[ReplyText(r->element[i])] = ReplyText(r->element[i + 1]);
  }
  return out;
}

json ExpectedObject(Format format, const Row& row) {
  if (format == Format::kJson) return json::parse(RowJson(row), nullptr, false);
  json out = json::object();
  for (auto& [name, value] : RowHash(row)) out[name] = value;
  return out;
}

// "column price: stored 10, expected 11" for the first member that differs.
std::string FirstDifference(const json& stored, const json& expected) {
  if (!stored.is_object()) return "the stored value is not a JSON object";
  return FirstMemberDifference(stored, expected, "column", "the values differ");
}

std::string KeyText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

class RedisReader : public SinkReader {
 public:
  RedisReader(const RedisSinkOptions& options, const KeyTemplate& key)
      : options_(options),
        key_(key),
        client_(options.url, options.connect_timeout, options.command_timeout) {}

  Result<std::vector<Probe>> Compare(const std::vector<Change>& expected) override {
    SLUICE_RETURN_IF_ERROR(client_.Connect());
    std::vector<ArgList> commands(expected.size() * 2);
    for (size_t i = 0; i < expected.size(); ++i) {
      const Change& c = expected[i];
      std::string key;
      const Row* after = c.after ? &*c.after : nullptr;
      SLUICE_RETURN_IF_ERROR(key_.Render(*c.table, {&c.key, after}, c.key, &key));
      commands[2 * i].Add("GET");
      commands[2 * i].Add(PosKey(options_.meta_prefix, *c.table, key));
      commands[2 * i + 1].Add(options_.format == Format::kJson ? "GET" : "HGETALL");
      commands[2 * i + 1].Add(key);
    }
    std::vector<ReplyPtr> replies;
    SLUICE_RETURN_IF_ERROR(Run(commands, &replies));
    std::vector<Probe> out(expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const Change& c = expected[i];
      std::string pos = ReplyText(replies[2 * i].get());
      json stored = StoredObject(options_.format, replies[2 * i + 1].get());
      bool tombstone = pos.size() > 32 && pos[32] == 'd';
      if (pos.size() >= 32 && pos.compare(0, 32, PositionHex(c.position)) >= 0) {
        out[i].verdict = Verdict::kNewer;
      } else if (stored.is_null()) {
        out[i].verdict = Verdict::kMissing;
        if (tombstone) out[i].detail = "deleted at an older position";
      } else if (!c.after) {
        out[i].verdict = Verdict::kDifferent;
        out[i].detail = "held, but the row does not exist";
      } else {
        json want = ExpectedObject(options_.format, *c.after);
        if (stored != want) {
          out[i].verdict = Verdict::kDifferent;
          out[i].detail = FirstDifference(stored, want);
        } else if (pos.empty() || tombstone) {
          out[i].verdict = Verdict::kDifferent;
          out[i].detail = "the value has no position key";
        }
      }
    }
    return out;
  }

  Status Entries(const TableId& table, const std::vector<std::string>& key_columns, Position before,
                 const std::function<Status(std::vector<HeldEntry>&&)>& page) override {
    SLUICE_RETURN_IF_ERROR(client_.Connect());
    std::string prefix = PosKeyPrefix(options_.meta_prefix, table);
    std::string pattern = GlobEscape(prefix) + "*";
    std::string cursor = "0";
    std::string limit = PositionHex(before);
    // Another sink may keep the same table in this database under other keys.
    std::string ours = key_.FixedPrefix(table);
    do {
      auto scan = client_.Command(
          {"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(options_.scan_count)});
      if (!scan.ok()) return scan.status();
      redisReply* r = scan->get();
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        return Status::Internal("bad SCAN reply");
      cursor = ReplyText(r->element[0]);
      redisReply* keys = r->element[1];
      std::vector<std::string> names;
      for (size_t i = 0; i < keys->elements; ++i) {
        std::string pos_key = ReplyText(keys->element[i]);
        if (pos_key.compare(prefix.size(), ours.size(), ours) != 0) continue;
        names.push_back(pos_key.substr(prefix.size()));
      }
      std::vector<ArgList> commands(names.size() * 2);
      for (size_t i = 0; i < names.size(); ++i) {
        commands[2 * i].Add("GET");
        commands[2 * i].Add(prefix + names[i]);
        commands[2 * i + 1].Add(options_.format == Format::kJson ? "GET" : "HGETALL");
        commands[2 * i + 1].Add(names[i]);
      }
      std::vector<ReplyPtr> replies;
      SLUICE_RETURN_IF_ERROR(Run(commands, &replies));
      std::vector<HeldEntry> entries;
      for (size_t i = 0; i < names.size(); ++i) {
        std::string pos = ReplyText(replies[2 * i].get());
        if (pos.size() < 32 || (pos.size() > 32 && pos[32] == 'd')) continue;  // tombstone
        if (pos.compare(0, 32, limit) >= 0) continue;                          // newer
        json stored = StoredObject(options_.format, replies[2 * i + 1].get());
        HeldEntry e;
        e.name = names[i];
        if (stored.is_object()) {
          for (const std::string& col : key_columns) {
            auto v = stored.find(col);
            if (v == stored.end() || v->is_null()) {
              e.key.clear();
              break;
            }
            e.key.push_back(KeyText(*v));
          }
        }
        entries.push_back(std::move(e));
      }
      if (!entries.empty()) SLUICE_RETURN_IF_ERROR(page(std::move(entries)));
    } while (cursor != "0");
    return Status::Ok();
  }

 private:
  Status Run(const std::vector<ArgList>& commands, std::vector<ReplyPtr>* replies) {
    std::vector<const ArgList*> ptrs;
    for (const ArgList& c : commands) ptrs.push_back(&c);
    SLUICE_RETURN_IF_ERROR(client_.Pipeline(ptrs, replies));
    for (const ReplyPtr& r : *replies) {
      if (r && r->type == REDIS_REPLY_ERROR) {
        return ErrorReplyToStatus(std::string_view(r->str, r->len), "verify read");
      }
    }
    return Status::Ok();
  }

  RedisSinkOptions options_;
  KeyTemplate key_;
  RedisClient client_;
};

}  // namespace

Result<std::unique_ptr<SinkReader>> RedisSink::Reader() {
  return std::unique_ptr<SinkReader>(std::make_unique<RedisReader>(options_, key_));
}

}  // namespace sluice::redis
