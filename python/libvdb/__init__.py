"""libvdb: Python bindings (ctypes) for the libvdb embeddable vector database.

    import libvdb
    with libvdb.Client("./my.db") as client:
        client.create_collection("docs", dimension=4)
        client.insert("docs", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4], "title": "a"}])
        print(client.search("docs", [[0.1, 0.2, 0.3, 0.4]], limit=3, output_fields=["title"]))

The Client follows pymilvus's MilvusClient; see python/README.md.
"""

from . import _lib
from .client import Client
from .errors import (AlreadyExistsError, ConflictError, CorruptError, InvalidArgumentError,
                     LockedError, NotFoundError, OutOfMemoryError, RangeError, Status,
                     StorageIOError, TimedOutError, UnsupportedError, VdbError, VersionError)
from .schema import CollectionSchema, DataType, FieldSchema, IndexParams, MetricType, Schema

__version__ = "0.1.0"

MilvusClient = Client  # for code written against pymilvus


def library_version():
    """The version of the loaded libvdb.so, e.g. "0.1.0"."""
    return _lib.get().vdb_version().decode()


def library_path():
    """The path libvdb.so was loaded from."""
    return _lib.get().path


__all__ = [
    "Client", "MilvusClient", "Schema", "CollectionSchema", "FieldSchema", "IndexParams",
    "DataType", "MetricType", "Status", "VdbError", "InvalidArgumentError", "NotFoundError",
    "AlreadyExistsError", "StorageIOError", "CorruptError", "UnsupportedError",
    "OutOfMemoryError", "LockedError", "VersionError", "ConflictError", "RangeError",
    "TimedOutError", "library_version", "library_path",
]
