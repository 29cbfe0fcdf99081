"""Client: the libvdb database handle, shaped like pymilvus's MilvusClient."""

import array
import functools
import json
import numbers
import sys
import threading
import time
from ctypes import (POINTER, byref, c_char_p, c_double, c_float, c_int, c_int8, c_int16,
                    c_int32, c_int64, c_uint8, c_uint64, c_void_p, sizeof, string_at)

from . import _lib
from .errors import InvalidArgumentError, NotFoundError, Status, error_for
from .schema import DataType, FieldSchema, IndexParams, MetricType, Schema, to_datatype, to_metric

try:
    import numpy as np
except ImportError:  # numpy is optional: lists work everywhere
    np = None

__all__ = ["Client"]

DYNAMIC_FIELD = "$meta"
_MISSING = object()

_INT_CTYPES = {
    DataType.INT8: (c_int8, -(1 << 7), (1 << 7) - 1),
    DataType.INT16: (c_int16, -(1 << 15), (1 << 15) - 1),
    DataType.INT32: (c_int32, -(1 << 31), (1 << 31) - 1),
    DataType.INT64: (c_int64, -(1 << 63), (1 << 63) - 1),
}
_NP_DTYPES = {
    DataType.BOOL: "uint8", DataType.INT8: "int8", DataType.INT16: "int16",
    DataType.INT32: "int32", DataType.INT64: "int64", DataType.FLOAT: "float32",
    DataType.DOUBLE: "float64",
}
# Milvus's ConsistencyLevel numbers (Strong 0, Session 1, Bounded 2, Eventually 3) and names
_CONSISTENCY = {
    "strong": _lib.CONSISTENCY_STRONG, 0: _lib.CONSISTENCY_STRONG,
    "session": _lib.CONSISTENCY_SESSION, 1: _lib.CONSISTENCY_SESSION,
    "bounded": _lib.CONSISTENCY_BOUNDED, 2: _lib.CONSISTENCY_BOUNDED,
    "eventually": _lib.CONSISTENCY_EVENTUALLY, 3: _lib.CONSISTENCY_EVENTUALLY,
}
_SYNC = {"full": _lib.SYNC_FULL, "batch": _lib.SYNC_BATCH, "off": _lib.SYNC_OFF}


def _einval(msg):
    return InvalidArgumentError(Status.EINVAL, msg)


def _b(s):
    return None if s is None else s.encode("utf-8")


def _json_default(o):
    if np is not None:
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
    raise TypeError("%r is not JSON serializable" % (o,))


