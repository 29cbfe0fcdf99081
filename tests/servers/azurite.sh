#!/usr/bin/env bash
# Runs a command against a private Azurite (Microsoft's Azure Storage emulator, from npm):
#   tests/servers/azurite.sh COMMAND [ARGS...]
# starts azurite-blob on a free 127.0.0.1 port with a temporary workspace, waits until it
# answers, runs COMMAND with
#   VDB_AZURE_URI=azblob://vdb-test/vdb-tests?account=devstoreaccount1&endpoint=http://127.0.0.1:PORT/devstoreaccount1&key=KEY
#     (Azurite's built-in development account and its key, as Microsoft documents them)
#   VDB_AZURITE_PID (the first server), VDB_AZURITE_PIDFILE (the current server's pid, after
#   restarts too), VDB_AZURITE_PORT, VDB_AZURITE_DIR, VDB_AZURITE_RESTART (a command that
#   starts it again on the same port and workspace and returns once it answers; for fault
#   tests that kill it)
# "@VDB_AZURE_URI@" in COMMAND's arguments and in VDB_CONFORMANCE_URI, VDB_LOG_URI,
# VDB_META_URI and VDB_OBJECT_URI becomes that URI. Then it stops the server (also when
# COMMAND fails or the script is interrupted) and exits with COMMAND's status. Exits 77
# (meson's "skipped") when node or Azurite is missing: install it with
#   npm ci --prefix tests/servers/azurite
# (or point AZURITE_BLOB_BIN at azurite's dist/src/blob/main.js).
set -uo pipefail
shopt -u patsub_replacement 2>/dev/null || true # "&" in a replacement stays "&"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
account=devstoreaccount1
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

find_bin() {
  local c
  for c in "${AZURITE_BLOB_BIN:-}" "$here/azurite/node_modules/azurite/dist/src/blob/main.js"; do
    [ -n "$c" ] && [ -f "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

# Polls until the blob service answers any HTTP status line, at most $2 seconds.
wait_ready() {
  local port=$1 secs=$2 i line
  for ((i = 0; i < secs * 20; i++)); do
    # (the braces keep the 2>/dev/null to this one exec: on a bare exec it would apply to
    # the rest of the script, and to the command it runs)
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      printf 'GET /%s?comp=list HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$account" "$port" >&3
      line=""
      IFS= read -r -t 2 line <&3 || true
      exec 3<&- 3>&-
      case "$line" in "HTTP/1."?" "[0-9]*) return 0 ;; esac
    fi
    [ -n "${pid:-}" ] && ! kill -0 "$pid" 2>/dev/null && return 1
    sleep 0.05
  done
  return 1
}

# Starts Azurite on $VDB_AZURITE_PORT (0: any free port, read back from its log) with its
# workspace in $VDB_AZURITE_DIR.
start() {
  local log="$VDB_AZURITE_DIR.log" port_arg=${VDB_AZURITE_PORT:-0} i
  : >"$log"
  node "$bin" --blobHost 127.0.0.1 --blobPort "$port_arg" --location "$VDB_AZURITE_DIR" \
    --silent --disableTelemetry </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$VDB_AZURITE_PIDFILE"
  if [ "$port_arg" = 0 ]; then
    VDB_AZURITE_PORT=
    for ((i = 0; i < 600; i++)); do
      VDB_AZURITE_PORT=$(sed -n 's/.*listens on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
      [ -n "$VDB_AZURITE_PORT" ] && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if [ -z "$VDB_AZURITE_PORT" ]; then
      echo "azurite.sh: Azurite did not start:" >&2
      cat "$log" >&2
      return 1
    fi
  fi
  if ! wait_ready "$VDB_AZURITE_PORT" 30; then
    echo "azurite.sh: Azurite on port $VDB_AZURITE_PORT did not answer:" >&2
    cat "$log" >&2
    return 1
  fi
}

if ! command -v node >/dev/null || ! bin=$(find_bin); then
  echo "SKIP: azurite not installed (npm ci --prefix tests/servers/azurite)"
  exit 77
fi

if [ "${1:-}" = "--restart" ]; then # called by a test through $VDB_AZURITE_RESTART
  : "${VDB_AZURITE_DIR:?}" "${VDB_AZURITE_PORT:?}" "${VDB_AZURITE_PIDFILE:?}"
  for _ in 1 2 3 4 5 6 7 8 9 10; do # the old socket may linger a moment after a kill
    start && exit 0
    sleep 0.5
  done
  exit 1
fi

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vdb-azurite.XXXXXX")
export VDB_AZURITE_DIR="$work/data" VDB_AZURITE_PIDFILE="$work/pid"
mkdir -p "$VDB_AZURITE_DIR"
VDB_AZURITE_PORT=0
stop() {
  local p
  p=$(cat "$VDB_AZURITE_PIDFILE" 2>/dev/null)
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null
  fi
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

start || exit 1
export VDB_AZURITE_PORT VDB_AZURITE_PID="$pid"
export VDB_AZURITE_RESTART="bash '$here/azurite.sh' --restart"
endpoint="http://127.0.0.1:$VDB_AZURITE_PORT/$account"
export VDB_AZURE_URI="azblob://vdb-test/vdb-tests?account=$account&endpoint=$endpoint&key=$key"
for v in VDB_CONFORMANCE_URI VDB_LOG_URI VDB_META_URI VDB_OBJECT_URI; do
  if [ -n "${!v-}" ]; then
    val=${!v}
    export "$v=${val//@VDB_AZURE_URI@/$VDB_AZURE_URI}"
  fi
done
args=("${@//@VDB_AZURE_URI@/$VDB_AZURE_URI}")
rc=0
"${args[@]}" || rc=$?
exit $rc
