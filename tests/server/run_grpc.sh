#!/usr/bin/env bash
# Runs the gRPC tests (tests/server/node/grpc*.test.mjs: the official Milvus Node.js SDK's
# MilvusClient, unchanged, and raw HTTP/2 clients) against vdb-servers it starts:
#   tests/server/run_grpc.sh path/to/vdb-server
# - a server with a token: grpc.test.mjs over plain TCP (REST on the same port too);
# - a server with a token and TLS (a self-signed certificate made here with openssl):
#   grpc.test.mjs again, over TLS, REST over HTTPS on the same port;
# - a server with small limits (--max-body 1M, --timeout 2, --max-streams 16):
#   grpc_bad.test.mjs (bad input, stalled and greedy clients).
# Each gets a free 127.0.0.1 port (--port 0) and a temporary folder, and is stopped with
# SIGTERM afterwards; the script fails if a shutdown is not clean. Exits 77 (skipped) when node
# or npm is missing; installs the SDK from package-lock.json (npm ci) when it is absent.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="${1:?usage: run_grpc.sh path/to/vdb-server}"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are needed for the gRPC tests (apt-get install nodejs npm)"
  exit 77
fi
if [ ! -d "$here/node/node_modules/@zilliz/milvus2-sdk-node" ]; then
  echo "installing @zilliz/milvus2-sdk-node from tests/server/node/package-lock.json"
  if ! npm ci --prefix "$here/node" --no-audit --no-fund >&2; then
    echo "SKIP: npm ci failed (offline?): npm install --prefix tests/server/node"
    exit 77
  fi
fi
if ! command -v openssl >/dev/null 2>&1; then
  echo "SKIP: openssl is needed to make the test certificate"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdb-server-grpc.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME ARGS...: starts a server, sets $port and $pid
start() {
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
    echo "run_grpc.sh: vdb-server ($name) did not start:" >&2
    cat "$tmp/$name.stderr" >&2
    exit 1
  fi
}

# stop NAME PID: SIGTERM, and a clean exit within 10 s
stop() {
  kill -TERM "$2"
  for ((i = 0; i < 200; i++)); do
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$2" 2>/dev/null; then
    echo "run_grpc.sh: vdb-server ($1) did not stop within 10 s of SIGTERM" >&2
    return 1
  fi
  wait "$2"
  local src=$?
  if [ "$src" -ne 0 ]; then
    echo "run_grpc.sh: vdb-server ($1) exited with $src after SIGTERM:" >&2
    cat "$tmp/$1.stderr" >&2
    return 1
  fi
  return 0
}

rc=0
token="root:Milvus"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
  { echo "run_grpc.sh: openssl could not make a certificate" >&2; exit 1; }

start plain --token "$token"
plain_pid=$pid plain_port=$port
start tls --token "$token" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
tls_pid=$pid tls_port=$port
start limits --max-body 1M --timeout 2 --max-streams 16
limits_pid=$pid limits_port=$port

echo "# gRPC over TCP (127.0.0.1:$plain_port)"
VDB_ADDRESS="127.0.0.1:$plain_port" VDB_TOKEN="$token" VDB_ENDPOINT="http://127.0.0.1:$plain_port" \
  node --test --test-reporter=spec "$here/node/grpc.test.mjs" || rc=1
echo "# gRPC over TLS (127.0.0.1:$tls_port)"
VDB_ADDRESS="127.0.0.1:$tls_port" VDB_TOKEN="$token" VDB_TLS_CA="$tmp/cert.pem" \
  VDB_ENDPOINT="https://127.0.0.1:$tls_port" NODE_EXTRA_CA_CERTS="$tmp/cert.pem" \
  node --test --test-reporter=spec "$here/node/grpc.test.mjs" || rc=1
echo "# bad input (127.0.0.1:$limits_port)"
VDB_ADDRESS="127.0.0.1:$limits_port" \
  node --test --test-reporter=spec "$here/node/grpc_bad.test.mjs" || rc=1

for n in plain tls limits; do
  p="${n}_pid"
  stop "$n" "${!p}" || rc=1
done
pids=()
if [ "$rc" -ne 0 ]; then
  for n in plain tls limits; do
    echo "--- server log ($n) ---" >&2
    cat "$tmp/$n.stderr" >&2
  done
fi
exit "$rc"
