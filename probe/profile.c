/* SPDX-License-Identifier: MIT */
/*
 * Relay profiles (profiles/SCHEMA.md): find a profile by name on the search
 * path, parse its JSON strictly (unknown and duplicate keys, wrong types and
 * control characters are errors, each with its JSON path), substitute its
 * {variables}, apply --set overrides, and resolve the defaults and the
 * combinations of TLS and AUTH.  Secrets are read later, by secret.c.
 */
#include "profile.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pb_buf.h"
#include "pb_text.h"
#include "pb_jpath.h"
#include "pb_xalloc.h"
#include "seeds.h"

#ifndef PROBE_PROFILE_DIR
#define PROBE_PROFILE_DIR "/usr/share/probe/profiles"
#endif

/* Directories taken from $PROBE_PROFILE_PATH. */
#define PF_MAX_PATH_DIRS 32
/* Longest profile name, variable name and environment variable name. */
#define PF_MAX_NAME 64
#define PF_MAX_ENV  128

/* The top-level keys, in the order SCHEMA.md lists them. */
enum pf_key {
    K_DESCRIPTION = 0,
    K_NOTES,
    K_HOST,
    K_ADDRESS,
    K_PORT,
    K_TLS,
    K_INSECURE,
    K_CA_FILE,
    K_HELO,
    K_SOURCE_ADDRESS,
    K_AUTH,
    K_USER,
    K_USER_ENV,
    K_PASSWORD_ENV,
    K_PASSWORD_FILE,
    K_OAUTH2,
    K_TIMEOUTS,
    K_PARALLEL,
    K_BOUNCE_MAILBOX,
    K_VARIABLES,
    K_COUNT,
};

static const char *const pf_keys[K_COUNT] = {
    [K_DESCRIPTION] = "description",
    [K_NOTES] = "notes",
    [K_HOST] = "host",
    [K_ADDRESS] = "address",
    [K_PORT] = "port",
    [K_TLS] = "tls",
    [K_INSECURE] = "insecure",
    [K_CA_FILE] = "ca_file",
    [K_HELO] = "helo",
    [K_SOURCE_ADDRESS] = "source_address",
    [K_AUTH] = "auth",
    [K_USER] = "user",
    [K_USER_ENV] = "user_env",
    [K_PASSWORD_ENV] = "password_env",
    [K_PASSWORD_FILE] = "password_file",
    [K_OAUTH2] = "oauth2",
    [K_TIMEOUTS] = "timeouts",
    [K_PARALLEL] = "parallel",
    [K_BOUNCE_MAILBOX] = "bounce_mailbox",
    [K_VARIABLES] = "variables",
};

/* The scalar fields a --set may override. */
static bool
pf_key_settable(enum pf_key k)
{
    return (k >= K_HOST && k <= K_PASSWORD_FILE) || k == K_PARALLEL ||
           k == K_BOUNCE_MAILBOX;
}

static int
pf_key_find(const char *const *keys, size_t n, const char *s)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(keys[i], s) == 0)
            return (int)i;
    return -1;
}

/* One --set KEY=VALUE. */
#define PF_SET_VAR     (-1) /* names a declared variable */
#define PF_SET_UNKNOWN (-2) /* names nothing a --set may change */
struct pf_set {
    char key[PF_MAX_NAME + 1];
    const char *value; /* borrowed from the argument */
    char shown[96];    /* "--set KEY=VALUE", escaped and cut */
    int field;         /* enum pf_key, PF_SET_VAR or PF_SET_UNKNOWN */
};

struct pf_load {
    struct pb_err *err;
    struct profile *p;
    char label[256];       /* the file, escaped, for messages */
    char spec[96];         /* the spec as given, escaped */
    struct pb_jpath jp;    /* the JSON path being read */
    const char *unset_var; /* the variable that left the last string empty */
    char host_unset[PF_MAX_NAME + 1];
    bool has_auth; /* auth given by the file or a --set */
    struct pf_set *sets;
    size_t nsets;
    char why[320]; /* a reason pf_assign() composed */
};

/* ------------------------------------------------------------------ */
/* Messages and JSON paths                                             */

static void
pf_esc(char *dst, size_t size, const char *s)
{
    pb_escape_to(dst, size, s, strlen(s));
}

/* "FILE: $.path: what" with code; returns -1. */
static int __attribute__((format(printf, 3, 4)))
pf_fail_code(struct pf_load *ld, enum pb_code code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = pb_jpath_vfail(&ld->jp, ld->err, code, ld->label, fmt, ap);
    va_end(ap);
    return rc;
}

#define pf_fail(ld, ...) pf_fail_code((ld), PB_E_SYNTAX, __VA_ARGS__)

/* "FILE: $.path: reason, not "VALUE"" for a string value that is wrong. */
static int
pf_fail_value(struct pf_load *ld, const char *value, const char *reason)
{
    char shown[80];

    if (*value == '\0')
        return pf_fail(ld, "%s", reason);
    pf_esc(shown, sizeof(shown), value);
    return pf_fail(ld, "%s, not \"%s\"", reason, shown);
}

static void __attribute__((format(printf, 2, 3)))
pf_warn(struct profile *p, const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    p->warnings =
        pb_xreallocarray(p->warnings, p->nwarnings + 1, sizeof(*p->warnings));
    p->warnings[p->nwarnings++] = pb_xstrdup(buf);
}

/* ------------------------------------------------------------------ */
/* Values                                                              */

static bool
pf_is_lower_name(const char *s, bool first_digit_ok, bool dash_ok)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > PF_MAX_NAME)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || c == '_' ||
                  (c >= '0' && c <= '9' && (i > 0 || first_digit_ok)) ||
                  (c == '-' && dash_ok && i > 0);

        if (!ok)
            return false;
    }
    return true;
}

/* ^[a-z0-9][a-z0-9_-]*$ */
static bool
pf_profile_name_ok(const char *s)
{
    return s[0] != '_' && pf_is_lower_name(s, true, true);
}

/* ^[a-z_][a-z0-9_]*$ */
static bool
pf_var_name_ok(const char *s)
{
    return pf_is_lower_name(s, false, false);
}

/* ^[A-Za-z_][A-Za-z0-9_]*$ (POSIX portable environment names) */
static bool
pf_env_name_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > PF_MAX_ENV || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static bool
pf_ip_ok(const char *s)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * A DNS name as written in a URL and matched against a certificate:
 * labels of letters, digits, '-' (not first or last) and '_' (leniency:
 * some internal names carry it), 63 octets each, 253 in all, no final dot.
 */
static bool
pf_dns_name_ok(const char *s, size_t n)
{
    size_t i, label = 0;

    if (n == 0 || n > PB_LIMIT_DNS_NAME)
        return false;
    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > PB_LIMIT_DNS_LABEL || s[i - 1] == '-' ||
                s[i - label] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
        label++;
    }
    return true;
}

