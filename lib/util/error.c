/* The calling thread's last error message, and the names of statuses. */
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

static _Thread_local char errmsg[1024];

/* Formats into a local buffer first, so a message may wrap the current one
 * (vdb_set_errmsg(st, "...: %s", vdb_err_get())). */
vdb_status vdb_set_errmsg(vdb_status st, const char *fmt, ...)
{
    char tmp[sizeof errmsg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(errmsg, tmp, sizeof errmsg);
    return st;
}

void vdb_err_clear(void) { errmsg[0] = 0; }
const char *vdb_err_get(void) { return errmsg; }

const char *vdb_status_name(vdb_status st)
{
    switch (st) {
    case VDB_OK: return "VDB_OK";
    case VDB_EINVAL: return "VDB_EINVAL";
    case VDB_ENOTFOUND: return "VDB_ENOTFOUND";
    case VDB_EEXIST: return "VDB_EEXIST";
    case VDB_EIO: return "VDB_EIO";
    case VDB_ECORRUPT: return "VDB_ECORRUPT";
    case VDB_EUNSUPPORTED: return "VDB_EUNSUPPORTED";
    case VDB_ENOMEM: return "VDB_ENOMEM";
    case VDB_ELOCKED: return "VDB_ELOCKED";
    case VDB_EVERSION: return "VDB_EVERSION";
    case VDB_ECONFLICT: return "VDB_ECONFLICT";
    case VDB_ERANGE: return "VDB_ERANGE";
    case VDB_ETIMEDOUT: return "VDB_ETIMEDOUT";
    case VDB_EREADONLY: return "VDB_EREADONLY";
    case VDB_EPERM: return "VDB_EPERM";
    }
    return "VDB_E?";
}

const char *vdb_type_name(vdb_type t)
{
    switch (t) {
    case VDB_TYPE_NONE: return "NONE";
    case VDB_TYPE_BOOL: return "BOOL";
    case VDB_TYPE_INT8: return "INT8";
    case VDB_TYPE_INT16: return "INT16";
    case VDB_TYPE_INT32: return "INT32";
    case VDB_TYPE_INT64: return "INT64";
    case VDB_TYPE_FLOAT: return "FLOAT";
    case VDB_TYPE_DOUBLE: return "DOUBLE";
    case VDB_TYPE_VARCHAR: return "VARCHAR";
    case VDB_TYPE_ARRAY: return "ARRAY";
    case VDB_TYPE_JSON: return "JSON";
    case VDB_TYPE_FLOAT_VECTOR: return "FLOAT_VECTOR";
    case VDB_TYPE_SPARSE_FLOAT_VECTOR: return "SPARSE_FLOAT_VECTOR";
    case VDB_TYPE_FLOAT16_VECTOR: return "FLOAT16_VECTOR";
    case VDB_TYPE_BFLOAT16_VECTOR: return "BFLOAT16_VECTOR";
    case VDB_TYPE_INT8_VECTOR: return "INT8_VECTOR";
    case VDB_TYPE_BINARY_VECTOR: return "BINARY_VECTOR";
    }
    return "UNKNOWN";
}

const char *vdb_metric_name(vdb_metric m)
{
    switch (m) {
    case VDB_METRIC_L2: return "L2";
    case VDB_METRIC_IP: return "IP";
    case VDB_METRIC_COSINE: return "COSINE";
    case VDB_METRIC_HAMMING: return "HAMMING";
    case VDB_METRIC_JACCARD: return "JACCARD";
    case VDB_METRIC_BM25: return "BM25";
    }
    return "UNKNOWN";
}
