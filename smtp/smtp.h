/* SPDX-License-Identifier: MIT */
/*
 * pb_smtp: the probe message and its DKIM signatures (SMTP sessions join
 * with `probe send`).  Code outside smtp/ includes only this header.
 *
 * - msg_build.c: an RFC 5322 / MIME message from a few values.
 * - dkim_sign.c: RFC 6376 DKIM signatures, rsa-sha256 and ed25519-sha256
 *   (RFC 8463), with a private key loaded once and used for many messages.
 */
#ifndef PB_SMTP_SMTP_H
#define PB_SMTP_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pb_err.h"
#include "pb_limits.h"
#include "smtp_reply.h"

/* ------------------------------------------------------------------ */
/* DKIM signing (dkim_sign.c)                                          */

enum dkim_sign_alg {
    DKIM_SIGN_RSA_SHA256 = 0, /* RFC 6376 §3.3.1, RSA keys of >= 1024 bits */
    DKIM_SIGN_ED25519_SHA256, /* RFC 8463 */
};

/* RFC 6376 §3.4: the canonicalization of the header or of the body. */
enum dkim_canon {
    DKIM_CANON_SIMPLE = 0,
    DKIM_CANON_RELAXED,
};

/* A private key, parsed once and used for any number of messages. */
struct dkim_sign_key;

/*
 * Load the private key in the file at path: PEM (PKCS#8 "PRIVATE KEY",
 * traditional "RSA PRIVATE KEY") holding an RSA key of at least 1024 bits
 * (RFC 8301 §3.2) or an Ed25519 key, or a file holding only the base64 of
 * a 32-byte Ed25519 seed (the form of dkimpy's dknewkey and of RFC 8463
 * Appendix A).  The file is refused when group or others may read or
 * write it, when it is not a regular file, or over PB_LIMIT_KEY_FILE.
 * Encrypted keys and public keys are refused with a reason.
 * On success *out is a new key (dkim_sign_key_free() it).
 * Errors (stage PB_STAGE_CONFIG): PB_E_IO (cannot open or read, unsafe
 * permissions), PB_E_LIMIT, PB_E_SYNTAX (not a usable key; OpenSSL's
 * reason as evidence).  Our copies of the key bytes are wiped.
 */
int dkim_sign_key_load(const char *path, struct dkim_sign_key **out,
                       struct pb_err *err);

/*
 * As dkim_sign_key_load(), from the bytes (p, len) instead of a file; name
 * says where they came from in error messages.  No permission check.
 */
int dkim_sign_key_parse(const void *p, size_t len, const char *name,
                        struct dkim_sign_key **out, struct pb_err *err);

/* Release a key; its memory is cleared by OpenSSL.  NULL does nothing. */
void dkim_sign_key_free(struct dkim_sign_key *key);

/* The algorithm the key signs with, and its size in bits (256: Ed25519). */
enum dkim_sign_alg dkim_sign_key_alg(const struct dkim_sign_key *key);
int dkim_sign_key_bits(const struct dkim_sign_key *key);

/* "rsa-sha256" or "ed25519-sha256" (the a= value). */
const char *dkim_sign_alg_name(enum dkim_sign_alg alg);

/*
 * Parse a c= value as written on the command line: "relaxed/relaxed",
 * "simple/simple", "relaxed/simple" or "simple/relaxed" (header/body).
 * Returns 0, or -1 for anything else.
 */
int dkim_sign_canon_parse(const char *s, enum dkim_canon *header,
                          enum dkim_canon *body);

