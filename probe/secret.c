/* SPDX-License-Identifier: MIT */
/*
 * Secrets for SMTP AUTH: passwords from the environment or a 0600 file,
 * and OAuth2 access tokens from a refresh-token grant (RFC 6749 §6, the
 * answer of §5.1 / §5.2) with an on-disk cache.  Tokens are bearer tokens
 * (RFC 6750 §2.1 syntax).  Not done: device or authorization-code flows
 * (the refresh token is got once, outside probe; docs/profiles.md).
 */
#include "secret.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "pb_buf.h"
#include "pb_log.h"
#include "pb_xalloc.h"

#ifndef PROBE_VERSION
#define PROBE_VERSION "0"
#endif

struct secret {
    size_t len;
    char data[]; /* len bytes and a NUL */
};

const char *
secret_data(const struct secret *s, size_t *len)
{
    if (len != NULL)
        *len = s->len;
    return s->data;
}

struct secret *
secret_new(const void *p, size_t len)
{
    struct secret *s = pb_xmalloc(sizeof(*s) + len + 1);

    s->len = len;
    memcpy(s->data, p, len);
    s->data[len] = '\0';
    return s;
}

void
secret_free(struct secret *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s->data, s->len);
    free(s);
}

static void
sec_esc(char *dst, size_t size, const char *s)
{
    pb_escape_to(dst, size, s, strlen(s));
}

/* Wipe and release a pb_buf that held a secret. */
static void
sec_buf_wipe(struct pb_buf *b)
{
    if (b->p != NULL)
        OPENSSL_cleanse(b->p, b->cap);
    pb_buf_release(b);
}

/* Wipe every string in a cJSON tree, then delete it. */
static void
sec_json_wipe(cJSON *j)
{
    cJSON *c;

    if (j == NULL)
        return;
    for (c = j->child; c != NULL; c = c->next)
        sec_json_wipe(c);
    if (j->valuestring != NULL)
        OPENSSL_cleanse(j->valuestring, strlen(j->valuestring));
}

static void
sec_json_delete(cJSON *j)
{
    sec_json_wipe(j);
    cJSON_Delete(j);
}

/* ------------------------------------------------------------------ */
/* Environment and files                                               */

int
secret_from_env(const char *name, const char *what, struct secret **out,
                struct pb_err *err)
{
    const char *v = getenv(name);
    char shown[160];

    *out = NULL;
    sec_esc(shown, sizeof(shown), name);
    if (v == NULL || *v == '\0')
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "%s: environment variable %s is not set", what,
                          shown);
    if (strpbrk(v, "\r\n") != NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s: environment variable %s holds a line break",
                          what, shown);
    *out = secret_new(v, strlen(v));
    return 0;
}

int
secret_from_file(const char *path, const char *what, struct secret **out,
                 struct pb_err *err)
{
    char shown[256], chunk[1024];
    struct stat st;
    struct pb_buf b;
    ssize_t got;
    size_t n;
    char *nl;
    int fd, rc = -1;

    *out = NULL;
    sec_esc(shown, sizeof(shown), path);
    fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd == -1)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "%s: cannot open %s: %s", what, shown,
                          strerror(errno));
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "%s: %s is not a regular file", what, shown);
    }
    /* others who can read it have the secret; who can write it, the
     * account (msmtp and ssh refuse the same) */
    if ((st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
        close(fd);
        return pb_err_set(
            err, PB_STAGE_CONFIG, PB_E_IO,
            "%s: %s is %s by %s (mode %04o): chmod 600 %s", what, shown,
            (st.st_mode & (S_IRGRP | S_IROTH)) ? "readable" : "writable",
            (st.st_mode & (S_IROTH | S_IWOTH)) ? "everyone" : "its group",
            (unsigned)(st.st_mode & 07777), shown);
    }
    pb_buf_init(&b, SECRET_LIMIT_FILE);
    for (;;) {
        got = read(fd, chunk, sizeof(chunk));
        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO, "%s: cannot read %s: %s",
                       what, shown, strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        if (pb_buf_add(&b, chunk, (size_t)got) == -1) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                       "%s: %s is over the limit of %d bytes", what, shown,
                       SECRET_LIMIT_FILE);
            goto out;
        }
    }
    n = b.len;
    nl = b.p != NULL ? memchr(b.p, '\n', b.len) : NULL;
    if (nl != NULL)
        n = (size_t)(nl - b.p);
    while (n > 0 && b.p[n - 1] == '\r')
        n--;
    if (n == 0) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s: %s is empty (the secret is its first line)", what,
                   shown);
        goto out;
    }
    if (memchr(b.p, '\0', n) != NULL || memchr(b.p, '\r', n) != NULL) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s: the first line of %s holds a NUL or a CR", what, shown);
        goto out;
    }
    *out = secret_new(b.p, n);
    rc = 0;
out:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    sec_buf_wipe(&b);
    close(fd);
    return rc;
}

/* A credential named by an _env or a _file setting (one of them set). */
static int
sec_get(const char *env, const char *file, const char *what_env,
        const char *what_file, struct secret **out, struct pb_err *err)
{
    if (env != NULL)
        return secret_from_env(env, what_env, out, err);
    return secret_from_file(file, what_file, out, err);
}

int
secret_password(const struct profile *p, struct secret **out,
                struct pb_err *err)
{
    char shown[96];

    *out = NULL;
    if (p->password_env == NULL && p->password_file == NULL) {
        sec_esc(shown, sizeof(shown), p->name);
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "profile %s has no password_env or password_file",
                          shown);
    }
    return sec_get(p->password_env, p->password_file, "password_env",
                   "password_file", out, err);
}

/* ------------------------------------------------------------------ */
/* Files written atomically                                            */

/*
 * Replace path with (p, len): a temporary file 0600 in the same
 * directory, synced, then renamed over it.  Returns 0, or -1 with errno.
 */
static int
sec_write_atomic(const char *path, const void *p, size_t len)
{
    char *tmp = pb_xasprintf("%s.tmp.XXXXXX", path);
    const char *c = p;
    int fd, e;

    fd = mkstemp(tmp); /* POSIX.1-2008: mode 0600 */
    if (fd == -1)
        goto fail;
    if (fchmod(fd, 0600) == -1)
        goto fail_fd;
    while (len > 0) {
        ssize_t w = write(fd, c, len);

        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1)
            goto fail_fd;
        c += w;
        len -= (size_t)w;
    }
    if (fsync(fd) == -1)
        goto fail_fd;
    if (close(fd) == -1) {
        fd = -1;
        goto fail_unlink;
    }
    if (rename(tmp, path) == -1) {
        fd = -1;
        goto fail_unlink;
    }
    free(tmp);
    return 0;
fail_fd:
    e = errno;
    close(fd);
    errno = e;
fail_unlink:
    e = errno;
    unlink(tmp);
    errno = e;
fail:
    e = errno;
    free(tmp);
    errno = e;
    return -1;
}

