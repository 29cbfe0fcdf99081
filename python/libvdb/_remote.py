"""The remote transport: vdb-server's Milvus REST API v2 (POST /v2/vectordb/..., JSON), with
the Python standard library only (http.client, json, ssl). MilvusClient checks the arguments
and shapes the results; this file turns the checked values into requests and the answers back
into the values the embedded transport gives, so both modes return the same thing.

Connections: one keep-alive HTTP/1.1 connection per thread (http.client connections are not
thread-safe), opened on first use. A kept connection the server closed meanwhile (its idle
timeout) is noticed before reuse and replaced. If a connection breaks under a request, a read is
sent once more on a new connection; a write is not (it may have been applied): that is a
ConnectionFailedError saying so.
"""

import array
import base64
import http.client
import json
import select
import socket
import ssl
import threading
import time
import urllib.parse

from ._data import (DYNAMIC_FIELD, MISSING, Info, clean_column, dumps, einval, np,
                    pack_vector, packed_vectors, sparse_row, vector_rows, vectors)
from .errors import (ConnectionFailedError, NotFoundError, Status, TimedOutError,
                     UnsupportedError, VdbError, error_for_milvus)
from .schema import DENSE_VECTOR_TYPES, DataType, FieldSchema, VECTOR_TYPES

__all__ = ["RemoteTransport", "is_remote_uri"]

DEFAULT_PORT = 19530
REMOTE_OPTIONS = ("secure", "server_pem_path", "ca_pem_path", "client_pem_path",
                  "client_key_path", "server_name")
POLL_S = 0.2  # index builds: how often describe is asked

# Milvus's REST type names <-> DataType
_TYPE_NAMES = {
    DataType.BOOL: "Bool", DataType.INT8: "Int8", DataType.INT16: "Int16",
    DataType.INT32: "Int32", DataType.INT64: "Int64", DataType.FLOAT: "Float",
    DataType.DOUBLE: "Double", DataType.VARCHAR: "VarChar", DataType.ARRAY: "Array",
    DataType.JSON: "JSON", DataType.FLOAT_VECTOR: "FloatVector",
    DataType.SPARSE_FLOAT_VECTOR: "SparseFloatVector", DataType.FLOAT16_VECTOR: "Float16Vector",
    DataType.BFLOAT16_VECTOR: "BFloat16Vector", DataType.INT8_VECTOR: "Int8Vector",
    DataType.BINARY_VECTOR: "BinaryVector",
}
_HALF_TYPES = (DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR, DataType.INT8_VECTOR)
_TYPES_BY_NAME = {v.lower(): k for k, v in _TYPE_NAMES.items()}


def _query_data(vf, qv):
    """REST search data from a vectors() or binary_queries() tuple: float lists, or for a
    BINARY_VECTOR field base64 of each query's dim / 8 bytes."""
    buf, addr, nq, dim = qv
    if vf.dtype != DataType.BINARY_VECTOR:
        return vector_rows(buf, nq, dim)
    nb, raw = dim // 8, buf.raw
    return [base64.b64encode(raw[i * nb:(i + 1) * nb]).decode() for i in range(nq)]


def is_remote_uri(uri):
    return "://" in uri


def _unsupported(msg):
    return UnsupportedError(Status.EUNSUPPORTED, msg)


