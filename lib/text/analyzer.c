/* Analyzers from Milvus's analyzer_params JSON: a tokenizer and a list of filters. */
#include "text/text.h"

#include <stdio.h>

#include "util/json.h"

enum tokenizer { TOK_STANDARD, TOK_WHITESPACE };
enum step_kind { STEP_LOWER, STEP_STOP, STEP_LENGTH, STEP_STEM };

typedef struct step {
    enum step_kind kind;
    vdb_stopset stop; /* STEP_STOP */
    uint32_t max;     /* STEP_LENGTH */
} step;

struct vdb_analyzer {
    enum tokenizer tok;
    step *steps;
    size_t n;
};

void vdb_analyzer_free(vdb_analyzer *a)
{
    if (!a)
        return;
    for (size_t k = 0; k < a->n; k++)
        vdb_stopset_free(&a->steps[k].stop);
    vdb_free(a->steps);
    vdb_free(a);
}

static step *add_step(vdb_analyzer *a, enum step_kind kind)
{
    step *s = vdb_realloc(a->steps, (a->n + 1) * sizeof *s);
    if (!s)
        return NULL;
    a->steps = s;
    memset(&s[a->n], 0, sizeof s[a->n]);
    s[a->n].kind = kind;
    return &s[a->n++];
}

static vdb_status oom(void)
{
    return vdb_set_errmsg(VDB_ENOMEM, "analyzer: out of memory");
}

/* The JSON string val as a malloc'ed C string; VDB_EINVAL (naming key) if it is not one. */
static vdb_status get_string(const char *val, size_t vlen, const char *what, const char *key,
                             char **out)
{
    vdb_json_scalar v = {0};
    size_t i = 0;
    while (i < vlen && (val[i] == ' ' || val[i] == '\t' || val[i] == '\n' || val[i] == '\r'))
        i++;
    if (i == vlen || val[i] != '"')
        return vdb_set_errmsg(VDB_EINVAL, "%s: analyzer_params \"%s\" must be a string", what,
                              key);
    vdb_status st = vdb_json_parse_scalar(val, vlen, VDB_TYPE_VARCHAR, 65535, &v);
    if (st != VDB_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", vdb_err_get());
        return vdb_set_errmsg(st, "%s: analyzer_params \"%s\": %s", what, key, why);
    }
    *out = v.s;
    return VDB_OK;
}

typedef struct stop_ctx {
    vdb_stopset *set;
    const char *what;
    vdb_status st;
} stop_ctx;

static int stop_word(void *arg, size_t i, const char *val, size_t vlen)
{
    stop_ctx *c = arg;
    char *w = NULL;
    c->st = get_string(val, vlen, c->what, "stop_words", &w);
    if (c->st == VDB_OK && !vdb_stopset_add(c->set, w, strlen(w)))
        c->st = oom();
    vdb_free(w);
    return c->st != VDB_OK;
}

/* "stop_words": a list of words, or one string ("_english_"). */
static vdb_status parse_stop_words(const char *val, size_t vlen, const char *what,
                                   vdb_stopset *set)
{
    size_t i = 0;
    while (i < vlen && (val[i] == ' ' || val[i] == '\t' || val[i] == '\n' || val[i] == '\r'))
        i++;
    if (i < vlen && val[i] == '"') {
        char *w = NULL;
        vdb_status st = get_string(val, vlen, what, "stop_words", &w);
        if (st == VDB_OK && !vdb_stopset_add(set, w, strlen(w)))
            st = oom();
        vdb_free(w);
        return st;
    }
    if (i == vlen || val[i] != '[')
        return vdb_set_errmsg(VDB_EINVAL,
                              "%s: analyzer_params \"stop_words\" must be a list of strings",
                              what);
    stop_ctx c = {set, what, VDB_OK};
    vdb_status st = vdb_json_each_elem(val, vlen, stop_word, &c);
    return st != VDB_OK ? st : c.st;
}

static bool is(const char *s, const char *name)
{
    return strcmp(s, name) == 0;
}

static vdb_status set_tokenizer(vdb_analyzer *a, const char *name, const char *what)
{
    if (is(name, "standard"))
        a->tok = TOK_STANDARD;
    else if (is(name, "whitespace"))
        a->tok = TOK_WHITESPACE;
    else if (is(name, "jieba") || is(name, "lindera") || is(name, "icu") ||
             is(name, "language_identifier") || is(name, "char_group"))
        return vdb_set_errmsg(VDB_EUNSUPPORTED, "%s: tokenizer \"%s\" is not built in libvdb",
                              what, name);
    else
        return vdb_set_errmsg(VDB_EINVAL, "%s: unknown tokenizer \"%s\"", what, name);
    return VDB_OK;
}

