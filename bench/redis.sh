#!/usr/bin/env bash
# bench/redis.sh -- the Redis sink (issue 4).
#  1. The sink alone: BENCH_ROWS changes from the `generate` source into the `redis` sink,
#     against redis-benchmark's pipelined SETs of values of the same size, and against
#     pipelined MSETs of what one guarded change writes (the value and its position key).
#  2. Throughput end to end: `postgres | redis` draining BENCH_ROWS inserted rows (in 1,000
#     transactions) from its slot, against pg_recvlogical draining the same WAL.
#  3. Latency end to end: `postgres | redis` under a steady insert load of 5,000 rows/s (one row a
#     transaction, over 16 connections) for BENCH_LATENCY_SECONDS; commit-to-visible latency
#     by bench_latency.
# Run through bench/run (see bench/lib.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init redis

rows=$BENCH_ROWS
rate=5000
# Writer connections of the latency load: each commit waits for its WAL flush, so one
# connection manages a few hundred to a couple of thousand rows/s here; the server groups
# concurrent commits into one flush.
connections=16
redis=(redis-cli -h "$BENCH_REDIS_HOST" -p "$BENCH_REDIS_PORT")
redis_url=redis://$BENCH_REDIS_HOST:$BENCH_REDIS_PORT/0
work=""
sluice_mktemp work bench-redis

# --- 1. the sink alone ------------------------------------------------------------------
# sink_alone RUN: prints the seconds `sluice run` takes to apply every change and exit.
sink_alone() {
  local run=$1 dir seconds keys
  dir=$work/alone-r$run
  mkdir -p "$dir/state"
  cat >"$dir/sluice.yaml" <<EOF
state_dir: $dir/state
log: { format: text, level: info }
sources:
  gen:
    type: generate
    changes: $rows
    payload_bytes: 100
sinks:
  cache:
    type: redis
    url: $redis_url
pipelines:
  alone: gen.public.items | cache key="item:{id}"
EOF
  "${redis[@]}" flushall >/dev/null
  local cpu0 cpu1
  cpu0=$(redis_cpu)
  seconds=$(bench_sluice_time "$dir") || exit 1
  cpu1=$(redis_cpu)
  keys=$("${redis[@]}" eval "return #redis.call('keys', 'item:*')" 0)
  ((keys == rows)) || sluice_die "Redis holds $keys item keys, expected $rows"
  # Redis's own CPU per change, in microseconds.
  echo "$seconds $(awk -v a="$cpu0" -v b="$cpu1" -v n="$rows" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')"
}

# redis_cpu: seconds of CPU the Redis server has used (user + system).
redis_cpu() {
  "${redis[@]}" info cpu | tr -d '\r' |
    awk -F: '$1 == "used_cpu_user" || $1 == "used_cpu_sys" { t += $2 } END { printf "%.3f", t }'
}

# raw_set VALUE_BYTES: prints redis-benchmark's SETs per second (64 commands pipelined,
# random keys out of BENCH_ROWS, values of VALUE_BYTES).
raw_set() {
  "${redis[@]}" flushall >/dev/null
  redis-benchmark -h "$BENCH_REDIS_HOST" -p "$BENCH_REDIS_PORT" -P 64 -t set -n "$rows" \
    -r "$rows" -d "$1" --csv | awk -F'"' '$2 == "SET" { print $4 }'
}

# raw_pair VALUE_BYTES: prints redis-benchmark's MSETs per second of one value of
# VALUE_BYTES and one 32-byte position under the sink's key names (64 pipelined, random
# keys): what a version-guarded change has to write, without reading or comparing anything.
raw_pair() {
  local value
  value=$(head -c "$1" /dev/zero | tr '\0' x)
  "${redis[@]}" flushall >/dev/null
  redis-benchmark -h "$BENCH_REDIS_HOST" -p "$BENCH_REDIS_PORT" -P 64 -n "$rows" -r 100000000 \
    --csv MSET "item:__rand_int__" "$value" \
    "sluice:pos:gen.public.items:item:__rand_int__" 0000000001000000000000000000000a |
    awk -F'"' 'NR > 1 || $2 != "test" { print $4 }' | tail -n 1
}

