/* SPDX-License-Identifier: MIT */
/*
 * The JSON fixture back end (PRODUCT.md "DNS fixture format"): load and
 * check a fixture, answer questions from it as a resolver would (RFC 1034
 * §3.6.2 and §4.3.2: CNAMEs followed, NXDOMAIN versus NODATA), and write
 * a run's answers back in the same format so the run can be replayed.
 */
#include "analyze.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "dns_int.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_text.h"
#include "pb_jpath.h"
#include "pb_xalloc.h"

/* What one type of a name, or a whole name, answers. */
enum fx_kind {
    FX_DATA = 0, /* the records (none: NODATA) */
    FX_TIMEOUT,
    FX_RCODE,
    FX_ERROR, /* extension, for recording: an answer that was an error */
};

/* The types a fixture holds, in the slot order of struct fx_name. */
static const uint16_t fx_types[] = {
    DNS_TYPE_A,  DNS_TYPE_AAAA, DNS_TYPE_CNAME, DNS_TYPE_MX,
    DNS_TYPE_NS, DNS_TYPE_PTR,  DNS_TYPE_SPF,   DNS_TYPE_TXT,
};
#define FX_NTYPES (sizeof(fx_types) / sizeof(fx_types[0]))

struct fx_type {
    bool is_set;
    enum fx_kind kind;
    int rcode;
    char *detail; /* FX_RCODE (optional), FX_ERROR: printable text */
    size_t nrr;
    struct dns_rr *rr;
};

struct fx_name {
    char *name;        /* canonical: lower case, no trailing dot */
    enum fx_kind kind; /* FX_DATA: per type; FX_TIMEOUT, FX_RCODE: all */
    int rcode;
    struct fx_type types[FX_NTYPES];
    unsigned char order[FX_NTYPES]; /* slots in the order given */
    size_t ntypes;
};

struct dns_fixture {
    struct dns_map map;     /* (name, 0) -> struct fx_name */
    struct fx_name **names; /* in the order given */
    size_t n;
    size_t cap;
};

/* ------------------------------------------------------------------ */
/* The model                                                           */

static int
fx_slot_index(uint16_t type)
{
    size_t i;

    for (i = 0; i < FX_NTYPES; i++)
        if (fx_types[i] == type)
            return (int)i;
    return -1;
}

static const struct fx_type *
fx_name_slot(const struct fx_name *n, uint16_t type)
{
    int i = fx_slot_index(type);

    if (i < 0 || !n->types[i].is_set)
        return NULL;
    return &n->types[i];
}

/* The CNAME the name points to, or NULL. */
static const struct fx_type *
fx_name_cname(const struct fx_name *n)
{
    const struct fx_type *c = fx_name_slot(n, DNS_TYPE_CNAME);

    return c != NULL && c->kind == FX_DATA && c->nrr > 0 ? c : NULL;
}

/* Mark the slot of type as given; NULL when it was already. */
static struct fx_type *
fx_name_claim(struct fx_name *n, uint16_t type)
{
    int i = fx_slot_index(type);

    if (i < 0 || n->types[i].is_set)
        return NULL;
    n->types[i].is_set = true;
    n->order[n->ntypes++] = (unsigned char)i;
    return &n->types[i];
}

/* True when some type other than except holds records (kind FX_DATA). */
static bool
fx_name_has_data(const struct fx_name *n, uint16_t except)
{
    size_t i;

    for (i = 0; i < FX_NTYPES; i++)
        if (n->types[i].is_set && n->types[i].kind == FX_DATA &&
            fx_types[i] != except)
            return true;
    return false;
}

static struct fx_name *
fx_name_get(const struct dns_fixture *fx, const char *name)
{
    return dns_map_get(&fx->map, name, 0);
}

static struct fx_name *
fx_name_add(struct dns_fixture *fx, const char *name)
{
    struct fx_name *n = fx_name_get(fx, name);

    if (n != NULL)
        return n;
    n = pb_xcalloc(1, sizeof(*n));
    n->name = pb_xstrdup(name);
    if (fx->n == fx->cap) {
        fx->cap = fx->cap ? fx->cap * 2 : 64;
        fx->names = pb_xreallocarray(fx->names, fx->cap, sizeof(*fx->names));
    }
    fx->names[fx->n++] = n;
    dns_map_put(&fx->map, n->name, 0, n);
    return n;
}

static void
fx_type_add_rr(struct fx_type *t, const struct dns_rr *rr)
{
    t->rr = pb_xreallocarray(t->rr, t->nrr + 1, sizeof(*t->rr));
    dns_rr_copy(&t->rr[t->nrr++], rr);
}

/* Store detail as printable text that fits struct dns_answer's detail. */
static char *
fx_detail_dup(const char *s)
{
    char buf[sizeof(((struct dns_answer *)0)->detail)];
    size_t len = strlen(s);

    if (pb_is_printable(s, len))
        snprintf(buf, sizeof(buf), "%s", s);
    else
        pb_escape_to(buf, sizeof(buf), s, len);
    return pb_xstrdup(buf);
}

