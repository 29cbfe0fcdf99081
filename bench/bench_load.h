/* bench — what the load generators of bench_http.sh share (bench_http in-process, bench_grpc
 * over gRPC): a monotonic clock and the same pseudo-random vectors, so both send the same work. */
#ifndef VDB_BENCH_LOAD_H
#define VDB_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64: the vectors are uniform in [-1, 1) */
static inline uint64_t bench_rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline void bench_fill(float *v, size_t n, uint64_t *seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(bench_rnd(seed) % 2000000) / 1000000.0f - 1.0f;
}

#endif
