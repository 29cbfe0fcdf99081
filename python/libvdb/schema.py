"""DataType, LoadState, the schema builder and index parameters, shaped like pymilvus's."""

import enum
import json

from .errors import InvalidArgumentError, Status, UnsupportedError

__all__ = ["DataType", "MetricType", "LoadState", "FieldSchema", "Schema", "CollectionSchema",
           "IndexParams", "Function", "FunctionType"]


def _unsupported(msg):
    return UnsupportedError(Status.EUNSUPPORTED, msg)


class DataType(enum.IntEnum):
    """Field types; the numbers are Milvus's (and libvdb's vdb_type)."""

    NONE = 0
    BOOL = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    FLOAT = 10
    DOUBLE = 11
    STRING = 20
    VARCHAR = 21
    ARRAY = 22
    JSON = 23
    GEOMETRY = 24
    TEXT = 25
    TIMESTAMPTZ = 26
    BINARY_VECTOR = 100
    FLOAT_VECTOR = 101
    FLOAT16_VECTOR = 102
    BFLOAT16_VECTOR = 103
    SPARSE_FLOAT_VECTOR = 104
    INT8_VECTOR = 105


class MetricType(enum.IntEnum):
    L2 = 1
    IP = 2
    COSINE = 3
    HAMMING = 4  # BINARY_VECTOR fields
    JACCARD = 5
    BM25 = 6  # the SPARSE_FLOAT_VECTOR output of a BM25 function


class FunctionType(enum.IntEnum):
    """pymilvus's FunctionType; libvdb builds BM25 only."""

    UNKNOWN = 0
    BM25 = 1
    TEXTEMBEDDING = 2
    RERANK = 3


class Function:
    """A schema function, as pymilvus's Function: BM25 from one VARCHAR field with
    enable_analyzer to one SPARSE_FLOAT_VECTOR field, computed at insert (leave the output
    out of the rows) and searched with text (search(data=["some words"]))."""

    def __init__(self, name, function_type, input_field_names, output_field_names,
                 description="", params=None):
        self.name = name
        try:
            self.type = FunctionType(function_type)
        except ValueError:
            raise InvalidArgumentError(Status.EINVAL, "function '%s': unknown function type %r"
                                       % (name, function_type))
        if self.type != FunctionType.BM25:
            raise _unsupported("function '%s': libvdb has no %s functions (BM25 only)"
                               % (name, self.type.name))
        ins = [input_field_names] if isinstance(input_field_names, str) else list(input_field_names)
        outs = ([output_field_names] if isinstance(output_field_names, str)
                else list(output_field_names))
        if len(ins) != 1 or len(outs) != 1:
            raise InvalidArgumentError(Status.EINVAL, "function '%s': BM25 takes one input and "
                                       "one output field" % name)
        if params:
            raise InvalidArgumentError(Status.EINVAL, "function '%s': BM25 takes no params (%s)"
                                       % (name, ", ".join(map(str, params))))
        self.input_field_names, self.output_field_names = ins, outs
        self.description = description or ""

    def to_dict(self):
        return {"name": self.name, "type": self.type, "input_field_names": self.input_field_names,
                "output_field_names": self.output_field_names, "description": self.description,
                "params": {}}

    def __repr__(self):
        return "Function(%r)" % (self.to_dict(),)


class LoadState(enum.IntEnum):
    """pymilvus's LoadState (get_load_state()["state"]). libvdb keeps every collection loaded:
    an existing collection or partition is always Loaded."""

    NotExist = 0
    NotLoad = 1
    Loading = 2
    Loaded = 3

    def __repr__(self):
        return "<LoadState: %s>" % self.name

    def __str__(self):
        return self.name


SCALAR_TYPES = (DataType.BOOL, DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64,
                DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR, DataType.ARRAY, DataType.JSON)
# the field types libvdb stores (vdb_type); pymilvus's other DataTypes are refused by name
# dense vectors: FLOAT16 / BFLOAT16 take lists of floats or the raw little-endian 2-byte
# elements (bytes), INT8 lists of ints in -128..127 or bytes; they come back as a list holding
# the bytes ([b"..."]), as pymilvus returns them (inserts take that form back too)
# BINARY_VECTOR takes bytes of dim / 8 (dim in bits), as pymilvus, and gives [bytes] back
DENSE_VECTOR_TYPES = (DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR, DataType.BFLOAT16_VECTOR,
                      DataType.INT8_VECTOR, DataType.BINARY_VECTOR)
VECTOR_TYPES = DENSE_VECTOR_TYPES + (DataType.SPARSE_FLOAT_VECTOR,)
SUPPORTED_TYPES = SCALAR_TYPES + VECTOR_TYPES
ARRAY_ELEMENT_TYPES = (DataType.BOOL, DataType.INT8, DataType.INT16, DataType.INT32,
                       DataType.INT64, DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR)


