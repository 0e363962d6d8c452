#include "connectors/postgres/copy_text.h"

#include <catch2/catch.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace sluice::pg {
namespace {

using Fields = std::vector<std::optional<std::string>>;

Fields Parse(std::string_view line) {
  Fields f;
  INFO(line);
  REQUIRE(ParseCopyTextLine(line, &f));
  return f;
}

TEST_CASE("CopyText: fields and NULL", "[unit][copy]") {
  CHECK(Parse("1\tabc\t2.5") == Fields{"1", "abc", "2.5"});
  CHECK(Parse("") == Fields{""});
  CHECK(Parse("\t") == Fields{"", ""});
  CHECK(Parse("a\t\t") == Fields{"a", "", ""});
  // \N is NULL; the string "\N" arrives as \\N; an empty string is empty.
  CHECK(Parse("\\N") == Fields{std::nullopt});
  CHECK(Parse("\\N\t\t\\\\N") == Fields{std::nullopt, "", "\\N"});
  CHECK(Parse("x\t\\N") == Fields{"x", std::nullopt});
  // \N only counts as the whole field.
  CHECK(Parse("\\Nx") == Fields{"Nx"});
  CHECK(Parse("a\\N") == Fields{"aN"});
}

TEST_CASE("CopyText: escapes", "[unit][copy]") {
  // Captured from PostgreSQL 15: COPY (SELECT E'a\tb\\c\nd\r\b\f', ...) TO STDOUT.
  CHECK(Parse("a\\tb\\\\c\\nd\\r\\b\\f") == Fields{"a\tb\\c\nd\r\b\f"});
  CHECK(Parse("\\v") == Fields{"\v"});
  CHECK(Parse("\\101\\0\\7\\1011") == Fields{std::string("A\0\a", 3) + "A1"});
  CHECK(Parse("\\x41\\x4a\\xA\\x4G") == Fields{"AJ\n\x04G"});
  CHECK(Parse("\\xz") == Fields{"xz"});  // \x without a hex digit is 'x'
  CHECK(Parse("\\x") == Fields{"x"});
  CHECK(Parse("\\.\\q\\\"") == Fields{".q\""});
  // A backslash before a real tab makes the tab data (PostgreSQL's COPY FROM does too).
  CHECK(Parse("a\\\tb\tc") == Fields{"a\tb", "c"});
  CHECK(Parse("\\377") == Fields{"\xff"});
}

TEST_CASE("CopyText: malformed lines", "[unit][copy]") {
  Fields f;
  CHECK_FALSE(ParseCopyTextLine("\\", &f));
  CHECK_FALSE(ParseCopyTextLine("abc\\", &f));
  CHECK_FALSE(ParseCopyTextLine("a\tb\\", &f));
  CHECK(ParseCopyTextLine("abc\\\\", &f));
}

TEST_CASE("CopyText: unicode and raw control bytes pass through", "[unit][copy]") {
  CHECK(Parse("\xc3\xbc\t\xe6\x97\xa5\xe6\x9c\xac\t\xf0\x9f\x98\x80") ==
        Fields{"\xc3\xbc", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80"});
  CHECK(Parse(std::string_view("a\x01\0b", 4)) == Fields{std::string("a\x01\0b", 4)});
}

TEST_CASE("CopyText: long values", "[unit][copy]") {
  std::string big(3 << 20, 'x');
  std::string line = "1\t" + big + "\t" + big + "\\n";
  Fields f = Parse(line);
  REQUIRE(f.size() == 3);
  CHECK(*f[1] == big);
  CHECK(f[2]->size() == big.size() + 1);
  CHECK(f[2]->back() == '\n');
}

TEST_CASE("CopyText: reuses the vector", "[unit][copy]") {
  Fields f;
  REQUIRE(ParseCopyTextLine("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\tb\tc", &f));
  const char* storage = f[0]->data();
  REQUIRE(ParseCopyTextLine("x\t\\N", &f));
  CHECK(f == Fields{"x", std::nullopt});
  CHECK(f[0]->data() == storage);  // the first string's buffer was kept
  REQUIRE(ParseCopyTextLine("1\t2\t3\t4", &f));
  CHECK(f == Fields{"1", "2", "3", "4"});
}

TEST_CASE("CopyText: tabs and escapes at every offset of the word-at-a-time scan", "[unit][copy]") {
  // Random fields of letters, escaped tabs and escaped backslashes, and NULLs, joined by tabs:
  // delimiters land at every position within and across 8-byte words.
  std::mt19937 rng(11);
  for (int round = 0; round < 3000; ++round) {
    Fields want;
    std::string line;
    size_t count = 1 + rng() % 6;
    for (size_t f = 0; f < count; ++f) {
      if (f > 0) line += '\t';
      if (rng() % 8 == 0) {
        want.emplace_back(std::nullopt);
        line += "\\N";
        continue;
      }
      std::string value;
      size_t n = rng() % 20;
      for (size_t i = 0; i < n; ++i) {
        switch (rng() % 6) {
          case 0:
            value += '\t';
            line += "\\t";
            break;
          case 1:
            value += '\\';
            line += "\\\\";
            break;
          default: {
            char c = static_cast<char>('a' + rng() % 26);
            value += c;
            line += c;
          }
        }
      }
      want.emplace_back(value);
    }
    INFO(line);
    CHECK(Parse(line) == want);
  }
}

}  // namespace
}  // namespace sluice::pg
