#!/bin/sh
# The shared library exports the public API and nothing else: every defined dynamic symbol
# starts with vdb_, and every function declared VDB_EXPORT in include/vdb/ is there.
set -eu
lib="$1"; include="$2"
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^vdb_' | grep -v '^_' || true)
if [ -n "$bad" ]; then
  echo "non-vdb_ symbols exported by $lib:"; echo "$bad"; exit 1
fi
missing=0
for f in $(grep -ho '^VDB_EXPORT [^(]*(' "$include"/*.h | grep -o 'vdb_[a-z0-9_]*($' | tr -d '('); do
  nm -D --defined-only "$lib" | awk '{print $3}' | grep -qx "$f" || { echo "missing export: $f"; missing=1; }
done
[ "$missing" -eq 0 ] || exit 1
echo "exports: $(nm -D --defined-only "$lib" | grep -c ' T vdb_') public functions, nothing else"
