/* SPDX-License-Identifier: MIT */
/*
 * DKIM key records (RFC 6376 §3.6.1, RFC 8463, RFC 8301) and the DKIM part
 * of `probe check`: look up selectors under DOMAIN's _domainkey, named by
 * the user or guessed from a list of common ones, and explain each key.
 * Included at the end of analyze.h; code outside analyze/ includes that.
 */
#ifndef PB_ANALYZE_DKIM_RECORD_H
#define PB_ANALYZE_DKIM_RECORD_H

#include "analyze.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Limits on a key record (outside input).  Over one, dkim_record_parse()
 * rejects the record ("... over the limit"), it never cuts it.
 */
/* One TXT record: RFC 1035 §4.1.3 bounds its RDATA at 65535 octets. */
#define DKIM_LIMIT_RECORD 65535
/* Tags per record: RFC 6376 defines 7 key tags; real records have < 10. */
#define DKIM_LIMIT_TAGS 64
/* Octets of a tag name: the defined ones have 1; leave room for others. */
#define DKIM_LIMIT_TAG_NAME 32
/*
 * Decoded p= octets: RFC 8301 §3.2 asks verifiers for RSA keys up to 4096
 * bits (a 550-octet SubjectPublicKeyInfo); 4096 octets hold 16384 bits.
 */
#define DKIM_LIMIT_KEY 4096

/* The key type of k= (RFC 6376 §3.6.1: rsa is the default). */
enum dkim_key_type {
    DKIM_KEY_RSA = 0,
    DKIM_KEY_ED25519, /* RFC 8463 */
    DKIM_KEY_UNKNOWN, /* any other k= value: the record is unusable */
};

/* How p= holds the key. */
enum dkim_key_form {
    DKIM_FORM_NONE = 0, /* no key: revoked, not decoded or unparsable */
    DKIM_FORM_SPKI,     /* RSA SubjectPublicKeyInfo, as RFC 6376 requires */
    DKIM_FORM_PKCS1,    /* a bare PKCS#1 RSAPublicKey: accepted by some */
    DKIM_FORM_RAW,      /* ed25519: the 32-octet key, RFC 8463 §4.2 */
};

/* A tag value against its one defined spelling. */
enum dkim_match {
    DKIM_MATCH_EXACT = 0, /* as RFC 6376 spells it ("DKIM1", "rsa") */
    DKIM_MATCH_CASE,      /* only in another letter case ("dkim1", "RSA") */
    DKIM_MATCH_NONE,      /* something else */
};

/* h= (bits of hashes): unknown names are ignored (RFC 6376 §3.6.1). */
#define DKIM_HASH_SHA1   0x1u
#define DKIM_HASH_SHA256 0x2u
#define DKIM_HASH_OTHER  0x4u /* a name we do not know */
/* s= (bits of services) */
#define DKIM_SERVICE_ANY   0x1u /* "*" */
#define DKIM_SERVICE_EMAIL 0x2u
#define DKIM_SERVICE_OTHER 0x4u /* "tlsrpt" (RFC 8460) and others */
/* t= (bits of flags) */
#define DKIM_FLAG_TESTING 0x1u /* y: testing, RFC 6376 §3.6.1 */
#define DKIM_FLAG_STRICT  0x2u /* s: i= must be d= exactly */
#define DKIM_FLAG_OTHER   0x4u

struct dkim_tag {
    char name[DKIM_LIMIT_TAG_NAME + 1];
    char *value;   /* without the FWS around it; NUL-terminated */
    size_t len;    /* of value; 0 for an empty value */
    size_t offset; /* where the tag-spec starts in the record */
};

/*
 * A parsed key record.  The tag pointers point into tags (NULL when the
 * tag is absent); the bit sets hold the defaults of RFC 6376 §3.6.1 when
 * their tag is absent or empty.
 */
struct dkim_record {
    size_t ntags;
    struct dkim_tag *tags; /* in record order */
    const struct dkim_tag *tag_v, *tag_k, *tag_h, *tag_s, *tag_t, *tag_n,
        *tag_p;
    bool is_version_first;   /* v= absent, or the first tag */
    enum dkim_match version; /* of v= ("DKIM1"); EXACT when absent */
    enum dkim_key_type key_type;
    enum dkim_match key_case; /* of k=; EXACT when absent */
    unsigned hashes;          /* DKIM_HASH_*; SHA1|SHA256 when h= absent */
    unsigned services;        /* DKIM_SERVICE_*; ANY when s= absent */
    unsigned flags;           /* DKIM_FLAG_*; 0 when t= absent */
    bool is_revoked;          /* p= present and empty (§3.6.1) */
    /* p= decoded (NULL when absent, empty or not base64) */
    unsigned char *key;
    size_t key_len;
    bool is_unpadded; /* base64 without its final "=" padding */
    enum dkim_key_form key_form;
    unsigned key_bits;   /* RSA modulus bits; 256 for ed25519; 0 = none */
    char key_error[192]; /* why p= gives no usable key; "" when it does */
};

/*
 * Parse one DKIM key record (a TXT record's character-strings joined) and
 * inspect its key with OpenSSL.  p is untrusted, not NUL-terminated, and
 * may hold any byte.  Returns -1 when the record is not a valid RFC 6376
 * §3.2 tag-list (bad tag name, missing "=", a byte outside VALCHAR/FWS,
 * a bare CR or LF, an empty tag-spec, a duplicate tag) or over a
 * DKIM_LIMIT_* (record length, tags, tag-name length), with our reason
 * and the offset in why (printable ASCII); out is then empty.  Returns 0
 * otherwise: the meaning of each tag is in out, including problems
 * (wrong v=, unknown k=, a key that is not base64 or does not parse, in
 * key_error), for the caller to judge.  Release out with
 * dkim_record_release().  No I/O.
 */
