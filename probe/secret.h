/* SPDX-License-Identifier: MIT */
/*
 * Secrets for SMTP AUTH: a password from an environment variable or a
 * file, or an OAuth2 access token got with a refresh token (RFC 6749 §6)
 * for SASL XOAUTH2, cached until it expires.  A secret is never printed:
 * not in messages, evidence, logs or argv, and every buffer that held one
 * is wiped with OPENSSL_cleanse().
 */
#ifndef PB_PROBE_SECRET_H
#define PB_PROBE_SECRET_H

#include <stddef.h>

#include "pb_err.h"
#include "profile.h"

/* A password, client secret or refresh token file: one line is enough. */
#define SECRET_LIMIT_FILE 4096
/* A token endpoint's answer: real ones are 1-5 KB (Entra ID JWTs). */
#define SECRET_LIMIT_RESPONSE (64u * 1024)
/* An access token (JWTs of Entra ID reach about 3 KB). */
#define SECRET_LIMIT_TOKEN (16u * 1024)
/* A cache file: the token and a few fields. */
#define SECRET_LIMIT_CACHE (32u * 1024)
/* The whole token request, in seconds. */
#define SECRET_OAUTH2_TIMEOUT 30
/* A cached access token is used until this many seconds before it
 * expires, so it does not expire in the middle of a session. */
#define SECRET_OAUTH2_MARGIN 60

/* Bytes of a secret with their length; NUL-terminated as well. */
struct secret;

/* The bytes (NUL-terminated) and, when len is not NULL, their length.
 * Valid until secret_free(). */
const char *secret_data(const struct secret *s, size_t *len);

/* A new secret holding a copy of (p, len).  The caller wipes its own. */
struct secret *secret_new(const void *p, size_t len);

/* Wipe and release.  NULL does nothing. */
void secret_free(struct secret *s);

/*
 * The value of the environment variable name.  what names the setting in
 * messages ("password_env").  Unset or empty is an error naming the
 * variable (never a value); so is a value with CR, LF.
 * Errors: PB_STAGE_CONFIG, PB_E_IO (unset) or PB_E_SYNTAX.
 */
int secret_from_env(const char *name, const char *what, struct secret **out,
                    struct pb_err *err);

/*
 * The first line of the file at path, trailing CR and LF stripped.  The
 * file must be a regular file (symbolic links are followed) that neither
 * its group nor others may read or write (the message says the mode and
 * "chmod 600 FILE"), of at most SECRET_LIMIT_FILE bytes; an empty first
 * line, a NUL or a CR inside it are refused.
 * Errors: PB_STAGE_CONFIG, PB_E_IO, PB_E_LIMIT, PB_E_SYNTAX.
 */
int secret_from_file(const char *path, const char *what, struct secret **out,
                     struct pb_err *err);

/* The password of p: from password_env or password_file (as above). */
int secret_password(const struct profile *p, struct secret **out,
                    struct pb_err *err);

/*
 * An OAuth2 access token for o: from the cache in cache_dir when one is
 * there for (token_url, client_id, scope, refresh token) and valid for
 * SECRET_OAUTH2_MARGIN seconds more; otherwise by a refresh-token grant
 * POSTed to token_url (libcurl, TLS verified, no redirects,
 * SECRET_OAUTH2_TIMEOUT, answer capped at SECRET_LIMIT_RESPONSE), then
 * cached (files 0600, directories 0700, written by rename; a cache file
 * that is not ours, not 0600 or does not parse is ignored and replaced).
 *
 * cache_dir NULL: $XDG_CACHE_HOME/probe/oauth2 (default
 * ~/.cache/probe/oauth2); "": no cache.  When the endpoint rotates the
 * refresh token, a refresh_token_file is rewritten (atomically, 0600);
 * one from refresh_token_env cannot be, and warn (warnlen bytes, "" when
 * nothing is to be said) says the variable must be updated.
 *
 * The endpoint's answer is untrusted: error and error_description of an
 * error answer are reported as evidence (withheld if they echo a
 * credential), with the HTTP status.  Errors: PB_STAGE_CONFIG for the
 * credentials (as secret_from_env() / secret_from_file()); PB_STAGE_AUTH
 * with PB_E_PERMFAIL (an error answer: invalid_grant, ...), PB_E_TEMPFAIL
 * (HTTP 429 or 5xx), PB_E_TIMEOUT, PB_E_NETWORK (libcurl's reason as
 * evidence), PB_E_SYNTAX (not a usable answer), PB_E_LIMIT.
 */
int secret_oauth2_token(const struct profile_oauth2 *o, const char *cache_dir,
                        struct secret **out, char *warn, size_t warnlen,
                        struct pb_err *err);

/*
 * The secret p->auth needs: NULL (*out) for SMTP_AUTH_NONE, the access
 * token for XOAUTH2, the password otherwise.  Arguments as above.
 */
int secret_for_profile(const struct profile *p, const char *cache_dir,
                       struct secret **out, char *warn, size_t warnlen,
                       struct pb_err *err);

#endif
