#!/usr/bin/env bash
# Search and insert throughput of vdb-server over HTTP (Debian's wrk, on loopback) beside the
# same work in-process (bench_http, through the C API), with p50/p99 latency and the ratio of
# HTTP to in-process requests per second.
#
#   bench/bench_http.sh [BUILD_DIR]          (default: build; use a release build)
#
# Settings (environment): DIM=128 ROWS=20000 (rows searched) BATCH=100 (rows per insert)
# CONNS=8 (wrk connections = in-process threads) BENCH_SECONDS=10 K=10 SYNC=full (full|batch|off)
# WRK_THREADS=2. Needs wrk and python3; the server and bench_http come from BUILD_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-build}"
server="$build/server/vdb-server"
inproc="$build/bench/bench_http"
DIM=${DIM:-128} ROWS=${ROWS:-20000} BATCH=${BATCH:-100} CONNS=${CONNS:-8}
SECS=${BENCH_SECONDS:-10} K=${K:-10} SYNC=${SYNC:-full}
WRK_THREADS=${WRK_THREADS:-2}

for f in "$server" "$inproc"; do
  [ -x "$f" ] || { echo "bench_http.sh: $f is not built (ninja -C $build)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench_http.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_http.XXXXXX")
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

"$server" --port 0 --data "$tmp/data" --sync "$SYNC" --log-level warn >"$tmp/out" 2>"$tmp/err" &
pid=$!
port=
for ((i = 0; i < 200; i++)); do
  port=$(sed -n 's/^vdb-server listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "bench_http.sh: vdb-server did not start" >&2; cat "$tmp/err" >&2; exit 1; }
url="http://127.0.0.1:$port/v2/vectordb"

# the two collections and the rows to search, loaded over HTTP in batches of BATCH
python3 - "$url" "$DIM" "$ROWS" "$BATCH" <<'EOF'
import json, random, sys, urllib.request
url, dim, rows, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def post(ep, obj):
    req = urllib.request.Request(url + "/" + ep, json.dumps(obj).encode(),
                                 {"Content-Type": "application/json"})
    r = json.load(urllib.request.urlopen(req))
    assert r["code"] == 0, r
post("collections/create", {"collectionName": "bench", "dimension": dim, "metricType": "L2"})
post("collections/create", {"collectionName": "bench_ins", "dimension": dim, "metricType": "L2",
                            "autoID": True})
rnd = random.Random(42)
for done in range(0, rows, batch):
    n = min(batch, rows - done)
    post("entities/insert", {"collectionName": "bench", "data": [
        {"id": done + i, "vector": [round(rnd.uniform(-1, 1), 6) for _ in range(dim)]}
        for i in range(n)]})
EOF

run_wrk() {
  BENCH_MODE=$1 BENCH_DIM=$DIM BENCH_K=$K BENCH_BATCH=$BATCH BENCH_CONNS=$CONNS \
    wrk -t "$WRK_THREADS" -c "$CONNS" -d "${SECS}s" --timeout 30s -s "$here/bench_http.lua" \
    "$url/entities/$1" | grep '^http '
}
echo "# vdb-server over HTTP (wrk -t $WRK_THREADS -c $CONNS, ${SECS}s each; dim $DIM, $ROWS rows, k $K, insert batches of $BATCH, sync $SYNC)"
http_search=$(run_wrk search)
echo "$http_search"
http_insert=$(run_wrk insert)
echo "$http_insert"
kill -TERM "$pid"
wait "$pid" || true
pid=

# in-process at the same concurrency, and at one thread per CPU (what the server's read lane
# runs): the ratio is taken against the better of the two
ncpu=$(nproc)
echo "# in-process (bench_http: $CONNS threads, then $ncpu; same work)"
inp=$("$inproc" --dir "$tmp/inproc" --dim "$DIM" --rows "$ROWS" --batch "$BATCH" \
  --threads "$CONNS" --seconds "$SECS" --k "$K" --sync "$SYNC")
echo "$inp"
if [ "$ncpu" != "$CONNS" ]; then
  inp2=$("$inproc" --dir "$tmp/inproc" --dim "$DIM" --rows "$ROWS" --batch "$BATCH" \
    --threads "$ncpu" --seconds "$SECS" --k "$K" --sync "$SYNC")
  echo "$inp2"
  inp="$inp"$'\n'"$inp2"
fi

field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
best_by_qps() {
  local w=$1 line q bl= bq=0
  while IFS= read -r line; do
    q=$(field "$line" qps)
    if awk -v a="$q" -v b="$bq" 'BEGIN { exit !(a > b) }'; then bl=$line bq=$q; fi
  done < <(grep "^inproc $w " <<<"$inp")
  echo "$bl"
}
inp_search=$(best_by_qps search)
inp_insert=$(best_by_qps insert)
echo "# summary (ratio = HTTP requests/s over the best in-process requests/s)"
printf '%-7s %11s %11s %6s %9s %9s %10s %10s %8s\n' work http_qps inproc_qps ratio \
  http_p50 http_p99 inproc_p50 inproc_p99 threads
for w in search insert; do
  h=http_$w i=inp_$w
  hq=$(field "${!h}" qps) iq=$(field "${!i}" qps)
  printf '%-7s %11s %11s %6s %9s %9s %10s %10s %8s\n' "$w" "$hq" "$iq" \
    "$(awk -v a="$hq" -v b="$iq" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')" \
    "$(field "${!h}" p50_ms)" "$(field "${!h}" p99_ms)" "$(field "${!i}" p50_ms)" \
    "$(field "${!i}" p99_ms)" "$(field "${!i}" threads)"
done
echo "(latencies in ms; rows/s = qps x $BATCH for inserts)"
errs=$(( $(field "$http_search" errors) + $(field "$http_insert" errors) ))
if [ "$errs" -ne 0 ]; then
  echo "bench_http.sh: $errs HTTP requests failed" >&2
  exit 1
fi
