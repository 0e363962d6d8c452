#include "runtime/transforms.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

namespace sluice {

namespace {

// A finite decimal as 0.digits x 10^exponent, digits without leading or trailing zeros
// (empty for zero), or one of the special float values.
struct Number {
  enum class Class { kNegInf, kFinite, kPosInf, kNaN };
  Class cls = Class::kFinite;
  bool negative = false;
  std::string digits;
  long exponent = 0;
};

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// Reads [e|E][+-]digits from `s` at `i`, saturating far beyond any real exponent.
bool ParseExponent(std::string_view s, size_t i, long* exp) {
  if (i == s.size()) return true;
  if (s[i] != 'e' && s[i] != 'E') return false;
  bool negative = ++i < s.size() && s[i] == '-';
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (i == s.size()) return false;
  long value = 0;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
    value = std::min(value * 10 + (s[i] - '0'), 1000000000L);
  }
  *exp = negative ? -value : value;
  return true;
}

std::optional<Number> ParseNumber(std::string_view s) {
  Number n;
  if (s == "NaN") return Number{Number::Class::kNaN};
  if (s == "Infinity" || s == "+Infinity") return Number{Number::Class::kPosInf};
  if (s == "-Infinity") return Number{Number::Class::kNegInf};
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) n.negative = s[i++] == '-';
  long int_digits = 0;
  bool seen_point = false, any_digit = false;
  for (; i < s.size() && (IsDigit(s[i]) || (s[i] == '.' && !seen_point)); ++i) {
    if (s[i] == '.') {
      seen_point = true;
      continue;
    }
    any_digit = true;
    if (n.digits.empty() && s[i] == '0') {
      if (!seen_point) continue;  // leading zero of the integer part
      --int_digits;               // 0.0x: shifts the point
      continue;
    }
    n.digits.push_back(s[i]);
    if (!seen_point) ++int_digits;
  }
  long exp = 0;
  if (!any_digit || !ParseExponent(s, i, &exp)) return std::nullopt;
  while (!n.digits.empty() && n.digits.back() == '0') n.digits.pop_back();
  if (n.digits.empty()) n.negative = false;  // -0 == 0
  n.exponent = int_digits + exp;
  return n;
}

int Sign(int x) { return (x > 0) - (x < 0); }

int CompareFinite(const Number& a, const Number& b) {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  const int flip = a.negative ? -1 : 1;
  if (a.digits.empty() || b.digits.empty()) {
    return flip * (static_cast<int>(!a.digits.empty()) - static_cast<int>(!b.digits.empty()));
  }
  if (a.exponent != b.exponent) return flip * (a.exponent < b.exponent ? -1 : 1);
  // Same exponent: digit strings compare as fractions (no trailing zeros, so longer wins).
  return flip * Sign(a.digits.compare(b.digits));
}

Row Project(Row& row, const std::vector<std::string>& columns) {
  Row out;
  out.reserve(columns.size());
  for (const std::string& column : columns) {
    if (Field* f = FindField(row, column)) out.push_back(std::move(*f));
  }
  return out;
}

class SelectTransform : public Transform {
 public:
  explicit SelectTransform(std::vector<std::string> columns) : columns_(std::move(columns)) {
    // A column listed twice would be moved twice; keep its first place.
    std::vector<std::string> unique;
    for (auto& c : columns_) {
      if (std::find(unique.begin(), unique.end(), c) == unique.end()) unique.push_back(c);
    }
    columns_ = std::move(unique);
  }
  bool Apply(Change& change) const override {
    if (change.before) change.before = Project(*change.before, columns_);
    if (change.after) change.after = Project(*change.after, columns_);
    return true;
  }

 private:
  std::vector<std::string> columns_;
};

class DropTransform : public Transform {
 public:
  explicit DropTransform(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  bool Apply(Change& change) const override {
    if (change.before) Drop(*change.before);
    if (change.after) Drop(*change.after);
    return true;
  }

 private:
  void Drop(Row& row) const {
    std::erase_if(row, [this](const Field& f) {
      return std::find(columns_.begin(), columns_.end(), f.name) != columns_.end();
    });
  }
  std::vector<std::string> columns_;
};

class RenameTransform : public Transform {
 public:
  explicit RenameTransform(std::vector<std::pair<std::string, std::string>> renames)
      : renames_(std::move(renames)) {}
  bool Apply(Change& change) const override {
    Rename(change.key);
    if (change.old_key) Rename(*change.old_key);
    if (change.before) Rename(*change.before);
    if (change.after) Rename(*change.after);
    return true;
  }

