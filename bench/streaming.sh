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

slot_confirmed() { # slot_confirmed SLOT LSN: true once the slot has confirmed LSN
  [[ $(bench_psql "$db" -c "SELECT confirmed_flush_lsn >= '$2'::pg_lsn FROM pg_replication_slots WHERE slot_name = '$1'") == t ]]
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

# drain_recv: prints the seconds pg_recvlogical takes to receive everything up to `target`.
drain_recv() {
  local start
  start=$(bench_now)
  "$recv" -d "$(bench_pg_dsn "$db")" --slot "$recv_slot" --start --no-loop \
    -o proto_version=1 -o publication_names="$publication" -f /dev/null --endpos "$target"
  bench_calc "$(bench_now) - $start"
}

# drain_sluice: prints "SECONDS PEAK_RSS_MIB": from sluice's start until its slot has
# confirmed `target` (every row went through the null sink), and its VmHWM then.
drain_sluice() {
  local start pid seconds rss
  : >"$work/sluice.log"
  start=$(bench_now)
  bench_sluice_start pid "$work" "$work/sluice.yaml"
  until slot_confirmed "$sluice_slot" "$target"; do
    if ! sluice_pid_alive "$pid"; then
      tail -n 20 "$work/sluice.log" >&2
      sluice_die "sluice exited before draining the slot"
    fi
    sleep 0.05
  done
  seconds=$(bench_calc "$(bench_now) - $start")
  rss=$(bench_vmhwm "$pid")
  bench_sluice_stop "$pid" >&2
  echo "$seconds $rss"
}

drop_slots() {
  bench_drop_slot "$db" "$sluice_slot"
  bench_drop_slot "$db" "$recv_slot"
}

declare -A recv_s sluice_s rss_mb
: >"$BENCH_OUT/streaming.tsv"
cases=(txns one)
for ((run = 1; run <= BENCH_RUNS; run++)); do
  for case in "${cases[@]}"; do
    drop_slots
    prepare "$case"
    # Alternate which side reads first (the WAL is cached for the second).
    if ((run % 2)); then
      r=$(drain_recv)
      out=$(drain_sluice)
    else
      out=$(drain_sluice)
      r=$(drain_recv)
    fi
    read -r s m <<<"$out"
    sluice_log "run $run, $case: pg_recvlogical ${r}s, sluice ${s}s (peak RSS ${m} MiB)"
    recv_s[$case]+=" $r"
    sluice_s[$case]+=" $s"
    rss_mb[$case]+=" $m"
    printf '%s\t%s\t%s\t%s\t%s\n' "$run" "$case" "$r" "$s" "$m" >>"$BENCH_OUT/streaming.tsv"
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
  "  until \`pg_replication_slots.confirmed_flush_lsn\` reaches LSN (polled every 50 ms), so" \
  "  every row has been decoded and handed to the sink and confirmed; peak RSS is its" \
  "  \`VmHWM\` at that moment." \
  "" \
  "| transactions | pg_recvlogical rows/s | sluice rows/s | sluice / pg_recvlogical | sluice peak RSS |" \
  "| --- | ---: | ---: | ---: | ---: |"
for case in "${cases[@]}"; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  r=$(bench_median ${recv_s[$case]})
  # shellcheck disable=SC2086
  s=$(bench_median ${sluice_s[$case]})
  # shellcheck disable=SC2086
  m=$(bench_median ${rss_mb[$case]})
  label="$(bench_fmt "$txns") of $(bench_fmt $((rows / txns))) rows"
  [[ $case == one ]] && label="1 of $(bench_fmt "$rows") rows"
  bench_md "| $label | $(bench_fmt "$(bench_rate "$rows" "$r")") | $(bench_fmt "$(bench_rate "$rows" "$s")") | $(bench_pct "$r" "$s") | $m MiB |"
done
bench_md "" "Target (issue 3): sluice at least 90% of pg_recvlogical."
