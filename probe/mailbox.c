/* SPDX-License-Identifier: MIT */
#include "mailbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "pb_buf.h"
#include "pb_jpath.h"
#include "pb_text.h"
#include "pb_xalloc.h"
#include "profile.h"

/* An IMAP profile is a few hundred bytes; 64 KiB leaves room for notes. */
#define IMAP_PROFILE_LIMIT (64u * 1024)

static const char *const imap_profile_keys[] = {
    "description", "notes", "imap", "auth", "junk", "authserv_ids", "domains",
};

/* The names shipped in profiles/imap/, tried by imap_profile_for_address. */
static const char *const imap_profile_shipped[] = {
    "gmail", "outlook", "yahoo", "icloud", "fastmail", "zoho",
};

static bool
ip_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64 ||
        !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_' || s[i] == '.'))
            return false;
    return strstr(s, "..") == NULL;
}

static int
ip_fail(struct pb_err *err, const char *path, const struct pb_jpath *jp,
        const char *why)
{
    return pb_jpath_fail(jp, err, PB_E_SYNTAX, path, "%s", why);
}

/* A string, printable ASCII or UTF-8 without control characters. */
static bool
ip_text_ok(const cJSON *j, size_t max)
{
    const char *s = cJSON_GetStringValue(j);
    size_t n;

    if (s == NULL)
        return false;
    n = strlen(s);
    return n <= max && pb_text_check(s, n) == NULL;
}

static int
ip_strings(const cJSON *arr, char **dst, size_t *n, bool allow_empty,
           const char *path, struct pb_jpath *jp, struct pb_err *err)
{
    const cJSON *e;
    size_t i = 0;

    if (!cJSON_IsArray(arr))
        return ip_fail(err, path, jp, "expected an array of strings");
    cJSON_ArrayForEach(e, arr)
    {
        size_t old = pb_jpath_index(jp, i);

        if (i == MAILBOX_LIMIT_NAMES)
            return ip_fail(err, path, jp, "too many entries (at most 16)");
        if (!ip_text_ok(e, 255) || (!allow_empty && e->valuestring[0] == 0))
            return ip_fail(err, path, jp,
                           allow_empty ? "expected a string"
                                       : "expected a non-empty string");
        dst[i++] = pb_xstrdup(e->valuestring);
        *n = i;
        pb_jpath_pop(jp, old);
    }
    return 0;
}

static int
ip_auth_parse(const char *s, enum imap_auth *out)
{
    if (strcmp(s, "login") == 0)
        *out = IMAP_AUTH_LOGIN;
    else if (strcmp(s, "plain") == 0)
        *out = IMAP_AUTH_PLAIN;
    else if (strcmp(s, "xoauth2") == 0)
        *out = IMAP_AUTH_XOAUTH2;
    else
        return -1;
    return 0;
}

static int
ip_parse(const char *name, const char *path, const char *text, size_t len,
         struct imap_profile *p, struct pb_err *err)
{
    struct pb_jpath jp;
    cJSON *root, *j;
    int rc = -1;

