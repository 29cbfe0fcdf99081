#!/bin/sh
# Builds the filter-expression fuzzer (fuzz_expr.c: libFuzzer + ASan + UBSan, with clang) and
# runs it for N seconds (first argument, default 30) from the seed corpus in corpus_expr/.
#
#   tests/fuzz/run.sh            # 30 s smoke run (what CI does)
#   tests/fuzz/run.sh 3600       # a long run: one hour
#   FUZZ_JOBS=8 tests/fuzz/run.sh 86400   # a day on 8 cores (libFuzzer -fork=8)
#
# Inputs it finds are kept in $FUZZ_OUT/corpus_expr (default build-fuzz/ at the repository
# root), so later runs continue from them; the seed folder is never written. A crash leaves
# crash-<hash> in $FUZZ_OUT; replay it with: build-fuzz/fuzz_expr build-fuzz/crash-<hash>
# Needs clang with libFuzzer (Debian: apt-get install -y clang libclang-rt-14-dev).
set -eu

secs=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$root/build-fuzz}
cc=${CC_FUZZ:-clang}
mkdir -p "$out/corpus_expr"

# the lib/ sources the expression code needs: errors, allocation, buffers, JSON, columns,
# scalar indexes and the expression files themselves
srcs="lib/util/alloc.c lib/util/error.c lib/util/buf.c lib/util/json.c lib/util/checksum.c
      lib/segment/column.c
      lib/index/scalar/scalar_index.c lib/index/scalar/sindex_keys.c
      lib/index/scalar/sindex_sorted.c lib/index/scalar/sindex_inverted.c
      lib/index/scalar/sindex_trie.c
      lib/expr/lex.c lib/expr/parse.c lib/expr/eval.c"

cd "$root"
# shellcheck disable=SC2086
"$cc" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Iinclude -Ilib $srcs tests/fuzz/fuzz_expr.c -o "$out/fuzz_expr" \
    -lzstd -luring -lopenblas -lm -lpthread

# a dictionary of the language's words speeds up finding deep inputs
cat > "$out/expr.dict" <<'DICT'
"and"
"or"
"not"
"in"
"like"
"is"
"null"
"exists"
"true"
"false"
"=="
"!="
"<="
">="
"&&"
"||"
"**"
"json_contains("
"json_contains_all("
"json_contains_any("
"array_contains("
"array_contains_all("
"array_contains_any("
"array_length("
"[\""
"\"]"
"$meta"
"pk"
"i8"
"i16"
"i32"
"f"
"d"
"b"
"s"
"n"
"ns"
"j"
"ai"
"as"
"ab"
"af"
"vec"
"age"
"\\u00e9"
"0x"
"1e3"
DICT

jobs=${FUZZ_JOBS:-0}
fork=""
[ "$jobs" -gt 0 ] && fork="-fork=$jobs"
# shellcheck disable=SC2086
exec "$out/fuzz_expr" $fork -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -dict="$out/expr.dict" -print_final_stats=1 \
    "$out/corpus_expr" "$here/corpus_expr"
