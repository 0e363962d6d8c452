// ChangeBuilder: the changes of tables held back (an added table whose snapshot is under
// way) are not built, and the others keep the ordinals a full replay gives them.
#include "connectors/postgres/change_builder.h"

#include <catch2/catch.hpp>

namespace sluice::pg {
namespace {

constexpr uint32_t kInt8 = 20;

RelationMsg Relation(uint32_t oid, const std::string& name) {
  RelationMsg m;
  m.oid = oid;
  m.schema = "public";
  m.name = name;
  m.columns = {RelationColumn{"id", kInt8, -1, true}};
  return m;
}

InsertMsg Insert(uint32_t oid, std::string_view id) {
  return InsertMsg{oid, Tuple{TupleColumn{'t', id}}};
}

// One transaction: an insert into `items`, one into `extra`, one into `items` again, then
// a truncate of both; the changes it builds.
std::vector<Change> OneTransaction(ChangeBuilder& b) {
  Batch batch;
  std::vector<PgoutputMessage> messages = {Relation(1, "items"),
                                           Relation(2, "extra"),
                                           BeginMsg{Lsn(0x500), 0, 7},
                                           Insert(1, "1"),
                                           Insert(2, "2"),
                                           Insert(1, "3"),
                                           TruncateMsg{0, {1, 2}},
                                           CommitMsg{0, Lsn(0x500), Lsn(0x530), 0}};
  for (const auto& m : messages) REQUIRE(b.Apply(m, &batch).ok());
  return std::move(batch.changes);
}

std::vector<std::pair<std::string, uint64_t>> TablesAndOrdinals(const std::vector<Change>& cs) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const Change& c : cs) out.emplace_back(c.table->name, c.position.seq);
  return out;
}

}  // namespace

TEST_CASE("ChangeBuilder: a held-back table's changes are skipped, the others keep their ordinals",
          "[unit][postgres]") {
  ChangeBuilder all("src", {}, {});
  CHECK(TablesAndOrdinals(OneTransaction(all)) ==
        std::vector<std::pair<std::string, uint64_t>>{
            {"items", 1}, {"extra", 2}, {"items", 3}, {"items", 4}, {"extra", 5}});

  ChangeBuilder held("src", {}, {});
  held.HoldBack({{"public", "extra"}});
  std::vector<Change> changes = OneTransaction(held);
  CHECK(TablesAndOrdinals(changes) ==
        std::vector<std::pair<std::string, uint64_t>>{{"items", 1}, {"items", 3}, {"items", 4}});
  REQUIRE(changes.size() == 3);
  CHECK(changes[1].key.at(0).value.text == "3");
  CHECK_FALSE(held.in_transaction());
}

TEST_CASE("ChangeBuilder: a table described again with other columns is a schema change",
          "[unit][postgres]") {
  ChangeBuilder b("src", {{{"public", "items"}, {"id"}}}, {});
  Batch batch;
  auto first = b.Apply(Relation(1, "items"), &batch);
  REQUIRE(first.ok());
  CHECK_FALSE(first->schema_change.has_value());  // the first description is no change
  auto same = b.Apply(Relation(1, "items"), &batch);
  REQUIRE(same.ok());
  CHECK_FALSE(same->schema_change.has_value());  // sent again (a new session): no change

  RelationMsg added = Relation(1, "items");
  added.columns.push_back(RelationColumn{"note", 25, -1, false});
  auto grown = b.Apply(added, &batch);
  REQUIRE(grown.ok());
  REQUIRE(grown->schema_change.has_value());
  CHECK(grown->schema_change->table->name == "items");
  CHECK(grown->schema_change->before ==
        std::vector<std::string>{"id 20 key", "replica identity d"});
  CHECK(grown->schema_change->after ==
        std::vector<std::string>{"id 20 key", "note 25", "replica identity d"});

  // The key column renamed: the catalog's key (read at start) names a column that is gone,
  // so the key comes from the message's flags.
  RelationMsg renamed = added;
  renamed.columns[0].name = "item_id";
  REQUIRE(b.Apply(renamed, &batch).ok());
  REQUIRE(b.Apply(BeginMsg{Lsn(0x600), 0, 8}, &batch).ok());
  REQUIRE(b.Apply(InsertMsg{1, Tuple{TupleColumn{'t', "9"}, TupleColumn{'t', "n"}}}, &batch).ok());
  REQUIRE(batch.changes.size() == 1);
  REQUIRE(batch.changes[0].key.size() == 1);
  CHECK(batch.changes[0].key[0].name == "item_id");
  CHECK(batch.changes[0].key[0].value.text == "9");
  REQUIRE(batch.changes[0].after->size() == 2);
  CHECK(batch.changes[0].after->at(1).name == "note");
}

}  // namespace sluice::pg