static bool
pf_host_ok(const char *s)
{
    return pf_ip_ok(s) || pf_dns_name_ok(s, strlen(s));
}

/* RFC 5321 §4.1.1.1 / §4.1.3: a domain or an address literal. */
static bool
pf_helo_ok(const char *s)
{
    size_t n = strlen(s);
    char ip[64];
    unsigned char buf[16];

    if (n > 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(ip)) {
        memcpy(ip, s + 1, n - 2);
        ip[n - 2] = '\0';
        if (strncasecmp(ip, "IPv6:", 5) == 0)
            return inet_pton(AF_INET6, ip + 5, buf) == 1;
        return inet_pton(AF_INET, ip, buf) == 1;
    }
    return pf_dns_name_ok(s, n) && !pf_ip_ok(s);
}

static bool
pf_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * RFC 6749 §3.2: the token endpoint MUST be TLS.  http is let through
 * only to a loopback address, for tests.  No user or password in it.
 */
static const char *
pf_token_url_check(const char *u)
{
    static const char need[] = "must be an https URL (http only to a "
                               "127.0.0.0/8 or ::1 address, for tests)";
    const char *rest, *end, *hend, *colon;
    char host[PB_LIMIT_DNS_NAME + 1];
    bool is_https;
    size_t i, hlen;

    if (strncasecmp(u, "https://", 8) == 0) {
        is_https = true;
        rest = u + 8;
    } else if (strncasecmp(u, "http://", 7) == 0) {
        is_https = false;
        rest = u + 7;
    } else {
        return need;
    }
    for (i = 0; u[i] != '\0'; i++)
        if ((unsigned char)u[i] <= ' ' || (unsigned char)u[i] >= 0x7f)
            return "must be a URL without spaces or non-ASCII bytes";
    end = rest + strcspn(rest, "/?#");
    if (memchr(rest, '@', (size_t)(end - rest)) != NULL)
        return "must not hold a user or password (the profile names where "
               "secrets are, never the secrets)";
    if (*rest == '[') {
        hend = memchr(rest, ']', (size_t)(end - rest));
        if (hend == NULL)
            return "has an unclosed [ in its host";
        rest++;
        colon = hend + 1 < end ? hend + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return "has something after its [host]";
    } else {
        colon = memchr(rest, ':', (size_t)(end - rest));
        hend = colon != NULL ? colon : end;
    }
    hlen = (size_t)(hend - rest);
    if (hlen == 0 || hlen >= sizeof(host))
        return "has no host";
    memcpy(host, rest, hlen);
    host[hlen] = '\0';
    if (!pf_host_ok(host))
        return "has a host that is not a host name or an IP address";
    if (colon != NULL) {
        unsigned long port = 0;
        const char *q;

        for (q = colon + 1; q < end; q++) {
            if (*q < '0' || *q > '9' || port > 65535)
                return "has a bad port";
            port = port * 10 + (unsigned long)(*q - '0');
        }
        if (q == colon + 1 || port == 0 || port > 65535)
            return "has a bad port";
    }
    if (!is_https && !pf_is_loopback(host))
        return need;
    return NULL;
}

/* A decimal integer in [min, max] (no sign, no spaces); -1 otherwise. */
static long
pf_parse_uint(const char *s, long min, long max)
{
    long v = 0;
    size_t i;

    if (s[0] == '\0')
        return -1;
    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || v > max)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= min && v <= max ? v : -1;
}

