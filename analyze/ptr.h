/* SPDX-License-Identifier: MIT */
/*
 * The PTR check of `probe check`: for each sending IP, its reverse DNS
 * (PTR), whether a PTR name resolves back to the IP (forward-confirmed
 * reverse DNS, the "iprev" of RFC 8601 §3), and whether the name looks
 * generic (the address digits, "dynamic", "dsl", ...).  Findings "ptr-*"
 * are catalogued in docs/findings-hosts.md.
 */
#ifndef PB_ANALYZE_PTR_H
#define PB_ANALYZE_PTR_H

#include "analyze.h"

/*
 * PTR names per IP looked up forward, as RFC 7208 §5.5 and Postfix do;
 * later names are kept and reported, and a finding says they were not
 * looked up.
 */
#define PTR_AUDIT_MAX_NAMES 10

/* Text of an address: INET6_ADDRSTRLEN. */
#define PTR_IP_TEXT_MAX 46

struct ptr_name {
    /* As received (see struct dns_rr): hostile bytes kept; escape on output. */
    char *name;
    bool is_checked; /* looked up forward (a valid name, within the limit) */
    size_t naddrs;   /* the forward answer: A for IPv4, AAAA for IPv6 */
    struct ipaddr *addrs;
    enum dns_status forward_status; /* DNS_ERROR when not checked */
    char lookup[16];   /* its status as text ("NXDOMAIN"), "" if not checked */
    bool is_confirmed; /* addrs holds the IP */
    bool is_generic;   /* looks like a generic or residential name */
    char generic_why[96]; /* our words: "the address digits 192-0-2-5" */
    bool is_in_domain;    /* within the audited domain */
};

struct ptr_ip {
    struct ipaddr ip;                 /* as given, IPv4-mapped made IPv4 */
    char text[PTR_IP_TEXT_MAX];       /* canonical text */
    char reverse[IPADDR_REVERSE_MAX]; /* the name the PTR was asked at */
    enum dns_status ptr_status;
    char lookup[16]; /* its status as text: "NOERROR", "SERVFAIL", ... */
    size_t nnames;
    struct ptr_name *names; /* as received */
    bool is_confirmed;      /* some name resolves back to the IP */
    bool is_generic;        /* some name looks generic */
    bool is_in_domain;      /* some name is within the audited domain */
    enum pb_status status;  /* from this IP's own findings */
};

struct ptr_audit {
    char *domain; /* the audited domain, or NULL */
    enum pb_status status;
    size_t nips;
    struct ptr_ip *ips;          /* in the order given */
    struct pb_findings findings; /* check "ptr" */
};

/*
 * Check the reverse DNS of ips[0..nips) through r and fill out (cleared on
 * entry; release with ptr_audit_release() whatever happened): all PTR
 * questions in one dns_query_many, then all forward questions in one more.
 * domain (may be NULL) only decides the "within the domain" notes and the
 * names suggested in remedies.  DNS outcomes are findings: a timeout or
 * SERVFAIL is an "error" finding.  PTR names are untrusted and kept as
 * received; at most PTR_AUDIT_MAX_NAMES per IP are looked up.
 */
void ptr_audit_run(struct dns_resolver *r, const char *domain,
                   const struct ipaddr *ips, size_t nips,
                   struct ptr_audit *out);
void ptr_audit_release(struct ptr_audit *a);

/*
 * True when name looks like a generic, dynamic or residential PTR for ip:
 * the address digits in a common form (192-0-2-5, 192.0.2.5, 5.2.0.192,
 * 192000002005, c0000205; for IPv6 the 32 nibbles or the groups joined by
 * '-' or '.'), or a token such as dynamic, dhcp, pool, ppp, dsl, cable,
 * broadband, client, customer, static-ip or ip-<digits> in a label left
 * of the last two.  why (our words, size bytes) says which.  Pure: name
 * is untrusted text (any bytes, NUL-terminated).
 */
bool ptr_name_is_generic(const char *name, const struct ipaddr *ip, char *why,
                         size_t size);

#endif
