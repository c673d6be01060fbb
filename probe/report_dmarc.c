/* SPDX-License-Identifier: MIT */
/*
 * The DMARC check of `probe check` as JSON (one object, see
 * docs/findings-dmarc.md) and as text (the check's data lines; the caller
 * prints the heading and the findings).  All outside text is escaped.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pb_xalloc.h"

static const char *
align_name(enum dmarc_align a)
{
    return a == DMARC_ALIGN_STRICT ? "s" : "r";
}

static const char *
psd_name(enum dmarc_psd p)
{
    switch (p) {
    case DMARC_PSD_Y:
        return "y";
    case DMARC_PSD_N:
        return "n";
    default:
        return "u";
    }
}

static const char *
auth_name(enum dmarc_auth a)
{
    switch (a) {
    case DMARC_AUTH_YES:
        return "authorized";
    case DMARC_AUTH_NO:
        return "unauthorized";
    case DMARC_AUTH_DNS_ERROR:
        return "dns-error";
    case DMARC_AUTH_NOT_CHECKED:
        return "not-checked";
    default:
        return "not-needed";
    }
}

/* fo= as written in canonical order: "0", "1:d:s", ... */
static void
fo_text(unsigned fo, char *buf, size_t size)
{
    static const struct {
        unsigned bit;
        const char *s;
    } bits[] = {{DMARC_FO_0, "0"},
                {DMARC_FO_1, "1"},
                {DMARC_FO_D, "d"},
                {DMARC_FO_S, "s"}};
    size_t i, n = 0;

    buf[0] = '\0';
    if (fo == 0) {
        snprintf(buf, size, "0");
        return;
    }
    for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (!(fo & bits[i].bit))
            continue;
        snprintf(buf + n, size - n, "%s%s", n ? ":" : "", bits[i].s);
        n = strlen(buf);
    }
}

