// `sluice verify` of a `mariadb | stdout` pipeline while it streams: equal at first; a sink
// file edited behind sluice's back (one key's lines blanked, a line for a row that does not
// exist) is found, repaired, and then equal again.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

#include "support/mariadb_pipeline.h"
#include "support/stdout_pipeline.h"
#include "support/test_env.h"
#include "support/verify_run.h"

namespace sluice::test {
namespace {

using std::chrono::seconds;

TEST_CASE("mariadb | stdout: verify finds a file edited behind sluice's back and repairs it",
          "[integration][mariadb][verify]") {
  TestMariaDb db("sluice_it_mdb_verify");
  CreateMariaItems(db, 300);
  TempDir dir("sluice-mdb-verify");
  WriteFile(dir.File("sluice.yaml"), MariaConfig(dir, db, 100));
  auto sluice = StartSluice(dir);
  RequireMariaEqual(db, dir);
  MariaChanges(db, 9000);

  // Verify waits until the pipeline has confirmed the changes above, then compares.
  VerifyOutcome clean = RunVerify(dir);
  INFO(clean.out);
  CHECK(clean.code == 0);
  CHECK(Has(clean, "every verified sink equals the source"));

  // Blank every line of key 31 in place (the sink's descriptor stays valid), and append a
  // line for a row that never existed.
  std::string text = ReadFile(dir.File("out.jsonl"));
  for (size_t at = text.find(R"("key":{"id":31})"); at != std::string::npos;
       at = text.find(R"("key":{"id":31})", at + 1)) {
    size_t begin = text.rfind('\n', at) + 1;
    size_t end = text.find('\n', at);
    text.replace(begin, end - begin, end - begin, ' ');
  }
  std::FILE* f = std::fopen(dir.File("out.jsonl").c_str(), "r+");
  REQUIRE(f);
  REQUIRE(std::fwrite(text.data(), 1, text.size(), f) == text.size());
  std::fclose(f);
  f = std::fopen(dir.File("out.jsonl").c_str(), "a");
  REQUIRE(f);
  std::fputs(("{\"op\":\"insert\",\"source\":\"src\",\"schema\":\"" + db.name() +
              "\",\"table\":\"items\",\"key\":{\"id\":99999},\"after\":{\"id\":99999,\"name\":"
              "\"ghost\",\"qty\":1,\"price\":\"1.000\"},\"lsn\":\"0/1\",\"seq\":0,"
              "\"commit_time\":null,\"xid\":1}\n")
                 .c_str(),
             f);
  std::fclose(f);

  RequireFoundThenRepaired(dir, {"missing id=31", "extra line at byte"}, 2);
  RequireMariaEqual(db, dir);
}

}  // namespace
}  // namespace sluice::test
