#!/usr/bin/env bash
# bench/streaming.sh -- streaming throughput (issue 3): BENCH_ROWS inserted rows, in 1,000
# transactions and in one, drained from a slot by sluice (postgres | null) against
# pg_recvlogical draining the same WAL with pgoutput into /dev/null; sluice's peak RSS.
# Run through bench/run (see bench/lib.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init streaming

db=bench_streaming
rows=$BENCH_ROWS
txns=1000
publication=bench_streaming
sluice_slot=bench_streaming_sluice
recv_slot=bench_streaming_recv
recv=$BENCH_PG_BINDIR/pg_recvlogical

sluice_log "creating $db.items"
bench_psql postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
# No autovacuum on the table: its WAL would land between the inserts and the end position.
bench_psql "$db" <<SQL
CREATE TABLE items (
  id         bigint PRIMARY KEY,
  name       text NOT NULL,
  price      numeric(10,2),
  quantity   int,
  tags       text,
  payload    text,
  updated_at timestamptz
) WITH (autovacuum_enabled = off);
CREATE PUBLICATION $publication FOR TABLE items;
SQL

work=""
sluice_mktemp work bench-streaming
mkdir -p "$work/state"
cat >"$work/sluice.yaml" <<EOF
state_dir: $work/state
log: { format: text, level: info }
sources:
  db:
    type: postgres
    dsn: "$(bench_pg_dsn "$db")"
    slot: $sluice_slot
    publication: $publication
    # Confirmations reach pg_replication_slots, where the end is watched, within 0.1 s.
    status_interval: 100ms
sinks:
  sink: { type: "null" }
pipelines:
  streaming: db.public.items | sink
EOF

# insert_sql CASE: the statements that insert the rows, each its own transaction: 1,000
# INSERTs of equal id ranges ("txns"), or one INSERT ("one").
insert_sql() {
  local n=$1 i
  ((n == 1)) || n=$txns
  for ((i = 0; i < n; i++)); do
    echo "INSERT INTO items SELECT g, 'item ' || g, (g % 100000) / 100.0, g % 1000," \
      "'tag' || g % 17 || ',tag' || g % 5, repeat(md5(g::text), 3)," \
      "timestamptz '2024-01-01' + g * interval '1 second'" \
      "FROM generate_series($((rows * i / n + 1)), $((rows * (i + 1) / n))) g;"
  done
}

# watch_confirmed SLOT LSN: one session that waits server-side until the slot has confirmed
# LSN (checking every 20 ms), then prints the server's clock as epoch seconds. One backend
# for the whole wait: a psql process and a fresh backend every 50 ms cost a 2-core machine
# about a third of a core, taken from the walsender and sluice that are being measured.
watch_confirmed() {
  bench_psql "$db" <<SQL
DO \$\$
BEGIN
  LOOP
    EXIT WHEN (SELECT confirmed_flush_lsn >= '$2'::pg_lsn FROM pg_replication_slots
               WHERE slot_name = '$1');
    PERFORM pg_sleep(0.02);
  END LOOP;
END
\$\$;
SELECT to_char(extract(epoch FROM clock_timestamp()), 'FM9999999999.000000');
SQL
}

# prepare CASE: an empty table, sluice's slot made by sluice itself (first run: snapshot of
# the empty table, then stopped), pg_recvlogical's slot right after, then the rows. Sets
# `target`, the WAL insert position right after the last commit.
prepare() {
  local case=$1 pid
  bench_psql "$db" -c "TRUNCATE items"
  rm -rf "$work/state" "$work/sluice.log"
  mkdir "$work/state"
  bench_sluice_start pid "$work" "$work/sluice.yaml"
  bench_wait_log 120 "$pid" "$work/sluice.log" "streaming from slot"
  bench_sluice_stop "$pid"
  "$recv" -d "$(bench_pg_dsn "$db")" --slot "$recv_slot" --create-slot -P pgoutput
  sluice_log "inserting $rows rows ($case)"
  target=$({
    insert_sql "$([[ $case == one ]] && echo 1 || echo "$txns")"
    echo "SELECT pg_current_wal_insert_lsn();"
  } | bench_psql "$db")
}