typedef struct obj_ctx {
    vdb_analyzer *a;
    const char *what;
    vdb_status st;
    /* a filter object's members */
    char *type;
    const char *stop_words, *max, *language;
    size_t stop_len, max_len, language_len;
    bool other;
    char other_key[64];
} obj_ctx;

static int filter_member(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    obj_ctx *c = arg;
    if (klen == 4 && memcmp(key, "type", 4) == 0) {
        vdb_free(c->type);
        c->type = NULL;
        c->st = get_string(val, vlen, c->what, "type", &c->type);
        return c->st != VDB_OK;
    }
    if (klen == 10 && memcmp(key, "stop_words", 10) == 0) {
        c->stop_words = val, c->stop_len = vlen;
    } else if (klen == 3 && memcmp(key, "max", 3) == 0) {
        c->max = val, c->max_len = vlen;
    } else if (klen == 8 && memcmp(key, "language", 8) == 0) {
        c->language = val, c->language_len = vlen;
    } else if (!c->other) {
        c->other = true;
        snprintf(c->other_key, sizeof c->other_key, "%.*s", (int)(klen < 60 ? klen : 60), key);
    }
    return 0;
}

static const char *const unbuilt_filters[] = {
    "asciifolding", "alphanumonly", "cnalphanumonly", "cncharonly", "decompounder",
    "regex", "removepunct", "synonym",
};

static vdb_status unknown_filter(const char *name, const char *what)
{
    for (size_t k = 0; k < sizeof unbuilt_filters / sizeof unbuilt_filters[0]; k++)
        if (is(name, unbuilt_filters[k]))
            return vdb_set_errmsg(VDB_EUNSUPPORTED,
                                  "%s: filter \"%s\" is not built in libvdb", what, name);
    return vdb_set_errmsg(VDB_EINVAL, "%s: unknown filter \"%s\"", what, name);
}

static vdb_status filter_object(vdb_analyzer *a, const char *val, size_t vlen,
                                const char *what)
{
    obj_ctx c = {.a = a, .what = what};
    vdb_status st = vdb_json_each(val, vlen, filter_member, &c);
    if (st == VDB_OK)
        st = c.st;
    if (st == VDB_OK && !c.type)
        st = vdb_set_errmsg(VDB_EINVAL, "%s: a filter object needs \"type\"", what);
    const char *t = c.type;
    bool stop = st == VDB_OK && is(t, "stop"), length = st == VDB_OK && is(t, "length"),
         stem = st == VDB_OK && is(t, "stemmer");
    if (st == VDB_OK && !stop && !length && !stem)
        st = unknown_filter(t, what);
    if (st == VDB_OK && (c.other || (c.stop_words && !stop) || (c.max && !length) ||
                         (c.language && !stem)))
        st = vdb_set_errmsg(VDB_EINVAL, "%s: filter \"%s\" takes no key \"%s\"", what, t,
                            c.other ? c.other_key
                                    : c.stop_words && !stop ? "stop_words"
                                    : c.max && !length      ? "max"
                                                            : "language");
    if (st == VDB_OK && stop) {
        step *s = add_step(a, STEP_STOP);
        if (!s)
            st = oom();
        else if (!c.stop_words)
            st = vdb_set_errmsg(VDB_EINVAL, "%s: filter \"stop\" needs \"stop_words\"", what);
        else
            st = parse_stop_words(c.stop_words, c.stop_len, what, &s->stop);
    }
    if (st == VDB_OK && length) {
        vdb_json_scalar v = {0};
        if (!c.max) {
            st = vdb_set_errmsg(VDB_EINVAL, "%s: filter \"length\" needs \"max\"", what);
        } else if (vdb_json_parse_scalar(c.max, c.max_len, VDB_TYPE_INT64, 0, &v) != VDB_OK ||
                   v.i < 1 || v.i > 65535) {
            st = vdb_set_errmsg(VDB_EINVAL,
                                "%s: filter \"length\": \"max\" must be an integer 1..65535",
                                what);
        } else {
            step *s = add_step(a, STEP_LENGTH);
            if (!s)
                st = oom();
            else
                s->max = (uint32_t)v.i;
        }
    }
    if (st == VDB_OK && stem) {
        char *lang = NULL;
        if (!c.language)
            st = vdb_set_errmsg(VDB_EINVAL, "%s: filter \"stemmer\" needs \"language\"", what);
        else
            st = get_string(c.language, c.language_len, what, "language", &lang);
        if (st == VDB_OK && !is(lang, "english"))
            st = vdb_set_errmsg(VDB_EUNSUPPORTED,
                                "%s: stemmer language \"%s\" is not built (english is)", what,
                                lang);
        if (st == VDB_OK && !add_step(a, STEP_STEM))
            st = oom();
        vdb_free(lang);
    }
    vdb_free(c.type);
    return st;
}

