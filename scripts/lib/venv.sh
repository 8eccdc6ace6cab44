# shellcheck shell=bash
# Sourced by scripts that need the project's Python tools (the ministack AWS emulator,
# cfn-lint) or a venv of their own. Provides:
#
#   ensure_venv                     makes /.venv match scripts/requirements-emulator.txt
#   ensure_venv_at VENV REQUIREMENTS [PIP_ARGS...]
#                                   makes VENV match REQUIREMENTS (scripts/validate-k8s
#                                   keeps its tools apart like this); PIP_ARGS go to pip
#
# Both are cheap when the venv already matches.
#
# Why a hash stamp: pip takes seconds even when nothing changes; comparing the sha256 of
# the requirements (plus the Python version) with the one recorded after the last
# successful install lets every test run call this without paying for pip.
# Why flock: parallel test processes may call it at the same moment on a fresh checkout.
# All progress goes to stderr: callers print machine-readable lines on stdout.

LOGSPOKE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOGSPOKE_VENV="$LOGSPOKE_ROOT/.venv"
LOGSPOKE_REQUIREMENTS="$LOGSPOKE_ROOT/scripts/requirements-emulator.txt"

venv_die() { echo "error: $*" >&2; exit 1; }

ensure_venv() {
  ensure_venv_at "$LOGSPOKE_VENV" "$LOGSPOKE_REQUIREMENTS"
}

ensure_venv_at() {  # VENV REQUIREMENTS [PIP_ARGS...]
  local venv=$1 requirements=$2 python=${LOGSPOKE_PYTHON:-python3}
  shift 2
  local shown=${requirements#"$LOGSPOKE_ROOT"/}
  command -v "$python" >/dev/null 2>&1 ||
    venv_die "$python not found; install Python >= 3.10 or set LOGSPOKE_PYTHON"
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    venv_die "$python is $("$python" -V 2>&1); the tools need Python >= 3.10 (set LOGSPOKE_PYTHON)"
  command -v flock >/dev/null 2>&1 || venv_die "flock (util-linux) not found"

  mkdir -p "$venv"
  local stamp="$venv/.requirements.sha256" want
  want=$({ cat "$requirements"; "$python" -V; } 2>&1 | sha256sum | cut -d' ' -f1)
  # Fast path without the lock: nothing to do.
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi

  (
    flock -w 600 9 || venv_die "timed out waiting for another process installing $venv"
    # Another process may have finished the job while we waited.
    if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
      exit 0
    fi
    rm -f "$stamp"
    if [ ! -x "$venv/bin/python" ]; then
      echo "creating $venv ($("$python" -V 2>&1))" >&2
      "$python" -m venv "$venv" >&2 || venv_die "python -m venv failed (Debian: apt-get install python3-venv)"
    fi
    echo "installing $shown into $venv" >&2
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install \
      --quiet --no-input "$@" -r "$requirements" >&2 ||
      venv_die "pip install -r $shown failed (is PyPI reachable?)"
    echo "$want" >"$stamp"
  ) 9>"$venv/.lock" || exit 1
}
