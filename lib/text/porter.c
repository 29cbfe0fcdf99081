/* Porter's stemming algorithm, written from its published description (M.F. Porter, "An
 * algorithm for suffix stripping", Program 14(3), 1980): steps 1a-5b with the paper's rule
 * lists. In each step the longest suffix that matches is the one taken; if its condition
 * fails the step changes nothing. Words of one or two letters are left as they are. */
#include "text/text.h"

typedef struct word {
    char *b;
    size_t k; /* length */
} word;

static bool is_cons(const word *w, size_t i)
{
    switch (w->b[i]) {
    case 'a': case 'e': case 'i': case 'o': case 'u':
        return false;
    case 'y':
        return i == 0 ? true : !is_cons(w, i - 1);
    default:
        return true;
    }
}

/* m of the stem b[0..j): the number of vowel-consonant sequences in [C](VC)^m[V]. */
static size_t measure(const word *w, size_t j)
{
    size_t i = 0, m = 0;
    while (i < j && is_cons(w, i))
        i++;
    for (;;) {
        while (i < j && !is_cons(w, i))
            i++;
        if (i >= j)
            return m;
        while (i < j && is_cons(w, i))
            i++;
        m++;
    }
}

static bool has_vowel(const word *w, size_t j)
{
    for (size_t i = 0; i < j; i++)
        if (!is_cons(w, i))
            return true;
    return false;
}

/* *d: the stem b[0..j) ends with a double consonant. */
static bool double_cons(const word *w, size_t j)
{
    return j >= 2 && w->b[j - 1] == w->b[j - 2] && is_cons(w, j - 1);
}

/* *o: the stem b[0..j) ends consonant-vowel-consonant, the last not w, x or y. */
static bool cvc(const word *w, size_t j)
{
    if (j < 3 || !is_cons(w, j - 1) || is_cons(w, j - 2) || !is_cons(w, j - 3))
        return false;
    char c = w->b[j - 1];
    return c != 'w' && c != 'x' && c != 'y';
}

static bool ends(const word *w, const char *suffix, size_t *stem)
{
    size_t n = strlen(suffix);
    if (n > w->k || memcmp(w->b + w->k - n, suffix, n) != 0)
        return false;
    *stem = w->k - n;
    return true;
}

/* Replaces the end after stem j by s (never longer than what it replaces + 1: the buffer
 * holds the word plus one byte, for step 1b's added 'e'). */
static void set_to(word *w, size_t j, const char *s)
{
    size_t n = strlen(s);
    memcpy(w->b + j, s, n);
    w->k = j + n;
}

typedef struct rule {
    const char *from, *to;
} rule;

/* The longest suffix in rules (listed so that a longer one comes before any suffix of it)
 * is replaced when the stem's measure exceeds min_m. */
static void apply_rules(word *w, const rule *rules, size_t n, size_t min_m)
{
    size_t best = n, best_len = 0, j = 0;
    for (size_t r = 0; r < n; r++) {
        size_t s, len = strlen(rules[r].from);
        if (len > best_len && ends(w, rules[r].from, &s)) {
            best = r;
            best_len = len;
            j = s;
        }
    }
    if (best < n && measure(w, j) > min_m)
        set_to(w, j, rules[best].to);
}

static void step1ab(word *w)
{
    size_t j;
    if (w->b[w->k - 1] == 's') {
        if (ends(w, "sses", &j))
            w->k -= 2;
        else if (ends(w, "ies", &j))
            w->k -= 2;
        else if (w->k >= 2 && w->b[w->k - 2] != 's')
            w->k -= 1;
    }
    bool more = false;
    if (ends(w, "eed", &j)) {
        if (measure(w, j) > 0)
            w->k -= 1;
    } else if (ends(w, "ed", &j) && has_vowel(w, j)) {
        w->k = j;
        more = true;
    } else if (ends(w, "ing", &j) && has_vowel(w, j)) {
        w->k = j;
        more = true;
    }
    if (!more)
        return;
    if (ends(w, "at", &j) || ends(w, "bl", &j) || ends(w, "iz", &j)) {
        w->b[w->k++] = 'e';
    } else if (double_cons(w, w->k)) {
        char c = w->b[w->k - 1];
        if (c != 'l' && c != 's' && c != 'z')
            w->k -= 1;
    } else if (measure(w, w->k) == 1 && cvc(w, w->k)) {
        w->b[w->k++] = 'e';
    }
}

static void step1c(word *w)
{
    size_t j;
    if (ends(w, "y", &j) && has_vowel(w, j))
        w->b[w->k - 1] = 'i';
}

static const rule step2_rules[] = {
    {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"},
    {"izer", "ize"}, {"abli", "able"}, {"alli", "al"}, {"entli", "ent"}, {"eli", "e"},
    {"ousli", "ous"}, {"ization", "ize"}, {"ation", "ate"}, {"ator", "ate"},
    {"alism", "al"}, {"iveness", "ive"}, {"fulness", "ful"}, {"ousness", "ous"},
    {"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"},
};

static const rule step3_rules[] = {
    {"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"}, {"ical", "ic"},
    {"ful", ""}, {"ness", ""},
};

static const char *const step4_suffixes[] = {
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
    "ou", "ism", "ate", "iti", "ous", "ive", "ize",
};

static void step4(word *w)
{
    size_t best_len = 0, j = 0;
    const char *best = NULL;
    for (size_t r = 0; r < sizeof step4_suffixes / sizeof step4_suffixes[0]; r++) {
        size_t s, len = strlen(step4_suffixes[r]);
        if (len > best_len && ends(w, step4_suffixes[r], &s)) {
            best = step4_suffixes[r];
            best_len = len;
            j = s;
        }
    }
    if (!best || measure(w, j) <= 1)
        return;
    if (strcmp(best, "ion") == 0 && !(j > 0 && (w->b[j - 1] == 's' || w->b[j - 1] == 't')))
        return;
    w->k = j;
}

static void step5(word *w)
{
    size_t j;
    if (ends(w, "e", &j)) {
        size_t m = measure(w, j);
        if (m > 1 || (m == 1 && !cvc(w, j)))
            w->k = j;
    }
    if (w->k >= 2 && w->b[w->k - 1] == 'l' && double_cons(w, w->k) && measure(w, w->k) > 1)
        w->k -= 1;
}

size_t vdb_porter_stem(char *b, size_t n)
{
    if (n <= 2)
        return n;
    for (size_t i = 0; i < n; i++)
        if (b[i] < 'a' || b[i] > 'z')
            return n;
    /* Step 1b may add an 'e' after removing "ed"/"ing", so the word never grows past n. */
    word w = {b, n};
    step1ab(&w);
    if (w.k == 0)
        return n;
    step1c(&w);
    apply_rules(&w, step2_rules, sizeof step2_rules / sizeof step2_rules[0], 0);
    apply_rules(&w, step3_rules, sizeof step3_rules / sizeof step3_rules[0], 0);
    step4(&w);
    step5(&w);
    return w.k;
}

void vdb_filter_porter(vdb_tokens *tk)
{
    for (size_t k = 0; k < tk->n; k++)
        tk->t[k].len = (uint32_t)vdb_porter_stem(tk->text + tk->t[k].off, tk->t[k].len);
}