/* mkdir -p with 0700 for what is created. */
static int
sec_mkdirs(const char *dir)
{
    char *d = pb_xstrdup(dir);
    char *s;
    int rc = 0;

    for (s = d + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        {
            char c = *s;

            *s = '\0';
            if (mkdir(d, 0700) == -1 && errno != EEXIST)
                rc = -1;
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(d);
    return rc;
}

/* ------------------------------------------------------------------ */
/* OAuth2                                                              */

/* The credentials of one request (wiped by sec_creds_release()). */
struct sec_creds {
    struct secret *client_id;
    struct secret *client_secret; /* or NULL */
    struct secret *refresh;
};

static void
sec_creds_release(struct sec_creds *c)
{
    secret_free(c->client_id);
    secret_free(c->client_secret);
    secret_free(c->refresh);
    memset(c, 0, sizeof(*c));
}

static int
sec_creds_read(const struct profile_oauth2 *o, struct sec_creds *c,
               struct pb_err *err)
{
    memset(c, 0, sizeof(*c));
    if (o->client_id != NULL)
        c->client_id = secret_new(o->client_id, strlen(o->client_id));
    else if (sec_get(o->client_id_env, o->client_id_file,
                     "oauth2.client_id_env", "oauth2.client_id_file",
                     &c->client_id, err) == -1)
        goto fail;
    if ((o->client_secret_env != NULL || o->client_secret_file != NULL) &&
        sec_get(o->client_secret_env, o->client_secret_file,
                "oauth2.client_secret_env", "oauth2.client_secret_file",
                &c->client_secret, err) == -1)
        goto fail;
    if (sec_get(o->refresh_token_env, o->refresh_token_file,
                "oauth2.refresh_token_env", "oauth2.refresh_token_file",
                &c->refresh, err) == -1)
        goto fail;
    return 0;
fail:
    sec_creds_release(c);
    return -1;
}

static void
sec_hex(char *dst, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        dst[2 * i] = hex[p[i] >> 4];
        dst[2 * i + 1] = hex[p[i] & 15];
    }
    dst[2 * n] = '\0';
}

/* SHA-256 of (p, len) as 64 hex digits and a NUL. */
static int
sec_sha256_hex(const void *p, size_t len, char dst[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    sec_hex(dst, md, 32);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}

/*
 * The cache file name for (token_url, client_id, scope, refresh token):
 * a hash, so neither the refresh token nor anything else shows in it.
 */
static int
sec_cache_name(const struct profile_oauth2 *o, const struct secret *client_id,
               const struct secret *refresh, char dst[70])
{
    char rhash[65], h[65];
    struct pb_buf b;
    int rc = -1;

    if (sec_sha256_hex(refresh->data, refresh->len, rhash) == -1)
        return -1;
    pb_buf_init(&b, 4 * PROFILE_LIMIT_STRING + 256);
    if (pb_buf_add(&b, "probe-oauth2-v1", 16) == 0 &&
        pb_buf_add(&b, o->token_url, strlen(o->token_url) + 1) == 0 &&
        pb_buf_add(&b, client_id->data, client_id->len + 1) == 0 &&
        pb_buf_add(&b, o->scope ? o->scope : "",
                   o->scope ? strlen(o->scope) + 1 : 1) == 0 &&
        pb_buf_add(&b, rhash, 64) == 0 && sec_sha256_hex(b.p, b.len, h) == 0) {
        snprintf(dst, 70, "%s.json", h);
        rc = 0;
    }
    pb_buf_release(&b);
    OPENSSL_cleanse(rhash, sizeof(rhash));
    return rc;
}

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
 * "+" / "/" ) *"=" */
static bool
sec_b64token_ok(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n &&
           (strchr("-._~+/", s[i]) != NULL || (s[i] >= 'a' && s[i] <= 'z') ||
            (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')) &&
           s[i] != '\0')
        i++;
    if (i == 0)
        return false;
    while (i < n && s[i] == '=')
        i++;
    return i == n;
}

/* RFC 6749 Appendix A.17: refresh-token = 1*VSCHAR; we store it on one
 * line, so no space either. */
static bool
sec_refresh_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > SECRET_LIMIT_FILE - 1)
        return false;
    for (i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

/*
 * The cache directory: created 0700 when missing; ours and private, or
 * (NULL) not used.  Returns a new string or NULL.
 */
static char *
sec_cache_dir(const char *cache_dir)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    struct stat st;
    char *dir, shown[256];

    if (cache_dir != NULL && *cache_dir == '\0')
        return NULL;
    if (cache_dir != NULL) {
        dir = pb_xstrdup(cache_dir);
    } else if (xdg != NULL && xdg[0] == '/') {
        dir = pb_xasprintf("%s/probe/oauth2", xdg);
    } else {
        if (home == NULL || home[0] != '/') {
            struct passwd *pw = getpwuid(getuid());

            home = pw != NULL ? pw->pw_dir : NULL;
        }
        if (home == NULL || home[0] != '/')
            return NULL;
        dir = pb_xasprintf("%s/.cache/probe/oauth2", home);
    }
    sec_esc(shown, sizeof(shown), dir);
    if (sec_mkdirs(dir) == -1 || lstat(dir, &st) == -1 ||
        !S_ISDIR(st.st_mode)) {
        log_warn("oauth2: cache directory %s unusable: no cache", shown);
        free(dir);
        return NULL;
    }
    if (st.st_uid != geteuid()) {
        log_warn("oauth2: cache directory %s is not ours: no cache", shown);
        free(dir);
        return NULL;
    }
    if ((st.st_mode & 077) != 0 && chmod(dir, 0700) == -1) {
        log_warn("oauth2: cannot chmod 700 %s: no cache", shown);
        free(dir);
        return NULL;
    }
    return dir;
}

/*
 * A valid cached token for o from path, or NULL.  A file that is not a
 * private regular file of ours, or does not parse, is ignored (and
 * replaced after the request).
 */
static struct secret *
sec_cache_read(const char *path, const struct profile_oauth2 *o,
               const struct secret *client_id)
{
    struct secret *tok = NULL;
    struct stat st;
    struct pb_buf b;
    char chunk[4096];
    cJSON *root = NULL;
    const cJSON *url, *cid, *exp, *at;
    ssize_t got;
    int fd;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd == -1)
        return NULL;
    pb_buf_init(&b, SECRET_LIMIT_CACHE);
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        log_info("oauth2: ignoring a cache file that is not private");
        goto out;
    }
    for (;;) {
        got = read(fd, chunk, sizeof(chunk));
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (pb_buf_add(&b, chunk, (size_t)got) == -1) {
            got = -1;
            break;
        }
    }
    if (got != 0 || b.p == NULL)
        goto out;
    root = cJSON_ParseWithLength(b.p, b.len);
    url = cJSON_GetObjectItemCaseSensitive(root, "token_url");
    cid = cJSON_GetObjectItemCaseSensitive(root, "client_id");
    exp = cJSON_GetObjectItemCaseSensitive(root, "expires_at");
    at = cJSON_GetObjectItemCaseSensitive(root, "access_token");
    if (!cJSON_IsString(url) || !cJSON_IsString(cid) || !cJSON_IsNumber(exp) ||
        !cJSON_IsString(at) || strcmp(url->valuestring, o->token_url) != 0 ||
        strcmp(cid->valuestring, client_id->data) != 0 ||
        !sec_b64token_ok(at->valuestring, strlen(at->valuestring))) {
        log_info("oauth2: ignoring a cache file that does not parse");
        goto out;
    }
    if (exp->valuedouble - SECRET_OAUTH2_MARGIN <= (double)time(NULL)) {
        log_debug("oauth2: the cached access token has expired");
        goto out;
    }
    tok = secret_new(at->valuestring, strlen(at->valuestring));
