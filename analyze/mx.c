/* SPDX-License-Identifier: MIT */
/*
 * The MX check of `probe check` (mx.h): the domain's MX RRset, the null MX
 * of RFC 7505, the implicit MX of RFC 5321 §5.1 when there is none, and
 * the addresses of every exchange (RFC 5321 §5.1, RFC 2181 §10.3).  It does
 * not connect to the exchanges: reachability on port 25 is not tested.
 */
#include "mx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosts_int.h"
#include "pb_xalloc.h"

/* Records written into one evidence line; the check's data holds them all. */
#define MX_EV_RRS 16

static enum pb_status
sev_status(enum pb_severity s)
{
    switch (s) {
    case PB_SEV_WARN:
        return PB_STATUS_WARN;
    case PB_SEV_FAIL:
        return PB_STATUS_FAIL;
    case PB_SEV_ERROR:
        return PB_STATUS_ERROR;
    default:
        return PB_STATUS_OK;
    }
}

/* The exchange for a message: the root as ".". */
static const char *
shown(const char *name)
{
    return name[0] != '\0' ? name : ".";
}

static struct pb_finding *
host_finding(struct mx_audit *out, struct mx_host *h, const char *id,
             enum pb_severity sev, const char *what)
{
    struct pb_finding *fd;

    fd = pb_findings_add(&out->findings, "mx", id, sev, "MX %u %s %s",
                         (unsigned)h->preference, shown(h->exchange), what);
    h->status = pb_status_worst(h->status, sev_status(sev));
    return fd;
}

static void
add_addrs(struct ipaddr **v, size_t *n, const struct dns_answer *a)
{
    struct ipaddr ip;
    size_t i;

    if (a->status != DNS_OK)
        return;
    for (i = 0; i < a->nrr; i++) {
        if (a->rr[i].type != a->qtype || !hosts_rr_ip(&a->rr[i], &ip))
            continue;
        *v = pb_xreallocarray(*v, *n + 1, sizeof(**v));
        (*v)[(*n)++] = ip;
    }
}

/* The whole MX answer as evidence. */
static void
ev_mx(struct pb_finding *fd, const struct dns_answer *a)
{
    struct hosts_ev ev;

    hosts_ev_init(&ev);
    hosts_ev_answer(&ev, a, MX_EV_RRS);
    hosts_ev_attach(&ev, fd);
}

static void
ev_pair(struct pb_finding *fd, const struct dns_answer *a,
        const struct dns_answer *b)
{
    struct hosts_ev ev;

    hosts_ev_init(&ev);
    hosts_ev_answer(&ev, a, MX_EV_RRS);
    hosts_ev_answer(&ev, b, MX_EV_RRS);
    hosts_ev_attach(&ev, fd);
}

/* No MX record: RFC 5321 §5.1, the domain itself is the implicit MX. */
static void
audit_implicit(struct dns_resolver *r, struct mx_audit *out,
               const struct dns_answer *mx)
{
    struct dns_question q[2] = {{out->domain, DNS_TYPE_A},
                                {out->domain, DNS_TYPE_AAAA}};
    const struct dns_answer *a[2];
    struct pb_finding *fd;
    struct hosts_ev ev;

    dns_query_many(r, q, 2, a);
    add_addrs(&out->implicit_addrs, &out->nimplicit, a[0]);
    add_addrs(&out->implicit_addrs, &out->nimplicit, a[1]);
    hosts_ev_init(&ev);
    hosts_ev_answer(&ev, mx, MX_EV_RRS);
    hosts_ev_answer(&ev, a[0], MX_EV_RRS);
    hosts_ev_answer(&ev, a[1], MX_EV_RRS);
    if (out->nimplicit > 0) {
        char ip[64];

        out->is_implicit = true;
        ipaddr_format(&out->implicit_addrs[0], ip, sizeof(ip));
        fd = pb_findings_add(
            &out->findings, "mx", "mx-implicit", PB_SEV_WARN,
            "no MX records: mail for %s goes to its own address %s%s "
            "(implicit MX, RFC 5321 section 5.1)",
            out->domain, ip, out->nimplicit > 1 ? " and others" : "");
        pb_finding_remedy(fd,
                          "publish an MX record for %s naming the host that "
                          "receives its mail (MX 10 mail.%s), or a null MX "
                          "(MX 0 .) if it receives none",
                          out->domain, out->domain);
    } else if (dns_answer_is_error(a[0]) || dns_answer_is_error(a[1])) {
        fd = pb_findings_add(&out->findings, "mx", "mx-dns-error", PB_SEV_ERROR,
                             "no MX records for %s, and its A/AAAA lookup "
                             "failed: could not tell whether it receives mail",
                             out->domain);
        pb_finding_remedy(fd,
                          "check that the name servers of %s answer A "
                          "and AAAA queries, then run the check again",
                          out->domain);
    } else {
        fd = pb_findings_add(&out->findings, "mx", "mx-missing", PB_SEV_FAIL,
                             "no MX and no A/AAAA records: %s cannot receive "
                             "mail, and receivers that check the sender "
                             "domain reject mail from it",
                             out->domain);
        pb_finding_remedy(fd,
                          "publish an MX record for %s naming a host that "
                          "accepts its mail (bounces and replies go there)",
                          out->domain);
    }
    hosts_ev_attach(&ev, fd);
}

