/* fmnist: loads Fashion-MNIST for the benchmarks.
 *
 * The vectors are the gzipped IDX image files of Debian's dataset-fashion-mnist package
 * (60,000 training images as base vectors, 10,000 test images as queries, 28x28 = 784 bytes
 * each, turned into floats 0..255). The ground truth (100 exact L2 neighbours per query,
 * nearest first) is groundtruth.ivecs in the shared data folder.
 *
 * Every loader returns 0 on success, or -1 after printing the reason to stderr. What it
 * hands out is malloc()ed: the caller frees it with free(). */
#ifndef VDB_BENCH_FMNIST_H
#define VDB_BENCH_FMNIST_H

#include <stddef.h>
#include <stdint.h>

#define FMNIST_DIM 784
#define FMNIST_BASE_ROWS 60000
#define FMNIST_QUERY_ROWS 10000

/* Where Debian installs the IDX files. */
#define FMNIST_SYSTEM_DIR "/usr/share/datasets/fashion-mnist"

/* The shared data folder the build was configured with (VDB_SHARED_DATA), or "." if the
 * build did not set it. The ground truth is <data>/fashion-mnist/groundtruth.ivecs. */
const char *fmnist_default_data_dir(void);

/* Reads a gzipped (or plain) IDX3 image file: magic 0x00000803, count, rows, cols, then
 * count * rows * cols unsigned bytes. Keeps the first max_rows images (0: all). *out gets
 * *rows x *dim floats, row-major. */
int fmnist_read_idx(const char *path, size_t max_rows, float **out, size_t *rows, size_t *dim);

/* Reads an ivecs file (per record: int32 n, then n int32). Keeps the first max_rows records
 * (0: all); every record must have the same n. *out gets *rows x *k int32, row-major. */
int fmnist_read_ivecs(const char *path, size_t max_rows, int32_t **out, size_t *rows,
                      size_t *k);

/* The Fashion-MNIST files: looks for <name> first in <data_dir>/fashion-mnist/, then in
 * FMNIST_SYSTEM_DIR. data_dir NULL means fmnist_default_data_dir(). */
int fmnist_load_base(const char *data_dir, size_t max_rows, float **out, size_t *rows);
int fmnist_load_queries(const char *data_dir, size_t max_rows, float **out, size_t *rows);
/* <data_dir>/fashion-mnist/groundtruth.ivecs */
int fmnist_load_groundtruth(const char *data_dir, size_t max_rows, int32_t **out,
                            size_t *rows, size_t *k);

#endif
