// sluice: command line entry point. Parses the command, loads the config, and runs or checks
// it. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 stopped without
// draining (README "Exit codes").
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/options.h"
#include "core/registry.h"
#include "runtime/builtin_plugins.h"
#include "runtime/check.h"
#include "runtime/config.h"
#include "runtime/daemon.h"
#include "runtime/http_server.h"
#include "runtime/logging.h"
#include "runtime/report.h"
#include "runtime/verify.h"
#include "runtime/verify_progress.h"
#include "runtime/version.h"

namespace sluice {
namespace {

std::atomic<int> g_signals{0};
std::atomic<int> g_reloads{0};

// Blocks SIGINT/SIGTERM/SIGHUP in every thread and takes them on a dedicated one, so no
// pipeline thread is ever interrupted inside a write. SIGHUP reloads the config.
void StartSignalThread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::thread([set] {
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        ++g_reloads;
        continue;
      }
      int n = ++g_signals;
      if (n >= 3) std::_Exit(kExitAborted);
    }
  }).detach();
}

bool LoadOrReport(const std::string& path, const Registry& registry, Config* out) {
  LoadResult loaded = LoadConfigFile(path, registry, ProcessEnv());
  for (const Diagnostic& d : loaded.errors) std::cerr << d.ToString() << "\n";
  if (!loaded.ok()) {
    std::cerr << loaded.errors.size() << (loaded.errors.size() == 1 ? " error" : " errors")
              << " in " << path << "\n";
    return false;
  }
  *out = std::move(loaded.config);
  return true;
}

int CmdRun(const std::string& path, const Registry& registry) {
  Config config;
  if (!LoadOrReport(path, registry, &config)) return kExitUsage;
  Status s = SetupLogging(config.log_format, config.log_level);
  if (!s.ok()) {
    std::cerr << s.message() << "\n";
    return kExitUsage;
  }
  spdlog::info("sluice {} ({}) starting {} pipeline(s) from {}", Version(), Commit(),
               config.pipelines.size(), path);
  Daemon daemon(std::move(config), registry);
  int code = daemon.Run(g_signals, g_reloads);
  spdlog::info("sluice exiting with code {}", code);
  return code;
}

int CmdCheck(const std::string& path, bool connect, const Registry& registry) {
  Config config;
  if (!LoadOrReport(path, registry, &config)) return kExitUsage;
  if (connect) {
    (void)SetupLogging("text", "warn");
    auto problems = CheckConnections(config, registry);
    for (const auto& p : problems) std::cerr << p << "\n";  // each starts file:line:column
    if (!problems.empty()) return kExitFailure;
  }
  std::cout << path << ": ok (" << config.pipelines.size() << " pipeline(s)"
            << (connect ? ", every source and sink reachable" : "") << ")\n";
  return kExitOk;
}

// `sluice verify`: every sink of the pipelines against their source, at one position.
int CmdVerify(const std::string& path, const VerifyOptions& options, const Registry& registry) {
  Config config;
  if (!LoadOrReport(path, registry, &config)) return kExitUsage;
  (void)SetupLogging("text", "warn");
  // Progress on stderr: redrawn on a terminal, a plain line every 5 s otherwise.
  VerifyProgressPrinter printer(std::cerr, isatty(STDERR_FILENO) == 1);
  VerifyOptions with_progress = options;
  with_progress.progress = [&printer](const VerifyProgress& p) { printer.Update(p); };
  VerifyReport report = RunVerify(config, registry, with_progress);
  std::cout << VerifyText(report);
  return report.Clean() ? kExitOk : kExitFailure;
}

// Where a running sluice answers: --address, else http.listen of its config file, else
// 127.0.0.1:8080; its token: http.token of the config file, else SLUICE_HTTP_TOKEN. False on
// a config error (reported).
bool FindDaemon(const std::string& path, const std::string& address, const Registry& registry,
                std::string* listen, std::string* token) {
  *listen = address;
  token->clear();
  if (!path.empty()) {
    Config config;
    if (!LoadOrReport(path, registry, &config)) return false;
    if (listen->empty()) *listen = config.http_listen;
    *token = config.http_token;
  }
  if (listen->empty()) *listen = Config().http_listen;
  if (const char* env = std::getenv("SLUICE_HTTP_TOKEN"); env != nullptr && token->empty()) {
    *token = env;
  }
  return true;
}

