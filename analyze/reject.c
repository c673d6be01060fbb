/* SPDX-License-Identifier: MIT */
/*
 * Rejection rules (reject.h, docs/rules.md): rule files read strictly
 * (cJSON; unknown and duplicate keys, wrong types, bad categories and bad
 * POSIX extended regular expressions are errors with their JSON path),
 * providers recognised by host or text, and the most specific rule whose
 * stage, server, reply code, RFC 3463 enhanced status and text all match
 * decides.  Texts are searched unfolded and bounded (PB_LIMIT_REJECT_TEXT).
 */
#include "reject.h"

#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "pb_buf.h"
#include "pb_ctype.h"
#include "pb_limits.h"
#include "pb_text.h"
#include "pb_jpath.h"
#include "pb_xalloc.h"

#define RJ_REGEX_FLAGS (REG_EXTENDED | REG_ICASE | REG_NOSUB)
/* A rule or provider id, a provider name: [a-z0-9][a-z0-9._-]*. */
#define RJ_ID_MAX   63
#define RJ_NAME_MAX 31

static const char *const rj_category_names[REJECT_CATEGORY_COUNT] = {
    [REJECT_SPF] = "spf",
    [REJECT_DKIM] = "dkim",
    [REJECT_DMARC] = "dmarc",
    [REJECT_AUTH_MULTIPLE] = "auth-multiple",
    [REJECT_RELAY_DENIED] = "relay-denied",
    [REJECT_SMTP_AUTH] = "smtp-auth",
    [REJECT_PTR] = "ptr",
    [REJECT_BLOCKLIST] = "blocklist",
    [REJECT_REPUTATION] = "reputation",
    [REJECT_CONTENT] = "content",
    [REJECT_RATE_LIMIT] = "rate-limit",
    [REJECT_TLS_REQUIRED] = "tls-required",
    [REJECT_RECIPIENT_UNKNOWN] = "recipient-unknown",
    [REJECT_MAILBOX_FULL] = "mailbox-full",
    [REJECT_MAILBOX_DISABLED] = "mailbox-disabled",
    [REJECT_MESSAGE_SIZE] = "message-size",
    [REJECT_DNS_SENDER] = "dns-sender",
    [REJECT_POLICY_OTHER] = "policy-other",
};

static const char *const rj_confidence_names[] = {
    [REJECT_CONF_LOW] = "low",
    [REJECT_CONF_MEDIUM] = "medium",
    [REJECT_CONF_HIGH] = "high",
};

const char *
reject_category_name(enum reject_category c)
{
    if ((unsigned)c >= REJECT_CATEGORY_COUNT)
        return "unknown";
    return rj_category_names[c];
}

int
reject_category_parse(const char *name)
{
    int i;

    for (i = 0; i < REJECT_CATEGORY_COUNT; i++)
        if (strcmp(rj_category_names[i], name) == 0)
            return i;
    return -1;
}

const char *
reject_confidence_name(enum reject_confidence c)
{
    if ((unsigned)c > REJECT_CONF_HIGH)
        return "unknown";
    return rj_confidence_names[c];
}

/* ------------------------------------------------------------------ */
/* The compiled rules                                                  */

/*
 * A reply code or enhanced status pattern: each part a number, or -1 for
 * "x" (any).  Codes are three digits ("550", "55x", "5xx"); statuses are
 * class.subject.detail ("5.7.26", "x.7.26", "5.7.x", "4.x.x").
 */
struct rj_code {
    int d[3];
};

struct rj_status {
    int cls, subject, detail;
};

struct rj_regexes {
    regex_t *v;
    char **lit; /* per pattern: a literal every match contains (lower
                   case), or NULL; a cheap test before regexec() */
    size_t n;
};

struct rj_provider {
    char name[RJ_NAME_MAX + 1];
    struct rj_regexes host;
    struct rj_regexes text;
};

struct rj_rule {
    char id[RJ_ID_MAX + 1];
    int provider; /* index into providers, or -1 */
    struct rj_regexes host;
    uint32_t stages; /* bit per enum pb_stage; 0 = any */
    struct rj_code *codes;
    size_t ncodes;
    struct rj_status *statuses;
    size_t nstatuses;
    struct rj_regexes text;
    struct rj_regexes text_not;
    enum reject_category category;
    enum reject_confidence confidence;
    char *explanation;
    char *remedy;
    char *source;
    unsigned score; /* specificity, see rj_score() */
    size_t order;   /* load order, for ties */
};

struct reject_rules {
    struct rj_provider *providers;
    size_t nproviders;
    struct rj_rule *rules;
    size_t nrules;
    size_t *sorted; /* rule indexes, most specific first */
    size_t nfiles;
};

static void
rj_regexes_release(struct rj_regexes *r)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        regfree(&r->v[i]);
        free(r->lit[i]);
    }
    free(r->v);
    free(r->lit);
    r->v = NULL;
    r->lit = NULL;
    r->n = 0;
}

static void
rj_rule_release(struct rj_rule *r)
{
    rj_regexes_release(&r->host);
    rj_regexes_release(&r->text);
    rj_regexes_release(&r->text_not);
    free(r->codes);
    free(r->statuses);
    free(r->explanation);
    free(r->remedy);
    free(r->source);
}

void
reject_rules_free(struct reject_rules *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->nproviders; i++) {
        rj_regexes_release(&r->providers[i].host);
        rj_regexes_release(&r->providers[i].text);
    }
    for (i = 0; i < r->nrules; i++)
        rj_rule_release(&r->rules[i]);
    free(r->providers);
    free(r->rules);
    free(r->sorted);
    free(r);
}

size_t
reject_rules_count(const struct reject_rules *r)
{
    return r == NULL ? 0 : r->nrules;
}

/* ------------------------------------------------------------------ */
/* Loading: messages and JSON paths                                    */

struct rj_load {
    struct pb_err *err;
    struct reject_rules *set;
    size_t first_provider; /* providers and rules this file added */
    size_t first_rule;
    char label[256];    /* the file, escaped */
    struct pb_jpath jp; /* the JSON path being read */
};

