// The snapshot reads a table whose column types all have a binary reading with
// `COPY ... (FORMAT binary)`. The same rows read as text (PostgreSQL's own output
// functions) must give the same changes, value for value: the server is the oracle for
// every edge the binary reading rewrites (numeric scales, float notation, BC and far dates,
// infinities, fractions of seconds, bytes, unicode).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/snapshot_reader.h"
#include "support/test_env.h"

namespace sluice::test {
namespace {

constexpr const char* kColumns =
    "id int4 PRIMARY KEY, b bool, i2 int2, i8 int8, o oid, n numeric, n4 numeric(20,4), "
    "tx text, vc varchar(12), ch char(5), nm name, j json, jb jsonb, by bytea, u uuid, "
    "d date, ts timestamp, tz timestamptz, dom big_id, f4 float4, f8 float8";

// Rows whose values sit on the edges of each type's send form.
constexpr const char* kEdgeRows = R"sql(
INSERT INTO t VALUES
 (1, true, 32767, 9223372036854775807, 4294967295, 'NaN', 0, E'tab\there\nnew \\ line',
  'héllo', 'ab', 'pg_name', E'{"a":\n [1, 2]}', '{"k": [1, null, "x\\ny"]}', '\x00ff10',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '4713-11-24 BC', '4713-11-24 00:00:00 BC',
  '294276-12-31 23:59:59.999999', 9223372036854775807, 'NaN', '-0'),
 (2, false, -32768, -9223372036854775808, 0, 'Infinity', -0.0001, '', '', '', '', 'null',
  '[]', '', '00000000-0000-0000-0000-000000000000', '5874897-12-31', '0001-01-01 00:00:00',
  '0001-12-31 23:59:59.5 BC', -1, 'Infinity', '1.7976931348623157e+308'),
 (3, NULL, NULL, NULL, NULL, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, true, 0, 0, 1, 0, 1234567890123456.7891, '🙂 漢字', ' ', '🙂', 'x', '""', '"s"',
  '\x', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'infinity', '-infinity', 'infinity', 0, '-Infinity', '-5e-324'),
 (5, true, 1, 1, 2, 0.000, 0.5, '\N', 'a', 'abcde', 'y', '1', '1.5e300', '\x5c4e',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '-infinity', '2000-01-01 00:00:00',
  '1999-12-31 23:59:59.000001', 2, '1e-45', '0.0001'),
 (6, true, 1, 1, 2, '-0.000000000000000000000000000001', 0, 'x', 'a', 'a', 'y', '1', '1',
  '\x00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10000-01-01', '10000-01-01 00:00:00.01',
  '0044-03-15 12:00:00.120000 BC', 3, '3.4028235e+38', '0.00001'),
 (7, true, 1, 1, 2, '100000000000000000000000000000000000000000000000000.00000000000000000001',
  99999999999999.9999, 'x', 'a', 'a', 'y', '1', '1', '\x00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '2000-01-01', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00.000001', 4, '123456789', '123456789012345'),
 (8, true, 1, 1, 2, 10000, -10000, 'x', 'a', 'a', 'y', '1', '1', '\x00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1999-12-31', '1900-02-28 12:00:00', '2024-02-29 00:00:00', 5, '999999', '1234567890123456'),
 (9, true, 1, 1, 2, 0.1, 0.01, 'x', 'a', 'a', 'y', '1', '1', '\x00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2000-03-01', '1600-02-29 00:00:00', '0001-01-01 00:00:00 BC', 6, '1000000', '0.1');
)sql";

// Random rows over each type's whole range: numerics of 0-40 fraction digits and
// magnitudes 1e-30 to 1e30, floats of every magnitude, dates from 4713 BC to 5874897 AD, timestamps
// to the microsecond from 4713 BC to 294276 AD, text and bytes of every length.
constexpr const char* kRandomRows = R"sql(
SELECT setseed(0.42);
INSERT INTO t
SELECT g + 100,
       random() < 0.5,
       (random() * 65535 - 32768)::int2,
       (random() * 1.8e19 - 9e18)::int8,
       (random() * 4294967295)::bigint::oid,
       CASE WHEN random() < 0.05 THEN NULL
            ELSE round(((random() - 0.5) * 10 ^ (floor(random() * 60) - 30))::numeric,
                       floor(random() * 40)::int) END,
       round((random() * 2e15 - 1e15)::numeric, 4),
       repeat(chr(32 + (random() * 2000)::int) || E'\t\\' || chr(128512 + g % 50), (random() * 40)::int),
       left(md5(g::text), (random() * 12)::int),
       left(md5(g::text), (random() * 5)::int),
       md5(g::text),
       json_build_object('g', g, 's', md5(g::text) || E'\n'),
       jsonb_build_object('g', g, 'f', random(), 'a', jsonb_build_array(g, NULL, 'x')),
       decode(repeat(md5(g::text), (random() * 4)::int), 'hex'),
       md5(g::text || 'u')::uuid,
       date '2000-01-01' + (random() * 2147483000 - 2451545)::int,
       timestamp '2000-01-01' + make_interval(days => (random() * 109200000 - 2451000)::int,
                                              secs => floor(random() * 86400000000) / 1e6),
       CASE WHEN random() < 0.5
            THEN timestamptz '2000-01-01 00:00:00+00'
                 + make_interval(days => (random() * 109200000 - 2451000)::int,
                                 secs => floor(random() * 86400000000) / 1e6)
            ELSE timestamptz '2026-11-25 00:00:00+00' + floor(random() * 1e6) * interval '1 microsecond'
       END,
       (random() * 1e18)::int8,
       (sign(random() - 0.5) * (0.1 + random()) * 10 ^ (floor(random() * 75) - 37))::float4,
       CASE WHEN g % 3 = 0 THEN round(random() * 1e6)::float8 / 100
            ELSE (random() - 0.5) * 10 ^ (floor(random() * 600) - 300) END
FROM generate_series(1, 5000) g;
)sql";

