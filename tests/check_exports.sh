#!/bin/sh
# The shared library exports the public API and nothing else: every defined dynamic symbol
# starts with vdb_, and every function declared VDB_EXPORT in include/vdb/ and include/vdb/sys/
# is there. And the application headers keep the backend vtables out: vdb.h and types.h
# include no sys/ header.
set -eu
lib="$1"; include="$2"
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^vdb_' | grep -v '^_' || true)
if [ -n "$bad" ]; then
  echo "non-vdb_ symbols exported by $lib:"; echo "$bad"; exit 1
fi
missing=0
for f in $(grep -ho '^VDB_EXPORT [^(]*(' "$include"/*.h "$include"/sys/*.h | grep -o 'vdb_[a-z0-9_]*($' | tr -d '('); do
  nm -D --defined-only "$lib" | awk '{print $3}' | grep -qx "$f" || { echo "missing export: $f"; missing=1; }
done
[ "$missing" -eq 0 ] || exit 1
if grep -nE '^#[[:space:]]*include[[:space:]]*[<"].*sys/' "$include"/vdb.h "$include"/types.h; then
  echo "an application header includes a backend-author header (vdb/sys/)"; exit 1
fi
echo "exports: $(nm -D --defined-only "$lib" | grep -c ' T vdb_') public functions, nothing else"