/* One signature to add to a message. */
struct dkim_sign_params {
    const struct dkim_sign_key *key; /* borrowed */
    const char *domain;   /* d=: LDH labels, at least two (RFC 6376 §3.5) */
    const char *selector; /* s=: LDH labels */
    const char *identity; /* i= ("[local]@domain" at or under d=) or NULL */
    enum dkim_canon header_canon;
    enum dkim_canon body_canon;
    /*
     * The h= list exactly as it is to be written ("from:to:subject"; a
     * name listed more times than it occurs is oversigned), or NULL for
     * the default: From, To, Cc, Subject, Date, Message-ID, Reply-To,
     * MIME-Version, Content-Type, Content-Transfer-Encoding (each present
     * one listed once more than it occurs, so none can be added), and
     * List-Unsubscribe, List-Unsubscribe-Post, In-Reply-To, References
     * when present.  It must name From (RFC 6376 §5.4).
     */
    const char *headers;
    time_t timestamp; /* t=; 0: now */
};

/*
 * Check the values of params without signing (domain and selector syntax,
 * the h= list, identity; not the key, which may still be NULL).  Returns 0, or
 * -1 with PB_STAGE_CONFIG and PB_E_SYNTAX or PB_E_LIMIT and a sentence naming
 * the value.
 */
int dkim_sign_params_check(const struct dkim_sign_params *params,
                           struct pb_err *err);

/*
 * Sign the message (msg, len) (untrusted) once for each of the nsigs
 * params (1 to PB_LIMIT_DKIM_SIGNATURES), and return the signed message
 * in *out (malloc'd, NUL-terminated, free() it) and its length in *outlen:
 * the DKIM-Signature fields in the order of params, then the message.
 * LF, CRLF and bare CR all end a line in the input; the output (and what
 * is signed) uses CRLF throughout.  Never writes l= (RFC 6376 §8.2); t=
 * is always written.
 * The message must have exactly one From field (RFC 5322 §3.6).  Limits:
 * PB_LIMIT_MSG_BYTES, PB_LIMIT_MSG_FIELDS, PB_LIMIT_MSG_FIELD.  NUL bytes
 * and a header line that is not a field (no colon before the blank line)
 * are refused.  Errors: PB_STAGE_CONFIG with PB_E_SYNTAX, PB_E_LIMIT, or
 * PB_E_INTERNAL when OpenSSL fails.  A key is used by one thread at a
 * time.
 */
int dkim_sign_message(const struct dkim_sign_params *params, size_t nsigs,
                      const void *msg, size_t len, char **out, size_t *outlen,
                      struct pb_err *err);

/* ------------------------------------------------------------------ */
/* The probe message (msg_build.c)                                     */

/* A probe token: 32 lowercase hex digits (128 random bits). */
#define MSG_BUILD_TOKEN_LEN 32

/*
 * What goes into a message.  Every string is borrowed, UTF-8 where text is
 * meant, and refused (PB_E_SYNTAX) when it holds CR, LF or another control
 * character.
 */
struct msg_build_params {
    const char *from;      /* addr-spec: the From address (required) */
    const char *from_name; /* display name or NULL */
    const char *const *to; /* addr-specs, 1 to PB_LIMIT_MSG_TO */
    size_t nto;
    const char *subject; /* NULL: "Your update from DOMAIN" */
    /*
     * The bodies, UTF-8 text with any line endings and no NUL.  Both NULL:
     * a realistic multipart/alternative campaign mail (greeting, a link,
     * an unsubscribe footer).  Both given: multipart/alternative; one:
     * a single part.  The token is added to each.
     */
    const char *text;
    size_t text_len;
    const char *html;
    size_t html_len;
    const char *link_url; /* the default body's link; NULL: https://DOMAIN/ */
    /* List-Unsubscribe (RFC 2369): an https URL and/or a mailto address */
    const char *unsubscribe_url;
    const char *unsubscribe_mailto;
    bool one_click;    /* List-Unsubscribe-Post (RFC 8058): needs the URL */
    const char *token; /* NULL: a new one from msg_build_token() */
    time_t date;       /* Date:; 0: now */
    /*
     * Extra header fields, each "Name: value" on one line (no CR, LF or
     * NUL; at most PB_LIMIT_MSG_LINE octets), written after X-Probe-Id.
     * Fields the builder writes itself (From, To, Subject, Date,
     * Message-ID, MIME-Version, Content-*, List-Unsubscribe*, X-Probe-Id,
     * DKIM-Signature) are refused.  At most MSG_BUILD_MAX_HEADERS.
     */
    const char *const *headers;
    size_t nheaders;
};
#define MSG_BUILD_MAX_HEADERS 32

