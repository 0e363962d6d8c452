#include "runtime/interpolate.h"

#include <catch2/catch.hpp>
#include <map>

namespace sluice {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const EnvLookup kEnv = FakeEnv({{"HOST", "db.local"}, {"PORT", "5433"}, {"EMPTY", ""}});

std::string Expand(std::string_view text) {
  Interpolated out = Interpolate(text, kEnv);
  INFO(text);
  REQUIRE(out.ok());
  return out.text;
}

}  // namespace

TEST_CASE("Interpolate: variables, defaults and $$", "[unit][interpolate]") {
  CHECK(Expand("host=${HOST} port=${PORT}") == "host=db.local port=5433");
  CHECK(Expand("${HOST:-other}") == "db.local");
  CHECK(Expand("${MISSING:-fallback}") == "fallback");
  CHECK(Expand("${MISSING:-}") == "");
  CHECK(Expand("${EMPTY:-used when empty}") == "used when empty");
  CHECK(Expand("[${EMPTY}]") == "[]");
  CHECK(Expand("${MISSING:-${HOST}:${PORT}}") == "db.local:5433");
  CHECK(Expand("cost: $$5, $${HOST}") == "cost: $5, ${HOST}");
  CHECK(Expand("a $ b $x $") == "a $ b $x $");
  CHECK(Expand("no variables") == "no variables");
  CHECK(Expand("") == "");
}

TEST_CASE("Interpolate: origin maps output back to input offsets", "[unit][interpolate]") {
  Interpolated out = Interpolate("a${PORT}b$$c", kEnv);
  REQUIRE(out.ok());
  CHECK(out.text == "a5433b$c");
  CHECK(out.origin == std::vector<size_t>{0, 1, 1, 1, 1, 8, 9, 11, 12});
}

TEST_CASE("Interpolate: errors point at the '${'", "[unit][interpolate]") {
  SECTION("undefined variable without default") {
    Interpolated out = Interpolate("host=${NOPE} x=${ALSO_NOPE}", kEnv);
    REQUIRE(out.errors.size() == 2);
    CHECK(out.errors[0].offset == 5);
    CHECK_THAT(out.errors[0].message, Catch::Contains("environment variable 'NOPE' is not set"));
    CHECK_THAT(out.errors[0].message, Catch::Contains("${NOPE:-value}"));
    CHECK(out.errors[1].offset == 15);
    CHECK(out.text == "host=${NOPE} x=${ALSO_NOPE}");
  }
  SECTION("undefined variable inside a default") {
    Interpolated out = Interpolate("x${A:-${B}}", kEnv);
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].offset == 1);
    CHECK_THAT(out.errors[0].message, Catch::Contains("'B' is not set"));
  }
  SECTION("unterminated") {
    Interpolated out = Interpolate("ab${HOST", kEnv);
    REQUIRE(out.errors.size() == 1);
    CHECK(out.errors[0].offset == 2);
    CHECK_THAT(out.errors[0].message, Catch::Contains("unterminated '${'"));
  }
  SECTION("invalid name") {
    Interpolated out = Interpolate("${1X} ${} ${A-B}", kEnv);
    REQUIRE(out.errors.size() == 3);
    CHECK(out.errors[0].offset == 0);
    CHECK(out.errors[1].offset == 6);
    CHECK(out.errors[2].offset == 10);
    CHECK_THAT(out.errors[2].message, Catch::Contains("invalid variable name 'A-B'"));
  }
  SECTION("no lookup at all") { CHECK_FALSE(Interpolate("${HOST}", EnvLookup()).ok()); }
}

TEST_CASE("ScalarPositions: offsets map to the raw file", "[unit][interpolate]") {
  using P = ScalarPositions::Position;
  auto at = [](std::string_view raw, std::string_view decoded, size_t offset) {
    size_t pos = raw.find(": ") + 2;  // the value of a `key: value` line 0
    P p = ScalarPositions(raw, pos, 0, static_cast<int>(pos), decoded).At(offset);
    return std::pair(p.line, p.column);
  };
  SECTION("plain") {
    CHECK(at("k: abc def", "abc def", 4) == std::pair(0, 7));
    CHECK(at("k: abc", "abc", 3) == std::pair(0, 6));  // just past the end
  }
  SECTION("single quoted, '' is one quote") {
    CHECK(at("k: 'it''s x'", "it's x", 0) == std::pair(0, 4));
    CHECK(at("k: 'it''s x'", "it's x", 5) == std::pair(0, 10));
  }
  SECTION("double quoted with escapes") {
    CHECK(at(R"(k: "a\tb\"c\u00e9d")",
             "a\tb\"c\xc3\xa9"
             "d",
             0) == std::pair(0, 4));
    CHECK(at(R"(k: "a\tb\"c\u00e9d")",
             "a\tb\"c\xc3\xa9"
             "d",
             4) == std::pair(0, 10));
    CHECK(at(R"(k: "a\tb\"c\u00e9d")",
             "a\tb\"c\xc3\xa9"
             "d",
             7) == std::pair(0, 17));
  }
  SECTION("plain scalar folded over lines") {
    CHECK(at("k: one two\n   three", "one two three", 8) == std::pair(1, 3));
  }
  SECTION("block literal") { CHECK(at("k: |\n  ab\n  cd\n", "ab\ncd\n", 3) == std::pair(2, 2)); }
  SECTION("anchor in front") { CHECK(at("k: &a xyz", "xyz", 1) == std::pair(0, 7)); }
}

}  // namespace sluice
