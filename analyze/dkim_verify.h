/* SPDX-License-Identifier: MIT */
/*
 * DKIM signature verification (RFC 6376 §6, RFC 8463, RFC 8301): every
 * DKIM-Signature of a message checked against its key in DNS, with an
 * RFC 8601 dkim= result per signature and the reason in our words.  Used
 * as evidence beside a receiver's Authentication-Results.  Included at the
 * end of analyze.h; code outside analyze/ includes that.
 */
#ifndef PB_ANALYZE_DKIM_VERIFY_H
#define PB_ANALYZE_DKIM_VERIFY_H

#include "analyze.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pb_dkim_canon.h"
#include "pb_err.h"
#include "pb_limits.h"

/*
 * Limits (outside input).  Over one, a signature is a permerror ("... over
 * the limit"); it is never cut.  The message itself is bounded by the
 * splitter: PB_LIMIT_MSG_BYTES, PB_LIMIT_MSG_FIELDS, PB_LIMIT_MSG_FIELD.
 */
/* Signatures verified per message: one or two per signer (RFC 8463 §4
 * suggests RSA and Ed25519), a few more for forwarders and lists; those
 * past it are counted, not verified. */
#define DKIM_VERIFY_MAX_SIGNATURES 16
/* Names in one h= list: real lists have under 50 (oversigned included). */
#define DKIM_VERIFY_MAX_HEADERS 256
/* Decoded b= octets: a 16384-bit RSA signature, the largest key
 * DKIM_LIMIT_KEY lets dkim_record_parse() accept. */
#define DKIM_VERIFY_MAX_B 2048
/* i= octets: RFC 5321 §4.5.3.1 local-part (64) in dkim-quoted-printable
 * (3 octets each), "@" and a domain name (253). */
#define DKIM_VERIFY_MAX_IDENTITY 446
/* Seconds a t= may lie ahead of our clock before it is flagged. */
#define DKIM_VERIFY_CLOCK_SKEW 300

/*
 * RFC 8601 §2.7.1 dkim= results.  The verifier gives each one thus:
 * pass      the signature verified.
 * fail      it did not: body hash or signature mismatch, a body shorter
 *           than l=, or an RSA key under 1024 bits (RFC 8301 §3.2: not
 *           valid, whatever the signature).
 * policy    rsa-sha1 that verified: RFC 8301 §3.1 says verifiers must not
 *           consider it valid, but it is no forgery (fail when it did not
 *           verify).
 * neutral   a fail or policy result while the key is in testing mode
 *           (t=y): RFC 6376 §3.6.1 asks receivers to treat the message as
 *           unsigned.  The reason stays the underlying one.
 * temperror the key lookup timed out or answered SERVFAIL (or another
 *           error RCODE): a later try may tell.
 * permerror the signature or its key cannot be used: syntax, required tag
 *           missing, v= not 1, unknown a= / c= / q=, invalid d= or s=,
 *           i= outside d=, From not signed, x= expired, key missing,
 *           revoked, malformed, of another type or service, or limited
 *           to other hashes or to d= exactly (t=s).
 * none      no signature (only as the result of a message).
 */
enum dkim_verify_status {
    DKIM_VERIFY_NONE = 0,
    DKIM_VERIFY_PASS,
    DKIM_VERIFY_FAIL,
    DKIM_VERIFY_POLICY,
    DKIM_VERIFY_NEUTRAL,
    DKIM_VERIFY_TEMPERROR,
    DKIM_VERIFY_PERMERROR,
};

/* Why a signature got its result: one class per cause. */
enum dkim_verify_reason {
    DKIM_VERIFY_R_OK = 0,
    /* fail */
    DKIM_VERIFY_R_BODY_HASH,     /* bh= does not match the body */
    DKIM_VERIFY_R_BODY_LENGTH,   /* the body is shorter than l= */
    DKIM_VERIFY_R_SIGNATURE,     /* b= does not verify over the header */
    DKIM_VERIFY_R_KEY_TOO_SHORT, /* RSA key under 1024 bits */
    /* policy */
    DKIM_VERIFY_R_WEAK_HASH, /* rsa-sha1 */
    /* temperror */
    DKIM_VERIFY_R_DNS, /* the key lookup failed */
    /* permerror: the signature */
    DKIM_VERIFY_R_SYNTAX,    /* tag-list, a missing or malformed tag */
    DKIM_VERIFY_R_LIMIT,     /* a value over a DKIM_VERIFY_MAX_* */
    DKIM_VERIFY_R_VERSION,   /* v= is not 1 */
    DKIM_VERIFY_R_ALGORITHM, /* a= unknown */
    DKIM_VERIFY_R_CANON,     /* c= unknown */
    DKIM_VERIFY_R_QUERY,     /* q= without dns/txt */
    DKIM_VERIFY_R_DOMAIN,    /* d= is not a domain name (no DNS asked) */
    DKIM_VERIFY_R_SELECTOR,  /* s= is not a selector (no DNS asked) */
    DKIM_VERIFY_R_IDENTITY,  /* i= is not at or under d= */
    DKIM_VERIFY_R_FROM,      /* h= does not name From */
    DKIM_VERIFY_R_EXPIRED,   /* x= has passed, or is not after t= */
    /* permerror: the key */
    DKIM_VERIFY_R_KEY_MISSING,  /* NXDOMAIN, no TXT, no DKIM record */
    DKIM_VERIFY_R_KEY_SYNTAX,   /* the record is not a tag-list, no p= */
    DKIM_VERIFY_R_KEY_VERSION,  /* v= other than DKIM1 */
    DKIM_VERIFY_R_KEY_REVOKED,  /* empty p= */
    DKIM_VERIFY_R_KEY_UNUSABLE, /* p= does not hold a usable key */
    DKIM_VERIFY_R_KEY_TYPE,     /* k= unknown, or not the type of a= */
    DKIM_VERIFY_R_KEY_HASH,     /* the key's h= excludes the hash of a= */
    DKIM_VERIFY_R_KEY_SERVICE,  /* the key's s= excludes email */
    DKIM_VERIFY_R_KEY_STRICT,   /* t=s and i= is under d=, not at it */
};