def _f32(x):
    return array.array("f", [x])[0] if isinstance(x, float) else x


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPSConnection that checks the certificate against server_name instead of the host."""

    def __init__(self, host, port, server_name, **kw):
        super().__init__(host, port, **kw)
        self._server_name = server_name

    def connect(self):
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


class RemoteTransport:
    mode = "remote"
    has_timestamps = False

    def __init__(self, uri, token="", user="", password="", db_name="", timeout=None,
                 options=None, on_collection_gone=None):
        opts = dict(options or {})
        u = urllib.parse.urlsplit(uri)
        scheme = u.scheme.lower()
        if scheme not in ("http", "https"):
            raise einval("uri %r: vdb-server is reached over http:// or https:// (its REST API; "
                         "a local folder is a path without a scheme)" % uri)
        if u.query or u.fragment:
            raise einval("uri %r: a query string or fragment means nothing here" % uri)
        try:
            port = u.port
        except ValueError as e:
            raise einval("uri %r: %s" % (uri, e))
        self.host = u.hostname or ""
        if not self.host:
            raise einval("uri %r names no host" % uri)
        self.port = port or DEFAULT_PORT
        if not token:
            user = user or urllib.parse.unquote(u.username or "")
            password = password or urllib.parse.unquote(u.password or "")
            if user or password:
                token = "%s:%s" % (user, password)  # what pymilvus sends for user/password
        self._auth = "Bearer " + token if token else None
        self._prefix = u.path.rstrip("/") + "/v2/vectordb/"
        self.db_name = db_name or None
        self.timeout = timeout
        self._gone = on_collection_gone
        self.uri = uri
        self._ctx = None
        if scheme == "https" or opts.get("secure"):
            ca = opts.get("ca_pem_path") or opts.get("server_pem_path")
            self._ctx = ssl.create_default_context(cafile=ca)
            if opts.get("client_pem_path"):
                self._ctx.load_cert_chain(opts["client_pem_path"], opts.get("client_key_path"))
            elif opts.get("client_key_path"):
                raise einval("client_key_path needs client_pem_path")
        elif any(opts.get(k) for k in REMOTE_OPTIONS if k != "secure"):
            raise einval("%s: TLS options need an https:// uri (or secure=True)"
                         % ", ".join(k for k in REMOTE_OPTIONS if opts.get(k)))
        self._server_name = opts.get("server_name") or self.host
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns = set()
        self._closed = False

    # ---- HTTP -------------------------------------------------------------------------------

    def _new_conn(self, timeout):
        if self._ctx is not None:
            c = _TLSConnection(self.host, self.port, self._server_name, timeout=timeout,
                               context=self._ctx)
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        with self._lock:
            self._conns.add(c)
        return c

    def _drop_conn(self, c):
        c.close()
        with self._lock:
            self._conns.discard(c)
        if getattr(self._local, "conn", None) is c:
            self._local.conn = None

    def _conn(self, timeout):
        c = getattr(self._local, "conn", None)
        if c is not None and c.sock is not None:
            try:  # readable while idle: the server closed it (or sent junk): not reusable
                r, _, _ = select.select([c.sock], [], [], 0)
            except (OSError, ValueError):
                r = True
            if r:
                self._drop_conn(c)
                c = None
            else:
                c.sock.settimeout(timeout)
        if c is None:
            c = self._new_conn(timeout)
            self._local.conn = c
        return c, c.sock is not None

    def call_timeout(self, t):
        """The timeout of the calls this thread makes now (None: the client's)."""
        self._local.timeout = t

    def close(self):
        self._closed = True
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for c in conns:
            c.close()

    def call(self, endpoint, body, write=False, timeout=None):
        """POSTs body to /v2/vectordb/<endpoint>; the answer's JSON object (code 0), else the
        VdbError for its code."""
        if self.db_name is not None and "dbName" not in body:  # databases/... name theirs
            body = dict(body, dbName=self.db_name)
        payload = dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        if timeout is None:
            timeout = getattr(self._local, "timeout", None)
        t = self.timeout if timeout is None else timeout
        for attempt in (0, 1):
            c, reused = self._conn(t)
            try:
                c.request("POST", self._prefix + endpoint, body=payload, headers=headers)
                r = c.getresponse()
                text = r.read()
                status = r.status
                if r.will_close:
                    self._drop_conn(c)
                break
            except socket.timeout:
                self._drop_conn(c)
                raise TimedOutError(Status.ETIMEDOUT, "%s: no answer from %s within %ss (the "
                                    "request may still complete)" % (endpoint, self.uri, t))
            except (http.client.HTTPException, ConnectionError, OSError) as e:
                self._drop_conn(c)
                if isinstance(e, ssl.SSLCertVerificationError):
                    raise ConnectionFailedError(message="%s: TLS: %s" % (self.uri, e))
                if attempt == 0 and reused and not write:
                    continue  # a kept connection broke: a read is safe to send again
                raise ConnectionFailedError(message="%s %s: %s%s" % (
                    self.uri, endpoint, e or type(e).__name__,
                    " (the write may or may not have been applied)" if write and reused
                    else ""))
        try:
            resp = json.loads(text)
        except ValueError:
            resp = None
        if not isinstance(resp, dict) or "code" not in resp:
            raise VdbError(Status.EIO, "%s %s: HTTP %d with no Milvus answer: %r"
                           % (self.uri, endpoint, status, text[:200]))
        code = resp.get("code")
        if code:
            err = error_for_milvus(code, resp.get("message") or "")
            if code == 100 and self._gone and body.get("collectionName"):
                self._gone(body["collectionName"])
            raise err
        return resp

    def _data(self, endpoint, body, write=False, timeout=None):
        return self.call(endpoint, body, write, timeout).get("data")

    # ---- collections ------------------------------------------------------------------------

    def describe(self, name):
        d = self._data("collections/describe", {"collectionName": name})
        fields = []
        for f in d.get("fields") or []:
            t = _TYPES_BY_NAME.get(str(f.get("type")).lower())
            if t is None:
                raise VdbError(Status.EIO, "collection '%s': field '%s' has a type this client "
                               "does not know: %r" % (name, f.get("name"), f.get("type")))
            params = {p.get("key"): p.get("value") for p in f.get("params") or []}
            kw = {}
            if "defaultValue" in f:
                kw["default_value"] = f["defaultValue"]
            et = f.get("elementType")
            fields.append(FieldSchema(
                f["name"], t, is_primary=bool(f.get("primaryKey")),
                auto_id=bool(f.get("autoId")),
                max_length=int(params["max_length"]) if "max_length" in params else None,
                dim=int(params["dim"]) if "dim" in params else None,
                element_type=_TYPES_BY_NAME.get(str(et).lower()) if et else None,
                max_capacity=int(params["max_capacity"]) if "max_capacity" in params else None,
                nullable=bool(f.get("nullable")),
                is_partition_key=bool(f.get("partitionKey")),
                metric_type=params.get("metric_type") if t in VECTOR_TYPES else None,
                description=f.get("description") or "", **kw))
        # the collection's own name (name may be an alias of it)
        keyed = any(f.is_partition_key for f in fields)
        return Info(d.get("collectionName") or name, fields, bool(d.get("enableDynamicField")),
                    d.get("shardsNum") or 1, d.get("partitionsNum") or 0 if keyed else 0)

    @staticmethod
    def _field_json(f):
        """A FieldSchema as REST v2 spells it (schema.fields[], fields/add's schema)."""
        if f.dtype not in _TYPE_NAMES:
            raise UnsupportedError(Status.EUNSUPPORTED, "field '%s': vdb-server does not take "
                                   "%s fields yet (the embedded mode does)"
                                   % (f.name, f.dtype.name))
        o = {"fieldName": f.name, "dataType": _TYPE_NAMES[f.dtype]}
        if f.is_primary:
            o["isPrimary"] = True
            o["autoID"] = f.auto_id
        if f.nullable:
            o["nullable"] = True
        if f.is_partition_key:
            o["isPartitionKey"] = True
        if f.has_default:
            o["defaultValue"] = f.default_value
        if f.description:
            o["description"] = f.description
        if f.element_type is not None:
            o["elementDataType"] = _TYPE_NAMES[f.element_type]
        tp = {k: v for k, v in (("dim", f.dim), ("max_length", f.max_length),
                                ("max_capacity", f.max_capacity)) if v}
        if tp:
            o["elementTypeParams"] = tp
        return o

    def add_field(self, coll, f):
        self.call("collections/fields/add", {"collectionName": coll,
                                             "schema": self._field_json(f)}, write=True)

    def create_collection(self, name, fields, dynamic, shards, description, indexes,
                          num_partitions=None, properties=None, functions=()):
        if functions or any(f.enable_analyzer or f.enable_match for f in fields):
            raise UnsupportedError(Status.EUNSUPPORTED, "collection '%s': vdb-server does not "
                                   "take analyzers and BM25 functions yet (the embedded mode "
                                   "does)" % name)
        out = []
        for f in fields:
            o = self._field_json(f)
            out.append(o)
        pk = next(f for f in fields if f.is_primary)
        body = {"collectionName": name, "schema": {"autoID": pk.auto_id,
                                                   "enableDynamicField": bool(dynamic),
                                                   "fields": out}}
        idx = [self._index_json(i["field_name"], i.get("index_name"), i["index_type"],
                                i["metric_type"], i["params"]) for i in indexes]
        # REST names a vector field's metric in its index, or once for the whole request
        vec = [f for f in fields if f.dtype in DENSE_VECTOR_TYPES]
        bare = [f for f in vec if f.metric_type is not None and
                not any(i["field_name"] == f.name for i in indexes)]
        if bare:
            if len({f.metric_type for f in bare}) > 1:
                raise _unsupported("vdb-server's REST API takes one metric for the vector fields "
                                   "without an index: give %s an index in index_params"
                                   % ", ".join(f.name for f in bare))
            body["metricType"] = bare[0].metric_type.name
        for f in vec:  # the index's metric must be the field's (the client checked it)
            for i in idx:
                if i["fieldName"] == f.name and f.metric_type is not None:
                    i["metricType"] = f.metric_type.name
        if idx:
            body["indexParams"] = idx
        if shards:
            body["shardsNum"] = int(shards)
        if num_partitions:
            body["params"] = {"partitionsNum": int(num_partitions)}
        if description:
            body["description"] = description
        if properties:
            body["properties"] = dict(properties)
        self.call("collections/create", body, write=True)

    def drop_collection(self, name):
        self.call("collections/drop", {"collectionName": name}, write=True)

    def has_collection(self, name):
        return bool(self._data("collections/has", {"collectionName": name})["has"])

    def list_collections(self):
        return list(self._data("collections/list", {}) or [])

    # ---- aliases, rename, truncate -----------------------------------------------------------

    def alias(self, op, coll, alias):
        """op: "create", "alter" (coll and alias) or "drop" (alias)."""
        body = {"aliasName": alias}
        if op != "drop":
            body["collectionName"] = coll
        self.call("aliases/" + op, body, write=True)

    def describe_alias(self, alias):
        return str(self._data("aliases/describe", {"aliasName": alias})["collectionName"])

    def list_aliases(self, coll):
        return list(self._data("aliases/list", {"collectionName": coll} if coll else {}) or [])

    def rename_collection(self, old, new, target_db=None):
        body = {"collectionName": old, "newCollectionName": new}
        if target_db:
            body["newDbName"] = target_db
        self.call("collections/rename", body, write=True)

    def create_database(self, name):
        self.call("databases/create", {"dbName": name}, write=True)

    def drop_database(self, name):
        self.call("databases/drop", {"dbName": name}, write=True)

    def list_databases(self):
        return list(self._data("databases/list", {}) or [])

    def has_database(self, name):
        return name in self.list_databases()

    # ---- users and roles (vdb-server's /users and /roles, Milvus's REST v2 names) ----------

    def rbac(self, endpoint, body, write=True):
        """users/... or roles/...: the answer's data."""
        return self._data(endpoint, body, write=write)

    def truncate_collection(self, coll):
        self.call("collections/truncate", {"collectionName": coll}, write=True)

    def alter_properties(self, coll, props):
        self.call("collections/alter_properties", {"collectionName": coll,
                                                   "properties": props}, write=True)

    def drop_properties(self, coll, keys):
        self.call("collections/drop_properties", {"collectionName": coll,
                                                  "propertyKeys": list(keys)}, write=True)

    def properties(self, coll):
        d = self._data("collections/describe", {"collectionName": coll})
        return {str(p["key"]): str(p["value"]) for p in d.get("properties") or []}

    def create_partition(self, coll, part):
        self.call("partitions/create", {"collectionName": coll, "partitionName": part},
                  write=True)

    def drop_partition(self, coll, part):
        self.call("partitions/drop", {"collectionName": coll, "partitionName": part},
                  write=True)

    def list_partitions(self, coll):
        return list(self._data("partitions/list", {"collectionName": coll}) or [])

    def partition_rows(self, coll, part):
        return int(self._data("partitions/get_stats", {"collectionName": coll,
                                                       "partitionName": part})["rowCount"])

    def stats(self, coll):
        d = self._data("collections/get_stats", {"collectionName": coll})
        return {"row_count": int(d["rowCount"])}

    def flush(self, coll):
        for c in [coll] if coll is not None else self.list_collections():
            self.call("collections/flush", {"collectionName": c}, write=True)

    def compact(self, coll):
        for c in [coll] if coll is not None else self.list_collections():
            self.call("collections/compact", {"collectionName": c}, write=True)

    def now(self):
        raise _unsupported("now(): vdb-server's REST API hands out no timestamps (time travel "
                           "is embedded-only)")

    # ---- writes -----------------------------------------------------------------------------

    def write(self, coll, part, info, n, cols, metas, upsert):
        rows = [{} for _ in range(n)]
        for name, values in cols.items():
            f = info.by_name[name]
            if f.dtype == DataType.SPARSE_FLOAT_VECTOR:  # {"<index>": value}, as REST v2
                vals = values.tolist() if np is not None and isinstance(values, np.ndarray) \
                    else list(values)
                if len(vals) != n:
                    raise einval("field '%s' has %d sparse vectors for %d rows"
                                 % (name, len(vals), n))
                for i, (row, v) in enumerate(zip(rows, vals)):
                    if v is None or v is MISSING:
                        raise einval("field '%s' row %d: no sparse vector" % (name, i))
                    idx, val = sparse_row(v, "field '%s' row %d" % (name, i))
                    row[name] = {str(k): x for k, x in zip(idx, val)}
                continue
            if f.dtype in _HALF_TYPES or f.dtype == DataType.BINARY_VECTOR:
                # the stored elements, as the embedded mode packs them: base64 of the bytes
                w = f.dim // 8 if f.dtype == DataType.BINARY_VECTOR else \
                    f.dim if f.dtype == DataType.INT8_VECTOR else 2 * f.dim
                b = packed_vectors(values, f.dtype, f.dim, n, "field '%s'" % name)
                for i, row in enumerate(rows):
                    row[name] = base64.b64encode(b[i * w:(i + 1) * w]).decode()
                continue
            if f.dtype == DataType.FLOAT_VECTOR:
                buf, addr, got, dim = vectors(values, "field '%s'" % name, f.dim)
                if got != n:
                    raise einval("field '%s' has %d vectors for %d rows" % (name, got, n))
                if isinstance(values, list) and all(isinstance(v, list) for v in values):
                    vals = [[float(x) for x in v] for v in values]  # as given: shorter JSON
                else:
                    vals = vector_rows(buf, got, dim)
                for row, v in zip(rows, vals):
                    row[name] = v
                continue
            raw = values.tolist() if hasattr(values, "tolist") else values
            given = [v is not MISSING for v in raw]
            for row, v, g in zip(rows, clean_column(f, name, values, n), given):
                if g:
                    row[name] = v  # None: NULL (the default or NULL, as a missing value)
        if metas is not None:
            for row, m in zip(rows, clean_column(None, DYNAMIC_FIELD, metas, n)):
                for k, v in (m or {}).items():
                    row.setdefault(k, v)  # keys that are not fields: the dynamic field
        body = {"collectionName": coll, "data": rows}
        if part:
            body["partitionName"] = part
        d = self._data("entities/upsert" if upsert else "entities/insert", body, write=True)
        return list(d.get("upsertIds" if upsert else "insertIds") or []), None

    def delete(self, coll, part, info, ids=None, filter=None):
        body = {"collectionName": coll}
        if part:
            body["partitionName"] = part
        if ids is not None:
            body["id"] = list(ids)
        else:
            body["filter"] = filter
        d = self._data("entities/delete", body, write=True)
        return int(d.get("deleteCount", 0)), None

    # ---- reads ------------------------------------------------------------------------------

    @staticmethod
    def _read_body(body, read, plan):
        if read.travel_ts:
            raise _unsupported("travel_timestamp: vdb-server's REST API has no time travel "
                               "(open the folder embedded for it)")
        if read.staleness_ms is not None:
            raise _unsupported("staleness_ms: vdb-server reads Bounded as Strong (every "
                               "acknowledged write is applied); it takes no staleness")
        if read.consistency:
            body["consistencyLevel"] = read.consistency
        if read.partitions:
            body["partitionNames"] = list(read.partitions)
        if plan is not None:
            body["outputFields"] = [n for n, kind in plan if kind != "pk"]
        return body

    @staticmethod
    def _shape(info, row, plan):
        """A row as the embedded mode gives it: FLOAT and vector values as float32."""
        for name, kind in plan:
            f = info.by_name.get(name) if kind == "field" else None
            if f is None or name not in row:
                continue
            v = row[name]
            if f.dtype == DataType.FLOAT and v is not None:
                row[name] = _f32(float(v))
            elif f.dtype == DataType.FLOAT_VECTOR and v is not None:
                row[name] = array.array("f", v).tolist()
            elif f.dtype == DataType.SPARSE_FLOAT_VECTOR and v is not None:
                row[name] = {int(k): _f32(float(x)) for k, x in v.items()}
            elif f.dtype == DataType.BINARY_VECTOR and v is not None:
                row[name] = [bytes(v)]  # REST prints the bytes as a list of 0..255
            elif f.dtype in _HALF_TYPES and v is not None:
                # REST prints the elements' values; they are exact in the type: the bytes,
                # in a list as pymilvus returns them
                row[name] = [pack_vector(v, f.dtype, f.dim, "field '%s'" % name)]
        return row

    def get(self, coll, info, ids, plan, read):
        body = self._read_body({"collectionName": coll, "id": list(ids)}, read, plan)
        if not body["outputFields"]:
            body["outputFields"] = [info.pk.name]  # [] would mean every field
        return [self._shape(info, r, plan) for r in self._data("entities/get", body) or []]

    query_order_by = True  # entities/query's orderByFields

    def query(self, coll, info, filter, limit, offset, plan, read, order_by=None):
        body = self._read_body({"collectionName": coll, "filter": filter or "",
                                "limit": int(limit or 0), "offset": int(offset or 0)},
                               read, plan)
        if order_by:
            body["orderByFields"] = [{"fieldName": f, "order": "desc" if d else "asc"}
                                     for f, d in order_by]
        if not body["outputFields"]:
            body["outputFields"] = [info.pk.name]
        return [self._shape(info, r, plan) for r in self._data("entities/query", body) or []]

    def count(self, coll, filter, read):
        body = self._read_body({"collectionName": coll, "filter": filter or "",
                                "outputFields": ["count(*)"]}, read, None)
        return int(self._data("entities/query", body)[0]["count(*)"])

    search_by_pks = False  # the client reads the rows' vectors first (a get)

    def search(self, coll, info, vf, qv, k, offset, filter, params, plan, read, group=None,
               pks=None):
        if isinstance(qv[0], str):  # ("sparse", keep, rows, nq): rows as {"<index>": value}
            rows, nq = qv[2], qv[3]
            data = [{str(rows[q].indices[j]): rows[q].values[j] for j in range(rows[q].count)}
                    for q in range(nq)]
        else:
            nq = qv[2]
            data = _query_data(vf, qv)
        body = {"collectionName": coll, "annsField": vf.name, "data": data,
                "limit": int(k), "offset": int(offset)}
        if group:
            body["groupingField"], body["groupSize"] = group[0], int(group[1])
            body["strictGroupSize"] = bool(group[2])
        if filter:
            body["filter"] = filter
        if params:
            body["searchParams"] = {"params": dict(params)}
        self._read_body(body, read, plan)
        return self._hits(self.call("entities/search", body), nq, info, plan)

    def hybrid_search(self, coll, info, subs, ranker, limit, offset, plan, read, group=None):
        if group:
            raise UnsupportedError(Status.EUNSUPPORTED, "hybrid_search(group_by_field=...): "
                                   "grouping in a hybrid search is embedded-only in libvdb's "
                                   "client (vdb-server serves it over gRPC)")
        reqs = []
        for vf, qv, lim, fexpr, params in subs:
            r = {"annsField": vf.name, "data": _query_data(vf, qv), "limit": int(lim)}
            if fexpr:
                r["filter"] = fexpr
            if params:
                r["params"] = dict(params)
            reqs.append(r)
        strategy, rp = ranker
        body = {"collectionName": coll, "search": reqs, "limit": int(limit),
                "offset": int(offset), "rerank": {"strategy": strategy, "params": dict(rp)}}
        self._read_body(body, read, plan)
        return self._hits(self.call("entities/hybrid_search", body), subs[0][1][2], info, plan)

    def _hits(self, resp, nq, info, plan):
        hits, topks = resp.get("data") or [], resp.get("topks")
        if topks is None:
            topks = [len(hits)] if nq == 1 else None
        if topks is None or len(topks) != nq or sum(topks) != len(hits):
            raise VdbError(Status.EIO, "search: the answer has %d hits for topks %r"
                           % (len(hits), topks))
        pk = info.pk.name
        want_pk = any(kind == "pk" for _, kind in plan)
        out, at = [], 0
        for n in topks:
            group = []
            for h in hits[at:at + n]:
                key = h.pop(pk)
                dist = _f32(float(h.pop("distance")))
                ent = self._shape(info, h, plan)
                if want_pk:
                    ent = dict({pk: key}, **ent)
                group.append((key, dist, ent))
            out.append(group)
            at += n
        return out

    # ---- iterators: vdb-server's REST extensions (Milvus's REST API v2 has none) ----------

    def query_iterator(self, coll, info, filter, batch, limit, plan, read):
        """entities/query_iterator, batch after batch: next() gives a list of rows."""
        body = self._read_body({"collectionName": coll, "filter": filter or ""}, read, plan)
        if not body["outputFields"]:
            body["outputFields"] = [info.pk.name]
        return _RemoteIterator(self, "entities/query_iterator", body, batch, limit,
                               lambda d: [self._shape(info, r, plan) for r in d.get("data")
                                          or []])

    def search_iterator(self, coll, info, vf, qv, batch, limit, filter, params, plan, read):
        """entities/search_iterator: next() gives a list of (pk, distance, entity)."""
        body = {"collectionName": coll, "annsField": vf.name, "data": _query_data(vf, qv)}
        if filter:
            body["filter"] = filter
        if params:
            body["searchParams"] = {"params": dict(params)}
        self._read_body(body, read, plan)
        return _RemoteIterator(self, "entities/search_iterator", body, batch, limit,
                               lambda d: self._hits(d, 1, info, plan)[0])

    # ---- indexes ----------------------------------------------------------------------------

    @staticmethod
    def _index_json(field, index_name, index_type, metric, params):
        o = {"fieldName": field, "indexName": index_name or field,
             "indexType": index_type or "AUTOINDEX"}
        if metric is not None:
            o["metricType"] = metric.name
        if params:
            o["params"] = dict(params)
        return o

    def create_index(self, coll, info, field, index_name, index_type, metric, params):
        self.call("indexes/create", {"collectionName": coll, "indexParams": [
            self._index_json(field, index_name, index_type, metric, params)]}, write=True)

    def describe_index(self, coll, index_name):
        """As the embedded one: the index called index_name."""
        d = self._data("indexes/describe", {"collectionName": coll, "indexName": index_name})
        if not d:
            raise NotFoundError(Status.ENOTFOUND, "index '%s' not found in '%s'"
                                % (index_name, coll))
        d = d[0]
        out = {"field_name": d.get("fieldName", ""), "index_name": d.get("indexName", ""),
               "index_type": d.get("indexType", "")}
        if d.get("metricType"):
            out["metric_type"] = d["metricType"]
        out.update(indexed_rows=int(d.get("indexedRows", 0)),
                   total_rows=int(d.get("totalRows", 0)), state=d.get("indexState", ""))
        if out["state"] == "Failed":
            out["fail_reason"] = d.get("failReason", "")
        return out

    def _describe_field(self, coll, field):
        """The description of field's index (NotFoundError if it has none)."""
        names = self._data("indexes/list", {"collectionName": coll, "fieldName": field})
        if not names:
            raise NotFoundError(Status.ENOTFOUND, "field '%s' of '%s' has no index"
                                % (field, coll))
        return self.describe_index(coll, names[0])

    def drop_index(self, coll, index_name):
        self.call("indexes/drop", {"collectionName": coll, "indexName": index_name}, write=True)

    def list_indexes(self, coll, info):
        """[(index_name, field_name)] in field order."""
        out = []
        for n in self._data("indexes/list", {"collectionName": coll}) or []:
            out.append((n, self.describe_index(coll, n)["field_name"]))
        return out

    def progress(self, coll, field):
        d = self._describe_field(coll, field)
        return d["indexed_rows"], d["total_rows"]

    def wait_index(self, coll, field, ms):
        end = time.monotonic() + ms / 1000.0
        while True:
            d = self._describe_field(coll, field)
            if d["state"] == "Finished":
                return True
            if d["state"] == "Failed":
                raise VdbError(Status.EIO, d.get("fail_reason") or "the index build failed")
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(POLL_S, left))


