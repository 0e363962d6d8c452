// KeyTemplate: the Redis key of a row, built from a template such as "product:{id}".
// `{schema}` and `{table}` name the change's table, any other `{name}` a column, `{{` and
// `}}` are literal braces. The empty template means "{table}:" + the key columns' values
// joined by ':'. Pure; no Redis here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/change.h"
#include "core/status.h"

namespace sluice::redis {

// Immutable after Parse(); safe to share between threads.
class KeyTemplate {
 public:
  // InvalidArgument for an unbalanced or empty `{}`. `default_prefix`, when not empty,
  // replaces the table name in the default template (the pipe's `| cache.products`).
  static Result<KeyTemplate> Parse(std::string_view text, std::string_view default_prefix = "");

  // Renders the key. Each column is looked up in `rows` in order (null pointers are
  // skipped); the default template uses `key_row`'s values. A column no row carries is
  // InvalidArgument (a config mistake: it will not heal); a NULL or unchanged-TOAST value
  // is Rejected (this change cannot be addressed).
  Status Render(const TableId& table, const std::vector<const Row*>& rows, const Row& key_row,
                std::string* out) const;

  // What every key of `table` starts with: the template up to its first column.
  std::string FixedPrefix(const TableId& table) const;

  const std::string& text() const { return text_; }
  bool is_default() const { return segments_.empty(); }
  // The column names the template uses, in order (no schema/table).
  std::vector<std::string> Columns() const;

 private:
  enum class Kind { kLiteral, kColumn, kSchema, kTable };
  struct Segment {
    Kind kind;
    std::string text;  // literal text or column name
  };
  std::string text_;
  std::string default_prefix_;
  std::vector<Segment> segments_;  // empty: the default template
};

}  // namespace sluice::redis
