#include "support/es_target.h"

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>

namespace sluice::test {

EsTarget::EsTarget(const std::string& test_name) {
  const char* env = std::getenv("SLUICE_TEST_ES_URL");
  if (env && *env) {
    url_ = env;
    while (!url_.empty() && url_.back() == '/') url_.pop_back();
  } else {
    server_ = std::make_unique<EsTestServer>();
    url_ = server_->url();
  }
  prefix_ = "sluice-" + test_name;
  std::transform(prefix_.begin(), prefix_.end(), prefix_.begin(), [](unsigned char c) {
    return static_cast<char>(std::isalnum(c) ? std::tolower(c) : '-');
  });
}

EsTarget::~EsTarget() {
  if (server_) return;
  httplib::Client c(url_);
  for (const auto& index : indexes_) c.Delete("/" + index);
}

std::string EsTarget::Index(const std::string& base) {
  std::string name = prefix_ + "-" + base + "-" + std::to_string(::getpid());
  indexes_.push_back(name);
  if (!server_) {
    httplib::Client c(url_);
    c.Delete("/" + name);  // a leftover of an earlier run
  }
  return name;
}

nlohmann::json EsTarget::Call(const std::string& method, const std::string& path,
                              const std::string& body, int* status) {
  httplib::Client c(url_);
  c.set_read_timeout(60, 0);
  httplib::Result r = method == "GET"      ? c.Get(path)
                      : method == "DELETE" ? c.Delete(path)
                                           : c.Post(path, body, "application/json");
  if (!r) FAIL("cannot reach Elasticsearch at " + url_ + ": " + httplib::to_string(r.error()));
  *status = r->status;
  if (r->body.empty()) return nlohmann::json();
  return nlohmann::json::parse(r->body, nullptr, false);
}

int64_t EsTarget::Count(const std::string& index) {
  int status = 0;
  Call("POST", "/" + index + "/_refresh", "", &status);
  if (status == 404) return -1;
  auto j = Call("POST", "/" + index + "/_count", R"({"query":{"match_all":{}}})", &status);
  if (status != 200) return -1;
  return j.value("count", int64_t{-1});
}

std::optional<nlohmann::json> EsTarget::Get(const std::string& index, const std::string& id,
                                            uint64_t* version) {
  int status = 0;
  auto j = Call("GET", "/" + index + "/_doc/" + id, "", &status);
  if (status != 200 || !j.value("found", false)) return std::nullopt;
  if (version) *version = j["_version"].get<uint64_t>();
  return j["_source"];
}

std::map<std::string, nlohmann::json> EsTarget::MGet(const std::string& index,
                                                     const std::vector<std::string>& ids) {
  std::map<std::string, nlohmann::json> out;
  if (server_) {  // fast path: the same data without 10,000 documents of JSON on the wire
    for (const auto& [id, d] : server_->Docs(index)) {
      out[id] = {{"_source", nlohmann::json::parse(d.source)}, {"_version", d.version}};
    }
    return out;
  }
  for (size_t i = 0; i < ids.size(); i += 1000) {
    nlohmann::json req = {{"ids", nlohmann::json::array()}};
    for (size_t k = i; k < std::min(ids.size(), i + 1000); ++k) req["ids"].push_back(ids[k]);
    int status = 0;
    auto j = Call("POST", "/" + index + "/_mget", req.dump(), &status);
    if (status != 200) continue;
    for (const auto& d : j["docs"]) {
      if (d.value("found", false)) {
        out[d["_id"].get<std::string>()] = {{"_source", d["_source"]}, {"_version", d["_version"]}};
      }
    }
  }
  return out;
}

nlohmann::json EsTarget::Mapping(const std::string& index) {
  int status = 0;
  auto j = Call("GET", "/" + index, "", &status);
  if (status != 200) return nlohmann::json();
  return j[index]["mappings"];
}

}  // namespace sluice::test
