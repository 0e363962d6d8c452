#include "runtime/pipe_parser.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "util/printable.h"

namespace sluice {

const char* CompareOpName(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kIsNull:
      return "is null";
    case CompareOp::kIsNotNull:
      return "is not null";
  }
  return "?";
}

namespace {

constexpr char kSelectorForm[] = "SOURCE.SCHEMA.TABLE (for example shop.public.orders)";
constexpr char kKnownTransforms[] = "select, drop, rename, where";

bool IsIdentChar(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '_' || c == '-' || u >= 0x80;
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Quote(std::string_view s) { return QuotePrintable(s); }

// Parses one stage, [pos, end) of the full text, so every offset is into the full text.
// Each Parse* method records at most one error and returns false on it.
class StageParser {
 public:
  StageParser(std::string_view text, size_t begin, size_t end, std::vector<PipeError>* errors)
      : text_(text), pos_(begin), end_(end), errors_(errors) {}

  bool ParseSelectors(std::vector<SelectorSyntax>* out);
  bool ParseTransform(TransformSyntax* out);
  bool ParseSinkRef(SinkRefSyntax* out);

 private:
  bool AtEnd() const { return pos_ >= end_; }
  char Peek(size_t ahead = 0) const { return pos_ + ahead < end_ ? text_[pos_ + ahead] : '\0'; }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(Peek())) ++pos_;
  }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  bool Fail(size_t at, std::string message) {
    errors_->push_back({at, std::move(message)});
    return false;
  }
  // What the cursor is at, for "got ..." in messages.
  std::string Got() const {
    if (AtEnd()) return "nothing";
    size_t n = 0;
    while (pos_ + n < end_ && !IsSpace(text_[pos_ + n]) && n < 24) ++n;
    return Quote(text_.substr(pos_, n));
  }
  std::string Word();
  bool KeywordAhead(std::string_view keyword);
  bool Quoted(std::string* out);
  bool Identifier(std::string* out, const std::string& expected);
  bool ParseSelector(SelectorSyntax* out);
  bool ParseColumns(std::vector<std::string>* out, const std::string& after);
  bool ParseRenames(TransformSpec* spec);
  bool ParseWhere(TransformSpec* spec);
  bool ParseOperator(TransformSpec* spec);
  bool ParseLiteral(TransformSpec* spec);
  bool ParseOption(SinkRefSyntax* out);
  bool ExpectEnd(const std::string& after) {
    SkipSpace();
    if (AtEnd()) return true;
    return Fail(pos_, "unexpected " + Got() + " after " + after);
  }

  std::string_view text_;
  size_t pos_;
  size_t end_;
  std::vector<PipeError>* errors_;
};

std::string StageParser::Word() {
  size_t start = pos_;
  while (!AtEnd() && IsIdentChar(Peek())) ++pos_;
  return std::string(text_.substr(start, pos_ - start));
}

bool StageParser::KeywordAhead(std::string_view keyword) {
  for (size_t i = 0; i < keyword.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(Peek(i))) != keyword[i]) return false;
  }
  return !IsIdentChar(Peek(keyword.size()));
}

// A quoted string at the cursor (either quote); a doubled quote stands for itself.
bool StageParser::Quoted(std::string* out) {
  const size_t start = pos_;
  const char q = text_[pos_++];
  out->clear();
  while (!AtEnd()) {
    char c = text_[pos_++];
    if (c != q) {
      out->push_back(c);
    } else if (Peek() == q) {
      out->push_back(q);
      ++pos_;
    } else {
      return true;
    }
  }
  return Fail(start, "unterminated quoted string: the quote opened here is never closed");
}

bool StageParser::Identifier(std::string* out, const std::string& expected) {
  if (Peek() == '"') {
    const size_t start = pos_;
    if (!Quoted(out)) return false;
    if (out->empty()) return Fail(start, "empty quoted identifier; expected " + expected);
    return true;
  }
  *out = Word();
  if (out->empty()) return Fail(pos_, "expected " + expected + ", got " + Got());
  return true;
}