out:
    sec_json_delete(root);
    OPENSSL_cleanse(chunk, sizeof(chunk));
    sec_buf_wipe(&b);
    close(fd);
    return tok;
}

static void
sec_cache_write(const char *path, const struct profile_oauth2 *o,
                const struct secret *client_id, const char *token,
                double expires_at)
{
    cJSON *root = cJSON_CreateObject();
    char *text;

    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "token_url", o->token_url);
    cJSON_AddStringToObject(root, "client_id", client_id->data);
    cJSON_AddNumberToObject(root, "expires_at", expires_at);
    cJSON_AddStringToObject(root, "token_type", "Bearer");
    cJSON_AddStringToObject(root, "access_token", token);
    text = cJSON_PrintUnformatted(root);
    if (text == NULL || sec_write_atomic(path, text, strlen(text)) == -1)
        log_warn("oauth2: cannot write the token cache: %s",
                 text == NULL ? "out of memory" : strerror(errno));
    if (text != NULL) {
        OPENSSL_cleanse(text, strlen(text));
        cJSON_free(text);
    }
    sec_json_delete(root);
}

/* libcurl's debug output would show the form: say nothing. */
static int
sec_curl_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)h;
    (void)type;
    (void)data;
    (void)size;
    (void)arg;
    return 0;
}

struct sec_body {
    struct pb_buf b;
    bool is_over;
};

static size_t
sec_curl_write(char *p, size_t size, size_t n, void *arg)
{
    struct sec_body *body = arg;

    if (pb_buf_add(&body->b, p, size * n) == -1) {
        body->is_over = true;
        return 0;
    }
    return size * n;
}

/* Add "&name=value" (form-urlencoded) to the form. */
static int
sec_form_add(CURL *h, struct pb_buf *form, const char *name, const char *v,
             size_t len)
{
    char *e = curl_easy_escape(h, v, (int)len);
    int rc;

    if (e == NULL)
        return -1;
    rc = pb_buf_addf(form, "%s%s=%s", form->len ? "&" : "", name, e);
    OPENSSL_cleanse(e, strlen(e));
    curl_free(e);
    return rc;
}

/* True when the text holds one of the credentials (worth hiding: 8 bytes
 * or more), so it cannot be shown. */
static bool
sec_leaks(const char *text, const struct sec_creds *c)
{
    const struct secret *s[2] = {c->client_secret, c->refresh};
    size_t i;

    for (i = 0; i < 2; i++)
        if (s[i] != NULL && s[i]->len >= 8 && strstr(text, s[i]->data) != NULL)
            return true;
    return false;
}

