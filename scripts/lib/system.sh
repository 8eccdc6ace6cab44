# shellcheck shell=bash
# Starts the whole system: a fresh emulator with the provider stack deployed into account
# 111111111111, Postgres, the api and the worker (a process; with LOGSPOKE_WORKER_MODE=lambda
# the stack's Lambda function instead, which the emulator runs). Source it, then either
#
#   start_system PROFILE NAME     # scripts/e2e, scripts/bench-worker, scripts/bench-api
#
# which takes a fresh database, a random signing secret and free ports, builds PROFILE
# (debug|release) with --locked and keeps its logs in .local/NAME-PID (removed on exit,
# also after a failure; LOGSPOKE_KEEP_LOGS=1 keeps them); or the steps one by one
# (scripts/dev-up, which keeps its own database, secret, ports and logs):
#
#   on_exit stop_system           # first: stops whatever the steps below started
#   start_aws REGION [LOG]        # emulator + provider stack; exports AWS_* and the
#                                 # stack's LOGSPOKE_* settings (its progress to LOG)
#   build_system PROFILE [CARGO_FLAGS...]   # sets $bin
#   start_api LOG / start_worker LOG        # start one, wait until /readyz answers
#
# Afterwards: $bin (binaries), $api_pid, $worker_pid, $emulator_port, and the settings
# exported; start_system also sets $state (its log folder) and LOGSPOKE_E2E_API and
# LOGSPOKE_E2E_API_BIN. When $system_pids is set to a file, each step appends what it
# started to it (`api PID`, `worker PID`, `emulator PORT`), for scripts/dev-down after a
# kill; stop_system removes it.
#
# start_system creates its database on LOGSPOKE_TEST_DATABASE_URL's server when that is
# set (so under scripts/test, the server it chose); else on 127.0.0.1:5432 when a server
# answers; else on a private throwaway cluster started here (LOGSPOKE_POSTGRES=private
# forces it; scripts/lib/postgres.sh). Clean-up runs through on_exit: register yours with
# it, not with `trap … EXIT`.
# shellcheck source=scripts/lib/venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
# shellcheck source=scripts/lib/postgres.sh
. "$(dirname "${BASH_SOURCE[0]}")/postgres.sh"

admin_url=
pids=()
api_pid=
worker_pid=
emulator_port=
db=
scratch=
system_pids=${system_pids:-}

stop_system() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$emulator_port" ] && scripts/emulator stop --port "$emulator_port" >/dev/null 2>&1
  [ -n "$db" ] && psql "$admin_url" -qc "drop database if exists $db with (force)" >/dev/null 2>&1
  [ -n "$system_pids" ] && rm -f "$system_pids"
  if [ -n "$scratch" ] && [ -z "${LOGSPOKE_KEEP_LOGS:-}" ]; then
    rm -rf "${LOGSPOKE_ROOT:?}/$scratch"
  fi
  return 0
}

# Notes what was started for scripts/dev-down, when the caller asked for it.
note_started() {  # WHAT VALUE
  [ -z "$system_pids" ] || echo "$1 $2" >>"$system_pids"
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

start_aws() {  # REGION [LOG]
  local region=$1 log=${2:-} endpoint line
  cd "$LOGSPOKE_ROOT" || return 1
  ensure_venv
  endpoint=$(scripts/emulator start)
  emulator_port=${endpoint##*:}
  note_started emulator "$emulator_port"
  # The emulator maps this access key id to the provider account.
  export "${endpoint?}" AWS_REGION="$region" AWS_ACCESS_KEY_ID=111111111111 AWS_SECRET_ACCESS_KEY=test
  while IFS= read -r line; do export "${line?}"; done < <(deploy_provider_stack "$log")
}

# scripts/provider-stack, its progress to LOG (appended) or, without one, to stderr.
# With LOGSPOKE_WORKER_MODE=lambda (after build_system) the stack's worker is a Lambda
# function running $bin/logspoke-worker (scripts/provider-stack --lambda-worker).
deploy_provider_stack() {  # [LOG]
  local args=()
  [ "${LOGSPOKE_WORKER_MODE:-kubernetes}" = lambda ] && args=(--lambda-worker "$bin/logspoke-worker")
  if [ -n "${1:-}" ]; then scripts/provider-stack "${args[@]}" 2>>"$1"; else scripts/provider-stack "${args[@]}"; fi
}

build_system() {  # PROFILE [CARGO_FLAGS...]
  local profile=$1
  shift
  local flags=(-p logspoke-api -p logspoke-delivery-worker "$@")
  [ "$profile" = release ] && flags+=(--release)
  (cd "$LOGSPOKE_ROOT" && cargo build "${flags[@]}")
  # Absolute: callers run the binaries from other folders (scripts/e2e cds into e2e/). A
  # relative CARGO_TARGET_DIR is relative to the project root, as cargo takes it here.
  bin=$(cd "$LOGSPOKE_ROOT" && realpath -m "${CARGO_TARGET_DIR:-target}")/$profile
}

start_api() {  # LOG
  "$bin/logspoke-api" serve >"$1" 2>&1 &
  api_pid=$!
  pids+=("$api_pid")
  note_started api "$api_pid"
  wait_ready "http://$LOGSPOKE_LISTEN/readyz" "$api_pid" "$1"
}

start_worker() {  # LOG
  "$bin/logspoke-worker" >"$1" 2>&1 &
  worker_pid=$!
  pids+=("$worker_pid")
  note_started worker "$worker_pid"
  wait_ready "http://$LOGSPOKE_WORKER_LISTEN/readyz" "$worker_pid" "$1"
}

start_system() {  # PROFILE NAME
  local profile=$1 name=$2
  cd "$LOGSPOKE_ROOT" || return 1
  ensure_postgres "${LOGSPOKE_TEST_DATABASE_URL:-}" LOGSPOKE_TEST_DATABASE_URL
  admin_url=$postgres_url
  ensure_venv
  on_exit stop_system   # hooks run newest first: this one before the private Postgres stops
  state=.local/$name-$$
  scratch=$state
  mkdir -p "$state"
  build_system "$profile" --quiet --locked
  start_aws eu-west-1 "$state/provider-stack.log"

  db="logspoke_${name}_$$"
  psql "$admin_url" -qc "create database $db" >/dev/null
  export DATABASE_URL="${admin_url%/*}/$db"
  LOGSPOKE_JWT_SECRET="$name-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export LOGSPOKE_JWT_SECRET
  LOGSPOKE_LISTEN="127.0.0.1:$(free_port)" LOGSPOKE_WORKER_LISTEN="127.0.0.1:$(free_port)"
  export LOGSPOKE_LISTEN LOGSPOKE_WORKER_LISTEN

  start_api "$state/api.log"
  if [ "${LOGSPOKE_WORKER_MODE:-kubernetes}" = lambda ]; then
    echo "worker: the stack's Lambda function $LOGSPOKE_WORKER_FUNCTION_NAME (the emulator runs it)" >&2
  else
    start_worker "$state/worker.log"
  fi
  export LOGSPOKE_E2E_API="http://$LOGSPOKE_LISTEN" LOGSPOKE_E2E_API_BIN="$bin/logspoke-api"
}
