/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of every report: styles, escaping outside text for the
 * terminal and JSON, and findings as text and JSON.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

const struct report_style *
report_style_get(bool color)
{
    static const struct report_style plain = {"", "", "", "", "", ""};
    static const struct report_style ansi = {"\033[1m",  "\033[31m", "\033[33m",
                                             "\033[32m", "\033[2m",  "\033[0m"};

    return color ? &ansi : &plain;
}

const char *
report_status_color(const struct report_style *st, enum pb_status s)
{
    switch (s) {
    case PB_STATUS_OK:
        return st->green;
    case PB_STATUS_WARN:
    case PB_STATUS_ERROR:
        return st->yellow;
    default:
        return st->red;
    }
}

const char *
report_severity_color(const struct report_style *st, enum pb_severity s)
{
    switch (s) {
    case PB_SEV_INFO:
        return st->dim;
    case PB_SEV_WARN:
    case PB_SEV_ERROR:
        return st->yellow;
    default:
        return st->red;
    }
}

char *
report_escape_n(const void *p, size_t len)
{
    struct pb_buf b;

    /* every byte becomes at most 4: the limit cannot be reached */
    pb_buf_init(&b, len * 4 + 16);
    if (pb_buf_add_escaped(&b, p, len) == -1)
        pb_panic("report: escape buffer");
    return pb_buf_take(&b, NULL);
}

char *
report_escape(const char *s)
{
    return report_escape_n(s, strlen(s));
}

void
report_json_str(cJSON *o, const char *key, const char *s)
{
    char *e;

    if (s == NULL) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    e = report_escape(s);
    cJSON_AddStringToObject(o, key, e);
    free(e);
}

cJSON *
report_findings_json(const struct pb_findings *f)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i;

    for (i = 0; i < f->n; i++) {
        const struct pb_finding *fd = &f->v[i];
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "id", fd->id);
        cJSON_AddStringToObject(o, "severity", pb_severity_name(fd->sev));
        report_json_str(o, "message", fd->message);
        if (fd->evidence != NULL) {
            char *e = report_escape_n(fd->evidence, fd->evidence_len);

            cJSON_AddStringToObject(o, "evidence", e);
            free(e);
        } else {
            cJSON_AddNullToObject(o, "evidence");
        }
        report_json_str(o, "remedy", fd->remedy);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

void
report_findings_text(FILE *f, const struct pb_findings *fs,
                     const struct report_style *st, int indent)
{
    static const char *const word[] = {"info", "WARN", "FAIL", "ERROR"};
    size_t i;

    for (i = 0; i < fs->n; i++) {
        const struct pb_finding *fd = &fs->v[i];
        char *msg = report_escape(fd->message);

        fprintf(f, "%*s%s%-5s%s %s: %s\n", indent, "",
                report_severity_color(st, fd->sev), word[fd->sev], st->off,
                fd->id, msg);
        free(msg);
        if (fd->evidence != NULL) {
            char *e = report_escape_n(fd->evidence, fd->evidence_len);

            fprintf(f, "%*s%sevidence: %s%s\n", indent + 6, "", st->dim, e,
                    st->off);
            free(e);
        }
        if (fd->remedy != NULL) {
            char *r = report_escape(fd->remedy);

            fprintf(f, "%*sfix: %s\n", indent + 6, "", r);
            free(r);
        }
    }
}