/* a before b: lower preference first (RFC 5321 §5.1), then by name, so
 * that output does not follow the order a server rotates records in */
static bool
host_before(const struct mx_host *a, const struct mx_host *b)
{
    if (a->preference != b->preference)
        return a->preference < b->preference;
    return strcmp(a->exchange, b->exchange) < 0;
}

/* Insertion sort: stable, and an answer holds at most PB_LIMIT_DNS_RRS. */
static void
sort_hosts(struct mx_host *h, size_t n)
{
    size_t i, j;

    for (i = 1; i < n; i++) {
        struct mx_host t = h[i];

        for (j = i; j > 0 && host_before(&t, &h[j - 1]); j--)
            h[j] = h[j - 1];
        h[j] = t;
    }
}

/* The only MX is "." (RFC 7505 §3): the domain accepts no mail. */
static void
audit_null(struct mx_audit *out, const struct dns_answer *mx)
{
    struct pb_finding *fd;
    struct mx_host *h = &out->hosts[0];

    out->null_mx = true;
    fd = host_finding(out, h, "mx-null", PB_SEV_INFO,
                      "is a null MX (RFC 7505): this domain accepts no mail");
    if (h->preference != 0)
        pb_finding_remedy(fd,
                          "RFC 7505 section 3: give the null MX preference 0 "
                          "(MX 0 .)");
    ev_mx(fd, mx);
    fd = pb_findings_add(
        &out->findings, "mx", "mx-null-sender", PB_SEV_WARN,
        "%s publishes a null MX: RFC 7505 section 4.2 says it should not "
        "be used in MAIL FROM, and receivers may reject mail from it "
        "(550 5.7.27)",
        out->domain);
    pb_finding_remedy(fd,
                      "send from an address whose domain accepts mail "
                      "(bounces and replies come back there), or replace "
                      "the null MX of %s with a real MX if it sends mail",
                      out->domain);
    ev_mx(fd, mx);
}

/* Which exchanges are looked up: not ".", repeats, addresses, bad names. */
static void
classify(struct mx_audit *out)
{
    size_t i, k;

    for (i = 0; i < out->nhosts; i++) {
        struct mx_host *h = &out->hosts[i];

        if (h->is_null)
            continue;
        for (k = 0; k < i && !h->is_duplicate; k++)
            h->is_duplicate = strcmp(out->hosts[k].exchange, h->exchange) == 0;
        h->is_ip_literal = hosts_name_is_ip_literal(h->exchange);
        h->is_resolved = !h->is_duplicate && !h->is_ip_literal &&
                         hosts_name_is_host(h->exchange);
    }
}

/* A repeated exchange: one finding, and the outcome of its first record. */
static void
audit_duplicate(struct mx_audit *out, struct mx_host *h,
                const struct dns_answer *mx)
{
    struct mx_host *first = NULL;
    struct pb_finding *fd;
    size_t k;

    for (k = 0; first == NULL; k++)
        if (strcmp(out->hosts[k].exchange, h->exchange) == 0)
            first = &out->hosts[k];
    fd = host_finding(out, h, "mx-duplicate", PB_SEV_INFO,
                      "repeats the exchange of an earlier record");
    pb_finding_remedy(fd, "keep one MX record for %s", h->exchange);
    ev_mx(fd, mx);
    h->is_cname = first->is_cname;
    h->status = pb_status_worst(h->status, first->status);
    if (first->naddrs > 0) {
        h->addrs = pb_xreallocarray(NULL, first->naddrs, sizeof(*h->addrs));
        memcpy(h->addrs, first->addrs, first->naddrs * sizeof(*h->addrs));
        h->naddrs = first->naddrs;
    }
}

