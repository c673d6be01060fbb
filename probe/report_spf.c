/* SPDX-License-Identifier: MIT */
/*
 * Output of `probe spf`: text (result word first, explanation, counts, the
 * tree of records, terms and DNS answers) and JSON built with cJSON.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_xalloc.h"

static char *
esc(const char *p, size_t len)
{
    return report_escape_n(p, len);
}

static char *
escs(const char *s)
{
    return report_escape(s);
}

/* One record of an answer as text: "192.0.2.1", "10 mx.example", TXT. */
static char *
rr_text(const struct dns_rr *rr)
{
    struct ipaddr ip;
    char buf[64];
    char *e, *s;

    switch (rr->type) {
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA:
        memset(&ip, 0, sizeof(ip));
        ip.family = rr->type == DNS_TYPE_A ? 4 : 6;
        memcpy(ip.a, rr->addr, ip.family == 4 ? 4 : 16);
        ipaddr_format(&ip, buf, sizeof(buf));
        return pb_xstrdup(buf);
    case DNS_TYPE_MX:
        e = esc(rr->data, rr->len);
        s = pb_xasprintf("%u %s", rr->pref, e[0] ? e : ".");
        free(e);
        return s;
    default:
        return esc(rr->data, rr->len);
    }
}

static const char *
outcome_name(enum spf_outcome o)
{
    switch (o) {
    case SPF_TERM_MATCH:
        return "match";
    case SPF_TERM_ERROR:
        return "error";
    case SPF_TERM_SKIPPED:
        return "not-reached";
    default:
        return "no-match";
    }
}

static cJSON *
json_lookups(const struct spf_lookup *l, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    size_t i, k;

    for (i = 0; i < n; i++) {
        const struct dns_answer *a = l[i].answer;
        cJSON *q = cJSON_CreateObject(), *ans = cJSON_CreateArray();

        report_json_str(q, "name", a->qname);
        cJSON_AddStringToObject(q, "type", dns_type_name(a->qtype));
        cJSON_AddStringToObject(q, "status", dns_status_name(a));
        if (a->detail[0])
            report_json_str(q, "detail", a->detail);
        cJSON_AddBoolToObject(q, "void", l[i].is_void);
        for (k = 0; k < a->nrr; k++) {
            char *t = rr_text(&a->rr[k]);

            if (a->rr[k].type == DNS_TYPE_CNAME) {
                char *s = pb_xasprintf("CNAME %s", t);

                cJSON_AddItemToArray(ans, cJSON_CreateString(s));
                free(s);
            } else {
                cJSON_AddItemToArray(ans, cJSON_CreateString(t));
            }
            free(t);
        }
        cJSON_AddItemToObject(q, "answers", ans);
        cJSON_AddItemToArray(arr, q);
    }
    return arr;
}

static cJSON *
json_node(const struct spf_node *n)
{
    cJSON *o = cJSON_CreateObject(), *terms;
    size_t i;

    report_json_str(o, "domain", n->domain);
    if (n->record != NULL) {
        char *e = escs(n->record);

        cJSON_AddStringToObject(o, "record", e);
        free(e);
    } else {
        cJSON_AddNullToObject(o, "record");
    }
    cJSON_AddStringToObject(o, "result", spf_result_name(n->result));
    report_json_str(o, "reason", n->reason);
    cJSON_AddItemToObject(o, "queries", json_lookups(n->lookups, n->nlookups));
    terms = cJSON_AddArrayToObject(o, "terms");
    for (i = 0; i < n->nterms; i++) {
        const struct spf_term *t = &n->terms[i];
        cJSON *to = cJSON_CreateObject();

        report_json_str(to, "term", t->text);
        if (t->target != NULL)
            report_json_str(to, "target", t->target);
        cJSON_AddStringToObject(to, "outcome", outcome_name(t->outcome));
        if (t->note != NULL)
            report_json_str(to, "note", t->note);
        cJSON_AddItemToObject(to, "queries",
                              json_lookups(t->lookups, t->nlookups));
        if (t->child != NULL)
            cJSON_AddItemToObject(to, "child", json_node(t->child));
        cJSON_AddItemToArray(terms, to);
    }
    return o;
}