# raw_batch MODE VALUE_BYTES: prints "changes/s Redis-CPU-µs-per-change" of redis-benchmark
# sending what one script call of the sink carries, 200 changes (value and position each), 3
# commands pipelined as the sink keeps 3 calls in flight: MODE `mset` as one plain MSET of the
# 400 keys, MODE `lua` as an EVAL of a script that only passes its arguments to MSET. So the
# second is what any script writing this layout costs Redis before it reads or compares
# anything; the first, the same without a script.
raw_batch() {
  local mode=$1 value pairs=() i cpu0 cpu1 calls rate
  value=$(head -c "$2" /dev/zero | tr '\0' x)
  for ((i = 0; i < 200; i++)); do
    pairs+=("item:__rand_int__" "$value" "sluice:pos:gen.public.items:item:__rand_int__"
      0000000001000000000000000000000a)
  done
  local cmd=(MSET)
  [[ $mode == lua ]] && cmd=(EVAL "return redis.call('MSET', unpack(ARGV))" 0)
  calls=$((rows / 200))
  "${redis[@]}" flushall >/dev/null
  cpu0=$(redis_cpu)
  rate=$(redis-benchmark -h "$BENCH_REDIS_HOST" -p "$BENCH_REDIS_PORT" -c 1 -P 3 -n "$calls" \
    -r 100000000 --csv "${cmd[@]}" "${pairs[@]}" |
    awk -F'"' 'NR > 1 || $2 != "test" { print $4 }' | tail -n 1)
  cpu1=$(redis_cpu)
  awk -v r="$rate" -v a="$cpu0" -v b="$cpu1" -v n="$calls" \
    'BEGIN { printf "%.0f %.1f", r * 200, (b - a) * 1e6 / (n * 200) }'
}

value_bytes=""
sluice_rates=()
raw_rates=()
pair_rates=()
redis_us=()
mset_rates=()
mset_us=()
lua_rates=()
lua_us=()
: >"$BENCH_OUT/redis-alone.tsv"
for ((run = 1; run <= BENCH_RUNS; run++)); do
  read -r s us <<<"$(sink_alone "$run")"
  # The limits write values as long as the sink's (the row as JSON).
  [[ -n $value_bytes ]] || value_bytes=$("${redis[@]}" strlen item:1)
  r=$(raw_set "$value_bytes")
  p=$(raw_pair "$value_bytes")
  read -r m mu <<<"$(raw_batch mset "$value_bytes")"
  read -r l lu <<<"$(raw_batch lua "$value_bytes")"
  sluice_log "run $run: sluice ${s}s ($(bench_rate "$rows" "$s") changes/s, Redis CPU ${us} µs/change), redis-benchmark $r SET/s, $p MSET pairs/s, 200-pair MSET $m changes/s ($mu µs), the same from Lua $l changes/s ($lu µs)"
  sluice_rates+=("$(bench_rate "$rows" "$s")")
  raw_rates+=("$r")
  pair_rates+=("$p")
  redis_us+=("$us")
  mset_rates+=("$m")
  mset_us+=("$mu")
  lua_rates+=("$l")
  lua_us+=("$lu")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$s" "$us" "$r" "$p" "$m" "$mu" "$l" "$lu" \
    >>"$BENCH_OUT/redis-alone.tsv"
done
"${redis[@]}" flushall >/dev/null

# --- 2. throughput end to end -----------------------------------------------------------
tdb=bench_redis_e2e
tpub=bench_redis_e2e
recv_slot=bench_redis_recv
redis_slot=bench_redis_sluice
txns=1000
bench_items_db "$tdb" "$tpub"
tdir=$work/e2e-throughput
mkdir -p "$tdir"
cat >"$tdir/sluice.yaml" <<EOF
state_dir: $tdir/state
log: { format: text, level: info }
http: { listen: "127.0.0.1:0" }
sources:
  db: { type: postgres, dsn: "$(bench_pg_dsn "$tdb")", slot: $redis_slot, publication: $tpub, status_interval: 100ms }
sinks:
  cache: { type: redis, url: "$redis_url" }
pipelines:
  e2e: db.public.items | cache key="e2e:{id}"
EOF
target="" # set by bench_drain_prepare
tp_recv=()
tp_sluice=()
tp_rss=()
: >"$BENCH_OUT/redis-throughput.tsv"
for ((run = 1; run <= BENCH_RUNS; run++)); do
  bench_drop_slot "$tdb" "$recv_slot"
  bench_drop_slot "$tdb" "$redis_slot"
  "${redis[@]}" flushall >/dev/null
  bench_drain_prepare target "$tdb" "$recv_slot" "$rows" "$txns" "$tdir"
  # Alternate which reader drains first.
  if ((run % 2)); then
    r=$(bench_drain_recv "$tdb" "$recv_slot" "$tpub" "$target")
    read -r s m <<<"$(bench_drain_sluice "$tdb" "$redis_slot" "$target" "$tdir")"
  else
    read -r s m <<<"$(bench_drain_sluice "$tdb" "$redis_slot" "$target" "$tdir")"
    r=$(bench_drain_recv "$tdb" "$recv_slot" "$tpub" "$target")
  fi
  keys=$("${redis[@]}" eval "return #redis.call('keys', 'e2e:*')" 0)
  ((keys == rows)) || sluice_die "Redis holds $keys e2e keys, expected $rows"
  sluice_log "run $run, throughput: pg_recvlogical ${r}s, postgres | redis ${s}s (peak RSS $m MiB)"
  tp_recv+=("$r")
  tp_sluice+=("$s")
  tp_rss+=("$m")
  printf '%s\t%s\t%s\t%s\n' "$run" "$r" "$s" "$m" >>"$BENCH_OUT/redis-throughput.tsv"
