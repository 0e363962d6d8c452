# shellcheck shell=bash
#
# bench/lib.sh -- what the benchmark scripts share. Sourced by bench/run and by each
# bench/<name>.sh. bench/run builds the binaries, starts PostgreSQL and Redis, and
# exports (every script relies on these):
#
#   BENCH_SLUICE     the release sluice binary
#   BENCH_BUILD      its build dir (bench_es_server, bench_es_bulk, bench_latency in bench/)
#   BENCH_OUT        where each script writes its report section, <name>.md, and raw data
#   BENCH_ROWS       rows / changes / documents per measurement (default 1000000)
#   BENCH_RUNS       measurements per case; tables show the median (default 3)
#   PGHOST PGPORT PGUSER, BENCH_PG_BINDIR    the throwaway PostgreSQL
#   BENCH_REDIS_HOST BENCH_REDIS_PORT        the throwaway Redis
#
# A script started by hand without them re-runs itself through bench/run
# (`bench/snapshot.sh` is `bench/run snapshot`).
#
# Every background process a script starts runs with its working directory inside a temp
# dir from sluice_mktemp, so sluice_cleanup (the EXIT trap) stops it: it kills what runs
# inside the registered dirs, and nothing else.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/servers.sh
source "$BENCH_ROOT/scripts/lib/servers.sh"

# bench_init NAME
#   Start of every bench/<name>.sh: re-runs through bench/run when started by hand, sets
#   the log prefix and the clean-up trap, and opens the report section $BENCH_OUT/NAME.md.
bench_init() {
  local name=$1
  if [[ -z ${BENCH_OUT:-} ]]; then
    exec "$BENCH_ROOT/bench/run" "$name"
  fi
  SLUICE_LOG_PREFIX="bench $name"
  sluice_install_traps sluice_cleanup
  BENCH_SECTION=$BENCH_OUT/$name.md
  : >"$BENCH_SECTION"
}

# bench_heading TITLE
#   Opens the section: "## TITLE" and when, on which commit and at which sizes it was
#   measured (sections of earlier runs may sit beside it in the report).
bench_heading() {
  bench_md "## $1" "" "_Measured $(date -u '+%Y-%m-%d %H:%M UTC') at commit $(git -C "$BENCH_ROOT" rev-parse --short HEAD), BENCH_ROWS=${BENCH_ROWS:-}, BENCH_RUNS=${BENCH_RUNS:-}._" ""
}

# bench_ratio LABEL PART WHOLE [TARGET]   Records a case for the report's plot: sluice as
# PART/WHOLE of its limit (rates, or the limit's time over sluice's), the issue's target in
# percent if it has one.
bench_ratio() {
  awk -v l="$1" -v p="$2" -v w="$3" -v t="${4:-}" -v OFS='\t' \
    'BEGIN { if (w > 0) print l, sprintf("%.1f", 100 * p / w), t }' >>"$BENCH_OUT/ratios.tsv"
}

# bench_md LINE...   Appends lines to this benchmark's report section.
bench_md() {
  printf '%s\n' "$@" >>"$BENCH_SECTION"
}

# bench_now          Prints the wall clock in seconds with microseconds.
bench_now() {
  printf '%s\n' "$EPOCHREALTIME"
}

# bench_calc EXPR    Prints the value of an awk expression (floating point).
bench_calc() {
  awk "BEGIN { printf \"%.6g\\n\", $1 }"
}

# bench_rate COUNT SECONDS   Prints COUNT/SECONDS rounded to a whole number.
bench_rate() {
  awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f\n", n / s }'
}

# bench_median VALUE...      Prints the median of the values.
bench_median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_pct PART WHOLE       Prints PART/WHOLE as a percentage with no decimals ("87%").
bench_pct() {
  awk -v p="$1" -v w="$2" 'BEGIN { if (w > 0) printf "%.0f%%\n", 100 * p / w; else print "n/a" }'
}