void
dns_fixture_free(struct dns_fixture *fx)
{
    size_t i, k, j;

    if (fx == NULL)
        return;
    for (i = 0; i < fx->n; i++) {
        struct fx_name *n = fx->names[i];

        for (k = 0; k < FX_NTYPES; k++) {
            for (j = 0; j < n->types[k].nrr; j++)
                dns_rr_release(&n->types[k].rr[j]);
            free(n->types[k].rr);
            free(n->types[k].detail);
        }
        free(n->name);
        free(n);
    }
    free(fx->names);
    dns_map_release(&fx->map);
    free(fx);
}

static struct dns_fixture *
fx_new(void)
{
    struct dns_fixture *fx = pb_xcalloc(1, sizeof(*fx));

    dns_map_init(&fx->map);
    return fx;
}

/* ------------------------------------------------------------------ */
/* Answering                                                           */

static void
fx_answer_outcome(struct dns_answer *a, enum fx_kind kind, int rcode,
                  const char *detail)
{
    enum dns_status st;

    switch (kind) {
    case FX_TIMEOUT:
        dns_answer_clear_rrs(a);
        dns_answer_set(a, DNS_TIMEOUT, -1, "no answer (fixture: TIMEOUT)");
        return;
    case FX_ERROR:
        dns_answer_clear_rrs(a);
        dns_answer_set(a, DNS_ERROR, -1, "%s", detail != NULL ? detail : "");
        return;
    case FX_RCODE:
    case FX_DATA:
        break;
    }
    /* As from the wire: records only with NOERROR and NXDOMAIN. */
    st = dns_status_from_rcode(rcode);
    if (st == DNS_RCODE)
        dns_answer_clear_rrs(a);
    dns_answer_set(a, st, rcode, "%s", detail != NULL ? detail : "");
}

void
dns_fixture_answer(const struct dns_fixture *fx, struct dns_answer *a)
{
    const char *cur = a->qname;
    const struct fx_type *t, *c;
    size_t hops = 0, i;

    dns_answer_clear_rrs(a);
    for (;;) {
        const struct fx_name *n = fx_name_get(fx, cur);

        if (n == NULL) {
            fx_answer_outcome(a, FX_RCODE, 3, NULL);
            return;
        }
        if (n->kind != FX_DATA) {
            fx_answer_outcome(a, n->kind, n->rcode, NULL);
            return;
        }
        t = fx_name_slot(n, a->qtype);
        if (t != NULL && t->kind != FX_DATA) {
            fx_answer_outcome(a, t->kind, t->rcode, t->detail);
            return;
        }
        c = fx_name_cname(n);
        if (a->qtype == DNS_TYPE_CNAME || c == NULL)
            break;
        /* RFC 1034 §4.3.2 step 3a: restart at the canonical name. */
        for (i = 0; i < a->nrr; i++)
            if (strcmp(a->rr[i].owner, c->rr[0].data) == 0)
                break;
        if (i < a->nrr || strcmp(c->rr[0].data, a->qname) == 0) {
            dns_answer_clear_rrs(a);
            dns_answer_set(a, DNS_RCODE, 2, "CNAME loop at %s", n->name);
            return;
        }
        if (hops++ == PB_LIMIT_CNAME_CHAIN) {
            dns_answer_clear_rrs(a);
            dns_answer_set(a, DNS_RCODE, 2,
                           "CNAME chain longer than %d links, taken as a "
                           "CNAME loop",
                           PB_LIMIT_CNAME_CHAIN);
            return;
        }
        dns_answer_add_rr(a, &c->rr[0]);
        /* The record's data outlives moves of the array. */
        cur = a->rr[a->nrr - 1].data;
    }
    if (t != NULL)
        for (i = 0; i < t->nrr; i++)
            dns_answer_add_rr(a, &t->rr[i]);
    fx_answer_outcome(a, FX_DATA, 0, NULL);
}

static void
fx_answer_many(void *state, struct dns_answer *const *a, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        dns_fixture_answer(state, a[i]);
}

static void
fx_backend_free(void *state)
{
    dns_fixture_free(state);
}

static const struct dns_backend_ops fx_ops = {
    "fixture",
    fx_answer_many,
    fx_backend_free,
};

void
dns_fixture_backend(struct dns_fixture *fx, struct dns_backend *out)
{
    out->ops = &fx_ops;
    out->state = fx;
}

static void
fx_backend_keep(void *state)
{
    (void)state; /* borrowed: the owner frees it */
}

static const struct dns_backend_ops fx_borrow_ops = {
    "fixture",
    fx_answer_many,
    fx_backend_keep,
};

