/* SPDX-License-Identifier: MIT */
/*
 * A small IMAP client for reading probe copies and bounces back out of
 * mailboxes: libetpan's IMAP parser over a stream of our own (TCP, TLS
 * through OpenSSL with the certificate and host name checked, absolute
 * deadlines, size caps), so a silent, trickling or lying server ends in a
 * clean error within the deadline.  One struct imap_conn is one
 * connection; it is not shared between threads (connections in different
 * threads are independent).
 *
 * Errors: every err->msg starts with "imap HOST:PORT: ".  After a
 * PB_E_TIMEOUT, PB_E_NETWORK, PB_E_SYNTAX or PB_E_LIMIT the connection is
 * unusable and every later call fails at once with the same error;
 * after a PB_E_PERMFAIL (the server's NO or BAD, its line as evidence) or
 * a PB_E_USAGE it can go on.  Stages: PB_STAGE_USAGE for a bad argument,
 * PB_STAGE_IMAP for the server's failures after login.
 *
 * libetpan 1.9.4 frees lists it never made on some parser error paths
 * (a crash on "* OK [PERMANENTFLAGS (%)]"); imap.c defines NULL-safe
 * clist_foreach() and clist_free(), which replace libetpan's in the whole
 * process.
 */
#ifndef PB_PROBE_IMAP_H
#define PB_PROBE_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pb_err.h"

/* Largest message or header block fetched (octets); a literal announced
 * larger ends the connection with PB_E_LIMIT before it is read. */
#define IMAP_LIMIT_LITERAL (8u * 1024 * 1024)
/* Octets one command's response may take in all (untagged data included). */
#define IMAP_LIMIT_RESPONSE (32u * 1024 * 1024)
/* UIDs one SEARCH may return before PB_E_LIMIT. */
#define IMAP_LIMIT_UIDS 100000
/* Lines of the protocol log kept (the last ones). */
#define IMAP_LOG_LINES 200
/* One response line outside its literals (octets): RFC 7162 §4 asks
 * clients to take lines of 8192 octets; the longest we expect is a SEARCH
 * of IMAP_LIMIT_UIDS UIDs of 10 digits (1.1 MB). */
#define IMAP_LIMIT_LINE (2u * 1024 * 1024)
/* Words (space-separated tokens) in one response line outside literals:
 * libetpan makes an allocation per word, so this bounds what a line of
 * "1 1 1 ..." costs (a SEARCH of IMAP_LIMIT_UIDS UIDs and some room). */
#define IMAP_LIMIT_WORDS (IMAP_LIMIT_UIDS + 1024)
/* Response lines to one command: a LIST of a large account has a few
 * thousand; each parsed line costs libetpan a few hundred octets. */
#define IMAP_LIMIT_RESPONSE_LINES 100000
/* Parentheses nested in one response line: libetpan parses them by
 * recursion (BODYSTRUCTURE), real messages nest under 20. */
#define IMAP_LIMIT_NESTING 64

enum imap_tls {
    IMAP_TLS_IMPLICIT = 0, /* imaps://, TLS from the first byte */
    IMAP_TLS_STARTTLS,     /* imap://, STARTTLS required */
};

enum imap_auth {
    IMAP_AUTH_LOGIN = 0, /* LOGIN user password (atoms or quoted strings:
                            libetpan never sends a literal; an 8-bit
                            password goes out raw in quotes: use PLAIN) */
    IMAP_AUTH_PLAIN,     /* AUTHENTICATE PLAIN (RFC 4616), the response in
                            the command with SASL-IR, else after "+" */
    IMAP_AUTH_XOAUTH2,   /* AUTHENTICATE XOAUTH2: secret is a token */
};

