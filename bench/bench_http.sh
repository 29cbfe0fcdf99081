#!/usr/bin/env bash
# Search and insert throughput of vdb-server over REST (HTTP/1.1, Debian's wrk) and over gRPC
# (HTTP/2, bench_grpc: Milvus's Search and Insert calls) on loopback, beside the same work
# in-process (bench_http, through the C API), with one client and with CONNS clients: requests
# per second, p50/p99 latency and the ratios to in-process.
#
#   bench/bench_http.sh [BUILD_DIR]          (default: build; use a release build)
#
# Settings (environment): DIM=128 ROWS=20000 (rows searched) BATCH=100 (rows per insert)
# CONNS=8 (wrk connections = gRPC connections = in-process threads) BENCH_SECONDS=10 K=10
# SYNC=full (full|batch|off) WRK_THREADS=2. Needs wrk and python3; the server, bench_grpc and
# bench_http come from BUILD_DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-build}"
server="$build/server/vdb-server"
inproc="$build/bench/bench_http"
grpc="$build/bench/bench_grpc"
DIM=${DIM:-128} ROWS=${ROWS:-20000} BATCH=${BATCH:-100} CONNS=${CONNS:-8}
SECS=${BENCH_SECONDS:-10} K=${K:-10} SYNC=${SYNC:-full}
WRK_THREADS=${WRK_THREADS:-2}

for f in "$server" "$inproc" "$grpc"; do
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

run_wrk() { # MODE CONNS
  BENCH_MODE=$1 BENCH_DIM=$DIM BENCH_K=$K BENCH_BATCH=$BATCH BENCH_CONNS=$2 \
    wrk -t "$(( $2 < WRK_THREADS ? $2 : WRK_THREADS ))" -c "$2" -d "${SECS}s" --timeout 30s \
    -s "$here/bench_http.lua" "$url/entities/$1" | grep '^http '
}
run_grpc() { # MODE CONNS
  "$grpc" --port "$port" --mode "$1" --threads "$2" --dim "$DIM" --batch "$BATCH" --k "$K" \
    --seconds "$SECS"
}
run_inproc() { # CONNS: both works
  "$inproc" --dir "$tmp/inproc" --dim "$DIM" --rows "$ROWS" --batch "$BATCH" \
    --threads "$1" --seconds "$SECS" --k "$K" --sync "$SYNC"
}
echo "# dim $DIM, $ROWS rows, k $K, insert batches of $BATCH, sync $SYNC, ${SECS}s per run;" \
  "REST (wrk), gRPC (bench_grpc) and in-process (bench_http) taking turns"
declare -A res
for c in 1 "$CONNS"; do # the three in turns at each concurrency (the server idles meanwhile)
  for w in search insert; do
    res[http_${w}_$c]=$(run_wrk "$w" "$c")
    echo "${res[http_${w}_$c]}"
    res[grpc_${w}_$c]=$(run_grpc "$w" "$c")
    echo "${res[grpc_${w}_$c]}"
  done
  out=$(run_inproc "$c")
  echo "$out"
  res[inproc_search_$c]=$(grep '^inproc search ' <<<"$out")
  res[inproc_insert_$c]=$(grep '^inproc insert ' <<<"$out")
done
kill -TERM "$pid"
wait "$pid" || true
pid=

field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
echo "# summary (ratios: requests/s over in-process requests/s at the same concurrency)"
printf '%-7s %7s %10s %10s %11s %6s %6s %9s %9s %9s\n' work clients rest_qps grpc_qps \
  inproc_qps rest/in grpc/in rest_p50 grpc_p50 inproc_p50
errs=0
for c in 1 "$CONNS"; do
  for w in search insert; do
    h=${res[http_${w}_$c]} g=${res[grpc_${w}_$c]} i=${res[inproc_${w}_$c]}
    hq=$(field "$h" qps) gq=$(field "$g" qps) iq=$(field "$i" qps)
    printf '%-7s %7s %10s %10s %11s %6s %6s %9s %9s %9s\n' "$w" "$c" "$hq" "$gq" "$iq" \
      "$(ratio "$hq" "$iq")" "$(ratio "$gq" "$iq")" "$(field "$h" p50_ms)" \
      "$(field "$g" p50_ms)" "$(field "$i" p50_ms)"
    errs=$(( errs + $(field "$h" errors) + $(field "$g" errors) ))
  done
done
echo "(latencies in ms; rows/s = qps x $BATCH for inserts)"
if [ "$errs" -ne 0 ]; then
  echo "bench_http.sh: $errs requests failed" >&2
  exit 1
fi
