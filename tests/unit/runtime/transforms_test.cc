#include "runtime/transforms.h"

#include <catch2/catch.hpp>

#include "runtime/pipe_parser.h"
#include "support/changes.h"

namespace sluice {
namespace {

Field F(std::string name, std::string text, ValueKind kind = ValueKind::kString) {
  return {std::move(name), Value::Of(kind, std::move(text))};
}
Field Int(std::string name, std::string text) {
  return F(std::move(name), std::move(text), ValueKind::kInt);
}

std::vector<std::string> Names(const Row& row) {
  std::vector<std::string> names;
  for (const Field& f : row) names.push_back(f.name);
  return names;
}

Change MakeChange(Op op, Row after) {
  bool has_row = op != Op::kDelete && op != Op::kTruncate;
  return test::KeyedChange(op, test::MakeTable("shop", "public", "t"), 1, 0, 0,
                           has_row ? std::optional<Row>(std::move(after)) : std::nullopt);
}

std::unique_ptr<Transform> Build(std::string_view text) {
  Parsed<TransformSyntax> parsed = ParseTransform(text);
  INFO(text);
  REQUIRE(parsed.ok());
  return BuildTransform(parsed.value.spec);
}

// Whether `where` keeps an insert whose column `c` holds `value`.
bool Keeps(std::string_view where, Value value) {
  Change c = MakeChange(Op::kInsert, {Int("id", "1"), {"c", std::move(value)}});
  return Build(where)->Apply(c);
}

}  // namespace

TEST_CASE("Transforms: select keeps listed columns of before and after, not the key",
          "[unit][transforms]") {
  Change c = MakeChange(Op::kUpdate, {Int("id", "1"), F("name", "n"), F("pw", "x"), F("z", "z")});
  c.before = Row{Int("id", "1"), F("name", "old"), F("pw", "y")};
  c.key = {Int("id", "1"), F("tenant", "t")};
  REQUIRE(Build("select name, id, missing, name")->Apply(c));
  CHECK(Names(*c.after) == std::vector<std::string>{"name", "id"});
  CHECK(Names(*c.before) == std::vector<std::string>{"name", "id"});
  CHECK(c.after->at(0).value.text == "n");
  CHECK(Names(c.key) == std::vector<std::string>{"id", "tenant"});
}

TEST_CASE("Transforms: drop removes columns of before and after", "[unit][transforms]") {
  Change c = MakeChange(Op::kUpdate, {Int("id", "1"), F("pw", "x"), F("name", "n")});
  c.before = Row{Int("id", "1"), F("pw", "y")};
  REQUIRE(Build("drop pw, nothing")->Apply(c));
  CHECK(Names(*c.after) == std::vector<std::string>{"id", "name"});
  CHECK(Names(*c.before) == std::vector<std::string>{"id"});
  CHECK(Names(c.key) == std::vector<std::string>{"id"});
}

TEST_CASE("Transforms: rename applies to key, old_key, before and after", "[unit][transforms]") {
  SECTION("every row") {
    Change c = MakeChange(Op::kUpdate, {Int("id", "2"), F("total", "9")});
    c.key = {Int("id", "2")};
    c.old_key = Row{Int("id", "1")};
    c.before = Row{Int("id", "1"), F("total", "8")};
    REQUIRE(Build("rename id=order_id, total=amount")->Apply(c));
    CHECK(Names(c.key) == std::vector<std::string>{"order_id"});
    CHECK(Names(*c.old_key) == std::vector<std::string>{"order_id"});
    CHECK(Names(*c.before) == std::vector<std::string>{"order_id", "amount"});
    CHECK(Names(*c.after) == std::vector<std::string>{"order_id", "amount"});
    CHECK(c.after->at(1).value.text == "9");
  }
  SECTION("pairs apply at once: a swap") {
    Change c = MakeChange(Op::kInsert, {F("a", "1"), F("b", "2")});
    REQUIRE(Build("rename a=b, b=a")->Apply(c));
    CHECK(*c.after == Row{F("b", "1"), F("a", "2")});
  }
  SECTION("a renamed column replaces one that had its new name") {
    Change c = MakeChange(Op::kInsert, {F("a", "1"), F("b", "2"), F("c", "3")});
    REQUIRE(Build("rename a=b")->Apply(c));
    CHECK(*c.after == Row{F("b", "1"), F("c", "3")});
  }
  SECTION("nothing to rename leaves the row alone") {
    Change c = MakeChange(Op::kInsert, {F("b", "2")});
    REQUIRE(Build("rename a=b")->Apply(c));
    CHECK(*c.after == Row{F("b", "2")});
  }
}

TEST_CASE("Transforms: where drops reads and inserts, turns updates into deletes",
          "[unit][transforms]") {
  auto where = Build("where status = 'active'");
  SECTION("insert and read that pass or fail") {
    Change ok = MakeChange(Op::kInsert, {F("status", "active")});
    CHECK(where->Apply(ok));
    Change bad = MakeChange(Op::kInsert, {F("status", "gone")});
    CHECK_FALSE(where->Apply(bad));
    Change read = MakeChange(Op::kRead, {F("status", "gone")});
    CHECK_FALSE(where->Apply(read));
  }
  SECTION("an update that leaves the filter becomes a delete of the key") {
    Change c = MakeChange(Op::kUpdate, {Int("id", "1"), F("status", "gone")});
    c.before = Row{Int("id", "1"), F("status", "active")};
    REQUIRE(where->Apply(c));
    CHECK(c.op == Op::kDelete);
    CHECK_FALSE(c.after.has_value());
    CHECK(c.key == Row{Int("id", "1")});
  }
  SECTION("...of the old key when the update changed the key") {
    Change c = MakeChange(Op::kUpdate, {Int("id", "2"), F("status", "gone")});
    c.key = {Int("id", "2")};
    c.old_key = Row{Int("id", "1")};
    REQUIRE(where->Apply(c));
    CHECK(c.op == Op::kDelete);
    CHECK(c.key == Row{Int("id", "1")});
    CHECK_FALSE(c.old_key.has_value());
  }
  SECTION("an update that stays in the filter stays an update") {
    Change c = MakeChange(Op::kUpdate, {F("status", "active")});
    REQUIRE(where->Apply(c));
    CHECK(c.op == Op::kUpdate);
  }
  SECTION("deletes and truncates always pass") {
    Change del = MakeChange(Op::kDelete, {});
    del.before = Row{F("status", "gone")};
    CHECK(where->Apply(del));
    CHECK(del.op == Op::kDelete);
    Change trunc = MakeChange(Op::kTruncate, {});
    CHECK(where->Apply(trunc));
  }
  SECTION("absent column and unchanged TOAST value pass") {
    Change absent = MakeChange(Op::kInsert, {F("other", "x")});
    CHECK(where->Apply(absent));
    Change toast = MakeChange(Op::kUpdate, {{"status", Value::Unchanged()}});
    CHECK(where->Apply(toast));
    CHECK(toast.op == Op::kUpdate);
  }
}

TEST_CASE("Transforms: where NULL semantics", "[unit][transforms]") {
  for (const char* op : {"=", "!=", "<>", "<", "<=", ">", ">="}) {
    INFO(op);
    CHECK_FALSE(Keeps(std::string("where c ") + op + " 1", Value::Null()));
    CHECK_FALSE(Keeps(std::string("where c ") + op + " 'x'", Value::Null()));
  }
  CHECK(Keeps("where c is null", Value::Null()));
  CHECK_FALSE(Keeps("where c is not null", Value::Null()));
  CHECK_FALSE(Keeps("where c is null", Value::Of(ValueKind::kString, "")));
  CHECK(Keeps("where c is not null", Value::Of(ValueKind::kString, "")));
  CHECK(Keeps("where c is null", Value::Unchanged()));  // unknown: passes
}

TEST_CASE("Transforms: where compares numbers exactly and text byte-wise", "[unit][transforms]") {
  const Value numeric = Value::Of(ValueKind::kNumeric, "123456789012345678901234567890.000000002");
  CHECK(Keeps("where c > 123456789012345678901234567890.000000001", numeric));
  CHECK_FALSE(Keeps("where c > 123456789012345678901234567890.000000003", numeric));
  CHECK(Keeps("where c = 123456789012345678901234567890.0000000020", numeric));
  CHECK(Keeps("where c > 10", Value::Of(ValueKind::kInt, "9.5e1")));
  CHECK(Keeps("where c < 10", Value::Of(ValueKind::kInt, "9")));  // text would say "9" > "10"
  CHECK(Keeps("where c >= -3.5", Value::Of(ValueKind::kFloat, "-3.25")));
  CHECK(Keeps("where c = 0", Value::Of(ValueKind::kFloat, "-0.0")));
  CHECK(Keeps("where c > 1e300", Value::Of(ValueKind::kFloat, "Infinity")));
  CHECK(Keeps("where c > 1", Value::Of(ValueKind::kFloat, "NaN")));
  SECTION("string columns and quoted literals compare as text") {
    CHECK(Keeps("where c > 10", Value::Of(ValueKind::kString, "9")));
    CHECK_FALSE(Keeps("where c = '10.0'", Value::Of(ValueKind::kNumeric, "10")));
    CHECK(Keeps("where c < 'b'", Value::Of(ValueKind::kString, "abc")));
    CHECK(Keeps("where c != 'it''s'", Value::Of(ValueKind::kString, "its")));
  }
  SECTION("booleans") {
    CHECK(Keeps("where c = true", Value::Of(ValueKind::kBool, "true")));
    CHECK_FALSE(Keeps("where c = TRUE", Value::Of(ValueKind::kBool, "false")));
    CHECK(Keeps("where c != false", Value::Of(ValueKind::kBool, "true")));
  }
}

TEST_CASE("Transforms: CompareNumbers", "[unit][transforms]") {
  CHECK(CompareNumbers("1", "1.000") == 0);
  CHECK(CompareNumbers("007.50", "7.5") == 0);
  CHECK(CompareNumbers("0.001", "1e-3") == 0);
  CHECK(CompareNumbers("-2", "-10") > 0);
  CHECK(CompareNumbers("-0.5", "0") < 0);
  CHECK(CompareNumbers("99999999999999999999999", "100000000000000000000000") < 0);
  CHECK(CompareNumbers("1E+2", "99.9999999999999999999") > 0);
  CHECK(CompareNumbers("-Infinity", "-1e999999") < 0);
  CHECK(CompareNumbers("NaN", "NaN") == 0);
  CHECK(CompareNumbers("NaN", "Infinity") > 0);
  CHECK_FALSE(CompareNumbers("abc", "1").has_value());
  CHECK_FALSE(CompareNumbers("1.2.3", "1").has_value());
  CHECK_FALSE(CompareNumbers("", "1").has_value());
  CHECK_FALSE(CompareNumbers("1e", "1").has_value());
}

TEST_CASE("Transforms: ApplyTransforms runs the chain and keeps the batch", "[unit][transforms]") {
  std::vector<TransformSpec> specs;
  for (const char* text : {"where qty > 1", "select id, qty", "rename qty=n"}) {
    Parsed<TransformSyntax> parsed = ParseTransform(text);
    REQUIRE(parsed.ok());
    specs.push_back(parsed.value.spec);
  }
  auto transforms = BuildTransforms(specs);
  REQUIRE(transforms.size() == 3);
  Batch batch;
  batch.checkpoint.token = 7;
  batch.changes.push_back(MakeChange(Op::kInsert, {Int("id", "1"), Int("qty", "5"), F("x", "y")}));
  batch.changes.push_back(MakeChange(Op::kInsert, {Int("id", "2"), Int("qty", "1")}));
  batch.changes.push_back(MakeChange(Op::kDelete, {}));
  for (const Change& c : batch.changes) batch.bytes += c.ApproxBytes();
  ApplyTransforms(transforms, batch);
  REQUIRE(batch.changes.size() == 2);
  CHECK(*batch.changes[0].after == Row{Int("id", "1"), Int("n", "5")});
  CHECK(batch.changes[1].op == Op::kDelete);
  CHECK(batch.bytes == batch.changes[0].ApproxBytes() + batch.changes[1].ApproxBytes());
  CHECK(batch.checkpoint.token == 7);

  SECTION("a batch emptied by the filter still carries its checkpoint") {
    batch.changes.erase(batch.changes.begin() + 1);
    batch.changes[0] = MakeChange(Op::kRead, {Int("id", "1"), Int("qty", "0")});
    ApplyTransforms(transforms, batch);
    CHECK(batch.changes.empty());
    CHECK(batch.bytes == 0);
    CHECK(batch.checkpoint.token == 7);
  }
}

}  // namespace sluice
