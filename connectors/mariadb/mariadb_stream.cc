// MariaDbSource's stream: the binary log from a GTID state, event group by event group.
// A group (GTID event .. XID, COMMIT, or its one DDL statement) is one transaction: its
// changes get the position of the GTID state after it and seq 1, 2, ...; the batch that
// carries its end carries its position as the checkpoint. A large group passes in several
// batches; only the last may be confirmed.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "connectors/mariadb/binlog_reader.h"
#include "connectors/mariadb/change_rows.h"
#include "connectors/mariadb/mariadb_source.h"

namespace sluice::mariadb {

namespace {

std::string Upper(std::string_view s, size_t n) {
  std::string out(s.substr(0, std::min(n, s.size())));
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The table a TRUNCATE [TABLE] [db.]t statement names, or "" for any other statement.
std::pair<std::string, std::string> TruncatedTable(const Query& q) {
  std::string sql = q.sql;
  size_t i = sql.find_first_not_of(" \t\n");
  if (i == std::string::npos || Upper(std::string_view(sql).substr(i), 8) != "TRUNCATE") return {};
  std::string rest = sql.substr(i + 8);
  auto trim = [](std::string s) {
    size_t a = s.find_first_not_of(" \t\n");
    size_t b = s.find_last_not_of(" \t\n;");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  rest = trim(rest);
  if (Upper(rest, 6) == "TABLE ") rest = trim(rest.substr(6));
  auto unquote = [](std::string s) {
    if (s.size() >= 2 && s.front() == '`' && s.back() == '`') s = s.substr(1, s.size() - 2);
    return s;
  };
  size_t dot = rest.find('.');
  if (dot == std::string::npos) return {q.database, unquote(rest)};
  return {unquote(rest.substr(0, dot)), unquote(rest.substr(dot + 1))};
}

}  // namespace

Status MariaDbSource::Stream(const GtidState& from, BatchEmitter& out,
                             const std::atomic<bool>& stop) {
  auto conn =
      MyConn::Connect(options_.dsn, static_cast<unsigned>(options_.heartbeat_ms / 1000 + 30));
  if (!conn.ok()) return conn.status();
  auto reader =
      BinlogReader::Open(std::move(conn).value(), from, options_.server_id, options_.heartbeat_ms);
  if (!reader.ok()) return reader.status();
  ctx_.status->Set(SourcePhase::kStreaming);
  spdlog::info("pipeline {}: streaming the binary log after GTID {}", ctx_.pipeline,
               from.ToString().empty() ? "(none)" : from.ToString());

  FormatInfo format;
  std::map<uint64_t, TableMap> maps;
  GtidState state = from;  // after the last whole group
  GtidState next = from;   // after the group being read
  TxnPlace place;
  bool in_group = false;
  bool standalone = false;
  Batch batch;
  std::vector<RowChange> rows;

  auto end_group = [&]() -> bool {
    state = next;
    in_group = false;
    batch.checkpoint.lsn = place.position;
    {
      std::lock_guard lock(state_mu_);
      pending_.emplace_back(place.position.value(), state.ToString());
    }
    emitted_gtid_ = state.ToString();
    bool ok = Emit(std::move(batch), out);
    batch = Batch{};
    return ok;
  };

  while (!stop) {
    auto bytes = reader.value()->Next();
    if (!bytes.ok()) return bytes.status();
    ctx_.status->Beat();
    auto ev = DecodeEvent(bytes.value(), &format);
    if (!ev.ok()) return ev.status();
    Event& e = ev.value();
    if (auto* g = std::get_if<GtidEvent>(&e.body)) {
      next = state;
      next.Advance(g->gtid);
      place = TxnPlace{Lsn(next.Position()), 1, int64_t{e.header.timestamp} * 1000000,
                       static_cast<uint32_t>(g->gtid.seq)};
      in_group = true;
      standalone = (g->flags & GtidEvent::kStandalone) != 0;
    } else if (auto* map = std::get_if<TableMap>(&e.body)) {
      if (const MyTable* t = Selected(map->database, map->table)) {
        for (Column& c : map->columns) {
          auto it = t->logical.find(c.name);
          if (it != t->logical.end()) c.logical = it->second;
        }
      }
      maps[map->table_id] = std::move(*map);
    } else if (auto* re = std::get_if<RowsEvent>(&e.body)) {
      auto it = maps.find(re->table_id);
      if (it == maps.end()) {
        return Status::DataLoss("rows event for table id " + std::to_string(re->table_id) +
                                " without its table map");
      }
      const MyTable* t = Selected(it->second.database, it->second.table);
      if (t == nullptr || !in_group) continue;
      rows.clear();
      SLUICE_RETURN_IF_ERROR(DecodeRows(*re, it->second, &rows));
      size_t first = batch.changes.size();
      SLUICE_RETURN_IF_ERROR(
          RowsToChanges(re->kind, it->second, t->id, rows, &place, &batch.changes));
      for (size_t i = first; i < batch.changes.size(); ++i) {
        batch.bytes += batch.changes[i].ApproxBytes();
      }
      if (batch.changes.size() >= ctx_.batch_max_changes || batch.bytes >= ctx_.batch_max_bytes) {
        if (!Emit(std::move(batch), out)) return Status::Cancelled("stopped");
        batch = Batch{};
      }
    } else if (std::holds_alternative<Xid>(e.body) || std::holds_alternative<XaPrepare>(e.body)) {
      if (in_group && !end_group()) return Status::Cancelled("stopped");
    } else if (auto* q = std::get_if<Query>(&e.body)) {
      if (!in_group) continue;
      std::string head = Upper(q->sql, 6);
      if (head.starts_with("BEGIN")) continue;
      auto [db, table] = TruncatedTable(*q);
      if (const MyTable* t = table.empty() ? nullptr : Selected(db, table)) {
        Change c;
        c.op = Op::kTruncate;
        c.table = t->id;
        c.position = Position{place.position, place.next_seq++};
        c.commit_time_us = place.commit_time_us;
        c.xid = place.xid;
        batch.changes.push_back(std::move(c));
      }
      // COMMIT ends a group of a non-transactional engine's rows; a standalone group
      // (DDL, XA COMMIT/ROLLBACK) is this one statement.
      if ((head.starts_with("COMMIT") || standalone || !batch.changes.empty()) && !end_group()) {
        return Status::Cancelled("stopped");
      }
    }
  }
  return Status::Cancelled("stopped");
}

}  // namespace sluice::mariadb