/* "FILE: $.path: what"; returns -1. */
static int __attribute__((format(printf, 3, 4)))
rj_fail_code(struct rj_load *ld, enum pb_code code, const char *fmt, ...)
{
    char what[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return pb_err_set(ld->err, PB_STAGE_CONFIG, code, "%s: %s: %s", ld->label,
                      ld->jp.p, what);
}

#define rj_fail(ld, ...) rj_fail_code((ld), PB_E_SYNTAX, __VA_ARGS__)

/* A non-empty string of at most max octets of text; *out borrowed. */
static int
rj_string(struct rj_load *ld, const cJSON *j, size_t max, const char **out)
{
    const char *why;
    size_t len;

    if (!cJSON_IsString(j) || j->valuestring == NULL)
        return rj_fail(ld, "expected a string");
    len = strlen(j->valuestring);
    if (len == 0)
        return rj_fail(ld, "must not be empty");
    if (len > max)
        return rj_fail_code(ld, PB_E_LIMIT, "longer than %zu octets", max);
    why = pb_text_check(j->valuestring, len);
    if (why != NULL)
        return rj_fail(ld, "the string %s", why);
    *out = j->valuestring;
    return 0;
}

/* [a-z0-9][a-z0-9._-]* of at most max octets. */
static bool
rj_id_ok(const char *s, size_t max)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '.' || c == '_' || c == '-'));

        if (!ok)
            return false;
    }
    return true;
}

/*
 * A string or an array of 1..PB_LIMIT_REJECT_ALTS strings: call each(ld,
 * item, i, arg) for every one with the path at the item.
 */
typedef int (*rj_each_fn)(struct rj_load *ld, const cJSON *item, size_t i,
                          void *arg);

static int
rj_one_or_many(struct rj_load *ld, const cJSON *j, bool numbers_ok,
               rj_each_fn each, void *arg)
{
    const cJSON *k;
    size_t i = 0, old;
    int n;

    if (cJSON_IsString(j) || (numbers_ok && cJSON_IsNumber(j)))
        return each(ld, j, 0, arg);
    if (!cJSON_IsArray(j))
        return rj_fail(ld, numbers_ok ? "expected a string, a number or an "
                                        "array of them"
                                      : "expected a string or an array of "
                                        "strings");
    n = cJSON_GetArraySize(j);
    if (n == 0)
        return rj_fail(ld, "an empty array matches nothing");
    if (n > PB_LIMIT_REJECT_ALTS)
        return rj_fail_code(ld, PB_E_LIMIT, "more than %d alternatives",
                            PB_LIMIT_REJECT_ALTS);
    cJSON_ArrayForEach(k, j)
    {
        old = pb_jpath_index(&ld->jp, i);
        if (!cJSON_IsString(k) && !(numbers_ok && cJSON_IsNumber(k)))
            return rj_fail(ld, numbers_ok ? "expected a string or a number"
                                          : "expected a string");
        if (each(ld, k, i, arg) == -1)
            return -1;
        pb_jpath_pop(&ld->jp, old);
        i++;
    }
    return 0;
}

static inline int
rj_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * The longest run of literal characters that every match of the POSIX ERE
 * pat must contain, lower-cased, or NULL when there is none of at least 3
 * (a top-level '|', or only classes and groups).  Conservative: a run
 * ends at any group, bracket, anchor, '.', GNU escape (\w, \b, ...) or
 * quantifier, and a quantified character leaves it ('+' after the
 * character is kept: it occurs at least once).
 */
static char *
rj_literal_one(const char *pat)
{
    char best[PB_LIMIT_REJECT_PATTERN + 1] = "", cur[sizeof(best)] = "";
    size_t nbest = 0, ncur = 0, depth = 0;

    for (size_t i = 0; pat[i] != '\0'; i++) {
        char c = pat[i];
        bool is_lit = false;
        char lit = 0;

        if (c == '|' && depth == 0)
            return NULL;
        if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (depth > 0)
                depth--;
        } else if (depth > 0) {
            continue;
        } else if (c == '[') {
            size_t j = i + 1;

            if (pat[j] == '^')
                j++;
            if (pat[j] == ']')
                j++;
            while (pat[j] != '\0' && pat[j] != ']')
                j++;
            if (pat[j] == '\0')
                return NULL;
            i = j;
        } else if (c == '\\') {
            char e = pat[i + 1];

            if (e == '\0')
                return NULL;
            i++;
            if (!pb_is_alnum((unsigned char)e)) {
                is_lit = true;
                lit = e;
            }
        } else if (c == '*' || c == '?' || c == '{') {
            if (ncur > 0)
                ncur--; /* the character before may be absent */
        } else if (c == '+') {
            /* the character before occurs: keep it, end the run */
        } else if (c != '.' && c != '^' && c != '$') {
            is_lit = true;
            lit = c;
        }
        if (is_lit && depth == 0 &&
            !(pat[i + 1] == '*' || pat[i + 1] == '?' || pat[i + 1] == '{')) {
            cur[ncur++] = (char)rj_lower((unsigned char)lit);
            continue;
        }
        if (ncur > nbest) {
            memcpy(best, cur, ncur);
            nbest = ncur;
        }
        ncur = 0;
        if (c == '{') {
            while (pat[i] != '\0' && pat[i] != '}')
                i++;
            if (pat[i] == '\0')
                break;
        }
    }
    if (ncur > nbest) {
        memcpy(best, cur, ncur);
        nbest = ncur;
    }
    return nbest >= 3 ? pb_xmemdup(best, nbest) : NULL;
}

/*
 * The literals of pat's top-level alternatives ("a|b(c|d)" has two), one
 * per alternative and '\n' between them, or NULL when one alternative has
 * none: a match contains at least one of them.
 */
static char *
rj_literal(const char *pat)
{
    struct pb_buf out;
    size_t depth = 0, start = 0, i;
    char *alt, *lit;

    pb_buf_init(&out, 2 * PB_LIMIT_REJECT_PATTERN + 2);
    for (i = 0;; i++) {
        char c = pat[i];

        if (c == '\\' && pat[i + 1] != '\0') {
            i++;
            continue;
        }
        if (c == '[') {
            size_t j = i + 1;

            if (pat[j] == '^')
                j++;
            if (pat[j] == ']')
                j++;
            while (pat[j] != '\0' && pat[j] != ']')
                j++;
            if (pat[j] == '\0')
                break;
            i = j;
            continue;
        }
        if (c == '(')
            depth++;
        else if (c == ')' && depth > 0)
            depth--;
        if (c != '\0' && !(c == '|' && depth == 0))
            continue;
        alt = pb_xmemdup(pat + start, i - start);
        lit = rj_literal_one(alt);
        free(alt);
        if (lit == NULL || (out.len > 0 && pb_buf_addc(&out, '\n') < 0) ||
            pb_buf_adds(&out, lit) < 0) {
            free(lit);
            pb_buf_release(&out);
            return NULL;
        }
        free(lit);
        if (c == '\0')
            return pb_buf_take(&out, NULL);
        start = i + 1;
    }
    pb_buf_release(&out);
    return NULL;
}

