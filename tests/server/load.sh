#!/usr/bin/env bash
# vdb-server under load (issue 19): wrk with CONNS connections sends a mix of REST searches and
# inserts (bench/bench_http.lua, BENCH_MODE=mixed) for SECONDS_RUN to a server on loopback, while
# the server's VmRSS is sampled every second from /proc/PID/status. Fails on any error (an
# answer not HTTP 200 with code 0, a socket error or timeout counted by wrk) and on memory that
# grows over the last half of a phase by more than the bound below. Prints requests/s and the
# p50/p99 latency.
#
#   tests/server/load.sh path/to/vdb-server             (CI size: 10 s)
#   SECONDS_RUN=60 tests/server/load.sh build/server/vdb-server   (the documented run)
#
# Settings (environment): SECONDS_RUN=10 CONNS=64 DIM=64 ROWS=10000 (rows searched) K=10
# INSERT_PCT=10 (percent of requests that insert) BATCH=10 (rows per insert) SYNC=full
# WRK_THREADS=2 RSS_SLACK_KB=8192 SEARCH_SLACK_KB=2048 TOKEN=root:Milvus (--token, sent by every request; empty:
# none).
#
# Two phases on one server: SECONDS_RUN of the mix, then half as long (at least 5 s) of searches
# only. Memory bound, over the last half of each phase's samples: RSS may grow by at most
# RSS_SLACK_KB plus, in the mix, three times the raw vector bytes inserted over that half
# (inserted rows are data the server keeps: the growing segment, then the sealed one; runs
# grow by 1.2 to 1.8 times that, in steps); in the searches by SEARCH_SLACK_KB at most. The mix's bound
# is loose (over 60 s, leaks from about 1 KiB a request); the searches' is sharp (a few
# hundred bytes a request). Exits 77 (skipped) when wrk is not installed
# (scripts/install-deps).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="${1:?usage: load.sh path/to/vdb-server}"
SECS=${SECONDS_RUN:-10} CONNS=${CONNS:-64} DIM=${DIM:-64} ROWS=${ROWS:-10000} K=${K:-10}
INSERT_PCT=${INSERT_PCT:-10} BATCH=${BATCH:-10} SYNC=${SYNC:-full} TOKEN=${TOKEN-root:Milvus}
WRK_THREADS=${WRK_THREADS:-2} RSS_SLACK_KB=${RSS_SLACK_KB:-8192}
SEARCH_SLACK_KB=${SEARCH_SLACK_KB:-2048}
lua="$here/../../bench/bench_http.lua"

if ! command -v wrk >/dev/null 2>&1; then
  echo "SKIP: wrk is not installed (apt-get install wrk; scripts/install-deps)"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdb-load.XXXXXX")
pid= sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

