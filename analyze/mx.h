/* SPDX-License-Identifier: MIT */
/*
 * The MX check of `probe check`: a domain's MX records, the RFC 7505 null
 * MX, the implicit MX of RFC 5321 §5.1 when there is none, and whether
 * each exchange resolves to an address.  Findings "mx-*" are catalogued
 * in docs/findings-hosts.md.
 */
#ifndef PB_ANALYZE_MX_H
#define PB_ANALYZE_MX_H

#include "analyze.h"

/*
 * RFC 7208 §4.6.4: an SPF "mx" mechanism may look at 10 MX names; a
 * domain with more cannot use "mx" in its own SPF record.
 */
#define MX_AUDIT_SPF_NAMES 10

/* One MX record and what its exchange resolves to. */
struct mx_host {
    uint16_t preference;
    /*
     * The exchange as received (see struct dns_rr: lower case, no trailing
     * dot, the root as "", hostile bytes kept); escape on output.
     */
    char *exchange;
    size_t naddrs;
    struct ipaddr *addrs;  /* A then AAAA, as received */
    bool is_null;          /* the exchange is the root "." */
    bool is_ip_literal;    /* "192.0.2.1": an address, not a name */
    bool is_cname;         /* an alias (RFC 2181 §10.3) */
    bool is_duplicate;     /* an earlier record names the same exchange */
    bool is_resolved;      /* A and AAAA were asked (not for null, invalid) */
    enum pb_status status; /* from this exchange's own findings */
};

struct mx_audit {
    char *domain; /* as given, lower-cased */
    enum pb_status status;
    /* The MX answer: DNS_OK (records or NODATA), NXDOMAIN, or an error. */
    enum dns_status mx_status;
    char lookup[16]; /* its status as text: "NOERROR", "SERVFAIL", ... */
    size_t nhosts;
    struct mx_host *hosts; /* by preference, received order among equals */
    bool null_mx;          /* RFC 7505: one MX, exchange "." */
    /* No MX: RFC 5321 §5.1 falls back to the domain's own A/AAAA. */
    bool is_implicit;
    size_t nimplicit;
    struct ipaddr *implicit_addrs;
    struct pb_findings findings; /* check "mx" */
};

/*
 * Audit domain's MX records through r (all exchanges' A and AAAA asked in
 * one dns_query_many) and fill out (cleared on entry; release with
 * mx_audit_release() whatever happened).  DNS outcomes are findings, never
 * failures: a timeout or SERVFAIL is an "error" finding (status error).
 * All record data is untrusted and kept as received.  domain is our
 * caller's (a valid name is expected; an invalid one is an mx-dns-error).
 */
void mx_audit_run(struct dns_resolver *r, const char *domain,
                  struct mx_audit *out);
void mx_audit_release(struct mx_audit *a);

#endif
