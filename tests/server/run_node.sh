#!/usr/bin/env bash
# Runs tests/server/node/quickstart.test.mjs (the official Milvus Node.js SDK's HttpClient,
# unchanged) against a vdb-server it starts:
#   tests/server/run_node.sh path/to/vdb-server
# The server gets a free 127.0.0.1 port (--port 0, read back from its stdout), a temporary data
# folder and a token; it is stopped with SIGTERM afterwards (also when the test fails), and the
# script fails if that shutdown is not clean. Exits 77 (meson's "skipped") when node or npm is
# missing; installs the SDK from package-lock.json (npm ci) when node_modules is absent.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="${1:?usage: run_node.sh path/to/vdb-server}"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are needed for the Node SDK test (apt-get install nodejs npm)"
  exit 77
fi
if [ ! -d "$here/node/node_modules/@zilliz/milvus2-sdk-node" ]; then
  echo "installing @zilliz/milvus2-sdk-node from tests/server/node/package-lock.json"
  if ! npm ci --prefix "$here/node" --no-audit --no-fund >&2; then
    echo "SKIP: npm ci failed (offline?): npm install --prefix tests/server/node"
    exit 77
  fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdb-server-node.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

token="root:Milvus"
"$server" --port 0 --data "$tmp/data" --token "$token" --log-level warn \
  >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
port=
for ((i = 0; i < 200; i++)); do
  port=$(sed -n 's/^vdb-server listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/stdout")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "run_node.sh: vdb-server did not start:" >&2
  cat "$tmp/stderr" >&2
  exit 1
fi

VDB_ENDPOINT="http://127.0.0.1:$port" VDB_TOKEN="$token" \
  node --test --test-reporter=spec "$here/node/quickstart.test.mjs"
rc=$?

kill -TERM "$pid"
for ((i = 0; i < 200; i++)); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$pid" 2>/dev/null; then
  echo "run_node.sh: vdb-server did not stop within 10 s of SIGTERM" >&2
  rc=1
else
  wait "$pid"
  src=$?
  pid=
  if [ "$src" -ne 0 ]; then
    echo "run_node.sh: vdb-server exited with $src after SIGTERM:" >&2
    cat "$tmp/stderr" >&2
    rc=1
  fi
fi
[ "$rc" -ne 0 ] && { echo "--- server log ---" >&2; cat "$tmp/stderr" >&2; }
exit "$rc"