void
dns_fixture_backend_borrow(struct dns_fixture *fx, struct dns_backend *out)
{
    out->ops = &fx_borrow_ops;
    out->state = fx;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */

struct fx_load {
    struct dns_fixture *fx;
    char label[128];    /* the file, escaped */
    struct pb_jpath jp; /* the JSON path being read */
    struct pb_err *err;
};

/* "label: .path: what"; returns -1. */
static int __attribute__((format(printf, 2, 3)))
fx_fail(struct fx_load *ld, const char *fmt, ...)
{
    char what[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_SYNTAX, "%s: %s: %s",
                      ld->label, ld->jp.len > 0 ? ld->jp.p : ".", what);
}

static int
fx_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * {"hex": "..."}: bytes that a JSON string cannot carry through cJSON
 * (NUL, bytes that are not UTF-8), at most max of them, added to b.
 * Returns -1 (reported) or the number of bytes, or -2 when j is not of
 * that form.
 */
static long
fx_load_hex(struct fx_load *ld, const cJSON *j, size_t max, struct pb_buf *b)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "hex");
    size_t i, n, old;

    if (!cJSON_IsObject(j) || cJSON_GetArraySize(j) != 1 || !cJSON_IsString(h))
        return -2;
    old = pb_jpath_key(&ld->jp, "hex");
    n = strlen(h->valuestring);
    if (n % 2 != 0 || n / 2 > max)
        return fx_fail(ld,
                       "expected an even number of hex digits, at "
                       "most %zu",
                       2 * max);
    for (i = 0; i < n; i += 2) {
        int hi = fx_hex_value(h->valuestring[i]);
        int lo = fx_hex_value(h->valuestring[i + 1]);

        if (hi < 0 || lo < 0)
            return fx_fail(ld, "expected hex digits");
        if (pb_buf_addc(b, (char)(hi << 4 | lo)) == -1)
            return fx_fail(ld, "record longer than %d bytes",
                           PB_LIMIT_DNS_RDATA);
    }
    pb_jpath_pop(&ld->jp, old);
    return (long)(n / 2);
}

/*
 * What a name on the wire can be (RFC 1035 §3.1): the root "", or labels
 * of 1..63 octets, 253 in all as text.  Empty labels ("a..b", ".a", a
 * second trailing dot) cannot be sent, so a fixture may not hold them.
 */
static bool
fx_name_shape_ok(const char *name)
{
    size_t len = strlen(name), label = 0, i;

    if (len == 0)
        return true;
    if (len > PB_LIMIT_DNS_NAME)
        return false;
    for (i = 0; i <= len; i++) {
        if (i == len || name[i] == '.') {
            if (label == 0 || label > PB_LIMIT_DNS_LABEL)
                return false;
            label = 0;
        } else {
            label++;
        }
    }
    return true;
}

/*
 * A name in record data: any bytes, as DNS allows (a JSON string or
 * {"hex": ...}), made canonical as dns_wire.c makes names.
 */
static int
fx_load_data_name(struct fx_load *ld, const cJSON *j, struct dns_rr *rr)
{
    char name[DNS_NAME_TEXT_MAX];
    struct pb_buf b;
    long n;
    int rc = -1;

    pb_buf_init(&b, sizeof(name) - 1);
    if (cJSON_IsString(j)) {
        if (pb_buf_adds(&b, j->valuestring) == -1)
            n = -2;
        else
            n = (long)b.len;
    } else {
        n = fx_load_hex(ld, j, sizeof(name) - 1, &b);
        if (n == -1)
            goto out;
        if (n >= 0 && memchr(pb_buf_ptr(&b), '\0', b.len) != NULL)
            n = -2;
    }
    if (n < 0 ||
        dns_name_canon(pb_buf_ptr(&b), b.len, name, sizeof(name)) == -1 ||
        !fx_name_shape_ok(name)) {
        fx_fail(ld, "expected a domain name");
        goto out;
    }
    rr->data = pb_xstrdup(name);
    rr->len = strlen(name);
    rc = 0;
out:
    pb_buf_release(&b);
    return rc;
}

static int
fx_load_mx(struct fx_load *ld, const cJSON *j, struct dns_rr *rr)
{
    const cJSON *k, *pref, *exch;
    size_t old;
    int rc;

    if (!cJSON_IsObject(j))
        return fx_fail(ld, "expected {\"preference\": N, \"exchange\": NAME}");
    cJSON_ArrayForEach(k, j)
    {
        if (strcmp(k->string, "preference") != 0 &&
            strcmp(k->string, "exchange") != 0) {
            pb_jpath_key(&ld->jp, k->string);
            return fx_fail(ld, "unknown key");
        }
    }
    pref = cJSON_GetObjectItemCaseSensitive(j, "preference");
    exch = cJSON_GetObjectItemCaseSensitive(j, "exchange");
    old = pb_jpath_key(&ld->jp, "preference");
    if (!cJSON_IsNumber(pref) || !(pref->valuedouble >= 0) ||
        !(pref->valuedouble <= 65535) ||
        pref->valuedouble != (double)(long)pref->valuedouble)
        return fx_fail(ld, "expected an integer 0..65535");
    rr->pref = (uint16_t)pref->valuedouble;
    pb_jpath_pop(&ld->jp, old);
    pb_jpath_key(&ld->jp, "exchange");
    rc = fx_load_data_name(ld, exch, rr);
    pb_jpath_pop(&ld->jp, old);
    return rc;
}

/* One character-string: a JSON string (its bytes) or {"hex": "..."}. */
static int
fx_load_cstr(struct fx_load *ld, const cJSON *j, struct pb_buf *b, size_t *len)
{
    size_t n;
    long hex;

    if (cJSON_IsString(j)) {
        n = strlen(j->valuestring);
        if (n > PB_LIMIT_DNS_CSTR)
            return fx_fail(ld, "character-string longer than %d bytes",
                           PB_LIMIT_DNS_CSTR);
        if (pb_buf_add(b, j->valuestring, n) == -1)
            return fx_fail(ld, "record longer than %d bytes",
                           PB_LIMIT_DNS_RDATA);
        *len = n;
        return 0;
    }
    hex = fx_load_hex(ld, j, PB_LIMIT_DNS_CSTR, b);
    if (hex == -2)
        return fx_fail(ld, "expected a string or {\"hex\": \"...\"}");
    if (hex < 0)
        return -1;
    *len = (size_t)hex;
    return 0;
}

