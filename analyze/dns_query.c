/* SPDX-License-Identifier: MIT */
/*
 * The DNS resolver front: checks the question (RFC 1035 §2.3.4 sizes,
 * printable names), answers from a per-run cache keyed by (name, type), and
 * hands the rest to a back end (c-ares or a JSON fixture) in one batch.
 * Also the answer helpers every DNS file shares and the run recorder.
 */
#include "analyze.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_int.h"
#include "pb_buf.h"
#include "pb_limits.h"
#include "pb_log.h"
#include "pb_xalloc.h"

/* ------------------------------------------------------------------ */
/* Names of types and response codes                                   */

static const struct {
    uint16_t type;
    const char *name;
} dns_types[] = {
    {DNS_TYPE_A, "A"},     {DNS_TYPE_NS, "NS"},     {DNS_TYPE_CNAME, "CNAME"},
    {DNS_TYPE_SOA, "SOA"}, {DNS_TYPE_PTR, "PTR"},   {DNS_TYPE_MX, "MX"},
    {DNS_TYPE_TXT, "TXT"}, {DNS_TYPE_AAAA, "AAAA"}, {DNS_TYPE_SPF, "SPF"},
};

/* RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 6891 §9 (BADVERS in the OPT RR). */
static const struct {
    int rcode;
    const char *name;
} dns_rcodes[] = {
    {0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"},
    {4, "NOTIMP"},  {5, "REFUSED"}, {6, "YXDOMAIN"}, {7, "YXRRSET"},
    {8, "NXRRSET"}, {9, "NOTAUTH"}, {10, "NOTZONE"}, {16, "BADVERS"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
dns_type_name(uint16_t type)
{
    size_t i;

    for (i = 0; i < NELEM(dns_types); i++)
        if (dns_types[i].type == type)
            return dns_types[i].name;
    return "UNKNOWN";
}

static int
ascii_casecmp(const char *a, const char *b)
{
    unsigned char ca, cb;

    do {
        ca = (unsigned char)*a++;
        cb = (unsigned char)*b++;
        if (ca >= 'A' && ca <= 'Z')
            ca = (unsigned char)(ca - 'A' + 'a');
        if (cb >= 'A' && cb <= 'Z')
            cb = (unsigned char)(cb - 'A' + 'a');
    } while (ca == cb && ca != '\0');
    return ca - cb;
}

uint16_t
dns_type_from_name(const char *name)
{
    size_t i;

    for (i = 0; i < NELEM(dns_types); i++)
        if (ascii_casecmp(dns_types[i].name, name) == 0)
            return dns_types[i].type;
    return 0;
}

int
dns_rcode_from_name(const char *name)
{
    size_t i;

    for (i = 0; i < NELEM(dns_rcodes); i++)
        if (ascii_casecmp(dns_rcodes[i].name, name) == 0)
            return dns_rcodes[i].rcode;
    return -1;
}

const char *
dns_rcode_name(int rcode)
{
    size_t i;

    for (i = 0; i < NELEM(dns_rcodes); i++)
        if (dns_rcodes[i].rcode == rcode)
            return dns_rcodes[i].name;
    return "UNKNOWN";
}

bool
dns_type_is_supported(uint16_t type)
{
    switch (type) {
    case DNS_TYPE_A:
    case DNS_TYPE_NS:
    case DNS_TYPE_CNAME:
    case DNS_TYPE_PTR:
    case DNS_TYPE_MX:
    case DNS_TYPE_TXT:
    case DNS_TYPE_AAAA:
    case DNS_TYPE_SPF:
        return true;
    default:
        return false;
    }
}

bool
dns_type_has_name(uint16_t type)
{
    return type == DNS_TYPE_NS || type == DNS_TYPE_CNAME ||
           type == DNS_TYPE_PTR || type == DNS_TYPE_MX;
}

enum dns_status
dns_status_from_rcode(int rcode)
{
    if (rcode == 0)
        return DNS_OK;
    if (rcode == 3)
        return DNS_NXDOMAIN;
    return DNS_RCODE;
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */

size_t
dns_answer_count(const struct dns_answer *a, uint16_t t)
{
    size_t i, n = 0;

    for (i = 0; i < a->nrr; i++)
        if (a->rr[i].type == t)
            n++;
    return n;
}

bool
dns_answer_is_void(const struct dns_answer *a)
{
    if (a->status == DNS_NXDOMAIN)
        return true;
    return a->status == DNS_OK && dns_answer_count(a, a->qtype) == 0;
}

bool
dns_answer_is_error(const struct dns_answer *a)
{
    return a->status == DNS_TIMEOUT || a->status == DNS_ERROR ||
           a->status == DNS_RCODE;
}

const char *
dns_status_name(const struct dns_answer *a)
{
    switch (a->status) {
    case DNS_OK:
        return "NOERROR";
    case DNS_NXDOMAIN:
        return "NXDOMAIN";
    case DNS_RCODE:
        return dns_rcode_name(a->rcode);
    case DNS_TIMEOUT:
        return "TIMEOUT";
    case DNS_ERROR:
        return "ERROR";
    }
    return "UNKNOWN";
}

void
dns_rr_release(struct dns_rr *rr)
{
    free(rr->owner);
    free(rr->data);
    free(rr->strlens);
    memset(rr, 0, sizeof(*rr));
}

void
dns_rr_copy(struct dns_rr *dst, const struct dns_rr *src)
{
    *dst = *src;
    dst->owner = pb_xstrdup(src->owner != NULL ? src->owner : "");
    dst->data = src->data != NULL ? pb_xmemdup(src->data, src->len) : NULL;
    dst->strlens = NULL;
    if (src->nstr > 0) {
        dst->strlens = pb_xreallocarray(NULL, src->nstr, sizeof(size_t));
        memcpy(dst->strlens, src->strlens, src->nstr * sizeof(size_t));
    }
}

void
dns_answer_init(struct dns_answer *a, const char *qname, uint16_t type)
{
    memset(a, 0, sizeof(*a));
    a->qname = pb_xstrdup(qname);
    a->qtype = type;
    a->status = DNS_ERROR;
    a->rcode = -1;
    snprintf(a->detail, sizeof(a->detail), "no answer yet");
}

void
dns_answer_clear_rrs(struct dns_answer *a)
{
    size_t i;

    for (i = 0; i < a->nrr; i++)
        dns_rr_release(&a->rr[i]);
    free(a->rr);
    a->rr = NULL;
    a->nrr = 0;
}

void
dns_answer_release(struct dns_answer *a)
{
    dns_answer_clear_rrs(a);
    free(a->qname);
    memset(a, 0, sizeof(*a));
}

void
dns_answer_set(struct dns_answer *a, enum dns_status status, int rcode,
               const char *fmt, ...)
{
    va_list ap;
    int n;

    a->status = status;
    a->rcode = rcode;
    va_start(ap, fmt);
    n = vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
    va_end(ap);
    if (n < 0)
        a->detail[0] = '\0';
    else if ((size_t)n >= sizeof(a->detail))
        memcpy(a->detail + sizeof(a->detail) - 4, "...", 4);
}

void
dns_answer_add_rr(struct dns_answer *a, const struct dns_rr *rr)
{
    a->rr = pb_xreallocarray(a->rr, a->nrr + 1, sizeof(*a->rr));
    dns_rr_copy(&a->rr[a->nrr], rr);
    a->nrr++;
}

/* ------------------------------------------------------------------ */
/* Names given as text                                                 */

int
dns_name_check(const char *name, size_t len, const char **why)
{
    size_t i, label = 0;

    *why = NULL;
    /* One trailing dot (the root) is allowed and ignored. */
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0) {
        *why = "empty name";
        return -1;
    }
    /* RFC 1035 §2.3.4: 255 octets on the wire are 253 as text. */
    if (len > PB_LIMIT_DNS_NAME) {
        *why = "name longer than 253 octets";
        return -1;
    }
    for (i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)name[i] : '.';

        if (c == '.') {
            if (label == 0) {
                *why = "empty label";
                return -1;
            }
            label = 0;
            continue;
        }
        /* Space is allowed: RFC 7208 §7 macros produce it (%_). */
        if (c < 0x20 || c >= 0x7f) {
            *why = "byte other than printable ASCII";
            return -1;
        }
        if (++label > PB_LIMIT_DNS_LABEL) {
            *why = "label longer than 63 octets";
            return -1;
        }
    }
    return 0;
}

int
dns_name_canon(const char *name, size_t len, char *out, size_t size)
{
    size_t i;

    if (len > 0 && name[len - 1] == '.')
        len--;
    if (size == 0 || len > size - 1)
        return -1;
    for (i = 0; i < len; i++) {
        char c = name[i];

        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ */
/* The (name, type) hash map: open addressing, linear probing          */

void
dns_map_init(struct dns_map *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->n = 0;
}

void
dns_map_release(struct dns_map *m)
{
    free(m->slots);
    dns_map_init(m);
}

/* FNV-1a over the name, then the type. */
static size_t
dns_map_hash(const char *name, uint16_t type)
{
    uint64_t h = 14695981039346656037u;
    const unsigned char *p = (const unsigned char *)name;

    while (*p != '\0') {
        h ^= *p++;
        h *= 1099511628211u;
    }
    h ^= type & 0xff;
    h *= 1099511628211u;
    h ^= type >> 8;
    h *= 1099511628211u;
    return (size_t)(h ^ (h >> 32));
}

static struct dns_map_slot *
dns_map_find(const struct dns_map *m, const char *name, uint16_t type)
{
    size_t i;

    if (m->cap == 0)
        return NULL;
    i = dns_map_hash(name, type) & (m->cap - 1);
    for (;;) {
        struct dns_map_slot *s = &m->slots[i];

        if (s->name == NULL)
            return s;
        if (s->type == type && strcmp(s->name, name) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
}

void *
dns_map_get(const struct dns_map *m, const char *name, uint16_t type)
{
    struct dns_map_slot *s = dns_map_find(m, name, type);

    return s != NULL && s->name != NULL ? s->value : NULL;
}

void
dns_map_put(struct dns_map *m, const char *name, uint16_t type, void *value)
{
    struct dns_map_slot *s;

    /* Keep the load at most one half so probes stay short. */
    if ((m->n + 1) * 2 > m->cap) {
        struct dns_map old = *m;
        size_t i;

        m->cap = old.cap ? old.cap * 2 : 64;
        m->slots = pb_xcalloc(m->cap, sizeof(*m->slots));
        m->n = 0;
        for (i = 0; i < old.cap; i++)
            if (old.slots[i].name != NULL)
                dns_map_put(m, old.slots[i].name, old.slots[i].type,
                            old.slots[i].value);
        free(old.slots);
    }
    s = dns_map_find(m, name, type);
    if (s->name != NULL)
        pb_panic("dns_map_put: key already present");
    s->name = name;
    s->type = type;
    s->value = value;
    m->n++;
}

/* ------------------------------------------------------------------ */
/* The resolver                                                        */

struct dns_entry {
    struct dns_answer a; /* first: an answer pointer is its entry */
    bool is_sent;        /* answered by the back end (so it is recorded) */
    bool is_pending;     /* asked, the answer not written yet */
};

/*
 * The answers of a run, shared by a resolver and its forks (one per
 * thread).  The mutex guards everything here; an entry's answer is
 * written by the thread that asked first, outside the lock, while
 * is_pending keeps other threads waiting on cv.
 */
struct dns_cache {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct dns_map map;         /* (qname, qtype) -> struct dns_entry */
    struct dns_entry **entries; /* every answer given, first asked first */
    size_t nentries;
    size_t cap;
    size_t uncached; /* answers given past PB_LIMIT_DNS_CACHE, not kept */
    unsigned refs;
};

struct dns_resolver {
    struct dns_backend be;
    struct dns_cache *cache;
    /*
     * Answers this resolver gave once the shared cache was full: kept
     * here, not shared, until dns_resolver_forget() (a batch audit calls
     * it between domains), so a long run keeps working in bounded memory.
     */
    struct dns_entry **scratch;
    size_t nscratch;
    size_t capscratch;
    size_t sent;
    /* to make forks: the options, and the fixture the root owns */
    char *server;
    int timeout_ms;
    int tries;
    struct dns_fixture *fx;
    bool is_fork;
};

static struct dns_cache *
cache_new(void)
{
    struct dns_cache *c = pb_xcalloc(1, sizeof(*c));

    if (pthread_mutex_init(&c->mu, NULL) != 0 ||
        pthread_cond_init(&c->cv, NULL) != 0)
        pb_panic("dns: cannot make a mutex");
    dns_map_init(&c->map);
    c->refs = 1;
    return c;
}

static void
cache_unref(struct dns_cache *c)
{
    size_t i;
    unsigned left;

    pthread_mutex_lock(&c->mu);
    left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left > 0)
        return;
    for (i = 0; i < c->nentries; i++) {
        dns_answer_release(&c->entries[i]->a);
        free(c->entries[i]);
    }
    free(c->entries);
    dns_map_release(&c->map);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int
dns_resolver_new(const struct dns_options *opt, struct dns_resolver **out,
                 struct pb_err *err)
{
    static const struct dns_options defaults;
    struct dns_resolver *r;
    struct dns_fixture *fx = NULL;

    *out = NULL;
    if (opt == NULL)
        opt = &defaults;
    if (opt->timeout_ms < 0 || opt->tries < 0)
        return pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                          "DNS timeout and tries must not be negative");
    if (opt->fixture != NULL) {
        if (dns_fixture_load(opt->fixture, &fx, err) == -1)
            return -1;
    }
    r = pb_xcalloc(1, sizeof(*r));
    if (fx != NULL) {
        dns_fixture_backend(fx, &r->be);
        r->fx = fx;
    } else if (dns_ares_new(opt, &r->be, err) == -1) {
        free(r);
        return -1;
    }
    r->server = opt->server != NULL ? pb_xstrdup(opt->server) : NULL;
    r->timeout_ms = opt->timeout_ms;
    r->tries = opt->tries;
    r->cache = cache_new();
    *out = r;
    return 0;
}

int
dns_resolver_fork(struct dns_resolver *parent, struct dns_resolver **out,
                  struct pb_err *err)
{
    struct dns_resolver *r;
    struct dns_options opt;

    *out = NULL;
    r = pb_xcalloc(1, sizeof(*r));
    if (parent->fx != NULL) {
        /* the fixture is read-only once loaded: forks share it */
        dns_fixture_backend_borrow(parent->fx, &r->be);
    } else {
        memset(&opt, 0, sizeof(opt));
        opt.server = parent->server;
        opt.timeout_ms = parent->timeout_ms;
        opt.tries = parent->tries;
        if (dns_ares_new(&opt, &r->be, err) == -1) {
            free(r);
            return -1;
        }
    }
    r->server = parent->server != NULL ? pb_xstrdup(parent->server) : NULL;
    r->timeout_ms = parent->timeout_ms;
    r->tries = parent->tries;
    r->fx = parent->fx;
    r->is_fork = true;
    r->cache = parent->cache;
    pthread_mutex_lock(&r->cache->mu);
    r->cache->refs++;
    pthread_mutex_unlock(&r->cache->mu);
    *out = r;
    return 0;
}

void
dns_resolver_forget(struct dns_resolver *r)
{
    size_t i;

    for (i = 0; i < r->nscratch; i++) {
        dns_answer_release(&r->scratch[i]->a);
        free(r->scratch[i]);
    }
    r->nscratch = 0;
}

void
dns_resolver_free(struct dns_resolver *r)
{
    if (r == NULL)
        return;
    dns_resolver_forget(r);
    free(r->scratch);
    r->be.ops->free(r->be.state);
    cache_unref(r->cache);
    free(r->server);
    free(r);
}

size_t
dns_resolver_sent(const struct dns_resolver *r)
{
    return r->sent;
}

/* With the cache locked: a new entry, first asked first. */
static struct dns_entry *
cache_entry_add(struct dns_cache *c, const char *qname, uint16_t type)
{
    struct dns_entry *e = pb_xcalloc(1, sizeof(*e));

    if (c->nentries == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->entries = pb_xreallocarray(c->entries, c->cap, sizeof(*c->entries));
    }
    dns_answer_init(&e->a, qname, type);
    c->entries[c->nentries++] = e;
    return e;
}

/* An entry of this resolver alone, for when the shared cache is full. */
static struct dns_entry *
scratch_entry_add(struct dns_resolver *r, const char *qname, uint16_t type)
{
    struct dns_entry *e = pb_xcalloc(1, sizeof(*e));

    if (r->nscratch == r->capscratch) {
        r->capscratch = r->capscratch ? r->capscratch * 2 : 64;
        r->scratch =
            pb_xreallocarray(r->scratch, r->capscratch, sizeof(*r->scratch));
    }
    dns_answer_init(&e->a, qname, type);
    r->scratch[r->nscratch++] = e;
    return e;
}

/* A new entry: in the shared cache while it has room, else private. */
static struct dns_entry *
entry_add(struct dns_resolver *r, const char *qname, uint16_t type, bool keyed)
{
    struct dns_cache *c = r->cache;
    struct dns_entry *e;

    if (c->nentries >= PB_LIMIT_DNS_CACHE) {
        c->uncached++;
        return scratch_entry_add(r, qname, type);
    }
    e = cache_entry_add(c, qname, type);
    if (keyed)
        dns_map_put(&c->map, e->a.qname, type, e);
    return e;
}

/*
 * With the cache locked: the answer to one question, from the cache, made
 * up here for a question that must not reach a back end, or a new pending
 * entry added to todo.
 */
static const struct dns_answer *
resolver_lookup(struct dns_resolver *r, const char *name, uint16_t type,
                struct dns_answer **todo, size_t *ntodo)
{
    struct dns_cache *c = r->cache;
    char qname[PB_LIMIT_DNS_NAME + 1];
    char shown[DNS_NAME_TEXT_MAX];
    struct dns_entry *e;
    const char *why;
    size_t len = name != NULL ? strlen(name) : 0;

    if (dns_name_check(name != NULL ? name : "", len, &why) == -1) {
        /* Not cached: its text may be anything, so it keys nothing. */
        pb_escape_to(shown, sizeof(shown), name != NULL ? name : "", len);
        e = entry_add(r, shown, type, false);
        dns_answer_set(&e->a, DNS_ERROR, -1, "invalid name: %s", why);
        log_debug("dns: %s %s: %s", dns_type_name(type), shown, e->a.detail);
        return &e->a;
    }
    if (dns_name_canon(name, len, qname, sizeof(qname)) == -1)
        pb_panic("dns: checked name does not fit");
    e = dns_map_get(&c->map, qname, type);
    if (e != NULL) {
        if (e->is_pending)
            log_debug("dns: %s %s: in flight (asked by another thread)",
                      dns_type_name(type), qname);
        else
            log_debug("dns: %s %s: %s (cached)", dns_type_name(type), qname,
                      dns_status_name(&e->a));
        return &e->a;
    }
    e = entry_add(r, qname, type, true);
    if (!dns_type_is_supported(type)) {
        dns_answer_set(&e->a, DNS_ERROR, -1, "unsupported query type %u",
                       (unsigned)type);
        log_debug("dns: TYPE%u %s: %s", (unsigned)type, qname, e->a.detail);
        return &e->a;
    }
    e->is_sent = true;
    e->is_pending = true;
    todo[(*ntodo)++] = &e->a;
    return &e->a;
}

static bool
answer_pending(const struct dns_answer *a)
{
    return ((const struct dns_entry *)a)->is_pending; /* a is its entry */
}

void
dns_query_many(struct dns_resolver *r, const struct dns_question *q, size_t n,
               const struct dns_answer **out)
{
    struct dns_cache *c = r->cache;
    struct dns_answer **todo;
    size_t i, ntodo = 0;

    if (n == 0)
        return;
    todo = pb_xreallocarray(NULL, n, sizeof(*todo));
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < n; i++)
        out[i] = resolver_lookup(r, q[i].name, q[i].type, todo, &ntodo);
    pthread_mutex_unlock(&c->mu);
    if (ntodo > 0) {
        /* pending entries are ours alone to write until we clear them */
        r->be.ops->answer_many(r->be.state, todo, ntodo);
        r->sent += ntodo;
    }
    for (i = 0; i < ntodo; i++) {
        const struct dns_answer *a = todo[i];
        char shown[DNS_NAME_TEXT_MAX];

        /* Valid names are printable; escape anyway, logs take no raw text. */
        pb_escape_to(shown, sizeof(shown), a->qname, strlen(a->qname));
        log_debug("dns: %s %s: %s, %zu records%s%s (%s)",
                  dns_type_name(a->qtype), shown, dns_status_name(a), a->nrr,
                  a->detail[0] != '\0' ? ": " : "", a->detail, r->be.ops->name);
    }
    pthread_mutex_lock(&c->mu);
    for (i = 0; i < ntodo; i++)
        ((struct dns_entry *)todo[i])->is_pending = false;
    if (ntodo > 0)
        pthread_cond_broadcast(&c->cv);
    /* wait for questions another thread asked first */
    for (i = 0; i < n; i++)
        while (answer_pending(out[i]))
            pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    free(todo);
}

const struct dns_answer *
dns_query(struct dns_resolver *r, const char *name, uint16_t type)
{
    struct dns_question q = {name, type};
    const struct dns_answer *a;

    dns_query_many(r, &q, 1, &a);
    return a;
}

int
dns_resolver_record(const struct dns_resolver *r, const char *path,
                    struct pb_err *err)
{
    struct dns_cache *c = r->cache;
    const struct dns_answer **list;
    size_t i, n = 0;
    int rc;

    pthread_mutex_lock(&c->mu);
    if (c->uncached > 0) {
        size_t n_un = c->uncached;

        pthread_mutex_unlock(&c->mu);
        return pb_err_set(err, PB_STAGE_IO, PB_E_LIMIT,
                          "cannot record the DNS answers: %zu of them were "
                          "not kept (over %d in one run); record a smaller "
                          "batch",
                          n_un, PB_LIMIT_DNS_CACHE);
    }
    list = pb_xreallocarray(NULL, c->nentries + 1, sizeof(*list));
    for (i = 0; i < c->nentries; i++)
        if (c->entries[i]->is_sent && !c->entries[i]->is_pending)
            list[n++] = &c->entries[i]->a;
    pthread_mutex_unlock(&c->mu);
    rc = dns_fixture_record(list, n, path, err);
    free(list);
    return rc;
}
