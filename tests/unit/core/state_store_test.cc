#include "core/state_store.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

namespace sluice {

TEST_CASE("StateStore: atomic replace, a crash before rename leaves the old state",
          "[unit][state]") {
  char tmpl[] = "/tmp/sluice-state-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = std::string(tmpl) + "/a/b";
  StateStore store(dir);
  REQUIRE(store.Open().ok());
  auto missing = store.Load("x.json");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());

  REQUIRE(store.Save("x.json", "old").ok());
  CHECK(store.Load("x.json")->value() == "old");

  // The process dies after writing and fsyncing the temporary file, before the rename.
  REQUIRE(WriteFileAtomic(store.PathOf("x.json"), "new", /*crash_before_rename=*/true).ok());
  CHECK(store.Load("x.json")->value() == "old");
  CHECK(std::filesystem::exists(store.PathOf("x.json") + ".tmp"));

  // The next save replaces the leftover and the document.
  REQUIRE(store.Save("x.json", "newer").ok());
  CHECK(store.Load("x.json")->value() == "newer");
  CHECK_FALSE(std::filesystem::exists(store.PathOf("x.json") + ".tmp"));
  std::filesystem::remove_all(tmpl);
}

}  // namespace sluice