/*
 * A TXT or SPF record: a string (the whole text, cut into 255-byte
 * character-strings as a zone file loader would) or an array of
 * character-strings.
 */
static int
fx_load_txt(struct fx_load *ld, const cJSON *j, struct dns_rr *rr)
{
    struct pb_buf b;
    const cJSON *s;
    size_t cap = 0, old, len = 0;
    int i = 0, rc = -1;

    /* RDATA holds the text and one length octet per character-string. */
    pb_buf_init(&b, PB_LIMIT_DNS_RDATA);
    if (cJSON_IsString(j)) {
        size_t n = strlen(j->valuestring), off = 0;
        size_t nstr =
            n == 0 ? 1 : (n + PB_LIMIT_DNS_CSTR - 1) / PB_LIMIT_DNS_CSTR;

        if (n + nstr > PB_LIMIT_DNS_RDATA ||
            pb_buf_add(&b, j->valuestring, n) == -1) {
            fx_fail(ld, "record longer than %d bytes", PB_LIMIT_DNS_RDATA);
            goto out;
        }
        rr->strlens = pb_xreallocarray(NULL, nstr, sizeof(size_t));
        do {
            len = n - off > PB_LIMIT_DNS_CSTR ? PB_LIMIT_DNS_CSTR : n - off;
            rr->strlens[rr->nstr++] = len;
            off += len;
        } while (off < n);
    } else if (cJSON_IsArray(j)) {
        /* [] is a record without strings, as dns_wire.c lets through. */
        cJSON_ArrayForEach(s, j)
        {
            old = pb_jpath_index(&ld->jp, i++);
            if (fx_load_cstr(ld, s, &b, &len) == -1)
                goto out;
            if (b.len + rr->nstr + 1 > PB_LIMIT_DNS_RDATA) {
                fx_fail(ld, "record longer than %d bytes", PB_LIMIT_DNS_RDATA);
                goto out;
            }
            pb_jpath_pop(&ld->jp, old);
            if (rr->nstr == cap) {
                cap = cap ? cap * 2 : 4;
                rr->strlens =
                    pb_xreallocarray(rr->strlens, cap, sizeof(size_t));
            }
            rr->strlens[rr->nstr++] = len;
        }
    } else {
        fx_fail(ld, "expected a string or an array of character-strings");
        goto out;
    }
    rr->data = pb_buf_take(&b, &rr->len);
    rc = 0;
out:
    pb_buf_release(&b);
    return rc;
}

static int
fx_load_addr(struct fx_load *ld, const cJSON *j, struct dns_rr *rr)
{
    bool is_v4 = rr->type == DNS_TYPE_A;

    if (!cJSON_IsString(j) ||
        inet_pton(is_v4 ? AF_INET : AF_INET6, j->valuestring, rr->addr) != 1)
        return fx_fail(ld, is_v4 ? "expected an IPv4 address"
                                 : "expected an IPv6 address");
    return 0;
}

static int
fx_load_record(struct fx_load *ld, const cJSON *j, struct dns_rr *rr)
{
    switch (rr->type) {
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA:
        return fx_load_addr(ld, j, rr);
    case DNS_TYPE_MX:
        return fx_load_mx(ld, j, rr);
    case DNS_TYPE_TXT:
    case DNS_TYPE_SPF:
        return fx_load_txt(ld, j, rr);
    default:
        return fx_load_data_name(ld, j, rr);
    }
}

/* {"rcode": NAME or 0..4095} at name or type level; -1 or the code. */
static int
fx_load_rcode(struct fx_load *ld, const cJSON *j)
{
    size_t old = pb_jpath_key(&ld->jp, "rcode");
    int rcode = -1;

    if (cJSON_IsString(j))
        rcode = dns_rcode_from_name(j->valuestring);
    else if (cJSON_IsNumber(j) && j->valuedouble >= 0 &&
             j->valuedouble <= 4095 &&
             j->valuedouble == (double)(int)j->valuedouble)
        rcode = (int)j->valuedouble;
    if (rcode < 0)
        return fx_fail(ld, "expected a response code (NOERROR, FORMERR, "
                           "SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ...) or "
                           "an integer 0..4095");
    pb_jpath_pop(&ld->jp, old);
    return rcode;
}

