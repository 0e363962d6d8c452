// Process metrics in the Prometheus client conventions (process_resident_memory_bytes,
// process_cpu_seconds_total, process_open_fds, process_start_time_seconds, ...), read from
// /proc/self at each scrape, plus sluice_build_info and sluice_uptime_seconds.
#pragma once

#include <string>

namespace sluice {

struct ProcessStats {
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double cpu_seconds = 0;
  double open_fds = 0;
  double max_fds = 0;
  double start_time_seconds = 0;  // Unix time the process started
};

// What /proc/self says now; fields it cannot read stay 0.
ProcessStats ReadProcessStats();

// Seconds since the process started (from /proc; the clock otherwise).
double UptimeSeconds(const ProcessStats& stats);

// The families above in the text exposition format, HELP and TYPE lines included.
std::string RenderProcessMetrics(const ProcessStats& stats, const std::string& version,
                                 const std::string& commit);

}  // namespace sluice