typedef struct list_ctx {
    vdb_analyzer *a;
    const char *what;
    vdb_status st;
} list_ctx;

static int filter_elem(void *arg, size_t i, const char *val, size_t vlen)
{
    list_ctx *c = arg;
    size_t k = 0;
    while (k < vlen && (val[k] == ' ' || val[k] == '\t' || val[k] == '\n' || val[k] == '\r'))
        k++;
    if (k < vlen && val[k] == '{') {
        c->st = filter_object(c->a, val, vlen, c->what);
        return c->st != VDB_OK;
    }
    char *name = NULL;
    c->st = get_string(val, vlen, c->what, "filter", &name);
    if (c->st == VDB_OK) {
        if (is(name, "lowercase"))
            c->st = add_step(c->a, STEP_LOWER) ? VDB_OK : oom();
        else
            c->st = unknown_filter(name, c->what);
    }
    vdb_free(name);
    return c->st != VDB_OK;
}

typedef struct top_ctx {
    const char *type, *tokenizer, *filter, *stop_words;
    size_t type_len, tokenizer_len, filter_len, stop_len;
    char other[64];
} top_ctx;

static int top_member(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
    top_ctx *c = arg;
    if (klen == 4 && memcmp(key, "type", 4) == 0)
        c->type = val, c->type_len = vlen;
    else if (klen == 9 && memcmp(key, "tokenizer", 9) == 0)
        c->tokenizer = val, c->tokenizer_len = vlen;
    else if (klen == 6 && memcmp(key, "filter", 6) == 0)
        c->filter = val, c->filter_len = vlen;
    else if (klen == 10 && memcmp(key, "stop_words", 10) == 0)
        c->stop_words = val, c->stop_len = vlen;
    else if (!c->other[0])
        snprintf(c->other, sizeof c->other, "%.*s", (int)(klen < 60 ? klen : 60), key);
    return 0;
}

/* The tokenizer's value: a name, or an object {"type": name}. */
static vdb_status parse_tokenizer(vdb_analyzer *a, const char *val, size_t vlen,
                                  const char *what)
{
    const char *v = val;
    size_t n = vlen;
    if (vdb_json_is_object(val, vlen)) {
        obj_ctx c = {.a = a, .what = what};
        vdb_status st = vdb_json_each(val, vlen, filter_member, &c);
        if (st == VDB_OK)
            st = c.st;
        if (st == VDB_OK && !c.type)
            st = vdb_set_errmsg(VDB_EINVAL, "%s: a tokenizer object needs \"type\"", what);
        if (st == VDB_OK)
            st = set_tokenizer(a, c.type, what);
        if (st == VDB_OK && (c.other || c.stop_words || c.max || c.language))
            st = vdb_set_errmsg(VDB_EINVAL, "%s: tokenizer \"%s\" takes no other keys", what,
                                c.type);
        vdb_free(c.type);
        return st;
    }
    char *name = NULL;
    vdb_status st = get_string(v, n, what, "tokenizer", &name);
    if (st == VDB_OK)
        st = set_tokenizer(a, name, what);
    vdb_free(name);
    return st;
}

