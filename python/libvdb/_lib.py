"""ctypes declarations of include/vdb/vdb.h and types.h, and the loader of libvdb.so.

The library is looked up, in order: $LIBVDB_PATH (a file), a libvdb.so* next to this package,
ctypes.util.find_library("vdb"), then "libvdb.so.0" through the dynamic linker's path.
Functions are resolved on first use, so a libvdb.so that lacks a newer symbol still imports;
calling the missing function raises UnsupportedError. The library is loaded with ctypes.CDLL,
which releases the GIL during every foreign call: long searches do not block other threads.
"""

import ctypes
import ctypes.util
import glob
import os
import threading
from ctypes import (POINTER, Structure, Union, c_char_p, c_double, c_float, c_int, c_int64,
                    c_size_t, c_uint8, c_uint32, c_uint64, c_void_p, sizeof)

from .errors import Status, UnsupportedError

# ---- enums (as C ints) -------------------------------------------------------------------

c_enum = c_int

SYNC_FULL, SYNC_BATCH, SYNC_OFF = 0, 1, 2
CONSISTENCY_STRONG, CONSISTENCY_BOUNDED, CONSISTENCY_SESSION, CONSISTENCY_EVENTUALLY = 0, 1, 2, 3
METRIC_L2, METRIC_IP, METRIC_COSINE = 1, 2, 3

# ---- structs ------------------------------------------------------------------------------


