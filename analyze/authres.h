/* SPDX-License-Identifier: MIT */
/*
 * Authentication-Results (RFC 8601) as a receiver wrote them: one field
 * value parsed into its authserv-id, version and results (method, result,
 * reason, properties and the comments around them), the result words
 * normalized, and the trust rule that says which fields of a message the
 * receiver itself wrote (STYLE.md §7, RFC 8601 §5).  Pure: no I/O.
 * Included at the end of analyze.h; code outside analyze/ includes that.
 */
#ifndef PB_ANALYZE_AUTHRES_H
#define PB_ANALYZE_AUTHRES_H

#include "analyze.h"

#include <stdbool.h>
#include <stddef.h>

#include "pb_err.h"
#include "pb_limits.h"

/*
 * A result word normalized.  RFC 8601 §2.7 and the IANA registry give
 * each method a subset of these; "hardfail" (RFC 5451 §2.4.3, SPF) reads
 * as fail.  Any other word is AUTHRES_OTHER, and the word stays in
 * struct authres_result's result.
 */
enum authres_status {
    AUTHRES_NONE = 0,
    AUTHRES_PASS,
    AUTHRES_FAIL,
    AUTHRES_SOFTFAIL,
    AUTHRES_NEUTRAL,
    AUTHRES_TEMPERROR,
    AUTHRES_PERMERROR,
    AUTHRES_POLICY,
    AUTHRES_OTHER,
};

/* The status of a result word (ASCII case-insensitive); NULL gives OTHER. */
enum authres_status authres_status_from(const char *word);
/* "none", "pass", "fail", ... "policy"; "other" for AUTHRES_OTHER. */
const char *authres_status_name(enum authres_status s);

/*
 * Text here is outside text: authserv_id, value, reason and comments are
 * the bytes as written (quotes and the parentheses of comments removed,
 * quoted-pairs decoded, line folding removed), so they may hold 8-bit
 * bytes (RFC 8616 allows UTF-8) and control characters; escape them
 * (pb_escape_to) before they reach a terminal.  They never hold NUL: a
 * NUL inside a comment or quoted string is dropped and noted in skipped.
 */

/* ptype.property=value (RFC 8601 §2.2 propspec). */
struct authres_prop {
    /*
     * "smtp", "header", "body", "policy", ... in lower case; "" for a
     * property written without one (Microsoft's "action=none", Amazon's
     * "client-ip=..."), kept leniently.
     */
    char *ptype;
    char *property; /* "mailfrom", "from", "d", "i", "b", ... lower case */
    char *value;    /* as written; "" when empty ("header.i=") */
};

struct authres_result {
    char *method;               /* "spf", "dkim", "x-hmca", ... lower case */
    unsigned method_version;    /* "dkim/1": 1; 0 when absent (means 1) */
    char *result;               /* the word as written, lower case */
    enum authres_status status; /* result normalized */
    char *reason;               /* reason= value, or NULL when absent */
    size_t ncomments;           /* at most PB_LIMIT_AUTHRES_COMMENTS */
    /*
     * The comments of this resinfo in order, without the outer
     * parentheses (nested ones kept): where receivers say why, e.g.
     * Gmail's "p=REJECT sp=REJECT dis=NONE" after dmarc=fail.
     */
    char **comments;
    size_t nprops; /* at most PB_LIMIT_AUTHRES_PROPS */
    struct authres_prop *props;
};

/* A piece of the field that did not parse and was passed over. */
struct authres_skip {
    size_t offset;   /* in the parsed value */
    const char *why; /* static text, our words */
    char text[96];   /* the bytes, escaped (pb_escape_to), cut with "..." */
};

struct authres {
    /*
     * The authserv-id as written (quotes removed), or NULL when the field
     * has none: Exchange Online starts with the first result.
     */
    char *authserv_id;
    unsigned version; /* authres-version; 0 when absent (means 1) */
    bool is_none;     /* "; none": the receiver checked nothing */
    unsigned arc_i;   /* ARC-Authentication-Results i=; 0 otherwise */
    size_t ncomments; /* comments around authserv-id and version */
    char **comments;  /* at most PB_LIMIT_AUTHRES_COMMENTS */
    size_t nresults;  /* at most PB_LIMIT_AUTHRES_RESULTS */
    struct authres_result *results; /* in the order written */
    /*
     * What did not parse as RFC 8601: junk passed over (a resinfo that is
     * not method=result, a word where a property belongs, an unterminated
     * comment or quoted string, a NUL) and the missing ";" read
     * leniently.  The first PB_LIMIT_AUTHRES_SKIPS are kept in
     * skipped[], nskipped counts them all.
     */
    size_t nskipped;
    size_t nskipped_kept;
    struct authres_skip *skipped;
};

