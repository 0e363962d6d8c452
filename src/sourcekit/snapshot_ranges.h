// Snapshot ranges: how a database source splits each table's snapshot into key ranges, which
// ranges are durable in every sink (recorded in the state directory, so a restart resumes at
// the range), and which this process has handed on. Source-neutral and pure: a source
// supplies how to choose the bounds and read a range, and where the record is kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace sluice {

// How one table's snapshot is split, and which parts of it are durable in every sink.
// Range i of n = bounds.size() + 1 holds the keys k with bounds[i-1] < k <= bounds[i]; the
// first range is open below, the last open above, so together they cover every key, also
// keys inserted after the bounds were chosen. Bounds are key values in the source's text
// form, compared as a row in key order.
struct TablePlan {
  std::vector<std::string> key;                  // the key columns the bounds are made of
  std::vector<std::vector<std::string>> bounds;  // ascending
  std::map<size_t, int64_t> done;                // finished range -> rows it held
  size_t ranges() const { return bounds.size() + 1; }
  int64_t rows_done() const;
};

// What a source records of its snapshot. Tables are named as the source qualifies them.
struct SnapshotRecord {
  std::set<std::string> tables_done;       // tables whose snapshot is durable in every sink
  std::map<std::string, TablePlan> plans;  // tables whose snapshot is under way
};

// Records range `range` of `table` as durable. When it was the table's last missing range,
// the table moves to `tables_done` and its plan is dropped. A table already done, or one
// without a plan, is left alone.
void MarkRangeDone(SnapshotRecord* record, const std::string& table, size_t range, int64_t rows);

// The record as members "tables_done" and "snapshot" of a state document.
void WriteSnapshotRecord(const SnapshotRecord& record, nlohmann::json* doc);
// Reads what WriteSnapshotRecord wrote (both members may be missing). Throws nlohmann's or
// std::out_of_range on a document that is not such a record.
SnapshotRecord ReadSnapshotRecord(const nlohmann::json& doc);

// A range handed on in full (its last batch emitted) by this process.
struct HandedOnRange {
  std::string table;
  size_t range = 0;
  int64_t rows = 0;
};

// The ranges handed on, in emission order. Checkpoint token k covers the first k: batches of
// different ranges interleave, but a range's last batch comes after its others, so "every
// batch up to the one carrying token k is durable" means the first k ranges are.
// Not thread-safe: the source guards it.
class HandedOnRanges {
 public:
  // Returns the range's token.
  uint64_t Add(HandedOnRange range);
  // The ranges of tokens (from, to], clamped to what was handed on.
  std::vector<HandedOnRange> Between(uint64_t from, uint64_t to) const;
  // Range -> rows of `table`.
  std::map<size_t, int64_t> Of(const std::string& table) const;
  uint64_t size() const { return ranges_.size(); }

 private:
  std::vector<HandedOnRange> ranges_;
};

// Whether `table` has a range neither recorded nor handed on (every table without a plan).
bool NeedsReading(const SnapshotRecord& record, const HandedOnRanges& handed_on,
                  const std::string& table);

// What is left of a table's plan: the ranges to read, and the rows and ranges already done
// or handed on (for progress).
struct RangesLeft {
  std::vector<size_t> to_read;
  int64_t rows = 0;
  size_t ranges_done = 0;
};
RangesLeft LeftOf(const TablePlan& plan, const std::map<size_t, int64_t>& handed_on);

}  // namespace sluice
