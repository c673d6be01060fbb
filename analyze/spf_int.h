/* SPDX-License-Identifier: MIT */
/* Private interface between spf.c, spf_record.c and spf_macro.c. */
#ifndef PB_ANALYZE_SPF_INT_H
#define PB_ANALYZE_SPF_INT_H

#include "analyze.h"
#include "pb_buf.h"

enum spf_kind {
    SPF_K_ALL,
    SPF_K_INCLUDE,
    SPF_K_A,
    SPF_K_MX,
    SPF_K_PTR,
    SPF_K_IP4,
    SPF_K_IP6,
    SPF_K_EXISTS,
    SPF_K_REDIRECT, /* modifiers from here on */
    SPF_K_EXP,
    SPF_K_MODIFIER, /* unknown modifier: checked, then ignored */
};

struct spf_term_def {
    enum spf_kind kind;
    enum spf_result qual; /* mechanisms: PASS, FAIL, SOFTFAIL, NEUTRAL */
    char *text;           /* the term as written */
    char *spec;           /* domain-spec / modifier value, or NULL */
    struct ipaddr net;    /* ip4 / ip6 */
    unsigned cidr4;       /* a, mx, ip4: default 32 */
    unsigned cidr6;       /* a, mx, ip6: default 128 */
};

struct spf_record {
    size_t nterms;
    struct spf_term_def *terms;
    int redirect; /* index into terms, or -1 */
    int exp;      /* index into terms, or -1 */
};

/*
 * Parse an SPF record (untrusted, not NUL-terminated) that begins with
 * "v=spf1" (RFC 7208 §4.5, §4.6, §5, §6, §7.1 ABNF).  The whole record is
 * checked before any term is evaluated (§4.6: syntax errors anywhere are a
 * permerror).  Returns 0, or -1 with our reason in why.  Bounded by
 * PB_LIMIT_SPF_RECORD and PB_LIMIT_SPF_TERMS.
 */
int spf_record_parse(const char *p, size_t len, struct spf_record *rec,
                     char *why, size_t whysize);
void spf_record_release(struct spf_record *rec);
bool spf_kind_queries_dns(enum spf_kind kind);
const char *spf_kind_name(enum spf_kind kind);

/*
 * §4.5: the TXT record of answer a that is an SPF record; *count says how
 * many there are (more than one is a permerror).  NULL when none.
 */
const struct dns_rr *spf_record_select(const struct dns_answer *a,
                                       size_t *count);

/* True when (p, len) starts an SPF version 1 record (§4.5). */
bool spf_record_is_spf1(const char *p, size_t len);

/* Where macro values come from (RFC 7208 §7.2). */
struct spf_macro_ctx {
    const char *sender;        /* s */
    const char *local;         /* l */
    const char *sender_domain; /* o */
    const char *domain;        /* d */
    const char *helo;          /* h */
    const char *receiver;      /* r */
    struct ipaddr ip;          /* i, c, v */
    time_t now;                /* t */
    /* p: the validated domain name of ip; NULL callback gives "unknown". */
    const char *(*validated)(void *arg, const char *domain);
    void *validated_arg;
};

/*
 * Check (ctx NULL) or expand a macro-string (§7.1).  is_exp allows the
 * c, r and t letters and spaces (explain-string).  On success appends the
 * expansion to out (when ctx is set) and returns 0; -1 with a static reason
 * in *why for a syntax error or when out would exceed its limit.
 */
int spf_macro_expand(const struct spf_macro_ctx *ctx, const char *s, size_t len,
                     bool is_exp, struct pb_buf *out, const char **why);

/* §7.1 domain-end: s ends with "." toplabel ["."] or with a macro-expand. */
bool spf_macro_domain_end_ok(const char *s, size_t len);

/*
 * §7.3 / §4.8: expand a domain-spec to a target name: expansion, one
 * trailing dot dropped, truncated from the left to 253 octets by whole
 * labels.  Returns 0 and a malloc'd string in *out, or -1 with *why.
 */
int spf_macro_domain(const struct spf_macro_ctx *ctx, const char *spec,
                     char **out, const char **why);

#endif
