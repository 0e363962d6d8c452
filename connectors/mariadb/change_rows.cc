#include "connectors/mariadb/change_rows.h"

#include "connectors/mariadb/value_map.h"

namespace sluice::mariadb {

Result<Row> CellsToRow(const TableMap& map, const std::vector<Cell>& cells) {
  Row row;
  row.reserve(cells.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    Result<Value> v = CellToValue(cells[i], map.columns[i]);
    if (!v.ok()) {
      return Status::InvalidArgument("table " + map.database + "." + map.table + ": " +
                                     v.status().message());
    }
    row.push_back(Field{map.columns[i].name, std::move(v).value()});
  }
  return row;
}

Row KeyOf(const TableMap& map, const Row& row) {
  Row key;
  for (size_t k : map.primary_key) key.push_back(row[k]);
  return key;
}

Status RowsToChanges(RowsEvent::Kind kind, const TableMap& map,
                     const std::shared_ptr<const TableId>& table,
                     const std::vector<RowChange>& rows, TxnPlace* place,
                     std::vector<Change>* out) {
  std::string name = map.database + "." + map.table;
  if (!map.has_names) {
    return Status::InvalidArgument("table map of " + name +
                                   " has no column names: set binlog_row_metadata=FULL");
  }
  if (map.primary_key.empty()) {
    return Status::InvalidArgument("table " + name + " has no primary key");
  }
  for (const RowChange& rc : rows) {
    Change c;
    c.table = table;
    c.position = Position{place->position, place->next_seq++};
    c.commit_time_us = place->commit_time_us;
    c.xid = place->xid;
    if (kind != RowsEvent::Kind::kWrite) {
      auto before = CellsToRow(map, rc.before);
      if (!before.ok()) return before.status();
      c.before = std::move(before).value();
    }
    if (kind != RowsEvent::Kind::kDelete) {
      auto after = CellsToRow(map, rc.after);
      if (!after.ok()) return after.status();
      c.after = std::move(after).value();
    }
    switch (kind) {
      case RowsEvent::Kind::kWrite:
        c.op = Op::kInsert;
        c.key = KeyOf(map, *c.after);
        break;
      case RowsEvent::Kind::kDelete:
        c.op = Op::kDelete;
        c.key = KeyOf(map, *c.before);
        break;
      case RowsEvent::Kind::kUpdate: {
        c.op = Op::kUpdate;
        c.key = KeyOf(map, *c.after);
        Row old_key = KeyOf(map, *c.before);
        if (old_key != c.key) c.old_key = std::move(old_key);
        break;
      }
    }
    out->push_back(std::move(c));
  }
  return Status::Ok();
}

}  // namespace sluice::mariadb
