#include "runtime/pipe_parser.h"

#include <catch2/catch.hpp>

namespace sluice {
namespace {

PipeSyntax ParseOk(std::string_view text) {
  Parsed<PipeSyntax> parsed = ParsePipe(text);
  INFO(text);
  for (const auto& e : parsed.errors) INFO(e.offset << ": " << e.message);
  REQUIRE(parsed.ok());
  return parsed.value;
}

// The only error of parsing `text`.
PipeError OneError(std::string_view text) {
  Parsed<PipeSyntax> parsed = ParsePipe(text);
  INFO(text);
  REQUIRE(parsed.errors.size() == 1);
  return parsed.errors[0];
}

}  // namespace

TEST_CASE("PipeParser: selector, transforms and sink", "[unit][pipe]") {
  PipeSyntax p = ParseOk(
      "shop.public.products | select id, name | where price > 10 | "
      "out.products key=\"p:{id}\" ttl=60s");
  REQUIRE(p.selectors.size() == 1);
  CHECK(p.selectors[0].source == "shop");
  CHECK(p.selectors[0].table == TableSelector{"public", "products"});
  CHECK(p.selectors[0].offset == 0);
  REQUIRE(p.transforms.size() == 2);
  CHECK(p.transforms[0].spec.kind == TransformSpec::Kind::kSelect);
  CHECK(p.transforms[0].spec.columns == std::vector<std::string>{"id", "name"});
  CHECK(p.transforms[0].offset == 23);
  CHECK(p.transforms[1].spec.kind == TransformSpec::Kind::kWhere);
  CHECK(p.transforms[1].spec.where_column == "price");
  CHECK(p.transforms[1].spec.where_op == CompareOp::kGt);
  CHECK(p.transforms[1].spec.where_literal == "10");
  CHECK_FALSE(p.transforms[1].spec.where_literal_is_string);
  CHECK(p.sink.ref.sink == "out");
  CHECK(p.sink.ref.target == "products");
  CHECK(p.sink.ref.options ==
        std::map<std::string, std::string>{{"key", "p:{id}"}, {"ttl", "60s"}});
  CHECK(p.sink.offset == 60);
  REQUIRE(p.sink.options.size() == 2);
  CHECK(p.sink.options[0].key_offset == 73);
  CHECK(p.sink.options[0].value_offset == 77);
}

TEST_CASE("PipeParser: selector wildcards and lists", "[unit][pipe]") {
  SECTION("table wildcard") {
    CHECK(ParseOk("shop.public.* | out").selectors[0].table == TableSelector{"public", "*"});
  }
  SECTION("schema and table wildcards") {
    CHECK(ParseOk("shop.*.* | out").selectors[0].table == TableSelector{"*", "*"});
  }
  SECTION("SOURCE.* means every schema and table") {
    CHECK(ParseOk("shop.* | out").selectors[0].table == TableSelector{"*", "*"});
  }
  SECTION("schema wildcard with a named table") {
    CHECK(ParseOk("shop.*.orders | out").selectors[0].table == TableSelector{"*", "orders"});
  }
  SECTION("several selectors of one source") {
    PipeSyntax p = ParseOk("shop.public.a, shop.sales.b ,shop.x.* | out");
    REQUIRE(p.selectors.size() == 3);
    CHECK(p.selectors[1].table == TableSelector{"sales", "b"});
    CHECK(p.selectors[1].offset == 15);
    CHECK(p.selectors[2].table == TableSelector{"x", "*"});
  }
  SECTION("identifiers with digits, '_' and '-'") {
    CHECK(ParseOk("shop-2.my_schema.t-1 | out").selectors[0].table ==
          TableSelector{"my_schema", "t-1"});
  }
}

TEST_CASE("PipeParser: quoted identifiers", "[unit][pipe]") {
  PipeSyntax p = ParseOk(R"(shop."My Schema"."Order ""x""" | rename "a b"=c | out."Idx.1")");
  CHECK(p.selectors[0].table == TableSelector{"My Schema", "Order \"x\""});
  CHECK(p.transforms[0].spec.renames ==
        std::vector<std::pair<std::string, std::string>>{{"a b", "c"}});
  CHECK(p.sink.ref.target == "Idx.1");
}

TEST_CASE("PipeParser: sink references", "[unit][pipe]") {
  SECTION("bare sink") {
    SinkRefSyntax s = ParseOk("shop.a.b | out").sink;
    CHECK(s.ref.sink == "out");
    CHECK(s.ref.target.empty());
    CHECK(s.ref.options.empty());
  }
  SECTION("dotted target and quoted values") {
    Parsed<SinkRefSyntax> s = ParseSinkRef("log.shop.orders a='it''s' b=\"x y\" c = 5");
    REQUIRE(s.ok());
    CHECK(s.value.ref.sink == "log");
    CHECK(s.value.ref.target == "shop.orders");
    CHECK(s.value.ref.options ==
          std::map<std::string, std::string>{{"a", "it's"}, {"b", "x y"}, {"c", "5"}});
  }
  SECTION("a '|' inside quotes is not a stage break") {
    PipeSyntax p = ParseOk("shop.a.b | where s = 'x|y' | out key=\"a|b\"");
    CHECK(p.transforms[0].spec.where_literal == "x|y");
    CHECK(p.sink.ref.options.at("key") == "a|b");
  }
}

TEST_CASE("PipeParser: transforms", "[unit][pipe]") {
  SECTION("keywords are case-insensitive") {
    Parsed<TransformSyntax> t = ParseTransform("SeLeCt a,b");
    REQUIRE(t.ok());
    CHECK(t.value.spec.kind == TransformSpec::Kind::kSelect);
    CHECK(t.value.spec.columns == std::vector<std::string>{"a", "b"});
  }
  SECTION("drop") {
    Parsed<TransformSyntax> t = ParseTransform("drop secret , pw");
    REQUIRE(t.ok());
    CHECK(t.value.spec.kind == TransformSpec::Kind::kDrop);
    CHECK(t.value.spec.columns == std::vector<std::string>{"secret", "pw"});
  }
  SECTION("rename") {
    Parsed<TransformSyntax> t = ParseTransform("rename a=b, c = d");
    REQUIRE(t.ok());
    CHECK(t.value.spec.renames ==
          std::vector<std::pair<std::string, std::string>>{{"a", "b"}, {"c", "d"}});
  }
  SECTION("where operators and literals") {
    struct Case {
      const char* text;
      CompareOp op;
      const char* literal;
      bool is_string;
    };
    const Case cases[] = {
        {"where a = 1", CompareOp::kEq, "1", false},
        {"where a != -3.5", CompareOp::kNe, "-3.5", false},
        {"where a<>'x'", CompareOp::kNe, "x", true},
        {"where a < 1e3", CompareOp::kLt, "1e3", false},
        {"where a <= +2", CompareOp::kLe, "2", false},
        {"where a > .5", CompareOp::kGt, ".5", false},
        {"where a >= 'it''s'", CompareOp::kGe, "it's", true},
        {"WHERE a = TRUE", CompareOp::kEq, "true", false},
        {"where a = false", CompareOp::kEq, "false", false},
        {"where a = ''", CompareOp::kEq, "", true},
        {"where a is null", CompareOp::kIsNull, "", false},
        {"where a IS NOT NULL", CompareOp::kIsNotNull, "", false},
    };
    for (const Case& c : cases) {
      Parsed<TransformSyntax> t = ParseTransform(c.text);
      INFO(c.text);
      REQUIRE(t.ok());
      CHECK(t.value.spec.where_column == "a");
      CHECK(t.value.spec.where_op == c.op);
      CHECK(t.value.spec.where_literal == c.literal);
      CHECK(t.value.spec.where_literal_is_string == c.is_string);
    }
  }
}

TEST_CASE("PipeParser: errors name what was expected, at the offending offset", "[unit][pipe]") {
  struct Case {
    const char* text;
    size_t offset;
    const char* message;
  };
  const Case cases[] = {
      {"shop.public.a | out |", 20, "expected a sink after the last '|'"},
      {"shop.public.a | | out", 16, "empty stage between '|' and '|'"},
      {"shop.public.a | where s = 'x | out", 26, "unterminated quoted string"},
      {"| out", 0, "expected SOURCE.SCHEMA.TABLE before the first '|'"},
      {"shop.public.a", 13, "expected '|' and a sink after the selector"},
      {"shop | out", 4, "expected '.' after source 'shop'"},
      {"shop.public | out", 11, "expected '.' and a table name or '*' after 'shop.public'"},
      {"shop.public. | out", 12, "expected a table name or '*' after 'shop.public.'"},
      {"shop.public.a b | out", 14, "expected ',' or '|' after the selector, got 'b'"},
      {"shop.public.a, other.public.b | out", 15,
       "must read from one source: 'other' differs from 'shop'"},
      {"shop.public.a | filter x | out", 16,
       "unknown transform 'filter' (known transforms: select, drop, rename, where)"},
      {"shop.public.a | where x ~ 1 | out", 24, "expected an operator after 'x'"},
      {"shop.public.a | where x = active | out", 26, "expected a literal after '='"},
      {"shop.public.a | where x = \"a\" | out", 26, "strings take single quotes"},
      {"shop.public.a | where x = null | out", 26, "using 'is null' or 'is not null'"},
      {"shop.public.a | where x is nul | out", 27, "expected 'null' or 'not null' after 'is'"},
      {"shop.public.a | where x > 1 and y < 2 | out", 28, "unexpected 'and' after the where"},
      {"shop.public.a | select | out", 23, "expected a column name after 'select'"},
      {"shop.public.a | select a, | out", 26, "expected a column name after ','"},
      {"shop.public.a | rename a b | out", 25, "expected '=' after 'a' (rename OLD=NEW)"},
      {"shop.public.a | rename a=b, a=c | out", 28, "column 'a' is renamed twice"},
      {"shop.public.a | out key", 23, "expected '=' after option 'key'"},
      {"shop.public.a | out key=1 key=2", 26, "option 'key' is given twice"},
      {"shop.public.a | out key=", 24, "expected a value after 'key='"},
      {"shop.public.a | out. ", 20, "expected a target after 'out.'"},
      {"shop.public.a | out! ", 19, "expected blanks and key=value options after the sink"},
      {"shop.\"\".a | out", 5, "empty quoted identifier"},
  };
  for (const Case& c : cases) {
    PipeError e = OneError(c.text);
    INFO(c.text << " -> " << e.offset << ": " << e.message);
    CHECK(e.offset == c.offset);
    CHECK_THAT(e.message, Catch::Contains(c.message));
  }
}

TEST_CASE("PipeParser: each bad stage reports its own error", "[unit][pipe]") {
  Parsed<PipeSyntax> p = ParsePipe("shop | bogus | where x = | out key");
  REQUIRE(p.errors.size() == 4);
  CHECK(p.errors[0].offset == 4);
  CHECK_THAT(p.errors[1].message, Catch::Contains("unknown transform 'bogus'"));
  CHECK(p.errors[2].offset == 25);
  CHECK(p.errors[3].offset == 34);
}

TEST_CASE("PipeParser: structured-form pieces", "[unit][pipe]") {
  Parsed<std::vector<SelectorSyntax>> from = ParseSelectors("shop.public.a, shop.*");
  REQUIRE(from.ok());
  REQUIRE(from.value.size() == 2);
  CHECK(from.value[1].table == TableSelector{"*", "*"});
  CHECK_FALSE(ParseSelectors("").ok());
  CHECK_FALSE(ParseTransform("").ok());
  CHECK_FALSE(ParseSinkRef("").ok());
  CHECK(CompareOpName(CompareOp::kIsNotNull) == std::string("is not null"));
}

}  // namespace sluice
