// Helpers for end-to-end tests: an `items` table and a write load on it (shared by every
// sink's tests), and for `postgres | stdout` a config, the sluice process, and "does the
// sink equal the table".
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "support/applied_state.h"
#include "support/test_env.h"

namespace sluice::test {

// A config with state in DIR/state, endpoints on a free loopback port, source `src` (postgres,
// `dsn`), the YAML body of `sinks:` and of `pipelines:` (both indented two spaces). `source_extra`:
// more option lines of source `src` ("    toast: lookup\n").
std::string SluiceConfig(const TempDir& dir, const std::string& dsn, const std::string& sinks,
                         const std::string& pipes, const std::string& source_extra = "");

// SluiceConfig with sink `out` (stdout to DIR/out.jsonl).
std::string StdoutConfig(const TempDir& dir, const std::string& dsn, const std::string& pipes);

// `sluice run -c DIR/sluice.yaml`, stdout to DIR/stdout.log, stderr to DIR/stderr.log.
std::unique_ptr<SluiceProcess> StartSluice(const TempDir& dir);

// Whether sluice's stderr log contains `text`.
bool LogHas(const TempDir& dir, const std::string& text);

// items(id bigint primary key, name text, qty int, price numeric(14,3)) with `rows` rows.
void CreateItems(TestDb& db, int rows);
extern const std::vector<std::string> kItemCols;

// Random inserts, updates (some to NULL), deletes and multi-row transactions on `items`
// rows 1..key_range until `stop` or `max_txns`; survives a server restart (reconnects).
void WriteLoad(const std::string& dbname, std::atomic<bool>& stop, int max_txns, int seed,
               int key_range = 3000);
// The same on `table`, which has the columns of `items`.
void WriteTableLoad(const std::string& table, const std::string& dbname, std::atomic<bool>& stop,
                    int max_txns, int seed, int key_range);

// The applied stdout lines equal each of `tables` (with the columns of `items`) now.
bool Converged(TestDb& db, const TempDir& dir, const std::vector<std::string>& tables = {"items"});
// Waits up to 120 s for Converged; on failure reports sizes and sluice's log.
void RequireConverged(TestDb& db, const TempDir& dir,
                      const std::vector<std::string>& tables = {"items"});

}  // namespace sluice::test
