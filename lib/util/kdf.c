/* SHA-256, HMAC-SHA256 and PBKDF2-HMAC-SHA256, from their specifications (FIPS 180-4,
 * RFC 2104, RFC 8018); checked against the RFC/NIST test vectors in tests/test_rbac.c. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "util/kdf.h"

typedef struct sha256_ctx {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;
    uint64_t total;
} sha256_ctx;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t h[8], const uint8_t b[64])
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                      K[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = bb;
        bb = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

static void sha_init(sha256_ctx *c)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, iv, sizeof iv);
    c->fill = 0;
    c->total = 0;
}

static void sha_update(sha256_ctx *c, const void *p, size_t n)
{
    const uint8_t *s = p;
    c->total += n;
    while (n) {
        size_t k = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->block + c->fill, s, k);
        c->fill += k;
        s += k;
        n -= k;
        if (c->fill == 64) {
            compress(c->h, c->block);
            c->fill = 0;
        }
    }
}

static void sha_final(sha256_ctx *c, uint8_t out[VDB_SHA256_LEN])
{
    uint64_t bits = c->total * 8;
    uint8_t pad = 0x80;
    sha_update(c, &pad, 1);
    pad = 0;
    while (c->fill != 56)
        sha_update(c, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha_update(c, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void vdb_sha256(const void *p, size_t n, uint8_t out[VDB_SHA256_LEN])
{
    sha256_ctx c;
    sha_init(&c);
    sha_update(&c, p, n);
    sha_final(&c, out);
}

/* The inner and outer states after the padded key's block: PBKDF2 reuses them. */
typedef struct hmac_key {
    sha256_ctx in, out;
} hmac_key;

static void hmac_setup(hmac_key *k, const void *key, size_t klen)
{
    uint8_t kb[64] = {0}, pad[64];
    if (klen > 64)
        vdb_sha256(key, klen, kb);
    else if (klen)
        memcpy(kb, key, klen);
    for (int i = 0; i < 64; i++)
        pad[i] = kb[i] ^ 0x36;
    sha_init(&k->in);
    sha_update(&k->in, pad, 64);
    for (int i = 0; i < 64; i++)
        pad[i] = kb[i] ^ 0x5c;
    sha_init(&k->out);
    sha_update(&k->out, pad, 64);
}

static void hmac_run(const hmac_key *k, const void *a, size_t an, const void *b, size_t bn,
                     uint8_t out[VDB_SHA256_LEN])
{
    sha256_ctx c = k->in;
    sha_update(&c, a, an);
    if (bn)
        sha_update(&c, b, bn);
    uint8_t inner[VDB_SHA256_LEN];
    sha_final(&c, inner);
    c = k->out;
    sha_update(&c, inner, sizeof inner);
    sha_final(&c, out);
}

void vdb_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                     uint8_t out[VDB_SHA256_LEN])
{
    hmac_key k;
    hmac_setup(&k, key, klen);
    hmac_run(&k, msg, mlen, NULL, 0, out);
}

void vdb_pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
                       uint32_t iterations, uint8_t *out, size_t out_len)
{
    hmac_key k;
    hmac_setup(&k, pw, pwlen);
    for (uint32_t blk = 1; out_len; blk++) {
        uint8_t be[4] = {(uint8_t)(blk >> 24), (uint8_t)(blk >> 16), (uint8_t)(blk >> 8),
                         (uint8_t)blk};
        uint8_t u[VDB_SHA256_LEN], t[VDB_SHA256_LEN];
        hmac_run(&k, salt, saltlen, be, 4, u);
        memcpy(t, u, sizeof t);
        for (uint32_t i = 1; i < iterations; i++) {
            hmac_run(&k, u, sizeof u, NULL, 0, u);
            for (int j = 0; j < VDB_SHA256_LEN; j++)
                t[j] ^= u[j];
        }
        size_t n = out_len < sizeof t ? out_len : sizeof t;
        memcpy(out, t, n);
        out += n;
        out_len -= n;
    }
}

bool vdb_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

bool vdb_random_bytes(void *p, size_t n)
{
    uint8_t *s = p;
    while (n) {
        ssize_t r = getrandom(s, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        s += r;
        n -= (size_t)r;
    }
    return true;
}
