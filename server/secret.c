/* vdb-server — constant-time comparison of secrets (the token). Every byte of the longer of
 * the two is looked at, the differences are OR-ed together without a branch on them, and the
 * lengths take part too, so a wrong guess takes as long as a right one of the same length. */
#include "secret.h"

int srv_secret_eq(const void *got, size_t gn, const void *want, size_t wn)
{
    const unsigned char *g = got, *w = want;
    size_t n = gn > wn ? gn : wn;
    /* volatile: the compiler may not stop at the first difference */
    volatile unsigned char diff = 0;
    size_t lens = gn ^ wn;
    for (size_t i = 0; i < n; i++) {
        /* bytes past an end read as 0; the branches are on the lengths only */
        unsigned char a = i < gn ? g[i] : 0, b = i < wn ? w[i] : 0;
        diff |= (unsigned char)(a ^ b);
    }
    /* lens != 0 folds to 1 without a data-dependent branch */
    unsigned char len_diff = (unsigned char)((lens | (0 - lens)) >> (sizeof lens * 8 - 1));
    return (diff | len_diff) == 0;
}