/* A JSON number that is an integer in [min, max]; -1 otherwise. */
static long
pf_json_uint(const cJSON *j, long min, long max)
{
    double d;

    if (!cJSON_IsNumber(j))
        return -1;
    d = j->valuedouble;
    if (!(d >= (double)min && d <= (double)max) || d != (double)(long)d)
        return -1;
    return (long)d;
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */

static char **
pf_field_str(struct profile *p, enum pf_key k)
{
    switch (k) {
    case K_HOST:
        return &p->host;
    case K_ADDRESS:
        return &p->address;
    case K_CA_FILE:
        return &p->ca_file;
    case K_HELO:
        return &p->helo;
    case K_SOURCE_ADDRESS:
        return &p->source_address;
    case K_USER:
        return &p->user;
    case K_USER_ENV:
        return &p->user_env;
    case K_PASSWORD_ENV:
        return &p->password_env;
    case K_PASSWORD_FILE:
        return &p->password_file;
    case K_BOUNCE_MAILBOX:
        return &p->bounce_mailbox;
    default:
        return NULL;
    }
}

/*
 * Give the settable field k the value v, written as text (the file's
 * strings after substitution, or a --set value).  An empty v clears an
 * optional string field when may_clear.  Returns NULL, or why v is wrong.
 */
static const char *
pf_assign(struct pf_load *ld, enum pf_key k, const char *v, bool may_clear)
{
    struct profile *p = ld->p;
    char **dst = pf_field_str(p, k);
    long n;

    if (dst != NULL && *v == '\0') {
        if (!may_clear || k == K_HOST)
            return "must not be empty";
        free(*dst);
        *dst = NULL;
        return NULL;
    }
    if (strlen(v) > PROFILE_LIMIT_STRING)
        return "is too long";
    switch (k) {
    case K_HOST:
        if (!pf_host_ok(v))
            return "must be a host name or an IP address";
        break;
    case K_ADDRESS:
    case K_SOURCE_ADDRESS:
        if (!pf_ip_ok(v))
            return "must be an IPv4 or IPv6 address";
        break;
    case K_HELO:
        if (!pf_helo_ok(v))
            return "must be a domain name or an address literal "
                   "([192.0.2.1], [IPv6:2001:db8::1])";
        break;
    case K_USER_ENV:
    case K_PASSWORD_ENV:
        if (!pf_env_name_ok(v))
            return "must be the name of an environment variable "
                   "([A-Za-z_][A-Za-z0-9_]*)";
        break;
    case K_CA_FILE:
    case K_USER:
    case K_PASSWORD_FILE:
        break;
    case K_BOUNCE_MAILBOX: {
        struct seeds one = {0};
        struct pb_err e;

        /* one seeds-file line (docs/seeds.md) that can be read */
        if (seeds_parse(v, strlen(v), "bounce_mailbox", &one, &e) < 0) {
            snprintf(ld->why, sizeof(ld->why), "is not a mailbox line: %s",
                     e.msg);
            return ld->why;
        }
        if (one.n != 1 || one.v[0].imap_url == NULL) {
            seeds_release(&one);
            return "must be one address with imap= and a password source "
                   "(a seeds-file line, docs/seeds.md)";
        }
        seeds_release(&one);
        break;
    }
    case K_PORT:
        n = pf_parse_uint(v, 1, 65535);
        if (n < 0)
            return "must be an integer from 1 to 65535";
        p->port = (unsigned)n;
        return NULL;
    case K_PARALLEL:
        n = pf_parse_uint(v, 1, PROFILE_MAX_PARALLEL);
        if (n < 0)
            return "must be an integer from 1 to 64";
        p->parallel = (unsigned)n;
        return NULL;
    case K_TLS:
        if (smtp_tls_parse(v, &p->tls) == -1)
            return "must be \"starttls\", \"tls\" or \"none\"";
        return NULL;
    case K_AUTH:
        if (smtp_auth_parse(v, &p->auth) == -1)
            return "must be \"none\", \"auto\", \"plain\", \"login\" or "
                   "\"xoauth2\"";
        ld->has_auth = true;
        return NULL;
    case K_INSECURE:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            p->insecure = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            p->insecure = false;
        else
            return "must be true or false";
        return NULL;
    default:
        pb_panic("pf_assign: key %d is not settable", (int)k);
    }
    free(*dst);
    *dst = pb_xstrdup(v);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Variables                                                           */

static struct profile_var *
pf_var_find(const struct profile *p, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < p->nvars; i++)
        if (strlen(p->vars[i].name) == len &&
            memcmp(p->vars[i].name, name, len) == 0)
            return &p->vars[i];
    return NULL;
}

/*
 * Substitute the {name}s of s into *out.  {{ and }} are literal braces.
 * When a variable used has no value, *out is NULL (the field is left
 * unset) and ld->unset_var names it.  Returns 0, or -1 with the error.
 */
static int
pf_expand(struct pf_load *ld, const char *s, char **out)
{
    const struct profile_var *var;
    const char *missing = NULL, *end;
    char shown[48];
    struct pb_buf b;
    size_t i, n;
    int rc = -1;

    *out = NULL;
    ld->unset_var = NULL;
    pb_buf_init(&b, PROFILE_LIMIT_STRING);
    for (i = 0; s[i] != '\0'; i++) {
        int r = 0;

        if ((s[i] == '{' || s[i] == '}') && s[i + 1] == s[i]) {
            r = pb_buf_addc(&b, s[i]);
            i++;
        } else if (s[i] == '}') {
            pf_fail(ld, "a single } (write }} for a literal brace)");
            goto out;
        } else if (s[i] == '{') {
            end = strchr(s + i + 1, '}');
            n = end != NULL ? (size_t)(end - (s + i + 1)) : 0;
            if (end == NULL || n == 0 || n > PF_MAX_NAME) {
                pf_fail(ld, "a { that does not start a {variable} (write "
                            "{{ for a literal brace)");
                goto out;
            }
            var = pf_var_find(ld->p, s + i + 1, n);
            if (var == NULL) {
                pb_escape_to(shown, sizeof(shown), s + i + 1, n);
                pf_fail(ld,
                        "unknown variable {%s} (declare it in \"variables\")",
                        shown);
                goto out;
            }
            if (var->value == NULL)
                missing = var->name;
            else
                r = pb_buf_adds(&b, var->value);
            i += n + 1;
        } else {
            r = pb_buf_addc(&b, s[i]);
        }
        if (r == -1) {
            pf_fail_code(ld, PB_E_LIMIT,
                         "longer than %u bytes after substitution",
                         PROFILE_LIMIT_STRING);
            goto out;
        }
    }
    if (missing != NULL)
        ld->unset_var = missing;
    else
        *out = pb_buf_take(&b, NULL);
    rc = 0;
out:
    pb_buf_release(&b);
    return rc;
}

/*
 * Read the string j (null: *dst stays NULL) into *dst, substituted when
 * expand.  Control characters, bad UTF-8 and over-long strings are
 * refused.
 */
static int
pf_string(struct pf_load *ld, const cJSON *j, bool expand, char **dst)
{
    const char *why;
    size_t len;

    *dst = NULL;
    if (cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsString(j))
        return pf_fail(ld, "expected a string");
    len = strlen(j->valuestring);
    why = pb_text_check(j->valuestring, len);
    if (why != NULL)
        return pf_fail(ld, "the string %s", why);
    if (len > PROFILE_LIMIT_STRING)
        return pf_fail_code(ld, PB_E_LIMIT, "longer than %u bytes",
                            PROFILE_LIMIT_STRING);
    if (!expand) {
        *dst = pb_xstrdup(j->valuestring);
        return 0;
    }
    return pf_expand(ld, j->valuestring, dst);
}

static int
pf_load_var(struct pf_load *ld, const cJSON *j, struct profile_var *v)
{
    static const char *const keys[] = {"description", "required", "default",
                                       "env"};
    const cJSON *k;
    unsigned seen = 0;
    bool has_description = false;
    char shown[PF_MAX_NAME + 8];

    if (!pf_var_name_ok(j->string)) {
        pf_esc(shown, sizeof(shown), j->string);
        return pf_fail(ld,
                       "\"%s\" is not a variable name ([a-z_][a-z0-9_]*, "
                       "at most 64)",
                       shown);
    }
    if (pf_var_find(ld->p, j->string, strlen(j->string)) != NULL)
        return pf_fail(ld, "duplicate key");
    v->name = pb_xstrdup(j->string);
    ld->p->nvars++;
    if (!cJSON_IsObject(j))
        return pf_fail(ld, "expected an object with description, required, "
                           "default, env");
    cJSON_ArrayForEach(k, j)
    {
        int i = pf_key_find(keys, 4, k->string);
        size_t old = pb_jpath_key(&ld->jp, k->string);

        if (i < 0)
            return pf_fail(ld, "unknown key (a variable has description, "
                               "required, default, env)");
        if (seen & (1u << i))
            return pf_fail(ld, "duplicate key");
        seen |= 1u << i;
        switch (i) {
        case 0:
            if (pf_string(ld, k, false, &v->description) == -1)
                return -1;
            has_description = v->description != NULL;
            break;
        case 1:
            if (!cJSON_IsBool(k))
                return pf_fail(ld, "expected true or false");
            v->required = cJSON_IsTrue(k);
            break;
        case 2:
            if (pf_string(ld, k, false, &v->def) == -1)
                return -1;
            break;
        case 3:
            if (pf_string(ld, k, false, &v->env) == -1)
                return -1;
            if (v->env != NULL && !pf_env_name_ok(v->env))
                return pf_fail_value(ld, v->env,
                                     "must be the name of an environment "
                                     "variable");
            break;
        }
        pb_jpath_pop(&ld->jp, old);
    }
    if (!has_description)
        return pf_fail(ld, "a variable needs a \"description\" (it is shown "
                           "when the variable is missing)");
    if (v->required && v->def != NULL)
        return pf_fail(ld, "a required variable has no \"default\"");
    return 0;
}

static int
pf_load_vars(struct pf_load *ld, const cJSON *j)
{
    const cJSON *v;
    size_t old;

    if (j == NULL || cJSON_IsNull(j))
        return 0;
    old = pb_jpath_key(&ld->jp, "variables");
    if (!cJSON_IsObject(j))
        return pf_fail(ld, "expected an object of variables");
    if (cJSON_GetArraySize(j) > PROFILE_LIMIT_VARIABLES)
        return pf_fail_code(ld, PB_E_LIMIT, "more than %d variables",
                            PROFILE_LIMIT_VARIABLES);
    ld->p->vars =
        pb_xcalloc((size_t)cJSON_GetArraySize(j) + 1, sizeof(*ld->p->vars));
    cJSON_ArrayForEach(v, j)
    {
        size_t o = pb_jpath_key(&ld->jp, v->string);

        if (pf_load_var(ld, v, &ld->p->vars[ld->p->nvars]) == -1)
            return -1;
        pb_jpath_pop(&ld->jp, o);
    }
    pb_jpath_pop(&ld->jp, old);
    return 0;
}

/* Split the --set arguments into variables and fields (ld->sets). */
static int
pf_sets_parse(struct pf_load *ld, const char *const *sets, size_t nsets)
{
    size_t i, klen;

    if (nsets > PROFILE_LIMIT_SETS)
        return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "more than %d --set options", PROFILE_LIMIT_SETS);
    ld->sets = pb_xcalloc(nsets + 1, sizeof(*ld->sets));
    ld->nsets = nsets;
    for (i = 0; i < nsets; i++) {
        struct pf_set *s = &ld->sets[i];
        const char *eq = strchr(sets[i], '=');
        const char *why;

        snprintf(s->shown, sizeof(s->shown), "--set ");
        pf_esc(s->shown + 6, sizeof(s->shown) - 6, sets[i]);
        klen = eq != NULL ? (size_t)(eq - sets[i]) : 0;
        if (eq == NULL || klen == 0)
            return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_USAGE,
                              "%s: expected KEY=VALUE", s->shown);
        s->value = eq + 1;
        why = pb_text_check(s->value, strlen(s->value));
        if (why != NULL)
            return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s: the value %s", s->shown, why);
        if (klen > PF_MAX_NAME) {
            s->field = PF_SET_UNKNOWN;
            continue;
        }
        memcpy(s->key, sets[i], klen);
        s->key[klen] = '\0';
        if (pf_var_find(ld->p, s->key, klen) != NULL) {
            s->field = PF_SET_VAR;
            continue;
        }
        s->field = pf_key_find(pf_keys, K_COUNT, s->key);
        if (s->field < 0 || !pf_key_settable((enum pf_key)s->field))
            s->field = PF_SET_UNKNOWN;
    }
    for (i = 0; i < nsets; i++) {
        const struct pf_set *s = &ld->sets[i];
        char vars[128];
        size_t k, len = 0;

        if (s->field != PF_SET_UNKNOWN)
            continue;
        vars[0] = '\0';
        for (k = 0; k < ld->p->nvars && len < sizeof(vars); k++)
            len += (size_t)snprintf(vars + len, sizeof(vars) - len, "%s%s",
                                    k ? ", " : "", ld->p->vars[k].name);
        return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "%s: unknown --set key (variables: %s; fields: "
                          "host, address, port, tls, insecure, ca_file, "
                          "helo, source_address, auth, user, user_env, "
                          "password_env, password_file, parallel)",
                          s->shown, ld->p->nvars ? vars : "none");
    }
    return 0;
}

