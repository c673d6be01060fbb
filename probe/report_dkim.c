/* SPDX-License-Identifier: MIT */
/*
 * The DKIM check of `probe check` as JSON (the check object of
 * docs/json.md) and as text lines, one per selector.  Findings are the
 * caller's to print; all outside text (names, records) is escaped here.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pb_xalloc.h"

/* Records longer than this are cut in the text view (JSON has them all). */
#define REPORT_DKIM_RECORD_SHOWN 100

/* h= as a JSON array of its items as written, or null when absent. */
static cJSON *
hash_json(const char *h)
{
    cJSON *arr;
    size_t i = 0, n;

    if (h == NULL)
        return cJSON_CreateNull();
    n = strlen(h);
    arr = cJSON_CreateArray();
    while (i <= n) {
        size_t s, e;
        char *item;

        while (i < n && strchr(" \t\r\n", h[i]) != NULL)
            i++;
        s = e = i;
        while (i < n && h[i] != ':') {
            if (strchr(" \t\r\n", h[i]) == NULL)
                e = i + 1;
            i++;
        }
        item = report_escape_n(h + s, e - s);
        cJSON_AddItemToArray(arr, cJSON_CreateString(item));
        free(item);
        i++;
    }
    return arr;
}

static cJSON *
selector_json(const struct dkim_selector *s)
{
    cJSON *o = cJSON_CreateObject();
    bool has_key = s->is_parsed && s->nrecords == 1;

    report_json_str(o, "selector", s->selector);
    report_json_str(o, "name", s->name);
    cJSON_AddBoolToObject(o, "found", s->is_found);
    cJSON_AddStringToObject(o, "lookup", dkim_outcome_name(s->outcome));
    report_json_str(o, "cname", s->cname);
    if (s->record != NULL) {
        char *e = report_escape_n(s->record, s->record_len);

        cJSON_AddStringToObject(o, "record", e);
        free(e);
    } else {
        cJSON_AddNullToObject(o, "record");
    }
    if (!has_key)
        cJSON_AddNullToObject(o, "key_type");
    else if (s->key_type == DKIM_KEY_UNKNOWN)
        report_json_str(o, "key_type", s->key_type_text); /* as written */
    else
        cJSON_AddStringToObject(o, "key_type", dkim_key_type_name(s->key_type));
    if (has_key && s->key_bits > 0)
        cJSON_AddNumberToObject(o, "key_bits", s->key_bits);
    else
        cJSON_AddNullToObject(o, "key_bits");
    cJSON_AddBoolToObject(o, "testing", s->is_testing);
    cJSON_AddBoolToObject(o, "revoked", s->is_revoked);
    cJSON_AddItemToObject(o, "hash",
                          has_key && s->hash != NULL ? hash_json(s->hash)
                                                     : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "status", pb_status_name(s->status));
    return o;
}

cJSON *
report_dkim_json(const struct dkim_audit *a)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    size_t i;

    cJSON_AddStringToObject(o, "status", pb_status_name(a->status));
    cJSON_AddBoolToObject(o, "discovery", a->discovery);
    cJSON_AddNumberToObject(o, "selectors_tried", (double)a->ntried);
    for (i = 0; i < a->nselectors; i++)
        cJSON_AddItemToArray(arr, selector_json(&a->selectors[i]));
    cJSON_AddItemToObject(o, "selectors", arr);
    cJSON_AddItemToObject(o, "findings", report_findings_json(&a->findings));
    return o;
}

/* What one selector came to, in a few words (ours, plus escaped k=). */
static char *
selector_summary(const struct dkim_selector *s)
{
    char *k, *r;

    switch (s->outcome) {
    case DKIM_MISSING:
        return pb_xasprintf("not found (%s)",
                            strcmp(s->dns_detail, "NXDOMAIN") == 0
                                ? "NXDOMAIN"
                                : "no TXT record");
    case DKIM_DANGLING:
        return pb_xasprintf("the CNAME target has no TXT record (%s)",
                            s->dns_detail);
    case DKIM_OTHER_TXT:
        return pb_xstrdup("no DKIM record (other TXT records only)");
    case DKIM_DNS_FAILED:
        return pb_xasprintf("could not check (%s)", s->dns_detail);
    case DKIM_INVALID:
        return pb_xasprintf("not checked, invalid name (%s)", s->dns_detail);
    case DKIM_FOUND:
        break;
    }
    if (s->nrecords > 1)
        return pb_xasprintf("%zu DKIM records", s->nrecords);
    if (!s->is_parsed)
        return pb_xstrdup("the record does not parse");
    if (s->key_type == DKIM_KEY_UNKNOWN) {
        k = report_escape(s->key_type_text != NULL ? s->key_type_text : "");
        r = pb_xasprintf("unknown key type k=%s", k);
        free(k);
        return r;
    }
    if (s->is_revoked)
        return pb_xasprintf("%s, revoked (empty p=)",
                            dkim_key_type_name(s->key_type));
    if (s->key_bits == 0)
        return pb_xasprintf("%s, no usable key",
                            dkim_key_type_name(s->key_type));
    if (s->key_type == DKIM_KEY_ED25519)
        r = pb_xstrdup("ed25519");
    else
        r = pb_xasprintf("rsa %u bits%s", s->key_bits,
                         s->key_form == DKIM_FORM_PKCS1 ? " (PKCS#1)" : "");
    if (s->is_testing) {
        k = pb_xasprintf("%s, testing (t=y)", r);
        free(r);
        r = k;
    }
    if (s->hash != NULL) {
        char *h = report_escape(s->hash);

        k = pb_xasprintf("%s, h=%s", r, h);
        free(h);
        free(r);
        r = k;
    }
    return r;
}

void
report_dkim_text(FILE *f, const struct dkim_audit *a,
                 const struct report_style *st)
{
    size_t i, nfound = 0;

    for (i = 0; i < a->nselectors; i++)
        nfound += a->selectors[i].is_found;
    if (a->discovery)
        fprintf(f, "  discovery: %zu of %zu common selectors found\n", nfound,
                a->ntried);
    for (i = 0; i < a->nselectors; i++) {
        const struct dkim_selector *s = &a->selectors[i];
        char *name = report_escape(s->name);
        char *sum = selector_summary(s);

        if (s->cname != NULL) {
            char *c = report_escape(s->cname);

            fprintf(f, "  %s -> %s: %s%s%s\n", name, c,
                    report_status_color(st, s->status), sum, st->off);
            free(c);
        } else {
            fprintf(f, "  %s: %s%s%s\n", name,
                    report_status_color(st, s->status), sum, st->off);
        }
        if (s->record != NULL) {
            size_t n = s->record_len > REPORT_DKIM_RECORD_SHOWN
                           ? REPORT_DKIM_RECORD_SHOWN
                           : s->record_len;
            char *r = report_escape_n(s->record, n);

            fprintf(f, "    %s%s%s%s\n", st->dim, r,
                    n < s->record_len ? "..." : "", st->off);
            free(r);
        }
        free(sum);
        free(name);
    }
}
