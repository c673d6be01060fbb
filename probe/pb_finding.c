/* SPDX-License-Identifier: MIT */
/* Findings about the subject under test: see pb_finding.h. */
#include "pb_finding.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_xalloc.h"

void
pb_findings_init(struct pb_findings *f)
{
    memset(f, 0, sizeof(*f));
}

void
pb_findings_release(struct pb_findings *f)
{
    size_t i;

    if (f == NULL)
        return;
    for (i = 0; i < f->n; i++) {
        free(f->v[i].message);
        free(f->v[i].evidence);
        free(f->v[i].remedy);
    }
    free(f->v);
    pb_findings_init(f);
}

static char *
vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    char *s;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return pb_xstrdup("");
    s = pb_xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

struct pb_finding *
pb_findings_add(struct pb_findings *f, const char *check, const char *id,
                enum pb_severity sev, const char *fmt, ...)
{
    struct pb_finding *fd;
    va_list ap;

    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->v = pb_xreallocarray(f->v, f->cap, sizeof(*f->v));
    }
    fd = &f->v[f->n++];
    memset(fd, 0, sizeof(*fd));
    fd->check = check;
    fd->id = id;
    fd->sev = sev;
    va_start(ap, fmt);
    fd->message = vformat(fmt, ap);
    va_end(ap);
    return fd;
}

void
pb_finding_evidence(struct pb_finding *fd, const void *p, size_t len)
{
    char tail[64];
    size_t keep = len, tlen = 0;

    free(fd->evidence);
    if (len > PB_FINDING_EVIDENCE_MAX) {
        tlen = (size_t)snprintf(tail, sizeof(tail), " [... %zu more bytes]",
                                len - (PB_FINDING_EVIDENCE_MAX - 64));
        keep = PB_FINDING_EVIDENCE_MAX - 64;
    }
    fd->evidence = pb_xmalloc(keep + tlen + 1);
    memcpy(fd->evidence, p, keep);
    memcpy(fd->evidence + keep, tail, tlen);
    fd->evidence[keep + tlen] = '\0';
    fd->evidence_len = keep + tlen;
}

void
pb_finding_remedy(struct pb_finding *fd, const char *fmt, ...)
{
    va_list ap;

    free(fd->remedy);
    va_start(ap, fmt);
    fd->remedy = vformat(fmt, ap);
    va_end(ap);
}

const struct pb_finding *
pb_findings_find(const struct pb_findings *f, const char *id, size_t *count)
{
    const struct pb_finding *first = NULL;
    size_t i, n = 0;

    for (i = 0; i < f->n; i++) {
        if (strcmp(f->v[i].id, id) != 0)
            continue;
        if (first == NULL)
            first = &f->v[i];
        n++;
    }
    if (count != NULL)
        *count = n;
    return first;
}

enum pb_status
pb_findings_status(const struct pb_findings *f)
{
    enum pb_status s = PB_STATUS_OK;
    size_t i;

    for (i = 0; i < f->n; i++) {
        switch (f->v[i].sev) {
        case PB_SEV_WARN:
            s = pb_status_worst(s, PB_STATUS_WARN);
            break;
        case PB_SEV_FAIL:
            s = pb_status_worst(s, PB_STATUS_FAIL);
            break;
        case PB_SEV_ERROR:
            s = pb_status_worst(s, PB_STATUS_ERROR);
            break;
        default:
            break;
        }
    }
    return s;
}

static int
rank(enum pb_status s)
{
    switch (s) {
    case PB_STATUS_FAIL:
        return 3;
    case PB_STATUS_ERROR:
        return 2;
    case PB_STATUS_WARN:
        return 1;
    default:
        return 0;
    }
}

enum pb_status
pb_status_worst(enum pb_status a, enum pb_status b)
{
    return rank(a) >= rank(b) ? a : b;
}

int
pb_status_exit(enum pb_status s)
{
    switch (s) {
    case PB_STATUS_WARN:
        return 1;
    case PB_STATUS_FAIL:
        return 2;
    case PB_STATUS_ERROR:
        return 3;
    default:
        return 0;
    }
}

const char *
pb_status_name(enum pb_status s)
{
    static const char *const names[] = {"ok", "warn", "fail", "error"};

    return (size_t)s < 4 ? names[s] : "unknown";
}

const char *
pb_severity_name(enum pb_severity s)
{
    static const char *const names[] = {"info", "warn", "fail", "error"};

    return (size_t)s < 4 ? names[s] : "unknown";
}
