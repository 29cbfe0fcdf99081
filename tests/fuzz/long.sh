#!/bin/sh
# The long run of the fuzz targets: each until N executions (libFuzzer -runs=N), with the
# leak checker on, -timeout=10 (a hang), -malloc_limit_mb=512 (an allocation an input only
# announces) and -rss_limit_mb=2048, one target after the other. Prints per target the
# executions, exec/s, wall time and the outcome (ok, or FAILED with crash / leak / timeout /
# oom); exits non-zero if any target failed. Everything else (the build folder, the seeds,
# the corpora kept in build-fuzz/corpus_<target>, FUZZ_JOBS for -fork) is run.sh's.
#
#   tests/fuzz/long.sh 10000000              # every target, 10 M executions each
#   tests/fuzz/long.sh 1000000 http rest     # some targets
#   FUZZ_JOBS=2 tests/fuzz/long.sh 10000000  # on 2 cores (-fork=2)
set -eu
if [ $# -lt 1 ] || ! [ "$1" -gt 0 ] 2>/dev/null; then
    echo "usage: tests/fuzz/long.sh N [target...]   (N: executions per target)" >&2
    exit 2
fi
runs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
    FUZZ_TARGETS="$*"
    export FUZZ_TARGETS
fi
FUZZ_RUNS=$runs exec "$here/run.sh"