/* A type's outcome given as an object: {"rcode": ..., "detail": ...}. */
static int
fx_load_type_object(struct fx_load *ld, const cJSON *j, struct fx_type *t)
{
    const cJSON *k, *rc = NULL, *detail = NULL, *error = NULL;
    size_t old;

    cJSON_ArrayForEach(k, j)
    {
        if (strcmp(k->string, "rcode") == 0) {
            rc = k;
            continue;
        }
        old = pb_jpath_key(&ld->jp, k->string);
        if (strcmp(k->string, "detail") == 0)
            detail = k;
        else if (strcmp(k->string, "error") == 0)
            error = k;
        else
            return fx_fail(ld, "unknown key");
        if (!cJSON_IsString(k))
            return fx_fail(ld, "expected a string");
        pb_jpath_pop(&ld->jp, old);
    }
    if (error != NULL && rc == NULL && detail == NULL) {
        t->kind = FX_ERROR;
        t->detail = fx_detail_dup(error->valuestring);
        return 0;
    }
    if (rc == NULL || error != NULL)
        return fx_fail(ld, "expected {\"rcode\": CODE} or {\"error\": TEXT}");
    t->kind = FX_RCODE;
    t->rcode = fx_load_rcode(ld, rc);
    if (t->rcode < 0)
        return -1;
    if (detail != NULL)
        t->detail = fx_detail_dup(detail->valuestring);
    return 0;
}

static int
fx_load_type(struct fx_load *ld, const cJSON *j, struct fx_name *n,
             uint16_t type)
{
    struct fx_type *t = fx_name_claim(n, type);
    const cJSON *r;
    int i = 0;

    if (t == NULL)
        return fx_fail(ld,
                       "%s given twice for this name (keys that differ "
                       "only in case or a trailing dot are one name)",
                       dns_type_name(type));
    if (cJSON_IsString(j) && strcmp(j->valuestring, "TIMEOUT") == 0) {
        t->kind = FX_TIMEOUT;
        return 0;
    }
    if (cJSON_IsObject(j))
        return fx_load_type_object(ld, j, t);
    /* A bare string is a whole TXT or SPF record (PRODUCT.md). */
    if (cJSON_IsString(j) && (type == DNS_TYPE_TXT || type == DNS_TYPE_SPF)) {
        struct dns_rr rr = {.type = type};

        if (fx_load_txt(ld, j, &rr) == -1) {
            dns_rr_release(&rr);
            return -1;
        }
        rr.owner = pb_xstrdup(n->name);
        t->rr = pb_xcalloc(1, sizeof(*t->rr));
        t->rr[0] = rr;
        t->nrr = 1;
        return 0;
    }
    if (!cJSON_IsArray(j))
        return fx_fail(ld, "expected an array of records, \"TIMEOUT\", "
                           "{\"rcode\": CODE} or {\"error\": TEXT}");
    if (cJSON_GetArraySize(j) > PB_LIMIT_DNS_RRS)
        return fx_fail(ld, "more than %d records", PB_LIMIT_DNS_RRS);
    /* RFC 1034 §3.6.2: a name has at most one CNAME. */
    if (type == DNS_TYPE_CNAME && cJSON_GetArraySize(j) != 1)
        return fx_fail(ld, "expected an array of one name");
    t->rr = pb_xcalloc((size_t)cJSON_GetArraySize(j), sizeof(*t->rr));
    cJSON_ArrayForEach(r, j)
    {
        struct dns_rr *rr = &t->rr[t->nrr];
        size_t old = pb_jpath_index(&ld->jp, i++);

        rr->type = type;
        if (fx_load_record(ld, r, rr) == -1) {
            dns_rr_release(rr);
            return -1;
        }
        rr->owner = pb_xstrdup(n->name);
        t->nrr++;
        pb_jpath_pop(&ld->jp, old);
    }
    return 0;
}

