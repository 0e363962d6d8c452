#include "connectors/generate/generate_source.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "util/change_json.h"

namespace sluice::generate {

namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The tables changes are spread over, round robin by transaction: the pipe's selectors,
// with "*" standing for "public" (schema) and "generated" (table).
std::vector<std::shared_ptr<const TableId>> Tables(const SourceContext& ctx) {
  std::vector<std::shared_ptr<const TableId>> out;
  for (const TableSelector& sel : ctx.tables) {
    out.push_back(std::make_shared<const TableId>(
        TableId{ctx.source, sel.schema == "*" ? "public" : sel.schema,
                sel.table == "*" ? "generated" : sel.table}));
  }
  if (out.empty())
    out.push_back(std::make_shared<const TableId>(TableId{ctx.source, "public", "generated"}));
  return out;
}

}  // namespace

Row GeneratedRow(uint64_t id, uint64_t seq, int64_t commit_time_us, uint64_t payload_bytes) {
  std::string payload(payload_bytes, 'x');
  // Vary the payload with the change number so that consecutive values differ.
  std::string stamp = std::to_string(seq);
  payload.replace(0, std::min(stamp.size(), payload.size()), stamp, 0, payload.size());
  Row row;
  row.reserve(6);
  row.push_back({"id", Value::Of(ValueKind::kInt, std::to_string(id))});
  row.push_back({"seq", Value::Of(ValueKind::kInt, std::to_string(seq))});
  row.push_back({"name", Value::Of(ValueKind::kString, "item " + std::to_string(id))});
  row.push_back({"price", Value::Of(ValueKind::kNumeric, std::to_string(seq % 100000 / 100) + "." +
                                                             std::to_string(10 + seq % 90))});
  row.push_back({"payload", Value::Of(ValueKind::kString, std::move(payload))});
  row.push_back({"updated_at", Value::Of(ValueKind::kString, FormatTimestampUs(commit_time_us))});
  return row;
}

GenerateSource::GenerateSource(SourceContext ctx, GenerateOptions options)
    : ctx_(std::move(ctx)),
      options_(options),
      tables_(Tables(ctx_)),
      confirmed_lsn_(ctx_.metrics.GetGauge("sluice_source_confirmed_lsn",
                                           "Highest position confirmed durable in every sink")) {}

Change GenerateSource::MakeChange(uint64_t n, uint64_t txn, uint64_t seq, int64_t commit_time_us) {
  Change c;
  uint64_t id = options_.keys == 0 ? n + 1 : n % options_.keys + 1;
  bool seen = options_.keys != 0 && n >= options_.keys;
  c.table = tables_[txn % tables_.size()];
  c.key = {{"id", Value::Of(ValueKind::kInt, std::to_string(id))}};
  c.position = Position{Lsn(options_.start_lsn.value() + txn), seq};
  c.commit_time_us = commit_time_us;
  c.xid = static_cast<uint32_t>(txn + 1);
  if (options_.delete_every != 0 && (n + 1) % options_.delete_every == 0) {
    c.op = Op::kDelete;
  } else {
    c.op = seen ? Op::kUpdate : Op::kInsert;
    c.after = GeneratedRow(id, n, commit_time_us, options_.payload_bytes);
  }
  return c;
}

bool GenerateSource::Pace(uint64_t n, const std::atomic<bool>& stop) {
  if (options_.rate == 0) return !stop;
  auto due = started_ + std::chrono::microseconds(n * 1000000 / options_.rate);
  while (!stop) {
    auto now = std::chrono::steady_clock::now();
    if (now >= due) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(due - now, std::chrono::milliseconds(50)));
  }
  return false;
}

