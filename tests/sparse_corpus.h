/* A bag-of-words corpus (and raw text documents) from text files Debian ships (every file of /usr/share/common-licenses,
 * /usr/share/doc/<package>/copyright): paragraphs as documents, lower-cased words of two or
 * more letters and digits as dimensions, tf-idf weights. Shared by test_e2e_sparse and
 * bench_sparse (which compiles this file too). */
#ifndef VDB_SPARSE_CORPUS_H
#define VDB_SPARSE_CORPUS_H

#include <stddef.h>
#include <stdint.h>

typedef struct srow {
    uint32_t n;
    uint32_t *idx;
    float *val;
} srow;

typedef struct vocab {
    char **words;
    uint32_t *df;
    size_t n, cap;
    size_t *slots, nslots; /* open addressing: word number + 1 */
} vocab;

typedef struct corpus {
    srow *docs;
    size_t n, cap;
} corpus;

/* The number of word w, added when new. */
uint32_t vocab_id(vocab *v, const char *w);
/* Documents (term counts, ids ascending) until max_docs (the license files always whole). */
void build_corpus(corpus *c, vocab *v, size_t max_docs);
/* Counts into tf-idf weights: (1 + log tf) * log(N / df). */
void weigh(corpus *c, const vocab *v);
void corpus_free(corpus *c, vocab *v);

/* The same files as raw text documents (for full-text search): up to 4 lines of a
 * paragraph each, with at least 3 words of two or more letters or digits. */
typedef struct texts {
    char **docs;
    size_t n, cap, max_docs;
} texts;
void build_texts(texts *t, size_t max_docs);
void texts_free(texts *t);

#endif
