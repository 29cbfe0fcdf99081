"""MilvusClient: pymilvus's MilvusClient over libvdb, embedded or remote.

    MilvusClient("./my.db")                                  # a folder, in this process
    MilvusClient("http://127.0.0.1:19530", token="root:Milvus")  # vdb-server (REST API v2)

This file is the one implementation of every method: it checks the arguments (types, ranges,
kwargs: unknown ones are a TypeError, pymilvus's for a feature libvdb lacks an UnsupportedError),
turns rows into checked columns, fills filter templates, and shapes the results. Below it a
transport does the work: _embedded.EmbeddedTransport (ctypes over libvdb.so) or
_remote.RemoteTransport (HTTP). Both return the same values, so both modes answer alike.
"""

import ctypes
import functools
import inspect
import numbers
import sys
import threading
import time

from . import _lib, _template
from ._data import (einval, is_seq, np, output_plan, to_columns, check_writable,
                    sparse_rows, vectors, query_floats, round_decimal)
from .errors import NotFoundError, Status, TimedOutError, UnsupportedError
from .schema import (DataType, DENSE_VECTOR_TYPES, FieldSchema, IndexParams, LoadState,
                     MetricType, Schema,
                     VECTOR_TYPES, to_datatype, to_metric)
from .rankers import AnnSearchRequest, RRFRanker, WeightedRanker
from ._data import binary_queries

__all__ = ["MilvusClient", "Client"]

MAX_TOPK = 16384  # limit + offset of a search or a query, as Milvus
_LEVELS = {"strong": "Strong", "session": "Session", "bounded": "Bounded",
           "eventually": "Eventually", 0: "Strong", 1: "Session", 2: "Bounded",
           3: "Eventually"}
_LEVEL_NUMBERS = {"Strong": 0, "Session": 1, "Bounded": 2, "Eventually": 3}


def _unsupported(msg):
    return UnsupportedError(Status.EUNSUPPORTED, msg)


# pymilvus keyword arguments for features libvdb lacks: refused by name (when set), never
# ignored. Any other unknown keyword argument is a TypeError.
_READ_REFUSED = {
    "guarantee_timestamp": "guarantee timestamps (use consistency_level)",
    "graceful_time": "guarantee timestamps (use consistency_level)",
    "ignore_growing": "ignore_growing (every segment is always searched)",
    "timezone": "timezone-aware fields", "time_fields": "timezone-aware fields",
    "namespace": "namespaces",
}
_REFUSED = {
    "search": dict(_READ_REFUSED, **{
        "group_by_fields": "grouping search (group_by_fields)",
        "order_by_fields": "search ordered by fields", "order_by": "search ordered by fields",
        "page_retain_order": "page_retain_order", "hints": "search hints",
        "json_path": "JSON path indexes", "json_type": "JSON path indexes",
        "strict_cast": "JSON path indexes", "analyzer_name": "text analyzers",
        "ranker": "rerankers", "function_chains": "function chains",
        "highlighter": "highlighters",
        "search_aggregation": "search aggregations",
    }),
    "query": dict(_READ_REFUSED, **{
        "group_by_fields": "query group-by",
        "order_by": "query ordered by fields (order_by_fields is)",
        "reduce_stop_for_best": "reduce_stop_for_best",
    }),
    "get": _READ_REFUSED,
    "create_collection": {
        "clustering_key_field": "clustering keys",
        "enable_namespace": "namespaces", "functions": "functions (BM25, text embedding)",
    },
    "upsert": {"partial_update": "partial updates", "field_ops": "partial updates"},
    "compact": {"is_clustering": "clustering compaction", "is_l0": "L0 compaction"},
    "load": {"resource_groups": "resource groups", "load_fields": "partial loads (load_fields)",
             "skip_load_dynamic_field": "partial loads (skip_load_dynamic_field)",
             "replica_number": "replicas (replica_number other than 1)"},
}
# pymilvus methods for features libvdb lacks: each raises UnsupportedError naming its feature
_NOT_IN_LIBVDB = {}
for _names, _what in (
        (("alter_collection_field", "drop_collection_field",
          "add_collection_struct_field"), "changing a collection's fields (other than "
                                          "add_collection_field)"),
        (("add_collection_function", "alter_collection_function", "drop_collection_function",
          "add_function_field", "drop_function_field"), "functions"),
        (("alter_index_properties", "drop_index_properties"), "index properties"),
        (("alter_database_properties", "drop_database_properties"), "database properties"),
        (("update_user", "alter_role", "grant_privilege_v2", "revoke_privilege_v2",
          "create_privilege_group", "drop_privilege_group", "list_privilege_groups",
          "add_privileges_to_group", "remove_privileges_from_group"),
         "privilege groups or these user and role calls (create_user, grant_privilege & co "
         "work in the remote mode)"),
        (("create_resource_group", "update_resource_groups", "drop_resource_group",
          "describe_resource_group", "list_resource_groups", "transfer_replica",
          "describe_replica"), "resource groups and replicas"),
        (("run_analyzer",), "text analyzers"),
        (("create_snapshot", "drop_snapshot", "list_snapshots", "describe_snapshot",
          "restore_snapshot"), "snapshots (use travel_timestamp for reads in the past)")):
    for _n in _names:
        _NOT_IN_LIBVDB[_n] = _what


def _property_strings(properties):
    """Collection properties as the library takes them: a non-empty dict of strings
    (numbers and booleans spelled as Milvus spells them)."""
    if not isinstance(properties, dict) or not properties:
        raise einval("properties must be a non-empty dict, not %r" % (properties,))
    props = {}
    for k, v in properties.items():
        if not isinstance(k, str) or not k:
            raise einval("property keys must be non-empty strings, not %r" % (k,))
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, (int, float, str)):
            v = str(v)
        else:
            raise einval("property '%s' must be a string, number or boolean, not %r" % (k, v))
        props[k] = v
    return props


def _check_kwargs(method, kwargs, allowed=()):
    """Refuses what this method does not take: a pymilvus feature libvdb lacks is an
    UnsupportedError (unless it is set to None / False / empty, i.e. off), anything else a
    TypeError, as Python does for an unknown keyword argument."""
    refused = _REFUSED.get(method, {})
    for k, v in kwargs.items():
        if k in allowed:
            continue
        if k in refused:
            if v is None or v is False or (is_seq(v) and len(v) == 0) or v == {} or v == "" \
                    or (k == "replica_number" and v == 1):
                continue
            raise _unsupported("%s(%s=...): libvdb has no %s" % (method, k, refused[k]))
        raise TypeError("%s() got an unexpected keyword argument %r" % (method, k))


def _index_name(index_name):
    """An index_name as given (None or "": the field's name); the library checks its form."""
    if index_name is None or index_name == "":
        return None
    if not isinstance(index_name, str):
        raise einval("index_name must be a string, not %r" % (index_name,))
    return index_name


def _level(v):
    key = v.lower() if isinstance(v, str) else v
    if isinstance(key, bool) or (not isinstance(key, str) and not isinstance(key,
                                                                            numbers.Integral)):
        key = None
    elif not isinstance(key, str):
        key = int(key)
    if key not in _LEVELS:
        raise einval("unknown consistency level %r (Strong, Session, Bounded, Eventually)"
                     % (v,))
    return _LEVELS[key]


def _order_by(spec):
    """order_by_fields as [(field, desc)]: a name, "name asc|desc", {"field", "order"}, or a
    list of those."""
    if spec is None:
        return None
    if isinstance(spec, (str, dict)):
        spec = [spec]
    if not isinstance(spec, (list, tuple)):
        raise einval("order_by_fields must be a field name, a dict or a list of them")
    out = []
    for item in spec:
        if isinstance(item, dict):
            unknown = set(item) - {"field", "field_name", "order", "direction"}
            if unknown:
                raise einval("order_by_fields: unknown key(s) %s" % sorted(unknown))
            name = item.get("field", item.get("field_name"))
            order = item.get("order", item.get("direction", "asc"))
        elif isinstance(item, str):
            parts = item.replace(":", " ").split()
            name, order = (parts + ["asc"])[:2] if len(parts) in (1, 2) else (None, None)
        else:
            name = order = None
        if not isinstance(name, str) or not name or not isinstance(order, str) or \
                order.lower() not in ("asc", "desc"):
            raise einval("order_by_fields: %r is not a field with order asc or desc" % (item,))
        out.append((name, order.lower() == "desc"))
    return out


def _positive_int(name, v, minimum=1):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
        raise einval("%s must be an integer >= %d, not %r" % (name, minimum, v))
    return int(v)


class _Read:
    """Where a read stands: partitions, consistency level, staleness, time travel."""

    def __init__(self, partitions, consistency, staleness_ms, travel_ts):
        if isinstance(partitions, str):
            partitions = [partitions]
        if partitions is not None:
            partitions = list(partitions)
            for p in partitions:
                if not isinstance(p, str):
                    raise einval("partition_names must be strings, not %r" % (p,))
        self.partitions = partitions or None
        self.consistency = consistency
        self.staleness_ms = None if staleness_ms is None else _positive_int("staleness_ms",
                                                                            staleness_ms, 0)
        self.travel_ts = None if not travel_timestamp_ok(travel_ts) else int(travel_ts)


