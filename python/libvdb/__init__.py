"""libvdb: Python client of the libvdb vector database, shaped like pymilvus's MilvusClient.

    import libvdb
    with libvdb.MilvusClient("./my.db") as client:     # embedded: a folder, through libvdb.so
        client.create_collection("docs", dimension=4)
        client.insert("docs", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4], "title": "a"}])
        print(client.search("docs", [[0.1, 0.2, 0.3, 0.4]], limit=3, output_fields=["title"]))

    client = libvdb.MilvusClient("http://127.0.0.1:19530", token="root:Milvus")  # vdb-server

See python/README.md.
"""

from . import _lib
from .client import Client, MilvusClient
from .rankers import AnnSearchRequest, RRFRanker, WeightedRanker
from .errors import (AlreadyExistsError, AuthenticationError, ConflictError,
                     ConnectionFailedError, CorruptError, InvalidArgumentError, LockedError,
                     NotFoundError, OutOfMemoryError, PermissionDeniedError, RangeError,
                     ReadOnlyError, Status, StorageIOError,
                     TimedOutError, UnsupportedError, VdbError, VersionError)
from .schema import (CollectionSchema, DataType, FieldSchema, Function, FunctionType,
                     IndexParams, LoadState, MetricType, Schema)

__version__ = "0.2.0"


def library_version():
    """The version of the loaded libvdb.so, e.g. "0.1.0"."""
    return _lib.get().vdb_version().decode()


def library_path():
    """The path libvdb.so was loaded from."""
    return _lib.get().path


__all__ = [
    "Client", "MilvusClient", "Schema", "CollectionSchema", "FieldSchema", "IndexParams",
    "DataType", "MetricType", "LoadState", "Function", "FunctionType", "Status", "AuthenticationError",
    "ConnectionFailedError", "VdbError", "InvalidArgumentError", "NotFoundError",
    "AlreadyExistsError", "StorageIOError", "CorruptError", "UnsupportedError",
    "OutOfMemoryError", "LockedError", "VersionError", "ConflictError", "RangeError",
    "TimedOutError", "ReadOnlyError", "library_version", "library_path", "AnnSearchRequest", "RRFRanker",
    "WeightedRanker", "PermissionDeniedError",
]
