/* The bag-of-words corpus of sparse_corpus.h. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparse_corpus.h"

static uint64_t hash_word(const char *w)
{
    uint64_t h = 1469598103934665603ull;
    for (; *w; w++)
        h = (h ^ (uint8_t)*w) * 1099511628211ull;
    return h;
}

uint32_t vocab_id(vocab *v, const char *w)
{
    if (v->n * 2 >= v->nslots) {
        size_t ns = v->nslots ? v->nslots * 2 : 1 << 14;
        size_t *s = calloc(ns, sizeof *s);
        for (size_t i = 0; i < v->n; i++) {
            size_t h = hash_word(v->words[i]) & (ns - 1);
            while (s[h])
                h = (h + 1) & (ns - 1);
            s[h] = i + 1;
        }
        free(v->slots);
        v->slots = s;
        v->nslots = ns;
    }
    size_t h = hash_word(w) & (v->nslots - 1);
    while (v->slots[h]) {
        if (!strcmp(v->words[v->slots[h] - 1], w))
            return (uint32_t)(v->slots[h] - 1);
        h = (h + 1) & (v->nslots - 1);
    }
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 1024;
        v->words = realloc(v->words, v->cap * sizeof *v->words);
        v->df = realloc(v->df, v->cap * sizeof *v->df);
    }
    v->words[v->n] = strdup(w);
    v->df[v->n] = 0;
    v->slots[h] = v->n + 1;
    return (uint32_t)v->n++;
}

/* One document's term counts (ids ascending) from its words. */
static void add_doc(corpus *c, vocab *v, uint32_t *ids, size_t nids)
{
    if (nids < 3)
        return;
    for (size_t i = 1; i < nids; i++) { /* insertion sort: documents are short */
        uint32_t x = ids[i];
        size_t j = i;
        while (j > 0 && ids[j - 1] > x) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = x;
    }
    srow d = {0, malloc(nids * 4), malloc(nids * 4)};
    for (size_t i = 0; i < nids; i++) {
        if (d.n && d.idx[d.n - 1] == ids[i]) {
            d.val[d.n - 1] += 1.0f;
            continue;
        }
        d.idx[d.n] = ids[i];
        d.val[d.n++] = 1.0f;
        v->df[ids[i]]++;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->docs = realloc(c->docs, c->cap * sizeof *c->docs);
    }
    c->docs[c->n++] = d;
}

/* Paragraphs (blank-line separated, cut at 200 words) of one file as documents. */
static void read_file_docs(const char *path, corpus *c, vocab *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    uint32_t ids[200];
    size_t nids = 0, wl = 0;
    char word[32];
    int ch, prev = 0;
    while ((ch = fgetc(f)) != EOF) {
        if (isalnum(ch)) {
            if (wl < sizeof word - 1)
                word[wl++] = (char)tolower(ch);
        } else {
            if (wl >= 2) {
                word[wl] = 0;
                ids[nids++] = vocab_id(v, word);
                if (nids == 200) {
                    add_doc(c, v, ids, nids);
                    nids = 0;
                }
            }
            wl = 0;
            if (ch == '\n' && prev == '\n' && nids) {
                add_doc(c, v, ids, nids);
                nids = 0;
            }
        }
        prev = ch;
    }
    add_doc(c, v, ids, nids);
    fclose(f);
}

/* Calls fn(path, arg) for every license file, then for /usr/share/doc/<package>/copyright
 * while more(arg). */
static void each_source(void (*fn)(const char *path, void *arg), bool (*more)(void *arg),
                        void *arg)
{
    DIR *d = opendir("/usr/share/common-licenses");
    struct dirent *e;
    char path[4096];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/usr/share/common-licenses/%s", e->d_name);
        fn(path, arg);
    }
    if (d)
        closedir(d);
    d = opendir("/usr/share/doc");
    while (d && (e = readdir(d)) && more(arg)) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/usr/share/doc/%s/copyright", e->d_name);
        fn(path, arg);
    }
    if (d)
        closedir(d);
}

typedef struct bow_ctx {
    corpus *c;
    vocab *v;
    size_t max_docs;
} bow_ctx;

static void bow_file(const char *path, void *arg)
{
    bow_ctx *b = arg;
    read_file_docs(path, b->c, b->v);
}

static bool bow_more(void *arg)
{
    bow_ctx *b = arg;
    return b->c->n < b->max_docs;
}

void build_corpus(corpus *c, vocab *v, size_t max_docs)
{
    bow_ctx b = {c, v, max_docs};
    each_source(bow_file, bow_more, &b);
}

/* Text documents: up to 4 lines of a paragraph with at least 3 words between them. */
static void text_file(const char *path, void *arg)
{
    texts *t = arg;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[4096], doc[16384];
    size_t len = 0, lines = 0, words = 0;
    bool more = true;
    while (more && t->n < t->max_docs) {
        more = fgets(line, sizeof line, f) != NULL;
        size_t w = 0, run = 0;
        bool blank = true;
        for (const char *p = more ? line : ""; *p; p++) {
            blank = blank && isspace((unsigned char)*p);
            if (isalnum((unsigned char)*p))
                run++;
            else {
                w += run >= 2;
                run = 0;
            }
        }
        w += run >= 2;
        if (more && !blank && len + strlen(line) < sizeof doc) {
            memcpy(doc + len, line, strlen(line));
            len += strlen(line);
            lines++;
            words += w;
        }
        if (!more || blank || lines == 4) {
            if (words >= 3) {
                if (t->n == t->cap) {
                    t->cap = t->cap ? t->cap * 2 : 1024;
                    t->docs = realloc(t->docs, t->cap * sizeof *t->docs);
                }
                t->docs[t->n++] = strndup(doc, len);
            }
            len = lines = words = 0;
        }
    }
    fclose(f);
}

static bool text_more(void *arg)
{
    texts *t = arg;
    return t->n < t->max_docs;
}

void build_texts(texts *t, size_t max_docs)
{
    t->max_docs = max_docs;
    each_source(text_file, text_more, t);
}

void texts_free(texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->docs[i]);
    free(t->docs);
    memset(t, 0, sizeof *t);
}

void weigh(corpus *c, const vocab *v)
{
    for (size_t i = 0; i < c->n; i++)
        for (uint32_t j = 0; j < c->docs[i].n; j++) {
            float tf = c->docs[i].val[j];
            c->docs[i].val[j] = (1.0f + logf(tf)) *
                                logf((float)c->n / (float)v->df[c->docs[i].idx[j]]);
        }
}

void corpus_free(corpus *c, vocab *v)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->docs[i].idx);
        free(c->docs[i].val);
    }
    free(c->docs);
    for (size_t i = 0; i < v->n; i++)
        free(v->words[i]);
    free(v->words);
    free(v->df);
    free(v->slots);
}
