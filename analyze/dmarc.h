/* SPDX-License-Identifier: MIT */
/*
 * DMARC for `probe check`: the policy record parser (RFC 9989 §4.7, §4.8;
 * RFC 7489 §6.3, §6.4), the organizational domain by the public suffix list
 * (RFC 7489 §3.2) and by the DNS tree walk (RFC 9989 §4.10), policy
 * discovery (RFC 9989 §4.10.1, RFC 7489 §6.6.3) and the verification of
 * external report destinations (RFC 7489 §7.1, RFC 9990 §4, RFC 9991 §5).
 */
#ifndef PB_ANALYZE_DMARC_H
#define PB_ANALYZE_DMARC_H

#include "analyze.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * RFC 9989 §4.10: a tree walk makes at most eight queries; a name of eight
 * labels or more is shortened to seven after the first query.
 */
#define DMARC_TREE_WALK_MAX    8
#define DMARC_TREE_WALK_LABELS 7

/*
 * External destinations verified per record (distinct host names).  RFC
 * 7489 §6.2 only asks receivers to report to two URIs; real records list
 * up to four or five.  Beyond this the rest is reported as not checked.
 */
#define DMARC_VERIFY_MAX 16

enum dmarc_policy {
    DMARC_POLICY_ABSENT = 0, /* tag not given (or given with a bad value) */
    DMARC_POLICY_NONE,
    DMARC_POLICY_QUARANTINE,
    DMARC_POLICY_REJECT,
};

enum dmarc_align {
    DMARC_ALIGN_RELAXED = 0, /* the default, "r" */
    DMARC_ALIGN_STRICT,
};

enum dmarc_psd {
    DMARC_PSD_U = 0, /* the default */
    DMARC_PSD_Y,
    DMARC_PSD_N,
};

/* Failure reporting options, fo= (RFC 9989 §4.7); 0 means "0". */
#define DMARC_FO_0 0x1u
#define DMARC_FO_1 0x2u
#define DMARC_FO_D 0x4u
#define DMARC_FO_S 0x8u

/* What became of an external report destination's authorization. */
enum dmarc_auth {
    DMARC_AUTH_NOT_NEEDED = 0, /* same organizational domain, or not
                                  checked because the URI is unusable */
    DMARC_AUTH_YES,            /* a v=DMARC1 record at the _report name */
    DMARC_AUTH_NO,             /* none there: reports will be dropped */
    DMARC_AUTH_DNS_ERROR,      /* the query failed */
    DMARC_AUTH_NOT_CHECKED,    /* past DMARC_VERIFY_MAX destinations */
};

/* One tag as written: name lower-cased, value with WSP trimmed. */
struct dmarc_tag {
    char *name;  /* 1*ALPHA */
    char *value; /* printable ASCII (tags with other bytes are dropped) */
};

/* One rua= or ruf= URI. */
struct dmarc_uri {
    char *uri;      /* as written, with any !size suffix; printable ASCII */
    char *address;  /* mailto: the address, percent-decoded, else NULL */
    char *domain;   /* mailto: its domain, lower case, else NULL */
    bool has_size;  /* an obsolete "!size" suffix (RFC 9989 §4.8) */
    bool is_mailto; /* scheme "mailto" (receivers must support only that) */
    bool is_valid;  /* a mailto: URI whose address and domain are usable */
    /* Filled by dmarc_audit_run(); the parser leaves them zero. */
    bool is_external;     /* other organizational domain than the policy */
    enum dmarc_auth auth; /* the verification of an external destination */
    char *auth_name;      /* the name queried, or NULL */
};

/*
 * A parsed DMARC policy record.  Every known tag is kept as a value with
 * its default where absent; all tags are also kept as written in tags[].
 */
struct dmarc_record {
    char *raw; /* the record as received (may hold any byte) */
    size_t raw_len;
    size_t ntags;
    struct dmarc_tag *tags;
    enum dmarc_policy p, sp, np;
    bool has_bad_policy; /* p, sp or np present with an invalid value */
    enum dmarc_align adkim, aspf;
    enum dmarc_psd psd;
    bool is_testing; /* t=y */
    unsigned fo;     /* DMARC_FO_* bits; 0 = absent, which means "0" */
    int pct;         /* removed by RFC 9989; -1 when absent or invalid */
    size_t nrua, nruf;
    struct dmarc_uri *rua, *ruf;
};

/*
 * Parse one TXT record (untrusted: any bytes, not NUL-terminated) as a DMARC
 * policy record.  It is one only if it starts with the version tag "v=DMARC1"
 * (RFC 9989 §4.7: first, value case-sensitive) followed by ";" or the end;
 * else returns -1 with PB_E_SYNTAX and our reason in err->msg (a record to
 * ignore, RFC 9989 §4.10 step 2).  Over PB_LIMIT_DNS_RDATA bytes: -1 with
 * PB_E_LIMIT.  On 0, out holds the tags (release with dmarc_record_release)
 * and every grammar problem, invalid value, removed, unknown or duplicate
 * tag and unusable URI is added to syntax (may be NULL) as a "dmarc"
 * finding with the record as evidence: such parts are ignored and defaults
 * apply (RFC 9989 §4.8).  Pure: no I/O.
 */
