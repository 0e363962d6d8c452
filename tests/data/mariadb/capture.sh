#!/usr/bin/env bash
# Records the golden captures of this folder: starts a throwaway MariaDB (as scripts/test
# does), runs capture.sql, and writes every event of its binary logs as one line
# `file|position|hex` (rows.txt: the first two logs, types.txt: the third), and what a
# plain SELECT of the types table returns over the text protocol (types_select.txt: one
# line per row, each value as hex, NULL as `NULL`, separated by `|`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../../scripts/lib/servers.sh
source "$here/../../../scripts/lib/servers.sh"
SLUICE_LOG_PREFIX=capture
sluice_install_traps
sluice_mariadb_start
sluice_mariadb mysql <"$here/capture.sql"
# --batch escapes \0, \t, \n and \\ in values and prints the rest as received.
sluice_mariadb cap --batch --skip-column-names --default-character-set=utf8mb4 -e \
  "SET time_zone = '+00:00'; SELECT * FROM types ORDER BY id" >"$SLUICE_MARIADB_DIR/select.out"
python3 - "$SLUICE_MARIADB_DIR/select.out" "$here/types_select.txt" <<'PY'
import sys
escapes = {ord("0"): b"\0", ord("t"): b"\t", ord("n"): b"\n", ord("\\"): b"\\"}
def unescape(v):
    out, i = bytearray(), 0
    while i < len(v):
        if v[i] == 0x5c and i + 1 < len(v):
            out += escapes.get(v[i + 1], bytes([v[i + 1]]))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return bytes(out)
with open(sys.argv[2], "w") as f:
    for line in open(sys.argv[1], "rb").read().split(b"\n"):
        if line:
            f.write("|".join("NULL" if v == b"NULL" else unescape(v).hex() for v in line.split(b"\t")) + "\n")
PY
sluice_mariadb mysql -e "FLUSH BINARY LOGS"
python3 - "$SLUICE_MARIADB_DATA" "$here" <<'PY'
import struct, sys
data, out = sys.argv[1], sys.argv[2]
def events(name):
    raw = open(f"{data}/{name}", "rb").read()
    assert raw[:4] == b"\xfebin", name
    pos = 4
    while pos < len(raw):
        size = struct.unpack_from("<I", raw, pos + 9)[0]
        yield f"{name}|{pos}|{raw[pos:pos + size].hex()}"
        pos += size
with open(f"{out}/rows.txt", "w") as f:
    for name in ("binlog.000001", "binlog.000002"):
        for line in events(name):
            f.write(line + "\n")
with open(f"{out}/types.txt", "w") as f:
    for line in events("binlog.000003"):
        f.write(line + "\n")
PY
sluice_log "wrote rows.txt, types.txt, types_select.txt in $here"