def to_datatype(t):
    if isinstance(t, DataType):
        return t
    if isinstance(t, str):
        try:
            return DataType[t.upper()]
        except KeyError:
            pass
    else:
        try:
            return DataType(int(t))
        except (ValueError, TypeError):
            pass
    raise InvalidArgumentError(Status.EINVAL, "unknown data type %r" % (t,))


def to_metric(m):
    """MetricType from "L2" / "ip" / MetricType / int; None stays None."""
    if m is None or m == "":
        return None
    if isinstance(m, MetricType):
        return m
    if isinstance(m, str):
        try:
            return MetricType[m.upper()]
        except KeyError:
            pass
    else:
        try:
            return MetricType(int(m))
        except (ValueError, TypeError):
            pass
    raise InvalidArgumentError(Status.EINVAL, "unknown metric type %r (L2, IP, COSINE; HAMMING, JACCARD)" % (m,))


class FieldSchema:
    """One field. Attributes mirror vdb_field_def; default_value is a Python value."""

    _NO_DEFAULT = object()

    def __init__(self, name, datatype, is_primary=False, auto_id=False, max_length=None, dim=None,
                 element_type=None, max_capacity=None, nullable=False,
                 default_value=_NO_DEFAULT, metric_type=None, description="",
                 is_partition_key=False, is_clustering_key=False, mmap_enabled=None,
                 enable_analyzer=False, enable_match=False, analyzer_params=None,
                 is_function_output=False):
        self.name = name
        self.dtype = to_datatype(datatype)
        if self.dtype not in SUPPORTED_TYPES:
            raise _unsupported("field '%s': libvdb has no %s fields (it stores BOOL, INT8..INT64, "
                               "FLOAT, DOUBLE, VARCHAR, ARRAY, JSON, FLOAT_VECTOR, FLOAT16_VECTOR, "
                               "BFLOAT16_VECTOR, INT8_VECTOR, BINARY_VECTOR and SPARSE_FLOAT_VECTOR)"
                               % (name, self.dtype.name))
        for flag, what in ((is_clustering_key, "clustering keys (is_clustering_key)"),
                           (mmap_enabled, "mmap_enabled")):
            if flag:
                raise _unsupported("field '%s': libvdb has no %s" % (name, what))
        # checked by the library (enable_match: not built, UnsupportedError at create)
        self.enable_analyzer = bool(enable_analyzer)
        self.enable_match = bool(enable_match)
        if analyzer_params is not None and not isinstance(analyzer_params, (dict, str)):
            raise InvalidArgumentError(Status.EINVAL, "field '%s': analyzer_params is a dict "
                                       "(or its JSON text)" % name)
        self.analyzer_params = (json.loads(analyzer_params) if isinstance(analyzer_params, str)
                                else analyzer_params)
        self.is_function_output = bool(is_function_output)
        self.is_primary = bool(is_primary)
        self.is_partition_key = bool(is_partition_key)
        self.auto_id = bool(auto_id)
        self.max_length = max_length
        self.dim = dim
        self.element_type = to_datatype(element_type) if element_type is not None else None
        if self.element_type is not None and self.element_type not in ARRAY_ELEMENT_TYPES:
            raise _unsupported("field '%s': libvdb has no arrays of %s"
                               % (name, self.element_type.name))
        self.max_capacity = max_capacity
        self.nullable = bool(nullable)
        self.has_default = default_value is not FieldSchema._NO_DEFAULT
        self.default_value = default_value if self.has_default else None
        self.metric_type = to_metric(metric_type)
        self.description = description or ""

    def default_json(self):
        if not self.has_default:
            return None
        return json.dumps(self.default_value)

    def to_dict(self):
        d = {"name": self.name, "description": self.description, "type": self.dtype,
             "params": {}}
        if self.dtype in VECTOR_TYPES:
            if self.dtype in DENSE_VECTOR_TYPES:
                d["params"]["dim"] = self.dim
            if self.metric_type is not None:
                d["params"]["metric_type"] = self.metric_type.name
        if self.max_length:
            d["params"]["max_length"] = self.max_length
        if self.dtype == DataType.ARRAY:
            d["element_type"] = self.element_type
            d["params"]["max_capacity"] = self.max_capacity
        if self.is_primary:
            d["is_primary"] = True
        if self.auto_id:
            d["auto_id"] = True
        if self.is_partition_key:
            d["is_partition_key"] = True
        if self.nullable:
            d["nullable"] = True
        if self.has_default:
            d["default_value"] = self.default_value
        if self.enable_analyzer:
            d["params"]["enable_analyzer"] = True
        if self.analyzer_params is not None:
            d["params"]["analyzer_params"] = self.analyzer_params
        if self.enable_match:
            d["params"]["enable_match"] = True
        if self.is_function_output:
            d["is_function_output"] = True
        return d

    def analyzer_json(self):
        return None if self.analyzer_params is None else json.dumps(self.analyzer_params)

    def __repr__(self):
        return "FieldSchema(%r)" % (self.to_dict(),)