int dmarc_record_parse(const char *p, size_t len, struct dmarc_record *out,
                       struct pb_findings *syntax, struct pb_err *err);
void dmarc_record_release(struct dmarc_record *rec);

/* "none", "quarantine", "reject", or NULL for DMARC_POLICY_ABSENT. */
const char *dmarc_policy_name(enum dmarc_policy p);

/*
 * The organizational domain of domain by the public suffix list (RFC 7489
 * §3.2), through libpsl with its ICANN and private sections: the public
 * suffix plus one label ("example.co.uk", "user.github.io").  domain is
 * text as in dns_rr (ASCII, A-labels), any case, one trailing dot allowed;
 * out gets it lower-cased without the dot.  Returns -1 when domain is itself
 * a public suffix ("co.uk", "com"), when no list is available, or when out
 * is too small.  The list is libpsl's built-in one, or the publicsuffix
 * package's file when that is newer.
 */
int dmarc_org_domain_psl(const char *domain, char *out, size_t size);

/*
 * The names a DNS tree walk queries under _dmarc for domain (RFC 9989
 * §4.10 steps 3, 4 and 7): domain itself, then its parents one label at a
 * time; a name of more than DMARC_TREE_WALK_MAX labels jumps to its last
 * DMARC_TREE_WALK_LABELS labels after the first.  Writes pointers into
 * domain (suffixes of it) to out and returns how many (at most
 * DMARC_TREE_WALK_MAX, 0 for "").  Pure.
 */
size_t dmarc_tree_walk_targets(const char *domain,
                               const char *out[DMARC_TREE_WALK_MAX]);

/* One query of a tree walk, and what it held. */
struct dmarc_walk_step {
    char *domain;                    /* the name under _dmarc */
    const struct dns_answer *answer; /* borrowed from the resolver */
    size_t ndmarc;                   /* TXT records that parse as v=DMARC1 */
    size_t record_index; /* with ndmarc == 1: its index in answer->rr */
    enum dmarc_psd psd;  /* with ndmarc == 1: its psd= value */
};

struct dmarc_walk {
    size_t nsteps;
    struct dmarc_walk_step steps[DMARC_TREE_WALK_MAX];
    size_t nconsidered; /* steps up to the one whose psd= stopped the walk */
    /*
     * RFC 9989 §4.10.2: the organizational domain; NULL when a DNS error
     * on a considered step leaves it undecided.
     */
    char *org_domain;
    /* RFC 9989 §4.10.1: the step whose record is the policy, or -1. */
    int policy_step;
    bool is_psd_policy; /* that record is a public suffix's (psd=y) */
    int error_step;     /* first considered step that failed, or -1 */
};

/*
 * Run the DNS tree walk for domain (lower case, no trailing dot, valid
 * per dns_name_check) with all its queries in one dns_query_many() batch,
 * and select the organizational domain (§4.10.2) and the policy record
 * (§4.10.1).  A step holding several v=DMARC1 records counts as holding
 * none (§4.10 step 2).  Release with dmarc_walk_release().
 */
void dmarc_tree_walk(struct dns_resolver *r, const char *domain,
                     struct dmarc_walk *out);
void dmarc_walk_release(struct dmarc_walk *w);

/* The DMARC check of `probe check DOMAIN`. */
struct dmarc_audit {
    enum pb_status status; /* from findings */
    char *domain;          /* as checked: lower case, no trailing dot */
    char *record;          /* the record that applies, as received, or NULL */
    size_t record_len;
    char *found_at; /* the domain whose _dmarc name held it, or NULL */
    /* "domain", "tree-walk" or "psl": the method that found it, or NULL */
    const char *found_by;
    char *found_at_psl;    /* where RFC 7489 §6.6.3 (PSL) finds it, or NULL */
    char *found_at_tree;   /* where RFC 9989 §4.10.1 finds it, or NULL */
    char *org_domain_psl;  /* NULL when domain is a public suffix */
    char *org_domain_tree; /* NULL when a DNS error left it undecided */
    bool has_record;       /* rec holds the parsed record */
    struct dmarc_record rec;
    /* The policy that applies to mail from domain (an existing name). */
    enum dmarc_policy effective;
    struct dmarc_walk walk;
    struct pb_findings findings;
};

/*
 * Audit the DMARC setup of domain (text: A-labels, any case, one trailing
 * dot allowed) against resolver r and fill out (cleared on entry; release
 * with dmarc_audit_release()).  Never fails: an invalid domain or a DNS
 * failure is an "error" finding, everything about the domain a finding
 * (ids in docs/findings-dmarc.md).  Two dns_query_many() rounds: the
 * _dmarc names of the walk, then the _report._dmarc names of external
 * destinations.
 */
void dmarc_audit_run(struct dns_resolver *r, const char *domain,
                     struct dmarc_audit *out);
void dmarc_audit_release(struct dmarc_audit *a);

#endif