def travel_timestamp_ok(ts):
    if ts is None or ts == 0:
        return False
    if isinstance(ts, bool) or not isinstance(ts, numbers.Integral) or ts < 0:
        raise einval("travel_timestamp must be a timestamp from insert/now(), not %r" % (ts,))
    return True


def _check_timeout(t):
    if t is not None and (isinstance(t, bool) or not isinstance(t, numbers.Real) or t <= 0):
        raise einval("timeout must be a positive number of seconds, not %r" % (t,))
    return t


def _api(fn):
    """Runs a method while the client is open (close() waits for calls running), with the
    call's timeout (its timeout argument, else the client's) for the transport."""
    sig = inspect.signature(fn)
    takes_timeout = "timeout" in sig.parameters

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        timeout = None
        if takes_timeout:
            try:
                timeout = sig.bind_partial(self, *args, **kwargs).arguments.get("timeout")
            except TypeError:
                pass  # the call itself raises it, as Python words it
            _check_timeout(timeout)
        with self._cv:
            t = self._t
            if t is None:
                raise einval("the client is closed")
            self._active += 1
        t.call_timeout(timeout)
        try:
            return fn(self, *args, **kwargs)
        finally:
            t.call_timeout(None)
            with self._cv:
                self._active -= 1
                if not self._active:
                    self._cv.notify_all()

    return wrapper


def _not_in_libvdb(name, what):
    def method(self, *args, **kwargs):
        raise _unsupported("%s: libvdb has no %s" % (name, what))

    method.__name__ = name
    method.__doc__ = "Not in libvdb (%s): raises UnsupportedError." % what
    return method