class Schema:
    """A collection schema builder, like pymilvus's CollectionSchema / MilvusClient.create_schema.

        schema = libvdb.Schema(enable_dynamic_field=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=128, metric_type="L2")

    auto_id here applies to the primary key when add_field does not say; primary_field names
    the primary key among fields, partition_key_field the partition key (or add_field(...,
    is_partition_key=True); the number of partitions is create_collection's num_partitions).
    functions (or add_function): BM25 Functions. Clustering keys are refused
    (UnsupportedError); other keyword arguments are a TypeError.
    """

    def __init__(self, fields=None, description="", auto_id=None, enable_dynamic_field=False,
                 num_shards=None, primary_field=None, check_fields=True,
                 partition_key_field=None, clustering_key_field=None, functions=None,
                 enable_namespace=False):
        self.fields = []
        self.description = description or ""
        self.auto_id = auto_id
        self.enable_dynamic_field = bool(enable_dynamic_field)
        self.num_shards = num_shards
        self.partition_key_field = partition_key_field
        self.functions = []
        for fn in functions or []:
            self.add_function(fn)
        for flag, what in ((clustering_key_field, "clustering keys (clustering_key_field)"),
                           (enable_namespace, "namespaces (enable_namespace)")):
            if flag:
                raise _unsupported("libvdb has no %s" % what)
        for f in fields or []:
            if not isinstance(f, FieldSchema):
                raise InvalidArgumentError(Status.EINVAL, "Schema fields must be FieldSchema, "
                                           "not %s" % type(f).__name__)
            self.fields.append(f)
        if primary_field is not None:
            named = [f for f in self.fields if f.name == primary_field]
            if not named:
                raise InvalidArgumentError(Status.EINVAL, "primary_field '%s' is not among the "
                                           "fields" % primary_field)
            named[0].is_primary = True
            if auto_id is not None:
                named[0].auto_id = bool(auto_id)
        if partition_key_field is not None and self.fields:  # else add_field marks it
            named = [f for f in self.fields if f.name == partition_key_field]
            if not named:
                raise InvalidArgumentError(Status.EINVAL, "partition_key_field '%s' is not "
                                           "among the fields" % partition_key_field)
            named[0].is_partition_key = True

    def add_field(self, field_name, datatype, is_primary=False, **kwargs):
        """Adds a field (FieldSchema's keyword arguments) and returns the schema (calls
        chain)."""
        if is_primary and "auto_id" not in kwargs and self.auto_id is not None:
            kwargs["auto_id"] = self.auto_id
        if field_name == self.partition_key_field:
            kwargs.setdefault("is_partition_key", True)
        self.fields.append(FieldSchema(field_name, datatype, is_primary=is_primary, **kwargs))
        return self

    def add_function(self, function):
        """Adds a Function (BM25) and returns the schema."""
        if not isinstance(function, Function):
            raise InvalidArgumentError(Status.EINVAL, "add_function takes a Function, not %s"
                                       % type(function).__name__)
        self.functions.append(function)
        return self

    @property
    def primary_field(self):
        for f in self.fields:
            if f.is_primary:
                return f
        return None

    def to_dict(self):
        return {"description": self.description, "enable_dynamic_field": self.enable_dynamic_field,
                "fields": [f.to_dict() for f in self.fields],
                "functions": [f.to_dict() for f in self.functions]}

    def __repr__(self):
        return "Schema(%r)" % (self.to_dict(),)


CollectionSchema = Schema


class IndexParams:
    """A list of indexes to build, like pymilvus's MilvusClient.prepare_index_params().

    add_index(field_name, index_type, index_name, metric_type=..., params={...}); other keyword
    arguments are index parameters too (M=16), as in pymilvus. index_name: default the
    field's name (see MilvusClient.create_index)."""

    def __init__(self):
        self.indexes = []

    def add_index(self, field_name, index_type="", index_name="", metric_type=None,
                  params=None, **kwargs):
        params = dict(params or {}, **kwargs)
        # pymilvus also takes them inside params
        index_type = index_type or params.pop("index_type", None) or "AUTOINDEX"
        metric_type = metric_type or params.pop("metric_type", None)
        self.indexes.append({"field_name": field_name, "index_type": str(index_type),
                             "index_name": index_name or "",
                             "metric_type": to_metric(metric_type), "params": params})
        return self

    def __iter__(self):
        return iter(self.indexes)

    def __len__(self):
        return len(self.indexes)
