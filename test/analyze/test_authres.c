/* SPDX-License-Identifier: MIT */
/*
 * Authentication-Results: every RFC 8601 Appendix B example of the shared
 * corpus against its expected.json, real fields with the junk real MTAs
 * write (test/data/authres/real), the lab receivers' own fields and the
 * trust rule over them, the lenient readings one by one, limits at and
 * one over, hostile input (nested comments, unterminated quotes, NUL,
 * 8-bit, thousands of resinfos), result words and authserv-id patterns.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze.h"
#include "pb_buf.h"
#include "testdata.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static cJSON *
load_json(const char *rel)
{
    size_t len;
    char *p = testdata_load(rel, &len);
    cJSON *j = cJSON_ParseWithLength(p, len);

    free(p);
    cr_assert(cJSON_IsArray(j), "%s: not a JSON array", rel);
    return j;
}

static const char *
jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Parse a value that must parse. */
static void
parse_ok(const char *s, struct authres *ar)
{
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(authres_parse(s, strlen(s), ar, &err), 0, "%s: %s", s,
                 err.msg);
}

/* Parse (p, len), expecting -1 with code. */
static void
parse_fails(const char *p, size_t len, enum pb_code code)
{
    struct authres ar;
    struct pb_err err;

    pb_err_clear(&err);
    cr_assert_eq(authres_parse(p, len, &ar, &err), -1);
    cr_assert_eq(err.code, code, "code %s: %s", pb_code_name(err.code),
                 err.msg);
    cr_assert(err.msg[0] != '\0');
    cr_assert_null(ar.results);
    cr_assert_null(ar.authserv_id);
    cr_assert_eq(ar.nresults, 0);
    authres_release(&ar);
}

static bool
has_skip(const struct authres *ar, const char *why)
{
    size_t i;

    for (i = 0; i < ar->nskipped_kept; i++)
        if (strcmp(ar->skipped[i].why, why) == 0)
            return true;
    return false;
}

/* JSON null or number n (0 = null). */
static void
expect_num(const cJSON *v, unsigned got, const char *file, const char *what)
{
    if (cJSON_IsNull(v) || v == NULL)
        cr_expect_eq(got, 0, "%s: %s %u, expected none", file, what, got);
    else
        cr_expect_eq(got, (unsigned)v->valuedouble, "%s: %s %u, expected %g",
                     file, what, got, v->valuedouble);
}

static void
expect_strs(const cJSON *arr, char **v, size_t n, const char *file,
            const char *what)
{
    size_t i;

    cr_assert_eq(n, (size_t)cJSON_GetArraySize(arr), "%s: %zu %s, expected %d",
                 file, n, what, cJSON_GetArraySize(arr));
    for (i = 0; i < n; i++)
        cr_expect_str_eq(v[i], cJSON_GetArrayItem(arr, (int)i)->valuestring,
                         "%s: %s %zu", file, what, i);
}

/*
 * Compare a parse with one entry of an expected.json (the corpus's
 * format; "skipped" and "arc_i" are ours, "error" for a failure).
 */
static void
compare_entry(const cJSON *e, const char *dir)
{
    const char *file = jstr(e, "file");
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(e, "results");
    const cJSON *skipped = cJSON_GetObjectItemCaseSensitive(e, "skipped");
    const cJSON *none = cJSON_GetObjectItemCaseSensitive(e, "none");
    const char *error = jstr(e, "error"), *id = jstr(e, "authserv_id");
    char rel[256];
    struct authres ar;
    struct pb_err err;
    size_t len, i, j;
    char *p;
    int rc;

    snprintf(rel, sizeof(rel), "authres/%s/%s", dir, file);
    p = testdata_load(rel, &len);
    pb_err_clear(&err);
    rc = authres_parse_field(p, len, &ar, &err);
    free(p);
    if (error != NULL) {
        cr_assert_eq(rc, -1, "%s: parsed, expected %s", file, error);
        cr_assert_str_eq(pb_code_name(err.code), error, "%s: %s", file,
                         err.msg);
        return;
    }
    cr_assert_eq(rc, 0, "%s: %s", file, err.msg);
    if (id == NULL)
        cr_expect_null(ar.authserv_id, "%s: authserv-id %s", file,
                       ar.authserv_id);
    else
        cr_expect_str_eq(ar.authserv_id, id, "%s: authserv-id", file);
    expect_num(cJSON_GetObjectItemCaseSensitive(e, "version"), ar.version, file,
               "version");
    expect_num(cJSON_GetObjectItemCaseSensitive(e, "arc_i"), ar.arc_i, file,
               "arc i=");
    cr_expect_eq(ar.is_none, cJSON_IsTrue(none), "%s: none", file);
    expect_strs(cJSON_GetObjectItemCaseSensitive(e, "header_comments"),
                ar.comments, ar.ncomments, file, "header comments");
    cr_assert_eq(ar.nresults, (size_t)cJSON_GetArraySize(results),
                 "%s: %zu results, expected %d", file, ar.nresults,
                 cJSON_GetArraySize(results));
    for (i = 0; i < ar.nresults; i++) {
        const struct authres_result *r = &ar.results[i];
        const cJSON *x = cJSON_GetArrayItem(results, (int)i);
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(x, "properties");
        const char *reason = jstr(x, "reason");

        cr_expect_str_eq(r->method, jstr(x, "method"), "%s: result %zu", file,
                         i);
        cr_expect_str_eq(r->result, jstr(x, "result"), "%s: result %zu", file,
                         i);
        cr_expect_eq(r->status, authres_status_from(jstr(x, "result")));
        expect_num(cJSON_GetObjectItemCaseSensitive(x, "method_version"),
                   r->method_version, file, "method version");
        if (reason == NULL)
            cr_expect_null(r->reason, "%s: reason %s", file, r->reason);
        else
            cr_expect_str_eq(r->reason, reason, "%s: reason", file);
        expect_strs(cJSON_GetObjectItemCaseSensitive(x, "comments"),
                    r->comments, r->ncomments, file, "comments");
        cr_assert_eq(r->nprops, (size_t)cJSON_GetArraySize(props),
                     "%s: result %zu: %zu properties, expected %d", file, i,
                     r->nprops, cJSON_GetArraySize(props));
        for (j = 0; j < r->nprops; j++) {
            const cJSON *pr = cJSON_GetArrayItem(props, (int)j);

            cr_expect_str_eq(r->props[j].ptype, jstr(pr, "ptype"), "%s", file);
            cr_expect_str_eq(r->props[j].property, jstr(pr, "property"), "%s",
                             file);
            cr_expect_str_eq(r->props[j].value, jstr(pr, "value"), "%s", file);
        }
    }
    if (skipped != NULL) {
        cr_assert_eq(ar.nskipped, (size_t)cJSON_GetArraySize(skipped),
                     "%s: %zu skipped, expected %d", file, ar.nskipped,
                     cJSON_GetArraySize(skipped));
        for (i = 0; i < ar.nskipped_kept; i++)
            cr_expect_str_eq(ar.skipped[i].why,
                             cJSON_GetArrayItem(skipped, (int)i)->valuestring,
                             "%s: skip %zu (%s)", file, i, ar.skipped[i].text);
    } else {
        cr_expect_eq(ar.nskipped, 0, "%s: skipped %s", file,
                     ar.nskipped_kept ? ar.skipped[0].text : "");
    }
    authres_release(&ar);
}