/* Give each variable its value: --set, then its environment variable,
 * then its default. */
static int
pf_vars_resolve(struct pf_load *ld)
{
    struct profile *p = ld->p;
    char desc[200];
    size_t i, k;

    for (i = 0; i < p->nvars; i++) {
        struct profile_var *v = &p->vars[i];
        const char *val = NULL, *e, *why;

        bool is_cleared = false;

        for (k = 0; k < ld->nsets; k++) {
            if (ld->sets[k].field == PF_SET_VAR &&
                strcmp(ld->sets[k].key, v->name) == 0) {
                val = ld->sets[k].value; /* the last one wins */
                v->from = "--set";
            }
        }
        /* "--set name=" clears: no value, not even the env's or default */
        if (val != NULL && *val == '\0') {
            val = NULL;
            v->from = NULL;
            is_cleared = true;
        }
        e = v->env != NULL && !is_cleared ? getenv(v->env) : NULL;
        if (val == NULL && e != NULL && *e != '\0') {
            why = pb_text_check(e, strlen(e));
            if (why != NULL)
                return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                                  "%s: environment variable %s (for "
                                  "variable %s) %s",
                                  ld->spec, v->env, v->name, why);
            val = e;
            v->from = "env";
        }
        if (val == NULL && v->def != NULL && !is_cleared) {
            val = v->def;
            v->from = "default";
        }
        if (val != NULL && strlen(val) > PROFILE_LIMIT_STRING)
            return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_LIMIT,
                              "%s: variable %s is longer than %u bytes",
                              ld->spec, v->name, PROFILE_LIMIT_STRING);
        if (val != NULL) {
            v->value = pb_xstrdup(val);
            continue;
        }
        if (!v->required)
            continue;
        pf_esc(desc, sizeof(desc), v->description);
        if (v->env != NULL)
            return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s: variable %s is required: --set %s=VALUE "
                              "(%s; or %s in the environment)",
                              ld->spec, v->name, v->name, desc, v->env);
        return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s: variable %s is required: --set %s=VALUE (%s)",
                          ld->spec, v->name, v->name, desc);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The objects of a profile                                            */

static int
pf_load_notes(struct pf_load *ld, const cJSON *j)
{
    struct profile *p = ld->p;
    const cJSON *n;
    int i = 0;

    if (cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsArray(j))
        return pf_fail(ld, "expected an array of strings");
    if (cJSON_GetArraySize(j) > PROFILE_LIMIT_NOTES)
        return pf_fail_code(ld, PB_E_LIMIT, "more than %d notes",
                            PROFILE_LIMIT_NOTES);
    p->notes = pb_xcalloc((size_t)cJSON_GetArraySize(j) + 1, sizeof(*p->notes));
    cJSON_ArrayForEach(n, j)
    {
        size_t old = pb_jpath_index(&ld->jp, i++);
        char *s;

        if (!cJSON_IsString(n))
            return pf_fail(ld, "expected a string");
        if (pf_string(ld, n, true, &s) == -1)
            return -1;
        if (s != NULL)
            p->notes[p->nnotes++] = s;
        pb_jpath_pop(&ld->jp, old);
    }
    return 0;
}

