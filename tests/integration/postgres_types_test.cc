// Every PostgreSQL type the README's Types table names, end to end through postgres | stdout:
// each value's JSON text is the documented one, and a snapshot row and the same row streamed
// give byte-identical `after` objects.
#include <signal.h>

#include <catch2/catch.hpp>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "support/stdout_pipeline.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

// One column: its type, and for rows 1 and 4 the SQL literal inserted and the JSON text
// expected in `after`, written out by hand from the README's Types table.
struct Col {
  const char* name;
  const char* type;
  const char* sql1;
  const char* json1;
  const char* sql4;
  const char* json4;
};

// clang-format off
const Col kCols[] = {
    {"b", "bool", "true", "true", "false", "false"},
    {"i2", "int2", "32767", "32767", "-32768", "-32768"},
    {"i4", "int4", "2147483647", "2147483647", "-2147483648", "-2147483648"},
    {"i8", "int8", "9223372036854775807", "9223372036854775807",
     "-9223372036854775808", "-9223372036854775808"},
    {"o", "oid", "4294967295", "4294967295", "0", "0"},
    {"f4", "float4", "'3.4028235e+38'", "3.4028235e+38", "'-Infinity'", R"j("-Infinity")j"},
    {"f4s", "float4", "'NaN'", R"j("NaN")j", "'1e-45'", "1e-45"},
    {"f4z", "float4", "'0.1'", "0.1", "'123456789'", "1.2345679e+08"},
    {"f8", "float8", "'1.7976931348623157e+308'", "1.7976931348623157e+308", "'-5e-324'",
     "-5e-324"},
    {"f8s", "float8", "'Infinity'", R"j("Infinity")j", "'-0'", "-0"},
    {"n", "numeric",
     "'12345678901234567890123456789012345678901234567890.000000000000000000000000000001'",
     R"j("12345678901234567890123456789012345678901234567890.000000000000000000000000000001")j",
     "'NaN'", R"j("NaN")j"},
    {"n2", "numeric", "'-0.000000000000000000001'", R"j("-0.000000000000000000001")j",
     "'Infinity'", R"j("Infinity")j"},
    {"m", "money", "'1234567.89'", R"j("$1,234,567.89")j", "'-0.01'", R"j("-$0.01")j"},
    {"tx", "text", R"j(E'quote " backslash \\ tab\t newline\n ctl \x01 emoji 🙂 CJK 漢字')j",
     R"j("quote \" backslash \\ tab\t newline\n ctl \u0001 emoji 🙂 CJK 漢字")j", "''", R"j("")j"},
    {"vc", "varchar(20)", "'héllo'", R"j("héllo")j", "' '", R"j(" ")j"},
    {"ch", "char(5)", "'ab'", R"j("ab   ")j", "'🙂'", R"j("🙂    ")j"},
    {"nm", "name", "'pg_name'", R"j("pg_name")j", "''", R"j("")j"},
    {"ci", "citext", "'MiXeD Case'", R"j("MiXeD Case")j", "'ß'", R"j("ß")j"},
    {"by", "bytea", R"j('\x00ff10')j", R"j("AP8Q")j", "''", R"j("")j"},
    {"u", "uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
     R"j("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")j", "'00000000-0000-0000-0000-000000000000'",
     R"j("00000000-0000-0000-0000-000000000000")j"},
    {"d", "date", "'2026-11-24'", R"j("2026-11-24")j", "'infinity'", R"j("infinity")j"},
    {"d2", "date", "'0044-03-15 BC'", R"j("-0043-03-15")j", "'-infinity'", R"j("-infinity")j"},
    {"tm", "time", "'23:59:59.999999'", R"j("23:59:59.999999")j", "'00:00:00'", R"j("00:00:00")j"},
    {"ttz", "timetz", "'10:00:00+05:30'", R"j("10:00:00+05:30")j", "'10:00:00-08'",
     R"j("10:00:00-08:00")j"},
    {"ttz2", "timetz", "'12:00:00+00'", R"j("12:00:00Z")j", "'23:59:59.5+14'",
     R"j("23:59:59.5+14:00")j"},
    {"ts", "timestamp", "'2026-11-24 10:00:00.123456'", R"j("2026-11-24T10:00:00.123456")j",
     "'infinity'", R"j("infinity")j"},
    {"tz", "timestamptz", "'2026-11-24 10:00:00.5+02'", R"j("2026-11-24T08:00:00.5Z")j",
     "'-infinity'", R"j("-infinity")j"},
    {"tz2", "timestamptz", "'2026-07-01 12:00:00 America/New_York'", R"j("2026-07-01T16:00:00Z")j",
     "'0001-01-01 00:00:00+00 BC'", R"j("0000-01-01T00:00:00Z")j"},
    {"iv", "interval", "'1 day 2 hours'", R"j("P1DT2H")j", "'-1 year -2 mons +3 days -00:00:04.5'",
     R"j("P-1Y-2M3DT-4.5S")j"},
    {"js", "json", R"j('{"b": [1, 2.50, "x"], "a": {"nested": true}, "u": "🙂 漢"}')j",
     R"j({"b": [1, 2.50, "x"], "a": {"nested": true}, "u": "🙂 漢"})j",
     R"j(E'{"a":\n  [1,\r\n 2]}')j", R"j({"a":   [1,   2]})j"},
    {"jb", "jsonb", R"j('{"b": [1, 2.50, "x"], "a": {"nested": true}, "u": "🙂 漢"}')j",
     R"j({"a": {"nested": true}, "b": [1, 2.50, "x"], "u": "🙂 漢"})j", R"j('"just text"')j",
     R"j("just text")j"},
    {"ai", "int[]", "'{{1,NULL},{3,4}}'", "[[1,null],[3,4]]", "'{}'", "[]"},
    {"ai2", "int[]", "'[0:1]={5,6}'", "[5,6]", "'{{{1}},{{2}}}'", "[[[1]],[[2]]]"},
    {"at", "text[]", R"j(ARRAY[E'a"b', 'c,d', E'e\\f', '', ' sp ', 'NULL', NULL, '{x}', '🙂'])j",
     R"j(["a\"b","c,d","e\\f",""," sp ","NULL",null,"{x}","🙂"])j", "'{}'", "[]"},
    {"ae", "mood[]", R"j('{sad,"so-so, really",NULL}')j", R"j(["sad","so-so, really",null])j",
     "'{}'", "[]"},
    {"ad", "posint[]", "'{1,2}'", "[1,2]", "'{NULL}'", "[null]"},
    {"an", "numeric[]", "'{1.50,NaN}'", R"j(["1.50","NaN"])j", "'{}'", "[]"},
    {"af", "float8[]", "'{NaN,Infinity,-Infinity,1.5}'", R"j(["NaN","Infinity","-Infinity",1.5])j",
     "'{-0}'", "[-0]"},
    {"ab", "bool[]", "'{t,f,NULL}'", "[true,false,null]", "'{}'", "[]"},
    {"atz", "timestamptz[]", R"j('{"2026-11-24 10:00:00+02",infinity}')j",
     R"j(["2026-11-24T08:00:00Z","infinity"])j", "'{}'", "[]"},
    {"aj", "jsonb[]", R"j(ARRAY['{"a":1}'::jsonb, '[1, "x"]'])j", R"j([{"a": 1},[1, "x"]])j", "'{}'",
     "[]"},
    {"aby", "bytea[]", R"j('{"\\x00ff",NULL}')j", R"j(["AP8=",null])j", "'{}'", "[]"},
    {"abox", "box[]", "ARRAY[box '((0,0),(1,1))', box '((2,2),(3,3))']",
     R"j(["(1,1),(0,0)","(3,3),(2,2)"])j", "'{}'", "[]"},
    {"e", "mood", "'so-so, really'", R"j("so-so, really")j", "'sad'", R"j("sad")j"},
    {"dm", "posint", "7", "7", "1", "1"},
    {"dt", "email", "'a@b.c'", R"j("a@b.c")j", "''", R"j("")j"},
    {"dp", "price", "12.5", R"j("12.50")j", "0", R"j("0.00")j"},
    {"cp", "pair", R"j(ROW(1, 'a "b", c'))j", R"j("(1,\"a \"\"b\"\", c\")")j", "ROW(NULL, NULL)",
     R"j("(,)")j"},
    {"r", "int4range", "'[1,10)'", R"j("[1,10)")j", "'empty'", R"j("empty")j"},
    {"r2", "tstzrange", "'[2026-01-01 00:00+02, infinity)'",
     R"j("[\"2025-12-31 22:00:00+00\",infinity)")j", "'(,)'", R"j("(,)")j"},
    {"nr", "numrange", "'(1.5,2.5]'", R"j("(1.5,2.5]")j", "'empty'", R"j("empty")j"},
    {"dr", "daterange", "'[2026-01-01,2026-02-01)'", R"j("[2026-01-01,2026-02-01)")j", "'empty'",
     R"j("empty")j"},
    {"ip", "inet", "'192.168.0.1/24'", R"j("192.168.0.1/24")j", "'::1'", R"j("::1")j"},
    {"cd", "cidr", "'10.0.0.0/8'", R"j("10.0.0.0/8")j", "'2001:db8::/32'", R"j("2001:db8::/32")j"},
    {"mac", "macaddr", "'08:00:2B:01:02:03'", R"j("08:00:2b:01:02:03")j", "'00:00:00:00:00:00'",
     R"j("00:00:00:00:00:00")j"},
    {"bt", "bit(8)", "B'10101010'", R"j("10101010")j", "B'00000000'", R"j("00000000")j"},
    {"vb", "varbit", "B'101'", R"j("101")j", "''", R"j("")j"},
    {"tsv", "tsvector", "'fat:2,4 cat:3 rat:5A'", R"j("'cat':3 'fat':2,4 'rat':5A")j", "''",
     R"j("")j"},
    {"pt", "point", "'(1.5,-2)'", R"j("(1.5,-2)")j", "'(0,0)'", R"j("(0,0)")j"},
    {"bx", "box", "'((0,0),(1,1))'", R"j("(1,1),(0,0)")j", "'((1,1),(0,0))'", R"j("(1,1),(0,0)")j"},
    {"cir", "circle", "'<(0,0),1>'", R"j("<(0,0),1>")j", "'<(1,2),0.5>'", R"j("<(1,2),0.5>")j"},
    {"pg", "polygon", "'((0,0),(1,0),(0,1))'", R"j("((0,0),(1,0),(0,1))")j", "'((0,0))'",
     R"j("((0,0))")j"},
    {"ls", "lseg", "'[(0,0),(1,1)]'", R"j("[(0,0),(1,1)]")j", "'[(0,0),(0,0)]'",
     R"j("[(0,0),(0,0)]")j"},
    {"pa", "path", "'((0,0),(1,1),(2,0))'", R"j("((0,0),(1,1),(2,0))")j", "'[(0,0),(1,1)]'",
     R"j("[(0,0),(1,1)]")j"},
    {"li", "line", "'{1,2,3}'", R"j("{1,2,3}")j", "'{1,-1,0}'", R"j("{1,-1,0}")j"},
};
// clang-format on

