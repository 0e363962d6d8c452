#!/usr/bin/env bash
# bench/wait.sh -- read-your-writes (issue 23): commit-to-/wait-answer latency of a
# `postgres | redis` pipeline while bench_latency inserts 5,000 rows/s (one row a
# transaction, 16 connections) for BENCH_LATENCY_SECONDS. After each COMMIT the writer takes
# pg_current_wal_insert_lsn() and one of 64 waiter connections asks GET /wait for it;
# commit-to-visible (Redis polled for the key) is measured in the same run, as the baseline.
# Run through bench/run (see bench/lib.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init wait

rate=5000
connections=16
redis=(redis-cli -h "$BENCH_REDIS_HOST" -p "$BENCH_REDIS_PORT")
redis_url=redis://$BENCH_REDIS_HOST:$BENCH_REDIS_PORT/0
work=""
sluice_mktemp work bench-wait
db=bench_wait
bench_psql postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
bench_psql "$db" <<SQL
CREATE TABLE lat_items (
  id         bigint PRIMARY KEY,
  payload    text,
  created_at timestamptz DEFAULT clock_timestamp()
);
CREATE PUBLICATION bench_wait FOR TABLE lat_items;
SQL

# one_run RUN: prints bench_latency's result line.
one_run() {
  local run=$1 dir pid port line
  dir=$work/r$run
  mkdir -p "$dir/state"
  cat >"$dir/sluice.yaml" <<EOF
state_dir: $dir/state
log: { format: text, level: info }
http: { listen: "127.0.0.1:0" }
sources:
  db:
    type: postgres
    dsn: "$(bench_pg_dsn "$db")"
    slot: bench_wait_r$run
    publication: bench_wait
sinks:
  cache:
    type: redis
    url: $redis_url
pipelines:
  latency: db.public.lat_items | cache key="lat:{id}"
EOF
  bench_psql "$db" -c "TRUNCATE lat_items"
  "${redis[@]}" flushall >/dev/null
  bench_sluice_start pid "$dir" "$dir/sluice.yaml"
  bench_wait_log 120 "$pid" "$dir/sluice.log" "streaming from slot" >&2
  port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/sluice.log" | head -n1)
  [[ -n $port ]] || sluice_die "no http port in $dir/sluice.log"
  line=$("$BENCH_BUILD/bench/bench_latency" --dsn "$(bench_pg_dsn "$db")" \
    --redis-host "$BENCH_REDIS_HOST" --redis-port "$BENCH_REDIS_PORT" --table lat_items \
    --key-prefix lat: --rate "$rate" --seconds "$BENCH_LATENCY_SECONDS" --connections "$connections" \
    --wait-port "$port" --wait-pipeline latency --out "$BENCH_OUT/wait-visible-r$run.txt" \
    --wait-out "$BENCH_OUT/wait-answer-r$run.txt")
  bench_sluice_stop "$pid" >&2
  bench_drop_slot "$db" "bench_wait_r$run"
  echo "$line"
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

declare -A lat
for ((run = 1; run <= BENCH_RUNS; run++)); do
  line=$(one_run "$run")
  sluice_log "run $run: $line"
  for f in rate p50_ms p99_ms wait_p50_ms wait_p90_ms wait_p99_ms wait_p999_ms wait_max_ms wait_failed; do
    lat[$f]+=" $(field "$f" "$line")"
  done
done
med() {
  # shellcheck disable=SC2086 # a space-separated list of numbers
  bench_median ${lat[$1]}
}

bench_heading "Read-your-writes: commit to /wait answer (issue 23)"
bench_md \
  "\`postgres | redis\` while \`bench_latency\` inserts $(bench_fmt "$rate") rows/s (one row a transaction," \
  "\`synchronous_commit = on\`, $connections connections on one schedule) for ${BENCH_LATENCY_SECONDS} s." \
  "After each \`COMMIT\` the writer runs \`SELECT pg_current_wal_insert_lsn()\` and one of 64 waiter" \
  "threads (one keep-alive connection each) asks \`GET /wait?pipeline=latency&lsn=...\`." \
  "Latency = when \`/wait\` answered 200 - when the \`COMMIT\` returned. Beside it, in the same run," \
  "commit-to-visible: when the key appeared in Redis (polled as in the Redis benchmark)." \
  "Medians over the runs of each run's percentiles." \
  "" \
  "- \`bench_latency ... --rate $rate --seconds $BENCH_LATENCY_SECONDS --connections $connections --wait-port PORT --wait-pipeline latency\`" \
  "" \
  "| achieved rate | visible p50 | visible p99 | /wait p50 | /wait p90 | /wait p99 | /wait p99.9 | /wait max | /wait not 200 |" \
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" \
  "| $(bench_fmt "$(med rate)")/s | $(med p50_ms) ms | $(med p99_ms) ms | $(med wait_p50_ms) ms | $(med wait_p90_ms) ms | $(med wait_p99_ms) ms | $(med wait_p999_ms) ms | $(med wait_max_ms) ms | $(med wait_failed) |" \
  "" \
  "Target (issue 23): /wait p99 under 20 ms more than the commit-to-visible p99."
