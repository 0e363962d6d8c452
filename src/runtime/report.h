// Status: what /status, /readyz and /healthz say about each pipeline, and the pure rules
// that decide readiness and wedging. The daemon fills the reports from its pipelines and
// its metrics registry; everything here is a function of those reports (unit-tested).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/source.h"
#include "runtime/config_model.h"

namespace sluice {

struct SinkReport {
  std::string name;
  bool up = true;          // false while the pipeline retries it after Unavailable
  std::string last_error;  // why it is down (redacted); empty while up
  std::string in_call;     // the call its thread is inside ("write"), empty when none
  double in_call_seconds = 0;
  double queue_batches = 0;
  double queue_bytes = 0;
  // From the metrics registry (AddMetrics).
  std::map<std::string, double> changes;  // applied (durable), by op name
  double batches = 0;
  double bytes = 0;
  double errors = 0;  // sluice_sink_errors_total, every kind
  double retries = 0;
  double dead_letters = 0;
};

// One table's snapshot progress (sluice_snapshot_rows_done/_estimated{table}).
struct TableSnapshotReport {
  double rows_done = 0;
  std::optional<double> rows_estimated;
};

struct PipelineReport {
  std::string name;
  std::string source;
  SourcePhase phase = SourcePhase::kStarting;
  std::string detail;  // the source's one-line detail (redacted)
  // Seconds since the source's thread last showed progress (SourceStatus::Beat); nullopt
  // for a source that does not beat, or once the pipeline ended.
  std::optional<double> source_silent_seconds;
  bool running = true;        // false once the pipeline ended (or never started)
  std::string failure;        // why it ended or could not start; empty after a clean stop
  std::string confirmed_lsn;  // last position handed back to the source, "X/X"; may be empty
  double lag_seconds = 0;     // age of the oldest change read but not yet durable everywhere
  uint64_t in_flight_batches = 0;
  // From the metrics registry, when the source reports them.
  std::optional<double> lag_bytes;
  std::optional<double> snapshot_rows_done;
  std::optional<double> snapshot_rows_estimated;
  std::map<std::string, TableSnapshotReport> snapshot_tables;  // by schema.table
  std::vector<SinkReport> sinks;
  ReadinessPolicy policy;
};

// One look at the whole daemon.
struct DaemonReport {
  std::string version;
  std::string commit;
  double uptime_seconds = 0;
  bool stopping = false;  // a signal asked it to stop
  double wedged_after_seconds = 300;
  std::vector<PipelineReport> pipelines;
};

// Fills the metric-derived fields of `pipeline` (and its sinks) from `samples`
// (MetricsRegistry::Collect()), matching on the `pipeline` and `sink` labels.
void AddMetrics(const std::vector<MetricSample>& samples, PipelineReport* pipeline);

// Why `pipeline` is not ready; empty when it is. `stopping`: the daemon is shutting down.
std::vector<std::string> NotReadyReasons(const PipelineReport& pipeline, bool stopping);
// The threads of `pipeline` stuck in one call longer than `wedged_after_seconds`, as
// "sink NAME: in write for 312 s"; empty when none.
std::vector<std::string> WedgedThreads(const PipelineReport& pipeline, double wedged_after_seconds);

// Bodies of /status, /readyz and /healthz; `*ok` says whether the answer is 200.
nlohmann::json StatusJson(const DaemonReport& report);
nlohmann::json ReadyJson(const DaemonReport& report, bool* ok);
nlohmann::json HealthJson(const DaemonReport& report, bool* ok);

// `sluice status`: the /status JSON as a table for people.
std::string StatusTable(const nlohmann::json& status);

}  // namespace sluice
