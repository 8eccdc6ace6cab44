# shellcheck shell=bash
# Starts the whole system for scripts/e2e and scripts/bench-worker: a fresh emulator with
# the provider stack deployed into account 111111111111, a fresh Postgres database, the api
# and the worker built with PROFILE (debug|release). Everything is stopped (and the
# database dropped) when the calling script exits. Source it, then:
#
#   start_system PROFILE NAME     # NAME labels the database and .local/NAME-PID logs
#
# Afterwards: $state (log folder), $bin (binaries), $worker_pid, LOGSPOKE_E2E_API and
# LOGSPOKE_E2E_API_BIN, and every LOGSPOKE_* / AWS_* setting are exported. The log folder
# is removed on exit, also after a failure (whose log tails are printed); set
# LOGSPOKE_KEEP_LOGS=1 to keep it.
#
# The database is created on LOGSPOKE_TEST_DATABASE_URL's server when that is set (so
# under scripts/test, the server it chose); else on 127.0.0.1:5432 when a server answers;
# else on a private throwaway cluster started here (LOGSPOKE_POSTGRES=private forces it;
# scripts/lib/postgres.sh). Clean-up runs through on_exit: register yours with it, not
# with `trap … EXIT`.
# shellcheck source=scripts/lib/venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
# shellcheck source=scripts/lib/postgres.sh
. "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"

admin_url=
pids=()
emulator_port=
db=

stop_system() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$emulator_port" ] && scripts/emulator stop --port "$emulator_port" >/dev/null 2>&1
  [ -n "$db" ] && psql "$admin_url" -qc "drop database if exists $db with (force)" >/dev/null 2>&1
  if [ -n "${state:-}" ] && [ -z "${LOGSPOKE_KEEP_LOGS:-}" ]; then
    rm -rf "${LOGSPOKE_ROOT:?}/$state"
  fi
  return 0
}

free_port() {
  "$LOGSPOKE_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ready() {  # URL PID LOG
  for _ in $(seq 1 150); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { tail -20 "$3" >&2; return 1; }
    sleep 0.2
  done
  echo "error: $1 not ready" >&2; tail -20 "$3" >&2; return 1
}

start_system() {
  local profile=$1 name=$2 endpoint line
  cd "$LOGSPOKE_ROOT" || return 1
  ensure_postgres "${LOGSPOKE_TEST_DATABASE_URL:-}" LOGSPOKE_TEST_DATABASE_URL
  admin_url=$postgres_url
  ensure_venv
  on_exit stop_system   # hooks run newest first: this one before the private Postgres stops
  state=.local/$name-$$
  mkdir -p "$state"
  endpoint=$(scripts/emulator start)
  emulator_port=${endpoint##*:}
  export "${endpoint?}" AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=111111111111 AWS_SECRET_ACCESS_KEY=test
  while IFS= read -r line; do export "${line?}"; done < <(scripts/provider-stack 2>"$state/provider-stack.log")

  db="logspoke_${name}_$$"
  psql "$admin_url" -qc "create database $db" >/dev/null
  export DATABASE_URL="${admin_url%/*}/$db"
  LOGSPOKE_JWT_SECRET="$name-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export LOGSPOKE_JWT_SECRET
  LOGSPOKE_LISTEN="127.0.0.1:$(free_port)" LOGSPOKE_WORKER_LISTEN="127.0.0.1:$(free_port)"
  export LOGSPOKE_LISTEN LOGSPOKE_WORKER_LISTEN

  local flags=(--quiet --locked -p logspoke-api -p logspoke-delivery-worker)
  [ "$profile" = release ] && flags+=(--release)
  cargo build "${flags[@]}"
  # Absolute: callers run the binaries from other folders (scripts/e2e cds into e2e/). A
  # relative CARGO_TARGET_DIR is relative to the project root, as cargo takes it here.
  bin=$(realpath -m "${CARGO_TARGET_DIR:-target}")/$profile
  "$bin/logspoke-api" serve >"$state/api.log" 2>&1 &
  pids+=($!)
  wait_ready "http://$LOGSPOKE_LISTEN/readyz" "${pids[-1]}" "$state/api.log"
  "$bin/logspoke-worker" >"$state/worker.log" 2>&1 &
  worker_pid=$!
  pids+=("$worker_pid")
  wait_ready "http://$LOGSPOKE_WORKER_LISTEN/readyz" "$worker_pid" "$state/worker.log"
  export LOGSPOKE_E2E_API="http://$LOGSPOKE_LISTEN" LOGSPOKE_E2E_API_BIN="$bin/logspoke-api"
}
