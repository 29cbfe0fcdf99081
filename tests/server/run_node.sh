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

# shellcheck source=server_lib.sh
. "$here/server_lib.sh"
srv_need_node

token="root:Milvus"
srv_start node --token "$token"
VDB_ENDPOINT="http://127.0.0.1:$port" VDB_TOKEN="$token" \
  node --test --test-reporter=spec "$here/node/quickstart.test.mjs"
rc=$?
srv_stop node "$pid" || rc=1
pids=()
[ "$rc" -ne 0 ] && { echo "--- server log ---" >&2; cat "$tmp/node.stderr" >&2; }
exit "$rc"
