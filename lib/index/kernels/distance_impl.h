/* The SIMD kernels behind kernels.h's distance functions, one set per target; only
 * lib/index/kernels/distance*.c include this (everyone else goes through the dispatch). Each
 * set is compiled only for its own CPU family (lib/index/kernels/meson.build). */
#ifndef VDB_DISTANCE_IMPL_H
#define VDB_DISTANCE_IMPL_H

#include <stddef.h>
#include <stdint.h>

float vdb_l2sq_avx2(const float *a, const float *b, size_t dim);
float vdb_ip_avx2(const float *a, const float *b, size_t dim);
float vdb_norm_sq_avx2(const float *a, size_t dim);
void vdb_cos_parts_avx2(const float *q, const float *x, size_t dim, float parts[3]);
float vdb_l2sq_avx512(const float *a, const float *b, size_t dim);
float vdb_ip_avx512(const float *a, const float *b, size_t dim);
float vdb_norm_sq_avx512(const float *a, size_t dim);
void vdb_cos_parts_avx512(const float *q, const float *x, size_t dim, float parts[3]);

/* Float queries against FLOAT16 (f16), BFLOAT16 (bf16) and INT8 (i8) rows. */
float vdb_l2sq_f16_avx2(const float *q, const void *x, size_t dim);
float vdb_ip_f16_avx2(const float *q, const void *x, size_t dim);
void vdb_cos_parts_f16_avx2(const float *q, const void *x, size_t dim, float parts[3]);
float vdb_l2sq_bf16_avx2(const float *q, const void *x, size_t dim);
float vdb_ip_bf16_avx2(const float *q, const void *x, size_t dim);
void vdb_cos_parts_bf16_avx2(const float *q, const void *x, size_t dim, float parts[3]);
float vdb_l2sq_i8_avx2(const float *q, const void *x, size_t dim);
float vdb_ip_i8_avx2(const float *q, const void *x, size_t dim);
void vdb_cos_parts_i8_avx2(const float *q, const void *x, size_t dim, float parts[3]);
float vdb_l2sq_f16_avx512(const float *q, const void *x, size_t dim);
float vdb_ip_f16_avx512(const float *q, const void *x, size_t dim);
void vdb_cos_parts_f16_avx512(const float *q, const void *x, size_t dim, float parts[3]);
float vdb_l2sq_bf16_avx512(const float *q, const void *x, size_t dim);
float vdb_ip_bf16_avx512(const float *q, const void *x, size_t dim);
void vdb_cos_parts_bf16_avx512(const float *q, const void *x, size_t dim, float parts[3]);
float vdb_l2sq_i8_avx512(const float *q, const void *x, size_t dim);
float vdb_ip_i8_avx512(const float *q, const void *x, size_t dim);
void vdb_cos_parts_i8_avx512(const float *q, const void *x, size_t dim, float parts[3]);

/* Dot product of n 8-bit codes with n int16 weights (n a multiple of 64; see sq8.h). */
int32_t vdb_dot_u8i16_avx2(const uint8_t *c, const int16_t *w, size_t n);
int32_t vdb_dot_u8i16_avx512(const uint8_t *c, const int16_t *w, size_t n);
int32_t vdb_dot_u8i16_vnni(const uint8_t *c, const int16_t *w, size_t n);

/* BINARY_VECTOR rows of nbytes: popcount(a ^ b), and popcount(a & b), popcount(a | b). */
uint32_t vdb_hamming_avx2(const uint8_t *a, const uint8_t *b, size_t nbytes);
void vdb_and_or_avx2(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t out[2]);
uint32_t vdb_hamming_avx512(const uint8_t *a, const uint8_t *b, size_t nbytes);
void vdb_and_or_avx512(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t out[2]);
uint32_t vdb_hamming_neon(const uint8_t *a, const uint8_t *b, size_t nbytes);
void vdb_and_or_neon(const uint8_t *a, const uint8_t *b, size_t nbytes, uint32_t out[2]);

/* Bits set in n 64-bit words. */
size_t vdb_popcount_popcnt(const uint64_t *w, size_t n);

/* AArch64: NEON (distance_neon.c) and SVE (distance_sve.c). */
float vdb_l2sq_neon(const float *a, const float *b, size_t dim);
float vdb_ip_neon(const float *a, const float *b, size_t dim);
float vdb_norm_sq_neon(const float *a, size_t dim);
void vdb_cos_parts_neon(const float *q, const float *x, size_t dim, float parts[3]);
int32_t vdb_dot_u8i16_neon(const uint8_t *c, const int16_t *w, size_t n);
size_t vdb_popcount_neon(const uint64_t *w, size_t n);
float vdb_l2sq_f16_neon(const float *q, const void *x, size_t dim);
float vdb_ip_f16_neon(const float *q, const void *x, size_t dim);
void vdb_cos_parts_f16_neon(const float *q, const void *x, size_t dim, float parts[3]);
float vdb_l2sq_bf16_neon(const float *q, const void *x, size_t dim);
float vdb_ip_bf16_neon(const float *q, const void *x, size_t dim);
void vdb_cos_parts_bf16_neon(const float *q, const void *x, size_t dim, float parts[3]);
float vdb_l2sq_i8_neon(const float *q, const void *x, size_t dim);
float vdb_ip_i8_neon(const float *q, const void *x, size_t dim);
void vdb_cos_parts_i8_neon(const float *q, const void *x, size_t dim, float parts[3]);
float vdb_l2sq_sve(const float *a, const float *b, size_t dim);
float vdb_ip_sve(const float *a, const float *b, size_t dim);
float vdb_norm_sq_sve(const float *a, size_t dim);
void vdb_cos_parts_sve(const float *q, const float *x, size_t dim, float parts[3]);
int32_t vdb_dot_u8i16_sve(const uint8_t *c, const int16_t *w, size_t n);
size_t vdb_popcount_sve(const uint64_t *w, size_t n);

#endif
