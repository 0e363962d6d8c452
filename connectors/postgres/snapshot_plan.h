// Splitting a table's snapshot into key ranges: choosing the bounds (in the snapshot being
// read) and the COPY statement that reads one range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/pg_conn.h"
#include "connectors/postgres/source_state.h"

namespace sluice::pg {

// A plan for `table` with ranges of about `chunk_rows` rows, inside the connection's
// current transaction and snapshot. A large table (SamplePercent > 0) with a one-column key
// takes its bounds from the key column's histogram (pg_stats) when the statistics are fresh
// (rows changed since the last ANALYZE at most kMaxStaleFraction of the rows) and have at
// least kMinBucketsPerRange buckets per range: no read at all. Otherwise a large table gets
// its bounds from a block sample of the key (TABLESAMPLE SYSTEM): every
// kSampleKeysPerRange-th sampled key in key order, so the ranges are chunk_rows long give or
// take the sample's error. Any other table: every chunk_rows-th key in key order becomes a
// bound (one index-ordered pass over the key). A table without key columns, or with at most
// `chunk_rows` rows, gets one range. (Whatever the bounds, the ranges cover every key: they
// only decide how equal the ranges are.) `how` says which way the bounds came, for the log.
Result<TablePlan> PlanTable(PgConn& conn, const TableInfo& table, int64_t chunk_rows,
                            std::string* how);

// Statistics older than this fraction of the table's rows changed are not used for bounds.
inline constexpr double kMaxStaleFraction = 0.2;
// Histogram buckets a range needs at least for its bounds to come from the histogram.
inline constexpr size_t kMinBucketsPerRange = 2;

// `ranges - 1` bounds out of a histogram (its bounds, ascending, equal-frequency buckets
// between them): the bound closest to each i/ranges of the way. Empty when the histogram has
// fewer than kMinBucketsPerRange buckets a range, or `ranges` < 2.
std::vector<std::string> HistogramBounds(const std::vector<std::string>& histogram, size_t ranges);

// Sampled keys per range: enough that a range's length is off by a few percent, not tens.
inline constexpr int64_t kSampleKeysPerRange = 1000;
// Above this sample size (small ranges) the exact pass is used: it reads little more.
inline constexpr double kMaxSamplePercent = 5.0;
// Tables estimated at fewer ranges than this are split exactly (the pass is short).
inline constexpr int64_t kMinSampledRanges = 4;

// The TABLESAMPLE SYSTEM percentage PlanTable samples a table of `estimated_rows`
// (pg_class.reltuples) with for ranges of `chunk_rows`; 0 when it makes the exact pass.
double SamplePercent(int64_t estimated_rows, int64_t chunk_rows);

// The plan still fits the table: it was made for the same key columns.
bool PlanFits(const TablePlan& plan, const TableInfo& table);

// `FROM table WHERE <range>` for range `range` of `plan`, for CopyRange. Bounds are
// written as literals of unknown type, which PostgreSQL reads as the key column's type, so
// the row comparison can use the key's index.
std::string RangeFrom(const PgConn& conn, const TableInfo& table, const TablePlan& plan,
                      size_t range);

// `FROM table WHERE <key> IN (...)`, for CopyRange: the rows with these key values (text
// forms, in key column order).
std::string KeysFrom(const PgConn& conn, const TableInfo& table,
                     const std::vector<std::vector<std::string>>& keys);

}  // namespace sluice::pg
