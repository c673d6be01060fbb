/* SPDX-License-Identifier: MIT */
/*
 * pb_analyze: the public interface of analyze/ -- IP addresses, the DNS
 * resolver (real DNS through c-ares, or a JSON fixture), and the RFC 7208
 * SPF engine.  Code outside analyze/ includes only this header.
 */
#ifndef PB_ANALYZE_ANALYZE_H
#define PB_ANALYZE_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pb_err.h"
#include "pb_finding.h"

/* ------------------------------------------------------------------ */
/* IP addresses (ipaddr.c)                                             */

struct ipaddr {
    int family;          /* 4 or 6 */
    unsigned char a[16]; /* network order; IPv4 uses a[0..3] */
};

/*
 * Parse a textual IPv4 or IPv6 address (no brackets, no prefix, no zone).
 * Returns 0, or -1 for anything else.  An IPv4-mapped IPv6 address stays
 * family 6; ipaddr_unmap() turns it into IPv4.
 */
int ipaddr_parse(const char *s, struct ipaddr *ip);
/* If ip is ::ffff:a.b.c.d, make it the IPv4 address a.b.c.d. */
void ipaddr_unmap(struct ipaddr *ip);
/* True when ip lies in net/prefix (same family; prefix within 0..32/128). */
bool ipaddr_in(const struct ipaddr *ip, const struct ipaddr *net,
               unsigned prefix);
/* Canonical text (RFC 5952 for IPv6) into buf (INET6_ADDRSTRLEN is enough). */
void ipaddr_format(const struct ipaddr *ip, char *buf, size_t size);
/* The reverse-lookup name: "4.3.2.1.in-addr.arpa" or nibbles "ip6.arpa". */
void ipaddr_reverse(const struct ipaddr *ip, char *buf, size_t size);
#define IPADDR_REVERSE_MAX 74 /* 32 nibbles * 2 + "ip6.arpa" + NUL */

/* ------------------------------------------------------------------ */
/* DNS (dns_query.c, dns_wire.c, dns_ares.c, dns_fixture.c)            */

/* SOA has a name here only; queries of it answer DNS_ERROR (see dns_query). */
enum dns_type {
    DNS_TYPE_A = 1,
    DNS_TYPE_NS = 2,
    DNS_TYPE_CNAME = 5,
    DNS_TYPE_SOA = 6,
    DNS_TYPE_PTR = 12,
    DNS_TYPE_MX = 15,
    DNS_TYPE_TXT = 16,
    DNS_TYPE_AAAA = 28,
    DNS_TYPE_SPF = 99,
};

enum dns_status {
    DNS_OK = 0,   /* RCODE 0; nrr of the asked type may be 0 (NODATA) */
    DNS_NXDOMAIN, /* RCODE 3: the name does not exist */
    DNS_RCODE,    /* another RCODE (SERVFAIL, REFUSED, ...): see rcode */
    DNS_TIMEOUT,  /* no answer within the timeout and retries */
    DNS_ERROR,    /* malformed answer, network failure, invalid name,
                     unsupported type */
};

/*
 * Names here are text: labels joined by ".", ASCII letters lower-cased,
 * no trailing dot, the root as "" (an RFC 7505 null MX).  Other bytes of
 * a label are kept as they are (hostile names may hold any), except NUL
 * and "." inside a label, written "\000" and "\046" (RFC 1035 §5.1).
 */
struct dns_rr {
    uint16_t type;
    uint16_t pref;          /* MX preference */
    char *owner;            /* as above */
    unsigned char addr[16]; /* A: 4 bytes, AAAA: 16 bytes */
    /*
     * TXT/SPF: the character-strings concatenated (may hold NULs and 8-bit
     * bytes); MX/PTR/CNAME/NS: the target name as above.  NUL-terminated.
     */
    char *data;
    size_t len;
    size_t nstr;     /* TXT/SPF: number of character-strings */
    size_t *strlens; /* TXT/SPF: their lengths, in order */
};