/* Whether (lower, len), in lower case, holds one of the '\n'-separated
   literals in lits (lower case). */
static bool
rj_has_literal(const char *lower, size_t len, const char *lits)
{
    const char *lit = lits;

    for (;;) {
        const char *nl = strchr(lit, '\n');
        size_t n = nl ? (size_t)(nl - lit) : strlen(lit);
        const char *p = lower, *end = lower + len;

        while ((size_t)(end - p) >= n) {
            p = memchr(p, lit[0], (size_t)(end - p) - n + 1);
            if (p == NULL)
                break;
            if (memcmp(p, lit, n) == 0)
                return true;
            p++;
        }
        if (nl == NULL)
            return false;
        lit = nl + 1;
    }
}

/* Regular expressions. */
static int
rj_regex_each(struct rj_load *ld, const cJSON *item, size_t i, void *arg)
{
    struct rj_regexes *r = arg;
    const char *s;
    char msg[128];
    int rc;

    (void)i;
    if (rj_string(ld, item, PB_LIMIT_REJECT_PATTERN, &s) == -1)
        return -1;
    r->v = pb_xreallocarray(r->v, r->n + 1, sizeof(*r->v));
    r->lit = pb_xreallocarray(r->lit, r->n + 1, sizeof(*r->lit));
    r->lit[r->n] = NULL;
    rc = regcomp(&r->v[r->n], s, RJ_REGEX_FLAGS);
    if (rc != 0) {
        regerror(rc, &r->v[r->n], msg, sizeof(msg));
        regfree(&r->v[r->n]);
        return rj_fail(ld, "not a valid regular expression: %s", msg);
    }
    r->lit[r->n] = rj_literal(s);
    r->n++;
    return 0;
}

static int
rj_regexes(struct rj_load *ld, const cJSON *j, struct rj_regexes *out)
{
    return rj_one_or_many(ld, j, false, rj_regex_each, out);
}

/* Stages, by the names pb_stage_name() gives. */
static int
rj_stage_each(struct rj_load *ld, const cJSON *item, size_t i, void *arg)
{
    static const enum pb_stage stages[] = {
        PB_STAGE_CONNECT, PB_STAGE_GREETING, PB_STAGE_EHLO,
        PB_STAGE_TLS,     PB_STAGE_AUTH,     PB_STAGE_MAIL,
        PB_STAGE_RCPT,    PB_STAGE_DATA,     PB_STAGE_QUIT,
    };
    uint32_t *bits = arg;
    const char *s;
    size_t k;

    (void)i;
    if (rj_string(ld, item, 16, &s) == -1)
        return -1;
    for (k = 0; k < sizeof(stages) / sizeof(stages[0]); k++) {
        if (strcmp(pb_stage_name(stages[k]), s) == 0) {
            *bits |= 1u << stages[k];
            return 0;
        }
    }
    return rj_fail(ld, "not an SMTP stage (connect, greeting, ehlo, tls, "
                       "auth, mail, rcpt, data, quit)");
}

struct rj_codes {
    struct rj_code *v;
    size_t n;
};

/* "550", "55x", "5xx" or the number 550. */
static int
rj_code_each(struct rj_load *ld, const cJSON *item, size_t i, void *arg)
{
    struct rj_codes *c = arg;
    struct rj_code code = {{0, 0, 0}};
    char buf[8];
    const char *s;
    size_t k;

    (void)i;
    if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;

        if (d < 200 || d > 599 || d != (double)(int)d)
            return rj_fail(ld, "a reply code is an integer from 200 to 599");
        snprintf(buf, sizeof(buf), "%d", (int)d);
        s = buf;
    } else if (rj_string(ld, item, 3, &s) == -1) {
        return -1;
    }
    if (strlen(s) != 3 || s[0] < '2' || s[0] > '5')
        goto bad;
    for (k = 0; k < 3; k++) {
        if (pb_is_digit(s[k]) && (k == 0 || code.d[k - 1] >= 0))
            code.d[k] = s[k] - '0';
        else if ((s[k] == 'x' || s[k] == 'X') && k > 0)
            code.d[k] = -1;
        else
            goto bad;
    }
    c->v = pb_xreallocarray(c->v, c->n + 1, sizeof(*c->v));
    c->v[c->n++] = code;
    return 0;
bad:
    return rj_fail(ld, "a reply code is three digits, the last ones may be "
                       "x (\"550\", \"55x\", \"5xx\")");
}

struct rj_statuses {
    struct rj_status *v;
    size_t n;
};

