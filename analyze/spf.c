/* SPDX-License-Identifier: MIT */
/*
 * SPF evaluation, RFC 7208 check_host() (§4): initial processing (§4.3),
 * record lookup and selection (§4.4, §4.5), mechanisms (§5) in order,
 * redirect= and exp= (§6), and the processing limits of §4.6.4 (10
 * DNS-querying terms, 10 MX / PTR names, 2 void lookups), checked before
 * each lookup.  Records only TXT: type 99 SPF records are not queried
 * (§3.1, §14.1).  The result carries a trace of every term and query.
 */
#include "spf_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pb_limits.h"
#include "pb_log.h"
#include "pb_xalloc.h"

struct lookups {
    struct spf_lookup **arr;
    size_t *n;
};

struct ctx {
    struct dns_resolver *r;
    struct spf_macro_ctx m; /* domain is set per record */
    unsigned terms;         /* DNS-querying terms so far */
    unsigned voids;
    char *stack[PB_LIMIT_SPF_DNS_TERMS + 2]; /* include/redirect chain */
    size_t depth;
    struct lookups cur; /* where the next lookup is recorded */
    char *explanation;
    bool explanation_from_exp;
    char *decider; /* domain whose record decided the result */
};

const char *
spf_result_name(enum spf_result r)
{
    static const char *const names[] = {
        [SPF_NONE] = "none",           [SPF_NEUTRAL] = "neutral",
        [SPF_PASS] = "pass",           [SPF_FAIL] = "fail",
        [SPF_SOFTFAIL] = "softfail",   [SPF_TEMPERROR] = "temperror",
        [SPF_PERMERROR] = "permerror",
    };

    if ((size_t)r >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[r];
}

static void
lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Query through the resolver and record the question in the trace. */
static const struct dns_answer *
lookup(struct ctx *c, const char *name, uint16_t type)
{
    const struct dns_answer *a = dns_query(c->r, name, type);
    struct spf_lookup *l;

    if (c->cur.arr != NULL) {
        *c->cur.arr =
            pb_xreallocarray(*c->cur.arr, *c->cur.n + 1, sizeof(**c->cur.arr));
        l = &(*c->cur.arr)[(*c->cur.n)++];
        l->answer = a;
        l->is_void = false;
    }
    return a;
}

/* Mark the last recorded lookup void and count it (§4.6.4). */
static bool
count_void(struct ctx *c)
{
    if (c->cur.arr != NULL && *c->cur.n > 0)
        (*c->cur.arr)[*c->cur.n - 1].is_void = true;
    c->voids++;
    return c->voids <= PB_LIMIT_SPF_VOID;
}

/* §4.3: a domain check_host() can work on: valid labels, more than one. */
static bool
domain_usable(const char *d)
{
    const char *why;

    if (d[0] == '[')
        return false; /* a domain literal, not a name */
    if (dns_name_check(d, strlen(d), &why) == -1)
        return false;
    return strchr(d, '.') != NULL && d[strlen(d) - 1] != '.';
}

static bool
ip_in_answer(const struct ctx *c, const struct dns_answer *a, unsigned cidr4,
             unsigned cidr6)
{
    size_t i;
    struct ipaddr addr;

    for (i = 0; i < a->nrr; i++) {
        const struct dns_rr *rr = &a->rr[i];

        memset(&addr, 0, sizeof(addr));
        if (rr->type == DNS_TYPE_A && c->m.ip.family == 4) {
            addr.family = 4;
            memcpy(addr.a, rr->addr, 4);
            if (ipaddr_in(&c->m.ip, &addr, cidr4))
                return true;
        } else if (rr->type == DNS_TYPE_AAAA && c->m.ip.family == 6) {
            addr.family = 6;
            memcpy(addr.a, rr->addr, 16);
            if (ipaddr_in(&c->m.ip, &addr, cidr6))
                return true;
        }
    }
    return false;
}

static uint16_t
addr_type(const struct ctx *c)
{
    return c->m.ip.family == 4 ? DNS_TYPE_A : DNS_TYPE_AAAA;
}

/*
 * §5.5: the validated names of ip: PTR names (at most 10, §4.6.4) whose
 * A/AAAA records contain ip.  Errors skip a name.  Fills names (up to
 * PB_LIMIT_SPF_PTR_NAMES borrowed pointers) and returns their count.
 */
static size_t
validated_names(struct ctx *c, const char **names)
{
    char rev[IPADDR_REVERSE_MAX];
    const struct dns_answer *ptr, *a;
    size_t i, tried = 0, n = 0;

    ipaddr_reverse(&c->m.ip, rev, sizeof(rev));
    ptr = lookup(c, rev, DNS_TYPE_PTR);
    if (ptr->status != DNS_OK)
        return 0;
    for (i = 0; i < ptr->nrr && tried < PB_LIMIT_SPF_PTR_NAMES; i++) {
        if (ptr->rr[i].type != DNS_TYPE_PTR)
            continue;
        tried++;
        a = lookup(c, ptr->rr[i].data, addr_type(c));
        if (a->status == DNS_OK && ip_in_answer(c, a, 32, 128))
            names[n++] = ptr->rr[i].data;
    }
    return n;
}

static bool
name_within(const char *name, const char *domain)
{
    size_t nl = strlen(name), dl = strlen(domain);

    if (nl == dl)
        return strcasecmp(name, domain) == 0;
    return nl > dl && name[nl - dl - 1] == '.' &&
           strcasecmp(name + nl - dl, domain) == 0;
}

/* %{p} (§7.3): a validated name, preferring <domain> and its subdomains. */
static const char *
macro_validated(void *arg, const char *domain)
{
    struct ctx *c = arg;
    const char *names[PB_LIMIT_SPF_PTR_NAMES];
    size_t n = validated_names(c, names), i;

    for (i = 0; i < n; i++)
        if (strcasecmp(names[i], domain) == 0)
            return names[i];
    for (i = 0; i < n; i++)
        if (name_within(names[i], domain))
            return names[i];
    return n > 0 ? names[0] : "unknown";
}

static struct spf_node *check_host(struct ctx *c, const char *domain,
                                   bool want_exp);

static void term_note(struct spf_term *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
term_note(struct spf_term *t, const char *fmt, ...)
{
    va_list ap;
    char buf[512];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(t->note);
    t->note = pb_xstrdup(buf);
}

static enum spf_result node_error(struct spf_node *node, enum spf_result r,
                                  const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum spf_result
node_error(struct spf_node *node, enum spf_result r, const char *fmt, ...)
{
    va_list ap;
    char buf[512];

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(node->reason);
    node->reason = pb_xstrdup(buf);
    node->result = r;
    return r;
}

/* Answer-level errors of a lookup: TIMEOUT, SERVFAIL, ... -> temperror. */
static bool
answer_failed(const struct dns_answer *a)
{
    return dns_answer_is_error(a);
}

/*
 * Judge the answer to a term's lookup: 1 when it holds records, 0 for a
 * void lookup (counted), -1 with *err and a note for a DNS error
 * (temperror) or one void lookup too many (permerror, §4.6.4).
 */
static int
term_answer(struct ctx *c, struct spf_term *t, const struct dns_answer *a,
            enum spf_result *err)
{
    if (answer_failed(a)) {
        *err = SPF_TEMPERROR;
        term_note(t, "DNS %s for %s %s", dns_status_name(a), a->qname,
                  dns_type_name(a->qtype));
        return -1;
    }
    if (!dns_answer_is_void(a))
        return 1;
    if (!count_void(c)) {
        *err = SPF_PERMERROR;
        term_note(t, "more than %d void lookups (RFC 7208 4.6.4)",
                  PB_LIMIT_SPF_VOID);
        return -1;
    }
    return 0;
}

/*
 * Evaluate one mechanism.  Returns SPF_TERM_MATCH / NOMATCH, or
 * SPF_TERM_ERROR with *err set to temperror or permerror and a note.
 */
static enum spf_outcome
eval_mechanism(struct ctx *c, const struct spf_term_def *d, struct spf_term *t,
               enum spf_result *err)
{
    const struct dns_answer *a;
    const char *why;
    char *target = NULL;
    size_t i, n;
    int rc;

    if (spf_kind_queries_dns(d->kind)) {
        /* §4.6.4: count before the lookup; the 11th is a permerror */
        if (++c->terms > PB_LIMIT_SPF_DNS_TERMS) {
            *err = SPF_PERMERROR;
            term_note(t,
                      "more than %d DNS-querying terms (RFC 7208 "
                      "4.6.4)",
                      PB_LIMIT_SPF_DNS_TERMS);
            return SPF_TERM_ERROR;
        }
    }
    switch (d->kind) {
    case SPF_K_ALL:
        return SPF_TERM_MATCH;
    case SPF_K_IP4:
        return ipaddr_in(&c->m.ip, &d->net, d->cidr4) ? SPF_TERM_MATCH
                                                      : SPF_TERM_NOMATCH;
    case SPF_K_IP6:
        return ipaddr_in(&c->m.ip, &d->net, d->cidr6) ? SPF_TERM_MATCH
                                                      : SPF_TERM_NOMATCH;
    default:
        break;
    }

    c->cur.arr = &t->lookups;
    c->cur.n = &t->nlookups;
    if (d->spec == NULL) {
        target = pb_xstrdup(c->m.domain);
    } else if (spf_macro_domain(&c->m, d->spec, &target, &why) == -1) {
        *err = SPF_PERMERROR;
        term_note(t, "%s", why);
        return SPF_TERM_ERROR;
    }
    t->target = target;
    if (d->kind == SPF_K_INCLUDE) {
        struct spf_node *child;

        child = check_host(c, target, false);
        t->child = child;
        switch (child->result) {
        case SPF_PASS:
            return SPF_TERM_MATCH;
        case SPF_FAIL:
        case SPF_SOFTFAIL:
        case SPF_NEUTRAL:
            return SPF_TERM_NOMATCH;
        case SPF_TEMPERROR:
            *err = SPF_TEMPERROR;
            term_note(t, "the included domain gave temperror");
            return SPF_TERM_ERROR;
        case SPF_NONE:
            *err = SPF_PERMERROR;
            term_note(t,
                      "the included domain %s has no SPF record "
                      "(RFC 7208 5.2: permerror)",
                      target);
            return SPF_TERM_ERROR;
        default:
            *err = SPF_PERMERROR;
            term_note(t, "the included domain gave permerror");
            return SPF_TERM_ERROR;
        }
    }
    if (d->kind == SPF_K_PTR) {
        const char *names[PB_LIMIT_SPF_PTR_NAMES];

        n = validated_names(c, names);
        /* §5.5: a PTR lookup error is no match, but a void one counts */
        if (n == 0 && t->nlookups > 0 &&
            dns_answer_is_void(t->lookups[0].answer) &&
            term_answer(c, t, t->lookups[0].answer, err) == -1)
            return SPF_TERM_ERROR;
        for (i = 0; i < n; i++) {
            if (name_within(names[i], target)) {
                term_note(t, "validated name %s", names[i]);
                return SPF_TERM_MATCH;
            }
        }
        return SPF_TERM_NOMATCH;
    }
    if (!domain_usable(target)) {
        /* §4.8, §5: a target that is no valid name does not exist */
        term_note(t, "target is not a valid domain name: treated as "
                     "non-existent");
        return SPF_TERM_NOMATCH;
    }
    if (d->kind == SPF_K_EXISTS || d->kind == SPF_K_A) {
        /* §5.7: exists always asks for A, whatever the client's family */
        uint16_t type = d->kind == SPF_K_EXISTS ? DNS_TYPE_A : addr_type(c);

        a = lookup(c, target, type);
        rc = term_answer(c, t, a, err);
        if (rc <= 0)
            return rc < 0 ? SPF_TERM_ERROR : SPF_TERM_NOMATCH;
        if (d->kind == SPF_K_EXISTS)
            return SPF_TERM_MATCH;
        return ip_in_answer(c, a, d->cidr4, d->cidr6) ? SPF_TERM_MATCH
                                                      : SPF_TERM_NOMATCH;
    }
    /* SPF_K_MX, §5.4 */
    a = lookup(c, target, DNS_TYPE_MX);
    rc = term_answer(c, t, a, err);
    if (rc <= 0)
        return rc < 0 ? SPF_TERM_ERROR : SPF_TERM_NOMATCH;
    n = dns_answer_count(a, DNS_TYPE_MX);
    if (n > PB_LIMIT_SPF_MX_NAMES) {
        *err = SPF_PERMERROR;
        term_note(t, "%zu MX records, more than %d (RFC 7208 4.6.4)", n,
                  PB_LIMIT_SPF_MX_NAMES);
        return SPF_TERM_ERROR;
    }
    {
        struct dns_question q[PB_LIMIT_SPF_MX_NAMES];
        const struct dns_answer *out[PB_LIMIT_SPF_MX_NAMES];
        size_t nq = 0, k;
        bool failed = false;

        for (i = 0; i < a->nrr; i++) {
            /* RFC 7505 null MX "." names no host: nothing to ask */
            if (a->rr[i].type != DNS_TYPE_MX || a->rr[i].data[0] == '\0')
                continue;
            q[nq].name = a->rr[i].data;
            q[nq].type = addr_type(c);
            nq++;
        }
        dns_query_many(c->r, q, nq, out);
        for (k = 0; k < nq; k++) {
            (void)lookup(c, q[k].name, q[k].type); /* cached: trace only */
            if (out[k]->status == DNS_OK &&
                ip_in_answer(c, out[k], d->cidr4, d->cidr6)) {
                term_note(t, "an address of MX host %s", q[k].name);
                return SPF_TERM_MATCH;
            }
            if (answer_failed(out[k]))
                failed = true;
        }
        if (failed) {
            *err = SPF_TEMPERROR;
            term_note(t, "DNS error looking up an MX host's address");
            return SPF_TERM_ERROR;
        }
    }
    return SPF_TERM_NOMATCH;
}

/* §6.2: compute the explanation from exp= of the record that failed. */
static void
explain(struct ctx *c, const struct spf_record *rec)
{
    const struct dns_answer *a;
    const char *why, *txt = NULL;
    char *target = NULL;
    size_t i, ntxt = 0, tlen = 0;
    struct pb_buf out;
    struct lookups saved = c->cur;

    if (rec->exp == -1 || c->explanation != NULL)
        return;
    c->cur.arr = NULL; /* the exp lookup is not part of any term */
    if (spf_macro_domain(&c->m, rec->terms[rec->exp].spec, &target, &why) ==
            -1 ||
        !domain_usable(target))
        goto out;
    a = dns_query(c->r, target, DNS_TYPE_TXT);
    if (a->status != DNS_OK)
        goto out;
    for (i = 0; i < a->nrr; i++) {
        if (a->rr[i].type == DNS_TYPE_TXT) {
            txt = a->rr[i].data;
            tlen = a->rr[i].len;
            ntxt++;
        }
    }
    /* §6.2: exactly one TXT record, else no explanation from exp= */
    if (ntxt != 1)
        goto out;
    pb_buf_init(&out, PB_LIMIT_SPF_EXPANSION);
    if (spf_macro_expand(&c->m, txt, tlen, true, &out, &why) == 0 &&
        pb_is_printable(pb_buf_ptr(&out), out.len)) {
        c->explanation = pb_buf_take(&out, NULL);
        c->explanation_from_exp = true;
    }
    pb_buf_release(&out);
out:
    free(target);
    c->cur = saved;
}

static enum spf_result
eval_record(struct ctx *c, struct spf_node *node, const struct spf_record *rec,
            bool want_exp)
{
    size_t i;
    enum spf_result err = SPF_PERMERROR;

    for (i = 0; i < rec->nterms; i++) {
        const struct spf_term_def *d = &rec->terms[i];
        struct spf_term *t = &node->terms[i];
        enum spf_outcome o;

        if (d->kind >= SPF_K_REDIRECT)
            continue;
        o = eval_mechanism(c, d, t, &err);
        t->outcome = o;
        if (o == SPF_TERM_NOMATCH)
            continue;
        for (size_t k = i + 1; k < rec->nterms; k++)
            if (rec->terms[k].kind < SPF_K_REDIRECT ||
                rec->terms[k].kind == SPF_K_REDIRECT)
                node->terms[k].outcome = SPF_TERM_SKIPPED;
        if (o == SPF_TERM_ERROR)
            return node_error(node, err, "%s: %s", d->text,
                              t->note ? t->note : "error");
        node->result = d->qual;
        node->reason = pb_xasprintf("matched %s", d->text);
        if (want_exp) {
            free(c->decider);
            c->decider = pb_xstrdup(node->domain);
            if (d->qual == SPF_FAIL)
                explain(c, rec);
        }
        return node->result;
    }
    if (rec->redirect != -1) {
        const struct spf_term_def *d = &rec->terms[rec->redirect];
        struct spf_term *t = &node->terms[rec->redirect];
        const char *why;
        char *target = NULL;

        if (++c->terms > PB_LIMIT_SPF_DNS_TERMS) {
            t->outcome = SPF_TERM_ERROR;
            term_note(t, "more than %d DNS-querying terms (RFC 7208 4.6.4)",
                      PB_LIMIT_SPF_DNS_TERMS);
            return node_error(node, SPF_PERMERROR, "%s: %s", d->text, t->note);
        }
        c->cur.arr = &t->lookups;
        c->cur.n = &t->nlookups;
        if (spf_macro_domain(&c->m, d->spec, &target, &why) == -1) {
            t->outcome = SPF_TERM_ERROR;
            term_note(t, "%s", why);
            return node_error(node, SPF_PERMERROR, "%s: %s", d->text, why);
        }
        t->target = target;
        t->child = check_host(c, target, want_exp);
        if (t->child->result == SPF_NONE) {
            /* §6.1: a redirect to a domain without SPF is a permerror */
            t->outcome = SPF_TERM_ERROR;
            term_note(t, "%s has no SPF record (RFC 7208 6.1: permerror)",
                      target);
            return node_error(node, SPF_PERMERROR, "%s: %s", d->text, t->note);
        }
        t->outcome = t->child->result == SPF_TEMPERROR ||
                             t->child->result == SPF_PERMERROR
                         ? SPF_TERM_ERROR
                         : SPF_TERM_MATCH;
        node->result = t->child->result;
        node->reason = pb_xasprintf("result of %s", d->text);
        return node->result;
    }
    /* §4.7: no match and no redirect */
    node->result = SPF_NEUTRAL;
    node->reason = pb_xstrdup("no mechanism matched (default neutral)");
    if (want_exp) {
        free(c->decider);
        c->decider = pb_xstrdup(node->domain);
    }
    return node->result;
}

/* §4.4, §4.5: find the one "v=spf1" TXT record of domain. */
static struct spf_node *
check_host(struct ctx *c, const char *domain, bool want_exp)
{
    struct spf_node *node = pb_xcalloc(1, sizeof(*node));
    const struct dns_answer *a;
    const char *rec_txt = NULL;
    const struct dns_rr *sel;
    size_t i, rec_len = 0, nspf = 0;
    struct spf_record rec;
    char why[256];
    const char *saved_domain = c->m.domain;

    node->domain = pb_xstrdup(domain);
    if (!domain_usable(domain)) {
        node_error(node, SPF_NONE,
                   "%s is not a valid domain name (RFC 7208 "
                   "4.3: none)",
                   domain);
        return node;
    }
    lower(node->domain);
    if (c->depth == sizeof(c->stack) / sizeof(c->stack[0])) {
        node_error(node, SPF_PERMERROR, "includes nested too deeply");
        return node;
    }
    for (i = 0; i < c->depth; i++) {
        if (strcmp(c->stack[i], node->domain) == 0) {
            node_error(node, SPF_PERMERROR,
                       "loop: %s includes or "
                       "redirects to itself",
                       node->domain);
            return node;
        }
    }
    c->cur.arr = &node->lookups;
    c->cur.n = &node->nlookups;
    a = lookup(c, node->domain, DNS_TYPE_TXT);
    if (a->status == DNS_NXDOMAIN) {
        node_error(node, SPF_NONE, "%s does not exist (NXDOMAIN)", domain);
        return node;
    }
    if (a->status != DNS_OK) {
        /* the detail says why a network error happened; a timeout's
         * detail (server, wait) is in the trace, the reason stays stable */
        bool say = a->status == DNS_ERROR && a->detail[0];

        node_error(node, SPF_TEMPERROR, "DNS %s looking up TXT of %s%s%s%s",
                   dns_status_name(a), domain, say ? " (" : "",
                   say ? a->detail : "", say ? ")" : "");
        return node;
    }
    sel = spf_record_select(a, &nspf);
    if (sel != NULL) {
        rec_txt = sel->data;
        rec_len = sel->len;
    }
    if (nspf == 0) {
        node_error(node, SPF_NONE, "%s publishes no SPF record", domain);
        return node;
    }
    if (nspf > 1) {
        node_error(node, SPF_PERMERROR,
                   "%s publishes %zu SPF records; "
                   "exactly one is allowed (RFC 7208 4.5)",
                   domain, nspf);
        return node;
    }
    node->record = pb_xmemdup(rec_txt, rec_len);
    if (spf_record_parse(rec_txt, rec_len, &rec, why, sizeof(why)) == -1) {
        node_error(node, SPF_PERMERROR, "syntax error: %s", why);
        return node;
    }
    node->nterms = rec.nterms;
    node->terms = pb_xcalloc(rec.nterms, sizeof(*node->terms));
    for (i = 0; i < rec.nterms; i++) {
        node->terms[i].text = pb_xstrdup(rec.terms[i].text);
        node->terms[i].outcome = SPF_TERM_NOMATCH;
    }
    c->stack[c->depth++] = node->domain;
    c->m.domain = node->domain;
    eval_record(c, node, &rec, want_exp);
    c->m.domain = saved_domain;
    c->depth--;
    spf_record_release(&rec);
    return node;
}

/* §4.3: split the sender into local part and domain. */
static int
split_sender(const char *sender, const char *helo, char **full, char **local,
             char **domain, struct pb_err *err)
{
    const char *at;

    if (sender == NULL || sender[0] == '\0') {
        if (helo == NULL || helo[0] == '\0')
            return pb_err_set(err, PB_STAGE_USAGE, PB_E_USAGE,
                              "need a sender or a HELO name");
        *local = pb_xstrdup("postmaster");
        *domain = pb_xstrdup(helo);
    } else if ((at = strrchr(sender, '@')) == NULL) {
        /* no local part at all: the whole sender is the domain */
        *local = pb_xstrdup("postmaster");
        *domain = pb_xstrdup(sender);
    } else {
        *local = at == sender ? pb_xstrdup("postmaster")
                              : pb_xmemdup(sender, (size_t)(at - sender));
        *domain = pb_xstrdup(at + 1);
    }
    {
        size_t n = strlen(*domain);

        if (n > 1 && (*domain)[n - 1] == '.')
            (*domain)[n - 1] = '\0'; /* a fully qualified trailing dot */
    }
    *full = pb_xasprintf("%s@%s", *local, *domain);
    return 0;
}

int
spf_check_host(struct dns_resolver *r, const struct spf_request *req,
               struct spf_check *out, struct pb_err *err)
{
    struct ctx c;
    char *local = NULL, *domain = NULL, *full = NULL;

    memset(out, 0, sizeof(*out));
    if (split_sender(req->sender, req->helo, &full, &local, &domain, err) == -1)
        return -1;
    memset(&c, 0, sizeof(c));
    c.r = r;
    c.m.sender = full;
    c.m.local = local;
    c.m.sender_domain = domain;
    c.m.domain = domain;
    c.m.helo = req->helo;
    c.m.receiver = req->receiver;
    c.m.ip = req->ip;
    ipaddr_unmap(&c.m.ip); /* §5: IPv4-mapped IPv6 is treated as IPv4 */
    c.m.now = req->now ? req->now : time(NULL);
    c.m.validated = macro_validated;
    c.m.validated_arg = &c;

    out->sender = full;
    out->domain = pb_xstrdup(domain);
    out->root = check_host(&c, domain, true);
    out->result = out->root->result;
    out->reason = pb_xstrdup(out->root->reason ? out->root->reason : "");
    out->dns_lookups = c.terms;
    out->void_lookups = c.voids;
    if (out->result == SPF_FAIL) {
        if (c.explanation != NULL) {
            out->explanation = c.explanation;
            out->explanation_from_exp = c.explanation_from_exp;
        } else {
            char ip[64];

            ipaddr_format(&c.m.ip, ip, sizeof(ip));
            out->explanation = pb_xasprintf(
                "the SPF record of %s does not authorize %s to send mail "
                "as %s",
                c.decider ? c.decider : domain, ip, full);
        }
    } else {
        free(c.explanation);
    }
    free(c.decider);
    free(local);
    free(domain);
    return 0;
}

static void
node_free(struct spf_node *n)
{
    size_t i;

    if (n == NULL)
        return;
    for (i = 0; i < n->nterms; i++) {
        free(n->terms[i].text);
        free(n->terms[i].target);
        free(n->terms[i].note);
        free(n->terms[i].lookups);
        node_free(n->terms[i].child);
    }
    free(n->terms);
    free(n->lookups);
    free(n->domain);
    free(n->record);
    free(n->reason);
    free(n);
}

void
spf_check_release(struct spf_check *c)
{
    if (c == NULL)
        return;
    node_free(c->root);
    free(c->domain);
    free(c->sender);
    free(c->explanation);
    free(c->reason);
    memset(c, 0, sizeof(*c));
}