/* Findings on one exchange's name, before its addresses. */
static void
audit_name(struct mx_audit *out, struct mx_host *h, const struct dns_answer *mx)
{
    struct pb_finding *fd;

    if (h->is_null) {
        /* RFC 7505 §3: a null MX stands alone */
        fd = host_finding(
            out, h, "mx-null-mixed", PB_SEV_FAIL,
            "is a null MX among other MX records: RFC 7505 section 3 "
            "says a null MX must be the only one, and senders "
            "may take the domain as accepting no mail");
        pb_finding_remedy(fd,
                          "remove the MX 0 . record of %s if it receives "
                          "mail, or remove the other MX records if it does "
                          "not",
                          out->domain);
        ev_mx(fd, mx);
    } else if (h->is_ip_literal) {
        fd = host_finding(out, h, "mx-host-is-ip", PB_SEV_WARN,
                          "names an address, not a host: RFC 5321 section 5.1 "
                          "wants a domain name, and senders look it up as "
                          "a name and fail");
        pb_finding_remedy(fd,
                          "publish an A record (mx.%s) for that address and "
                          "point the MX at the name",
                          out->domain);
        ev_mx(fd, mx);
    } else if (!h->is_resolved) {
        fd = host_finding(out, h, "mx-host-invalid", PB_SEV_FAIL,
                          "is not a valid host name: senders cannot look it "
                          "up");
        pb_finding_remedy(fd, "point the MX at a host name made of letters, "
                              "digits, hyphens and dots");
        ev_mx(fd, mx);
    }
}

static void
audit_addresses(struct mx_host *h, struct mx_audit *out,
                const struct dns_answer *a4, const struct dns_answer *a6)
{
    struct pb_finding *fd;
    size_t i, ninternal = 0;
    const char *target = NULL;

    add_addrs(&h->addrs, &h->naddrs, a4);
    add_addrs(&h->addrs, &h->naddrs, a6);
    /* the chain's last CNAME names the canonical host */
    for (i = 0; i < a4->nrr; i++)
        if (a4->rr[i].type == DNS_TYPE_CNAME)
            target = a4->rr[i].data;
    for (i = 0; i < a6->nrr && target == NULL; i++)
        if (a6->rr[i].type == DNS_TYPE_CNAME)
            target = a6->rr[i].data;
    if (target != NULL) {
        h->is_cname = true;
        fd = host_finding(
            out, h, "mx-host-is-cname", PB_SEV_WARN,
            "is an alias (CNAME): RFC 2181 section 10.3 forbids an MX "
            "naming an alias, and some senders refuse it");
        pb_finding_remedy(fd,
                          "point the MX at the canonical name %s instead of "
                          "the alias %s",
                          shown(target), h->exchange);
        ev_pair(fd, a4, a6);
    }
    if (h->naddrs == 0 &&
        (dns_answer_is_error(a4) || dns_answer_is_error(a6))) {
        fd = host_finding(out, h, "mx-dns-error", PB_SEV_ERROR,
                          "could not be resolved (A/AAAA lookup failed)");
        pb_finding_remedy(fd,
                          "check that the name servers of %s answer, "
                          "then run the check again",
                          h->exchange);
        ev_pair(fd, a4, a6);
        return;
    }
    if (h->naddrs == 0) {
        fd = host_finding(out, h, "mx-host-no-address", PB_SEV_FAIL,
                          "has no A or AAAA record: mail for the domain "
                          "cannot be delivered there");
        pb_finding_remedy(fd,
                          "publish an A (or AAAA) record for %s, or point "
                          "the MX at a host that has one",
                          h->exchange);
        ev_pair(fd, a4, a6);
        return;
    }
    for (i = 0; i < h->naddrs; i++)
        if (hosts_ip_is_internal(&h->addrs[i]))
            ninternal++;
    if (ninternal == h->naddrs) {
        fd = host_finding(out, h, "mx-host-internal", PB_SEV_WARN,
                          "resolves only to loopback, private or reserved "
                          "addresses: no sender on the Internet can reach it");
        pb_finding_remedy(fd,
                          "publish the public address of %s, or point the MX "
                          "at a host with one",
                          h->exchange);
        ev_pair(fd, a4, a6);
    }
}

static void
audit_hosts(struct dns_resolver *r, struct mx_audit *out,
            const struct dns_answer *mx)
{
    struct dns_question *q;
    const struct dns_answer **a;
    size_t i, n = 0;

    q = pb_xreallocarray(NULL, 2 * out->nhosts, sizeof(*q));
    a = pb_xreallocarray(NULL, 2 * out->nhosts, sizeof(*a));
    for (i = 0; i < out->nhosts; i++) {
        if (!out->hosts[i].is_resolved)
            continue;
        q[n].name = out->hosts[i].exchange;
        q[n++].type = DNS_TYPE_A;
        q[n].name = out->hosts[i].exchange;
        q[n++].type = DNS_TYPE_AAAA;
    }
    /* All exchanges at once: one round trip however many there are. */
    dns_query_many(r, q, n, a);
    /* findings grouped by exchange, in preference order */
    n = 0;
    for (i = 0; i < out->nhosts; i++) {
        struct mx_host *h = &out->hosts[i];

        if (h->is_duplicate) {
            audit_duplicate(out, h, mx);
        } else if (h->is_resolved) {
            audit_addresses(h, out, a[n], a[n + 1]);
            n += 2;
        } else {
            audit_name(out, h, mx);
        }
    }
    free(a);
    free(q);
}