    if (pb_text_json_nul(text, len) != len)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s: holds \\u0000", path);
    root = cJSON_ParseWithLength(text, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s: not a JSON object", path);
    }
    pb_jpath_init(&jp, "$", PB_JPATH_BRACKET);
    p->name = pb_xstrdup(name);
    p->path = pb_xstrdup(path);
    cJSON_ArrayForEach(j, root)
    {
        size_t old = pb_jpath_key(&jp, j->string);
        bool known = false;

        for (size_t k = 0;
             k < sizeof(imap_profile_keys) / sizeof(imap_profile_keys[0]); k++)
            known |= strcmp(j->string, imap_profile_keys[k]) == 0;
        if (!known) {
            ip_fail(err, path, &jp, "unknown key");
            goto out;
        }
        if (strcmp(j->string, "description") == 0) {
            if (!ip_text_ok(j, 1024)) {
                ip_fail(err, path, &jp, "expected a string");
                goto out;
            }
            p->description = pb_xstrdup(j->valuestring);
        } else if (strcmp(j->string, "notes") == 0) {
            if (!cJSON_IsArray(j)) {
                ip_fail(err, path, &jp, "expected an array of strings");
                goto out;
            }
        } else if (strcmp(j->string, "imap") == 0) {
            const char *u = cJSON_GetStringValue(j);
            struct seeds one = {0};
            struct pb_err e;
            char *line;
            int prc;

            if (!ip_text_ok(j, 512) || strpbrk(u, " \t\"") != NULL) {
                ip_fail(err, path, &jp, "expected an imaps:// or imap:// URL");
                goto out;
            }
            /* the seeds parser checks the URL exactly as on a seed line */
            line = pb_xasprintf("x@example.com imap=%s password_env=X", u);
            prc = seeds_parse(line, strlen(line), "imap", &one, &e);
            free(line);
            seeds_release(&one);
            if (prc < 0) {
                const char *m = strstr(e.msg, ": ");

                ip_fail(err, path, &jp, m ? m + 2 : e.msg);
                goto out;
            }
            p->url = pb_xstrdup(u);
        } else if (strcmp(j->string, "auth") == 0) {
            const char *a = cJSON_GetStringValue(j);

            if (a == NULL || ip_auth_parse(a, &p->auth) < 0) {
                ip_fail(err, path, &jp,
                        "expected \"login\", \"plain\" or \"xoauth2\"");
                goto out;
            }
        } else if (strcmp(j->string, "junk") == 0) {
            if (ip_strings(j, p->junk, &p->njunk, false, path, &jp, err) < 0)
                goto out;
        } else if (strcmp(j->string, "authserv_ids") == 0) {
            if (ip_strings(j, p->authserv_ids, &p->nauthserv_ids, true, path,
                           &jp, err) < 0)
                goto out;
        } else if (strcmp(j->string, "domains") == 0) {
            if (ip_strings(j, p->domains, &p->ndomains, false, path, &jp, err) <
                0)
                goto out;
        }
        pb_jpath_pop(&jp, old);
    }
    if (p->url == NULL) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s: the key `imap` (the server's URL) is required", path);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

int
imap_profile_load(const char *name, struct imap_profile **out,
                  struct pb_err *err)
{
    size_t ndirs = 0;
    char **dirs;
    char *path = NULL;
    int rc = 1;

    *out = NULL;
    if (!ip_name_ok(name))
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_USAGE,
                          "provider `%.64s` is not a profile name "
                          "([a-z0-9][a-z0-9_.-]*)",
                          name);
    dirs = profile_dirs(&ndirs);
    for (size_t i = 0; i < ndirs && path == NULL; i++) {
        struct stat st;
        char *cand = pb_xasprintf("%s/imap/%s.json", dirs[i], name);

        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode))
            path = cand;
        else
            free(cand);
    }
    for (size_t i = 0; i < ndirs; i++)
        free(dirs[i]);
    free(dirs);
    if (path != NULL) {
        struct pb_buf b;
        FILE *f = fopen(path, "re");
        int r = -1;

        pb_buf_init(&b, IMAP_PROFILE_LIMIT);
        if (f != NULL) {
            r = pb_buf_read_fd(&b, fileno(f));
            fclose(f);
        }
        if (r < 0) {
            rc = pb_err_set(err, PB_STAGE_CONFIG,
                            r == -2 ? PB_E_LIMIT : PB_E_IO, "%s: cannot read%s",
                            path, r == -2 ? ": over 64 KiB" : "");
        } else {
            struct imap_profile *p = pb_xcalloc(1, sizeof(*p));

            rc = ip_parse(name, path, pb_buf_ptr(&b), b.len, p, err);
            if (rc < 0)
                imap_profile_free(p);
            else
                *out = p;
        }
        pb_buf_release(&b);
    }
    free(path);
    return rc;
}

struct imap_profiles {
    struct imap_profiles_entry {
        char *name;
        struct imap_profile *p; /* NULL: no directory has it */
    } * v;
    size_t n;
};

struct imap_profiles *
imap_profiles_new(void)
{
    return pb_xcalloc(1, sizeof(struct imap_profiles));
}

void
imap_profiles_free(struct imap_profiles *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].name);
        imap_profile_free(c->v[i].p);
    }
    free(c->v);
    free(c);
}

int
imap_profiles_get(struct imap_profiles *c, const char *name,
                  const struct imap_profile **out, struct pb_err *err)
{
    struct imap_profile *p;
    int rc;

    *out = NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) {
            *out = c->v[i].p;
            return *out != NULL ? 0 : 1;
        }
    /* a broken file is an error each time it is asked for: not kept */
    rc = imap_profile_load(name, &p, err);
    if (rc < 0)
        return -1;
    c->v = pb_xreallocarray(c->v, c->n + 1, sizeof(*c->v));
    c->v[c->n].name = pb_xstrdup(name);
    c->v[c->n].p = p;
    c->n++;
    *out = p;
    return rc;
}

int
imap_profile_for_address(struct imap_profiles *c, const char *address,
                         const struct imap_profile **out, struct pb_err *err)
{
    const char *at = strrchr(address, '@');

    *out = NULL;
    if (at == NULL)
        return 1;
    for (size_t i = 0;
         i < sizeof(imap_profile_shipped) / sizeof(imap_profile_shipped[0]);
         i++) {
        const struct imap_profile *p;
        int rc = imap_profiles_get(c, imap_profile_shipped[i], &p, err);

        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        for (size_t d = 0; d < p->ndomains; d++)
            if (strcasecmp(p->domains[d], at + 1) == 0) {
                *out = p;
                return 0;
            }
    }
    return 1;
}

