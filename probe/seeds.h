/* SPDX-License-Identifier: MIT */
/*
 * The seeds of `probe send --to SEEDS`: the addresses a test message goes
 * to, and for each the optional way to read its copy back over IMAP.
 * docs/seeds.md describes the file format.
 */
#ifndef PB_PROBE_SEEDS_H
#define PB_PROBE_SEEDS_H

#include <stdbool.h>
#include <stddef.h>

#include "pb_err.h"

/*
 * One seed.  Every string is owned by the struct seeds holding it.  When
 * imap_url is NULL the seed is send-only, and every mailbox field is NULL,
 * 0 or false (provider alone may still be set).
 */
struct seed {
    char *address; /* passed pb_addr_check(); as written */

    /* reading the copy back (imap= and the attributes that need it) */
    char *imap_url;        /* as written, or NULL: send only */
    char *imap_host;       /* host of the URL; an IPv6 one without [] */
    unsigned imap_port;    /* from the URL, else 143 (imap) or 993 (imaps) */
    bool imap_tls;         /* true: imaps://, TLS from the first byte
                              (RFC 8314); false: imap://, STARTTLS required
                              (there is no plain-text IMAP) */
    char *connect_address; /* address=: IP to connect to instead of
                              resolving imap_host (TLS still verifies
                              imap_host), or NULL */
    char *user;            /* login name; the address when not given */
    char *password_env;    /* environment variable holding the password */
    char *password_file;   /* file whose first line is the password;
                              exactly one of the two is set */
    char *ca_file;         /* CA bundle instead of the system's, or NULL */
    bool insecure;         /* skip certificate verification */
    char *inbox;           /* inbox folder; "INBOX" when not given */
    char *junk;            /* spam folder, or NULL: find it by SPECIAL-USE
                              \Junk (RFC 6154) */
    char *authserv_id;     /* the receiver's authserv-id whose
                              Authentication-Results to trust, or NULL */
    char *auth;            /* "login", "plain", "xoauth2" (the password
                              source then holds an OAuth2 access token),
                              or NULL: the IMAP profile's, else login */

    char *provider; /* free word in lower case ("gmail"), or NULL */
    unsigned line;  /* line in the file; position in a --to list */
};

struct seeds {
    struct seed *v;
    size_t n;     /* 1 .. PB_LIMIT_SEEDS after a successful load */
    char *source; /* file name as given, "<stdin>", or "--to" */
};

/*
 * Parse a seeds file held in (p, len); name is what messages call it
 * (NULL: "seeds").  p is untrusted and need not be NUL-terminated.
 * Clears out on entry; on success it holds 1 .. PB_LIMIT_SEEDS seeds in
 * file order, no address twice (compared ignoring case), and the caller
 * releases it with seeds_release().  Returns 0, or -1 with err
 * (PB_STAGE_CONFIG) and out empty:
 *   PB_E_SYNTAX  a bad line, a repeated address, or no seed at all;
 *   PB_E_LIMIT   over PB_LIMIT_SEEDS_FILE octets, a line over
 *                PB_LIMIT_SEEDS_LINE, more than PB_LIMIT_SEEDS seeds.
 * err->msg starts with "NAME:LINE: " for a line's error ("no seeds in
 * NAME", "NAME: ..." for the whole input), and err->evidence holds the
 * escaped line (a value of a key that looks like a secret is replaced by
 * "[redacted]").
 */
int seeds_parse(const char *p, size_t len, const char *name, struct seeds *out,
                struct pb_err *err);

/*
 * Read the seeds file at path ("-": standard input, called "<stdin>") and
 * parse it as seeds_parse() does.  Reads at most PB_LIMIT_SEEDS_FILE + 1
 * octets.  Returns 0, or -1 with err: PB_STAGE_CONFIG, PB_E_IO when the
 * file cannot be opened or read ("FILE: cannot read: ..."), or one of
 * seeds_parse()'s.
 */
int seeds_load(const char *path, struct seeds *out, struct pb_err *err);

/*
 * The seeds of a `--to a@x,b@y` argument: comma-separated addresses
 * (space around them ignored, commas inside a quoted local part kept),
 * send-only, source "--to", line = the address's position in the list.
 * Clears out on entry.  Returns 0, or -1 with err: PB_STAGE_USAGE,
 * PB_E_USAGE (an empty item, a bad or repeated address, more than
 * PB_LIMIT_SEEDS addresses), msg starting with "--to: ".
 */
int seeds_from_list(const char *arg, struct seeds *out, struct pb_err *err);

/* Free what s holds and clear it; s may be NULL. */
void seeds_release(struct seeds *s);

#endif
