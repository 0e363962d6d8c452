# shellcheck shell=bash disable=SC2034  # the SLUICE_PG_*/SLUICE_REDIS_* results are for callers
#
# scripts/lib/servers.sh -- shared bash functions for sluice's scripts: throwaway
# PostgreSQL 15, MariaDB and Redis servers on free loopback ports, their temp dirs, clean-up,
# and the cmake build. Sourced by scripts/test, scripts/quickstart, bench/ and the
# fault scripts:
#
#     source "$(dirname "$0")/lib/servers.sh"      # path relative to the caller
#     SLUICE_LOG_PREFIX=bench                      # prefix of progress lines
#     sluice_install_traps                         # EXIT/INT/TERM/HUP -> sluice_cleanup
#     sluice_pg_start                              # sets SLUICE_PG_* (below)
#     sluice_redis_start                           # sets SLUICE_REDIS_* (below)
#     sluice_mariadb_start                         # sets SLUICE_MARIADB_* (below)
#
# Conventions
# - Works under `set -euo pipefail`; changes no shell option of the caller.
# - Functions that create something (sluice_mktemp, sluice_pg_start,
#   sluice_redis_start) register it for sluice_cleanup and report through global
#   variables, so call them directly, never inside $(...): a subshell would lose the
#   registration and the variables. For several servers of one kind, copy the
#   variables after each call.
# - The result variables are NOT exported; export what you hand on to children.
# - When run as root, PostgreSQL runs as the Debian `postgres` system user (it refuses
#   to run as root) and MariaDB as `mysql`; Redis runs as the invoking user (root or
#   not). When run as a normal user, everything runs as that user and every temp dir
#   is theirs.
# - Temp dirs live under $TMPDIR (default /tmp); under /tmp instead if $TMPDIR is
#   too long for a unix socket path, or (as root) the `postgres` user cannot reach it.
# - Only servers and processes started through these functions are ever stopped:
#   clean-up works from the registered dirs, never from process names.

[[ -n ${_SLUICE_SERVERS_SH:-} ]] && return 0
_SLUICE_SERVERS_SH=1

# Repository root (this file is scripts/lib/servers.sh).
SLUICE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Prefix of the progress lines printed by sluice_log.
SLUICE_LOG_PREFIX=${SLUICE_LOG_PREFIX:-sluice}
# Temp dirs to stop servers in and remove, in creation order (see sluice_cleanup).
_SLUICE_CLEANUP_DIRS=()

# sluice_log MESSAGE...
#   Prints "PREFIX: MESSAGE" on stderr.
sluice_log() {
  printf '%s: %s\n' "$SLUICE_LOG_PREFIX" "$*" >&2
}

# sluice_die MESSAGE...
#   Prints the message on stderr and exits the script with status 1 (an EXIT trap,
#   such as the one sluice_install_traps sets, then cleans up).
sluice_die() {
  sluice_log "error: $*"
  exit 1
}

# sluice_wait_for SECONDS COMMAND [ARGS...]
#   Runs COMMAND every 0.1 s until it succeeds (returns 0) or SECONDS have passed
#   (returns 1). COMMAND's output is not redirected.
sluice_wait_for() {
  local timeout=$1
  shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# sluice_pid_alive PID
#   True while process PID exists and is not a zombie.
sluice_pid_alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $stat && $stat != Z* ]]
}

# sluice_free_port
#   Prints a TCP port that is free on 127.0.0.1 right now (the kernel picks it:
#   bind to port 0). The start functions retry with a new port if another process
#   takes it before the server binds.
sluice_free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# sluice_pg_bindir
#   Prints the directory of the PostgreSQL 15 server binaries ($SLUICE_PG_BINDIR if
#   set, else /usr/lib/postgresql/15/bin).
sluice_pg_bindir() {
  local dir=${SLUICE_PG_BINDIR:-/usr/lib/postgresql/15/bin}
  [[ -x $dir/postgres ]] || {
    sluice_log "error: no PostgreSQL binaries in $dir (run scripts/setup)"
    return 1
  }
  printf '%s\n' "$dir"
}

# sluice_pg_os_user
#   Prints the operating-system user PostgreSQL runs as: `postgres` when invoked as
#   root, else the invoking user.
sluice_pg_os_user() {
  if ((EUID == 0)); then
    getent passwd postgres >/dev/null || {
      sluice_log "error: no 'postgres' system user (run scripts/setup)"
      return 1
    }
    echo postgres
  else
    id -un
  fi
}