static int
pf_load_timeouts(struct pf_load *ld, const cJSON *j)
{
    static const char *const keys[] = {"connect", "greeting", "command",
                                       "data"};
    long *dst[4];
    const cJSON *k;
    unsigned seen = 0;

    dst[0] = &ld->p->timeouts.connect_ms;
    dst[1] = &ld->p->timeouts.greeting_ms;
    dst[2] = &ld->p->timeouts.command_ms;
    dst[3] = &ld->p->timeouts.data_ms;
    if (cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsObject(j))
        return pf_fail(ld, "expected an object of seconds (connect, "
                           "greeting, command, data)");
    cJSON_ArrayForEach(k, j)
    {
        int i = pf_key_find(keys, 4, k->string);
        size_t old = pb_jpath_key(&ld->jp, k->string);
        double d;

        if (i < 0)
            return pf_fail(ld, "unknown key (timeouts are connect, greeting, "
                               "command, data)");
        if (seen & (1u << i))
            return pf_fail(ld, "duplicate key");
        seen |= 1u << i;
        d = cJSON_IsNumber(k) ? k->valuedouble : -1;
        if (!(d > 0 && d <= PROFILE_MAX_TIMEOUT) || d * 1000 < 1)
            return pf_fail(ld,
                           "expected a number of seconds above 0, at "
                           "most %d",
                           PROFILE_MAX_TIMEOUT);
        *dst[i] = (long)(d * 1000 + 0.5);
        pb_jpath_pop(&ld->jp, old);
    }
    return 0;
}

static int
pf_load_oauth2(struct pf_load *ld, const cJSON *j)
{
    static const char *const keys[] = {
        "token_url",         "client_id",          "client_id_env",
        "client_id_file",    "client_secret_env",  "client_secret_file",
        "refresh_token_env", "refresh_token_file", "scope",
    };
    struct profile_oauth2 *o = &ld->p->oauth2;
    char **dst[9];
    const cJSON *k;
    unsigned seen = 0;
    int n;

    dst[0] = &o->token_url;
    dst[1] = &o->client_id;
    dst[2] = &o->client_id_env;
    dst[3] = &o->client_id_file;
    dst[4] = &o->client_secret_env;
    dst[5] = &o->client_secret_file;
    dst[6] = &o->refresh_token_env;
    dst[7] = &o->refresh_token_file;
    dst[8] = &o->scope;
    if (cJSON_IsNull(j))
        return 0;
    if (!cJSON_IsObject(j))
        return pf_fail(ld, "expected an object (token_url, client_id, "
                           "refresh_token_env, ...)");
    ld->p->has_oauth2 = true;
    cJSON_ArrayForEach(k, j)
    {
        int i = pf_key_find(keys, 9, k->string);
        size_t old = pb_jpath_key(&ld->jp, k->string);
        const char *why = NULL;

        if (i < 0)
            return pf_fail(ld, "unknown key (see profiles/SCHEMA.md: "
                               "oauth2)");
        if (seen & (1u << i))
            return pf_fail(ld, "duplicate key");
        seen |= 1u << i;
        if (pf_string(ld, k, true, dst[i]) == -1)
            return -1;
        if (*dst[i] == NULL) {
            pb_jpath_pop(&ld->jp, old);
            continue;
        }
        if (**dst[i] == '\0')
            why = "must not be empty";
        else if (i == 0)
            why = pf_token_url_check(*dst[i]);
        else if ((i == 2 || i == 4 || i == 6) && !pf_env_name_ok(*dst[i]))
            why = "must be the name of an environment variable";
        if (why != NULL)
            return pf_fail_value(ld, *dst[i], why);
        pb_jpath_pop(&ld->jp, old);
    }
    if (o->token_url == NULL)
        return pf_fail(ld, "token_url is required");
    n = (o->client_id != NULL) + (o->client_id_env != NULL) +
        (o->client_id_file != NULL);
    if (n != 1)
        return pf_fail(ld, "exactly one of client_id, client_id_env, "
                           "client_id_file is needed");
    if (o->client_secret_env != NULL && o->client_secret_file != NULL)
        return pf_fail(ld, "client_secret_env and client_secret_file "
                           "exclude each other");
    n = (o->refresh_token_env != NULL) + (o->refresh_token_file != NULL);
    if (n != 1)
        return pf_fail(ld, "exactly one of refresh_token_env, "
                           "refresh_token_file is needed");
    return 0;
}

/* One top-level key of the file. */
static int
pf_load_key(struct pf_load *ld, enum pf_key k, const cJSON *j)
{
    struct profile *p = ld->p;
    const char *why;
    char *s;
    long n;

    switch (k) {
    case K_DESCRIPTION:
        return pf_string(ld, j, true, &p->description);
    case K_NOTES:
        return pf_load_notes(ld, j);
    case K_OAUTH2:
        return pf_load_oauth2(ld, j);
    case K_TIMEOUTS:
        return pf_load_timeouts(ld, j);
    case K_VARIABLES:
        return 0; /* read first, by pf_load_vars() */
    case K_PORT:
    case K_PARALLEL:
        if (cJSON_IsNull(j))
            return 0;
        n = k == K_PORT ? pf_json_uint(j, 1, 65535)
                        : pf_json_uint(j, 1, PROFILE_MAX_PARALLEL);
        if (n < 0)
            return pf_fail(ld, "expected an integer from 1 to %d",
                           k == K_PORT ? 65535 : PROFILE_MAX_PARALLEL);
        if (k == K_PORT)
            p->port = (unsigned)n;
        else
            p->parallel = (unsigned)n;
        return 0;
    case K_INSECURE:
        if (cJSON_IsNull(j))
            return 0;
        if (!cJSON_IsBool(j))
            return pf_fail(ld, "expected true or false");
        p->insecure = cJSON_IsTrue(j);
        return 0;
    default:
        break;
    }
    if (pf_string(ld, j, true, &s) == -1)
        return -1;
    if (s == NULL) {
        if (k == K_HOST && ld->unset_var != NULL)
            snprintf(ld->host_unset, sizeof(ld->host_unset), "%s",
                     ld->unset_var);
        return 0;
    }
    why = pf_assign(ld, k, s, false);
    if (why != NULL) {
        pf_fail_value(ld, s, why);
        free(s);
        return -1;
    }
    free(s);
    return 0;
}

