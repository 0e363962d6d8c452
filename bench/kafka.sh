#!/usr/bin/env bash
# bench/kafka.sh -- the Kafka sink and source (issue 6).
#
# ============================== SLOT FOR THE KAFKA HELPER ==============================
# Not written yet: the Kafka sink/source are being written (sinks/kafka, connectors/kafka).
# Fill this in like bench/redis.sh:
#   - bench_init kafka; start a broker the way the Kafka tests do; the limit in the same
#     run, e.g. kafka-producer-perf-test / `kcat -P` of the same messages (acks=all,
#     idempotent) against sluice `generate | kafka` (time sluice run: it exits when every
#     change is acknowledged); the source side: `kafka | null` against a plain consumer.
#   - BENCH_RUNS runs per case, medians with bench_median, ratios with bench_pct; the
#     section with bench_heading and bench_md (the exact commands, one table).
# Until then this script only says so in the report, and bench/run goes on.
# =======================================================================================
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_init kafka

sluice_log "not measured yet (bench/kafka.sh is a placeholder)"
bench_heading "Kafka sink and source (issue 6)"
bench_md "Not measured yet: \`bench/kafka.sh\` is a placeholder until the Kafka sink and source land."