# sluice_as_pg_user COMMAND [ARGS...]
#   Runs COMMAND as the PostgreSQL OS user (runuser when root, directly otherwise),
#   from the directory / so that an unreadable working directory does not matter.
sluice_as_pg_user() {
  if ((EUID == 0)); then
    (cd / && exec runuser -u postgres -- "$@")
  else
    (cd / && exec "$@")
  fi
}

# _sluice_tmpbase
#   Prints the directory temp dirs are created in.
_sluice_tmpbase() {
  local base=${TMPDIR:-/tmp}
  # A unix socket path has at most 107 bytes: DIR/sock/.s.PGSQL.PORT must fit.
  if ((${#base} > 60)); then
    base=/tmp
  elif ((EUID == 0)) && ! runuser -u postgres -- test -x "$base" 2>/dev/null; then
    base=/tmp
  fi
  printf '%s\n' "$base"
}

# sluice_mktemp VAR [NAME]
#   Creates a fresh temp dir "NAME.XXXXXX" (default name: sluice), owned by the
#   invoking user, mode 0755, registers it for sluice_cleanup, and stores its path
#   in the variable VAR.
sluice_mktemp() {
  # Locals carry a prefix: printf -v must reach the caller's VAR, whatever its name.
  local _smt_var=$1 _smt_name=${2:-sluice} _smt_dir
  _smt_dir=$(mktemp -d "$(_sluice_tmpbase)/$_smt_name.XXXXXX")
  _SLUICE_CLEANUP_DIRS+=("$_smt_dir")
  chmod 0755 "$_smt_dir"
  printf -v "$_smt_var" '%s' "$_smt_dir"
}

# sluice_pg_start [SETTING...]
#   Each SETTING is a postgresql.conf line appended after the defaults (later lines
#   win), e.g. sluice_pg_start "wal_level = replica".
#   Starts a throwaway PostgreSQL 15 in a fresh temp dir: initdb (superuser
#   `postgres`, trust auth, UTF8, C locale), listening on 127.0.0.1 at a free port,
#   unix socket in DIR/sock, wal_level=logical, 64 slots and WAL senders, 200
#   connections, fsync on, synchronous_commit off, server log in DIR/postgres.log.
#   Waits (with a deadline) until pg_isready answers. Sets:
#     SLUICE_PG_HOST        127.0.0.1
#     SLUICE_PG_PORT        the port
#     SLUICE_PG_USER        postgres (the database superuser)
#     SLUICE_PG_DIR         the temp dir
#     SLUICE_PG_DATA        the data directory (DIR/data)
#     SLUICE_PG_LOG         the server log (DIR/postgres.log)
#     SLUICE_PG_SOCKET_DIR  the unix socket directory (DIR/sock)
#     SLUICE_PG_CTL         DIR/pg_ctl, an executable wrapper: pg_ctl run as the right
#                           user with -D DATA -l LOG preset, arguments passed on,
#                           e.g. "$SLUICE_PG_CTL" restart -m fast -w
#   The server runs in its own session, so a Ctrl-C in the terminal does not reach
#   it; sluice_cleanup (or sluice_pg_stop DIR) stops it.
sluice_pg_start() {
  local bindir user dir data log sockdir port attempt ctl
  bindir=$(sluice_pg_bindir)
  user=$(sluice_pg_os_user)
  sluice_mktemp dir sluice-pg
  data=$dir/data
  log=$dir/postgres.log
  sockdir=$dir/sock
  ctl=$dir/pg_ctl
  mkdir -m 0700 "$data"
  mkdir -m 0755 "$sockdir"
  : >"$log"
  if ((EUID == 0)); then
    chown "$user": "$data" "$sockdir" "$log"
  fi

  if ! sluice_as_pg_user "$bindir/initdb" -D "$data" -U postgres --auth=trust \
    --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
    sluice_log "error: initdb failed:"
    tail -n 20 "$dir/initdb.log" >&2
    return 1
  fi

  # The wrapper is owned by the invoking user (not by postgres) in a dir postgres
  # cannot write, so the server user cannot change what root runs.
  {
    echo '#!/usr/bin/env bash'
    echo "# pg_ctl for the throwaway PostgreSQL in $dir (written by scripts/lib/servers.sh)."
    echo 'cd / || exit 1'
    if ((EUID == 0)); then
      printf 'exec runuser -u postgres -- %q -D %q -l %q "$@"\n' "$bindir/pg_ctl" "$data" "$log"
    else
      printf 'exec %q -D %q -l %q "$@"\n' "$bindir/pg_ctl" "$data" "$log"
    fi
  } >"$ctl"
  chmod 0755 "$ctl"

  cat >>"$data/postgresql.conf" <<EOF

# --- throwaway server settings (scripts/lib/servers.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
max_connections = 200
fsync = on
synchronous_commit = off
shared_buffers = 128MB
wal_sender_timeout = 60s
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_replication_commands = on
EOF
  local setting
  for setting in "$@"; do
    echo "$setting" >>"$data/postgresql.conf"
  done

  for attempt in 1 2 3; do
    port=$(sluice_free_port)
    # Later lines win: a retry appends a new port.
    echo "port = $port" >>"$data/postgresql.conf"
    sluice_log "starting PostgreSQL on 127.0.0.1:$port (log: $log)"
    if "$ctl" start -w -t 120 >"$dir/pg_ctl-start.out" 2>&1; then
      break
    fi
    if ((attempt < 3)) && grep -qE 'could not bind|Address already in use' "$log"; then
      sluice_log "port $port was taken meanwhile; retrying with another"
      continue
    fi
    sluice_log "error: PostgreSQL did not start:"
    cat "$dir/pg_ctl-start.out" >&2
    tail -n 20 "$log" >&2
    return 1
  done

  if ! sluice_wait_for 60 "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
    sluice_log "error: PostgreSQL on 127.0.0.1:$port did not become ready within 60 s:"
    tail -n 20 "$log" >&2
    return 1
  fi

  SLUICE_PG_HOST=127.0.0.1
  SLUICE_PG_PORT=$port
  SLUICE_PG_USER=postgres
  SLUICE_PG_DIR=$dir
  SLUICE_PG_DATA=$data
  SLUICE_PG_LOG=$log
  SLUICE_PG_SOCKET_DIR=$sockdir
  SLUICE_PG_CTL=$ctl
}

# sluice_psql DBNAME [PSQL_ARGS...]
#   Runs psql against the server of the last sluice_pg_start, as the superuser,
#   quietly, without ~/.psqlrc, stopping at the first error. SQL comes from -c or
#   stdin.
sluice_psql() {
  local db=$1
  shift
  "$(sluice_pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$SLUICE_PG_HOST" \
    -p "$SLUICE_PG_PORT" -U "$SLUICE_PG_USER" -d "$db" "$@"
}

# sluice_mariadb_os_user
#   Prints the operating-system user MariaDB runs as: `mysql` when invoked as root
#   (mariadbd refuses to run as root without being told), else the invoking user.
sluice_mariadb_os_user() {
  if ((EUID == 0)); then
    getent passwd mysql >/dev/null || {
      sluice_log "error: no 'mysql' system user (run scripts/setup)"
      return 1
    }
    echo mysql
  else
    id -un
  fi
}

# sluice_mariadb_start [SETTING...]
#   Each SETTING is a line for the [mariadbd] section after the defaults (later lines
#   win), e.g. sluice_mariadb_start "binlog_format = STATEMENT".
#   Starts a throwaway MariaDB in a fresh temp dir, reading no configuration but its own
#   (DIR/my.cnf): mariadb-install-db into DIR/data, listening on 127.0.0.1 at a free
#   port, unix socket DIR/mysqld.sock, the binary log on (DIR/data/binlog.*) with
#   binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL, server_id 1,
#   GTID domain 0 and strict GTID mode, utf8mb4, small memory settings
#   (innodb_buffer_pool_size 64M), error log in DIR/mariadb.log. The user `root` may
#   connect from 127.0.0.1 without a password and has every privilege. Waits (with a
#   deadline) until it answers. Sets:
#     SLUICE_MARIADB_HOST    127.0.0.1
#     SLUICE_MARIADB_PORT    the port
#     SLUICE_MARIADB_USER    root
#     SLUICE_MARIADB_DIR     the temp dir
#     SLUICE_MARIADB_DATA    the data directory (DIR/data, the binary logs too)
#     SLUICE_MARIADB_LOG     the error log (DIR/mariadb.log)
#     SLUICE_MARIADB_SOCKET  the unix socket
#     SLUICE_MARIADB_CTL     DIR/ctl, an executable: `start` (waits until it answers),
#                            `stop` (clean shutdown, waits), `restart`, `kill` (SIGKILL)
#   The server runs in its own session; sluice_cleanup (or sluice_mariadb_stop DIR)
#   stops it.
sluice_mariadb_start() {
  local user dir data log sock cnf port attempt ctl
  command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || {
    sluice_log "error: mariadbd not found (run scripts/setup)"
    return 1
  }
  user=$(sluice_mariadb_os_user)
  sluice_mktemp dir sluice-mariadb
  data=$dir/data
  log=$dir/mariadb.log
  sock=$dir/mysqld.sock
  cnf=$dir/my.cnf
  ctl=$dir/ctl
  mkdir -m 0700 "$data" "$dir/tmp"
  : >"$log"
  if ((EUID == 0)); then
    chown "$user": "$data" "$dir/tmp" "$log"
    # The server creates its socket and pid file here.
    chown "$user": "$dir"
  fi
  port=$(sluice_free_port)
  {
    echo "# throwaway MariaDB (scripts/lib/servers.sh)"
    echo "[mariadbd]"
    echo "user = $user"
    echo "datadir = $data"
    echo "tmpdir = $dir/tmp"
    echo "socket = $sock"
    echo "pid_file = $dir/mariadbd.pid"
    echo "log_error = $log"
    echo "bind_address = 127.0.0.1"
    echo "skip_name_resolve = ON"
    echo "log_bin = binlog"
    echo "binlog_format = ROW"
    echo "binlog_row_image = FULL"
    echo "binlog_row_metadata = FULL"
    echo "server_id = 1"
    echo "gtid_domain_id = 0"
    echo "gtid_strict_mode = ON"
    echo "character_set_server = utf8mb4"
    echo "collation_server = utf8mb4_general_ci"
    echo "innodb_buffer_pool_size = 64M"
    echo "innodb_log_file_size = 48M"
    echo "innodb_log_buffer_size = 8M"
    echo "innodb_flush_log_at_trx_commit = 2"
    echo "innodb_use_native_aio = OFF"
    echo "sync_binlog = 0"
    echo "key_buffer_size = 8M"
    echo "performance_schema = OFF"
    echo "max_connections = 200"
    echo "max_allowed_packet = 64M"
    local setting
    for setting in "$@"; do echo "$setting"; done
    echo "port = $port"
  } >"$cnf"
  chmod 0644 "$cnf"

  if ! (cd / && mariadb-install-db --defaults-file="$cnf" --auth-root-authentication-method=normal \
    --skip-test-db >"$dir/install-db.log" 2>&1); then
    sluice_log "error: mariadb-install-db failed:"
    tail -n 20 "$dir/install-db.log" >&2
    return 1
  fi

  # The control script is owned by the invoking user in a dir the server user cannot
  # replace it in (root runs it).
  {
    echo '#!/usr/bin/env bash'
    echo "# start|stop|restart|kill the throwaway MariaDB in $dir (scripts/lib/servers.sh)."
    echo 'set -u'
    printf 'dir=%q\n' "$dir"
    cat <<'CTL'
pid() { local p; p=$(cat "$dir/server.pid" 2>/dev/null) || return 1; [[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && echo "$p"; }
up() { mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot --connect-timeout=1 ping >/dev/null 2>&1; }
start() {
  pid >/dev/null && return 0
  (cd / && exec setsid /usr/sbin/mariadbd --defaults-file="$dir/my.cnf" </dev/null >>"$dir/mariadbd.out" 2>&1) &
  echo $! >"$dir/server.pid"
  for _ in $(seq 1200); do up && return 0; pid >/dev/null || break; sleep 0.1; done
  echo "MariaDB in $dir did not start; see $dir/mariadb.log" >&2; return 1
}
stop() {
  local p; p=$(pid) || return 0
  kill -TERM "$p"
  for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null; return 0
}
case ${1:-} in
  start) start ;;
  stop) stop ;;
  restart) stop && start ;;
  kill) p=$(pid) && kill -KILL "$p"; for _ in $(seq 100); do pid >/dev/null || exit 0; sleep 0.1; done ;;
  *) echo "usage: $0 start|stop|restart|kill" >&2; exit 2 ;;
esac
CTL
  } >"$ctl"
  chmod 0755 "$ctl"

  for attempt in 1 2 3; do
    sluice_log "starting MariaDB on 127.0.0.1:$port (log: $log)"
    if "$ctl" start; then
      break
    fi
    if ((attempt < 3)) && grep -qE 'Address already in use|Do you already have another' "$log"; then
      sluice_log "port $port was taken meanwhile; retrying with another"
      port=$(sluice_free_port)
      echo "port = $port" >>"$cnf"
      continue
    fi
    sluice_log "error: MariaDB did not start:"
    tail -n 20 "$log" >&2
    return 1
  done

  # install-db made root@localhost (the socket); tests and sluice come over TCP.
  if ! mariadb --no-defaults --socket="$sock" -uroot -e \
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" \
    >>"$dir/install-db.log" 2>&1; then
    sluice_log "error: could not create root@127.0.0.1:"
    tail -n 5 "$dir/install-db.log" >&2
    return 1
  fi

  SLUICE_MARIADB_HOST=127.0.0.1
  SLUICE_MARIADB_PORT=$port
  SLUICE_MARIADB_USER=root
  SLUICE_MARIADB_DIR=$dir
  SLUICE_MARIADB_DATA=$data
  SLUICE_MARIADB_LOG=$log
  SLUICE_MARIADB_SOCKET=$sock
  SLUICE_MARIADB_CTL=$ctl
}

