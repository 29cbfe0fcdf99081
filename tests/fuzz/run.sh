#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c: clang, libFuzzer + ASan + UBSan, the
# library compiled for coverage) in a meson build folder, writes seed inputs from a real
# database (fuzz_seeds, fuzz_grpc), then runs every target for SECONDS each (first argument,
# default 30: CI's `tests/fuzz/run.sh 30` takes about 30 s per target, some 6 minutes for
# the 11 targets, plus the build).
#
#   tests/fuzz/run.sh                 # 30 s per target (what CI does)
#   tests/fuzz/run.sh 5               # a quick look
#   FUZZ_TARGETS="wal binlog" tests/fuzz/run.sh 600   # some targets, 10 minutes each
#   FUZZ_RUNS=10000000 tests/fuzz/run.sh              # the long run: 10 M executions each
#   FUZZ_JOBS=8 tests/fuzz/run.sh 86400               # a day per target on 8 cores (-fork=8)
#
# Targets: expr (filter language), record (log records and their columns), wal (WAL segment
# files, alone and through the backend), binlog, manifest, delta, bloom (segment files),
# index (saved HNSW / IVF indexes), json (the JSON reader), meta (the local meta store's
# snapshots, logs and meta.hwm), rest and grpc (vdb-server's
# request decoding) and http (its HTTP/1.1 parser; the three built when the server's
# dependencies are installed). tests/fuzz/long.sh N runs them to N executions each.
#
# Inputs a run finds are kept in $FUZZ_OUT/corpus_<target> (default build-fuzz/ at the
# repository root), so later runs continue from them; the committed seeds in
# tests/fuzz/corpus_<target> are never written. A crash, leak, timeout or oversized
# allocation stops the target and leaves crash-/leak-/timeout-/oom-<hash> in $FUZZ_OUT;
# replay it with: build-fuzz/tests/fuzz/fuzz_<target> build-fuzz/crash-<hash>
# Needs clang with libFuzzer (Debian: apt-get install -y clang libclang-rt-14-dev).
set -eu

secs=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$root/build-fuzz}
cc=${CC_FUZZ:-clang}
all="expr record wal binlog manifest delta bloom index json meta analyzer rest grpc http h2"
targets=${FUZZ_TARGETS:-$all}

cd "$root"
if [ ! -f "$out/build.ninja" ]; then
    CC="$cc" CXX="${CXX_FUZZ:-clang++}" meson setup "$out" --buildtype=debugoptimized \
        -Dwerror=true -Dfuzz=true -Dtests=false -Dbench=false -Dfaiss=disabled \
        -Drocksdb=disabled -Detcd=disabled -Ds3=disabled -Dnats=disabled -Dazure=disabled \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args="['-fsanitize=fuzzer-no-link', '-fno-sanitize-recover=undefined']"
fi
ninja -C "$out" -j"${FUZZ_BUILD_JOBS:-2}"
bin="$out/tests/fuzz"

# Seeds from a real database: the files the library writes (once per build folder).
if [ ! -f "$out/seeds/.done" ]; then
    rm -rf "$out/seeds" "$out/seeds-db"
    mkdir -p "$out/seeds"
    ASAN_OPTIONS=detect_leaks=1 "$bin/fuzz_seeds" "$out/seeds-db" "$out/seeds"
    if [ -x "$bin/fuzz_grpc" ]; then
        FUZZ_GRPC_SEEDS="$out/seeds/corpus_grpc" "$bin/fuzz_grpc" >/dev/null 2>&1
    fi
    rm -rf "$out/seeds-db"
    touch "$out/seeds/.done"
fi

failed=""
summary=""
for t in $targets; do
    exe="$bin/fuzz_$t"
    if [ ! -x "$exe" ]; then
        echo "fuzz: $t not built (the server targets need the server's dependencies)" >&2
        continue
    fi
    mkdir -p "$out/corpus_$t"
    corpora="$out/corpus_$t"
    [ -d "$here/corpus_$t" ] && corpora="$corpora $here/corpus_$t"
    [ -d "$out/seeds/corpus_$t" ] && corpora="$corpora $out/seeds/corpus_$t"
    case $t in
        expr) maxlen=4096; dict=expr.dict ;;
        json) maxlen=4096; dict=json.dict ;;
        analyzer) maxlen=4096; dict= ;;
        rest) maxlen=8192; dict=rest.dict ;;
        http) maxlen=16384; dict=http.dict ;;
        wal|index|binlog|record) maxlen=65536; dict= ;;
        *) maxlen=16384; dict= ;;
    esac
    opts="-detect_leaks=1 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=$maxlen -print_final_stats=1"
    [ -n "$dict" ] && opts="$opts -dict=$here/$dict"
    if [ -n "${FUZZ_RUNS:-}" ]; then
        opts="$opts -runs=$FUZZ_RUNS"
    else
        opts="$opts -max_total_time=$secs"
    fi
    [ "${FUZZ_JOBS:-0}" -gt 0 ] && opts="$opts -fork=$FUZZ_JOBS -ignore_crashes=0"
    log="$out/fuzz_$t.log"
    echo "fuzz: $t ($opts)"
    t0=$(date +%s)
    # shellcheck disable=SC2086
    if (cd "$out" && ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
            "$exe" $opts $corpora) >"$log" 2>&1; then
        res=ok
    else
        # what stopped it, from libFuzzer's and the sanitizers' reports
        if grep -q 'ERROR: LeakSanitizer' "$log"; then res="FAILED (leak)"
        elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then res="FAILED (timeout)"
        elif grep -q 'out-of-memory\|malloc(.*) exceeds' "$log"; then res="FAILED (oom)"
        else res="FAILED (crash)"
        fi
        failed="$failed $t"
        tail -n 40 "$log" >&2
    fi
    wall=$(($(date +%s) - t0))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    line="fuzz: $t: $res, ${execs:-?} executions, ${rate:-?} exec/s, ${wall} s (log: $log)"
    summary="$summary$line
"
done
printf '%s' "$summary"
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed" >&2
    exit 1
fi
