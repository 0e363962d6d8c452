#include "util/redact.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <cctype>
#include <charconv>
#include <mutex>
#include <shared_mutex>

namespace sluice {

namespace {

constexpr std::string_view kHidden = "***";

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// The secrets AddSecret was given, longest first. Read by every log line: a shared lock.
class SecretSet {
 public:
  void Add(std::string_view secret) {
    std::unique_lock lock(mu_);
    if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
    auto at = std::find_if(secrets_.begin(), secrets_.end(),
                           [&](const std::string& s) { return s.size() < secret.size(); });
    secrets_.emplace(at, secret);
    first_bytes_.set(static_cast<unsigned char>(secret[0]));
  }

  std::string Replace(std::string_view text) const {
    std::shared_lock lock(mu_);
    if (secrets_.empty()) return std::string(text);
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      size_t n = first_bytes_.test(static_cast<unsigned char>(text[i])) ? MatchAt(text, i) : 0;
      if (n > 0) {
        out.append(kHidden);
        i += n;
      } else {
        out.push_back(text[i++]);
      }
    }
    return out;
  }

 private:
  size_t MatchAt(std::string_view text, size_t i) const {
    for (const std::string& s : secrets_) {
      if (text.compare(i, s.size(), s) == 0) return s.size();
    }
    return 0;
  }

  mutable std::shared_mutex mu_;
  std::vector<std::string> secrets_;
  std::bitset<256> first_bytes_;
};

SecretSet& Secrets() {
  static SecretSet set;
  return set;
}

bool StartsWithCi(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) != word[i]) return false;
  }
  return true;
}

// End of a conninfo value at `pos`, as libpq's conninfo_parse reads it: a quoted value ends
// after its closing quote, a bare one at a blank; `\` escapes the next character in both.
// An unterminated quote runs to the end: hiding too much is the safe side.
size_t ConninfoValueEnd(std::string_view text, size_t pos) {
  const bool quoted = pos < text.size() && text[pos] == '\'';
  size_t i = quoted ? pos + 1 : pos;
  while (i < text.size()) {
    if (text[i] == '\\') {
      i += 2;
    } else if (quoted ? text[i] == '\'' : IsSpace(text[i])) {
      return quoted ? i + 1 : i;
    } else {
      ++i;
    }
  }
  return text.size();
}

// End of a URL query value at `pos`: at `&`, `#` or a blank.
size_t QueryValueEnd(std::string_view text, size_t pos) {
  size_t i = pos;
  while (i < text.size() && text[i] != '&' && text[i] != '#' && !IsSpace(text[i])) ++i;
  return i;
}

// If a secret-named key starts at `i`: where its value starts and ends.
bool SecretValueAt(std::string_view text, size_t i, size_t* value, size_t* end) {
  static constexpr std::array<std::string_view, 6> kKeys = {"sslpassword", "password", "passwd",
                                                            "pwd",         "token",    "secret"};
  if (i > 0 && IsWordChar(text[i - 1]) && text[i - 1] != '_') return false;
  for (std::string_view key : kKeys) {
    size_t j = i + key.size();
    if (!StartsWithCi(text, i, key) || (j < text.size() && IsWordChar(text[j]))) continue;
    while (j < text.size() && IsSpace(text[j])) ++j;
    if (j >= text.size() || text[j] != '=') return false;
    const bool query = i > 0 && (text[i - 1] == '?' || text[i - 1] == '&');
    ++j;
    if (!query) {
      while (j < text.size() && IsSpace(text[j])) ++j;  // libpq skips blanks after '='
    }
    *value = j;
    *end = query ? QueryValueEnd(text, j) : ConninfoValueEnd(text, j);
    return true;
  }
  return false;
}

// If `scheme://user:secret@` starts at `i` (at "://"): where the password starts and ends.
bool UrlPasswordAt(std::string_view text, size_t i, size_t* value, size_t* end) {
  if (text.compare(i, 3, "://") != 0) return false;
  const size_t start = i + 3;
  size_t stop = start;
  while (stop < text.size() && text[stop] != '/' && !IsSpace(text[stop])) ++stop;
  size_t at = text.substr(start, stop - start).rfind('@');
  if (at == std::string_view::npos) return false;
  size_t colon = text.substr(start, at).find(':');
  if (colon == std::string_view::npos) return false;
  *value = start + colon + 1;
  *end = start + at;
  return true;
}

std::string RedactPatterns(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t value = 0;
    size_t end = 0;
    if (SecretValueAt(text, i, &value, &end) || UrlPasswordAt(text, i, &value, &end)) {
      out.append(text.substr(i, value - i));
      out.append(kHidden);
      i = end;
      continue;
    }
    out.push_back(text[i++]);
  }
  return out;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int v = 0;
    if (s[i] == '%' && i + 2 < s.size() &&
        std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ptr == s.data() + i + 3) {
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

void AddSecret(std::string_view secret) {
  if (secret.size() >= kMinSecretLength) Secrets().Add(secret);
}

std::string Redact(std::string_view text) { return RedactPatterns(Secrets().Replace(text)); }

std::vector<std::string> WrittenSecrets(std::string_view text) {
  std::vector<std::string> out;
  auto add = [&](std::string value) {
    if (!value.empty() && std::find(out.begin(), out.end(), value) == out.end()) {
      out.push_back(std::move(value));
    }
  };
  for (size_t i = 0; i < text.size(); ++i) {
    size_t value = 0;
    size_t end = 0;
    if (SecretValueAt(text, i, &value, &end)) {
      bool quoted = end - value >= 2 && text[value] == '\'' && text[end - 1] == '\'';
      add(std::string(quoted ? text.substr(value + 1, end - value - 2)
                             : text.substr(value, end - value)));
    } else if (UrlPasswordAt(text, i, &value, &end)) {
      std::string_view raw = text.substr(value, end - value);
      add(std::string(raw));
      add(PercentDecode(raw));
    } else {
      continue;
    }
    i = std::max(i, end - 1);
  }
  return out;
}

Result<std::vector<std::string>> UrlSecrets(const std::string& url) { return WrittenSecrets(url); }

}  // namespace sluice
