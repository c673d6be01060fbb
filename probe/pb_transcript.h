/* SPDX-License-Identifier: MIT */
/*
 * struct pb_transcript: the ordered record of every exchange with a remote
 * party (SMTP, DNS, IMAP), product output for the report.  Each entry holds
 * two timestamps, a direction and raw bytes with their length.  SMTP client
 * lines are redacted at capture (AUTH arguments and every SASL line), so no
 * later code can leak a credential.  The size is capped: past the cap one
 * explicit entry says how many bytes were not kept.
 */
#ifndef PB_PROBE_PB_TRANSCRIPT_H
#define PB_PROBE_PB_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pb_buf.h"

enum pb_dir {
    PB_DIR_C = 0,  /* "C": SMTP client to server */
    PB_DIR_S,      /* "S": SMTP server to client */
    PB_DIR_DNS_Q,  /* "DNS?": a DNS query */
    PB_DIR_DNS_A,  /* "DNS!": a DNS answer */
    PB_DIR_IMAP_C, /* "IMAP>": IMAP client to server */
    PB_DIR_IMAP_S, /* "IMAP<": IMAP server to client */
    PB_DIR_NOTE,   /* "NOTE": our own words (truncation, TLS facts) */
};

struct pb_transcript_entry {
    int64_t t_ms;   /* CLOCK_REALTIME, ms since the epoch */
    int64_t rel_ms; /* CLOCK_MONOTONIC, ms since the transcript began */
    enum pb_dir dir;
    const char *p; /* the bytes, NUL-terminated, may hold NULs */
    size_t len;
};

struct pb_transcript;

/* Short name of a direction: "C", "S", "DNS?", "DNS!", "IMAP>", "IMAP<",
 * "NOTE". */
const char *pb_transcript_dir_name(enum pb_dir dir);

/*
 * A new, empty transcript keeping at most limit bytes (entry data plus the
 * fixed size of each entry record; PB_LIMIT_TRANSCRIPT_BYTES in the probe).
 * Its relative clock starts now.  Never fails (pb_xmalloc).
 */
struct pb_transcript *pb_transcript_new(size_t limit);
/* Release t and everything in it.  pb_transcript_free(NULL) does nothing. */
void pb_transcript_free(struct pb_transcript *t);

/*
 * Record (p, len) of untrusted bytes, copied, in direction dir.
 * PB_DIR_C goes through pb_transcript_add_client() and PB_DIR_S through
 * pb_transcript_add_server(), so SMTP traffic is always redacted; other
 * directions are stored as one entry each, as given.  Never fails: past
 * the size limit the bytes are counted, not kept (pb_transcript_dropped).
 */
void pb_transcript_add(struct pb_transcript *t, enum pb_dir dir, const void *p,
                       size_t len);

/*
 * Record SMTP client bytes in any chunking; one entry per line, with its
 * terminator, stored when its LF arrives.  Redaction, case-insensitive:
 * "AUTH <mech> <initial-response>" is stored as "AUTH <mech> [redacted]"
 * (the keyword and mechanism as sent; a mechanism that is not an RFC 4422
 * name is redacted too), and any AUTH line starts a SASL exchange in which
 * every client line is stored as "[redacted]" until the server's final
 * reply is not 3xx (235, 4xx, 5xx; its 334 challenges are kept).  A client
 * line longer than PB_LIMIT_CLIENT_LINE is stored as one redacted marker.
 */
void pb_transcript_add_client(struct pb_transcript *t, const void *p,
                              size_t len);
/* Store incomplete client and server lines (no LF yet) as entries, the
 * client line redacted as above; call it when a session ends. */
void pb_transcript_flush(struct pb_transcript *t);

/*
 * Record SMTP server bytes in any chunking; one entry per line with its
 * terminator (a line longer than PB_LIMIT_REPLY_LINE is kept in pieces of
 * that size).  A line "NNN" with N not 3 ends a SASL exchange.  The bytes
 * are kept as sent; validating them is smtp_reply's job.
 */
void pb_transcript_add_server(struct pb_transcript *t, const void *p,
                              size_t len);

/* Entries stored, the truncation entry included. */
size_t pb_transcript_count(const struct pb_transcript *t);
/* Entry i (0-based), valid until the next add; NULL when i >= count. */
const struct pb_transcript_entry *
pb_transcript_entry(const struct pb_transcript *t, size_t i);
/* Bytes offered after the limit was reached and not kept (0 if none). */
size_t pb_transcript_dropped(const struct pb_transcript *t);
/* True while a SASL exchange is in progress (client lines redacted). */
bool pb_transcript_in_sasl(const struct pb_transcript *t);

/*
 * Append the transcript as text to out, one entry per line:
 * "+123ms C: EHLO x\n", the bytes escaped as pb_escape() does and one
 * final CRLF left out (a bare LF shows as "\n").  Returns 0, or -1 when
 * out reached its limit (out then holds whole lines only).
 */
PB_WUR int pb_transcript_render_text(const struct pb_transcript *t,
                                     struct pb_buf *out);

#endif
