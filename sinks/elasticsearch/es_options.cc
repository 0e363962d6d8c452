#include "sinks/elasticsearch/es_options.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/redact.h"

namespace sluice::es {

std::vector<OptionSpec> EsOptionSpecs() {
  return {
      {"url",
       OptionType::kString,
       "http://127.0.0.1:9200",
       false,
       "Cluster URL (http:// or https://), e.g. https://es.internal:9200",
       {},
       UrlSecrets},  // a password in its user info is hidden in every message
      {"index", OptionType::kString, "", false,
       "Index name template: {target}, {source}, {schema}, {table}; default the pipe target, "
       "else {table}. Lower-cased."},
      {"id", OptionType::kString, "", false,
       "Document _id template with {column} placeholders; default the key values joined by ':'"},
      {"routing", OptionType::kString, "", false,
       "Column whose value routes each document (must be in the key, or the old row for deletes)"},
      {"username", OptionType::kString, "", false, "Basic auth user"},
      {"password", OptionType::kSecret, "", false, "Basic auth password (use ${ENV})"},
      {"api_key", OptionType::kSecret, "", false,
       "API key, the base64 'id:key' form sent as 'Authorization: ApiKey ...' (use ${ENV})"},
      {"ca_file", OptionType::kString, "", false, "PEM CA bundle to verify the cluster with"},
      {"tls_verify", OptionType::kBool, "true", false,
       "Verify the server certificate and host name (turn off only for tests)"},
      {"gzip", OptionType::kBool, "false", false, "gzip request bodies, and ask for gzip answers"},
      {"bulk_actions", OptionType::kInt, "1000", false, "Documents per _bulk request"},
      {"bulk_bytes", OptionType::kBytes, "5MB", false, "Bytes per _bulk request (and buffered)"},
      {"timeout", OptionType::kDuration, "30s", false, "Timeout of one HTTP request"},
      {"connect_timeout", OptionType::kDuration, "10s", false, "TCP/TLS connect timeout"},
      {"settings", OptionType::kString, "", false,
       "Index settings (JSON object) used when sluice creates the index"},
      {"mappings", OptionType::kString, "", false,
       "Index mappings (JSON object) used when sluice creates the index"},
      {"mappings_file", OptionType::kString, "", false,
       "File holding the mappings JSON object (instead of `mappings`)"},
      {"dead_letter_index", OptionType::kString, "", false,
       "Index that receives rejected changes with their reason (default: the dead-letter file "
       "in the state directory)"},
      {"toast",
       OptionType::kEnum,
       "fail",
       false,
       "An update with an unchanged TOAST column and no old row: fail (stop the pipeline) or "
       "dead_letter",
       {"fail", "dead_letter"}},
  };
}

namespace {

Status CheckJsonObject(const std::string& name, const std::string& text) {
  if (text.empty()) return Status::Ok();
  try {
    if (!nlohmann::json::parse(text).is_object()) {
      return Status::InvalidArgument("option '" + name + "' must be a JSON object");
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument("option '" + name + "' is not valid JSON: " + e.what());
  }
  return Status::Ok();
}

}  // namespace

Result<EsSinkOptions> ParseEsOptions(const Options& options, const std::string& target) {
  EsSinkOptions o;
  o.client.url = options.String("url");
  while (!o.client.url.empty() && o.client.url.back() == '/') o.client.url.pop_back();
  if (o.client.url.rfind("http://", 0) != 0 && o.client.url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("option 'url' must start with http:// or https://");
  }
  o.client.username = options.String("username");
  o.client.password = options.String("password");
  o.client.api_key = options.String("api_key");
  if (!o.client.api_key.empty() && !o.client.username.empty()) {
    return Status::InvalidArgument("options 'api_key' and 'username' exclude each other");
  }
  o.client.ca_file = options.String("ca_file");
  o.client.tls_verify = options.Has("tls_verify") ? options.Bool("tls_verify") : true;
  o.client.gzip = options.Bool("gzip");
  if (options.Has("timeout")) o.client.timeout = options.Duration("timeout");
  if (options.Has("connect_timeout"))
    o.client.connect_timeout = options.Duration("connect_timeout");

  o.index_template = options.String("index");
  if (o.index_template.empty()) o.index_template = target.empty() ? "{table}" : target;
  o.id_template = options.String("id");
  o.routing_column = options.String("routing");
  o.dead_letter_index = options.String("dead_letter_index");
  if (options.Has("bulk_actions")) {
    if (options.Int("bulk_actions") < 1) {
      return Status::InvalidArgument("option 'bulk_actions' must be at least 1");
    }
    o.bulk_actions = static_cast<size_t>(options.Int("bulk_actions"));
  }
  if (options.Has("bulk_bytes")) o.bulk_bytes = options.Bytes("bulk_bytes");
  if (o.bulk_bytes < 1024) return Status::InvalidArgument("option 'bulk_bytes' must be >= 1KB");

  o.settings_json = options.String("settings");
  o.mappings_json = options.String("mappings");
  const std::string& file = options.String("mappings_file");
  if (!file.empty()) {
    if (!o.mappings_json.empty()) {
      return Status::InvalidArgument("options 'mappings' and 'mappings_file' exclude each other");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::InvalidArgument("cannot read mappings_file " + file);
    std::ostringstream ss;
    ss << in.rdbuf();
    o.mappings_json = ss.str();
    SLUICE_RETURN_IF_ERROR(CheckJsonObject("mappings_file (" + file + ")", o.mappings_json));
  }
  SLUICE_RETURN_IF_ERROR(CheckJsonObject("settings", o.settings_json));
  SLUICE_RETURN_IF_ERROR(CheckJsonObject("mappings", o.mappings_json));
  o.toast =
      options.String("toast") == "dead_letter" ? ToastPolicy::kDeadLetter : ToastPolicy::kFail;
  return o;
}

CurlTlsSettings TlsSettingsFor(const EsClientOptions& options) {
  CurlTlsSettings t;
  t.ca_file = options.ca_file;
  t.verify_peer = options.tls_verify ? 1 : 0;
  t.verify_host = options.tls_verify ? 2 : 0;
  return t;
}

}  // namespace sluice::es
