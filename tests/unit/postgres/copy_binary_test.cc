#include "connectors/postgres/copy_binary.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "connectors/postgres/type_map.h"

namespace sluice::pg {
namespace {

std::string Be(uint64_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// numeric_send's form: ndigits, weight, sign, dscale, then the base-10000 digits.
std::string Numeric(int weight, uint16_t sign, int dscale, const std::vector<int>& digits) {
  std::string out = Be(digits.size(), 2) + Be(static_cast<uint16_t>(weight), 2) + Be(sign, 2) +
                    Be(static_cast<uint16_t>(dscale), 2);
  for (int d : digits) out += Be(static_cast<uint64_t>(d), 2);
  return out;
}

std::string Text(uint32_t oid, const std::string& bytes) {
  std::string scratch;
  std::string_view text;
  if (!BinaryFieldText(oid, bytes, &scratch, &text)) return "<malformed>";
  return std::string(text);
}

}  // namespace

TEST_CASE("BinaryFieldText: send forms become the output functions' text", "[unit][postgres]") {
  CHECK(Text(kInt4Oid, Be(static_cast<uint32_t>(-1), 4)) == "-1");
  CHECK(Text(kInt2Oid, Be(0x8000, 2)) == "-32768");
  CHECK(Text(kOidOid, Be(4294967295u, 4)) == "4294967295");
  CHECK(Text(kInt8Oid, Be(0x8000000000000000ull, 8)) == "-9223372036854775808");
  CHECK(Text(kBoolOid, std::string(1, '\1')) == "t");
  CHECK(Text(kJsonbOid, "\1{\"a\": 1}") == "{\"a\": 1}");
  CHECK(Text(kByteaOid, std::string("\0\xff", 2)) == "\\x00ff");
  // 12345.6789: digits 1 2345 . 6789; dscale 2 cuts the fraction to 12345.67
  CHECK(Text(kNumericOid, Numeric(1, 0, 4, {1, 2345, 6789})) == "12345.6789");
  CHECK(Text(kNumericOid, Numeric(1, 0, 2, {1, 2345, 6789})) == "12345.67");
  // Trailing zeros the digits do not hold come from dscale; weight below -1 gives zeros.
  CHECK(Text(kNumericOid, Numeric(0, 0x4000, 3, {7})) == "-7.000");
  CHECK(Text(kNumericOid, Numeric(-2, 0, 8, {12})) == "0.00000012");
  CHECK(Text(kNumericOid, Numeric(2, 0, 0, {1})) == "100000000");
  CHECK(Text(kNumericOid, Numeric(0, 0, 2, {})) == "0.00");
  CHECK(Text(kNumericOid, Numeric(0, 0xC000, 0, {})) == "NaN");
  CHECK(Text(kNumericOid, Numeric(0, 0xF000, 0, {})) == "-Infinity");
  CHECK(Text(kDateOid, Be(0, 4)) == "2000-01-01");
  CHECK(Text(kDateOid, Be(static_cast<uint32_t>(-730119), 4)) == "0001-01-01");
  CHECK(Text(kDateOid, Be(static_cast<uint32_t>(-730120), 4)) == "0001-12-31 BC");
  CHECK(Text(kDateOid, Be(0x7fffffff, 4)) == "infinity");
  CHECK(Text(kTimestampOid, Be(static_cast<uint64_t>(-1), 8)) == "1999-12-31 23:59:59.999999");
  CHECK(Text(kTimestamptzOid, Be(1'500'000, 8)) == "2000-01-01 00:00:01.5+00");
  CHECK(Text(kTimestamptzOid, Be(0x8000000000000000ull, 8)) == "-infinity");
  // Floats come selected as text: their bytes are the output function's text.
  CHECK(Text(kFloat8Oid, "1.2345678901234568e+20") == "1.2345678901234568e+20");
  CHECK(Text(kUuidOid, Be(0x0123456789abcdefull, 8) + Be(0xfedcba9876543210ull, 8)) ==
        "01234567-89ab-cdef-fedc-ba9876543210");
}

TEST_CASE("BinaryFieldText: a send form of the wrong shape is refused", "[unit][postgres]") {
  CHECK(Text(kInt4Oid, Be(1, 2)) == "<malformed>");
  CHECK(Text(kInt8Oid, "") == "<malformed>");
  CHECK(Text(kJsonbOid, "\2{}") == "<malformed>");
  CHECK(Text(kUuidOid, std::string(15, 'a')) == "<malformed>");
  CHECK(Text(kNumericOid, Numeric(0, 0x1234, 0, {1})) == "<malformed>");
  CHECK(Text(kNumericOid, Numeric(0, 0, 0, {10000})) == "<malformed>");
  CHECK(Text(kNumericOid, Numeric(0, 0, 0, {1}).substr(0, 9)) == "<malformed>");
  CHECK(Text(kIntervalOid, std::string(16, 0)) == "<malformed>");  // no binary reading
  CHECK(BinaryReadingOf(kIntervalOid) == BinaryReading::kNone);
  CHECK(BinaryReadingOf(kTimestamptzOid) == BinaryReading::kSendForm);
  CHECK(BinaryReadingOf(kFloat4Oid) == BinaryReading::kAsText);
}

TEST_CASE("CopyBinaryReader: header, rows, NULLs, trailer and torn messages", "[unit][postgres]") {
  const std::string header = std::string("PGCOPY\n\377\r\n\0", 11) + Be(0, 4) + Be(0, 4);
  const std::string row = Be(2, 2) + Be(3, 4) + "abc" + Be(0xffffffff, 4);
  CopyBinaryReader r;
  bool null = false;
  std::string_view bytes;

  // The first message: header and first row together. (The reader views each message.)
  const std::string first = header + row;
  REQUIRE(r.Start(first));
  REQUIRE(r.Next(&null, &bytes));
  CHECK_FALSE(null);
  CHECK(bytes == "abc");
  REQUIRE(r.Next(&null, &bytes));
  CHECK(null);
  CHECK_FALSE(r.Next(&null, &bytes));
  CHECK_FALSE(r.malformed());

  CHECK_FALSE(r.Start(header));  // a header alone holds no row
  CHECK_FALSE(r.malformed());
  const std::string trailer = Be(0xffff, 2);
  CHECK_FALSE(r.Start(trailer));
  CHECK_FALSE(r.malformed());

  // A header with an extension area skips it.
  const std::string extended =
      std::string("PGCOPY\n\377\r\n\0", 11) + Be(0, 4) + Be(3, 4) + "xyz" + row;
  REQUIRE(r.Start(extended));
  REQUIRE(r.Next(&null, &bytes));
  CHECK(bytes == "abc");

  // A field longer than the message, bytes after the last field, a torn count.
  const std::string torn = Be(1, 2) + Be(10, 4) + "abc";
  REQUIRE(r.Start(torn));
  CHECK_FALSE(r.Next(&null, &bytes));
  CHECK(r.malformed());
  const std::string extra = row + "!";
  REQUIRE(r.Start(extra));
  CHECK(r.Next(&null, &bytes));
  CHECK(r.Next(&null, &bytes));
  CHECK_FALSE(r.Next(&null, &bytes));
  CHECK(r.malformed());
  CHECK_FALSE(r.Start("\1"));
  CHECK(r.malformed());
}

}  // namespace sluice::pg
