# shellcheck shell=bash disable=SC2034  # (it sets variables for its callers)
# Sourced by scripts that need Postgres (scripts/test, scripts/lib/system.sh, scripts/dev-up)
# and by scripts/dev-down. Provides:
#
#   on_exit COMMAND               run COMMAND (a string, evaluated then) when the script
#                                 exits, also after a failure or Ctrl-C; the last one
#                                 registered runs first. The scripts' one EXIT trap: use it
#                                 instead of `trap … EXIT`, which would replace the others.
#   ensure_postgres URL NAME      sets $postgres_url to an admin URL (database postgres)
#   stop_private_postgres HOME    what on_exit runs for a private cluster (scripts/dev-down)
#   stop_orphaned_private_postgres  the private clusters whose script is gone (SIGKILL, a
#                                 closed terminal); run before each start and by dev-down
#
# ensure_postgres takes, in this order:
#   1. URL, when not empty: the caller's LOGSPOKE_TEST_DATABASE_URL or DATABASE_URL (NAME,
#      for the message), used as it is; an error when it does not answer.
#   2. postgres://postgres@127.0.0.1:5432/postgres, when it answers (no message).
#   3. A private throwaway cluster: initdb + pg_ctl in .local/postgres-PID, on a free port,
#      127.0.0.1 only, trust auth, superuser postgres, fsync off. One line on stderr says
#      so; $postgres_private_home names its folder. It is stopped and removed on exit.
#      The PID in the folder's name tells stop_orphaned_private_postgres whose it is.
#      Without the server binaries: one line naming the package, exit 1.
#
#   LOGSPOKE_POSTGRES=private     skip step 2, even when a server runs (CI runs the e2e once
#                                 like this); default auto. A URL of step 1 still wins.
#   LOGSPOKE_POSTGRES_BIN=DIR     where initdb and pg_ctl are; default PATH, then the newest
#                                 /usr/lib/postgresql/*/bin (Debian), /usr/pgsql-*/bin (RHEL)
#   LOGSPOKE_POSTGRES_PROBE=URL   the server of step 2 (tests point it at a dead port)
#
# Why another user as root: initdb, pg_ctl and postgres refuse to run as root, so as root
# the cluster runs as the postgres system user (Debian's postgresql package creates it),
# through runuser. That user must reach the project's .local; where it cannot, the
# cluster lives in a mktemp folder in /tmp instead, and the line says so.
# Why no Unix socket: the clients here connect over TCP, and the socket's default folder
# (/var/run/postgresql) is not writable by everyone.

LOGSPOKE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
logspoke_exit_hooks=()
postgres_url=
postgres_private_home=

on_exit() {
  logspoke_exit_hooks+=("$1")
  trap logspoke_run_exit_hooks EXIT
}