void
imap_profile_free(struct imap_profile *p)
{
    if (p == NULL)
        return;
    free(p->name);
    free(p->path);
    free(p->description);
    free(p->url);
    for (size_t i = 0; i < p->njunk; i++)
        free(p->junk[i]);
    for (size_t i = 0; i < p->nauthserv_ids; i++)
        free(p->authserv_ids[i]);
    for (size_t i = 0; i < p->ndomains; i++)
        free(p->domains[i]);
    free(p);
}

/* host, port and TLS of an imap(s):// URL the seeds parser accepted */
static void
mb_url(struct mailbox *m, const char *url)
{
    struct seeds one = {0};
    struct pb_err e;
    char *line = pb_xasprintf("x@example.com imap=%s password_env=X", url);

    if (seeds_parse(line, strlen(line), "imap", &one, &e) == 0) {
        m->host = pb_xstrdup(one.v[0].imap_host);
        m->port = one.v[0].imap_port;
        m->tls = one.v[0].imap_tls ? IMAP_TLS_IMPLICIT : IMAP_TLS_STARTTLS;
    }
    seeds_release(&one);
    free(line);
}

int
mailbox_from_seed(const struct seed *s, const char *source, const char *label,
                  struct imap_profiles *profiles, struct mailbox *out,
                  struct pb_err *err)
{
    const struct imap_profile *ip = NULL;
    char where[320];
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(where, sizeof(where), "%.200s:%u", source ? source : "seeds",
             s->line);
    if (s->imap_url == NULL)
        return 1;
    if (s->provider != NULL)
        rc = imap_profiles_get(profiles, s->provider, &ip, err);
    else
        rc = imap_profile_for_address(profiles, s->address, &ip, err);
    if (rc < 0)
        return pb_err_prefix(err, where);

    out->label = pb_xstrdup(label ? label : s->address);
    out->address = pb_xstrdup(s->address);
    out->provider = s->provider ? pb_xstrdup(s->provider) : NULL;
    mb_url(out, s->imap_url);
    out->connect_address =
        s->connect_address ? pb_xstrdup(s->connect_address) : NULL;
    out->user = pb_xstrdup(s->user ? s->user : s->address);
    out->ca_file = s->ca_file ? pb_xstrdup(s->ca_file) : NULL;
    out->insecure = s->insecure;
    out->auth = ip ? ip->auth : IMAP_AUTH_LOGIN;
    if (s->auth != NULL)
        ip_auth_parse(s->auth, &out->auth);
    out->inbox = pb_xstrdup(s->inbox ? s->inbox : "INBOX");
    out->junk = s->junk ? pb_xstrdup(s->junk) : NULL;
    for (size_t i = 0; ip != NULL && i < ip->njunk; i++)
        out->junk_names[out->njunk_names++] = pb_xstrdup(ip->junk[i]);
    if (s->authserv_id != NULL) {
        out->authserv_ids[out->nauthserv_ids++] = pb_xstrdup(s->authserv_id);
    } else {
        for (size_t i = 0; ip != NULL && i < ip->nauthserv_ids; i++)
            out->authserv_ids[out->nauthserv_ids++] =
                pb_xstrdup(ip->authserv_ids[i]);
    }

    if (out->host == NULL) {
        mailbox_release(out);
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                          "%s: imap= is not a usable URL", where);
    }
    rc = s->password_env != NULL
             ? secret_from_env(s->password_env, "password_env", &out->secret,
                               err)
             : secret_from_file(s->password_file, "password_file", &out->secret,
                                err);
    if (rc < 0) {
        mailbox_release(out);
        return pb_err_prefix(err, where);
    }
    return 0;
}

void
mailbox_imap_params(const struct mailbox *m, struct imap_params *p)
{
    memset(p, 0, sizeof(*p));
    p->host = m->host;
    p->port = m->port;
    p->connect_address = m->connect_address;
    p->tls = m->tls;
    p->ca_file = m->ca_file;
    p->insecure = m->insecure;
    p->user = m->user;
    p->secret = m->secret ? secret_data(m->secret, NULL) : NULL;
    p->auth = m->auth;
}

bool
mailbox_same_account(const struct mailbox *a, const struct mailbox *b)
{
    return strcasecmp(a->host, b->host) == 0 && a->port == b->port &&
           strcmp(a->user, b->user) == 0;
}

void
mailbox_release(struct mailbox *m)
{
    free(m->label);
    free(m->address);
    free(m->provider);
    free(m->host);
    free(m->connect_address);
    free(m->user);
    free(m->ca_file);
    secret_free(m->secret);
    free(m->inbox);
    free(m->junk);
    for (size_t i = 0; i < m->njunk_names; i++)
        free(m->junk_names[i]);
    for (size_t i = 0; i < m->nauthserv_ids; i++)
        free(m->authserv_ids[i]);
    memset(m, 0, sizeof(*m));
}
