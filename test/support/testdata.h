/* SPDX-License-Identifier: MIT */
/* Helpers for the Criterion suites: locate and load fixture files. */
#ifndef PB_TEST_SUPPORT_TESTDATA_H
#define PB_TEST_SUPPORT_TESTDATA_H

#include <stddef.h>

/* Path of test/data/<rel> (static storage, overwritten by the next call). */
const char *testdata_path(const char *rel);
/* Path of <build>/test/gen/<rel>: files converted at build time. */
const char *testdata_gen_path(const char *rel);
/* Whole file, NUL-terminated, or NULL (errno set); free() it. */
char *testdata_read(const char *path, size_t *len);

struct dns_resolver;
/*
 * A resolver answering from the DNS fixture test/data/<rel>, or NULL
 * after printing why on stderr (assert it is not NULL).
 */
struct dns_resolver *testdata_resolver(const char *rel);

#endif