/*
 * Write a new probe token (MSG_BUILD_TOKEN_LEN characters and a NUL) to
 * dst, which holds at least MSG_BUILD_TOKEN_LEN + 1 bytes.  Returns 0, or
 * -1 (PB_E_INTERNAL) when the system has no randomness to give.
 */
int msg_build_token(char *dst, struct pb_err *err);

/*
 * Build the message: From, To, Subject (RFC 2047 encoded-words when not
 * ASCII), Date, Message-ID <TOKEN@DOMAIN> at the From domain,
 * MIME-Version, Content-Type, List-Unsubscribe(-Post) when asked,
 * X-Probe-Id: TOKEN; the token also in each body part.  Bodies are
 * quoted-printable, so every line is within 78 octets (998 at most for
 * folded header fields) and ends in CRLF.  On success *out is the message
 * (malloc'd, NUL-terminated, free() it) and *outlen its length.
 * Errors: PB_STAGE_CONFIG with PB_E_SYNTAX (a value that cannot go into a
 * message, with its name) or PB_E_LIMIT (PB_LIMIT_MSG_TEXT,
 * PB_LIMIT_MSG_TO, PB_LIMIT_MSG_BYTES).
 */
int msg_build(const struct msg_build_params *params, char **out, size_t *outlen,
              struct pb_err *err);

/* ------------------------------------------------------------------ */
/* SMTP sessions through libcurl (smtp_session.c)                      */

struct pb_transcript;

/* How the connection is protected. */
enum smtp_tls {
    SMTP_TLS_STARTTLS = 0, /* smtp://, STARTTLS required (CURLUSESSL_ALL) */
    SMTP_TLS_IMPLICIT,     /* smtps:// (RFC 8314 implicit TLS) */
    SMTP_TLS_NONE,         /* smtp://, plain text: only when a profile says */
};

/* SASL mechanism for AUTH. */
enum smtp_auth {
    SMTP_AUTH_NONE = 0, /* no AUTH */
    SMTP_AUTH_AUTO,     /* what the server offers: libcurl's choice */
    SMTP_AUTH_PLAIN,
    SMTP_AUTH_LOGIN,
    SMTP_AUTH_XOAUTH2, /* the secret is an OAuth2 access token */
};

/* Names as written in profiles and reports ("starttls", "xoauth2"), and
 * their parsers: 0, or -1 for an unknown name. */
const char *smtp_tls_name(enum smtp_tls tls);
const char *smtp_auth_name(enum smtp_auth auth);
int smtp_tls_parse(const char *s, enum smtp_tls *out);
int smtp_auth_parse(const char *s, enum smtp_auth *out);

/* Deadlines in milliseconds; 0 takes the default (SMTP_TIMEOUT_*). */
struct smtp_timeouts {
    long connect_ms;  /* TCP connect and TLS handshake */
    long greeting_ms; /* from connected to the complete 220 */
    long command_ms;  /* from each command sent to its complete reply */
    long data_ms;     /* from the start of the message to the final reply */
};
#define SMTP_TIMEOUT_CONNECT  15000
#define SMTP_TIMEOUT_GREETING 60000
#define SMTP_TIMEOUT_COMMAND  60000
#define SMTP_TIMEOUT_DATA     120000