/* The signing algorithms of a=. */
enum dkim_verify_alg {
    DKIM_VERIFY_ALG_UNKNOWN = 0,
    DKIM_VERIFY_ALG_RSA_SHA256,
    DKIM_VERIFY_ALG_RSA_SHA1,       /* RFC 8301 §3.1: historic */
    DKIM_VERIFY_ALG_ED25519_SHA256, /* RFC 8463 */
};

/*
 * Facts about a signature that do not change its result (flags):
 * BODY_LENGTH  l= is present: text after it is unsigned, so anyone can
 *              append to the body (RFC 6376 §8.2).
 * TESTING      the key has t=y.
 * FUTURE       t= lies more than DKIM_VERIFY_CLOCK_SKEW ahead of now.
 * WEAK_KEY     an RSA key of 1024 to 2047 bits (RFC 8301 §3.2: 2048).
 * FROM_OPEN    h= names From no more often than the message has it, so
 *              a From added above would not break it (RFC 6376 §8.15).
 * FROM_COUNT   the message has not exactly one From field.
 */
#define DKIM_VERIFY_F_BODY_LENGTH 0x01u
#define DKIM_VERIFY_F_TESTING     0x02u
#define DKIM_VERIFY_F_FUTURE      0x04u
#define DKIM_VERIFY_F_WEAK_KEY    0x08u
#define DKIM_VERIFY_F_FROM_OPEN   0x10u
#define DKIM_VERIFY_F_FROM_COUNT  0x20u

/* "pass", "fail", ... as RFC 8601 writes them. */
const char *dkim_verify_status_name(enum dkim_verify_status s);
/* "body-hash", "signature", "key-missing", ... */
const char *dkim_verify_reason_name(enum dkim_verify_reason r);
/* "rsa-sha256", "rsa-sha1", "ed25519-sha256", "unknown" */
const char *dkim_verify_alg_name(enum dkim_verify_alg a);

/* ------------------------------------------------------------------ */
/* One DKIM-Signature field, parsed (no DNS, no hashing)               */

struct dkim_record;
struct dkim_tag;

/* A name of h=: (p, len) points into the tag value, FWS trimmed. */
struct dkim_verify_hname {
    const char *p;
    size_t len;
};

struct dkim_verify_sig {
    /*
     * The tag-list (RFC 6376 §3.2), parsed by dkim_record_parse(): the
     * grammar is the key record's.  Only its tags[] is meaningful here.
     * Owned; NULL when the tag-list did not parse.  (A pointer: this
     * header is read inside dkim_record.h when that comes first.)
     */
    struct dkim_record *tags;
    /* each tag or NULL; values without the FWS around them */
    const struct dkim_tag *tag_v, *tag_a, *tag_b, *tag_bh, *tag_c, *tag_d,
        *tag_h, *tag_i, *tag_l, *tag_q, *tag_s, *tag_t, *tag_x, *tag_z;
    enum dkim_verify_alg alg;
    enum pb_dkim_canon header_canon, body_canon;
    char domain[PB_LIMIT_DNS_NAME + 1];   /* d=, lower case */
    char selector[PB_LIMIT_DNS_NAME + 1]; /* s=, lower case */
    bool is_identity_strict;              /* i= domain is d= exactly */
    size_t nheaders;
    struct dkim_verify_hname *headers; /* h=, in order; owned */
    size_t nfrom;                      /* "from" names in h= */
    bool has_length;
    uint64_t length;           /* l=; UINT64_MAX when larger */
    int64_t timestamp, expiry; /* t=, x=; -1 when absent */
    unsigned char bh[64];      /* bh= decoded */
    size_t bh_len;
    unsigned char *b; /* b= decoded; owned */
    size_t b_len;
    /* b='s value (its FWS included) in the parsed text: the bytes
     * emptied for the header hash (RFC 6376 §3.7) */
    size_t b_start, b_end;
    /* on failure: why, and the class */
    enum dkim_verify_reason reason;
    char why[256];
};