static int
pf_load_root(struct pf_load *ld, const cJSON *root)
{
    struct profile *p = ld->p;
    const cJSON *j;
    uint32_t seen = 0;

    cJSON_ArrayForEach(j, root)
    {
        size_t old = pb_jpath_key(&ld->jp, j->string);
        int k = pf_key_find(pf_keys, K_COUNT, j->string);

        if (k < 0)
            return pf_fail(ld, "unknown key (profiles/SCHEMA.md lists the "
                               "keys)");
        if (seen & (1u << k))
            return pf_fail(ld, "duplicate key");
        seen |= 1u << k;
        if (pf_load_key(ld, (enum pf_key)k, j) == -1)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    if (p->user != NULL && p->user_env != NULL)
        return pf_fail(ld, "user and user_env exclude each other");
    if (p->password_env != NULL && p->password_file != NULL)
        return pf_fail(ld, "password_env and password_file exclude each "
                           "other");
    return 0;
}

/* The --set overrides of fields, in order. */
static int
pf_sets_apply(struct pf_load *ld)
{
    struct profile *p = ld->p;
    size_t i;

    for (i = 0; i < ld->nsets; i++) {
        const struct pf_set *s = &ld->sets[i];
        const char *why;

        if (s->field < 0)
            continue;
        why = pf_assign(ld, (enum pf_key)s->field, s->value, true);
        if (why != NULL)
            return pb_err_set(ld->err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                              "%s: %s %s", s->shown, s->key, why);
        /* the pairs exclude each other: the --set replaces the other */
        if (s->field == K_USER && *s->value != '\0') {
            free(p->user_env);
            p->user_env = NULL;
        } else if (s->field == K_USER_ENV && *s->value != '\0') {
            free(p->user);
            p->user = NULL;
        } else if (s->field == K_PASSWORD_ENV && *s->value != '\0') {
            free(p->password_file);
            p->password_file = NULL;
        } else if (s->field == K_PASSWORD_FILE && *s->value != '\0') {
            free(p->password_env);
            p->password_env = NULL;
        }
    }
    return 0;
}

/* Defaults, the user from user_env, AUTH against TLS, and warnings. */
static int
pf_finish(struct pf_load *ld)
{
    struct profile *p = ld->p;
    bool has_password = p->password_env != NULL || p->password_file != NULL;
    const char *why;

    pb_jpath_pop(&ld->jp, 1); /* back to "$" */
    if (p->host == NULL) {
        pb_jpath_key(&ld->jp, "host");
        if (ld->host_unset[0] != '\0')
            return pf_fail(ld, "variable %s has no value: --set %s=VALUE",
                           ld->host_unset, ld->host_unset);
        return pf_fail(ld, "missing: the SMTP server's name is required");
    }
    if (p->port == 0)
        p->port = p->tls == SMTP_TLS_IMPLICIT ? 465
                  : p->tls == SMTP_TLS_NONE   ? 25
                                              : 587;
    if (p->user_env != NULL) {
        const char *u = getenv(p->user_env);

        pb_jpath_key(&ld->jp, "user_env");
        if (u == NULL || *u == '\0')
            return pf_fail_code(
                ld, PB_E_IO, "environment variable %s is not set", p->user_env);
        why = pb_text_check(u, strlen(u));
        if (why != NULL || strlen(u) > PROFILE_LIMIT_STRING)
            return pf_fail(ld, "environment variable %s %s", p->user_env,
                           why != NULL ? why : "is too long");
        free(p->user);
        p->user = pb_xstrdup(u);
        pb_jpath_pop(&ld->jp, 1);
    }
    if (has_password && p->has_oauth2)
        return pf_fail(ld, "a password (password_env, password_file) and "
                           "oauth2 exclude each other");
    if (!ld->has_auth)
        p->auth = p->has_oauth2     ? SMTP_AUTH_XOAUTH2
                  : p->user != NULL ? SMTP_AUTH_AUTO
                                    : SMTP_AUTH_NONE;
    pb_jpath_key(&ld->jp, "auth");
    switch (p->auth) {
    case SMTP_AUTH_NONE:
        if (ld->has_auth && (p->user != NULL || has_password || p->has_oauth2))
            return pf_fail(ld, "none, but credentials are given (remove "
                               "them, or --set auth=auto)");
        if (has_password)
            return pf_fail(ld, "a password is given without a user: set "
                               "user or user_env");
        break;
    case SMTP_AUTH_AUTO:
        /* "auto" without a user: nothing to log in with, so no AUTH */
        if (p->user == NULL && !p->has_oauth2) {
            p->auth = SMTP_AUTH_NONE;
            break;
        }
        /* fall through */
    case SMTP_AUTH_PLAIN:
    case SMTP_AUTH_LOGIN:
        if (p->has_oauth2)
            return pf_fail(ld, "%s with oauth2: OAuth2 needs auth xoauth2",
                           smtp_auth_name(p->auth));
        if (p->user == NULL)
            return pf_fail(ld, "%s needs a user (user or user_env)",
                           smtp_auth_name(p->auth));
        if (!has_password)
            return pf_fail(ld,
                           "%s needs password_env or password_file "
                           "(--set password_env=VARIABLE)",
                           smtp_auth_name(p->auth));
        break;
    case SMTP_AUTH_XOAUTH2:
        if (!p->has_oauth2)
            return pf_fail(ld, "xoauth2 needs an oauth2 object");
        if (p->user == NULL)
            return pf_fail(ld, "xoauth2 needs a user (the mailbox to send "
                               "as)");
        break;
    }
    pb_jpath_pop(&ld->jp, 1);
    if (p->insecure)
        pf_warn(p,
                "profile %s: insecure is true: the certificate of %s is "
                "not verified, so anyone on the path can read or change "
                "the session",
                ld->spec, p->host);
    if (p->tls == SMTP_TLS_NONE && p->auth != SMTP_AUTH_NONE) {
        char user[96];

        pf_esc(user, sizeof(user), p->user);
        pf_warn(p,
                "profile %s: tls is none: the credentials of %s cross "
                "the network in clear text",
                ld->spec, user);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Parsing a file                                                      */

static struct profile *
pf_new(const char *name, const char *path)
{
    struct profile *p = pb_xcalloc(1, sizeof(*p));

    p->name = pb_xstrdup(name);
    p->path = path != NULL ? pb_xstrdup(path) : NULL;
    p->tls = SMTP_TLS_STARTTLS;
    return p;
}

static void
pf_load_init(struct pf_load *ld, const char *name, const char *label,
             struct pb_err *err)
{
    memset(ld, 0, sizeof(*ld));
    ld->err = err;
    pf_esc(ld->label, sizeof(ld->label), label);
    pf_esc(ld->spec, sizeof(ld->spec), name);
    pb_jpath_init(&ld->jp, "$", PB_JPATH_BRACKET);
}

int
profile_parse(const char *name, const char *path, const void *data, size_t len,
              const char *const *sets, size_t nsets, struct profile **out,
              struct pb_err *err)
{
    struct pf_load ld;
    cJSON *root = NULL;
    char *text = NULL;
    size_t off, line, col;
    int rc = -1;

    *out = NULL;
    pf_load_init(&ld, name, path, err);
    if (len > PROFILE_LIMIT_BYTES)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%s: over the limit of %u bytes for a profile",
                          ld.label, PROFILE_LIMIT_BYTES);
    /* NUL-terminated so cJSON can tell the end from trailing garbage. */
    text = pb_xmemdup(data, len);
    off = pb_text_json_nul(text, len);
    if (off < len) {
        pb_text_line_col(text, len, off, &line, &col);
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s:%zu:%zu: NUL is not allowed", ld.label, line, col);
        goto out;
    }
    root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();

        off = at != NULL && at >= text && at <= text + len ? (size_t)(at - text)
                                                           : len;
        pb_text_line_col(text, len, off, &line, &col);
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s:%zu:%zu: not valid JSON", ld.label, line, col);
        goto out;
    }
    ld.p = pf_new(name, path);
    if (!cJSON_IsObject(root)) {
        pf_fail(&ld, "expected an object");
        goto out;
    }
    if (pf_load_vars(
            &ld, cJSON_GetObjectItemCaseSensitive(root, "variables")) == -1 ||
        pf_sets_parse(&ld, sets, nsets) == -1 || pf_vars_resolve(&ld) == -1 ||
        pf_load_root(&ld, root) == -1 || pf_sets_apply(&ld) == -1 ||
        pf_finish(&ld) == -1)
        goto out;
    *out = ld.p;
    ld.p = NULL;
    rc = 0;
out:
    profile_free(ld.p);
    free(ld.sets);
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Specs: URL, file, name                                              */

/* smtp://HOST[:PORT] or smtps://HOST[:PORT], with an optional final '/'. */
static int
pf_parse_url(const char *spec, const char *const *sets, size_t nsets,
             struct profile **out, struct pb_err *err)
{
    struct pf_load ld;
    char host[PB_LIMIT_DNS_NAME + 1], shown[96];
    const char *rest, *hend, *colon, *end;
    bool is_tls = strncmp(spec, "smtps://", 8) == 0;
    long port = 0;
    size_t hlen;
    int rc = -1;

    *out = NULL;
    pf_esc(shown, sizeof(shown), spec);
    rest = spec + (is_tls ? 8 : 7);
    end = rest + strlen(rest);
    if (end > rest && end[-1] == '/')
        end--;
    if (memchr(rest, '@', (size_t)(end - rest)) != NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "%s: no user or password in a relay URL: use "
                          "--set user=NAME --set password_env=VAR",
                          shown);
    if (*rest == '[') {
        rest++;
        hend = memchr(rest, ']', (size_t)(end - rest));
        colon = hend != NULL && hend + 1 < end ? hend + 1 : NULL;
        if (hend == NULL || (colon != NULL && *colon != ':'))
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                              "%s: expected smtp://[IPV6]:PORT", shown);
    } else {
        colon = memchr(rest, ':', (size_t)(end - rest));
        hend = colon != NULL ? colon : end;
    }
    hlen = (size_t)(hend - rest);
    if (hlen == 0 || hlen >= sizeof(host))
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "%s: expected smtp://HOST[:PORT] or "
                          "smtps://HOST[:PORT]",
                          shown);
    memcpy(host, rest, hlen);
    host[hlen] = '\0';
    if (!pf_host_ok(host))
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "%s: the host is not a host name or an IP address",
                          shown);
    if (colon != NULL) {
        char num[8];
        size_t nlen = (size_t)(end - colon - 1);

        if (nlen == 0 || nlen >= sizeof(num))
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                              "%s: the port must be an integer from 1 to "
                              "65535",
                              shown);
        memcpy(num, colon + 1, nlen);
        num[nlen] = '\0';
        port = pf_parse_uint(num, 1, 65535);
        if (port < 0)
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                              "%s: the port must be an integer from 1 to "
                              "65535",
                              shown);
    }
    pf_load_init(&ld, spec, spec, err);
    ld.p = pf_new(spec, NULL);
    ld.p->host = pb_xstrdup(host);
    /* the schemes' own ports, as libcurl and swaks take them: smtp:// is
       25 (RFC 5321), smtps:// 465 (RFC 8314); write :587 for submission */
    ld.p->port = port ? (unsigned)port : is_tls ? 465 : 25;
    ld.p->tls = is_tls ? SMTP_TLS_IMPLICIT : SMTP_TLS_STARTTLS;
    if (pf_sets_parse(&ld, sets, nsets) == -1 || pf_sets_apply(&ld) == -1 ||
        pf_finish(&ld) == -1)
        goto out;
    *out = ld.p;
    ld.p = NULL;
    rc = 0;
