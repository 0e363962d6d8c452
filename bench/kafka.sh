#!/usr/bin/env bash
# bench/kafka.sh -- the Kafka sink and source (issue 6), on librdkafka's mock cluster (one
# broker on loopback, in a bench_kafka process of its own; a fresh one per measurement run):
#  1. The sink alone: BENCH_ROWS changes from the `generate` source into the `kafka` sink,
#     against bench_kafka's raw idempotent producer writing as many messages of the same size.
#  2. The source alone: the `kafka` source into the `null` sink reading what the sink wrote,
#     against bench_kafka's raw consumer reading the same topic.
#  3. End to end: `postgres | kafka` draining BENCH_ROWS inserted rows (1,000 transactions)
#     from a slot, against pg_recvlogical draining the same WAL (as in bench/streaming.sh),
#     with `postgres | null` from a third slot beside them.
# Run through bench/run (see bench/lib.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init kafka

rows=$BENCH_ROWS
# The mock cluster keeps only the newest 5 MiB of each partition (librdkafka 2.0): enough
# partitions that every message stays readable for the source case (about 400 bytes each).
partitions=$(((rows + 9999) / 10000))
((partitions >= 6)) || partitions=6
txns=1000
tool=$BENCH_BUILD/bench/bench_kafka
[[ -x $tool ]] || sluice_die "$tool was not built"
work=""
sluice_mktemp work bench-kafka

brokers=""  # bootstrap servers of the current mock cluster
mock_pid=""

# mock_up NAME TOPIC...: a fresh mock cluster with these topics ($partitions partitions each),
# its working dir $work/NAME so that clean-up stops it.
mock_up() {
  local dir=$work/$1
  shift
  mkdir -p "$dir"
  (cd "$dir" && exec setsid "$tool" mock "$partitions" "$@" </dev/null >"$dir/brokers" 2>"$dir/mock.log") &
  mock_pid=$!
  sluice_wait_for 30 test -s "$dir/brokers" || sluice_die "bench_kafka mock did not start"
  brokers=$(<"$dir/brokers")
}

mock_down() {
  kill -TERM "$mock_pid"
  wait "$mock_pid" || true
  mock_pid=""
}

# sluice_config DIR SOURCE_YAML SINK_YAML PIPE: writes DIR/sluice.yaml (HTTP on a free port).
sluice_config() {
  local dir=$1
  mkdir -p "$dir/state"
  cat >"$dir/sluice.yaml" <<EOF
state_dir: $dir/state
log: { format: text, level: info }
http: { listen: "127.0.0.1:0" }
sources:
  $2
sinks:
  $3
pipelines:
  $4
EOF
}

# --- 1. the sink alone ------------------------------------------------------------------
# sink_sluice DIR TOPIC: prints the seconds `sluice run` takes to have every change
# acknowledged by the broker, and exit.
sink_sluice() {
  local dir=$1 topic=$2
  sluice_config "$dir" \
    "gen: { type: generate, changes: $rows, payload_bytes: 100 }" \
    "log: { type: kafka, brokers: \"$brokers\", topic: $topic }" \
    "alone: gen.public.items | log"
  bench_sluice_time "$dir"
}

# sink_raw TOPIC VALUE_BYTES: prints the seconds bench_kafka's raw producer takes.
sink_raw() {
  local start
  start=$(bench_now)
  "$tool" produce "$brokers" "$1" "$rows" "$2"
  bench_calc "$(bench_now) - $start"
}

# topic_count TOPIC: the number of messages in TOPIC (fresh: each partition's last offset + 1).
topic_count() {
  local p sum=0 last
  for ((p = 0; p < partitions; p++)); do
    last=$(kcat -b "$brokers" -C -t "$1" -p "$p" -o -1 -c 1 -e -q -f '%o\n' 2>/dev/null)
    [[ -z $last ]] || sum=$((sum + last + 1))
  done
  echo "$sum"
}