/*
 * Parse the value of one DKIM-Signature field (p, len): the bytes after
 * the colon, folding CRLFs included, without the final CRLF.  p is
 * untrusted and need not be NUL-terminated.  Checks what RFC 6376 §3.5
 * and §6.1.1 ask of the signature alone: the tag-list, the required tags
 * (v a b bh d h s), v=1, a= and c= and q= known, d= a domain name (letters,
 * digits, "-", and "_" leniently), s= a selector, i= at or under d=, From
 * in h=, l= t= x= numbers, x= after t=, bh= and b= base64 (FWS allowed).
 * Unknown tags are ignored.  Returns 0, or -1 with out->reason and
 * out->why (printable ASCII); what was parsed before the failure stays in
 * out (the tags, for reporting).  Release out with
 * dkim_verify_sig_release() in both cases.  No I/O; the limits are the
 * DKIM_VERIFY_MAX_* and dkim_record_parse()'s DKIM_LIMIT_*.
 */
int dkim_verify_sig_parse(const char *p, size_t len,
                          struct dkim_verify_sig *out);
void dkim_verify_sig_release(struct dkim_verify_sig *sig);

/* ------------------------------------------------------------------ */
/* Verifying a message                                                 */

/* Text fields of a result are escaped (pb_escape) and cut with "...". */
#define DKIM_VERIFY_TEXT 256

struct dkim_verify_result {
    enum dkim_verify_status status;
    enum dkim_verify_reason reason;
    char why[320];  /* our sentence, printable ASCII */
    size_t index;   /* 0: the topmost DKIM-Signature */
    size_t line;    /* its first line in the message, from 1 */
    unsigned flags; /* DKIM_VERIFY_F_* */
    /* the tags as written, "" when absent */
    char d[DKIM_VERIFY_TEXT], s[DKIM_VERIFY_TEXT], a[64], c[64];
    char i[DKIM_VERIFY_TEXT];
    /*
     * RFC 8601 header.d: d= in lower case, the domain DMARC aligns with
     * the From domain (RFC 7489 §3.1.1); "" when d= is not a domain name.
     */
    char header_d[PB_LIMIT_DNS_NAME + 1];
    enum dkim_verify_alg alg;
    enum pb_dkim_canon header_canon, body_canon;
    int64_t timestamp, expiry; /* t=, x=; -1 when absent */
    bool has_length;
    uint64_t length; /* l= */
    size_t body_len; /* octets of canonical body (0 until hashed) */
    /* the key: where it was looked up and what came back */
    char key_name[PB_LIMIT_DNS_NAME + 1]; /* "" when not asked */
    char dns[192];        /* "NOERROR", "NXDOMAIN", "TIMEOUT: ..." or "" */
    char key_record[512]; /* the record used, escaped, or "" */
    unsigned key_bits;    /* 0 when no key was read */
};

struct dkim_verify {
    /*
     * The message's result: pass when a signature passed; else the first
     * of temperror, fail, policy, neutral, permerror that a signature
     * got; none without signatures.
     */
    enum dkim_verify_status status;
    size_t nsignatures; /* DKIM-Signature fields in the message */
    size_t nresults;    /* the first DKIM_VERIFY_MAX_SIGNATURES of them */
    struct dkim_verify_result *results; /* header order */
    char note[160];                     /* "" or why some were not verified */
};

/*
 * Verify every DKIM-Signature field of the message (msg, len) (untrusted;
 * LF, CRLF and bare CR line endings, each read as CRLF), at most
 * DKIM_VERIFY_MAX_SIGNATURES of them, against the keys at
 * <s>._domainkey.<d> (TXT through r: real DNS or a fixture), at time now
 * (0: time(NULL)) for x= and t=.  Every DKIM outcome, temperror and
 * permerror included, is a result in out (cleared on entry; release it
 * with dkim_verify_release()).  Returns -1 only when the message cannot
 * be read as one (the splitter's refusals: PB_STAGE_CONFIG, PB_E_SYNTAX
 * or PB_E_LIMIT), or with PB_E_INTERNAL when OpenSSL fails to set up.
 * The l= prefix is what is hashed (DKIM_VERIFY_F_BODY_LENGTH says so).
 * h= selects fields bottom-up (§5.4.2), never the signature being
 * verified, which is hashed last with b= emptied.
 * No limit on the key record beyond dkim_record_parse()'s.
 */
int dkim_verify_message(struct dns_resolver *r, const void *msg, size_t len,
                        time_t now, struct dkim_verify *out,
                        struct pb_err *err);
void dkim_verify_release(struct dkim_verify *v);

#endif