bool StageParser::ParseSelector(SelectorSyntax* out) {
  out->offset = pos_;
  if (!Identifier(&out->source, kSelectorForm)) return false;
  if (!Consume('.')) {
    return Fail(pos_, "expected '.' after source " + Quote(out->source) + ": selectors are " +
                          kSelectorForm);
  }
  const std::string prefix = out->source + ".";
  if (Consume('*')) {
    out->table = {"*", "*"};
    if (!Consume('.')) return true;  // SOURCE.*: every schema and table
  } else {
    if (!Identifier(&out->table.schema, "a schema name or '*' after " + Quote(prefix)))
      return false;
    if (!Consume('.')) {
      return Fail(pos_, "expected '.' and a table name or '*' after " +
                            Quote(prefix + out->table.schema) + ": selectors are " + kSelectorForm);
    }
  }
  const std::string schema_prefix = prefix + out->table.schema + ".";
  if (Consume('*')) {
    out->table.table = "*";
    return true;
  }
  return Identifier(&out->table.table, "a table name or '*' after " + Quote(schema_prefix));
}

bool StageParser::ParseSelectors(std::vector<SelectorSyntax>* out) {
  do {
    SkipSpace();
    SelectorSyntax selector;
    if (!ParseSelector(&selector)) return false;
    if (!out->empty() && selector.source != out->front().source) {
      return Fail(selector.offset, "all selectors of a pipeline must read from one source: " +
                                       Quote(selector.source) + " differs from " +
                                       Quote(out->front().source));
    }
    out->push_back(std::move(selector));
    SkipSpace();
  } while (Consume(','));
  if (AtEnd()) return true;
  return Fail(pos_, "expected ',' or '|' after the selector, got " + Got());
}

bool StageParser::ParseColumns(std::vector<std::string>* out, const std::string& after) {
  std::string expected = "a column name after " + after;
  do {
    SkipSpace();
    std::string column;
    if (!Identifier(&column, expected)) return false;
    out->push_back(std::move(column));
    SkipSpace();
    expected = "a column name after ','";
  } while (Consume(','));
  return ExpectEnd("column " + Quote(out->back()) + " (columns are separated by ',')");
}

bool StageParser::ParseRenames(TransformSpec* spec) {
  std::string expected = "a column name after 'rename'";
  do {
    SkipSpace();
    const size_t at = pos_;
    std::string from, to;
    if (!Identifier(&from, expected)) return false;
    SkipSpace();
    if (!Consume('=')) {
      return Fail(pos_, "expected '=' after " + Quote(from) + " (rename OLD=NEW), got " + Got());
    }
    SkipSpace();
    if (!Identifier(&to, "a new column name after " + Quote(from + "="))) return false;
    for (const auto& [old_name, new_name] : spec->renames) {
      if (old_name == from) return Fail(at, "column " + Quote(from) + " is renamed twice");
      if (new_name == to) return Fail(at, "two columns are renamed to " + Quote(to));
    }
    spec->renames.emplace_back(std::move(from), std::move(to));
    SkipSpace();
    expected = "a column name after ','";
  } while (Consume(','));
  return ExpectEnd("rename " +
                   Quote(spec->renames.back().first + "=" + spec->renames.back().second) +
                   " (renames are separated by ',')");
}

bool StageParser::ParseOperator(TransformSpec* spec) {
  static const std::pair<std::string_view, CompareOp> kOps[] = {
      {"<=", CompareOp::kLe}, {">=", CompareOp::kGe}, {"<>", CompareOp::kNe},
      {"!=", CompareOp::kNe}, {"=", CompareOp::kEq},  {"<", CompareOp::kLt},
      {">", CompareOp::kGt}};
  if (KeywordAhead("is")) {
    pos_ += 2;
    SkipSpace();
    spec->where_op = CompareOp::kIsNull;
    if (KeywordAhead("not")) {
      pos_ += 3;
      SkipSpace();
      spec->where_op = CompareOp::kIsNotNull;
    }
    if (!KeywordAhead("null")) {
      return Fail(pos_, "expected 'null' or 'not null' after 'is', got " + Got());
    }
    pos_ += 4;
    return true;
  }
  for (const auto& [token, op] : kOps) {
    if (text_.substr(pos_, token.size()) == token && pos_ + token.size() <= end_) {
      pos_ += token.size();
      spec->where_op = op;
      return true;
    }
  }
  return Fail(pos_, "expected an operator after " + Quote(spec->where_column) +
                        " (=, !=, <>, <, <=, >, >=, is null, is not null), got " + Got());
}