// Row 3 holds values over 1 MB in `tx` and `by`.
constexpr int kBigRepeats = 150000;       // '漢字🙂x' is 11 bytes: 1.65 MB of text
constexpr int kBigByteaRepeats = 400000;  // 00 ff 10: 1.2 MB of bytes, "AP8Q" in base64

// Where the JSON value starting at s[pos] ends (just past it), scanning the raw text.
size_t ValueEnd(std::string_view s, size_t pos) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return i;  // the end of the enclosing object
      if (--depth == 0) return i + 1;
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return s.size();
}

// The `after` object of a line as raw JSON text, and its fields (name -> raw value text).
struct RawAfter {
  std::string_view text;
  std::map<std::string, std::string, std::less<>> fields;
  std::vector<std::string> order;
};

RawAfter ParseRawAfter(std::string_view line) {
  RawAfter out;
  size_t at = line.find("\"after\":{");
  REQUIRE(at != std::string_view::npos);
  size_t start = at + 8;
  out.text = line.substr(start, ValueEnd(line, start) - start);
  size_t pos = 1;
  std::string_view obj = out.text;
  while (pos < obj.size() && obj[pos] != '}') {
    size_t key_end = ValueEnd(obj, pos);
    std::string key(obj.substr(pos + 1, key_end - pos - 2));
    REQUIRE(obj[key_end] == ':');
    size_t value_end = ValueEnd(obj, key_end + 1);
    out.fields[key] = std::string(obj.substr(key_end + 1, value_end - key_end - 1));
    out.order.push_back(key);
    pos = value_end + (obj[value_end] == ',' ? 1 : 0);
  }
  return out;
}

