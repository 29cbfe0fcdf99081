/* Text analysis for full-text search (Milvus's analyzers): a tokenizer splits UTF-8 text into
 * tokens, then filters change or drop them, in the order the analyzer's params list them.
 * Layer: under lib/index and lib/core, over lib/util. Every function is thread-safe; an
 * analyzer is immutable once built and may be shared by threads.
 *
 * Params are Milvus's analyzer_params JSON:
 *   {"type": "standard"}          standard tokenizer, lowercase (optional "stop_words": [...])
 *   {"type": "english"}           standard tokenizer, lowercase, stop _english_, stemmer english
 *                                 (optional "stop_words": [...] replaces the list). Milvus
 *                                 stems before the stop filter with Snowball; the stemmer
 *                                 here is Porter's, which turns "this" into "thi", so the
 *                                 stop words go first.
 *   {"tokenizer": "standard" | "whitespace" | {"type": ...},
 *    "filter": ["lowercase", {"type": "stop", "stop_words": ["_english_", "x"]},
 *               {"type": "length", "max": 40}, {"type": "stemmer", "language": "english"}]}
 * Filters run in the order listed. Tokenizers, filters and languages Milvus has that are not
 * built here (jieba, lindera, icu; asciifolding, alphanumonly, cnalphanumonly, cncharonly,
 * decompounder, regex, removepunct, synonym; stemmers other than english) are refused with
 * VDB_EUNSUPPORTED; unknown names and keys with VDB_EINVAL.
 * No params (NULL or "") is {"type": "standard"}, Milvus's default. */
#ifndef VDB_TEXT_H
#define VDB_TEXT_H

#include "util/util.h"

/* ---- UTF-8 and characters (utf8.c) ---- */
/* Decodes the code point at s[*i..n) into *cp and advances *i. false (and *i unchanged) on an
 * invalid sequence: overlong forms, surrogates, code points past U+10FFFF, truncation. */
bool vdb_utf8_next(const char *s, size_t n, size_t *i, uint32_t *cp);
/* Whether s[0..n) is valid UTF-8; *bad gets the offset of the first invalid byte. */
bool vdb_utf8_valid(const char *s, size_t n, size_t *bad);
/* Appends cp's UTF-8 bytes to out[0..4); returns how many (1..4). cp must be valid. */
size_t vdb_utf8_put(uint32_t cp, char out[4]);
/* Unicode simple case folding (CaseFolding.txt status C and S) for Latin, Greek, Cyrillic,
 * Armenian, Georgian and full-width Latin; other code points are returned as they are. */
uint32_t vdb_casefold(uint32_t cp);

/* ---- tokens ---- */
typedef struct vdb_token {
    uint32_t off, len; /* the token's bytes in vdb_tokens.text */
    uint32_t pos;      /* its position among the tokenizer's tokens (a filter that drops a
                          token leaves a gap, so phrases do not match across it) */
} vdb_token;

typedef struct vdb_tokens {
    char *text;        /* the tokens' bytes, one after another (not NUL-separated) */
    size_t text_len, text_cap;
    vdb_token *t;
    size_t n, cap;
} vdb_tokens;

void vdb_tokens_free(vdb_tokens *tk);
void vdb_tokens_clear(vdb_tokens *tk);
/* Appends a token (copied). false on OOM. */
bool vdb_tokens_push(vdb_tokens *tk, const char *s, size_t len, uint32_t pos);
static inline const char *vdb_token_str(const vdb_tokens *tk, size_t i)
{
    return tk->text + tk->t[i].off;
}

/* ---- tokenizers (tokenize.c): append to out; text must be valid UTF-8 ---- */
/* UAX #29 word boundaries: letters (Latin, Greek, Cyrillic, Armenian, Hebrew, Arabic,
 * Georgian, Hangul, full-width Latin) and digits form words, joined across an apostrophe,
 * '.', ':' between letters and ',' '.' ';' between digits, '_' (ExtendNumLet) and combining
 * marks; Katakana runs form words; every Han or Hiragana character is a token of its own.
 * Everything else separates words and is dropped. */
bool vdb_tokenize_standard(const char *s, size_t n, vdb_tokens *out);
/* Splits at Unicode white space (White_Space property); every other run is a token. */
bool vdb_tokenize_whitespace(const char *s, size_t n, vdb_tokens *out);

/* ---- filters (filters.c, porter.c): rewrite tk in place ---- */
bool vdb_filter_lowercase(vdb_tokens *tk);
/* Drops the tokens longer than max bytes (UTF-8), as Milvus's length filter. */
void vdb_filter_length(vdb_tokens *tk, uint32_t max);
/* Porter's stemming algorithm (M.F. Porter, 1980) for lowercase ASCII words; a token with
 * other characters is left as it is. */
void vdb_filter_porter(vdb_tokens *tk);
/* Stems one word w[0..n) in place; returns the new length. */
size_t vdb_porter_stem(char *w, size_t n);
/* A set of stop words: sorted, unique copies. */
typedef struct vdb_stopset {
    char **w;
    size_t n;
} vdb_stopset;
/* Adds word[0..len) ("_english_" adds that whole list). false on OOM. */
bool vdb_stopset_add(vdb_stopset *set, const char *word, size_t len);
void vdb_stopset_free(vdb_stopset *set);
bool vdb_stopset_has(const vdb_stopset *set, const char *word, size_t len);
/* Drops the tokens in set (compared byte for byte, so lowercase first for a lowercase list). */
void vdb_filter_stop(vdb_tokens *tk, const vdb_stopset *set);
/* Milvus's "_english_" stop words (the Lucene English list). */
extern const char *const vdb_english_stop_words[];
extern const size_t vdb_english_stop_words_count;

/* ---- analyzers (analyzer.c) ---- */
typedef struct vdb_analyzer vdb_analyzer;
/* Builds an analyzer from params (JSON text; NULL or empty: standard). VDB_EINVAL names the
 * bad key or value, prefixed by what (e.g. field "text"). */
vdb_status vdb_analyzer_new(const char *params, size_t n, const char *what, vdb_analyzer **out);
void vdb_analyzer_free(vdb_analyzer *a);
/* Tokens of text[0..n) into out (cleared first). VDB_EINVAL for invalid UTF-8, VDB_ENOMEM. */
vdb_status vdb_analyze(const vdb_analyzer *a, const char *text, size_t n, vdb_tokens *out);

#endif
