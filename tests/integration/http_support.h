// Helpers for the operations-endpoint tests: find the port a sluice started with
// `http.listen: HOST:0` bound (it logs it), GET an endpoint, read a series from /metrics,
// and run `promtool check metrics` on a scrape.
#pragma once

#include <optional>
#include <string>

#include "support/test_env.h"

namespace sluice::test {

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
};

// The port from sluice's "http: listening on HOST:PORT" log line (waits up to 30 s).
int HttpPort(const TempDir& dir);

HttpAnswer HttpGet(int port, const std::string& path, const std::string& token = "");

// The value of the series `series` (name with its labels exactly as rendered, e.g.
// `sluice_sink_up{pipeline="p",sink="s"}`) in a Prometheus text scrape.
std::optional<double> MetricValue(const std::string& scrape, const std::string& series);

// Runs `promtool check metrics` on `scrape`; returns its exit code and puts its output in
// `*output`. Fails the test when promtool is not installed (scripts/setup installs it).
int PromtoolCheck(const std::string& scrape, std::string* output);

// A TCP port on 127.0.0.1 where nothing listens (bound and released).
int ClosedPort();

// `config` (from SluiceConfig, which listens on 127.0.0.1:0) listening on `listen` instead,
// with `extra` lines ("  token: ...\n") added to its `http:` section.
std::string WithHttp(std::string config, const std::string& listen, const std::string& extra);

}  // namespace sluice::test
