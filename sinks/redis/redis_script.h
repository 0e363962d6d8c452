// The Lua script the Redis sink runs: one EVALSHA applies a whole batch atomically and in
// order, refusing any change older than what Redis already holds for its key.
//
// Contract (ARGV only; numkeys is 0, so the sink does not support Redis Cluster):
//
//   apply: "apply", format ("j" | "h"), ttl_ms (0: none), tombstone_ms (0: forever),
//          pos_ttl_ms (0: forever), then one record per change, then the table list
//          (both in redis_builder.h); a record's position key is its table's prefix + key.
//          For each record:
//          - skipped when <pos_key> or the table's truncate marker holds a newer position;
//          - upsert: json SETs the object, merging each unchanged-TOAST member from the value
//            stored before (under the old key when the update moved the row); hash replaces
//            the hash, keeping the unchanged fields' stored values; then SET <pos_key>;
//          - delete: UNLINK the value and keep <pos_key> as a tombstone for tombstone_ms
//            (a tombstone is the position followed by "d");
//          - old_key (a key-changing update): the old value is removed and its position key
//            becomes a tombstone, unless it holds a newer position.
//          A value key of another type than the format writes (json: string, hash: hash)
//          belongs to another program: a change that would write or remove it (its key, or
//          the old key of a move) is refused with "WRONGTYPE <key> is a <type>, ...", nothing
//          of it written, its position key left as it was.
//          Consecutive plain json upserts (no unchanged column, no old key, ttl and
//          pos_ttl 0, positions not going back) are judged together: one MGET of their
//          position keys, one MGET of their values, one MSET of the values and positions
//          that win, with the same outcome as one at a time. A chunk where EXISTS counts a
//          key that either MGET found missing (so: a key of another type) goes one at a
//          time, so that record gets WRONGTYPE.
//          Returns {applied, skipped, i, note, ...}: i is the 1-based record and note is
//          "partial" (an unchanged column had no stored value to merge) or the error text
//          of a command that failed for that record only (WRONGTYPE ...); the other records
//          are applied regardless.
//   purge: "purge", format, position P, tombstone_ms, mark_key, len(pos key prefix),
//          pos keys... Raises the truncate marker to P, then removes every listed entry
//          whose position is older than P: its position key, and its value key unless that
//          is of another type (another program's). Returns {removed, kept}: the entries
//          removed, and the value keys of another type left in place.
#pragma once

namespace sluice::redis {

extern const char* const kApplyScript;

// The same script without the "#!lua" line that Redis 7 needs for script flags (and that
// Redis 6 does not understand), for servers that reject the first form.
const char* ApplyScriptWithoutShebang();

}  // namespace sluice::redis