struct Read {
  bool binary = false;
  std::vector<Change> changes;
};

// The table's rows by `prefer_binary` decoding: text rows read here, binary rows through
// CopyRange (the snapshot's own path, file header and trailer included).
Read ReadTable(pg::PgConn& conn, const pg::TableInfo& table, const pg::TypeOverrides& types,
               bool prefer_binary) {
  const std::string from = "FROM t ORDER BY id";
  Read out;
  pg::CopyRowDecoder probe(table, types, "src", Lsn(7), prefer_binary);
  const std::string sql = probe.CopySql(conn, from);
  out.binary = probe.binary();
  if (prefer_binary) {
    pg::SnapshotLimits limits;
    Status s =
        pg::CopyRange(conn, table, types, "src", from, Lsn(7), limits, [&](Batch&& batch, bool) {
          for (auto& c : batch.changes) out.changes.push_back(std::move(c));
          return true;
        });
    REQUIRE(s.ok());
    return out;
  }
  pg::ResultPtr start(PQexec(conn.get(), sql.c_str()));
  REQUIRE(PQresultStatus(start.get()) == PGRES_COPY_OUT);
  char* buf = nullptr;
  int n;
  while ((n = PQgetCopyData(conn.get(), &buf, 0)) > 0) {
    std::string_view row(buf, static_cast<size_t>(n));
    REQUIRE(probe.RowOf(&row));
    size_t bytes = 0;
    Change& c = out.changes.emplace_back();
    REQUIRE(probe.Fill(row, c, &bytes));
    PQfreemem(buf);
  }
  REQUIRE(n == -1);
  while (pg::ResultPtr r{PQgetResult(conn.get())}) {
  }
  return out;
}

void RequireSameRows(const Read& text, const Read& binary) {
  REQUIRE(text.changes.size() == binary.changes.size());
  for (size_t i = 0; i < text.changes.size(); ++i) {
    const Change& a = text.changes[i];
    const Change& b = binary.changes[i];
    REQUIRE(a.after.has_value());
    REQUIRE(b.after.has_value());
    REQUIRE(a.after->size() == b.after->size());
    for (size_t f = 0; f < a.after->size(); ++f) {
      const Field& x = (*a.after)[f];
      const Field& y = (*b.after)[f];
      INFO("row " << i << ", column " << x.name << ": text " << x.value.text << ", binary "
                  << y.value.text);
      CHECK(x.name == y.name);
      CHECK(x.value.kind == y.value.kind);
      CHECK(x.value.text == y.value.text);
    }
    REQUIRE(a.key.size() == b.key.size());
    for (size_t k = 0; k < a.key.size(); ++k) CHECK(a.key[k].value.text == b.key[k].value.text);
    CHECK(a.op == b.op);
    CHECK(a.position == b.position);
  }
}

}  // namespace

TEST_CASE("PostgresCopyBinary: a binary COPY reads every row as the text COPY does",
          "[integration][postgres][snapshot]") {
  TestDb db("it_copy_binary");
  db.Exec("CREATE DOMAIN big_id AS int8");
  db.Exec(std::string("CREATE TABLE t (") + kColumns + ")");
  db.Exec(kEdgeRows);
  db.Exec(kRandomRows);
  db.Exec("CREATE TABLE f (id int4 PRIMARY KEY, x interval)");

  auto conn = pg::PgConn::Connect(db.Dsn(), false);
  REQUIRE(conn.ok());
  auto types = pg::LoadTypeOverrides(*conn);
  REQUIRE(types.ok());
  auto tables =
      pg::ResolveTables(*conn, {TableSelector{"public", "t"}, TableSelector{"public", "f"}});
  REQUIRE(tables.ok());
  REQUIRE(tables->size() == 2);
  const pg::TableInfo& t = tables->at(0).name == "t" ? tables->at(0) : tables->at(1);
  const pg::TableInfo& f = tables->at(0).name == "f" ? tables->at(0) : tables->at(1);

  Read text = ReadTable(*conn, t, *types, false);
  Read binary = ReadTable(*conn, t, *types, true);
  CHECK_FALSE(text.binary);
  CHECK(binary.binary);  // every column of t, the domain included, has a binary reading
  CHECK(text.changes.size() == 5009);
  RequireSameRows(text, binary);

  // An interval column has none: such a table is copied as text.
  CHECK_FALSE(pg::CopyRowDecoder(f, *types, "src", Lsn(7), true).binary());
}

}  // namespace sluice::test