struct dns_answer {
    char *qname; /* lower case, no trailing dot (an invalid
                    name: as given, escaped) */
    uint16_t qtype;
    enum dns_status status;
    int rcode; /* the response code received, else -1 */
    /*
     * Our words for TIMEOUT and ERROR, and for an RCODE the fixture made up
     * ("CNAME loop at ..."); else "".  Printable ASCII.
     */
    char detail[160];
    size_t nrr;
    /* The answer section: CNAME records in chain order, then the rest. */
    struct dns_rr *rr;
};

/*
 * How many records of type t the answer holds (the chain's CNAMEs count
 * only when t is DNS_TYPE_CNAME).
 */
size_t dns_answer_count(const struct dns_answer *a, uint16_t t);
/* RFC 7208 §4.6.4: NXDOMAIN, or RCODE 0 with no record of the asked type. */
bool dns_answer_is_void(const struct dns_answer *a);
/* TIMEOUT, ERROR or an RCODE other than 0 and 3. */
bool dns_answer_is_error(const struct dns_answer *a);
/* "NOERROR", "NXDOMAIN", "SERVFAIL", "TIMEOUT", ... for display. */
const char *dns_status_name(const struct dns_answer *a);
const char *dns_type_name(uint16_t type);
/* Type from its name ("TXT", case-insensitive); 0 when unknown. */
uint16_t dns_type_from_name(const char *name);
/* Response code from its name ("SERVFAIL"); -1 when unknown. */
int dns_rcode_from_name(const char *name);
const char *dns_rcode_name(int rcode);

/*
 * Check a domain name given as text: 1..253 octets without a trailing dot
 * (one trailing dot is allowed and ignored), labels 1..63 octets, printable
 * ASCII, space included (labels may hold any octet, RFC 2181 §11, and
 * RFC 7208 macros expand to names with spaces that the SPF test suite
 * resolves).  Returns 0 or -1 with a static reason in why.
 */
int dns_name_check(const char *name, size_t len, const char **why);

struct dns_options {
    /*
     * "IP", "IP:PORT", "[IPV6]" or "[IPV6]:PORT" (a bare IPv6 address is
     * taken whole; no host names); port 53 by default; NULL = resolv.conf.
     */
    const char *server;
    const char *fixture; /* path of a JSON fixture; wins over server */
    int timeout_ms;      /* per try; 0 = default (2000) */
    int tries;           /* 0 = default (2) */
};

struct dns_question {
    const char *name;
    uint16_t type;
};

struct dns_resolver;

/*
 * Make a resolver: the fixture back end when opt->fixture is set (the file
 * is read and checked now: PB_E_IO, PB_E_LIMIT, PB_E_SYNTAX with
 * "file:line:col: ..." or "file: .path: expected ..."), else c-ares against
 * opt->server or the system resolv.conf (PB_E_USAGE for a bad server or a
 * negative timeout or tries, PB_E_INTERNAL when c-ares cannot start).
 * opt may be NULL for the defaults.  Every answer is cached for the
 * resolver's life, at most PB_LIMIT_DNS_CACHE of them.
 */
int dns_resolver_new(const struct dns_options *opt, struct dns_resolver **out,
                     struct pb_err *err);
/*
 * A resolver for another thread that shares parent's answers: each
 * question is sent once per run whichever thread asks it first, and a
 * thread asking a question in flight waits for that answer.  The fork has
 * its own connection (c-ares channel) with the parent's options, or reads
 * the parent's fixture.  Make forks from one thread before the others
 * start; free them before the parent.  PB_E_INTERNAL when c-ares cannot
 * start.
 */
int dns_resolver_fork(struct dns_resolver *parent, struct dns_resolver **out,
                      struct pb_err *err);
void dns_resolver_free(struct dns_resolver *r);

