/* The sparse inverted index's saved formats: format 2 (written) decoded onto the heap and
 * used in place (vdb_sparse_index_view) answers exactly as the built index, format 1 (made
 * here from format 2's arrays, as older releases wrote it) too; damage to a view's postings
 * or blocks is VDB_ECORRUPT, never a read out of bounds. */
#include "test_common.h"

#include <stdlib.h>
#include <string.h>

#include "index/vector/sparse.h"
#include "index/vector/vindex.h"

#define ROWS 3000
#define DIMS 400
#define NQ 8
#define K 10

static uint64_t offsets[ROWS + 1];
static uint8_t *bytes;

static void make_rows(void)
{
    uint64_t rs = 5;
    bytes = malloc((size_t)ROWS * 40 * 8);
    offsets[0] = 0;
    for (size_t r = 0; r < ROWS; r++) {
        uint32_t n = (uint32_t)(test_rand(&rs) % 40), at = (uint32_t)(test_rand(&rs) % 10);
        uint32_t *idx = (uint32_t *)(bytes + offsets[r]);
        float *val = (float *)idx + n;
        for (uint32_t j = 0; j < n; j++) {
            idx[j] = at;
            val[j] = (float)(test_rand(&rs) % 1000 + 1) / 1000.0f;
            at += 1 + (uint32_t)(test_rand(&rs) % (2 * DIMS / 40));
        }
        offsets[r + 1] = offsets[r] + 8ull * n;
    }
}

/* Each algorithm's answers for NQ queries, as (score, id) pairs in out. */
static void answers(const vdb_sparse_index *ix, float *dist, int64_t *ids)
{
    uint64_t rs = 77;
    uint32_t qi[24];
    float qv[24];
    for (size_t q = 0; q < NQ; q++) {
        uint32_t n = 1 + (uint32_t)(test_rand(&rs) % 20), at = 0;
        for (uint32_t j = 0; j < n; j++) {
            at += (uint32_t)(test_rand(&rs) % 20);
            qi[j] = at++;
            qv[j] = (float)(test_rand(&rs) % 100 + 1) / 100.0f;
        }
        vdb_sparse_vec v = {n, qi, qv};
        for (int algo = 0; algo < 3; algo++) {
            vdb_topk t;
            assert_int_equal(vdb_topk_init(&t, K, true), VDB_OK);
            assert_int_equal(vdb_sparse_index_search(ix, &v, (vdb_sparse_algo)algo, NULL, NULL,
                                                     0, &t), VDB_OK);
            size_t at_out = (q * 3 + (size_t)algo) * K;
            for (size_t i = 0; i < K; i++) {
                dist[at_out + i] = i < t.n ? t.dist[i] : -1.0f;
                ids[at_out + i] = i < t.n ? t.id[i] : -1;
            }
            vdb_topk_free(&t);
        }
    }
}

static void assert_same(const vdb_sparse_index *a, const vdb_sparse_index *b)
{
    static float da[NQ * 3 * K], db[NQ * 3 * K];
    static int64_t ia[NQ * 3 * K], ib[NQ * 3 * K];
    answers(a, da, ia);
    answers(b, db, ib);
    assert_memory_equal(ia, ib, sizeof ia);
    assert_memory_equal(da, db, sizeof da);
}

/* Format 1's bytes from format 2's: the header without the block count and offsets, then
 * dims, start, prow and pval unpadded. */
static uint8_t *as_v1(const uint8_t *v2, size_t *len)
{
    uint64_t nrows, np;
    uint32_t nd;
    memcpy(&nrows, v2 + 4, 8);
    memcpy(&nd, v2 + 12, 4);
    memcpy(&np, v2 + 16, 8);
    uint64_t off[4];
    memcpy(off, v2 + 32, sizeof off);
    size_t sizes[4] = {(size_t)nd * 4, ((size_t)nd + 1) * 8, (size_t)np * 4, (size_t)np * 4};
    *len = 24 + sizes[0] + sizes[1] + sizes[2] + sizes[3];
    uint8_t *p = malloc(*len), *w = p;
    uint32_t one = 1;
    memcpy(w, &one, 4);
    memcpy(w + 4, &nrows, 8);
    memcpy(w + 12, &nd, 4);
    memcpy(w + 16, &np, 8);
    w += 24;
    for (int i = 0; i < 4; i++) {
        memcpy(w, v2 + off[i], sizes[i]);
        w += sizes[i];
    }
    return p;
}