# sluice_mariadb DATABASE [MARIADB_ARGS...]
#   Runs the mariadb client against the server of the last sluice_mariadb_start, as
#   root, reading no option files. SQL comes from -e or stdin.
sluice_mariadb() {
  local db=$1
  shift
  mariadb --no-defaults -h "$SLUICE_MARIADB_HOST" -P "$SLUICE_MARIADB_PORT" \
    -u "$SLUICE_MARIADB_USER" "$db" "$@"
}

# sluice_mariadb_stop DIR
#   Stops the throwaway MariaDB in temp dir DIR (SIGKILL: the data is thrown away),
#   then whatever of it is left. Does not remove DIR. Harmless if it is already gone.
sluice_mariadb_stop() {
  local dir=$1
  [[ -x $dir/ctl ]] && "$dir/ctl" kill >/dev/null 2>&1
  _sluice_kill_inside "$dir"
}

# sluice_pg_stop DIR
#   Stops the throwaway PostgreSQL in temp dir DIR (immediate shutdown; the data is
#   thrown away anyway), then kills whatever of it is left. Does not remove DIR.
#   Harmless if the server is already stopped or was killed.
sluice_pg_stop() {
  local dir=$1
  if [[ -f $dir/data/postmaster.pid && -x $dir/pg_ctl ]]; then
    "$dir/pg_ctl" stop -m immediate -w -t 30 >/dev/null 2>&1 || true
  fi
  _sluice_kill_inside "$dir"
}

