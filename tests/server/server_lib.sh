# Shared by run_node.sh and run_grpc.sh (sourced): the Node SDK, and vdb-servers started on
# free 127.0.0.1 ports with temporary folders and stopped cleanly. Set `server` first.

# srv_need_npm DIR PACKAGE: exits 77 (meson's "skipped") when node or npm is missing; installs
# PACKAGE from tests/server/DIR/package-lock.json (npm ci) when it is absent.
srv_need_npm() {
  local here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node and npm are needed for this test (apt-get install nodejs npm)"
    exit 77
  fi
  if [ ! -d "$here/$1/node_modules/$2" ]; then
    echo "installing $2 from tests/server/$1/package-lock.json"
    if ! npm ci --prefix "$here/$1" --no-audit --no-fund >&2; then
      echo "SKIP: npm ci failed (offline?): npm install --prefix tests/server/$1"
      exit 77
    fi
  fi
}

# The Node SDK (tests/server/node), as srv_need_npm.
srv_need_node() {
  srv_need_npm node @zilliz/milvus2-sdk-node
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdb-server-test.XXXXXX")
pids=()
srv_cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap srv_cleanup EXIT

# srv_start NAME ARGS...: starts a server (log in $tmp/NAME.stderr), sets $port and $pid
srv_start() {
  local name=$1
  shift
  "$server" --port 0 --data "$tmp/$name" --log-level warn "$@" \
    >"$tmp/$name.stdout" 2>"$tmp/$name.stderr" &
  pid=$!
  pids+=("$pid")
  port=
  for ((i = 0; i < 200; i++)); do
    port=$(sed -n 's/^vdb-server listening on https\{0,1\}:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' \
      "$tmp/$name.stdout")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    echo "vdb-server ($name) did not start:" >&2
    cat "$tmp/$name.stderr" >&2
    exit 1
  fi
}

# srv_stop NAME PID: SIGTERM, and a clean exit within 10 s (else 1, with the log)
srv_stop() {
  kill -TERM "$2"
  for ((i = 0; i < 200; i++)); do
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$2" 2>/dev/null; then
    echo "vdb-server ($1) did not stop within 10 s of SIGTERM" >&2
    return 1
  fi
  wait "$2"
  local src=$?
  if [ "$src" -ne 0 ]; then
    echo "vdb-server ($1) exited with $src after SIGTERM:" >&2
    cat "$tmp/$1.stderr" >&2
    return 1
  fi
  return 0
}
