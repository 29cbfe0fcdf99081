/* Counting the rows a bitset allows: searches ask before choosing between a walk and a scan. */
#include "index/kernels/kernels.h"

/* Without -mpopcnt the builtin is a library call per word; the instruction is in every x86-64
 * CPU of the last fifteen years, but is still chosen at run time. */
static inline __attribute__((always_inline)) size_t count_bits(const uint64_t *bs, size_t n)
{
    size_t c = 0, words = n / 64;
    for (size_t i = 0; i < words; i++)
        c += (size_t)__builtin_popcountll(bs[i]);
    if (n % 64)
        c += (size_t)__builtin_popcountll(bs[words] & ((1ull << (n % 64)) - 1));
    return c;
}

__attribute__((target("popcnt"))) static size_t count_bits_popcnt(const uint64_t *bs, size_t n)
{
    return count_bits(bs, n);
}

size_t vdb_bitset_count(const uint64_t *bitset, size_t n)
{
    if (!bitset)
        return n;
    return __builtin_cpu_supports("popcnt") ? count_bits_popcnt(bitset, n)
                                            : count_bits(bitset, n);
}
