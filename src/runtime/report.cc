#include "runtime/report.h"

#include <cmath>
#include <cstdio>

namespace sluice {

namespace {

const std::string* Label(const MetricLabels& labels, const char* name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return &v;
  }
  return nullptr;
}

void Accumulate(std::optional<double>* field, double v) { *field = field->value_or(0) + v; }

// A sample labelled {pipeline, sink}: adds it to the sink's report.
void AddSinkSample(const MetricSample& s, const std::string& sink, PipelineReport* pipeline) {
  for (SinkReport& r : pipeline->sinks) {
    if (r.name != sink) continue;
    if (s.name == "sluice_changes_total") {
      const std::string* op = Label(s.labels, "op");
      if (op) r.changes[*op] += s.value;
    } else if (s.name == "sluice_batches_total") {
      r.batches += s.value;
    } else if (s.name == "sluice_bytes_total") {
      r.bytes += s.value;
    } else if (s.name == "sluice_sink_errors_total") {
      r.errors += s.value;
    } else if (s.name == "sluice_sink_retries_total" || s.name == "sluice_pipeline_retries_total") {
      r.retries += s.value;
    } else if (s.name == "sluice_sink_dead_letters_total") {
      r.dead_letters += s.value;
    }
  }
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.1f s" : "%.0f s", s);
  return buf;
}

std::string Rows(const PipelineReport& p) {
  if (!p.snapshot_rows_done) return "";
  std::string out = " (" + std::to_string(static_cast<uint64_t>(*p.snapshot_rows_done));
  if (p.snapshot_rows_estimated) {
    out += " of about " + std::to_string(static_cast<uint64_t>(*p.snapshot_rows_estimated));
  }
  return out + " rows)";
}

}  // namespace

void AddMetrics(const std::vector<MetricSample>& samples, PipelineReport* pipeline) {
  for (const MetricSample& s : samples) {
    const std::string* name = Label(s.labels, "pipeline");
    if (name == nullptr || *name != pipeline->name) continue;
    if (const std::string* sink = Label(s.labels, "sink")) {
      AddSinkSample(s, *sink, pipeline);
    } else if (s.name == "sluice_source_lag_bytes") {
      pipeline->lag_bytes = s.value;
    } else if (s.name == "sluice_snapshot_rows_done") {
      Accumulate(&pipeline->snapshot_rows_done, s.value);
      if (const std::string* table = Label(s.labels, "table")) {
        pipeline->snapshot_tables[*table].rows_done = s.value;
      }
    } else if (s.name == "sluice_snapshot_rows_estimated") {
      Accumulate(&pipeline->snapshot_rows_estimated, s.value);
      if (const std::string* table = Label(s.labels, "table")) {
        pipeline->snapshot_tables[*table].rows_estimated = s.value;
      }
    }
  }
}

std::vector<std::string> NotReadyReasons(const PipelineReport& p, bool stopping) {
  if (!p.running) {
    return {p.failure.empty() ? std::string("stopped") : "failed: " + p.failure};
  }
  std::vector<std::string> out;
  if (stopping) out.emplace_back("shutting down");
  const std::string detail = p.detail.empty() ? "" : ": " + p.detail;
  switch (p.phase) {
    case SourcePhase::kStarting:
      out.push_back("source is starting" + detail);
      break;
    case SourcePhase::kReconnecting:
      out.push_back("source is reconnecting" + detail);
      break;
    case SourcePhase::kSnapshot:
      if (!p.policy.ready_during_snapshot) out.push_back("snapshot in progress" + Rows(p));
      break;
    case SourcePhase::kStopped:
      out.push_back("source stopped" + detail);
      break;
    case SourcePhase::kStreaming:
      break;
  }
  for (const SinkReport& s : p.sinks) {
    if (!s.up) out.push_back("sink " + s.name + " is down: " + s.last_error);
  }
  double max_lag = static_cast<double>(p.policy.max_lag.count()) / 1000.0;
  if (max_lag > 0 && p.lag_seconds > max_lag) {
    out.push_back("lag " + Seconds(p.lag_seconds) + " is over max_lag_seconds " + Seconds(max_lag));
  }
  if (p.policy.max_lag_bytes > 0 && p.lag_bytes &&
      *p.lag_bytes > static_cast<double>(p.policy.max_lag_bytes)) {
    out.push_back("lag " + std::to_string(static_cast<uint64_t>(*p.lag_bytes)) +
                  " bytes is over max_lag_bytes " + std::to_string(p.policy.max_lag_bytes));
  }
  return out;
}