# Runs every hook, newest first, whatever each returns. Ending on a successful command
# keeps the script's exit status (and a death by SIGINT stays one); `exit` here would not.
logspoke_run_exit_hooks() {
  local i
  for ((i = ${#logspoke_exit_hooks[@]} - 1; i >= 0; i--)); do
    eval "${logspoke_exit_hooks[i]}" || true
  done
  logspoke_exit_hooks=()
}

postgres_die() { echo "error: $*" >&2; exit 1; }

# psql without ~/.psqlrc, failing fast on a dead or silent server.
postgres_answers() { PGCONNECT_TIMEOUT=5 psql -X "$1" -qtAc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {  # URL NAME
  local url=$1 name=$2 why
  local probe=${LOGSPOKE_POSTGRES_PROBE:-postgres://postgres@127.0.0.1:5432/postgres}
  command -v psql >/dev/null 2>&1 ||
    postgres_die "psql not found; install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client)"
  if [ -n "$url" ]; then
    postgres_answers "$url" || postgres_die "Postgres is not reachable at $url (set by $name)"
    postgres_url=$url
    return 0
  fi
  case ${LOGSPOKE_POSTGRES:-auto} in
    auto)
      if postgres_answers "$probe"; then postgres_url=$probe; return 0; fi
      why="no server at $(postgres_address "$probe")" ;;
    private) why="LOGSPOKE_POSTGRES=private" ;;
    *) postgres_die "LOGSPOKE_POSTGRES is '$LOGSPOKE_POSTGRES'; use auto or private" ;;
  esac
  start_private_postgres "$why" "$name"
}

postgres_address() {  # URL -> host:port
  local rest=${1#*@}
  echo "${rest%%/*}"
}

# Sets postgres_initdb and postgres_pg_ctl, or returns 1.
postgres_find_bin() {
  local dirs=() dir
  if [ -n "${LOGSPOKE_POSTGRES_BIN:-}" ]; then
    dirs=("$LOGSPOKE_POSTGRES_BIN")
  else
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
      postgres_initdb=$(command -v initdb) postgres_pg_ctl=$(command -v pg_ctl)
      return 0
    fi
    # Newest version first; an unmatched glob stays literal and fails the -x test below.
    mapfile -t dirs < <(printf '%s\n' /usr/lib/postgresql/*/bin /usr/pgsql-*/bin | sort -rV)
  fi
  for dir in "${dirs[@]}"; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      postgres_initdb=$dir/initdb postgres_pg_ctl=$dir/pg_ctl
      return 0
    fi
  done
  return 1
}

# Runs a PostgreSQL program as OWNER when root (they refuse root), else as the caller; from
# / so that an unreadable working directory does not matter.
postgres_as() {  # OWNER COMMAND...
  local owner=$1
  shift
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u "$owner" -- "$@")
  else
    (cd / && "$@")
  fi
}

postgres_free_port() {
  "${LOGSPOKE_PYTHON:-python3}" -c \
    'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Sets home (the cluster's folder, created and owned by user) and where (how the message
# names it).
postgres_make_home() {  # USER
  local user=$1
  mkdir -p "$LOGSPOKE_ROOT/.local"
  if [ "$user" = "$(id -un)" ] || postgres_as "$user" test -x "$LOGSPOKE_ROOT/.local"; then
    home=$LOGSPOKE_ROOT/.local/postgres-$$
    where=.local/postgres-$$
    mkdir -p "$home"
  else
    home=$(mktemp -d "/tmp/logspoke-postgres-$$.XXXXXX")
    where="$home: user $user cannot reach $LOGSPOKE_ROOT/.local"
  fi
  chown "$user" "$home"
}

start_private_postgres() {  # WHY NAME
  local why=$1 name=$2 user home where locale=C port
  postgres_find_bin || postgres_die "$why, and no PostgreSQL server binaries (initdb, pg_ctl${LOGSPOKE_POSTGRES_BIN:+ in $LOGSPOKE_POSTGRES_BIN}) to start a private one: install them (Debian/Ubuntu: apt-get install postgresql) or set $name"
  user=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    user=postgres
    id -u postgres >/dev/null 2>&1 ||
      postgres_die "initdb refuses to run as root and there is no postgres user to run it as (useradd --system postgres), or set $name"
    command -v runuser >/dev/null 2>&1 || postgres_die "runuser (util-linux) not found"
  fi
  stop_orphaned_private_postgres
  postgres_make_home "$user"
  postgres_private_home=$home
  on_exit "stop_private_postgres $(printf %q "$home")"

  # The system server's locale where it exists, so text sorts the same.
  if locale -a 2>/dev/null | grep -ixE 'c\.utf-?8' >/dev/null; then locale=C.UTF-8; fi
  postgres_as "$user" "$postgres_initdb" -D "$home/data" -U postgres --auth=trust \
      --encoding=UTF8 --locale="$locale" --no-sync >"$home/initdb.log" 2>&1 ||
    { tail -5 "$home/initdb.log" >&2; postgres_die "initdb failed (log above)"; }
  cat >>"$home/data/postgresql.conf" <<'CONF'
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
  # A free port can be taken before postgres binds it: try another.
  for _ in 1 2 3; do
    port=$(postgres_free_port)
    if postgres_as "$user" "$postgres_pg_ctl" -D "$home/data" -l "$home/server.log" \
        -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
      postgres_url=postgres://postgres@127.0.0.1:$port/postgres
      echo "postgres: $why; started a private one at 127.0.0.1:$port ($where, removed on exit)" >&2
      return 0
    fi
  done
  tail -5 "$home/server.log" >&2
  postgres_die "the private Postgres in $home did not start (log above)"
}

# Stops the cluster in HOME (when it runs) and removes HOME. Another process stopping it
# at the same moment (dev-down while dev-up exits) is fine.
stop_private_postgres() {  # HOME
  local home=$1 user
  [ -d "$home" ] || return 0
  if [ -f "$home/data/postmaster.pid" ]; then
    user=$(id -un)
    [ "$(id -u)" = 0 ] && user=$(stat -c %U "$home/data")
    if ! postgres_find_bin; then
      echo "warning: no pg_ctl to stop the private Postgres in $home" >&2
      return 1
    fi
    if postgres_running "$user" "$home" &&
      ! postgres_as "$user" "$postgres_pg_ctl" -D "$home/data" -m fast -w -t 30 stop >/dev/null 2>&1 &&
      ! postgres_as "$user" "$postgres_pg_ctl" -D "$home/data" -m immediate -w stop >/dev/null 2>&1 &&
      postgres_running "$user" "$home"; then
      echo "warning: could not stop the private Postgres in $home" >&2
      return 1
    fi
  fi
  rm -rf "$home"
}

postgres_running() {  # USER HOME
  postgres_as "$1" "$postgres_pg_ctl" -D "$2/data" status >/dev/null 2>&1
}

# A folder whose PID is not running was left by a killed script. ps, not kill -0, which
# also fails for another user's live process; other users' folders are not ours to stop.
stop_orphaned_private_postgres() {
  local home pid
  for home in "$LOGSPOKE_ROOT"/.local/postgres-* /tmp/logspoke-postgres-*; do
    [ -d "$home" ] || continue
    [ "$(id -u)" = 0 ] || [ -O "$home" ] || continue
    pid=${home##*postgres-}
    pid=${pid%%.*}
    case $pid in '' | *[!0-9]*) continue ;; esac
    ps -p "$pid" >/dev/null 2>&1 && continue
    stop_private_postgres "$home" &&
      echo "postgres: removed $home, a private cluster left by a killed run (pid $pid)" >&2
  done
  return 0
}
