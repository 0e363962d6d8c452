// EsTarget: where an elasticsearch sink test writes. The in-process EsTestServer by default,
// or the real cluster at SLUICE_TEST_ES_URL when that is set (index names unique per test,
// deleted at the end). Reads go over HTTP so they work the same against both.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/es_test_server.h"

namespace sluice::test {

class EsTarget {
 public:
  explicit EsTarget(const std::string& test_name);
  ~EsTarget();  // deletes the indexes it named on a real cluster

  std::string url() const { return url_; }
  // The in-process server, or nullptr against a real cluster (fault injection and request
  // records exist only there; such test parts are skipped with a WARN).
  EsTestServer* server() { return server_.get(); }
  // A unique index name for this test: "sluice-<test>-<base>-<pid>".
  std::string Index(const std::string& base);

  // HTTP helpers. Count refreshes first; -1 when the index does not exist.
  int64_t Count(const std::string& index);
  // The _source and _version of a document, nullopt when absent.
  std::optional<nlohmann::json> Get(const std::string& index, const std::string& id,
                                    uint64_t* version = nullptr);
  // id -> {"_source":..., "_version":...} of the given ids that exist (_mget in chunks).
  std::map<std::string, nlohmann::json> MGet(const std::string& index,
                                             const std::vector<std::string>& ids);
  nlohmann::json Mapping(const std::string& index);

 private:
  nlohmann::json Call(const std::string& method, const std::string& path, const std::string& body,
                      int* status);
  std::unique_ptr<EsTestServer> server_;
  std::string url_;
  std::string prefix_;
  std::vector<std::string> indexes_;
};

}  // namespace sluice::test