static vdb_status parse(vdb_analyzer *a, const char *params, size_t n, const char *what)
{
    vdb_status st = vdb_json_validate(params, n, what);
    if (st != VDB_OK)
        return st;
    if (!vdb_json_is_object(params, n))
        return vdb_set_errmsg(VDB_EINVAL, "%s: analyzer_params must be a JSON object", what);
    top_ctx c = {0};
    st = vdb_json_each(params, n, top_member, &c);
    if (st != VDB_OK)
        return st;
    if (c.other[0])
        return vdb_set_errmsg(VDB_EINVAL, "%s: unknown analyzer_params key \"%s\"", what,
                              c.other);
    if (c.type) {
        if (c.tokenizer || c.filter)
            return vdb_set_errmsg(VDB_EINVAL,
                                  "%s: analyzer_params \"type\" (a built-in analyzer) does "
                                  "not take \"tokenizer\" or \"filter\"",
                                  what);
        char *type = NULL;
        st = get_string(c.type, c.type_len, what, "type", &type);
        if (st != VDB_OK)
            return st;
        bool english = is(type, "english"), standard = is(type, "standard");
        if (!english && !standard) {
            st = is(type, "chinese")
                     ? vdb_set_errmsg(VDB_EUNSUPPORTED,
                                      "%s: analyzer \"chinese\" is not built in libvdb", what)
                     : vdb_set_errmsg(VDB_EINVAL, "%s: unknown analyzer type \"%s\"", what,
                                      type);
            vdb_free(type);
            return st;
        }
        vdb_free(type);
        a->tok = TOK_STANDARD;
        if (!add_step(a, STEP_LOWER))
            return oom();
        if (english || c.stop_words) {
            step *s = add_step(a, STEP_STOP);
            if (!s)
                return oom();
            st = c.stop_words ? parse_stop_words(c.stop_words, c.stop_len, what, &s->stop)
                              : (vdb_stopset_add(&s->stop, "_english_", 9) ? VDB_OK : oom());
            if (st != VDB_OK)
                return st;
        }
        if (english && !add_step(a, STEP_STEM))
            return oom();
        return VDB_OK;
    }
    if (c.stop_words)
        return vdb_set_errmsg(VDB_EINVAL,
                              "%s: analyzer_params \"stop_words\" goes with \"type\"; use a "
                              "\"stop\" filter",
                              what);
    a->tok = TOK_STANDARD;
    if (c.tokenizer) {
        st = parse_tokenizer(a, c.tokenizer, c.tokenizer_len, what);
        if (st != VDB_OK)
            return st;
    } else if (c.filter) {
        return vdb_set_errmsg(VDB_EINVAL, "%s: analyzer_params \"filter\" needs a \"tokenizer\"",
                              what);
    }
    if (c.filter) {
        if (vdb_json_is_object(c.filter, c.filter_len) ||
            !(c.filter_len > 0 && memchr(c.filter, '[', 1)))
            return vdb_set_errmsg(VDB_EINVAL, "%s: analyzer_params \"filter\" must be a list",
                                  what);
        list_ctx l = {a, what, VDB_OK};
        st = vdb_json_each_elem(c.filter, c.filter_len, filter_elem, &l);
        if (st == VDB_OK)
            st = l.st;
    }
    return st;
}

vdb_status vdb_analyzer_new(const char *params, size_t n, const char *what, vdb_analyzer **out)
{
    *out = NULL;
    if (!what)
        what = "analyzer";
    vdb_analyzer *a = vdb_calloc(1, sizeof *a);
    if (!a)
        return oom();
    size_t i = 0;
    while (params && i < n &&
           (params[i] == ' ' || params[i] == '\t' || params[i] == '\n' || params[i] == '\r'))
        i++;
    vdb_status st;
    if (!params || i == n) {
        a->tok = TOK_STANDARD; /* Milvus's default: the standard analyzer */
        st = add_step(a, STEP_LOWER) ? VDB_OK : oom();
    } else {
        st = parse(a, params, n, what);
    }
    if (st != VDB_OK) {
        vdb_analyzer_free(a);
        return st;
    }
    *out = a;
    return VDB_OK;
}

vdb_status vdb_analyze(const vdb_analyzer *a, const char *text, size_t n, vdb_tokens *out)
{
    vdb_tokens_clear(out);
    size_t bad = 0;
    if (!vdb_utf8_valid(text, n, &bad))
        return vdb_set_errmsg(VDB_EINVAL, "text: invalid UTF-8 at byte %zu", bad);
    bool ok = a->tok == TOK_WHITESPACE ? vdb_tokenize_whitespace(text, n, out)
                                       : vdb_tokenize_standard(text, n, out);
    for (size_t k = 0; ok && k < a->n; k++) {
        const step *s = &a->steps[k];
        switch (s->kind) {
        case STEP_LOWER: ok = vdb_filter_lowercase(out); break;
        case STEP_STOP: vdb_filter_stop(out, &s->stop); break;
        case STEP_LENGTH: vdb_filter_length(out, s->max); break;
        case STEP_STEM: vdb_filter_porter(out); break;
        }
    }
    return ok ? VDB_OK : oom();
}