/* Report an error answer of the endpoint (RFC 6749 §5.2). */
static int
sec_answer_error(const char *url, long status, const cJSON *root,
                 const struct sec_creds *c, struct pb_err *err)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *d =
        cJSON_GetObjectItemCaseSensitive(root, "error_description");
    enum pb_code code =
        status == 429 || status >= 500 ? PB_E_TEMPFAIL : PB_E_PERMFAIL;
    char code_s[64] = "no error code";
    char ev[512] = "";

    if (cJSON_IsString(e) && !sec_leaks(e->valuestring, c))
        sec_esc(code_s, sizeof(code_s), e->valuestring);
    pb_err_set(err, PB_STAGE_AUTH, code,
               "oauth2 token endpoint %s answered HTTP %ld: %s", url, status,
               code_s);
    if (cJSON_IsString(d))
        snprintf(ev, sizeof(ev), "%s", d->valuestring);
    if (ev[0] != '\0' && sec_leaks(ev, c))
        snprintf(ev, sizeof(ev),
                 "[error_description withheld: it repeats a credential]");
    if (ev[0] != '\0')
        pb_err_evidence(err, ev, strlen(ev));
    OPENSSL_cleanse(ev, sizeof(ev));
    return -1;
}

/*
 * The file a chain of symbolic links (at most 8) ends at, so a rewrite
 * replaces that file and leaves the links (a secrets mount, a dotfile
 * manager) in place.  Returns a new string.
 */
static char *
sec_resolve_links(const char *path)
{
    char *cur = pb_xstrdup(path), buf[PATH_MAX];
    struct stat st;
    int i;

    for (i = 0; i < 8; i++) {
        const char *slash;
        char *next;
        ssize_t n;

        if (lstat(cur, &st) == -1 || !S_ISLNK(st.st_mode))
            break;
        n = readlink(cur, buf, sizeof(buf) - 1);
        if (n <= 0)
            break;
        buf[n] = '\0';
        slash = strrchr(cur, '/');
        if (buf[0] == '/' || slash == NULL)
            next = pb_xstrdup(buf);
        else
            next = pb_xasprintf("%.*s/%s", (int)(slash - cur), cur, buf);
        free(cur);
        cur = next;
    }
    return cur;
}

/* Save a rotated refresh token where it came from; warn when it cannot. */
static void
sec_rotate(const struct profile_oauth2 *o, const char *tok, char *warn,
           size_t warnlen)
{
    char shown[256], *real, *line;

    if (o->refresh_token_env != NULL) {
        sec_esc(shown, sizeof(shown), o->refresh_token_env);
        snprintf(warn, warnlen,
                 "the OAuth2 token endpoint rotated the refresh token: the "
                 "one in %s may stop working; it cannot be updated from "
                 "here (use refresh_token_file: probe rewrites the file)",
                 shown);
        return;
    }
    sec_esc(shown, sizeof(shown), o->refresh_token_file);
    real = sec_resolve_links(o->refresh_token_file);
    line = pb_xasprintf("%s\n", tok);
    if (sec_write_atomic(real, line, strlen(line)) == -1)
        snprintf(warn, warnlen,
                 "the OAuth2 refresh token was rotated but %s cannot be "
                 "rewritten (%s): the old one may stop working",
                 shown, strerror(errno));
    else
        log_info("oauth2: saved the rotated refresh token to %s", shown);
    OPENSSL_cleanse(line, strlen(line));
    free(line);
    free(real);
}

/*
 * RFC 6749 §3.2: TLS, except (for tests) plain http to a loopback
 * address.  profile.c checks the same; this holds for any caller.
 */
