#!/usr/bin/env bash
# Extra Docker engines for CI (the launcher is tests/engines/; see docs/deployment.md).
#
#   .ci/engine.sh install            install gVisor's runsc from Debian when missing (root;
#                                    idempotent, quiet: one line on stderr when it installs)
#   .ci/engine.sh security [--runsc] run the sandbox's security tests against a private
#                                    hardened engine (userns-remap; --runsc: every container
#                                    in gVisor), then stop it. Exit status: pytest's.
#   .ci/engine.sh start [options]    start one (JSON with docker_host, root, pid on stdout)
#   .ci/engine.sh stop ROOT          stop it by pid and remove its folder
#   .ci/engine.sh sweep              stop every engine a killed run left behind
#
# Exit status 77 means "skipped" (not root, dockerd or runsc missing): the reason is printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
SECURITY_TESTS=(tests/test_sandbox_hostile.py tests/test_policy.py tests/test_sandbox_limits.py tests/test_networks.py
                tests/test_witness.py)

install_runsc() {
  if command -v runsc >/dev/null 2>&1; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "runsc is not installed and installing it needs root" >&2
    return 77
  fi
  echo "installing gVisor (runsc) from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  local log
  log=$(mktemp)
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends runsc; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
  runsc --version | sed -n 1p >&2
}

case "${1:-}" in
  install)
    install_runsc
    ;;
  security)
    shift
    options=(--label security --own-network)
    if [[ ${1:-} == --runsc ]]; then
      shift
      options+=(--require-runsc --default-runtime runsc)
    fi
    exec "$PY" -m tests.engines run "${options[@]}" -- \
      "$PY" -m pytest "${SECURITY_TESTS[@]}" -p no:cacheprovider -q "$@"
    ;;
  start | stop | sweep)
    exec "$PY" -m tests.engines "$@"
    ;;
  *)
    sed -n '2,13p' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