static void
json_policy(cJSON *o, const char *key, enum dmarc_policy p)
{
    const char *s = dmarc_policy_name(p);

    if (s != NULL)
        cJSON_AddStringToObject(o, key, s);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *
json_uris(const struct dmarc_uri *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i;

    for (i = 0; i < n; i++) {
        const struct dmarc_uri *u = &v[i];
        cJSON *o = cJSON_CreateObject();

        report_json_str(o, "uri", u->uri);
        report_json_str(o, "domain", u->domain);
        cJSON_AddBoolToObject(o, "valid", u->is_valid);
        cJSON_AddBoolToObject(o, "external", u->is_external);
        if (u->auth == DMARC_AUTH_YES || u->auth == DMARC_AUTH_NO)
            cJSON_AddBoolToObject(o, "authorized", u->auth == DMARC_AUTH_YES);
        else
            cJSON_AddNullToObject(o, "authorized");
        cJSON_AddStringToObject(o, "authorization", auth_name(u->auth));
        report_json_str(o, "authorization_name", u->auth_name);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static cJSON *
json_walk(const struct dmarc_walk *w)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i;

    for (i = 0; i < w->nsteps; i++) {
        const struct dmarc_walk_step *st = &w->steps[i];
        cJSON *o = cJSON_CreateObject();

        report_json_str(o, "name",
                        st->answer != NULL ? st->answer->qname : st->domain);
        cJSON_AddStringToObject(o, "status",
                                st->answer != NULL ? dns_status_name(st->answer)
                                                   : "NOT-ASKED");
        cJSON_AddNumberToObject(o, "dmarc_records", (double)st->ndmarc);
        if (st->ndmarc == 1)
            cJSON_AddStringToObject(o, "psd", psd_name(st->psd));
        cJSON_AddBoolToObject(o, "considered", i < w->nconsidered);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

cJSON *
report_dmarc_json(const struct dmarc_audit *a)
{
    cJSON *o = cJSON_CreateObject(), *org, *where, *tags, *pol;
    char fo[16];
    size_t i;

    cJSON_AddStringToObject(o, "status", pb_status_name(a->status));
    report_json_str(o, "domain", a->domain);
    if (a->record != NULL) {
        char *e = report_escape_n(a->record, a->record_len);

        cJSON_AddStringToObject(o, "record", e);
        free(e);
    } else {
        cJSON_AddNullToObject(o, "record");
    }
    report_json_str(o, "found_at", a->found_at);
    report_json_str(o, "found_by", a->found_by);
    where = cJSON_AddObjectToObject(o, "found_at_by_method");
    report_json_str(where, "psl", a->found_at_psl);
    report_json_str(where, "tree_walk", a->found_at_tree);
    org = cJSON_AddObjectToObject(o, "org_domain");
    report_json_str(org, "psl", a->org_domain_psl);
    report_json_str(org, "tree_walk", a->org_domain_tree);
    if (!a->has_record) {
        cJSON_AddNullToObject(o, "tags");
        cJSON_AddNullToObject(o, "policy");
    } else {
        tags = cJSON_AddObjectToObject(o, "tags");
        for (i = 0; i < a->rec.ntags; i++)
            if (cJSON_GetObjectItemCaseSensitive(tags, a->rec.tags[i].name) ==
                NULL)
                report_json_str(tags, a->rec.tags[i].name,
                                a->rec.tags[i].value);
        pol = cJSON_AddObjectToObject(o, "policy");
        json_policy(pol, "effective", a->effective);
        json_policy(pol, "p", a->rec.p);
        json_policy(pol, "sp", a->rec.sp);
        json_policy(pol, "np", a->rec.np);
        cJSON_AddStringToObject(pol, "adkim", align_name(a->rec.adkim));
        cJSON_AddStringToObject(pol, "aspf", align_name(a->rec.aspf));
        cJSON_AddBoolToObject(pol, "testing", a->rec.is_testing);
        cJSON_AddStringToObject(pol, "psd", psd_name(a->rec.psd));
        fo_text(a->rec.fo, fo, sizeof(fo));
        cJSON_AddStringToObject(pol, "fo", fo);
    }
    cJSON_AddItemToObject(o, "rua", json_uris(a->rec.rua, a->rec.nrua));
    cJSON_AddItemToObject(o, "ruf", json_uris(a->rec.ruf, a->rec.nruf));
    cJSON_AddItemToObject(o, "tree_walk", json_walk(&a->walk));
    cJSON_AddItemToObject(o, "findings", report_findings_json(&a->findings));
    return o;
}

static void
text_uris(FILE *f, const char *tag, const struct dmarc_uri *v, size_t n,
          const struct report_style *st)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const struct dmarc_uri *u = &v[i];
        char *e = report_escape(u->uri);

        fprintf(f, "  %s: %s", tag, e);
        free(e);
        if (!u->is_valid)
            fprintf(f, " %s(unusable)%s", st->red, st->off);
        else if (u->is_external)
            fprintf(f, " (external, %s%s%s)",
                    u->auth == DMARC_AUTH_YES ? st->green : st->yellow,
                    auth_name(u->auth), st->off);
        fputc('\n', f);
    }
}

void
report_dmarc_text(FILE *f, const struct dmarc_audit *a,
                  const struct report_style *st)
{
    char *e, fo[16];
    size_t i;

    if (a->record != NULL) {
        e = report_escape_n(a->record, a->record_len);
        fprintf(f, "  record: \"%s\"\n", e);
        free(e);
        e = report_escape(a->found_at);
        fprintf(f, "  found at: _dmarc.%s (%s)\n", e,
                strcmp(a->found_by, "domain") == 0 ? "the domain itself"
                : strcmp(a->found_by, "psl") == 0
                    ? "organizational domain by the public suffix list"
                    : "DNS tree walk, RFC 9989");
        free(e);
    } else {
        fprintf(f, "  record: none\n");
    }
    fprintf(f, "  organizational domain:");
    if (a->org_domain_psl != NULL) {
        e = report_escape(a->org_domain_psl);
        fprintf(f, " %s (public suffix list)", e);
        free(e);
    } else {
        fprintf(f, " none (public suffix list: a public suffix)");
    }
    if (a->org_domain_tree != NULL) {
        e = report_escape(a->org_domain_tree);
        fprintf(f, ", %s (DNS tree walk)\n", e);
        free(e);
    } else {
        fprintf(f, ", unknown (DNS tree walk)\n");
    }
    if (a->has_record) {
        const char *eff = dmarc_policy_name(a->effective);
        const char *sp = dmarc_policy_name(a->rec.sp);
        const char *np = dmarc_policy_name(a->rec.np);

        fo_text(a->rec.fo, fo, sizeof(fo));
        e = report_escape(a->domain);
        fprintf(f, "  policy for %s: %s%s%s\n", e,
                a->effective == DMARC_POLICY_REJECT ||
                        a->effective == DMARC_POLICY_QUARANTINE
                    ? st->green
                    : st->yellow,
                eff != NULL ? eff : "no DMARC", st->off);
        free(e);
        fprintf(f,
                "  tags: p=%s sp=%s np=%s adkim=%s aspf=%s t=%s psd=%s "
                "fo=%s\n",
                a->rec.p != DMARC_POLICY_ABSENT ? dmarc_policy_name(a->rec.p)
                                                : "-",
                sp != NULL ? sp : "-", np != NULL ? np : "-",
                align_name(a->rec.adkim), align_name(a->rec.aspf),
                a->rec.is_testing ? "y" : "n", psd_name(a->rec.psd), fo);
        text_uris(f, "rua", a->rec.rua, a->rec.nrua, st);
        text_uris(f, "ruf", a->rec.ruf, a->rec.nruf, st);
    }
    fprintf(f, "  %slooked up:", st->dim);
    for (i = 0; i < a->walk.nsteps; i++) {
        const struct dmarc_walk_step *s = &a->walk.steps[i];

        e = report_escape(s->domain);
        fprintf(f, "%s _dmarc.%s", i ? "," : "", e);
        free(e);
        if (s->answer == NULL)
            continue;
        if (s->ndmarc > 0)
            fprintf(f, " (%zu record%s)", s->ndmarc, s->ndmarc > 1 ? "s" : "");
        else if (dns_answer_is_error(s->answer))
            fprintf(f, " (%s)", dns_status_name(s->answer));
    }
    fprintf(f, "%s\n", st->off);
}
