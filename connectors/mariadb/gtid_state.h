// GtidState: where a MariaDB replica is in the binary log, as the latest GTID of each
// replication domain (what @@gtid_binlog_pos, BINLOG_GTID_POS() and @slave_connect_state
// hold), and the 64-bit position sluice derives from it. Pure.
//
// The position is 1 + the sum over the domains of their latest sequence number. A domain's
// sequence numbers only grow (gtid_strict_mode), and each transaction advances one domain,
// so the position grows with every transaction in binary log order, across rotations and
// server restarts. With one domain (the usual setup) it is seq + 1. With several, changes
// keep their binary log order; the position of a change says nothing about which domain it
// came from.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "connectors/mariadb/binlog_event.h"
#include "core/status.h"

namespace sluice::mariadb {

class GtidState {
 public:
  // "0-1-42,1-2-7" (the empty string: nothing logged yet).
  static Result<GtidState> Parse(std::string_view text);
  // Records `gtid` as its domain's latest.
  void Advance(const Gtid& gtid);
  uint64_t Position() const;
  // Whether every domain of `other` is at or past its sequence number here: every
  // transaction up to `other` is also up to this state.
  bool Covers(const GtidState& other) const;
  std::string ToString() const;
  bool operator==(const GtidState&) const = default;

 private:
  std::map<uint32_t, Gtid> domains_;
};

}  // namespace sluice::mariadb