# bench_fmt NUMBER           Prints a whole number with thousands separators (1,234,567).
bench_fmt() {
  awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); out = "";
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    print s out }'
}

# bench_psql DB [PSQL_ARGS...]   psql as the superuser, unaligned, tuples only.
bench_psql() {
  local db=$1
  shift
  "$BENCH_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"
}

# bench_log_time LOG REGEX   Prints the epoch time (s.us) of the first line of a sluice
#   text log matching REGEX, from the line's own timestamp; fails if there is none.
bench_log_time() {
  local line stamp
  line=$(grep -m1 -E "$2" "$1") || return 1
  stamp=${line%% *}
  date -u -d "$stamp" +%s.%6N
}

# bench_sluice_start VAR DIR CONFIG
#   Starts `sluice run -c CONFIG` in its own session with working directory DIR (a
#   sluice_mktemp dir, so clean-up stops it), its log in DIR/sluice.log, and stores its pid
#   in VAR.
bench_sluice_start() {
  local _bss_var=$1 dir=$2 config=$3
  (cd "$dir" && exec setsid "$BENCH_SLUICE" run -c "$config" </dev/null >"$dir/sluice.out" 2>>"$dir/sluice.log") &
  printf -v "$_bss_var" '%s' "$!"
}

# bench_sluice_stop PID      SIGTERM, then waits (60 s) for a clean exit; fails otherwise.
bench_sluice_stop() {
  local pid=$1 status=0
  kill -TERM "$pid" 2>/dev/null || true
  if ! sluice_wait_for 60 _sluice_pid_gone "$pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    sluice_log "error: sluice (pid $pid) did not stop within 60 s of SIGTERM"
    return 1
  fi
  wait "$pid" || status=$?
  if ((status != 0)); then
    sluice_log "error: sluice exited with status $status"
    return 1
  fi
}

# bench_sluice_time DIR
#   Runs `sluice run -c DIR/sluice.yaml` (working directory DIR) until it exits by itself (a
#   `generate` source stops it once every change is durable) and prints the seconds it took,
#   start-up included; fails, showing the log's end, if sluice exits with an error.
bench_sluice_time() {
  local dir=$1 pid start seconds status=0
  start=$(bench_now)
  bench_sluice_start pid "$dir" "$dir/sluice.yaml"
  wait "$pid" || status=$?
  seconds=$(bench_calc "$(bench_now) - $start")
  if ((status != 0)); then
    tail -n 20 "$dir/sluice.log" >&2
    sluice_die "sluice exited with status $status"
  fi
  echo "$seconds"
}

# bench_pid_alive PID
#   sluice_pid_alive without a process: reads /proc/PID/stat with bash builtins. The polling
#   loops run beside the process they measure on the same cores, where a `ps` every 50 ms
#   costs a noticeable share of a core.
bench_pid_alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# bench_wait_log SECONDS PID LOG REGEX
#   Waits until LOG has a line matching REGEX; fails (showing the log's end) if PID exits
#   first or SECONDS pass.
bench_wait_log() {
  local seconds=$1 pid=$2 log=$3 regex=$4
  local deadline=$((SECONDS + seconds))
  until grep -qE "$regex" "$log" 2>/dev/null; do
    if ! bench_pid_alive "$pid" || ((SECONDS >= deadline)); then
      sluice_log "error: no log line matching '$regex' (sluice pid $pid); its log ends:"
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.05
  done
}

