#!/usr/bin/env bash
# Starts and stops a throwaway nats-server with JetStream (Debian's nats-server) on a free
# loopback port for the tests.
#
#   nats.sh run <command...>    start nats-server, export VDB_NATS_URI
#                               (nats://127.0.0.1:PORT/vdbtest), VDB_NATS_PID, VDB_NATS_STATE and
#                               VDB_NATS_RESTART, run the command (with @VDB_NATS_URI@ in its
#                               arguments replaced by the URI), stop the server (also on
#                               failure) and exit with the command's status
#   nats.sh start <state-dir>   start it with its store in <state-dir>; print the nats:// URL
#   nats.sh restart <state-dir> start it again on the same port and store (after a kill); print
#                               its pid
#   nats.sh stop <state-dir>    stop it (SIGTERM, then SIGKILL)
#
# <state-dir> holds nats.conf, store/, nats.log, pid and port. The server allows 16 MB messages
# (max_payload; the default is 1 MB), since the database writes insert batches of ~3 MB and
# the log conformance suite 8 MiB records. Exit 77 (skip) when
# nats-server is missing.
set -euo pipefail

NATS_BIN=${NATS_BIN:-$(command -v nats-server || true)}
[ -z "$NATS_BIN" ] && [ -x /usr/bin/nats-server ] && NATS_BIN=/usr/bin/nats-server
self=$(readlink -f "$0")

skip_if_missing() {
  if [ -z "$NATS_BIN" ] || [ ! -x "$NATS_BIN" ]; then
    echo "SKIP: nats-server not installed"
    exit 77
  fi
}

ready() { # <monitor-port>: /healthz says ok once JetStream is up
  curl -fsS -m 2 "http://127.0.0.1:$1/healthz" 2>/dev/null | grep -q '"ok"'
}

# Starts the server on <port> (0: let the server pick one, race-free) and waits until it is
# healthy. The chosen ports come from the ports file the server writes once it listens.
launch() { # <state-dir> <port>
  local st=$1 port=$2 pid i pf mon=""
  rm -f "$st"/ports/*.ports
  mkdir -p "$st/ports" "$st/store"
  [ "$port" = 0 ] && port=-1
  "$NATS_BIN" -c "$st/nats.conf" -a 127.0.0.1 -p "$port" -m -1 -js -sd "$st/store" \
    --ports_file_dir "$st/ports" -l "$st/nats.log" </dev/null >>"$st/nats.log" 2>&1 &
  pid=$!
  echo "$pid" >"$st/pid"
  pf="$st/ports/$(basename "$NATS_BIN")_$pid.ports"
  for i in $(seq 1 400); do
    if [ -z "$mon" ] && [ -s "$pf" ]; then
      # {"nats":["nats://127.0.0.1:P"],"monitoring":["http://127.0.0.1:M"]}
      port=$(grep -o 'nats://127.0.0.1:[0-9]*' "$pf" | head -n1 | sed 's/.*://') || true
      mon=$(grep -o 'http://127.0.0.1:[0-9]*' "$pf" | head -n1 | sed 's/.*://') || true
    fi
    if [ -n "$mon" ] && ready "$mon"; then
      echo "$port" >"$st/port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  return 1
}

start() { # <state-dir>
  local st=$1
  mkdir -p "$st"
  cat >"$st/nats.conf" <<'EOF'
# libvdb tests: one insert batch of 1,000 x 784 floats is ~3.1 MB; the log conformance suite
# appends 8 MiB records (plus the publish headers)
max_payload: 16MB
EOF
  if launch "$st" 0; then
    echo "nats://127.0.0.1:$(cat "$st/port")"
    return 0
  fi
  echo "nats-server did not start; its log:" >&2
  tail -n 30 "$st/nats.log" >&2 || true
  return 1
}

restart() { # <state-dir>: same port (a killed server frees it at once), same store
  local st=$1 try
  for try in $(seq 1 50); do
    if launch "$st" "$(cat "$st/port")"; then
      cat "$st/pid"
      return 0
    fi
    sleep 0.1
  done
  echo "nats-server did not restart; its log:" >&2
  tail -n 30 "$st/nats.log" >&2 || true
  return 1
}

stop() { # <state-dir>
  local st=$1 pid i
  [ -f "$st/pid" ] || return 0
  pid=$(cat "$st/pid")
  if kill -TERM "$pid" 2>/dev/null; then
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  rm -f "$st/pid"
}

cmd=${1:-}
shift || true
case "$cmd" in
run)
  skip_if_missing
  [ $# -ge 1 ] || { echo "usage: $0 run <command...>" >&2; exit 2; }
  state=$(mktemp -d "${TMPDIR:-/tmp}/vdb-nats.XXXXXX")
  trap 'stop "$state"; rm -rf "$state"' EXIT
  trap 'exit 130' INT TERM
  url=$(start "$state")
  export VDB_NATS_URI="$url/vdbtest"
  export VDB_NATS_PID
  VDB_NATS_PID=$(cat "$state/pid")
  export VDB_NATS_STATE=$state
  export VDB_NATS_RESTART="$self restart $state"
  rc=0
  "${@//@VDB_NATS_URI@/$VDB_NATS_URI}" || rc=$?
  exit $rc
  ;;
start)
  skip_if_missing
  start "${1:?state dir}"
  ;;
restart)
  skip_if_missing
  restart "${1:?state dir}"
  ;;
stop)
  stop "${1:?state dir}"
  ;;
*)
  echo "usage: $0 run <command...> | start|restart|stop <state-dir>" >&2
  exit 2
  ;;
esac
