/* SPDX-License-Identifier: MIT */
/*
 * The block list check of `probe check`: DNS block lists (RFC 5782) asked
 * about each sending IP and about the domain, with the meaning of each
 * return code, and the lists' error answers (Spamhaus 127.255.255.x, a
 * resolver answering outside 127.0.0.0/8) told apart from listings.
 * Findings "dnsbl-*" are catalogued in docs/findings-hosts.md.
 */
#ifndef PB_ANALYZE_DNSBL_H
#define PB_ANALYZE_DNSBL_H

#include "analyze.h"

/*
 * Longest zone name: the query name of an IPv4 address is 16 octets
 * ("255.255.255.255.") plus the zone, at most 253 (RFC 1035 §2.3.4).
 * IPv6 queries (64 octets of nibbles) need a zone of at most 189; a
 * longer zone is skipped for IPv6 with a finding.
 */
#define DNSBL_ZONE_MAX      237
#define DNSBL_ZONE_MAX_IPV6 189

enum dnsbl_kind {
    DNSBL_KIND_IP = 0, /* reversed IPv4 octets or IPv6 nibbles + zone */
    DNSBL_KIND_DOMAIN, /* the domain + zone (RHSBL, RFC 5782 §2.2) */
};

enum dnsbl_code_kind {
    DNSBL_CODE_LISTED = 0, /* a listing: mail is blocked (fail) */
    DNSBL_CODE_POLICY,     /* a policy listing such as Spamhaus PBL (warn) */
    DNSBL_CODE_ERROR,      /* the list's error answer: could not check */
};

/*
 * A return code, or a range of them (127.0.0.4 - 127.0.0.7), as IPv4
 * addresses in host order (127.0.0.4 is 0x7f000004).
 */
struct dnsbl_code {
    uint32_t first, last;
    enum dnsbl_code_kind kind;
    const char *meaning; /* static: "SBL: Spamhaus Block List" */
};

struct dnsbl_zone {
    char zone[DNSBL_ZONE_MAX + 1]; /* lower case, no trailing dot */
    enum dnsbl_kind kind;
    const char *name;    /* static display name ("Spamhaus ZEN"), or NULL */
    bool lists_ipv6;     /* answers IPv6 queries (IP lists only) */
    bool is_spamhaus;    /* 127.255.255.x are error answers */
    const char *removal; /* static delisting URL, or NULL */
    /*
     * Known return codes (static), NULL for a list we know nothing of:
     * then any 127.0.0.0/8 answer means "listed".  A code of a known list
     * that is not among them is "listed" with an "undocumented" meaning.
     */
    const struct dnsbl_code *codes;
    size_t ncodes;
};

/*
 * The default zones: Spamhaus ZEN (IP, IPv6 too) and DBL (domain),
 * Barracuda BRBL and SpamCop (IP, IPv4 only), with their return codes
 * (notes/providers.md (f)).  Static storage; *n gets the count.
 */
const struct dnsbl_zone *dnsbl_default_zones(size_t *n);

/*
 * Parse a zone given on the command line: "ZONE" (an IP list), "ip:ZONE"
 * or "domain:ZONE" (prefix case-insensitive).  ZONE is a domain name of
 * letters, digits, '-' and '_' in labels of 1..63 octets that do not start
 * or end with '-', at most DNSBL_ZONE_MAX octets, at least two labels; one
 * trailing dot is dropped and it is lower-cased.  A zone that is one of
 * the defaults with the same kind gets its codes and flags; any other gets
 * none ("listed" for any 127.x answer) and IPv4 queries only.  Returns 0,
 * or -1 with PB_E_USAGE (PB_E_LIMIT for a zone or label over its limit).
 * spec is untrusted text (NUL-terminated).
 */
int dnsbl_zone_parse(const char *spec, struct dnsbl_zone *out,
                     struct pb_err *err);

enum dnsbl_state {
    DNSBL_NOT_LISTED = 0,  /* NXDOMAIN (or NODATA) */
    DNSBL_LISTED,          /* a listing or policy code */
    DNSBL_COULD_NOT_CHECK, /* an error code, an answer outside 127/8,
                              a timeout or another RCODE */
    DNSBL_SKIPPED,         /* not asked: IPv6 on an IPv4-only list */
};

const char *dnsbl_state_name(enum dnsbl_state s); /* "not-listed", ... */

/* One return code received, with what it means. */
struct dnsbl_answer_code {
    struct ipaddr addr; /* as received (IPv4, or an AAAA we never ask) */
    enum dnsbl_code_kind kind;
    const char *meaning; /* static */
    bool is_outside;     /* not in 127.0.0.0/8 */
};

struct dnsbl_result {
    char *target; /* the IP as text, or the domain */
    bool is_ip;
    size_t zone; /* index into the audit's zones */
    char *qname; /* the name asked, or NULL when skipped */
    enum dnsbl_state state;
    size_t ncodes;
    struct dnsbl_answer_code *codes;
    /*
     * The TXT at the same name, asked when listed or on an error code, its
     * records joined by " | " (untrusted bytes, may hold NULs); or NULL.
     */
    char *txt;
    size_t txt_len;
    char dns_status[16];   /* "NXDOMAIN", "NOERROR", "TIMEOUT", ... */
    enum pb_status status; /* from this result's findings */
};

struct dnsbl_audit {
    enum pb_status status;
    size_t nzones;
    struct dnsbl_zone *zones; /* copies of the zones asked */
    size_t nresults;
    struct dnsbl_result *results; /* by target (IPs, then domain), by zone */
    struct pb_findings findings;  /* check "dnsbl" */
};

/*
 * Ask every zone about every IP (IP lists) and about domain (domain
 * lists; domain may be NULL) through r, all A questions in one
 * dns_query_many and the TXT of every listed name in one more, and fill
 * out (cleared on entry; release with dnsbl_audit_release() whatever
 * happened).  zones may be dnsbl_default_zones().  Answers are untrusted:
 * only 127.0.0.0/8 counts as a code, Spamhaus' 127.255.255.x and
 * 127.0.1.255 are "could not check", never "listed".
 */
void dnsbl_audit_run(struct dns_resolver *r, const char *domain,
                     const struct ipaddr *ips, size_t nips,
                     const struct dnsbl_zone *zones, size_t nzones,
                     struct dnsbl_audit *out);
void dnsbl_audit_release(struct dnsbl_audit *a);

#endif
