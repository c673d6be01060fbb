/* SPDX-License-Identifier: MIT */
/*
 * Output of the MX, PTR and DNSBL checks of `probe check`: each check as a
 * JSON object (status, data, findings) and its data lines as text.  Names,
 * TXT records and every other outside text are escaped on the way out.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pb_xalloc.h"

/* Addresses written on one text line; JSON holds them all. */
#define REPORT_HOSTS_ADDRS 8

/* A name from record data; the root ("") is shown as ".". */
static void
json_name(cJSON *o, const char *key, const char *name)
{
    report_json_str(o, key, name[0] != '\0' ? name : ".");
}

static cJSON *
json_addrs(const struct ipaddr *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    char text[64];
    size_t i;

    for (i = 0; i < n; i++) {
        ipaddr_format(&v[i], text, sizeof(text));
        cJSON_AddItemToArray(arr, cJSON_CreateString(text));
    }
    return arr;
}

/* "192.0.2.1, 2001:db8::1" with at most REPORT_HOSTS_ADDRS shown. */
static void
text_addrs(FILE *f, const struct ipaddr *v, size_t n)
{
    char text[64];
    size_t i;

    for (i = 0; i < n && i < REPORT_HOSTS_ADDRS; i++) {
        ipaddr_format(&v[i], text, sizeof(text));
        fprintf(f, "%s%s", i ? ", " : "", text);
    }
    if (i < n)
        fprintf(f, ", ... (%zu addresses)", n);
}

static void
text_name(FILE *f, const char *name)
{
    char *e = report_escape(name[0] != '\0' ? name : ".");

    fputs(e, f);
    free(e);
}

/* ------------------------------------------------------------------ */
/* MX                                                                  */

cJSON *
report_mx_json(const struct mx_audit *a)
{
    cJSON *o = cJSON_CreateObject(), *recs;
    size_t i;

    cJSON_AddStringToObject(o, "status", pb_status_name(a->status));
    cJSON_AddStringToObject(o, "lookup", a->lookup);
    recs = cJSON_AddArrayToObject(o, "records");
    for (i = 0; i < a->nhosts; i++) {
        const struct mx_host *h = &a->hosts[i];
        cJSON *r = cJSON_CreateObject();

        cJSON_AddNumberToObject(r, "preference", h->preference);
        json_name(r, "exchange", h->exchange);
        cJSON_AddItemToObject(r, "addresses", json_addrs(h->addrs, h->naddrs));
        cJSON_AddBoolToObject(r, "cname", h->is_cname);
        cJSON_AddStringToObject(r, "status", pb_status_name(h->status));
        cJSON_AddItemToArray(recs, r);
    }
    cJSON_AddBoolToObject(o, "null_mx", a->null_mx);
    cJSON_AddBoolToObject(o, "implicit", a->is_implicit);
    cJSON_AddItemToObject(o, "implicit_addresses",
                          json_addrs(a->implicit_addrs, a->nimplicit));
    cJSON_AddItemToObject(o, "findings", report_findings_json(&a->findings));
    return o;
}

void
report_mx_text(FILE *f, const struct mx_audit *a, const struct report_style *st)
{
    size_t i;

    if (a->is_implicit) {
        fprintf(f, "  no MX records; implicit MX ");
        text_name(f, a->domain);
        fprintf(f, ": ");
        text_addrs(f, a->implicit_addrs, a->nimplicit);
        fputc('\n', f);
    }
    for (i = 0; i < a->nhosts; i++) {
        const struct mx_host *h = &a->hosts[i];

        fprintf(f, "  %u ", (unsigned)h->preference);
        text_name(f, h->exchange);
        if (h->is_null)
            fprintf(f, "  %s(null MX: accepts no mail)%s", st->dim, st->off);
        else if (h->naddrs > 0) {
            fprintf(f, "  ");
            text_addrs(f, h->addrs, h->naddrs);
        } else if (h->is_resolved || h->is_duplicate)
            fprintf(f, "  %s(no address)%s", st->dim, st->off);
        if (h->status != PB_STATUS_OK)
            fprintf(f, "  %s%s%s", report_status_color(st, h->status),
                    pb_status_name(h->status), st->off);
        fputc('\n', f);
    }
}

/* ------------------------------------------------------------------ */
/* PTR                                                                 */

