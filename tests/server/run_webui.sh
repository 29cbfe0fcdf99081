#!/usr/bin/env bash
# Runs tests/server/webui/webui.test.mjs: Debian's chromium, headless, driven by playwright-core
# (no browser download), loads vdb-server's /webui and checks what it shows:
#   tests/server/run_webui.sh path/to/vdb-server OUTDIR
# The server gets a free 127.0.0.1 port, a temporary data folder and a token. The page's
# screenshot is written to OUTDIR/webui.png (meson: build/tests/server/webui-out/webui.png).
# Exits 77 (meson's "skipped") when node, npm or /usr/bin/chromium is missing; installs
# playwright-core from tests/server/webui/package-lock.json (npm ci) when node_modules is absent.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="${1:?usage: run_webui.sh path/to/vdb-server OUTDIR}"
out="${2:?usage: run_webui.sh path/to/vdb-server OUTDIR}"

chromium=${VDB_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "SKIP: $chromium is needed for the /webui browser test (apt-get install chromium)"
  exit 77
fi
# shellcheck source=server_lib.sh
. "$here/server_lib.sh"
srv_need_npm webui playwright-core

mkdir -p "$out"
rm -f "$out/webui.png"
token="root:Milvus"
srv_start webui --token "$token"
VDB_ENDPOINT="http://127.0.0.1:$port" VDB_TOKEN="$token" VDB_CHROMIUM="$chromium" \
  VDB_WEBUI_OUT="$out" node --test --test-reporter=spec "$here/webui/webui.test.mjs"
rc=$?
srv_stop webui "$pid" || rc=1
pids=()
[ "$rc" -ne 0 ] && { echo "--- server log ---" >&2; cat "$tmp/webui.stderr" >&2; }
[ -f "$out/webui.png" ] && echo "screenshot: $out/webui.png"
exit "$rc"
