#!/usr/bin/env bash
# with_tmpdir.sh PROGRAM [ARG...]
# Runs PROGRAM with a fresh temporary folder: every "@TMP@" in the arguments and in the
# variables VDB_CONFORMANCE_URI, VDB_LOG_URI, VDB_META_URI and VDB_OBJECT_URI becomes that
# folder's path (under $VDB_TEST_TMP, else /tmp). The folder is removed afterwards; the exit
# status is the program's. Example:
#   with_tmpdir.sh ./conformance_log 'rocksdb://@TMP@/rocks'
set -u
base=${VDB_TEST_TMP:-/tmp}
mkdir -p "$base" || exit 1
tmp=$(mktemp -d "$base/conformance.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
prog=$1
shift
args=("${@//@TMP@/$tmp}")
for v in VDB_CONFORMANCE_URI VDB_LOG_URI VDB_META_URI VDB_OBJECT_URI; do
  if [ -n "${!v-}" ]; then
    val=${!v}
    export "$v=${val//@TMP@/$tmp}"
  fi
done
"$prog" "${args[@]}"
