// What can be checked of the packaging on a machine without Docker: config/compose.yaml is a
// valid config naming only hosts that docker-compose.yml runs, both YAML files parse, the
// Dockerfile builds in two stages and runs as a non-root user with a /healthz check, the
// systemd unit passes systemd-analyze, and `sluice --version` names version and commit.
#include <catch2/catch.hpp>
#include <filesystem>

#include "support/test_env.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

std::string Repo(const std::string& file) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / file)
      .string();
}

// Runs a shell command; returns its exit code, output in `*out`.
int Shell(const std::string& cmd, std::string* out) {
  TempDir dir("shell");
  int rc = std::system((cmd + " > " + dir.File("out") + " 2>&1").c_str());
  *out = ReadFile(dir.File("out"));
  return WEXITSTATUS(rc);
}

const char* kComposeCheck = R"PY(
import sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
config = yaml.safe_load(open(sys.argv[2]))
services = compose["services"]
hosts = {"postgres": config["sources"]["shop"]["dsn"],
         "elasticsearch": config["sinks"]["search"]["url"],
         "redis": config["sinks"]["cache"]["url"],
         "kafka": config["sinks"]["log"]["brokers"]}
for host, where in hosts.items():
    assert host in where, (host, where)
    assert host in services, "no compose service " + host
    assert host in services["sluice"]["depends_on"], "sluice does not wait for " + host
assert "wal_level=logical" in services["postgres"]["command"]
assert services["postgres"]["image"].startswith("postgres:15")
assert "./config/compose.yaml:/etc/sluice/compose.yaml:ro" in services["sluice"]["volumes"]
assert "/etc/sluice/compose.yaml" in services["sluice"]["command"]
env = " ".join(services["sluice"]["environment"])
assert "SLUICE_HTTP_TOKEN" in env and "POSTGRES_PASSWORD" in env
assert config["http"]["listen"].endswith(":8080")
assert any(p.endswith(":8080:8080") for p in services["sluice"]["ports"])
print("ok")
)PY";

}  // namespace

TEST_CASE("Packaging: config/compose.yaml is a valid config and agrees with docker-compose.yml",
          "[integration][packaging]") {
  TempDir dir("packaging");
  SluiceProcess check({"check", "-c", Repo("config/compose.yaml")}, dir.File("out"),
                      dir.File("err"), {{"POSTGRES_PASSWORD", "pw"}, {"SLUICE_HTTP_TOKEN", "tok"}});
  int rc = check.Wait(seconds(30));
  INFO(ReadFile(dir.File("err")));
  CHECK(rc == 0);

  WriteFile(dir.File("check.py"), kComposeCheck);
  std::string out;
  rc = Shell("python3 " + dir.File("check.py") + " " + Repo("docker-compose.yml") + " " +
                 Repo("config/compose.yaml"),
             &out);
  INFO(out);  // needs python3-yaml (scripts/setup installs it)
  CHECK(rc == 0);
  CHECK(out.find("ok") != std::string::npos);
}

TEST_CASE(
    "Packaging: the Dockerfile builds in stages on bookworm, runs unprivileged, checks /healthz",
    "[integration][packaging]") {
  std::string docker = ReadFile(Repo("Dockerfile"));
  CHECK(docker.find("FROM debian:bookworm AS build") != std::string::npos);
  CHECK(docker.find("FROM debian:bookworm-slim") != std::string::npos);
  CHECK(docker.find("COPY --from=build") != std::string::npos);
  CHECK(docker.find("\nUSER sluice\n") != std::string::npos);
  CHECK(docker.find("HEALTHCHECK") != std::string::npos);
  CHECK(docker.find("/healthz") != std::string::npos);
  std::string ignore = ReadFile(Repo(".dockerignore"));
  CHECK(ignore.find("build*/") != std::string::npos);
}

TEST_CASE("Packaging: the systemd unit passes systemd-analyze verify", "[integration][packaging]") {
  TempDir dir("unit");
  std::string unit = ReadFile(Repo("config/sluice.service"));
  for (const char* option : {"NoNewPrivileges=yes", "ProtectSystem=strict",
                             "ReadWritePaths=/var/lib/sluice", "StateDirectory=sluice"}) {
    CHECK(unit.find(option) != std::string::npos);
  }
  // verify wants the binary where ExecStart names it: point it at the one under test.
  size_t at;
  while ((at = unit.find("/usr/local/bin/sluice")) != std::string::npos) {
    unit.replace(at, 21, SLUICE_BINARY);
  }
  WriteFile(dir.File("sluice.service"), unit);
  std::string out;
  int rc = Shell("systemd-analyze verify " + dir.File("sluice.service"), &out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("sluice.service") == std::string::npos);  // no complaint names the unit
}

TEST_CASE("Packaging: sluice --version names the version and the commit",
          "[integration][packaging]") {
  TempDir dir("version");
  CHECK(RunSluice({"--version"}, dir.File("out"), dir.File("err"), seconds(10)) == 0);
  std::string out = ReadFile(dir.File("out"));
  CHECK(out.rfind("sluice 0.", 0) == 0);
  CHECK(out.find("(") != std::string::npos);
  CHECK(out.find("(unknown)") == std::string::npos);
}

}  // namespace sluice::test