/* A number of 1..3 digits, or "x"; advances *s. */
static int
rj_status_part(const char **s, int *out)
{
    int v = 0, n = 0;

    if (**s == 'x' || **s == 'X') {
        (*s)++;
        *out = -1;
        return 0;
    }
    while (pb_is_digit(**s) && n < 3) {
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    if (n == 0 || pb_is_digit(**s))
        return -1;
    *out = v;
    return 0;
}

/* "5.7.26", "x.7.26", "5.7.x", "4.x.x" (RFC 3463 §2 syntax). */
static int
rj_status_each(struct rj_load *ld, const cJSON *item, size_t i, void *arg)
{
    struct rj_statuses *st = arg;
    struct rj_status v;
    const char *s, *p;

    (void)i;
    if (rj_string(ld, item, 15, &s) == -1)
        return -1;
    p = s;
    if (rj_status_part(&p, &v.cls) == -1 || *p++ != '.' ||
        rj_status_part(&p, &v.subject) == -1 || *p++ != '.' ||
        rj_status_part(&p, &v.detail) == -1 || *p != '\0')
        goto bad;
    if (v.cls != -1 && v.cls != 2 && v.cls != 4 && v.cls != 5)
        goto bad;
    if (v.subject == -1 && v.detail != -1)
        goto bad;
    st->v = pb_xreallocarray(st->v, st->n + 1, sizeof(*st->v));
    st->v[st->n++] = v;
    return 0;
bad:
    return rj_fail(ld, "an enhanced status is class.subject.detail (RFC "
                       "3463), class 2, 4, 5 or x, parts may be x from the "
                       "right (\"5.7.26\", \"x.7.26\", \"5.7.x\")");
}

/* Checks that a key is known and not seen before; returns its index. */
static int
rj_key(struct rj_load *ld, const cJSON *k, const char *const *keys,
       size_t nkeys, uint32_t *seen, const char *known)
{
    size_t i;

    for (i = 0; i < nkeys; i++) {
        if (strcmp(keys[i], k->string) == 0) {
            if (*seen & (1u << i))
                return rj_fail(ld, "duplicate key");
            *seen |= 1u << i;
            return (int)i;
        }
    }
    return rj_fail(ld, "unknown key (%s)", known);
}

/* ------------------------------------------------------------------ */
/* Loading: providers                                                  */

static int
rj_provider_find(const struct reject_rules *set, const char *name)
{
    size_t i;

    for (i = 0; i < set->nproviders; i++)
        if (strcmp(set->providers[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int
rj_load_provider(struct rj_load *ld, const cJSON *j)
{
    static const char *const keys[] = {"name", "host", "text", "description",
                                       "source"};
    struct reject_rules *set = ld->set;
    struct rj_provider *p;
    const cJSON *k;
    const char *s;
    uint32_t seen = 0;
    size_t old;
    int i;

    if (!cJSON_IsObject(j))
        return rj_fail(ld, "expected an object (name, host, text, "
                           "description, source)");
    if (set->nproviders >= PB_LIMIT_REJECT_PROVIDERS)
        return rj_fail_code(ld, PB_E_LIMIT, "more than %d providers",
                            PB_LIMIT_REJECT_PROVIDERS);
    set->providers = pb_xreallocarray(set->providers, set->nproviders + 1,
                                      sizeof(*set->providers));
    p = &set->providers[set->nproviders++];
    memset(p, 0, sizeof(*p));
    cJSON_ArrayForEach(k, j)
    {
        old = pb_jpath_key(&ld->jp, k->string);
        i = rj_key(ld, k, keys, 5, &seen,
                   "a provider has name, host, text, description, source");
        if (i < 0)
            return -1;
        switch (i) {
        case 0:
            if (rj_string(ld, k, RJ_NAME_MAX, &s) == -1)
                return -1;
            if (!rj_id_ok(s, RJ_NAME_MAX))
                return rj_fail(ld, "a provider name is [a-z0-9][a-z0-9._-]*");
            if (rj_provider_find(set, s) >= 0)
                return rj_fail(ld, "provider %s is declared twice", s);
            memcpy(p->name, s, strlen(s) + 1);
            break;
        case 1:
            if (rj_regexes(ld, k, &p->host) == -1)
                return -1;
            break;
        case 2:
            if (rj_regexes(ld, k, &p->text) == -1)
                return -1;
            break;
        default:
            if (rj_string(ld, k, 1024, &s) == -1)
                return -1;
            break;
        }
        pb_jpath_pop(&ld->jp, old);
    }
    if (p->name[0] == '\0')
        return rj_fail(ld, "a provider needs a name");
    if (p->host.n == 0 && p->text.n == 0)
        return rj_fail(ld, "a provider needs host or text patterns to be "
                           "recognised by");
    return 0;
}

/* ------------------------------------------------------------------ */
/* Loading: rules                                                      */

enum rj_rule_key {
    RK_ID = 0,
    RK_PROVIDER,
    RK_HOST,
    RK_STAGE,
    RK_CODE,
    RK_STATUS,
    RK_TEXT,
    RK_TEXT_NOT,
    RK_CATEGORY,
    RK_CONFIDENCE,
    RK_EXPLANATION,
    RK_REMEDY,
    RK_SOURCE,
    RK_NOTE,
    RK_COUNT,
};

static const char *const rj_rule_keys[RK_COUNT] = {
    [RK_ID] = "id",
    [RK_PROVIDER] = "provider",
    [RK_HOST] = "host",
    [RK_STAGE] = "stage",
    [RK_CODE] = "code",
    [RK_STATUS] = "status",
    [RK_TEXT] = "text",
    [RK_TEXT_NOT] = "text_not",
    [RK_CATEGORY] = "category",
    [RK_CONFIDENCE] = "confidence",
    [RK_EXPLANATION] = "explanation",
    [RK_REMEDY] = "remedy",
    [RK_SOURCE] = "source",
    [RK_NOTE] = "note",
};

/* 0 none, 1 "5xx", 2 "55x", 3 "550". */
static unsigned
rj_code_spec(const struct rj_code *c)
{
    return c->d[1] < 0 ? 1 : c->d[2] < 0 ? 2 : 3;
}

/* 0 none, 1 "5.x.x", 2 "5.7.x", 3 "5.7.26" or "x.7.26". */
static unsigned
rj_status_spec(const struct rj_status *s)
{
    return s->subject < 0 ? 1 : s->detail < 0 ? 2 : 3;
}

/*
 * Specificity (docs/rules.md): text, then server (provider or host), then
 * stage, status precision, code precision.  An alternative list counts as
 * precise as its least precise element.
 */
static unsigned
rj_score(const struct rj_rule *r)
{
    unsigned code = 0, status = 0, k;
    size_t i;

    for (i = 0; i < r->ncodes; i++) {
        k = rj_code_spec(&r->codes[i]);
        code = i == 0 || k < code ? k : code;
    }
    for (i = 0; i < r->nstatuses; i++) {
        k = rj_status_spec(&r->statuses[i]);
        status = i == 0 || k < status ? k : status;
    }
    return (r->text.n > 0) << 6 | (r->provider >= 0 || r->host.n > 0) << 5 |
           (r->stages != 0) << 4 | status << 2 | code;
}

static int
rj_rule_field(struct rj_load *ld, struct rj_rule *r, enum rj_rule_key key,
              const cJSON *k)
{
    struct reject_rules *set = ld->set;
    const char *s;
    size_t i;
    int c;

    switch (key) {
    case RK_ID:
        if (rj_string(ld, k, RJ_ID_MAX, &s) == -1)
            return -1;
        if (!rj_id_ok(s, RJ_ID_MAX))
            return rj_fail(ld, "a rule id is [a-z0-9][a-z0-9._-]*");
        for (i = 0; i < set->nrules - 1; i++)
            if (strcmp(set->rules[i].id, s) == 0)
                return rj_fail(ld, "rule id %s is used twice", s);
        memcpy(r->id, s, strlen(s) + 1);
        return 0;
    case RK_PROVIDER:
        if (rj_string(ld, k, RJ_NAME_MAX, &s) == -1)
            return -1;
        r->provider = rj_provider_find(set, s);
        if (r->provider < 0)
            return rj_fail(ld, "unknown provider (declare it under "
                               "\"providers\" in this file or an earlier "
                               "one)");
        return 0;
    case RK_HOST:
        return rj_regexes(ld, k, &r->host);
    case RK_STAGE:
        return rj_one_or_many(ld, k, false, rj_stage_each, &r->stages);
    case RK_CODE: {
        struct rj_codes codes = {NULL, 0};
        int rc = rj_one_or_many(ld, k, true, rj_code_each, &codes);

        r->codes = codes.v;
        r->ncodes = codes.n;
        return rc;
    }
    case RK_STATUS: {
        struct rj_statuses st = {NULL, 0};
        int rc = rj_one_or_many(ld, k, false, rj_status_each, &st);

        r->statuses = st.v;
        r->nstatuses = st.n;
        return rc;
    }
    case RK_TEXT:
        return rj_regexes(ld, k, &r->text);
    case RK_TEXT_NOT:
        return rj_regexes(ld, k, &r->text_not);
    case RK_CATEGORY:
        if (rj_string(ld, k, 32, &s) == -1)
            return -1;
        c = reject_category_parse(s);
        if (c < 0)
            return rj_fail(ld, "not a rejection category (PRODUCT.md: spf, "
                               "dkim, dmarc, auth-multiple, ..., "
                               "policy-other)");
        r->category = (enum reject_category)c;
        return 0;
    case RK_CONFIDENCE:
        if (rj_string(ld, k, 8, &s) == -1)
            return -1;
        for (c = REJECT_CONF_LOW; c <= REJECT_CONF_HIGH; c++) {
            if (strcmp(rj_confidence_names[c], s) == 0) {
                r->confidence = (enum reject_confidence)c;
                return 0;
            }
        }
        return rj_fail(ld, "expected low, medium or high");
    case RK_EXPLANATION:
        if (rj_string(ld, k, 255, &s) == -1)
            return -1;
        r->explanation = pb_xstrdup(s);
        return 0;
    case RK_REMEDY:
        if (rj_string(ld, k, 511, &s) == -1)
            return -1;
        r->remedy = pb_xstrdup(s);
        return 0;
    case RK_SOURCE:
        if (rj_string(ld, k, 255, &s) == -1)
            return -1;
        r->source = pb_xstrdup(s);
        return 0;
    case RK_NOTE:
        return rj_string(ld, k, 4096, &s);
    case RK_COUNT:
        break;
    }
    return 0;
}

static int
rj_load_rule(struct rj_load *ld, const cJSON *j)
{
    static const enum rj_rule_key required[] = {
        RK_ID, RK_CATEGORY, RK_CONFIDENCE, RK_EXPLANATION, RK_REMEDY};
    struct reject_rules *set = ld->set;
    struct rj_rule *r;
    const cJSON *k;
    uint32_t seen = 0;
    size_t old, i;
    int key;

    if (!cJSON_IsObject(j))
        return rj_fail(ld, "expected a rule object");
    if (set->nrules >= PB_LIMIT_REJECT_RULES)
        return rj_fail_code(ld, PB_E_LIMIT, "more than %d rules",
                            PB_LIMIT_REJECT_RULES);
    set->rules =
        pb_xreallocarray(set->rules, set->nrules + 1, sizeof(*set->rules));
    r = &set->rules[set->nrules++];
    memset(r, 0, sizeof(*r));
    r->provider = -1;
    r->order = set->nrules - 1;
    cJSON_ArrayForEach(k, j)
    {
        old = pb_jpath_key(&ld->jp, k->string);
        key = rj_key(ld, k, rj_rule_keys, RK_COUNT, &seen,
                     "docs/rules.md lists the keys of a rule");
        if (key < 0 || rj_rule_field(ld, r, (enum rj_rule_key)key, k) == -1)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!(seen & (1u << required[i])))
            return rj_fail(ld, "missing key %s", rj_rule_keys[required[i]]);
    r->score = rj_score(r);
    return 0;
}

static int
rj_load_array(struct rj_load *ld, const cJSON *j, const char *what,
              int (*one)(struct rj_load *, const cJSON *))
{
    const cJSON *k;
    size_t i = 0, old;

    if (!cJSON_IsArray(j))
        return rj_fail(ld, "expected an array of %s", what);
    cJSON_ArrayForEach(k, j)
    {
        old = pb_jpath_index(&ld->jp, i++);
        if (one(ld, k) == -1)
            return -1;
        pb_jpath_pop(&ld->jp, old);
    }
    return 0;
}

static int
rj_load_root(struct rj_load *ld, const cJSON *root)
{
    static const char *const keys[] = {"description", "sources", "providers",
                                       "rules"};
    const cJSON *k, *s;
    const char *str;
    uint32_t seen = 0;
    size_t old, i;
    int key;

    if (!cJSON_IsObject(root))
        return rj_fail(ld, "expected an object (description, sources, "
                           "providers, rules)");
    cJSON_ArrayForEach(k, root)
    {
        old = pb_jpath_key(&ld->jp, k->string);
        key = rj_key(ld, k, keys, 4, &seen,
                     "a rule file has description, sources, providers, "
                     "rules");
        if (key < 0)
            return -1;
        switch (key) {
        case 0:
            if (rj_string(ld, k, 4096, &str) == -1)
                return -1;
            break;
        case 1:
            if (!cJSON_IsArray(k))
                return rj_fail(ld, "expected an array of strings");
            i = 0;
            cJSON_ArrayForEach(s, k)
            {
                size_t o2 = pb_jpath_index(&ld->jp, i++);

                if (rj_string(ld, s, 1024, &str) == -1)
                    return -1;
                pb_jpath_pop(&ld->jp, o2);
            }
            break;
        case 2:
            if (rj_load_array(ld, k, "providers", rj_load_provider) == -1)
                return -1;
            break;
        default:
            if (rj_load_array(ld, k, "rules", rj_load_rule) == -1)
                return -1;
            break;
        }
        pb_jpath_pop(&ld->jp, old);
    }
    return 0;
}

/* A rule's place in the order: most specific first, then load order. */
struct rj_rank {
    unsigned score;
    size_t order;
};

static int
rj_rank_cmp(const void *a, const void *b)
{
    const struct rj_rank *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void
rj_sort(struct reject_rules *set)
{
    struct rj_rank *v = pb_xcalloc(set->nrules + 1, sizeof(*v));
    size_t i;

    for (i = 0; i < set->nrules; i++) {
        v[i].score = set->rules[i].score;
        v[i].order = set->rules[i].order;
    }
    qsort(v, set->nrules, sizeof(*v), rj_rank_cmp);
    free(set->sorted);
    set->sorted = pb_xcalloc(set->nrules + 1, sizeof(*set->sorted));
    /* order is the rule's index: rules are appended in load order */
    for (i = 0; i < set->nrules; i++)
        set->sorted[i] = v[i].order;
    free(v);
}

/* Drop what a failed file added, so *rules is as before. */
static void
rj_undo(struct rj_load *ld)
{
    struct reject_rules *set = ld->set;

    while (set->nrules > ld->first_rule)
        rj_rule_release(&set->rules[--set->nrules]);
    while (set->nproviders > ld->first_provider) {
        set->nproviders--;
        rj_regexes_release(&set->providers[set->nproviders].host);
        rj_regexes_release(&set->providers[set->nproviders].text);
    }
}

int
reject_rules_add(struct reject_rules **rules, const char *name, const void *p,
                 size_t len, struct pb_err *err)
{
    struct rj_load ld;
    cJSON *root = NULL;
    char *text = NULL;
    bool is_new = *rules == NULL;
    size_t line, col, nul;
    int rc = -1;

    memset(&ld, 0, sizeof(ld));
    ld.err = err;
    pb_escape_to(ld.label, sizeof(ld.label), name, strlen(name));
    pb_jpath_init(&ld.jp, "$", PB_JPATH_BRACKET);
    if (len > PB_LIMIT_REJECT_FILE)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                          "%s: over the limit of %u bytes for a rule file",
                          ld.label, PB_LIMIT_REJECT_FILE);
    text = pb_xmemdup(p, len);
    nul = pb_text_json_nul(text, len);
    if (nul < len) {
        pb_text_line_col(text, len, nul, &line, &col);
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s:%zu:%zu: NUL (or \\u0000) is not allowed", ld.label,
                   line, col);
        goto out;
    }
    root = cJSON_ParseWithLengthOpts(text, len + 1, NULL, 1);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at != NULL && at >= text && at <= text + len
                         ? (size_t)(at - text)
                         : len;

        pb_text_line_col(text, len, off, &line, &col);
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_SYNTAX,
                   "%s:%zu:%zu: not valid JSON", ld.label, line, col);
        goto out;
    }
    if (is_new)
        *rules = pb_xcalloc(1, sizeof(**rules));
    ld.set = *rules;
    ld.first_rule = ld.set->nrules;
    ld.first_provider = ld.set->nproviders;
    if (rj_load_root(&ld, root) == -1) {
        rj_undo(&ld);
        if (is_new) {
            reject_rules_free(*rules);
            *rules = NULL;
        }
        goto out;
    }
    ld.set->nfiles++;
    rj_sort(ld.set);
    rc = 0;
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

static int
rj_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read path whole (at most PB_LIMIT_REJECT_FILE bytes). */
static int
rj_read_file(const char *path, const char *label, char **out, size_t *len,
             struct pb_err *err)
{
    struct pb_buf b;
    char chunk[8192];
    size_t n;
    FILE *f;
    int rc = 0;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO, "%s: %s", label,
                          strerror(errno));
    pb_buf_init(&b, PB_LIMIT_REJECT_FILE);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (pb_buf_add(&b, chunk, n) == -1) {
            rc = pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                            "%s: over the limit of %u bytes for a rule file",
                            label, PB_LIMIT_REJECT_FILE);
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO, "%s: read error", label);
    fclose(f);
    if (rc == 0)
        *out = pb_buf_take(&b, len);
    pb_buf_release(&b);
    return rc;
}

int
reject_rules_load(const char *dir, struct reject_rules **out,
                  struct pb_err *err)
{
    struct reject_rules *set = NULL;
    struct dirent *e;
    char **names = NULL, label[256], *path = NULL, *data;
    size_t n = 0, i, len, nlen;
    DIR *d;
    int rc = -1;

    *out = NULL;
    pb_escape_to(label, sizeof(label), dir, strlen(dir));
    d = opendir(dir);
    if (d == NULL)
        return pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                          "rules directory %s: %s", label, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        nlen = strlen(e->d_name);
        if (e->d_name[0] == '.' || nlen < 6 ||
            strcmp(e->d_name + nlen - 5, ".json") != 0)
            continue;
        if (n >= PB_LIMIT_REJECT_FILES) {
            pb_err_set(err, PB_STAGE_CONFIG, PB_E_LIMIT,
                       "rules directory %s: more than %d rule files", label,
                       PB_LIMIT_REJECT_FILES);
            closedir(d);
            goto out;
        }
        names = pb_xreallocarray(names, n + 1, sizeof(*names));
        names[n++] = pb_xstrdup(e->d_name);
    }
    closedir(d);
    if (n == 0) {
        pb_err_set(err, PB_STAGE_CONFIG, PB_E_IO,
                   "rules directory %s: no rule files (*.json)", label);
        goto out;
    }
    qsort(names, n, sizeof(*names), rj_name_cmp);
    for (i = 0; i < n; i++) {
        free(path);
        path = pb_xasprintf("%s/%s", dir, names[i]);
        pb_escape_to(label, sizeof(label), path, strlen(path));
        if (rj_read_file(path, label, &data, &len, err) == -1)
            goto out;
        rc = reject_rules_add(&set, path, data, len, err);
        free(data);
        if (rc == -1)
            goto out;
        rc = -1;
    }
    *out = set;
    set = NULL;
    rc = 0;
out:
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(path);
    reject_rules_free(set);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Classifying                                                         */

/* What reject_classify() searches, normalised once. */
struct rj_subject {
    enum pb_stage stage;
    int code;                            /* 0 when unknown */
    struct rj_status st;                 /* cls 0 when unknown */
    char text[PB_LIMIT_REJECT_TEXT + 2]; /* a space may end each line */
    char host[PB_LIMIT_DNS_NAME + 1];
    bool has_host;
    /* text and host in lower case, for the literal prefilter */
    char text_lower[PB_LIMIT_REJECT_TEXT + 2];
    char host_lower[PB_LIMIT_DNS_NAME + 1];
    size_t text_len, host_len;
};

/* A reply code at p: [2-5][0-9][0-9] then space, '-' or the end. */
static bool
rj_code_at(const char *p, size_t left, int *code)
{
    if (left < 3 || p[0] < '2' || p[0] > '5' || !pb_is_digit(p[1]) ||
        !pb_is_digit(p[2]))
        return false;
    if (left > 3 && p[3] != ' ' && p[3] != '-' && p[3] != '\t')
        return false;
    *code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    return true;
}

/*
 * An RFC 3463 status at p (class 2, 4 or 5, subject and detail of 1..3
 * digits) ending at a space or the end; returns its length or 0.
 */
static size_t
rj_status_at(const char *p, size_t left, struct rj_status *st)
{
    size_t i = 0, part, n;
    int v[3];

    if (left < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return 0;
    v[0] = p[0] - '0';
    i = 2;
    for (part = 1; part < 3; part++) {
        v[part] = 0;
        for (n = 0; i < left && pb_is_digit(p[i]) && n < 4; n++, i++)
            v[part] = v[part] * 10 + (p[i] - '0');
        if (n == 0 || n > 3)
            return 0;
        if (part == 1) {
            if (i >= left || p[i] != '.')
                return 0;
            i++;
        }
    }
    if (i < left && p[i] != ' ' && p[i] != '\t')
        return 0;
    st->cls = v[0];
    st->subject = v[1];
    st->detail = v[2];
    return i;
}

/* The status string of reject_input, if it is RFC 3463 syntax. */
static bool
rj_status_parse(const char *s, struct rj_status *st)
{
    size_t len = strnlen(s, 16);

    return len < 16 && rj_status_at(s, len, st) == len;
}

/*
 * Unfold the text into sub->text: each line's leading "smtp;" and reply
 * code and status are dropped (and kept when the input gave none),
 * controls and runs of white space become one space, 8-bit bytes '?'
 * (patterns are ASCII; a UTF-8 locale must not make regexec() fail).
 */
static void
rj_normalize(struct rj_subject *sub, const char *p, size_t len)
{
    size_t o = 0, i = 0, eol, k;
    bool space = true;
    int code;
    struct rj_status st;

    if (len > PB_LIMIT_REJECT_TEXT)
        len = PB_LIMIT_REJECT_TEXT;
    while (i < len) {
        for (eol = i; eol < len && p[eol] != '\r' && p[eol] != '\n'; eol++)
            ;
        while (i < eol && pb_is_wsp(p[i]))
            i++;
        if (eol - i >= 5 && strncasecmp(p + i, "smtp;", 5) == 0) {
            i += 5;
            while (i < eol && pb_is_wsp(p[i]))
                i++;
        }
        if (rj_code_at(p + i, eol - i, &code)) {
            if (sub->code == 0)
                sub->code = code;
            i += eol - i > 3 ? 4 : 3;
        }
        /* the status after the code, or alone (a client's reply lines) */
        k = rj_status_at(p + i, eol - i, &st);
        if (k > 0) {
            if (sub->st.cls == 0)
                sub->st = st;
            i += k;
        }
        for (; i < eol; i++) {
            unsigned char c = (unsigned char)p[i];

            if (c < 0x20 || c == 0x7f || c == ' ') {
                if (!space)
                    sub->text[o++] = ' ';
                space = true;
                continue;
            }
            sub->text[o++] = c >= 0x80 ? '?' : (char)c;
            space = false;
        }
        if (!space)
            sub->text[o++] = ' ';
        space = true;
        while (i < len && (p[i] == '\r' || p[i] == '\n'))
            i++;
    }
    while (o > 0 && sub->text[o - 1] == ' ')
        o--;
    sub->text[o] = '\0';
}

/*
 * Drop the reply codes and statuses that unfolding left inside the text:
 * the prefixes of continuation lines joined with spaces ("... due to
 * 550-5.7.26 domain's DMARC policy", "due to 5.7.26 domain's") so that a
 * pattern can span them.  Only at a word start: a status the server
 * quotes itself ("(#5.1.1)") stays.
 */
static void
rj_drop_prefixes(struct rj_subject *sub)
{
    char *t = sub->text;
    size_t len = strlen(t), r = 0, w = 0, k;
    struct rj_status st;
    int code;

    while (r < len) {
        if (r == 0 || t[r - 1] == ' ') {
            if (rj_code_at(t + r, len - r, &code) && r + 3 < len &&
                (t[r + 3] == '-' ||
                 rj_status_at(t + r + 4, len - r - 4, &st) > 0)) {
                r += 4;
                k = rj_status_at(t + r, len - r, &st);
                r += k > 0 ? k + (r + k < len) : 0;
                continue;
            }
            k = rj_status_at(t + r, len - r, &st);
            if (k > 0 && sub->st.cls != 0 && st.cls == sub->st.cls &&
                st.subject == sub->st.subject && st.detail == sub->st.detail) {
                r += k + (r + k < len);
                continue;
            }
        }
        t[w++] = t[r++];
    }
    while (w > 0 && t[w - 1] == ' ')
        w--;
    t[w] = '\0';
}

static void
rj_subject_init(struct rj_subject *sub, const struct reject_input *in)
{
    size_t i, n;

    memset(sub, 0, sizeof(*sub));
    sub->stage = in->stage;
    if (in->code >= 200 && in->code <= 599)
        sub->code = in->code;
    if (in->status != NULL && !rj_status_parse(in->status, &sub->st))
        memset(&sub->st, 0, sizeof(sub->st));
    if (in->text != NULL) {
        rj_normalize(sub, in->text, in->text_len);
        rj_drop_prefixes(sub);
    }
    if (in->host != NULL) {
        n = strnlen(in->host, PB_LIMIT_DNS_NAME + 1);
        if (n > 0 && n <= PB_LIMIT_DNS_NAME) {
            for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)in->host[i];

                sub->host[i] = c >= 'A' && c <= 'Z'    ? (char)(c + 32)
                               : c < 0x21 || c >= 0x7f ? '?'
                                                       : (char)c;
            }
            /* "mx.example.com." names the same host */
            if (n > 1 && sub->host[n - 1] == '.')
                n--;
            sub->host[n] = '\0';
            sub->has_host = true;
        }
    }
}

