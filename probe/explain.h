/* SPDX-License-Identifier: MIT */
/*
 * `probe explain` without the command line: recognise what an input is (an
 * SMTP reply, a probe send report or transcript in JSON, a bounce or any
 * other RFC 5322 message) and judge every refusal in it with the rejection
 * rules (analyze/reject.h).  The same engine judges a probe run's replies
 * and bounces.
 */
#ifndef PB_PROBE_EXPLAIN_H
#define PB_PROBE_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "analyze.h"
#include "pb_err.h"

enum explain_kind {
    EXPLAIN_REPLY = 0,  /* one SMTP reply, maybe multi-line */
    EXPLAIN_REPORT,     /* a `probe send --json` report */
    EXPLAIN_TRANSCRIPT, /* a transcript: a JSON array of {dir, text} */
    EXPLAIN_BOUNCE,     /* a DSN or a non-standard bounce */
    EXPLAIN_FEEDBACK,   /* an ARF feedback report: a complaint */
    EXPLAIN_AUTOREPLY,  /* an auto-reply: not a failure */
    EXPLAIN_NOT_BOUNCE, /* a message that reports no failure */
};
/* "reply", "report", "transcript", "bounce", "feedback", "auto-reply",
   "not-bounce" */
const char *explain_kind_name(enum explain_kind k);

/* One refusal judged. */
struct explain_item {
    char *recipient;  /* the address refused, or NULL */
    char *remote_mta; /* the server that refused, or NULL */
    enum pb_stage stage;
    int code;           /* reply code, 0 when unknown */
    char status[16];    /* enhanced status or "" */
    char *text;         /* the server's words, escaped for output */
    const char *action; /* DSN Action ("failed", "delayed"), or NULL */
    struct reject_verdict verdict;
    bool is_refusal; /* false: delivered / relayed: nothing to judge */
};

struct explain_result {
    enum explain_kind kind;
    char *mta;                 /* who wrote the bounce, or NULL */
    char *original_message_id; /* of the returned message, or NULL */
    char *probe_token;         /* its X-Probe-Id, or NULL */
    char *auth_results;        /* its Authentication-Results, or NULL */
    struct explain_item *items;
    size_t n;
};

/*
 * Explain the input (p, len) (untrusted) named name.  Returns 0, or -1 with
 * err when it is none of the kinds above (PB_STAGE_CONFIG, PB_E_SYNTAX:
 * "NAME: not an SMTP reply, a probe report or transcript, or a message")
 * or over a limit.  Release out with explain_result_release().
 */
int explain_input(const struct reject_rules *rules, const char *name,
                  const void *p, size_t len, struct explain_result *out,
                  struct pb_err *err);
void explain_result_release(struct explain_result *r);

/* The rules probe uses: $PROBE_RULES_DIR, else <profiles>/rules. */
int explain_rules_load(struct reject_rules **out, struct pb_err *err);

#endif