struct imap_params {
    const char *host;            /* name the certificate must match */
    unsigned port;               /* 993 / 143 */
    const char *connect_address; /* IP to connect to, or NULL: resolve host
                                    (getaddrinfo, AI_ADDRCONFIG) */
    enum imap_tls tls;
    const char *ca_file; /* NULL: the system's CA store */
    bool insecure;       /* skip certificate and name verification */
    const char *user;
    const char *secret; /* password or token; never logged, never copied
                           into err or the log; used during imap_open only
                           (not kept); no CR or LF */
    enum imap_auth auth;
    unsigned connect_timeout_ms; /* TCP + TLS + greeting; 0: 15000 */
    unsigned command_timeout_ms; /* each command to its tagged reply;
                                    0: 30000 */
};

/* TLS facts of the connection, filled after the handshake. */
struct imap_tls_info {
    char version[16];  /* "TLSv1.3" */
    char cipher[64];   /* "TLS_AES_256_GCM_SHA384" */
    char subject[256]; /* certificate subject, one line, escaped */
    char issuer[256];
    bool verified; /* chain and host name verified (false: insecure) */
};

struct imap_conn;

/*
 * Connect, TLS (implicit or STARTTLS; when STARTTLS any data the server
 * sent after its OK and before the handshake is refused: "response
 * injection"), greeting (a BYE greeting is an error; PREAUTH accepted,
 * but not before STARTTLS), CAPABILITY, login, CAPABILITY again unless the
 * login's OK had it.  connect_timeout_ms bounds TCP, TLS (STARTTLS
 * included) and the greeting together; each command after that has
 * command_timeout_ms.  Returns 0 with *out, or -1 with err and *out NULL:
 *   PB_STAGE_USAGE/PB_E_USAGE: no host, user or secret, CR/LF in them;
 *   PB_STAGE_CONNECT: PB_E_TIMEOUT, PB_E_NETWORK (refused, unresolvable);
 *   PB_STAGE_CONFIG/PB_E_IO: the CA file cannot be loaded;
 *   PB_STAGE_TLS: PB_E_NETWORK (handshake or certificate verification
 *     failed, STARTTLS refused), PB_E_SYNTAX (response injection),
 *     PB_E_TIMEOUT;
 *   PB_STAGE_GREETING: PB_E_TIMEOUT, PB_E_NETWORK (closed),
 *     PB_E_TEMPFAIL (a BYE greeting), PB_E_SYNTAX, PB_E_LIMIT;
 *   PB_STAGE_AUTH: PB_E_PERMFAIL for a NO/BAD to LOGIN or AUTHENTICATE,
 *     PB_E_TIMEOUT, PB_E_NETWORK, ...
 * The server's text in err->evidence, escaped.
 */
int imap_open(const struct imap_params *p, struct imap_conn **out,
              struct pb_err *err);

/* What the server said it can do (after login). */
bool imap_has_idle(const struct imap_conn *c);
bool imap_has_uidplus(const struct imap_conn *c);
const struct imap_tls_info *imap_tls(const struct imap_conn *c);

/*
 * The mailbox with the SPECIAL-USE attribute (RFC 6154) attr ("\\Junk",
 * "\\Trash"), by LIST "" "*" RETURN (SPECIAL-USE) when the server has
 * SPECIAL-USE, else LIST "" "*" and the attributes it gives (XLIST-style
 * \Spam is taken for \Junk; a BAD to the RETURN form falls back to the
 * plain LIST).  Returns 0 with *name (malloc'd, modified UTF-7 as the
 * server wrote it) or NULL when none has it; -1 with err on a protocol
 * error (PB_E_SYNTAX when that name is not printable ASCII).
 */
int imap_find_special(struct imap_conn *c, const char *attr, char **name,
                      struct pb_err *err);

/*
 * EXAMINE (readonly) or SELECT mailbox.  Fills *uidnext and *uidvalidity
 * (0 when the server gave none).  -1 with err: PB_E_PERMFAIL when the
 * server says NO (no such mailbox), with its text as evidence;
 * PB_E_USAGE when mailbox is not 1-1000 octets of printable ASCII
 * (modified UTF-7, RFC 3501 §5.1.3: the caller encodes).
 */
int imap_select(struct imap_conn *c, const char *mailbox, bool readonly,
                uint32_t *uidvalidity, uint32_t *uidnext, struct pb_err *err);