static int
fx_load_name(struct fx_load *ld, const cJSON *j)
{
    char name[PB_LIMIT_DNS_NAME + 1];
    const char *why;
    struct fx_name *n;
    const cJSON *k, *rc;
    bool is_new;

    if (dns_name_check(j->string, strlen(j->string), &why) == -1)
        return fx_fail(ld, "invalid name: %s", why);
    if (dns_name_canon(j->string, strlen(j->string), name, sizeof(name)) == -1)
        return fx_fail(ld, "invalid name");
    is_new = fx_name_get(ld->fx, name) == NULL;
    n = fx_name_add(ld->fx, name);
    rc = cJSON_GetObjectItemCaseSensitive(j, "rcode");
    if (cJSON_IsString(j) && strcmp(j->valuestring, "TIMEOUT") == 0) {
        n->kind = FX_TIMEOUT;
    } else if (cJSON_IsObject(j) && rc != NULL) {
        if (cJSON_GetArraySize(j) != 1)
            return fx_fail(ld, "\"rcode\" cannot stand beside record types");
        n->rcode = fx_load_rcode(ld, rc);
        if (n->rcode < 0)
            return -1;
        n->kind = FX_RCODE;
    } else if (!cJSON_IsObject(j)) {
        return fx_fail(ld, "expected \"TIMEOUT\", {\"rcode\": CODE} or an "
                           "object of record types");
    }
    if (!is_new && (n->kind != FX_DATA || !cJSON_IsObject(j) || rc != NULL))
        return fx_fail(ld, "name given twice (keys that differ only in case "
                           "or a trailing dot are one name)");
    if (n->kind != FX_DATA)
        return 0;
    cJSON_ArrayForEach(k, j)
    {
        uint16_t type = dns_type_from_name(k->string);
        size_t old = pb_jpath_key(&ld->jp, k->string);

        if (fx_slot_index(type) < 0)
            return fx_fail(ld, "unknown record type (A, AAAA, CNAME, MX, "
                               "NS, PTR, SPF, TXT)");
        if (fx_load_type(ld, k, n, type) == -1)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    /* RFC 1034 §3.6.2: no other data beside a CNAME. */
    if (fx_name_cname(n) != NULL && fx_name_has_data(n, DNS_TYPE_CNAME))
        return fx_fail(ld, "a name with a CNAME has no other records");
    return 0;
}

int
dns_fixture_load_mem(const char *label, const void *p, size_t len,
                     struct dns_fixture **out, struct pb_err *err)
{
    struct fx_load ld;
    cJSON *root = NULL, *j;
    char *text = NULL;
    size_t off, line, col;
    int rc = -1;

    *out = NULL;
    memset(&ld, 0, sizeof(ld));
    pb_jpath_init(&ld.jp, "", PB_JPATH_QUOTED);
    ld.err = err;
    pb_escape_to(ld.label, sizeof(ld.label), label, strlen(label));
    if (len > PB_LIMIT_FIXTURE_BYTES)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%s: over the limit of %u bytes", ld.label,
                          PB_LIMIT_FIXTURE_BYTES);
    /* NUL-terminated so cJSON can tell the end from trailing garbage. */
    text = pb_xmemdup(p, len);
    off = pb_text_json_nul(text, len);
    if (off < len) {
        pb_text_line_col(text, len, off, &line, &col);
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s:%zu:%zu: NUL is not allowed (write such bytes of a "
                   "TXT record as {\"hex\": \"...\"})",
                   ld.label, line, col);
        goto out;
    }
    root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();

        off = at != NULL && at >= text && at <= text + len ? (size_t)(at - text)
                                                           : len;
        pb_text_line_col(text, len, off, &line, &col);
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s:%zu:%zu: not valid JSON", ld.label, line, col);
        goto out;
    }
    ld.fx = fx_new();
    if (!cJSON_IsObject(root)) {
        fx_fail(&ld, "expected an object of owner names");
        goto out;
    }
    cJSON_ArrayForEach(j, root)
    {
        size_t old = pb_jpath_key(&ld.jp, j->string);

        if (fx_load_name(&ld, j) == -1)
            goto out;
        pb_jpath_pop(&ld.jp, old);
    }
    *out = ld.fx;
    ld.fx = NULL;
    rc = 0;
out:
    dns_fixture_free(ld.fx);
    cJSON_Delete(root);
    free(text);
    return rc;
}

int
dns_fixture_load(const char *path, struct dns_fixture **out, struct pb_err *err)
{
    char shown[128], chunk[65536];
    struct pb_buf b;
    FILE *f;
    size_t n;
    int rc = -1;

    *out = NULL;
    pb_escape_to(shown, sizeof(shown), path, strlen(path));
    f = fopen(path, "rb");
    if (f == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "cannot read DNS fixture %s: %s", shown,
                          strerror(errno));
    pb_buf_init(&b, PB_LIMIT_FIXTURE_BYTES);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (pb_buf_add(&b, chunk, n) == -1) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                       "%s: over the limit of %u bytes", shown,
                       PB_LIMIT_FIXTURE_BYTES);
            goto out;
        }
    }
    if (ferror(f)) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO, "cannot read DNS fixture %s",
                   shown);
        goto out;
    }
    rc = dns_fixture_load_mem(path, pb_buf_ptr(&b), b.len, out, err);
out:
    pb_buf_release(&b);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Recording                                                           */

/* A question answered NXDOMAIN, to place once every name is known. */
struct fx_nx {
    const char *name;
    uint16_t type;
};

/* Add the records of type owned by the chain's end, if the model can. */
static void
fx_record_data(struct fx_name *n, const struct dns_answer *a, size_t first)
{
    struct fx_type *t;
    size_t i;

    if (dns_answer_count(a, a->qtype) == 0)
        return;
    /* RFC 1034 §3.6.2: keep the model loadable when DNS disagreed. */
    if (a->qtype == DNS_TYPE_CNAME ? fx_name_has_data(n, DNS_TYPE_CNAME)
                                   : fx_name_cname(n) != NULL)
        return;
    t = fx_name_claim(n, a->qtype);
    if (t == NULL)
        return;
    for (i = first; i < a->nrr; i++)
        if (a->rr[i].type == a->qtype)
            fx_type_add_rr(t, &a->rr[i]);
}

/* Put one answer into the model; NXDOMAIN questions go to nx. */
static void
fx_record_answer(struct dns_fixture *fx, const struct dns_answer *a,
                 struct fx_nx *nx, size_t *nnx)
{
    const char *end = a->qname, *why;
    struct fx_name *n;
    struct fx_type *t;
    size_t i = 0;

