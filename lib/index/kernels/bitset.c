/* Counting the rows a bitset allows: searches ask before choosing between a walk and a scan. */
#include "index/kernels/kernels.h"

size_t vdb_bitset_count(const uint64_t *bitset, size_t n)
{
    if (!bitset)
        return n;
    size_t words = n / 64, c = vdb_popcount(bitset, words);
    if (n % 64) {
        uint64_t last = bitset[words] & ((1ull << (n % 64)) - 1);
        c += vdb_popcount(&last, 1);
    }
    return c;
}
