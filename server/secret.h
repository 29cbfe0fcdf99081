/* vdb-server — comparing a secret (the --token) with what a client sent, in constant time. */
#ifndef VDB_SERVER_SECRET_H
#define VDB_SERVER_SECRET_H

#include <stddef.h>

/* 1 if got[0..gn) equals want[0..wn), else 0. The time taken depends only on max(gn, wn):
 * never on the bytes, nor on where the two first differ, so answers to guesses do not tell how
 * much of a guess was right. */
int srv_secret_eq(const void *got, size_t gn, const void *want, size_t wn);

#endif