# bench_cpu PID              Prints the CPU seconds (user + system) PID has used so far, its
#   threads that already ended included.
bench_cpu() {
  local stat ticks
  ticks=$(getconf CLK_TCK)
  read -r stat <"/proc/$1/stat"
  stat=${stat##*) }  # the fields after the command name; utime and stime are the 12th and 13th
  awk -v s="$stat" -v t="$ticks" 'BEGIN { split(s, f, " "); printf "%.2f\n", (f[12] + f[13]) / t }'
}

# bench_us_per SECONDS COUNT  Prints SECONDS/COUNT in microseconds, two decimals.
bench_us_per() {
  awk -v s="$1" -v n="$2" 'BEGIN { printf "%.2f\n", s * 1000000 / n }'
}

# bench_vmhwm PID            Prints the peak resident set of PID in MiB (VmHWM).
bench_vmhwm() {
  awk '/^VmHWM:/ { printf "%.0f\n", $2 / 1024 }' "/proc/$1/status"
}

# bench_pg_dsn DB            Prints a libpq connection string for DB on the bench server.
bench_pg_dsn() {
  printf 'host=%s port=%s user=%s dbname=%s\n' "$PGHOST" "$PGPORT" "$PGUSER" "$1"
}

# bench_drop_slot DB SLOT    Drops replication slot SLOT once no process holds it (a
#   walsender may outlive its client for a moment). Harmless if there is no such slot.
bench_drop_slot() {
  local db=$1 slot=$2
  sluice_wait_for 30 _bench_slot_free "$db" "$slot" ||
    sluice_die "replication slot $slot is still in use"
  bench_psql "$db" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                       WHERE slot_name = '$slot'" >/dev/null
}

_bench_slot_free() {
  [[ $(bench_psql "$1" -c "SELECT count(*) FROM pg_replication_slots
                           WHERE slot_name = '$2' AND active") == 0 ]]
}

# --- draining a slot (bench/streaming.sh, bench/kafka.sh) -------------------------------

# bench_items_ddl [STORAGE_PARAMETERS]
#   Prints the CREATE TABLE of `items`, the row shape the snapshot, streaming and Kafka
#   benchmarks share, with WITH (STORAGE_PARAMETERS) when given.
bench_items_ddl() {
  cat <<SQL
CREATE TABLE items (
  id         bigint PRIMARY KEY,
  name       text NOT NULL,
  price      numeric(10,2),
  quantity   int,
  tags       text,
  payload    text,
  updated_at timestamptz
)${1:+ WITH ($1)};
SQL
}

# bench_items_db DB PUBLICATION
#   A fresh database DB with an empty table `items` and PUBLICATION for it. No autovacuum on
#   the table: its WAL would land between the inserts and the end position of a drain.
bench_items_db() {
  local db=$1 publication=$2
  bench_psql postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  {
    bench_items_ddl "autovacuum_enabled = off"
    echo "CREATE PUBLICATION $publication FOR TABLE items;"
  } | bench_psql "$db"
}

# bench_items_insert_sql ROWS TRANSACTIONS
#   Prints the statements that insert ROWS rows into items, in TRANSACTIONS INSERTs (each its
#   own transaction) of equal id ranges.
bench_items_insert_sql() {
  local rows=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    echo "INSERT INTO items SELECT g, 'item ' || g, (g % 100000) / 100.0, g % 1000," \
      "'tag' || g % 17 || ',tag' || g % 5, repeat(md5(g::text), 3)," \
      "timestamptz '2024-01-01' + g * interval '1 second'" \
      "FROM generate_series($((rows * i / n + 1)), $((rows * (i + 1) / n))) g;"
  done
}

# bench_slot_confirmed DB SLOT LSN   True once SLOT has confirmed LSN.
bench_slot_confirmed() {
  [[ $(bench_psql "$1" -c "SELECT confirmed_flush_lsn >= '$3'::pg_lsn FROM pg_replication_slots WHERE slot_name = '$2'") == t ]]
}

# bench_drain_prepare VAR DB RECV_SLOT ROWS TRANSACTIONS DIR...
#   Sets up one drain of items: empties the table; lets each sluice of DIR... (config
#   DIR/sluice.yaml, state in DIR/state, emptied first) create its own slot (a snapshot of
#   the empty table; stopped once it streams); creates pg_recvlogical's slot RECV_SLOT right
#   after; inserts ROWS rows in TRANSACTIONS transactions. Stores in VAR the WAL insert
#   position right after the last commit, where every drain ends.
bench_drain_prepare() {
  local _bdp_var=$1 db=$2 recv_slot=$3 rows=$4 txns=$5 dir pid lsn
  shift 5
  bench_psql "$db" -c "TRUNCATE items"
  for dir in "$@"; do
    rm -rf "$dir/state" "$dir/sluice.log"
    mkdir "$dir/state"
    bench_sluice_start pid "$dir" "$dir/sluice.yaml"
    bench_wait_log 120 "$pid" "$dir/sluice.log" "streaming from slot"
    bench_sluice_stop "$pid"
  done
  "$BENCH_PG_BINDIR/pg_recvlogical" -d "$(bench_pg_dsn "$db")" --slot "$recv_slot" \
    --create-slot -P pgoutput
  sluice_log "inserting $rows rows ($txns transactions)"
  lsn=$({
    bench_items_insert_sql "$rows" "$txns"
    echo "SELECT pg_current_wal_insert_lsn();"
  } | bench_psql "$db")
  printf -v "$_bdp_var" '%s' "$lsn"
}

# bench_drain_recv DB SLOT PUBLICATION LSN
#   Prints the seconds pg_recvlogical (pgoutput, no decoding on the client, into /dev/null)
#   takes to receive everything up to LSN from SLOT.
bench_drain_recv() {
  local db=$1 slot=$2 publication=$3 lsn=$4 start
  start=$(bench_now)
  "$BENCH_PG_BINDIR/pg_recvlogical" -d "$(bench_pg_dsn "$db")" --slot "$slot" --start \
    --no-loop -o proto_version=1 -o publication_names="$publication" -f /dev/null --endpos "$lsn"
  bench_calc "$(bench_now) - $start"
}

# bench_wait_confirmed DB SLOT LSN
#   Waits server-side, in one session, until SLOT has confirmed LSN (checking every 20 ms),
#   then prints the server's clock as epoch seconds. One backend for the whole wait: a psql
#   process and a fresh backend every 50 ms cost a 2-core machine about a third of a core,
#   taken from the walsender and the sluice being measured.
bench_wait_confirmed() {
  bench_psql "$1" <<SQL
DO \$\$
BEGIN
  LOOP
    EXIT WHEN (SELECT confirmed_flush_lsn >= '$3'::pg_lsn FROM pg_replication_slots
               WHERE slot_name = '$2');
    PERFORM pg_sleep(0.02);
  END LOOP;
END
\$\$;
SELECT to_char(extract(epoch FROM clock_timestamp()), 'FM9999999999.000000');
SQL
}

# bench_drain_sluice DB SLOT LSN DIR
#   Prints "SECONDS PEAK_RSS_MIB": from the start of sluice (DIR/sluice.yaml, whose source
#   reads SLOT) until SLOT has confirmed LSN (every change durable in every sink; see
#   bench_wait_confirmed), and sluice's VmHWM then. Stops sluice.
bench_drain_sluice() {
  local db=$1 slot=$2 lsn=$3 dir=$4 start pid seconds rss waiter end
  : >"$dir/sluice.log"
  bench_wait_confirmed "$db" "$slot" "$lsn" >"$dir/confirmed.at" &
  waiter=$!
  start=$(bench_now)
  bench_sluice_start pid "$dir" "$dir/sluice.yaml"
  while bench_pid_alive "$waiter"; do
    if ! bench_pid_alive "$pid"; then
      kill "$waiter" 2>/dev/null || true
      tail -n 20 "$dir/sluice.log" >&2
      sluice_die "sluice exited before draining the slot"
    fi
    sleep 0.2
  done
  wait "$waiter" || sluice_die "waiting for slot $slot to confirm $lsn failed"
  end=$(tail -n 1 "$dir/confirmed.at")
  seconds=$(bench_calc "$end - $start")
  rss=$(bench_vmhwm "$pid")
  bench_sluice_stop "$pid" >&2
  echo "$seconds $rss"
}
