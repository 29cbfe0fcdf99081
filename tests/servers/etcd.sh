#!/usr/bin/env bash
# Starts and stops a throwaway etcd (Debian's etcd-server) on free loopback ports for the tests.
#
#   etcd.sh run <command...>   start etcd, export VDB_ETCD_ENDPOINT (127.0.0.1:PORT),
#                              VDB_ETCD_PID, VDB_ETCD_STATE and VDB_ETCD_RESTART, run the
#                              command, stop etcd (also on failure) and exit with its status.
#                              "@ETCD_ENDPOINT@" in the command's arguments and in the variables
#                              VDB_CONFORMANCE_URI, VDB_LOG_URI, VDB_META_URI, VDB_OBJECT_URI
#                              becomes the endpoint, e.g.
#                              etcd.sh run conformance_meta 'etcd://@ETCD_ENDPOINT@/conf' 
#   etcd.sh start <state-dir>  start etcd with its data in <state-dir>; print the endpoint
#   etcd.sh restart <state-dir> start it again on the same ports and data (after a kill)
#   etcd.sh stop <state-dir>   stop it (SIGTERM, then SIGKILL)
#
# <state-dir> holds data/, etcd.log, pid, client_port and peer_port. Exit 77 (skip) when
# /usr/bin/etcd is missing.
set -euo pipefail

ETCD_BIN=${ETCD_BIN:-$(command -v etcd || true)}
[ -z "$ETCD_BIN" ] && [ -x /usr/bin/etcd ] && ETCD_BIN=/usr/bin/etcd
self=$(readlink -f "$0")

skip_if_missing() {
  if [ -z "$ETCD_BIN" ] || [ ! -x "$ETCD_BIN" ]; then
    echo "SKIP: etcd not installed"
    exit 77
  fi
}

# Two free loopback ports: bound to port 0 by the kernel, then released.
free_ports() {
  python3 - <<'PY'
import socket
socks = []
for _ in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

ready() { # <port>: the v3 gateway answers a range call
  curl -fsS -m 2 -X POST -d '{"key":"AA==","count_only":true}' \
    "http://127.0.0.1:$1/v3/kv/range" >/dev/null 2>&1
}

launch() { # <state-dir>: start etcd from the ports recorded there; wait until it answers
  local st=$1 cport peer pid i
  cport=$(cat "$st/client_port")
  peer=$(cat "$st/peer_port")
  "$ETCD_BIN" --name vdbtest --data-dir "$st/data" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "vdbtest=http://127.0.0.1:$peer" --initial-cluster-state new \
    --max-request-bytes 33554432 --max-txn-ops 1024 \
    --logger zap --log-outputs "$st/etcd.log" --log-level warn \
    </dev/null >>"$st/etcd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$st/pid"
  for i in $(seq 1 300); do
    if ready "$cport"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  return 1
}

start() { # <state-dir>
  local st=$1 try ports
  mkdir -p "$st"
  for try in 1 2 3; do # a port taken between the pick and the bind: pick again
    ports=$(free_ports)
    echo "${ports% *}" >"$st/client_port"
    echo "${ports#* }" >"$st/peer_port"
    rm -rf "$st/data"
    if launch "$st"; then
      echo "127.0.0.1:$(cat "$st/client_port")"
      return 0
    fi
  done
  echo "etcd did not start; its log:" >&2
  tail -n 30 "$st/etcd.log" >&2 || true
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
  state=$(mktemp -d "${TMPDIR:-/tmp}/vdb-etcd.XXXXXX")
  trap 'stop "$state"; rm -rf "$state"' EXIT
  trap 'exit 130' INT TERM
  endpoint=$(start "$state")
  export VDB_ETCD_ENDPOINT=$endpoint
  export VDB_ETCD_PID
  VDB_ETCD_PID=$(cat "$state/pid")
  export VDB_ETCD_STATE=$state
  export VDB_ETCD_RESTART="$self restart $state"
  for v in VDB_CONFORMANCE_URI VDB_LOG_URI VDB_META_URI VDB_OBJECT_URI; do
    if [ -n "${!v-}" ]; then
      val=${!v}
      export "$v=${val//@ETCD_ENDPOINT@/$endpoint}"
    fi
  done
  args=("${@//@ETCD_ENDPOINT@/$endpoint}")
  rc=0
  "${args[@]}" || rc=$?
  exit $rc
  ;;
start)
  skip_if_missing
  start "${1:?state dir}"
  ;;
restart)
  skip_if_missing
  st=${1:?state dir}
  launch "$st" || { echo "etcd did not restart; its log:" >&2; tail -n 30 "$st/etcd.log" >&2; exit 1; }
  cat "$st/pid"
  ;;
stop)
  stop "${1:?state dir}"
  ;;
*)
  echo "usage: $0 run <command...> | start|restart|stop <state-dir>" >&2
  exit 2
  ;;
esac
