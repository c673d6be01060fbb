/* SPDX-License-Identifier: MIT */
/*
 * The message as DKIM sees it, shared by the signer (smtp/dkim_sign.c) and
 * the verifier (analyze/dkim_verify.c): a splitter that reads any line
 * endings into CRLF lines and indexes the header fields, and the simple
 * and relaxed canonicalizations of RFC 6376 §3.4.
 */
#ifndef PB_PROBE_PB_DKIM_CANON_H
#define PB_PROBE_PB_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>

#include "pb_err.h"

/* RFC 6376 §3.4: the canonicalization of the header or of the body. */
enum pb_dkim_canon {
    PB_DKIM_CANON_SIMPLE = 0,
    PB_DKIM_CANON_RELAXED,
};

/* Where canonical bytes go: a digest, or a buffer in the tests. */
typedef void (*pb_dkim_canon_sink_fn)(void *arg, const void *p, size_t len);

/* One header field of a split message. */
struct pb_dkim_canon_field {
    size_t off;      /* its first byte in pb_dkim_canon_msg.p */
    size_t len;      /* through the CRLF of its last line */
    size_t name_len; /* the name, without WSP before the colon */
    size_t line;     /* its first line in the input, from 1 */
};

/* A message with CRLF line endings, and where its header fields are. */
struct pb_dkim_canon_msg {
    char *p; /* owned; NUL-terminated */
    size_t len;
    struct pb_dkim_canon_field *fields; /* owned */
    size_t nfields;
    size_t body_off; /* first byte of the body; len when there is none */
};

/*
 * Split the message (p, len) (untrusted) into header fields and body.
 * Each LF, CRLF or bare CR ends a line, and m->p holds the message with
 * CRLF after every line (also after a last line that had no ending).
 * A line starting with SP or HTAB continues the field above it.  The
 * first empty line ends the header; a message without one is all header.
 * Refused (PB_STAGE_CONFIG): empty input, a NUL byte, a header line that
 * is no field (no colon, or a name with bytes outside RFC 5322 ftext),
 * a continuation line first, PB_LIMIT_MSG_BYTES (PB_E_LIMIT),
 * PB_LIMIT_MSG_FIELDS, PB_LIMIT_MSG_FIELD.  On success m is filled;
 * release it with pb_dkim_canon_msg_release() (also safe after a failure).
 */
int pb_dkim_canon_split(const void *p, size_t len, struct pb_dkim_canon_msg *m,
                        struct pb_err *err);
void pb_dkim_canon_msg_release(struct pb_dkim_canon_msg *m);

/* True when field f of m is named name (ASCII case-insensitive).  Inline:
 * the signer asks it some 90 times a message, mostly of a name whose
 * length already differs. */
static inline bool
pb_dkim_canon_field_is(const struct pb_dkim_canon_msg *m,
                       const struct pb_dkim_canon_field *f, const char *name,
                       size_t name_len)
{
    const char *p = m->p + f->off;
    size_t i;

    if (f->name_len != name_len)
        return false;
    for (i = 0; i < name_len; i++) {
        unsigned char a = (unsigned char)p[i], b = (unsigned char)name[i];

        /* most bytes are equal; others must be one letter in two cases,
         * which differ in bit 0x20 alone */
        if (a != b && ((a ^ b) != 0x20 || (a | 0x20) < 'a' || (a | 0x20) > 'z'))
            return false;
    }
    return true;
}

/*
 * RFC 6376 §3.4.1 / §3.4.2: canonicalize one header field (field, len),
 * with its folding CRLFs, and its final CRLF if it has one (the
 * DKIM-Signature being made or verified has none; the output then has
 * none either).  Any bytes are accepted.
 */
void pb_dkim_canon_header(enum pb_dkim_canon c, const char *field, size_t len,
                          pb_dkim_canon_sink_fn sink, void *arg);

/*
 * The same canonical form written to dst, which has room for len + 1
 * bytes: it is never longer than the field, but for the colon a field
 * without one gets.  Returns its length.  The signer
 * gathers every signed field so, for one SHA-256 call.
 */
size_t pb_dkim_canon_header_to(enum pb_dkim_canon c, const char *field,
                               size_t len, char *dst);

/*
 * RFC 6376 §3.4.3 / §3.4.4: canonicalize a body whose lines end in CRLF
 * (a last line without one gets it).  simple: trailing empty lines
 * removed, an empty body becomes CRLF; relaxed: WSP runs become one SP,
 * WSP at line ends goes, trailing empty lines removed, an empty body stays
 * empty.  Any bytes are accepted (a bare CR or LF is an ordinary byte).
 */
void pb_dkim_canon_body(enum pb_dkim_canon c, const char *body, size_t len,
                        pb_dkim_canon_sink_fn sink, void *arg);

#endif
