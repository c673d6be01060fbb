/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the files of smtp/ (and reached by the tests and the
 * fuzz harness): the message splitter and the DKIM canonicalizations of
 * dkim_canon.c, and the signature core of dkim_sign.c.
 */
#ifndef PB_SMTP_SMTP_INT_H
#define PB_SMTP_SMTP_INT_H

#include "smtp.h"

#include <stdbool.h>
#include <stddef.h>

#include "pb_buf.h"

/* Where canonical bytes go: a digest, or a buffer in the tests. */
typedef void (*dkim_canon_sink_fn)(void *arg, const void *p, size_t len);

/* One header field of a split message. */
struct dkim_canon_field {
    size_t off;      /* its first byte in dkim_canon_msg.p */
    size_t len;      /* through the CRLF of its last line */
    size_t name_len; /* the name, without WSP before the colon */
    size_t line;     /* its first line in the input, from 1 */
};

/* A message with CRLF line endings, and where its header fields are. */
struct dkim_canon_msg {
    char *p; /* owned; NUL-terminated */
    size_t len;
    struct dkim_canon_field *fields; /* owned */
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
 * a continuation line first, PB_LIMIT_MSG_BYTES, PB_LIMIT_MSG_FIELDS,
 * PB_LIMIT_MSG_FIELD.  On success m is filled; release it with
 * dkim_canon_msg_release() (also safe after a failure).
 */
int dkim_canon_split(const void *p, size_t len, struct dkim_canon_msg *m,
                     struct pb_err *err);
void dkim_canon_msg_release(struct dkim_canon_msg *m);

/* True when field f of m is named name (ASCII case-insensitive). */
bool dkim_canon_field_is(const struct dkim_canon_msg *m,
                         const struct dkim_canon_field *f, const char *name,
                         size_t name_len);

/*
 * RFC 6376 §3.4.1 / §3.4.2: canonicalize one header field (field, len),
 * with its folding CRLFs, and its final CRLF if it has one (the
 * DKIM-Signature being made has none; the output then has none either).
 * Any bytes are accepted.
 */
void dkim_canon_header(enum dkim_canon c, const char *field, size_t len,
                       dkim_canon_sink_fn sink, void *arg);

/*
 * RFC 6376 §3.4.3 / §3.4.4: canonicalize a body whose lines end in CRLF
 * (a last line without one gets it).  simple: trailing empty lines
 * removed, an empty body becomes CRLF; relaxed: WSP runs become one SP,
 * WSP at line ends goes, trailing empty lines removed, an empty body stays
 * empty.  Any bytes are accepted (a bare CR or LF is an ordinary byte).
 */
void dkim_canon_body(enum dkim_canon c, const char *body, size_t len,
                     dkim_canon_sink_fn sink, void *arg);

/*
 * The core of dkim_sign_message(): append one whole DKIM-Signature field
 * to out.  prefix (prefix_len) is the field as it will be written up to
 * the bh= tag ("DKIM-Signature: v=1; a=...; h=...;\r\n "), hlist
 * (hlist_len) the h= value in it, which selects the fields signed (names
 * separated by ':' with any FWS, RFC 6376 §3.5).  The function writes
 * "bh=BASE64;\r\n b=" and the folded signature and a final CRLF.  The key
 * decides the algorithm; the caller has written the matching a=.  Errors:
 * PB_E_SYNTAX (h= list), PB_E_LIMIT, PB_E_INTERNAL (OpenSSL).
 */
int dkim_sign_field(const struct dkim_sign_key *key,
                    const struct dkim_canon_msg *m, enum dkim_canon hc,
                    enum dkim_canon bc, const char *prefix, size_t prefix_len,
                    const char *hlist, size_t hlist_len, struct pb_buf *out,
                    struct pb_err *err);

#endif