// `sluice reload`: asks the running daemon to re-read its config file (POST /reload).
int CmdReload(const std::string& path, const std::string& address, const Registry& registry) {
  std::string listen;
  std::string token;
  // The running daemon reads the file itself; an invalid one is reported here first.
  if (!FindDaemon(path, address, registry, &listen, &token)) return kExitUsage;
  auto answer = CallEndpoint(listen, token, "POST", "/reload", std::chrono::seconds(60));
  if (!answer.ok()) {
    std::cerr << "sluice reload: " << answer.status().message() << "\n";
    return kExitFailure;
  }
  nlohmann::json body = nlohmann::json::parse(answer->body, nullptr, false);
  if (answer->status != 200 || !body.is_object()) {
    std::cerr << "sluice reload: refused (HTTP " << answer->status << ")\n";
    if (body.is_object() && body.contains("errors")) {
      for (const auto& e : body["errors"]) std::cerr << e.get<std::string>() << "\n";
    } else {
      std::cerr << answer->body << "\n";
    }
    return kExitFailure;
  }
  for (const char* key : {"added", "removed", "restarted", "unchanged", "needs_restart"}) {
    std::string names;
    for (const auto& n : body.value(key, nlohmann::json::array())) {
      names += (names.empty() ? "" : ", ") + n.get<std::string>();
    }
    if (!names.empty()) std::cout << key << ": " << names << "\n";
  }
  return kExitOk;
}

// /status as a table; false (with the reason in *out) when sluice cannot be asked.
bool StatusText(const std::string& listen, const std::string& token, bool json, std::string* out) {
  auto body = FetchEndpoint(listen, token, "/status");
  if (!body.ok()) {
    *out = "sluice status: " + body.status().message() + "\n";
    return false;
  }
  if (json) {
    *out = *body;
    return true;
  }
  try {
    *out = StatusTable(nlohmann::json::parse(*body));
  } catch (const nlohmann::json::exception& e) {
    *out = std::string("sluice status: /status is not JSON: ") + e.what() + "\n";
    return false;
  }
  return true;
}

