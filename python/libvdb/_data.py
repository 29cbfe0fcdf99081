"""What both transports share of the data a user passes and gets back: the schema the client
keeps of a collection, output-field plans, rows or columns turned into checked columns, vectors
as one float32 buffer. Every check of a user's values is made here once, so the embedded and
the remote mode refuse the same input with the same words."""

import array
import json
import math
import numbers
import struct

from .errors import InvalidArgumentError, Status
from .schema import DENSE_VECTOR_TYPES, DataType, VECTOR_TYPES

try:
    import numpy as np
except ImportError:  # numpy is optional: lists work everywhere
    np = None

DYNAMIC_FIELD = "$meta"
MISSING = object()

INT_RANGES = {
    DataType.INT8: (-(1 << 7), (1 << 7) - 1),
    DataType.INT16: (-(1 << 15), (1 << 15) - 1),
    DataType.INT32: (-(1 << 31), (1 << 31) - 1),
    DataType.INT64: (-(1 << 63), (1 << 63) - 1),
}


def einval(msg):
    return InvalidArgumentError(Status.EINVAL, msg)


def round_decimal(d, digits):
    """d rounded as the library's round_decimal (lib/core/search.c vdb_round_decimal): half
    away from zero to digits decimals (digits -1: unchanged); a Python float, the nearest
    double (the library's float32 is the nearest float to it). Python's round() rounds half
    to even, so it would disagree with the server's and the C API's answers at ties."""
    if digits < 0:
        return d
    m = 10.0 ** digits
    return math.copysign(math.floor(abs(d) * m + 0.5) / m, d)


def json_default(o):
    if np is not None:
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
    raise TypeError("%r is not JSON serializable" % (o,))


def dumps(v):
    """Compact JSON; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=json_default,
                      allow_nan=False)


def is_seq(v):
    return isinstance(v, (list, tuple)) or (np is not None and isinstance(v, np.ndarray))


class Info:
    """What the client keeps of a collection's schema (fields are schema.FieldSchema)."""

    def __init__(self, name, fields, dynamic, num_shards, num_partitions=0, functions=()):
        self.name = name
        self.functions = list(functions)  # schema.Function (BM25)
        self.num_partitions = num_partitions  # hashed partitions (0: no partition key)
        self.fields = fields
        self.by_name = {f.name: f for f in fields}
        self.dynamic = dynamic
        self.num_shards = num_shards
        self.pk = next(f for f in fields if f.is_primary)
        self.vectors = [f for f in fields if f.dtype in VECTOR_TYPES]

    def vector_field(self, name):
        if name:
            f = self.by_name.get(name)
            if f is None or f.dtype not in VECTOR_TYPES:
                raise einval("'%s' is not a vector field of '%s'" % (name, self.name))
            return f
        if len(self.vectors) != 1:
            raise einval("collection '%s' has %d vector fields: name one with anns_field"
                         % (self.name, len(self.vectors)))
        return self.vectors[0]

    def field(self, name):
        f = self.by_name.get(name)
        if f is None:
            from .errors import NotFoundError
            raise NotFoundError(Status.ENOTFOUND, "collection '%s' has no field '%s'"
                                % (self.name, name))
        return f


def output_plan(info, output_fields, default_all):
    """[(name, kind)] to read: kind "pk", "field", "meta" (the dynamic field, flattened into
    the row) or "dyn" (one dynamic key). "*" is every field and the dynamic ones."""
    if output_fields is None or (default_all and not output_fields):
        output_fields = ["*"] if default_all else []
    elif isinstance(output_fields, str):
        output_fields = [output_fields]
    plan, seen = [], set()
    for name in output_fields:
        if not isinstance(name, str):
            raise einval("output_fields must be strings, not %r" % (name,))
        if name == "*":
            names = [f.name for f in info.fields] + ([DYNAMIC_FIELD] if info.dynamic else [])
        else:
            names = [name]
        for n in names:
            if n in seen:
                continue
            seen.add(n)
            if n == info.pk.name:
                plan.append((n, "pk"))
            elif n in info.by_name:
                plan.append((n, "field"))
            elif info.dynamic:
                plan.append((n, "meta" if n == DYNAMIC_FIELD else "dyn"))
            else:
                raise einval("output field '%s' is not a field of '%s' (and dynamic fields are "
                             "off)" % (n, info.name))
    return plan