cJSON *
report_ptr_json(const struct ptr_audit *a)
{
    cJSON *o = cJSON_CreateObject(), *ips;
    size_t i, k;

    cJSON_AddStringToObject(o, "status", pb_status_name(a->status));
    ips = cJSON_AddArrayToObject(o, "ips");
    for (i = 0; i < a->nips; i++) {
        const struct ptr_ip *p = &a->ips[i];
        cJSON *io = cJSON_CreateObject(), *ptr, *fwd;

        cJSON_AddStringToObject(io, "ip", p->text);
        cJSON_AddStringToObject(io, "reverse", p->reverse);
        cJSON_AddStringToObject(io, "lookup", p->lookup);
        ptr = cJSON_AddArrayToObject(io, "ptr");
        fwd = cJSON_AddArrayToObject(io, "forward");
        for (k = 0; k < p->nnames; k++) {
            const struct ptr_name *nm = &p->names[k];
            cJSON *no = cJSON_CreateObject();
            char *e = report_escape(nm->name[0] != '\0' ? nm->name : ".");

            cJSON_AddItemToArray(ptr, cJSON_CreateString(e));
            free(e);
            json_name(no, "name", nm->name);
            if (nm->is_checked)
                cJSON_AddStringToObject(no, "lookup", nm->lookup);
            else
                cJSON_AddNullToObject(no, "lookup");
            cJSON_AddItemToObject(no, "addresses",
                                  json_addrs(nm->addrs, nm->naddrs));
            cJSON_AddBoolToObject(no, "confirmed", nm->is_confirmed);
            cJSON_AddBoolToObject(no, "generic", nm->is_generic);
            if (nm->is_generic)
                cJSON_AddStringToObject(no, "generic_reason", nm->generic_why);
            cJSON_AddBoolToObject(no, "in_domain", nm->is_in_domain);
            cJSON_AddItemToArray(fwd, no);
        }
        cJSON_AddBoolToObject(io, "confirmed", p->is_confirmed);
        cJSON_AddBoolToObject(io, "generic", p->is_generic);
        cJSON_AddBoolToObject(io, "in_domain", p->is_in_domain);
        cJSON_AddStringToObject(io, "status", pb_status_name(p->status));
        cJSON_AddItemToArray(ips, io);
    }
    cJSON_AddItemToObject(o, "findings", report_findings_json(&a->findings));
    return o;
}

void
report_ptr_text(FILE *f, const struct ptr_audit *a,
                const struct report_style *st)
{
    size_t i, k;

    for (i = 0; i < a->nips; i++) {
        const struct ptr_ip *p = &a->ips[i];

        fprintf(f, "  %s: ", p->text);
        if (p->nnames == 0)
            fprintf(f, "no PTR (%s)", p->lookup);
        else if (p->is_confirmed)
            fprintf(f, "forward-confirmed");
        else
            fprintf(f, "not forward-confirmed");
        if (p->is_generic)
            fprintf(f, ", generic name");
        if (p->status != PB_STATUS_OK)
            fprintf(f, "  %s%s%s", report_status_color(st, p->status),
                    pb_status_name(p->status), st->off);
        fputc('\n', f);
        for (k = 0; k < p->nnames; k++) {
            const struct ptr_name *nm = &p->names[k];

            fprintf(f, "    PTR ");
            text_name(f, nm->name);
            if (!nm->is_checked)
                fprintf(f, "  %s(not looked up)%s", st->dim, st->off);
            else if (nm->naddrs > 0) {
                fprintf(f, " -> ");
                text_addrs(f, nm->addrs, nm->naddrs);
            } else {
                fprintf(f, " -> (%s)",
                        nm->forward_status == DNS_OK ? "no address"
                                                     : nm->lookup);
            }
            fputc('\n', f);
        }
    }
}

/* ------------------------------------------------------------------ */
/* DNSBL                                                               */

static const char *
code_kind_name(enum dnsbl_code_kind k)
{
    switch (k) {
    case DNSBL_CODE_LISTED:
        return "listed";
    case DNSBL_CODE_POLICY:
        return "policy";
    default:
        return "error";
    }
}

