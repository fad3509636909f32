#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: `start STATE_DIR` makes a cluster in a fresh
# temporary folder (initdb, trust authentication, fsync off), starts it on 127.0.0.1 at a free
# port and on a unix socket in that folder, creates the database joulecast_test, and writes its
# URL to STATE_DIR/url; `stop STATE_DIR` stops it (immediately) and removes the folder;
# `crash STATE_DIR` stops it as a crash would (pg_ctl stop -m immediate) and `restart STATE_DIR`
# starts it again on the same port.
#
# initdb refuses to run as root: as root, the server runs as `nobody` (runuser) in a folder it
# owns. Exits non-zero with a one-line reason when anything fails, so that the tests that need
# the server fail rather than skip.
set -euo pipefail

die() { echo "postgres_server.sh: $*" >&2; exit 1; }

action=${1:-}
state=${2:-}
[ -n "$action" ] && [ -n "$state" ] || die "usage: postgres_server.sh start|stop|crash|restart STATE_DIR"

bin=${JOULECAST_PG_BIN:-}
if [ -z "$bin" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bin=$d; done
fi
[ -n "$bin" ] && [ -x "$bin/initdb" ] ||
  die "no PostgreSQL server binaries (initdb) under /usr/lib/postgresql/*/bin: install the postgresql package (scripts/install-deps.sh)"

as_owner=()
if [ "$(id -u)" -eq 0 ]; then as_owner=(runuser -u nobody --); fi

pg_ctl_run() { "${as_owner[@]}" "$bin/pg_ctl" "$@"; }

start_server() {
  local data=$1 port=$2 socket=$3
  pg_ctl_run -D "$data" -w -t 60 -l "$data/../server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$socket -c fsync=off -c max_connections=200 -c shared_buffers=32MB" \
    start >/dev/null || { tail -n 5 "$data/../server.log" >&2 || true; die "pg_ctl start failed (log above)"; }
}

case $action in
  start)
    mkdir -p "$state"
    if [ -f "$state/root" ]; then "$0" stop "$state" || true; mkdir -p "$state"; fi
    root=$(mktemp -d /tmp/joulecast-pg-XXXXXX)
    echo "$root" >"$state/root"
    mkdir "$root/data" "$root/socket"
    if [ ${#as_owner[@]} -gt 0 ]; then chown -R nobody "$root"; fi
    chmod 700 "$root"
    "${as_owner[@]}" "$bin/initdb" -D "$root/data" -U joulecast -A trust --no-sync -E UTF8 \
      >"$root/initdb.log" 2>&1 || { tail -n 5 "$root/initdb.log" >&2; die "initdb failed (log above)"; }
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$port" >"$root/port"
    start_server "$root/data" "$port" "$root/socket"
    "${as_owner[@]}" "$bin/createdb" -h "$root/socket" -p "$port" -U joulecast joulecast_test ||
      die "createdb joulecast_test failed"
    echo "postgresql://joulecast@127.0.0.1:$port/joulecast_test" >"$state/url"
    echo "$bin" >"$state/bin"
    ;;
  crash)
    root=$(cat "$state/root") || die "$state: no server started here"
    pg_ctl_run -D "$root/data" -m immediate -w stop >/dev/null
    ;;
  restart)
    root=$(cat "$state/root") || die "$state: no server started here"
    start_server "$root/data" "$(cat "$root/port")" "$root/socket"
    ;;
  stop)
    [ -f "$state/root" ] || exit 0
    root=$(cat "$state/root")
    if [ -d "$root/data" ]; then pg_ctl_run -D "$root/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$root" "$state/root" "$state/url" "$state/bin"
    ;;
  *)
    die "unknown action '$action': use start, stop, crash or restart"
    ;;
esac