static void test_sparse_formats(void **state)
{
    (void)state;
    make_rows();
    vdb_vectors rows = {VDB_TYPE_SPARSE_FLOAT_VECTOR, 0, VDB_METRIC_IP, ROWS, bytes, offsets};
    vdb_sparse_index *built, *heap, *view, *old;
    assert_int_equal(vdb_sparse_index_build(&rows, 0.0, &built), VDB_OK);
    vdb_buf b = {0};
    assert_int_equal(vdb_sparse_index_encode(built, &b), VDB_OK);
    assert_int_equal(vdb_get_u32(b.p), 2);
    assert_int_equal(vdb_sparse_index_decode(b.p, b.len, &heap), VDB_OK);
    assert_int_equal(vdb_sparse_index_view(b.p, b.len, &view), VDB_OK);
    size_t v1len;
    uint8_t *v1 = as_v1(b.p, &v1len);
    assert_int_equal(vdb_sparse_index_decode(v1, v1len, &old), VDB_OK);
    vdb_sparse_index *none = NULL;
    assert_int_equal(vdb_sparse_index_view(v1, v1len, &none), VDB_EUNSUPPORTED);
    assert_null(none); /* format 1 is not read in place */
    assert_same(built, heap);
    assert_same(built, view);
    assert_same(built, old);
    /* the view holds only its struct */
    assert_true(vdb_sparse_index_memory(view) < 256);
    assert_true(vdb_sparse_index_memory(heap) > b.len / 2);
    vdb_sparse_index_free(view);
    /* damage: a posting's row past the rows, a block maximum, an offset past the file */
    uint64_t off[8];
    memcpy(off, (uint8_t *)b.p + 32, sizeof off);
    uint8_t *copy = malloc(b.len);
    struct { size_t at; uint32_t val; } hits[] = {
        {(size_t)off[2] + 8, ROWS + 5},     /* prow */
        {(size_t)off[5], 0x7f800000u},      /* bmax: +inf */
        {(size_t)off[6], 0},                /* blast */
        {(size_t)off[7], 0},                /* dmax */
        {(size_t)off[1] + 8, 0xffffffffu},  /* start */
        {32 + 2 * 8, 0xfffffff0u},          /* the offset of prow */
    };
    /* copy is malloc'ed (16-byte aligned) and the arrays sit on 64-byte boundaries of it */
    for (size_t h = 0; h < sizeof hits / sizeof *hits; h++) {
        memcpy(copy, b.p, b.len);
        memcpy(copy + hits[h].at, &hits[h].val, 4);
        vdb_sparse_index *x = NULL;
        vdb_status st = vdb_sparse_index_view(copy, b.len, &x);
        if (st != VDB_ECORRUPT)
            fail_msg("damage %zu: %s", h, vdb_status_name(st));
        assert_null(x);
    }
    /* cut short anywhere: refused */
    for (size_t cut = 0; cut < b.len; cut += b.len / 97 + 1) {
        vdb_sparse_index *x = NULL;
        assert_int_not_equal(vdb_sparse_index_view(b.p, cut, &x), VDB_OK);
        assert_int_not_equal(vdb_sparse_index_decode(b.p, cut, &x), VDB_OK);
    }
    free(copy);
    free(v1);
    vdb_buf_free(&b);
    vdb_sparse_index_free(old);
    vdb_sparse_index_free(heap);
    vdb_sparse_index_free(built);
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sparse_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
