/* SPDX-License-Identifier: MIT */
/*
 * Private to analyze/dsn*.c: the bounce being read (its MIME parts found
 * by dsn.c) and the text helpers the MTA-specific extractors of dsn_mta.c
 * share.  All text is the message after line endings became LF.
 */
#ifndef PB_ANALYZE_DSN_INT_H
#define PB_ANALYZE_DSN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dsn.h"
#include "pb_buf.h"

/* Bytes borrowed from the message or from a decoded part. */
struct dsn_slice {
    const char *p;
    size_t len;
};

/* One header field: name, and its raw value (folds included). */
struct dsn_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* The fields of a header in order, for repeated lookups. */
struct dsn_hindex {
    struct dsn_field *v;
    size_t n;
};

/* dsn_stage_find()'s cues by their first bytes (dsn.c). */
struct dsn_stage_index {
    uint64_t pair[4096 / 64]; /* a bit per hash of the first two bytes
                                 (dsn.c's stage_pair()), any case */
    unsigned char nslots;
    unsigned char slot[256];     /* 1 + slot of a first byte, or 0 */
    unsigned char first[24][64]; /* per slot: its cues, in order */
    unsigned char nfirst[24];
};

/* What the MIME walk found in one message. */
struct dsn_ctx {
    struct dsn_report *out;
    const char *msg; /* the input with LF line ends: the input itself, or
                        msg_owned */
    char *msg_owned;
    size_t len;
    struct dsn_slice hdr;  /* the bounce's own header */
    struct dsn_slice body; /* and its body, undecoded */
    /* the multipart/report's report-type (lower case), or "" */
    char report_type[32];
    struct pb_buf text; /* decoded text/plain parts outside the returned
                           message, LF; the whole body when not MIME */
    struct pb_buf html; /* text/html parts as text, the same way */
    size_t ndsn;        /* message/delivery-status parts (decoded) */
    struct dsn_slice dsn[4];
    size_t ninner; /* those inside the returned message: a bounce that
                      was forwarded, or wrapped by a gateway */
    struct dsn_slice inner[4];
    struct dsn_slice feedback;    /* message/feedback-report, or p NULL */
    struct dsn_slice ret_hdr;     /* the returned message's header, or p NULL */
    bool is_ret_inline;           /* ret_hdr lies in text (quoted inline) */
    struct dsn_slice ret_body;    /* its body's first text, or p NULL */
    struct dsn_hindex hdr_fields; /* of hdr (once capped) */
    struct dsn_hindex ret_fields; /* of ret_hdr (once returned_message()
                                     has set and capped it) */
    struct dsn_stage_index *stages; /* built on first use, or NULL */
    size_t nparts;
    char **owned; /* decoded buffers, freed with the context */
    size_t nowned;
};

/* ------------------------------------------------------------------ */
/* Text helpers (dsn.c)                                                */

