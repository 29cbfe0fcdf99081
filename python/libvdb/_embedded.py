"""The embedded transport: the database is a folder opened in this process through libvdb.so
(ctypes). MilvusClient checks the arguments and shapes the results; this file only turns the
checked values into C calls and C results back into Python values."""

import ctypes
import json
import threading
import weakref
from ctypes import (CFUNCTYPE, POINTER, byref, pointer, c_char_p, c_double, c_float, c_int, c_int8,
                    c_int16, c_int32, c_int64, c_uint8, c_uint64, c_void_p, sizeof, string_at)

from . import _lib
from ._data import (DYNAMIC_FIELD, einval, np, clean_column, dumps, vectors, sparse_rows, Info,
                    packed_vectors)
from .errors import NotFoundError, Status, error_for
from .schema import (DENSE_VECTOR_TYPES, DataType, FieldSchema, Function, FunctionType,
                     MetricType, VECTOR_TYPES)

__all__ = ["EmbeddedTransport"]

_INT_CTYPES = {DataType.INT8: c_int8, DataType.INT16: c_int16, DataType.INT32: c_int32,
               DataType.INT64: c_int64}
_NP_DTYPES = {
    DataType.BOOL: "uint8", DataType.INT8: "int8", DataType.INT16: "int16",
    DataType.INT32: "int32", DataType.INT64: "int64", DataType.FLOAT: "float32",
    DataType.DOUBLE: "float64",
}
_CONSISTENCY = {"Strong": _lib.CONSISTENCY_STRONG, "Session": _lib.CONSISTENCY_SESSION,
                "Bounded": _lib.CONSISTENCY_BOUNDED, "Eventually": _lib.CONSISTENCY_EVENTUALLY}
_SYNC = {"full": _lib.SYNC_FULL, "batch": _lib.SYNC_BATCH, "off": _lib.SYNC_OFF}
# index types the server also re-creates by type alone when a collection is re-created for
# another metric (they take no parameters)
_PARAMLESS = ("AUTOINDEX", "FLAT", "STL_SORT", "INVERTED", "TRIE", "BITMAP")
BOUNDED_STALENESS_MS = 5000

_PROGRESS_FN = CFUNCTYPE(None, c_void_p, c_char_p, c_char_p, c_uint64, c_uint64)
OPTION_NAMES = ("sync", "log_uri", "meta_uri", "object_uri", "sync_interval_ms",
                "segment_max_rows", "segment_max_bytes", "retention_seconds",
                "compaction_interval_ms", "compaction_min_segments", "disable_io_uring",
                "index_build_workers", "index_build_threads", "search_threads",
                "segment_idle_seal_ms", "mmap", "mmap_cache_dir", "mmap_cache_bytes",
                "memory_budget_bytes", "tick_interval_ms", "read_only", "read_only_refresh_ms",
                "read_only_strong_timeout_ms")


def _b(s):
    return None if s is None else s.encode("utf-8")


def _params_text(params):
    return ",".join("%s=%s" % (k, v) for k, v in params.items()) if params else None



def _field_def(f):
    """A vdb_field_def of a FieldSchema, and the bytes its pointers need kept alive."""
    d = _lib.vdb_field_def()
    keep = (_b(f.name), _b(f.default_json()), _b(f.description), _b(f.analyzer_json()))
    d.name, d.type = keep[0], f.dtype
    if f.element_type is not None:
        d.element_type = f.element_type
    d.dim = f.dim or 0
    if f.dtype in VECTOR_TYPES:
        d.metric = f.metric_type or 0
    d.max_length = f.max_length or 0
    d.max_capacity = f.max_capacity or 0
    d.is_primary, d.auto_id, d.nullable = f.is_primary, f.auto_id, f.nullable
    d.is_partition_key = f.is_partition_key
    d.default_json, d.description = keep[1], keep[2]
    d.enable_analyzer, d.analyzer_params = f.enable_analyzer, keep[3]
    d.enable_match = f.enable_match
    if f.is_function_output and f.metric_type == MetricType.BM25:
        d.metric = 0  # add_function sets it
    return d, keep

class _RWLock:
    """Writes and DDL share it; re-creating an empty collection for a metric holds it alone."""

    def __init__(self):
        self._cv = threading.Condition()
        self._readers = 0
        self._writer = False

    def shared(self):
        return _Held(self, False)

    def exclusive(self):
        return _Held(self, True)


class _Held:
    def __init__(self, lock, exclusive):
        self.lock, self.exclusive = lock, exclusive

    def __enter__(self):
        lk = self.lock
        with lk._cv:
            if self.exclusive:
                while lk._writer or lk._readers:
                    lk._cv.wait()
                lk._writer = True
            else:
                while lk._writer:
                    lk._cv.wait()
                lk._readers += 1

    def __exit__(self, *exc):
        lk = self.lock
        with lk._cv:
            if self.exclusive:
                lk._writer = False
            else:
                lk._readers -= 1
            lk._cv.notify_all()