    /* The chain: each CNAME at its owner, the data at the end. */
    for (; a->qtype != DNS_TYPE_CNAME && i < a->nrr; i++) {
        const struct dns_rr *rr = &a->rr[i];

        if (rr->type != DNS_TYPE_CNAME || strcmp(rr->owner, end) != 0)
            break;
        n = fx_name_add(fx, end);
        if (!fx_name_has_data(n, DNS_TYPE_CNAME)) {
            t = fx_name_claim(n, DNS_TYPE_CNAME);
            if (t != NULL)
                fx_type_add_rr(t, rr);
        }
        end = rr->data;
        /* Only valid names can be keys; the rest is left out. */
        if (dns_name_check(end, strlen(end), &why) == -1)
            return;
    }
    switch (a->status) {
    case DNS_OK:
        fx_record_data(fx_name_add(fx, end), a, i);
        return;
    case DNS_NXDOMAIN:
        nx[*nnx].name = end;
        nx[(*nnx)++].type = a->qtype;
        return;
    case DNS_TIMEOUT:
    case DNS_RCODE:
    case DNS_ERROR:
        break;
    }
    t = fx_name_claim(fx_name_add(fx, a->qname), a->qtype);
    if (t == NULL)
        return;
    t->kind = a->status == DNS_TIMEOUT ? FX_TIMEOUT
              : a->status == DNS_RCODE ? FX_RCODE
                                       : FX_ERROR;
    t->rcode = a->rcode;
    if (a->status != DNS_TIMEOUT && a->detail[0] != '\0')
        t->detail = pb_xstrdup(a->detail);
}

/* Output with a sticky overflow flag. */
struct fx_out {
    struct pb_buf b;
    bool is_over;
};

static void
fx_out_add(struct fx_out *o, const void *p, size_t len)
{
    if (!o->is_over && pb_buf_add(&o->b, p, len) == -1)
        o->is_over = true;
}