// `sluice status --watch`: the table again every second until interrupted. On a terminal
// it redraws the screen; otherwise each table follows the last, under a line with the time.
int WatchStatus(const std::string& listen, const std::string& token) {
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  while (true) {
    std::string text;
    (void)StatusText(listen, token, false, &text);  // an error is shown and tried again
    std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
    if (terminal) std::cout << "\x1b[H\x1b[2J";  // home, clear the screen
    std::cout << "sluice at " << listen << ", " << stamp
              << (terminal ? " (every 1 s; Ctrl-C stops)" : "") << "\n\n"
              << text << (terminal ? "" : "\n") << std::flush;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

// `sluice status`: the running daemon's /status, as a table or as JSON.
int CmdStatus(const std::string& path, const std::string& address, bool json, bool watch,
              const Registry& registry) {
  std::string listen, token;
  if (!FindDaemon(path, address, registry, &listen, &token)) return kExitUsage;
  if (watch) return WatchStatus(listen, token);
  std::string text;
  bool ok = StatusText(listen, token, json, &text);
  (ok ? std::cout : std::cerr) << text;
  return ok ? kExitOk : kExitFailure;
}

struct WaitArgs {
  std::string pipeline;
  std::string lsn;
  std::vector<std::string> sinks;
  std::string timeout = "5s";
  bool json = false;
};

// `sluice wait`: GET /wait of the running daemon. 0 when durable, 1 when it timed out, the
// pipeline stopped or sluice could not be reached, 2 for bad input (unknown pipeline, ...).
int CmdWait(const std::string& path, const std::string& address, const WaitArgs& args,
            const Registry& registry) {
  std::string listen, token;
  if (!FindDaemon(path, address, registry, &listen, &token)) return kExitUsage;
  std::optional<std::chrono::milliseconds> timeout = ParseDuration(args.timeout);
  if (!timeout) {
    std::cerr << "sluice wait: --timeout " << args.timeout << " is not a duration such as 5s\n";
    return kExitUsage;
  }
  std::string target = "/wait?pipeline=" + PercentEncode(args.pipeline) +
                       "&lsn=" + PercentEncode(args.lsn) +
                       "&timeout=" + PercentEncode(args.timeout);
  for (const std::string& sink : args.sinks) target += "&sink=" + PercentEncode(sink);
  // The answer comes after the wait's timeout at the latest; the margin covers the network.
  auto answer = CallEndpoint(listen, token, "GET", target, *timeout + std::chrono::seconds(10));
  if (!answer.ok()) {
    std::cerr << "sluice wait: " << answer.status().message() << "\n";
    return kExitFailure;
  }
  nlohmann::json body = nlohmann::json::parse(answer->body, nullptr, false);
  if (answer->status == 200) {
    if (args.json) {
      std::cout << answer->body;
    } else {
      std::cout << args.lsn << " is durable in "
                << (args.sinks.empty() ? "every sink" : "the sinks named") << " of pipeline "
                << args.pipeline << " (waited " << body.value("waited_ms", 0.0) << " ms)\n";
    }
    return kExitOk;
  }
  std::string error = body.is_object() ? body.value("error", answer->body) : answer->body;
  std::cerr << "sluice wait: HTTP " << answer->status << ": " << error << "\n";
  if (args.json) std::cout << answer->body;
  return answer->status == 400 || answer->status == 404 ? kExitUsage : kExitFailure;
}

void PrintOptions(const std::vector<OptionSpec>& options) {
  for (const auto& o : options) {
    std::cout << "    " << o.name << " (" << OptionTypeName(o.type)
              << (o.required ? ", required" : "")
              << (o.default_value.empty() ? "" : ", default " + o.default_value)
              << "): " << o.description << "\n";
  }
}

int CmdPlugins(const Registry& registry) {
  std::cout << "sources:\n";
  for (const auto* p : registry.Sources()) {
    std::cout << "  " << p->type << ": " << p->description << "\n";
    PrintOptions(p->options);
  }
  std::cout << "sinks:\n";
  for (const auto* p : registry.Sinks()) {
    std::cout << "  " << p->type << ": " << p->description << "\n";
    PrintOptions(p->options);
  }
  return kExitOk;
}

int Main(int argc, char** argv) {
  Registry registry;
  RegisterBuiltinPlugins(registry);
  (void)SetupLogging("text", "info");

  CLI::App app{"sluice: keeps search indexes, caches and logs in step with PostgreSQL"};
  app.set_version_flag("--version", std::string("sluice ") + Version() + " (" + Commit() + ")");
  app.require_subcommand(1);
  std::string config_path;
  bool connect = false;

  auto* run = app.add_subcommand("run", "Run the pipelines of a config file until SIGTERM/SIGINT");
  run->add_option("-c,--config", config_path, "Config file (YAML)")->required();
  auto* check = app.add_subcommand("check", "Validate a config file; exit 0 when it is valid");
  check->add_option("-c,--config", config_path, "Config file (YAML)")->required();
  check->add_flag("--connect", connect,
                  "Also connect to every source and sink and check settings, tables and rights");
  std::string address;
  bool json = false;
  auto* status = app.add_subcommand("status", "Show the pipelines of a running sluice as a table");
  status->add_option("-c,--config", config_path,
                     "Config file of the running sluice (for http.listen and http.token)");
  status->add_option("--address", address,
                     "HOST:PORT of its endpoints (default: http.listen, else 127.0.0.1:8080); "
                     "the token may also come from SLUICE_HTTP_TOKEN");
  status->add_flag("--json", json, "Print the /status JSON as it is");
  bool watch = false;
  status->add_flag("--watch", watch, "Redraw the table every second until interrupted");
  WaitArgs wait_args;
  auto* wait = app.add_subcommand(
      "wait", "Wait until a commit is durable in a pipeline's sinks; exit 0 when it is");
  wait->add_option("-c,--config", config_path,
                   "Config file of the running sluice (for http.listen and http.token)");
  wait->add_option("--address", address, "HOST:PORT of its endpoints (as for status)");
  wait->add_option("--pipeline", wait_args.pipeline, "The pipeline")->required();
  wait->add_option("--lsn", wait_args.lsn,
                   "The commit's LSN, X/Y (pg_current_wal_insert_lsn() after COMMIT)")
      ->required();
  wait->add_option("--sink", wait_args.sinks, "Only these sinks (default: all of the pipeline's)");
  wait->add_option("--timeout", wait_args.timeout, "How long to wait (default 5s, at most 5m)");
  wait->add_flag("--json", wait_args.json, "Print the /wait answer as it is");
  VerifyOptions verify_options;
  int wait_seconds = 300;
  auto* verify = app.add_subcommand(
      "verify", "Compare every sink with the source at one position; exit 0 when they match");
  verify->add_option("-c,--config", config_path, "Config file (YAML)")->required();
  verify->add_option("--pipeline", verify_options.pipeline, "Only this pipeline");
  verify->add_flag("--repair", verify_options.repair,
                   "Re-send what differs through the pipeline's sinks, at the verify position");
  verify->add_option("--wait", wait_seconds,
                     "Seconds to wait for the pipeline to confirm the verify position (300)");
  auto* reload = app.add_subcommand(
      "reload",
      "Make a running sluice re-read its config file (as SIGHUP does) and show what changed");
  reload->add_option("-c,--config", config_path,
                     "Config file of the running sluice (for http.listen and http.token)");
  reload->add_option("--address", address, "HOST:PORT of its endpoints (default: http.listen)");
  auto* version = app.add_subcommand("version", "Print version and build commit");
  auto* plugins = app.add_subcommand("plugins", "List sources and sinks with their options");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (*version) {
    std::cout << "sluice " << Version() << " (" << Commit() << ")\n";
    return kExitOk;
  }
  if (*plugins) return CmdPlugins(registry);
  if (*check) return CmdCheck(config_path, connect, registry);
  if (*verify) {
    verify_options.wait = std::chrono::seconds(wait_seconds);
    return CmdVerify(config_path, verify_options, registry);
  }
  if (*status) return CmdStatus(config_path, address, json, watch, registry);
  if (*reload) return CmdReload(config_path, address, registry);
  if (*wait) return CmdWait(config_path, address, wait_args, registry);
  StartSignalThread();
  return CmdRun(config_path, registry);
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) { return sluice::Main(argc, argv); }