std::vector<std::string> WedgedThreads(const PipelineReport& p, double wedged_after_seconds) {
  std::vector<std::string> out;
  if (p.source_silent_seconds && *p.source_silent_seconds > wedged_after_seconds) {
    out.push_back("source " + p.source + ": no progress for " + Seconds(*p.source_silent_seconds));
  }
  for (const SinkReport& s : p.sinks) {
    if (!s.in_call.empty() && s.in_call_seconds > wedged_after_seconds) {
      out.push_back("sink " + s.name + ": in " + s.in_call + " for " + Seconds(s.in_call_seconds));
    }
  }
  return out;
}

namespace {

// Counts are whole numbers: show them without a fraction.
uint64_t Count(double v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

nlohmann::json SinkJson(const SinkReport& s) {
  nlohmann::json changes = nlohmann::json::object();
  for (const auto& [op, n] : s.changes) changes[op] = Count(n);
  nlohmann::json j = {{"name", s.name},
                      {"up", s.up},
                      {"changes", changes},
                      {"batches", Count(s.batches)},
                      {"bytes", Count(s.bytes)},
                      {"errors", Count(s.errors)},
                      {"retries", Count(s.retries)},
                      {"dead_letters", Count(s.dead_letters)},
                      {"queue_batches", Count(s.queue_batches)},
                      {"queue_bytes", Count(s.queue_bytes)}};
  if (!s.last_error.empty()) j["last_error"] = s.last_error;
  if (!s.in_call.empty()) {
    j["in_call"] = s.in_call;
    j["in_call_seconds"] = s.in_call_seconds;
  }
  return j;
}

nlohmann::json Optional(const std::optional<double>& v) {
  return v ? nlohmann::json(Count(*v)) : nlohmann::json(nullptr);
}

nlohmann::json SnapshotTablesJson(const PipelineReport& p) {
  nlohmann::json tables = nlohmann::json::array();
  for (const auto& [table, t] : p.snapshot_tables) {
    tables.push_back({{"table", table},
                      {"rows_done", Count(t.rows_done)},
                      {"rows_estimated", Optional(t.rows_estimated)}});
  }
  return tables;
}

nlohmann::json PipelineJson(const PipelineReport& p, bool stopping) {
  std::vector<std::string> reasons = NotReadyReasons(p, stopping);
  nlohmann::json sinks = nlohmann::json::array();
  for (const SinkReport& s : p.sinks) sinks.push_back(SinkJson(s));
  nlohmann::json j = {{"name", p.name},
                      {"source", p.source},
                      {"phase", p.running ? SourcePhaseName(p.phase) : "stopped"},
                      {"detail", p.detail},
                      {"ready", reasons.empty()},
                      {"not_ready", reasons},
                      {"confirmed_lsn", p.confirmed_lsn},
                      {"lag_seconds", p.lag_seconds},
                      {"lag_bytes", Optional(p.lag_bytes)},
                      {"in_flight_batches", p.in_flight_batches},
                      {"snapshot_rows_done", Optional(p.snapshot_rows_done)},
                      {"snapshot_rows_estimated", Optional(p.snapshot_rows_estimated)},
                      {"snapshot_tables", SnapshotTablesJson(p)},
                      {"sinks", sinks}};
  if (!p.failure.empty()) j["failure"] = p.failure;
  return j;
}

}  // namespace

nlohmann::json StatusJson(const DaemonReport& r) {
  nlohmann::json pipelines = nlohmann::json::array();
  bool ready = true;
  for (const PipelineReport& p : r.pipelines) {
    pipelines.push_back(PipelineJson(p, r.stopping));
    ready = ready && pipelines.back()["ready"].get<bool>();
  }
  return {{"version", r.version},
          {"commit", r.commit},
          {"uptime_seconds", std::round(r.uptime_seconds * 10) / 10},
          {"stopping", r.stopping},
          {"ready", ready},
          {"pipelines", pipelines}};
}

nlohmann::json ReadyJson(const DaemonReport& r, bool* ok) {
  nlohmann::json pipelines = nlohmann::json::array();
  *ok = true;
  for (const PipelineReport& p : r.pipelines) {
    std::vector<std::string> reasons = NotReadyReasons(p, r.stopping);
    *ok = *ok && reasons.empty();
    pipelines.push_back({{"name", p.name},
                         {"phase", p.running ? SourcePhaseName(p.phase) : "stopped"},
                         {"ready", reasons.empty()},
                         {"reasons", reasons}});
  }
  return {{"ready", *ok}, {"pipelines", pipelines}};
}

nlohmann::json HealthJson(const DaemonReport& r, bool* ok) {
  nlohmann::json wedged = nlohmann::json::array();
  for (const PipelineReport& p : r.pipelines) {
    for (const std::string& w : WedgedThreads(p, r.wedged_after_seconds)) {
      wedged.push_back({{"pipeline", p.name}, {"thread", w}});
    }
  }
  *ok = wedged.empty();
  return {{"healthy", *ok}, {"wedged", wedged}};
}

}  // namespace sluice
