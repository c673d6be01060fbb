/* SPDX-License-Identifier: MIT */
/*
 * struct pb_err: why the probe could not do its job.  Filled by the function
 * that detects the failure and passed up untouched.  Setting an error never
 * allocates; text that does not fit is truncated with "...".
 */
#ifndef PB_PROBE_PB_ERR_H
#define PB_PROBE_PB_ERR_H

#include <stddef.h>

enum pb_stage {
    PB_STAGE_NONE = 0,
    PB_STAGE_USAGE,  /* command line */
    PB_STAGE_CONFIG, /* files the user gave us: fixtures, profiles */
    PB_STAGE_DNS,
    PB_STAGE_SPF,
    PB_STAGE_CONNECT,
    PB_STAGE_GREETING, /* the server's 220 */
    PB_STAGE_EHLO,
    PB_STAGE_TLS,
    PB_STAGE_AUTH,
    PB_STAGE_MAIL,
    PB_STAGE_RCPT,
    PB_STAGE_DATA,
    PB_STAGE_QUIT,
    PB_STAGE_IMAP,
    PB_STAGE_IO,
};

enum pb_code {
    PB_E_OK = 0,
    PB_E_USAGE,    /* bad command line */
    PB_E_SYNTAX,   /* input does not parse */
    PB_E_LIMIT,    /* input over a limit */
    PB_E_TIMEOUT,  /* the remote party did not answer in time */
    PB_E_NETWORK,  /* could not reach or talk to the remote party */
    PB_E_TEMPFAIL, /* the remote party answered with a temporary error */
    PB_E_PERMFAIL, /* the remote party answered with a permanent error */
    PB_E_IO,       /* local file or system error */
    PB_E_INTERNAL, /* a library failed in a way we cannot attribute */
};

struct pb_err {
    enum pb_stage stage;
    enum pb_code code;
    int reply;          /* validated SMTP reply code, 0 if none */
    char status[16];    /* validated enhanced status ("5.7.26") or "" */
    char msg[256];      /* our sentence: printable ASCII, no newline */
    char evidence[512]; /* escaped remote text or "" */
};

/* Clear err (all fields zero / empty).  err may be NULL. */
void pb_err_clear(struct pb_err *err);

/*
 * Fill err with stage, code and a printf-style message, and return -1 so a
 * caller can write `return pb_err_set(...)`.  err may be NULL.  The format
 * must be our own literal; outside text goes in through "%s" only.
 */
int pb_err_set(struct pb_err *err, enum pb_stage stage, enum pb_code code,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Store (p, len) of outside text as evidence, escaped with pb_escape() and
 * truncated with "..." when it does not fit.  err may be NULL.
 */
void pb_err_evidence(struct pb_err *err, const void *p, size_t len);

/*
 * Put prefix and ": " before err's message (cut to fit with "..."), as a
 * caller that knows more of the context does ("--dkim-key k.pem: ...").
 * Returns -1.  err may be NULL.
 */
int pb_err_prefix(struct pb_err *err, const char *prefix);

/* Short lower-case names for logs and JSON ("dns", "syntax"). */
const char *pb_stage_name(enum pb_stage stage);
const char *pb_code_name(enum pb_code code);

#endif