class _Sized(Structure):
    """A struct whose first field is struct_size: set on creation, as the C API requires."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.struct_size = sizeof(self)


class vdb_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("sync", c_enum),
        ("sync_interval_ms", c_uint32),
        ("segment_max_rows", c_uint64),
        ("segment_max_bytes", c_uint64),
        ("retention_seconds", c_uint64),
        ("compaction_interval_ms", c_uint32),
        ("compaction_min_segments", c_uint32),
        ("log_uri", c_char_p),
        ("meta_uri", c_char_p),
        ("object_uri", c_char_p),
        ("disable_io_uring", c_int),
        ("index_build_workers", c_uint32),
        ("index_build_threads", c_uint32),
        ("search_threads", c_uint32),
        ("segment_idle_seal_ms", c_uint32),
        ("mmap", c_uint32),
        ("mmap_cache_dir", c_char_p),
        ("mmap_cache_bytes", c_uint64),
        ("memory_budget_bytes", c_uint64),
        ("tick_interval_ms", c_uint32),
        ("read_only", c_uint32),
        ("read_only_refresh_ms", c_uint32),
        ("read_only_strong_timeout_ms", c_uint32),
    ]


class vdb_change_opts(_Sized):
    _fields_ = [("struct_size", c_uint32), ("start_ts", c_uint64), ("caught_up_marks", c_int)]


class vdb_change(_Sized):
    _fields_ = [("struct_size", c_uint32), ("kind", c_enum), ("ts", c_uint64),
                ("partition", c_char_p), ("rows", c_void_p)]


class vdb_field_def(_Sized):
    _fields_ = [
        ("struct_size", c_uint32),
        ("name", c_char_p),
        ("type", c_enum),
        ("element_type", c_enum),
        ("dim", c_uint32),
        ("metric", c_enum),
        ("max_length", c_uint32),
        ("max_capacity", c_uint32),
        ("is_primary", c_int),
        ("auto_id", c_int),
        ("nullable", c_int),
        ("default_json", c_char_p),
        ("description", c_char_p),
        ("is_partition_key", c_int),
        ("enable_analyzer", c_int),
        ("analyzer_params", c_char_p),
        ("enable_match", c_int),
    ]


class vdb_function_def(_Sized):
    _fields_ = [
        ("struct_size", c_uint32),
        ("name", c_char_p),
        ("type", c_enum),
        ("input_field", c_char_p),
        ("output_field", c_char_p),
        ("description", c_char_p),
    ]


class vdb_create_opts(_Sized):
    _fields_ = [
        ("struct_size", c_uint32),
        ("property_keys", POINTER(c_char_p)),
        ("property_values", POINTER(c_char_p)),
        ("n_properties", c_size_t),
    ]


class vdb_names(Structure):
    _fields_ = [("count", c_size_t), ("names", POINTER(c_char_p))]


class _str_val(Structure):
    _fields_ = [("ptr", c_void_p), ("len", c_size_t)]


class _vec_val(Structure):
    _fields_ = [("ptr", POINTER(c_float)), ("dim", c_uint32)]


class _sparse_val(Structure):
    _fields_ = [("indices", POINTER(c_uint32)), ("values", POINTER(c_float)), ("count", c_uint32)]
class _raw_val(Structure):
    _fields_ = [("ptr", c_void_p), ("dim", c_uint32), ("bytes", c_uint32)]


class _value_u(Union):
    _fields_ = [("i64", c_int64), ("f64", c_double), ("str", _str_val), ("vec", _vec_val),
                ("sparse", _sparse_val),
                ("raw", _raw_val)]


class vdb_sparse_row(Structure):
    _fields_ = [("count", c_uint32), ("indices", POINTER(c_uint32)), ("values", POINTER(c_float))]


class vdb_value(Structure):
    _fields_ = [("type", c_enum), ("is_null", c_int), ("u", _value_u)]


class vdb_pk_list(Structure):
    _fields_ = [("ints", POINTER(c_int64)), ("strs", POINTER(c_char_p)), ("count", c_size_t)]


class vdb_order_by(Structure):
    _fields_ = [("field", c_char_p), ("desc", c_int)]


class vdb_read_opts(_Sized):
    _fields_ = [
        ("struct_size", c_uint32),
        ("travel_ts", c_uint64),
        ("consistency", c_enum),
        ("staleness_ms", c_uint64),
        ("session_ts", c_uint64),
        ("partitions", POINTER(c_char_p)),
        ("n_partitions", c_size_t),
        ("output_fields", POINTER(c_char_p)),
        ("n_output_fields", c_size_t),
    ]


class vdb_search_req(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("collection", c_char_p),
        ("vector_field", c_char_p),
        ("vectors", c_void_p),  # const float *: a c_void_p so numpy buffers pass without a cast
        ("nq", c_size_t),
        ("dim", c_uint32),
        ("k", c_uint32),
        ("filter", c_char_p),
        ("params", c_char_p),
        ("read", vdb_read_opts),
        ("offset", c_uint32),
        ("group_by_field", c_char_p),
        ("group_size", c_uint32),
        ("strict_group_size", c_int),
        ("query_pks", POINTER(vdb_pk_list)),
        ("sparse_vectors", POINTER(vdb_sparse_row)),
        ("binary_vectors", c_void_p),  # BINARY_VECTOR queries: nq * dim / 8 bytes
        ("texts", POINTER(c_char_p)),  # BM25 function output fields: nq UTF-8 texts
    ]


class vdb_ann_req(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("vector_field", c_char_p),
        ("vectors", c_void_p),
        ("nq", c_size_t),
        ("dim", c_uint32),
        ("limit", c_uint32),
        ("filter", c_char_p),
        ("params", c_char_p),
        ("binary_vectors", c_void_p),
    ]


class vdb_hybrid_req(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("collection", c_char_p),
        ("reqs", POINTER(POINTER(vdb_ann_req))),
        ("n_reqs", c_size_t),
        ("ranker", c_enum),
        ("rrf_k", c_double),
        ("weights", POINTER(c_float)),
        ("no_normalize", c_int),
        ("limit", c_uint32),
        ("offset", c_uint32),
        ("read", vdb_read_opts),
        ("group_by_field", c_char_p),
        ("group_size", c_uint32),
        ("strict_group_size", c_int),
    ]


class vdb_query_iter_req(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("collection", c_char_p),
        ("filter", c_char_p),
        ("read", vdb_read_opts),
        ("batch_size", c_uint32),
        ("limit", c_uint64),
    ]


class vdb_search_iter_req(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("collection", c_char_p),
        ("vector_field", c_char_p),
        ("vector", c_void_p),
        ("dim", c_uint32),
        ("filter", c_char_p),
        ("params", c_char_p),
        ("read", vdb_read_opts),
        ("batch_size", c_uint32),
        ("limit", c_uint64),
        ("resume", c_int),
        ("last_bound", c_float),
        ("last_pks", POINTER(vdb_pk_list)),
        ("binary_vector", c_void_p),
    ]


class vdb_stats(_Sized):
    _fields_ = [
        ("struct_size", c_uint32),
        ("row_count", c_uint64),
        ("growing_segments", c_uint64),
        ("sealed_segments", c_uint64),
        ("growing_rows", c_uint64),
        ("sealed_rows", c_uint64),
        ("deleted_rows", c_uint64),
        ("num_shards", c_uint32),
        ("num_partitions", c_uint32),
        ("index_bytes", c_uint64),
        ("indexed_rows", c_uint64),
        ("failed_index_builds", c_uint64),
        ("torn_tails", c_uint64),
        ("read_segments", c_uint64),
        ("memory_bytes", c_uint64),
        ("mapped_bytes", c_uint64),
    ]


class vdb_index_info(_Sized):
    _fields_ = [
        ("struct_size", c_uint32),
        ("name", c_char_p),
        ("field", c_char_p),
        ("type", c_char_p),
        ("metric", c_char_p),
        ("params", c_char_p),
        ("state", c_enum),
        ("indexed_rows", c_uint64),
        ("total_rows", c_uint64),
        ("fail_status", c_int),
        ("fail_reason", c_char_p),
    ]


# opaque handles
db_p = c_void_p
indexes_p = c_void_p
schema_p = c_void_p
batch_p = c_void_p
result_p = c_void_p
st = c_int  # vdb_status

# ---- prototypes: name -> (restype, argtypes) ------------------------------------------------

PROTOTYPES = {
    "vdb_version": (c_char_p, []),
    "vdb_version_number": (c_int, []),
    "vdb_errmsg": (c_char_p, [db_p]),
    "vdb_status_name": (c_char_p, [c_enum]),
    "vdb_type_name": (c_char_p, [c_enum]),
    "vdb_metric_name": (c_char_p, [c_enum]),
    "vdb_options_init": (None, [POINTER(vdb_options)]),
    "vdb_options_init_sized": (None, [POINTER(vdb_options), c_size_t]),
    "vdb_open": (st, [c_char_p, POINTER(vdb_options), POINTER(db_p)]),
    "vdb_close": (None, [db_p]),
    # change streams
    "vdb_change_stream_open": (st, [db_p, c_char_p, POINTER(vdb_change_opts),
                                    POINTER(c_void_p)]),
    "vdb_change_stream_next": (st, [c_void_p, c_uint64, POINTER(vdb_change)]),
    "vdb_change_stream_close": (None, [c_void_p]),
    # schemas
    "vdb_schema_new": (st, [c_char_p, POINTER(schema_p)]),
    "vdb_schema_free": (None, [schema_p]),
    "vdb_schema_add_field": (st, [schema_p, POINTER(vdb_field_def)]),
    "vdb_add_collection_field": (st, [db_p, c_char_p, POINTER(vdb_field_def)]),
    "vdb_create_collection_opts": (st, [db_p, schema_p, POINTER(vdb_create_opts)]),
    "vdb_schema_add_function": (st, [schema_p, POINTER(vdb_function_def)]),
    "vdb_schema_function_count": (c_size_t, [schema_p]),
    "vdb_schema_function": (st, [schema_p, c_size_t, POINTER(vdb_function_def)]),
    "vdb_schema_set_dynamic": (st, [schema_p, c_int]),
    "vdb_schema_set_shards": (st, [schema_p, c_uint32]),
    "vdb_schema_set_partitions": (st, [schema_p, c_uint32]),
    "vdb_schema_partitions": (c_uint32, [schema_p]),
    "vdb_schema_set_description": (st, [schema_p, c_char_p]),
    "vdb_schema_name": (c_char_p, [schema_p]),
    "vdb_schema_field_count": (c_size_t, [schema_p]),
    "vdb_schema_field": (st, [schema_p, c_size_t, POINTER(vdb_field_def)]),
    "vdb_schema_dynamic": (c_int, [schema_p]),
    "vdb_schema_shards": (c_uint32, [schema_p]),
    # collections and partitions
    "vdb_create_collection": (st, [db_p, schema_p]),
    "vdb_drop_collection": (st, [db_p, c_char_p]),
    "vdb_has_collection": (st, [db_p, c_char_p, POINTER(c_int)]),
    "vdb_describe_collection": (st, [db_p, c_char_p, POINTER(schema_p)]),
    "vdb_list_collections": (st, [db_p, POINTER(POINTER(vdb_names))]),
    "vdb_list_collections_in": (st, [db_p, c_char_p, POINTER(POINTER(vdb_names))]),
    "vdb_create_database": (st, [db_p, c_char_p]),
    "vdb_drop_database": (st, [db_p, c_char_p]),
    "vdb_list_databases": (st, [db_p, POINTER(POINTER(vdb_names))]),
    "vdb_has_database": (st, [db_p, c_char_p, POINTER(c_int)]),
    "vdb_names_free": (None, [POINTER(vdb_names)]),
    "vdb_create_partition": (st, [db_p, c_char_p, c_char_p]),
    "vdb_drop_partition": (st, [db_p, c_char_p, c_char_p]),
    "vdb_list_partitions": (st, [db_p, c_char_p, POINTER(POINTER(vdb_names))]),
    # aliases, rename, truncate
    "vdb_create_alias": (st, [db_p, c_char_p, c_char_p]),
    "vdb_alter_alias": (st, [db_p, c_char_p, c_char_p]),
    "vdb_drop_alias": (st, [db_p, c_char_p]),
    "vdb_list_aliases": (st, [db_p, c_char_p, POINTER(POINTER(vdb_names))]),
    "vdb_describe_alias": (st, [db_p, c_char_p, c_char_p, c_size_t]),
    "vdb_rename_collection": (st, [db_p, c_char_p, c_char_p]),
    "vdb_truncate_collection": (st, [db_p, c_char_p]),
    # collection properties
    "vdb_alter_collection_properties": (st, [db_p, c_char_p, POINTER(c_char_p),
                                             POINTER(c_char_p), c_size_t]),
    "vdb_drop_collection_properties": (st, [db_p, c_char_p, POINTER(c_char_p), c_size_t]),
    "vdb_describe_collection_properties": (st, [db_p, c_char_p, POINTER(POINTER(vdb_names)),
                                                POINTER(POINTER(vdb_names))]),
    # batches
    "vdb_batch_new": (st, [POINTER(batch_p)]),
    "vdb_batch_free": (None, [batch_p]),
    "vdb_batch_add_column": (st, [batch_p, c_char_p, c_enum, c_void_p, c_void_p, c_size_t,
                                  c_uint32]),
    "vdb_batch_rows": (c_size_t, [batch_p]),
    # results
    "vdb_result_free": (None, [result_p]),
    "vdb_result_groups": (c_size_t, [result_p]),
    "vdb_result_rows": (c_size_t, [result_p, c_size_t]),
    "vdb_result_pk_type": (c_enum, [result_p]),
    "vdb_result_pk_int": (c_int64, [result_p, c_size_t, c_size_t]),
    "vdb_result_pk_str": (c_char_p, [result_p, c_size_t, c_size_t]),
    "vdb_result_distance": (c_float, [result_p, c_size_t, c_size_t]),
    "vdb_result_field": (st, [result_p, c_size_t, c_size_t, c_char_p, POINTER(vdb_value)]),
    "vdb_result_timestamp": (c_uint64, [result_p]),
    # writes
    "vdb_insert": (st, [db_p, c_char_p, c_char_p, batch_p, POINTER(c_uint64),
                        POINTER(result_p)]),
    "vdb_upsert": (st, [db_p, c_char_p, c_char_p, batch_p, POINTER(c_uint64),
                        POINTER(result_p)]),
    "vdb_delete": (st, [db_p, c_char_p, c_char_p, POINTER(vdb_pk_list), POINTER(c_uint64)]),
    "vdb_flush": (st, [db_p, c_char_p]),
    "vdb_compact": (st, [db_p, c_char_p]),
    # reads
    "vdb_search": (st, [db_p, POINTER(vdb_search_req), POINTER(result_p)]),
    "vdb_hybrid_search": (st, [db_p, POINTER(vdb_hybrid_req), POINTER(result_p)]),
    "vdb_query_iterator_open": (st, [db_p, POINTER(vdb_query_iter_req), POINTER(c_void_p)]),
    "vdb_query_iterator_next": (st, [c_void_p, POINTER(result_p)]),
    "vdb_query_iterator_ts": (c_uint64, [c_void_p]),
    "vdb_query_iterator_close": (None, [c_void_p]),
    "vdb_search_iterator_open": (st, [db_p, POINTER(vdb_search_iter_req), POINTER(c_void_p)]),
    "vdb_search_iterator_next": (st, [c_void_p, POINTER(result_p)]),
    "vdb_search_iterator_ts": (c_uint64, [c_void_p]),
    "vdb_search_iterator_close": (None, [c_void_p]),
    "vdb_get": (st, [db_p, c_char_p, POINTER(vdb_pk_list), POINTER(vdb_read_opts),
                     POINTER(result_p)]),
    "vdb_query": (st, [db_p, c_char_p, c_char_p, POINTER(vdb_read_opts), c_uint64, c_uint64,
                       POINTER(result_p)]),
    "vdb_query_ordered": (st, [db_p, c_char_p, c_char_p, POINTER(vdb_read_opts), c_uint64,
                               c_uint64, POINTER(vdb_order_by), c_size_t, POINTER(result_p)]),
    "vdb_count": (st, [db_p, c_char_p, c_char_p, POINTER(vdb_read_opts), POINTER(c_uint64)]),
    "vdb_delete_where": (st, [db_p, c_char_p, c_char_p, c_char_p, POINTER(c_uint64),
                              POINTER(c_uint64)]),
    # indexes
    "vdb_create_index": (st, [db_p, c_char_p, c_char_p, c_char_p, c_char_p]),
    "vdb_drop_index": (st, [db_p, c_char_p, c_char_p]),
    "vdb_describe_index": (st, [db_p, c_char_p, c_char_p, POINTER(c_char_p)]),
    "vdb_wait_for_index": (st, [db_p, c_char_p, c_char_p, c_uint64]),
    "vdb_index_progress": (st, [db_p, c_char_p, c_char_p, POINTER(c_uint64), POINTER(c_uint64)]),
    "vdb_set_index_progress": (st, [db_p, c_void_p, c_void_p]),
    "vdb_create_index_named": (st, [db_p, c_char_p, c_char_p, c_char_p, c_char_p, c_char_p]),
    "vdb_drop_index_by_name": (st, [db_p, c_char_p, c_char_p]),
    "vdb_list_indexes": (st, [db_p, c_char_p, POINTER(indexes_p)]),
    "vdb_describe_index_by_name": (st, [db_p, c_char_p, c_char_p, POINTER(indexes_p)]),
    "vdb_indexes_count": (c_size_t, [indexes_p]),
    "vdb_indexes_get": (st, [indexes_p, c_size_t, POINTER(vdb_index_info)]),
    "vdb_indexes_free": (None, [indexes_p]),
    # time, statistics
    "vdb_now": (st, [db_p, POINTER(c_uint64)]),
    "vdb_collection_stats": (st, [db_p, c_char_p, POINTER(vdb_stats)]),
}


class _Missing:
    """Stands in for a function this libvdb.so does not export."""

    def __init__(self, name, path):
        self.name, self.path = name, path

    def __call__(self, *args):
        raise UnsupportedError(Status.EUNSUPPORTED,
                               "%s is not exported by %s (a libvdb built before it landed?)"
                               % (self.name, self.path))


class Lib:
    """The loaded library; attributes are its functions, typed on first use."""

    def __init__(self, path):
        self.path = path
        self.dll = ctypes.CDLL(path)  # CDLL, not PyDLL: calls release the GIL
        self.vdb_version()  # fail now if this is not libvdb

    def __getattr__(self, name):
        proto = PROTOTYPES.get(name)
        if proto is None:
            raise AttributeError(name)
        try:
            fn = getattr(self.dll, name)
        except AttributeError:
            fn = _Missing(name, self.path)
        else:
            fn.restype, fn.argtypes = proto
        self.__dict__[name] = fn  # cached: __getattr__ is not called again for it
        return fn

    def has(self, name):
        return not isinstance(getattr(self, name), _Missing)


def _candidates():
    env = os.environ.get("LIBVDB_PATH")
    if env:
        yield env
        return  # an explicit path is the only one tried: no silent fallback to another build
    here = os.path.dirname(os.path.abspath(__file__))
    for pattern in ("libvdb.so", "libvdb.so.*", "libvdb.dylib", "vdb.dll"):
        for p in sorted(glob.glob(os.path.join(here, pattern))):
            yield p
    found = ctypes.util.find_library("vdb")
    if found:
        yield found
    yield "libvdb.so.0"


_lib = None
_lock = threading.Lock()


def get():
    """The loaded library (loaded on the first call)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            errors = []
            for path in _candidates():
                try:
                    _lib = Lib(path)
                    break
                except (OSError, AttributeError) as e:
                    errors.append("%s: %s" % (path, e))
            else:
                raise OSError("libvdb.so not found (set LIBVDB_PATH to the built library); "
                              "tried: " + "; ".join(errors))
    return _lib


__all__ = ["get", "Lib", "PROTOTYPES", "vdb_options", "vdb_field_def", "vdb_names", "vdb_value",
           "vdb_pk_list", "vdb_read_opts", "vdb_search_req", "vdb_ann_req",
           "vdb_hybrid_req", "vdb_query_iter_req", "vdb_search_iter_req", "vdb_stats",
           "vdb_index_info", "vdb_change_opts", "vdb_change", "c_uint8"]
