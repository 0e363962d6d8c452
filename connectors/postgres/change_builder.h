// ChangeBuilder: turns decoded pgoutput messages into Changes. Keeps the relation cache
// (Relation messages describe the columns later tuples refer to), the current transaction's
// commit LSN and the ordinal of each change inside it. Pure: no I/O.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "connectors/postgres/catalog.h"
#include "connectors/postgres/pgoutput_decoder.h"
#include "core/change.h"

namespace sluice::pg {

// Key columns by (schema, table), from the catalog. Tables missing here fall back to the
// Relation message's key flags.
using KeyColumns = std::map<std::pair<std::string, std::string>, std::vector<std::string>>;
// Tables by (schema, table).
using TableNames = std::set<std::pair<std::string, std::string>>;

// One thread.
class ChangeBuilder {
 public:
  ChangeBuilder(std::string source, KeyColumns keys, TypeOverrides types)
      : source_(std::move(source)), keys_(std::move(keys)), types_(std::move(types)) {}

  // A table described again with other columns (ALTER TABLE mid-stream): what it was and
  // what it is now, each as "name type" per column, key columns marked.
  struct SchemaChange {
    std::shared_ptr<const TableId> table;
    std::vector<std::string> before;
    std::vector<std::string> after;
  };

  struct Effect {
    bool commit = false;                        // the message was a Commit
    Lsn commit_end;                             // its end LSN: what may be confirmed once durable
    std::optional<SchemaChange> schema_change;  // set by a Relation message that changed it
  };

  // Applies one message; row changes are appended to `batch` (bytes updated).
  Result<Effect> Apply(const PgoutputMessage& message, Batch* batch);

  bool in_transaction() const { return in_txn_; }
  // The connection was closed inside a transaction: the server sends it again from its Begin.
  void AbandonTransaction() { in_txn_ = false; }

  // Changes of these tables are counted (the positions of the others stay those of a full
  // replay) but not built: their snapshot is under way, and the stream is replayed for them
  // once it is read. Applies to Relation messages from here on.
  void HoldBack(TableNames tables) { held_ = std::move(tables); }

 private:
  struct Relation {
    std::shared_ptr<const TableId> table;
    std::vector<std::string> names;
    std::vector<ColumnType> types;    // the Relation message's type OIDs, resolved
    std::vector<size_t> key_index;    // positions of key columns in `names`
    bool held = false;                // in `held_` when described
    std::vector<std::string> layout;  // "name type" per column, for comparing descriptions
  };

  Status OnRelation(const RelationMsg& m, Effect* effect);
  Result<const Relation*> Find(uint32_t oid) const;
  Row ToRow(const Relation& rel, const Tuple& tuple) const;
  Row KeyOf(const Relation& rel, const Tuple& tuple) const;
  Change NewChange(Op op, const Relation& rel);
  // Whether `rel` is held back; if so its change still takes an ordinal.
  bool Skip(const Relation& rel);
  void Append(Change&& c, Batch* batch);

  std::string source_;
  KeyColumns keys_;
  TableNames held_;
  TypeOverrides types_;
  std::unordered_map<uint32_t, Relation> relations_;
  bool in_txn_ = false;
  Lsn commit_lsn_;
  int64_t commit_time_us_ = 0;
  uint32_t xid_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace sluice::pg