Status GenerateSource::Run(BatchEmitter& out, const std::atomic<bool>& stop) {
  ctx_.status->Set(SourcePhase::kStreaming, "generating");
  started_ = std::chrono::steady_clock::now();
  const uint64_t per_txn = std::max<uint64_t>(1, options_.transaction_changes);
  Batch batch;
  int64_t commit_time_us = NowUs();
  for (uint64_t n = 0; options_.changes == 0 || n < options_.changes; ++n) {
    if (!Pace(n, stop)) return Status::Cancelled("stopping");
    uint64_t txn = n / per_txn;
    uint64_t seq = n % per_txn;
    if (seq == 0) commit_time_us = NowUs();
    batch.changes.push_back(MakeChange(n, txn, seq, commit_time_us));
    batch.bytes += batch.changes.back().ApproxBytes();
    bool txn_ends = seq + 1 == per_txn || n + 1 == options_.changes;
    if (txn_ends) batch.checkpoint = Checkpoint{Lsn(options_.start_lsn.value() + txn), 0};
    bool full =
        batch.changes.size() >= ctx_.batch_max_changes || batch.bytes >= ctx_.batch_max_bytes;
    // At a set rate, each transaction goes out at once: latency matters more than batching.
    if (full || (options_.rate != 0 && txn_ends)) {
      if (!out.Emit(std::move(batch), nullptr)) return Status::Cancelled("stopping");
      batch = Batch();
    }
  }
  if (!batch.changes.empty() && !out.Emit(std::move(batch), nullptr)) {
    return Status::Cancelled("stopping");
  }
  spdlog::info("pipeline {}: generated {} changes", ctx_.pipeline, options_.changes);
  ctx_.status->Set(SourcePhase::kStopped, "generated every change");
  return Status::Ok();
}

void GenerateSource::Confirm(const Checkpoint& checkpoint) {
  if (checkpoint.lsn.valid()) confirmed_lsn_.Set(static_cast<double>(checkpoint.lsn.value()));
}

void RegisterGenerateSource(Registry& registry) {
  SourcePlugin p;
  p.type = "generate";
  p.description = "Synthetic changes of a fixed row shape, for benchmarks and trials";
  p.options = {
      {"changes", OptionType::kInt, "1000000", false,
       "How many changes to generate before the pipeline stops; 0 never stops"},
      {"keys", OptionType::kInt, "0", false,
       "Distinct keys; later changes to a key are updates. 0: every change is a new key"},
      {"payload_bytes", OptionType::kBytes, "100", false, "Length of the payload column"},
      {"transaction_changes", OptionType::kInt, "1", false, "Changes per transaction"},
      {"delete_every", OptionType::kInt, "0", false,
       "Every Nth change deletes its key; 0: no deletes"},
      {"rate", OptionType::kInt, "0", false, "Changes per second; 0: as fast as the sinks go"},
      {"start_lsn", OptionType::kString, "0/1000000", false,
       "Commit position of the first transaction (X/X)"},
  };
  p.create = [](const SourceContext& ctx) -> Result<std::unique_ptr<Source>> {
    GenerateOptions o;
    auto count = [&](const char* name) -> Result<uint64_t> {
      int64_t v = ctx.options.Int(name);
      if (v < 0) return Status::InvalidArgument(std::string(name) + " must not be negative");
      return static_cast<uint64_t>(v);
    };
    for (auto [name, field] : {std::pair{"changes", &o.changes},
                               {"keys", &o.keys},
                               {"transaction_changes", &o.transaction_changes},
                               {"delete_every", &o.delete_every},
                               {"rate", &o.rate}}) {
      auto v = count(name);
      if (!v.ok()) return v.status();
      *field = *v;
    }
    o.payload_bytes = ctx.options.Bytes("payload_bytes");
    auto lsn = Lsn::Parse(ctx.options.String("start_lsn"));
    if (!lsn || !lsn->valid()) return Status::InvalidArgument("start_lsn must be a non-zero X/X");
    o.start_lsn = *lsn;
    return std::unique_ptr<Source>(std::make_unique<GenerateSource>(ctx, o));
  };
  registry.AddSource(std::move(p));
}

}  // namespace sluice::generate
