#!/usr/bin/env bash
# Runs tests/server/webui/webui.test.mjs: Debian's chromium, headless, driven by playwright-core
# (no browser download), loads vdb-server's /webui and checks what it shows:
#   tests/server/run_webui.sh path/to/vdb-server OUTDIR
# The server gets a free 127.0.0.1 port, a temporary data folder and a token (and a second one
# TLS with a self-signed certificate, when openssl is there, for the page over HTTPS). The page's
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
web_pid=$pid web_port=$port
# the page over HTTPS too (a browser offers h2 and http/1.1), when openssl can make a certificate
tls_endpoint=
tls_pid=
if command -v openssl >/dev/null 2>&1 &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1; then
  srv_start tls --log-level debug --token "$token" --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem"
  tls_pid=$pid tls_endpoint="https://127.0.0.1:$port"
else
  echo "no openssl: the page is not checked over HTTPS"
fi
VDB_ENDPOINT="http://127.0.0.1:$web_port" VDB_TLS_ENDPOINT="$tls_endpoint" VDB_TOKEN="$token" \
  VDB_CHROMIUM="$chromium" VDB_WEBUI_OUT="$out" \
  node --test --test-reporter=spec "$here/webui/webui.test.mjs"
rc=$?
srv_stop webui "$web_pid" || rc=1
[ -n "$tls_pid" ] && { srv_stop tls "$tls_pid" || rc=1; }
pids=()
if [ "$rc" -ne 0 ]; then
  echo "--- server log ---" >&2
  cat "$tmp/webui.stderr" >&2
  [ -f "$tmp/tls.stderr" ] && cat "$tmp/tls.stderr" >&2
fi
[ -f "$out/webui.png" ] && echo "screenshot: $out/webui.png"
exit "$rc"