static void
fx_out_adds(struct fx_out *o, const char *s)
{
    fx_out_add(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (at most len), or 0. */
static size_t
fx_utf8_len(const unsigned char *p, size_t len)
{
    size_t n, i;
    unsigned cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    /* No overlong forms, no surrogates, nothing past U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

static bool
fx_is_json_text(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i, n;

    for (i = 0; i < len; i += n) {
        if (s[i] == 0)
            return false;
        n = fx_utf8_len(s + i, len - i);
        if (n == 0)
            return false;
    }
    return true;
}

/*
 * A JSON string.  Bytes that are not UTF-8 (fx_out_bytes() keeps record
 * data with them away) would become \u00XX, which reads back as UTF-8.
 */
static void
fx_out_string(struct fx_out *o, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)p;
    size_t i, n;
    char esc[8];

    fx_out_add(o, "\"", 1);
    for (i = 0; i < len; i += n) {
        n = fx_utf8_len(s + i, len - i);
        if (n > 1) {
            fx_out_add(o, s + i, n);
            continue;
        }
        n = 1;
        if (s[i] == '"' || s[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)s[i];
            fx_out_add(o, esc, 2);
        } else if (s[i] >= 0x20 && s[i] < 0x7f) {
            fx_out_add(o, s + i, 1);
        } else {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[s[i] >> 4];
            esc[5] = hex[s[i] & 15];
            fx_out_add(o, esc, 6);
        }
    }
    fx_out_add(o, "\"", 1);
}

/* Bytes as a JSON string when they are text, else as {"hex": "..."}. */
static void
fx_out_bytes(struct fx_out *o, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    if (fx_is_json_text(p, len)) {
        fx_out_string(o, p, len);
        return;
    }
    fx_out_adds(o, "{\"hex\": \"");
    for (i = 0; i < len; i++) {
        fx_out_add(o, &hex[(unsigned char)p[i] >> 4], 1);
        fx_out_add(o, &hex[(unsigned char)p[i] & 15], 1);
    }
    fx_out_adds(o, "\"}");
}

/* A name in record data; the root (RFC 7505 null MX) reads better as ".". */
static void
fx_out_name(struct fx_out *o, const char *p, size_t len)
{
    if (len == 0)
        fx_out_adds(o, "\".\"");
    else
        fx_out_bytes(o, p, len);
}

/* True when strlens is what loading the whole text as one string gives. */
static bool
fx_txt_is_plain(const struct dns_rr *rr)
{
    size_t i, left = rr->len;

    if (!fx_is_json_text(rr->data, rr->len))
        return false;
    for (i = 0; i < rr->nstr; i++) {
        size_t want = left > PB_LIMIT_DNS_CSTR ? PB_LIMIT_DNS_CSTR : left;

        if (rr->strlens[i] != want)
            return false;
        left -= want;
    }
    return rr->nstr > 0 && left == 0;
}

static void
fx_out_record(struct fx_out *o, const struct dns_rr *rr)
{
    char buf[INET6_ADDRSTRLEN];
    size_t i, off = 0;

    switch (rr->type) {
    case DNS_TYPE_A:
    case DNS_TYPE_AAAA:
        inet_ntop(rr->type == DNS_TYPE_A ? AF_INET : AF_INET6, rr->addr, buf,
                  sizeof(buf));
        fx_out_string(o, buf, strlen(buf));
        return;
    case DNS_TYPE_MX:
        snprintf(buf, sizeof(buf), "%u", (unsigned)rr->pref);
        fx_out_adds(o, "{\"preference\": ");
        fx_out_adds(o, buf);
        fx_out_adds(o, ", \"exchange\": ");
        fx_out_name(o, rr->data, rr->len);
        fx_out_adds(o, "}");
        return;
    case DNS_TYPE_TXT:
    case DNS_TYPE_SPF:
        if (fx_txt_is_plain(rr)) {
            fx_out_string(o, rr->data, rr->len);
            return;
        }
        fx_out_adds(o, "[");
        for (i = 0; i < rr->nstr; i++) {
            fx_out_adds(o, i > 0 ? ", " : "");
            fx_out_bytes(o, rr->data + off, rr->strlens[i]);
            off += rr->strlens[i];
        }
        fx_out_adds(o, "]");
        return;
    default:
        fx_out_name(o, rr->data, rr->len);
        return;
    }
}

static void
fx_out_type(struct fx_out *o, const struct fx_type *t)
{
    char buf[16];
    size_t i;

    switch (t->kind) {
    case FX_TIMEOUT:
        fx_out_adds(o, "\"TIMEOUT\"");
        return;
    case FX_ERROR:
        fx_out_adds(o, "{\"error\": ");
        fx_out_string(o, t->detail, t->detail != NULL ? strlen(t->detail) : 0);
        fx_out_adds(o, "}");
        return;
    case FX_RCODE:
        fx_out_adds(o, "{\"rcode\": ");
        if (dns_rcode_from_name(dns_rcode_name(t->rcode)) == t->rcode) {
            fx_out_string(o, dns_rcode_name(t->rcode),
                          strlen(dns_rcode_name(t->rcode)));
        } else {
            snprintf(buf, sizeof(buf), "%d", t->rcode);
            fx_out_adds(o, buf);
        }
        if (t->detail != NULL) {
            fx_out_adds(o, ", \"detail\": ");
            fx_out_string(o, t->detail, strlen(t->detail));
        }
        fx_out_adds(o, "}");
        return;
    case FX_DATA:
        break;
    }
    /* One record per line when there are several. */
    fx_out_adds(o, "[");
    for (i = 0; i < t->nrr; i++) {
        if (t->nrr > 1)
            fx_out_adds(o, i > 0 ? ",\n      " : "\n      ");
        fx_out_record(o, &t->rr[i]);
    }
    fx_out_adds(o, t->nrr > 1 ? "\n    ]" : "]");
}

static void
fx_out_fixture(struct fx_out *o, const struct dns_fixture *fx)
{
    size_t i, k;

    fx_out_adds(o, "{");
    for (i = 0; i < fx->n; i++) {
        const struct fx_name *n = fx->names[i];

        fx_out_adds(o, i > 0 ? ",\n  " : "\n  ");
        fx_out_string(o, n->name, strlen(n->name));
        fx_out_adds(o, ": {");
        for (k = 0; k < n->ntypes; k++) {
            const char *type = dns_type_name(fx_types[n->order[k]]);

            fx_out_adds(o, k > 0 ? ",\n    \"" : "\n    \"");
            fx_out_adds(o, type);
            fx_out_adds(o, "\": ");
            fx_out_type(o, &n->types[n->order[k]]);
        }
        fx_out_adds(o, n->ntypes > 0 ? "\n  }" : "}");
    }
    fx_out_adds(o, fx->n > 0 ? "\n}\n" : "}\n");
}

static int
fx_write(const char *path, const char *p, size_t len, struct pb_err *err)
{
    char shown[128];
    FILE *f;
    bool is_ok;

    pb_escape_to(shown, sizeof(shown), path, strlen(path));
    if (strcmp(path, "-") == 0) {
        if (fwrite(p, 1, len, stdout) != len || fflush(stdout) != 0)
            return pb_err_set(err, PB_STAGE_IO, PB_E_IO,
                              "cannot write the DNS recording: %s",
                              strerror(errno));
        return 0;
    }
    f = fopen(path, "w");
    if (f == NULL)
        return pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot write %s: %s",
                          shown, strerror(errno));
    is_ok = fwrite(p, 1, len, f) == len;
    if (fclose(f) != 0 || !is_ok)
        return pb_err_set(err, PB_STAGE_IO, PB_E_IO, "cannot write %s: %s",
                          shown, strerror(errno));
    return 0;
}

int
dns_fixture_record(const struct dns_answer *const *a, size_t n,
                   const char *path, struct pb_err *err)
{
    struct dns_fixture *fx = fx_new();
    struct fx_nx *nx = pb_xreallocarray(NULL, n + 1, sizeof(*nx));
    struct fx_out o;
    size_t i, nnx = 0;
    int rc = -1;

    pb_buf_init(&o.b, PB_LIMIT_FIXTURE_BYTES);
    o.is_over = false;
    for (i = 0; i < n; i++)
        fx_record_answer(fx, a[i], nx, &nnx);
    /*
     * NXDOMAIN is an absent name, unless the name holds something else:
     * then only that type says NXDOMAIN.
     */
    for (i = 0; i < nnx; i++) {
        struct fx_name *name = fx_name_get(fx, nx[i].name);
        struct fx_type *t;

        if (name == NULL)
            continue;
        t = fx_name_claim(name, nx[i].type);
        if (t != NULL) {
            t->kind = FX_RCODE;
            t->rcode = 3;
        }
    }
    fx_out_fixture(&o, fx);
    if (o.is_over) {
        pb_err_set(err, PB_STAGE_IO, PB_E_LIMIT,
                   "DNS recording over the limit of %u bytes",
                   PB_LIMIT_FIXTURE_BYTES);
        goto out;
    }
    rc = fx_write(path, pb_buf_ptr(&o.b), o.b.len, err);
out:
    pb_buf_release(&o.b);
    free(nx);
    dns_fixture_free(fx);
    return rc;
}