void
mx_audit_run(struct dns_resolver *r, const char *domain, struct mx_audit *out)
{
    const struct dns_answer *mx;
    struct pb_finding *fd;
    size_t i, n;
    bool has_null = false;

    memset(out, 0, sizeof(*out));
    pb_findings_init(&out->findings);
    out->domain = pb_xstrdup(domain != NULL ? domain : "");
    for (i = 0; out->domain[i] != '\0'; i++)
        if (out->domain[i] >= 'A' && out->domain[i] <= 'Z')
            out->domain[i] = (char)(out->domain[i] - 'A' + 'a');
    n = strlen(out->domain);
    if (n > 1 && out->domain[n - 1] == '.')
        out->domain[n - 1] = '\0';

    mx = dns_query(r, out->domain, DNS_TYPE_MX);
    out->mx_status = mx->status;
    snprintf(out->lookup, sizeof(out->lookup), "%s", dns_status_name(mx));
    if (dns_answer_is_error(mx)) {
        fd = pb_findings_add(&out->findings, "mx", "mx-dns-error", PB_SEV_ERROR,
                             "the MX lookup for %s failed: %s", out->domain,
                             dns_status_name(mx));
        pb_finding_remedy(fd,
                          "check that the name servers of %s answer MX "
                          "queries, then run the check again",
                          out->domain);
        ev_mx(fd, mx);
        goto out;
    }
    if (mx->status == DNS_NXDOMAIN) {
        fd = pb_findings_add(
            &out->findings, "mx", "mx-domain-nxdomain", PB_SEV_FAIL,
            "%s does not exist (NXDOMAIN): receivers reject mail from it as "
            "an unknown sender domain",
            out->domain);
        pb_finding_remedy(fd,
                          "register %s or fix its delegation, or send from a "
                          "domain that exists",
                          out->domain);
        ev_mx(fd, mx);
        goto out;
    }

    for (i = 0; i < mx->nrr; i++)
        if (mx->rr[i].type == DNS_TYPE_MX)
            out->nhosts++;
    if (out->nhosts == 0) {
        audit_implicit(r, out, mx);
        goto out;
    }
    out->hosts = pb_xcalloc(out->nhosts, sizeof(*out->hosts));
    n = 0;
    for (i = 0; i < mx->nrr; i++) {
        struct mx_host *h;

        if (mx->rr[i].type != DNS_TYPE_MX)
            continue;
        h = &out->hosts[n++];
        h->preference = mx->rr[i].pref;
        h->exchange = pb_xstrdup(mx->rr[i].data);
        h->is_null = h->exchange[0] == '\0';
        has_null = has_null || h->is_null;
    }
    sort_hosts(out->hosts, out->nhosts);
    if (has_null && out->nhosts == 1) {
        audit_null(out, mx);
        goto out;
    }
    if (out->nhosts > MX_AUDIT_SPF_NAMES) {
        fd = pb_findings_add(&out->findings, "mx", "mx-many", PB_SEV_INFO,
                             "%zu MX records: an SPF \"mx\" mechanism for %s "
                             "would look at more than %d names and fail with "
                             "permerror (RFC 7208 section 4.6.4)",
                             out->nhosts, out->domain, MX_AUDIT_SPF_NAMES);
        pb_finding_remedy(fd,
                          "use ip4:/ip6: or include: instead of \"mx\" in "
                          "the SPF record of %s",
                          out->domain);
        ev_mx(fd, mx);
    }
    classify(out);
    audit_hosts(r, out, mx);
out:
    out->status = pb_findings_status(&out->findings);
}

void
mx_audit_release(struct mx_audit *a)
{
    size_t i;

    if (a == NULL)
        return;
    for (i = 0; i < a->nhosts; i++) {
        free(a->hosts[i].exchange);
        free(a->hosts[i].addrs);
    }
    free(a->hosts);
    free(a->implicit_addrs);
    free(a->domain);
    pb_findings_release(&a->findings);
    memset(a, 0, sizeof(*a));
}
