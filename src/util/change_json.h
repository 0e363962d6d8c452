// The JSON line form of a Change: what the stdout sink writes, what dead letters carry,
// and what the README documents as the line format.
#pragma once

#include <string>

#include "core/change.h"

namespace sluice {

// Appends one JSON object (no newline):
// {"op":"update","source":"shop","schema":"public","table":"products",
//  "key":{"id":1},"old_key":{"id":0},"before":null,"after":{...},"unchanged":["body"],
//  "lsn":"0/16B3748","seq":1,"commit_time":"2026-11-24T10:00:00.123456Z","xid":731}
// "old_key" appears only when the key changed; "unchanged" only when some column of
// `after` is an unchanged TOAST value (left out of `after`).
void AppendChangeJson(const Change& change, std::string* out);

// Microseconds since the Unix epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ".
std::string FormatTimestampUs(int64_t unix_us);

}  // namespace sluice