static bool
sec_url_ok(const char *url, bool *is_http)
{
    const char *h;
    char host[64];
    size_t n;
    struct in_addr a4;
    struct in6_addr a6;

    *is_http = false;
    if (strncasecmp(url, "https://", 8) == 0)
        return true;
    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    *is_http = true;
    h = url + 7;
    if (*h == '[') {
        n = strcspn(++h, "]");
        if (h[n] != ']')
            return false;
    } else {
        n = strcspn(h, ":/?#");
    }
    if (n == 0 || n >= sizeof(host))
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* POST the refresh-token grant; *root is the parsed 200 answer. */
static int
sec_request(const struct profile_oauth2 *o, const struct sec_creds *c,
            const char *url, cJSON **root, struct pb_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    struct sec_body body;
    struct pb_buf form;
    CURL *h = NULL;
    CURLcode cc;
    long status = 0;
    bool is_loopback;
    int rc = -1;

    *root = NULL;
    if (!sec_url_ok(o->token_url, &is_loopback))
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "oauth2 token_url %s must be an https URL", url);
    pb_buf_init(&form, 4 * SECRET_LIMIT_FILE + 4 * PROFILE_LIMIT_STRING);
    pb_buf_init(&body.b, SECRET_LIMIT_RESPONSE);
    body.is_over = false;
    h = curl_easy_init();
    if (h == NULL) {
        pb_err_set(err, PB_STAGE_AUTH, PB_E_INTERNAL,
                   "libcurl cannot make a handle");
        goto out;
    }
    if (sec_form_add(h, &form, "grant_type", "refresh_token", 13) == -1 ||
        sec_form_add(h, &form, "client_id", c->client_id->data,
                     c->client_id->len) == -1 ||
        (c->client_secret != NULL &&
         sec_form_add(h, &form, "client_secret", c->client_secret->data,
                      c->client_secret->len) == -1) ||
        sec_form_add(h, &form, "refresh_token", c->refresh->data,
                     c->refresh->len) == -1 ||
        (o->scope != NULL &&
         sec_form_add(h, &form, "scope", o->scope, strlen(o->scope)) == -1)) {
        pb_err_set(err, PB_STAGE_AUTH, PB_E_LIMIT,
                   "oauth2: the token request is too long");
        goto out;
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_URL, o->token_url);
    /* http only reaches here for a loopback host (profile.c checks) */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, is_loopback ? "http" : "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)SECRET_OAUTH2_TIMEOUT);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, sec_curl_debug);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "probe/" PROBE_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form.p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)form.len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sec_curl_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    if (is_loopback) /* a test endpoint is never behind a proxy */
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (body.is_over) {
        pb_err_set(err, PB_STAGE_AUTH, PB_E_LIMIT,
                   "oauth2 token endpoint %s answered more than %u bytes", url,
                   SECRET_LIMIT_RESPONSE);
        goto out;
    }
    if (cc != CURLE_OK) {
        pb_err_set(err, PB_STAGE_AUTH,
                   cc == CURLE_OPERATION_TIMEDOUT ? PB_E_TIMEOUT : PB_E_NETWORK,
                   "oauth2 token endpoint %s: %s", url, curl_easy_strerror(cc));
        if (errbuf[0] != '\0')
            pb_err_evidence(err, errbuf, strlen(errbuf));
        goto out;
    }
    *root =
        body.b.p != NULL ? cJSON_ParseWithLength(body.b.p, body.b.len) : NULL;
    if (status != 200 || cJSON_GetObjectItemCaseSensitive(*root, "error")) {
        if (cJSON_IsObject(*root)) {
            sec_answer_error(url, status, *root, c, err);
        } else {
            pb_err_set(err, PB_STAGE_AUTH,
                       status == 429 || status >= 500 ? PB_E_TEMPFAIL
                                                      : PB_E_PERMFAIL,
                       "oauth2 token endpoint %s answered HTTP %ld without "
                       "a JSON error",
                       url, status);
        }
        goto out;
    }
    if (!cJSON_IsObject(*root)) {
        pb_err_set(err, PB_STAGE_AUTH, PB_E_SYNTAX,
                   "oauth2 token endpoint %s answered HTTP 200 without a "
                   "JSON object",
                   url);
        goto out;
    }
    rc = 0;
out:
    if (rc == -1) {
        sec_json_delete(*root);
        *root = NULL;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    sec_buf_wipe(&form);
    sec_buf_wipe(&body.b);
    return rc;
}

/* expires_in as a number, or as the string some servers send; -1: none. */
static double
sec_expires_in(const cJSON *j)
{
    char *end;
    double d;

    if (cJSON_IsNumber(j))
        return j->valuedouble >= 0 ? j->valuedouble : -1;
    if (!cJSON_IsString(j) || j->valuestring[0] == '\0')
        return -1;
    d = strtod(j->valuestring, &end);
    return *end == '\0' && d >= 0 ? d : -1;
}

int
secret_oauth2_token(const struct profile_oauth2 *o, const char *cache_dir,
                    struct secret **out, char *warn, size_t warnlen,
                    struct pb_err *err)
{
    struct sec_creds c;
    char url[192], name[70], *dir = NULL, *path = NULL;
    const cJSON *at, *tt, *rt;
    cJSON *root = NULL;
    double expires_in;
    time_t now;
    int rc = -1;

    *out = NULL;
    if (warnlen > 0)
        warn[0] = '\0';
    sec_esc(url, sizeof(url), o->token_url);
    if (sec_creds_read(o, &c, err) == -1)
        return -1;
    dir = sec_cache_dir(cache_dir);
    if (dir != NULL && sec_cache_name(o, c.client_id, c.refresh, name) == 0)
        path = pb_xasprintf("%s/%s", dir, name);
    if (path != NULL) {
        *out = sec_cache_read(path, o, c.client_id);
        if (*out != NULL) {
            log_debug("oauth2: access token from the cache");
            rc = 0;
            goto out;
        }
    }
    log_info("oauth2: asking %s for an access token", url);
    now = time(NULL);
    if (sec_request(o, &c, url, &root, err) == -1)
        goto out;
    at = cJSON_GetObjectItemCaseSensitive(root, "access_token");
    tt = cJSON_GetObjectItemCaseSensitive(root, "token_type");
    rt = cJSON_GetObjectItemCaseSensitive(root, "refresh_token");
    if (!cJSON_IsString(at) || strlen(at->valuestring) > SECRET_LIMIT_TOKEN ||
        !sec_b64token_ok(at->valuestring, strlen(at->valuestring))) {
        pb_err_set(err, PB_STAGE_AUTH, PB_E_SYNTAX,
                   "oauth2 token endpoint %s answered without a usable "
                   "access_token (RFC 6750 2.1)",
                   url);
        goto out;
    }
    /* RFC 6749 §7.1: only bearer tokens go into XOAUTH2 */
    if (!cJSON_IsString(tt) || strcasecmp(tt->valuestring, "Bearer") != 0) {
        pb_err_set(err, PB_STAGE_AUTH, PB_E_SYNTAX,
                   "oauth2 token endpoint %s answered a token_type that is "
                   "not Bearer",
                   url);
        goto out;
    }
    if (rt != NULL &&
        (!cJSON_IsString(rt) ||
         !sec_refresh_ok(rt->valuestring, strlen(rt->valuestring)))) {
        pb_err_set(err, PB_STAGE_AUTH, PB_E_SYNTAX,
                   "oauth2 token endpoint %s answered a refresh_token that "
                   "is not one (RFC 6749 A.17)",
                   url);
        goto out;
    }
    *out = secret_new(at->valuestring, strlen(at->valuestring));
    if (rt != NULL && strcmp(rt->valuestring, c.refresh->data) != 0) {
        struct secret *old = c.refresh;

        sec_rotate(o, rt->valuestring, warn, warnlen);
        /* cache under the new token too: the next run uses it */
        c.refresh = secret_new(rt->valuestring, strlen(rt->valuestring));
        if (path != NULL &&
            sec_cache_name(o, c.client_id, c.refresh, name) == 0) {
            char *p2 = pb_xasprintf("%s/%s", dir, name);
            double e2 = sec_expires_in(
                cJSON_GetObjectItemCaseSensitive(root, "expires_in"));

            if (e2 > SECRET_OAUTH2_MARGIN)
                sec_cache_write(p2, o, c.client_id, at->valuestring,
                                (double)now + e2);
            free(p2);
        }
        secret_free(c.refresh);
        c.refresh = old;
    }
    expires_in =
        sec_expires_in(cJSON_GetObjectItemCaseSensitive(root, "expires_in"));
    if (path != NULL && expires_in > SECRET_OAUTH2_MARGIN)
        sec_cache_write(path, o, c.client_id, at->valuestring,
                        (double)now + expires_in);
    rc = 0;
out:
    sec_json_delete(root);
    sec_creds_release(&c);
    free(path);
    free(dir);
    return rc;
}

int
secret_for_profile(const struct profile *p, const char *cache_dir,
                   struct secret **out, char *warn, size_t warnlen,
                   struct pb_err *err)
{
    *out = NULL;
    if (warnlen > 0)
        warn[0] = '\0';
    switch (p->auth) {
    case SMTP_AUTH_NONE:
        return 0;
    case SMTP_AUTH_XOAUTH2:
        return secret_oauth2_token(&p->oauth2, cache_dir, out, warn, warnlen,
                                   err);
    case SMTP_AUTH_AUTO:
    case SMTP_AUTH_PLAIN:
    case SMTP_AUTH_LOGIN:
        break;
    }
    return secret_password(p, out, err);
}
