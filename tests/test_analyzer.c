/* Tests for the text analyzers (lib/text): the standard tokenizer's word boundaries on known
 * strings, the whitespace tokenizer, case folding, the stop, length and Porter stemmer filters,
 * and analyzer_params parsing with its refusals. */
#define _GNU_SOURCE
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

/* The tokens of text through params, joined by '|' (positions as "@n" after each when
 * with_pos). */
static char *analyze(const char *params, const char *text, bool with_pos)
{
    vdb_analyzer *a = NULL;
    vdb_status st = vdb_analyzer_new(params, params ? strlen(params) : 0, "field text", &a);
    if (st != VDB_OK)
        fail_msg("params %s refused: %s", params, vdb_err_get());
    vdb_tokens tk = {0};
    assert_int_equal(vdb_analyze(a, text, strlen(text), &tk), VDB_OK);
    static char out[4096];
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < tk.n; i++) {
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%.*s", i ? "|" : "",
                                (int)tk.t[i].len, vdb_token_str(&tk, i));
        if (with_pos)
            len += (size_t)snprintf(out + len, sizeof out - len, "@%u", tk.t[i].pos);
    }
    vdb_tokens_free(&tk);
    vdb_analyzer_free(a);
    return out;
}

#define TOKENS(params, text, want) assert_string_equal(analyze(params, text, false), want)
#define STD "{\"tokenizer\": \"standard\"}"

static void test_standard_tokenizer_word_boundaries(void **state)
{
    (void)state;
    TOKENS(STD, "The quick (\"brown\") fox can't jump 32.3 feet, right?",
           "The|quick|brown|fox|can't|jump|32.3|feet|right");
    /* WB6/7: letters join across ' . : only with letters on both sides; WB11/12 digits
     * across , . ; ' */
    TOKENS(STD, "e.g. U.S.A. 1,000,000 3;4 rock'n'roll a'", "e.g|U.S.A|1,000,000|3;4|rock'n'roll|a");
    TOKENS(STD, "foo:bar end. 'quoted' x1y2 2nd", "foo:bar|end|quoted|x1y2|2nd");
    /* ExtendNumLet joins; a lone '_' run is no word; hyphens and slashes separate */
    TOKENS(STD, "snake_case __ _x e-mail and/or", "snake_case|_x|e|mail|and|or");
    /* Greek, Cyrillic with a combining mark, Latin with accents, right single quote */
    TOKENS(STD, "Καλημέρα κόσμε! Привет, ми́р. Crème brûlée. l\u2019homme",
           "Καλημέρα|κόσμε|Привет|ми́р|Crème|brûlée|l\u2019homme");
    /* Han and Hiragana one token per character; Katakana runs stay whole; Hangul words */
    TOKENS(STD, "北京大学 ひらがな カタカナ 한국어 abc中文",
           "北|京|大|学|ひ|ら|が|な|カタカナ|한국어|abc|中|文");
    TOKENS(STD, "", "");
    TOKENS(STD, " ,.;!? ", "");
    /* positions count the tokenizer's tokens */
    assert_string_equal(analyze(STD, "a, b c", true), "a@0|b@1|c@2");
}

static void test_whitespace_tokenizer(void **state)
{
    (void)state;
    TOKENS("{\"tokenizer\": \"whitespace\"}", "  Hello,   world!\tfoo\u3000bar\n",
           "Hello,|world!|foo|bar");
    TOKENS("{\"tokenizer\": {\"type\": \"whitespace\"}, \"filter\": [\"lowercase\"]}",
           "ÀB Ωmega", "àb|ωmega");
}

static void test_lowercase_folds_common_scripts(void **state)
{
    (void)state;
    const char *lc = "{\"tokenizer\": \"standard\", \"filter\": [\"lowercase\"]}";
    TOKENS(lc, "HELLO Ärger ÉCOLE ĀĒĪ ΣΟΦΊΑ Σοφός ПРИВЕТ Ёлка ԱՐԱՄ ＡＢＣ ẞtraße ſtark",
           "hello|ärger|école|āēī|σοφία|σοφόσ|привет|ёлка|արամ|ａｂｃ|ßtraße|stark");
    assert_int_equal(vdb_casefold(0x130), 0x130); /* İ: no simple folding */
    assert_int_equal(vdb_casefold(0x178), 0xff);
    assert_int_equal(vdb_casefold(0xb5), 0x3bc);
    assert_int_equal(vdb_casefold(0x1c5), 0x1c6);
    assert_int_equal(vdb_casefold('7'), '7');
}

