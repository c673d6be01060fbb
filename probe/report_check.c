/* SPDX-License-Identifier: MIT */
/*
 * Output of `probe check`: the whole audit of one domain as text grouped
 * by check, as one JSON object (docs/json.md), or as one summary line for
 * a batch.  The SPF part is rendered here; the other checks have their
 * own report_*.c.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

static cJSON *
json_tree(const struct spf_tree *t)
{
    cJSON *o = cJSON_CreateObject(), *kids;
    size_t i;

    report_json_str(o, "domain", t->domain);
    report_json_str(o, "record", t->record);
    report_json_str(o, "problem", t->problem);
    cJSON_AddNumberToObject(o, "lookups", t->lookups);
    cJSON_AddNumberToObject(o, "void_lookups", t->void_lookups);
    cJSON_AddNumberToObject(o, "total_lookups", t->total_lookups);
    cJSON_AddNumberToObject(o, "total_void_lookups", t->total_voids);
    kids = cJSON_AddArrayToObject(o, "children");
    for (i = 0; i < t->nchildren; i++) {
        const struct spf_tree_child *c = &t->children[i];
        cJSON *k = cJSON_CreateObject();

        report_json_str(k, "term", c->term);
        cJSON_AddBoolToObject(k, "dynamic", c->is_dynamic);
        if (c->node != NULL)
            cJSON_AddItemToObject(k, "node", json_tree(c->node));
        else
            cJSON_AddNullToObject(k, "node");
        cJSON_AddItemToArray(kids, k);
    }
    return o;
}

static cJSON *
json_spf(const struct spf_audit *a)
{
    cJSON *o = cJSON_CreateObject(), *ips;
    size_t i;

    cJSON_AddStringToObject(o, "status", pb_status_name(a->status));
    report_json_str(o, "record", a->record);
    cJSON_AddNumberToObject(o, "dns_lookups", a->dns_lookups);
    cJSON_AddNumberToObject(o, "void_lookups", a->void_lookups);
    if (a->tree != NULL)
        cJSON_AddItemToObject(o, "tree", json_tree(a->tree));
    else
        cJSON_AddNullToObject(o, "tree");
    ips = cJSON_AddArrayToObject(o, "ip_results");
    for (i = 0; i < a->nips; i++) {
        const struct spf_ip_result *r = &a->ips[i];
        cJSON *x = cJSON_CreateObject();
        char ip[64];

        ipaddr_format(&r->ip, ip, sizeof(ip));
        cJSON_AddStringToObject(x, "ip", ip);
        cJSON_AddStringToObject(x, "result", spf_result_name(r->result));
        cJSON_AddNumberToObject(x, "dns_lookups", r->dns_lookups);
        cJSON_AddNumberToObject(x, "void_lookups", r->void_lookups);
        report_json_str(x, "reason", r->reason);
        report_json_str(x, "explanation", r->explanation);
        cJSON_AddItemToArray(ips, x);
    }
    cJSON_AddItemToObject(o, "findings", report_findings_json(&a->findings));
    return o;
}

cJSON *
report_check_json(const struct check_result *res)
{
    cJSON *o = cJSON_CreateObject(), *checks;

    report_json_str(o, "domain", res->domain);
    /* IDNA2008 accepted it, so it is valid UTF-8: keep the letters */
    if (res->domain_unicode != NULL)
        cJSON_AddStringToObject(o, "domain_unicode", res->domain_unicode);
    cJSON_AddStringToObject(o, "status", pb_status_name(res->status));
    checks = cJSON_AddObjectToObject(o, "checks");
    if (res->ran & CHECK_SPF)
        cJSON_AddItemToObject(checks, "spf", json_spf(&res->spf));
    if (res->ran & CHECK_DKIM)
        cJSON_AddItemToObject(checks, "dkim", report_dkim_json(&res->dkim));
    if (res->ran & CHECK_DMARC)
        cJSON_AddItemToObject(checks, "dmarc", report_dmarc_json(&res->dmarc));
    if (res->ran & CHECK_MX)
        cJSON_AddItemToObject(checks, "mx", report_mx_json(&res->mx));
    if (res->ran & CHECK_PTR)
        cJSON_AddItemToObject(checks, "ptr", report_ptr_json(&res->ptr));
    if (res->ran & CHECK_DNSBL)
        cJSON_AddItemToObject(checks, "dnsbl", report_dnsbl_json(&res->dnsbl));
    return o;
}

cJSON *
report_check_error_json(const char *domain, const char *error)
{
    cJSON *o = cJSON_CreateObject();

    report_json_str(o, "domain", domain);
    cJSON_AddStringToObject(o, "status", "error");
    report_json_str(o, "error", error);
    return o;
}

static void
text_tree(FILE *f, const struct spf_tree *t, const char *via,
          const struct report_style *st, int indent)
{
    size_t i;
    char *d = report_escape(t->domain);

    fprintf(f, "%*s%s%s%s%s%s", indent, "", via ? via : "", via ? " -> " : "",
            st->bold, d, st->off);
    free(d);
    if (t->problem != NULL) {
        char *p = report_escape(t->problem);

        fprintf(f, "  %s(%s)%s\n", st->red, p, st->off);
        free(p);
    } else {
        fprintf(f, "  %s%u lookup%s here, %u with everything below", st->dim,
                t->lookups, t->lookups == 1 ? "" : "s", t->total_lookups);
        if (t->total_voids > 0)
            fprintf(f, ", %u void", t->total_voids);
        fprintf(f, "%s\n", st->off);
    }
    for (i = 0; i < t->nchildren; i++) {
        const struct spf_tree_child *c = &t->children[i];
        char *term = report_escape(c->term);

        if (c->node != NULL)
            text_tree(f, c->node, term, st, indent + 4);
        else
            fprintf(f, "%*s%s  %s(%s)%s\n", indent + 4, "", term, st->dim,
                    c->is_dynamic ? "macro: depends on the sender"
                                  : "not followed",
                    st->off);
        free(term);
    }
}

