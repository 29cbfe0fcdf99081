/* "key=value,..." parameter strings: one splitter and the number readers every caller shares. */
#include <math.h>
#include <stdlib.h>

#include "util/kv.h"

vdb_status vdb_kv_each(const char *text, const char *what, vdb_kv_fn fn, void *arg)
{
    char buf[VDB_KV_MAX_TEXT + 1];
    size_t len = text ? strlen(text) : 0;
    if (len > VDB_KV_MAX_TEXT)
        return vdb_set_errmsg(VDB_EINVAL, "%ss are too long (%zu bytes; at most %d)", what, len,
                              VDB_KV_MAX_TEXT);
    memcpy(buf, text ? text : "", len + 1);
    vdb_status st = VDB_OK;
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv && st == VDB_OK;
         kv = strtok_r(NULL, ",", &save)) {
        while (*kv == ' ')
            kv++;
        char *end = kv + strlen(kv);
        while (end > kv && end[-1] == ' ')
            *--end = 0;
        if (!*kv)
            continue;
        char *eq = strchr(kv, '=');
        if (!eq)
            return vdb_set_errmsg(VDB_EINVAL, "%s '%s' is not key=value", what, kv);
        *eq = 0;
        st = fn(arg, kv, eq + 1);
    }
    return st;
}

vdb_status vdb_kv_uint(const char *what, const char *key, const char *val, uint32_t lo,
                       uint32_t hi, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(val, &end, 10);
    if (!*val || *end || *val == '-' || *val == ' ' || *val == '+' || v < lo || v > hi)
        return vdb_set_errmsg(VDB_EINVAL, "%s %s=%s is out of range: %u..%u", what, key, val,
                              lo, hi);
    *out = (uint32_t)v;
    return VDB_OK;
}

vdb_status vdb_kv_float(const char *what, const char *key, const char *val, float *out)
{
    char *end;
    float v = strtof(val, &end);
    if (!*val || *end || !isfinite(v))
        return vdb_set_errmsg(VDB_EINVAL, "%s %s=%s is not a finite number", what, key, val);
    *out = v;
    return VDB_OK;
}
