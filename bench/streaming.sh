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

sluice_log "creating $db.items"
bench_items_db "$db" "$publication"

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
    n=$txns
    [[ $case == one ]] && n=1
    bench_drain_prepare target "$db" "$recv_slot" "$rows" "$n" "$work"
    # Alternate which side reads first (the WAL is cached for the second).
    if ((run % 2)); then
      r=$(bench_drain_recv "$db" "$recv_slot" "$publication" "$target")
      out=$(bench_drain_sluice "$db" "$sluice_slot" "$target" "$work")
    else
      out=$(bench_drain_sluice "$db" "$sluice_slot" "$target" "$work")
      r=$(bench_drain_recv "$db" "$recv_slot" "$publication" "$target")
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
