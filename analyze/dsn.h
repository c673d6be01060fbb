/* SPDX-License-Identifier: MIT */
/*
 * Bounce messages: RFC 3464 delivery status notifications (multipart/report
 * with message/delivery-status) and the non-standard bounces real MTAs send
 * (Exchange / Microsoft 365, Gmail, Yahoo, Postfix, Exim, Sendmail, qmail,
 * Amazon SES, ...), read into one shape: per failed recipient the status,
 * reply code, diagnostic text, remote MTA and SMTP command, and for the
 * message the original Message-ID, the probe token and the returned
 * Authentication-Results.  Untrusted input; everything bounded
 * (PB_LIMIT_DSN_*).  Pure: no I/O.  Included from analyze.h.  What is
 * read from which MTA, the limits and the agreement with Sisimai's labels
 * on real bounces: docs/dsn.md.
 */
#ifndef PB_ANALYZE_DSN_H
#define PB_ANALYZE_DSN_H

#include <stdbool.h>
#include <stddef.h>

#include "pb_err.h"

enum dsn_kind {
    DSN_NOT_BOUNCE = 0, /* an ordinary message: nothing to explain */
    DSN_RFC3464,        /* a message/delivery-status report (RFC 3464),
                           also one forwarded inside another message */
    DSN_NONSTANDARD,    /* a bounce in an MTA's own words; also Amazon SES
                           JSON notifications (a Delivery one: recipients
                           with Action "delivered") */
    DSN_FEEDBACK,       /* RFC 5965 ARF feedback report, Microsoft JMRP or
                           SES complaint (abuse complaint) */
    DSN_AUTOREPLY,      /* RFC 3834 auto-reply (vacation), not a failure */
};
/* "not-bounce", "dsn", "bounce", "feedback", "auto-reply" */
const char *dsn_kind_name(enum dsn_kind k);

/* One recipient the report is about. */
struct dsn_recipient {
    char *address;            /* the failed recipient (Final- or Original-
                                 Recipient, or the address the text names);
                                 lower-cased domain, no "rfc822;" prefix, no
                                 angle brackets; no space or control byte
                                 (8-bit bytes may remain) */
    char *address_type;       /* RFC 3464 §2.3.2 address type of the
                                 Final-Recipient ("rfc822", "unknown"), or
                                 NULL (a non-standard bounce) */
    char *original_recipient; /* Original-Recipient's address, or NULL */
    char *action;             /* "failed", "delayed", "delivered", "relayed",
                                 "expanded" (lower case), or NULL when not
                                 said */
    char status[16];          /* a validated RFC 3463 code ("5.1.1") or "",
                                 the one to judge by: the remote's code in
                                 the Diagnostic-Code when it has the
                                 Status's class, else the Status field;
                                 without a valid Status, the code the
                                 bounce's text gives */
    char dsn_status[16];      /* the Status field itself when it validates,
                                 else "" (an invalid one such as "9.9.9" is
                                 kept at the end of diagnostic instead) */
    int reply_code;           /* the SMTP reply code (550), 0 if none found */
    char *diagnostic;         /* the server's text (Diagnostic-Code without
                                 its type, or the bounce's quoted reply),
                                 unfolded, raw bytes (may hold 8-bit and
                                 NULs), NUL-terminated, at most
                                 PB_LIMIT_DSN_DIAGNOSTIC octets, or NULL */
    size_t diagnostic_len;
    char *diagnostic_type;   /* the Diagnostic-Code's type ("smtp",
                                "x-unix"), or NULL */
    char *remote_mta;        /* the host that refused (Remote-MTA without
                                its "dns;", or named in the text), or NULL */
    char *last_attempt_date; /* Last-Attempt-Date as written, or NULL */
    enum pb_stage stage;     /* PB_STAGE_CONNECT, _GREETING, _EHLO, _MAIL,
                                _RCPT, _DATA when the bounce says which
                                command failed ("in reply to RCPT TO
                                command"), else NONE */
    bool is_permanent;       /* the status's class is 5; without a status
                                a 5xx reply; without either, Action:
                                failed */
};

struct dsn_report {
    enum dsn_kind kind;
    char *mta;                 /* which MTA or provider wrote the bounce, as
                                  recognised ("postfix", "exchange", "gmail",
                                  ...), "rfc3464" for a DSN of no known
                                  MTA, or NULL */
    char *reporting_mta;       /* Reporting-MTA without its "dns;", or NULL */
    char *subject;             /* the bounce's Subject (RFC 2047 decoded to
                                  UTF-8 where it can be), or NULL */
    char *original_message_id; /* Message-ID of the returned message
                                  (with its angle brackets), or NULL */
    char *probe_token;         /* X-Probe-Id of the returned message, or
                                  the "Reference: TOKEN" line of its body
                                  (smtp/msg_build.c), or NULL */
    char *auth_results;        /* the returned message's Authentication-
                                  Results fields, unfolded, joined with
                                  "\n", or NULL */
    char *feedback_type;       /* ARF Feedback-Type ("abuse"), or NULL */
    struct dsn_recipient *v;
    size_t n;          /* at most PB_LIMIT_DSN_RECIPIENTS */
    bool is_truncated; /* more recipients or MIME parts than the
                          limits, MIME nested too deep, or a header,
                          the text, a field or a diagnostic cut to
                          its limit */
};

/*
 * Read the message (p, len) (untrusted; LF, CRLF or bare CR line ends,
 * any bytes) into out (cleared on entry).  A message that is not a bounce
 * gives kind DSN_NOT_BOUNCE and n == 0 with a return of 0.  The structure
 * is read by our own bounded MIME walk (PB_LIMIT_DSN_MIME_DEPTH,
 * PB_LIMIT_DSN_PARTS, PB_LIMIT_DSN_FIELD, PB_LIMIT_DSN_HEADER,
 * PB_LIMIT_DSN_TEXT, PB_LIMIT_DSN_RECIPIENTS, PB_LIMIT_DSN_DIAGNOSTIC):
 * what lies past a limit is skipped and the report marked is_truncated,
 * so one bad part does not lose the rest of a bounce.  Returns -1 only
 * for input that cannot be a message at all: empty (PB_STAGE_CONFIG,
 * PB_E_SYNTAX) or over PB_LIMIT_MSG_BYTES (PB_E_LIMIT).  Release out with
 * dsn_report_release() in every case.
 */
int dsn_parse(const void *p, size_t len, struct dsn_report *out,
              struct pb_err *err);
void dsn_report_release(struct dsn_report *r);

#endif
