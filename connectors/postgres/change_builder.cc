#include "connectors/postgres/change_builder.h"

#include "connectors/postgres/type_map.h"

namespace sluice::pg {

namespace {
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;
}  // namespace

namespace {

// "name type[(typmod)][ key]", with the type's OID: what a Relation message says of a column.
std::string Layout(const RelationColumn& c) {
  std::string out = c.name + " " + std::to_string(c.type_oid);
  if (c.typmod >= 0) out += "(" + std::to_string(c.typmod) + ")";
  return c.key ? out + " key" : out;
}

}  // namespace

Status ChangeBuilder::OnRelation(const RelationMsg& m, Effect* effect) {
  Relation rel;
  rel.table = std::make_shared<const TableId>(TableId{source_, m.schema, m.name});
  rel.held = held_.count({m.schema, m.name}) > 0;
  for (const RelationColumn& c : m.columns) rel.layout.push_back(Layout(c));
  rel.layout.push_back(std::string("replica identity ") + m.replica_identity);
  auto previous = relations_.find(m.oid);
  bool changed = previous != relations_.end() && previous->second.layout != rel.layout;
  if (changed) effect->schema_change = SchemaChange{rel.table, previous->second.layout, rel.layout};
  // The catalog's key (read at start) serves tables whose replica identity flags every
  // column (FULL); once a table's key columns change, the message's flags are the truth.
  auto known = keys_.find({m.schema, m.name});
  bool use_known = known != keys_.end() && (!changed || m.replica_identity == 'f');
  for (size_t i = 0; i < m.columns.size(); ++i) {
    const RelationColumn& c = m.columns[i];
    rel.names.push_back(c.name);
    rel.types.push_back(ResolveColumnType(types_, c.type_oid));
  }
  if (use_known) {
    for (const std::string& k : known->second) {
      for (size_t i = 0; i < rel.names.size(); ++i) {
        if (rel.names[i] == k) rel.key_index.push_back(i);
      }
    }
    // A key column renamed or dropped since: fall back to the flags.
    if (rel.key_index.size() != known->second.size()) rel.key_index.clear();
  }
  if (rel.key_index.empty()) {
    for (size_t i = 0; i < m.columns.size(); ++i) {
      if (m.columns[i].key) rel.key_index.push_back(i);
    }
  }
  relations_[m.oid] = std::move(rel);
  return Status::Ok();
}

Result<const ChangeBuilder::Relation*> ChangeBuilder::Find(uint32_t oid) const {
  auto it = relations_.find(oid);
  if (it == relations_.end()) {
    return Status::Internal("change for relation " + std::to_string(oid) +
                            " before its Relation message");
  }
  return &it->second;
}

Row ChangeBuilder::ToRow(const Relation& rel, const Tuple& tuple) const {
  Row row;
  size_t n = std::min(tuple.size(), rel.names.size());
  row.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const TupleColumn& col = tuple[i];
    Value v;
    if (col.kind == 'u') {
      v = Value::Unchanged();
    } else if (col.kind == 't' || col.kind == 'b') {
      v = ConvertColumn(rel.types[i], col.data);
    }
    row.push_back({rel.names[i], std::move(v)});
  }
  return row;
}

Row ChangeBuilder::KeyOf(const Relation& rel, const Tuple& tuple) const {
  Row key;
  key.reserve(rel.key_index.size());
  for (size_t i : rel.key_index) {
    if (i >= tuple.size()) continue;
    const TupleColumn& col = tuple[i];
    Value v;
    if (col.kind == 't' || col.kind == 'b') v = ConvertColumn(rel.types[i], col.data);
    key.push_back({rel.names[i], std::move(v)});
  }
  return key;
}

Change ChangeBuilder::NewChange(Op op, const Relation& rel) {
  Change c;
  c.op = op;
  c.table = rel.table;
  c.position = Position{commit_lsn_, ++seq_};
  c.commit_time_us = commit_time_us_;
  c.xid = xid_;
  return c;
}

bool ChangeBuilder::Skip(const Relation& rel) {
  if (rel.held) ++seq_;
  return rel.held;
}

void ChangeBuilder::Append(Change&& c, Batch* batch) {
  batch->bytes += c.ApproxBytes();
  batch->changes.push_back(std::move(c));
}

Result<ChangeBuilder::Effect> ChangeBuilder::Apply(const PgoutputMessage& message, Batch* batch) {
  Effect effect;
  Status status;
  std::visit(Overloaded{
                 [&](const BeginMsg& m) {
                   in_txn_ = true;
                   commit_lsn_ = m.final_lsn;
                   commit_time_us_ = m.commit_time_us;
                   xid_ = m.xid;
                   seq_ = 0;
                 },
                 [&](const CommitMsg& m) {
                   in_txn_ = false;
                   effect.commit = true;
                   effect.commit_end = m.end_lsn;
                 },
                 [&](const RelationMsg& m) { status = OnRelation(m, &effect); },
                 [&](const InsertMsg& m) {
                   auto rel = Find(m.relation_oid);
                   if (!rel.ok()) return void(status = rel.status());
                   if (Skip(**rel)) return;
                   Change c = NewChange(Op::kInsert, **rel);
                   c.after = ToRow(**rel, m.new_tuple);
                   c.key = KeyOf(**rel, m.new_tuple);
                   Append(std::move(c), batch);
                 },
                 [&](const UpdateMsg& m) {
                   auto rel = Find(m.relation_oid);
                   if (!rel.ok()) return void(status = rel.status());
                   if (Skip(**rel)) return;
                   Change c = NewChange(Op::kUpdate, **rel);
                   c.after = ToRow(**rel, m.new_tuple);
                   c.key = KeyOf(**rel, m.new_tuple);
                   if (m.old_kind == 'O') c.before = ToRow(**rel, m.old_tuple);
                   if (m.old_kind == 'K' || m.old_kind == 'O') {
                     Row old_key = KeyOf(**rel, m.old_tuple);
                     if (old_key != c.key) c.old_key = std::move(old_key);
                   }
                   Append(std::move(c), batch);
                 },
                 [&](const DeleteMsg& m) {
                   auto rel = Find(m.relation_oid);
                   if (!rel.ok()) return void(status = rel.status());
                   if (Skip(**rel)) return;
                   Change c = NewChange(Op::kDelete, **rel);
                   c.key = KeyOf(**rel, m.old_tuple);
                   if (m.old_kind == 'O') c.before = ToRow(**rel, m.old_tuple);
                   Append(std::move(c), batch);
                 },
                 [&](const TruncateMsg& m) {
                   for (uint32_t oid : m.relation_oids) {
                     auto rel = Find(oid);
                     if (!rel.ok()) return void(status = rel.status());
                     if (!Skip(**rel)) Append(NewChange(Op::kTruncate, **rel), batch);
                   }
                 },
                 [&](const auto&) {},  // Origin, Type, logical decoding messages: nothing to apply
             },
             message);
  if (!status.ok()) return status;
  return effect;
}

}  // namespace sluice::pg
