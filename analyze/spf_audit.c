/* SPDX-License-Identifier: MIT */
/*
 * SPF audit for `probe check`: the domain's record (present, one, syntax,
 * size per RFC 7208 §3.4, how its character-strings join per §3.3), the
 * include/redirect tree walked whatever the client (the worst case for the
 * §4.6.4 limits), risky terms (+all, ?all, no all, ptr §5.5), and
 * check_host() for each sending IP.  Terms with macros are counted but not
 * followed: their targets depend on the sender.
 */
#include "spf_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_limits.h"
#include "pb_xalloc.h"

#define WALK_MAX_DEPTH  12  /* deeper than the 10-lookup limit allows */
#define WALK_MAX_NODES  256 /* records fetched for one domain's tree */
#define SPF_RECORD_WARN 450 /* §3.4: keep records under 450 octets */
#define DNS_UDP_CLASSIC 512 /* RFC 1035 §2.3.4 without EDNS */

struct walk {
    struct dns_resolver *r;
    struct spf_audit *out;
    const char *stack[WALK_MAX_DEPTH];
    size_t depth;
    size_t nodes;
};

static const char CHECK[] = "spf";

static bool
is_dynamic(const char *spec)
{
    return strchr(spec, '%') != NULL;
}

static char *
target_name(const char *spec)
{
    size_t n = strlen(spec);
    char *t = pb_xstrdup(spec);

    if (n > 1 && t[n - 1] == '.')
        t[n - 1] = '\0';
    for (char *p = t; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return t;
}

static void
evidence_record(struct pb_finding *fd, const char *domain, const char *rec)
{
    char *ev = pb_xasprintf("%s TXT \"%s\"", domain, rec);

    pb_finding_evidence(fd, ev, strlen(ev));
    free(ev);
}

/* A DNS failure while walking: the check could not be completed. */
static void
dns_error(struct walk *w, const struct dns_answer *a)
{
    struct pb_finding *fd;

    fd = pb_findings_add(&w->out->findings, CHECK, "spf-dns-error",
                         PB_SEV_ERROR, "could not look up %s %s: %s%s%s",
                         dns_type_name(a->qtype), a->qname, dns_status_name(a),
                         a->detail[0] ? ", " : "", a->detail);
    pb_finding_remedy(fd,
                      "check that the name servers of %s answer (dig "
                      "%s %s); receivers see this as temperror",
                      a->qname, dns_type_name(a->qtype), a->qname);
}

/* §4.6.4: an a/mx target without addresses is a void lookup. */
static void
check_void_target(struct walk *w, struct spf_tree *node,
                  const struct spf_term_def *d, const char *target)
{
    struct dns_question q[2] = {{target, DNS_TYPE_A}, {target, DNS_TYPE_AAAA}};
    const struct dns_answer *ans[2];
    struct pb_finding *fd;
    size_t n = 2;

    if (d->kind == SPF_K_MX) {
        q[0].type = DNS_TYPE_MX;
        n = 1;
    } else if (d->kind == SPF_K_EXISTS) {
        n = 1;
    }
    dns_query_many(w->r, q, n, ans);
    if (dns_answer_is_error(ans[0]) ||
        (n == 2 && dns_answer_is_error(ans[1]))) {
        dns_error(w, dns_answer_is_error(ans[0]) ? ans[0] : ans[1]);
        return;
    }
    if (!dns_answer_is_void(ans[0]) || (n == 2 && !dns_answer_is_void(ans[1])))
        goto mx_count;
    node->void_lookups++;
    fd = pb_findings_add(&w->out->findings, CHECK, "spf-void-lookup",
                         PB_SEV_WARN,
                         "%s in the record of %s finds no %s: a void lookup "
                         "(RFC 7208 allows 2 before permerror)",
                         d->text, node->domain,
                         d->kind == SPF_K_MX ? "MX records" : "addresses");
    evidence_record(fd, node->domain, node->record);
    pb_finding_remedy(fd,
                      "remove %s from the SPF record of %s, or publish "
                      "the records it names",
                      d->text, node->domain);
    return;
mx_count:
    if (d->kind == SPF_K_MX &&
        dns_answer_count(ans[0], DNS_TYPE_MX) > PB_LIMIT_SPF_MX_NAMES) {
        fd = pb_findings_add(
            &w->out->findings, CHECK, "spf-mx-too-many", PB_SEV_FAIL,
            "%s in the record of %s names %zu MX hosts; "
            "RFC 7208 4.6.4 allows 10, so it is a permerror",
            d->text, node->domain, dns_answer_count(ans[0], DNS_TYPE_MX));
        pb_finding_remedy(fd,
                          "replace %s with ip4:/ip6: ranges of the hosts "
                          "that really send",
                          d->text);
    }
}

/*
 * §3.3: character-strings join with nothing between them.  A boundary
 * inside a token that would be two valid terms with a space between is
 * almost always a missing space.
 */
static void
check_string_split(struct walk *w, const struct spf_tree *node,
                   const struct dns_rr *rr)
{
    size_t k, at = 0;

    for (k = 0; k + 1 < rr->nstr; k++) {
        const char *s = rr->data;
        size_t b, start, end;
        char *left, *right, *l2, *r2;
        struct spf_record tmp;
        char why[128];
        bool two_terms;
        struct pb_finding *fd;

        at += rr->strlens[k];
        b = at;
        if (b == 0 || b >= rr->len || s[b - 1] == ' ' || s[b] == ' ')
            continue;
        start = b;
        while (start > 0 && s[start - 1] != ' ')
            start--;
        end = b;
        while (end < rr->len && s[end] != ' ')
            end++;
        if (start == 0)
            continue; /* inside "v=spf1" itself: the parser reports it */
        left = pb_xmemdup(s + start, b - start);
        right = pb_xmemdup(s + b, end - b);
        l2 = pb_xasprintf("v=spf1 %s", left);
        r2 = pb_xasprintf("v=spf1 %s", right);
        two_terms =
            spf_record_parse(l2, strlen(l2), &tmp, why, sizeof(why)) == 0;
        if (two_terms)
            spf_record_release(&tmp);
        if (two_terms &&
            spf_record_parse(r2, strlen(r2), &tmp, why, sizeof(why)) == 0)
            spf_record_release(&tmp);
        else
            two_terms = false;
        if (two_terms) {
            fd = pb_findings_add(
                &w->out->findings, CHECK, "spf-strings-glued", PB_SEV_FAIL,
                "strings %zu and %zu of the record of %s join without a "
                "space into \"%s%s\" (RFC 7208 3.3 adds none)",
                k + 1, k + 2, node->domain, left, right);
            pb_finding_remedy(fd,
                              "end string %zu with a space, or start "
                              "string %zu with one",
                              k + 1, k + 2);
        } else {
            fd = pb_findings_add(
                &w->out->findings, CHECK, "spf-term-split", PB_SEV_INFO,
                "the term \"%s%s\" of %s is split across two strings: valid, "
                "as strings join without spaces, but easy to break when "
                "edited",
                left, right, node->domain);
            pb_finding_remedy(fd, "split the record between terms");
        }
        evidence_record(fd, node->domain, node->record);
        free(left);
        free(right);
        free(l2);
        free(r2);
    }
}

static struct spf_tree *walk_node(struct walk *w, const char *domain,
                                  const char *via);

static void
walk_terms(struct walk *w, struct spf_tree *node, const struct spf_record *rec,
           bool is_root)
{
    bool has_all = false;
    size_t i;
    struct pb_finding *fd;

    for (i = 0; i < rec->nterms; i++)
        if (rec->terms[i].kind == SPF_K_ALL)
            has_all = true;
    for (i = 0; i < rec->nterms; i++) {
        const struct spf_term_def *d = &rec->terms[i];
        struct spf_tree_child *c;
        char *target;

        if (d->kind == SPF_K_REDIRECT && has_all) {
            fd = pb_findings_add(&w->out->findings, CHECK,
                                 "spf-redirect-ignored", PB_SEV_WARN,
                                 "%s in the record of %s is never used: the "
                                 "record has an \"all\" mechanism (RFC 7208 "
                                 "6.1)",
                                 d->text, node->domain);
            evidence_record(fd, node->domain, node->record);
            pb_finding_remedy(fd, "remove either %s or the all mechanism",
                              d->text);
            continue;
        }
        if (spf_kind_queries_dns(d->kind))
            node->lookups++;
        switch (d->kind) {
        case SPF_K_ALL:
            if (d->qual == SPF_PASS) {
                fd = pb_findings_add(&w->out->findings, CHECK, "spf-plus-all",
                                     PB_SEV_FAIL,
                                     "%s in the record of %s authorizes "
                                     "every host on the internet",
                                     d->text, node->domain);
                evidence_record(fd, node->domain, node->record);
                pb_finding_remedy(fd,
                                  "replace %s with -all (or ~all) after "
                                  "listing your real senders",
                                  d->text);
            } else if (d->qual == SPF_NEUTRAL && is_root) {
                fd = pb_findings_add(&w->out->findings, CHECK,
                                     "spf-neutral-all", PB_SEV_WARN,
                                     "?all makes the result neutral for "
                                     "every other host: SPF protects "
                                     "nothing");
                evidence_record(fd, node->domain, node->record);
                pb_finding_remedy(fd, "end the record with -all or ~all");
            }
            break;
        case SPF_K_PTR:
            fd = pb_findings_add(&w->out->findings, CHECK, "spf-ptr",
                                 PB_SEV_WARN,
                                 "%s in the record of %s: RFC 7208 5.5 says "
                                 "ptr SHOULD NOT be used; it is slow and "
                                 "some receivers ignore it",
                                 d->text, node->domain);
            evidence_record(fd, node->domain, node->record);
            pb_finding_remedy(fd,
                              "replace %s with ip4:/ip6: ranges or a: "
                              "names of the sending hosts",
                              d->text);
            break;
        case SPF_K_A:
        case SPF_K_MX:
        case SPF_K_EXISTS:
            if (d->spec != NULL && is_dynamic(d->spec))
                break;
            target = target_name(d->spec ? d->spec : node->domain);
            check_void_target(w, node, d, target);
            free(target);
            break;
        case SPF_K_INCLUDE:
        case SPF_K_REDIRECT:
            node->children = pb_xreallocarray(
                node->children, node->nchildren + 1, sizeof(*node->children));
            c = &node->children[node->nchildren++];
            memset(c, 0, sizeof(*c));
            c->term = pb_xstrdup(d->text);
            c->is_dynamic = is_dynamic(d->spec);
            if (c->is_dynamic)
                break;
            target = target_name(d->spec);
            c->node = walk_node(w, target, d->text);
            free(target);
            break;
        default:
            break;
        }
    }
    if (is_root && !has_all && rec->redirect == -1) {
        fd =
            pb_findings_add(&w->out->findings, CHECK, "spf-no-all", PB_SEV_WARN,
                            "the record of %s ends without an all "
                            "mechanism or redirect: every other host gets "
                            "neutral",
                            node->domain);
        evidence_record(fd, node->domain, node->record);
        pb_finding_remedy(fd, "end the record with -all (or ~all)");
    }
}

/* Fetch, select and parse the record of domain; walk what it names. */
static struct spf_tree *
walk_node(struct walk *w, const char *domain, const char *via)
{
    struct spf_tree *node = pb_xcalloc(1, sizeof(*node));
    const struct dns_answer *a;
    const struct dns_rr *rr;
    struct spf_record rec;
    struct pb_finding *fd;
    char why[256];
    size_t i, count;
    bool is_root = via == NULL;

    node->domain = pb_xstrdup(domain);
    for (i = 0; i < w->depth; i++) {
        if (strcmp(w->stack[i], domain) == 0) {
            node->problem = pb_xasprintf("loop back to %s", domain);
            fd = pb_findings_add(&w->out->findings, CHECK, "spf-loop",
                                 PB_SEV_FAIL,
                                 "%s leads back to %s: a loop that ends in "
                                 "permerror",
                                 via, domain);
            pb_finding_remedy(fd, "remove %s", via);
            return node;
        }
    }
    if (w->depth == WALK_MAX_DEPTH || w->nodes == WALK_MAX_NODES) {
        node->problem = pb_xstrdup("not followed: the tree is too large");
        return node;
    }
    w->nodes++;
    a = dns_query(w->r, domain, DNS_TYPE_TXT);
    if (dns_answer_is_error(a)) {
        node->problem = pb_xasprintf("DNS %s", dns_status_name(a));
        dns_error(w, a);
        return node;
    }
    rr = a->status == DNS_OK ? spf_record_select(a, &count) : NULL;
    if (rr == NULL) {
        node->problem =
            pb_xstrdup(a->status == DNS_NXDOMAIN ? "the domain does not exist"
                                                 : "no SPF record");
        if (is_root)
            return node; /* the caller says what this means */
        fd = pb_findings_add(
            &w->out->findings, CHECK, "spf-include-none", PB_SEV_FAIL,
            "%s names %s, which has %s: permerror for "
            "every message (RFC 7208 5.2, 6.1)",
            via, domain,
            a->status == DNS_NXDOMAIN ? "no DNS entry" : "no SPF record");
        pb_finding_remedy(fd, "remove %s or correct the name", via);
        return node;
    }
    node->record = pb_xmemdup(rr->data, rr->len);
    if (count > 1) {
        node->problem = pb_xasprintf("%zu SPF records", count);
        fd = pb_findings_add(&w->out->findings, CHECK, "spf-multiple-records",
                             PB_SEV_FAIL,
                             "%s publishes %zu SPF records: permerror for "
                             "every message (RFC 7208 4.5)",
                             domain, count);
        pb_finding_evidence(fd, a->rr[0].data, a->rr[0].len);
        pb_finding_remedy(fd,
                          "merge them into one TXT record starting "
                          "with v=spf1 at %s",
                          domain);
        return node;
    }
    check_string_split(w, node, rr);
    if (spf_record_parse(rr->data, rr->len, &rec, why, sizeof(why)) == -1) {
        bool unknown = strncmp(why, "unknown mechanism", 17) == 0;

        node->problem = pb_xasprintf("syntax error: %s", why);
        fd = pb_findings_add(&w->out->findings, CHECK,
                             unknown ? "spf-unknown-mechanism" : "spf-syntax",
                             PB_SEV_FAIL,
                             "the SPF record of %s does not parse (%s): "
                             "permerror for every message",
                             domain, why);
        evidence_record(fd, domain, node->record);
        pb_finding_remedy(fd,
                          "correct the record of %s; RFC 7208 section 12 "
                          "gives the syntax",
                          domain);
        return node;
    }
    if (rr->len > SPF_RECORD_WARN) {
        fd = pb_findings_add(&w->out->findings, CHECK, "spf-record-long",
                             PB_SEV_WARN,
                             "the SPF record of %s is %zu bytes; RFC 7208 "
                             "3.4 advises under 450 so answers fit in 512 "
                             "bytes of UDP",
                             domain, rr->len);
        pb_finding_remedy(fd, "move ranges into an include: of your own, or "
                              "drop unused terms");
    }
    w->stack[w->depth++] = node->domain;
    walk_terms(w, node, &rec, is_root);
    w->depth--;
    spf_record_release(&rec);
    node->total_lookups = node->lookups;
    node->total_voids = node->void_lookups;
    for (i = 0; i < node->nchildren; i++) {
        if (node->children[i].node == NULL)
            continue;
        node->total_lookups += node->children[i].node->total_lookups;
        node->total_voids += node->children[i].node->total_voids;
    }
    return node;
}

/* Sum of the TXT answer's wire size, roughly: strings and their length
 * bytes plus the fixed part of each record. */
static size_t
txt_answer_size(const struct dns_answer *a, const char *domain)
{
    size_t i, n = 12 + strlen(domain) + 6;

    for (i = 0; i < a->nrr; i++)
        if (a->rr[i].type == DNS_TYPE_TXT)
            n += 12 + a->rr[i].len + a->rr[i].nstr;
    return n;
}

static void
lookup_findings(struct spf_audit *out, const char *domain)
{
    const struct spf_tree *t = out->tree;
    struct pb_finding *fd;
    struct pb_buf heavy;
    size_t i;

    if (t == NULL || t->record == NULL)
        return;
    /* the costliest includes first: what flattening would save */
    pb_buf_init(&heavy, 1024);
    {
        bool used[64] = {false};
        size_t shown;

        for (shown = 0; shown < 4; shown++) {
            size_t best = (size_t)-1;

            for (i = 0; i < t->nchildren && i < 64; i++) {
                const struct spf_tree *c = t->children[i].node;

                if (c == NULL || used[i])
                    continue;
                if (best == (size_t)-1 ||
                    c->total_lookups > t->children[best].node->total_lookups)
                    best = i;
            }
            if (best == (size_t)-1)
                break;
            used[best] = true;
            if (pb_buf_addf(&heavy, "%s%s (%u lookup%s)", heavy.len ? ", " : "",
                            t->children[best].term,
                            t->children[best].node->total_lookups + 1,
                            t->children[best].node->total_lookups ? "s" : "") ==
                -1)
                break;
        }
    }
    if (out->dns_lookups > PB_LIMIT_SPF_DNS_TERMS) {
        fd = pb_findings_add(&out->findings, CHECK, "spf-too-many-lookups",
                             PB_SEV_FAIL,
                             "the SPF tree of %s needs %u DNS lookups when "
                             "nothing matches early; RFC 7208 4.6.4 allows "
                             "10, then permerror",
                             domain, out->dns_lookups);
        if (heavy.len)
            pb_finding_remedy(fd,
                              "flatten (replace with their ip4:/ip6: "
                              "ranges) or drop includes to stay under 10; "
                              "the costliest: %s",
                              pb_buf_ptr(&heavy));
        else
            pb_finding_remedy(fd, "replace a:, mx: and include: terms with "
                                  "ip4:/ip6: ranges to stay under 10");
    } else if (out->dns_lookups >= PB_LIMIT_SPF_DNS_TERMS - 1) {
        fd = pb_findings_add(&out->findings, CHECK, "spf-lookups-near-limit",
                             PB_SEV_WARN,
                             "the SPF tree of %s needs %u of the 10 DNS "
                             "lookups RFC 7208 allows: one more include "
                             "breaks it",
                             domain, out->dns_lookups);
        pb_finding_remedy(fd, "flatten an include to leave room%s%s",
                          heavy.len ? "; the costliest: " : "",
                          pb_buf_ptr(&heavy));
    }
    if (out->void_lookups > PB_LIMIT_SPF_VOID) {
        fd = pb_findings_add(&out->findings, CHECK, "spf-too-many-void-lookups",
                             PB_SEV_FAIL,
                             "the SPF tree of %s has %u void lookups; RFC "
                             "7208 4.6.4 allows 2, then permerror",
                             domain, out->void_lookups);
        pb_finding_remedy(fd, "remove the terms that name hosts without "
                              "records (see spf-void-lookup)");
    }
    pb_buf_release(&heavy);
}

static void
ip_findings(struct spf_audit *out, const char *domain,
            const struct spf_ip_result *ip)
{
    static const char *const ids[] = {
        [SPF_NONE] = NULL, /* no record means no IP check: cannot happen */
        [SPF_NEUTRAL] = "spf-ip-neutral",
        [SPF_PASS] = NULL,
        [SPF_FAIL] = "spf-ip-fail",
        [SPF_SOFTFAIL] = "spf-ip-softfail",
        [SPF_TEMPERROR] = "spf-ip-temperror",
        [SPF_PERMERROR] = "spf-ip-permerror",
    };
    static const enum pb_severity sev[] = {
        [SPF_NONE] = PB_SEV_FAIL,      [SPF_NEUTRAL] = PB_SEV_WARN,
        [SPF_PASS] = PB_SEV_INFO,      [SPF_FAIL] = PB_SEV_FAIL,
        [SPF_SOFTFAIL] = PB_SEV_WARN,  [SPF_TEMPERROR] = PB_SEV_ERROR,
        [SPF_PERMERROR] = PB_SEV_FAIL,
    };
    struct pb_finding *fd;
    char addr[64];

    if (ids[ip->result] == NULL)
        return;
    ipaddr_format(&ip->ip, addr, sizeof(addr));
    fd = pb_findings_add(&out->findings, CHECK, ids[ip->result],
                         sev[ip->result], "SPF gives %s for mail from %s: %s",
                         spf_result_name(ip->result), addr,
                         ip->reason ? ip->reason : "");
    switch (ip->result) {
    case SPF_FAIL:
    case SPF_SOFTFAIL:
    case SPF_NEUTRAL:
        pb_finding_remedy(fd,
                          "add %s:%s to the SPF record of %s, or the "
                          "include: of the provider that owns it",
                          ip->ip.family == 4 ? "ip4" : "ip6", addr, domain);
        break;
    case SPF_TEMPERROR:
        pb_finding_remedy(fd,
                          "check that every name in the SPF tree of %s "
                          "answers",
                          domain);
        break;
    default:
        pb_finding_remedy(fd,
                          "fix the SPF record of %s (see the findings "
                          "above)",
                          domain);
        break;
    }
}

void
spf_audit_run(struct dns_resolver *r, const char *domain,
              const struct ipaddr *ips, size_t nips, struct spf_audit *out)
{
    struct walk w;
    const struct dns_answer *a;
    const struct dns_rr *rr;
    struct pb_finding *fd;
    size_t i, count;

    memset(out, 0, sizeof(*out));
    pb_findings_init(&out->findings);
    memset(&w, 0, sizeof(w));
    w.r = r;
    w.out = out;
    out->tree = walk_node(&w, domain, NULL);
    a = dns_query(r, domain, DNS_TYPE_TXT); /* cached by the walk */
    rr = a->status == DNS_OK ? spf_record_select(a, &count) : NULL;
    if (rr != NULL) {
        out->record = pb_xmemdup(rr->data, rr->len);
        out->nstrings = rr->nstr;
        if (txt_answer_size(a, domain) > DNS_UDP_CLASSIC &&
            rr->len <= SPF_RECORD_WARN) {
            fd = pb_findings_add(&out->findings, CHECK, "spf-txt-answer-large",
                                 PB_SEV_INFO,
                                 "the TXT answer of %s is about %zu bytes "
                                 "with its other TXT records: over 512, it "
                                 "needs EDNS or TCP",
                                 domain, txt_answer_size(a, domain));
            pb_finding_remedy(fd, "remove TXT records that are no longer "
                                  "needed (old site verifications)");
        }
    } else if (!dns_answer_is_error(a)) {
        fd = pb_findings_add(&out->findings, CHECK, "spf-missing", PB_SEV_FAIL,
                             "%s publishes no SPF record: receivers get "
                             "\"none\" and Gmail and Yahoo require SPF or "
                             "DKIM of every sender",
                             domain);
        pb_finding_remedy(fd,
                          "publish a TXT record at %s such as \"v=spf1 "
                          "include:<your provider> -all\"",
                          domain);
    }
    out->dns_lookups = out->tree->total_lookups;
    out->void_lookups = out->tree->total_voids;
    lookup_findings(out, domain);

    out->ips = pb_xcalloc(nips ? nips : 1, sizeof(*out->ips));
    for (i = 0; i < nips && out->record != NULL; i++) {
        struct spf_request req;
        struct spf_check c;
        struct spf_ip_result *ip = &out->ips[out->nips++];

        memset(&req, 0, sizeof(req));
        req.ip = ips[i];
        req.sender = domain; /* postmaster@domain, RFC 7208 4.3 */
        ip->ip = ips[i];
        if (spf_check_host(r, &req, &c, NULL) == -1) {
            ip->result = SPF_PERMERROR;
            ip->reason = pb_xstrdup("could not run check_host");
            continue;
        }
        ip->result = c.result;
        ip->dns_lookups = c.dns_lookups;
        ip->void_lookups = c.void_lookups;
        ip->reason = c.reason ? pb_xstrdup(c.reason) : NULL;
        ip->explanation = c.explanation ? pb_xstrdup(c.explanation) : NULL;
        spf_check_release(&c);
        ip_findings(out, domain, ip);
    }
    out->status = pb_findings_status(&out->findings);
}

static void
tree_free(struct spf_tree *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nchildren; i++) {
        free(t->children[i].term);
        tree_free(t->children[i].node);
    }
    free(t->children);
    free(t->domain);
    free(t->record);
    free(t->problem);
    free(t);
}

void
spf_audit_release(struct spf_audit *a)
{
    size_t i;

    if (a == NULL)
        return;
    tree_free(a->tree);
    for (i = 0; i < a->nips; i++) {
        free(a->ips[i].reason);
        free(a->ips[i].explanation);
    }
    free(a->ips);
    free(a->record);
    pb_findings_release(&a->findings);
    memset(a, 0, sizeof(*a));
}