int dkim_record_parse(const char *p, size_t len, struct dkim_record *out,
                      char *why, size_t whysize);
void dkim_record_release(struct dkim_record *rec);

/*
 * Whether a TXT record is meant as a DKIM key record (and so is judged as
 * one): it starts with v=DKIM (any case, any suffix: "v=DKIM1:" is a broken
 * DKIM record), or it has no v= first and has a p= or k= tag.  A record
 * starting with another v= (v=spf1) is not one (RFC 6376 §3.6.1).
 */
bool dkim_record_looks_like(const char *p, size_t len);

/*
 * Inspect a decoded key: for DKIM_KEY_RSA a SubjectPublicKeyInfo DER
 * (or, second, a PKCS#1 RSAPublicKey), for DKIM_KEY_ED25519 the 32 raw
 * octets.  Returns 0 with the form and bits, or -1 with why ("... not a
 * DER SubjectPublicKeyInfo ...", "an EC key, not an RSA key"); form and
 * bits are then NONE and 0.  key is untrusted; a key longer than
 * DKIM_LIMIT_KEY octets is rejected unread.  Drains the OpenSSL error
 * queue after a failure.
 */
int dkim_key_inspect(enum dkim_key_type type, const unsigned char *key,
                     size_t len, enum dkim_key_form *form, unsigned *bits,
                     char *why, size_t whysize);

/* "rsa", "ed25519", "unknown" */
const char *dkim_key_type_name(enum dkim_key_type t);

/*
 * Check a selector as the user gave it: RFC 6376 §3.1 sub-domains joined
 * by "." (letters, digits, "-"; "_" accepted too, as DNS allows it), 1..63
 * octets per label.  Returns 0, or -1 with a static reason in why.
 */
int dkim_selector_check(const char *sel, const char **why);

/*
 * Selectors guessed when the user names none, each with who uses it (see
 * dkim_record.c).  Providers that put random or account-specific tokens
 * in their selectors (Amazon SES, Postmark, HubSpot, SparkPost) cannot be
 * guessed and are not listed.
 */
extern const char *const dkim_discovery_selectors[];
extern const size_t dkim_discovery_count;

/* What the lookup of one selector found. */
enum dkim_outcome {
    DKIM_FOUND = 0,  /* one DKIM key record or more */
    DKIM_MISSING,    /* NXDOMAIN, or no TXT record */
    DKIM_DANGLING,   /* a CNAME to a name without a TXT record */
    DKIM_OTHER_TXT,  /* TXT records, none a DKIM key record */
    DKIM_DNS_FAILED, /* timeout, SERVFAIL, ...: could not check */
    DKIM_INVALID,    /* the selector or the name is invalid: not asked */
};

/* "found", "not-found", "dangling-cname", "other-txt", "dns-error",
 * "invalid" */
const char *dkim_outcome_name(enum dkim_outcome o);

/* One selector of the audit: what DNS said and what the key is. */
struct dkim_selector {
    char *selector;
    char *name;  /* selector._domainkey.domain, as queried */
    char *cname; /* where its CNAME chain ends (Microsoft 365), or NULL */
    enum dkim_outcome outcome;
    bool is_found;     /* outcome is DKIM_FOUND */
    char *dns_detail;  /* "NXDOMAIN", "TIMEOUT: ...", ... (our words) */
    char *record;      /* the DKIM record as received, or NULL */
    size_t record_len; /* it may hold NULs: use the length */
    size_t nrecords;   /* DKIM records at the name (more than 1 is a
                          failure; record is then the first) */
    bool is_parsed;    /* record is a valid tag-list */
    enum dkim_key_type key_type;
    char *key_type_text; /* k= as written (printable), or NULL */
    enum dkim_key_form key_form;
    unsigned key_bits;     /* 0 when no usable key */
    bool is_testing;       /* t=y */
    bool is_revoked;       /* empty p= */
    char *hash;            /* h= as written (printable), or NULL: all allowed */
    unsigned hashes;       /* DKIM_HASH_* */
    enum pb_status status; /* from this selector's findings */
};

struct dkim_audit {
    enum pb_status status;
    bool discovery; /* no selector named: the common ones were tried */
    size_t ntried;  /* selectors looked up */
    size_t nselectors;
    /* Named: every one, in order; discovery: those with something at
     * the name (a key record, or a CNAME). */
    struct dkim_selector *selectors;
    /* every finding of the check, each naming its selector */
    struct pb_findings findings;
};

/*
 * Audit DKIM for domain: the TXT record at each SELECTOR._domainkey.domain
 * of selectors (nselectors of them, duplicates ignored), or when
 * nselectors is 0, of dkim_discovery_selectors.  All questions are sent
 * together (dns_query_many).  A selector found nowhere is a finding when
 * named, and silence in discovery; DNS failures are `error` findings
 * ("could not check").  Never fails: out is cleared on entry and holds
 * the result; release it with dkim_audit_release().  Finding ids are
 * listed in docs/findings-dkim.md.
 */
void dkim_audit_run(struct dns_resolver *r, const char *domain,
                    const char *const *selectors, size_t nselectors,
                    struct dkim_audit *out);
void dkim_audit_release(struct dkim_audit *a);

#endif