// `after` without its leading "id" field, for comparing a row with its copy under another id.
std::string_view WithoutId(std::string_view after) {
  REQUIRE(after.substr(0, 6) == "{\"id\":");
  return after.substr(ValueEnd(after, 6));
}

std::string Repeat(std::string_view s, int n) {
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.append(s);
  return out;
}

void CreateTypesTable(TestDb& db) {
  auto citext = db.Query("SELECT 1 FROM pg_available_extensions WHERE name = 'citext'");
  INFO("citext is not available on the test server: install postgresql-contrib");
  REQUIRE(citext.size() == 1);
  db.Exec("CREATE EXTENSION citext");
  // money's text form follows lc_monetary: pin it for every session of this database.
  db.Exec("ALTER DATABASE " + db.name() + " SET lc_monetary = 'C'");
  db.Exec("CREATE TYPE mood AS ENUM ('sad', 'so-so, really', 'happy')");
  db.Exec("CREATE DOMAIN posint AS int CHECK (VALUE > 0)");
  db.Exec("CREATE DOMAIN email AS text");
  db.Exec("CREATE DOMAIN price AS numeric(12,2)");
  db.Exec("CREATE TYPE pair AS (n int, s text)");
  std::string create = "CREATE TABLE t (id int PRIMARY KEY";
  std::string row1 = "INSERT INTO t VALUES (1", row4 = "INSERT INTO t VALUES (4";
  for (const Col& c : kCols) {
    create += std::string(", ") + c.name + " " + c.type;
    row1 += std::string(", ") + c.sql1;
    row4 += std::string(", ") + c.sql4;
  }
  // pgoutput never sends a generated column: the snapshot leaves it out as well.
  db.Exec(create + ", gen int GENERATED ALWAYS AS (id * 2) STORED)");
  db.Exec(row1 + ")");
  db.Exec("INSERT INTO t (id) VALUES (2)");  // NULL in every column
  db.Exec("INSERT INTO t (id, tx, by) VALUES (3, repeat('漢字🙂x', " +
          std::to_string(kBigRepeats) + "), decode(repeat('00ff10', " +
          std::to_string(kBigByteaRepeats) + "), 'hex'))");
  db.Exec(row4 + ")");
}