static bool
rj_any_match(const struct rj_regexes *r, const char *s, const char *lower,
             size_t len)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        if (r->lit[i] != NULL && !rj_has_literal(lower, len, r->lit[i]))
            continue;
        if (regexec(&r->v[i], s, 0, NULL, 0) == 0)
            return true;
    }
    return false;
}

static bool
rj_code_match(const struct rj_rule *r, int code)
{
    int d[3] = {code / 100, code / 10 % 10, code % 10};
    size_t i, k;

    if (r->ncodes == 0)
        return true;
    if (code == 0)
        return false;
    for (i = 0; i < r->ncodes; i++) {
        for (k = 0; k < 3; k++)
            if (r->codes[i].d[k] >= 0 && r->codes[i].d[k] != d[k])
                break;
        if (k == 3)
            return true;
    }
    return false;
}

static bool
rj_status_match(const struct rj_rule *r, const struct rj_status *st)
{
    const struct rj_status *p;
    size_t i;

    if (r->nstatuses == 0)
        return true;
    if (st->cls == 0)
        return false;
    for (i = 0; i < r->nstatuses; i++) {
        p = &r->statuses[i];
        if ((p->cls < 0 || p->cls == st->cls) &&
            (p->subject < 0 || p->subject == st->subject) &&
            (p->detail < 0 || p->detail == st->detail))
            return true;
    }
    return false;
}