# sluice_redis_start
#   Starts a throwaway Redis in a fresh temp dir on a free 127.0.0.1 port, without
#   persistence (--save "" --appendonly no), in its own session, as the invoking
#   user. Waits (with a deadline) until `redis-cli ping` answers PONG. Sets:
#     SLUICE_REDIS_HOST  127.0.0.1
#     SLUICE_REDIS_PORT  the port
#     SLUICE_REDIS_URL   redis://127.0.0.1:PORT/0
#     SLUICE_REDIS_DIR   the temp dir (its working dir)
#     SLUICE_REDIS_LOG   its log file (DIR/redis.log)
#     SLUICE_REDIS_PID   its process id (also in DIR/redis.pid, which this file
#                        writes; Redis itself is given no --pidfile)
sluice_redis_start() {
  local dir log port pid attempt
  command -v redis-server >/dev/null || {
    sluice_log "error: redis-server not found (run scripts/setup)"
    return 1
  }
  sluice_mktemp dir sluice-redis
  log=$dir/redis.log
  for attempt in 1 2 3; do
    port=$(sluice_free_port)
    sluice_log "starting Redis on 127.0.0.1:$port (log: $log)"
    # A background job of a script is not a process-group leader, so setsid execs
    # without forking and $! is redis-server itself. 64 databases: parallel test cases
    # each own one (see the test files for who has which).
    setsid redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --databases 64 \
      --dir "$dir" --daemonize no --logfile "$log" \
      </dev/null >>"$dir/redis.out" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/redis.pid"
    if sluice_wait_for 30 _sluice_redis_up "$port" "$pid"; then
      if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
        break
      fi
    fi
    if sluice_pid_alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    if ((attempt < 3)) && grep -qiE 'address already in use' "$log" "$dir/redis.out"; then
      sluice_log "port $port was taken meanwhile; retrying with another"
      continue
    fi
    sluice_log "error: Redis did not start:"
    tail -n 20 "$dir/redis.out" "$log" >&2
    return 1
  done
  SLUICE_REDIS_HOST=127.0.0.1
  SLUICE_REDIS_PORT=$port
  SLUICE_REDIS_URL=redis://127.0.0.1:$port/0
  SLUICE_REDIS_DIR=$dir
  SLUICE_REDIS_LOG=$log
  SLUICE_REDIS_PID=$pid
}

