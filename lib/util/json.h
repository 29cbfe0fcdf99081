/* A small JSON reader for JSON fields, array fields, default values and dynamic fields.
 * It validates and locates; it never builds a tree. All functions are thread-safe. */
#ifndef VDB_JSON_H
#define VDB_JSON_H

#include "util.h"

/* Checks that s[0..n) is exactly one JSON value (RFC 8259; UTF-8 checked; nesting depth
 * <= 64). On failure returns VDB_EINVAL with the message naming the byte position and what
 * was expected there, prefixed by `what` (e.g. field "meta"). */
vdb_status vdb_json_validate(const char *s, size_t n, const char *what);

/* Checks that s is a JSON array of at most max_capacity elements, each of element type
 * elem (BOOL, INT8..INT64 in range, FLOAT/DOUBLE (numbers), VARCHAR (strings of at most
 * max_length bytes once unescaped)). VDB_EINVAL names the offending element. */
vdb_status vdb_json_check_array(const char *s, size_t n, vdb_type elem, uint32_t max_capacity,
                                uint32_t max_length, const char *what);

/* A scalar parsed from JSON text (for default values). */
typedef struct vdb_json_scalar {
    vdb_type type;   /* as requested */
    int64_t i;       /* BOOL, INT8..INT64 */
    double d;        /* FLOAT, DOUBLE */
    char *s;         /* VARCHAR: malloc'ed, unescaped */
    size_t len;
} vdb_json_scalar;
/* Parses s as a value of type (range-checked for ints, max_length for VARCHAR; JSON fields
 * keep the validated text in s). VDB_EINVAL with a message when it does not fit. */
vdb_status vdb_json_parse_scalar(const char *s, size_t n, vdb_type type, uint32_t max_length,
                                 vdb_json_scalar *out);
void vdb_json_scalar_free(vdb_json_scalar *v);

/* In a valid JSON object text, finds the value of top-level key; val and vlen get its raw
 * text. false when obj is not an object or lacks the key. */
bool vdb_json_get(const char *obj, size_t n, const char *key, const char **val, size_t *vlen);
/* Whether the valid JSON text is an object. */
bool vdb_json_is_object(const char *s, size_t n);
/* Calls fn(arg, key, keylen, val, vlen) for every top-level member of a valid JSON object
 * (key unescaped into a temporary buffer). Stops when fn returns non-zero. */
vdb_status vdb_json_each(const char *obj, size_t n,
                         int (*fn)(void *arg, const char *key, size_t klen, const char *val,
                                   size_t vlen),
                         void *arg);
/* Calls fn(arg, i, val, vlen) with the raw text of every element of a JSON array. Stops
 * when fn returns non-zero. VDB_EINVAL when arr is not an array. */
vdb_status vdb_json_each_elem(const char *arr, size_t n,
                              int (*fn)(void *arg, size_t i, const char *val, size_t vlen),
                              void *arg);
/* Appends s as a JSON string literal (quoted, escaped) to out. */
void vdb_json_put_string(vdb_buf *out, const char *s, size_t n);

/* Calls fn(arg, v) for each element of the JSON array s (as vdb_json_check_array accepted it
 * for element type elem), in order: ints and bools in v->i, FLOAT/DOUBLE in v->d (as the
 * text reads, not rounded to float), VARCHAR unescaped in v->s/v->len (valid only during the
 * call; not NUL-terminated) in scratch (the caller's, kept across calls so that strings cost
 * no allocation each; the caller frees it), or a buffer of its own when scratch is NULL. A
 * status other than VDB_OK from fn stops and is returned. */
typedef vdb_status (*vdb_json_elem_fn)(void *arg, const vdb_json_scalar *v);
vdb_status vdb_json_array_each(const char *s, size_t n, vdb_type elem, vdb_buf *scratch,
                               vdb_json_elem_fn fn, void *arg);

#endif
