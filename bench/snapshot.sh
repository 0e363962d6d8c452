#!/usr/bin/env bash
# bench/snapshot.sh -- snapshot throughput (issue 3): a BENCH_ROWS-row table (~190 bytes a
# row) snapshotted by sluice into the `null` sink, against `COPY ... TO STDOUT` into
# /dev/null by psql, at parallelism 1..4 (sluice's snapshot_parallelism; the raw side runs
# that many COPYs of equal key ranges at once). Run through bench/run (see bench/lib.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init snapshot

db=bench_snapshot
rows=$BENCH_ROWS

sluice_log "creating $db.items with $rows rows"
bench_psql postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
bench_psql "$db" <<SQL
$(bench_items_ddl)
INSERT INTO items
SELECT g, 'item ' || g, (g % 100000) / 100.0, g % 1000, 'tag' || g % 17 || ',tag' || g % 5,
       repeat(md5(g::text), 3), timestamptz '2024-01-01' + g * interval '1 second'
FROM generate_series(1, $rows) g;
VACUUM ANALYZE items;
CREATE PUBLICATION bench_snapshot FOR TABLE items;
SQL
row_bytes=$(bench_psql "$db" -c "SELECT round(avg(pg_column_size(i.*))) FROM items i")
table_mb=$(bench_psql "$db" -c "SELECT pg_relation_size('items') / 1048576")
copy_mb=$(bench_psql "$db" -c "COPY items TO STDOUT" | wc -c | awk '{ printf "%.0f", $1 / 1048576 }')

# (Not `| grep -q`: grep would exit at the first match and pipefail report sluice's SIGPIPE.)
plugins=$("$BENCH_SLUICE" plugins)
if [[ $plugins == *snapshot_parallelism* ]]; then
  parallelisms=(1 2 3 4)
else
  parallelisms=(1)
  sluice_log "this sluice has no snapshot_parallelism option: measuring parallelism 1 only"
fi

work=""
sluice_mktemp work bench-snapshot

# raw_copy P: prints the seconds P psql processes take to COPY the table (P equal key
# ranges, or the plain table for 1) into /dev/null.
raw_copy() {
  local p=$1 i lo hi start pids=()
  start=$(bench_now)
  if ((p == 1)); then
    bench_psql "$db" -c "COPY items TO STDOUT" >/dev/null
  else
    for ((i = 0; i < p; i++)); do
      lo=$((rows * i / p))
      hi=$((rows * (i + 1) / p))
      bench_psql "$db" -c "COPY (SELECT * FROM items WHERE id > $lo AND id <= $hi) TO STDOUT" \
        >/dev/null &
      pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
  fi
  bench_calc "$(bench_now) - $start"
}

