// The throwaway MariaDB that scripts/test starts has what the mariadb source needs: a
// binary log in ROW format with full row images and full table-map metadata, and GTIDs.
#include <catch2/catch.hpp>

#include "support/mariadb_test_db.h"

namespace sluice::test {
namespace {

TEST_CASE("MariaDB test server: binary log settings", "[integration][mariadb]") {
  TestMariaDb db("sluice_it_mariadb_server");
  CHECK(db.Scalar("SELECT @@log_bin") == "1");
  CHECK(db.Scalar("SELECT @@binlog_format") == "ROW");
  CHECK(db.Scalar("SELECT @@binlog_row_image") == "FULL");
  CHECK(db.Scalar("SELECT @@binlog_row_metadata") == "FULL");
  CHECK(db.Scalar("SELECT @@gtid_domain_id") == "0");
  CHECK(db.Scalar("SELECT @@server_id") == "1");
  // A write moves the GTID position.
  std::string before = db.Scalar("SELECT @@gtid_binlog_pos");
  db.Exec("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  CHECK(db.Scalar("SELECT @@gtid_binlog_pos") != before);
  CHECK(db.Query("SELECT id FROM t") == std::vector<std::vector<std::string>>{{"1"}});
}

}  // namespace
}  // namespace sluice::test