/* Where and how to talk.  Every string is borrowed for the call. */
struct smtp_relay {
    const char *host;    /* the name in the URL, for TLS verification */
    const char *address; /* IP to connect to instead of resolving host, or
                            NULL (libcurl's CURLOPT_RESOLVE) */
    unsigned port;       /* 1..65535 */
    enum smtp_tls tls;
    bool insecure;       /* skip certificate verification (profiles say) */
    const char *ca_file; /* CA bundle instead of the system's, or NULL */
    const char *helo;    /* EHLO name; NULL: this host's FQDN */
    const char *source;  /* local address to bind, or NULL */
    enum smtp_auth auth; /* SMTP_AUTH_NONE: never AUTH */
    const char *user;    /* for AUTH */
    const char *secret;  /* password or access token; never copied into
                            anything but libcurl's handle */
    struct smtp_timeouts timeouts;
};

/* What the server said to one RCPT TO. */
struct smtp_rcpt_result {
    char addr[PB_LIMIT_ADDRESS + 1];
    int code;        /* reply code, 0: not reached */
    char status[16]; /* enhanced status or "" */
    char text[512];  /* the reply text, escaped, lines joined with " " */
};

/* The TLS facts of a session (all "" when no TLS was set up). */
struct smtp_tls_info {
    bool active;
    char version[32]; /* "TLS1.3" */
    char cipher[96];
    char subject[256]; /* the server certificate's subject DN */
    char issuer[256];
    char not_after[32];      /* "2027-01-01T00:00:00Z" */
    bool verified;           /* chain and name verified by libcurl */
    char verify_result[128]; /* "ok" or libcurl's reason */
};

/* What became of one message. */
enum smtp_outcome {
    SMTP_ACCEPTED = 0, /* end of data answered 2xx (for the accepted RCPTs) */
    SMTP_DEFERRED,     /* a 4xx stopped it */
    SMTP_REJECTED,     /* a 5xx stopped it (or every RCPT was refused) */
    SMTP_FAILED,       /* no verdict: network, TLS, timeout, a server that
                          does not speak SMTP */
};
const char *smtp_outcome_name(enum smtp_outcome o); /* "accepted", ... */

/* One message to send, and afterwards what happened to it. */
struct smtp_job {
    /* in (borrowed) */
    const char *mail_from;   /* envelope sender, "" for <> */
    const char *const *rcpt; /* 1 .. PB_LIMIT_MSG_TO envelope recipients */
    size_t nrcpt;
    const char *msg; /* the message, CRLF line ends */
    size_t msg_len;

    /* out (smtp_job_release() frees them) */
    enum smtp_outcome outcome;
    enum pb_stage stage; /* the last stage reached */
    struct pb_err err;   /* unless accepted: stage, code, reply,
                            status, our sentence, the server's text */
    int final_code;      /* the end-of-data reply, 0 if not reached */
    char final_status[16];
    char final_text[512];           /* escaped; holds the queue id */
    struct smtp_rcpt_result *rcpts; /* nrcpt entries, in order */
    struct smtp_tls_info tls;
    struct pb_transcript *transcript; /* this message's part of the talk */
    bool reused;     /* sent over a connection an earlier job opened */
    long connection; /* libcurl's connection id, to group jobs */
    int64_t elapsed_ms;
};

/* Free what a send put into job (not its in fields). */
void smtp_job_release(struct smtp_job *job);

/*
 * Send each of the njobs messages through relay over at most parallel
 * connections (1.. SMTP_MAX_PARALLEL), reusing connections (libcurl's
 * multi interface), with every deadline in relay->timeouts enforced per
 * stage.  Each job's out fields say what happened; a failed job does not
 * stop the others.  Envelope addresses with CR, LF, NUL, other controls,
 * spaces, '<' or '>' are refused before anything is sent (stage mail or
 * rcpt, PB_E_SYNTAX).  Returns 0, or -1 with err when nothing could be
 * tried (libcurl would not start, a relay value is unusable: PB_STAGE_CONFIG).
 */
#define SMTP_MAX_PARALLEL 64
int smtp_send(const struct smtp_relay *relay, struct smtp_job *jobs,
              size_t njobs, unsigned parallel, struct pb_err *err);

/* curl_global_init() once for the process (thread-unsafe; call from main).
 * Returns 0, or -1 with err. */
int smtp_global_init(struct pb_err *err);

#endif
