#!/usr/bin/env bash
# Runs the gRPC tests (tests/server/node/grpc*.test.mjs: the official Milvus Node.js SDK's
# MilvusClient, unchanged, and raw HTTP/2 clients) against vdb-servers it starts:
#   tests/server/run_grpc.sh path/to/vdb-server
# - a server with a token: grpc.test.mjs over plain TCP (REST on the same port too), and
#   grpc_hybrid.test.mjs (hybrid search), grpc_sparse.test.mjs, grpc_halfvec.test.mjs,
#   grpc_binary.test.mjs and grpc_query_iter.test.mjs;
# - a server with a token and TLS (a self-signed certificate made here with openssl):
#   grpc.test.mjs again, over TLS, REST over HTTPS on the same port;
# - a server with small limits (--max-body 1M, --timeout 2, --max-streams 16):
#   grpc_bad.test.mjs (bad input, stalled and greedy clients);
# - a server with --authorization 1: grpc_rbac.test.mjs (users and roles).
# Each gets a free 127.0.0.1 port (--port 0) and a temporary folder, and is stopped with
# SIGTERM afterwards; the script fails if a shutdown is not clean (server_lib.sh). Exits 77
# (skipped) without node, npm or openssl.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="${1:?usage: run_grpc.sh path/to/vdb-server}"

# shellcheck source=server_lib.sh
. "$here/server_lib.sh"
srv_need_node
if ! command -v openssl >/dev/null 2>&1; then
  echo "SKIP: openssl is needed to make the test certificate"
  exit 77
fi

rc=0
token="root:Milvus"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
  { echo "run_grpc.sh: openssl could not make a certificate" >&2; exit 1; }

srv_start plain --token "$token"
plain_pid=$pid plain_port=$port
srv_start tls --token "$token" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
tls_pid=$pid tls_port=$port
srv_start limits --max-body 1M --timeout 2 --max-streams 16
limits_pid=$pid limits_port=$port
srv_start rbac --authorization 1
rbac_pid=$pid rbac_port=$port

echo "# gRPC over TCP (127.0.0.1:$plain_port)"
VDB_ADDRESS="127.0.0.1:$plain_port" VDB_TOKEN="$token" VDB_ENDPOINT="http://127.0.0.1:$plain_port" \
  node --test --test-reporter=spec "$here/node/grpc.test.mjs" "$here/node/grpc_hybrid.test.mjs" \
    "$here/node/grpc_sparse.test.mjs" "$here/node/grpc_halfvec.test.mjs" \
    "$here/node/grpc_binary.test.mjs" "$here/node/grpc_query_iter.test.mjs" ||
  rc=1
echo "# gRPC over TLS (127.0.0.1:$tls_port)"
VDB_ADDRESS="127.0.0.1:$tls_port" VDB_TOKEN="$token" VDB_TLS_CA="$tmp/cert.pem" \
  VDB_ENDPOINT="https://127.0.0.1:$tls_port" NODE_EXTRA_CA_CERTS="$tmp/cert.pem" \
  node --test --test-reporter=spec "$here/node/grpc.test.mjs" || rc=1
echo "# bad input (127.0.0.1:$limits_port)"
VDB_ADDRESS="127.0.0.1:$limits_port" \
  node --test --test-reporter=spec "$here/node/grpc_bad.test.mjs" || rc=1
echo "# users and roles, --authorization 1 (127.0.0.1:$rbac_port)"
VDB_ADDRESS="127.0.0.1:$rbac_port" VDB_ENDPOINT="http://127.0.0.1:$rbac_port" \
  node --test --test-reporter=spec "$here/node/grpc_rbac.test.mjs" || rc=1

for n in plain tls limits rbac; do
  p="${n}_pid"
  srv_stop "$n" "${!p}" || rc=1
done
pids=()
if [ "$rc" -ne 0 ]; then
  for n in plain tls limits rbac; do
    echo "--- server log ($n) ---" >&2
    cat "$tmp/$n.stderr" >&2
  done
fi
exit "$rc"
