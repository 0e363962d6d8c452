// Option tables: each plugin declares its options once (name, type, default, required,
// description). The config loader validates YAML against the table and hands the plugin
// an Options of checked values -- never a YAML node.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sluice {

enum class OptionType {
  kString,
  kSecret,    // a string never printed (passwords, tokens)
  kInt,       // a whole number
  kBool,      // true/false
  kDuration,  // "250ms", "5s", "2m", "1h"; a bare number means seconds
  kBytes,     // "512", "64KB", "5MB", "1GiB"
  kEnum,      // one of `choices`
  kList,      // comma-separated strings, or a YAML sequence
};

const char* OptionTypeName(OptionType type);

// The parts of an option's value that must never be printed, which the config loader adds
// to Redact's set of known secrets (core/redact.h): a DSN's password as libpq decodes it, the
// password in a URL. An error makes the config invalid; its message must not quote `value`.
using SecretParts = Result<std::vector<std::string>> (*)(const std::string& value);

struct OptionSpec {
  std::string name;
  OptionType type = OptionType::kString;
  std::string default_value;  // empty with required=false means "unset"
  bool required = false;
  std::string description;
  std::vector<std::string> choices;  // for kEnum
  // Unset: a kSecret value is a secret as a whole, any other value holds none.
  SecretParts secrets = nullptr;
  // The value names something only one pipeline may hold (a replication slot): `{pipeline}`
  // in it stands for the pipeline's name (ExpandPipelineName), and a config in which two
  // pipelines of one source end up with the same value is refused.
  bool one_per_pipeline = false;
};

// `value` with each `{pipeline}` replaced by `pipeline` lowercased, every character other
// than an ASCII letter, digit or '_' turned into '_' (so it stays a valid identifier).
std::string ExpandPipelineName(const std::string& value, const std::string& pipeline);

// Checks `value` against `spec`; the message says what was expected.
Status ValidateOption(const OptionSpec& spec, const std::string& value);

std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text);
std::optional<uint64_t> ParseBytes(const std::string& text);
std::vector<std::string> SplitList(const std::string& text);

// Validated option values, defaults filled in. Accessors assume validation passed and the
// option is declared; asking for an undeclared option is a programming error.
class Options {
 public:
  Options() = default;
  explicit Options(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  bool Has(const std::string& name) const;
  const std::string& String(const std::string& name) const;
  int64_t Int(const std::string& name) const;
  bool Bool(const std::string& name) const;
  std::chrono::milliseconds Duration(const std::string& name) const;
  uint64_t Bytes(const std::string& name) const;
  std::vector<std::string> List(const std::string& name) const;

  void Set(const std::string& name, std::string value) { values_[name] = std::move(value); }
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// Fills defaults for options missing from `given`. Does not validate.
Options WithDefaults(const std::vector<OptionSpec>& specs,
                     std::map<std::string, std::string> given);

const OptionSpec* FindOption(const std::vector<OptionSpec>& specs, const std::string& name);

}  // namespace sluice