out:
    profile_free(ld.p);
    free(ld.sets);
    return rc;
}

static int
pf_read_file(const char *path, struct pb_buf *b, struct pb_err *err)
{
    char shown[256], chunk[8192];
    struct stat st;
    ssize_t got;
    int fd;

    pf_esc(shown, sizeof(shown), path);
    fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
    if (fd == -1)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "cannot open profile %s: %s", shown, strerror(errno));
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "profile %s is not a regular file", shown);
    }
    for (;;) {
        got = read(fd, chunk, sizeof(chunk));
        if (got == -1 && errno == EINTR)
            continue;
        if (got == -1) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                       "cannot read profile %s: %s", shown, strerror(errno));
            close(fd);
            return -1;
        }
        if (got == 0)
            break;
        if (pb_buf_add(b, chunk, (size_t)got) == -1) {
            close(fd);
            return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                              "%s: over the limit of %u bytes for a profile",
                              shown, PROFILE_LIMIT_BYTES);
        }
    }
    close(fd);
    return 0;
}

static int
pf_load_file(const char *name, const char *path, const char *const *sets,
             size_t nsets, struct profile **out, struct pb_err *err)
{
    struct pb_buf b;
    int rc;

    pb_buf_init(&b, PROFILE_LIMIT_BYTES);
    rc = pf_read_file(path, &b, err);
    if (rc == 0)
        rc = profile_parse(name, path, b.p != NULL ? b.p : "", b.len, sets,
                           nsets, out, err);
    pb_buf_release(&b);
    return rc;
}

const char *
profile_builtin_dir(void)
{
    return PROBE_PROFILE_DIR;
}

struct pf_strv {
    char **v;
    size_t n;
};

static void
pf_strv_add(struct pf_strv *sv, char *s)
{
    sv->v = pb_xreallocarray(sv->v, sv->n + 1, sizeof(*sv->v));
    sv->v[sv->n++] = s;
}

