#include "sinks/redis/redis_sink.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "sinks/redis/redis_script.h"
#include "util/redact.h"

namespace sluice::redis {

// One script call: its arguments and, per record, the change it came from.
struct RedisSink::Chunk {
  ArgList args;
  std::vector<size_t> record_change;                    // record i (0-based) -> change index
  std::vector<std::pair<size_t, std::string>> rejects;  // changes rejected while building
  std::vector<const TableId*> tables;                   // the call's table list
  size_t begin = 0;
  size_t end = 0;  // changes [begin, end)
};

namespace {
constexpr const char* kItems = "sluice_sink_items_total";
constexpr const char* kItemsHelp = "Changes the sink settled, by result";
}  // namespace

RedisSinkMetrics::RedisSinkMetrics(const MetricScope& m)
    : requests(m.GetCounter("sluice_sink_requests_total", "Requests sent to the target")),
      applied(m.GetCounter(kItems, kItemsHelp, {{"result", "applied"}})),
      skipped(m.GetCounter(kItems, kItemsHelp, {{"result", "already_applied"}})),
      partial(m.GetCounter(kItems, kItemsHelp, {{"result", "partial"}})),
      dead_lettered(m.GetCounter("sluice_sink_dead_letters_total",
                                 "Changes sent to the dead-letter destination")),
      truncated(m.GetCounter("sluice_sink_truncated_keys_total", "Keys removed by truncates")) {}

RedisSink::RedisSink(std::string pipeline, std::string name, RedisSinkOptions options,
                     KeyTemplate key, DeadLetters* dead_letters, const MetricScope& metrics)
    : pipeline_(std::move(pipeline)),
      name_(std::move(name)),
      options_(std::move(options)),
      key_(std::move(key)),
      dead_letters_(dead_letters),
      client_(options_.url, options_.connect_timeout, options_.command_timeout),
      metrics_(metrics) {}

Status RedisSink::Open() { return EnsureReady(); }

Status RedisSink::Check() {
  SLUICE_RETURN_IF_ERROR(client_.Connect());
  auto r = client_.Command({"PING"});
  client_.Close();
  return r.ok() ? Status::Ok() : r.status();
}

Status RedisSink::CheckSchema(const std::vector<TableSchema>& tables) {
  for (const TableSchema& t : tables) {
    for (const std::string& col : key_.Columns()) {
      auto has = [&](const std::vector<std::string>& v) {
        return std::find(v.begin(), v.end(), col) != v.end();
      };
      if (!has(t.columns) && !has(t.key_columns)) {
        return Status::InvalidArgument("key template \"" + key_.text() + "\" names column " + col +
                                       ", which " + t.table.ToString() +
                                       " does not carry to this sink");
      }
    }
  }
  return Status::Ok();
}

Status RedisSink::EnsureReady() {
  SLUICE_RETURN_IF_ERROR(client_.Connect());
  if (sha_.empty()) SLUICE_RETURN_IF_ERROR(LoadScript());
  return Status::Ok();
}

Status RedisSink::LoadScript() {
  auto r = client_.Command({"SCRIPT", "LOAD", kApplyScript});
  if (!r.ok() && r.status().code() == StatusCode::kInternal) {
    // Redis before 7 does not know the "#!lua" line.
    r = client_.Command({"SCRIPT", "LOAD", ApplyScriptWithoutShebang()});
  }
  if (!r.ok()) return r.status();
  if ((*r)->type != REDIS_REPLY_STRING) return Status::Internal("SCRIPT LOAD returned no SHA");
  sha_.assign((*r)->str, (*r)->len);
  return Status::Ok();
}

Result<ReplyPtr> RedisSink::EvalSha(ArgList& args) {
  // args starts with "EVALSHA", sha, "0": a server that restarted or ran SCRIPT FLUSH has
  // forgotten the script, so load it again and retry once.
  for (int attempt = 0;; ++attempt) {
    std::vector<ReplyPtr> replies;
    SLUICE_RETURN_IF_ERROR(client_.Pipeline({&args}, &replies));
    ++stats_.script_calls;
    metrics_.requests.Add();
    redisReply* reply = replies[0].get();
    if (reply->type != REDIS_REPLY_ERROR) return std::move(replies[0]);
    Status s = ErrorReplyToStatus(std::string_view(reply->str, reply->len),
                                  "Redis " + client_.url().ToString() + " script");
    if (s.code() != StatusCode::kNotFound || attempt > 0) return s;
    SLUICE_RETURN_IF_ERROR(LoadScript());
    // Rebuild the header in place: the SHA is the second argument and does not change
    // length (40 hex digits), but replace the whole list to stay simple and safe.
    ArgList rebuilt;
    rebuilt.Add("EVALSHA");
    rebuilt.Add(sha_);
    for (size_t i = 2; i < args.size(); ++i) rebuilt.Add(args.at(i));
    args = std::move(rebuilt);
  }
}

Status RedisSink::DeadLetter(const Change& change, const std::string& reason) {
  ++stats_.dead_lettered;
  metrics_.dead_lettered.Add();
  spdlog::warn("pipeline {} sink {}: dead-lettering a change of {} at {}/{}: {}", pipeline_, name_,
               change.table ? change.table->ToString() : "?", change.position.lsn.ToString(),
               change.position.seq, reason);
  if (!dead_letters_) return Status::Internal("no dead-letter destination for: " + reason);
  return dead_letters_->Write(pipeline_, name_, change, reason);
}

Status RedisSink::BuildKeys(const Change& c, RecordKeys* keys) {
  const Row* after = c.after ? &*c.after : nullptr;
  const Row* before = c.before ? &*c.before : nullptr;
  SLUICE_RETURN_IF_ERROR(key_.Render(*c.table, {&c.key, after, before}, c.key, &keys->key));
  keys->old_key.clear();
  if (c.old_key) {
    std::string old;
    SLUICE_RETURN_IF_ERROR(key_.Render(*c.table, {&*c.old_key, before}, *c.old_key, &old));
    if (old != keys->key) keys->old_key = std::move(old);
  }
  return Status::Ok();
}

Status RedisSink::Write(const Batch& batch) {
  SLUICE_RETURN_IF_ERROR(EnsureReady());
  size_t i = resume_pending_ && resume_batch_ == batch.id ? resume_at_ : 0;
  resume_pending_ = false;
  const auto& changes = batch.changes;
  while (i < changes.size()) {
    size_t done = i;
    Status s;
    if (changes[i].op == Op::kTruncate) {
      s = RunTruncate(changes[i]);
      if (s.ok()) done = i + 1;
    } else {
      size_t end = i;
      while (end < changes.size() && changes[end].op != Op::kTruncate) ++end;
      s = ApplyRange(batch, i, end, &done);
    }
    if (!s.ok()) {
      resume_pending_ = true;
      resume_batch_ = batch.id;
      resume_at_ = done;
      return s;
    }
    i = done;
  }
  return Status::Ok();
}

// The 1-based number of `table` in the chunk's table list, added if missing. Batches hold
// few tables, so a linear search by identity (changes share one TableId) is the fast path.
size_t RedisSink::TableNumber(Chunk& chunk, const TableId* table) {
  for (size_t i = 0; i < chunk.tables.size(); ++i) {
    if (chunk.tables[i] == table || *chunk.tables[i] == *table) return i + 1;
  }
  chunk.tables.push_back(table);
  return chunk.tables.size();
}

void RedisSink::BuildChunk(const Batch& batch, size_t begin, size_t end, Chunk* chunk,
                           Status* error) {
  const std::string ttl = std::to_string(options_.ttl.count());
  const std::string tomb = std::to_string(options_.tombstone_ttl.count());
  // A position outlives its value so that a late replay cannot bring an expired row back
  // before the tombstone time has passed; 0 (forever) wins.
  auto pos_ms = options_.ttl.count() == 0 || options_.tombstone_ttl.count() == 0
                    ? 0
                    : std::max(options_.ttl.count(), options_.tombstone_ttl.count());
  chunk->begin = begin;
  for (std::string_view a :
       {std::string_view("EVALSHA"), std::string_view(sha_), std::string_view("0"),
        std::string_view("apply"), std::string_view(options_.format == Format::kJson ? "j" : "h"),
        std::string_view(ttl), std::string_view(tomb)}) {
    chunk->args.Add(a);
  }
  chunk->args.Add(std::to_string(pos_ms));
  RecordKeys keys;
  size_t i = begin;
  for (; i < end && chunk->record_change.size() < options_.batch_changes; ++i) {
    const Change& c = batch.changes[i];
    Status s = BuildKeys(c, &keys);
    if (s.code() == StatusCode::kRejected) {
      chunk->rejects.emplace_back(i, s.message());
      continue;
    }
    if (!s.ok()) {
      *error = s.WithContext("sink " + name_);
      break;
    }
    AppendRecord(options_.format, c, keys, TableNumber(*chunk, c.table.get()), &chunk->args);
    chunk->record_change.push_back(i);
  }
  AppendTables(options_.meta_prefix, chunk->tables, &chunk->args);
  chunk->end = i;
}

// Keeps up to kInFlight script calls sent and unanswered, so Redis runs one while the next
// is built. Replies are settled in order; `*done` advances past each settled chunk. On any
// failure the connection is closed, which drops the replies still owed: the chunks from
// `*done` on are sent again by the retry, harmlessly (positions make them idempotent).
Status RedisSink::ApplyRange(const Batch& batch, size_t begin, size_t end, size_t* done) {
  constexpr size_t kInFlight = 3;
  std::deque<Chunk> inflight;
  size_t i = begin;
  *done = begin;
  bool reloaded = false;
  auto fail = [&](const Status& s) {
    client_.Close();
    return s;
  };
  while (i < end || !inflight.empty()) {
    if (i < end && inflight.size() < kInFlight) {
      Chunk chunk;
      Status error;
      BuildChunk(batch, i, end, &chunk, &error);
      if (!error.ok()) return fail(error);
      if (!chunk.record_change.empty()) {
        Status sent = client_.Send(chunk.args);
        if (!sent.ok()) return fail(sent);
      }
      i = chunk.end;
      inflight.push_back(std::move(chunk));
      continue;
    }
    Chunk& chunk = inflight.front();
    ReplyPtr reply;
    if (!chunk.record_change.empty()) {
      auto r = client_.Receive();
      if (!r.ok()) return fail(r.status());
      reply = std::move(r).value();
    }
    Status s = SettleChunk(batch, chunk, reply.get());
    if (s.code() == StatusCode::kNotFound && !reloaded) {
      // NOSCRIPT: Redis restarted or its scripts were flushed. Load the script again and
      // send everything unsettled once more.
      reloaded = true;
      client_.Close();
      sha_.clear();
      SLUICE_RETURN_IF_ERROR(EnsureReady());
      inflight.clear();
      i = *done;
      continue;
    }
    if (!s.ok()) return fail(s);
    *done = chunk.end;
    inflight.pop_front();
  }
  return Status::Ok();
}

Status RedisSink::SettleChunk(const Batch& batch, const Chunk& chunk, redisReply* r) {
  if (r) {
    ++stats_.script_calls;
    metrics_.requests.Add();
    if (r->type == REDIS_REPLY_ERROR) {
      return ErrorReplyToStatus(std::string_view(r->str, r->len),
                                "Redis " + client_.url().ToString() + " script");
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
      return Status::Internal("the apply script returned an unexpected reply");
    }
    stats_.applied += static_cast<uint64_t>(r->element[0]->integer);
    stats_.skipped += static_cast<uint64_t>(r->element[1]->integer);
    metrics_.applied.Add(static_cast<uint64_t>(r->element[0]->integer));
    metrics_.skipped.Add(static_cast<uint64_t>(r->element[1]->integer));
    for (size_t n = 2; n + 1 < r->elements; n += 2) {
      auto rec = static_cast<size_t>(r->element[n]->integer) - 1;
      std::string note(r->element[n + 1]->str, r->element[n + 1]->len);
      if (rec >= chunk.record_change.size()) return Status::Internal("bad record in script reply");
      const Change& c = batch.changes[chunk.record_change[rec]];
      if (note == "partial") {
        ++stats_.partial;
        metrics_.partial.Add();
        spdlog::warn(
            "pipeline {} sink {}: {} at {}/{}: an unchanged TOAST column had no stored value to "
            "merge (expired or evicted?); the key was written without it",
            pipeline_, name_, c.table->ToString(), c.position.lsn.ToString(), c.position.seq);
        continue;
      }
      Status s = ErrorReplyToStatus(note, "Redis");
      if (s.code() == StatusCode::kUnavailable) return s;  // e.g. OOM midway: retry the chunk
      SLUICE_RETURN_IF_ERROR(DeadLetter(c, "Redis rejected the change: " + note));
    }
  }
  for (const auto& [index, reason] : chunk.rejects) {
    SLUICE_RETURN_IF_ERROR(DeadLetter(batch.changes[index], reason));
  }
  return Status::Ok();
}

Status RedisSink::RunTruncate(const Change& change) {
  const std::string prefix = PosKeyPrefix(options_.meta_prefix, *change.table);
  const std::string pattern = GlobEscape(prefix) + "*";
  const std::string pos = PositionHex(change.position);
  const std::string tomb = std::to_string(options_.tombstone_ttl.count());
  const std::string mark = MarkKey(options_.meta_prefix, *change.table);
  const std::string plen = std::to_string(prefix.size());
  const std::string count = std::to_string(options_.scan_count);
  // SCAN returns every key present for the whole iteration at least once; a key written
  // meanwhile has a newer position than the truncate and is kept by the position check.
  const std::string_view fmt = options_.format == Format::kJson ? "j" : "h";
  std::string cursor = "0";
  uint64_t removed = 0;
  uint64_t kept = 0;
  do {
    auto scan = client_.Command({"SCAN", cursor, "MATCH", pattern, "COUNT", count});
    if (!scan.ok()) return scan.status();
    redisReply* r = scan->get();
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return Status::Internal("bad SCAN reply");
    cursor.assign(r->element[0]->str, r->element[0]->len);
    ArgList args;
    for (auto a : {std::string_view("EVALSHA"), std::string_view(sha_), std::string_view("0"),
                   std::string_view("purge"), fmt, std::string_view(pos), std::string_view(tomb),
                   std::string_view(mark), std::string_view(plen)}) {
      args.Add(a);
    }
    redisReply* keys = r->element[1];
    for (size_t k = 0; k < keys->elements; ++k) {
      args.Add(std::string_view(keys->element[k]->str, keys->element[k]->len));
    }
    auto purged = EvalSha(args);
    if (!purged.ok()) return purged.status();
    redisReply* counts = purged->get();
    if (counts->type != REDIS_REPLY_ARRAY || counts->elements != 2) {
      return Status::Internal("the purge script returned an unexpected reply");
    }
    removed += static_cast<uint64_t>(counts->element[0]->integer);
    kept += static_cast<uint64_t>(counts->element[1]->integer);
  } while (cursor != "0");
  stats_.truncated += removed;
  metrics_.truncated.Add(removed);
  spdlog::info("pipeline {} sink {}: truncate of {} at {}/{} removed {} keys", pipeline_, name_,
               change.table->ToString(), change.position.lsn.ToString(), change.position.seq,
               removed);
  if (kept > 0) {
    spdlog::warn(
        "pipeline {} sink {}: truncate of {} at {}/{} left {} keys that another program holds "
        "as another type (their positions were removed)",
        pipeline_, name_, change.table->ToString(), change.position.lsn.ToString(),
        change.position.seq, kept);
  }
  return Status::Ok();
}

namespace {

Result<std::unique_ptr<Sink>> CreateRedisSink(const SinkContext& ctx) {
  const Options& o = ctx.options;
  RedisSinkOptions opts;
  auto url = RedisUrl::Parse(o.String("url"));
  if (!url.ok()) return url.status();
  opts.url = std::move(url).value();
  opts.format = o.String("format") == "hash" ? Format::kHash : Format::kJson;
  if (o.Has("ttl")) opts.ttl = o.Duration("ttl");
  opts.tombstone_ttl = o.Duration("tombstone_ttl");
  opts.connect_timeout = o.Duration("connect_timeout");
  opts.command_timeout = o.Duration("command_timeout");
  if (o.Int("batch_changes") < 1)
    return Status::InvalidArgument("batch_changes must be at least 1");
  opts.batch_changes = static_cast<size_t>(o.Int("batch_changes"));
  if (o.Int("scan_count") < 1) return Status::InvalidArgument("scan_count must be at least 1");
  opts.scan_count = static_cast<size_t>(o.Int("scan_count"));
  opts.meta_prefix = o.String("meta_prefix");
  if (opts.ttl.count() < 0 || opts.tombstone_ttl.count() < 0) {
    return Status::InvalidArgument("ttl and tombstone_ttl must not be negative");
  }
  auto key = KeyTemplate::Parse(o.String("key"), ctx.target);
  if (!key.ok()) return key.status();
  return std::unique_ptr<Sink>(std::make_unique<RedisSink>(ctx.pipeline, ctx.sink, std::move(opts),
                                                           std::move(key).value(), ctx.dead_letters,
                                                           ctx.metrics));
}

// OptionSpec::secrets of `url`: what Redact's URL rule sees, and the password as Redis gets
// it, which includes `redis://secret@host` (a password alone, no user).
Result<std::vector<std::string>> RedisUrlSecrets(const std::string& url) {
  std::vector<std::string> out = WrittenSecrets(url);
  auto parsed = RedisUrl::Parse(url);
  if (parsed.ok() && !parsed->password.empty()) {
    size_t start = url.find("://") + 3;
    out.push_back(url.substr(start, url.rfind('@') - start));  // as written: "[user:]secret"
    out.push_back(parsed->password);
  }
  return out;  // an invalid URL is reported when the sink is built
}

std::vector<OptionSpec> RedisOptions() {
  return {
      {"url",
       OptionType::kString,
       "redis://127.0.0.1:6379/0",
       false,
       "redis://[user:password@]host:port/db (put the password in ${ENV})",
       {},
       RedisUrlSecrets},
      {"key", OptionType::kString, "", false,
       "Key template: {column}, {schema}, {table}; default {table}:{key columns joined by :}"},
      {"format",
       OptionType::kEnum,
       "json",
       false,
       "json: a JSON string of the row; hash: one field per column",
       {"json", "hash"}},
      {"ttl", OptionType::kDuration, "", false, "Expire values this long after their last change"},
      {"tombstone_ttl", OptionType::kDuration, "24h", false,
       "How long a deleted or truncated key's position is kept (0: forever)"},
      {"connect_timeout", OptionType::kDuration, "5s", false, "Connect timeout"},
      {"command_timeout", OptionType::kDuration, "10s", false, "Timeout of each command"},
      {"batch_changes", OptionType::kInt, "200", false,
       "Changes per script call; up to 3 calls are in flight at once"},
      {"scan_count", OptionType::kInt, "1000", false, "SCAN COUNT per step of a truncate"},
      {"meta_prefix", OptionType::kString, "sluice:", false,
       "Prefix of the sink's own keys (positions, tombstones, truncate markers)"},
  };
}

}  // namespace

void RegisterRedisSink(Registry& registry) {
  for (const char* type : {"redis", "cache"}) {
    SinkPlugin p;
    p.type = type;
    p.description = std::string(type) == "redis"
                        ? "Keeps one Redis key per row (JSON string or hash), never older than "
                          "what Redis already holds"
                        : "Alias of redis";
    p.options = RedisOptions();
    p.create = CreateRedisSink;
    registry.AddSink(std::move(p));
  }
}

}  // namespace sluice::redis