def is_columnar(info, data):
    for f in info.vectors:
        if f.dtype == DataType.SPARSE_FLOAT_VECTOR:
            continue  # a row's sparse vector is a dict too: the key column decides
        if f.name in data:
            v = data[f.name]
            if np is not None and isinstance(v, np.ndarray):
                return v.ndim == 2
            return is_seq(v) and len(v) > 0 and is_seq(v[0])
    return is_seq(data.get(info.pk.name))


def to_columns(info, data):
    """(rows, {field: values}, [dynamic dict per row] or None) from rows or columns."""
    if isinstance(data, dict) and is_columnar(info, data):
        cols, dyn_cols, n = {}, {}, None
        for k, v in data.items():
            if np is not None and isinstance(v, np.ndarray):
                m = v.shape[0] if v.ndim else 1
            else:
                if not is_seq(v):
                    raise einval("column '%s' is not a list" % k)
                m = len(v)
            if n is None:
                n = m
            elif m != n:
                raise einval("column '%s' has %d values, others %d" % (k, m, n))
            if k in info.by_name:
                cols[k] = v
            elif k == DYNAMIC_FIELD or info.dynamic:
                dyn_cols[k] = v
            else:
                raise einval("collection '%s' has no field '%s' (and dynamic fields are off)"
                             % (info.name, k))
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
        raise einval("data must be a list of row dicts or a dict of columns")
    rows = list(data)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise einval("row %d is a %s, not a dict" % (i, type(row).__name__))
    names = info.by_name
    cols = {}
    for name in names:
        col = [row.get(name, MISSING) for row in rows]
        if any(v is not MISSING for v in col):
            cols[name] = col
    metas = None
    extra_rows = [(i, row.keys() - names.keys()) for i, row in enumerate(rows)]
    if any(extra for _, extra in extra_rows):
        if not info.dynamic:
            i, extra = next((i, e) for i, e in extra_rows if e)
            raise einval("collection '%s' has no field '%s' (and dynamic fields are off)"
                         % (info.name, sorted(extra)[0]))
        metas = []
        for (i, extra), row in zip(extra_rows, rows):
            m = {}
            if DYNAMIC_FIELD in extra:
                meta = row[DYNAMIC_FIELD] or {}
                if not isinstance(meta, dict):
                    raise einval("row %d: '%s' must be a dict of dynamic fields" % (i,
                                                                                     DYNAMIC_FIELD))
                m.update(meta)
            for k in extra:
                if k != DYNAMIC_FIELD:
                    m[k] = row[k]
            metas.append(m)
    return len(rows), cols, metas


def check_writable(info, cols, upsert):
    if info.pk.auto_id and info.pk.name in cols:
        raise einval("primary key '%s' is auto_id: the rows must not give it (%s)"
                     % (info.pk.name, "upsert" if upsert else "insert"))


def sparse_row(v, what):
    """(indices, values) of one sparse vector as pymilvus takes it: a dict {index: value}, an
    (indices, values) pair, or a scipy sparse matrix of one row; sorted by index (as Milvus
    sorts a dict); duplicates, a bad index and NaN/Inf refused here, negatives by the library."""
    if hasattr(v, "tocoo") and hasattr(v, "shape"):  # scipy.sparse, one row
        if len(v.shape) != 2 or v.shape[0] != 1:
            raise einval("%s: a sparse matrix row must have shape (1, n), not %s"
                         % (what, v.shape))
        coo = v.tocoo()
        pairs = list(zip(coo.col.tolist(), coo.data.tolist()))
    elif isinstance(v, dict):
        pairs = list(v.items())
    elif isinstance(v, (list, tuple)) and len(v) == 2 and is_seq(v[0]) and is_seq(v[1]):
        idx = v[0].tolist() if np is not None and isinstance(v[0], np.ndarray) else list(v[0])
        val = v[1].tolist() if np is not None and isinstance(v[1], np.ndarray) else list(v[1])
        if len(idx) != len(val):
            raise einval("%s: %d indices but %d values" % (what, len(idx), len(val)))
        pairs = list(zip(idx, val))
    else:
        raise einval("%s: a sparse vector is a dict {index: value} or an (indices, values) "
                     "pair, not %r" % (what, type(v).__name__))
    out = []
    for k, x in pairs:
        if np is not None and isinstance(k, np.generic):
            k = k.item()
        if isinstance(k, str) and k.isdigit():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k < 2**32 - 1:
            raise einval("%s: sparse index %r is not an integer in [0, 2^32 - 1)" % (what, k))
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise einval("%s: the value of sparse index %d is not a number (%r)" % (what, k, x))
        if not math.isfinite(float(x)):
            raise einval("%s: the value of sparse index %d is NaN or Inf" % (what, k))
        out.append((int(k), float(x)))
    out.sort(key=lambda p: p[0])
    for a, b in zip(out, out[1:]):
        if a[0] == b[0]:
            raise einval("%s: duplicate sparse index %d" % (what, a[0]))
    return [p[0] for p in out], [p[1] for p in out]


