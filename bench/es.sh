#!/usr/bin/env bash
# bench/es.sh -- the Elasticsearch sink (issue 5): BENCH_ROWS documents from the `generate`
# source through the `elasticsearch` sink, against bench_es_bulk posting the very same _bulk
# bodies (built by the sink's own code before its clock starts) over 1 and 4 connections.
# The target is the in-process Elasticsearch test server (bench_es_server, a fresh one per
# measurement), or the cluster at SLUICE_TEST_ES_URL when set (a fresh index per
# measurement, deleted afterwards). Run through bench/run (see bench/lib.sh).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init es

docs=$BENCH_ROWS
external=${SLUICE_TEST_ES_URL:-}
external=${external%/}
work=""
sluice_mktemp work bench-es

es_url=""     # the server of the current measurement
server_pid="" # bench_es_server's pid, when it is ours

# server_up NAME: a target for one measurement: a fresh bench_es_server (its working dir in
# $work/NAME, so clean-up stops it), or the external cluster.
server_up() {
  if [[ -n $external ]]; then
    es_url=$external
    return
  fi
  local dir=$work/$1
  mkdir -p "$dir"
  (cd "$dir" && exec setsid "$BENCH_BUILD/bench/bench_es_server" </dev/null >"$dir/url" 2>"$dir/server.log") &
  server_pid=$!
  sluice_wait_for 30 test -s "$dir/url" || sluice_die "bench_es_server did not start"
  es_url=$(<"$dir/url")
}

# server_down INDEX: checks INDEX holds every document, then stops our server or deletes
# the index from the external cluster.
server_down() {
  local index=$1 count
  curl -sf -X POST --data "" "$es_url/$index/_refresh" >/dev/null
  count=$(curl -sf "$es_url/$index/_count" | sed -n 's/.*"count": *\([0-9]*\).*/\1/p')
  [[ $count == "$docs" ]] || sluice_die "index $index holds ${count:-no} documents, expected $docs"
  if [[ -n $external ]]; then
    curl -sf -X DELETE "$es_url/$index" >/dev/null
  else
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=""
  fi
}

# through_sluice RUN: prints the seconds `sluice run` takes to index every document and exit.
through_sluice() {
  local run=$1 dir seconds index=bench_sluice_r$1_$$
  dir=$work/sluice-r$run
  mkdir -p "$dir/state"
  server_up "server-sluice-r$run"
  cat >"$dir/sluice.yaml" <<EOF
state_dir: $dir/state
log: { format: text, level: info }
sources:
  gen:
    type: generate
    changes: $docs
    payload_bytes: 100
sinks:
  search:
    type: elasticsearch
    url: $es_url
pipelines:
  es: gen.public.items | search.$index
EOF
  seconds=$(bench_sluice_time "$dir") || exit 1
  server_down "$index"
  echo "$seconds"
}

# raw_bulk RUN CONNECTIONS: prints bench_es_bulk's documents per second.
raw_bulk() {
  local run=$1 conns=$2 index=bench_raw_r$1_c$2_$$ line
  server_up "server-raw-r$run-c$conns"
  # A body (even "{}"): the test server, like any HTTP/1.1 server may, refuses a PUT without
  # a length; and this runs in $(...), where a failed curl would not stop the script.
  curl -sf -X PUT -H 'Content-Type: application/json' --data '{}' "$es_url/$index" >/dev/null ||
    sluice_die "cannot create index $index at $es_url"
  line=$("$BENCH_BUILD/bench/bench_es_bulk" --url "$es_url" --index "$index" --docs "$docs" \
    --payload-bytes 100 --bulk-actions 1000 --connections "$conns")
  server_down "$index"
  sed -n 's/.*docs_per_s=\([0-9]*\).*/\1/p' <<<"$line"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
sluice_rates=()
raw1=()
raw4=()
: >"$BENCH_OUT/es.tsv"
for ((run = 1; run <= BENCH_RUNS; run++)); do
  r1=$(raw_bulk "$run" 1)
  s=$(through_sluice "$run")
  r4=$(raw_bulk "$run" 4)
  sluice_log "run $run: raw _bulk $r1 docs/s (1 connection), $r4 docs/s (4); sluice ${s}s ($(bench_rate "$docs" "$s") docs/s)"
  sluice_rates+=("$(bench_rate "$docs" "$s")")
  raw1+=("$r1")
  raw4+=("$r4")
  printf '%s\t%s\t%s\t%s\n' "$run" "$r1" "$s" "$r4" >>"$BENCH_OUT/es.tsv"
done

s=$(bench_median "${sluice_rates[@]}")
r1=$(bench_median "${raw1[@]}")
r4=$(bench_median "${raw4[@]}")
if [[ -n $external ]]; then
  target="the cluster at SLUICE_TEST_ES_URL ($(curl -sf "$external" | sed -n 's/.*"number" *: *"\([^"]*\)".*/\1/p' | head -n1))"
else
  target="the in-process Elasticsearch test server (\`tests/support/es_test_server.*\`, run by \`bench_es_server\`; a fresh one per measurement). It stores documents in memory and answers from a thread pool: it measures what sluice costs, not what a cluster costs; set \`SLUICE_TEST_ES_URL\` to measure against a real cluster"
fi
bench_ratio "search sink vs raw _bulk, 1 connection" "$s" "$r1"
bench_heading "Elasticsearch sink (issue 5)"
bench_md "$(bench_fmt "$docs") documents (one change per transaction, each a new \`_id\`, the" \
  "\`generate\` row with a 100-byte payload) into $target." \
  "" \
  "- limit: \`bench_es_bulk --url URL --index I --docs $docs --payload-bytes 100 --bulk-actions 1000 --connections C\`:" \
  "  the same \`_bulk\` bodies sluice sends (same documents, \`_id\`s, \`external_gte\` versions," \
  "  1,000 per request), built with the sink's own code before the clock starts, posted over" \
  "  C keep-alive connections" \
  "- sluice: \`time sluice run -c sluice.yaml\` (\`generate\` with \`changes: $docs\`," \
  "  \`payload_bytes: 100\`, piped \`| search.INDEX\`, default \`bulk_actions: 1000\`); it exits by" \
  "  itself once every document is acknowledged, so the time includes start-up and creating" \
  "  the index. Every index is checked to hold all $(bench_fmt "$docs") documents." \
  "" \
  "| | documents/s | sluice / limit |" \
  "| --- | ---: | ---: |" \
  "| raw \`_bulk\`, 1 connection | $(bench_fmt "$r1") | $(bench_pct "$s" "$r1") |" \
  "| raw \`_bulk\`, 4 connections | $(bench_fmt "$r4") | $(bench_pct "$s" "$r4") |" \
  "| sluice \`generate | elasticsearch\` | $(bench_fmt "$s") | |" \
  "" \
  "Target (issue 5): sluice at least 80% of raw bulk. The sink keeps one \`_bulk\` request in" \
  "flight at a time (it builds the next one meanwhile), so the like-for-like limit is the" \
  "single connection; 4 connections show what the server takes when driven in parallel." \
  "Load average (2 cores, shared): $load_start at the start of this benchmark," \
  "$(cut -d' ' -f1-3 /proc/loadavg) at its end."
