#include "connectors/postgres/snapshot_plan.h"

#include <cmath>
#include <cstdio>

namespace sluice::pg {

namespace {

std::string KeyList(const PgConn& conn, const std::vector<std::string>& key) {
  std::string out;
  for (const auto& k : key) out += (out.empty() ? "" : ", ") + conn.Ident(k);
  return out;
}

std::string RowOf(const PgConn& conn, const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + conn.Literal(v);
  return "ROW(" + out + ")";
}

std::string TableName(const PgConn& conn, const TableInfo& t) {
  return conn.Ident(t.schema) + "." + conn.Ident(t.name);
}

// Bounds from the statistics of `table`'s one key column, or nothing when there are none,
// they are stale, or too coarse for ranges of `chunk_rows`.
Result<std::vector<std::vector<std::string>>> StatisticsBounds(PgConn& conn, const TableInfo& table,
                                                               int64_t chunk_rows) {
  // histogram_bounds is anyarray: through text[], its elements come out as their text
  // forms, one row each. A partitioned table's statistics are the inherited ones.
  auto r = conn.Exec(
      "SELECT h.b, greatest(c.reltuples, 0)::bigint, coalesce(u.n_mod_since_analyze, 0) "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "JOIN LATERAL (SELECT s.histogram_bounds FROM pg_stats s WHERE s.schemaname = n.nspname "
      "AND s.tablename = c.relname AND s.attname = $2 AND s.histogram_bounds IS NOT NULL "
      "ORDER BY s.inherited DESC LIMIT 1) s ON true "
      "LEFT JOIN pg_stat_all_tables u ON u.relid = c.oid "
      "CROSS JOIN LATERAL unnest(s.histogram_bounds::text::text[]) WITH ORDINALITY AS h(b, i) "
      "WHERE c.oid = $1 ORDER BY h.i",
      {std::to_string(table.oid), table.key_columns.front()});
  if (!r.ok()) return r.status();
  std::vector<std::vector<std::string>> out;
  int n = PQntuples(r->get());
  if (n == 0) return out;
  double rows = std::stod(GetText(r->get(), 0, 1));
  double changed = std::stod(GetText(r->get(), 0, 2));
  if (rows <= 0 || changed > kMaxStaleFraction * rows) return out;
  auto ranges = static_cast<size_t>(std::llround(rows / static_cast<double>(chunk_rows)));
  std::vector<std::string> histogram;
  histogram.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) histogram.push_back(GetText(r->get(), i, 0));
  for (auto& b : HistogramBounds(histogram, ranges)) out.push_back({std::move(b)});
  return out;
}

}  // namespace

std::vector<std::string> HistogramBounds(const std::vector<std::string>& histogram, size_t ranges) {
  if (ranges < 2 || histogram.size() < 2) return {};
  size_t buckets = histogram.size() - 1;
  if (buckets < kMinBucketsPerRange * ranges) return {};
  std::vector<std::string> out;
  for (size_t i = 1; i < ranges; ++i) out.push_back(histogram[(i * buckets + ranges / 2) / ranges]);
  return out;
}

Result<TablePlan> PlanTable(PgConn& conn, const TableInfo& table, int64_t chunk_rows,
                            std::string* how) {
  TablePlan plan;
  plan.key = table.key_columns;
  *how = "no key columns";
  if (plan.key.empty() || chunk_rows <= 0) return plan;
  std::string keys = KeyList(conn, plan.key);
  std::string from = TableName(conn, table);
  int64_t every = chunk_rows;
  double percent = SamplePercent(table.estimated_rows, chunk_rows);
  if (percent > 0 && plan.key.size() == 1) {
    auto bounds = StatisticsBounds(conn, table, chunk_rows);
    if (!bounds.ok()) {
      return bounds.status().WithContext("reading the statistics of " + table.Qualified());
    }
    if (!bounds->empty()) {
      plan.bounds = std::move(bounds).value();
      *how = "from the key column's statistics";
      return plan;
    }
  }
  if (percent > 0) {
    // Bounds from a block sample: every kSampleKeysPerRange-th sampled key. Reads a few
    // percent of the table instead of every key, at the price of ranges that are only
    // about chunk_rows long.
    char text[32];
    std::snprintf(text, sizeof(text), "%.9g", percent);
    from += std::string(" TABLESAMPLE SYSTEM (") + text + ")";
    every = kSampleKeysPerRange;
    *how = std::string("from a ") + text + "% block sample of the key";
  } else {
    *how = "by one pass over the key";
  }
  std::string sql = "SELECT " + keys + " FROM (SELECT " + keys + ", row_number() OVER (ORDER BY " +
                    keys + ") AS sluice_rn FROM " + from + ") b WHERE sluice_rn % " +
                    std::to_string(every) + " = 0 ORDER BY sluice_rn";
  auto r = conn.Exec(sql);
  if (!r.ok()) return r.status().WithContext("splitting " + table.Qualified() + " into ranges");
  int rows = PQntuples(r->get());
  int cols = PQnfields(r->get());
  plan.bounds.reserve(static_cast<size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    std::vector<std::string> bound;
    for (int c = 0; c < cols; ++c) bound.push_back(GetText(r->get(), i, c));
    plan.bounds.push_back(std::move(bound));
  }
  return plan;
}

double SamplePercent(int64_t estimated_rows, int64_t chunk_rows) {
  if (chunk_rows <= 0) return 0;
  double percent =
      100.0 * static_cast<double>(kSampleKeysPerRange) / static_cast<double>(chunk_rows);
  if (percent > kMaxSamplePercent) return 0;  // small ranges: the exact pass costs little more
  // Too few rows for the sample to be worth it, or no estimate (never analyzed: -1 or 0).
  if (estimated_rows < kMinSampledRanges * chunk_rows) return 0;
  return percent;
}

bool PlanFits(const TablePlan& plan, const TableInfo& table) {
  return plan.key == table.key_columns;
}

std::string RangeFrom(const PgConn& conn, const TableInfo& table, const TablePlan& plan,
                      size_t range) {
  std::string sql = "FROM " + TableName(conn, table);
  std::string where;
  std::string key = "ROW(" + KeyList(conn, plan.key) + ")";
  if (range > 0 && range - 1 < plan.bounds.size()) {
    where = key + " > " + RowOf(conn, plan.bounds[range - 1]);
  }
  if (range < plan.bounds.size()) {
    where += (where.empty() ? "" : " AND ") + key + " <= " + RowOf(conn, plan.bounds[range]);
  }
  if (!where.empty()) sql += " WHERE " + where;
  return sql;
}

std::string KeysFrom(const PgConn& conn, const TableInfo& table,
                     const std::vector<std::vector<std::string>>& keys) {
  std::string in;
  for (const auto& k : keys) in += (in.empty() ? "" : ", ") + RowOf(conn, k);
  if (in.empty()) in = "NULL";
  return "FROM " + TableName(conn, table) + " WHERE ROW(" + KeyList(conn, table.key_columns) +
         ") IN (" + in + ")";
}

}  // namespace sluice::pg