/* ------------------------------------------------------------------ */
/* The corpus and real fields                                          */

Test(authres_corpus, rfc8601_appendix_b)
{
    cJSON *j = load_json("authres/rfc8601/expected.json"), *e;

    cr_assert_eq(cJSON_GetArraySize(j), 9);
    cJSON_ArrayForEach(e, j) compare_entry(e, "rfc8601");
    cJSON_Delete(j);
}

Test(authres_corpus, rfc8601_values_without_field_name)
{
    /* the same fields given as values: authres_parse() after the colon */
    static const char *const files[] = {"b2-none.txt", "b7-comment-heavy.txt"};
    size_t i;

    for (i = 0; i < 2; i++) {
        char rel[128], *p, *colon;
        struct authres a, b;
        struct pb_err err;
        size_t len;

        snprintf(rel, sizeof(rel), "authres/rfc8601/%s", files[i]);
        p = testdata_load(rel, &len);
        colon = memchr(p, ':', len);
        cr_assert_not_null(colon);
        cr_assert_eq(
            authres_parse(colon + 1, len - (size_t)(colon + 1 - p), &a, &err),
            0);
        cr_assert_eq(authres_parse_field(p, len, &b, &err), 0);
        cr_expect_str_eq(a.authserv_id, b.authserv_id);
        cr_expect_eq(a.nresults, b.nresults);
        cr_expect_eq(a.version, 1);
        authres_release(&a);
        authres_release(&b);
        free(p);
    }
}

Test(authres_corpus, real_fields)
{
    cJSON *j = load_json("authres/real/expected.json"), *e;

    cr_assert_eq(cJSON_GetArraySize(j), 16);
    cJSON_ArrayForEach(e, j) compare_entry(e, "real");
    cJSON_Delete(j);
}

Test(authres_corpus, real_gmail_dmarc_comment_and_find)
{
    struct authres ar;
    struct pb_err err;
    const struct authres_result *r;
    size_t len;
    char *p = testdata_load(
        "authres/real/lhost-amazonses-09-gmail-spf-fail.txt", &len);

    cr_assert_eq(authres_parse_field(p, len, &ar, &err), 0, "%s", err.msg);
    r = authres_find(&ar, "spf");
    cr_assert_not_null(r);
    cr_expect_eq(r->status, AUTHRES_FAIL);
    cr_expect_not_null(strstr(r->comments[0], "does not designate"));
    r = authres_find(&ar, "DKIM");
    cr_assert_not_null(r);
    cr_expect_eq(r->status, AUTHRES_NEUTRAL);
    cr_expect_str_eq(authres_prop_get(r, "header", "i"), "@amazonses.com");
    cr_expect_null(authres_find(&ar, "dmarc"));
    authres_release(&ar);
    free(p);
}

/* ------------------------------------------------------------------ */
/* The lab's receivers                                                 */

/* The Authentication-Results fields of a header, top first (max 16). */
static size_t
lab_fields(const char *rel, struct authres *out, size_t max)
{
    size_t len, n = 0, i = 0;
    char *p = testdata_load(rel, &len);

    while (i < len && p[i] != '\n') {
        size_t start = i, end;
        struct pb_err err;

        /* one field: its line and the continuation lines */
        do {
            while (i < len && p[i] != '\n')
                i++;
            if (i < len)
                i++;
        } while (i < len && (p[i] == ' ' || p[i] == '\t'));
        end = i;
        if (end - start > 23 &&
            strncasecmp(p + start, "Authentication-Results:", 23) == 0) {
            cr_assert(n < max);
            cr_assert_eq(
                authres_parse_field(p + start, end - start, &out[n], &err), 0,
                "%s: %s", rel, err.msg);
            n++;
        }
    }
    free(p);
    return n;
}

Test(authres_lab, receivers_fields_trusted_and_read)
{
    cJSON *j = load_json("authres/lab/expected.json"), *e;

    cr_assert_eq(cJSON_GetArraySize(j), 4);
    cJSON_ArrayForEach(e, j)
    {
        const char *file = jstr(e, "file");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(e, "trusted_ids");
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(e, "results");
        const cJSON *m;
        const char *patterns[4];
        enum authres_trust verdict[16];
        struct authres f[16];
        size_t n, k, first, count, np = 0;
        char rel[256];

        snprintf(rel, sizeof(rel), "authres/lab/%s", file);
        n = lab_fields(rel, f, 16);
        cr_assert_eq(
            n,
            (size_t)cJSON_GetObjectItemCaseSensitive(e, "fields")->valuedouble,
            "%s: %zu fields", file, n);
        cJSON_ArrayForEach(m, ids) patterns[np++] = m->valuestring;
        count = authres_trust_pick(f, n, patterns, np, verdict, &first);
        cr_expect_eq(
            count,
            (size_t)cJSON_GetObjectItemCaseSensitive(e, "trusted")->valuedouble,
            "%s: %zu trusted", file, count);
        cr_expect_eq(first, 0, "%s", file);
        for (k = 0; k < n; k++) {
            cr_expect_eq(verdict[k], AUTHRES_TRUSTED, "%s: field %zu %s", file,
                         k, authres_trust_name(verdict[k]));
            cr_expect_eq(f[k].nskipped, 0, "%s: field %zu skipped %s", file, k,
                         f[k].nskipped_kept ? f[k].skipped[0].text : "");
        }
        cJSON_ArrayForEach(m, want)
        {
            const struct authres_result *r =
                authres_find_in(f + first, count, m->string);
            const cJSON *kv;

            cr_assert_not_null(r, "%s: no %s result", file, m->string);
            cJSON_ArrayForEach(kv, m)
            {
                const char *dot = strchr(kv->string, '.');

                if (strcmp(kv->string, "result") == 0) {
                    cr_expect_str_eq(r->result, kv->valuestring, "%s: %s", file,
                                     m->string);
                } else if (strcmp(kv->string, "comment") == 0) {
                    cr_assert(r->ncomments > 0, "%s: %s", file, m->string);
                    cr_expect_str_eq(r->comments[0], kv->valuestring, "%s: %s",
                                     file, m->string);
                } else {
                    char ptype[32];
                    const char *v;

                    cr_assert_not_null(dot);
                    snprintf(ptype, sizeof(ptype), "%.*s",
                             (int)(dot - kv->string), kv->string);
                    v = authres_prop_get(r, ptype, dot + 1);
                    cr_assert_not_null(v, "%s: %s has no %s", file, m->string,
                                       kv->string);
                    cr_expect_str_eq(v, kv->valuestring, "%s: %s %s", file,
                                     m->string, kv->string);
                }
            }
        }
        /* the other receiver's authserv-id trusts none of them */
        patterns[0] = strcmp(patterns[0], "mx.gmail.test") == 0
                          ? "mx.outlook.test"
                          : "mx.gmail.test";
        cr_expect_eq(authres_trust_pick(f, n, patterns, 1, verdict, &first), 0);
        cr_expect_eq(first, n);
        for (k = 0; k < n; k++) {
            cr_expect_eq(verdict[k], AUTHRES_UNTRUSTED_ID);
            authres_release(&f[k]);
        }
    }
    cJSON_Delete(j);
}