# value_bytes TOPIC: the mean length of the first 1,000 values in TOPIC.
value_bytes() {
  kcat -b "$brokers" -C -t "$1" -p 0 -o beginning -c 1000 -e -q -f '%S\n' 2>/dev/null |
    awk '{ s += $1 } END { printf "%.0f\n", s / NR }'
}

# --- 2. the source alone ----------------------------------------------------------------
# metric PORT NAME: sets `metric_value` to the first sample of NAME on sluice's /metrics at
# 127.0.0.1:PORT (empty if absent). Plain bash, no process per poll.
metric() {
  local fd line
  metric_value=""
  exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 0
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&"$fd"
  while IFS= read -r line <&"$fd"; do
    if [[ $line == "$2 "* || $line == "$2{"* ]]; then
      metric_value=${line##* }
      metric_value=${metric_value%$'\r'}
      break
    fi
  done
  exec {fd}>&-
}

# source_sluice DIR TOPIC: prints the seconds from the source's partitions being assigned
# (its log line) until the null sink has taken every message (/metrics polled every 20 ms).
source_sluice() {
  local dir=$1 topic=$2 pid port start end deadline
  sluice_config "$dir" \
    "bus: { type: kafka, brokers: \"$brokers\", group: bench-$(basename "$dir") }" \
    "sink: { type: \"null\" }" \
    "read: bus.$topic | sink"
  bench_sluice_start pid "$dir" "$dir/sluice.yaml"
  bench_wait_log 60 "$pid" "$dir/sluice.log" "http: listening on" >&2
  port=$(sed -n 's/.*http: listening on [0-9.]*:\([0-9]*\).*/\1/p' "$dir/sluice.log" | head -n1)
  deadline=$((SECONDS + 300))
  metric_value=0
  until [[ ${metric_value:-0} -ge $rows ]]; do
    ((SECONDS < deadline)) || sluice_die "the kafka source read ${metric_value:-0} of $rows messages in 300 s"
    bench_pid_alive "$pid" || sluice_die "sluice exited while reading"
    sleep 0.02
    metric "$port" sluice_null_changes_total
  done
  end=$(bench_now)
  start=$(bench_log_time "$dir/sluice.log" ": assigned ") || sluice_die "no assignment in the log"
  bench_sluice_stop "$pid" >&2
  bench_calc "$end - $start"
}

# source_raw TOPIC: prints the seconds bench_kafka's raw consumer takes from its assignment.
source_raw() {
  "$tool" consume "$brokers" "$1" "$rows" | sed -n 's/^seconds=//p'
}

# --- 3. end to end ----------------------------------------------------------------------
db=bench_kafka
publication=bench_kafka
recv_slot=bench_kafka_recv
kafka_slot=bench_kafka_sluice
null_slot=bench_kafka_null
dsn=$(bench_pg_dsn "$db")
bench_items_db "$db" "$publication"

# e2e_config DIR SLOT SINK_YAML: a `postgres | SINK` sluice reading SLOT.
e2e_config() {
  sluice_config "$1" \
    "db: { type: postgres, dsn: \"$dsn\", slot: $2, publication: $publication, status_interval: 100ms }" \
    "$3" "e2e: db.public.items | out"
}

drop_slots() {
  local s
  for s in "$recv_slot" "$kafka_slot" "$null_slot"; do bench_drop_slot "$db" "$s"; done
}

# --- runs -------------------------------------------------------------------------------
declare -a s_sink r_sink s_source r_source s_e2e n_e2e r_e2e rss_e2e
: >"$BENCH_OUT/kafka.tsv"
bytes=""
for ((run = 1; run <= BENCH_RUNS; run++)); do
  mock_up "mock-r$run" "bench.sluice" "bench.raw"
  # Alternate which producer goes first.
  if ((run % 2)); then
    s=$(sink_sluice "$work/sink-r$run" bench.sluice)
    [[ -n $bytes ]] || bytes=$(value_bytes bench.sluice)
    r=$(sink_raw bench.raw "$bytes")
  else
    r=$(sink_raw bench.raw "$bytes")
    s=$(sink_sluice "$work/sink-r$run" bench.sluice)
  fi
  n=$(topic_count bench.sluice)
  ((n == rows)) || sluice_die "topic bench.sluice holds $n messages, expected $rows"
  s_sink+=("$s")
  r_sink+=("$r")
  sluice_log "run $run, sink: sluice ${s}s ($(bench_rate "$rows" "$s")/s), raw producer ${r}s ($(bench_rate "$rows" "$r")/s)"
  # Both read what the sluice sink wrote.
  if ((run % 2)); then
    r=$(source_raw bench.sluice)
    s=$(source_sluice "$work/source-r$run" bench.sluice)
  else
    s=$(source_sluice "$work/source-r$run" bench.sluice)
    r=$(source_raw bench.sluice)
  fi
  s_source+=("$s")
  r_source+=("$r")
  sluice_log "run $run, source: sluice ${s}s ($(bench_rate "$rows" "$s")/s), raw consumer ${r}s ($(bench_rate "$rows" "$r")/s)"
  printf '%s\tsink\t%s\t%s\tsource\t%s\t%s\n' "$run" "${s_sink[-1]}" "${r_sink[-1]}" "${s_source[-1]}" "${r_source[-1]}" >>"$BENCH_OUT/kafka.tsv"
  mock_down

  mock_up "mock-e2e-r$run" "bench.e2e"
  e2e_config "$work/e2e-kafka" "$kafka_slot" "out: { type: kafka, brokers: \"$brokers\", topic: bench.e2e }"
  e2e_config "$work/e2e-null" "$null_slot" "out: { type: \"null\" }"
  drop_slots
  target=""  # the WAL position every drain ends at, set by bench_drain_prepare
  bench_drain_prepare target "$db" "$recv_slot" "$rows" "$txns" "$work/e2e-kafka" "$work/e2e-null"
  if ((run % 2)); then
    r=$(bench_drain_recv "$db" "$recv_slot" "$publication" "$target")
    read -r s m <<<"$(bench_drain_sluice "$db" "$kafka_slot" "$target" "$work/e2e-kafka")"
    read -r nl _ <<<"$(bench_drain_sluice "$db" "$null_slot" "$target" "$work/e2e-null")"
  else
    read -r nl _ <<<"$(bench_drain_sluice "$db" "$null_slot" "$target" "$work/e2e-null")"
    read -r s m <<<"$(bench_drain_sluice "$db" "$kafka_slot" "$target" "$work/e2e-kafka")"
    r=$(bench_drain_recv "$db" "$recv_slot" "$publication" "$target")
  fi
  n=$(topic_count bench.e2e)
  ((n == rows)) || sluice_die "topic bench.e2e holds $n messages, expected $rows"
  mock_down
  s_e2e+=("$s")
  n_e2e+=("$nl")
  r_e2e+=("$r")
  rss_e2e+=("$m")
  sluice_log "run $run, end to end: pg_recvlogical ${r}s, postgres | kafka ${s}s (peak RSS $m MiB), postgres | null ${nl}s"
  printf '%s\te2e\t%s\t%s\t%s\t%s\n' "$run" "$r" "$s" "$nl" "$m" >>"$BENCH_OUT/kafka.tsv"
done
drop_slots

# --- report -----------------------------------------------------------------------------
rate() { bench_rate "$rows" "$(bench_median "$@")"; }
sink_s=$(rate "${s_sink[@]}")
sink_r=$(rate "${r_sink[@]}")
src_s=$(rate "${s_source[@]}")
src_r=$(rate "${r_source[@]}")
e2e_s=$(rate "${s_e2e[@]}")
e2e_n=$(rate "${n_e2e[@]}")
e2e_r=$(rate "${r_e2e[@]}")
bench_ratio "kafka sink vs raw producer" "$sink_s" "$sink_r" 50
bench_ratio "kafka source vs raw consumer" "$src_s" "$src_r" 50
bench_ratio "postgres | kafka vs pg_recvlogical" "$e2e_s" "$e2e_r" 90
bench_heading "Kafka sink and source (issue 6)"
bench_md "librdkafka's mock cluster (librdkafka $(pkg-config --modversion rdkafka), one broker," \
  "topics of $partitions partitions) in a process of its own on loopback, started by" \
  "\`bench_kafka mock\`; a fresh one for each run. It keeps messages in memory and shares" \
  "the machine's cores with the clients." \
  "" \
  "**The sink alone.** $(bench_fmt "$rows") changes (one per transaction, each a new key) from" \
  "the \`generate\` source (\`payload_bytes: 100\`) into the \`kafka\` sink (defaults: idempotent," \
  "\`acks=all\`, \`linger.ms=5\`, \`format: sluice\`, values of ${bytes} bytes on average), against" \
  "librdkafka's producer with the sink's settings writing as many messages with keys, values" \
  "and headers of the same sizes." \
  "" \
  "- limit: \`bench_kafka produce BROKERS TOPIC $rows $bytes\`" \
  "- sluice: \`time sluice run -c sluice.yaml\` (\`gen.public.items | log\`, \`log\` a \`kafka\`" \
  "  sink); it exits by itself once every message has a successful delivery report, so both" \
  "  times are a whole process, start-up included. The topic is checked to hold" \
  "  $(bench_fmt "$rows") messages." \
  "" \
  "**The source alone.** What the sink wrote, read back: the \`kafka\` source (a group of its" \
  "own, from the beginning) into the \`null\` sink, against librdkafka's consumer reading the" \
  "same topic and dropping each message. Both are timed from the partitions' assignment (the" \
  "source's log line; the consumer's rebalance callback) to the last message: sluice's end is" \
  "when \`sluice_null_changes_total\` on \`/metrics\` (polled every 20 ms) reaches" \
  "$(bench_fmt "$rows"). Joining the group is left out of both." \
  "" \
  "- limit: \`bench_kafka consume BROKERS TOPIC $rows\`" \
  "- sluice: \`sluice run -c sluice.yaml\` (\`bus.bench.sluice | sink\`, \`bus\` a \`kafka\`" \
  "  source, \`sink\` the \`null\` sink)" \
  "" \
  "**End to end.** $(bench_fmt "$rows") rows in $(bench_fmt "$txns") transactions inserted with three" \
  "slots in place (the streaming benchmark's table and method), then drained: by" \
  "pg_recvlogical, by \`postgres | kafka\`, and by \`postgres | null\` (what the PostgreSQL" \
  "source costs alone). sluice is timed from its start until its slot's" \
  "\`confirmed_flush_lsn\` reaches the end (polled every 50 ms): every row is in Kafka with a" \
  "delivery report. The topic is checked to hold $(bench_fmt "$rows") messages." \
  "" \
  "- limit: \`pg_recvlogical -d DB --slot S --start --no-loop -o proto_version=1 -o publication_names=P -f /dev/null --endpos LSN\`" \
  "- sluice: \`sluice run -c sluice.yaml\` (\`db.public.items | out\`, \`status_interval: 100ms\`)" \
  "" \
  "| | limit msgs/s | sluice msgs/s | sluice / limit | target |" \
  "| --- | ---: | ---: | ---: | ---: |" \
  "| sink: \`generate \\| kafka\` vs raw producer | $(bench_fmt "$sink_r") | $(bench_fmt "$sink_s") | $(bench_pct "$sink_s" "$sink_r") | 50% |" \
  "| source: \`kafka \\| null\` vs raw consumer | $(bench_fmt "$src_r") | $(bench_fmt "$src_s") | $(bench_pct "$src_s" "$src_r") | 50% |" \
  "| end to end: \`postgres \\| kafka\` vs pg_recvlogical | $(bench_fmt "$e2e_r") | $(bench_fmt "$e2e_s") | $(bench_pct "$e2e_s" "$e2e_r") | 90% |" \
  "| (\`postgres \\| null\` vs pg_recvlogical) | $(bench_fmt "$e2e_r") | $(bench_fmt "$e2e_n") | $(bench_pct "$e2e_n" "$e2e_r") | |" \
  "" \
  "\`postgres | kafka\` peak RSS: $(bench_median "${rss_e2e[@]}") MiB."