static void
pf_strv_release(struct pf_strv *sv)
{
    size_t i;

    for (i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

/* The search path, in order (profile_load() says which). */
static void
pf_dirs(struct pf_strv *dirs)
{
    const char *pp = getenv("PROBE_PROFILE_PATH");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    size_t n = 0;

    while (pp != NULL && *pp != '\0' && n < PF_MAX_PATH_DIRS) {
        size_t len = strcspn(pp, ":");

        if (len > 0) {
            pf_strv_add(dirs, pb_xmemdup(pp, len));
            n++;
        }
        pp += len;
        if (*pp == ':')
            pp++;
    }
    /* XDG Base Directory: a relative XDG_CONFIG_HOME is to be ignored */
    if (xdg != NULL && xdg[0] == '/') {
        pf_strv_add(dirs, pb_xasprintf("%s/probe/profiles", xdg));
    } else {
        if (home == NULL || home[0] != '/') {
            struct passwd *pw = getpwuid(getuid());

            home = pw != NULL ? pw->pw_dir : NULL;
        }
        if (home != NULL && home[0] == '/')
            pf_strv_add(dirs, pb_xasprintf("%s/.config/probe/profiles", home));
    }
    pf_strv_add(dirs, pb_xstrdup("/etc/probe/profiles"));
    pf_strv_add(dirs, pb_xstrdup(PROBE_PROFILE_DIR));
}

char **
profile_dirs(size_t *n)
{
    struct pf_strv dirs = {0};

    pf_dirs(&dirs);
    *n = dirs.n;
    return dirs.v;
}

static int
pf_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The profile names found in dirs, sorted, without duplicates. */
static void
pf_names(const struct pf_strv *dirs, struct pf_strv *names)
{
    size_t i, k;

    for (i = 0; i < dirs->n; i++) {
        DIR *d = opendir(dirs->v[i]);
        struct dirent *e;

        if (d == NULL)
            continue;
        while ((e = readdir(d)) != NULL && names->n < 1000) {
            size_t len = strlen(e->d_name);
            char *stem;
            bool is_dup = false;

            if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
                continue;
            stem = pb_xmemdup(e->d_name, len - 5);
            for (k = 0; k < names->n && !is_dup; k++)
                is_dup = strcmp(names->v[k], stem) == 0;
            if (is_dup || !pf_profile_name_ok(stem))
                free(stem);
            else
                pf_strv_add(names, stem);
        }
        closedir(d);
    }
    if (names->n > 1)
        qsort(names->v, names->n, sizeof(*names->v), pf_cmp_str);
}

static int
pf_not_found(const char *name, const struct pf_strv *dirs, struct pb_err *err)
{
    struct pf_strv names = {0};
    const char *home = getenv("HOME");
    struct pb_buf b;
    char shown[256];
    size_t i;
    int r = 0;

    pf_names(dirs, &names);
    pb_buf_init(&b, 1024);
    for (i = 0; i < names.n && r == 0; i++)
        r |= pb_buf_addf(&b, "%s%s", i ? ", " : "", names.v[i]);
    if (names.n == 0)
        r |= pb_buf_adds(&b, "none");
    r |= pb_buf_adds(&b, "; searched:");
    for (i = 0; i < dirs->n && r == 0; i++) {
        const char *d = dirs->v[i];
        size_t hlen = home != NULL ? strlen(home) : 0;

        /* ~ for $HOME: the message has 256 bytes for all of this */
        if (hlen > 1 && strncmp(d, home, hlen) == 0 && d[hlen] == '/') {
            pf_esc(shown, sizeof(shown), d + hlen);
            r |= pb_buf_addf(&b, " ~%s", shown);
        } else {
            pf_esc(shown, sizeof(shown), d);
            r |= pb_buf_addf(&b, " %s", shown);
        }
    }
    (void)r; /* a list over the buffer is cut, as the message would be */
    pf_esc(shown, sizeof(shown), name);
    pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
               "profile %s not found; available: %s", shown, pb_buf_ptr(&b));
    pb_buf_release(&b);
    pf_strv_release(&names);
    return -1;
}

int
profile_load(const char *spec, const char *const *sets, size_t nsets,
             struct profile **out, struct pb_err *err)
{
    struct pf_strv dirs = {0};
    struct stat st;
    char shown[96], *path = NULL;
    size_t i, len = strlen(spec);
    int rc;

    *out = NULL;
    if (strncmp(spec, "smtp://", 7) == 0 || strncmp(spec, "smtps://", 8) == 0)
        return pf_parse_url(spec, sets, nsets, out, err);
    if (strchr(spec, '/') != NULL ||
        (len >= 5 && strcmp(spec + len - 5, ".json") == 0))
        return pf_load_file(spec, spec, sets, nsets, out, err);
    if (!pf_profile_name_ok(spec)) {
        pf_esc(shown, sizeof(shown), spec);
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "--relay %s: expected a profile name "
                          "([a-z0-9][a-z0-9_-]*), a file (with a / or "
                          "ending in .json) or smtp[s]://HOST[:PORT]",
                          shown);
    }
    pf_dirs(&dirs);
    for (i = 0; i < dirs.n && path == NULL; i++) {
        char *cand = pb_xasprintf("%s/%s.json", dirs.v[i], spec);

        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode))
            path = cand;
        else
            free(cand);
    }
    if (path == NULL)
        rc = pf_not_found(spec, &dirs, err);
    else
        rc = pf_load_file(spec, path, sets, nsets, out, err);
    free(path);
    pf_strv_release(&dirs);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Using a profile                                                     */

void
profile_relay(const struct profile *p, const char *secret,
              struct smtp_relay *out)
{
    memset(out, 0, sizeof(*out));
    out->host = p->host;
    out->address = p->address;
    out->port = p->port;
    out->tls = p->tls;
    out->insecure = p->insecure;
    out->ca_file = p->ca_file;
    out->helo = p->helo;
    out->source = p->source_address;
    out->auth = p->auth;
    out->user = p->user;
    out->secret = secret;
    out->timeouts = p->timeouts;
}

void
profile_free(struct profile *p)
{
    struct profile_oauth2 *o;
    size_t i;

    if (p == NULL)
        return;
    o = &p->oauth2;
    free(p->name);
    free(p->path);
    free(p->description);
    for (i = 0; i < p->nnotes; i++)
        free(p->notes[i]);
    free(p->notes);
    free(p->host);
    free(p->address);
    free(p->ca_file);
    free(p->helo);
    free(p->source_address);
    free(p->user);
    free(p->user_env);
    free(p->password_env);
    free(p->password_file);
    free(p->bounce_mailbox);
    free(o->token_url);
    free(o->client_id);
    free(o->client_id_env);
    free(o->client_id_file);
    free(o->client_secret_env);
    free(o->client_secret_file);
    free(o->refresh_token_env);
    free(o->refresh_token_file);
    free(o->scope);
    for (i = 0; i < p->nvars; i++) {
        free(p->vars[i].name);
        free(p->vars[i].description);
        free(p->vars[i].def);
        free(p->vars[i].env);
        free(p->vars[i].value);
    }
    free(p->vars);
    for (i = 0; i < p->nwarnings; i++)
        free(p->warnings[i]);
    free(p->warnings);
    free(p);
}
