#!/usr/bin/env bash
# Extra Docker engines for CI (the launcher is tests/engines/; see docs/deployment.md).
#
#   .ci/engine.sh install            install gVisor's runsc and btrfs-progs from Debian when
#                                    missing (root; idempotent, quiet: one line on stderr
#                                    for each package it installs)
#   .ci/engine.sh security [--runsc] run the sandbox's security tests against a private
#                                    hardened engine (userns-remap, btrfs storage: the kernel
#                                    bounds each container's layer; --runsc: every container
#                                    in gVisor), then stop it. Exit status: pytest's.
#   .ci/engine.sh start [options]    start one (JSON with docker_host, root, pid on stdout)
#   .ci/engine.sh stop ROOT          stop it by pid and remove its folder
#   .ci/engine.sh sweep              stop every engine a killed run left behind
#
# Exit status 77 means "skipped" (not root, dockerd, runsc or mkfs.btrfs missing): the reason
# is printed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
SECURITY_TESTS=(tests/engine/sandbox/test_sandbox_hostile.py tests/unit/sandbox/test_policy.py
                tests/engine/sandbox/test_sandbox_limits.py tests/engine/sandbox/test_networks.py
                tests/engine/sandbox/test_sandbox_disk.py
                tests/engine/sandbox/test_witness.py tests/engine/sandbox/test_red_team.py
                tests/engine/sandbox/test_redis_file_look.py tests/engine/sandbox/test_exec_known.py
                tests/engine/sandbox/test_wire.py tests/engine/sandbox/test_identities.py)

# install_package COMMAND PACKAGE WHAT: apt-get install PACKAGE unless COMMAND exists.
install_package() {
  if command -v "$1" >/dev/null 2>&1; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "$1 is not installed and installing it needs root" >&2
    return 77
  fi
  echo "installing $3 ($2) from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  local log
  log=$(mktemp)
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$2"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

install_runsc() {
  if command -v runsc >/dev/null 2>&1; then
    return 0
  fi
  install_package runsc runsc "gVisor" || return
  runsc --version | sed -n 1p >&2
}

case "${1:-}" in
  install)
    install_runsc
    install_package mkfs.btrfs btrfs-progs "btrfs tools, for the hardened engine's storage"
    ;;
  security)
    shift
    options=(--label security --own-network --storage btrfs)
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
    sed -n '2,16p' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