bool StageParser::ParseLiteral(TransformSpec* spec) {
  const size_t start = pos_;
  const std::string expected = std::string("a literal after '") + CompareOpName(spec->where_op) +
                               "': a number, a 'single-quoted string', true or false";
  if (Peek() == '\'') {
    spec->where_literal_is_string = true;
    return Quoted(&spec->where_literal);
  }
  if (Peek() == '"') {
    return Fail(pos_, "expected " + expected +
                          "; strings take single quotes ('text'), double "
                          "quotes are for identifiers");
  }
  if (KeywordAhead("true") || KeywordAhead("false") || KeywordAhead("null")) {
    spec->where_literal = Lower(Word());
    if (spec->where_literal != "null") return true;
    return Fail(start, "compare with NULL using 'is null' or 'is not null'");
  }
  // number := [+-] (digits [. digits] | . digits) [(e|E) [+-] digits]
  size_t p = pos_;
  if (Peek() == '-' || Peek() == '+') ++p;
  size_t digits = 0;
  while (p < end_ && IsDigit(text_[p])) ++p, ++digits;
  if (p < end_ && text_[p] == '.') {
    for (++p; p < end_ && IsDigit(text_[p]); ++p) ++digits;
  }
  if (digits > 0 && p < end_ && (text_[p] == 'e' || text_[p] == 'E')) {
    size_t q = p + 1;
    if (q < end_ && (text_[q] == '-' || text_[q] == '+')) ++q;
    if (q < end_ && IsDigit(text_[q])) {
      for (p = q; p < end_ && IsDigit(text_[p]);) ++p;
    }
  }
  if (digits == 0 || (p < end_ && (IsIdentChar(text_[p]) || text_[p] == '.'))) {
    return Fail(start, "expected " + expected + ", got " + Got());
  }
  const size_t literal_start = Peek() == '+' ? pos_ + 1 : pos_;
  spec->where_literal = std::string(text_.substr(literal_start, p - literal_start));
  pos_ = p;
  return true;
}

bool StageParser::ParseWhere(TransformSpec* spec) {
  SkipSpace();
  if (!Identifier(&spec->where_column, "a column name after 'where'")) return false;
  SkipSpace();
  if (!ParseOperator(spec)) return false;
  if (spec->where_op != CompareOp::kIsNull && spec->where_op != CompareOp::kIsNotNull) {
    SkipSpace();
    if (!ParseLiteral(spec)) return false;
  }
  return ExpectEnd("the where condition (one condition per where; chain several with '|')");
}

bool StageParser::ParseTransform(TransformSyntax* out) {
  SkipSpace();
  out->offset = pos_;
  const std::string keyword = Lower(Word());
  if (keyword.empty()) {
    return Fail(pos_, std::string("expected a transform (") + kKnownTransforms + "), got " + Got());
  }
  TransformSpec& spec = out->spec;
  if (keyword == "select" || keyword == "drop") {
    spec.kind = keyword == "select" ? TransformSpec::Kind::kSelect : TransformSpec::Kind::kDrop;
    return ParseColumns(&spec.columns, Quote(keyword));
  }
  if (keyword == "rename") {
    spec.kind = TransformSpec::Kind::kRename;
    return ParseRenames(&spec);
  }
  if (keyword == "where") {
    spec.kind = TransformSpec::Kind::kWhere;
    return ParseWhere(&spec);
  }
  return Fail(out->offset, "unknown transform " + Quote(keyword) +
                               " (known transforms: " + kKnownTransforms + ")");
}

bool StageParser::ParseOption(SinkRefSyntax* out) {
  SinkOptionSyntax option;
  option.key_offset = pos_;
  option.key = Word();
  if (option.key.empty()) {
    return Fail(pos_, "expected key=value options after the sink, got " + Got());
  }
  SkipSpace();
  if (!Consume('=')) {
    return Fail(pos_, "expected '=' after option " + Quote(option.key) +
                          " (options are key=value), got " + Got());
  }
  SkipSpace();
  option.value_offset = pos_;
  if (Peek() == '"' || Peek() == '\'') {
    if (!Quoted(&option.value)) return false;
  } else {
    while (!AtEnd() && !IsSpace(Peek()) && Peek() != '"' && Peek() != '\'') ++pos_;
    option.value = std::string(text_.substr(option.value_offset, pos_ - option.value_offset));
    if (Peek() == '"' || Peek() == '\'') {
      return Fail(pos_, "unexpected quote inside the value of " + Quote(option.key) +
                            "; quote the whole value instead");
    }
    if (option.value.empty()) {
      return Fail(pos_, "expected a value after " + Quote(option.key + "="));
    }
  }
  if (out->ref.options.count(option.key)) {
    return Fail(option.key_offset, "option " + Quote(option.key) + " is given twice");
  }
  out->ref.options[option.key] = option.value;
  out->options.push_back(std::move(option));
  return true;
}

