// The status page in a real browser: headless Chromium loads / from a running sluice with
// two pipelines, one snapshotting a table slowly into Elasticsearch (a slow in-process
// server), one streaming into Redis beside a Redis sink that is down. The DOM must show both
// pipelines, the down sink with its error, a progress bar and plots with points; a
// screenshot is written ($SLUICE_TEST_SCREENSHOT names a copy to keep); the browser's
// network log must hold no request outside the sluice address.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <vector>

#include "http_support.h"
#include "support/es_target.h"
#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Chromium, headless, with nothing of its own that reaches the network, on a fresh profile.
std::string Chromium(const TempDir& dir, const std::string& flags, const std::string& url,
                     const std::string& out) {
  const std::string profile = dir.File("chromium-profile");
  std::string cmd = "HOME=" + dir.path() +
                    " timeout 90 chromium --headless=new --no-sandbox --disable-gpu "
                    "--disable-dev-shm-usage --no-first-run --no-default-browser-check "
                    "--disable-background-networking --disable-component-update "
                    "--disable-sync --disable-extensions --disable-default-apps "
                    "--disable-domain-reliability --disable-client-side-phishing-detection "
                    "--metrics-recording-only --user-data-dir=" +
                    profile + " --window-size=412,1600 --virtual-time-budget=9000 " + flags + " '" +
                    url + "' > " + out + " 2> " + out + ".err";
  int rc = std::system(cmd.c_str());
  INFO(cmd << "\n" << ReadFile(out + ".err"));
  REQUIRE(rc == 0);
  return ReadFile(out);
}

// Samples in /status/history of pipeline `name` whose throughput of sink `sink` is known.
int RatedSamples(int port, const std::string& name, const std::string& sink) {
  HttpAnswer a = HttpGet(port, "/status/history");
  if (a.status != 200) return 0;
  int n = 0;
  const json history = json::parse(a.body);
  for (const json& p : history["pipelines"]) {
    if (p["name"] != name) continue;
    for (const json& s : p["sinks"]) {
      if (s["name"] != sink) continue;
      for (const json& v : s["changes_per_second"]) n += v.is_null() ? 0 : 1;
    }
  }
  return n;
}

// The URLs of the requests in a Chromium net log (--log-net-log) made for a page of
// http://127.0.0.1 (its network isolation key), one line each in `*list`.
std::vector<std::string> PageRequests(const std::string& log, std::string* list) {
  json j = json::parse(log, nullptr, false);
  if (j.is_discarded()) j = json::parse(log + "]}", nullptr, false);  // cut short at exit
  REQUIRE(j.is_object());
  const int start_job = j["constants"]["logEventTypes"].value("URL_REQUEST_START_JOB", -1);
  REQUIRE(start_job >= 0);
  std::vector<std::string> urls;
  for (const json& e : j["events"]) {
    if (e.value("type", -1) != start_job || !e.contains("params")) continue;
    const json& p = e["params"];
    if (p.value("network_isolation_key", "").rfind("http://127.0.0.1 ", 0) != 0) continue;
    urls.push_back(p.value("url", ""));
    *list += urls.back() + "\n";
  }
  return urls;
}

}  // namespace