done
bench_drop_slot "$tdb" "$recv_slot"
bench_drop_slot "$tdb" "$redis_slot"
"${redis[@]}" flushall >/dev/null

# --- 3. latency end to end --------------------------------------------------------------
db=bench_redis
bench_psql postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
bench_psql "$db" <<SQL
CREATE TABLE lat_items (
  id         bigint PRIMARY KEY,
  payload    text,
  created_at timestamptz DEFAULT clock_timestamp()
);
CREATE PUBLICATION bench_redis FOR TABLE lat_items;
SQL

# end_to_end RUN: prints bench_latency's result line, then "rss=MiB" of sluice.
end_to_end() {
  local run=$1 dir pid line rss
  dir=$work/e2e-r$run
  mkdir -p "$dir/state"
  cat >"$dir/sluice.yaml" <<EOF
state_dir: $dir/state
log: { format: text, level: info }
sources:
  db:
    type: postgres
    dsn: "$(bench_pg_dsn "$db")"
    slot: bench_redis_r$run
    publication: bench_redis
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
  line=$("$BENCH_BUILD/bench/bench_latency" --dsn "$(bench_pg_dsn "$db")" \
    --redis-host "$BENCH_REDIS_HOST" --redis-port "$BENCH_REDIS_PORT" --table lat_items \
    --key-prefix lat: --rate "$rate" --seconds "$BENCH_LATENCY_SECONDS" --connections "$connections" \
    --out "$BENCH_OUT/redis-latency-r$run.txt")
  rss=$(bench_vmhwm "$pid")
  bench_sluice_stop "$pid" >&2
  bench_drop_slot "$db" "bench_redis_r$run"
  echo "$line rss=$rss"
}

# field NAME LINE: the value of NAME=value in LINE.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

declare -A lat
: >"$BENCH_OUT/redis-latency.tsv"
for ((run = 1; run <= BENCH_RUNS; run++)); do
  line=$(end_to_end "$run")
  sluice_log "run $run: $line"
  for f in rate p50_ms p90_ms p99_ms p999_ms max_ms rss; do
    lat[$f]+=" $(field "$f" "$line")"
  done
  printf '%s\t%s\n' "$run" "$line" >>"$BENCH_OUT/redis-latency.tsv"
done