class MilvusClient:
    """A libvdb database, used like pymilvus's MilvusClient.

    uri: a folder ("./my.db": opened in this process through libvdb.so; created if missing),
    or "http://host:port" / "https://host:port" for vdb-server (its REST API; port 19530 if
    none). token (or user and password, or user:password@ in the uri) is sent as the bearer
    token; db_name is the client's database (default "default"; use_database changes it: the
    collections and aliases of every call are that database's); timeout is the
    default for each call in seconds (remote: the socket timeout; embedded calls run in this
    process and are not interrupted: it bounds only the waits for index builds).

    Embedded options (None keeps the library default, see vdb_options in vdb.h): sync ("full",
    "batch", "off"), sync_interval_ms, segment_max_rows, segment_max_bytes, retention_seconds,
    compaction_interval_ms, compaction_min_segments, log_uri, meta_uri, object_uri,
    disable_io_uring, index_build_workers, index_build_threads, search_threads,
    segment_idle_seal_ms, mmap (True: sealed vector columns memory-mapped from a local cache
    folder), mmap_cache_dir, mmap_cache_bytes, memory_budget_bytes, tick_interval_ms,
    read_only (True: a reader process following the folder's writer; writes raise
    ReadOnlyError), read_only_refresh_ms, read_only_strong_timeout_ms.
    Remote options: secure (TLS with an http:// uri), server_pem_path or ca_pem_path (the CA to
    trust), client_pem_path and client_key_path (a client certificate), server_name (the name
    the certificate must carry).

    One client may be used from many threads. See python/README.md.
    """

    def __init__(self, uri="./libvdb.db", user="", password="", db_name="", token="",
                 timeout=None, **kwargs):
        from ._embedded import OPTION_NAMES, EmbeddedTransport
        from ._remote import REMOTE_OPTIONS, RemoteTransport, is_remote_uri
        self._t = None
        self._cv = threading.Condition()
        self._active = 0
        self._infos = {}
        self._levels = {}  # collection -> its default consistency level (see create_collection)
        self._mode_closed = None
        self.uri = str(uri)
        self.timeout = _check_timeout(timeout)
        for k in kwargs:
            if k not in OPTION_NAMES and k not in REMOTE_OPTIONS:
                raise TypeError("MilvusClient() got an unexpected keyword argument %r" % k)
        if is_remote_uri(self.uri):
            bad = [k for k in kwargs if k in OPTION_NAMES and kwargs[k] is not None]
            if bad:
                raise einval("%s: options of an embedded database (a folder uri); vdb-server "
                             "takes them as its own flags" % ", ".join(bad))
            self._t = RemoteTransport(self.uri, token, user, password, db_name, timeout,
                                      kwargs, on_collection_gone=self._forget)
        else:
            bad = [k for k in kwargs if k in REMOTE_OPTIONS and kwargs[k]]
            if token or user or password or bad:
                raise einval("%s: a local folder has no server to authenticate to or reach "
                             "over TLS (they are for an http:// or https:// uri)"
                             % ", ".join((["token"] if token else []) + (["user"] if user else [])
                                         + (["password"] if password else []) + bad))
            self._t = EmbeddedTransport(self.uri, {k: v for k, v in kwargs.items()
                                                   if k in OPTION_NAMES})
            if db_name not in ("", None, "default"):
                try:
                    self.use_database(db_name)
                except BaseException:
                    self.close()
                    raise

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def mode(self):
        """"embedded" or "remote"."""
        return self._t.mode if self._t is not None else self._mode_closed

    def close(self):
        """Closes the database or the connections (waits for calls running in other
        threads). Idempotent."""
        with self._cv:
            t = self._t
            if t is None:
                return
            self._mode_closed = t.mode
            self._t = None  # new calls are refused from here
            while self._active:
                self._cv.wait()
        t.close()

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
        return self._t is None

    def __repr__(self):
        return "<libvdb.MilvusClient %r%s>" % (self.uri, " closed" if self.closed else "")

    # ---- plumbing ---------------------------------------------------------------------------

    def _forget(self, name):
        self._infos.pop(name, None)

    def _info(self, name, refresh=False):
        if not isinstance(name, str) or not name:
            raise einval("collection_name must be a non-empty string, not %r" % (name,))
        info = None if refresh else self._infos.get(name)
        if info is None:
            info = self._t.describe(name)
            self._infos[name] = info
        return info

    def _read(self, collection_name, partition_names, kwargs):
        level = kwargs.get("consistency_level")
        if level is not None and kwargs.get("travel_timestamp"):
            raise einval("travel_timestamp reads as of that moment: it takes no "
                         "consistency_level")
        level = _level(level) if level is not None else self._levels.get(collection_name)
        if kwargs.get("staleness_ms") is not None and level != "Bounded":
            raise einval("staleness_ms is for consistency_level='Bounded', not %s" % level)
        return _Read(partition_names, level, kwargs.get("staleness_ms"),
                     kwargs.get("travel_timestamp"))

    def _filter(self, expr, kwargs):
        if expr is not None and not isinstance(expr, str):
            raise einval("filter must be a string, not %s" % type(expr).__name__)
        return _template.fill(expr, kwargs.get("filter_params"))

    def _pk_values(self, info, ids):
        if isinstance(ids, (str, bytes, numbers.Integral)):
            ids = [ids]
        elif np is not None and isinstance(ids, np.ndarray):
            ids = ids.tolist()
        ids = list(ids)
        if info.pk.dtype == DataType.VARCHAR:
            for v in ids:
                if not isinstance(v, str):
                    raise einval("primary key '%s' is a string; got %r" % (info.pk.name, v))
            return ids
        out = []
        for v in ids:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise einval("primary key '%s' is an integer; got %r" % (info.pk.name, v))
            out.append(int(v))
        return out

    # ---- collections ----------------------------------------------------------------------

    @staticmethod
    def create_schema(**kwargs):
        """A new Schema (pymilvus's MilvusClient.create_schema)."""
        return Schema(**kwargs)

    @staticmethod
    def prepare_index_params(field_name="", **kwargs):
        """A new IndexParams (pymilvus's MilvusClient.prepare_index_params)."""
        p = IndexParams()
        if field_name:
            p.add_index(field_name, **kwargs)
        return p

    @_api
    def create_collection(self, collection_name, dimension=None, primary_field_name="id",
                          id_type="int", vector_field_name="vector", metric_type="COSINE",
                          auto_id=False, timeout=None, schema=None, index_params=None,
                          **kwargs):
        """Creates a collection.

        Quick setup (no schema): an INT64 (id_type="int") or VARCHAR (id_type="string",
        max_length) primary key primary_field_name, a FLOAT_VECTOR vector_field_name of
        `dimension` with metric_type and an AUTOINDEX on it, dynamic fields on unless
        enable_dynamic_field=False. Full form: schema=client.create_schema(...) and optionally
        index_params (built with the collection: all or nothing). A vector field without a
        metric takes its index's, else metric_type.

        kwargs: max_length, enable_dynamic_field, num_shards (or shards_num), description,
        consistency_level (the default level of this collection's reads by this client:
        libvdb does not store it, so a new client reads at Strong unless told), properties
        (collection properties, set with the create in one transaction and checked as
        alter_collection_properties checks them), partition_key_field (marks that schema field the
        partition key) and num_partitions (the hashed partitions of a collection with a
        partition key: 1..1024, default 16).
        """
        _check_kwargs("create_collection", kwargs, ("max_length", "enable_dynamic_field",
                                                    "num_shards", "shards_num", "description",
                                                    "consistency_level", "properties",
                                                    "num_partitions", "partition_key_field"))
        if not isinstance(collection_name, str) or not collection_name:
            raise einval("collection_name must be a non-empty string")
        properties = kwargs.get("properties")
        if properties:
            properties = _property_strings(properties)
        if "num_shards" in kwargs and "shards_num" in kwargs:
            raise einval("give num_shards or shards_num, not both")
        num_shards = kwargs.get("num_shards", kwargs.get("shards_num"))
        level = kwargs.get("consistency_level")
        level = _level(level) if level is not None else None
        indexes = []
        if schema is None:
            if index_params is not None:
                raise einval("index_params need a schema (the quick setup indexes its vector "
                             "field with an AUTOINDEX)")
            if isinstance(dimension, bool) or not isinstance(dimension, numbers.Integral):
                raise einval("create_collection needs a dimension (an int) or a schema, not %r"
                             % (dimension,))
            key = id_type.lower() if isinstance(id_type, str) else to_datatype(id_type)
            if key in ("int", "int64", DataType.INT64):
                pk = dict(datatype=DataType.INT64)
                if "max_length" in kwargs:
                    raise einval("max_length is for a string primary key (id_type='string')")
            elif key in ("str", "string", "varchar", DataType.VARCHAR):
                pk = dict(datatype=DataType.VARCHAR, max_length=kwargs.get("max_length", 65535))
            else:
                raise einval("id_type must be 'int' or 'string', not %r" % (id_type,))
            schema = Schema(enable_dynamic_field=kwargs.get("enable_dynamic_field", True),
                            description=kwargs.get("description", ""))
            schema.add_field(primary_field_name, is_primary=True, auto_id=auto_id, **pk)
            schema.add_field(vector_field_name, DataType.FLOAT_VECTOR, dim=int(dimension),
                             metric_type=metric_type)
            indexes.append({"field_name": vector_field_name, "index_type": "AUTOINDEX",
                            "metric_type": to_metric(metric_type), "params": {}})
        else:
            if not isinstance(schema, Schema):
                raise einval("schema must be a Schema (client.create_schema()), not %s"
                             % type(schema).__name__)
            for k in ("max_length", "enable_dynamic_field"):
                if k in kwargs:
                    raise einval("%s is for the quick setup; with a schema, set it there" % k)
            if dimension is not None:
                raise einval("give a dimension (quick setup) or a schema, not both")
            for k, v, dflt in (("primary_field_name", primary_field_name, "id"),
                               ("id_type", id_type, "int"),
                               ("vector_field_name", vector_field_name, "vector"),
                               ("auto_id", auto_id, False)):
                if v != dflt:
                    raise einval("%s is for the quick setup; with a schema, say it there" % k)
            if index_params is not None:
                if not isinstance(index_params, IndexParams):
                    raise einval("index_params must be an IndexParams "
                                 "(client.prepare_index_params())")
                indexes = [self._index_entry(schema_fields={f.name: f for f in schema.fields},
                                             idx=idx) for idx in index_params]
        fields = list(schema.fields)
        pkf = kwargs.get("partition_key_field")
        if pkf is not None:
            named = [i for i, f in enumerate(fields) if f.name == pkf]
            if not named:
                raise einval("partition_key_field '%s' is not a field of the schema" % (pkf,))
            import copy
            fields[named[0]] = copy.copy(fields[named[0]])
            fields[named[0]].is_partition_key = True
        num_partitions = kwargs.get("num_partitions")
        if num_partitions is not None:
            num_partitions = _positive_int("num_partitions", num_partitions)
        if sum(1 for f in fields if f.is_primary) != 1:
            raise einval("collection '%s': the schema needs exactly one primary key field"
                         % collection_name)
        metrics = {i["field_name"]: i["metric_type"] for i in indexes if i["metric_type"]}
        default_metric = to_metric(metric_type)
        for i, f in enumerate(fields):
            if f.dtype in DENSE_VECTOR_TYPES:
                m = f.metric_type or metrics.get(f.name) or (
                    MetricType.HAMMING if f.dtype == DataType.BINARY_VECTOR else default_metric)
                if metrics.get(f.name) and metrics[f.name] != m:
                    raise einval("field '%s' is %s; its index asks for %s"
                                 % (f.name, m.name, metrics[f.name].name))
                fields[i] = _with_metric(f, m)
        shards = schema.num_shards if schema.num_shards is not None else num_shards
        if shards is not None:
            shards = _positive_int("num_shards", shards)
        self._forget(collection_name)
        extra = {"properties": properties} if properties else {}
        self._t.create_collection(collection_name, fields, schema.enable_dynamic_field, shards,
                                  kwargs.get("description") or schema.description, indexes,
                                  num_partitions, functions=list(schema.functions), **extra)
        if level is not None:
            self._levels[collection_name] = level
        else:
            self._levels.pop(collection_name, None)

    @staticmethod
    def _index_entry(schema_fields, idx):
        """One add_index entry checked: its field, name, type, metric, params."""
        field = idx["field_name"]
        if not field or (schema_fields is not None and field not in schema_fields):
            raise NotFoundError(Status.ENOTFOUND, "index on '%s': no such field" % (field,))
        params = dict(idx.get("params") or {})
        return {"field_name": field, "index_name": _index_name(idx.get("index_name")),
                "index_type": str(idx.get("index_type") or "AUTOINDEX"),
                "metric_type": to_metric(idx.get("metric_type")), "params": params}

    @_api
    def drop_collection(self, collection_name, timeout=None, **kwargs):
        """Drops the collection; one that does not exist is no error (as in Milvus)."""
        _check_kwargs("drop_collection", kwargs)
        if not isinstance(collection_name, str) or not collection_name:
            raise einval("collection_name must be a non-empty string")
        self._forget(collection_name)
        self._t.drop_collection(collection_name)
        self._forget(collection_name)
        self._levels.pop(collection_name, None)

    @_api
    def has_collection(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("has_collection", kwargs)
        return self._t.has_collection(collection_name)

    @_api
    def list_collections(self, timeout=None, **kwargs):
        _check_kwargs("list_collections", kwargs)
        return self._t.list_collections()

    @_api
    def describe_collection(self, collection_name, timeout=None, **kwargs):
        """A dict like pymilvus's: collection_name, auto_id, num_shards, description, fields
        (field_id, name, description, type, params {dim, max_length, max_capacity, metric_type},
        element_type, is_primary, auto_id, nullable, default_value), num_partitions,
        enable_dynamic_field, consistency_level, aliases, properties."""
        _check_kwargs("describe_collection", kwargs)
        info = self._info(collection_name, refresh=True)
        fields = []
        for i, f in enumerate(info.fields):
            d = f.to_dict()
            d["field_id"] = 100 + i
            d.setdefault("element_type", DataType.NONE)
            fields.append(d)
        return {
            "collection_name": info.name,  # the collection's own name, when asked by an alias
            "auto_id": info.pk.auto_id,
            "num_shards": info.num_shards,
            "description": "",  # neither the C API nor vdb-server gives it back
            "fields": fields,
            "aliases": self._t.list_aliases(info.name),
            "consistency_level": _LEVEL_NUMBERS[self._levels.get(collection_name, "Strong")],
            "properties": self._t.properties(info.name),
            "num_partitions": len(self._t.list_partitions(collection_name)),
            "enable_dynamic_field": info.dynamic,
        }

    # ---- aliases, rename, truncate ----------------------------------------------------------

    def _name_arg(self, what, v):
        if not isinstance(v, str) or not v:
            raise einval("%s must be a non-empty string, not %r" % (what, v))

    @_api
    def create_alias(self, collection_name, alias, timeout=None, **kwargs):
        """Another name of the collection: every call takes it (drop_collection refuses it).
        The same alias for the same collection again is no error; for another collection it
        is an AlreadyExistsError (alter_alias moves an alias)."""
        _check_kwargs("create_alias", kwargs)
        self._name_arg("collection_name", collection_name)
        self._name_arg("alias", alias)
        self._forget(alias)
        self._t.alias("create", collection_name, alias)

    @_api
    def alter_alias(self, collection_name, alias, timeout=None, **kwargs):
        """Moves an existing alias to collection_name, in one step: a call through the alias
        sees one collection or the other."""
        _check_kwargs("alter_alias", kwargs)
        self._name_arg("collection_name", collection_name)
        self._name_arg("alias", alias)
        self._forget(alias)
        self._t.alias("alter", collection_name, alias)
        self._forget(alias)

    @_api
    def drop_alias(self, alias, timeout=None, **kwargs):
        """NotFoundError if there is no such alias."""
        _check_kwargs("drop_alias", kwargs)
        self._name_arg("alias", alias)
        self._forget(alias)
        self._t.alias("drop", None, alias)

    @_api
    def describe_alias(self, alias, timeout=None, **kwargs):
        """{"alias", "collection_name", "db_name"} as pymilvus."""
        _check_kwargs("describe_alias", kwargs)
        self._name_arg("alias", alias)
        return {"alias": alias, "collection_name": self._t.describe_alias(alias),
                "db_name": self.db_name}

    @_api
    def list_aliases(self, collection_name="", timeout=None, **kwargs):
        """{"aliases": [...], "collection_name", "db_name"} as pymilvus: the aliases of
        collection_name, or of every collection when it is empty."""
        _check_kwargs("list_aliases", kwargs)
        if not isinstance(collection_name, str):
            raise einval("collection_name must be a string, not %r" % (collection_name,))
        return {"aliases": self._t.list_aliases(collection_name),
                "collection_name": collection_name, "db_name": self.db_name}

    @_api
    def rename_collection(self, old_name, new_name, target_db="", timeout=None, **kwargs):
        """Renames a collection (not through an alias); its aliases follow it. target_db
        moves it to that database (it must have no aliases then)."""
        _check_kwargs("rename_collection", kwargs)
        self._name_arg("old_name", old_name)
        self._name_arg("new_name", new_name)
        self._forget(old_name)
        self._forget(new_name)
        self._t.rename_collection(old_name, new_name, target_db or None)
        self._forget(old_name)
        if old_name in self._levels:
            self._levels[new_name] = self._levels.pop(old_name)

    @_api
    def truncate_collection(self, collection_name, timeout=None, **kwargs):
        """Removes every row (Milvus 2.6): the schema, partitions, indexes and aliases stay."""
        _check_kwargs("truncate_collection", kwargs)
        self._name_arg("collection_name", collection_name)
        self._t.truncate_collection(collection_name)

    @_api
    def alter_collection_properties(self, collection_name, properties, timeout=None,
                                    **kwargs):
        """Sets collection properties (a dict; values as strings, numbers or booleans):
        "collection.ttl.seconds" (rows older than it are not seen and compaction drops them)
        is honoured; "mmap.enabled" and other keys are refused (VdbError, unsupported)."""
        _check_kwargs("alter_collection_properties", kwargs)
        self._name_arg("collection_name", collection_name)
        self._t.alter_properties(collection_name, _property_strings(properties))

    @_api
    def add_collection_field(self, collection_name, field_name, data_type, desc="",
                             timeout=None, **kwargs):
        """Adds a scalar field to an existing collection (Milvus 2.6). As in Milvus it must
        be nullable (nullable=True; a default_value besides is allowed): rows written before
        read it as the default, else None; new rows may carry it. kwargs: nullable,
        default_value, max_length (VARCHAR), element_type and max_capacity (ARRAY); vector
        fields, primary keys and partition keys are refused (VdbError, invalid)."""
        _check_kwargs("add_collection_field", kwargs,
                      ("nullable", "default_value", "max_length", "element_type",
                       "max_capacity", "is_primary", "auto_id", "is_partition_key", "dim",
                       "description"))
        self._name_arg("collection_name", collection_name)
        if not isinstance(field_name, str) or not field_name:
            raise einval("field_name must be a non-empty string, not %r" % (field_name,))
        if "description" in kwargs:
            desc = kwargs.pop("description") or desc
        field = FieldSchema(field_name, data_type, description=desc, **kwargs)
        self._t.add_field(collection_name, field)
        self._infos.clear()  # the schema of the collection (by any of its names) changed

    @_api
    def drop_collection_properties(self, collection_name, property_keys, timeout=None,
                                   **kwargs):
        """Removes the listed properties (a key not set is no error)."""
        _check_kwargs("drop_collection_properties", kwargs)
        self._name_arg("collection_name", collection_name)
        if isinstance(property_keys, str) or not property_keys or \
                not all(isinstance(k, str) and k for k in property_keys):
            raise einval("property_keys must be a non-empty list of strings, not %r"
                         % (property_keys,))
        self._t.drop_properties(collection_name, list(property_keys))

    @_api
    def get_collection_stats(self, collection_name, timeout=None, **kwargs):
        """{"row_count": visible rows}; embedded also segments, deletes and index figures
        (vdb_stats)."""
        _check_kwargs("get_collection_stats", kwargs)
        return self._t.stats(collection_name)

    def _require(self, collection_name, partition_names=()):
        if not self._t.has_collection(collection_name):
            raise NotFoundError(Status.ENOTFOUND, "collection '%s' not found" % collection_name)
        if partition_names:
            have = self._t.list_partitions(collection_name)
            for p in [partition_names] if isinstance(partition_names, str) else partition_names:
                if p not in have:
                    raise NotFoundError(Status.ENOTFOUND, "partition '%s' not found in '%s'"
                                        % (p, collection_name))

    @_api
    def load_collection(self, collection_name, timeout=None, **kwargs):
        """Nothing to do: every collection is always loaded. Checks that it exists."""
        _check_kwargs("load", kwargs, ("refresh", "_refresh"))  # loaded already: refreshed
        self._require(collection_name)

    @_api
    def release_collection(self, collection_name, timeout=None, **kwargs):
        """Nothing to do (collections are always loaded). Checks that it exists."""
        _check_kwargs("release_collection", kwargs)
        self._require(collection_name)

    @_api
    def refresh_load(self, collection_name, timeout=None, **kwargs):
        """Nothing to do (collections are always loaded). Checks that it exists."""
        _check_kwargs("refresh_load", kwargs)
        self._require(collection_name)

    @_api
    def get_load_state(self, collection_name, partition_name="", timeout=None, **kwargs):
        """{"state": LoadState.Loaded}: libvdb keeps every collection loaded (NotFoundError for
        a collection or partition that does not exist)."""
        _check_kwargs("get_load_state", kwargs)
        self._require(collection_name, [partition_name] if partition_name else ())
        return {"state": LoadState.Loaded}

    # ---- partitions -------------------------------------------------------------------------

    @_api
    def create_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        _check_kwargs("create_partition", kwargs)
        self._t.create_partition(collection_name, partition_name)

    @_api
    def drop_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        _check_kwargs("drop_partition", kwargs)
        self._t.drop_partition(collection_name, partition_name)

    @_api
    def list_partitions(self, collection_name, timeout=None, **kwargs):
        _check_kwargs("list_partitions", kwargs)
        return self._t.list_partitions(collection_name)

    @_api
    def has_partition(self, collection_name, partition_name, timeout=None, **kwargs):
        _check_kwargs("has_partition", kwargs)
        return partition_name in self._t.list_partitions(collection_name)

    @_api
    def get_partition_stats(self, collection_name, partition_name, timeout=None, **kwargs):
        """{"row_count": visible rows of the partition}."""
        _check_kwargs("get_partition_stats", kwargs)
        self._require(collection_name, [partition_name])
        return {"row_count": self._t.partition_rows(collection_name, partition_name)}

    @_api
    def load_partitions(self, collection_name, partition_names, timeout=None, **kwargs):
        """Nothing to do (always loaded). Checks that they exist."""
        _check_kwargs("load", kwargs, ("refresh",))
        self._require(collection_name, partition_names)

    @_api
    def release_partitions(self, collection_name, partition_names, timeout=None, **kwargs):
        """Nothing to do (always loaded). Checks that they exist."""
        _check_kwargs("release_partitions", kwargs)
        self._require(collection_name, partition_names)

    # ---- writes ---------------------------------------------------------------------------

    def _write(self, method, collection_name, data, partition_name, kwargs):
        _check_kwargs(method, kwargs)
        upsert = method == "upsert"
        info = self._info(collection_name)
        n, cols, metas = to_columns(info, data)
        if n == 0:
            return 0, [], 0 if self._t.has_timestamps else None
        check_writable(info, cols, upsert)
        ids, ts = self._t.write(collection_name, partition_name or None, info, n, cols, metas,
                                upsert)
        return n, ids, ts

    @_api
    def insert(self, collection_name, data, timeout=None, partition_name=None, **kwargs):
        """Inserts rows (a list of dicts, or one dict) or columns (a dict of lists whose vector
        field holds a list of vectors or a 2-D array). Keys not in the schema go to dynamic
        fields. Returns {"insert_count", "ids"} (embedded also "timestamp"); durable and
        visible on return."""
        n, ids, ts = self._write("insert", collection_name, data, partition_name, kwargs)
        out = {"insert_count": n, "ids": ids}
        if ts is not None:
            out["timestamp"] = ts
        return out

    @_api
    def upsert(self, collection_name, data, timeout=None, partition_name=None, **kwargs):
        """Like insert, replacing rows with the same primary keys (in any partition).
        Returns {"upsert_count", "ids"} (embedded also "timestamp")."""
        n, ids, ts = self._write("upsert", collection_name, data, partition_name, kwargs)
        out = {"upsert_count": n, "ids": ids}
        if ts is not None:
            out["timestamp"] = ts
        return out

    @_api
    def delete(self, collection_name, ids=None, timeout=None, filter=None, partition_name=None,
               **kwargs):
        """Deletes by primary keys (ids; pks is the old name) or by a boolean expression
        (filter, with filter_params), not both. Returns {"delete_count"} (embedded also
        "timestamp"): with ids, the number of keys given (keys that match nothing are not an
        error, as in Milvus); with a filter, the rows matched."""
        _check_kwargs("delete", kwargs, ("filter_params", "pks"))
        if kwargs.get("pks") is not None:
            if ids is not None:
                raise einval("delete takes ids or pks, not both")
            ids = kwargs["pks"]
        expr = self._filter(filter, kwargs)
        if ids is not None and expr:
            raise einval("delete takes ids or a filter, not both")
        info = self._info(collection_name)
        if ids is not None:
            keys = self._pk_values(info, ids)
            if not keys:
                n, ts = 0, 0 if self._t.has_timestamps else None
            else:
                n, ts = self._t.delete(collection_name, partition_name or None, info, ids=keys)
        elif expr:
            n, ts = self._t.delete(collection_name, partition_name or None, info, filter=expr)
        else:
            raise einval("delete needs ids or a filter")
        out = {"delete_count": n}
        if ts is not None:
            out["timestamp"] = ts
        return out

    @_api
    def flush(self, collection_name=None, timeout=None, **kwargs):
        """Seals the growing segments of the collection (None: of every collection)."""
        _check_kwargs("flush", kwargs)
        self._t.flush(collection_name)

    @_api
    def compact(self, collection_name=None, is_clustering=False, is_l0=False, timeout=None,
                **kwargs):
        """Runs a compaction pass now (None: every collection); returns its job id, 0: it is
        done when this returns (get_compaction_state says "Completed")."""
        _check_kwargs("compact", dict(kwargs, is_clustering=is_clustering, is_l0=is_l0))
        self._t.compact(collection_name)
        return 0

    @_api
    def get_compaction_state(self, job_id, timeout=None, **kwargs):
        """"Completed": compact() returns when its work is done."""
        _check_kwargs("get_compaction_state", kwargs)
        return "Completed"

    @_api
    def now(self):
        """A fresh timestamp: pass it later as travel_timestamp to read as of this moment
        (embedded only)."""
        return self._t.now()

    # ---- reads ----------------------------------------------------------------------------

    @_api
    def get(self, collection_name, ids, output_fields=None, timeout=None, partition_names=None,
            **kwargs):
        """The rows with these primary keys (one key or a list), in that order, missing keys
        skipped. Every field when output_fields is None or empty (dynamic keys flattened in).
        kwargs: consistency_level, travel_timestamp and staleness_ms (embedded)."""
        _check_kwargs("get", kwargs, ("consistency_level", "travel_timestamp",
                                      "staleness_ms"))
        info = self._info(collection_name)
        keys = self._pk_values(info, ids)
        plan = output_plan(info, output_fields, True)
        read = self._read(collection_name, partition_names, kwargs)
        if not keys:
            return []
        return self._t.get(collection_name, info, keys, plan, read)

    @_api
    def query(self, collection_name, filter="", output_fields=None, timeout=None, ids=None,
              partition_names=None, limit=None, offset=None, **kwargs):
        """The rows that pass filter (Milvus's expression language; filter_params fills its
        {name} templates), after offset, at most limit (a limit is needed without a filter;
        limit + offset at most 16384, as Milvus). output_fields=["count(*)"] gives
        [{"count(*)": n}]. Every field when output_fields is None or empty. ids=[...]
        instead of a filter reads those keys (as get). kwargs: consistency_level,
        filter_params, travel_timestamp and staleness_ms (embedded), order_by_fields (as
        Milvus 3.0: [{"field": "price", "order": "desc"}, ...], also "price" or
        ["price desc", "id"]; scalar fields; NULLs last; ties by primary key)."""
        _check_kwargs("query", kwargs, ("consistency_level", "filter_params",
                                        "travel_timestamp", "staleness_ms", "order_by_fields"))
        order_by = _order_by(kwargs.get("order_by_fields"))
        info = self._info(collection_name)
        expr = self._filter(filter, kwargs)
        offset = 0 if offset is None else _positive_int("offset", offset, 0)
        if limit is not None:
            limit = _positive_int("limit", limit, 0)
            if limit + offset > MAX_TOPK:
                raise einval("limit + offset must be at most %d (as Milvus), not %d"
                             % (MAX_TOPK, limit + offset))
        if isinstance(output_fields, str):
            output_fields = [output_fields]
        read = self._read(collection_name, partition_names, kwargs)
        if output_fields is not None and \
                [f.replace(" ", "").lower() for f in output_fields] == ["count(*)"]:
            if ids is not None:
                raise einval("count(*) takes a filter, not ids")
            return [{"count(*)": self._t.count(collection_name, expr or None, read)}]
        plan = output_plan(info, output_fields, True)
        if ids is not None:
            if expr:
                raise einval("query takes ids or a filter, not both")
            keys = self._pk_values(info, ids)
            rows = self._t.get(collection_name, info, keys, plan, read) if keys else []
            rows = rows[offset:]
            return rows[:limit] if limit else rows
        if order_by:
            if ids is not None:
                raise einval("order_by_fields takes a filter, not ids")
            if not getattr(self._t, "query_order_by", False):
                raise _unsupported("order_by_fields: this client cannot send it")
            return self._t.query(collection_name, info, expr or None, limit, offset, plan, read,
                                 order_by)
        return self._t.query(collection_name, info, expr or None, limit, offset, plan, read)

    @_api
    def search(self, collection_name, data=None, filter="", limit=10, output_fields=None,
               search_params=None, timeout=None, partition_names=None, anns_field=None,
               **kwargs):
        """The `limit` nearest rows to each query vector, nearest first, after skipping
        `offset` of them.

        data: one vector, a list of vectors, or a 1-D/2-D numpy array. Returns one list per
        query of hits {"id": pk, "distance": d, "entity": {output fields}} -- distance is the
        squared L2 distance (smaller is nearer) or the IP/COSINE similarity (larger is nearer).
        search_params: {"metric_type": ..., "params": {...}} as in pymilvus; a metric_type
        other than the field's is an error; params go to the index (ef, nprobe, radius,
        range_filter). output_fields None: no fields (entity is {}); ["*"]: every field.
        kwargs: offset (or search_params["offset"]; limit + offset at most 16384: the client
        asks for limit + offset hits and skips offset), round_decimal (-1, or 0..6 decimals of
        the distance), consistency_level, filter_params, travel_timestamp and staleness_ms
        (embedded). Grouping, rerankers and the rest of pymilvus's search options are refused.
        """
        _check_kwargs("search", kwargs, ("offset", "round_decimal", "consistency_level",
                                         "filter_params", "travel_timestamp", "staleness_ms",
                                         "group_by_field", "group_size", "strict_group_size",
                                         "ids"))
        ids = kwargs.get("ids")
        if data is None and ids is None:
            raise einval("search needs data (query vectors) or ids")
        if data is not None and ids is not None:
            raise einval("search takes data (query vectors) or ids, not both")
        info = self._info(collection_name)
        vf = info.vector_field(anns_field)
        pks = None
        if ids is not None:  # search by primary key: the rows' stored vectors are the queries
            pks = self._pk_values(info, ids)
            if not pks:
                raise einval("search needs at least one id")
            if not self._t.search_by_pks:
                data = self._stored_vectors(collection_name, info, vf, pks, partition_names,
                                            kwargs)
        qv = None
        if data is not None:
            pks = None
            if isinstance(data, (list, tuple)) and data and isinstance(data[0], numbers.Real):
                data = [data]
            if vf.dtype == DataType.SPARSE_FLOAT_VECTOR and vf.metric_type == MetricType.BM25:
                if isinstance(data, str):
                    data = [data]
                if not all(isinstance(t, str) for t in data):
                    raise einval("field '%s' is the output of a BM25 function: search it with "
                                 "texts (data=[\"some words\"])" % vf.name)
                raw = [t.encode("utf-8") for t in data]
                arr = (ctypes.c_char_p * max(len(raw), 1))(*raw)
                qv = ("texts", (raw, arr), arr, len(raw))
            elif vf.dtype == DataType.SPARSE_FLOAT_VECTOR:
                keep, rows, nq = sparse_rows(data, "search data")
                qv = ("sparse", keep, rows, nq)
            elif vf.dtype == DataType.BINARY_VECTOR:
                qv = binary_queries(data, vf.dim, "search data")
            else:
                qv = vectors(query_floats(data, vf.dtype, vf.dim, "search data"),
                             "search data", vf.dim)
            if qv[3 if isinstance(qv[0], str) else 2] == 0:
                raise einval("search needs at least one query vector")
        limit = _positive_int("limit", limit)
        sp = dict(search_params or {})
        offset = kwargs.get("offset")
        if "offset" in sp:
            if offset is not None:
                raise einval("give offset in kwargs or in search_params, not both")
            offset = sp.pop("offset")
        offset = 0 if offset is None else _positive_int("offset", offset, 0)
        if limit + offset > MAX_TOPK:
            raise einval("limit + offset must be at most %d (as Milvus), not %d"
                         % (MAX_TOPK, limit + offset))
        rd = kwargs.get("round_decimal", -1)
        if isinstance(rd, bool) or not isinstance(rd, numbers.Integral) or not -1 <= rd <= 6:
            raise einval("round_decimal must be -1 (no rounding) or 0..6, not %r" % (rd,))
        group = _grouping(info, sp, kwargs)
        params = _ann_params(vf, sp, "search")
        plan = output_plan(info, output_fields, False)
        read = self._read(collection_name, partition_names, kwargs)
        expr = self._filter(filter, kwargs)
        res = self._t.search(collection_name, info, vf, qv, limit, offset, expr or None,
                             params, plan, read, group, pks)
        out = []
        for hits in res:
            page = []
            for pk, dist, ent in hits:
                page.append({"id": pk, "distance": round_decimal(dist, rd),
                             "entity": ent})
            out.append(page)
        return out

    @_api
    def query_iterator(self, collection_name, batch_size=1000, limit=-1, filter="",
                       output_fields=None, partition_names=None, timeout=None, **kwargs):
        """An iterator over the rows that pass filter, as pymilvus's: next() gives the next
        batch_size rows (a list of dicts, in primary-key order; [] at the end), close() ends
        it. Every batch reads the one snapshot taken when it was made (embedded: pinned in
        the library, so compaction keeps it however long the iteration runs). limit: rows in
        all (-1: no limit). kwargs: consistency_level, filter_params, travel_timestamp and
        staleness_ms (embedded). Remote: vdb-server's query_iterator calls, every batch at the
        first one's timestamp (inside the server's retention window)."""
        _check_kwargs("query", kwargs, ("consistency_level", "filter_params",
                                        "travel_timestamp", "staleness_ms"))
        if not hasattr(self._t, "query_iterator"):
            raise _unsupported("query_iterator: libvdb's remote client has no iterators "
                               "(page with query limit/offset, or use the embedded client)")
        info = self._info(collection_name)
        expr = self._filter(filter, kwargs)
        batch, limit = _iter_sizes(batch_size, limit)
        if isinstance(output_fields, str):
            output_fields = [output_fields]
        plan = output_plan(info, output_fields, True)
        read = self._read(collection_name, partition_names, kwargs)
        return self._t.query_iterator(collection_name, info, expr or None, batch, limit, plan,
                                      read)

    @_api
    def search_iterator(self, collection_name, data, batch_size=1000, filter=None, limit=-1,
                        output_fields=None, search_params=None, timeout=None,
                        partition_names=None, anns_field=None, round_decimal=-1, **kwargs):
        """An iterator over the hits of one query vector, nearest first, as pymilvus's:
        next() gives the next batch_size hits ({"id", "distance", "entity"}; [] at the end),
        none twice, close() ends it. Every batch reads the snapshot taken when it was made.
        search_params as search's (radius / range_filter bound the whole iteration). limit:
        hits in all (-1: no limit). kwargs: consistency_level, filter_params,
        travel_timestamp and staleness_ms (embedded). Remote: vdb-server's search_iterator
        calls, every batch at the first one's timestamp."""
        _check_kwargs("search", kwargs, ("consistency_level", "filter_params",
                                         "travel_timestamp", "staleness_ms"))
        if not hasattr(self._t, "search_iterator"):
            raise _unsupported("search_iterator: libvdb's remote client has no iterators "
                               "(page with search offset, or use the embedded client)")
        info = self._info(collection_name)
        vf = info.vector_field(anns_field)
        if isinstance(data, (list, tuple)) and data and isinstance(data[0], numbers.Real):
            data = [data]
        qv = binary_queries(data, vf.dim, "search_iterator data") \
            if vf.dtype == DataType.BINARY_VECTOR else vectors(data, "search_iterator data", vf.dim)
        if qv[2] != 1:
            raise einval("search_iterator takes one query vector, not %d" % qv[2])
        rd = round_decimal
        if isinstance(rd, bool) or not isinstance(rd, numbers.Integral) or not -1 <= rd <= 6:
            raise einval("round_decimal must be -1 (no rounding) or 0..6, not %r" % (rd,))
        batch, limit = _iter_sizes(batch_size, limit)
        sp = dict(search_params or {})
        params = _ann_params(vf, sp, "search_iterator")
        plan = output_plan(info, output_fields, False)
        read = self._read(collection_name, partition_names, kwargs)
        expr = self._filter(filter, kwargs)
        it = self._t.search_iterator(collection_name, info, vf, qv, batch, limit, expr or None,
                                     params, plan, read)
        return _SearchIterator(it, rd)

    def _stored_vectors(self, collection_name, info, vf, pks, partition_names, kwargs):
        """The vectors of field vf of rows pks, in their order (vdb-server: read by a get
        first, so at its own timestamp, not the search's)."""
        rows = self._t.get(collection_name, info, pks, output_plan(info, [vf.name], False),
                           self._read(collection_name, partition_names, kwargs))
        by_pk = {r[info.pk.name]: r[vf.name] for r in rows}
        for k in pks:
            if k not in by_pk:
                raise NotFoundError(Status.ENOTFOUND, "search ids: %r has no visible row in "
                                    "'%s'" % (k, collection_name))
        return [by_pk[k] for k in pks]

    @_api
    def hybrid_search(self, collection_name, reqs, ranker=None, limit=10, output_fields=None,
                      timeout=None, partition_names=None, **kwargs):
        """Several ANN requests (AnnSearchRequest: one per vector field, each with its own
        vectors, params, filter and limit) fused by ranker (RRFRanker, the default, or
        WeightedRanker), then `offset` fused hits skipped and `limit` returned per query, as
        pymilvus's hybrid_search. Hits are {"id", "distance": the fused score, "entity"}.
        kwargs: offset, round_decimal, consistency_level, travel_timestamp (embedded),
        group_by_field / group_size / strict_group_size (embedded: limit groups of the fused
        rows, each with its group_size best)."""
        _check_kwargs("search", kwargs, ("offset", "round_decimal", "consistency_level",
                                         "travel_timestamp", "staleness_ms", "group_by_field",
                                         "group_size", "strict_group_size"))
        if not isinstance(reqs, (list, tuple)) or not reqs:
            raise einval("hybrid_search needs a non-empty list of AnnSearchRequest")
        if ranker is None:
            ranker = RRFRanker()
        if not isinstance(ranker, (RRFRanker, WeightedRanker)):
            raise einval("hybrid_search: ranker must be RRFRanker or WeightedRanker, not %s"
                         % type(ranker).__name__)
        if isinstance(ranker, WeightedRanker) and len(ranker.weights) != len(reqs):
            raise einval("WeightedRanker has %d weights for %d requests: give one per request"
                         % (len(ranker.weights), len(reqs)))
        limit = _positive_int("limit", limit)
        offset = kwargs.get("offset")
        offset = 0 if offset is None else _positive_int("offset", offset, 0)
        if limit + offset > MAX_TOPK:
            raise einval("limit + offset must be at most %d (as Milvus), not %d"
                         % (MAX_TOPK, limit + offset))
        rd = kwargs.get("round_decimal", -1)
        if isinstance(rd, bool) or not isinstance(rd, numbers.Integral) or not -1 <= rd <= 6:
            raise einval("round_decimal must be -1 (no rounding) or 0..6, not %r" % (rd,))
        info = self._info(collection_name)
        subs, nq = [], None
        for i, r in enumerate(reqs):
            if not isinstance(r, AnnSearchRequest):
                raise einval("hybrid_search: request %d is not an AnnSearchRequest" % i)
            vf = info.vector_field(r.anns_field)
            data = r.data
            if isinstance(data, (list, tuple)) and data and isinstance(data[0], numbers.Real):
                data = [data]
            if vf.dtype == DataType.BINARY_VECTOR:
                qv = binary_queries(data, vf.dim, "request %d data" % i)
            else:
                qv = vectors(query_floats(data, vf.dtype, vf.dim, "request %d data" % i),
                             "request %d data" % i, vf.dim)
            if qv[2] == 0 or (nq is not None and qv[2] != nq):
                raise einval("hybrid_search: request %d has %d query vectors; every request "
                             "needs the same number, at least one" % (i, qv[2]))
            nq = qv[2]
            sp = dict(r.param)
            if "offset" in sp:
                raise einval("hybrid_search: offset applies to the fused hits: pass it to "
                             "hybrid_search, not in request %d's param" % i)
            params = _ann_params(vf, sp, "request %d" % i)
            expr = self._filter(r.expr, {"filter_params": r.expr_params})
            subs.append((vf, qv, r.limit, expr or None, params))
        group = _grouping(info, {}, kwargs)
        plan = output_plan(info, output_fields, False)
        read = self._read(collection_name, partition_names, kwargs)
        res = self._t.hybrid_search(collection_name, info, subs, ranker._spec(), limit, offset,
                                    plan, read, group)
        return [[{"id": pk, "distance": round_decimal(dist, rd), "entity": ent}
                 for pk, dist, ent in hits] for hits in res]

    # ---- indexes --------------------------------------------------------------------------

    def _wait_index(self, collection_name, field_name, timeout, progress):
        """Waits for the field's index builds, as pymilvus's create_index does. progress: a
        callable(done_rows, total_rows) called as they go (about 5 times a second; rows of
        the segments being built count as they are done), True for a bar on stderr, False for
        none; None draws the bar after a second when stderr is a terminal."""
        start = time.monotonic()
        if timeout is None:
            timeout = self.timeout
        deadline = None if timeout is None else start + float(timeout)
        tty = progress is True or (progress is None and hasattr(sys.stderr, "isatty") and
                                   sys.stderr.isatty())
        call = progress if callable(progress) else None
        drawn, best = False, 0
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            step = 200 if left is None else max(0, min(200, int(left * 1000)))
            if self._t.wait_index(collection_name, field_name, step):
                break
            if deadline is not None and time.monotonic() >= deadline:
                if drawn:
                    sys.stderr.write("\n")
                raise TimedOutError(Status.ETIMEDOUT, "the index of %s.%s is not built after "
                                    "%ss (the build goes on)" % (collection_name, field_name,
                                                                 timeout))
            done, total = self._t.progress(collection_name, field_name)
            best = max(best, done)
            if call is not None:
                call(best, total)
            elif tty and (progress is True or time.monotonic() - start > 1.0):
                width = 30
                fill = width * best // total if total else width
                sys.stderr.write("\rindexing %s.%s [%s%s] %d/%d rows" % (
                    collection_name, field_name, "#" * fill, "." * (width - fill), best, total))
                sys.stderr.flush()
                drawn = True
        if call is not None:
            done, total = self._t.progress(collection_name, field_name)
            call(max(best, done), total)
        if drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()

    @_api
    def create_index(self, collection_name, field_name=None, index_type="AUTOINDEX",
                     params=None, index_params=None, timeout=None, sync=True, **kwargs):
        """Creates indexes: pymilvus's create_index("c", index_params) with an IndexParams from
        prepare_index_params(), or create_index("c", "year", "STL_SORT", params={...}).
        Vector indexes build in the background: with sync (the default, as pymilvus) this
        waits for them (at most timeout seconds, then TimedOutError; the build goes on).
        kwargs: index_name (default: the field's name; one index per field, names unique in
        the collection), metric_type, progress (see _wait_index).

        A vector index naming another metric than its field's re-creates the collection with
        that metric while it is still empty (no row ever, no index): pymilvus's create, then
        index, flow. Later it is an InvalidArgumentError."""
        _check_kwargs("create_index", kwargs, ("index_name", "metric_type", "progress"))
        progress = kwargs.get("progress")
        if isinstance(field_name, IndexParams):
            index_params, field_name = field_name, None
            if index_type != "AUTOINDEX":  # pymilvus's create_index(name, index_params, timeout)
                if isinstance(index_type, bool) or not isinstance(index_type, numbers.Real) or \
                        timeout is not None:
                    raise einval("create_index(collection_name, index_params, timeout): %r is "
                                 "not a timeout" % (index_type,))
                timeout = index_type
        if index_params is not None:
            if field_name is not None or kwargs.get("index_name") or kwargs.get("metric_type"):
                raise einval("create_index takes index_params or a field_name, not both")
            if not isinstance(index_params, IndexParams) or not len(index_params):
                raise einval("index_params must be a non-empty IndexParams")
            entries = list(index_params)
        elif not field_name:
            raise einval("create_index needs a field_name or index_params")
        else:
            entries = [{"field_name": field_name, "index_name": kwargs.get("index_name"),
                        "index_type": index_type, "metric_type": kwargs.get("metric_type"),
                        "params": params}]
        info = self._info(collection_name)
        checked = [self._index_entry(info.by_name, e) for e in entries]
        for e in checked:
            f = info.by_name[e["field_name"]]
            p = dict(e["params"])
            if "metric_type" in p:
                if e["metric_type"] is not None and to_metric(p["metric_type"]) != \
                        e["metric_type"]:
                    raise einval("two metric types for the index of '%s'" % f.name)
                e["metric_type"] = to_metric(p.pop("metric_type"))
            if "index_type" in p:
                p.pop("index_type")
            if e["metric_type"] is not None and f.dtype not in VECTOR_TYPES:
                raise einval("metric_type is for vector fields; '%s' is %s"
                             % (f.name, f.dtype.name))
            self._t.create_index(collection_name, info, f.name, e["index_name"],
                                 e["index_type"], e["metric_type"], p)
            if e["metric_type"] is not None and e["metric_type"] != f.metric_type:
                info = self._info(collection_name, refresh=True)  # re-created for the metric
        if sync:
            for e in checked:
                self._wait_index(collection_name, e["field_name"], timeout, progress)

    def _index_of(self, collection_name, index_name):
        """The description of the index called index_name (NotFoundError if there is none)."""
        if not isinstance(index_name, str) or not index_name:
            raise einval("index_name must be a non-empty string")
        return self._t.describe_index(collection_name, index_name)

    @_api
    def wait_for_index_building_complete(self, collection_name, index_name, timeout=None,
                                         **kwargs):
        """Waits for the builds of index index_name (TimedOutError after timeout s); True."""
        _check_kwargs("wait_for_index_building_complete", kwargs, ("progress",))
        field = self._index_of(collection_name, index_name)["field_name"]
        self._wait_index(collection_name, field, timeout, kwargs.get("progress"))
        return True

    @_api
    def drop_index(self, collection_name, index_name, timeout=None, **kwargs):
        """Drops the index called index_name (by default an index is named after its field)."""
        _check_kwargs("drop_index", kwargs)
        if not isinstance(index_name, str) or not index_name:
            raise einval("index_name must be a non-empty string")
        self._t.drop_index(collection_name, index_name)

    @_api
    def describe_index(self, collection_name, index_name, timeout=None, **kwargs):
        """{"field_name", "index_name", "index_type", "metric_type" (vector fields),
        "json_path" and "json_cast_type" (JSON path indexes),
        "indexed_rows", "total_rows", "pending_index_rows", "state"} (state "Finished",
        "InProgress" or "Failed" with "fail_reason"); NotFoundError if there is none."""
        _check_kwargs("describe_index", kwargs)
        d = self._index_of(collection_name, index_name)
        out = {k: d[k] for k in ("field_name", "index_name", "index_type")}
        for k in ("metric_type", "json_path", "json_cast_type"):
            if k in d:
                out[k] = d[k]
        out.update(indexed_rows=d["indexed_rows"], total_rows=d["total_rows"],
                   pending_index_rows=d["total_rows"] - d["indexed_rows"], state=d["state"])
        if "fail_reason" in d:
            out["fail_reason"] = d["fail_reason"]
        return out

    @_api
    def list_indexes(self, collection_name, field_name="", timeout=None, **kwargs):
        """Names of the indexes (an index is named after its field unless created with an
        index_name), of field_name's only when given."""
        _check_kwargs("list_indexes", kwargs)
        info = self._info(collection_name, refresh=True)
        return [n for n, f in self._t.list_indexes(collection_name, info)
                if not field_name or f == field_name]

    # ---- databases and the server ---------------------------------------------------------

    @_api
    def create_database(self, db_name, properties=None, timeout=None, **kwargs):
        """A new database (a namespace of collections), as Milvus's; AlreadyExistsError if
        it exists ("default" always does). properties must be empty (libvdb has none)."""
        _check_kwargs("create_database", kwargs)
        self._name_arg("db_name", db_name)
        if properties:
            raise _unsupported("create_database(properties=...): libvdb has no database "
                               "properties")
        self._t.create_database(db_name)

    @_api
    def drop_database(self, db_name, timeout=None, **kwargs):
        """Drops an empty database (an error while it has collections; "default" cannot
        be dropped)."""
        _check_kwargs("drop_database", kwargs)
        self._name_arg("db_name", db_name)
        self._t.drop_database(db_name)

    @_api
    def list_databases(self, timeout=None, **kwargs):
        """The databases, "default" first."""
        _check_kwargs("list_databases", kwargs)
        return self._t.list_databases()

    @_api
    def describe_database(self, db_name, timeout=None, **kwargs):
        _check_kwargs("describe_database", kwargs)
        self._name_arg("db_name", db_name)
        if not self._t.has_database(db_name):
            raise NotFoundError(Status.ENOTFOUND, "database not found[database=%s]" % db_name)
        return {"name": db_name}

    # ---- users and roles (remote mode; vdb-server --authorization 1 enforces them) --------

    def _rbac(self, method, endpoint, body, write=True):
        rbac = getattr(self._t, "rbac", None)
        if rbac is None:
            raise _unsupported("%s: users and roles are kept by vdb-server (remote mode); the "
                               "embedded library checks no privileges" % method)
        return rbac(endpoint, body, write)

    @_api
    def create_user(self, user_name, password, timeout=None, **kwargs):
        _check_kwargs("create_user", kwargs)
        self._rbac("create_user", "users/create", {"userName": user_name, "password": password})

    @_api
    def drop_user(self, user_name, timeout=None, **kwargs):
        _check_kwargs("drop_user", kwargs)
        self._rbac("drop_user", "users/drop", {"userName": user_name})

    @_api
    def list_users(self, timeout=None, **kwargs):
        _check_kwargs("list_users", kwargs)
        return list(self._rbac("list_users", "users/list", {}, False) or [])

    @_api
    def describe_user(self, user_name, timeout=None, **kwargs):
        """{"user_name": ..., "roles": (...)}, as pymilvus's."""
        _check_kwargs("describe_user", kwargs)
        d = self._rbac("describe_user", "users/describe", {"userName": user_name}, False)
        return {"user_name": d["userName"], "roles": tuple(d["roles"])}

    @_api
    def update_password(self, user_name, old_password, new_password, reset_connection=False,
                        timeout=None, **kwargs):
        _check_kwargs("update_password", kwargs)
        if reset_connection:
            raise _unsupported("update_password(reset_connection=True): pass the new password "
                               "to a new client")
        self._rbac("update_password", "users/update_password", {
            "userName": user_name, "password": old_password, "newPassword": new_password})

    @_api
    def create_role(self, role_name, timeout=None, **kwargs):
        _check_kwargs("create_role", kwargs)
        self._rbac("create_role", "roles/create", {"roleName": role_name})

    @_api
    def drop_role(self, role_name, force_drop=False, timeout=None, **kwargs):
        _check_kwargs("drop_role", kwargs)
        if force_drop:
            raise _unsupported("drop_role(force_drop=True): revoke its privileges first")
        self._rbac("drop_role", "roles/drop", {"roleName": role_name})

    @_api
    def list_roles(self, timeout=None, **kwargs):
        _check_kwargs("list_roles", kwargs)
        return list(self._rbac("list_roles", "roles/list", {}, False) or [])

    @_api
    def describe_role(self, role_name, timeout=None, **kwargs):
        """{"role": ..., "privileges": [{"object_type", "object_name", "db_name",
        "role_name", "privilege", "grantor_name"}]}, as pymilvus's."""
        _check_kwargs("describe_role", kwargs)
        g = self._rbac("describe_role", "roles/describe", {"roleName": role_name}, False) or []
        return {"role": role_name, "privileges": [
            {"object_type": p["objectType"], "object_name": p["objectName"],
             "db_name": p["dbName"], "role_name": role_name, "privilege": p["privilege"],
             "grantor_name": p["grantor"]} for p in g]}

    @_api
    def grant_role(self, user_name, role_name, timeout=None, **kwargs):
        _check_kwargs("grant_role", kwargs)
        self._rbac("grant_role", "users/grant_role",
                   {"userName": user_name, "roleName": role_name})

    @_api
    def revoke_role(self, user_name, role_name, timeout=None, **kwargs):
        _check_kwargs("revoke_role", kwargs)
        self._rbac("revoke_role", "users/revoke_role",
                   {"userName": user_name, "roleName": role_name})

    def _privilege(self, method, endpoint, role_name, object_type, privilege, object_name,
                   db_name, kwargs):
        _check_kwargs(method, kwargs)
        body = {"roleName": role_name, "objectType": object_type, "objectName": object_name,
                "privilege": privilege}
        if db_name:
            body["dbName"] = db_name
        self._rbac(method, endpoint, body)

    @_api
    def grant_privilege(self, role_name, object_type, privilege, object_name, db_name="",
                        timeout=None, **kwargs):
        self._privilege("grant_privilege", "roles/grant_privilege", role_name, object_type,
                        privilege, object_name, db_name, kwargs)

    @_api
    def revoke_privilege(self, role_name, object_type, privilege, object_name, db_name="",
                         timeout=None, **kwargs):
        self._privilege("revoke_privilege", "roles/revoke_privilege", role_name, object_type,
                        privilege, object_name, db_name, kwargs)

    @_api
    def use_database(self, db_name, **kwargs):
        """Makes db_name this client's database: the collections and aliases of later calls
        are its own (NotFoundError if there is no such database). It changes the client for
        every thread using it, as pymilvus's does; a client per database avoids that."""
        _check_kwargs("use_database", kwargs)
        if db_name in ("", None):
            db_name = "default"
        if not isinstance(db_name, str):
            raise einval("db_name must be a string, not %r" % (db_name,))
        if db_name != "default" and not self._t.has_database(db_name):
            raise NotFoundError(Status.ENOTFOUND, "database not found[database=%s]" % db_name)
        self._t.db_name = None if db_name == "default" else db_name
        self._infos.clear()  # names are per database
        self._levels.clear()

    using_database = use_database

    @property
    def db_name(self):
        """This client's database."""
        return (self._t.db_name if self._t is not None else None) or "default"

    @_api
    def get_server_version(self, timeout=None, detail=False, **kwargs):
        """Embedded: the version of the loaded libvdb.so (detail=True: {"version",
        "deploy_mode": "EMBEDDED", "library_path"}). vdb-server's REST API has no version
        endpoint: UnsupportedError there."""
        _check_kwargs("get_server_version", kwargs)
        if self._t.mode != "embedded":
            raise _unsupported("get_server_version: vdb-server's REST API has no version "
                               "endpoint (its gRPC GetVersion says v2.6.0)")
        version = _lib.get().vdb_version().decode()
        if detail:
            return {"version": version, "deploy_mode": "EMBEDDED",
                    "library_path": _lib.get().path}
        return version


    @_api
    def change_stream(self, collection_name, start_ts=0, caught_up_marks=False, **kwargs):
        """A change stream (CDC) on the collection: its inserts, upserts and deletes from
        start_ts on (0: the oldest the log still holds), in timestamp order; see
        _embedded.ChangeStream. Embedded only: vdb-server has no change-stream endpoint
        (UnsupportedError)."""
        _check_kwargs("change_stream", kwargs)
        if self._t.mode != "embedded":
            raise _unsupported("change_stream: vdb-server has no change-stream endpoint; "
                               "open the database embedded")
        return self._t.change_stream(collection_name, start_ts, caught_up_marks)


for _n, _what in _NOT_IN_LIBVDB.items():
    setattr(MilvusClient, _n, _not_in_libvdb(_n, _what))


def _iter_sizes(batch_size, limit):
    """An iterator's batch size (1..16384) and limit (-1 or None: 0, no limit)."""
    batch = _positive_int("batch_size", batch_size)
    if batch > MAX_TOPK:
        raise einval("batch_size must be 1..%d, not %d" % (MAX_TOPK, batch))
    if limit is None or (not isinstance(limit, bool) and limit == -1):
        return batch, 0
    return batch, _positive_int("limit", limit)


class _SearchIterator:
    """search_iterator's object: next() gives hits as search does, close() ends it."""

    def __init__(self, it, round_decimal):
        self._it, self._rd = it, round_decimal

    def next(self):
        rd = self._rd
        return [{"id": pk, "distance": round_decimal(d, rd), "entity": ent}
                for pk, d, ent in self._it.next()]

    def close(self):
        self._it.close()


def _grouping(info, sp, kwargs):
    """(group_by_field, group_size, strict_group_size) from search's kwargs or search_params
    (pymilvus takes both), or None."""
    g = {}
    for k in ("group_by_field", "group_size", "strict_group_size"):
        if k in sp and kwargs.get(k) is not None:
            raise einval("give %s in kwargs or in search_params, not both" % k)
        v = sp.pop(k, None) if k in sp else kwargs.get(k)
        if v is not None:
            g[k] = v
    field = g.get("group_by_field")
    if not field:
        if g.get("group_size") not in (None, 1) or g.get("strict_group_size"):
            raise einval("group_size and strict_group_size need group_by_field")
        return None
    if not isinstance(field, str) or field not in info.by_name:
        raise einval("group_by_field %r is not a field of the collection" % (field,))
    size = _positive_int("group_size", g.get("group_size", 1))
    if size > 1024:
        raise einval("group_size must be 1..1024, not %d" % size)
    return field, size, bool(g.get("strict_group_size", False))


def _ann_params(vf, sp, what):
    """search_params ({"metric_type": ..., "params": {...}}, or the params beside it) as the
    index's params, the metric checked against the field's."""
    m = sp.pop("metric_type", None) or sp.pop("metricType", None)
    m = to_metric(m)
    if m is not None and vf.metric_type is not None and m != vf.metric_type:
        raise einval("%s metric_type %s does not match field '%s' (%s)"
                     % (what, m.name, vf.name, vf.metric_type.name))
    if sp.pop("ignore_growing", False):
        raise _unsupported("%s(ignore_growing=...): libvdb has no ignore_growing "
                           "(every segment is always searched)" % what)
    params = sp.pop("params", None) or {}
    if not isinstance(params, dict):
        raise einval("%s: search_params['params'] must be a dict" % what)
    params = dict(params)
    params.update(sp)  # pymilvus also takes them beside "params"
    return params


def _with_metric(f, m):
    """f with its metric set (a copy: the caller's Schema is left as it was)."""
    import copy
    g = copy.copy(f)
    g.metric_type = m
    return g


Client = MilvusClient  # libvdb's older name