Test(authres_lab, forged_field_below_is_not_trusted)
{
    /*
     * The Gmail-like receiver's three fields, a field of another host
     * below them, and then what a sender could have put in the message
     * under the receiver's own authserv-id.
     */
    static const char *const values[] = {
        " mx.gmail.test; dmarc=fail (p=reject dis=none) header.from=good.test",
        " mx.gmail.test; dkim=fail reason=\"signature verification failed\"",
        " mx.gmail.test; spf=fail smtp.mailfrom=good.test",
        " relay.example; auth=pass smtp.auth=probe@good.test",
        " mx.gmail.test; dmarc=pass header.from=good.test; dkim=pass; spf=pass",
        " spf=pass smtp.mailfrom=good.test",
    };
    const char *trusted[] = {"*.gmail.test"};
    enum authres_trust v[6];
    struct authres f[6];
    size_t i, first;

    for (i = 0; i < 6; i++)
        parse_ok(values[i], &f[i]);
    cr_assert_eq(authres_trust_pick(f, 6, trusted, 1, v, &first), 3);
    cr_expect_eq(first, 0);
    cr_expect_eq(v[3], AUTHRES_UNTRUSTED_ID);
    cr_expect_eq(v[4], AUTHRES_UNTRUSTED_BELOW);
    cr_expect_eq(v[5], AUTHRES_UNTRUSTED_NO_ID);
    cr_expect_str_eq(authres_trust_name(v[4]), "untrusted-below");
    cr_expect_eq(authres_find_in(f + first, 3, "dmarc")->status, AUTHRES_FAIL);
    cr_expect_eq(authres_find_in(f + first, 3, "dkim")->status, AUTHRES_FAIL);
    cr_expect_str_eq(authres_find_in(f + first, 3, "dkim")->reason,
                     "signature verification failed");
    cr_expect_eq(authres_find_in(f + first, 3, "spf")->status, AUTHRES_FAIL);
    cr_expect_null(authres_find_in(f + first, 3, "auth"));
    for (i = 0; i < 6; i++)
        authres_release(&f[i]);
}

/* ------------------------------------------------------------------ */
/* Parsing: valid input and lenient readings                           */

Test(authres_parse, gmail_style_field)
{
    struct authres ar;
    const struct authres_result *r;

    parse_ok(
        " mx.google.com;\r\n       dkim=pass header.i=@example.com "
        "header.s=20230601 header.b=Ab/c+d9;\r\n       spf=pass "
        "(google.com: domain of a@example.com designates 192.0.2.1 as "
        "permitted sender) smtp.mailfrom=a@example.com;\r\n       "
        "dmarc=fail (p=REJECT sp=REJECT dis=REJECT) header.from=example.com",
        &ar);
    cr_assert_str_eq(ar.authserv_id, "mx.google.com");
    cr_assert_eq(ar.nresults, 3);
    r = authres_find(&ar, "dmarc");
    cr_assert_eq(r->status, AUTHRES_FAIL);
    cr_assert_eq(r->ncomments, 1);
    cr_expect_str_eq(r->comments[0], "p=REJECT sp=REJECT dis=REJECT");
    cr_expect_str_eq(authres_prop_get(r, "header", "from"), "example.com");
    cr_expect_str_eq(authres_prop_get(authres_find(&ar, "dkim"), "header", "b"),
                     "Ab/c+d9");
    cr_expect_str_eq(
        authres_prop_get(authres_find(&ar, "spf"), "smtp", "MailFrom"),
        "a@example.com");
    cr_expect_null(authres_prop_get(authres_find(&ar, "spf"), "smtp", "helo"));
    cr_expect_eq(ar.nskipped, 0);
    authres_release(&ar);
}

Test(authres_parse, keywords_lower_cased_values_kept)
{
    struct authres ar;

    parse_ok("MX.Example.COM; DKIM=PASS Header.D=Example.COM "
             "Policy.Expired=1; SPF=HardFail smtp.MAILFROM=A@B.example",
             &ar);
    cr_assert_str_eq(ar.authserv_id, "MX.Example.COM");
    cr_assert_eq(ar.nresults, 2);
    cr_expect_str_eq(ar.results[0].method, "dkim");
    cr_expect_str_eq(ar.results[0].result, "pass");
    cr_expect_str_eq(ar.results[0].props[0].ptype, "header");
    cr_expect_str_eq(ar.results[0].props[0].property, "d");
    cr_expect_str_eq(ar.results[0].props[0].value, "Example.COM");
    cr_expect_str_eq(ar.results[1].result, "hardfail");
    cr_expect_eq(ar.results[1].status, AUTHRES_FAIL);
    cr_expect_str_eq(ar.results[1].props[0].value, "A@B.example");
    authres_release(&ar);
}

Test(authres_parse, quoted_strings_and_quoted_pairs)
{
    struct authres ar;

    parse_ok("\"mx.example.com\" 1; dkim=fail reason=\"bad \\\"sig\\\"; "
             "really\" header.b=\"a;b\" (it \\(said\\) so)",
             &ar);
    cr_assert_str_eq(ar.authserv_id, "mx.example.com");
    cr_expect_eq(ar.version, 1);
    cr_assert_eq(ar.nresults, 1);
    cr_expect_str_eq(ar.results[0].reason, "bad \"sig\"; really");
    cr_expect_str_eq(ar.results[0].props[0].value, "a;b");
    cr_assert_eq(ar.results[0].ncomments, 1);
    cr_expect_str_eq(ar.results[0].comments[0], "it (said) so");
    authres_release(&ar);
}