cJSON *
report_dnsbl_json(const struct dnsbl_audit *a)
{
    cJSON *o = cJSON_CreateObject(), *zones, *results;
    size_t i, k;
    char text[64];

    cJSON_AddStringToObject(o, "status", pb_status_name(a->status));
    zones = cJSON_AddArrayToObject(o, "zones");
    for (i = 0; i < a->nzones; i++) {
        const struct dnsbl_zone *z = &a->zones[i];
        cJSON *zo = cJSON_CreateObject();

        report_json_str(zo, "zone", z->zone);
        cJSON_AddStringToObject(zo, "kind",
                                z->kind == DNSBL_KIND_IP ? "ip" : "domain");
        report_json_str(zo, "name", z->name);
        cJSON_AddBoolToObject(zo, "ipv6", z->lists_ipv6);
        cJSON_AddItemToArray(zones, zo);
    }
    results = cJSON_AddArrayToObject(o, "results");
    for (i = 0; i < a->nresults; i++) {
        const struct dnsbl_result *res = &a->results[i];
        cJSON *ro = cJSON_CreateObject(), *codes;

        report_json_str(ro, "target", res->target);
        cJSON_AddStringToObject(ro, "kind", res->is_ip ? "ip" : "domain");
        report_json_str(ro, "zone", a->zones[res->zone].zone);
        report_json_str(ro, "query", res->qname);
        cJSON_AddStringToObject(ro, "state", dnsbl_state_name(res->state));
        if (res->state == DNSBL_LISTED || res->state == DNSBL_NOT_LISTED)
            cJSON_AddBoolToObject(ro, "listed", res->state == DNSBL_LISTED);
        else
            cJSON_AddNullToObject(ro, "listed");
        report_json_str(ro, "lookup",
                        res->dns_status[0] != '\0' ? res->dns_status : NULL);
        codes = cJSON_AddArrayToObject(ro, "codes");
        for (k = 0; k < res->ncodes; k++) {
            cJSON *co = cJSON_CreateObject();

            ipaddr_format(&res->codes[k].addr, text, sizeof(text));
            cJSON_AddStringToObject(co, "code", text);
            cJSON_AddStringToObject(co, "kind",
                                    code_kind_name(res->codes[k].kind));
            report_json_str(co, "meaning", res->codes[k].meaning);
            cJSON_AddItemToArray(codes, co);
        }
        if (res->txt != NULL) {
            char *e = report_escape_n(res->txt, res->txt_len);

            cJSON_AddStringToObject(ro, "txt", e);
            free(e);
        } else {
            cJSON_AddNullToObject(ro, "txt");
        }
        cJSON_AddStringToObject(ro, "status", pb_status_name(res->status));
        cJSON_AddItemToArray(results, ro);
    }
    cJSON_AddItemToObject(o, "findings", report_findings_json(&a->findings));
    return o;
}

void
report_dnsbl_text(FILE *f, const struct dnsbl_audit *a,
                  const struct report_style *st)
{
    size_t i, k;
    char text[64];

    for (i = 0; i < a->nresults; i++) {
        const struct dnsbl_result *res = &a->results[i];
        char *t = report_escape(res->target);
        char *z = report_escape(a->zones[res->zone].zone);
        const char *color = res->state == DNSBL_NOT_LISTED ? st->green
                            : res->state == DNSBL_SKIPPED
                                ? st->dim
                                : report_status_color(st, res->status);

        fprintf(f, "  %s on %s: %s%s%s", t, z, color,
                res->state == DNSBL_LISTED       ? "listed"
                : res->state == DNSBL_NOT_LISTED ? "not listed"
                : res->state == DNSBL_SKIPPED    ? "skipped (IPv4 only)"
                                                 : "could not check",
                st->off);
        free(z);
        free(t);
        if (res->ncodes == 0 && res->state == DNSBL_COULD_NOT_CHECK)
            fprintf(f, " (%s)", res->dns_status);
        for (k = 0; k < res->ncodes && k < REPORT_HOSTS_ADDRS; k++) {
            ipaddr_format(&res->codes[k].addr, text, sizeof(text));
            fprintf(f, "%s %s (%s)", k ? "," : "", text, res->codes[k].meaning);
        }
        if (k < res->ncodes)
            fprintf(f, ", ... (%zu codes)", res->ncodes);
        fputc('\n', f);
        if (res->txt != NULL) {
            /* the first bytes on the line; JSON and the finding hold all */
            char *e = report_escape_n(res->txt,
                                      res->txt_len > 160 ? 160 : res->txt_len);

            fprintf(f, "    %sTXT \"%s%s\"%s\n", st->dim, e,
                    res->txt_len > 160 ? "..." : "", st->off);
            free(e);
        }
    }
}