# _sluice_redis_up PORT PID
#   Poll condition of sluice_redis_start: true once Redis answers PONG; also "true"
#   (to end the wait early) once PID has died.
_sluice_redis_up() {
  sluice_pid_alive "$2" || return 0
  [[ $(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null) == PONG ]]
}

# sluice_redis_stop DIR
#   Stops the throwaway Redis in temp dir DIR (SIGTERM, then SIGKILL after 10 s).
#   Does not remove DIR. Harmless if it is already gone.
sluice_redis_stop() {
  local dir=$1 pid
  if [[ -f $dir/redis.pid ]]; then
    pid=$(<"$dir/redis.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && sluice_pid_alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      sluice_wait_for 10 _sluice_pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  _sluice_kill_inside "$dir"
}

_sluice_pid_gone() { ! sluice_pid_alive "$1"; }

# _sluice_kill_inside DIR
#   SIGKILLs every process (of ours) whose working directory is DIR or below it --
#   PostgreSQL's postmaster and backends run in their data dir, Redis in its --dir --
#   and waits up to 10 s for them to go. Catches backends orphaned when a test
#   killed a postmaster with -9. Never this shell.
_sluice_kill_inside() {
  local dir=$1 links link pid pids=()
  [[ -d $dir ]] || return 0
  # (A command substitution, not a process substitution: bash 5.2 may warn
  # "wait_for: No record of process" about the latter after `wait -n`.)
  links=$(find /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$dir" -o -lname "$dir/*" \) 2>/dev/null || true)
  for link in $links; do # /proc/PID/cwd: no spaces
    pid=${link#/proc/}
    pid=${pid%/cwd}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for pid in "${pids[@]}"; do
    sluice_wait_for 10 _sluice_pid_gone "$pid" || true
  done
}

# sluice_cleanup
#   Stops every server started by this shell through these functions and removes
#   every temp dir registered by sluice_mktemp, newest first. Idempotent; safe to
#   call from an EXIT trap (it keeps the exit status and ignores INT/TERM/HUP while
#   it runs, so a second Ctrl-C cannot leave a server behind).
sluice_cleanup() {
  local status=$? dir i saved_traps
  local -
  set +e
  saved_traps=$(trap -p INT TERM HUP)
  trap '' INT TERM HUP
  for ((i = ${#_SLUICE_CLEANUP_DIRS[@]} - 1; i >= 0; i--)); do
    dir=${_SLUICE_CLEANUP_DIRS[i]}
    [[ -d $dir ]] || continue
    [[ -d $dir/data ]] && sluice_pg_stop "$dir"
    [[ -f $dir/redis.pid ]] && sluice_redis_stop "$dir"
    [[ -f $dir/my.cnf ]] && sluice_mariadb_stop "$dir"
    _sluice_kill_inside "$dir"
    sluice_wait_for 10 _sluice_rm "$dir" || sluice_log "warning: could not remove $dir"
  done
  _SLUICE_CLEANUP_DIRS=()
  trap - INT TERM HUP
  eval "$saved_traps"
  return "$status"
}

_sluice_rm() { rm -rf -- "$1" 2>/dev/null; [[ ! -e $1 ]]; }

# sluice_install_traps [FUNCTION]
#   Runs FUNCTION (default sluice_cleanup) on EXIT, and turns INT, TERM and HUP into
#   an exit with status 130, 143 and 129 (which runs the EXIT trap once). A custom
#   FUNCTION should call sluice_cleanup itself.
sluice_install_traps() {
  local fn=${1:-sluice_cleanup}
  # shellcheck disable=SC2064 # expand FUNCTION now
  trap "$fn" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

# sluice_build DIR [CMAKE_CONFIGURE_ARGS...]
#   Configures the repository with cmake into DIR (relative to the current dir, or
#   absolute) with the given arguments, then builds it with 2 jobs
#   ($SLUICE_BUILD_JOBS overrides).
sluice_build() {
  local dir=$1
  shift
  sluice_log "configuring $dir: cmake $*"
  cmake -S "$SLUICE_ROOT" -B "$dir" "$@"
  sluice_log "building $dir"
  cmake --build "$dir" -j "${SLUICE_BUILD_JOBS:-2}"
}