/*
 * Answer one question.  Never fails: DNS outcomes, timeouts and invalid
 * names are in the answer's status.  Types other than A, NS, CNAME, PTR,
 * MX, TXT, AAAA and SPF and invalid names (dns_name_check) answer
 * DNS_ERROR without being sent.  Past PB_LIMIT_DNS_CACHE answers in one
 * run, new answers are no longer shared or cached: they stay valid until
 * dns_resolver_forget() (and a recording of such a run is refused).  A CNAME
 * chain is followed (except for a CNAME question).  The answer is owned by the
 * resolver and valid until dns_resolver_free().
 */
const struct dns_answer *dns_query(struct dns_resolver *r, const char *name,
                                   uint16_t type);

/*
 * Answer n questions with all of them in flight at once (the real back end
 * sends them together, and the whole batch gets timeout * tries per
 * server).  out[i] answers q[i]; ownership as dns_query().
 */
void dns_query_many(struct dns_resolver *r, const struct dns_question *q,
                    size_t n, const struct dns_answer **out);

/*
 * Free the answers this resolver gave after the run's cache filled up
 * (PB_LIMIT_DNS_CACHE): until then they stay valid, so call this only
 * when no answer of the current piece of work (a domain of a batch) is
 * in use.  Answers in the cache are not affected.
 */
void dns_resolver_forget(struct dns_resolver *r);

/* Questions sent to the back end so far (cache hits not counted). */
size_t dns_resolver_sent(const struct dns_resolver *r);

/*
 * Write every answer this resolver got from its back end, in first-asked
 * order, in the fixture format (2-space indented JSON) to path ("-" for
 * stdout), so the run can be replayed with --dns-fixture and the same
 * questions get the same answers.  Beyond PRODUCT.md's format it may
 * write, per type, {"rcode": CODE, "detail": TEXT} and {"error": TEXT},
 * and {"hex": "..."} for a TXT character-string or a name that is not
 * UTF-8 text; the fixture loader reads them.  PB_E_IO on failure,
 * PB_E_LIMIT past PB_LIMIT_FIXTURE_BYTES.
 */
int dns_resolver_record(const struct dns_resolver *r, const char *path,
                        struct pb_err *err);

/* ------------------------------------------------------------------ */
/* SPF, RFC 7208 check_host() (spf.c, spf_record.c, spf_macro.c)       */

enum spf_result {
    SPF_NONE = 0,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR,
};

const char *spf_result_name(enum spf_result r);

struct spf_request {
    struct ipaddr ip;     /* the SMTP client; IPv4-mapped is treated as IPv4 */
    const char *sender;   /* MAIL FROM; "" or NULL means use the HELO */
    const char *helo;     /* HELO/EHLO name; may be NULL */
    const char *receiver; /* for %{r}; NULL = "unknown" */
    time_t now;           /* for %{t}; 0 = time(NULL) */
};

/* One DNS question a term caused, and what came back. */
struct spf_lookup {
    const struct dns_answer *answer; /* borrowed from the resolver */
    bool is_void;
};

enum spf_outcome {
    SPF_TERM_NOMATCH = 0,
    SPF_TERM_MATCH,
    SPF_TERM_ERROR,   /* the term produced temperror or permerror */
    SPF_TERM_SKIPPED, /* not reached: an earlier term decided */
};

struct spf_node;

struct spf_term {
    char *text;   /* the term as written in the record */
    char *target; /* expanded domain-spec, or NULL */
    enum spf_outcome outcome;
    char *note; /* what happened, in our words, or NULL */
    size_t nlookups;
    struct spf_lookup *lookups;
    struct spf_node *child; /* include: and redirect= */
};

struct spf_node {
    char *domain;
    char *record; /* the selected SPF record, or NULL */
    enum spf_result result;
    char *reason;    /* why this result, in our words */
    size_t nlookups; /* the record lookup (TXT) of this domain */
    struct spf_lookup *lookups;
    size_t nterms;
    struct spf_term *terms;
};