Test(authres_parse, nested_comments_kept_whole)
{
    struct authres ar;

    parse_ok("mx.example.com (outer (inner) text); spf=pass (a (b (c)) d)",
             &ar);
    cr_assert_eq(ar.ncomments, 1);
    cr_expect_str_eq(ar.comments[0], "outer (inner) text");
    cr_expect_str_eq(ar.results[0].comments[0], "a (b (c)) d");
    authres_release(&ar);
}

Test(authres_parse, folding_lf_crlf_cr_alike)
{
    static const char *const forms[] = {
        "mx.example.com;\r\n\tspf=pass\r\n\t smtp.mailfrom=a.example;\r\n "
        "dkim=fail (x\r\n y)",
        "mx.example.com;\n\tspf=pass\n\t smtp.mailfrom=a.example;\n dkim=fail "
        "(x\n y)",
        "mx.example.com;\r\tspf=pass\r\t smtp.mailfrom=a.example;\r dkim=fail "
        "(x\r y)",
    };
    size_t i;

    for (i = 0; i < 3; i++) {
        struct authres ar;

        parse_ok(forms[i], &ar);
        cr_assert_eq(ar.nresults, 2, "form %zu", i);
        cr_expect_str_eq(ar.results[0].props[0].value, "a.example");
        cr_expect_str_eq(ar.results[1].comments[0], "x y", "form %zu", i);
        cr_expect_eq(ar.nskipped, 0);
        authres_release(&ar);
    }
}

Test(authres_parse, none_and_version)
{
    struct authres ar;

    parse_ok("example.org 1; none", &ar);
    cr_expect_str_eq(ar.authserv_id, "example.org");
    cr_expect_eq(ar.version, 1);
    cr_expect(ar.is_none);
    cr_expect_eq(ar.nresults, 0);
    authres_release(&ar);

    parse_ok("example.org; NONE;", &ar);
    cr_expect(ar.is_none);
    cr_expect_eq(ar.version, 0);
    authres_release(&ar);

    /* no result at all: an authserv-id alone is kept */
    parse_ok(" example.org ", &ar);
    cr_expect_str_eq(ar.authserv_id, "example.org");
    cr_expect(!ar.is_none);
    cr_expect_eq(ar.nresults, 0);
    authres_release(&ar);
}

Test(authres_parse, none_then_results_keeps_results)
{
    struct authres ar;

    parse_ok("example.org; none; spf=pass; none", &ar);
    cr_expect(!ar.is_none);
    cr_expect_eq(ar.nresults, 1);
    cr_expect(has_skip(&ar, "\"none\" among results"));
    cr_expect(has_skip(&ar, "\"none\" and results together"));
    authres_release(&ar);
}

Test(authres_parse, version_digits_not_a_version)
{
    struct authres ar;

    /* "1x" is not an authres-version: junk up to ";" */
    parse_ok("example.org 1x; spf=pass", &ar);
    cr_expect_eq(ar.version, 0);
    cr_expect_eq(ar.nresults, 1);
    cr_expect(has_skip(&ar, "text after authserv-id"));
    authres_release(&ar);

    parse_ok("example.org 12345678901; spf=pass", &ar);
    cr_expect_eq(ar.version, 0);
    cr_expect_eq(ar.nresults, 1);
    authres_release(&ar);
}

Test(authres_parse, method_version)
{
    struct authres ar;

    parse_ok("x.example; dkim/1=pass; spf / 2 = fail; dmarc/=pass; "
             "arc/9999999999=pass",
             &ar);
    cr_assert_eq(ar.nresults, 2);
    cr_expect_eq(ar.results[0].method_version, 1);
    cr_expect_eq(ar.results[1].method_version, 2);
    cr_expect_eq(ar.nskipped, 2);
    cr_expect(has_skip(&ar, "method version is not a number"));
    authres_release(&ar);
}

Test(authres_parse, no_authserv_id_exchange_online)
{
    struct authres ar;

    parse_ok(" spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=a.example; "
             "dkim=pass (signature was verified) header.d=a.example;dmarc=pass "
             "action=none header.from=a.example;compauth=pass reason=100",
             &ar);
    cr_expect_null(ar.authserv_id);
    cr_assert_eq(ar.nresults, 4);
    cr_expect_str_eq(ar.results[2].props[0].ptype, "");
    cr_expect_str_eq(ar.results[2].props[0].property, "action");
    cr_expect_str_eq(ar.results[2].props[0].value, "none");
    cr_expect_str_eq(ar.results[3].method, "compauth");
    cr_expect_str_eq(ar.results[3].reason, "100");
    cr_expect_eq(ar.nskipped, 0);
    authres_release(&ar);

    /* with a method version or a comment first, too */
    parse_ok("(hi) dkim/1 = pass", &ar);
    cr_expect_null(ar.authserv_id);
    cr_expect_eq(ar.nresults, 1);
    cr_expect_str_eq(ar.comments[0], "hi");
    authres_release(&ar);
}

Test(authres_parse, missing_semicolon_before_known_method)
{
    struct authres ar;

    parse_ok("mx.example; dkim=pass header.d=a.example dkim=fail "
             "header.d=b.example action=none; spf=pass",
             &ar);
    cr_assert_eq(ar.nresults, 3);
    cr_expect_str_eq(ar.results[0].result, "pass");
    cr_expect_eq(ar.results[0].nprops, 1);
    cr_expect_str_eq(ar.results[1].result, "fail");
    cr_expect_eq(ar.results[1].nprops, 2); /* "action" is no method */
    cr_expect(has_skip(&ar, "missing \";\" before a result"));
    cr_expect_str_eq(ar.skipped[0].text, "dkim");
    authres_release(&ar);

    /* right after the authserv-id */
    parse_ok("mx.example spf=pass smtp.mailfrom=a.example", &ar);
    cr_expect_str_eq(ar.authserv_id, "mx.example");
    cr_assert_eq(ar.nresults, 1);
    cr_expect_str_eq(ar.results[0].method, "spf");
    authres_release(&ar);
}

Test(authres_parse, reason_once_anywhere)
{
    struct authres ar;

    parse_ok("mx.example; dkim=fail header.d=a.example reason=late "
             "reason=again",
             &ar);
    cr_expect_str_eq(ar.results[0].reason, "late");
    cr_expect_eq(ar.results[0].nprops, 2);
    cr_expect_str_eq(ar.results[0].props[1].property, "reason");
    authres_release(&ar);
}