 private:
  const std::string* NewName(const std::string& name) const {
    for (const auto& [from, to] : renames_) {
      if (from == name) return &to;
    }
    return nullptr;
  }
  void Rename(Row& row) const {
    std::vector<const std::string*> new_names;  // names this row's renames produce
    for (const Field& f : row) {
      if (const std::string* to = NewName(f.name)) new_names.push_back(to);
    }
    if (new_names.empty()) return;
    Row out;
    out.reserve(row.size());
    for (Field& f : row) {
      if (const std::string* to = NewName(f.name)) {
        out.push_back({*to, std::move(f.value)});
      } else if (std::none_of(new_names.begin(), new_names.end(),
                              [&](const std::string* n) { return *n == f.name; })) {
        out.push_back(std::move(f));
      }  // else: replaced by the column renamed onto its name
    }
    row = std::move(out);
  }
  std::vector<std::pair<std::string, std::string>> renames_;
};

bool IsNumericKind(ValueKind kind) {
  return kind == ValueKind::kInt || kind == ValueKind::kFloat || kind == ValueKind::kNumeric;
}

class WhereTransform : public Transform {
 public:
  explicit WhereTransform(const TransformSpec& spec)
      : column_(spec.where_column),
        op_(spec.where_op),
        literal_(spec.where_literal),
        numeric_literal_(!spec.where_literal_is_string && ParseNumber(literal_).has_value()) {}

  bool Apply(Change& change) const override {
    if (change.op == Op::kDelete || change.op == Op::kTruncate || !change.after) return true;
    const Field* field = FindField(*change.after, column_);
    if (field == nullptr || field->value.is_unchanged() || Matches(field->value)) return true;
    if (change.op != Op::kUpdate) return false;
    // The row left the filter: sinks must remove what an earlier change put there.
    change.op = Op::kDelete;
    change.after.reset();
    if (change.old_key) {
      change.key = std::move(*change.old_key);
      change.old_key.reset();
    }
    return true;
  }

 private:
  bool Matches(const Value& value) const {
    if (op_ == CompareOp::kIsNull) return value.is_null();
    if (op_ == CompareOp::kIsNotNull) return !value.is_null();
    if (value.is_null()) return false;  // SQL: NULL compared with anything is not true
    std::optional<int> cmp;
    if (numeric_literal_ && IsNumericKind(value.kind)) cmp = CompareNumbers(value.text, literal_);
    if (!cmp) cmp = Sign(value.text.compare(literal_));
    switch (op_) {
      case CompareOp::kEq:
        return *cmp == 0;
      case CompareOp::kNe:
        return *cmp != 0;
      case CompareOp::kLt:
        return *cmp < 0;
      case CompareOp::kLe:
        return *cmp <= 0;
      case CompareOp::kGt:
        return *cmp > 0;
      case CompareOp::kGe:
        return *cmp >= 0;
      case CompareOp::kIsNull:
      case CompareOp::kIsNotNull:
        break;
    }
    return false;
  }

  std::string column_;
  CompareOp op_;
  std::string literal_;
  bool numeric_literal_;
};

}  // namespace

std::optional<int> CompareNumbers(std::string_view a, std::string_view b) {
  std::optional<Number> x = ParseNumber(a), y = ParseNumber(b);
  if (!x || !y) return std::nullopt;
  if (x->cls != y->cls) return x->cls < y->cls ? -1 : 1;
  if (x->cls != Number::Class::kFinite) return 0;
  return CompareFinite(*x, *y);
}

std::unique_ptr<Transform> BuildTransform(const TransformSpec& spec) {
  switch (spec.kind) {
    case TransformSpec::Kind::kSelect:
      return std::make_unique<SelectTransform>(spec.columns);
    case TransformSpec::Kind::kDrop:
      return std::make_unique<DropTransform>(spec.columns);
    case TransformSpec::Kind::kRename:
      return std::make_unique<RenameTransform>(spec.renames);
    case TransformSpec::Kind::kWhere:
      return std::make_unique<WhereTransform>(spec);
  }
  return nullptr;
}

std::vector<std::unique_ptr<Transform>> BuildTransforms(const std::vector<TransformSpec>& specs) {
  std::vector<std::unique_ptr<Transform>> out;
  out.reserve(specs.size());
  for (const TransformSpec& spec : specs) out.push_back(BuildTransform(spec));
  return out;
}

void ApplyTransforms(const std::vector<std::unique_ptr<Transform>>& transforms, Batch& batch) {
  if (transforms.empty()) return;
  size_t kept = 0;
  size_t bytes = 0;
  for (size_t i = 0; i < batch.changes.size(); ++i) {
    Change& change = batch.changes[i];
    bool keep = std::all_of(transforms.begin(), transforms.end(),
                            [&](const std::unique_ptr<Transform>& t) { return t->Apply(change); });
    if (!keep) continue;
    if (kept != i) batch.changes[kept] = std::move(change);
    bytes += batch.changes[kept].ApproxBytes();
    ++kept;
  }
  batch.changes.erase(batch.changes.begin() + static_cast<std::ptrdiff_t>(kept),
                      batch.changes.end());
  batch.bytes = bytes;
}

}  // namespace sluice
