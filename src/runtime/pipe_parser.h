// Pipe parser: turns `shop.public.orders | where total > 10 | select id | cache key="o:{id}"`
// into selectors, transform specs and a sink reference. Pure (no YAML): errors carry a 0-based
// offset into the parsed string, and the config loader maps offsets to file columns.
//
// Grammar (keywords case-insensitive, blanks allowed between tokens):
//   pipe      := selectors ( '|' transform )* '|' sinkref
//   selectors := selector ( ',' selector )*          -- all naming the same source
//   selector  := SOURCE '.' '*' | SOURCE '.' (SCHEMA | '*') '.' (TABLE | '*')
//   transform := 'select' cols | 'drop' cols | 'rename' OLD '=' NEW (',' OLD '=' NEW)*
//              | 'where' COL op literal | 'where' COL 'is' ['not'] 'null'
//   op        := '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
//   literal   := number | 'single-quoted' ('' escapes a quote) | true | false
//   sinkref   := SINK ['.' TARGET ('.' TARGET)*] ( KEY '=' value )*
//   value     := bare-word | 'single-quoted' | "double-quoted"
// Identifiers are letters, digits, '_' and '-', or "double-quoted" ("" escapes a quote).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/config_model.h"

namespace sluice {

struct PipeError {
  size_t offset = 0;  // 0-based, into the parsed string: where the offending token starts
  std::string message;
};

struct SelectorSyntax {
  std::string source;
  TableSelector table;
  size_t offset = 0;  // start of the selector
};

struct TransformSyntax {
  TransformSpec spec;  // spec.where is left for the caller, who knows the file
  size_t offset = 0;   // start of the transform keyword
};

struct SinkOptionSyntax {
  std::string key;
  std::string value;  // unquoted
  size_t key_offset = 0;
  size_t value_offset = 0;  // of the opening quote, when quoted
};

struct SinkRefSyntax {
  SinkRef ref;        // ref.options holds every option; ref.where is left for the caller
  size_t offset = 0;  // start of the sink name
  std::vector<SinkOptionSyntax> options;  // as written, for locating option errors
};

struct PipeSyntax {
  std::vector<SelectorSyntax> selectors;  // at least one when ok
  std::vector<TransformSyntax> transforms;
  SinkRefSyntax sink;
  // Whether each end parsed cleanly, so a caller can check the source and sink names
  // even when a transform in between is wrong.
  bool selectors_ok = false;
  bool sink_ok = false;
};

// A parse result: `value` is complete only when ok(); otherwise it holds what parsed.
// Each stage of a pipe is parsed independently, so one call reports one error per bad stage.
template <typename T>
struct Parsed {
  T value;
  std::vector<PipeError> errors;
  bool ok() const { return errors.empty(); }
};

// A whole pipe string.
Parsed<PipeSyntax> ParsePipe(std::string_view text);
// `shop.public.a, shop.public.b` (the structured form's `from:`).
Parsed<std::vector<SelectorSyntax>> ParseSelectors(std::string_view text);
// One transform (the structured form's `transforms:` items).
Parsed<TransformSyntax> ParseTransform(std::string_view text);
// `out.products key=value` (the structured form's `to:`).
Parsed<SinkRefSyntax> ParseSinkRef(std::string_view text);

// "=", "!=", "<", "<=", ">", ">=", "is null", "is not null".
const char* CompareOpName(CompareOp op);

}  // namespace sluice
