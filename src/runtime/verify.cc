#include "runtime/verify.h"

#include <spdlog/spdlog.h>

#include <iomanip>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "core/scan.h"
#include "runtime/check.h"
#include "runtime/dead_letter_file.h"
#include "runtime/pipeline_parts.h"
#include "runtime/transforms.h"
#include "util/redact.h"

namespace sluice {

namespace {

std::string KeyText(const Row& key) {
  std::string out;
  for (const Field& f : key) {
    if (!out.empty()) out += ',';
    out += f.name + "=" + f.value.text;
  }
  return out;
}

// Runs `f` again while it answers Unavailable (a target briefly down or overloaded), with
// capped exponential backoff, until `wait` has passed.
Status Patiently(const std::function<Status()>& f, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  auto delay = std::chrono::milliseconds(100);
  while (true) {
    Status s = f();
    if (s.code() != StatusCode::kUnavailable || std::chrono::steady_clock::now() >= deadline) {
      return s;
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(5000));
  }
}

struct SinkUnderTest {
  NamedSink* sink = nullptr;
  std::unique_ptr<SinkReader> reader;
};

class PipelineVerifier {
 public:
  PipelineVerifier(const PipelineConfig& pc, const VerifyOptions& options, SourceScan& scan,
                   std::vector<SinkUnderTest>& sinks, VerifyReport& report)
      : pc_(pc), options_(options), scan_(scan), sinks_(sinks), report_(report) {
    transforms_ = BuildTransforms(pc.transforms);
  }

  Status Table(const TableSchema& source_table, const TableSchema& carried) {
    size_t first = report_.tallies.size();
    for (const SinkUnderTest& s : sinks_) {
      VerifyTally t;
      t.pipeline = pc_.name;
      t.sink = s.sink->name;
      t.table = source_table.table.ToString();
      report_.tallies.push_back(std::move(t));
    }
    VerifyProgress progress{pc_.name, source_table.table.ToString(), 0,
                            scan_.EstimatedRows(source_table.table), false};
    Status read = scan_.Read(source_table.table, [&](std::vector<Change>&& rows) {
      progress.rows_checked += rows.size();
      Batch batch;
      batch.changes = std::move(rows);
      ApplyTransforms(transforms_, batch);
      for (size_t i = 0; i < sinks_.size(); ++i) {
        Status s = CompareRows(sinks_[i], batch.changes, report_.tallies[first + i]);
        if (!s.ok()) return s;
      }
      if (options_.progress) options_.progress(progress);
      return Status::Ok();
    });
    if (!read.ok()) return read;
    progress.table_done = true;
    if (options_.progress) options_.progress(progress);
    for (size_t i = 0; i < sinks_.size(); ++i) {
      SLUICE_RETURN_IF_ERROR(
          FindExtras(sinks_[i], source_table, carried, report_.tallies[first + i]));
    }
    return Status::Ok();
  }

 private:
  void Example(VerifyTally& t, const std::string& text) {
    if (t.examples.size() < options_.examples) t.examples.push_back(text);
  }

  Status CompareRows(SinkUnderTest& s, const std::vector<Change>& rows, VerifyTally& t) {
    if (rows.empty()) return Status::Ok();
    Result<std::vector<Probe>> probes = Status::Internal("not compared");
    Status read = Patiently(
        [&] {
          probes = s.reader->Compare(rows);
          return probes.status();
        },
        options_.wait);
    if (!read.ok()) return read.WithContext("sink " + s.sink->name);
    std::vector<Change> resend;
    for (size_t i = 0; i < rows.size(); ++i) {
      const Probe& p = (*probes)[i];
      ++t.rows;
      switch (p.verdict) {
        case Verdict::kEqual:
          ++t.equal;
          continue;
        case Verdict::kNewer:
          ++t.newer;
          continue;
        case Verdict::kMissing:
          ++t.missing;
          Example(t, "missing " + KeyText(rows[i].key) +
                         (p.detail.empty() ? "" : " (" + p.detail + ")"));
          break;
        case Verdict::kDifferent:
          ++t.different;
          Example(t, "different " + KeyText(rows[i].key) + ": " + p.detail);
          break;
      }
      if (options_.repair) resend.push_back(rows[i]);
    }
    return Repair(s, std::move(resend), t);
  }

