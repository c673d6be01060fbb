/* SPDX-License-Identifier: MIT */
/* Fixture loading for the Criterion suites: see testdata.h. */
#include "testdata.h"

#include <stdio.h>
#include <stdlib.h>

#include "analyze.h"
#include "pb_buf.h"

const char *
testdata_path(const char *rel)
{
    static char path[4096];

    snprintf(path, sizeof(path), "%s/%s", PB_TEST_DATA, rel);
    return path;
}

const char *
testdata_gen_path(const char *rel)
{
    static char path[4096];

    snprintf(path, sizeof(path), "%s/%s", PB_TEST_GEN, rel);
    return path;
}

char *
testdata_read(const char *path, size_t *len)
{
    struct pb_buf b;
    char chunk[8192];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return NULL;
    pb_buf_init(&b, (size_t)1 << 30);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (pb_buf_add(&b, chunk, n) == -1) {
            pb_buf_release(&b);
            fclose(f);
            return NULL;
        }
    }
    fclose(f);
    return pb_buf_take(&b, len);
}

struct dns_resolver *
testdata_resolver(const char *rel)
{
    struct dns_options opt = {.fixture = testdata_path(rel)};
    struct dns_resolver *r;
    struct pb_err err;

    pb_err_clear(&err);
    if (dns_resolver_new(&opt, &r, &err) == -1) {
        fprintf(stderr, "fixture %s: %s\n", rel, err.msg);
        return NULL;
    }
    return r;
}