/*
 * UID SEARCH HEADER field value (value sent as a quoted string when
 * printable ASCII, else as a literal with CHARSET UTF-8; LITERAL+ when the
 * server has it; min_uid > 0 adds "UID min_uid:*").  *uids is malloc'd
 * (NULL when none), ascending, without duplicates, at most
 * IMAP_LIMIT_UIDS (more: PB_E_LIMIT).  The match is a substring match
 * (RFC 3501 §6.4.4).  A field with ':' or space, or a value with CR/LF
 * or over 4096 octets: PB_E_USAGE.
 */
int imap_search_header(struct imap_conn *c, const char *field,
                       const char *value, uint32_t min_uid, uint32_t **uids,
                       size_t *n, struct pb_err *err);

/* UID SEARCH UID min_uid:* (every message from min_uid on, which a server
 * answers with the last UID even when min_uid is above it: those are
 * dropped). */
int imap_search_from(struct imap_conn *c, uint32_t min_uid, uint32_t **uids,
                     size_t *n, struct pb_err *err);

/*
 * UID FETCH uid (BODY.PEEK[HEADER]) when header_only, else
 * (BODY.PEEK[]) at most max octets (BODY.PEEK[]<0.max>; max 0 means
 * IMAP_LIMIT_LITERAL; so does a max over it).  Also INTERNALDATE into
 * *internaldate (Unix time, or 0), may be NULL.  *data is malloc'd and
 * NUL-terminated (it may hold NULs), *len its length; *data NULL and *len
 * 0 when the message is gone (expunged).  Never sets \Seen.  A literal
 * announced over IMAP_LIMIT_LITERAL, or more octets than asked for, is
 * PB_E_LIMIT.
 */
int imap_fetch(struct imap_conn *c, uint32_t uid, bool header_only, size_t max,
               char **data, size_t *len, long long *internaldate,
               struct pb_err *err);

/*
 * Wait for a change in the selected mailbox: IDLE (RFC 2177) when the
 * server has it, until the server reports EXISTS or RECENT, or
 * timeout_ms passes; then DONE and the tagged OK.  Without IDLE, NOOP
 * after sleeping timeout_ms.  Returns 1 when the mailbox changed (an
 * EXISTS or RECENT; an EXPUNGE alone is no change), 0 on timeout with
 * nothing new, -1 with err.  Never longer than timeout_ms plus the
 * command deadline.  A mailbox must be selected (else PB_E_USAGE).
 * Dovecot reports a delivery about 0.5 s after it (its notify delay).
 */
int imap_wait(struct imap_conn *c, unsigned timeout_ms, struct pb_err *err);

/*
 * UID STORE uids +FLAGS.SILENT (\Deleted), then UID EXPUNGE uids when the
 * server has UIDPLUS, else EXPUNGE (which also removes messages others
 * marked \Deleted: the caller is told by *expunged_all = true).  The
 * mailbox must be SELECTed (not EXAMINEd: PB_E_USAGE).  n 0 does
 * nothing; UIDs go in batches of ranges, at most IMAP_LIMIT_UIDS in all.
 */
int imap_delete(struct imap_conn *c, const uint32_t *uids, size_t n,
                bool *expunged_all, struct pb_err *err);

/*
 * The protocol log so far: the last IMAP_LOG_LINES lines, each
 * "HH:MM:SS.mmm C: ..." or "S: ..." (UTC), escaped, the login secret
 * replaced by "[redacted]" (LOGIN's password argument, every AUTHENTICATE
 * line from the client that carries a response), literal bodies over 200
 * octets shown as "{N octets}" after their announcement, a line over 1024
 * octets cut with "... (N octets)".  Only for an open connection:
 * imap_open's failures leave no log.  Points into c, valid until the next
 * call on c.
 */
const char *const *imap_log(const struct imap_conn *c, size_t *n);

/* LOGOUT (bounded by the command deadline; errors ignored), close, free.
 * c may be NULL. */
void imap_close(struct imap_conn *c);

#endif
