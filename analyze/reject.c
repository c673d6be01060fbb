/* SPDX-License-Identifier: MIT */
/*
 * Rejection rules (reject.h, docs/rules.md): rule files read strictly
 * (cJSON; unknown and duplicate keys, wrong types, bad categories and bad
 * POSIX extended regular expressions are errors with their JSON path),
 * providers recognised by host or text, and the most specific rule whose
 * stage, server, reply code, RFC 3463 enhanced status and text all match
 * decides.  Texts are searched unfolded and bounded (PB_LIMIT_REJECT_TEXT).
 *
 * Matching is the hot path of `probe explain` (a classification per
 * refusal, 540 patterns).  Each pattern is expanded at load into the
 * fixed strings of byte sets, with gaps ("[^.]{0,40}", " *"), that its
 * language is made of; one pass over the text with an index of their
 * longest literal parts finds every pattern that matches, and no regexec()
 * runs.  Only a pattern outside that subset of POSIX EREs keeps its
 * regex_t (and is tried only when the text holds a literal every match
 * holds).  Either way a pattern matches exactly what regexec() with
 * REG_EXTENDED | REG_ICASE in the "C" locale matches.
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

/*
 * One pattern, compiled.  Most rule patterns are literals, or alternations
 * of literals with optional parts, bracket expressions and anchors
 * ("(^|[^a-z0-9])spf([^a-z0-9]|$)"): their language is a short list of
 * fixed-length strings of byte sets, matched without regexec() (see
 * "Matching" below).  The others (a '*', '+' or long interval, or syntax
 * the expansion does not know) keep their regex_t, tried only when the
 * text holds one of the literals every match contains.
 */
struct rj_seq {
    uint16_t *el;        /* per element: a byte (lower case); 256 + the index of
                            a byte set of the pattern (one byte of it); or
                            RJ_GAP + the index of a gap */
    uint16_t len;        /* elements: the bytes it matches unless has_gap */
    uint16_t off, alen;  /* the longest run of plain bytes: its place */
    char *lit;           /* and its bytes, for the literal index */
    bool is_bol, is_eol; /* anchored at the start, at the end */
    bool has_gap;
};

/* A byte set repeated min to max times (max -1: no bound): "[^.]{0,40}",
   " *", ".*". */
struct rj_gap {
    uint16_t set;
    uint16_t min;
    int32_t max;
};

#define RJ_GAP 0x8000u

struct rj_pat {
    bool is_regex;
    regex_t re;         /* is_regex */
    char **need;        /* is_regex: literals (lower case) a match holds
                           one of; none: always tried */
    uint32_t *need_bit; /* their presence bits in the index */
    size_t nneed;
    struct rj_seq *seqs; /* !is_regex: matches where one of them does */
    size_t nseqs;
    uint8_t (*sets)[32]; /* the byte sets of seqs (lower case) */
    size_t nsets;
    struct rj_gap *gaps; /* and their gaps */
    size_t ngaps;
    uint32_t id; /* its bit in a classification's results */
};

