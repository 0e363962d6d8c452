#include "wrappers/kafka/kafka_client.h"

#include <spdlog/spdlog.h>

#include <cctype>

namespace sluice::kafka {

Status ToStatus(rd_kafka_resp_err_t err, const std::string& context) {
  std::string msg = context + ": " + rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")";
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return Status::Ok();
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
      return Status::InvalidArgument(msg);
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Status::NotFound(msg);
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return Status::Rejected(msg);
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_ID_MAPPING:
      return Status::Internal(msg);
    case RD_KAFKA_RESP_ERR__DESTROY:
      return Status::Cancelled(msg);
    default:
      return Status::Unavailable(msg);
  }
}

std::vector<OptionSpec> CommonOptionSpecs() {
  return {
      {"brokers", OptionType::kString, "127.0.0.1:9092", false,
       "Bootstrap brokers, host:port[,host:port...] (bootstrap.servers)"},
      {"client_id", OptionType::kString, "sluice", false, "client.id sent to the brokers"},
      {"security_protocol",
       OptionType::kEnum,
       "plaintext",
       false,
       "security.protocol",
       {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"}},
      {"sasl_mechanism", OptionType::kString, "", false,
       "sasl.mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (librdkafka's default when unset)"},
      {"sasl_username", OptionType::kString, "", false, "sasl.username"},
      {"sasl_password", OptionType::kSecret, "", false, "sasl.password (put it in ${ENV})"},
      {"ssl_ca_location", OptionType::kString, "", false, "ssl.ca.location: CA bundle (PEM)"},
      {"ssl_certificate_location", OptionType::kString, "", false,
       "ssl.certificate.location: client certificate (PEM)"},
      {"ssl_key_location", OptionType::kString, "", false, "ssl.key.location: client key (PEM)"},
      {"ssl_key_password", OptionType::kSecret, "", false, "ssl.key.password (put it in ${ENV})"},
      {"properties", OptionType::kList, "", false,
       "Any librdkafka property as name=value items; applied last, so they win"},
  };
}

namespace {

bool LooksLikePropertyName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ParseProperties(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  // Cut at each comma whose following text starts with "name=".
  std::vector<std::string> items;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') continue;
    if (i < text.size()) {
      std::string_view rest(text.data() + i + 1, text.size() - i - 1);
      size_t eq = rest.find('=');
      if (eq == std::string_view::npos || !LooksLikePropertyName(Trim(rest.substr(0, eq))))
        continue;
    }
    items.push_back(Trim(std::string_view(text).substr(start, i - start)));
    start = i + 1;
  }
  for (const std::string& item : items) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string name = eq == std::string::npos ? item : Trim(std::string_view(item).substr(0, eq));
    if (eq == std::string::npos || !LooksLikePropertyName(name)) {
      return Status::InvalidArgument("properties: expected name=value items (for example " +
                                     std::string("compression.codec=zstd), got '") +
                                     (eq == std::string::npos ? item : name) + "'");
    }
    out.emplace_back(name, Trim(std::string_view(item).substr(eq + 1)));
  }
  return out;
}

Result<CommonOptions> ParseCommonOptions(const Options& o) {
  CommonOptions c;
  c.brokers = o.String("brokers");
  c.client_id = o.String("client_id");
  c.security_protocol = o.String("security_protocol");
  auto opt = [&](const char* name) { return o.Has(name) ? o.String(name) : std::string(); };
  c.sasl_mechanism = opt("sasl_mechanism");
  c.sasl_username = opt("sasl_username");
  c.sasl_password = opt("sasl_password");
  c.ssl_ca_location = opt("ssl_ca_location");
  c.ssl_certificate_location = opt("ssl_certificate_location");
  c.ssl_key_location = opt("ssl_key_location");
  c.ssl_key_password = opt("ssl_key_password");
  if (o.Has("properties")) {
    auto props = ParseProperties(o.String("properties"));
    if (!props.ok()) return props.status();
    c.properties = std::move(props).value();
  }
  return c;
}

namespace {

void LogCallback(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* hooks = static_cast<ClientHooks*>(rd_kafka_opaque(rk));
  const std::string& what = hooks ? hooks->what : std::string();
  // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
  auto lvl = level <= 3   ? spdlog::level::err
             : level == 4 ? spdlog::level::warn
             : level <= 6 ? spdlog::level::info
                          : spdlog::level::debug;
  spdlog::log(lvl, "{} librdkafka {}: {}", what, fac, buf);
}

void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* hooks = static_cast<ClientHooks*>(opaque);
  auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (hooks) {
    hooks->metrics
        .GetCounter("sluice_kafka_errors_total",
                    "Errors librdkafka reported (it retries the retriable ones itself)",
                    {{"code", rd_kafka_err2name(code)}})
        .Add();
  }
  const std::string what = hooks ? hooks->what : std::string("kafka");
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    spdlog::error("{}: fatal Kafka error: {}", what, FatalError(rk));
  } else if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
             code == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
    spdlog::warn("{}: {} ({})", what, reason, rd_kafka_err2name(code));
  } else {
    spdlog::debug("{}: {} ({})", what, reason, rd_kafka_err2name(code));
  }
}

bool IsSecret(const std::string& name) {
  return name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
         name.find("jaas") != std::string::npos;
}

Status Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) == RD_KAFKA_CONF_OK) {
    return Status::Ok();
  }
  return Status::InvalidArgument("librdkafka property " + name +
                                 (IsSecret(name) ? std::string() : "=" + value) + ": " + err);
}

}  // namespace

Result<ConfPtr> BuildConf(const CommonOptions& common,
                          const std::vector<std::pair<std::string, std::string>>& defaults,
                          ClientHooks* hooks) {
  ConfPtr conf(rd_kafka_conf_new());
  std::vector<std::pair<std::string, std::string>> all = defaults;
  auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) all.emplace_back(name, value);
  };
  add("bootstrap.servers", common.brokers);
  add("client.id", common.client_id);
  add("security.protocol", common.security_protocol);
  add("sasl.mechanism", common.sasl_mechanism);
  add("sasl.username", common.sasl_username);
  add("sasl.password", common.sasl_password);
  add("ssl.ca.location", common.ssl_ca_location);
  add("ssl.certificate.location", common.ssl_certificate_location);
  add("ssl.key.location", common.ssl_key_location);
  add("ssl.key.password", common.ssl_key_password);
  for (const auto& p : common.properties) all.push_back(p);
  for (const auto& [name, value] : all) SLUICE_RETURN_IF_ERROR(Set(conf.get(), name, value));
  if (hooks) {
    rd_kafka_conf_set_opaque(conf.get(), hooks);
    rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
    rd_kafka_conf_set_error_cb(conf.get(), ErrorCallback);
  }
  return conf;
}

Result<HandlePtr> NewHandle(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (!rk) return Status::InvalidArgument(std::string("cannot create a Kafka client: ") + err);
  (void)conf.release();  // rd_kafka_new took it
  return HandlePtr(rk);
}

Result<MetadataPtr> FetchMetadata(rd_kafka_t* rk, rd_kafka_topic_t* topic,
                                  std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, topic, &md, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string fatal = FatalError(rk);
    if (!fatal.empty()) return Status::InvalidArgument("Kafka: " + fatal);
    return ToStatus(err, "Kafka metadata request");
  }
  return MetadataPtr(md);
}

std::string FatalError(rd_kafka_t* rk) {
  char buf[512];
  rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, buf, sizeof(buf));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  return std::string(buf) + " (" + rd_kafka_err2name(err) + ")";
}

}  // namespace sluice::kafka
