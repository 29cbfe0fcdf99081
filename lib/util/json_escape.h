/* The JSON string escaper, header-only so that the library and vdb-server (which links only
 * the public API) share one piece of code: s (n bytes of UTF-8) as a quoted JSON string, handed
 * to put in runs (bytes that need no escape go out in one call). */
#ifndef VDB_JSON_ESCAPE_H
#define VDB_JSON_ESCAPE_H

#include <stddef.h>

static inline void vdb_json_escape(const char *s, size_t n,
                                   void (*put)(void *arg, const char *p, size_t len), void *arg)
{
    static const char hex[] = "0123456789abcdef";
    put(arg, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(arg, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', (char)c, 0};
        size_t k = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default: /* other control characters */
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            k = 6;
        }
        put(arg, e, k);
    }
    put(arg, s + run, n - run);
    put(arg, "\"", 1);
}

#endif
