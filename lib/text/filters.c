/* Token lists and the token filters: lowercase (simple case folding), length, stop words. */
#include "text/text.h"

#include <stdlib.h>

void vdb_tokens_free(vdb_tokens *tk)
{
    vdb_free(tk->text);
    vdb_free(tk->t);
    memset(tk, 0, sizeof *tk);
}

void vdb_tokens_clear(vdb_tokens *tk)
{
    tk->text_len = 0;
    tk->n = 0;
}

static bool reserve_text(vdb_tokens *tk, size_t extra)
{
    if (tk->text_len + extra <= tk->text_cap)
        return true;
    size_t cap = tk->text_cap ? tk->text_cap : 256;
    while (cap < tk->text_len + extra)
        cap *= 2;
    char *p = vdb_realloc(tk->text, cap);
    if (!p)
        return false;
    tk->text = p;
    tk->text_cap = cap;
    return true;
}

bool vdb_tokens_push(vdb_tokens *tk, const char *s, size_t len, uint32_t pos)
{
    if (len > UINT32_MAX || tk->text_len + len > UINT32_MAX)
        return false;
    if (tk->n == tk->cap) {
        size_t cap = tk->cap ? tk->cap * 2 : 32;
        vdb_token *t = vdb_realloc(tk->t, cap * sizeof *t);
        if (!t)
            return false;
        tk->t = t;
        tk->cap = cap;
    }
    if (!reserve_text(tk, len))
        return false;
    memcpy(tk->text + tk->text_len, s, len);
    tk->t[tk->n++] = (vdb_token){(uint32_t)tk->text_len, (uint32_t)len, pos};
    tk->text_len += len;
    return true;
}

bool vdb_filter_lowercase(vdb_tokens *tk)
{
    /* Folding can change a character's length (U+017F, 2 bytes, folds to 's'; U+1E9E, 3
     * bytes, to U+00DF, 2 bytes; the reverse for none here but 0x130 is kept): rewrite into
     * a new buffer. */
    char *old = tk->text;
    size_t old_cap = tk->text_cap;
    tk->text = NULL;
    tk->text_len = tk->text_cap = 0;
    bool ok = reserve_text(tk, old_cap ? old_cap : 1);
    for (size_t k = 0; ok && k < tk->n; k++) {
        const char *s = old + tk->t[k].off;
        size_t n = tk->t[k].len, i = 0;
        uint32_t off = (uint32_t)tk->text_len;
        while (ok && i < n) {
            uint32_t c;
            if (!vdb_utf8_next(s, n, &i, &c))
                break; /* analyzer input is validated */
            char b[4];
            size_t m = vdb_utf8_put(vdb_casefold(c), b);
            ok = reserve_text(tk, m);
            if (ok) {
                memcpy(tk->text + tk->text_len, b, m);
                tk->text_len += m;
            }
        }
        tk->t[k].off = off;
        tk->t[k].len = (uint32_t)(tk->text_len - off);
    }
    if (!ok) {
        vdb_free(tk->text);
        tk->text = old;
        tk->text_cap = old_cap;
        return false;
    }
    vdb_free(old);
    return true;
}

void vdb_filter_length(vdb_tokens *tk, uint32_t max)
{
    size_t j = 0;
    for (size_t k = 0; k < tk->n; k++)
        if (tk->t[k].len <= max)
            tk->t[j++] = tk->t[k];
    tk->n = j;
}

/* Lucene's English stop words, which Milvus (through Tantivy) calls "_english_". */
const char *const vdb_english_stop_words[] = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
    "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
    "these", "they", "this", "to", "was", "will", "with",
};
const size_t vdb_english_stop_words_count =
    sizeof vdb_english_stop_words / sizeof vdb_english_stop_words[0];

static int cmp_word(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    int r = memcmp(a, b, an < bn ? an : bn);
    if (r)
        return r;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* The index of the first word >= word[0..len). */
static size_t lower_bound(const vdb_stopset *set, const char *word, size_t len)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_word(word, len, set->w[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool vdb_stopset_has(const vdb_stopset *set, const char *word, size_t len)
{
    size_t at = lower_bound(set, word, len);
    return at < set->n && cmp_word(word, len, set->w[at]) == 0;
}

static bool add_one(vdb_stopset *set, const char *word, size_t len)
{
    size_t at = lower_bound(set, word, len);
    if (at < set->n && cmp_word(word, len, set->w[at]) == 0)
        return true;
    char *copy = vdb_strndup(word, len);
    char **w = copy ? vdb_realloc(set->w, (set->n + 1) * sizeof *w) : NULL;
    if (!w) {
        vdb_free(copy);
        return false;
    }
    memmove(w + at + 1, w + at, (set->n - at) * sizeof *w);
    w[at] = copy;
    set->w = w;
    set->n++;
    return true;
}

bool vdb_stopset_add(vdb_stopset *set, const char *word, size_t len)
{
    if (len == 9 && memcmp(word, "_english_", 9) == 0) {
        for (size_t k = 0; k < vdb_english_stop_words_count; k++)
            if (!add_one(set, vdb_english_stop_words[k], strlen(vdb_english_stop_words[k])))
                return false;
        return true;
    }
    return add_one(set, word, len);
}

void vdb_stopset_free(vdb_stopset *set)
{
    for (size_t k = 0; k < set->n; k++)
        vdb_free(set->w[k]);
    vdb_free(set->w);
    set->w = NULL;
    set->n = 0;
}

void vdb_filter_stop(vdb_tokens *tk, const vdb_stopset *set)
{
    size_t j = 0;
    for (size_t k = 0; k < tk->n; k++)
        if (!vdb_stopset_has(set, tk->text + tk->t[k].off, tk->t[k].len))
            tk->t[j++] = tk->t[k];
    tk->n = j;
}