static bool
rj_rule_match(const struct rj_rule *r, const struct rj_subject *sub,
              uint64_t providers)
{
    if (r->provider >= 0 && !(providers & ((uint64_t)1 << r->provider)))
        return false;
    if (r->host.n > 0 &&
        (!sub->has_host ||
         !rj_any_match(&r->host, sub->host, sub->host_lower, sub->host_len)))
        return false;
    if (r->stages != 0 &&
        (sub->stage >= 32 || !(r->stages & (1u << sub->stage))))
        return false;
    if (!rj_code_match(r, sub->code) || !rj_status_match(r, &sub->st))
        return false;
    if (r->text.n > 0 &&
        !rj_any_match(&r->text, sub->text, sub->text_lower, sub->text_len))
        return false;
    if (r->text_not.n > 0 &&
        rj_any_match(&r->text_not, sub->text, sub->text_lower, sub->text_len))
        return false;
    return true;
}

static void
rj_copy(char *dst, size_t size, const char *s)
{
    if (s == NULL) {
        dst[0] = '\0';
        return;
    }
    /* Rule text is checked UTF-8 at load; cut it on a character start. */
    if (snprintf(dst, size, "%s", s) >= (int)size) {
        size_t n = size - 1;

        while (n > 0 && ((unsigned char)dst[n] & 0xc0) == 0x80)
            n--;
        dst[n] = '\0';
    }
}