def sparse_rows(values, what):
    """(keep-alive, ctypes array of vdb_sparse_row, rows) for a list of sparse vectors (or
    a scipy sparse matrix, one row per vector)."""
    from ctypes import POINTER, c_float, c_uint32
    from ._lib import vdb_sparse_row
    if hasattr(values, "tocsr") and hasattr(values, "shape"):
        m = values.tocsr()
        values = [m.getrow(i) for i in range(m.shape[0])]
    elif isinstance(values, dict) or (isinstance(values, tuple) and len(values) == 2 and
                                      is_seq(values[0]) and not isinstance(values[0], dict)
                                      and values and is_seq(values[1]) and
                                      (len(values[0]) == 0 or
                                       not is_seq(values[0][0]))):
        values = [values]  # one vector
    values = list(values)
    rows = (vdb_sparse_row * max(len(values), 1))()
    keep = [rows]
    for i, v in enumerate(values):
        if v is None or v is MISSING:
            raise einval("%s row %d: no sparse vector" % (what, i))
        idx, val = sparse_row(v, "%s row %d" % (what, i))
        n = len(idx)
        ia, va = (c_uint32 * max(n, 1))(*idx), (c_float * max(n, 1))(*val)
        keep += [ia, va]
        rows[i].count = n
        rows[i].indices = ia
        rows[i].values = va
    return keep, rows, len(values)
_ELEM_SIZE = {DataType.FLOAT16_VECTOR: 2, DataType.BFLOAT16_VECTOR: 2, DataType.INT8_VECTOR: 1}


def _bf16_bits(x):
    """float32 to bfloat16 bits, rounding to nearest even (as the C library's vdb_f32_to_bf16)."""
    u = struct.unpack("<I", struct.pack("<f", x))[0]
    if (u & 0x7fffffff) > 0x7f800000:
        return (u >> 16) | 0x40
    return ((u + 0x7fff + ((u >> 16) & 1)) >> 16) & 0xffff


def _unwrap(v):
    """A vector as query, get and search return one of these types: a list holding its bytes
    (pymilvus's form), taken back by inserts as the bytes themselves."""
    if isinstance(v, list) and len(v) == 1 and isinstance(v[0], (bytes, bytearray, memoryview)):
        return v[0]
    return v


def pack_vector(v, t, dim, what):
    """One FLOAT16 / BFLOAT16 / INT8 vector as its stored bytes: bytes of dim elements (checked
    for length), or a list of dim numbers (floats rounded to the type; int8 values must be
    whole numbers in -128..127). NaN and infinity are left for the library to refuse.
    BINARY_VECTOR: binary_vector."""
    if t == DataType.BINARY_VECTOR:
        return binary_vector(v, dim, what)
    v = _unwrap(v)
    w = _ELEM_SIZE[t]
    if isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        if len(b) != dim * w:
            raise einval("%s: %d bytes, a %s of dim %d takes %d" % (what, len(b), t.name, dim,
                                                                 dim * w))
        return b
    if np is not None and isinstance(v, np.ndarray):
        v = v.tolist()
    try:
        vals = [float(x) for x in v]
    except (TypeError, ValueError) as e:
        raise einval("%s: a vector is bytes or a list of numbers (%s)" % (what, e))
    if len(vals) != dim:
        raise einval("%s: vectors of %d values, the field's dim is %d" % (what, len(vals), dim))
    if t == DataType.INT8_VECTOR:
        for x in vals:
            if not (-128 <= x <= 127) or x != int(x):
                raise einval("%s: %r is not an int8 (-128..127)" % (what, x))
        return struct.pack("<%db" % dim, *[int(x) for x in vals])
    if t == DataType.FLOAT16_VECTOR:
        try:
            return struct.pack("<%de" % dim, *vals)
        except OverflowError:
            raise einval("%s: a value is beyond float16's range (+-65504)" % what)
    return struct.pack("<%dH" % dim, *[_bf16_bits(x) for x in vals])