/* c is one of the bytes of set (never NUL, unlike strchr()). */
static inline bool
dsn_in_set(int c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

/* First occurrence of needle in (p, len), ASCII case-insensitive. */
const char *dsn_find(const char *p, size_t len, const char *needle);
/* True when (p, len) starts with prefix, ASCII case-insensitive. */
bool dsn_starts(const char *p, size_t len, const char *prefix);
/* The next line of [*pos, len): (line, n) without its LF; false at end. */
bool dsn_line_next(const char *p, size_t len, size_t *pos, const char **line,
                   size_t *n);
/* A copy of (p, len) as one line of text: controls and NUL become SP. */
char *dsn_text_dup(const char *p, size_t len);
/* Trim SP, HTAB and LF from both ends. */
struct dsn_slice dsn_trim(const char *p, size_t len);

/*
 * Iterate the header fields of (h, len), starting with *pos = 0: false at
 * the end.  Lines that are no field are skipped.
 */
bool dsn_field_next(const char *h, size_t len, size_t *pos,
                    struct dsn_field *f);
/* True when f is named name (ASCII case-insensitive). */
bool dsn_field_is(const struct dsn_field *f, const char *name);
/*
 * The first field name of header (h, len), unfolded (each line break and
 * the WSP after it become one space, ends trimmed) into a new string of
 * at most PB_LIMIT_DSN_FIELD octets; NULL when absent.  *n gets the
 * length (the value may hold NULs).  n may be NULL.
 */
char *dsn_header_get(const char *h, size_t len, const char *name, size_t *n);
/* The same from an index of the header's fields (dsn_hindex_build()). */
char *dsn_hindex_get(const struct dsn_hindex *x, const char *name, size_t *n);
/* Index the fields of header (h, len); release with free(x->v). */
void dsn_hindex_build(struct dsn_hindex *x, const char *h, size_t len);
/* Unfold the raw value (v, len) the same way, into a new string. */
char *dsn_unfold(const char *v, size_t len, size_t *n);
/* The same with at most max octets out; *is_cut tells whether input was
 * left (is_cut may be NULL). */
char *dsn_unfold_max(const char *v, size_t len, size_t max, size_t *n,
                     bool *is_cut);

/*
 * RFC 3463 §2: class "." subject "." detail, class 2, 4 or 5, subject
 * and detail 1 to 3 digits.  dsn_status_check: (p, len) is exactly such a
 * code, perhaps followed by SP, HTAB or "(" and a comment.
 * dsn_status_find: the first such code standing alone in free text (not
 * inside a longer dotted number like an IP address or "5.1.1.1"), into
 * out; the offset of its first byte, or -1.
 */
bool dsn_status_check(const char *p, size_t len, char out[16]);
long dsn_status_find(const char *p, size_t len, char out[16]);
/*
 * An SMTP reply code (2xx to 5xx) standing alone in free text, preferring
 * one at the start of a line or after "said:", "says:", "smtp;"; 0 when
 * none.
 */
int dsn_reply_find(const char *p, size_t len);
/* The SMTP stage a bounce's wording names ("in reply to RCPT TO"). */
enum pb_stage dsn_stage_find(const char *p, size_t len);
/* The same, with the cues' index built once for the message c. */
enum pb_stage dsn_stage_find_in(struct dsn_ctx *c, const char *p, size_t len);

/*
 * The next e-mail address (local@domain, perhaps in angle brackets) in
 * (p, len) from *pos: its bytes in *a, *pos moved past it; false when
 * none.
 */
bool dsn_addr_next(const char *p, size_t len, size_t *pos, struct dsn_slice *a);

/* ------------------------------------------------------------------ */
/* Building the report (dsn.c)                                         */

/*
 * The recipient address (p, len) (brackets and "rfc822;" removed, domain
 * lower-cased): the existing entry when the report names it already
 * (ASCII case-insensitive), else a new one; NULL past
 * PB_LIMIT_DSN_RECIPIENTS (the report is marked truncated) or when (p,
 * len) is not an address.
 */
struct dsn_recipient *dsn_rcpt_get(struct dsn_ctx *c, const char *p,
                                   size_t len);
/*
 * Fill status, reply code, stage and permanence of r where they are not
 * set yet (a Status of X.0.0 gives way to a finer code of the same
 * class), from (p, len), which becomes r's diagnostic when it has none
 * (trimmed, at most PB_LIMIT_DSN_DIAGNOSTIC octets), or from r's
 * diagnostic when p is NULL.
 */
void dsn_rcpt_diagnose(struct dsn_ctx *c, struct dsn_recipient *r,
                       const char *p, size_t len);
/* Set the report's MTA name (a literal) when not set yet. */
void dsn_set_mta(struct dsn_ctx *c, const char *name);

/* ------------------------------------------------------------------ */
/* Non-standard bounces (dsn_mta.c)                                    */

/*
 * The MTA or provider that wrote the bounce, from what it says (From,
 * Subject, X-Mailer, body wording), or NULL.
 */
const char *dsn_mta_detect(const struct dsn_ctx *c);
/*
 * True when the message reads as a bounce although it has no DSN part
 * (From MAILER-DAEMON, a bounce Subject, X-Failed-Recipients, ...).
 */
bool dsn_mta_is_bounce(const struct dsn_ctx *c);
/* Extract the failed recipients of a non-standard bounce from its text. */
void dsn_mta_parse(struct dsn_ctx *c, const char *mta);
/*
 * An Amazon SES notification (JSON through SNS): its recipients; returns
 * the kind (bounce, feedback, or a delivery report as a bounce whose
 * recipients' Action is "delivered"), or -1 when the text is no such
 * notification.
 */
int dsn_mta_ses(struct dsn_ctx *c);
/*
 * Fill in what a DSN's recipients lack (diagnostic, reply code, stage)
 * from the human-readable part, as the MTA that wrote it words it.
 */
void dsn_mta_complete(struct dsn_ctx *c, const char *mta);

#endif
