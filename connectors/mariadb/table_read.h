// Reading a MariaDB table's rows as `read` changes: the SELECTs of the snapshot and of
// verify (whole table, a key range, a set of keys), and the consistent-snapshot transaction
// whose binary log position (as a GTID state) both tag their rows with.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/mariadb/my_conn.h"
#include "connectors/mariadb/table_map.h"
#include "connectors/mariadb/value_map.h"
#include "core/change.h"
#include "core/status.h"
#include "sourcekit/snapshot_ranges.h"

namespace sluice::mariadb {

// One table the pipeline reads, as the snapshot needs it.
struct MyTable {
  std::string database, name;
  std::string qualified;  // "shop.orders": its name in the state and in messages
  std::vector<std::string> columns;
  std::vector<ValueClass> classes;  // per column
  std::vector<std::string> key;     // primary key columns, in key order
  // Columns of MariaDB's UUID, INET4, INET6 types, which the binary log writes as BINARY.
  std::map<std::string, Column::Logical> logical;
  std::shared_ptr<const TableId> id;
};

// "`a`, `b`".
std::string ColumnList(const std::vector<std::string>& key);
// "(`a`, `b`)" or "`a`": the key as one value to compare.
std::string KeyList(const std::vector<std::string>& key);
// The bound's values as literals, as one value to compare against KeyList.
std::string BoundList(MyConn& conn, const std::vector<std::string>& bound);
// "`db`.`table`".
std::string FromOf(const MyTable& t);

// "SELECT <every column> FROM `db`.`t`", floats as DOUBLE so their exact value is printed.
std::string SelectColumns(const MyTable& t);
// " WHERE ..." for range `range` of `plan` (bounds[range-1] < key <= bounds[range]).
std::string RangeWhere(MyConn& conn, const MyTable& t, const TablePlan& plan, size_t range);
// " WHERE key IN (...)" for these key values (text forms, in key order); `keys` not empty.
std::string KeysWhere(MyConn& conn, const MyTable& t,
                      const std::vector<std::vector<std::string>>& keys);

// Runs `sql` (a SelectColumns query) and hands its rows to `each` as `read` changes at
// (position, 0), in batches of at most `max_changes` changes or `max_bytes`; a last
// partial batch too, never an empty one. The row count; Cancelled when `each` said stop.
Result<int64_t> ReadRows(MyConn& conn, const MyTable& t, const std::string& sql, Lsn position,
                         size_t max_changes, size_t max_bytes,
                         const std::function<bool(Batch&&)>& each);

// Starts a read-only REPEATABLE READ transaction WITH CONSISTENT SNAPSHOT on `conn` and
// returns the GTID state of its binary log position: every transaction up to it is in the
// read, none after it.
Result<std::string> BeginConsistentRead(MyConn& conn);

}  // namespace sluice::mariadb
