#include "core/options.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace sluice {

const char* OptionTypeName(OptionType type) {
  switch (type) {
    case OptionType::kString:
      return "string";
    case OptionType::kSecret:
      return "secret";
    case OptionType::kInt:
      return "integer";
    case OptionType::kBool:
      return "boolean";
    case OptionType::kDuration:
      return "duration";
    case OptionType::kBytes:
      return "size";
    case OptionType::kEnum:
      return "enum";
    case OptionType::kList:
      return "list";
  }
  return "unknown";
}

namespace {

// Splits "250ms" into 250 and "ms".
bool SplitNumber(const std::string& text, uint64_t* number, std::string* unit) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return false;
  auto r = std::from_chars(text.data(), text.data() + i, *number);
  if (r.ec != std::errc()) return false;
  size_t j = i;
  while (j < text.size() && text[j] == ' ') ++j;
  *unit = text.substr(j);
  std::transform(unit->begin(), unit->end(), unit->begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return true;
}

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || text.empty())
    return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(const std::string& text) {
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  return std::nullopt;
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  uint64_t n = 0;
  std::string unit;
  if (!SplitNumber(text, &n, &unit)) return std::nullopt;
  using std::chrono::milliseconds;
  if (unit.empty() || unit == "s") return milliseconds(n * 1000);
  if (unit == "ms") return milliseconds(n);
  if (unit == "m" || unit == "min") return milliseconds(n * 60 * 1000);
  if (unit == "h") return milliseconds(n * 3600 * 1000);
  return std::nullopt;
}

std::optional<uint64_t> ParseBytes(const std::string& text) {
  uint64_t n = 0;
  std::string unit;
  if (!SplitNumber(text, &n, &unit)) return std::nullopt;
  if (unit.empty() || unit == "b") return n;
  if (unit == "kb" || unit == "kib" || unit == "k") return n * 1024;
  if (unit == "mb" || unit == "mib" || unit == "m") return n * 1024 * 1024;
  if (unit == "gb" || unit == "gib" || unit == "g") return n * 1024 * 1024 * 1024;
  return std::nullopt;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    start = comma + 1;
  }
  return out;
}

Status ValidateOption(const OptionSpec& spec, const std::string& value) {
  auto expected = [&](const std::string& what) {
    return Status::InvalidArgument("option '" + spec.name + "' expects " + what + ", got '" +
                                   (spec.type == OptionType::kSecret ? "***" : value) + "'");
  };
  switch (spec.type) {
    case OptionType::kString:
    case OptionType::kSecret:
    case OptionType::kList:
      return Status::Ok();
    case OptionType::kInt:
      return ParseInt(value) ? Status::Ok() : expected("an integer");
    case OptionType::kBool:
      return ParseBool(value) ? Status::Ok() : expected("true or false");
    case OptionType::kDuration:
      return ParseDuration(value) ? Status::Ok() : expected("a duration such as 500ms, 5s, 2m");
    case OptionType::kBytes:
      return ParseBytes(value) ? Status::Ok() : expected("a size such as 512KB or 5MB");
    case OptionType::kEnum: {
      if (std::find(spec.choices.begin(), spec.choices.end(), value) != spec.choices.end()) {
        return Status::Ok();
      }
      std::string list;
      for (const auto& c : spec.choices) list += (list.empty() ? "" : ", ") + c;
      return expected("one of: " + list);
    }
  }
  return Status::Internal("unknown option type");
}

bool Options::Has(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

const std::string& Options::String(const std::string& name) const {
  static const std::string kEmpty;
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

int64_t Options::Int(const std::string& name) const { return ParseInt(String(name)).value_or(0); }
bool Options::Bool(const std::string& name) const {
  return ParseBool(String(name)).value_or(false);
}
std::chrono::milliseconds Options::Duration(const std::string& name) const {
  return ParseDuration(String(name)).value_or(std::chrono::milliseconds(0));
}
uint64_t Options::Bytes(const std::string& name) const {
  return ParseBytes(String(name)).value_or(0);
}
std::vector<std::string> Options::List(const std::string& name) const {
  return SplitList(String(name));
}

Options WithDefaults(const std::vector<OptionSpec>& specs,
                     std::map<std::string, std::string> given) {
  for (const auto& spec : specs) {
    if (!given.count(spec.name) && !spec.default_value.empty()) {
      given[spec.name] = spec.default_value;
    }
  }
  return Options(std::move(given));
}

const OptionSpec* FindOption(const std::vector<OptionSpec>& specs, const std::string& name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string ExpandPipelineName(const std::string& value, const std::string& pipeline) {
  static const std::string kPlaceholder = "{pipeline}";
  std::string name;
  for (char c : pipeline) {
    auto u = static_cast<unsigned char>(c);
    name.push_back(std::isalnum(u) != 0 && u < 0x80 ? static_cast<char>(std::tolower(u)) : '_');
  }
  std::string out;
  size_t from = 0;
  for (size_t at = value.find(kPlaceholder); at != std::string::npos;
       at = value.find(kPlaceholder, from)) {
    out.append(value, from, at - from).append(name);
    from = at + kPlaceholder.size();
  }
  return out.append(value, from, std::string::npos);
}

}  // namespace sluice
