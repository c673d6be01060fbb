/* SPDX-License-Identifier: MIT */
/*
 * SMTP replies from untrusted bytes (RFC 5321 §4.2, RFC 3463, RFC 2034).
 * struct smtp_reply_parser takes the server's bytes in any chunking (one
 * chunk of libcurl's debug callback may hold several lines or part of
 * one), reassembles lines and queues complete, validated replies.  Pure:
 * no I/O.  Self-contained, so smtp.h can include it.
 */
#ifndef PB_SMTP_SMTP_REPLY_H
#define PB_SMTP_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "pb_buf.h"
#include "pb_err.h"

struct smtp_reply {
    int code;        /* 200..599, the same on every line */
    char status[16]; /* validated enhanced status ("5.7.26") or "" */
    size_t nlines;
    char **lines;      /* text after the code and separator, without the
                          line terminator; NUL-terminated, may hold NULs */
    size_t *line_lens; /* length of each line's text */
    bool has_oddities; /* odd but accepted input, kept as evidence */
    char oddity[128];  /* our words for the oddities ("; "-joined) or "" */
};

struct smtp_reply_parser {
    enum pb_stage stage;   /* stage named in errors */
    struct pb_buf line;    /* the incomplete line */
    struct smtp_reply cur; /* the reply being assembled */
    size_t cur_bytes;      /* its bytes with line terminators */
    size_t cap_lines;
    struct smtp_reply *queue; /* complete replies, oldest first */
    size_t qhead, qlen, qcap;
    bool has_failed; /* sticky: every later feed fails the same way */
    struct pb_err failure;
};

/* Start a parser whose errors name stage; smtp_reply_parser_release()
 * frees it. */
void smtp_reply_parser_init(struct smtp_reply_parser *p, enum pb_stage stage);
void smtp_reply_parser_release(struct smtp_reply_parser *p);
/* The stage later errors name (the session moves on: connect, tls, ...). */
void smtp_reply_parser_set_stage(struct smtp_reply_parser *p,
                                 enum pb_stage stage);

/*
 * Feed (chunk, len) of untrusted server bytes.  Lines end with CRLF; a
 * bare LF is accepted and noted as an oddity.  A line is three digits, the
 * first 2 to 5, then '-' (more lines follow), a space or the end of the
 * line.  Returns 0, or -1 with err filled (err->reply and err->status stay
 * empty: the reply did not validate):
 *   PB_E_SYNTAX  a line that is not a reply line, or lines of one reply
 *                that disagree on the code;
 *   PB_E_LIMIT   a line over PB_LIMIT_REPLY_LINE octets with its
 *                terminator, a reply over PB_LIMIT_REPLY_LINES lines or
 *                PB_LIMIT_REPLY_TOTAL octets: never cut silently.
 * Errors are sticky: later calls return -1 with the same err.  Replies
 * completed before an error stay queued.
 */
int smtp_reply_feed(struct smtp_reply_parser *p, const void *chunk, size_t len,
                    struct pb_err *err);

/* Move the oldest complete reply into *out (the caller releases it with
 * smtp_reply_release) and return true, or return false when none. */
bool smtp_reply_next(struct smtp_reply_parser *p, struct smtp_reply *out);

/* True when bytes are buffered that no returned reply accounts for: an
 * incomplete line, an incomplete reply or queued replies (RFC 3207 §5:
 * after the STARTTLS 220 this is a finding, and the session stops). */
bool smtp_reply_parser_pending(const struct smtp_reply_parser *p);

/* Free r's lines and clear it.  r may be cleared already. */
void smtp_reply_release(struct smtp_reply *r);

/*
 * True when s (NUL-terminated) is exactly a well-formed RFC 3463 status
 * code, class "." subject "." detail with class 2, 4 or 5 and 1 to 3
 * digits each, and, when code is not 0, its class is code's first digit.
 */
bool smtp_reply_status_valid(const char *s, int code);

/*
 * Find an enhanced status at the start of (text, len), followed by a space
 * or the end (RFC 2034 §4), valid for reply code as above.  Copies it into
 * out (NUL-terminated) and returns its length, or returns 0 with out "".
 */
size_t smtp_reply_status_find(const char *text, size_t len, int code,
                              char out[16]);

/*
 * The meaning of a status ("5.7.26" -> "multiple authentication checks
 * failed") from the IANA SMTP Enhanced Status Codes registry (RFC 3463,
 * RFC 5248); an unlisted detail falls back to its subject ("other or
 * undefined security status") and an unlisted subject to its class.
 * Static text; NULL when s is not a well-formed status.
 */
const char *smtp_status_meaning(const char *s);

#endif
