// Helpers for `mariadb | stdout` end-to-end tests: an `items` table in a TestMariaDb, a
// config, a batch of changes, and "does the sink equal the table".
#pragma once

#include <map>
#include <string>

#include "support/mariadb_test_db.h"
#include "support/test_env.h"

namespace sluice::test {

// items(id BIGINT PRIMARY KEY, name VARCHAR(100), qty INT, price DECIMAL(14,3)), `rows` rows.
void CreateMariaItems(TestMariaDb& db, int rows);
// The table as AppliedState keys it: {"id":N} -> column -> text.
std::map<std::string, std::map<std::string, std::string>> TableRows(TestMariaDb& db);
// State in DIR/state, source `src` (mariadb, a fresh server_id), sink `out` (stdout to
// DIR/out.jsonl), pipeline `p`: src.DB.items | out.
std::string MariaConfig(const TempDir& dir, TestMariaDb& db, int chunk_rows);
// Whether the applied stdout lines equal the table now.
bool MariaEqual(TestMariaDb& db, const TempDir& dir);
// Waits up to 60 s for MariaEqual; fails the test with sizes and sluice's log otherwise.
void RequireMariaEqual(TestMariaDb& db, const TempDir& dir);
// Inserts (keys BASE1, BASE2, BASE4), updates (one of them to the key BASE3), deletes, and a
// multi-statement transaction.
void MariaChanges(TestMariaDb& db, int base);

}  // namespace sluice::test
