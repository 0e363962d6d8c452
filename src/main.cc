// sluice: command line entry point. Parses the command, loads the config, and runs or checks
// it. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 stopped without
// draining (README "Exit codes").
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/registry.h"
#include "runtime/builtin_plugins.h"
#include "runtime/check.h"
#include "runtime/config.h"
#include "runtime/daemon.h"
#include "runtime/http_server.h"
#include "runtime/logging.h"
#include "runtime/report.h"
#include "runtime/verify.h"
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
  VerifyReport report = RunVerify(config, registry, options);
  std::cout << VerifyText(report);
  return report.Clean() ? kExitOk : kExitFailure;
}

// Where a running daemon answers and its token: from --address, the config file's http
// settings, SLUICE_HTTP_TOKEN, else the default listen address. False: the config is invalid.
bool EndpointOf(const std::string& path, const std::string& address, const Registry& registry,
                std::string* listen, std::string* token) {
  *listen = address;
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
  if (!EndpointOf(path, address, registry, &listen, &token)) return kExitUsage;
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

// `sluice status`: the running daemon's /status, as a table or as JSON.
int CmdStatus(const std::string& path, const std::string& address, bool json,
              const Registry& registry) {
  std::string listen;
  std::string token;
  if (!EndpointOf(path, address, registry, &listen, &token)) return kExitUsage;
  auto body = FetchEndpoint(listen, token, "/status");
  if (!body.ok()) {
    std::cerr << "sluice status: " << body.status().message() << "\n";
    return kExitFailure;
  }
  if (json) {
    std::cout << *body;
    return kExitOk;
  }
  try {
    std::cout << StatusTable(nlohmann::json::parse(*body));
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "sluice status: /status is not JSON: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitOk;
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
  if (*status) return CmdStatus(config_path, address, json, registry);
  if (*reload) return CmdReload(config_path, address, registry);
  StartSignalThread();
  return CmdRun(config_path, registry);
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) { return sluice::Main(argc, argv); }