void
reject_classify(const struct reject_rules *rules, const struct reject_input *in,
                struct reject_verdict *out)
{
    struct rj_subject *sub = pb_xcalloc(1, sizeof(*sub));
    const struct rj_rule *r = NULL;
    uint64_t by_host = 0, by_text = 0, all;
    size_t i;
    int prov = -1;

    memset(out, 0, sizeof(*out));
    rj_subject_init(sub, in);
    sub->text_len = strlen(sub->text);
    for (size_t k = 0; k <= sub->text_len; k++)
        sub->text_lower[k] = (char)rj_lower((unsigned char)sub->text[k]);
    sub->host_len = strlen(sub->host);
    for (size_t k = 0; k <= sub->host_len; k++)
        sub->host_lower[k] = (char)rj_lower((unsigned char)sub->host[k]);
    for (i = 0; rules != NULL && i < rules->nproviders; i++) {
        const struct rj_provider *p = &rules->providers[i];

        if (sub->has_host &&
            rj_any_match(&p->host, sub->host, sub->host_lower, sub->host_len))
            by_host |= (uint64_t)1 << i;
        else if (rj_any_match(&p->text, sub->text, sub->text_lower,
                              sub->text_len))
            by_text |= (uint64_t)1 << i;
    }
    all = by_host | by_text;
    for (i = 0; rules != NULL && i < rules->nrules; i++) {
        if (rj_rule_match(&rules->rules[rules->sorted[i]], sub, all)) {
            r = &rules->rules[rules->sorted[i]];
            break;
        }
    }