bool StageParser::ParseSinkRef(SinkRefSyntax* out) {
  SkipSpace();
  out->offset = pos_;
  if (!Identifier(&out->ref.sink, "a sink name (SINK or SINK.TARGET)")) return false;
  while (Consume('.')) {
    std::string part;
    if (!Identifier(&part, "a target after " + Quote(out->ref.sink + "." + out->ref.target)))
      return false;
    out->ref.target += (out->ref.target.empty() ? "" : ".") + part;
  }
  if (!AtEnd() && !IsSpace(Peek())) {
    return Fail(pos_, "expected blanks and key=value options after the sink, got " + Got());
  }
  for (SkipSpace(); !AtEnd(); SkipSpace()) {
    if (!ParseOption(out)) return false;
  }
  return true;
}

struct Stage {
  size_t begin;
  size_t end;
  bool blank;
};

// Splits at '|' outside quotes. False (with an error) on an unterminated quote.
bool SplitStages(std::string_view text, std::vector<Stage>* stages,
                 std::vector<PipeError>* errors) {
  size_t begin = 0;
  bool blank = true;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '|') {
      stages->push_back({begin, i, blank});
      begin = i + 1;
      blank = true;
      continue;
    }
    if (!IsSpace(c)) blank = false;
    if (c != '"' && c != '\'') continue;
    size_t close = i + 1;
    for (;; ++close) {
      if (close >= text.size()) {
        errors->push_back({i, "unterminated quoted string: the quote opened here is never closed"});
        return false;
      }
      if (text[close] != c) continue;
      if (close + 1 < text.size() && text[close + 1] == c) {
        ++close;  // a doubled quote stands for itself
        continue;
      }
      break;
    }
    i = close;
  }
  stages->push_back({begin, text.size(), blank});
  return true;
}

size_t FirstNonSpace(std::string_view text, size_t from) {
  while (from < text.size() && IsSpace(text[from])) ++from;
  return from;
}

}  // namespace

Parsed<PipeSyntax> ParsePipe(std::string_view text) {
  Parsed<PipeSyntax> out;
  std::vector<Stage> stages;
  if (!SplitStages(text, &stages, &out.errors)) return out;
  auto& errors = out.errors;
  const Stage& first = stages.front();
  if (first.blank) {
    errors.push_back({FirstNonSpace(text, 0), stages.size() == 1
                                                  ? "expected a pipe: SOURCE.SCHEMA.TABLE | SINK"
                                                  : "expected SOURCE.SCHEMA.TABLE before the "
                                                    "first '|'"});
  } else {
    out.value.selectors_ok =
        StageParser(text, first.begin, first.end, &errors).ParseSelectors(&out.value.selectors);
  }
  if (stages.size() == 1) {
    if (!first.blank) {
      errors.push_back({text.size(),
                        "expected '|' and a sink after the selector "
                        "(SOURCE.SCHEMA.TABLE | SINK)"});
    }
    return out;
  }
  const Stage& last = stages.back();
  // `a | out |`: `out` was meant as the sink; reporting it as a bad transform is noise.
  const size_t transforms_end = last.blank ? stages.size() - 2 : stages.size() - 1;
  for (size_t i = 1; i < transforms_end; ++i) {
    if (stages[i].blank) {
      errors.push_back({stages[i].end, "empty stage between '|' and '|'"});
      continue;
    }
    TransformSyntax transform;
    if (StageParser(text, stages[i].begin, stages[i].end, &errors).ParseTransform(&transform)) {
      out.value.transforms.push_back(std::move(transform));
    }
  }
  if (last.blank) {
    errors.push_back({last.begin - 1, "expected a sink after the last '|'"});
  } else {
    out.value.sink_ok =
        StageParser(text, last.begin, last.end, &errors).ParseSinkRef(&out.value.sink);
  }
  return out;
}

Parsed<std::vector<SelectorSyntax>> ParseSelectors(std::string_view text) {
  Parsed<std::vector<SelectorSyntax>> out;
  StageParser(text, 0, text.size(), &out.errors).ParseSelectors(&out.value);
  return out;
}

Parsed<TransformSyntax> ParseTransform(std::string_view text) {
  Parsed<TransformSyntax> out;
  StageParser(text, 0, text.size(), &out.errors).ParseTransform(&out.value);
  return out;
}

Parsed<SinkRefSyntax> ParseSinkRef(std::string_view text) {
  Parsed<SinkRefSyntax> out;
  StageParser(text, 0, text.size(), &out.errors).ParseSinkRef(&out.value);
  return out;
}

}  // namespace sluice