// Checks one row's fields against the expected JSON texts.
void CheckRow(const RawAfter& after, int id) {
  INFO("row " << id);
  CHECK(after.fields.count("gen") == 0);  // generated: in neither snapshot nor stream
  REQUIRE(after.order.size() == std::size(kCols) + 1);
  CHECK(after.order.front() == "id");
  for (size_t i = 0; i < std::size(kCols); ++i) {
    const Col& c = kCols[i];
    INFO("column " << c.name << " (" << c.type << ")");
    CHECK(after.order[i + 1] == c.name);
    auto it = after.fields.find(c.name);
    REQUIRE(it != after.fields.end());
    const std::string& got = it->second;
    if (id == 1) CHECK(got == c.json1);
    if (id == 4) CHECK(got == c.json4);
    if (id == 2) CHECK(got == "null");
    if (id == 3 && std::string_view(c.name) != "tx" && std::string_view(c.name) != "by") {
      CHECK(got == "null");
    }
  }
  if (id == 3) {
    // Compared as booleans: a failure must not print megabytes.
    const std::string& tx = after.fields.find("tx")->second;
    const std::string& by = after.fields.find("by")->second;
    CHECK(tx.size() == 11 * kBigRepeats + 2);
    CHECK((tx == "\"" + Repeat("漢字🙂x", kBigRepeats) + "\""));
    CHECK(by.size() == 4 * kBigByteaRepeats + 2);
    CHECK((by == "\"" + Repeat("AP8Q", kBigByteaRepeats) + "\""));
  }
}

}  // namespace

TEST_CASE("PostgresTypes: every type has its documented JSON form in snapshot and stream",
          "[integration][postgres]") {
  TestDb db("it_types_all");
  CreateTypesTable(db);
  TempDir dir("types-all");
  WriteFile(dir.File("sluice.yaml"), StdoutConfig(dir, db.Dsn(), "  types: src.public.t | out\n"));
  auto sluice = StartSluice(dir);
  REQUIRE(WaitFor([&] { return LogHas(dir, "streaming from slot"); }, seconds(60)));
  // The same rows again, copied by the server, while streaming.
  std::string cols;
  for (const Col& c : kCols) cols += std::string(", ") + c.name;
  db.Exec("INSERT INTO t SELECT id + 100" + cols + " FROM t");
  REQUIRE(WaitFor([&] { return CountLines(dir.File("out.jsonl")) >= 8; }, seconds(60)));

  std::string out = ReadFile(dir.File("out.jsonl"));
  std::map<int, std::string> reads, inserts;  // by id, the raw line
  size_t lines = 0;
  for (size_t pos = 0, end; (end = out.find('\n', pos)) != std::string::npos; pos = end + 1) {
    std::string line = out.substr(pos, end - pos);
    ++lines;
    auto j = nlohmann::json::parse(line, nullptr, false);
    INFO("line " << lines << " starts " << line.substr(0, 200));
    REQUIRE(j.is_object());  // valid JSON on one line
    int id = j["key"]["id"].get<int>();
    if (j["op"] == "read") reads[id] = line;
    if (j["op"] == "insert") inserts[id - 100] = line;
  }
  CHECK(lines == 8);
  for (int id = 1; id <= 4; ++id) {
    REQUIRE(reads.count(id) == 1);
    REQUIRE(inserts.count(id) == 1);
    RawAfter read = ParseRawAfter(reads[id]);
    RawAfter insert = ParseRawAfter(inserts[id]);
    CheckRow(read, id);
    CheckRow(insert, id);
    INFO("row " << id << ": snapshot and stream differ");
    CHECK((WithoutId(read.text) == WithoutId(insert.text)));
  }
  sluice->Signal(SIGTERM);
  CHECK(sluice->Wait(seconds(30)) == 0);
}

}  // namespace sluice::test