    if (sub->code != 0)
        out->is_permanent = sub->code >= 500;
    else if (sub->st.cls != 0)
        out->is_permanent = sub->st.cls == 5;
    else
        out->is_permanent = true;

    /* The server recognised by its name, else the rule's, else by text. */
    for (i = 0; i < 64 && prov < 0; i++)
        if (by_host & ((uint64_t)1 << i))
            prov = (int)i;
    if (prov < 0 && r != NULL && r->provider >= 0)
        prov = r->provider;
    for (i = 0; i < 64 && prov < 0; i++)
        if (by_text & ((uint64_t)1 << i))
            prov = (int)i;
    if (prov >= 0)
        rj_copy(out->provider, sizeof(out->provider),
                rules->providers[prov].name);

    if (r == NULL) {
        out->category = REJECT_POLICY_OTHER;
        out->confidence = REJECT_CONF_LOW;
        rj_copy(out->explanation, sizeof(out->explanation),
                "nothing in the reply names the check that refused the "
                "mail, and no rule knows this wording or code");
        rj_copy(out->remedy, sizeof(out->remedy),
                "Rule out the usual causes with `probe check` on the sending "
                "domain and IP (SPF, DKIM, DMARC, PTR, block lists), then ask "
                "the receiving postmaster with this reply and its time.");
        free(sub);
        return;
    }
    out->category = r->category;
    out->confidence = r->confidence;
    rj_copy(out->rule, sizeof(out->rule), r->id);
    rj_copy(out->explanation, sizeof(out->explanation), r->explanation);
    rj_copy(out->remedy, sizeof(out->remedy), r->remedy);
    rj_copy(out->source, sizeof(out->source), r->source);
    free(sub);
}