class _Builds:
    """Per-row progress of the vector index builds running now, from the C callback
    (vdb_set_index_progress: rows done of one segment's rows). The callback does not say which
    segment: a report is matched to the running build of the same size that it continues (the
    one nearest below it). With one build worker (the default) that is exact; with several
    building segments of one size at once the split between them can be off for a moment, never
    the finished rows, which come from vdb_index_progress."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = {}  # (collection, field) -> [[done, total], ...]

    def report(self, collection, field, done, total):
        key = (collection, field)
        with self._lock:
            builds = self._running.setdefault(key, [])
            best = None
            for b in builds:
                if b[1] == total and b[0] <= done and (best is None or b[0] > best[0]):
                    best = b
            if done >= total:
                if best is not None:
                    builds.remove(best)
            elif best is None:
                builds.append([done, total])
            else:
                best[0] = done
            if not builds:
                del self._running[key]

    def partial(self, collection, field):
        with self._lock:
            return sum(b[0] for b in self._running.get((collection, field), ()))

    def forget(self, collection, field=None):
        with self._lock:
            for key in [k for k in self._running
                        if k[0] == collection and (field is None or k[1] == field)]:
                del self._running[key]


class EmbeddedTransport:
    mode = "embedded"
    has_timestamps = True

    def __init__(self, path, options):
        self.db_name = None  # the client's database (None: "default"; see _q)
        self._db = None
        self._lib = _lib.get()
        self.path = path
        self._last_write_ts = 0
        self._ddl = _RWLock()
        self._builds = _Builds()
        self._iters = weakref.WeakSet()  # open iterators: closed before the database
        opts = _lib.vdb_options()
        self._lib.vdb_options_init_sized(byref(opts), ctypes.sizeof(opts))
        sync = options.pop("sync", None)
        if sync is not None:
            try:
                opts.sync = _SYNC[sync.lower()] if isinstance(sync, str) else int(sync)
            except KeyError:
                raise einval("sync must be 'full', 'batch' or 'off', not %r" % (sync,))
        self._uris = [_b(options.pop(k, None))
                      for k in ("log_uri", "meta_uri", "object_uri", "mmap_cache_dir")]
        # kept alive for the open
        opts.log_uri, opts.meta_uri, opts.object_uri, opts.mmap_cache_dir = self._uris
        for k, v in options.items():
            if v is not None:
                setattr(opts, k, int(v))
        db = c_void_p()
        st = self._lib.vdb_open(_b(path), byref(opts), byref(db))
        if st:
            raise self._error(st, None)
        self._db = db
        self._progress_cb = _PROGRESS_FN(self._on_progress)  # kept alive while it is set
        if self._lib.has("vdb_set_index_progress"):
            self._check(self._lib.vdb_set_index_progress(db, self._progress_cb, None))

    # ---- plumbing ---------------------------------------------------------------------------

    def _on_progress(self, arg, collection, field, done, total):
        try:  # runs on a build worker: no exception may escape into C
            self._builds.report(collection.decode("utf-8", "replace"),
                                field.decode("utf-8", "replace"), done, total)
        except Exception:
            pass

    def _error(self, st, db="self"):
        msg = self._lib.vdb_errmsg(self._db if db == "self" else db)
        return error_for(st, msg.decode("utf-8", "replace") if msg else "")

    def _check(self, st):
        if st:
            raise self._error(st)

    def call_timeout(self, t):
        """Calls run in this process and are not interrupted: only the index waits take a
        timeout (MilvusClient passes it to them)."""

    def close(self):
        for it in list(self._iters):
            it.close()
        db, self._db = self._db, None
        if db is None:
            return
        if self._lib.has("vdb_set_index_progress"):
            self._lib.vdb_set_index_progress(db, None, None)
        self._lib.vdb_close(db)

    def _q(self, name):
        """A collection or alias name as the library names it in this client's database
        ("<db>.<name>"; the bare name in "default")."""
        if name is None or not self.db_name:
            return _b(name)
        return _b("%s.%s" % (self.db_name, name))

    def _bare(self, name):
        return name.split(".", 1)[1] if "." in name else name

    def _mine(self, name):
        """Whether a qualified name is of this client's database."""
        if not self.db_name:
            return "." not in name
        return name.startswith(self.db_name + ".")

    def create_database(self, name):
        with self._ddl.shared():
            self._check(self._lib.vdb_create_database(self._db, _b(name)))

    def drop_database(self, name):
        with self._ddl.shared():
            self._check(self._lib.vdb_drop_database(self._db, _b(name)))

    def list_databases(self):
        return self._names(self._lib.vdb_list_databases)

    def has_database(self, name):
        e = c_int()
        self._check(self._lib.vdb_has_database(self._db, _b(name), byref(e)))
        return bool(e.value)

    def _names(self, fn, *args):
        out = POINTER(_lib.vdb_names)()
        self._check(fn(self._db, *args, byref(out)))
        try:
            n = out.contents
            return [n.names[i].decode("utf-8") for i in range(n.count)]
        finally:
            self._lib.vdb_names_free(out)

    def _read_opts(self, read, plan_names=None):
        """A vdb_read_opts and the Python objects its pointers point into."""
        ro = _lib.vdb_read_opts()
        keep = []
        if read.travel_ts:
            ro.travel_ts = int(read.travel_ts)
        if read.consistency is not None:
            ro.consistency = _CONSISTENCY[read.consistency]
            if read.consistency == "Bounded":
                ro.staleness_ms = BOUNDED_STALENESS_MS if read.staleness_ms is None \
                    else int(read.staleness_ms)
            elif read.consistency == "Session":
                ro.session_ts = self._last_write_ts
        if read.partitions:
            parts = [_b(p) for p in read.partitions]
            arr = (c_char_p * len(parts))(*parts)
            keep += [parts, arr]
            ro.partitions, ro.n_partitions = arr, len(parts)
        if plan_names:
            names = [_b(n) for n in plan_names]
            arr = (c_char_p * len(names))(*names)
            keep += [names, arr]
            ro.output_fields, ro.n_output_fields = arr, len(names)
        return ro, keep

    # ---- collections ------------------------------------------------------------------------

    def describe(self, name):
        L = self._lib
        s = c_void_p()
        self._check(L.vdb_describe_collection(self._db, self._q(name), byref(s)))
        try:
            fields = []
            for i in range(L.vdb_schema_field_count(s)):
                d = _lib.vdb_field_def()
                self._check(L.vdb_schema_field(s, i, byref(d)))
                kw = {}
                if d.default_json is not None:
                    kw["default_value"] = json.loads(d.default_json.decode("utf-8"))
                t = DataType(d.type)
                fields.append(FieldSchema(
                    d.name.decode("utf-8"), t, is_primary=bool(d.is_primary),
                    auto_id=bool(d.auto_id), max_length=d.max_length or None,
                    dim=d.dim or None,
                    element_type=DataType(d.element_type) if t == DataType.ARRAY else None,
                    max_capacity=d.max_capacity or None, nullable=bool(d.nullable),
                    is_partition_key=bool(d.is_partition_key),
                    metric_type=MetricType(d.metric) if t in VECTOR_TYPES and d.metric
                    else None, enable_analyzer=bool(d.enable_analyzer),
                    analyzer_params=(d.analyzer_params.decode("utf-8") if d.analyzer_params
                                     else None),
                    is_function_output=t in VECTOR_TYPES and d.metric == MetricType.BM25,
                    description=(d.description or b"").decode("utf-8"), **kw))
            functions = []
            for i in range(L.vdb_schema_function_count(s)):
                fd = _lib.vdb_function_def()
                self._check(L.vdb_schema_function(s, i, byref(fd)))
                functions.append(Function(
                    fd.name.decode("utf-8"), FunctionType(fd.type),
                    [fd.input_field.decode("utf-8")], [fd.output_field.decode("utf-8")],
                    description=(fd.description or b"").decode("utf-8")))
            # the collection's own name (name may be an alias of it)
            return Info(self._bare(L.vdb_schema_name(s).decode("utf-8")), fields,
                        bool(L.vdb_schema_dynamic(s)), L.vdb_schema_shards(s),
                        L.vdb_schema_partitions(s), functions)
        finally:
            L.vdb_schema_free(s)

    def _new_schema(self, name, fields, dynamic, shards, description, num_partitions=None,
                    functions=()):
        """A vdb_schema handle (the caller frees it) from FieldSchemas and Functions."""
        L = self._lib
        s = c_void_p()
        self._check(L.vdb_schema_new(self._q(name), byref(s)))
        try:
            for f in fields:
                d, keep = _field_def(f)
                self._check(L.vdb_schema_add_field(s, byref(d)))
                del keep
            for fn in functions:
                fd = _lib.vdb_function_def()
                keep = [_b(fn.name), _b(fn.input_field_names[0]), _b(fn.output_field_names[0]),
                        _b(fn.description or None)]
                fd.name, fd.input_field, fd.output_field, fd.description = keep
                fd.type = int(fn.type)
                self._check(L.vdb_schema_add_function(s, byref(fd)))
            self._check(L.vdb_schema_set_dynamic(s, int(dynamic)))
            if shards:
                self._check(L.vdb_schema_set_shards(s, int(shards)))
            if num_partitions:
                self._check(L.vdb_schema_set_partitions(s, int(num_partitions)))
            if description:
                self._check(L.vdb_schema_set_description(s, _b(description)))
        except BaseException:
            L.vdb_schema_free(s)
            raise
        return s

    def create_collection(self, name, fields, dynamic, shards, description, indexes,
                          num_partitions=None, properties=None, functions=()):
        """Creates the collection (with its properties, one transaction) and its indexes,
        all or nothing."""
        L = self._lib
        s = self._new_schema(name, fields, dynamic, shards, description, num_partitions,
                             functions)
        opts = _lib.vdb_create_opts()
        keys = [_b(k) for k in (properties or {})]
        vals = [_b(v) for v in (properties or {}).values()]
        if keys:
            opts.property_keys = (c_char_p * len(keys))(*keys)
            opts.property_values = (c_char_p * len(vals))(*vals)
            opts.n_properties = len(keys)
        with self._ddl.shared():
            try:
                self._check(L.vdb_create_collection_opts(self._db, s, byref(opts)))
            finally:
                L.vdb_schema_free(s)
            try:
                for idx in indexes:
                    self._create_index(name, idx["field_name"], idx.get("index_name"),
                                       idx["index_type"], idx["metric_type"], idx["params"])
            except BaseException:
                L.vdb_drop_collection(self._db, self._q(name))
                raise

    def drop_collection(self, name):
        with self._ddl.shared():
            st = self._lib.vdb_drop_collection(self._db, self._q(name))
        if st != Status.ENOTFOUND:  # dropping what is not there succeeds, as in Milvus
            self._check(st)
        self._builds.forget(name)

    def has_collection(self, name):
        e = c_int()
        self._check(self._lib.vdb_has_collection(self._db, self._q(name), byref(e)))
        return bool(e.value)

    def list_collections(self):
        return self._names(self._lib.vdb_list_collections_in, _b(self.db_name))

    # ---- aliases, rename, truncate -----------------------------------------------------------

    def alias(self, op, coll, alias):
        """op: "create", "alter" (coll and alias) or "drop" (alias)."""
        L = self._lib
        with self._ddl.shared():
            if op == "drop":
                self._check(L.vdb_drop_alias(self._db, self._q(alias)))
            else:
                fn = L.vdb_create_alias if op == "create" else L.vdb_alter_alias
                self._check(fn(self._db, self._q(coll), self._q(alias)))

    def describe_alias(self, alias):
        buf = ctypes.create_string_buffer(600)
        self._check(self._lib.vdb_describe_alias(self._db, self._q(alias), buf, len(buf)))
        return self._bare(buf.value.decode("utf-8"))

    def list_aliases(self, coll):
        return [self._bare(a) for a in self._names(self._lib.vdb_list_aliases,
                                                   self._q(coll) if coll else None)
                if self._mine(a)]

    def rename_collection(self, old, new, target_db=None):
        if target_db and target_db != "default":
            to = _b("%s.%s" % (target_db, new))
        else:
            to = _b(new) if target_db else self._q(new)
        with self._ddl.shared():
            self._check(self._lib.vdb_rename_collection(self._db, self._q(old), to))
        self._builds.forget(old)

    def truncate_collection(self, coll):
        with self._ddl.shared():
            self._check(self._lib.vdb_truncate_collection(self._db, self._q(coll)))
        self._builds.forget(coll)

    def add_field(self, coll, f):
        d, keep = _field_def(f)
        with self._ddl.shared():
            self._check(self._lib.vdb_add_collection_field(self._db, self._q(coll), byref(d)))
        del keep

    def alter_properties(self, coll, props):
        keys = [_b(k) for k in props]
        vals = [_b(v) for v in props.values()]
        with self._ddl.shared():
            self._check(self._lib.vdb_alter_collection_properties(
                self._db, self._q(coll), (c_char_p * len(keys))(*keys),
                (c_char_p * len(vals))(*vals), len(keys)))

    def drop_properties(self, coll, keys):
        keys = [_b(k) for k in keys]
        with self._ddl.shared():
            self._check(self._lib.vdb_drop_collection_properties(
                self._db, self._q(coll), (c_char_p * len(keys))(*keys), len(keys)))

    def properties(self, coll):
        k, v = POINTER(_lib.vdb_names)(), POINTER(_lib.vdb_names)()
        self._check(self._lib.vdb_describe_collection_properties(self._db, self._q(coll),
                                                                 byref(k), byref(v)))
        try:
            return {k.contents.names[i].decode("utf-8"): v.contents.names[i].decode("utf-8")
                    for i in range(k.contents.count)}
        finally:
            self._lib.vdb_names_free(k)
            self._lib.vdb_names_free(v)

    def create_partition(self, coll, part):
        with self._ddl.shared():
            self._check(self._lib.vdb_create_partition(self._db, self._q(coll), _b(part)))

    def drop_partition(self, coll, part):
        with self._ddl.shared():
            self._check(self._lib.vdb_drop_partition(self._db, self._q(coll), _b(part)))

    def list_partitions(self, coll):
        return self._names(self._lib.vdb_list_partitions, self._q(coll))

    def partition_rows(self, coll, part):
        ro = _lib.vdb_read_opts()
        parts = (c_char_p * 1)(_b(part))
        ro.partitions, ro.n_partitions = parts, 1
        cnt = c_uint64()
        self._check(self._lib.vdb_count(self._db, self._q(coll), None, byref(ro), byref(cnt)))
        return cnt.value

    def stats(self, coll):
        s = _lib.vdb_stats()
        self._check(self._lib.vdb_collection_stats(self._db, self._q(coll), byref(s)))
        return {name: getattr(s, name) for name, _ in _lib.vdb_stats._fields_
                if name != "struct_size"}

    def flush(self, coll):
        self._check(self._lib.vdb_flush(self._db, self._q(coll)))

    def compact(self, coll):
        self._check(self._lib.vdb_compact(self._db, self._q(coll)))

    def now(self):
        ts = c_uint64()
        self._check(self._lib.vdb_now(self._db, byref(ts)))
        return ts.value

    # ---- writes -----------------------------------------------------------------------------

    def _add_column(self, batch, f, name, values, n):
        """Adds one column for field f (None: the "$meta" column) to batch."""
        L = self._lib
        t = f.dtype if f is not None else DataType.JSON
        cname = _b(name)
        if t == DataType.SPARSE_FLOAT_VECTOR:
            keep, arr, rows = sparse_rows(values, "field '%s'" % name)
            if rows != n:
                raise einval("field '%s' has %d sparse vectors for %d rows" % (name, rows, n))
            self._check(L.vdb_batch_add_column(batch, cname, t, arr, None, n, 0))
            return
        if t == DataType.FLOAT_VECTOR:
            owner, addr, rows, dim = vectors(values, "field '%s'" % name, f.dim)
            if rows != n:
                raise einval("field '%s' has %d vectors for %d rows" % (name, rows, n))
            self._check(L.vdb_batch_add_column(batch, cname, t, addr, None, n, dim))
            return
        if t in DENSE_VECTOR_TYPES:
            data = packed_vectors(values, t, f.dim, n, "field '%s'" % name)
            self._check(L.vdb_batch_add_column(batch, cname, t, data, None, n, f.dim))
            return
        if np is not None and isinstance(values, np.ndarray) and t in _NP_DTYPES and \
                values.dtype != object and values.ndim == 1:
            # numbers straight from the array's buffer: the library checks them
            arr = np.ascontiguousarray(values, dtype=_NP_DTYPES[t])
            self._check(L.vdb_batch_add_column(batch, cname, t, arr.ctypes.data, None, n, 0))
            return
        vals = clean_column(f, name, values, n)
        present = [v is not None for v in vals]
        valid = None if all(present) else (c_uint8 * n)(*present)
        if t == DataType.BOOL:
            data = (c_uint8 * n)(*[1 if v else 0 for v in vals])
        elif t in _INT_CTYPES:
            data = (_INT_CTYPES[t] * n)(*[0 if v is None else v for v in vals])
        elif t in (DataType.FLOAT, DataType.DOUBLE):
            data = ((c_float if t == DataType.FLOAT else c_double) * n)(
                *[0.0 if v is None else v for v in vals])
        else:
            empty = b"null" if t == DataType.JSON else b"[]" if t == DataType.ARRAY else b""
            texts = [empty if v is None else v.encode("utf-8") if t == DataType.VARCHAR
                     else dumps(v).encode("utf-8") for v in vals]
            data = (c_char_p * n)(*texts)  # the array keeps the bytes alive
        self._check(L.vdb_batch_add_column(batch, cname, t, data, valid, n, 0))

    def _pks(self, res):
        L = self._lib
        if not res or not L.vdb_result_groups(res):
            return []
        pk_of = self._pk_reader(res)
        return [pk_of(0, r) for r in range(L.vdb_result_rows(res, 0))]

    def write(self, coll, part, info, n, cols, metas, upsert):
        L = self._lib
        batch = c_void_p()
        self._check(L.vdb_batch_new(byref(batch)))
        try:
            for name, values in cols.items():
                self._add_column(batch, info.by_name[name], name, values, n)
            if metas is not None:
                self._add_column(batch, None, DYNAMIC_FIELD, metas, n)
            ts = c_uint64()
            res = c_void_p()
            fn = L.vdb_upsert if upsert else L.vdb_insert
            with self._ddl.shared():
                self._check(fn(self._db, self._q(coll), _b(part), batch, byref(ts), byref(res)))
        finally:
            L.vdb_batch_free(batch)
        try:
            ids = self._pks(res)
        finally:
            L.vdb_result_free(res)
        self._last_write_ts = max(self._last_write_ts, ts.value)
        return ids, ts.value

    def _pk_list(self, info, ids):
        pl = _lib.vdb_pk_list()
        pl.count = len(ids)
        if info.pk.dtype == DataType.VARCHAR:
            keep = [v.encode("utf-8") for v in ids]
            arr = (c_char_p * len(keep))(*keep)
            pl.strs = arr
        else:
            keep = None
            arr = (c_int64 * len(ids))(*ids)
            pl.ints = arr
        return pl, (keep, arr)

    def delete(self, coll, part, info, ids=None, filter=None):
        ts = c_uint64()
        with self._ddl.shared():
            if ids is not None:
                pl, keep = self._pk_list(info, ids)
                self._check(self._lib.vdb_delete(self._db, self._q(coll), _b(part), byref(pl),
                                                 byref(ts)))
                n = len(ids)
            else:
                deleted = c_uint64()
                self._check(self._lib.vdb_delete_where(self._db, self._q(coll), _b(part),
                                                       _b(filter), byref(ts), byref(deleted)))
                n = deleted.value
        self._last_write_ts = max(self._last_write_ts, ts.value)
        return n, ts.value

    # ---- reads ------------------------------------------------------------------------------

    def _value(self, res, g, r, name, val):
        self._check(self._lib.vdb_result_field(res, g, r, name, byref(val)))
        if val.is_null:
            return None
        t = val.type
        if t == DataType.BOOL:
            return bool(val.u.i64)
        if DataType.INT8 <= t <= DataType.INT64:
            return val.u.i64
        if t in (DataType.FLOAT, DataType.DOUBLE):
            return val.u.f64
        if t == DataType.FLOAT_VECTOR:
            return val.u.vec.ptr[:val.u.vec.dim]
        if t == DataType.SPARSE_FLOAT_VECTOR:  # a dict {index: value}, as pymilvus returns
            sp = val.u.sparse
            return dict(zip(sp.indices[:sp.count], sp.values[:sp.count])) if sp.count else {}
        if t in DENSE_VECTOR_TYPES:  # [bytes], as pymilvus returns binary/half/int8 vectors
            return [string_at(val.u.raw.ptr, val.u.raw.bytes)]
        text = string_at(val.u.str.ptr, val.u.str.len).decode("utf-8") if val.u.str.len else ""
        if t == DataType.VARCHAR:
            return text
        return json.loads(text) if text else None  # JSON, ARRAY, dynamic keys

    def _pk_reader(self, res):
        L = self._lib
        if L.vdb_result_pk_type(res) == DataType.VARCHAR:
            return lambda g, r: L.vdb_result_pk_str(res, g, r).decode("utf-8")
        return lambda g, r: L.vdb_result_pk_int(res, g, r)

    @staticmethod
    def _c_plan(plan):
        """The names to ask the C library for (it always gives the primary key)."""
        return [(n, kind, n.encode("utf-8")) for n, kind in plan if kind != "pk"]

    def _entity(self, res, g, r, plan, cplan, pk, val):
        ent = {}
        if any(kind == "pk" for _, kind in plan):
            ent[next(n for n, kind in plan if kind == "pk")] = pk
        for name, kind, cname in cplan:
            v = self._value(res, g, r, cname, val)
            if kind == "field":
                ent[name] = v
            elif kind == "meta":
                if isinstance(v, dict):
                    for k, x in v.items():
                        ent.setdefault(k, x)
            elif v is not None:  # a dynamic key the row lacks is left out
                ent[name] = v
        return ent

    def _rows(self, res, plan, info):
        L = self._lib
        out = []
        if not L.vdb_result_groups(res):
            return out
        pk_of = self._pk_reader(res)
        val = _lib.vdb_value()
        cplan = self._c_plan(plan)
        for r in range(L.vdb_result_rows(res, 0)):
            pk = pk_of(0, r)
            row = {info.pk.name: pk}
            row.update(self._entity(res, 0, r, plan, cplan, pk, val))
            out.append(row)
        return out

    def get(self, coll, info, ids, plan, read):
        pl, keep = self._pk_list(info, ids)
        ro, keep2 = self._read_opts(read, [n for n, k in plan if k != "pk"])
        res = c_void_p()
        self._check(self._lib.vdb_get(self._db, self._q(coll), byref(pl), byref(ro), byref(res)))
        try:
            return self._rows(res, plan, info)
        finally:
            self._lib.vdb_result_free(res)

    query_order_by = True  # vdb_query_ordered

    def query(self, coll, info, filter, limit, offset, plan, read, order_by=None):
        """order_by: [(field, desc)] (vdb_query_ordered) or None."""
        ro, keep = self._read_opts(read, [n for n, k in plan if k != "pk"])
        res = c_void_p()
        if order_by:
            names = [_b(f) for f, _ in order_by]
            by = (_lib.vdb_order_by * len(order_by))(
                *[_lib.vdb_order_by(n, 1 if d else 0) for n, (_, d) in zip(names, order_by)])
            self._check(self._lib.vdb_query_ordered(
                self._db, self._q(coll), _b(filter or None), byref(ro), int(limit or 0),
                int(offset or 0), by, len(order_by), byref(res)))
        else:
            self._check(self._lib.vdb_query(self._db, self._q(coll), _b(filter or None),
                                            byref(ro), int(limit or 0), int(offset or 0),
                                            byref(res)))
        try:
            return self._rows(res, plan, info)
        finally:
            self._lib.vdb_result_free(res)

    def change_stream(self, coll, start_ts, caught_up_marks):
        o = _lib.vdb_change_opts()
        o.start_ts = int(start_ts or 0)
        o.caught_up_marks = 1 if caught_up_marks else 0
        info = self.describe(coll)
        names = [f.name for f in info.fields] + ([DYNAMIC_FIELD] if info.dynamic else [])
        h = c_void_p()
        self._check(self._lib.vdb_change_stream_open(self._db, self._q(coll), byref(o),
                                                     byref(h)))
        return ChangeStream(self, h, names)

    def count(self, coll, filter, read):
        ro, keep = self._read_opts(read)
        cnt = c_uint64()
        self._check(self._lib.vdb_count(self._db, self._q(coll), _b(filter or None), byref(ro),
                                        byref(cnt)))
        return cnt.value

    search_by_pks = True  # the library reads the rows' vectors at the search's timestamp

    def search(self, coll, info, vf, qv, k, offset, filter, params, plan, read, group=None,
               pks=None):
        """qv: (buffer, address, nq, dim) from vectors(), or None with pks (search by primary
        key). One list per query of (pk, distance, entity)."""
        sparse = qv is not None and isinstance(qv[0], str)  # ("sparse", ...)
        owner, addr, nq, dim = qv if qv is not None and not sparse else (None, None, 0, 0)
        ro, keep = self._read_opts(read, [n for n, kd in plan if kd != "pk"])
        req = _lib.vdb_search_req()
        req.struct_size = sizeof(req)
        cname, vname, fexpr, pstr = (self._q(coll), _b(vf.name), _b(filter or None),
                                     _b(_params_text(params)))
        req.collection, req.vector_field, req.filter, req.params = cname, vname, fexpr, pstr
        req.vectors, req.nq, req.dim, req.k, req.offset = addr, nq, dim, k, offset
        if vf.dtype == DataType.BINARY_VECTOR and not sparse:  # bytes, from binary_queries()
            req.vectors, req.binary_vectors = None, addr
        req.read = ro
        if sparse and qv[0] == "texts":  # ("texts", keep-alive, char *[nq], nq)
            keep.append(qv[1])
            req.texts, req.nq = qv[2], qv[3]
        elif sparse:  # ("sparse", keep-alive, rows, nq) from sparse_rows()
            keep.append(qv[1])
            req.sparse_vectors, req.nq = qv[2], qv[3]
        if pks is not None:
            pl, keep_pks = self._pk_list(info, pks)
            keep += [pl, keep_pks]
            req.query_pks = pointer(pl)
        if group:
            gname = _b(group[0])
            keep.append(gname)
            req.group_by_field, req.group_size, req.strict_group_size = gname, group[1], \
                int(group[2])
        res = c_void_p()
        self._check(self._lib.vdb_search(self._db, byref(req), byref(res)))
        return self._hits(res, plan, info)

    def hybrid_search(self, coll, info, subs, ranker, limit, offset, plan, read, group=None):
        """subs: (vf, qv, limit, filter, params) per request; ranker: (strategy, params)
        as RRFRanker / WeightedRanker give them. One list per query of (pk, score, entity)."""
        ro, keep = self._read_opts(read, [n for n, kd in plan if kd != "pk"])
        anns = (_lib.vdb_ann_req * len(subs))()
        for a, (vf, qv, lim, fexpr, params) in zip(anns, subs):
            owner, addr, nq, dim = qv
            texts = (_b(vf.name), _b(fexpr or None), _b(_params_text(params)))
            keep += [owner, texts]
            a.struct_size = sizeof(a)
            a.vector_field, a.filter, a.params = texts
            a.vectors, a.nq, a.dim, a.limit = addr, nq, dim, lim
            if vf.dtype == DataType.BINARY_VECTOR:
                a.vectors, a.binary_vectors = None, addr
        ptrs = (POINTER(_lib.vdb_ann_req) * len(subs))(*[pointer(a) for a in anns])
        h = _lib.vdb_hybrid_req()
        h.struct_size = sizeof(h)
        cname = _b(coll)
        h.collection, h.reqs, h.n_reqs = cname, ptrs, len(subs)
        strategy, rp = ranker
        if strategy == "rrf":
            h.ranker, h.rrf_k = 1, float(rp.get("k", 60))
        else:
            w = rp["weights"]
            warr = (c_float * len(w))(*w)
            keep.append(warr)
            h.ranker, h.weights = 2, warr
            h.no_normalize = 0 if rp.get("norm_score", True) else 1
        h.limit, h.offset = limit, offset
        h.read = ro
        if group:
            gname = _b(group[0])
            keep.append(gname)
            h.group_by_field, h.group_size, h.strict_group_size = gname, group[1], \
                int(group[2])
        res = c_void_p()
        self._check(self._lib.vdb_hybrid_search(self._db, byref(h), byref(res)))
        return self._hits(res, plan, info)

    def query_iterator(self, coll, info, filter, batch, limit, plan, read):
        """A query iterator (vdb_query_iterator_*): next() gives a list of rows."""
        ro, keep = self._read_opts(read, [n for n, k in plan if k != "pk"])
        req = _lib.vdb_query_iter_req()
        req.struct_size = sizeof(req)
        cname, fexpr = self._q(coll), _b(filter or None)
        req.collection, req.filter, req.read = cname, fexpr, ro
        req.batch_size, req.limit = batch, limit
        h = c_void_p()
        self._check(self._lib.vdb_query_iterator_open(self._db, byref(req), byref(h)))
        return _Iterator(self, h, "query", lambda res: self._rows(res, plan, info))

    def search_iterator(self, coll, info, vf, qv, batch, limit, filter, params, plan, read):
        """A search iterator (vdb_search_iterator_*): next() gives a list of
        (pk, distance, entity), nearest first."""
        owner, addr, nq, dim = qv
        ro, keep = self._read_opts(read, [n for n, k in plan if k != "pk"])
        req = _lib.vdb_search_iter_req()
        req.struct_size = sizeof(req)
        texts = (self._q(coll), _b(vf.name), _b(filter or None), _b(_params_text(params)))
        req.collection, req.vector_field, req.filter, req.params = texts
        req.vector, req.dim, req.read = addr, dim, ro
        if vf.dtype == DataType.BINARY_VECTOR:
            req.vector, req.binary_vector = None, addr
        req.batch_size, req.limit = batch, limit
        h = c_void_p()
        self._check(self._lib.vdb_search_iterator_open(self._db, byref(req), byref(h)))
        return _Iterator(self, h, "search", lambda res: self._hits(res, plan, info)[0])

    def _hits(self, res, plan, info):
        """A search result as one list per query of (pk, distance, entity); frees it."""
        L = self._lib
        try:
            pk_of = self._pk_reader(res)
            val = _lib.vdb_value()
            cplan = self._c_plan(plan)
            out = []
            for g in range(L.vdb_result_groups(res)):
                hits = []
                for r in range(L.vdb_result_rows(res, g)):
                    pk = pk_of(g, r)
                    hits.append((pk, L.vdb_result_distance(res, g, r),
                                 self._entity(res, g, r, plan, cplan, pk, val)))
                out.append(hits)
            return out
        finally:
            L.vdb_result_free(res)

    # ---- indexes ----------------------------------------------------------------------------

    def _create_index(self, coll, field, index_name, index_type, metric, params):
        p = dict(params or {})
        if metric is not None:
            p["metric_type"] = metric.name  # the library checks it is the field's
        self._check(self._lib.vdb_create_index_named(self._db, self._q(coll), _b(field),
                                                     _b(index_name or None),
                                                     _b(index_type or "AUTOINDEX"),
                                                     _b(_params_text(p))))

    def create_index(self, coll, info, field, index_name, index_type, metric, params):
        f = info.field(field)
        if f.dtype in DENSE_VECTOR_TYPES and metric is not None and \
                metric != (f.metric_type or MetricType.L2):
            self._remetric(coll, field, metric)
        with self._ddl.shared():
            self._create_index(coll, field, index_name, index_type, metric, params)

    def _indexes(self, coll, index_name=None):
        """Descriptions of the indexes (the one called index_name only, when given)."""
        L = self._lib
        lst = _lib.indexes_p()
        if index_name is None:
            st = L.vdb_list_indexes(self._db, self._q(coll), byref(lst))
        else:
            st = L.vdb_describe_index_by_name(self._db, self._q(coll), _b(index_name), byref(lst))
        self._check(st)
        out = []
        try:
            for i in range(L.vdb_indexes_count(lst)):
                x = _lib.vdb_index_info()
                self._check(L.vdb_indexes_get(lst, i, byref(x)))
                d = {"field_name": x.field.decode("utf-8"), "index_name": x.name.decode("utf-8"),
                     "index_type": x.type.decode("utf-8")}
                if x.metric:
                    d["metric_type"] = x.metric.decode("utf-8")
                params = x.params.decode("utf-8") if x.params else ""
                if params.startswith("json_cast_type="):  # a JSON path index
                    for kv in params.split(","):
                        k, _, v = kv.partition("=")
                        d[k] = v
                d.update(indexed_rows=x.indexed_rows, total_rows=x.total_rows,
                         state={2: "InProgress", 3: "Finished"}.get(x.state, "Failed"))
                if d["state"] == "Failed":
                    d["fail_reason"] = x.fail_reason.decode("utf-8")
                out.append(d)
        finally:
            L.vdb_indexes_free(lst)
        return out

    def _index_type(self, coll, field):
        t = c_char_p()
        st = self._lib.vdb_describe_index(self._db, self._q(coll), _b(field), byref(t))
        if st == Status.OK:
            return t.value.decode("utf-8")
        err = self._error(st)  # before another call replaces the message
        if st == Status.ENOTFOUND and self.has_collection(coll):
            return None
        raise err

    def _remetric(self, coll, field, metric):
        """Milvus's clients create a collection, then name the metric in its index; libvdb fixes
        a vector field's metric at create. While the collection holds nothing (no row ever, no
        partition but _default, no index but parameterless ones elsewhere) it is created again
        with that metric, as vdb-server does; otherwise the index is refused."""
        with self._ddl.exclusive():
            info = self.describe(coll)
            f = info.field(field)
            st = self.stats(coll)
            types = {g.name: self._index_type(coll, g.name) for g in info.fields}
            listed = self._indexes(coll)
            names = {d["field_name"]: d["index_name"] for d in listed}
            busy = any(st[k] for k in ("row_count", "growing_rows", "sealed_rows",
                                       "deleted_rows", "sealed_segments"))
            busy = busy or self.list_partitions(coll) != ["_default"] or \
                bool(self.list_aliases(coll)) or any("json_path" in d for d in listed) or any(
                t is not None and (name == field or t.upper() not in _PARAMLESS)
                for name, t in types.items())
            if busy:
                raise einval("metric type not match: the index asks for %s, field '%s' is %s: "
                             "libvdb fixes a vector field's metric when the collection is "
                             "created (it can change only while the collection is empty and "
                             "has no index nor alias; give it at create, e.g. the field's "
                             "metric_type)"
                             % (metric.name, field, (f.metric_type or MetricType.L2).name))
            f.metric_type = metric
            s = self._new_schema(coll, info.fields, info.dynamic, info.num_shards, None,
                                 info.num_partitions)
            try:
                self._check(self._lib.vdb_drop_collection(self._db, self._q(coll)))
                self._check(self._lib.vdb_create_collection(self._db, s))
            finally:
                self._lib.vdb_schema_free(s)
            for name, t in types.items():
                if t is not None:
                    self._create_index(coll, name, names.get(name), t, None, None)

    def describe_index(self, coll, index_name):
        """The index called index_name: field_name, index_name, index_type, metric_type (vector
        fields), indexed_rows, total_rows, state (and fail_reason when Failed)."""
        return self._indexes(coll, index_name)[0]

    def drop_index(self, coll, index_name):
        field = self.describe_index(coll, index_name)["field_name"]
        with self._ddl.shared():
            self._check(self._lib.vdb_drop_index_by_name(self._db, self._q(coll),
                                                         _b(index_name)))
        self._builds.forget(coll, field)

    def list_indexes(self, coll, info):
        """[(index_name, field_name)] in field order."""
        return [(d["index_name"], d["field_name"]) for d in self._indexes(coll)]

    def _index_rows(self, coll, field):
        done, total = c_uint64(), c_uint64()
        self._check(self._lib.vdb_index_progress(self._db, self._q(coll), _b(field), byref(done),
                                                 byref(total)))
        return done.value, total.value

    def progress(self, coll, field):
        """(rows indexed, rows to index): whole segments built plus the rows the builds
        running now have done."""
        done, total = self._index_rows(coll, field)
        return min(total, done + self._builds.partial(coll, field)), total

    def wait_index(self, coll, field, ms):
        """True when every build is done, False when ms ran out first; raises on a failure."""
        st = self._lib.vdb_wait_for_index(self._db, self._q(coll), _b(field), int(ms))
        if st == Status.ETIMEDOUT:
            return False
        self._check(st)
        return True


