#include "http_support.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <regex>

namespace sluice::test {

int HttpPort(const TempDir& dir) {
  const std::regex pattern("http: listening on [^ ]*:([0-9]+)");
  int port = 0;
  WaitFor(
      [&] {
        std::smatch m;
        std::string log = ReadFile(dir.File("stderr.log"));
        if (!std::regex_search(log, m, pattern)) return false;
        port = std::stoi(m[1].str());
        return true;
      },
      std::chrono::seconds(30));
  INFO("stderr:\n" << ReadFile(dir.File("stderr.log")));
  REQUIRE(port > 0);
  return port;
}

HttpAnswer HttpGet(int port, const std::string& path, const std::string& token) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  if (!token.empty()) client.set_bearer_token_auth(token);
  auto res = client.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

std::optional<double> MetricValue(const std::string& scrape, const std::string& series) {
  size_t at = 0;
  while ((at = scrape.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || scrape[at - 1] == '\n') {
      return std::stod(scrape.substr(at + series.size() + 1));
    }
    at += series.size();
  }
  return std::nullopt;
}

int PromtoolCheck(const std::string& scrape, std::string* output) {
  TempDir dir("promtool");
  WriteFile(dir.File("scrape.txt"), scrape);
  std::string cmd =
      "promtool check metrics < " + dir.File("scrape.txt") + " > " + dir.File("out.txt") + " 2>&1";
  int rc = std::system(cmd.c_str());
  *output = ReadFile(dir.File("out.txt"));
  INFO("promtool: " << *output);
  REQUIRE(WEXITSTATUS(rc) != 127);  // not installed: run scripts/setup (Debian `prometheus`)
  return WEXITSTATUS(rc);
}

int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string WithHttp(std::string config, const std::string& listen, const std::string& extra) {
  const std::string line = "  listen: \"127.0.0.1:0\"\n";
  size_t at = config.find(line);
  REQUIRE(at != std::string::npos);
  config.replace(at, line.size(), "  listen: \"" + listen + "\"\n" + extra);
  return config;
}

}  // namespace sluice::test