  Status FindExtras(SinkUnderTest& s, const TableSchema& source_table, const TableSchema& carried,
                    VerifyTally& t) {
    const std::vector<std::string>& key_columns = carried.key_columns;
    if (key_columns.size() != source_table.key_columns.size()) {
      report_.errors.push_back("pipeline " + pc_.name + ": sink " + s.sink->name + ": table " +
                               t.table +
                               ": the transforms drop key columns, so entries the sink holds "
                               "cannot be matched to rows (extras not checked)");
      return Status::Ok();
    }
    return s.reader->Entries(
        source_table.table, key_columns, scan_.position(), [&](std::vector<HeldEntry>&& page) {
          std::vector<std::vector<std::string>> keys;
          for (const HeldEntry& e : page) {
            if (!e.key.empty()) keys.push_back(e.key);
          }
          auto found = scan_.Lookup(source_table.table, keys);
          if (!found.ok()) return found.status();
          Batch batch;
          batch.changes = std::move(found).value();
          ApplyTransforms(transforms_, batch);
          std::unordered_set<std::string> live;
          for (const Change& c : batch.changes) live.insert(JoinedKey(c.key));
          std::vector<Change> deletes;
          for (const HeldEntry& e : page) {
            if (e.key.empty()) {
              ++t.unkeyed;
              continue;
            }
            if (live.count(JoinedKey(e.key))) continue;
            ++t.extra;
            Example(t, "extra " + e.name + " (no such row" +
                           (transforms_.empty() ? "" : ", or the pipeline filters it out") + ")");
            if (!options_.repair) continue;
            Change d;
            d.op = Op::kDelete;
            d.table = std::make_shared<const TableId>(source_table.table);
            for (size_t k = 0; k < key_columns.size(); ++k) {
              ValueKind kind =
                  e.key_kinds.size() == e.key.size() ? e.key_kinds[k] : ValueKind::kString;
              d.key.push_back({key_columns[k], Value::Of(kind, e.key[k])});
            }
            d.position = scan_.position();
            deletes.push_back(std::move(d));
          }
          return Repair(s, std::move(deletes), t);
        });
  }

  Status Repair(SinkUnderTest& s, std::vector<Change> changes, VerifyTally& t) {
    if (changes.empty()) return Status::Ok();
    size_t n = changes.size();
    Batch batch;
    batch.changes = std::move(changes);
    Status r = Patiently(
        [&] {
          Status w = s.sink->sink->Write(batch);
          return w.ok() ? s.sink->sink->Flush() : w;
        },
        options_.wait);
    if (!r.ok()) return r.WithContext("repairing through sink " + s.sink->name);
    t.repaired += n;
    return Status::Ok();
  }