def binary_vector(v, dim, what):
    """One BINARY_VECTOR of dim bits as pymilvus takes it: bytes (or a uint8 numpy array) of
    dim / 8 bytes, numpy.packbits' bit order (or a list holding those bytes, as reads return
    them). Other lists are refused, as pymilvus does."""
    v = _unwrap(v)
    if np is not None and isinstance(v, np.ndarray) and v.dtype == np.uint8 and v.ndim == 1:
        v = v.tobytes()
    if not isinstance(v, (bytes, bytearray, memoryview)):
        raise einval("%s: a BINARY_VECTOR is bytes of dim / 8 (e.g. numpy.packbits(bits)"
                     ".tobytes()), not %s" % (what, type(v).__name__))
    b = bytes(v)
    if len(b) != dim // 8:
        raise einval("%s: %d bytes, a BINARY_VECTOR of dim %d takes %d (dim / 8)"
                     % (what, len(b), dim, dim // 8))
    return b


def binary_queries(data, dim, what):
    """Search data of a BINARY_VECTOR field (bytes, or a list of them) as (buffer, address,
    nq, dim): nq * dim / 8 bytes in one C buffer."""
    from ctypes import addressof, create_string_buffer
    if isinstance(data, (bytes, bytearray, memoryview)) or \
            (np is not None and isinstance(data, np.ndarray) and data.ndim == 1):
        data = [data]
    b = b"".join(binary_vector(v, dim, "%s row %d" % (what, i)) for i, v in enumerate(data))
    buf = create_string_buffer(b, max(len(b), 1))
    return buf, addressof(buf), len(b) // (dim // 8) if dim >= 8 else 0, dim


def unpack_vector(b, t, dim):
    """The float values of a stored FLOAT16 / BFLOAT16 / INT8 vector (bytes)."""
    if t == DataType.INT8_VECTOR:
        return [float(x) for x in struct.unpack("<%db" % dim, b)]
    if t == DataType.FLOAT16_VECTOR:
        return list(struct.unpack("<%de" % dim, b))
    return [struct.unpack("<f", struct.pack("<I", h << 16))[0]
            for h in struct.unpack("<%dH" % dim, b)]


def packed_vectors(values, t, dim, n, what):
    """A column of n FLOAT16 / BFLOAT16 / INT8 vectors as one bytes object (pack_vector)."""
    values = list(values)
    if len(values) != n:
        raise einval("%s has %d vectors for %d rows" % (what, len(values), n))
    out = []
    for i, v in enumerate(values):
        if v is None or v is MISSING:
            raise einval("%s row %d: no vector" % (what, i))
        out.append(pack_vector(v, t, dim, "%s row %d" % (what, i)))
    return b"".join(out)


def query_floats(data, t, dim, what):
    """Search data for a field of type t: bytes vectors of a FLOAT16 / BFLOAT16 / INT8 field
    become their float values (the library takes float queries for every dense type)."""
    if t not in _ELEM_SIZE:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = [data]
    out = []
    for i, v in enumerate(data):
        v = _unwrap(v)
        if isinstance(v, (bytes, bytearray, memoryview)):
            v = unpack_vector(bytes(pack_vector(v, t, dim, "%s row %d" % (what, i))), t, dim)
        out.append(v)
    return out


def vectors(values, what, dim=None):
    """(buffer, address, rows, dim): a contiguous float32 copy (or view) of values, checked:
    numbers, one length (dim when given), all finite."""
    if np is not None:
        if isinstance(values, np.ndarray):
            arr = values
        else:
            values = list(values)
            for i, v in enumerate(values):
                if v is None or v is MISSING:
                    raise einval("%s row %d: no vector" % (what, i))
            try:
                arr = np.asarray(values, dtype=np.float32)
            except (ValueError, TypeError) as e:
                raise einval("%s: vectors must be lists of numbers of one length (%s)"
                             % (what, e))
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2:
            raise einval("%s: expected a list of vectors, got an array of shape %s"
                         % (what, arr.shape))
        if dim is not None and arr.shape[0] and arr.shape[1] != dim:
            raise einval("%s: vectors of %d values, the field's dim is %d"
                         % (what, arr.shape[1], dim))
        if arr.size and not np.isfinite(arr).all():
            row = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise einval("%s row %d: NaN or infinity in a vector" % (what, row))
        return arr, arr.ctypes.data, arr.shape[0], arr.shape[1]
    values = list(values)
    if values and isinstance(values[0], numbers.Real):
        values = [values]  # one vector
    buf = array.array("f")
    d0 = None
    for i, v in enumerate(values):
        if v is None or v is MISSING:
            raise einval("%s row %d: no vector" % (what, i))
        try:
            n0 = len(buf)
            buf.extend(float(x) for x in v)
        except (TypeError, ValueError) as e:
            raise einval("%s row %d: not a list of numbers (%s)" % (what, i, e))
        d = len(buf) - n0
        if d0 is None:
            d0 = d
            if dim is not None and d != dim:
                raise einval("%s: vectors of %d values, the field's dim is %d" % (what, d, dim))
        elif d != d0:
            raise einval("%s row %d: %d values, row 0 has %d" % (what, i, d, d0))
        if not all(math.isfinite(x) for x in buf[n0:]):
            raise einval("%s row %d: NaN or infinity in a vector" % (what, i))
    if not values:
        return buf, 0, 0, 0
    return buf, buf.buffer_info()[0], len(values), d0


def vector_rows(buf, rows, dim):
    """The vectors of a vectors() buffer as lists of floats (the float32 values)."""
    if np is not None and isinstance(buf, np.ndarray):
        return buf.tolist()
    flat = buf.tolist()
    return [flat[i * dim:(i + 1) * dim] for i in range(rows)]


def clean_column(f, name, values, n):
    """A scalar column as Python values (None where NULL or missing), each checked against the
    field's type: bools are bools, integers in range, floats finite numbers, VARCHAR strings,
    ARRAY lists, JSON anything JSON can hold."""
    t = f.dtype if f is not None else DataType.JSON
    if np is not None and isinstance(values, np.ndarray):
        values = values.tolist()
    out = []
    what = "field '%s' row %d"
    for i, v in enumerate(values):
        if v is None or v is MISSING:
            out.append(None)
            continue
        if np is not None and isinstance(v, np.generic):
            v = v.item()
        if t == DataType.BOOL:
            if not isinstance(v, bool):
                raise einval((what + ": %r is not a bool") % (name, i, v))
        elif t in INT_RANGES:
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise einval((what + ": %r is not an integer") % (name, i, v))
            v = int(v)
            lo, hi = INT_RANGES[t]
            if not lo <= v <= hi:
                raise einval((what + ": %d is out of range for %s") % (name, i, v, t.name))
        elif t in (DataType.FLOAT, DataType.DOUBLE):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise einval((what + ": %r is not a number") % (name, i, v))
            v = float(v)
            if not math.isfinite(v):
                raise einval((what + ": NaN or infinity is not a value") % (name, i))
        elif t == DataType.VARCHAR:
            if not isinstance(v, str):
                raise einval((what + ": %r is not a string") % (name, i, v))
        elif t == DataType.ARRAY:
            if np is not None and isinstance(v, np.ndarray):
                v = v.tolist()
            if not isinstance(v, (list, tuple)):
                raise einval((what + ": %r is not a list") % (name, i, v))
            v = list(v)
        else:  # JSON and the dynamic field
            try:
                dumps(v)
            except (TypeError, ValueError) as e:
                raise einval((what + ": not JSON serializable (%s)") % (name, i, e))
        out.append(v)
    if len(out) != n:
        raise einval("field '%s' has %d values for %d rows" % (name, len(out), n))
    return out
