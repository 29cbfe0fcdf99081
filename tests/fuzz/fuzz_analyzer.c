/* libFuzzer target for the text analyzers (lib/text): analyzer_params parsing and the
 * tokenizers and filters over any bytes. Invalid UTF-8 and bad params are VDB_EINVAL (or
 * VDB_EUNSUPPORTED for what Milvus has and libvdb does not) with a message; the tokens of
 * valid text are non-empty valid UTF-8 with increasing positions, no longer than a length
 * filter allows, folded (lowercase: folding them again changes nothing), and the same when
 * analyzed again.
 *
 * Input: u8 selector; if its top bit is set, analyzer params up to the first NUL byte, then
 * the text; otherwise the text with one of the built-in params below. */
#include "fuzz.h"
#include "text/text.h"

static const char *const fixed[] = {
    NULL,
    "{\"type\": \"english\"}",
    "{\"type\": \"standard\", \"stop_words\": [\"of\", \"_english_\"]}",
    "{\"tokenizer\": \"whitespace\", \"filter\": [\"lowercase\", {\"type\": \"length\", "
    "\"max\": 7}]}",
    "{\"tokenizer\": \"standard\", \"filter\": [{\"type\": \"stemmer\", \"language\": "
    "\"english\"}, \"lowercase\", {\"type\": \"length\", \"max\": 3}]}",
    "{\"tokenizer\": \"standard\"}",
};

static void check_status(vdb_status st)
{
    if (st != VDB_OK && ((st != VDB_EINVAL && st != VDB_EUNSUPPORTED) || !vdb_err_get()[0])) {
        fprintf(stderr, "fuzz_analyzer: status %d '%s'\n", (int)st, vdb_err_get());
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *params = NULL;
    size_t plen = 0;
    const uint8_t *text = data + 1;
    size_t n = size - 1;
    char *pcopy = NULL;
    uint32_t max = UINT32_MAX;
    bool lower = false;
    if (data[0] & 0x80) {
        const uint8_t *nul = memchr(text, 0, n);
        plen = nul ? (size_t)(nul - text) : n;
        pcopy = (char *)fuzz_copy(text, plen);
        params = pcopy;
        text += nul ? plen + 1 : plen;
        n -= nul ? plen + 1 : plen;
    } else {
        size_t k = data[0] % VDB_ARRAY_LEN(fixed);
        params = fixed[k];
        plen = params ? strlen(params) : 0;
        max = k == 3 ? 7 : k == 4 ? 3 : UINT32_MAX;
        lower = k == 0 || k == 1 || k == 2 || k == 3;
    }
    vdb_analyzer *a = NULL;
    vdb_status st = vdb_analyzer_new(params, plen, "fuzz", &a);
    check_status(st);
    if (st != VDB_OK) {
        if (a)
            __builtin_trap();
        free(pcopy);
        return 0;
    }
    char *s = (char *)fuzz_copy(text, n);
    vdb_tokens tk = {0}, again = {0};
    st = vdb_analyze(a, s, n, &tk);
    check_status(st);
    bool valid = vdb_utf8_valid(s, n, NULL);
    if ((st == VDB_OK) != valid)
        __builtin_trap();
    if (st == VDB_OK) {
        for (size_t i = 0; i < tk.n; i++) {
            const char *t = vdb_token_str(&tk, i);
            if (tk.t[i].len == 0 || tk.t[i].len > max || !vdb_utf8_valid(t, tk.t[i].len, NULL))
                __builtin_trap();
            if (i > 0 && tk.t[i].pos <= tk.t[i - 1].pos)
                __builtin_trap();
            if (tk.t[i].off + tk.t[i].len > tk.text_len)
                __builtin_trap();
            size_t j = 0;
            uint32_t c;
            while (lower && j < tk.t[i].len && vdb_utf8_next(t, tk.t[i].len, &j, &c))
                if (vdb_casefold(c) != c)
                    __builtin_trap();
        }
        if (vdb_analyze(a, s, n, &again) != VDB_OK || again.n != tk.n)
            __builtin_trap();
        for (size_t i = 0; i < tk.n; i++)
            fuzz_check_same("fuzz_analyzer (again)", vdb_token_str(&tk, i), tk.t[i].len,
                            vdb_token_str(&again, i), again.t[i].len);
    }
    vdb_tokens_free(&tk);
    vdb_tokens_free(&again);
    vdb_analyzer_free(a);
    free(s);
    free(pcopy);
    return 0;
}