_CHANGE_KINDS = {1: "insert", 2: "upsert", 3: "delete", 4: "caught_up"}


class ChangeStream:
    """A collection's inserts, upserts and deletes in timestamp order (vdb_change_stream_*).
    next(timeout_ms) gives a dict {"kind", "ts", "partition", "ids", "rows"} ("rows": the
    inserted or upserted entities, every field; [] for deletes and marks), or None when none
    came in time. Iterating waits for ever. Resume with start_ts = the last "ts" + 1. Close it
    (or use it in a with block) before the client."""

    def __init__(self, transport, handle, names):
        self._t = transport
        self._h = handle
        self._names = names

    def next(self, timeout_ms=0):
        if self._h is None:
            raise einval("the change stream is closed")
        L = self._t._lib
        ch = _lib.vdb_change()
        st = L.vdb_change_stream_next(self._h, int(timeout_ms), byref(ch))
        if st == Status.ETIMEDOUT:
            return None
        self._t._check(st)
        out = {"kind": _CHANGE_KINDS.get(ch.kind, ch.kind), "ts": ch.ts,
               "partition": ch.partition.decode("utf-8") if ch.partition else None,
               "ids": [], "rows": []}
        res = ch.rows
        if not res:
            return out
        pk_of = self._t._pk_reader(res)
        out["ids"] = [pk_of(0, r) for r in range(L.vdb_result_rows(res, 0))]
        if ch.kind in (1, 2):
            val = _lib.vdb_value()
            for r in range(len(out["ids"])):
                row = {}
                for n in self._names:
                    v = self._t._value(res, 0, r, n.encode("utf-8"), val)
                    if n == DYNAMIC_FIELD:
                        row.update(v if isinstance(v, dict) else {})
                    else:
                        row[n] = v
                out["rows"].append(row)
        return out

    def close(self):
        if self._h is not None:
            self._t._lib.vdb_change_stream_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        while True:
            c = self.next(2 ** 64 - 1)
            if c is not None:
                yield c


class _Iterator:
    """An open C iterator: next() is one batch (an empty list at the end), close() releases
    it and its pin on the snapshot. Closed with its database too. One thread at a time."""

    def __init__(self, emb, handle, kind, convert):
        self._emb, self._h, self._kind, self._convert = emb, handle, kind, convert
        self._lock = threading.Lock()
        self.timestamp = emb._lib.vdb_query_iterator_ts(handle) if kind == "query" else \
            emb._lib.vdb_search_iterator_ts(handle)
        emb._iters.add(self)

    def next(self):
        with self._lock:
            if self._h is None:
                return []
            L = self._emb._lib
            fn = L.vdb_query_iterator_next if self._kind == "query" else \
                L.vdb_search_iterator_next
            res = c_void_p()
            self._emb._check(fn(self._h, byref(res)))
            if self._kind == "search":  # _hits frees it
                return self._convert(res)
            try:
                return self._convert(res)
            finally:
                L.vdb_result_free(res)

    def close(self):
        with self._lock:
            h, self._h = self._h, None
            if h is not None and self._emb._db is not None:
                L = self._emb._lib
                (L.vdb_query_iterator_close if self._kind == "query"
                 else L.vdb_search_iterator_close)(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