class _RemoteIterator:
    """An iterator over vdb-server's stateless iterator calls: each answer carries the cursor
    of the next batch (the snapshot's timestamp and where the batch ended). The first batch is
    read when the iterator is made, so its snapshot is the one of that moment, as embedded;
    the server reads every later batch at that timestamp (inside its retention window)."""

    def __init__(self, t, endpoint, body, batch, limit, convert):
        self._t, self._endpoint, self._body = t, endpoint, body
        self._batch, self._left, self._convert = batch, limit or None, convert
        self._lock = threading.Lock()
        self._cursor, self._done = None, False
        self._ready = self._fetch()
        self.timestamp = self._ts

    def _fetch(self):
        n = self._batch if self._left is None else min(self._batch, self._left)
        if n <= 0 or self._done:
            self._done = True
            return []
        body = dict(self._body, batchSize=n)
        if self._cursor is not None:
            body["cursor"] = self._cursor
        d = self._t.call(self._endpoint, body)
        out = self._convert(d)
        self._cursor, self._ts = d.get("cursor"), int(d.get("timestamp") or 0)
        if self._left is not None:
            self._left -= len(out)
        if len(out) < n:  # a short batch is the last
            self._done = True
        return out

    def next(self):
        with self._lock:
            if self._ready is not None:
                out, self._ready = self._ready, None
                return out
            return self._fetch()

    def close(self):
        with self._lock:
            self._done, self._ready = True, None
