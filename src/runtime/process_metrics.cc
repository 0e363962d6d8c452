#include "runtime/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace sluice {

namespace {

std::string ReadAll(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Seconds since the epoch when the machine booted (/proc/stat "btime").
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

// Fields of /proc/self/stat after the command name (which may hold spaces): field 3 first.
std::vector<std::string> StatFields() {
  std::string stat = ReadAll("/proc/self/stat");
  size_t close = stat.rfind(')');
  std::vector<std::string> out;
  if (close == std::string::npos) return out;
  std::istringstream rest(stat.substr(close + 1));
  for (std::string f; rest >> f;) out.push_back(f);
  return out;
}

std::string Format(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string Family(const char* name, const char* type, const char* help, double value) {
  return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + Format(value) + "\n";
}

// Label values here are our own version strings; escape what the format requires anyway.
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

ProcessStats ReadProcessStats() {
  ProcessStats s;
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<std::string> f = StatFields();
  // utime, stime, starttime, vsize, rss are fields 14, 15, 22, 23, 24 (1-based).
  if (f.size() > 21) {
    s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
    s.start_time_seconds = BootTime() + std::stod(f[19]) / ticks;
    s.virtual_bytes = std::stod(f[20]);
    s.resident_bytes = std::stod(f[21]) * page;
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    s.open_fds += 1;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) s.max_fds = static_cast<double>(limit.rlim_cur);
  return s;
}

double UptimeSeconds(const ProcessStats& stats) {
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return stats.start_time_seconds > 0 ? std::max(0.0, now - stats.start_time_seconds) : 0;
}

std::string RenderProcessMetrics(const ProcessStats& s, const std::string& version,
                                 const std::string& commit) {
  std::string out;
  out += Family("process_cpu_seconds_total", "counter",
                "Total user and system CPU time spent in seconds.", s.cpu_seconds);
  out += Family("process_max_fds", "gauge", "Maximum number of open file descriptors.", s.max_fds);
  out += Family("process_open_fds", "gauge", "Number of open file descriptors.", s.open_fds);
  out += Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                s.resident_bytes);
  out += Family("process_start_time_seconds", "gauge",
                "Start time of the process since unix epoch in seconds.", s.start_time_seconds);
  out += Family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                s.virtual_bytes);
  out +=
      "# HELP sluice_build_info Version and commit of the running sluice (always 1).\n"
      "# TYPE sluice_build_info gauge\n"
      "sluice_build_info{version=\"" +
      Escape(version) + "\",commit=\"" + Escape(commit) + "\"} 1\n";
  out += Family("sluice_uptime_seconds", "gauge", "Seconds since the process started.",
                UptimeSeconds(s));
  return out;
}

}  // namespace sluice
