"""DataType, the schema builder and index parameters, shaped like pymilvus's."""

import enum
import json

from .errors import InvalidArgumentError, Status

__all__ = ["DataType", "MetricType", "FieldSchema", "Schema", "CollectionSchema", "IndexParams"]


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
    VARCHAR = 21
    ARRAY = 22
    JSON = 23
    FLOAT_VECTOR = 101


class MetricType(enum.IntEnum):
    L2 = 1
    IP = 2
    COSINE = 3


SCALAR_TYPES = (DataType.BOOL, DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64,
                DataType.FLOAT, DataType.DOUBLE, DataType.VARCHAR, DataType.ARRAY, DataType.JSON)


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
    raise InvalidArgumentError(Status.EINVAL, "unknown metric type %r (L2, IP or COSINE)" % (m,))


class FieldSchema:
    """One field. Attributes mirror vdb_field_def; default_value is a Python value."""

    _NO_DEFAULT = object()

    def __init__(self, name, datatype, is_primary=False, auto_id=False, max_length=None, dim=None,
                 element_type=None, max_capacity=None, nullable=False,
                 default_value=_NO_DEFAULT, metric_type=None, description=""):
        self.name = name
        self.dtype = to_datatype(datatype)
        self.is_primary = bool(is_primary)
        self.auto_id = bool(auto_id)
        self.max_length = max_length
        self.dim = dim
        self.element_type = to_datatype(element_type) if element_type is not None else None
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
        if self.dtype == DataType.FLOAT_VECTOR:
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
        if self.nullable:
            d["nullable"] = True
        if self.has_default:
            d["default_value"] = self.default_value
        return d

    def __repr__(self):
        return "FieldSchema(%r)" % (self.to_dict(),)


class Schema:
    """A collection schema builder, like pymilvus's CollectionSchema / MilvusClient.create_schema.

        schema = libvdb.Schema(enable_dynamic_field=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=128, metric_type="L2")

    auto_id here applies to the primary key when add_field does not say.
    """

    def __init__(self, fields=None, description="", auto_id=None, enable_dynamic_field=False,
                 num_shards=None, **kwargs):
        self.fields = []
        self.description = description or ""
        self.auto_id = auto_id
        self.enable_dynamic_field = bool(enable_dynamic_field)
        self.num_shards = num_shards
        for f in fields or []:
            self.fields.append(f)

    def add_field(self, field_name, datatype, is_primary=False, **kwargs):
        """Adds a field and returns the schema (calls chain)."""
        if is_primary and "auto_id" not in kwargs and self.auto_id is not None:
            kwargs["auto_id"] = self.auto_id
        self.fields.append(FieldSchema(field_name, datatype, is_primary=is_primary, **kwargs))
        return self

    @property
    def primary_field(self):
        for f in self.fields:
            if f.is_primary:
                return f
        return None

    def to_dict(self):
        return {"description": self.description, "enable_dynamic_field": self.enable_dynamic_field,
                "fields": [f.to_dict() for f in self.fields]}

    def __repr__(self):
        return "Schema(%r)" % (self.to_dict(),)


CollectionSchema = Schema


class IndexParams:
    """A list of indexes to build, like pymilvus's MilvusClient.prepare_index_params()."""

    def __init__(self):
        self.indexes = []

    def add_index(self, field_name, index_type="AUTOINDEX", index_name="", metric_type=None,
                  params=None, **kwargs):
        self.indexes.append({"field_name": field_name, "index_type": index_type or "AUTOINDEX",
                             "index_name": index_name or field_name,
                             "metric_type": to_metric(metric_type),
                             "params": dict(params or {}, **kwargs)})
        return self

    def __iter__(self):
        return iter(self.indexes)

    def __len__(self):
        return len(self.indexes)