static void test_stop_and_length_filters(void **state)
{
    (void)state;
    TOKENS("{\"tokenizer\": \"standard\", \"filter\": [\"lowercase\", {\"type\": \"stop\", "
           "\"stop_words\": [\"_english_\", \"fox\"]}]}",
           "The Fox is in the box with a cat", "box|cat");
    /* positions keep the gaps the stop filter leaves */
    assert_string_equal(analyze("{\"type\": \"english\"}", "the cat and the hat", true),
                        "cat@1|hat@4");
    /* stop words compare byte for byte: before lowercase "The" stays */
    TOKENS("{\"tokenizer\": \"standard\", \"filter\": [{\"type\": \"stop\", "
           "\"stop_words\": \"_english_\"}, \"lowercase\"]}",
           "The the", "the");
    TOKENS("{\"tokenizer\": \"standard\", \"filter\": [{\"type\": \"length\", \"max\": 6}]}",
           "tiny small gigantic ééé éééé", "tiny|small|ééé"); /* bytes: é is 2 */
    /* the built-in standard analyzer with stop_words */
    TOKENS("{\"type\": \"standard\", \"stop_words\": [\"of\", \"the\"]}",
           "The Lord of the Rings", "lord|rings");
    TOKENS(NULL, "Default IS Standard", "default|is|standard");
    TOKENS("", "Default IS Standard", "default|is|standard");
}

/* Examples from Porter's paper (each step's examples, run through the whole algorithm, worked
 * by hand: "relational" goes to "relate" in step 2, keeps its "ate" in step 4 (m("rel") = 1)
 * and loses the e in step 5a (m("relat") = 2)). */
static void test_porter_stemmer(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"caresses", "caress"}, {"ponies", "poni"}, {"ties", "ti"}, {"caress", "caress"},
        {"cats", "cat"}, {"feed", "feed"}, {"agreed", "agre"}, {"plastered", "plaster"},
        {"bled", "bled"}, {"motoring", "motor"}, {"sing", "sing"}, {"conflated", "conflat"},
        {"troubled", "troubl"}, {"sized", "size"}, {"hopping", "hop"}, {"tanned", "tan"},
        {"falling", "fall"}, {"hissing", "hiss"}, {"fizzed", "fizz"}, {"failing", "fail"},
        {"filing", "file"}, {"happy", "happi"}, {"sky", "sky"}, {"relational", "relat"},
        {"conditional", "condit"}, {"rational", "ration"}, {"valenci", "valenc"},
        {"digitizer", "digit"}, {"operator", "oper"}, {"feudalism", "feudal"},
        {"hopefulness", "hope"}, {"goodness", "good"}, {"triplicate", "triplic"},
        {"formative", "form"}, {"electrical", "electr"}, {"revival", "reviv"},
        {"allowance", "allow"}, {"inference", "infer"}, {"airliner", "airlin"},
        {"adjustment", "adjust"}, {"adoption", "adopt"}, {"communism", "commun"},
        {"effective", "effect"}, {"probate", "probat"}, {"rate", "rate"}, {"cease", "ceas"},
        {"controlling", "control"}, {"roll", "roll"}, {"generalizations", "gener"},
        {"running", "run"}, {"is", "is"}, {"a", "a"}, {"oscillators", "oscil"},
    };
    for (size_t i = 0; i < VDB_ARRAY_LEN(pairs); i++) {
        char w[64];
        size_t n = strlen(pairs[i][0]);
        memcpy(w, pairs[i][0], n);
        n = vdb_porter_stem(w, n);
        w[n] = 0;
        if (strcmp(w, pairs[i][1]) != 0)
            fail_msg("stem(%s) = %s, expected %s", pairs[i][0], w, pairs[i][1]);
    }
    /* non-ASCII words are left alone */
    TOKENS("{\"type\": \"english\"}", "Running RUNNERS naïvely", "run|runner|naïvely");
}

