// `sluice verify`: compares every sink of a pipeline with its source at one consistent
// position, and with --repair re-sends what differs. See docs/architecture.md ("Verify").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/registry.h"
#include "runtime/config_model.h"

namespace sluice {

// How far a verify run has come in one table: rows read from the source and compared.
struct VerifyProgress {
  std::string pipeline;
  std::string table;
  uint64_t rows_checked = 0;
  std::optional<uint64_t> rows_estimated;  // the source's estimate, when it has one
  bool table_done = false;
};

struct VerifyOptions {
  std::string pipeline;  // empty: every pipeline
  bool repair = false;
  // How long to wait for the pipeline's checkpoint to pass the verify position.
  std::chrono::milliseconds wait = std::chrono::minutes(5);
  size_t examples = 5;  // differences shown per sink and table
  // Called on the verifying thread after each batch of rows and when a table is done.
  std::function<void(const VerifyProgress&)> progress;
};

// One sink and one table.
struct VerifyTally {
  std::string pipeline;
  std::string sink;
  std::string table;
  uint64_t rows = 0;  // source rows the sink should hold (after the transforms)
  uint64_t equal = 0;
  uint64_t missing = 0;    // a row the sink does not hold
  uint64_t different = 0;  // held at an older position with another value
  uint64_t extra = 0;      // held, but no such row (or the transforms filter it out)
  uint64_t newer = 0;      // held at a position past the verify point: not compared
  uint64_t unkeyed = 0;    // held, but its stored value does not carry the key
  uint64_t repaired = 0;   // differences re-sent and durable (--repair)
  std::vector<std::string> examples;
  uint64_t differences() const { return missing + different + extra; }
};

struct VerifyReport {
  std::string position;  // the verify point (LSN) of the last pipeline verified
  std::vector<VerifyTally> tallies;
  std::vector<std::string> errors;   // what failed, and why
  std::vector<std::string> skipped;  // sinks that cannot be read back (stdout, kafka), and why
  // Nothing failed, and every difference was repaired (or there was none).
  bool Clean() const;
};

VerifyReport RunVerify(const Config& config, const Registry& registry,
                       const VerifyOptions& options);

// The report as a table, then the examples and the errors.
std::string VerifyText(const VerifyReport& report);

}  // namespace sluice
