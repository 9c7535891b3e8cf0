#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL on loopback for the test suite.
#   .ci/postgres.sh start   -> prints the SQLAlchemy URL on stdout
#   .ci/postgres.sh stop
# Installs Debian's postgresql package when no server binaries are found (needs root).
set -euo pipefail
PORT=${TEST_PG_PORT:-54329}
DIR=${TEST_PG_DIR:-/tmp/docker-tutor-pg}

find_bin() {
  local initdb
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $initdb ]] && dirname "$initdb"
}

case "${1:-start}" in
  start)
    BIN=$(find_bin || true)
    if [[ -z ${BIN:-} ]]; then
      echo "installing postgresql from Debian's packages" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
      BIN=$(find_bin)
    fi
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
    if [[ -f $DIR/data/postmaster.pid ]]; then
      su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data -m immediate stop" >&2 || true
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    chown postgres "$DIR"
    su postgres -s /bin/sh -c "$BIN/initdb -D $DIR/data -A trust -U postgres --no-sync" >/dev/null
    su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data -l $DIR/server.log -w \
      -o '-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=300' start" >&2
    su postgres -s /bin/sh -c "$BIN/createdb -h 127.0.0.1 -p $PORT tutor_test"
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/tutor_test"
    ;;
  stop)
    BIN=$(find_bin || true)
    if [[ -n ${BIN:-} && -f $DIR/data/postmaster.pid ]]; then
      su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data -m fast -w stop" >&2
    fi
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