# sluice_snapshot RUN P: runs sluice on a fresh slot until its snapshot is read, then stops
# it. Prints "SNAPSHOT_SECONDS TOTAL_SECONDS CPU_SECONDS": from the slot's creation to the
# start of streaming (the snapshot: planning the key ranges, COPY, decoding, handing every row
# to the sink), from the process start, and the CPU sluice used until then.
sluice_snapshot() {
  local run=$1 p=$2 dir pid start t_slot t_end got cpu option=""
  dir=$work/r$run-p$p
  mkdir -p "$dir/state"
  ((${#parallelisms[@]} > 1)) && option="snapshot_parallelism: $p"
  cat >"$dir/sluice.yaml" <<EOF
state_dir: $dir/state
log: { format: text, level: info }
sources:
  db:
    type: postgres
    dsn: "$(bench_pg_dsn "$db")"
    slot: bench_snapshot_r${run}_p$p
    publication: bench_snapshot
    $option
sinks:
  sink: { type: "null" }
pipelines:
  snapshot: db.public.items | sink
EOF
  start=$(bench_now)
  bench_sluice_start pid "$dir" "$dir/sluice.yaml"
  bench_wait_log 600 "$pid" "$dir/sluice.log" "streaming from slot" >&2
  cpu=$(bench_cpu "$pid")
  bench_sluice_stop "$pid" >&2
  bench_drop_slot "$db" "bench_snapshot_r${run}_p$p"
  got=$(grep -oE 'read \([0-9]+ rows\)' "$dir/sluice.log" | tr -dc '0-9\n' | awk '{ s += $1 } END { print s + 0 }')
  ((got == rows)) || sluice_die "sluice read $got rows, expected $rows (log: $dir/sluice.log)"
  t_slot=$(bench_log_time "$dir/sluice.log" "created replication slot")
  t_end=$(bench_log_time "$dir/sluice.log" "streaming from slot")
  echo "$(bench_calc "$t_end - $t_slot") $(bench_calc "$t_end - $start") $cpu"
}

declare -A raw_s sluice_s total_s cpu_s run_pct
: >"$BENCH_OUT/snapshot.tsv"
for ((run = 1; run <= BENCH_RUNS; run++)); do
  for p in "${parallelisms[@]}"; do
    r=$(raw_copy "$p")
    out=$(sluice_snapshot "$run" "$p")
    read -r s t c <<<"$out"
    sluice_log "run $run, parallelism $p: raw COPY ${r}s, sluice snapshot ${s}s (${t}s from process start, ${c}s CPU)"
    raw_s[$p]+=" $r"
    run_pct[$p]+="${run_pct[$p]:+/}$(bench_pct "$r" "$s" | tr -d '%')"
    sluice_s[$p]+=" $s"
    total_s[$p]+=" $t"
    cpu_s[$p]+=" $c"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$p" "$r" "$s" "$t" "$c" >>"$BENCH_OUT/snapshot.tsv"
  done
done

bench_heading "Snapshot (issue 3)"
bench_md "A table of $(bench_fmt "$rows") rows (${row_bytes} bytes a row by \`pg_column_size\`," \
  "${table_mb} MiB on disk, ${copy_mb} MiB as COPY text) snapshotted by sluice into the \`null\`" \
  "sink, against the same rows by \`COPY ... TO STDOUT\` into /dev/null. At parallelism P," \
  "sluice reads with \`snapshot_parallelism: P\` and the limit is P psql processes each" \
  "copying an equal key range at once." \
  "" \
  "- limit: \`psql -c 'COPY items TO STDOUT' >/dev/null\` (P = 1), or P of" \
  "  \`psql -c 'COPY (SELECT * FROM items WHERE id > LO AND id <= HI) TO STDOUT' >/dev/null &\`" \
  "- sluice: \`sluice run -c sluice.yaml\` with a \`postgres\` source (fresh slot each run) piped" \
  "  to a \`null\` sink; the time runs from the log line \"created replication slot\" to" \
  "  \"streaming from slot\" (planning the key ranges, COPY, decoding, every row handed to the" \
  "  sink), by the log lines' own timestamps. From the process start adds start-up and the" \
  "  slot's creation. Its CPU is user + system time of the whole process (every thread, from" \
  "  its start) per row." \
  "" \
  "The runs alternate raw COPY and sluice, so each run's own ratio is also shown: a slow" \
  "spell of this shared machine tends to hit one run rather than one side." \
  "" \
  "| parallelism | raw COPY rows/s | sluice rows/s | sluice / raw | each run | sluice s (from process start) | sluice CPU per row |" \
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for p in "${parallelisms[@]}"; do
  # shellcheck disable=SC2086 # the lists are space-separated numbers
  r=$(bench_median ${raw_s[$p]})
  # shellcheck disable=SC2086
  s=$(bench_median ${sluice_s[$p]})
  # shellcheck disable=SC2086
  t=$(bench_median ${total_s[$p]})
  # shellcheck disable=SC2086
  c=$(bench_median ${cpu_s[$p]})
  target=""
  ((p == 1)) && target=80
  bench_ratio "snapshot, parallelism $p, vs COPY" "$r" "$s" "$target"
  bench_md "| $p | $(bench_fmt "$(bench_rate "$rows" "$r")") | $(bench_fmt "$(bench_rate "$rows" "$s")") | $(bench_pct "$r" "$s") | ${run_pct[$p]}% | $s ($t) | $(bench_us_per "$c" "$rows") µs |"
done
if ((${#parallelisms[@]} == 1)); then
  bench_md "" "Only parallelism 1: this build of sluice has no \`snapshot_parallelism\` option."
fi
bench_md "" "Target (issue 3): sluice at least 80% of raw COPY at parallelism 1."
