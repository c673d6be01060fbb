/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the Criterion suites: locate and load fixture files, index
 * parameters, temporary directories and files, and finding checks.  The
 * functions that assert fail the calling test; call them from a test or
 * its suite's .init/.fini.
 */
#ifndef PB_TEST_SUPPORT_TESTDATA_H
#define PB_TEST_SUPPORT_TESTDATA_H

#include <criterion/parameterized.h>
#include <stddef.h>
#include <sys/types.h>

#include "pb_finding.h"

/* Path of test/data/<rel> (static storage, overwritten by the next call). */
const char *testdata_path(const char *rel);
/* Path of <build>/test/gen/<rel>: files converted at build time. */
const char *testdata_gen_path(const char *rel);
/* Whole file, NUL-terminated, or NULL (errno set); free() it. */
char *testdata_read(const char *path, size_t *len);
/* testdata_read() of test/data/<rel>; asserts the file was read. */
char *testdata_load(const char *rel, size_t *len);

/*
 * Parameters 0 .. n-1 for a ParameterizedTest, indexes into a static case
 * table: Criterion copies a parameter into the test's process, where
 * pointers in it may not hold.
 */
struct criterion_test_params testdata_index_params(size_t n);
/*
 * A copy of s in cr_malloc() memory, for parameters (Criterion 2.4 has no
 * cr_strdup); the parameters' cleanup cr_free()s it.
 */
char *testdata_param_strdup(const char *s);

/* Make the directory /tmp/<prefix>XXXXXX into dir (size bytes); asserts. */
void testdata_tmpdir(char *dir, size_t size, const char *prefix);
/* Remove dir and everything below it, links not followed; errors ignored. */
void testdata_rm_rf(const char *dir);
/*
 * Write len bytes of p to path (created 0600, truncated), then chmod it to
 * mode; asserts each step.
 */
void testdata_write_mode(const char *path, const void *p, size_t len,
                         mode_t mode);

/*
 * The finding id of f, asserted present, of severity sev and from the
 * check named check; borrowed from f.
 */
const struct pb_finding *testdata_finding(const struct pb_findings *f,
                                          const char *check, const char *id,
                                          enum pb_severity sev);

struct dns_resolver;
/*
 * A resolver answering from the DNS fixture test/data/<rel>, or NULL
 * after printing why on stderr (assert it is not NULL).
 */
struct dns_resolver *testdata_resolver(const char *rel);

#endif
