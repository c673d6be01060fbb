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

#define ANSWER_TEXT_MAX 4096

/* Escaped copy of outside bytes, for JSON and the terminal alike. */
static char *
esc(const char *p, size_t len)
{
    struct pb_buf b;

    pb_buf_init(&b, (size_t)PB_LIMIT_DNS_MSG * 4 + 16);
    if (pb_buf_add_escaped(&b, p, len) == -1) {
        pb_buf_reset(&b);
        if (pb_buf_adds(&b, "[too long]") == -1)
            pb_panic("report: escape buffer");
    }
    return pb_buf_take(&b, NULL);
}

char *
report_escape(const char *s)
{
    return esc(s, strlen(s));
}

static char *
escs(const char *s)
{
    return esc(s, strlen(s));
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

static void
add_str(cJSON *o, const char *key, const char *s)
{
    if (s == NULL) {
        cJSON_AddNullToObject(o, key);
    } else {
        char *e = escs(s);

        cJSON_AddStringToObject(o, key, e);
        free(e);
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

        add_str(q, "name", a->qname);
        cJSON_AddStringToObject(q, "type", dns_type_name(a->qtype));
        cJSON_AddStringToObject(q, "status", dns_status_name(a));
        if (a->detail[0])
            add_str(q, "detail", a->detail);
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

    add_str(o, "domain", n->domain);
    if (n->record != NULL) {
        char *e = escs(n->record);

        cJSON_AddStringToObject(o, "record", e);
        free(e);
    } else {
        cJSON_AddNullToObject(o, "record");
    }
    cJSON_AddStringToObject(o, "result", spf_result_name(n->result));
    add_str(o, "reason", n->reason);
    cJSON_AddItemToObject(o, "queries", json_lookups(n->lookups, n->nlookups));
    terms = cJSON_AddArrayToObject(o, "terms");
    for (i = 0; i < n->nterms; i++) {
        const struct spf_term *t = &n->terms[i];
        cJSON *to = cJSON_CreateObject();

        add_str(to, "term", t->text);
        if (t->target != NULL)
            add_str(to, "target", t->target);
        cJSON_AddStringToObject(to, "outcome", outcome_name(t->outcome));
        if (t->note != NULL)
            add_str(to, "note", t->note);
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
    add_str(o, "explanation", c->explanation);
    if (c->explanation != NULL)
        cJSON_AddStringToObject(o, "explanation_source",
                                c->explanation_from_exp ? "exp" : "default");
    add_str(o, "reason", c->reason);
    cJSON_AddStringToObject(o, "ip", ip);
    add_str(o, "sender", c->sender);
    add_str(o, "helo", req->helo);
    add_str(o, "domain", c->domain);
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

struct style {
    const char *bold, *red, *yellow, *green, *dim, *off;
};

static const char *
result_color(const struct style *st, enum spf_result r)
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
text_lookups(FILE *f, const struct style *st, const struct spf_lookup *l,
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
text_node(FILE *f, const struct style *st, const struct spf_node *n, int indent)
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
    static const struct style plain = {"", "", "", "", "", ""};
    static const struct style ansi = {"\033[1m",  "\033[31m", "\033[33m",
                                      "\033[32m", "\033[2m",  "\033[0m"};
    const struct style *st = color ? &ansi : &plain;
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
