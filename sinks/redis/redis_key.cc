#include "sinks/redis/redis_key.h"

namespace sluice::redis {

Result<KeyTemplate> KeyTemplate::Parse(std::string_view text, std::string_view default_prefix) {
  KeyTemplate t;
  t.text_ = std::string(text);
  t.default_prefix_ = std::string(default_prefix);
  std::string literal;
  auto flush_literal = [&] {
    if (!literal.empty()) t.segments_.push_back({Kind::kLiteral, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal.push_back(c);
      ++i;
      continue;
    }
    if (c == '}') {
      return Status::InvalidArgument("key template \"" + t.text_ + "\": unmatched '}' at offset " +
                                     std::to_string(i) + " (write '}}' for a literal brace)");
    }
    if (c != '{') {
      literal.push_back(c);
      continue;
    }
    size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("key template \"" + t.text_ + "\": '{' at offset " +
                                     std::to_string(i) + " is never closed");
    }
    std::string name(text.substr(i + 1, close - i - 1));
    if (name.empty() || name.find('{') != std::string::npos) {
      return Status::InvalidArgument("key template \"" + t.text_ +
                                     "\": empty or nested '{}' at offset " + std::to_string(i));
    }
    flush_literal();
    Kind kind = name == "schema" ? Kind::kSchema : name == "table" ? Kind::kTable : Kind::kColumn;
    t.segments_.push_back({kind, std::move(name)});
    i = close;
  }
  flush_literal();
  if (!t.text_.empty() && t.segments_.empty()) {
    return Status::InvalidArgument("key template \"" + t.text_ + "\" is empty");
  }
  // A template without any column would put every row of a table under one key.
  bool has_column = false;
  for (const Segment& s : t.segments_) has_column = has_column || s.kind == Kind::kColumn;
  if (!t.text_.empty() && !has_column) {
    return Status::InvalidArgument("key template \"" + t.text_ +
                                   "\" names no column, so every row would share one key");
  }
  return t;
}

std::vector<std::string> KeyTemplate::Columns() const {
  std::vector<std::string> out;
  for (const Segment& s : segments_) {
    if (s.kind == Kind::kColumn) out.push_back(s.text);
  }
  return out;
}

namespace {

Status AppendValue(const Field& f, const TableId& table, std::string* out) {
  if (f.value.is_null()) {
    return Status::Rejected("key column " + f.name + " of " + table.ToString() + " is NULL");
  }
  if (f.value.is_unchanged()) {
    return Status::Rejected("key column " + f.name + " of " + table.ToString() +
                            " is an unchanged TOAST value the source did not send");
  }
  out->append(f.value.text);
  return Status::Ok();
}

std::string ColumnNames(const Row& row) {
  std::string names;
  for (const Field& f : row) names += (names.empty() ? "" : ", ") + f.name;
  return names.empty() ? "(none)" : names;
}

}  // namespace

std::string KeyTemplate::FixedPrefix(const TableId& table) const {
  if (segments_.empty()) return (default_prefix_.empty() ? table.name : default_prefix_) + ":";
  std::string out;
  for (const Segment& s : segments_) {
    if (s.kind == Kind::kColumn) break;
    out.append(s.kind == Kind::kLiteral  ? s.text
               : s.kind == Kind::kSchema ? table.schema
                                         : table.name);
  }
  return out;
}

Status KeyTemplate::Render(const TableId& table, const std::vector<const Row*>& rows,
                           const Row& key_row, std::string* out) const {
  out->clear();
  if (segments_.empty()) {
    if (key_row.empty()) {
      return Status::InvalidArgument("changes of " + table.ToString() +
                                     " carry no key columns to build the default key from");
    }
    out->append(default_prefix_.empty() ? table.name : default_prefix_);
    for (const Field& f : key_row) {
      out->push_back(':');
      SLUICE_RETURN_IF_ERROR(AppendValue(f, table, out));
    }
    return Status::Ok();
  }
  for (const Segment& s : segments_) {
    switch (s.kind) {
      case Kind::kLiteral:
        out->append(s.text);
        break;
      case Kind::kSchema:
        out->append(table.schema);
        break;
      case Kind::kTable:
        out->append(table.name);
        break;
      case Kind::kColumn: {
        const Field* found = nullptr;
        for (const Row* r : rows) {
          if (r && (found = FindField(*r, s.text))) break;
        }
        if (!found) {
          return Status::InvalidArgument(
              "key template \"" + text_ + "\" names column " + s.text + ", which changes of " +
              table.ToString() + " do not carry (their key columns: " + ColumnNames(key_row) + ")");
        }
        SLUICE_RETURN_IF_ERROR(AppendValue(*found, table, out));
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace sluice::redis