struct rj_regexes {
    struct rj_pat *v;
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

/*
 * The literals of the patterns matched against one subject (the text, or
 * the host), found in one pass over it: the plain runs of the expanded
 * patterns' strings, and the literals the regex_t ones need.  A literal of
 * four bytes or more is chained by one window of four of its bytes, the
 * one whose chain was the shortest when it was added: many share their
 * first bytes ("exceeded ...", "sender ..."), few share all windows.
 * Shorter ones by their bytes.
 */
struct rj_lit {
    const char *s; /* lower case, borrowed from the pattern */
    uint32_t len;
    uint64_t win; /* the bytes of its indexed window (rj_load8()) */
    uint32_t off; /* where the window starts in it */
    uint32_t bit; /* presence bit, or UINT32_MAX */
    uint32_t use; /* its uses: uses[use .. use + nuse) */
    uint32_t nuse;
    uint32_t next; /* the next literal of its chain, or UINT32_MAX */
};

/* A string of an expanded pattern whose plain run is the literal. */
struct rj_use {
    const struct rj_pat *pat;
    const struct rj_seq *seq;
};

#define RJ_HASH2 256u /* chains of the shorter literals */

struct rj_index {
    struct rj_lit *lits;
    size_t nlits;
    struct rj_use *uses;
    size_t nuses;
    /*
     * Filters that fit the first-level cache, so that most places of a
     * text stop at two tests: a bit per hash of the windows of eight bytes
     * (2^bits8 of them, some 64 per literal), a bit per first two bytes of
     * the shorter literals (NULL: none).  The chains of the windows are
     * 8 bits of used8 each.
     */
    uint64_t *used8, *used2;
    uint32_t *head8;
    unsigned bits8;
    uint32_t head2[RJ_HASH2], head1[256];
    bool has1;
};

struct reject_rules {
    struct rj_provider *providers;
    size_t nproviders;
    struct rj_rule *rules;
    size_t nrules;
    size_t *sorted; /* rule indexes, most specific first */
    size_t nfiles;
    /* built by rj_index_build() after each file */
    struct rj_index *text_index, *host_index;
    size_t npats; /* pattern ids are 0 .. npats - 1 */
    size_t nbits; /* presence bits are 0 .. nbits - 1 */
};

static void
rj_pat_release(struct rj_pat *p)
{
    size_t i;

    if (p->is_regex)
        regfree(&p->re);
    for (i = 0; i < p->nneed; i++)
        free(p->need[i]);
    free(p->need);
    free(p->need_bit);
    for (i = 0; i < p->nseqs; i++) {
        free(p->seqs[i].el);
        free(p->seqs[i].lit);
    }
    free(p->seqs);
    free(p->sets);
    free(p->gaps);
    memset(p, 0, sizeof(*p));
}

static void
rj_regexes_release(struct rj_regexes *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        rj_pat_release(&r->v[i]);
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

static void
rj_index_free(struct rj_index *x)
{
    if (x == NULL)
        return;
    free(x->lits);
    free(x->uses);
    free(x->used8);
    free(x->used2);
    free(x->head8);
    free(x);
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
    rj_index_free(r->text_index);
    rj_index_free(r->host_index);
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
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = pb_jpath_vfail(&ld->jp, ld->err, code, ld->label, fmt, ap);
    va_end(ap);
    return rc;
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

/* The ']' that closes the bracket expression opening at pat[i] (a ']'
 * first, after an optional '^', is a member), or 0 when none does. */
static size_t
rj_class_end(const char *pat, size_t i)
{
    size_t j = i + 1;

    if (pat[j] == '^')
        j++;
    if (pat[j] == ']')
        j++;
    while (pat[j] != '\0' && pat[j] != ']')
        j++;
    return pat[j] == ']' ? j : 0;
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
            i = rj_class_end(pat, i);
            if (i == 0)
                return NULL;
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
            size_t end = rj_class_end(pat, i);

            if (end == 0)
                break;
            i = end;
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

/*
 * A pattern read into a tree, for the subset of POSIX EREs that the
 * expansion below knows and that regcomp() accepts; anything else goes to
 * regcomp() as it is, which judges it.  The subset: printable ASCII, '\'
 * before punctuation, '.', bracket expressions of bytes and of ranges
 * within a-z, A-Z or 0-9 ('-' first or last), groups, '|' between
 * non-empty alternatives, '^', '$', and one of '?', '*', '+', {m}, {m,},
 * {m,n} after an atom.  Bytes are kept in lower case: the patterns are
 * REG_ICASE, in the "C" locale (probe never calls setlocale()), and the
 * text is compared in lower case.
 */
enum rx_type { RX_CHAR, RX_SET, RX_BOL, RX_EOL, RX_GROUP };

struct rx_seq;

struct rx_node {
    enum rx_type type;
    unsigned char c;     /* RX_CHAR */
    uint8_t set[32];     /* RX_SET: a bit per byte */
    struct rx_seq *alts; /* RX_GROUP */
    size_t nalts;
    int min, max; /* repeated min to max times; max -1: no bound */
};

struct rx_seq {
    struct rx_node *v;
    size_t n, cap;
};

#define RX_MAX_DEPTH  16
#define RX_MAX_REPEAT 255
#define RX_MAX_STRS   256            /* strings an expansion may have */
#define RX_MAX_LEN    256            /* and their length */
#define RX_ARENA_MAX  (1024u * 1024) /* bytes one pattern may use */
#define RX_BLOCK      (16u * 1024)

/*
 * What compiling one pattern allocates, released at once: the tree and
 * the expansions' intermediate strings.  Bounded: past RX_ARENA_MAX an
 * allocation fails, and the pattern goes to regcomp().
 */
struct rx_arena {
    char **blocks;
    size_t nblocks;
    size_t used, size; /* in the last block */
    size_t total;
};

static void *
rx_alloc(struct rx_arena *a, size_t n)
{
    void *p;

    n = (n + 15) & ~(size_t)15;
    if (a->total + n > RX_ARENA_MAX)
        return NULL;
    if (a->nblocks == 0 || a->used + n > a->size) {
        size_t size = n > RX_BLOCK ? n : RX_BLOCK;

        a->blocks =
            pb_xreallocarray(a->blocks, a->nblocks + 1, sizeof(*a->blocks));
        a->blocks[a->nblocks++] = pb_xmalloc(size);
        a->used = 0;
        a->size = size;
    }
    p = a->blocks[a->nblocks - 1] + a->used;
    a->used += n;
    a->total += n;
    return p;
}

/*
 * The array v of n elements of size bytes, with room for one more: when
 * n has reached *cap, a block twice as large (first for the first) with
 * the n copied (the arena frees nothing).  NULL when the arena is full.
 */
static void *
rx_grow(struct rx_arena *a, void *v, size_t n, size_t *cap, size_t first,
        size_t size)
{
    void *nv;
    size_t c;

    if (n < *cap)
        return v;
    c = *cap == 0 ? first : 2 * *cap;
    nv = rx_alloc(a, c * size);
    if (nv == NULL)
        return NULL;
    if (n > 0)
        memcpy(nv, v, n * size);
    *cap = c;
    return nv;
}

static void
rx_arena_release(struct rx_arena *a)
{
    for (size_t i = 0; i < a->nblocks; i++)
        free(a->blocks[i]);
    free(a->blocks);
    memset(a, 0, sizeof(*a));
}

static inline void
rx_set_add(uint8_t *set, unsigned c)
{
    set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static inline bool
rx_set_has(const uint8_t *set, unsigned c)
{
    return (set[c >> 3] >> (c & 7)) & 1;
}

static bool
rx_same_range(unsigned a, unsigned b)
{
    return a <= b && ((pb_is_digit((int)a) && pb_is_digit((int)b)) ||
                      (a >= 'a' && b <= 'z') || (a >= 'A' && b <= 'Z'));
}

/* The bracket expression after the '[' at pat[*i]. */
static bool
rx_bracket(const char *pat, size_t *i, uint8_t set[32])
{
    size_t j = *i, first;
    bool is_neg = false;

    memset(set, 0, 32);
    if (pat[j] == '^') {
        is_neg = true;
        j++;
    }
    first = j;
    if (pat[j] == ']')
        return false; /* a literal ']': not in the subset */
    while (pat[j] != ']') {
        unsigned a = (unsigned char)pat[j];

        if (a < 0x20 || a > 0x7e || a == '[' || a == '\\')
            return false;
        if (a != '-' && pat[j + 1] == '-' && pat[j + 2] != ']' &&
            pat[j + 2] != '\0') {
            unsigned b = (unsigned char)pat[j + 2];

            if (!rx_same_range(a, b))
                return false;
            for (unsigned c = a; c <= b; c++)
                rx_set_add(set, (unsigned)rj_lower((int)c));
            j += 3;
            continue;
        }
        if (a == '-' && j != first && pat[j + 1] != ']')
            return false;
        rx_set_add(set, (unsigned)rj_lower((int)a));
        j++;
    }
    if (is_neg) {
        for (size_t k = 0; k < 32; k++)
            set[k] = (uint8_t)~set[k];
        set[0] &= (uint8_t)~1u; /* RE_DOT_NOT_NULL; the text has none */
    }
    *i = j + 1;
    return true;
}

/* A bound of an interval: 0 to RX_MAX_REPEAT, at most 3 digits. */
static bool
rx_bound(const char *pat, size_t *i, int *out)
{
    int v = 0, n = 0;

    while (pb_is_digit(pat[*i]) && n < 3) {
        v = v * 10 + (pat[(*i)++] - '0');
        n++;
    }
    if (n == 0 || pb_is_digit(pat[*i]) || v > RX_MAX_REPEAT)
        return false;
    *out = v;
    return true;
}

/* The repetition after the atom nd at pat[*i], if there is one. */
static bool
rx_repeat(const char *pat, size_t *i, struct rx_node *nd)
{
    char c = pat[*i];

    if (c != '?' && c != '*' && c != '+' && c != '{')
        return true;
    if (nd->type == RX_BOL || nd->type == RX_EOL)
        return false;
    (*i)++;
    if (c == '?') {
        nd->min = 0;
        nd->max = 1;
    } else if (c == '*') {
        nd->min = 0;
        nd->max = -1;
    } else if (c == '+') {
        nd->min = 1;
        nd->max = -1;
    } else {
        if (!rx_bound(pat, i, &nd->min))
            return false;
        nd->max = nd->min;
        if (pat[*i] == ',') {
            (*i)++;
            nd->max = -1;
            if (pat[*i] != '}' && !rx_bound(pat, i, &nd->max))
                return false;
        }
        if (pat[*i] != '}' || (nd->max >= 0 && nd->max < nd->min) ||
            nd->max == 0)
            return false;
        (*i)++;
    }
    c = pat[*i];
    return c != '?' && c != '*' && c != '+' && c != '{';
}

static bool rx_alts(struct rx_arena *a, const char *pat, size_t *i,
                    size_t depth, struct rx_node *group);

/* A new node at the end of seq. */
static struct rx_node *
rx_node_add(struct rx_arena *a, struct rx_seq *seq)
{
    struct rx_node *nd,
        *v = rx_grow(a, seq->v, seq->n, &seq->cap, 8, sizeof(*seq->v));

    if (v == NULL)
        return NULL;
    seq->v = v;
    nd = &seq->v[seq->n++];
    memset(nd, 0, sizeof(*nd));
    nd->type = RX_CHAR;
    nd->min = nd->max = 1;
    return nd;
}

/* One alternative, up to '|', ')' or the end; never empty. */
static bool
rx_sequence(struct rx_arena *a, const char *pat, size_t *i, size_t depth,
            struct rx_seq *seq)
{
    memset(seq, 0, sizeof(*seq));
    for (;;) {
        char c = pat[*i];
        struct rx_node *nd;

        if (c == '\0' || c == '|' || c == ')')
            return seq->n > 0;
        nd = rx_node_add(a, seq);
        if (nd == NULL)
            return false;
        switch (c) {
        case '(':
            if (depth >= RX_MAX_DEPTH)
                return false;
            (*i)++;
            if (!rx_alts(a, pat, i, depth + 1, nd) || pat[*i] != ')')
                return false;
            (*i)++;
            break;
        case '[':
            (*i)++;
            nd->type = RX_SET;
            if (!rx_bracket(pat, i, nd->set))
                return false;
            break;
        case '.':
            (*i)++;
            nd->type = RX_SET;
            memset(nd->set, 0xff, sizeof(nd->set));
            nd->set[0] &= (uint8_t)~1u;
            break;
        case '^':
            (*i)++;
            nd->type = RX_BOL;
            break;
        case '$':
            (*i)++;
            nd->type = RX_EOL;
            break;
        case '\\':
            c = pat[*i + 1];
            if (c == '\0' || strchr("\\^$.[]|()*+?{}/-", c) == NULL)
                return false;
            nd->c = (unsigned char)c;
            *i += 2;
            break;
        default:
            if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e ||
                strchr("*+?{}]", c) != NULL)
                return false;
            nd->c = (unsigned char)rj_lower((unsigned char)c);
            (*i)++;
            break;
        }
        if (!rx_repeat(pat, i, nd))
            return false;
    }
}

/* Alternatives separated by '|', up to ')' or the end, into group. */
static bool
rx_alts(struct rx_arena *a, const char *pat, size_t *i, size_t depth,
        struct rx_node *group)
{
    size_t cap = 0;

    group->type = RX_GROUP;
    group->alts = NULL;
    group->nalts = 0;
    for (;;) {
        struct rx_seq *v = rx_grow(a, group->alts, group->nalts, &cap, 4,
                                   sizeof(*group->alts));

        if (v == NULL)
            return false;
        group->alts = v;
        if (!rx_sequence(a, pat, i, depth, &group->alts[group->nalts++]))
            return false;
        if (pat[*i] != '|')
            return true;
        (*i)++;
    }
}

/* The whole pattern as one group; false when outside the subset. */
static bool
rx_parse(struct rx_arena *a, const char *pat, struct rx_node *top)
{
    size_t i = 0;

    memset(top, 0, sizeof(*top));
    top->min = top->max = 1;
    return rx_alts(a, pat, &i, 0, top) && pat[i] == '\0';
}

/*
 * The language of a node as fixed-length strings: per position a byte
 * (< 256) or 256 + the index of a byte set; maybe anchored.
 */
struct rx_str {
    uint16_t *el;
    size_t len;
    bool is_bol, is_eol;
};

struct rx_strs {
    struct rx_str *v;
    size_t n, cap;
};

/* The byte sets and gaps of one pattern. */
struct rx_sets {
    uint8_t (*v)[32];
    size_t n;
    struct rj_gap *gaps;
    size_t ngaps;
};

/* The index of set in sets, added when new. */
static size_t
rx_set_index(struct rx_sets *sets, const uint8_t set[32])
{
    size_t k;

    for (k = 0; k < sets->n; k++)
        if (memcmp(sets->v[k], set, 32) == 0)
            return k;
    sets->v = pb_xreallocarray(sets->v, sets->n + 1, sizeof(*sets->v));
    memcpy(sets->v[sets->n], set, 32);
    return sets->n++;
}

/* Add x followed by y (y may be NULL) to s; false past the caps. */
static bool
rx_strs_push(struct rx_arena *a, struct rx_strs *s, const struct rx_str *x,
             const struct rx_str *y)
{
    size_t len = x->len + (y != NULL ? y->len : 0);
    struct rx_str *o, *v;

    if (s->n >= RX_MAX_STRS || len > RX_MAX_LEN)
        return false;
    v = rx_grow(a, s->v, s->n, &s->cap, 2, sizeof(*s->v));
    if (v == NULL)
        return false;
    s->v = v;
    o = &s->v[s->n];
    o->el = rx_alloc(a, (len + 1) * sizeof(*o->el));
    if (o->el == NULL)
        return false;
    s->n++;
    o->len = len;
    if (x->len > 0)
        memcpy(o->el, x->el, x->len * sizeof(*o->el));
    if (y != NULL && y->len > 0)
        memcpy(o->el + x->len, y->el, y->len * sizeof(*o->el));
    o->is_bol = x->is_bol || (y != NULL && y->is_bol);
    o->is_eol = x->is_eol || (y != NULL && y->is_eol);
    return true;
}

/*
 * x followed by y into a new out.  A '^' after a byte, or a '$' before
 * one, can never match: such a pattern is left to regcomp(), to be sure.
 */
static bool
rx_strs_concat(struct rx_arena *a, const struct rx_strs *x,
               const struct rx_strs *y, struct rx_strs *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < x->n; i++)
        for (size_t k = 0; k < y->n; k++)
            if ((y->v[k].is_bol && (x->v[i].len > 0 || x->v[i].is_eol)) ||
                (x->v[i].is_eol && y->v[k].len > 0) ||
                !rx_strs_push(a, out, &x->v[i], &y->v[k]))
                return false;
    return true;
}

static bool
rx_strs_append(struct rx_arena *a, struct rx_strs *s,
               const struct rx_strs *more)
{
    for (size_t i = 0; i < more->n; i++)
        if (!rx_strs_push(a, s, &more->v[i], NULL))
            return false;
    return true;
}

/* A new {""}. */
static bool
rx_strs_empty(struct rx_arena *a, struct rx_strs *s)
{
    static const struct rx_str none = {NULL, 0, false, false};

    memset(s, 0, sizeof(*s));
    return rx_strs_push(a, s, &none, NULL);
}

static bool rx_expand_seq(struct rx_arena *a, const struct rx_seq *seq,
                          struct rx_sets *sets, struct rx_strs *out);

/*
 * The strings of node, its repetition included, into a new out; sets
 * NULL: a byte set is no string (false).
 */
static bool
rx_expand_node(struct rx_arena *a, const struct rx_node *nd,
               struct rx_sets *sets, struct rx_strs *out)
{
    struct rx_strs base, pow, next, alt;
    struct rx_str one = {NULL, 0, false, false};
    uint16_t el;

    memset(out, 0, sizeof(*out));
    memset(&base, 0, sizeof(base));
    if ((nd->type == RX_CHAR || nd->type == RX_SET) && sets != NULL &&
        (nd->max < 0 || nd->max > 3) && sets->ngaps < RJ_GAP) {
        /* one byte repeated: a gap, matched by its count */
        uint8_t set[32];
        struct rj_gap *g;

        if (nd->type == RX_CHAR) {
            memset(set, 0, sizeof(set));
            rx_set_add(set, nd->c);
        } else {
            memcpy(set, nd->set, sizeof(set));
        }
        sets->gaps =
            pb_xreallocarray(sets->gaps, sets->ngaps + 1, sizeof(*sets->gaps));
        g = &sets->gaps[sets->ngaps];
        g->set = (uint16_t)rx_set_index(sets, set);
        g->min = (uint16_t)nd->min;
        g->max = nd->max;
        el = (uint16_t)(RJ_GAP + sets->ngaps++);
        one.el = &el;
        one.len = 1;
        return rx_strs_push(a, out, &one, NULL);
    }
    if (nd->max < 0)
        return false;
    switch (nd->type) {
    case RX_CHAR:
        el = nd->c;
        one.el = &el;
        one.len = 1;
        if (!rx_strs_push(a, &base, &one, NULL))
            return false;
        break;
    case RX_SET: {
        size_t k;

        if (sets == NULL)
            return false;
        k = rx_set_index(sets, nd->set);
        el = (uint16_t)(256 + k);
        one.el = &el;
        one.len = 1;
        if (!rx_strs_push(a, &base, &one, NULL))
            return false;
        break;
    }
    case RX_BOL:
    case RX_EOL:
        one.is_bol = nd->type == RX_BOL;
        one.is_eol = nd->type == RX_EOL;
        if (!rx_strs_push(a, &base, &one, NULL))
            return false;
        break;
    case RX_GROUP:
        for (size_t k = 0; k < nd->nalts; k++)
            if (!rx_expand_seq(a, &nd->alts[k], sets, &alt) ||
                !rx_strs_append(a, &base, &alt))
                return false;
        break;
    }
    if (nd->min == 1 && nd->max == 1) {
        *out = base;
        return true;
    }
    /* min to max copies */
    if (!rx_strs_empty(a, &pow))
        return false;
    for (int k = 0; k <= nd->max; k++) {
        if (k >= nd->min && !rx_strs_append(a, out, &pow))
            return false;
        if (k < nd->max) {
            if (!rx_strs_concat(a, &pow, &base, &next))
                return false;
            pow = next;
        }
    }
    return true;
}

static bool
rx_expand_seq(struct rx_arena *a, const struct rx_seq *seq,
              struct rx_sets *sets, struct rx_strs *out)
{
    struct rx_strs acc, e;

    memset(out, 0, sizeof(*out));
    if (!rx_strs_empty(a, &acc))
        return false;
    for (size_t i = 0; i < seq->n; i++) {
        size_t k = i;

        /* a run of plain bytes is one string */
        while (k < seq->n && seq->v[k].type == RX_CHAR && seq->v[k].min == 1 &&
               seq->v[k].max == 1)
            k++;
        if (k - i > 1) {
            struct rx_str run = {NULL, k - i, false, false};

            if (k - i > RX_MAX_LEN)
                return false;
            run.el = rx_alloc(a, (k - i) * sizeof(*run.el));
            if (run.el == NULL)
                return false;
            for (size_t j = i; j < k; j++)
                run.el[j - i] = seq->v[j].c;
            memset(&e, 0, sizeof(e));
            if (!rx_strs_push(a, &e, &run, NULL))
                return false;
            i = k - 1;
        } else if (!rx_expand_node(a, &seq->v[i], sets, &e)) {
            return false;
        }
        if (!rx_strs_concat(a, &acc, &e, out))
            return false;
        acc = *out;
    }
    *out = acc;
    return true;
}

/*
 * The pattern tree top as strings, into pat: each string's longest run of
 * plain bytes is what the literal index looks for.  False when it does
 * not expand (a '*', '+', too many or too long strings), or when a string
 * is empty or all byte sets; pat is then as before.
 */
static bool
rx_compile_seqs(struct rx_arena *a, const struct rx_node *top,
                struct rj_pat *pat)
{
    struct rx_sets sets = {NULL, 0, NULL, 0};
    struct rx_strs st, *strs = &st;
    size_t at[RX_MAX_STRS], best[RX_MAX_STRS];

    if (!rx_expand_node(a, top, &sets, strs) || strs->n == 0) {
        free(sets.v);
        free(sets.gaps);
        return false;
    }
    for (size_t i = 0; i < strs->n; i++) {
        const struct rx_str *x = &strs->v[i];
        size_t run = 0;

        best[i] = at[i] = 0;
        for (size_t k = 0; k < x->len; k++) {
            run = x->el[k] < 256 ? run + 1 : 0;
            if (run > best[i]) {
                best[i] = run;
                at[i] = k + 1 - run;
            }
        }
        if (best[i] == 0) {
            free(sets.v);
            free(sets.gaps);
            return false;
        }
    }
    pat->seqs = pb_xcalloc(strs->n, sizeof(*pat->seqs));
    pat->nseqs = strs->n;
    for (size_t i = 0; i < strs->n; i++) {
        const struct rx_str *x = &strs->v[i];
        struct rj_seq *q = &pat->seqs[i];

        q->len = (uint16_t)x->len;
        q->off = (uint16_t)at[i];
        q->alen = (uint16_t)best[i];
        q->is_bol = x->is_bol;
        q->is_eol = x->is_eol;
        q->el = pb_xreallocarray(NULL, x->len + 1, sizeof(*q->el));
        memcpy(q->el, x->el, x->len * sizeof(*q->el));
        for (size_t k = 0; k < x->len; k++)
            q->has_gap |= x->el[k] >= RJ_GAP;
        q->lit = pb_xmalloc(best[i] + 1);
        for (size_t k = 0; k < best[i]; k++)
            q->lit[k] = (char)q->el[at[i] + k];
        q->lit[best[i]] = '\0';
    }
    pat->sets = sets.v;
    pat->nsets = sets.n;
    pat->gaps = sets.gaps;
    pat->ngaps = sets.ngaps;
    return true;
}

/*
 * For a pattern left to regexec(): literals (lower case), one of which
 * every match contains.  Plain strings: expansions without byte sets.
 */

/* The shortest string of s (0 when one is empty, or s has none). */
static size_t
rx_strs_min(const struct rx_strs *s)
{
    size_t m = 0;

    for (size_t i = 0; i < s->n; i++)
        if (i == 0 || s->v[i].len < m)
            m = s->v[i].len;
    return m;
}

/* Keep cand in *best when it is a better filter: a longer shortest
   literal, then fewer of them. */
static void
rx_offer(struct rx_strs *best, const struct rx_strs *cand)
{
    size_t mc = rx_strs_min(cand), mb = rx_strs_min(best);

    if (mc > 0 && (best->n == 0 || mc > mb || (mc == mb && cand->n < best->n)))
        *best = *cand;
}

static bool rx_need_node(struct rx_arena *a, const struct rx_node *nd,
                         struct rx_strs *out);

/* What every match of seq contains: the best run of plain parts, or what
   a required part needs. */
static bool
rx_need_seq(struct rx_arena *a, const struct rx_seq *seq, struct rx_strs *out)
{
    struct rx_strs run, e, next;

    memset(out, 0, sizeof(*out));
    if (!rx_strs_empty(a, &run))
        return false;
    for (size_t i = 0; i < seq->n; i++) {
        const struct rx_node *nd = &seq->v[i];

        if (rx_expand_node(a, nd, NULL, &e)) {
            if (rx_strs_concat(a, &run, &e, &next)) {
                run = next;
                continue;
            }
            rx_offer(out, &run);
            run = e;
            continue;
        }
        rx_offer(out, &run);
        if (!rx_strs_empty(a, &run))
            return false;
        if (nd->min >= 1 && rx_need_node(a, nd, &e))
            rx_offer(out, &e);
    }
    rx_offer(out, &run);
    return out->n > 0;
}

static bool
rx_need_node(struct rx_arena *a, const struct rx_node *nd, struct rx_strs *out)
{
    struct rx_strs alt;

    memset(out, 0, sizeof(*out));
    if (nd->type != RX_GROUP)
        return false;
    for (size_t k = 0; k < nd->nalts; k++)
        if (!rx_need_seq(a, &nd->alts[k], &alt) ||
            !rx_strs_append(a, out, &alt))
            return false;
    return out->n > 0;
}

/* rj_literal()'s '\n'-separated list as the need of pat. */
static void
rx_need_from_literal(const char *s, struct rj_pat *pat)
{
    char *lits = rj_literal(s), *p = lits;

    while (p != NULL) {
        char *nl = strchr(p, '\n');

        if (nl != NULL)
            *nl = '\0';
        pat->need =
            pb_xreallocarray(pat->need, pat->nneed + 1, sizeof(*pat->need));
        pat->need[pat->nneed++] = pb_xstrdup(p);
        p = nl != NULL ? nl + 1 : NULL;
    }
    free(lits);
}

/* A pattern of printable ASCII without a special character: itself. */
static bool
rj_pat_literal(const char *s, struct rj_pat *pat)
{
    size_t n = strlen(s);
    struct rj_seq *q;

    if (n == 0 || n > RX_MAX_LEN || strpbrk(s, "\\^$.[]|()*+?{}") != NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    q = pat->seqs = pb_xcalloc(1, sizeof(*pat->seqs));
    pat->nseqs = 1;
    q->len = q->alen = (uint16_t)n;
    q->el = pb_xreallocarray(NULL, n, sizeof(*q->el));
    q->lit = pb_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        q->lit[i] = (char)rj_lower((unsigned char)s[i]);
        q->el[i] = (unsigned char)q->lit[i];
    }
    q->lit[n] = '\0';
    return true;
}

/* Compile the pattern s into pat; -1 (and err) when regcomp() refuses it. */
static int
rj_pat_compile(struct rj_load *ld, const char *s, struct rj_pat *pat)
{
    struct rx_arena a = {NULL, 0, 0, 0, 0};
    struct rx_node top;
    struct rx_strs need_strs, *need = &need_strs;
    bool is_parsed;
    char msg[128];
    int rc;

    memset(pat, 0, sizeof(*pat));
    if (rj_pat_literal(s, pat))
        return 0;
    is_parsed = rx_parse(&a, s, &top);
    if (is_parsed && rx_compile_seqs(&a, &top, pat)) {
        rx_arena_release(&a);
        return 0;
    }
    rc = regcomp(&pat->re, s, RJ_REGEX_FLAGS);
    if (rc != 0) {
        regerror(rc, &pat->re, msg, sizeof(msg));
        regfree(&pat->re);
        rx_arena_release(&a);
        return rj_fail(ld, "not a valid regular expression: %s", msg);
    }
    pat->is_regex = true;
    if (is_parsed && rx_need_node(&a, &top, need)) {
        pat->need = pb_xcalloc(need->n, sizeof(*pat->need));
        for (size_t i = 0; i < need->n; i++) {
            char *t = pb_xmalloc(need->v[i].len + 1);

            for (size_t k = 0; k < need->v[i].len; k++)
                t[k] = (char)need->v[i].el[k];
            t[need->v[i].len] = '\0';
            pat->need[pat->nneed++] = t;
        }
    } else if (!is_parsed) {
        rx_need_from_literal(s, pat);
    }
    rx_arena_release(&a);
    pat->need_bit = pb_xcalloc(pat->nneed + 1, sizeof(*pat->need_bit));
    return 0;
}

/* Regular expressions. */
static int
rj_regex_each(struct rj_load *ld, const cJSON *item, size_t i, void *arg)
{
    struct rj_regexes *r = arg;
    const char *s = NULL;

    (void)i;
    if (rj_string(ld, item, PB_LIMIT_REJECT_PATTERN, &s) == -1)
        return -1;
    r->v = pb_xreallocarray(r->v, r->n + 1, sizeof(*r->v));
    if (rj_pat_compile(ld, s, &r->v[r->n]) == -1)
        return -1;
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

/* ------------------------------------------------------------------ */
/* The literal index                                                   */

#define RJ_NONE UINT32_MAX

/*
 * How rare a byte is in the texts searched (English words, lower case):
 * the window a literal is indexed by is its rarest, so that few places of
 * a text lead to a comparison.  Roughly -log2 of the frequency.
 */
static unsigned
rj_rarity(unsigned char c)
{
    switch (c) {
    case ' ':
        return 1;
    case 'e':
        return 2;
    case 't':
    case 'a':
    case 'o':
    case 'i':
    case 'n':
    case 's':
    case 'h':
    case 'r':
        return 3;
    case 'd':
    case 'l':
    case 'c':
    case 'u':
    case 'm':
        return 4;
    case 'w':
    case 'f':
    case 'g':
    case 'y':
    case 'p':
    case 'b':
    case '.':
    case ',':
        return 5;
    case 'v':
    case 'k':
        return 6;
    default:
        return c >= '0' && c <= '9' ? 6 : 8;
    }
}

/* Eight bytes as a number (in the machine's order: only compared with
   numbers loaded the same way). */
static inline uint64_t
rj_load8(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* bits bits of hash of a window; its chain is the hash >> 3. */
static inline uint32_t
rj_hash8(uint64_t v, unsigned bits)
{
    return (uint32_t)(v * 0x9e3779b97f4a7c15u >> (64 - bits));
}

/* The first two bytes of a short literal, and their chain. */
static inline uint32_t
rj_key2(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t
rj_hash2(uint32_t key)
{
    return key * 2654435761u >> 24;
}

static inline bool
rj_bit(const uint64_t *v, uint32_t b)
{
    return (v[b >> 6] >> (b & 63)) & 1;
}

static inline void
rj_bit_set(uint64_t *v, uint32_t b)
{
    v[b >> 6] |= (uint64_t)1 << (b & 63);
}

/* A literal being indexed: a string's plain run, or a regex's need. */
struct rj_rec {
    const char *s;
    size_t len;
    const struct rj_pat *pat;
    const struct rj_seq *seq; /* NULL: a need, whose bit goes to *bit */
    uint32_t *bit;
};

struct rj_recs {
    struct rj_rec *v;
    size_t n, cap;
};

static void
rj_recs_add_pats(struct reject_rules *set, struct rj_recs *recs,
                 struct rj_regexes *r)
{
    for (size_t i = 0; i < r->n; i++) {
        struct rj_pat *p = &r->v[i];
        size_t n = p->is_regex ? p->nneed : p->nseqs;

        p->id = (uint32_t)set->npats++;
        if (recs->n + n + 1 > recs->cap) {
            recs->cap = 2 * (recs->n + n + 1);
            recs->v = pb_xreallocarray(recs->v, recs->cap, sizeof(*recs->v));
        }
        for (size_t k = 0; k < n; k++) {
            struct rj_rec *e = &recs->v[recs->n++];

            e->pat = p;
            e->seq = p->is_regex ? NULL : &p->seqs[k];
            e->s = p->is_regex ? p->need[k] : p->seqs[k].lit;
            e->len = strlen(e->s);
            e->bit = p->is_regex ? &p->need_bit[k] : NULL;
        }
    }
}

/* The index of recs; presence bits are numbered on from set->nbits. */
static struct rj_index *
rj_index_new(struct reject_rules *set, const struct rj_recs *recs)
{
    struct rj_index *x = pb_xcalloc(1, sizeof(*x));
    size_t tabn = 16, i, n8;
    uint32_t *tab, *litof;
    uint8_t *load;

    while (tabn < 2 * recs->n + 2)
        tabn *= 2;
    tab = pb_xcalloc(tabn, sizeof(*tab));
    litof = pb_xcalloc(recs->n + 1, sizeof(*litof));
    x->lits = pb_xcalloc(recs->n + 1, sizeof(*x->lits));
    /* the distinct literals, and how many strings use each */
    for (i = 0; i < recs->n; i++) {
        const struct rj_rec *e = &recs->v[i];
        uint32_t h = 2166136261u;
        size_t slot;

        for (size_t k = 0; k < e->len; k++)
            h = (h ^ (unsigned char)e->s[k]) * 16777619u;
        for (slot = h & (tabn - 1); tab[slot] != 0;
             slot = (slot + 1) & (tabn - 1)) {
            const struct rj_lit *l = &x->lits[tab[slot] - 1];

            if (l->len == e->len && memcmp(l->s, e->s, e->len) == 0)
                break;
        }
        if (tab[slot] == 0) {
            struct rj_lit *l = &x->lits[x->nlits];

            l->s = e->s;
            l->len = (uint32_t)e->len;
            l->bit = RJ_NONE;
            tab[slot] = (uint32_t)++x->nlits;
        }
        litof[i] = tab[slot] - 1;
        if (e->seq != NULL) {
            x->lits[litof[i]].nuse++;
        } else {
            if (x->lits[litof[i]].bit == RJ_NONE)
                x->lits[litof[i]].bit = (uint32_t)set->nbits++;
            *e->bit = x->lits[litof[i]].bit;
        }
    }
    /* their uses, in place */
    for (i = 0; i < x->nlits; i++) {
        x->lits[i].use = (uint32_t)x->nuses;
        x->nuses += x->lits[i].nuse;
        x->lits[i].nuse = 0;
    }
    x->uses = pb_xcalloc(x->nuses + 1, sizeof(*x->uses));
    for (i = 0; i < recs->n; i++) {
        struct rj_lit *l = &x->lits[litof[i]];

        if (recs->v[i].seq == NULL)
            continue;
        x->uses[l->use + l->nuse].pat = recs->v[i].pat;
        x->uses[l->use + l->nuse].seq = recs->v[i].seq;
        l->nuse++;
    }
    /*
     * The chains: a literal of eight bytes or more by a window of eight of
     * them, the one the fewest literals have already (literals of one
     * family, "exceeded the quota", "exceeded the storage", ... share
     * their first bytes), then the one of the rarest bytes; a shorter one
     * by its first two bytes (one by its byte).
     */
    for (i = 0, n8 = 0; i < x->nlits; i++)
        n8 += x->lits[i].len >= 8;
    for (x->bits8 = 10; x->bits8 < 16 && ((size_t)1 << x->bits8) < 64 * n8;
         x->bits8++)
        ;
    x->used8 = pb_xcalloc((size_t)1 << (x->bits8 - 6), sizeof(*x->used8));
    x->head8 =
        pb_xreallocarray(NULL, (size_t)1 << (x->bits8 - 3), sizeof(*x->head8));
    memset(x->head8, 0xff, ((size_t)1 << (x->bits8 - 3)) * sizeof(*x->head8));
    memset(x->head2, 0xff, sizeof(x->head2));
    memset(x->head1, 0xff, sizeof(x->head1));
    /* literals per window hash, saturated */
    load = pb_xcalloc((size_t)1 << x->bits8, sizeof(*load));
    for (i = 0; i < x->nlits; i++) {
        struct rj_lit *l = &x->lits[i];
        const unsigned char *u = (const unsigned char *)l->s;
        uint32_t *head;

        if (l->len >= 8) {
            uint32_t best = 0, fewest = UINT32_MAX;
            unsigned rare = 0;

            for (uint32_t o = 0; o + 8 <= l->len; o++) {
                uint32_t h = rj_hash8(rj_load8(u + o), x->bits8);
                unsigned r = 0;

                for (uint32_t k = 0; k < 8; k++)
                    r += rj_rarity(u[o + k]);
                if (load[h] < fewest || (load[h] == fewest && r > rare)) {
                    best = h;
                    fewest = load[h];
                    rare = r;
                    l->off = o;
                }
            }
            if (load[best] < UINT8_MAX)
                load[best]++;
            l->win = rj_load8(u + l->off);
            head = &x->head8[best >> 3];
            rj_bit_set(x->used8, best);
        } else if (l->len >= 2) {
            head = &x->head2[rj_hash2(rj_key2(u))];
            if (x->used2 == NULL)
                x->used2 = pb_xcalloc(65536 / 64, sizeof(*x->used2));
            rj_bit_set(x->used2, rj_key2(u));
        } else {
            head = &x->head1[u[0]];
            x->has1 = true;
        }
        l->next = *head;
        *head = (uint32_t)i;
    }
    free(load);
    free(tab);
    free(litof);
    return x;
}

/* Number the patterns and index their literals: the text's and the
   host's. */
static void
rj_index_build(struct reject_rules *set)
{
    struct rj_recs text = {NULL, 0, 0}, host = {NULL, 0, 0};
    size_t i;

    rj_index_free(set->text_index);
    rj_index_free(set->host_index);
    set->npats = set->nbits = 0;
    for (i = 0; i < set->nproviders; i++) {
        rj_recs_add_pats(set, &host, &set->providers[i].host);
        rj_recs_add_pats(set, &text, &set->providers[i].text);
    }
    for (i = 0; i < set->nrules; i++) {
        rj_recs_add_pats(set, &host, &set->rules[i].host);
        rj_recs_add_pats(set, &text, &set->rules[i].text);
        rj_recs_add_pats(set, &text, &set->rules[i].text_not);
    }
    set->text_index = rj_index_new(set, &text);
    set->host_index = rj_index_new(set, &host);
    free(text.v);
    free(host.v);
}

/* The results of one classification: bit per pattern matched (the
   expanded ones), bit per literal present. */
struct rj_found {
    uint64_t *hit;
    uint64_t *has;
};

/*
 * Whether the elements el[0 .. m) of pattern p match text u (n bytes) from
 * the boundary `from`: forward (dir 1: el[0] is u[from]), or backward
 * (dir -1: el[m - 1] is u[from - 1]); is_to_end: up to the end of the text
 * that way.  The places an element can end are kept as a sorted list of
 * distances from `from` (a and b, room for the text's length + 1): a gap
 * adds a range of them, so the work stays linear in the text whatever the
 * gaps are.
 */
static bool
rj_side_match(const struct rj_pat *p, const uint16_t *el, size_t m, int dir,
              const unsigned char *u, size_t n, size_t from, bool is_to_end,
              uint16_t *a, uint16_t *b)
{
    size_t limit = dir > 0 ? n - from : from, na = 1, nb, k, i;

    a[0] = 0;
    for (k = 0; k < m && na > 0; k++) {
        unsigned e = el[dir > 0 ? k : m - 1 - k];
        uint16_t *t;

        nb = 0;
        if (e < RJ_GAP) {
            for (i = 0; i < na; i++) {
                size_t d = a[i];
                unsigned c;

                if (d >= limit)
                    continue;
                c = u[dir > 0 ? from + d : from - 1 - d];
                if (e < 256 ? c == e : rx_set_has(p->sets[e - 256], c))
                    b[nb++] = (uint16_t)(d + 1);
            }
        } else {
            const struct rj_gap *g = &p->gaps[e - RJ_GAP];
            const uint8_t *set = p->sets[g->set];
            size_t run_end = 0, next = 0; /* next: the least not added */

            for (i = 0; i < na; i++) {
                size_t d = a[i], hi;

                /* the run of set's bytes from d: the one before, if d is
                   in it */
                if (i == 0 || d > run_end) {
                    run_end = d;
                    while (
                        run_end < limit &&
                        rx_set_has(
                            set,
                            u[dir > 0 ? from + run_end : from - 1 - run_end]))
                        run_end++;
                }
                hi = g->max >= 0 && d + (size_t)g->max < run_end
                         ? d + (size_t)g->max
                         : run_end;
                for (size_t x = d + g->min > next ? d + g->min : next; x <= hi;
                     x++)
                    b[nb++] = (uint16_t)x;
                if (hi + 1 > next)
                    next = hi + 1;
            }
        }
        t = a;
        a = b;
        b = t;
        na = nb;
    }
    if (na == 0)
        return false;
    if (!is_to_end)
        return true;
    return a[na - 1] == limit; /* sorted: the farthest is last */
}

/* Whether string q (with gaps) of p matches where its plain run is at u[i]. */
static bool
rj_seq_gaps(const struct rj_pat *p, const struct rj_seq *q,
            const unsigned char *u, size_t n, size_t i)
{
    uint16_t a[PB_LIMIT_REJECT_TEXT + 3], b[PB_LIMIT_REJECT_TEXT + 3];

    if (n > PB_LIMIT_REJECT_TEXT + 2)
        return false; /* not a text of rj_subject */
    return rj_side_match(p, q->el, q->off, -1, u, n, i, q->is_bol, a, b) &&
           rj_side_match(p, q->el + q->off + q->alen, q->len - q->off - q->alen,
                         1, u, n, i + q->alen, q->is_eol, a, b);
}

/* The literal l at u[i] (in lower case, n bytes): its bit, and the
   strings around it. */
static inline void
rj_index_hit(const struct rj_index *x, const struct rj_lit *l,
             const unsigned char *u, size_t n, size_t i, struct rj_found *f)
{
    if (l->len > n - i || u[i] != (unsigned char)l->s[0] ||
        memcmp(u + i, l->s, l->len) != 0)
        return;
    if (l->bit != RJ_NONE)
        rj_bit_set(f->has, l->bit);
    for (uint32_t k = 0; k < l->nuse; k++) {
        const struct rj_use *use = &x->uses[l->use + k];
        const struct rj_seq *q = use->seq;
        const struct rj_pat *p = use->pat;
        size_t start, j;

        if (rj_bit(f->hit, p->id))
            continue;
        if (q->has_gap) {
            if (rj_seq_gaps(p, q, u, n, i))
                rj_bit_set(f->hit, p->id);
            continue;
        }
        if (i < q->off)
            continue;
        start = i - q->off;
        if (q->len > n - start || (q->is_bol && start != 0) ||
            (q->is_eol && start + q->len != n))
            continue;
        for (j = 0; j < q->len; j++) {
            unsigned e = q->el[j];

            if (j == q->off) {
                j += q->alen - 1u;
                continue;
            }
            if (e < 256 ? u[start + j] != e
                        : !rx_set_has(p->sets[e - 256], u[start + j]))
                break;
        }
        if (j >= q->len)
            rj_bit_set(f->hit, p->id);
    }
}

/* One pass over (lower, n): every literal of x found, and what it
   tells. */
static void
rj_index_scan(const struct rj_index *x, const char *lower, size_t n,
              struct rj_found *f)
{
    const unsigned char *u = (const unsigned char *)lower;

    for (size_t i = 0; i < n; i++) {
        uint32_t k, h;

        /* a literal found at i by its window at i + off */
        if (n - i >= 8) {
            uint64_t v = rj_load8(u + i);

            h = rj_hash8(v, x->bits8);
            if (rj_bit(x->used8, h))
                for (k = x->head8[h >> 3]; k != RJ_NONE; k = x->lits[k].next)
                    if (x->lits[k].win == v && i >= x->lits[k].off)
                        rj_index_hit(x, &x->lits[k], u, n, i - x->lits[k].off,
                                     f);
        }
        if (x->used2 != NULL && n - i >= 2 &&
            rj_bit(x->used2, h = rj_key2(u + i)))
            for (k = x->head2[rj_hash2(h)]; k != RJ_NONE; k = x->lits[k].next)
                rj_index_hit(x, &x->lits[k], u, n, i, f);
        if (x->has1)
            for (k = x->head1[u[i]]; k != RJ_NONE; k = x->lits[k].next)
                rj_index_hit(x, &x->lits[k], u, n, i, f);
    }
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

/*
 * Whether pb_text_json_nul() can find anything in (p, len): a NUL byte, or
 * a "\u0000" (one memchr() each, for the few '0's a rule file has).
 */
static bool
rj_may_hold_nul(const char *p, size_t len)
{
    const char *z = p, *end = p + len;

    if (memchr(p, '\0', len) != NULL)
        return true;
    while ((z = memchr(z, '0', (size_t)(end - z))) != NULL) {
        if (z - p >= 2 && z[-1] == 'u' && z[-2] == '\\')
            return true;
        z++;
    }
    return false;
}

/* reject_rules_add(); the literal index is built when is_last (at the
   end of a directory: once). */
static int
rj_add(struct reject_rules **rules, const char *name, const void *p, size_t len,
       bool is_last, struct pb_err *err)
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
    nul = rj_may_hold_nul(text, len) ? pb_text_json_nul(text, len) : len;
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
        } else if (is_last) {
            rj_index_build(ld.set);
        }
        goto out;
    }
    ld.set->nfiles++;
    rj_sort(ld.set);
    if (is_last)
        rj_index_build(ld.set);
    rc = 0;
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

int
reject_rules_add(struct reject_rules **rules, const char *name, const void *p,
                 size_t len, struct pb_err *err)
{
    return rj_add(rules, name, p, len, true, err);
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
        rc = rj_add(&set, path, data, len, i + 1 == n, err);
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
    /* the text in lower case (host is), for the literal index */
    char text_lower[PB_LIMIT_REJECT_TEXT + 2];
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

    /* not the buffers: each is written up to its NUL */
    sub->stage = in->stage;
    sub->code = 0;
    memset(&sub->st, 0, sizeof(sub->st));
    sub->text[0] = sub->host[0] = '\0';
    sub->has_host = false;
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

/* Whether one of r's patterns matches s (sub's text or host), found:
   what the literal index found in it. */
static bool
rj_any_match(const struct rj_regexes *r, const char *s,
             const struct rj_found *found)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct rj_pat *p = &r->v[i];
        size_t k;

        if (!p->is_regex) {
            if (rj_bit(found->hit, p->id))
                return true;
            continue;
        }
        for (k = 0; k < p->nneed; k++)
            if (rj_bit(found->has, p->need_bit[k]))
                break;
        if (p->nneed > 0 && k == p->nneed)
            continue; /* a literal every match holds is missing */
        if (regexec(&p->re, s, 0, NULL, 0) == 0)
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
              const struct rj_found *found, uint64_t providers)
{
    if (r->provider >= 0 && !(providers & ((uint64_t)1 << r->provider)))
        return false;
    if (r->host.n > 0 &&
        (!sub->has_host || !rj_any_match(&r->host, sub->host, found)))
        return false;
    if (r->stages != 0 &&
        (sub->stage >= 32 || !(r->stages & (1u << sub->stage))))
        return false;
    if (!rj_code_match(r, sub->code) || !rj_status_match(r, &sub->st))
        return false;
    if (r->text.n > 0 && !rj_any_match(&r->text, sub->text, found))
        return false;
    if (r->text_not.n > 0 && rj_any_match(&r->text_not, sub->text, found))
        return false;
    return true;
}

static void
rj_copy(char *dst, size_t size, const char *s)
{
    size_t len;

    if (s == NULL) {
        dst[0] = '\0';
        return;
    }
    /*
     * Rule text is checked UTF-8 at load; cut it on a character start (the
     * first byte left out is no continuation byte).  The load's limits
     * keep every rule's text within out's arrays: no cut happens today.
     */
    len = strnlen(s, size - 1);
    if (len == size - 1 && s[len] != '\0')
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

void
reject_classify(const struct reject_rules *rules, const struct reject_input *in,
                struct reject_verdict *out)
{
    struct rj_subject *sub = pb_xmalloc(sizeof(*sub));
    const struct rj_rule *r = NULL;
    uint64_t by_host = 0, by_text = 0, all;
    struct rj_found found = {NULL, NULL};
    size_t i;
    int prov = -1;

    memset(out, 0, sizeof(*out));
    rj_subject_init(sub, in);
    sub->text_len = strlen(sub->text);
    for (size_t k = 0; k <= sub->text_len; k++)
        sub->text_lower[k] = (char)rj_lower((unsigned char)sub->text[k]);
    sub->host_len = strlen(sub->host);
    if (rules != NULL) {
        found.hit = pb_xcalloc(rules->npats / 64 + rules->nbits / 64 + 2,
                               sizeof(*found.hit));
        found.has = found.hit + rules->npats / 64 + 1;
        rj_index_scan(rules->text_index, sub->text_lower, sub->text_len,
                      &found);
        if (sub->has_host)
            rj_index_scan(rules->host_index, sub->host, sub->host_len, &found);
    }
    for (i = 0; rules != NULL && i < rules->nproviders; i++) {
        const struct rj_provider *p = &rules->providers[i];

        if (sub->has_host && rj_any_match(&p->host, sub->host, &found))
            by_host |= (uint64_t)1 << i;
        else if (rj_any_match(&p->text, sub->text, &found))
            by_text |= (uint64_t)1 << i;
    }
    all = by_host | by_text;
    for (i = 0; rules != NULL && i < rules->nrules; i++) {
        if (rj_rule_match(&rules->rules[rules->sorted[i]], sub, &found, all)) {
            r = &rules->rules[rules->sorted[i]];
            break;
        }
    }
    free(found.hit);

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
        snprintf(out->explanation, sizeof(out->explanation), "%s",
                 "nothing in the reply names the check that refused the "
                 "mail, and no rule knows this wording or code");
        snprintf(out->remedy, sizeof(out->remedy), "%s",
                 "Rule out the usual causes with `probe check` on the "
                 "sending domain and IP (SPF, DKIM, DMARC, PTR, block "
                 "lists), then ask the receiving postmaster with this reply "
                 "and its time.");
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