Test(authres_parse, unknown_methods_and_results_kept)
{
    struct authres ar;

    parse_ok("mx.example; x-custom=maybe x.y=z; bimi=skipped; spf=3Dnone", &ar);
    cr_assert_eq(ar.nresults, 3);
    cr_expect_str_eq(ar.results[0].method, "x-custom");
    cr_expect_str_eq(ar.results[0].result, "maybe");
    cr_expect_eq(ar.results[0].status, AUTHRES_OTHER);
    cr_expect_str_eq(authres_prop_get(&ar.results[0], "x", "y"), "z");
    cr_expect_eq(ar.results[2].status, AUTHRES_OTHER);
    cr_expect_str_eq(ar.results[2].result, "3dnone");
    authres_release(&ar);
}

Test(authres_parse, empty_values_and_odd_bytes_in_values)
{
    struct authres ar;

    parse_ok("mx.example; spf=none smtp.mailfrom=<> smtp.helo=; dkim=pass "
             "header.i= header.b=a=b/c+",
             &ar);
    cr_assert_eq(ar.nresults, 2);
    cr_expect_str_eq(authres_prop_get(&ar.results[0], "smtp", "mailfrom"),
                     "<>");
    cr_expect_str_eq(authres_prop_get(&ar.results[0], "smtp", "helo"), "");
    /* CFWS is allowed before a value: the next word is taken */
    cr_expect_str_eq(authres_prop_get(&ar.results[1], "header", "i"),
                     "header.b=a=b/c+");
    authres_release(&ar);
}

Test(authres_parse, empty_resinfos_and_final_semicolon)
{
    struct authres ar;

    parse_ok("mx.example;;; spf=pass ; ; (c) ;", &ar);
    cr_expect_eq(ar.nresults, 1);
    cr_expect_eq(ar.nskipped, 0);
    authres_release(&ar);
}

Test(authres_parse, junk_skipped_and_recorded)
{
    struct authres ar;

    parse_ok("mx.example from=a.example; = pass; spf=pass "
             "header.i=@a.example junk smtp. =x smtp.mailfrom; "
             "@@@; dkim=; dmarc=fail.x; arc=pass",
             &ar);
    cr_assert_eq(ar.nresults, 2);
    cr_expect_str_eq(ar.results[0].method, "spf");
    cr_expect_eq(ar.results[0].nprops, 1);
    cr_expect_str_eq(ar.results[1].method, "arc");
    cr_expect(has_skip(&ar, "text after authserv-id"));
    cr_expect(has_skip(&ar, "not a method=result"));
    cr_expect(has_skip(&ar, "not a property"));
    cr_expect(has_skip(&ar, "no property name after ptype."));
    cr_expect(has_skip(&ar, "no \"=\" after ptype.property"));
    cr_expect(has_skip(&ar, "result is not a word"));
    cr_expect_eq(ar.skipped[0].offset, 11);
    cr_expect_str_eq(ar.skipped[0].text, "from=a.example");
    authres_release(&ar);
}

Test(authres_parse, field_with_name)
{
    static const char *const good[] = {
        "Authentication-Results: mx.example; spf=pass\r\n",
        "authentication-results:mx.example; spf=pass\n",
        "AUTHENTICATION-RESULTS : mx.example; spf=pass",
    };
    struct authres ar;
    struct pb_err err;
    size_t i;

    for (i = 0; i < 3; i++) {
        cr_assert_eq(authres_parse_field(good[i], strlen(good[i]), &ar, &err),
                     0, "%s: %s", good[i], err.msg);
        cr_expect_str_eq(ar.authserv_id, "mx.example");
        cr_expect_eq(ar.nresults, 1);
        cr_expect_eq(ar.arc_i, 0);
        authres_release(&ar);
    }
}

Test(authres_parse, arc_field_instance)
{
    static const char *const bad[] = {
        "ARC-Authentication-Results: mx.example; spf=pass",
        "ARC-Authentication-Results: i=0; mx.example; spf=pass",
        "ARC-Authentication-Results: i=51; mx.example; spf=pass",
        "ARC-Authentication-Results: i=1 mx.example; spf=pass",
        "ARC-Authentication-Results: i=1000; mx.example; spf=pass",
        "ARC-Authentication-Results: i=",
    };
    static const char ok[] =
        "ARC-Authentication-Results:i = 50 ;\r\n mx.example; dkim=pass\r\n";
    struct authres ar;
    struct pb_err err;
    size_t i;

    cr_assert_eq(authres_parse_field(ok, strlen(ok), &ar, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(ar.arc_i, 50);
    cr_expect_str_eq(ar.authserv_id, "mx.example");
    cr_expect_eq(ar.nresults, 1);
    authres_release(&ar);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pb_err_clear(&err);
        cr_expect_eq(authres_parse_field(bad[i], strlen(bad[i]), &ar, &err), -1,
                     "%s", bad[i]);
        cr_expect_eq(err.code, PB_E_SYNTAX, "%s", bad[i]);
        authres_release(&ar);
    }
}

Test(authres_parse, other_field_refused)
{
    static const char *const bad[] = {
        "Received-SPF: pass",
        "Authentication-Results-X: mx.example; spf=pass",
        "Authentication-Results mx.example; spf=pass",
        "",
        ":",
    };
    struct authres ar;
    struct pb_err err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pb_err_clear(&err);
        cr_expect_eq(authres_parse_field(bad[i], strlen(bad[i]), &ar, &err), -1,
                     "%s", bad[i]);
        cr_expect_eq(err.code, PB_E_SYNTAX);
        cr_expect_eq(ar.nresults, 0);
        authres_release(&ar);
    }
}

