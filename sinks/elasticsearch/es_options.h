// Options of the elasticsearch/opensearch sink: the option table users see (`sluice plugins`)
// and the typed struct the sink is built from. Parsing is pure so it is unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/options.h"
#include "core/status.h"

namespace sluice::es {

// What to do with an update that carries an unchanged TOAST column whose value the change
// does not hold (no old row image): documents are replaced whole, so sending the row would
// write the column as missing.
enum class ToastPolicy { kFail, kDeadLetter };

struct EsClientOptions {
  std::string url;  // "http://127.0.0.1:9200", no trailing slash
  std::string username;
  std::string password;
  std::string api_key;  // "Authorization: ApiKey <api_key>" (the base64 id:key form)
  std::string ca_file;  // PEM bundle to verify the server with; system store when empty
  bool tls_verify = true;
  bool gzip = false;  // gzip request bodies
  std::chrono::milliseconds timeout{30000};
  std::chrono::milliseconds connect_timeout{10000};
};

struct EsSinkOptions {
  EsClientOptions client;
  std::string index_template;  // "{table}", "{schema}_{table}", "products", ...
  std::string id_template;     // empty: key values joined with ':'
  std::string routing_column;  // empty: no routing
  size_t bulk_actions = 1000;
  size_t bulk_bytes = 5 * 1024 * 1024;
  std::string settings_json;  // index settings for a created index ("" none)
  std::string mappings_json;  // index mappings for a created index ("" none)
  ToastPolicy toast = ToastPolicy::kFail;
  std::string dead_letter_index;  // "": dead letters go to the daemon's dead-letter file
};

// The option table of both `elasticsearch` and `opensearch`.
std::vector<OptionSpec> EsOptionSpecs();

// Builds the typed options; reads `mappings_file` when given. `target` is what follows the
// sink name in the pipe ("products" in `search.products`); it is the default index.
Result<EsSinkOptions> ParseEsOptions(const Options& options, const std::string& target);

// The libcurl TLS settings the client applies (pulled out so the wiring is testable).
struct CurlTlsSettings {
  std::string ca_file;   // CURLOPT_CAINFO when not empty
  long verify_peer = 1;  // CURLOPT_SSL_VERIFYPEER
  long verify_host = 2;  // CURLOPT_SSL_VERIFYHOST
};
CurlTlsSettings TlsSettingsFor(const EsClientOptions& options);

}  // namespace sluice::es