struct spf_check {
    enum spf_result result;
    char *domain;              /* the domain checked (from sender or HELO) */
    char *sender;              /* the sender as evaluated (postmaster@...) */
    char *explanation;         /* on fail: from exp= or our default */
    bool explanation_from_exp; /* true when the domain's exp= gave it */
    char *reason;              /* one sentence: what decided the result */
    unsigned dns_lookups; /* DNS-querying terms counted (RFC 7208 §4.6.4) */
    unsigned void_lookups;
    struct spf_node *root; /* the evaluation tree; NULL when not reached */
};

/*
 * Run check_host() for req against resolver r and fill out (cleared on
 * entry; release with spf_check_release()).  Every SPF outcome, including
 * temperror and permerror, is a result, not a failure; returns -1 only for
 * an unusable request (no sender and no HELO), with PB_E_USAGE.
 */
int spf_check_host(struct dns_resolver *r, const struct spf_request *req,
                   struct spf_check *out, struct pb_err *err);
void spf_check_release(struct spf_check *c);

/* ------------------------------------------------------------------ */
/* SPF audit for `probe check` (spf_audit.c)                           */

/*
 * One record of the include/redirect tree, walked whatever the client
 * IP: the worst case a receiver can meet.  Terms whose domain-spec holds
 * macros depend on the sender and are counted but not followed.
 */
struct spf_tree {
    char *domain;
    char *record;           /* the SPF record, or NULL */
    char *problem;          /* why this node is broken (our words), or NULL */
    unsigned lookups;       /* DNS-querying terms of this record */
    unsigned void_lookups;  /* void answers of its a, mx, ptr, exists terms */
    unsigned total_lookups; /* this record and everything under it */
    unsigned total_voids;
    size_t nchildren;
    struct spf_tree_child {
        char *term;            /* "include:x" or "redirect=x" as written */
        bool is_dynamic;       /* macros: not followed */
        struct spf_tree *node; /* NULL when dynamic or not reached */
    } * children;
};

struct spf_ip_result {
    struct ipaddr ip;
    enum spf_result result;
    unsigned dns_lookups;
    unsigned void_lookups;
    char *reason;
    char *explanation;
};

struct spf_audit {
    enum pb_status status;
    char *record;         /* the domain's SPF record, or NULL */
    size_t nstrings;      /* its character-strings */
    unsigned dns_lookups; /* worst case over the whole tree */
    unsigned void_lookups;
    struct spf_tree *tree; /* NULL without a record */
    size_t nips;
    struct spf_ip_result *ips;
    struct pb_findings findings;
};

/*
 * Audit the SPF setup of domain: the record (present, one, syntax, size,
 * how its strings join), the include tree with lookup and void counts per
 * node and in the worst case, risky terms (+all, ?all, no all, ptr), and
 * check_host() for each of ips (sender postmaster@domain).  DNS outcomes
 * become findings; out is cleared on entry, release it with
 * spf_audit_release().
 */
void spf_audit_run(struct dns_resolver *r, const char *domain,
                   const struct ipaddr *ips, size_t nips,
                   struct spf_audit *out);
void spf_audit_release(struct spf_audit *a);

/* ------------------------------------------------------------------ */
/* The checks of `probe check`, one header each, included here so that  */
/* code outside analyze/ still includes only analyze.h.                 */

#include "dkim_record.h" /* DKIM key records and selector discovery */
#include "dkim_verify.h" /* DKIM signatures verified against their keys */
#include "dmarc.h"       /* DMARC record, organizational domain, rua/ruf */
#include "mx.h"          /* MX records, null MX, exchange addresses */
#include "ptr.h"         /* reverse DNS / FCrDNS of sending IPs */
#include "dnsbl.h"       /* DNS block lists for IPs and the domain */
#include "reject.h"      /* which check refused the mail: rules as data */
#include "authres.h"     /* Authentication-Results parsed, and trusted */
#include "dsn.h"         /* bounces: DSNs and MTAs' own wordings */

#endif