static void assert_refused(const char *params, vdb_status want, const char *words)
{
    vdb_analyzer *a = NULL;
    vdb_status st = vdb_analyzer_new(params, strlen(params), "field body", &a);
    if (st != want || !strstr(vdb_err_get(), words) || !strstr(vdb_err_get(), "field body"))
        fail_msg("%s: status %d '%s', expected %d with '%s'", params, st, vdb_err_get(), want,
                 words);
    assert_null(a);
}

static void test_params_are_honoured_or_refused(void **state)
{
    (void)state;
    assert_refused("[1]", VDB_EINVAL, "object");
    assert_refused("{\"tokenizer\": \"standard\"", VDB_EINVAL, "invalid JSON");
    assert_refused("{\"tokenizer\": \"nope\"}", VDB_EINVAL, "unknown tokenizer");
    assert_refused("{\"tokenizer\": \"jieba\"}", VDB_EUNSUPPORTED, "jieba");
    assert_refused("{\"type\": \"chinese\"}", VDB_EUNSUPPORTED, "chinese");
    assert_refused("{\"type\": \"french\"}", VDB_EINVAL, "unknown analyzer type");
    assert_refused("{\"type\": \"english\", \"filter\": []}", VDB_EINVAL, "does not take");
    assert_refused("{\"tokenizer\": \"standard\", \"colour\": 1}", VDB_EINVAL, "colour");
    assert_refused("{\"tokenizer\": \"standard\", \"filter\": [\"upper\"]}", VDB_EINVAL,
                   "unknown filter \"upper\"");
    assert_refused("{\"tokenizer\": \"standard\", \"filter\": [\"asciifolding\"]}",
                   VDB_EUNSUPPORTED, "asciifolding");
    assert_refused("{\"tokenizer\": \"standard\", \"filter\": [{\"type\": \"length\"}]}",
                   VDB_EINVAL, "needs \"max\"");
    assert_refused("{\"tokenizer\": \"standard\", \"filter\": [{\"type\": \"length\", "
                   "\"max\": 0}]}",
                   VDB_EINVAL, "max");
    assert_refused("{\"tokenizer\": \"standard\", \"filter\": [{\"type\": \"length\", "
                   "\"max\": 5, \"min\": 1}]}",
                   VDB_EINVAL, "min");
    assert_refused("{\"tokenizer\": \"standard\", \"filter\": [{\"type\": \"stemmer\", "
                   "\"language\": \"german\"}]}",
                   VDB_EUNSUPPORTED, "german");
    assert_refused("{\"tokenizer\": \"standard\", \"filter\": [{\"type\": \"stop\", "
                   "\"stop_words\": [1]}]}",
                   VDB_EINVAL, "stop_words");
    assert_refused("{\"tokenizer\": \"standard\", \"filter\": {\"type\": \"stop\"}}",
                   VDB_EINVAL, "list");
    assert_refused("{\"filter\": [\"lowercase\"]}", VDB_EINVAL, "needs a \"tokenizer\"");
    assert_refused("{\"tokenizer\": \"standard\", \"stop_words\": [\"a\"]}", VDB_EINVAL,
                   "stop_words");
}

static void test_invalid_utf8_is_refused(void **state)
{
    (void)state;
    vdb_analyzer *a = NULL;
    assert_int_equal(vdb_analyzer_new(NULL, 0, NULL, &a), VDB_OK);
    vdb_tokens tk = {0};
    static const char *const bad[] = {"ab\xff", "\xc0\xaf", "\xed\xa0\x80", "x\xe2\x82",
                                      "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < VDB_ARRAY_LEN(bad); i++) {
        assert_int_equal(vdb_analyze(a, bad[i], strlen(bad[i]), &tk), VDB_EINVAL);
        assert_non_null(strstr(vdb_err_get(), "UTF-8"));
    }
    assert_int_equal(vdb_analyze(a, "ok \xf0\x9f\x98\x80 fine", 12, &tk), VDB_OK);
    assert_int_equal(tk.n, 2);
    vdb_tokens_free(&tk);
    vdb_analyzer_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_tokenizer_word_boundaries),
        cmocka_unit_test(test_whitespace_tokenizer),
        cmocka_unit_test(test_lowercase_folds_common_scripts),
        cmocka_unit_test(test_stop_and_length_filters),
        cmocka_unit_test(test_porter_stemmer),
        cmocka_unit_test(test_params_are_honoured_or_refused),
        cmocka_unit_test(test_invalid_utf8_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