void
report_spf_json(FILE *f, const struct spf_request *req,
                const struct spf_check *c)
{
    cJSON *o = cJSON_CreateObject();
    char ip[64], *s;

    ipaddr_format(&req->ip, ip, sizeof(ip));
    cJSON_AddStringToObject(o, "result", spf_result_name(c->result));
    report_json_str(o, "explanation", c->explanation);
    if (c->explanation != NULL)
        cJSON_AddStringToObject(o, "explanation_source",
                                c->explanation_from_exp ? "exp" : "default");
    report_json_str(o, "reason", c->reason);
    cJSON_AddStringToObject(o, "ip", ip);
    report_json_str(o, "sender", c->sender);
    report_json_str(o, "helo", req->helo);
    report_json_str(o, "domain", c->domain);
    cJSON_AddNumberToObject(o, "dns_lookups", c->dns_lookups);
    cJSON_AddNumberToObject(o, "dns_lookup_limit", PB_LIMIT_SPF_DNS_TERMS);
    cJSON_AddNumberToObject(o, "void_lookups", c->void_lookups);
    cJSON_AddNumberToObject(o, "void_lookup_limit", PB_LIMIT_SPF_VOID);
    if (c->root != NULL)
        cJSON_AddItemToObject(o, "trace", json_node(c->root));
    else
        cJSON_AddNullToObject(o, "trace");
    s = cJSON_Print(o);
    fprintf(f, "%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

/* ---- text ---- */

static const char *
result_color(const struct report_style *st, enum spf_result r)
{
    switch (r) {
    case SPF_PASS:
        return st->green;
    case SPF_FAIL:
    case SPF_PERMERROR:
        return st->red;
    default:
        return st->yellow;
    }
}

static void
text_lookups(FILE *f, const struct report_style *st, const struct spf_lookup *l,
             size_t n, int indent)
{
    size_t i, k;

    for (i = 0; i < n; i++) {
        const struct dns_answer *a = l[i].answer;
        char *name = escs(a->qname);
        size_t shown = 0;

        fprintf(f, "%*s%sdns %s %s: %s", indent, "", st->dim,
                dns_type_name(a->qtype), name, dns_status_name(a));
        free(name);
        if (a->detail[0]) {
            char *d = escs(a->detail);

            fprintf(f, " (%s)", d);
            free(d);
        }
        for (k = 0; k < a->nrr && shown < 8; k++, shown++) {
            char *t = rr_text(&a->rr[k]);

            if (a->rr[k].type == DNS_TYPE_TXT || a->rr[k].type == DNS_TYPE_SPF)
                fprintf(f, "%s \"%.*s%s\"", k ? "," : "",
                        strlen(t) > 120 ? 117 : (int)strlen(t), t,
                        strlen(t) > 120 ? "..." : "");
            else
                fprintf(f, "%s %s%s", k ? "," : "",
                        a->rr[k].type == DNS_TYPE_CNAME ? "CNAME " : "", t);
            free(t);
        }
        if (k < a->nrr)
            fprintf(f, ", ... (%zu records)", a->nrr);
        if (l[i].is_void)
            fprintf(f, " [void lookup]");
        fprintf(f, "%s\n", st->off);
    }
}

static void
text_node(FILE *f, const struct report_style *st, const struct spf_node *n,
          int indent)
{
    size_t i;
    char *dom = escs(n->domain);

    fprintf(f, "%*s%s%s%s -> %s%s%s", indent, "", st->bold, dom, st->off,
            result_color(st, n->result), spf_result_name(n->result), st->off);
    free(dom);
    if (n->reason != NULL && n->record == NULL) {
        char *r = escs(n->reason);

        fprintf(f, " (%s)", r);
        free(r);
    }
    fputc('\n', f);
    text_lookups(f, st, n->lookups, n->nlookups, indent + 2);
    if (n->record != NULL) {
        char *r = escs(n->record);

        fprintf(f, "%*srecord: \"%s\"\n", indent + 2, "", r);
        free(r);
    }
    if (n->record != NULL && n->nterms == 0 && n->reason != NULL) {
        char *r = escs(n->reason);

        fprintf(f, "%*s%s%s%s\n", indent + 2, "", st->red, r, st->off);
        free(r);
    }
    for (i = 0; i < n->nterms; i++) {
        const struct spf_term *t = &n->terms[i];
        char *text = escs(t->text);
        const char *color = t->outcome == SPF_TERM_MATCH   ? st->green
                            : t->outcome == SPF_TERM_ERROR ? st->red
                                                           : st->dim;

        fprintf(f, "%*s%-32s %s%s%s", indent + 2, "", text, color,
                outcome_name(t->outcome), st->off);
        free(text);
        if (t->note != NULL) {
            char *note = escs(t->note);

            fprintf(f, "  (%s)", note);
            free(note);
        }
        fputc('\n', f);
        if (t->outcome == SPF_TERM_SKIPPED)
            continue;
        text_lookups(f, st, t->lookups, t->nlookups, indent + 4);
        if (t->child != NULL)
            text_node(f, st, t->child, indent + 4);
    }
}

void
report_spf_text(FILE *f, const struct spf_request *req,
                const struct spf_check *c, bool color)
{
    const struct report_style *st = report_style_get(color);
    char ip[64];
    char *s;

    ipaddr_format(&req->ip, ip, sizeof(ip));
    fprintf(f, "%s%s%s\n", result_color(st, c->result),
            spf_result_name(c->result), st->off);
    if (c->explanation != NULL) {
        s = escs(c->explanation);
        fprintf(f, "explanation: %s%s\n", s,
                c->explanation_from_exp ? "" : " (no exp= text published)");
        free(s);
    }
    if (c->reason != NULL && c->reason[0]) {
        s = escs(c->reason);
        fprintf(f, "reason: %s\n", s);
        free(s);
    }
    s = escs(c->sender);
    fprintf(f, "checked: %s from %s", s, ip);
    free(s);
    if (req->helo != NULL) {
        s = escs(req->helo);
        fprintf(f, " (HELO %s)", s);
        free(s);
    }
    fprintf(f, "\nDNS lookups: %u of %d, void lookups: %u of %d%s\n\n",
            c->dns_lookups, PB_LIMIT_SPF_DNS_TERMS, c->void_lookups,
            PB_LIMIT_SPF_VOID,
            c->dns_lookups > PB_LIMIT_SPF_DNS_TERMS ||
                    c->void_lookups > PB_LIMIT_SPF_VOID
                ? " (over the RFC 7208 limit)"
                : "");
    if (c->root != NULL)
        text_node(f, st, c->root, 0);
}
