#!/usr/bin/env bash
# Runs a command against a private s3rver (S3-compatible test server from npm):
#   tests/servers/s3rver.sh COMMAND [ARGS...]
# starts s3rver on a free 127.0.0.1 port with a temporary data folder and the bucket vdb-test,
# waits until it answers, runs COMMAND with
#   VDB_S3_URI=s3://vdb-test/PREFIX?endpoint=http://127.0.0.1:PORT&region=us-east-1
#   AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER (s3rver's built-in account)
#   S3RVER_PID (first server), S3RVER_PIDFILE (the current server's pid, after restarts too),
#   S3RVER_PORT, S3RVER_DIR, S3RVER_RESTART (a command that starts it again on the same port
#   and folder and returns once it answers; for fault tests that kill it)
# and "@VDB_S3_URI@" replaced by the URI in COMMAND's arguments and in the variables
# VDB_CONFORMANCE_URI, VDB_LOG_URI, VDB_META_URI and VDB_OBJECT_URI, e.g.
#   s3rver.sh conformance_object '@VDB_S3_URI@&part_size=5242880'
# then stops the server (also when COMMAND fails or the script is interrupted) and exits with
# COMMAND's status. Exits 77 (meson's "skipped") when s3rver is not installed: install it with
#   npm install --prefix tests/servers s3rver@3
# (or point S3RVER_BIN at its bin/s3rver.js).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bucket=vdb-test

find_bin() {
  local c
  for c in "${S3RVER_BIN:-}" "$here/node_modules/s3rver/bin/s3rver.js"; do
    [ -n "$c" ] && [ -f "$c" ] && { echo "$c"; return 0; }
  done
  return 1
}

# Polls until GET /bucket answers 200 (the bucket exists), at most $2 seconds.
wait_ready() {
  local port=$1 secs=$2 i
  for ((i = 0; i < secs * 20; i++)); do
    # in a subshell: the probe's descriptors and its errors stay out of this shell
    local line
    line=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" &&
      printf 'GET /%s?max-keys=1 HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$bucket" "$port" >&3 &&
      IFS= read -r -t 2 l <&3 && echo "$l") 2>/dev/null)
    case "$line" in "HTTP/1."?" 200"*) return 0 ;; esac
    [ -n "${pid:-}" ] && ! kill -0 "$pid" 2>/dev/null && return 1
    sleep 0.05
  done
  return 1
}

# Starts s3rver on $S3RVER_PORT (0: any free port, read back from its log) in $S3RVER_DIR.
start() {
  local log="$S3RVER_DIR.log" port_arg=${S3RVER_PORT:-0} i
  node $node_flags "$bin" -d "$S3RVER_DIR" -a 127.0.0.1 -p "$port_arg" --configure-bucket "$bucket" \
    </dev/null >>"$log" 2>&1 &
  pid=$!
  disown "$pid" # a test may kill it: no job-control notice
  echo "$pid" >"$S3RVER_PIDFILE"
  if [ "$port_arg" = 0 ]; then
    for ((i = 0; i < 600; i++)); do
      S3RVER_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -1)
      [ -n "$S3RVER_PORT" ] && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if [ -z "$S3RVER_PORT" ]; then
      echo "s3rver.sh: s3rver did not start:" >&2
      cat "$log" >&2
      return 1
    fi
  fi
  if ! wait_ready "$S3RVER_PORT" 30; then
    echo "s3rver.sh: s3rver on port $S3RVER_PORT did not answer:" >&2
    cat "$log" >&2
    return 1
  fi
}

if ! bin=$(find_bin) || ! command -v node >/dev/null; then
  echo "SKIP: s3rver not installed (npm install --prefix tests/servers s3rver@3)"
  exit 77
fi

# s3rver makes its continuation tokens with DES, which OpenSSL 3 (node >= 17) keeps in its
# legacy provider: without it a listing longer than one page fails with a 500.
node_flags=""
node --openssl-legacy-provider -e 0 >/dev/null 2>&1 && node_flags="--openssl-legacy-provider"

if [ "${1:-}" = "--restart" ]; then # called by a test through $S3RVER_RESTART
  : "${S3RVER_DIR:?}" "${S3RVER_PORT:?}" "${S3RVER_PIDFILE:?}"
  start || exit 1
  exit 0
fi

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/vdb-s3rver.XXXXXX")
export S3RVER_DIR="$work/data" S3RVER_PIDFILE="$work/pid"
mkdir -p "$S3RVER_DIR"
S3RVER_PORT=0
stop() {
  local p
  p=$(cat "$S3RVER_PIDFILE" 2>/dev/null)
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
export S3RVER_PORT S3RVER_PID="$pid"
export S3RVER_RESTART="bash '$here/s3rver.sh' --restart"
export VDB_S3_URI="s3://$bucket/vdb-tests?endpoint=http://127.0.0.1:$S3RVER_PORT&region=us-east-1"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
unset AWS_SESSION_TOKEN
# "@VDB_S3_URI@" in the arguments and in these variables becomes the URI (as in etcd.sh)
for v in VDB_CONFORMANCE_URI VDB_LOG_URI VDB_META_URI VDB_OBJECT_URI; do
  val="${!v:-}"
  # (the replacement quoted: bash 5.2 would read its '&' as "the matched text")
  [ -n "$val" ] && export "$v=${val//@VDB_S3_URI@/"$VDB_S3_URI"}"
done
args=("${@//@VDB_S3_URI@/"$VDB_S3_URI"}")
"${args[@]}"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
  echo "s3rver.sh: '$*' exited with $rc; the end of s3rver's log:" >&2
  grep -v ' 20[0-9] \| 404 ' "$S3RVER_DIR.log" | tail -n 40 >&2
fi
exit $rc