/*
 * Parse one Authentication-Results field value (p, len): the bytes after
 * the colon, folded or unfolded (CRLF, LF or CR), without the field name.
 * p is untrusted and need not be NUL-terminated.  RFC 8601 §2.2 with
 * CFWS (RFC 5322 comments, nested) wherever the grammar allows it, and
 * leniently what receivers really write: no authserv-id (the value starts
 * with method=result), a missing ";" before a known method, a property
 * without ptype, empty values, "<>", 8-bit bytes in values, "reason="
 * among the properties, a ";" at the end.  Anything else that does not
 * parse is skipped up to the next ";" (or the next word inside a resinfo)
 * and recorded in skipped; unknown methods and result words are kept.
 * out is cleared on entry; release it with authres_release() (also after
 * -1, which leaves it empty).
 * Returns -1 with PB_E_LIMIT when len exceeds PB_LIMIT_AUTHRES_FIELD or a
 * count exceeds PB_LIMIT_AUTHRES_RESULTS, _PROPS or _COMMENTS (never
 * cut), or with PB_E_SYNTAX when the value has neither an authserv-id nor
 * a result (empty, or junk only).  Stage PB_STAGE_NONE: the caller knows
 * where the field came from (pb_err_prefix).
 */
int authres_parse(const char *p, size_t len, struct authres *out,
                  struct pb_err *err);

/*
 * Parse a whole field (p, len): "Authentication-Results:" or
 * "ARC-Authentication-Results:" (RFC 8617 §4.1.1; name case-insensitive,
 * WSP before the colon allowed) and its value.  An ARC field's leading
 * "i=N;" goes to out->arc_i (1..50, else PB_E_SYNTAX).  A final CRLF is
 * allowed.  PB_E_SYNTAX for any other field name; otherwise as
 * authres_parse().
 */
int authres_parse_field(const char *p, size_t len, struct authres *out,
                        struct pb_err *err);

void authres_release(struct authres *ar);

/*
 * The result of ar for method (ASCII case-insensitive: "spf", "dkim",
 * "dmarc", "arc", "iprev", "auth", ...): with several (one dkim= per
 * signature), the first that passed, else the first.  NULL when ar has
 * no result for method.  Points into ar.
 */
const struct authres_result *authres_find(const struct authres *ar,
                                          const char *method);
/*
 * The same over n fields (fields[0] first), as authres_find() over all
 * their results: the first pass, else the first result for method.
 */
const struct authres_result *authres_find_in(const struct authres *fields,
                                             size_t n, const char *method);

/* The value of ptype.property in r ("smtp", "mailfrom"), or NULL. */
const char *authres_prop_get(const struct authres_result *r, const char *ptype,
                             const char *property);

/*
 * Whether the authserv-id id (NULL: the field has none) matches pattern.
 * Patterns: a name, matched whole, ASCII case-insensitive, a final dot
 * ignored on both sides ("mx.google.com"); "*." and a name, matching any
 * id that ends with "." and that name and has at least one label before
 * it ("*.yahoo.com" matches "atlas216.free.mail.bf1.yahoo.com", not
 * "yahoo.com" nor "evilyahoo.com"); and "" matching only a field without
 * authserv-id (Exchange Online writes none; trusting that is a choice a
 * profile makes, not a default).  No other wildcard.
 */
bool authres_id_match(const char *id, const char *pattern);

enum authres_trust {
    AUTHRES_TRUSTED = 0,
    AUTHRES_UNTRUSTED_ID,    /* its authserv-id matches no pattern */
    AUTHRES_UNTRUSTED_NO_ID, /* it has no authserv-id, "" not trusted */
    /*
     * A trusted authserv-id, but below a field of another one, or below
     * the receiver's own block: written before the message reached the
     * receiver (an earlier hop, or the sender forging the receiver's id
     * where the receiver does not remove such fields, RFC 8601 §5).
     */
    AUTHRES_UNTRUSTED_BELOW,
};

/* "trusted", "untrusted-id", "untrusted-no-id", "untrusted-below" */
const char *authres_trust_name(enum authres_trust t);

/*
 * Decide which of the n Authentication-Results fields of one message
 * (fields[0] the topmost, as they appear in the header; ARC fields not
 * among them) the receiver wrote, given the npatterns authserv-id
 * patterns it is known by (authres_id_match()).  Receivers add their
 * fields at the top, and many write one field per check (OpenDKIM,
 * OpenDMARC and policyd-spf each add their own; iCloud one per
 * authserv-id), so the trusted fields are the topmost field that matches
 * and every field right below it that matches too; the block ends at the
 * first field that does not match.  verdict[i] (n entries, written) says
 * why each field is trusted or not.  *first is the index of the first
 * trusted field (n when none).  Returns the number of trusted fields:
 * they are fields[*first] .. fields[*first + count - 1].
 */
size_t authres_trust_pick(const struct authres *fields, size_t n,
                          const char *const *patterns, size_t npatterns,
                          enum authres_trust *verdict, size_t *first);

#endif
