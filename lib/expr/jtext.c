/* JSON text as filters read it: the data was validated on insert; these still stay inside
 * n. Shared by the evaluator (eval.c) and the JSON path indexes (jindex.c). */
#include "util/json.h"
#include "expr_int.h"

size_t vdb_expr_skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static size_t skip_string(const char *s, size_t n, size_t i) /* i at the opening quote */
{
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return VDB_MIN(i + 1, n);
}

/* The end of the value starting at i. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return n;
    if (s[i] == '"')
        return skip_string(s, n, i);
    if (s[i] == '[' || s[i] == '{') {
        size_t depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, n, i);
                continue;
            }
            if (c == '[' || c == '{')
                depth++;
            else if ((c == ']' || c == '}') && --depth == 0)
                return i + 1;
            i++;
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != ']' && s[i] != '}' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i;
}

/* Array iteration: arr_begin positions *pos inside '[' (false when s is not an array);
 * arr_next yields each element's text. */
bool vdb_expr_arr_begin(const char *s, size_t n, size_t *pos)
{
    size_t i = vdb_expr_skip_ws(s, n, 0);
    if (i >= n || s[i] != '[')
        return false;
    *pos = i + 1;
    return true;
}

bool vdb_expr_arr_next(const char *s, size_t n, size_t *pos, const char **v, size_t *vlen)
{
    size_t i = vdb_expr_skip_ws(s, n, *pos);
    if (i < n && s[i] == ',')
        i = vdb_expr_skip_ws(s, n, i + 1);
    if (i >= n || s[i] == ']')
        return false;
    size_t end = skip_value(s, n, i);
    if (end <= i)
        return false;
    *v = s + i;
    *vlen = end - i;
    *pos = end;
    return true;
}

bool vdb_expr_json_follow(const char *s, size_t n, const vdb_xstep *steps, size_t nsteps,
                          const char **v, size_t *vlen)
{
    for (size_t k = 0; k < nsteps; k++) {
        const vdb_xstep *st = &steps[k];
        if (st->key) {
            size_t i = vdb_expr_skip_ws(s, n, 0);
            /* checked here: vdb_json_get would set an error message for every non-object */
            if (i >= n || s[i] != '{' || !vdb_json_get(s, n, st->key, &s, &n))
                return false;
        } else {
            size_t pos;
            const char *e = NULL;
            size_t elen = 0;
            if (!vdb_expr_arr_begin(s, n, &pos))
                return false;
            for (int64_t j = 0; j <= st->index; j++)
                if (!vdb_expr_arr_next(s, n, &pos, &e, &elen))
                    return false;
            s = e;
            n = elen;
        }
    }
    *v = s;
    *vlen = n;
    return true;
}


void vdb_expr_json_value(const char *s, size_t n, vdb_buf *scratch, vdb_xconst *out, bool *oom)
{
    memset(out, 0, sizeof *out);
    size_t i = vdb_expr_skip_ws(s, n, 0);
    if (i >= n)
        return;
    switch (s[i]) {
    case '"': {
        size_t end = skip_string(s, n, i);
        const char *body = s + i + 1;
        size_t blen = end > i + 1 ? end - i - 2 : 0;
        if (end - i < 2)
            return;
        out->type = XY_STR;
        if (!memchr(body, '\\', blen)) {
            out->s = body;
            out->len = blen;
            return;
        }
        scratch->len = 0;
        if (!vdb_buf_reserve(scratch, blen + 1)) {
            *oom = true;
            out->type = XY_NONE;
            return;
        }
        out->len = vdb_expr_unescape(body, blen, (char *)scratch->p);
        out->s = (const char *)scratch->p;
        return;
    }
    case 't':
    case 'f':
        out->type = XY_BOOL;
        out->i = s[i] == 't';
        return;
    case 'n': return;
    case '[':
    case '{': out->type = XY_ARRAY; return;
    default: break;
    }
    size_t end = skip_value(s, n, i), k = i;
    bool neg = k < end && s[k] == '-';
    uint64_t mag = 0;
    bool is_int = true;
    for (k += neg; k < end && is_int; k++) {
        if (s[k] < '0' || s[k] > '9' || mag > (UINT64_MAX - 9) / 10)
            is_int = false;
        else
            mag = mag * 10 + (uint64_t)(s[k] - '0');
    }
    if (is_int && end > i + neg && mag <= (uint64_t)INT64_MAX + neg) {
        out->type = XY_INT;
        out->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        return;
    }
    if (vdb_expr_strtod(s + i, end - i, &out->d))
        out->type = XY_FLOAT;
}

bool vdb_expr_path_key(const vdb_xstep *steps, size_t nsteps, vdb_buf *b)
{
    for (size_t i = 0; i < nsteps; i++) {
        uint64_t v = steps[i].key ? strlen(steps[i].key) : (uint64_t)steps[i].index;
        char tag = steps[i].key ? 'k' : 'i';
        vdb_buf_put(b, &tag, 1);
        vdb_buf_put(b, &v, sizeof v);
        if (steps[i].key)
            vdb_buf_put(b, steps[i].key, (size_t)v);
    }
    return !b->oom;
}