  const PipelineConfig& pc_;
  const VerifyOptions& options_;
  SourceScan& scan_;
  std::vector<SinkUnderTest>& sinks_;
  VerifyReport& report_;
  std::vector<std::unique_ptr<Transform>> transforms_;
};

Status VerifyPipeline(const Config& config, const PipelineConfig& pc, const Registry& registry,
                      const VerifyOptions& options, DeadLetters* dead_letters,
                      VerifyReport& report) {
  auto parts = BuildPipelineParts(config, pc, registry, dead_letters);
  if (!parts.ok()) return parts.status();
  std::vector<SinkUnderTest> sinks;
  for (NamedSink& named : parts->sinks) {
    auto reader = named.sink->Reader();
    if (!reader.ok()) {
      report.skipped.push_back("pipeline " + pc.name + ": sink " + named.name + ": " +
                               reader.status().message());
      continue;
    }
    Status s = Patiently([&] { return options.repair ? named.sink->Open() : named.sink->Check(); },
                         options.wait);
    if (!s.ok()) return s.WithContext("sink " + named.name);
    sinks.push_back({&named, std::move(reader).value()});
  }
  if (sinks.empty()) return Status::Ok();
  auto scan = parts->source->OpenScan();
  if (!scan.ok()) return scan.status();
  report.position = (*scan)->position().lsn.ToString();
  SLUICE_RETURN_IF_ERROR((*scan)->WaitCheckpointed(options.wait));
  const std::vector<TableSchema>& tables = (*scan)->tables();
  std::vector<TableSchema> carried = AfterTransforms(tables, pc.transforms);
  PipelineVerifier verifier(pc, options, **scan, sinks, report);
  for (size_t i = 0; i < tables.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(verifier.Table(tables[i], carried[i]));
  }
  return Status::Ok();
}

}  // namespace

bool VerifyReport::Clean() const {
  if (!errors.empty()) return false;
  for (const VerifyTally& t : tallies) {
    if (t.differences() > t.repaired) return false;
  }
  return true;
}

VerifyReport RunVerify(const Config& config, const Registry& registry,
                       const VerifyOptions& options) {
  VerifyReport report;
  FileDeadLetters dead_letters(config.state_dir + "/dead_letters");
  bool named = false;
  for (const PipelineConfig& pc : config.pipelines) {
    if (!options.pipeline.empty() && pc.name != options.pipeline) continue;
    named = true;
    Status s = VerifyPipeline(config, pc, registry, options, &dead_letters, report);
    if (!s.ok()) report.errors.push_back("pipeline " + pc.name + ": " + s.message());
  }
  if (!named) report.errors.push_back("no pipeline named " + options.pipeline);
  return report;
}

std::string VerifyText(const VerifyReport& report) {
  std::ostringstream out;
  std::vector<std::string> head = {"pipeline", "sink",      "table", "rows",  "equal",
                                   "missing",  "different", "extra", "newer", "repaired"};
  std::vector<std::vector<std::string>> rows = {head};
  for (const VerifyTally& t : report.tallies) {
    rows.push_back({t.pipeline, t.sink, t.table, std::to_string(t.rows), std::to_string(t.equal),
                    std::to_string(t.missing), std::to_string(t.different), std::to_string(t.extra),
                    std::to_string(t.newer), std::to_string(t.repaired)});
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  if (!report.position.empty()) out << "verified at " << report.position << "\n";
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size(); ++c) {
      out << (c < 3 ? std::left : std::right) << std::setw(static_cast<int>(width[c])) << r[c]
          << (c + 1 < r.size() ? "  " : "\n");
    }
  }
  for (const VerifyTally& t : report.tallies) {
    for (const std::string& e : t.examples) {
      out << t.pipeline << " " << t.sink << " " << t.table << ": " << e << "\n";
    }
    if (t.unkeyed > 0) {
      out << t.pipeline << " " << t.sink << " " << t.table << ": " << t.unkeyed
          << " entries do not carry the key columns (not matched to rows)\n";
    }
  }
  for (const std::string& e : report.skipped) out << "not verified: " << Redact(e) << "\n";
  for (const std::string& e : report.errors) out << "error: " << Redact(e) << "\n";
  uint64_t differences = 0, repaired = 0;
  for (const VerifyTally& t : report.tallies) {
    differences += t.differences();
    repaired += t.repaired;
  }
  if (!report.Clean()) {
    out << "result: " << (report.errors.empty() ? "differences found" : "verify failed") << "\n";
  } else if (differences > 0) {
    out << "result: " << repaired << " differences repaired\n";
  } else {
    out << "result: every verified sink equals the source\n";
  }
  return out.str();
}

}  // namespace sluice