static void
text_spf(FILE *f, const struct spf_audit *a, const struct report_style *st)
{
    size_t i;

    if (a->record != NULL) {
        char *r = report_escape(a->record);

        fprintf(f, "  record: \"%s\"%s\n", r,
                a->nstrings > 1 ? " (several strings, joined)" : "");
        free(r);
    }
    fprintf(f,
            "  DNS lookups in the worst case: %u of %d, void lookups: %u "
            "of %d\n",
            a->dns_lookups, PB_LIMIT_SPF_DNS_TERMS, a->void_lookups,
            PB_LIMIT_SPF_VOID);
    if (a->tree != NULL && a->tree->record != NULL && a->tree->nchildren > 0)
        text_tree(f, a->tree, NULL, st, 2);
    for (i = 0; i < a->nips; i++) {
        const struct spf_ip_result *r = &a->ips[i];
        char ip[64], *why = report_escape(r->reason ? r->reason : "");

        ipaddr_format(&r->ip, ip, sizeof(ip));
        fprintf(f, "  %s: %s (%s; %u lookups)\n", ip,
                spf_result_name(r->result), why, r->dns_lookups);
        free(why);
    }
}

static void
section(FILE *f, const char *title, enum pb_status s,
        const struct report_style *st)
{
    fprintf(f, "\n%s%-6s%s %s%s%s\n", st->bold, title, st->off,
            report_status_color(st, s), pb_status_name(s), st->off);
}

void
report_check_text(FILE *f, const struct check_result *res,
                  const struct report_style *st)
{
    char *d = report_escape(res->domain);

    fprintf(f, "%s%s%s: %s%s%s", st->bold, d, st->off,
            report_status_color(st, res->status), pb_status_name(res->status),
            st->off);
    free(d);
    if (res->domain_unicode != NULL)
        fprintf(f, "  (%s)", res->domain_unicode); /* valid IDN UTF-8 */
    fputc('\n', f);
    if (res->ran & CHECK_SPF) {
        section(f, "SPF", res->spf.status, st);
        text_spf(f, &res->spf, st);
        report_findings_text(f, &res->spf.findings, st, 2);
    }
    if (res->ran & CHECK_DKIM) {
        section(f, "DKIM", res->dkim.status, st);
        report_dkim_text(f, &res->dkim, st);
        report_findings_text(f, &res->dkim.findings, st, 2);
    }
    if (res->ran & CHECK_DMARC) {
        section(f, "DMARC", res->dmarc.status, st);
        report_dmarc_text(f, &res->dmarc, st);
        report_findings_text(f, &res->dmarc.findings, st, 2);
    }
    if (res->ran & CHECK_MX) {
        section(f, "MX", res->mx.status, st);
        report_mx_text(f, &res->mx, st);
        report_findings_text(f, &res->mx.findings, st, 2);
    }
    if (res->ran & CHECK_PTR) {
        section(f, "PTR", res->ptr.status, st);
        report_ptr_text(f, &res->ptr, st);
        report_findings_text(f, &res->ptr.findings, st, 2);
    }
    if (res->ran & CHECK_DNSBL) {
        section(f, "DNSBL", res->dnsbl.status, st);
        report_dnsbl_text(f, &res->dnsbl, st);
        report_findings_text(f, &res->dnsbl.findings, st, 2);
    }
}

static void
line_check(FILE *f, const char *name, enum pb_status s,
           const struct pb_findings *fs, const struct report_style *st,
           size_t *nfind)
{
    size_t i;

    fprintf(f, " %s=%s%s%s", name, report_status_color(st, s),
            pb_status_name(s), st->off);
    for (i = 0; i < fs->n; i++)
        if (fs->v[i].sev != PB_SEV_INFO)
            (*nfind)++;
}

void
report_check_line(FILE *f, const struct check_result *res,
                  const struct report_style *st)
{
    char *d = report_escape(res->domain);
    size_t n = 0;

    fprintf(f, "%-30s %s%-5s%s", d, report_status_color(st, res->status),
            pb_status_name(res->status), st->off);
    free(d);
    if (res->ran & CHECK_SPF)
        line_check(f, "spf", res->spf.status, &res->spf.findings, st, &n);
    if (res->ran & CHECK_DKIM)
        line_check(f, "dkim", res->dkim.status, &res->dkim.findings, st, &n);
    if (res->ran & CHECK_DMARC)
        line_check(f, "dmarc", res->dmarc.status, &res->dmarc.findings, st, &n);
    if (res->ran & CHECK_MX)
        line_check(f, "mx", res->mx.status, &res->mx.findings, st, &n);
    if (res->ran & CHECK_PTR)
        line_check(f, "ptr", res->ptr.status, &res->ptr.findings, st, &n);
    if (res->ran & CHECK_DNSBL)
        line_check(f, "dnsbl", res->dnsbl.status, &res->dnsbl.findings, st, &n);
    fprintf(f, "  (%zu finding%s)\n", n, n == 1 ? "" : "s");
}