Test(authres_parse, nothing_usable_is_a_syntax_error)
{
    static const char *const bad[] = {
        "",      "   ", "\r\n\t",     "(only a comment)", ";",
        "; ; ;", ")",   "\"\"; junk", "; = pass",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_fails(bad[i], strlen(bad[i]), PB_E_SYNTAX);
}

Test(authres_parse, release_twice_and_null)
{
    struct authres ar;

    parse_ok("mx.example; spf=pass", &ar);
    authres_release(&ar);
    authres_release(&ar);
    authres_release(NULL);
    cr_expect_null(authres_find(NULL, "spf"));
    cr_expect_null(authres_find_in(NULL, 0, "spf"));
    cr_expect_null(authres_prop_get(NULL, "smtp", "mailfrom"));
}

/* ------------------------------------------------------------------ */
/* Limits: at the limit and one over                                   */

/* "mx.example" and n resinfos "; spf=pass". */
static char *
many_results(size_t n, size_t *len)
{
    struct pb_buf b;
    size_t i;

    pb_buf_init(&b, 1u << 24);
    cr_assert_eq(pb_buf_adds(&b, "mx.example"), 0);
    for (i = 0; i < n; i++)
        cr_assert_eq(pb_buf_adds(&b, "; spf=pass"), 0);
    return pb_buf_take(&b, len);
}

Test(authres_limits, results)
{
    struct authres ar;
    struct pb_err err;
    size_t len;
    char *p = many_results(PB_LIMIT_AUTHRES_RESULTS, &len);

    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(ar.nresults, PB_LIMIT_AUTHRES_RESULTS);
    authres_release(&ar);
    free(p);
    p = many_results(PB_LIMIT_AUTHRES_RESULTS + 1, &len);
    parse_fails(p, len, PB_E_LIMIT);
    free(p);
}

Test(authres_limits, properties)
{
    struct pb_buf b;
    struct authres ar;
    struct pb_err err;
    size_t i, len;
    char *p;

    pb_buf_init(&b, 1u << 20);
    cr_assert_eq(pb_buf_adds(&b, "mx.example; dkim=pass"), 0);
    for (i = 0; i < PB_LIMIT_AUTHRES_PROPS; i++)
        cr_assert_eq(pb_buf_addf(&b, " header.x%zu=v", i), 0);
    p = pb_buf_take(&b, &len);
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(ar.results[0].nprops, PB_LIMIT_AUTHRES_PROPS);
    authres_release(&ar);
    cr_assert_eq(pb_buf_add(&b, p, len), 0);
    cr_assert_eq(pb_buf_adds(&b, " policy.one=more"), 0);
    free(p);
    p = pb_buf_take(&b, &len);
    parse_fails(p, len, PB_E_LIMIT);
    free(p);
}

Test(authres_limits, comments)
{
    struct pb_buf b;
    struct authres ar;
    struct pb_err err;
    size_t i, len;
    char *p;

    pb_buf_init(&b, 1u << 20);
    cr_assert_eq(pb_buf_adds(&b, "mx.example; dkim=pass"), 0);
    for (i = 0; i < PB_LIMIT_AUTHRES_COMMENTS; i++)
        cr_assert_eq(pb_buf_adds(&b, " (c)"), 0);
    p = pb_buf_take(&b, &len);
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(ar.results[0].ncomments, PB_LIMIT_AUTHRES_COMMENTS);
    authres_release(&ar);
    cr_assert_eq(pb_buf_add(&b, p, len), 0);
    cr_assert_eq(pb_buf_adds(&b, "(one more)"), 0);
    free(p);
    p = pb_buf_take(&b, &len);
    parse_fails(p, len, PB_E_LIMIT);
    free(p);

    /* around the authserv-id as well */
    pb_buf_init(&b, 1u << 20);
    for (i = 0; i <= PB_LIMIT_AUTHRES_COMMENTS; i++)
        cr_assert_eq(pb_buf_adds(&b, "(c)"), 0);
    cr_assert_eq(pb_buf_adds(&b, " mx.example; spf=pass"), 0);
    p = pb_buf_take(&b, &len);
    parse_fails(p, len, PB_E_LIMIT);
    free(p);
}

Test(authres_limits, field_length)
{
    size_t len = PB_LIMIT_AUTHRES_FIELD;
    char *p = malloc(len + 1);
    struct authres ar;
    struct pb_err err;
    static const char head[] = "mx.example; spf=pass (";

    memset(p, 'x', len + 1);
    memcpy(p, head, sizeof(head) - 1);
    p[len - 1] = ')';
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(strlen(ar.results[0].comments[0]),
                 len - (sizeof(head) - 1) - 1);
    authres_release(&ar);
    p[len] = ')';
    p[len - 1] = 'x';
    parse_fails(p, len + 1, PB_E_LIMIT);
    free(p);
}

Test(authres_limits, skipped_kept_and_counted)
{
    struct pb_buf b;
    struct authres ar;
    struct pb_err err;
    size_t i, len;
    char *p;

    pb_buf_init(&b, 1u << 20);
    cr_assert_eq(pb_buf_adds(&b, "mx.example; spf=pass"), 0);
    for (i = 0; i < 100; i++)
        cr_assert_eq(pb_buf_adds(&b, "; @junk"), 0);
    /* one long junk piece: its text is cut with "..." */
    cr_assert_eq(pb_buf_adds(&b, "; "), 0);
    for (i = 0; i < 200; i++)
        cr_assert_eq(pb_buf_addc(&b, '\x01'), 0);
    p = pb_buf_take(&b, &len);
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(ar.nresults, 1);
    cr_expect_eq(ar.nskipped, 101);
    cr_expect_eq(ar.nskipped_kept, PB_LIMIT_AUTHRES_SKIPS);
    cr_expect_str_eq(ar.skipped[0].text, "@junk");
    authres_release(&ar);
    free(p);

    parse_ok("mx.example; \x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
             "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
             "\x01; spf=pass",
             &ar);
    cr_assert_eq(ar.nskipped_kept, 1);
    cr_expect_lt(strlen(ar.skipped[0].text), sizeof(ar.skipped[0].text));
    cr_expect_str_eq(ar.skipped[0].text + strlen(ar.skipped[0].text) - 3,
                     "...");
    cr_expect_eq(strncmp(ar.skipped[0].text, "\\x01\\x01", 8), 0);
    cr_expect(pb_is_printable(ar.skipped[0].text, strlen(ar.skipped[0].text)));
    authres_release(&ar);
}

/* ------------------------------------------------------------------ */
/* Hostile input                                                       */

Test(authres_hostile, ten_kb_of_nested_comments)
{
    size_t depth = 5000, len, i;
    char *p = malloc(2 * depth + 64);
    struct authres ar;
    struct pb_err err;

    len = (size_t)sprintf(p, "mx.example; spf=pass ");
    for (i = 0; i < depth; i++)
        p[len++] = '(';
    for (i = 0; i < depth; i++)
        p[len++] = ')';
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_assert_eq(ar.results[0].ncomments, 1);
    cr_expect_eq(strlen(ar.results[0].comments[0]), 2 * depth - 2);
    cr_expect_eq(ar.nskipped, 0);
    authres_release(&ar);

    /* never closed: one unterminated comment to the end */
    len = (size_t)sprintf(p, "mx.example; spf=pass ");
    for (i = 0; i < 2 * depth; i++)
        p[len++] = '(';
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(ar.results[0].ncomments, 1);
    cr_expect(has_skip(&ar, "unterminated comment"));
    authres_release(&ar);

    /* 10 KB of ")" where properties belong: one junk word */
    len = (size_t)sprintf(p, "mx.example; spf=pass ");
    for (i = 0; i < 2 * depth; i++)
        p[len++] = ')';
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(ar.nresults, 1);
    cr_expect_eq(ar.nskipped, 1);
    authres_release(&ar);
    free(p);
}

Test(authres_hostile, unterminated_quotes_and_comments)
{
    struct authres ar;

    parse_ok("mx.example; dkim=fail reason=\"never closed; spf=pass", &ar);
    cr_assert_eq(ar.nresults, 1);
    cr_expect_str_eq(ar.results[0].reason, "never closed; spf=pass");
    cr_expect(has_skip(&ar, "unterminated quoted string"));
    authres_release(&ar);

    parse_ok("\"mx.example", &ar);
    cr_expect_str_eq(ar.authserv_id, "mx.example");
    authres_release(&ar);

    parse_ok("mx.example (never closed; spf=pass", &ar);
    cr_expect_eq(ar.nresults, 0);
    cr_expect_str_eq(ar.comments[0], "never closed; spf=pass");
    authres_release(&ar);

    /* read ahead for a method, noted once */
    parse_ok("dkim (never closed", &ar);
    cr_expect_str_eq(ar.authserv_id, "dkim");
    cr_expect_eq(ar.nskipped, 1);
    authres_release(&ar);
    parse_ok("mx.example; dkim=pass spf= (never closed", &ar);
    cr_expect_eq(ar.nresults, 1);
    cr_expect_eq(ar.nskipped, 1);
    authres_release(&ar);

    /* a backslash as the very last byte */
    parse_ok("mx.example; spf=pass (x\\", &ar);
    cr_expect_str_eq(ar.results[0].comments[0], "x\\");
    authres_release(&ar);
    parse_ok("mx.example; spf=pass reason=\"\\", &ar);
    cr_expect_str_eq(ar.results[0].reason, "\\");
    authres_release(&ar);
}

Test(authres_hostile, thousand_resinfos)
{
    struct pb_buf b;
    struct authres ar;
    struct pb_err err;
    size_t i, len;
    char *p = many_results(1000, &len);

    parse_fails(p, len, PB_E_LIMIT);
    free(p);

    /* a thousand junk ones around one result are passed over */
    pb_buf_init(&b, 1u << 20);
    cr_assert_eq(pb_buf_adds(&b, "mx.example"), 0);
    for (i = 0; i < 1000; i++)
        cr_assert_eq(pb_buf_adds(&b, i == 500 ? "; spf=pass" : "; spf"), 0);
    p = pb_buf_take(&b, &len);
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(ar.nresults, 1);
    cr_expect_eq(ar.nskipped, 999);
    cr_expect_eq(ar.nskipped_kept, PB_LIMIT_AUTHRES_SKIPS);
    authres_release(&ar);
    free(p);

    /* and a thousand empty ones are nothing */
    p = malloc(1100);
    len = (size_t)sprintf(p, "mx.example");
    memset(p + len, ';', 1000);
    len += 1000;
    cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
    cr_expect_eq(ar.nresults, 0);
    cr_expect_eq(ar.nskipped, 0);
    authres_release(&ar);
    free(p);
}

Test(authres_hostile, nul_bytes)
{
    static const char v1[] = "mx.example; spf=pass (a\0b) smtp.mailfrom=x\0y";
    static const char v2[] = "mx\0.example; dkim=pass reason=\"r\0s\"";
    static const char v3[] = "\0\0\0; spf=pass";
    static const char v4[] = "mx.example; sp\0f=pass; dkim=pass";
    struct authres ar;
    struct pb_err err;

    cr_assert_eq(authres_parse(v1, sizeof(v1) - 1, &ar, &err), 0);
    cr_expect_str_eq(ar.results[0].comments[0], "ab");
    cr_expect_str_eq(ar.results[0].props[0].value, "x");
    cr_expect(has_skip(&ar, "NUL byte in a comment (dropped)"));
    cr_expect(has_skip(&ar, "not a property"));
    authres_release(&ar);

    cr_assert_eq(authres_parse(v2, sizeof(v2) - 1, &ar, &err), 0);
    cr_expect_str_eq(ar.authserv_id, "mx");
    cr_expect(has_skip(&ar, "text after authserv-id"));
    cr_expect_str_eq(ar.skipped[0].text, "\\x00.example");
    cr_expect_str_eq(ar.results[0].reason, "rs");
    authres_release(&ar);

    cr_assert_eq(authres_parse(v3, sizeof(v3) - 1, &ar, &err), 0);
    cr_expect_null(ar.authserv_id);
    cr_expect_eq(ar.nresults, 1);
    cr_expect(has_skip(&ar, "not an authserv-id"));
    authres_release(&ar);

    cr_assert_eq(authres_parse(v4, sizeof(v4) - 1, &ar, &err), 0);
    cr_expect_eq(ar.nresults, 1);
    cr_expect_str_eq(ar.results[0].method, "dkim");
    authres_release(&ar);

    parse_fails("\0", 1, PB_E_SYNTAX);
}

Test(authres_hostile, eight_bit_bytes)
{
    struct authres ar;
    size_t i;

    /* RFC 8616: UTF-8 in values and authserv-id is kept as written */
    parse_ok("mx.\xc3\xa9xample; dmarc=pass header.from=\xce\xb4.example "
             "(\xe2\x9c\x93)",
             &ar);
    cr_expect_str_eq(ar.authserv_id, "mx.\xc3\xa9xample");
    cr_expect_str_eq(ar.results[0].props[0].value, "\xce\xb4.example");
    cr_expect_str_eq(ar.results[0].comments[0], "\xe2\x9c\x93");
    authres_release(&ar);

    /* not in keywords */
    parse_ok("mx.example; sp\xc3\xa9=pass; dkim=p\xff; spf=pass", &ar);
    cr_expect_eq(ar.nresults, 1);
    cr_expect_eq(ar.nskipped, 2);
    authres_release(&ar);

    /* every byte value once, after a valid start */
    {
        char p[300];
        size_t len = (size_t)sprintf(p, "mx.example; spf=pass ");

        for (i = 0; i < 256; i++)
            p[len++] = (char)i;
        {
            struct pb_err err;

            cr_assert_eq(authres_parse(p, len, &ar, &err), 0, "%s", err.msg);
            cr_expect_eq(ar.nresults, 1);
            for (i = 0; i < ar.nskipped_kept; i++)
                cr_expect(pb_is_printable(ar.skipped[i].text,
                                          strlen(ar.skipped[i].text)));
            authres_release(&ar);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Result words, lookups                                               */

Test(authres_status, words_normalized)
{
    static const struct {
        const char *word;
        enum authres_status s;
    } cases[] = {
        {"pass", AUTHRES_PASS},           {"PASS", AUTHRES_PASS},
        {"fail", AUTHRES_FAIL},           {"hardfail", AUTHRES_FAIL},
        {"HardFail", AUTHRES_FAIL},       {"softfail", AUTHRES_SOFTFAIL},
        {"neutral", AUTHRES_NEUTRAL},     {"none", AUTHRES_NONE},
        {"temperror", AUTHRES_TEMPERROR}, {"permerror", AUTHRES_PERMERROR},
        {"policy", AUTHRES_POLICY},       {"other", AUTHRES_OTHER},
        {"passed", AUTHRES_OTHER},        {"", AUTHRES_OTHER},
        {"3dnone", AUTHRES_OTHER},        {NULL, AUTHRES_OTHER},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_eq(authres_status_from(cases[i].word), cases[i].s, "%s",
                     cases[i].word ? cases[i].word : "(null)");
    cr_expect_str_eq(authres_status_name(AUTHRES_PASS), "pass");
    cr_expect_str_eq(authres_status_name(AUTHRES_TEMPERROR), "temperror");
    cr_expect_str_eq(authres_status_name(AUTHRES_OTHER), "other");
    cr_expect_str_eq(authres_status_name((enum authres_status)99), "other");
    for (i = AUTHRES_NONE; i < AUTHRES_OTHER; i++)
        cr_expect_eq(
            authres_status_from(authres_status_name((enum authres_status)i)),
            (enum authres_status)i);
}

Test(authres_find, first_pass_else_first)
{
    struct authres ar[2];

    parse_ok("mx.example; dkim=fail header.d=a.example; spf=softfail; "
             "dkim=pass header.d=b.example; dkim=neutral",
             &ar[0]);
    parse_ok("mx.example; dmarc=none; spf=pass; iprev=pass; auth=pass", &ar[1]);
    cr_expect_str_eq(
        authres_prop_get(authres_find(&ar[0], "dkim"), "header", "d"),
        "b.example");
    cr_expect_eq(authres_find(&ar[0], "SPF")->status, AUTHRES_SOFTFAIL);
    cr_expect_null(authres_find(&ar[0], "dmarc"));
    cr_expect_null(authres_find(&ar[0], NULL));
    cr_expect_null(authres_find(&ar[0], "dki"));
    /* across fields: the second field's pass wins over the softfail */
    cr_expect_eq(authres_find_in(ar, 2, "spf")->status, AUTHRES_PASS);
    cr_expect_eq(authres_find_in(ar, 2, "dmarc")->status, AUTHRES_NONE);
    cr_expect_eq(authres_find_in(ar, 1, "spf")->status, AUTHRES_SOFTFAIL);
    cr_expect_null(authres_find_in(ar, 0, "spf"));
    cr_expect_not_null(authres_find_in(ar, 2, "iprev"));
    cr_expect_not_null(authres_find_in(ar, 2, "auth"));
    authres_release(&ar[0]);
    authres_release(&ar[1]);
}

/* ------------------------------------------------------------------ */
/* Trust                                                               */

Test(authres_trust, id_patterns)
{
    static const struct {
        const char *id, *pattern;
        bool match;
    } cases[] = {
        {"mx.google.com", "mx.google.com", true},
        {"MX.Google.COM", "mx.google.com", true},
        {"mx.google.com.", "mx.google.com", true},
        {"mx.google.com", "mx.google.com.", true},
        {"mx.google.com", "google.com", false},
        {"gmr-mx.google.com", "mx.google.com", false},
        {"mx.google.com", "*.google.com", true},
        {"atlas216.free.mail.bf1.yahoo.com", "*.yahoo.com", true},
        {"yahoo.com", "*.yahoo.com", false},
        {"evilyahoo.com", "*.yahoo.com", false},
        {".yahoo.com", "*.yahoo.com", false},
        {"x..yahoo.com", "*.yahoo.com", false},
        {"a.yahoo.com.evil.example", "*.yahoo.com", false},
        {"a.yahoo.com", "*.YAHOO.com.", true},
        {"a.b", "*", false},
        {"a.b", "*.", false},
        {"*", "*", false},
        {"a.b.com", "a.*.com", false},
        {"a.b.com", "*.*.com", false},
        {"mx.example", "", false},
        {NULL, "", true},
        {NULL, "mx.example", false},
        {NULL, "*.example", false},
        {"mx.example", NULL, false},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_eq(authres_id_match(cases[i].id, cases[i].pattern),
                     cases[i].match, "%s ~ %s", cases[i].id ? cases[i].id : "-",
                     cases[i].pattern ? cases[i].pattern : "-");
}

Test(authres_trust, block_starts_at_first_match)
{
    static const char *const values[] = {
        "mail.user.example; arc=pass",   /* a later hop: above */
        "bimi.icloud.com; bimi=skipped", /* iCloud: one id per check */
        "dmarc.icloud.com; dmarc=pass",
        "dkim-verifier.icloud.com; dkim=pass",
        "spf.icloud.com; spf=pass",
        "spf=fail", /* no authserv-id: below the block */
        "spf.icloud.com; spf=pass",
    };
    const char *patterns[] = {"mx.other.example", "*.icloud.com"};
    enum authres_trust v[7];
    struct authres f[7];
    size_t i, first;

    for (i = 0; i < 7; i++)
        parse_ok(values[i], &f[i]);
    cr_assert_eq(authres_trust_pick(f, 7, patterns, 2, v, &first), 4);
    cr_expect_eq(first, 1);
    cr_expect_eq(v[0], AUTHRES_UNTRUSTED_ID);
    cr_expect_eq(v[5], AUTHRES_UNTRUSTED_NO_ID);
    cr_expect_eq(v[6], AUTHRES_UNTRUSTED_BELOW);
    cr_expect_eq(authres_find_in(f + first, 4, "spf")->status, AUTHRES_PASS);

    /* trusting "" (Exchange Online) takes the field without authserv-id */
    patterns[1] = "";
    cr_expect_eq(authres_trust_pick(f, 7, patterns, 2, v, &first), 1);
    cr_expect_eq(first, 5);
    cr_expect_eq(v[6], AUTHRES_UNTRUSTED_ID);

    /* nothing trusted */
    cr_expect_eq(authres_trust_pick(f, 7, patterns, 0, v, &first), 0);
    cr_expect_eq(first, 7);
    cr_expect_eq(authres_trust_pick(f, 0, patterns, 2, v, &first), 0);
    cr_expect_eq(first, 0);
    for (i = 0; i < 7; i++)
        authres_release(&f[i]);
    cr_expect_str_eq(authres_trust_name(AUTHRES_TRUSTED), "trusted");
    cr_expect_str_eq(authres_trust_name(AUTHRES_UNTRUSTED_ID), "untrusted-id");
    cr_expect_str_eq(authres_trust_name(AUTHRES_UNTRUSTED_NO_ID),
                     "untrusted-no-id");
}
