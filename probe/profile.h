/* SPDX-License-Identifier: MIT */
/*
 * Relay profiles: where and how `probe send` talks SMTP, from a JSON file
 * (profiles/SCHEMA.md), a name found on the profile search path, or an
 * smtp:// / smtps:// URL, with `--set KEY=VALUE` overrides and {variable}
 * substitution.  Profiles never hold secrets, only where to find them
 * (environment variable names, file paths): probe/secret.h reads those.
 */
#ifndef PB_PROBE_PROFILE_H
#define PB_PROBE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "pb_err.h"
#include "smtp.h"

/* A profile file: the shipped ones are about 2 KB; 64 KiB holds any
 * hand-written profile with room for long notes. */
#define PROFILE_LIMIT_BYTES (64u * 1024)
/* One string value after {variable} substitution (PATH_MAX for paths). */
#define PROFILE_LIMIT_STRING 4096
/* Declared variables and notes per profile, and --set options. */
#define PROFILE_LIMIT_VARIABLES 32
#define PROFILE_LIMIT_NOTES     64
#define PROFILE_LIMIT_SETS      64
/* Connections at once (smtp_send() takes at most SMTP_MAX_PARALLEL). */
#define PROFILE_MAX_PARALLEL SMTP_MAX_PARALLEL
/* A deadline in seconds: an hour is longer than any SMTP stage may take. */
#define PROFILE_MAX_TIMEOUT 3600

/* A variable a profile declares ("variables": {"tenant": {...}}). */
struct profile_var {
    char *name;
    char *description;
    char *def; /* "default", or NULL */
    char *env; /* environment variable that may give the value, or NULL */
    bool required;
    char *value;      /* the value used, or NULL when it has none */
    const char *from; /* "--set", "env", "default" or NULL (no value) */
};

/*
 * How to get an OAuth2 access token for SASL XOAUTH2 (RFC 6749 §6, a
 * refresh-token grant).  Each credential is named by exactly one of its
 * fields; the others are NULL.  secret_oauth2_token() reads them.
 */
struct profile_oauth2 {
    char *token_url; /* https (http only to 127.0.0.0/8 or ::1) */
    char *client_id; /* the value itself: a client id is not secret */
    char *client_id_env;
    char *client_id_file;
    char *client_secret_env; /* both NULL: a public client */
    char *client_secret_file;
    char *refresh_token_env;
    char *refresh_token_file;
    char *scope; /* space-separated, or NULL (none sent) */
};

/* A loaded profile: every string is owned by it (profile_free()). */
struct profile {
    char *name;        /* the spec as given: NAME, FILE or URL */
    char *path;        /* the file read, or NULL (a URL spec) */
    char *description; /* or NULL */
    char **notes;      /* provider facts with sources */
    size_t nnotes;

    char *host;    /* the SMTP server's name (or IP), for TLS verification */
    char *address; /* IP literal to connect to instead of resolving, or NULL */
    unsigned port; /* 1..65535; defaults resolved (587, 465 or 25) */
    enum smtp_tls tls;
    bool insecure;        /* skip certificate verification: see warnings */
    char *ca_file;        /* or NULL */
    char *helo;           /* or NULL: the engine uses this host's FQDN */
    char *source_address; /* local IP to bind, or NULL */

    /*
     * Resolved: SMTP_AUTH_NONE also when "auto" was asked with no user.
     * Any other value has a user; AUTO, PLAIN and LOGIN have exactly one
     * of password_env and password_file; XOAUTH2 has has_oauth2.
     */
    enum smtp_auth auth;
    char *user;     /* from "user", or read from user_env; NULL: none */
    char *user_env; /* the variable it was read from, or NULL */
    char *password_env;
    char *password_file;
    bool has_oauth2;
    struct profile_oauth2 oauth2;

    struct smtp_timeouts timeouts; /* ms; 0 where the profile sets none */
    unsigned parallel;             /* 1..PROFILE_MAX_PARALLEL; 0: unset */
    /*
     * Where the relay's bounces for the envelope sender land: one line of
     * the seeds-file format (docs/seeds.md) with imap=, or NULL.
     */
    char *bounce_mailbox;

    struct profile_var *vars;
    size_t nvars;

    /* Sentences the command line prints before it sends ("insecure: ...") */
    char **warnings;
    size_t nwarnings;
};

/*
 * Load the relay profile spec names, and apply the nsets overrides in
 * sets ("KEY=VALUE" each, at most PROFILE_LIMIT_SETS; later ones win):
 *
 * - a spec that contains '/' or ends in ".json" is a file path;
 * - "smtp://HOST[:PORT]" and "smtps://HOST[:PORT]" (IPv6 in brackets)
 *   make a profile of that server: STARTTLS or implicit TLS, no AUTH;
 * - anything else must be a NAME (^[a-z0-9][a-z0-9_-]*$), read from
 *   NAME.json in the first of: each directory of $PROBE_PROFILE_PATH
 *   (colon-separated), $XDG_CONFIG_HOME/probe/profiles (default
 *   ~/.config/probe/profiles), /etc/probe/profiles, profile_builtin_dir().
 *
 * A --set KEY names a declared variable, else one of the top-level
 * fields host, address, port, tls, insecure, ca_file, helo,
 * source_address, auth, user, user_env, password_env, password_file,
 * parallel; the value is checked as the file's would be (an empty value
 * clears an optional field).  Variables take their value from --set, then
 * their environment variable, then their default.  A user_env is read
 * here; secrets are not (probe/secret.h).
 *
 * On success *out is a new profile (profile_free() it) whose warnings the
 * caller shows.  Errors (PB_STAGE_CONFIG): PB_E_IO (cannot read, not
 * found: the message lists the directories searched and the names
 * available), PB_E_LIMIT (PROFILE_LIMIT_*), PB_E_SYNTAX ("FILE:LINE:COL:
 * not valid JSON", "FILE: $.json.path: reason", "--set KEY=VALUE:
 * reason", a required variable without a value), PB_E_USAGE (a spec that
 * is no name, path or URL; a --set without '=' or with an unknown key).
 * The file is untrusted: every key and type is checked, unknown and
 * duplicate keys and strings with control characters are refused.
 */
int profile_load(const char *spec, const char *const *sets, size_t nsets,
                 struct profile **out, struct pb_err *err);

/*
 * As profile_load() for the file contents (p, len), which came from path
 * (shown in messages and kept in ->path); name is the spec (->name).
 */
int profile_parse(const char *name, const char *path, const void *p, size_t len,
                  const char *const *sets, size_t nsets, struct profile **out,
                  struct pb_err *err);

/* Release a profile.  NULL does nothing. */
void profile_free(struct profile *p);

/*
 * Fill *out from p for smtp_send(): its strings point into p (and secret,
 * the password or access token, or NULL), so both must outlive *out.
 */
void profile_relay(const struct profile *p, const char *secret,
                   struct smtp_relay *out);

/* The directory searched last, set at build time (PROBE_PROFILE_DIR: the
 * source tree's profiles/ unless the build says otherwise). */
const char *profile_builtin_dir(void);

/*
 * The profile search path in order ($PROBE_PROFILE_PATH, the XDG or
 * ~/.config directory, /etc/probe/profiles, profile_builtin_dir()): a
 * malloc'd array of *n malloc'd strings, freed by the caller.
 */
char **profile_dirs(size_t *n);

#endif