# drain_recv: prints "SECONDS CPU_SECONDS": how long pg_recvlogical takes to receive
# everything up to `target`, and the CPU (user + system) it used.
drain_recv() {
  local start cpu TIMEFORMAT='%U %S'
  start=$(bench_now)
  cpu=$({ time "$recv" -d "$(bench_pg_dsn "$db")" --slot "$recv_slot" --start --no-loop \
    -o proto_version=1 -o publication_names="$publication" -f /dev/null --endpos "$target" \
    2>&3; } 3>&2 2>&1)
  echo "$(bench_calc "$(bench_now) - $start") $(bench_calc "${cpu% *} + ${cpu#* }")"
}

# running PID: the process exists and is not a zombie, read from /proc by the shell itself.
running() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# drain_sluice: prints "SECONDS PEAK_RSS_MIB CPU_SECONDS": from sluice's start until its slot
# has confirmed `target` (every row went through the null sink), its VmHWM then, and the CPU
# it used until then.
drain_sluice() {
  local start pid watcher seconds rss cpu
  : >"$work/sluice.log"
  : >"$work/confirmed"
  start=$(bench_now)
  bench_sluice_start pid "$work" "$work/sluice.yaml"
  watch_confirmed "$sluice_slot" "$target" >"$work/confirmed" &
  watcher=$!
  # The time comes from the watcher; this loop only notices a sluice that died, without
  # starting a process per check.
  until [[ -s $work/confirmed ]]; do
    if ! running "$pid"; then
      kill "$watcher" 2>/dev/null || true
      tail -n 20 "$work/sluice.log" >&2
      sluice_die "sluice exited before draining the slot"
    fi
    sleep 0.1
  done
  wait "$watcher"
  seconds=$(bench_calc "$(cat "$work/confirmed") - $start")
  rss=$(bench_vmhwm "$pid")
  cpu=$(bench_cpu "$pid")
  bench_sluice_stop "$pid" >&2
  echo "$seconds $rss $cpu"
}

drop_slots() {
  bench_drop_slot "$db" "$sluice_slot"
  bench_drop_slot "$db" "$recv_slot"
}

declare -A recv_s sluice_s rss_mb recv_cpu sluice_cpu
: >"$BENCH_OUT/streaming.tsv"
cases=(txns one)
for ((run = 1; run <= BENCH_RUNS; run++)); do
  for case in "${cases[@]}"; do
    drop_slots
    prepare "$case"
    # Alternate which side reads first (the WAL is cached for the second).
    if ((run % 2)); then
      rout=$(drain_recv)
      out=$(drain_sluice)
    else
      out=$(drain_sluice)
      rout=$(drain_recv)
    fi
    read -r r rc <<<"$rout"
    read -r s m c <<<"$out"
    sluice_log "run $run, $case: pg_recvlogical ${r}s (${rc}s CPU), sluice ${s}s (${c}s CPU, peak RSS ${m} MiB)"
    recv_s[$case]+=" $r"
    sluice_s[$case]+=" $s"
    rss_mb[$case]+=" $m"
    recv_cpu[$case]+=" $rc"
    sluice_cpu[$case]+=" $c"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$case" "$r" "$s" "$m" "$rc" "$c" >>"$BENCH_OUT/streaming.tsv"
  done
done
drop_slots

bench_heading "Streaming (issue 3)"
bench_md "$(bench_fmt "$rows") rows (the snapshot benchmark's row shape) inserted with the slots" \
  "already in place, then drained from a slot: by sluice (\`postgres\` source, \`null\` sink)" \
  "and by pg_recvlogical (pgoutput, no decoding on the client) from a slot created at the" \
  "same point, so both read identical WAL. The WAL of the one-transaction case exceeds" \
  "\`logical_decoding_work_mem\` (64 MB), so the server spills it to disk for both." \
  "" \
  "- limit: \`pg_recvlogical -d DB --slot S --start --no-loop -o proto_version=1 -o publication_names=P -f /dev/null --endpos LSN\`" \
  "  with LSN the WAL insert position right after the last commit" \
  "- sluice: \`sluice run -c sluice.yaml\` (\`status_interval: 100ms\`), timed from its start" \
  "  until \`pg_replication_slots.confirmed_flush_lsn\` reaches LSN (one session checks it every" \
  "  20 ms server-side and reads the clock when it does), so" \
  "  every row has been decoded and handed to the sink and confirmed; peak RSS is its" \
  "  \`VmHWM\` at that moment." \
  "- CPU per row: user + system time of each client (sluice: every thread, from its start)" \
  "  divided by the rows; the walsender's work is on the server and counted for neither." \
  "" \
  "| transactions | pg_recvlogical rows/s | sluice rows/s | sluice / pg_recvlogical | sluice peak RSS | CPU per row: pg_recvlogical, sluice |" \
  "| --- | ---: | ---: | ---: | ---: | ---: |"
for case in "${cases[@]}"; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  r=$(bench_median ${recv_s[$case]})
  # shellcheck disable=SC2086
  s=$(bench_median ${sluice_s[$case]})
  # shellcheck disable=SC2086
  m=$(bench_median ${rss_mb[$case]})
  # shellcheck disable=SC2086
  rc=$(bench_median ${recv_cpu[$case]})
  # shellcheck disable=SC2086
  c=$(bench_median ${sluice_cpu[$case]})
  label="$(bench_fmt "$txns") of $(bench_fmt $((rows / txns))) rows"
  [[ $case == one ]] && label="1 of $(bench_fmt "$rows") rows"
  bench_ratio "stream, $label, vs pg_recvlogical" "$r" "$s" 90
  bench_md "| $label | $(bench_fmt "$(bench_rate "$rows" "$r")") | $(bench_fmt "$(bench_rate "$rows" "$s")") | $(bench_pct "$r" "$s") | $m MiB | $(bench_us_per "$rc" "$rows") µs, $(bench_us_per "$c" "$rows") µs |"
done
bench_md "" "Target (issue 3): sluice at least 90% of pg_recvlogical."