: >"$tmp/out" # read below before the server may have opened it
auth=()
[ -n "$TOKEN" ] && auth=(--token "$TOKEN")
"$server" --port 0 --data "$tmp/data" --sync "$SYNC" --log-level warn "${auth[@]}" \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!
port=
for ((i = 0; i < 200; i++)); do
  port=$(sed -n 's/^vdb-server listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/out")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
[ -n "$port" ] || { echo "load.sh: vdb-server did not start" >&2; cat "$tmp/err" >&2; exit 1; }
url="http://127.0.0.1:$port/v2/vectordb"

# the collection searched (ROWS rows, loaded in batches of 500) and the auto-id one inserted into
python3 - "$url" "$DIM" "$ROWS" "$TOKEN" <<'EOF'
import json, random, sys, urllib.request
url, dim, rows, token = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
headers = {"Content-Type": "application/json"}
if token:
    headers["Authorization"] = "Bearer " + token
def post(ep, obj):
    req = urllib.request.Request(url + "/" + ep, json.dumps(obj).encode(), headers)
    r = json.load(urllib.request.urlopen(req))
    assert r["code"] == 0, r
post("collections/create", {"collectionName": "bench", "dimension": dim, "metricType": "L2"})
post("collections/create", {"collectionName": "bench_ins", "dimension": dim, "metricType": "L2",
                            "autoID": True})
rnd = random.Random(42)
for done in range(0, rows, 500):
    n = min(500, rows - done)
    post("entities/insert", {"collectionName": "bench", "data": [
        {"id": done + i, "vector": [round(rnd.uniform(-1, 1), 6) for _ in range(dim)]}
        for i in range(n)]})
EOF

[ -n "$TOKEN" ] && export BENCH_TOKEN="$TOKEN"
fail=0

# phase NAME INSERT_PCT SECONDS SLACK_KB FACTOR: wrk for SECONDS with INSERT_PCT percent
# inserts while VmRSS (kB) is sampled once a second; fails (fail=1) on an error, or on growth
# over the last half of the samples past SLACK_KB + FACTOR x the vector bytes inserted meanwhile
phase() {
  local name=$1 pct=$2 secs=$3 slack=$4 factor=$5 line
  (while kill -0 "$pid" 2>/dev/null; do
     sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$pid/status" 2>/dev/null || true
     sleep 1
   done) >"$tmp/rss" &
  sampler=$!
  line=$(BENCH_MODE=mixed BENCH_DIM=$DIM BENCH_K=$K BENCH_BATCH=$BATCH BENCH_CONNS=$CONNS \
    BENCH_INSERT_PCT=$pct \
    wrk -t "$(( CONNS < WRK_THREADS ? CONNS : WRK_THREADS ))" -c "$CONNS" -d "${secs}s" \
    --timeout 30s -s "$lua" "$url" | grep '^http ') || {
    echo "load.sh: wrk failed" >&2
    exit 1
  }
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sampler=
  echo "$name: ${line#http mixed }"
  local errors rows_s n mid last_max growth allowed
  errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
  rows_s=$(sed -n 's/.* rows_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
  if [ "${errors:-1}" != 0 ]; then
    echo "load.sh: $name: $errors requests failed (not HTTP 200 with code 0, or socket errors)" >&2
    fail=1
  fi
  read -r n mid last_max growth <<<"$(awk '
    { v[NR] = $1 }
    END {
      h = int(NR / 2) + 1; m = 0
      for (i = h; i <= NR; i++) if (v[i] > m) m = v[i]
      print NR, v[h], m, m - v[h]
    }' "$tmp/rss")"
  allowed=$(awk -v r="$rows_s" -v s="$secs" -v d="$DIM" -v k="$slack" -v f="$factor" \
    'BEGIN { printf "%d", k + f * r * (s / 2) * d * 4 / 1024 }')
  echo "$name: rss samples=$n first_kb=$(head -1 "$tmp/rss") mid_kb=$mid" \
    "last_half_max_kb=$last_max growth_last_half_kb=$growth allowed_kb=$allowed"
  echo "$name: rss_kb $(tr '\n' ' ' <"$tmp/rss" | head -c 2000)"
  if [ "$n" -lt 4 ]; then
    echo "load.sh: $name: only $n memory samples" >&2
    fail=1
  elif [ -n "${ASAN_OPTIONS:-}${TSAN_OPTIONS:-}" ]; then
    # tests/run --sanitize / --tsan: the sanitizers' quarantine and shadow memory grow
    # the resident size by design; the errors are checked, the memory bound only in the
    # plain build
    echo "$name: under a sanitizer: memory growth not checked"
  elif [ "$growth" -gt "$allowed" ]; then
    echo "load.sh: $name: the server's memory grew by $growth kB over the last half" \
      "(allowed $allowed)" >&2
    fail=1
  fi
}

phase mixed "$INSERT_PCT" "$SECS" "$RSS_SLACK_KB" 3
# then searches only on the same server: nothing new to keep
phase search 0 "$(( SECS / 2 > 5 ? SECS / 2 : 5 ))" "$SEARCH_SLACK_KB" 0

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
if [ "$rc" -ne 0 ]; then
  echo "load.sh: vdb-server exited with $rc after SIGTERM" >&2
  fail=1
fi
if [ "$fail" -ne 0 ]; then
  tail -20 "$tmp/err" >&2
fi
exit "$fail"