TEST_CASE("StatusPage: headless Chromium shows both pipelines, a down sink, progress and plots",
          "[integration][page]") {
  REQUIRE(std::system("command -v chromium > /dev/null") == 0);  // scripts/setup installs it
  TestDb db("it_status_page");
  CreateItems(db, 10000);
  db.Exec("ANALYZE items");  // an estimate for the progress bar
  db.Exec("CREATE TABLE orders (id bigint PRIMARY KEY, total numeric)");
  EsTarget es("status-page");
  REQUIRE(es.server() != nullptr);
  es.server()->SetDelay(milliseconds(1000));  // 10,000 rows, 200 a request: about 50 s
  TempDir dir("status-page");
  auto redis_url = RequireEnv("SLUICE_TEST_REDIS_URL");
  redis_url.replace(redis_url.rfind('/'), std::string::npos, "/44");
  const std::string sinks =
      "  search:\n    type: elasticsearch\n    url: " + es.url() +
      "\n    index: " + es.Index("items") + "\n    bulk_actions: 200\n" +
      "  cache:\n    type: redis\n    url: \"" + redis_url + "\"\n" +
      "  spare:\n    type: redis\n    url: redis://127.0.0.1:" + std::to_string(ClosedPort()) +
      "/0\n";
  const std::string pipes =
      "  page_catalog: src.public.items | search\n"
      "  page_orders:\n    from: src.public.orders\n    to: [cache, spare]\n";
  WriteFile(dir.File("sluice.yaml"),
            "shutdown_timeout: 2s\nlimits:\n  batch_changes: 200\n" +
                SluiceConfig(dir, db.Dsn(), sinks, pipes, "    toast: lookup\n"));
  auto sluice = StartSluice(dir);
  const int port = HttpPort(dir);
  const std::string origin = "http://127.0.0.1:" + std::to_string(port);

  // Writes stream into page_orders while the history gathers a few rated samples.
  int written = 0;
  REQUIRE(WaitFor(
      [&] {
        db.Exec("INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(" +
                std::to_string(written + 1) + ", " + std::to_string(written + 20) + ") g");
        written += 20;
        return RatedSamples(port, "page_orders", "cache") >= 3;
      },
      seconds(60)));
  HttpAnswer status = HttpGet(port, "/status");
  INFO(status.body);
  json st = json::parse(status.body);
  REQUIRE(st["pipelines"][0]["phase"] == "snapshot");  // still slow, as the page must show

  const std::string dom = Chromium(
      dir, "--dump-dom --log-net-log=" + dir.File("net.json") + " --net-log-capture-mode=Default",
      origin + "/", dir.File("dom.html"));
  INFO(dom);
  CHECK(dom.find("data-pipeline=\"page_catalog\"") != std::string::npos);
  CHECK(dom.find("data-pipeline=\"page_orders\"") != std::string::npos);
  // The down sink: in words (not colour alone) and with its error.
  std::smatch m;
  REQUIRE(std::regex_search(dom, m,
                            std::regex("<li class=\"sink\" data-sink=\"spare\" data-up=\"false\">"
                                       "(.*?)</li>")));
  CHECK(m[1].str().find("down") != std::string::npos);
  CHECK(m[1].str().find("last error: ") != std::string::npos);
  CHECK(std::regex_search(dom, std::regex("data-sink=\"cache\" data-up=\"true\">.*?✓ up")));
  CHECK(std::regex_search(dom, std::regex("<progress max=\"\\d+\" value=\"\\d+\"")));
  CHECK(dom.find("snapshot public.items: ") != std::string::npos);
  // Plots with points: the throughput of page_orders has some, whatever the page counted.
  std::regex points("class=\"plot\"[^>]*data-points=\"(\\d+)\"");
  int plots = 0, with_points = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), points); it != std::sregex_iterator();
       ++it) {
    ++plots;
    with_points += std::stoi((*it)[1].str()) >= 2 ? 1 : 0;
  }
  CHECK(plots == 4);  // throughput and lag per pipeline
  CHECK(with_points >= 2);
  CHECK(dom.find("<div id=\"problem\" hidden=\"\">") != std::string::npos);  // no error shown

  // Every URL the page asked for is the sluice address. The page's requests are those of its
  // site's network isolation key (a sub-resource from anywhere else would carry it too);
  // Chromium's own (component updates, network time) carry another and are not the page's.
  std::string list;
  const std::vector<std::string> urls = PageRequests(ReadFile(dir.File("net.json")), &list);
  INFO("the page's requests:\n" << list);
  CHECK(std::count(urls.begin(), urls.end(), origin + "/") == 1);
  CHECK(std::count(urls.begin(), urls.end(), origin + "/status") >= 1);
  for (const std::string& u : urls) CHECK(u.rfind(origin + "/", 0) == 0);

  const std::string png = dir.File("status_page.png");
  Chromium(dir, "--screenshot=" + png + " --hide-scrollbars", origin + "/", dir.File("shot.out"));
  REQUIRE(std::filesystem::exists(png));
  const std::string bytes = ReadFile(png);
  CHECK(bytes.size() > 10000);
  CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  if (const char* keep = std::getenv("SLUICE_TEST_SCREENSHOT")) {
    std::filesystem::copy_file(png, keep, std::filesystem::copy_options::overwrite_existing);
  }
}

}  // namespace sluice::test