def _dumps(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _is_seq(v):
    return isinstance(v, (list, tuple)) or (np is not None and isinstance(v, np.ndarray))


def _api(fn):
    """Runs a method while the handle is held open (close() waits for running calls)."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        with self._cv:
            if self._db is None:
                raise _einval("the Client is closed")
            self._active += 1
        try:
            return fn(self, *args, **kwargs)
        finally:
            with self._cv:
                self._active -= 1
                if not self._active:
                    self._cv.notify_all()

    return wrapper


class _Info:
    """What the client keeps of a collection's schema."""

    def __init__(self, name, fields, dynamic, num_shards):
        self.name = name
        self.fields = fields
        self.by_name = {f.name: f for f in fields}
        self.dynamic = dynamic
        self.num_shards = num_shards
        self.pk = next(f for f in fields if f.is_primary)
        self.vectors = [f for f in fields if f.dtype == DataType.FLOAT_VECTOR]

    def vector_field(self, name):
        if name:
            f = self.by_name.get(name)
            if f is None or f.dtype != DataType.FLOAT_VECTOR:
                raise _einval("'%s' is not a vector field of '%s'" % (name, self.name))
            return f
        if len(self.vectors) != 1:
            raise _einval("collection '%s' has %d vector fields: name one with anns_field"
                          % (self.name, len(self.vectors)))
        return self.vectors[0]


class _Plan:
    """Which output fields to ask the C library for, and how to read them back."""

    def __init__(self, info, output_fields, default_all):
        if output_fields is None:
            output_fields = ["*"] if default_all else []
        elif isinstance(output_fields, str):
            output_fields = [output_fields]
        self.c_names = []
        self.reads = []  # (name, kind): "pk", "field", "meta" (flattened), "dyn" (a dynamic key)
        seen = set()
        for name in output_fields:
            if name == "*":
                names = [f.name for f in info.fields] + ([DYNAMIC_FIELD] if info.dynamic else [])
            else:
                names = [name]
            for n in names:
                if n in seen:
                    continue
                seen.add(n)
                if n == info.pk.name:
                    self.reads.append((n, "pk", None))
                    continue
                self.c_names.append(n)
                c = n.encode("utf-8")
                if n in info.by_name:
                    self.reads.append((n, "field", c))
                elif n == DYNAMIC_FIELD:
                    self.reads.append((n, "meta", c))
                else:
                    self.reads.append((n, "dyn", c))  # the C library says if it is not allowed
        self.keep = [n.encode("utf-8") for n in self.c_names]
        self.array = (c_char_p * len(self.keep))(*self.keep) if self.keep else None


class Client:
    """An open libvdb database (a folder), used like pymilvus's MilvusClient.

        with libvdb.Client("./my.db") as client:
            client.create_collection("docs", dimension=768)
            client.insert("docs", [{"id": 1, "vector": [...], "title": "a"}])
            hits = client.search("docs", [query], limit=10, output_fields=["title"])

    Options (all optional; None keeps the library default, see vdb_options in vdb.h): sync
    ("full", "batch", "off"), sync_interval_ms, segment_max_rows, segment_max_bytes,
    retention_seconds, compaction_interval_ms, compaction_min_segments, log_uri, meta_uri,
    object_uri, disable_io_uring, index_build_workers, index_build_threads, search_threads.
    pymilvus's connection arguments (token, user, password,
    db_name, timeout) are accepted and ignored. One Client may be used from many threads.
    """

    _OPTION_NAMES = ("sync_interval_ms", "segment_max_rows", "segment_max_bytes",
                     "retention_seconds", "compaction_interval_ms", "compaction_min_segments",
                     "disable_io_uring", "index_build_workers", "index_build_threads",
                     "search_threads")
    _IGNORED = ("token", "user", "password", "db_name", "timeout", "secure")

    def __init__(self, uri="./libvdb.db", sync=None, log_uri=None, meta_uri=None,
                 object_uri=None, **kwargs):
        self._db = None
        self._cv = threading.Condition()
        self._active = 0
        self._infos = {}
        self._last_write_ts = 0
        self._lib = _lib.get()
        self.uri = str(uri)
        opts = _lib.vdb_options()
        self._lib.vdb_options_init(byref(opts))
        if sync is not None:
            try:
                opts.sync = _SYNC[sync.lower()] if isinstance(sync, str) else int(sync)
            except KeyError:
                raise _einval("sync must be 'full', 'batch' or 'off', not %r" % (sync,))
        self._uris = [_b(log_uri), _b(meta_uri), _b(object_uri)]  # kept alive for the open
        opts.log_uri, opts.meta_uri, opts.object_uri = self._uris
        for k, v in kwargs.items():
            if k in self._OPTION_NAMES:
                if v is not None:
                    setattr(opts, k, int(v))
            elif k not in self._IGNORED:
                raise TypeError("Client() got an unexpected keyword argument %r" % k)
        db = c_void_p()
        st = self._lib.vdb_open(_b(self.uri), byref(opts), byref(db))
        if st:
            raise self._error(st, None)
        self._db = db

    # ---- plumbing ----------------------------------------------------------------------

    def _error(self, st, db="self"):
        msg = self._lib.vdb_errmsg(self._db if db == "self" else db)
        return error_for(st, msg.decode("utf-8", "replace") if msg else "")

    def _check(self, st):
        if st:
            raise self._error(st)

    def close(self):
        """Closes the database (waits for calls running in other threads). Idempotent."""
        with self._cv:
            db = self._db
            if db is None:
                return
            self._db = None  # new calls are refused from here
            while self._active:
                self._cv.wait()
        self._lib.vdb_close(db)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self):
        return self._db is None

    def _info(self, name, refresh=False):
        info = None if refresh else self._infos.get(name)
        if info is None:
            info = self._describe(name)
            self._infos[name] = info
        return info

    def _describe(self, name):
        L = self._lib
        s = c_void_p()
        self._check(L.vdb_describe_collection(self._db, _b(name), byref(s)))
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
                    metric_type=MetricType(d.metric) if t == DataType.FLOAT_VECTOR and d.metric
                    else None,
                    description=(d.description or b"").decode("utf-8"), **kw))
            return _Info(name, fields, bool(L.vdb_schema_dynamic(s)), L.vdb_schema_shards(s))
        finally:
            L.vdb_schema_free(s)

    def _names(self, fn, *args):
        out = POINTER(_lib.vdb_names)()
        self._check(fn(self._db, *args, byref(out)))
        try:
            n = out.contents
            return [n.names[i].decode("utf-8") for i in range(n.count)]
        finally:
            self._lib.vdb_names_free(out)

    def _read_opts(self, partition_names=None, output=None, travel_timestamp=None,
                   consistency_level=None, staleness_ms=None):
        """A vdb_read_opts and the Python objects its pointers point into."""
        ro = _lib.vdb_read_opts()
        keep = []
        if travel_timestamp:
            ro.travel_ts = int(travel_timestamp)
        if consistency_level is not None:
            key = consistency_level.lower() if isinstance(consistency_level, str) \
                else int(consistency_level)
            if key not in _CONSISTENCY:
                raise _einval("unknown consistency level %r (Strong, Session, Bounded, "
                              "Eventually)" % (consistency_level,))
            ro.consistency = _CONSISTENCY[key]
            if ro.consistency == _lib.CONSISTENCY_BOUNDED:
                ro.staleness_ms = 5000 if staleness_ms is None else int(staleness_ms)
            elif ro.consistency == _lib.CONSISTENCY_SESSION:
                ro.session_ts = self._last_write_ts
        if partition_names:
            if isinstance(partition_names, str):
                partition_names = [partition_names]
            parts = [_b(p) for p in partition_names]
            arr = (c_char_p * len(parts))(*parts)
            keep += [parts, arr]
            ro.partitions, ro.n_partitions = arr, len(parts)
        if output is not None and output.array is not None:
            keep.append(output)
            ro.output_fields, ro.n_output_fields = output.array, len(output.keep)
        return ro, keep

    # ---- reading results ----------------------------------------------------------------

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
        text = string_at(val.u.str.ptr, val.u.str.len).decode("utf-8") if val.u.str.len else ""
        if t == DataType.VARCHAR:
            return text
        return json.loads(text) if text else None  # JSON, ARRAY, dynamic keys

    def _pk_reader(self, res):
        L = self._lib
        if L.vdb_result_pk_type(res) == DataType.VARCHAR:
            return lambda g, r: L.vdb_result_pk_str(res, g, r).decode("utf-8")
        return lambda g, r: L.vdb_result_pk_int(res, g, r)

    def _entity(self, res, g, r, plan, pk, val):
        ent = {}
        for name, kind, cname in plan.reads:
            if kind == "pk":
                ent[name] = pk
                continue
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

    def _rows(self, res, plan, info, with_pk=True):
        """Group 0 of a get/query result as a list of dicts (primary key first)."""
        L = self._lib
        pk_of = self._pk_reader(res)
        val = _lib.vdb_value()
        out = []
        if not L.vdb_result_groups(res):
            return out
        for r in range(L.vdb_result_rows(res, 0)):
            pk = pk_of(0, r)
            row = {info.pk.name: pk} if with_pk else {}
            row.update(self._entity(res, 0, r, plan, pk, val))
            out.append(row)
        return out

    def _pks(self, res):
        L = self._lib
        if not res or not L.vdb_result_groups(res):
            return []
        pk_of = self._pk_reader(res)
        return [pk_of(0, r) for r in range(L.vdb_result_rows(res, 0))]

    # ---- writing batches ------------------------------------------------------------------

    def _to_columns(self, info, data):
        """(rows, {field: values}, [dynamic dict per row] or None) from rows or columns."""
        if isinstance(data, dict) and self._is_columnar(info, data):
            cols = {}
            n = None
            dyn_cols = {}
            for k, v in data.items():
                if np is not None and isinstance(v, np.ndarray):
                    m = v.shape[0] if v.ndim else 1
                else:
                    if not _is_seq(v):
                        raise _einval("column '%s' is not a list" % k)
                    m = len(v)
                if n is None:
                    n = m
                elif m != n:
                    raise _einval("column '%s' has %d values, others %d" % (k, m, n))
                if k in info.by_name:
                    cols[k] = v
                elif k == DYNAMIC_FIELD or info.dynamic:
                    dyn_cols[k] = v
                else:
                    raise _einval("collection '%s' has no field '%s' (and dynamic fields are "
                                  "off)" % (info.name, k))
            n = n or 0
            metas = None
            if dyn_cols:
                metas = []
                for i in range(n):
                    m = dict(dyn_cols[DYNAMIC_FIELD][i] or {}) if DYNAMIC_FIELD in dyn_cols else {}
                    for k, v in dyn_cols.items():
                        if k != DYNAMIC_FIELD:
                            m[k] = v[i]
                    metas.append(m)
            return n, cols, metas
        if isinstance(data, dict):
            data = [data]
        elif np is not None and isinstance(data, np.ndarray):
            raise _einval("data must be a list of row dicts or a dict of columns")
        rows = list(data)
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise _einval("row %d is a %s, not a dict" % (i, type(row).__name__))
        names = info.by_name
        cols = {}
        for name in names:
            col = [row.get(name, _MISSING) for row in rows]
            if any(v is not _MISSING for v in col):
                cols[name] = col
        metas = None
        extra_rows = [(i, row.keys() - names.keys()) for i, row in enumerate(rows)]
        if any(extra for _, extra in extra_rows):
            if not info.dynamic:
                i, extra = next((i, e) for i, e in extra_rows if e)
                raise _einval("collection '%s' has no field '%s' (and dynamic fields are off)"
                              % (info.name, sorted(extra)[0]))
            metas = []
            for (i, extra), row in zip(extra_rows, rows):
                m = {}
                for k in extra:
                    if k == DYNAMIC_FIELD:
                        m.update(row[k] or {})
                for k in extra:
                    if k != DYNAMIC_FIELD:
                        m[k] = row[k]
                metas.append(m)
        return len(rows), cols, metas

    @staticmethod
    def _is_columnar(info, data):
        for f in info.vectors:
            if f.name in data:
                v = data[f.name]
                if np is not None and isinstance(v, np.ndarray):
                    return v.ndim == 2
                return _is_seq(v) and len(v) > 0 and _is_seq(v[0])
        v = data.get(info.pk.name)
        return _is_seq(v)

    @staticmethod
    def _vectors(values, what):
        """(owner, address, rows, dim) of a contiguous float32 copy (or view) of values."""
        if np is not None:
            if isinstance(values, np.ndarray):
                arr = values
            else:
                values = list(values)
                for i, v in enumerate(values):
                    if v is None or v is _MISSING:
                        raise _einval("%s row %d: no vector" % (what, i))
                try:
                    arr = np.asarray(values, dtype=np.float32)
                except (ValueError, TypeError) as e:
                    raise _einval("%s: vectors must be lists of numbers of one length (%s)"
                                  % (what, e))
            arr = np.ascontiguousarray(arr, dtype=np.float32)
            if arr.ndim == 1:
                arr = arr.reshape(1, -1)
            if arr.ndim != 2:
                raise _einval("%s: expected a list of vectors, got an array of shape %s"
                              % (what, arr.shape))
            return arr, arr.ctypes.data, arr.shape[0], arr.shape[1]
        values = list(values)
        if values and isinstance(values[0], numbers.Real):
            values = [values]  # one vector
        buf = array.array("f")
        dim = None
        for i, v in enumerate(values):
            if v is None or v is _MISSING:
                raise _einval("%s row %d: no vector" % (what, i))
            try:
                n0 = len(buf)
                buf.extend(float(x) for x in v)
            except TypeError as e:
                raise _einval("%s row %d: not a list of numbers (%s)" % (what, i, e))
            d = len(buf) - n0
            if dim is None:
                dim = d
            elif d != dim:
                raise _einval("%s row %d: %d values, row 0 has %d" % (what, i, d, dim))
        if not values:
            return buf, 0, 0, 0
        return buf, buf.buffer_info()[0], len(values), dim

    def _add_column(self, batch, f, name, values, n):
        """Adds one column for field f (None: the "$meta" column) to batch."""
        L = self._lib
        t = f.dtype if f is not None else DataType.JSON
        cname = _b(name)
        if t == DataType.FLOAT_VECTOR:
            owner, addr, rows, dim = self._vectors(values, "field '%s'" % name)
            if rows != n:
                raise _einval("field '%s' has %d vectors for %d rows" % (name, rows, n))
            self._check(L.vdb_batch_add_column(batch, cname, t, addr, None, n, dim))
            return
        if np is not None and isinstance(values, np.ndarray) and t in _NP_DTYPES:
            if values.dtype == object or values.ndim != 1:
                values = values.tolist()
            else:
                arr = np.ascontiguousarray(values, dtype=_NP_DTYPES[t])
                self._check(L.vdb_batch_add_column(batch, cname, t, arr.ctypes.data, None, n, 0))
                return
        values = list(values)
        present = [v is not None and v is not _MISSING for v in values]
        valid = None if all(present) else (c_uint8 * n)(*present)
        what = "field '%s' row %d"
        if t == DataType.BOOL:
            data = (c_uint8 * n)(*[1 if p and v else 0 for v, p in zip(values, present)])
        elif t in _INT_CTYPES:
            ctype, lo, hi = _INT_CTYPES[t]
            ints = []
            for i, (v, p) in enumerate(zip(values, present)):
                if not p:
                    ints.append(0)
                    continue
                if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                    raise _einval((what + ": %r is not an integer") % (name, i, v))
                v = int(v)
                if not lo <= v <= hi:
                    raise _einval((what + ": %d is out of range for %s")
                                  % (name, i, v, t.name))
                ints.append(v)
            data = (ctype * n)(*ints)
        elif t in (DataType.FLOAT, DataType.DOUBLE):
            fl = []
            for i, (v, p) in enumerate(zip(values, present)):
                if not p:
                    fl.append(0.0)
                elif isinstance(v, numbers.Real) and not isinstance(v, bool):
                    fl.append(float(v))
                else:
                    raise _einval((what + ": %r is not a number") % (name, i, v))
            data = ((c_float if t == DataType.FLOAT else c_double) * n)(*fl)
        else:
            texts = []
            for i, (v, p) in enumerate(zip(values, present)):
                if not p:
                    texts.append(b"null" if t == DataType.JSON else
                                 b"[]" if t == DataType.ARRAY else b"")
                elif t == DataType.VARCHAR:
                    if not isinstance(v, str):
                        raise _einval((what + ": %r is not a string") % (name, i, v))
                    texts.append(v.encode("utf-8"))
                elif t == DataType.ARRAY:
                    if np is not None and isinstance(v, np.ndarray):
                        v = v.tolist()
                    if not isinstance(v, (list, tuple)):
                        raise _einval((what + ": %r is not a list") % (name, i, v))
                    texts.append(_dumps(list(v)).encode("utf-8"))
                else:  # JSON and "$meta"
                    try:
                        texts.append(_dumps(v).encode("utf-8"))
                    except (TypeError, ValueError) as e:
                        raise _einval((what + ": not JSON serializable (%s)") % (name, i, e))
            data = (c_char_p * n)(*texts)  # the array keeps the bytes alive
        self._check(L.vdb_batch_add_column(batch, cname, t, data, valid, n, 0))

    def _write(self, fn, collection_name, data, partition_name):
        info = self._info(collection_name)
        n, cols, metas = self._to_columns(info, data)
        if n == 0:
            return 0, [], 0
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
            self._check(fn(self._db, _b(collection_name), _b(partition_name), batch, byref(ts),
                           byref(res)))
        finally:
            L.vdb_batch_free(batch)
        try:
            ids = self._pks(res)
        finally:
            L.vdb_result_free(res)
        self._last_write_ts = max(self._last_write_ts, ts.value)
        return n, ids, ts.value

    # ---- collections ---------------------------------------------------------------------

    @staticmethod
    def create_schema(**kwargs):
        """A new Schema (pymilvus's MilvusClient.create_schema)."""
        return Schema(**kwargs)

    @staticmethod
    def prepare_index_params(field_name=None, **kwargs):
        """A new IndexParams (pymilvus's MilvusClient.prepare_index_params)."""
        p = IndexParams()
        if field_name:
            p.add_index(field_name, **kwargs)
        return p

    @_api
    def create_collection(self, collection_name, dimension=None, primary_field_name="id",
                          id_type="int", vector_field_name="vector", metric_type="COSINE",
                          auto_id=False, timeout=None, schema=None, index_params=None,
                          max_length=65535, enable_dynamic_field=True, num_shards=None,
                          description="", **kwargs):
        """Creates a collection.

        Quick form (no schema): an INT64 (id_type="int") or VARCHAR (id_type="string",
        max_length) primary key primary_field_name, a FLOAT_VECTOR vector_field_name of
        `dimension` with metric_type, dynamic fields on unless enable_dynamic_field=False.
        Full form: schema=libvdb.Schema(...). A vector field without a metric takes one from
        index_params (its metric_type), else metric_type. Scalar indexes in index_params are
        built after the collection is created.
        """
        index_metrics = {}
        if index_params is not None:
            for idx in index_params:
                if idx.get("metric_type") is not None:
                    index_metrics[idx["field_name"]] = to_metric(idx["metric_type"])
        if schema is None:
            if dimension is None:
                raise _einval("create_collection needs a dimension (or a schema)")
            key = id_type.lower() if isinstance(id_type, str) else to_datatype(id_type)
            if key in ("int", "int64", DataType.INT64):
                pk = dict(datatype=DataType.INT64)
            elif key in ("str", "string", "varchar", DataType.VARCHAR):
                pk = dict(datatype=DataType.VARCHAR, max_length=max_length)
            else:
                raise _einval("id_type must be 'int' or 'string', not %r" % (id_type,))
            schema = Schema(enable_dynamic_field=enable_dynamic_field)
            schema.add_field(primary_field_name, is_primary=True, auto_id=auto_id, **pk)
            schema.add_field(vector_field_name, DataType.FLOAT_VECTOR, dim=dimension,
                             metric_type=metric_type)
        shards = schema.num_shards if schema.num_shards is not None else num_shards
        L = self._lib
        s = c_void_p()
        self._check(L.vdb_schema_new(_b(collection_name), byref(s)))
        try:
            for f in schema.fields:
                d = _lib.vdb_field_def()
                name, dflt, desc = _b(f.name), _b(f.default_json()), _b(f.description)
                d.name, d.type = name, f.dtype
                if f.element_type is not None:
                    d.element_type = f.element_type
                d.dim = f.dim or 0
                if f.dtype == DataType.FLOAT_VECTOR:
                    m = f.metric_type or index_metrics.get(f.name) or to_metric(metric_type)
                    d.metric = m or 0
                d.max_length = f.max_length or 0
                d.max_capacity = f.max_capacity or 0
                d.is_primary, d.auto_id, d.nullable = f.is_primary, f.auto_id, f.nullable
                d.default_json, d.description = dflt, desc
                self._check(L.vdb_schema_add_field(s, byref(d)))
            self._check(L.vdb_schema_set_dynamic(s, int(schema.enable_dynamic_field)))
            if shards:
                self._check(L.vdb_schema_set_shards(s, int(shards)))
            desc = description or schema.description
            if desc:
                self._check(L.vdb_schema_set_description(s, _b(desc)))
            self._infos.pop(collection_name, None)
            self._check(L.vdb_create_collection(self._db, s))
        finally:
            L.vdb_schema_free(s)
        if index_params is not None:
            info = self._info(collection_name, refresh=True)
            for idx in index_params:
                f = info.by_name.get(idx["field_name"])
                if f is not None and f.dtype == DataType.FLOAT_VECTOR and \
                        str(idx.get("index_type", "")).upper() in ("", "AUTOINDEX", "FLAT"):
                    continue  # exact search is what a vector AUTOINDEX/FLAT gives today
                self._create_index(collection_name, idx["field_name"], idx.get("index_type"),
                                   idx.get("params"))
                self._wait_index(collection_name, idx["field_name"], None)

    @_api
    def drop_collection(self, collection_name, timeout=None, **kwargs):
        self._infos.pop(collection_name, None)
        self._check(self._lib.vdb_drop_collection(self._db, _b(collection_name)))
        self._infos.pop(collection_name, None)

    @_api
    def has_collection(self, collection_name, timeout=None, **kwargs):
        e = c_int()
        self._check(self._lib.vdb_has_collection(self._db, _b(collection_name), byref(e)))
        return bool(e.value)

    @_api
    def list_collections(self, **kwargs):
        return self._names(self._lib.vdb_list_collections)

    @_api
    def describe_collection(self, collection_name, timeout=None, **kwargs):
        """A dict like pymilvus's: collection_name, auto_id, num_shards, description, fields
        (field_id, name, description, type, params {dim, max_length, max_capacity, metric_type},
        element_type, is_primary, auto_id, nullable, default_value), num_partitions,
        enable_dynamic_field, consistency_level, aliases, properties."""
        info = self._info(collection_name, refresh=True)
        fields = []
        for i, f in enumerate(info.fields):
            d = f.to_dict()
            d["field_id"] = 100 + i
            d.setdefault("element_type", DataType.NONE)
            fields.append(d)
        nparts = len(self._names(self._lib.vdb_list_partitions, _b(collection_name)))
        return {
            "collection_name": collection_name,
            "auto_id": info.pk.auto_id,
            "num_shards": info.num_shards,
            "description": "",  # the C API has no getter for the collection's description
            "fields": fields,
            "aliases": [],
            "consistency_level": 0,  # Strong
            "properties": {},
            "num_partitions": nparts,
            "enable_dynamic_field": info.dynamic,
        }

    @_api
    def get_collection_stats(self, collection_name, timeout=None, **kwargs):
        s = _lib.vdb_stats()
        self._check(self._lib.vdb_collection_stats(self._db, _b(collection_name), byref(s)))
        return {name: getattr(s, name) for name, _ in _lib.vdb_stats._fields_
                if name != "struct_size"}

    def load_collection(self, collection_name, timeout=None, **kwargs):
        """Nothing to do: every collection is always loaded. Checks that it exists."""
        if not self.has_collection(collection_name):
            raise NotFoundError(Status.ENOTFOUND, "collection '%s' not found" % collection_name)

    def release_collection(self, collection_name, timeout=None, **kwargs):
        """Nothing to do (collections are always loaded)."""

    def get_load_state(self, collection_name, partition_name="", timeout=None, **kwargs):
        self.load_collection(collection_name)
        return {"state": "Loaded"}

    # ---- partitions ---------------------------------------------------------------------

    @_api
    def create_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        self._check(self._lib.vdb_create_partition(self._db, _b(collection_name),
                                                   _b(partition_name)))

    @_api
    def drop_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        self._check(self._lib.vdb_drop_partition(self._db, _b(collection_name),
                                                 _b(partition_name)))

    @_api
    def list_partitions(self, collection_name, timeout=None, **kwargs):
        return self._names(self._lib.vdb_list_partitions, _b(collection_name))

    def has_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        return partition_name in self.list_partitions(collection_name)

    def load_partitions(self, collection_name, partition_names, timeout=None, **kwargs):
        """Nothing to do (always loaded)."""

    def release_partitions(self, collection_name, partition_names, timeout=None, **kwargs):
        """Nothing to do (always loaded)."""

    # ---- writes ---------------------------------------------------------------------------

    @_api
    def insert(self, collection_name, data, timeout=None, partition_name=None, **kwargs):
        """Inserts rows (a list of dicts, or one dict) or columns (a dict of lists whose vector
        field holds a list of vectors or a 2-D array). Keys not in the schema go to dynamic
        fields. Returns {"insert_count", "ids", "timestamp"}; durable and visible on return."""
        n, ids, ts = self._write(self._lib.vdb_insert, collection_name, data, partition_name)
        return {"insert_count": n, "ids": ids, "timestamp": ts}

    @_api
    def upsert(self, collection_name, data, timeout=None, partition_name=None, **kwargs):
        """Like insert, replacing rows with the same primary keys (in any partition).
        Returns {"upsert_count", "insert_count" (the same), "ids", "timestamp"}."""
        n, ids, ts = self._write(self._lib.vdb_upsert, collection_name, data, partition_name)
        return {"upsert_count": n, "insert_count": n, "ids": ids, "timestamp": ts}

    def _pk_list(self, info, ids):
        if isinstance(ids, (str, bytes, numbers.Integral)):
            ids = [ids]
        elif np is not None and isinstance(ids, np.ndarray):
            ids = ids.tolist()
        ids = list(ids)
        pl = _lib.vdb_pk_list()
        pl.count = len(ids)
        if info.pk.dtype == DataType.VARCHAR:
            for v in ids:
                if not isinstance(v, str):
                    raise _einval("primary key '%s' is a string; got %r" % (info.pk.name, v))
            keep = [v.encode("utf-8") for v in ids]
            arr = (c_char_p * len(keep))(*keep)
            pl.strs = arr
        else:
            for v in ids:
                if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                    raise _einval("primary key '%s' is an integer; got %r" % (info.pk.name, v))
            keep = None
            arr = (c_int64 * len(ids))(*[int(v) for v in ids])
            pl.ints = arr
        return pl, (keep, arr), len(ids)

    @_api
    def delete(self, collection_name, ids=None, timeout=None, filter=None, partition_name=None,
               **kwargs):
        """Deletes by primary keys (ids) or by a boolean expression (filter), not both.
        Returns {"delete_count", "timestamp"}: with ids, the count is the number of keys given
        (keys that match nothing are not an error, as in Milvus); with a filter, the rows
        matched."""
        if ids is not None and filter:
            raise _einval("delete takes ids or a filter, not both")
        ts = c_uint64()
        if ids is not None:
            info = self._info(collection_name)
            pl, keep, n = self._pk_list(info, ids)
            if n == 0:
                return {"delete_count": 0, "timestamp": 0}
            self._check(self._lib.vdb_delete(self._db, _b(collection_name), _b(partition_name),
                                             byref(pl), byref(ts)))
        elif filter:
            deleted = c_uint64()
            self._check(self._lib.vdb_delete_where(self._db, _b(collection_name),
                                                   _b(partition_name), _b(filter), byref(ts),
                                                   byref(deleted)))
            n = deleted.value
        else:
            raise _einval("delete needs ids or a filter")
        self._last_write_ts = max(self._last_write_ts, ts.value)
        return {"delete_count": n, "timestamp": ts.value}

    @_api
    def flush(self, collection_name=None, timeout=None, **kwargs):
        """Seals the growing segments of the collection (None: of every collection)."""
        self._check(self._lib.vdb_flush(self._db, _b(collection_name)))

    @_api
    def compact(self, collection_name=None, timeout=None, **kwargs):
        """Runs a compaction pass now (None: every collection)."""
        self._check(self._lib.vdb_compact(self._db, _b(collection_name)))

    @_api
    def now(self):
        """A fresh timestamp: pass it later as travel_timestamp to read as of this moment."""
        ts = c_uint64()
        self._check(self._lib.vdb_now(self._db, byref(ts)))
        return ts.value

    # ---- reads ----------------------------------------------------------------------------

    @_api
    def get(self, collection_name, ids, output_fields=None, timeout=None, partition_names=None,
            travel_timestamp=None, consistency_level=None, **kwargs):
        """The rows with these primary keys (one key or a list), in that order, missing keys
        skipped. Every field when output_fields is None (dynamic keys flattened in)."""
        info = self._info(collection_name)
        pl, keep, n = self._pk_list(info, ids)
        if n == 0:
            return []
        plan = _Plan(info, output_fields, True)
        ro, keep2 = self._read_opts(partition_names, plan, travel_timestamp, consistency_level,
                                    kwargs.get("staleness_ms"))
        res = c_void_p()
        self._check(self._lib.vdb_get(self._db, _b(collection_name), byref(pl), byref(ro),
                                      byref(res)))
        try:
            return self._rows(res, plan, info)
        finally:
            self._lib.vdb_result_free(res)

    @_api
    def query(self, collection_name, filter="", output_fields=None, timeout=None, ids=None,
              partition_names=None, limit=None, offset=0, travel_timestamp=None,
              consistency_level=None, **kwargs):
        """The rows that pass filter (Milvus's expression language), after offset, at most limit
        (a limit is needed without a filter). output_fields=["count(*)"] gives
        [{"count(*)": n}]. Every field when output_fields is None. ids=[...] instead of a
        filter reads those keys (as get)."""
        info = self._info(collection_name)
        if isinstance(output_fields, str):
            output_fields = [output_fields]
        if output_fields is not None and [f.replace(" ", "").lower() for f in output_fields] \
                == ["count(*)"]:
            ro, keep = self._read_opts(partition_names, None, travel_timestamp,
                                       consistency_level, kwargs.get("staleness_ms"))
            cnt = c_uint64()
            self._check(self._lib.vdb_count(self._db, _b(collection_name), _b(filter or None),
                                            byref(ro), byref(cnt)))
            return [{"count(*)": cnt.value}]
        if ids is not None:
            if filter:
                raise _einval("query takes ids or a filter, not both")
            rows = self.get(collection_name, ids, output_fields=output_fields,
                            partition_names=partition_names, travel_timestamp=travel_timestamp,
                            consistency_level=consistency_level, **kwargs)
            rows = rows[offset or 0:]
            return rows[:limit] if limit else rows
        plan = _Plan(info, output_fields, True)
        ro, keep = self._read_opts(partition_names, plan, travel_timestamp, consistency_level,
                                   kwargs.get("staleness_ms"))
        res = c_void_p()
        self._check(self._lib.vdb_query(self._db, _b(collection_name), _b(filter or None),
                                        byref(ro), int(limit or 0), int(offset or 0),
                                        byref(res)))
        try:
            return self._rows(res, plan, info)
        finally:
            self._lib.vdb_result_free(res)

    @_api
    def search(self, collection_name, data, limit=10, filter="", output_fields=None,
               search_params=None, timeout=None, partition_names=None, anns_field=None,
               travel_timestamp=None, consistency_level=None, **kwargs):
        """The `limit` nearest rows to each query vector, nearest first.

        data: one vector, a list of vectors, or a 1-D/2-D numpy array. Returns one list per
        query of hits {"id": pk, "distance": d, "entity": {output fields}} -- distance is the
        squared L2 distance (smaller is nearer) or the IP/COSINE similarity (larger is nearer).
        search_params: {"metric_type": ..., "params": {...}} as in pymilvus; a metric_type
        other than the field's is an error; params go to the index ("ef=64", ignored by exact
        search). output_fields None: no fields (entity is {}); ["*"]: every field.
        """
        info = self._info(collection_name)
        vf = info.vector_field(anns_field)
        if isinstance(data, (list, tuple)) and data and isinstance(data[0], numbers.Real):
            data = [data]
        owner, addr, nq, dim = self._vectors(data, "search data")
        if nq == 0:
            raise _einval("search needs at least one query vector")
        params = None
        if search_params:
            sp = dict(search_params)
            m = to_metric(sp.pop("metric_type", None))
            if m is not None and vf.metric_type is not None and m != vf.metric_type:
                raise _einval("search metric_type %s does not match field '%s' (%s)"
                              % (m.name, vf.name, vf.metric_type.name))
            inner = sp.pop("params", None) or {}
            inner.update(sp)
            if inner:
                params = ",".join("%s=%s" % (k, v) for k, v in inner.items())
        plan = _Plan(info, output_fields, False)
        ro, keep = self._read_opts(partition_names, plan, travel_timestamp, consistency_level,
                                   kwargs.get("staleness_ms"))
        req = _lib.vdb_search_req()
        req.struct_size = sizeof(req)
        cname, vname, fexpr, pstr = (_b(collection_name), _b(vf.name), _b(filter or None),
                                     _b(params))
        req.collection, req.vector_field, req.filter, req.params = cname, vname, fexpr, pstr
        req.vectors, req.nq, req.dim = addr, nq, dim
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
            raise _einval("limit must be a positive integer, not %r" % (limit,))
        req.k = min(int(limit), 0xFFFFFFFF)
        req.read = ro
        res = c_void_p()
        self._check(self._lib.vdb_search(self._db, byref(req), byref(res)))
        L = self._lib
        try:
            pk_of = self._pk_reader(res)
            val = _lib.vdb_value()
            out = []
            for g in range(L.vdb_result_groups(res)):
                hits = []
                for r in range(L.vdb_result_rows(res, g)):
                    pk = pk_of(g, r)
                    hits.append({"id": pk, "distance": L.vdb_result_distance(res, g, r),
                                 "entity": self._entity(res, g, r, plan, pk, val)})
                out.append(hits)
            return out
        finally:
            L.vdb_result_free(res)

    # ---- indexes --------------------------------------------------------------------------

    def _create_index(self, collection_name, field_name, index_type, params):
        p = None
        if params:
            p = ",".join("%s=%s" % (k, v) for k, v in dict(params).items())
        self._check(self._lib.vdb_create_index(self._db, _b(collection_name), _b(field_name),
                                               _b(index_type or "AUTOINDEX"), _b(p)))

    def _progress(self, collection_name, field_name):
        done, total = c_uint64(), c_uint64()
        self._check(self._lib.vdb_index_progress(self._db, _b(collection_name), _b(field_name),
                                                 byref(done), byref(total)))
        return done.value, total.value

    def _wait_index(self, collection_name, field_name, timeout):
        """Waits for the field's background index builds, as pymilvus's create_index(sync=True)
        does; after about a second a progress bar is drawn on stderr when it is a terminal."""
        start = time.monotonic()
        deadline = None if timeout is None else start + float(timeout)
        tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        drawn = False
        while True:
            step = 200 if deadline is None else max(0, min(200, int((deadline - time.monotonic())
                                                                    * 1000)))
            st = self._lib.vdb_wait_for_index(self._db, _b(collection_name), _b(field_name), step)
            if st != Status.ETIMEDOUT or (deadline is not None and time.monotonic() >= deadline):
                break
            if tty and time.monotonic() - start > 1.0:
                done, total = self._progress(collection_name, field_name)
                width = 30
                fill = width * done // total if total else width
                sys.stderr.write("\rindexing %s.%s [%s%s] %d/%d rows" % (
                    collection_name, field_name, "#" * fill, "." * (width - fill), done, total))
                sys.stderr.flush()
                drawn = True
        if drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self._check(st)

    @_api
    def create_index(self, collection_name, field_name=None, index_type="AUTOINDEX", params=None,
                     index_params=None, timeout=None, sync=True, **kwargs):
        """Creates an index on a field: create_index("c", "year", "STL_SORT"), or pymilvus's
        create_index("c", index_params) with an IndexParams from prepare_index_params().
        Vector indexes build in the background: with sync (the default, as pymilvus) this
        waits for them (at most timeout seconds, then TimedOutError; the build goes on)."""
        if isinstance(field_name, IndexParams):
            index_params, field_name = field_name, None
        if index_params is not None:
            fields = [idx["field_name"] for idx in index_params]
            for idx in index_params:
                self._create_index(collection_name, idx["field_name"], idx.get("index_type"),
                                   idx.get("params"))
        elif not field_name:
            raise _einval("create_index needs a field_name or index_params")
        else:
            fields = [field_name]
            self._create_index(collection_name, field_name, index_type, params)
        if sync:
            for f in fields:
                self._wait_index(collection_name, f, timeout)

    @_api
    def wait_for_index_building_complete(self, collection_name, index_name, timeout=None,
                                         **kwargs):
        """Waits for the builds of field index_name's index (TimedOutError after timeout s)."""
        self._wait_index(collection_name, index_name, timeout)
        return True

    @_api
    def drop_index(self, collection_name, index_name, timeout=None, **kwargs):
        """Drops the index of field index_name (an index is named after its field)."""
        self._check(self._lib.vdb_drop_index(self._db, _b(collection_name), _b(index_name)))

    @_api
    def describe_index(self, collection_name, index_name, timeout=None, **kwargs):
        """{"field_name", "index_name", "index_type", "indexed_rows", "total_rows", "state",
        "pending_index_rows"} (state "Finished", "InProgress" or "Failed" with "fail_reason");
        NotFoundError if the field has none."""
        t = c_char_p()
        self._check(self._lib.vdb_describe_index(self._db, _b(collection_name), _b(index_name),
                                                 byref(t)))
        done, total = self._progress(collection_name, index_name)
        out = {"field_name": index_name, "index_name": index_name,
               "index_type": t.value.decode("utf-8") if t.value else "",
               "indexed_rows": done, "total_rows": total, "pending_index_rows": total - done}
        st = self._lib.vdb_wait_for_index(self._db, _b(collection_name), _b(index_name), 0)
        if st == Status.OK:
            out["state"] = "Finished"
        elif st == Status.ETIMEDOUT:
            out["state"] = "InProgress"
        else:
            out["state"] = "Failed"
            out["fail_reason"] = str(self._error(st))
        return out

    def list_indexes(self, collection_name, field_name=None, timeout=None, **kwargs):
        """Names of the indexes (the names of the indexed fields)."""
        info = self._info(collection_name, refresh=True)
        out = []
        for f in info.fields:
            if field_name and f.name != field_name:
                continue
            try:
                self.describe_index(collection_name, f.name)
            except NotFoundError:
                continue
            out.append(f.name)
        return out

    def __repr__(self):
        return "<libvdb.Client %r%s>" % (self.uri, " closed" if self.closed else "")
