/* SPDX-License-Identifier: MIT */
/* Fixture loading and shared helpers for the Criterion suites: testdata.h. */
#include "testdata.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

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

char *
testdata_load(const char *rel, size_t *len)
{
    char *p = testdata_read(testdata_path(rel), len);

    cr_assert_not_null(p, "cannot read %s", rel);
    return p;
}

static void
index_params_free(struct criterion_test_params *crp)
{
    cr_free(crp->params);
}

struct criterion_test_params
testdata_index_params(size_t n)
{
    size_t *ix = cr_malloc(n * sizeof(*ix)), i;

    for (i = 0; i < n; i++)
        ix[i] = i;
    return cr_make_param_array(size_t, ix, n, index_params_free);
}

char *
testdata_param_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cr_malloc(n);

    memcpy(p, s, n);
    return p;
}

void
testdata_tmpdir(char *dir, size_t size, const char *prefix)
{
    snprintf(dir, size, "/tmp/%sXXXXXX", prefix);
    cr_assert_not_null(mkdtemp(dir), "%s: %s", dir, strerror(errno));
}

void
testdata_rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            testdata_rm_rf(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

void
testdata_write_mode(const char *path, const void *p, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, p, len), (ssize_t)len);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

const struct pb_finding *
testdata_finding(const struct pb_findings *f, const char *check, const char *id,
                 enum pb_severity sev)
{
    const struct pb_finding *fd = pb_findings_find(f, id, NULL);

    cr_assert_not_null(fd, "no finding %s", id);
    cr_assert_eq(fd->sev, sev, "%s: severity %s", id,
                 pb_severity_name(fd->sev));
    cr_assert_str_eq(fd->check, check);
    return fd;
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