# --- report -----------------------------------------------------------------------------
med() { # med FIELD: the median over the runs of an end-to-end field
  # shellcheck disable=SC2086 # a space-separated list of numbers
  bench_median ${lat[$1]}
}
s=$(bench_median "${sluice_rates[@]}")
r=$(bench_median "${raw_rates[@]}")
p=$(bench_median "${pair_rates[@]}")
us=$(bench_median "${redis_us[@]}")
m=$(bench_median "${mset_rates[@]}")
mu=$(bench_median "${mset_us[@]}")
l=$(bench_median "${lua_rates[@]}")
lu=$(bench_median "${lua_us[@]}")
bench_ratio "redis sink vs MSET of 200 values + positions" "$s" "$m"
tr=$(bench_median "${tp_recv[@]}")
ts=$(bench_median "${tp_sluice[@]}")
bench_ratio "postgres | redis vs pg_recvlogical" "$tr" "$ts" 90
bench_heading "Redis sink (issue 4)"
bench_md "**The sink alone.** $(bench_fmt "$rows") changes (one per transaction, each a new key) from the" \
  "\`generate\` source into the \`redis\` sink, against redis-benchmark writing to the same Redis" \
  "values of the same length (${value_bytes} bytes: the row as JSON). A change is version-guarded:" \
  "per 200 changes one \`EVALSHA\` of the sink's Lua script (up to 3 in flight) reads the" \
  "positions (\`sluice:pos:...\`) of the changes with one \`MGET\`, checks with one \`EXISTS\` that" \
  "none of the keys without a position (here: all) is another program's key of another type," \
  "and writes the values and positions that are not older with one \`MSET\`, so every change" \
  "writes two keys. The second" \
  "reference is Redis writing exactly those two keys per change as one command (one \`MSET\` of" \
  "value and position, pipelined), with no read, no comparison and no script. The last two" \
  "send what one script call carries, 200 changes, 3 commands in flight on one connection like" \
  "the sink: as one plain \`MSET\` of the 400 keys, and as an \`EVAL\` of a script that only" \
  "passes its arguments to \`MSET\`, which is what any script writing this layout costs Redis" \
  "before it reads or compares anything. Redis CPU per change is the server's" \
  "\`used_cpu_user + sys\` over the run divided by the changes." \
  "" \
  "- limits: \`redis-benchmark -P 64 -t set -n $rows -r $rows -d $value_bytes --csv\` and" \
  "  \`redis-benchmark -P 64 -n $rows -r 100000000 MSET item:__rand_int__ <value> sluice:pos:gen.public.items:item:__rand_int__ <32 hex digits>\`;" \
  "  \`redis-benchmark -c 1 -P 3 -n $((rows / 200)) -r 100000000 MSET <the same 4 arguments, 200 times>\`" \
  "  and \`... EVAL \"return redis.call('MSET', unpack(ARGV))\" 0 <the same>\`" \
  "- sluice: \`time sluice run -c sluice.yaml\` (\`generate\` with \`changes: $rows\`," \
  "  \`payload_bytes: 100\`, piped \`| cache key=\"item:{id}\"\`); it exits by itself once every" \
  "  change is durable in Redis, so the time includes start-up" \
  "" \
  "| | changes/s | sluice / limit | Redis CPU per change |" \
  "| --- | ---: | ---: | ---: |" \
  "| redis-benchmark SET, 64 pipelined | $(bench_fmt "$r") | | |" \
  "| redis-benchmark MSET value + position, 64 pipelined | $(bench_fmt "$p") | | |" \
  "| redis-benchmark MSET of 200 values + positions | $(bench_fmt "$m") | | $mu µs |" \
  "| the same through a Lua script that only calls MSET | $(bench_fmt "$l") | | $lu µs |" \
  "| sluice \`generate | redis\` | $(bench_fmt "$s") | $(bench_pct "$s" "$r") of SET, $(bench_pct "$s" "$m") of 200-pair MSET, $(bench_pct "$s" "$l") of it from Lua | $us µs |" \
  "" \
  "**Throughput end to end.** $(bench_fmt "$rows") rows inserted into \`items\` in $txns transactions" \
  "(\`bench_items_insert_sql\` in \`bench/lib.sh\`), then drained from two slots created before the" \
  "inserts: \`pg_recvlogical\` (pgoutput, to /dev/null) and \`sluice run\` with" \
  "\`db.public.items | cache key=\"e2e:{id}\"\`, each timed until its slot has confirmed the WAL" \
  "position after the last commit (for sluice: every row durable in Redis). Redis is checked to" \
  "hold all $(bench_fmt "$rows") keys." \
  "" \
  "| pg_recvlogical rows/s | sluice \`postgres | redis\` rows/s | sluice / pg_recvlogical | sluice peak RSS |" \
  "| ---: | ---: | ---: | ---: |" \
  "| $(bench_fmt "$(bench_rate "$rows" "$tr")") | $(bench_fmt "$(bench_rate "$rows" "$ts")") | $(bench_pct "$tr" "$ts") | $(bench_median "${tp_rss[@]}") MiB |" \
  "" \
  "**Latency end to end.** \`postgres | redis\` while \`bench_latency\` inserts $(bench_fmt "$rate") rows/s" \
  "(one row a transaction, \`synchronous_commit = on\`, $connections connections on one schedule) for" \
  "${BENCH_LATENCY_SECONDS} s and polls Redis (pipelined \`EXISTS\` on the committed keys not yet" \
  "seen, every 0.2 ms when none appeared)." \
  "Latency = when the key appeared - when its \`COMMIT\` returned, on one clock. Medians over" \
  "the runs of each run's percentiles." \
  "" \
  "- \`bench_latency --dsn DSN --redis-host H --redis-port P --table lat_items --key-prefix lat: --rate $rate --seconds $BENCH_LATENCY_SECONDS --connections $connections\`" \
  "" \
  "| achieved rate | p50 | p90 | p99 | p99.9 | max | sluice peak RSS |" \
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |" \
  "| $(bench_fmt "$(med rate)")/s | $(med p50_ms) ms | $(med p90_ms) ms | $(med p99_ms) ms | $(med p999_ms) ms | $(med max_ms) ms | $(med rss) MiB |" \
  "" \
  "Targets (issue 4): the sink alone at least 250,000 changes/s; end to end at least 90% of" \
  "pg_recvlogical; p99 under 50 ms at 5,000 changes/s."
