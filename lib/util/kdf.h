/* Password hashing (kdf.c): SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and PBKDF2-HMAC-SHA256
 * (RFC 8018), written here so the library needs no crypto dependency; a constant-time
 * comparison and random bytes from the kernel. */
#ifndef VDB_UTIL_KDF_H
#define VDB_UTIL_KDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VDB_SHA256_LEN 32

void vdb_sha256(const void *p, size_t n, uint8_t out[VDB_SHA256_LEN]);
void vdb_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                     uint8_t out[VDB_SHA256_LEN]);
/* PBKDF2 with HMAC-SHA256: out_len bytes of key from the password and salt. */
void vdb_pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
                       uint32_t iterations, uint8_t *out, size_t out_len);
/* Whether a and b (n bytes each) are equal, in time that depends on n only. */
bool vdb_ct_equal(const void *a, const void *b, size_t n);
/* n random bytes from getrandom(2); false if the kernel gave none. */
bool vdb_random_bytes(void *p, size_t n);

#endif
