/* vdb-server — compact JSON text of a response, numbers in their shortest exact form (jansson
 * prints every real with 17 digits: a float32 distance 0.6666667 would read 0.66666669999999995). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "util/json_escape.h"

typedef struct out {
    char *p;
    size_t len, cap;
    int failed;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *np = realloc(o->p, cap);
        if (!np) {
            o->failed = 1;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0;
}

static void put_run(void *arg, const char *p, size_t n) { put(arg, p, n); }

static void put_str(out *o, const char *s, size_t n) { vdb_json_escape(s, n, put_run, o); }

static void put_real(out *o, double d)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    /* keep it a real to a reader that cares: "1" -> "1.0" */
    if (!strpbrk(buf, ".eEni"))
        strcat(buf, ".0");
    put(o, buf, strlen(buf));
}

static void put_value(out *o, const json_t *v)
{
    char buf[32];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *x;
        int first = 1;
        put(o, "{", 1);
        json_object_foreach((json_t *)v, key, x) {
            if (!first)
                put(o, ",", 1);
            first = 0;
            put_str(o, key, strlen(key));
            put(o, ":", 1);
            put_value(o, x);
        }
        put(o, "}", 1);
        break;
    }
    case JSON_ARRAY:
        put(o, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put(o, ",", 1);
            put_value(o, json_array_get(v, i));
        }
        put(o, "]", 1);
        break;
    case JSON_STRING:
        put_str(o, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        put(o, buf, strlen(buf));
        break;
    case JSON_REAL:
        put_real(o, json_real_value(v));
        break;
    case JSON_TRUE:
        put(o, "true", 4);
        break;
    case JSON_FALSE:
        put(o, "false", 5);
        break;
    default:
        put(o, "null", 4);
    }
}

char *srv_json_text(const json_t *v, size_t *len)
{
    out o = {0};
    put_value(&o, v);
    if (o.failed || !o.p) {
        free(o.p);
        return NULL;
    }
    *len = o.len;
    return o.p;
}
